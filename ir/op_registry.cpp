// SPDX-License-Identifier: Apache-2.0
// The op schema table, filled once from every family's register function, and the per-node
// inference/evaluation entry points that check arity and results.
#include "ir/op_registry.hpp"

#include <array>
#include <mutex>
#include <optional>

#include "ir/ops/op_utils.hpp"

namespace rtx::ir {
namespace {

using Table = std::array<std::optional<OpSchema>, kOpKindCount>;

Table& storage() {
  static Table t;
  return t;
}

const Table& table() {
  static std::once_flag once;
  std::call_once(once, [] {
    OpRegistry r;
    register_elementwise_ops(r);
    register_reduction_ops(r);
    register_linalg_ops(r);
    register_conv_ops(r);
    register_shape_ops(r);
    register_quantization_ops(r);
  });
  return storage();
}

void check_arity(const Node& node, const OpSchema& s, size_t inputs) {
  const int n = static_cast<int>(inputs);
  if (n < s.min_inputs || (s.max_inputs >= 0 && n > s.max_inputs)) {
    std::string want = std::to_string(s.min_inputs);
    if (s.max_inputs != s.min_inputs) want += s.max_inputs < 0 ? " or more" : " to " + std::to_string(s.max_inputs);
    fail(node, "rtx.ir.122", "takes " + want + " inputs, got " + std::to_string(n));
  }
  const int m = static_cast<int>(node.outputs.size());
  if (m < s.min_outputs || (s.max_outputs >= 0 && m > s.max_outputs))
    fail(node, "rtx.ir.123", "cannot have " + std::to_string(m) + " outputs");
}

}  // namespace

// Only called from inside table()'s call_once, so no lock is needed.
void OpRegistry::add(OpSchema s) { storage()[static_cast<size_t>(s.kind)] = std::move(s); }

bool has_schema(OpKind kind) { return table()[static_cast<size_t>(kind)].has_value(); }

const OpSchema& schema(OpKind kind) {
  const auto& s = table()[static_cast<size_t>(kind)];
  if (!s) throw Exception("rtx.ir.120", "op " + std::string(op_name(kind)) + " has no implementation yet");
  return *s;
}

const TensorInfo& InferContext::input(size_t i) const {
  if (!has_input(i)) fail(node, "rtx.ir.124", "input " + std::to_string(i) + " is required");
  return inputs[i];
}

const HostTensor& EvalContext::input(size_t i) const {
  if (!has_input(i)) fail(node, "rtx.ir.124", "input " + std::to_string(i) + " is required");
  return inputs[i];
}

std::vector<TensorInfo> infer(const Node& node, std::span<const TensorInfo> inputs,
                              std::span<const HostTensor* const> constants) {
  const OpSchema& s = schema(node.op);
  check_arity(node, s, inputs.size());
  return s.infer(InferContext{node, inputs, constants});
}

std::vector<HostTensor> evaluate_node(const Node& node, std::span<const HostTensor> inputs) {
  const OpSchema& s = schema(node.op);
  check_arity(node, s, inputs.size());
  std::vector<TensorInfo> infos;
  std::vector<const HostTensor*> consts;
  for (const auto& t : inputs) {
    infos.push_back(t.valid() ? TensorInfo{t.dtype(), t.shape(), true} : TensorInfo{DataType::kF32, {}, false});
    consts.push_back(t.valid() ? &t : nullptr);
  }
  auto out_infos = s.infer(InferContext{node, infos, consts});
  if (!s.evaluate) fail(node, "rtx.ir.125", "has no reference implementation");
  auto outs = s.evaluate(EvalContext{node, inputs, out_infos});
  if (outs.size() < node.outputs.size())
    fail(node, "rtx.ir.126", "reference produced " + std::to_string(outs.size()) + " outputs");
  for (size_t i = 0; i < node.outputs.size() && i < out_infos.size(); ++i) {
    if (!outs[i].valid()) continue;  // an optional output the op does not compute
    if (outs[i].dtype() != out_infos[i].dtype || outs[i].shape() != out_infos[i].shape)
      fail(node, "rtx.ir.127", "reference output " + std::to_string(i) + " is " + outs[i].describe() +
                                   " but inference said " + describe(out_infos[i]));
  }
  outs.resize(node.outputs.size());
  return outs;
}

}  // namespace rtx::ir
