// SPDX-License-Identifier: Apache-2.0
// PTX for GPUs an engine has no cubin for: compiled here to a cubin for the exact GPU with
// nvJitLink (loaded with dlopen when first needed: rtx has no link-time dependency on it), and kept
// in a RuntimeCache (rtx/runtime.hpp) keyed by the PTX's SHA-256 and the compute capability, which
// users save and reload so a machine compiles each PTX once. With RTX_ASSERT_NO_JIT=1 a cache miss
// is an error instead of a compile. Works without a GPU (nvJitLink needs none), so the unit suite
// tests it. Blob format of RuntimeCache::serialize: "RTXC", u32 version 1, u32 count, entries
// (u32 key length, key, u64 cubin length, cubin), then a CRC-32C of all preceding bytes; little
// endian; entries sorted by key.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "rtx/error.hpp"
#include "rtx/runtime.hpp"

namespace rtx::runtime {

/// Compiles NUL-terminated or plain PTX text to a cubin for `sm` (e.g. 90) with nvJitLink.
/// rtx.runtime.104 when nvJitLink is missing or rejects the PTX (its log in the message).
Expected<std::vector<uint8_t>> compile_ptx(std::span<const uint8_t> ptx, int sm);

/// Whether nvJitLink can be loaded on this machine.
bool ptx_compiler_available();

/// The cache key of (ptx, sm): "<sha256 of the PTX text without trailing NULs>:sm_<sm>".
std::string ptx_cache_key(std::span<const uint8_t> ptx, int sm);

/// The cubin for (ptx, sm): from `cache`, else compiled and stored there. `compiled` (may be
/// null) tells whether a compile happened. Honours RTX_ASSERT_NO_JIT=1 (a miss is rtx.runtime.104).
Expected<std::vector<uint8_t>> cubin_for_ptx(const RuntimeCache& cache, std::span<const uint8_t> ptx, int sm,
                                             bool* compiled = nullptr);

}  // namespace rtx::runtime
