// SPDX-License-Identifier: Apache-2.0
// Rebuilds the network of an engine from its stored plan (see engine_network.hpp). Plan nodes
// need not be in topological order (the plan's steps are, but fused steps may group nodes), so
// nodes are added in an order where every operand already exists.
#include "tools/rtx/engine_network.hpp"

#include <deque>
#include <map>

#include "ir/graph.hpp"
#include "jit/runtime/plan.hpp"
#include "tools/rtx/errors.hpp"

namespace rtx::cli {

Expected<Network> network_from_engine(const serialization::EngineModel& model) {
  return detail::catch_errors(errors::kNoGraph, [&]() -> Expected<Network> {
    if (!model.metadata.contains("plan") || !model.metadata["plan"].is_object() ||
        !model.metadata["plan"].contains("values")) {
      return Error{errors::kNoGraph,
                   "the engine stores no network graph (no plan in its metadata)"};
    }
    const runtime::ExecutionPlan plan = runtime::plan_from_json(model.metadata["plan"]);
    ir::Graph g;
    std::vector<ir::ValueId> id(plan.values.size(), ir::kNoValue);
    // Symbolic dim names of the inputs (optional metadata), so inputs that share one share the extent.
    std::map<std::string, std::vector<std::string>> dim_names;
    if (model.metadata.contains("network.inputs") && model.metadata["network.inputs"].is_array())
      for (const auto& t : model.metadata["network.inputs"])
        if (t.is_object() && t.contains("name") && t["name"].is_string() && t.contains("dim_names"))
          dim_names[t["name"].get<std::string>()] = t["dim_names"].get<std::vector<std::string>>();
    for (int32_t v : plan.inputs) {
      const auto& pv = plan.values.at(static_cast<size_t>(v));
      const auto names = dim_names.find(pv.name);
      id[static_cast<size_t>(v)] = g.add_input(pv.name, pv.info.dtype, pv.info.shape,
                                               names == dim_names.end() ? std::vector<std::string>{} : names->second);
    }
    for (size_t v = 0; v < plan.values.size(); ++v) {
      const auto& pv = plan.values[v];
      if (pv.kind == ir::ValueKind::kWeight) {
        const auto* w = model.find_weight(pv.name);
        if (!w)
          return Error{errors::kNoGraph,
                       "the plan uses weight '" + pv.name + "' that the weights table lacks"};
        if (!w->data.valid()) {
          return Error{errors::kNoGraph,
                       "the engine's weights were stripped: refit it first (--refitFromOnnx)"};
        }
        id[v] = g.add_weight(pv.name, w->data);
      } else if (pv.kind == ir::ValueKind::kConstant) {
        id[v] = g.add_constant(pv.data, pv.name);
      }
    }
    // Kahn's algorithm over the plan's nodes.
    std::vector<std::vector<size_t>> readers(plan.values.size());
    std::vector<size_t> missing(plan.nodes.size(), 0);
    std::deque<size_t> ready;
    for (size_t n = 0; n < plan.nodes.size(); ++n) {
      for (int32_t v : plan.nodes[n].inputs) {
        if (v == ir::kNoValue) continue;
        if (id.at(static_cast<size_t>(v)) == ir::kNoValue) {
          readers[static_cast<size_t>(v)].push_back(n);
          ++missing[n];
        }
      }
      if (missing[n] == 0) ready.push_back(n);
    }
    size_t added = 0;
    while (!ready.empty()) {
      const size_t n = ready.front();
      ready.pop_front();
      const ir::Node& node = plan.nodes[n];
      std::vector<ir::ValueId> inputs;
      for (int32_t v : node.inputs)
        inputs.push_back(v == ir::kNoValue ? ir::kNoValue : id.at(static_cast<size_t>(v)));
      std::vector<std::string> names;
      for (int32_t v : node.outputs) names.push_back(plan.values.at(static_cast<size_t>(v)).name);
      const ir::NodeId nid = g.add_node(node.op, node.name, inputs,
                                        static_cast<int>(node.outputs.size()), node.attrs, names);
      g.infer_node(nid);
      ++added;
      for (size_t k = 0; k < node.outputs.size(); ++k) {
        const auto v = static_cast<size_t>(node.outputs[k]);
        id[v] = g.node(nid).outputs[k];
        for (size_t reader : readers[v]) {
          if (--missing[reader] == 0) ready.push_back(reader);
        }
      }
    }
    if (added != plan.nodes.size()) {
      return Error{errors::kNoGraph,
                   "the engine's plan has nodes whose operands are never produced"};
    }
    for (int32_t v : plan.outputs) g.mark_output(id.at(static_cast<size_t>(v)));
    for (const auto& [name, profile] : plan.profiles) g.set_profile(name, profile);
    g.verify();
    return detail::wrap_graph(std::move(g));
  });
}

}  // namespace rtx::cli
