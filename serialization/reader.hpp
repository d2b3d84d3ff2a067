// SPDX-License-Identifier: Apache-2.0
// Engine reader: verified bytes -> EngineModel. Everything is checked before anything is
// returned: header, section table, every bound (count * size overflow included), every checksum,
// every rule of FORMAT.md. Any defect is an rtx::Error with a stable id; file contents never
// cause an assert, an abort, or a read out of bounds. Weights and kernel images are borrowed from
// the input (no copy), so reading a memory-mapped file costs little more than the mapping.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "rtx/error.hpp"
#include "serialization/engine_model.hpp"

namespace rtx::serialization {

/// Reads an engine held in memory. Weights and images point into `bytes`; `owner` is kept alive
/// by them (pass the buffer's owner; without one the caller must keep `bytes` alive as long as
/// the model or any weight of it lives).
Expected<EngineModel> read_engine(std::span<const uint8_t> bytes,
                                  std::shared_ptr<const void> owner = {});

/// Reads an engine from a buffer it takes over (`read_engine(write_engine(m).value())` is safe:
/// the model keeps the bytes alive). Lvalue vectors go to the borrowing overload above.
Expected<EngineModel> read_engine(std::vector<uint8_t>&& bytes);

/// Reads an engine file through a read-only memory mapping (falling back to read() where a file
/// cannot be mapped). Peak host memory is the file's size plus the small tables: the checksum
/// pass touches each page once and the weights stay in the mapping.
Expected<EngineModel> read_engine_file(const std::filesystem::path& path);

/// Decodes and checks the 64-byte header alone (ids 101-107, 110).
Expected<EngineHeader> read_engine_header(std::span<const uint8_t> bytes);

}  // namespace rtx::serialization
