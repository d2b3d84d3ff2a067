// SPDX-License-Identifier: Apache-2.0
// Host side of the pooling family (templates/pool/): MaxPool (optional Indices output,
// storage_order), AveragePool (count_include_pad) over 1 to 3 spatial dims with ONNX's pads,
// strides, dilations, auto_pad and ceil_mode, and GlobalAveragePool (a mean per plane through
// the reduction family's row kernel). NCHW layout ([N, C, spatial...], contiguous).
//
// Dtypes: f16, bf16, f32, f64 for both pools (MaxPool also i8, u8); GlobalAveragePool f16, bf16,
// f32, f64. Window geometry is resolved per input shape with the reference evaluator's rules,
// so dynamic spatial dims work.
//
// Error ids: rtx.jit.301 (node not implementable), 302 (bad run-time arguments), 303 (bad JSON).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ir/graph.hpp"
#include "jit/compiler.hpp"
#include "jit/kernels/common.hpp"
#include "rtx/error.hpp"
#include "rtx/types.hpp"
#include "templates/pool/params.cuh"

namespace rtx::jit::kernels {

enum class PoolKind : uint8_t { kMax, kAverage, kGlobalAverage };

/// "max", "average", "global_average".
std::string_view pool_kind_name(PoolKind kind);

/// Compile-time choices of one pooling op (window attributes are kept as given; geometry is
/// resolved against the input shape at run time).
struct PoolSpec {
  PoolKind kind = PoolKind::kMax;
  DataType dtype = DataType::kF32;
  int64_t rank = 4;                  ///< input rank (2 + spatial dims)
  std::vector<int64_t> kernel;       ///< per spatial dim
  std::vector<int64_t> strides;      ///< per spatial dim
  std::vector<int64_t> dilations;    ///< per spatial dim
  std::vector<int64_t> pads;         ///< begins then ends (2 per spatial dim)
  std::string auto_pad = "NOTSET";   ///< NOTSET, SAME_UPPER, SAME_LOWER, VALID
  bool ceil_mode = false;
  bool count_include_pad = false;    ///< AveragePool
  int storage_order = 0;             ///< MaxPool Indices: 0 row major, 1 column major

  std::vector<std::string> name_expressions() const;
  Program program() const;
  friend bool operator==(const PoolSpec&, const PoolSpec&) = default;
};

void to_json(nlohmann::json& j, const PoolSpec& spec);
/// Throws rtx::Exception rtx.jit.303 on malformed JSON.
void from_json(const nlohmann::json& j, PoolSpec& spec);

/// Maps MaxPool, AveragePool or GlobalAveragePool to a spec; nullopt when not supported.
std::optional<PoolSpec> plan_pool(const ir::Node& node, std::span<const ir::TensorInfo> inputs);

/// Run-time arguments.
struct PoolArgs {
  std::vector<int64_t> in_shape;
  const void* in = nullptr;
  void* out = nullptr;
  void* indices = nullptr;  ///< MaxPool Indices (int64, output shape), optional
};

struct PoolLaunch {
  std::string kernel;
  LaunchConfig config;
  std::vector<uint8_t> params;       ///< PoolParams, or ReduceParams for GlobalAveragePool
  std::vector<int64_t> out_shape;    ///< the output shape the launch writes
};

/// Output shape for `in_shape` (ONNX window arithmetic); rtx.jit.302 for impossible windows.
Expected<std::vector<int64_t>> pool_output_shape(const PoolSpec& spec,
                                                 std::span<const int64_t> in_shape);

/// Side-effect free check of run-time arguments.
Expected<void> can_implement(const PoolSpec& spec, const PoolArgs& args);

/// The launch for `args` (grid.x == 0 when the output is empty).
Expected<PoolLaunch> make_launch(const PoolSpec& spec, const PoolArgs& args);

/// make_launch + launch on `stream`.
Expected<void> run(const PoolSpec& spec, const PoolArgs& args, const LoadedProgram& program,
                   void* stream);

}  // namespace rtx::jit::kernels
