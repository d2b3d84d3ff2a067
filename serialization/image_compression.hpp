// SPDX-License-Identifier: Apache-2.0
// Kernel images stored as zlib streams (FORMAT.md, format version 2, "Compressed images").
// Cubins and PTX shrink 4-5x under deflate, which is what keeps a weightless engine for six GPU
// generations small. Compression goes through protobuf's zlib streams (protobuf is already a
// dependency for ONNX), so no new library is needed.
//
// Contract: deflate_image() is deterministic for a given zlib version (level 6, default
// strategy). inflate_image_chunks() accepts exactly the streams that inflate without a zlib
// error to `raw_size` bytes; the reader's checks and the runtime's loading use it alike, so an
// image that passed the reader always inflates at load. Integrity is the section CRC's job.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace rtx::serialization::detail {

/// The zlib stream (RFC 1950, deflate level 6) of `raw`.
std::vector<uint8_t> deflate_image(std::span<const uint8_t> raw);

/// Inflates `stored` and hands the bytes to `chunk` in order, keeping nothing. Throws
/// rtx::Exception rtx.serialization.417 naming `where` when the stream is corrupt or does not
/// give exactly `raw_size` bytes.
void inflate_image_chunks(std::span<const uint8_t> stored, uint64_t raw_size, const std::string& where,
                          const std::function<void(std::span<const uint8_t>)>& chunk);

/// The inflated bytes of `stored` (same checks as inflate_image_chunks).
std::vector<uint8_t> inflate_image(std::span<const uint8_t> stored, uint64_t raw_size, const std::string& where);

}  // namespace rtx::serialization::detail
