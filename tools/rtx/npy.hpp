// SPDX-License-Identifier: Apache-2.0
// A small, strict reader and writer of NumPy's .npy format (versions 1.0, 2.0 and 3.0), for
// --loadInputs and --saveOutputs. The reader accepts exactly what numpy.save writes for the dtypes
// rtx has (f64, f32, f16, int8, uint8, int32, int64, bool) and refuses everything else with an
// error that says what is wrong and how to fix it on the numpy side (rtx.cli.101-106): a header
// that is not the three-key dictionary, big-endian or Fortran-ordered data, a dtype rtx cannot
// hold, data shorter or longer than the shape says, an element count that overflows. Types numpy
// has no standard dtype for (bf16, fp8, fp4, int4) are written widened, exactly: bf16/fp8/fp4 as
// float32, int4/uint4 as int8/uint8.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/types.hpp"

namespace rtx::cli {

/// The numpy dtype string ("<f4", "|b1") for a dtype numpy holds natively; nullopt for bf16, fp8,
/// fp4 and the 4-bit integers.
std::optional<std::string_view> npy_descr(DataType dtype);

/// The dtype rtx writes `dtype` as: itself when numpy has it, else the exact widening (f32 for
/// bf16/fp8/fp4, int8 for int4, uint8 for uint4).
DataType npy_storage_type(DataType dtype);

/// Decodes .npy bytes. `what` names the source in messages (usually the file name).
Expected<HostTensor> parse_npy(std::span<const uint8_t> bytes, std::string_view what);

/// Reads a .npy file.
Expected<HostTensor> read_npy(const std::filesystem::path& path);

/// The .npy bytes of `tensor` (format 1.0, header padded to 64 bytes as numpy does; 2.0 when the
/// header would not fit 1.0's 16-bit length). Widens as npy_storage_type says.
std::vector<uint8_t> encode_npy(const HostTensor& tensor);

/// Writes `tensor` to `path` (rtx.cli.107 when the file cannot be written).
Expected<void> write_npy(const std::filesystem::path& path, const HostTensor& tensor);

}  // namespace rtx::cli
