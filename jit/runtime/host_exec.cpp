// SPDX-License-Identifier: Apache-2.0
// Plan steps on the host; see host_exec.hpp.
#include "jit/runtime/host_exec.hpp"

#include "ir/op_registry.hpp"
#include "jit/runtime/errors.hpp"

namespace rtx::runtime {

void evaluate_nodes(const ExecutionPlan& plan, const Resolution& resolution, std::span<const int32_t> nodes,
                    std::vector<HostTensor>& values) {
  for (int32_t id : nodes) {
    const ir::Node& node = plan.nodes[static_cast<size_t>(id)];
    if (resolution.node_folded[static_cast<size_t>(id)]) {
      for (int32_t v : node.outputs)
        if (v != ir::kNoValue) values[static_cast<size_t>(v)] = resolution.known[static_cast<size_t>(v)];
      continue;
    }
    std::vector<HostTensor> args;
    for (int32_t v : node.inputs) {
      if (v == ir::kNoValue) {
        args.emplace_back();
        continue;
      }
      const HostTensor& t = values[static_cast<size_t>(v)];
      if (!t.valid())
        throw Exception(errc::kBadPlan, "engine plan is malformed: node '" + node.name + "' reads '" +
                                            plan.values[static_cast<size_t>(v)].name + "', which no earlier step provides");
      args.push_back(t);
    }
    auto outs = ir::evaluate_node(node, args);
    for (size_t o = 0; o < node.outputs.size() && o < outs.size(); ++o)
      if (node.outputs[o] != ir::kNoValue) values[static_cast<size_t>(node.outputs[o])] = std::move(outs[o]);
  }
}

std::map<std::string, HostTensor, std::less<>> execute_plan_on_host(
    const ExecutionPlan& plan, const std::map<std::string, HostTensor, std::less<>>& inputs) {
  std::vector<std::vector<int64_t>> shapes;
  for (int32_t v : plan.inputs) {
    const std::string& name = plan.values[static_cast<size_t>(v)].name;
    auto it = inputs.find(name);
    if (it == inputs.end()) throw Exception(errc::kShapesMissing, "input '" + name + "' is not given");
    shapes.push_back(it->second.shape());
  }
  const Resolution r = resolve(plan, shapes);
  const size_t n = plan.values.size();
  std::vector<HostTensor> visible(n);
  for (size_t v = 0; v < n; ++v) {
    if (plan.values[v].kind == ir::ValueKind::kWeight || plan.values[v].kind == ir::ValueKind::kConstant)
      visible[v] = plan.values[v].data;
    if (r.known[v].valid()) visible[v] = r.known[v];
  }
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    const auto v = static_cast<size_t>(plan.inputs[i]);
    visible[v] = inputs.find(plan.values[v].name)->second;
  }
  for (const Step& step : plan.steps) {
    std::vector<HostTensor> local(n);
    for (int32_t v : step.inputs) {
      if (!visible[static_cast<size_t>(v)].valid())
        throw Exception(errc::kBadPlan, "engine plan is malformed: a " + std::string(to_string(step.kind)) +
                                            " step reads '" + plan.values[static_cast<size_t>(v)].name +
                                            "' before any step declared it as an output");
      local[static_cast<size_t>(v)] = visible[static_cast<size_t>(v)];
    }
    for (size_t v = 0; v < n; ++v)
      if (r.known[v].valid() || plan.values[v].kind == ir::ValueKind::kConstant) local[v] = visible[v];
    evaluate_nodes(plan, r, step.nodes, local);
    for (int32_t v : step.outputs) visible[static_cast<size_t>(v)] = local[static_cast<size_t>(v)];
  }
  std::map<std::string, HostTensor, std::less<>> out;
  for (int32_t v : plan.outputs) {
    const HostTensor& t = visible[static_cast<size_t>(v)];
    if (!t.valid()) throw Exception(errc::kBadPlan, "engine plan is malformed: output '" + plan.values[static_cast<size_t>(v)].name + "' is never produced");
    out.emplace(plan.values[static_cast<size_t>(v)].name, t);
  }
  return out;
}

}  // namespace rtx::runtime
