// SPDX-License-Identifier: Apache-2.0
// Device queries; see device.hpp.
#include "jit/device.hpp"

#include <cuda_runtime_api.h>

#include "jit/errors.hpp"

namespace rtx::jit {
namespace {

Error no_device(const char* call, cudaError_t e) {
  return Error{errc::kNoDevice, std::string("no CUDA driver/device: ") + call + " failed: " +
                                    cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")"};
}

}  // namespace

int runtime_version() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) return 0;
  return v;
}

int driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) return 0;
  return v;
}

Expected<int> device_count() {
  int n = 0;
  if (cudaError_t e = cudaGetDeviceCount(&n); e != cudaSuccess) {
    cudaGetLastError();  // cudart keeps the last error per thread; do not leak it to later calls
    return no_device("cudaGetDeviceCount", e);
  }
  if (n <= 0) return Error{errc::kNoDevice, "no CUDA driver/device: no GPU is visible"};
  return n;
}

Expected<DeviceInfo> device_info(int ordinal) {
  auto count = device_count();
  if (!count) return count.error();
  if (ordinal < 0 || ordinal >= *count) {
    return Error{errc::kBadDevice, "GPU " + std::to_string(ordinal) + " does not exist (" +
                                       std::to_string(*count) + " visible)"};
  }
  cudaDeviceProp prop{};
  if (cudaError_t e = cudaGetDeviceProperties(&prop, ordinal); e != cudaSuccess) {
    cudaGetLastError();
    return no_device("cudaGetDeviceProperties", e);
  }
  DeviceInfo info;
  info.ordinal = ordinal;
  info.name = prop.name;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.total_memory = prop.totalGlobalMem;
  info.multiprocessors = prop.multiProcessorCount;
  info.driver_version = driver_version();
  info.runtime_version = runtime_version();
  return info;
}

}  // namespace rtx::jit
