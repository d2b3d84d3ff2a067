// SPDX-License-Identifier: Apache-2.0
// The kernel plan: maps an optimized IR graph to the steps of an execution plan. Each node goes to
// the first kernel family that can implement it for every target of the engine (one engine holds
// one image per target and every kernel must be in each), fusing what the family's epilogue can
// absorb: MatMul/Gemm + bias + activation + residual add into one GEMM. Reshape-like nodes become
// aliases (no data moves). What no family implements yet runs on the host through the reference
// evaluator, grouped so that consecutive host nodes share one round trip; the build report lists
// those ops, so a missing GPU kernel is visible, never silent.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/graph.hpp"
#include "ir/passes.hpp"
#include "jit/compiler.hpp"
#include "jit/runtime/plan.hpp"

namespace rtx::builder {

/// What the planner needs to know about the engine.
struct PlannerOptions {
  std::vector<jit::Target> targets;  ///< every target of the engine (cubins and PTX)
  int multiprocessors = 132;         ///< SMs of the expected GPU (tile choice only)
};

/// One distinct kernel of the engine (one name expression).
struct PlannedKernel {
  std::string family;           ///< "gemm", "attention", "pointwise", "norm", ...
  nlohmann::json spec;          ///< the family's Spec of the step that first used it
  std::string name_expression;  ///< NVRTC name expression
  std::vector<std::string> includes;  ///< `#include` lines its program needs
  std::string definitions;            ///< other source it needs (a rendered functor), or empty
};

/// The plan and the kernels its steps use (Step::kernel indexes `kernels`: the first kernel of
/// the step; families with several variants choose among theirs by name at run time).
struct KernelPlan {
  runtime::ExecutionPlan plan;
  std::vector<PlannedKernel> kernels;
  std::vector<std::string> host_ops;  ///< "Conv 'conv_1'" for each node run on the host
};

/// Plans `graph` (optimized and compacted; infos inferred). Throws rtx::Exception.
KernelPlan plan_kernels(const ir::Graph& graph, const PlannerOptions& options);

/// The builder's IR passes, in order (builder.cpp): folding that keeps weights, fusion, Q/DQ
/// folding into quantized GEMMs, ... Tests plan graphs exactly as the builder does with it.
std::span<const ir::Pass> builder_pipeline();

/// One program holding every kernel of `kernels` (headers of all families included once).
jit::Program engine_program(const std::vector<PlannedKernel>& kernels);

}  // namespace rtx::builder
