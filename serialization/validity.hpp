// SPDX-License-Identifier: Apache-2.0
// Engine validity from the 64-byte header (Runtime::engine_validity). The device facts are a
// parameter so that every branch (each compute capability rule, old driver or runtime, memory,
// no device) is tested on a machine without a GPU; the public entry point passes the real device.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "rtx/error.hpp"
#include "rtx/runtime.hpp"

namespace rtx::serialization {

/// What validity needs to know about the GPU.
struct DeviceFacts {
  uint32_t cc = 0;                  ///< 10*major + minor
  uint64_t total_memory_bytes = 0;  ///< device memory (total, not free: see FORMAT.md "Validity")
  uint32_t driver_version = 0;      ///< cudaDriverGetVersion: 1000*major + 10*minor
  uint32_t runtime_version = 0;     ///< cudaRuntimeGetVersion of the CUDA runtime rtx links
};

/// The current CUDA device's facts, or error rtx.serialization.005 (no driver, no device...).
Expected<DeviceFacts> query_device_facts();

/// Validity of the engine whose first bytes are `bytes` (the first 64 are read). `device` is
/// called only once the header is well-formed and of a readable version. `diagnostics` may be null.
EngineValidity engine_validity(std::span<const uint8_t> bytes,
                               const std::function<Expected<DeviceFacts>()>& device,
                               uint64_t* diagnostics);

}  // namespace rtx::serialization
