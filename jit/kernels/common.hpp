// SPDX-License-Identifier: Apache-2.0
// Vocabulary shared by the host side of every kernel family (jit/kernels/<family>.hpp): the
// launch contract of one kernel launch and the canonical spelling of element types inside NVRTC
// name expressions. Families add their own Spec/Params/plan next to this; only what two or more
// families need lives here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jit/compiler.hpp"
#include "jit/module.hpp"
#include "rtx/error.hpp"
#include "rtx/types.hpp"
#include "templates/common/limits.cuh"

namespace rtx::jit::kernels {

/// How one kernel is launched: grid, block and dynamic shared memory in bytes.
struct LaunchConfig {
  Dim3 grid;
  Dim3 block;
  size_t shared_bytes = 0;  ///< dynamic shared memory; above 48 KiB the kernel must opt in
};

/// The CUDA C++ type NVRTC programs use for `dtype` in name expressions ("__half",
/// "__nv_bfloat16", "float", ...); empty for types no kernel takes directly (packed 4-bit).
inline std::string_view cuda_type_name(DataType dtype) {
  switch (dtype) {
    case DataType::kF32: return "float";
    case DataType::kF16: return "__half";
    case DataType::kBF16: return "__nv_bfloat16";
    case DataType::kF64: return "double";
    case DataType::kFP8E4M3: return "__nv_fp8_e4m3";
    case DataType::kFP8E5M2: return "__nv_fp8_e5m2";
    case DataType::kINT8: return "signed char";
    case DataType::kUINT8: return "unsigned char";
    case DataType::kINT32: return "int";
    case DataType::kINT64: return "long long";
    case DataType::kBOOL: return "bool";
    case DataType::kFP4E2M1:
    case DataType::kINT4:
    case DataType::kUINT4: return {};
  }
  return {};
}

/// Largest tensor rank a kernel's Params describe (fixed-size arrays shared with the device).
inline constexpr int kMaxRank = rtx::kernels::kMaxRank;

/// Error ids of the memory-bound families (pointwise, reduce, norm, movement, pool).
namespace errc {
inline constexpr const char* kCannotImplement = "rtx.jit.301";  ///< op/dtype/attribute unsupported
inline constexpr const char* kBadArguments = "rtx.jit.302";     ///< run-time shapes or buffers
inline constexpr const char* kBadSpec = "rtx.jit.303";          ///< malformed or invalid Spec JSON
}  // namespace errc

/// Product of `shape` (1 for rank 0).
int64_t element_count(std::span<const int64_t> shape);

/// Row-major element strides of `shape`.
std::vector<int64_t> contiguous_strides(std::span<const int64_t> shape);

/// Whether `p` is a multiple of `bytes` (a power of two).
inline bool is_aligned(const void* p, size_t bytes) {
  return (reinterpret_cast<uintptr_t>(p) & (bytes - 1)) == 0;
}

/// "name<a, b, c>": the canonical spelling of a name expression (one space after each comma).
std::string name_expression(std::string_view name, std::initializer_list<std::string_view> args);
std::string name_expression(std::string_view name, std::span<const std::string> args);

/// A compiled image loaded for launching: the module plus the image's lowered names, so kernels
/// are looked up by name expression.
class LoadedProgram {
 public:
  /// Loads `image` (cubin or PTX) into the current context; rtx.jit.201/202 as Module::load.
  static Expected<LoadedProgram> load(const CompiledImage& image);
  /// The kernel of `expression` (a name expression of the program); rtx.jit.203 when absent.
  Expected<Kernel> kernel(std::string_view expression) const;

 private:
  LoadedProgram(Module module, std::vector<std::pair<std::string, std::string>> names)
      : module_(std::move(module)), names_(std::move(names)) {}
  Module module_;
  std::vector<std::pair<std::string, std::string>> names_;
};

/// Launches `expression` of `program` with `config` and one by-value parameter struct (`params`
/// points to it). Zero-sized grids launch nothing and succeed (empty tensors).
Expected<void> launch(const LoadedProgram& program, std::string_view expression,
                      const LaunchConfig& config, void* params, void* stream);

}  // namespace rtx::jit::kernels
