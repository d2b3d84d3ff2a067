// SPDX-License-Identifier: Apache-2.0
// Device queries through cudart (linked statically; it loads libcuda with dlopen on first use).
// On a machine with no driver or no GPU every query returns rtx.jit.201 with cudart's reason,
// never crashes: that is the normal state of build and CI machines.
#pragma once

#include <cstdint>
#include <string>

#include "rtx/error.hpp"

namespace rtx::jit {

/// What the JIT and runtime need to know about one GPU.
struct DeviceInfo {
  int ordinal = 0;
  std::string name;           ///< "NVIDIA H100 80GB HBM3"
  int cc_major = 0;           ///< compute capability, e.g. 9
  int cc_minor = 0;           ///< e.g. 0
  uint64_t total_memory = 0;  ///< bytes of device memory
  int multiprocessors = 0;    ///< SM count
  int driver_version = 0;     ///< CUDA driver API version, e.g. 13000
  int runtime_version = 0;    ///< cudart version linked into rtx, e.g. 13000
  /// cc_major * 10 + cc_minor (the Target::sm spelling).
  int sm() const { return cc_major * 10 + cc_minor; }
};

/// Number of visible GPUs (>= 1); rtx.jit.201 when there is no driver or no device.
Expected<int> device_count();

/// Properties of GPU `ordinal`; rtx.jit.201 without driver/device, rtx.jit.205 for a bad ordinal.
Expected<DeviceInfo> device_info(int ordinal);

/// cudart version linked into rtx (works with no driver), e.g. 13000.
int runtime_version();

/// CUDA driver version (0 when no driver is installed).
int driver_version();

}  // namespace rtx::jit
