// SPDX-License-Identifier: Apache-2.0
// The execution plan: what the builder decided and the runtime executes, stored as the engine's
// `plan` metadata key (FORMAT.md leaves its schema to builder and runtime; docs/runtime.md
// describes it). It holds the optimized IR graph itself (values with build-time infos, nodes with
// their ONNX attributes, constants inline) because the runtime re-infers every shape from the
// input shapes it is given: that is what lets one engine run any shape of its profile with no
// recompilation. Weights are referenced by name (the engine's weights table holds the bytes).
// Steps run in order; each is a JIT kernel (one node or a fused group), a host step (nodes the
// reference evaluator runs on the CPU because no kernel family implements them yet), an alias
// (a reshape that moves no data) or a copy (an output that is an input or constant).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/graph.hpp"
#include "rtx/host_tensor.hpp"

namespace rtx::runtime {

/// Version of the plan schema (metadata key plan.format); a newer one is refused (rtx.runtime.105).
inline constexpr int kPlanFormat = 1;

/// One value of the planned graph (index = value id in steps and nodes).
struct PlanValue {
  std::string name;
  ir::TensorInfo info;  ///< as built: kDynamic dims vary within the profile
  ir::ValueKind kind = ir::ValueKind::kIntermediate;
  HostTensor data;  ///< constants: the value (inline in the plan); weights: filled at load time
};

/// What a step does.
enum class StepKind : uint8_t {
  kKernel = 0,  ///< a JIT kernel of a family ("gemm", "attention", ...)
  kHost = 1,    ///< the reference evaluator on the CPU, with copies around it
  kAlias = 2,   ///< output shares the input's bytes (Reshape, Flatten, Squeeze, Unsqueeze, Identity)
  kCopy = 3,    ///< device-to-device copy of inputs[0] into outputs[0]
};

/// "kernel", "host", "alias", "copy".
const char* to_string(StepKind kind);

/// One step of the plan.
struct Step {
  StepKind kind = StepKind::kHost;
  std::vector<int32_t> nodes;    ///< node ids covered, in execution order (empty for kCopy)
  std::vector<int32_t> inputs;   ///< values read that other steps, inputs, weights or constants provide
  std::vector<int32_t> outputs;  ///< values written that later steps or the graph outputs need
  // kKernel only:
  std::string family;                          ///< "gemm", "attention"
  nlohmann::json spec;                         ///< the family's Spec as JSON
  int32_t kernel = -1;                         ///< index into the engine's kernels table
  std::map<std::string, int32_t> operands;     ///< role ("a", "b", "bias", "d", "q"...) -> value
};

/// The whole plan.
struct ExecutionPlan {
  std::vector<PlanValue> values;
  std::vector<ir::Node> nodes;  ///< inputs/outputs are value ids of `values`
  std::vector<int32_t> inputs;   ///< graph inputs, declaration order
  std::vector<int32_t> outputs;  ///< graph outputs, declaration order
  std::map<std::string, ir::InputProfile, std::less<>> profiles;  ///< by input name
  std::vector<Step> steps;
  /// Weights the runtime streams when allowed (kWEIGHT_STREAMING engines), by value id.
  std::vector<int32_t> streamable;

  /// Value id by name, or -1.
  int32_t find_value(std::string_view name) const;
};

/// The plan as the engine's `plan` metadata value. Deterministic (same plan, same JSON).
nlohmann::json plan_to_json(const ExecutionPlan& plan);
/// Reads a plan; weights get no data (see PlanValue). Throws rtx::Exception rtx.runtime.105 with
/// the offending key on any defect: the runtime never trusts a plan it did not check.
ExecutionPlan plan_from_json(const nlohmann::json& json);

/// Converts an optimized graph (compacted: no dead nodes) into plan values and nodes (value and
/// node ids kept), with its profiles. Steps are left empty.
ExecutionPlan plan_from_graph(const ir::Graph& graph);

/// Base64 (RFC 4648, with padding) of bytes, and back (throws rtx.runtime.105 on bad text).
std::string base64_encode(const std::byte* data, size_t size);
std::vector<std::byte> base64_decode(std::string_view text);

}  // namespace rtx::runtime
