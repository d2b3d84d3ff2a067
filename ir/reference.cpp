// SPDX-License-Identifier: Apache-2.0
// Graph-level reference evaluation: input checks, topological execution, freeing intermediates
// after their last use so large graphs stay within host memory.
#include "ir/reference.hpp"

#include <unordered_map>

#include "ir/op_registry.hpp"

namespace rtx::ir {

TensorMap evaluate(const Graph& graph, const TensorMap& inputs, const ReferenceOptions& options) {
  std::unordered_map<ValueId, HostTensor> live;
  for (ValueId id : graph.inputs()) {
    const Value& v = graph.value(id);
    auto it = inputs.find(v.name);
    if (it == inputs.end()) throw Exception("rtx.reference.101", "input '" + v.name + "' was not given");
    const HostTensor& t = it->second;
    if (t.dtype() != v.info.dtype)
      throw Exception("rtx.reference.102", "input '" + v.name + "' is declared " + describe(v.info) +
                                               " but was given " + t.describe());
    bool shape_ok = t.rank() == v.info.rank();
    for (size_t d = 0; shape_ok && d < v.info.shape.size(); ++d)
      shape_ok = v.info.shape[d] == kDynamic || v.info.shape[d] == t.shape()[d];
    if (auto p = graph.profiles().find(v.name); shape_ok && p != graph.profiles().end())
      for (size_t d = 0; shape_ok && d < t.shape().size(); ++d)
        shape_ok = t.shape()[d] >= p->second.min[d] && t.shape()[d] <= p->second.max[d];
    if (!shape_ok)
      throw Exception("rtx.reference.103", "input '" + v.name + "' has shape " + shape_to_string(t.shape()) +
                                               ", outside its declared shape " + shape_to_string(v.info.shape) +
                                               (graph.profiles().count(v.name) ? " and profile" : ""));
    live.emplace(id, t);
  }
  for (const auto& [name, t] : inputs)
    if (graph.find_value(name) == kNoValue || graph.value(graph.find_value(name)).kind != ValueKind::kInput)
      throw Exception("rtx.reference.104", "'" + name + "' is not an input of the graph");

  const auto order = graph.topological_order();
  // Last use of each value, so intermediates are freed as soon as nothing needs them.
  std::unordered_map<ValueId, size_t> last_use;
  for (size_t step = 0; step < order.size(); ++step)
    for (ValueId v : graph.node(order[step]).inputs)
      if (v != kNoValue) last_use[v] = step;
  std::unordered_map<ValueId, bool> is_output;
  for (ValueId v : graph.outputs()) is_output[v] = true;

  TensorMap kept;
  const auto fetch = [&](ValueId v) -> HostTensor {
    if (v == kNoValue) return {};
    if (const HostTensor* c = graph.constant_data(v)) return *c;
    auto it = live.find(v);
    if (it == live.end()) throw Exception("rtx.reference.105", "value '" + graph.value(v).name + "' was never computed");
    return it->second;
  };
  for (size_t step = 0; step < order.size(); ++step) {
    const Node& n = graph.node(order[step]);
    std::vector<HostTensor> args;
    args.reserve(n.inputs.size());
    for (ValueId v : n.inputs) args.push_back(fetch(v));
    auto outs = evaluate_node(n, args);
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k] == kNoValue) continue;
      if (options.keep_intermediates) kept.insert_or_assign(graph.value(n.outputs[k]).name, outs[k]);
      live.insert_or_assign(n.outputs[k], std::move(outs[k]));
    }
    for (ValueId v : n.inputs)
      if (v != kNoValue && last_use[v] == step && !is_output.count(v) && graph.value(v).kind == ValueKind::kIntermediate)
        live.erase(v);
  }
  TensorMap result = std::move(kept);
  for (ValueId v : graph.outputs()) result.insert_or_assign(graph.value(v).name, fetch(v));
  return result;
}

}  // namespace rtx::ir
