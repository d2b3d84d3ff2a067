// SPDX-License-Identifier: Apache-2.0
// Checksums of the engine format: CRC-32C (Castagnoli) guards the header, the section table and
// every section; XXH64 fingerprints each weight. Both are hand-written here because no dependency
// of rtx provides them and the format must not change when a library does. FORMAT.md ("Checksums")
// says why these two.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace rtx::serialization {

/// CRC-32C of `bytes` continuing from `crc` (0 for a fresh checksum). Chaining holds:
/// crc32c(b, crc32c(a)) == crc32c(a ++ b). Uses the SSE4.2 instruction when the CPU has it and a
/// slice-by-8 table otherwise; both give identical results.
uint32_t crc32c(std::span<const uint8_t> bytes, uint32_t crc = 0);

/// CRC-32C continued over `count` zero bytes (padding is checksummed without materialising it).
uint32_t crc32c_zeros(uint64_t count, uint32_t crc);

/// The portable table-driven CRC-32C (exposed so tests can compare it with the hardware path).
uint32_t crc32c_portable(std::span<const uint8_t> bytes, uint32_t crc = 0);

/// XXH64 (xxHash, 64-bit variant, by Yann Collet) of `bytes` with `seed`.
uint64_t xxh64(std::span<const uint8_t> bytes, uint64_t seed = 0);

}  // namespace rtx::serialization
