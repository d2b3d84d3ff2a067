// SPDX-License-Identifier: Apache-2.0
// The pass pipeline and the structural passes (folding, identity removal, dead code).
#include "ir/passes.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ir/op_registry.hpp"

namespace rtx::ir {
namespace {

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::string_view(v) != "0";
}

// Shape and Size only need the input's shape, not its data: fold them whenever that is static.
bool fold_shape_query(Graph& graph, const Node& n) {
  if ((n.op != OpKind::kShape && n.op != OpKind::kSize) || n.inputs.empty() || n.inputs[0] == kNoValue) return false;
  const TensorInfo in = graph.value(n.inputs[0]).info;
  if (!in.is_static()) return false;
  // The op reads only the shape: computed from it (a zero-filled stand-in of a huge tensor is
  // not worth allocating).
  HostTensor value;
  if (n.op == OpKind::kSize) {
    value = HostTensor(DataType::kINT64, {});
    value.set_int(0, in.element_count());
  } else {
    const auto rank = static_cast<int64_t>(in.shape.size());
    const auto clamp = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
    const int64_t start = clamp(n.attr_int("start", 0));
    const int64_t end = std::max(start, clamp(n.attr_int("end", rank)));
    value = HostTensor(DataType::kINT64, {end - start});
    for (int64_t i = start; i < end; ++i) value.set_int(i - start, in.shape[static_cast<size_t>(i)]);
  }
  graph.make_constant(n.outputs[0], std::move(value));
  return true;
}

}  // namespace

void fold_constants(Graph& graph, const PassOptions& options) {
  for (NodeId id : graph.topological_order()) {
    graph.infer_node(id);
    Node& n = graph.node(id);
    if (n.op == OpKind::kShape || n.op == OpKind::kSize) {
      if (fold_shape_query(graph, n)) n.dead = true;
      continue;
    }
    bool all_constant = true;
    for (ValueId v : n.inputs)
      all_constant = all_constant && (v == kNoValue || (graph.constant_data(v) != nullptr &&
                                                        (!options.keep_weights || graph.value(v).kind == ValueKind::kConstant)));
    if (!all_constant) continue;
    bool small = true;
    for (ValueId v : n.outputs) {
      if (v == kNoValue) continue;
      const int64_t count = graph.value(v).info.element_count();
      small = small && count >= 0 && count <= options.fold_element_limit;
    }
    if (!small) continue;
    std::vector<HostTensor> args;
    for (ValueId v : n.inputs) args.push_back(v == kNoValue ? HostTensor{} : *graph.constant_data(v));
    auto outs = evaluate_node(n, args);
    for (size_t k = 0; k < n.outputs.size(); ++k)
      if (n.outputs[k] != kNoValue) graph.make_constant(n.outputs[k], std::move(outs[k]));
    graph.node(id).dead = true;
  }
}

void remove_identities(Graph& graph, const PassOptions&) {
  for (NodeId id : graph.topological_order()) {
    Node& n = graph.node(id);
    if (n.op != OpKind::kIdentity || n.inputs.empty() || n.inputs[0] == kNoValue) continue;
    const ValueId in = n.inputs[0];
    const ValueId out = n.outputs[0];
    const auto& outs = graph.outputs();
    const bool out_is_graph_output = std::find(outs.begin(), outs.end(), out) != outs.end();
    // A graph output keeps its name: only drop the Identity when its input is an intermediate we
    // can rename to the output's name.
    if (out_is_graph_output) {
      const bool in_is_graph_output = std::find(outs.begin(), outs.end(), in) != outs.end();
      if (graph.value(in).kind != ValueKind::kIntermediate || in_is_graph_output) continue;
      const std::string name = graph.value(out).name;
      n.dead = true;
      graph.rename_value(out, graph.unique_name(name + ".removed"));
      graph.replace_uses(out, in);
      graph.rename_value(in, name);
      continue;
    }
    n.dead = true;
    graph.replace_uses(out, in);
  }
}

void remove_dead_nodes(Graph& graph, const PassOptions&) {
  std::vector<char> needed(graph.values().size(), 0);
  for (ValueId v : graph.outputs()) needed[static_cast<size_t>(v)] = 1;
  const auto order = graph.topological_order();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node& n = graph.node(*it);
    bool used = false;
    for (ValueId v : n.outputs) used = used || (v != kNoValue && needed[static_cast<size_t>(v)]);
    if (!used) {
      n.dead = true;
      continue;
    }
    for (ValueId v : n.inputs)
      if (v != kNoValue) needed[static_cast<size_t>(v)] = 1;
  }
  graph.compact();
}

std::span<const Pass> default_pipeline() {
  static constexpr std::array<Pass, 4> kPasses = {{
      {"fold_constants", fold_constants},
      {"remove_identities", remove_identities},
      {"remove_dead_nodes", remove_dead_nodes},
      {"infer_shapes", [](Graph& g, const PassOptions&) { g.infer_shapes(); }},
  }};
  return kPasses;
}

void run_passes(Graph& graph, std::span<const Pass> passes, PassOptions options) {
  options.verify_each = options.verify_each || env_flag("RTX_IR_VERIFY");
  if (options.dump_dir.empty())
    if (const char* d = std::getenv("RTX_IR_DUMP")) options.dump_dir = d;
  int index = 0;
  for (const Pass& pass : passes) {
    pass.run(graph, options);
    ++index;
    if (!options.dump_dir.empty()) {
      std::filesystem::create_directories(options.dump_dir);
      char prefix[16];
      std::snprintf(prefix, sizeof prefix, "%02d_", index);
      std::ofstream(std::filesystem::path(options.dump_dir) / (prefix + std::string(pass.name) + ".txt")) << graph.to_text();
    }
    if (options.verify_each) {
      try {
        graph.verify();
      } catch (const Exception& e) {
        throw Exception(e.error().id, "after pass '" + std::string(pass.name) + "': " + e.error().message);
      }
    }
  }
}

}  // namespace rtx::ir
