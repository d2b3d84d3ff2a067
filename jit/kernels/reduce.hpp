// SPDX-License-Identifier: Apache-2.0
// Host side of the reduction family (templates/reduce/): ReduceSum, ReduceMean, ReduceMax,
// ReduceMin, ReduceProd over any set of axes, and ArgMax / ArgMin along one axis, with ONNX
// semantics (keepdims, noop_with_empty_axes, select_last_index). The input is viewed as kept and
// reduced dim groups after merging; one contiguous reduced run at the end becomes rows
// (reduce_rows), anything else walks strides (reduce_strided). Reductions with too few results
// to fill the GPU are split: a partial pass writes states to a workspace, a second pass finishes.
//
// Dtypes: f16, bf16, f32, f64, i32, i64 for every op; additionally i8, u8 and bool for Max/Min
// and i8, u8 for ArgMax/ArgMin (the reference evaluator's sets). Floating accumulation is in
// float (double for f64); integers accumulate in int64 with wrap-around.
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
#include "templates/reduce/params.cuh"

namespace rtx::jit::kernels {

enum class ReduceKind : uint8_t { kSum, kMean, kMax, kMin, kProd, kArgMax, kArgMin };

/// "sum", "mean", "max", "min", "prod", "argmax", "argmin".
std::string_view reduce_kind_name(ReduceKind kind);

/// Compile-time choices of one reduction.
struct ReduceSpec {
  ReduceKind kind = ReduceKind::kSum;
  DataType input = DataType::kF32;
  DataType output = DataType::kF32;  ///< the input's dtype; int64 for ArgMax/ArgMin
  bool select_last = false;          ///< ArgMax/ArgMin: ties go to the last index
  int64_t rank = 0;                  ///< input rank
  std::vector<int64_t> axes;         ///< reduced dims, normalised and sorted (may be empty)

  /// "rtx::kernels::SumOp<__half>" and friends.
  std::string op_type() const;
  /// The Op's State type as spelled in name expressions ("float", "rtx::kernels::ArgState<float>").
  std::string state_type() const;
  /// Bytes of one State on the device (workspace sizing).
  size_t state_bytes() const;
  /// Every name expression this spec may launch (direct, partial and finishing passes).
  std::vector<std::string> name_expressions() const;
  Program program() const;
  friend bool operator==(const ReduceSpec&, const ReduceSpec&) = default;
};

void to_json(nlohmann::json& j, const ReduceSpec& spec);
/// Throws rtx::Exception rtx.jit.303 on malformed JSON.
void from_json(const nlohmann::json& j, ReduceSpec& spec);

/// Maps a ReduceSum/Mean/Max/Min/Prod or ArgMax/ArgMin node to a spec. `constants` holds the
/// data of constant inputs (the axes input of Reduce*, which must be constant), else nullptr.
/// nullopt when the op, dtype or axes are not supported.
std::optional<ReduceSpec> plan_reduce(const ir::Node& node, std::span<const ir::TensorInfo> inputs,
                                      std::span<const HostTensor* const> constants = {});

/// Run-time arguments.
struct ReduceArgs {
  std::vector<int64_t> in_shape;  ///< concrete input shape (rank = spec.rank)
  const void* in = nullptr;
  void* out = nullptr;            ///< output elements in row-major order of the kept dims
  void* workspace = nullptr;      ///< workspace_size() bytes (may be null when that is 0)
  int multiprocessors = 132;      ///< SMs of the GPU: decides whether to split
};

/// One kernel launch.
struct ReduceLaunch {
  std::string kernel;  ///< name expression
  LaunchConfig config;
  rtx::kernels::ReduceParams params{};
};

/// Workspace bytes the launches for `in_shape` need (0 unless the reduction is split).
Expected<size_t> workspace_size(const ReduceSpec& spec, std::span<const int64_t> in_shape,
                                int multiprocessors = 132);

/// Side-effect free check of run-time arguments (rank, dims, buffers, workspace).
Expected<void> can_implement(const ReduceSpec& spec, const ReduceArgs& args);

/// The launches (1 or 2, in order; none for an empty output) for `args`.
Expected<std::vector<ReduceLaunch>> make_launches(const ReduceSpec& spec, const ReduceArgs& args);

/// make_launches + launch each on `stream`.
Expected<void> run(const ReduceSpec& spec, const ReduceArgs& args, const LoadedProgram& program,
                   void* stream);

}  // namespace rtx::jit::kernels
