// SPDX-License-Identifier: Apache-2.0
// Hashes used by the JIT: SHA-256 names cache entries (a content address must not collide, and
// the inputs are attacker-free but large: whole kernel programs), FNV-1a 64 checksums cache files
// (cheap corruption detection, not identity).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rtx::jit {

/// Incremental SHA-256 (FIPS 180-4).
class Sha256 {
 public:
  Sha256();
  /// Appends bytes.
  Sha256& update(std::span<const uint8_t> bytes);
  Sha256& update(std::string_view text);
  /// Appends the 8-byte little-endian length of `field`, then `field`: a sequence of such fields
  /// hashes unambiguously (no two field lists share a byte stream).
  Sha256& field(std::string_view field);
  /// Finishes and returns the digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();
  /// Finishes and returns the digest as 64 lower-case hex characters.
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

/// sha256 of `text` as hex.
std::string sha256_hex(std::string_view text);

/// 64-bit FNV-1a of `bytes`, continuing from `seed` (the FNV offset basis by default).
uint64_t fnv1a64(std::span<const uint8_t> bytes, uint64_t seed = 0xcbf29ce484222325ull);

}  // namespace rtx::jit
