// SPDX-License-Identifier: Apache-2.0
// Byte encoding of CompiledImage shared by the disk cache and the compile worker processes:
// length-prefixed fields (8-byte little-endian length, then bytes), read back with bounds checks
// so a torn or foreign buffer is rejected, never trusted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "jit/compiler.hpp"

namespace rtx::jit::codec {

/// Appends the 8-byte little-endian `v`.
void put_u64(std::string& out, uint64_t v);
/// Reads 8 bytes little-endian.
uint64_t get_u64(const char* p);
/// Appends one field: its length, then its bytes.
void put_field(std::string& out, std::string_view field);

/// Reads fields; any overrun makes ok() false for good (and next() returns "").
class FieldReader {
 public:
  explicit FieldReader(std::string_view data) : data_(data) {}
  std::string next();
  bool ok() const { return ok_; }
  bool at_end() const { return data_.empty(); }

 private:
  std::string_view data_;
  bool ok_ = true;
};

/// Appends the fields of `image`: target, image bytes, log, seconds (0 unless `keep_seconds`:
/// cache files stay byte-identical across recompiles), lowered-name count, then expression and
/// lowered name per entry.
void put_image(std::string& out, const CompiledImage& image, bool keep_seconds = true);
/// Reads what put_image wrote; false (and `out` unspecified) if malformed.
bool get_image(FieldReader& in, CompiledImage& out);

}  // namespace rtx::jit::codec
