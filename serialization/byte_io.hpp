// SPDX-License-Identifier: Apache-2.0
// Little-endian encoding and a bounds-checked read cursor for the engine format. Every read of
// file contents goes through `Cursor`, which refuses to step past its span: the reader cannot
// index out of bounds whatever the bytes say, and a short record becomes a stable error id.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtx/error.hpp"

namespace rtx::serialization::detail {

inline void store_le(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t load_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

/// Appends little-endian integers and length-prefixed strings to a byte vector.
class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void i64(int64_t v) { put(static_cast<uint64_t>(v), 8); }
  /// uint32 byte length, then the bytes (no terminator, no padding).
  void string(std::string_view s) {
    if (s.size() > UINT32_MAX)
      throw Exception("rtx.serialization.603", "string of " + std::to_string(s.size()) +
                                                   " bytes is too long for the engine format");
    u32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }

 private:
  void put(uint64_t v, int bytes) {
    const size_t at = out_.size();
    out_.resize(at + static_cast<size_t>(bytes));
    store_le(out_.data() + at, v, bytes);
  }
  std::vector<uint8_t>& out_;
};

/// Reads little-endian fields from a span. Running past the end throws rtx::Exception with the
/// id given at construction and a message naming `what` and the byte position.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const char* truncated_id, std::string what)
      : bytes_(bytes), truncated_id_(truncated_id), what_(std::move(what)) {}

  uint8_t u8() { return static_cast<uint8_t>(take(1)); }
  uint16_t u16() { return static_cast<uint16_t>(take(2)); }
  uint32_t u32() { return static_cast<uint32_t>(take(4)); }
  uint64_t u64() { return take(8); }
  int64_t i64() { return static_cast<int64_t>(take(8)); }
  /// A uint32-length-prefixed string, viewed in place.
  std::string_view string(std::string_view field) {
    const uint32_t n = u32();
    if (n > remaining()) {
      throw Exception(truncated_id_, what_ + ": " + std::string(field) + " of " +
                                         std::to_string(n) + " bytes at byte " +
                                         std::to_string(pos_) + " extends past the end (" +
                                         std::to_string(remaining()) + " bytes left)");
    }
    std::string_view s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  /// Throws unless `count` records of at least `min_record_bytes` each can still fit: a count
  /// field cannot make the reader reserve memory the section does not back.
  void require_records(uint64_t count, uint64_t min_record_bytes, std::string_view what) const {
    if (min_record_bytes != 0 && count > remaining() / min_record_bytes) {
      throw Exception(truncated_id_, what_ + ": " + std::to_string(count) + " " +
                                         std::string(what) + " of at least " +
                                         std::to_string(min_record_bytes) +
                                         " bytes each do not fit in the " +
                                         std::to_string(remaining()) + " bytes left");
    }
  }
  size_t remaining() const { return bytes_.size() - pos_; }
  size_t position() const { return pos_; }

 private:
  uint64_t take(int n) {
    if (static_cast<size_t>(n) > remaining()) {
      throw Exception(truncated_id_, what_ + ": record at byte " + std::to_string(pos_) +
                                         " extends past the end (" + std::to_string(remaining()) +
                                         " bytes left, " + std::to_string(n) + " needed)");
    }
    const uint64_t v = load_le(bytes_.data() + pos_, n);
    pos_ += static_cast<size_t>(n);
    return v;
  }
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  const char* truncated_id_;
  std::string what_;
};

/// a + b, or false on overflow.
inline bool checked_add(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}
/// a * b, or false on overflow.
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
/// Rounds up to a multiple of `alignment` (a power of two); the caller ensures no overflow.
inline uint64_t align_up(uint64_t v, uint64_t alignment) {
  return (v + alignment - 1) & ~(alignment - 1);
}

/// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace rtx::serialization::detail
