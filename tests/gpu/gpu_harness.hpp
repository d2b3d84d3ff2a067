// SPDX-License-Identifier: Apache-2.0
// Helpers for GPU tests: device buffers that upload/download HostTensors, poisoning of outputs
// before each run (0xFF bytes: NaN for floats, so an unwritten element can never pass), random
// inputs, compiling a program for the GPU in use (through the process-wide kernel cache), and
// comparison against the reference evaluator by relative error with a bound per dtype.
#pragma once

#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "jit/cache.hpp"
#include "jit/compiler.hpp"
#include "jit/device.hpp"
#include "jit/module.hpp"
#include "rtx/host_tensor.hpp"

namespace rtx::test::gpu {

#define RTX_CUDA_CHECK(call)                                                          \
  do {                                                                                \
    cudaError_t rtx_err_ = (call);                                                    \
    REQUIRE_MESSAGE(rtx_err_ == cudaSuccess, #call << ": " << cudaGetErrorString(rtx_err_)); \
  } while (0)

/// Device memory holding one tensor's bytes.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) { RTX_CUDA_CHECK(cudaMalloc(&ptr_, bytes ? bytes : 1)); }
  explicit DeviceBuffer(const HostTensor& t) : DeviceBuffer(t.byte_size()) { upload(t); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  void upload(const HostTensor& t) {
    REQUIRE(t.byte_size() <= bytes_);
    RTX_CUDA_CHECK(cudaMemcpy(ptr_, t.data(), t.byte_size(), cudaMemcpyHostToDevice));
  }
  /// Fills with 0xFF bytes (NaN in every float format with a NaN; -1 for ints).
  void poison() { RTX_CUDA_CHECK(cudaMemset(ptr_, 0xFF, bytes_)); }
  HostTensor download(DataType dtype, std::vector<int64_t> shape) const {
    HostTensor t(dtype, std::move(shape));
    REQUIRE(t.byte_size() <= bytes_);
    RTX_CUDA_CHECK(cudaDeviceSynchronize());
    RTX_CUDA_CHECK(cudaMemcpy(t.mutable_data(), ptr_, t.byte_size(), cudaMemcpyDeviceToHost));
    return t;
  }
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

/// Uniform random values in [lo, hi) rounded to dtype; a fresh seed per call unless given.
inline HostTensor random_tensor(DataType dtype, std::vector<int64_t> shape, double lo = -1.0, double hi = 1.0,
                                uint64_t seed = 0) {
  static std::mt19937_64 seeder(std::random_device{}());
  std::mt19937_64 rng(seed ? seed : seeder());
  HostTensor t(dtype, std::move(shape));
  std::vector<double> v(static_cast<size_t>(t.element_count()));
  std::uniform_real_distribution<double> u(lo, hi);
  for (auto& x : v) x = is_integer(dtype) || dtype == DataType::kBOOL ? std::floor(u(rng)) : u(rng);
  return HostTensor::from_doubles(dtype, t.shape(), v);
}

/// Compute capability of device 0 as a Target (cubin).
inline jit::Target device_target() {
  auto info = jit::device_info(0);
  REQUIRE(info);
  return jit::Target{info->sm(), false, false};
}

/// Compiles `program` for the GPU in use and loads it.
inline jit::Module load_for_device(const jit::Program& program) {
  static jit::KernelCache cache{std::filesystem::path{}};
  const jit::Target target = device_target();
  jit::CompileOptions options;
  options.cache = &cache;
  auto images = jit::compile(program, std::span<const jit::Target>(&target, 1), options);
  REQUIRE_MESSAGE(images.has_value(), (images ? std::string() : images.error().to_string()));
  auto module = jit::Module::load((*images)[0]);
  REQUIRE_MESSAGE(module.has_value(), (module ? std::string() : module.error().to_string()));
  return std::move(*module);
}

/// ‖got − want‖₂ / ‖want‖₂ (‖got − want‖₂ alone when want is all zeros); +inf if any NaN/Inf
/// appears in `got` where `want` is finite, or shapes differ.
inline double relative_error(const HostTensor& got, const HostTensor& want) {
  if (got.shape() != want.shape()) return INFINITY;
  const auto g = got.to_doubles();
  const auto w = want.to_doubles();
  double num = 0, den = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isfinite(w[i]) && !std::isfinite(g[i])) return INFINITY;
    if (std::isnan(w[i]) != std::isnan(g[i])) return INFINITY;
    if (!std::isfinite(w[i])) {
      if (g[i] != w[i] && !(std::isnan(g[i]) && std::isnan(w[i]))) return INFINITY;
      continue;
    }
    num += (g[i] - w[i]) * (g[i] - w[i]);
    den += w[i] * w[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

/// Default bound on relative_error for results stored in `dtype` (computed in f32 inside).
inline double tolerance(DataType dtype) {
  switch (dtype) {
    case DataType::kF64: return 1e-12;
    case DataType::kF32: return 1e-5;
    case DataType::kF16: return 2e-3;
    case DataType::kBF16: return 1.5e-2;
    case DataType::kFP8E4M3: return 7e-2;
    case DataType::kFP8E5M2: return 1.3e-1;
    default: return 0;  // integers and bool: exact
  }
}

/// Checks `got` against the reference `want` within `bound` (default: tolerance(dtype)).
inline void check_close(const HostTensor& got, const HostTensor& want, double bound = -1, const std::string& what = {}) {
  REQUIRE(got.dtype() == want.dtype());
  const double err = relative_error(got, want);
  const double b = bound >= 0 ? bound : tolerance(want.dtype());
  CHECK_MESSAGE(err <= b, what << " " << want.describe() << ": relative error " << err << " > bound " << b);
}

}  // namespace rtx::test::gpu
