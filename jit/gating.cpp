// SPDX-License-Identifier: Apache-2.0
// Hardware gating of data types (see gating.hpp).
#include "jit/gating.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace rtx::jit {
namespace {

std::string cc_string(int sm) { return std::to_string(sm / 10) + "." + std::to_string(sm % 10); }

/// "FP8 (fp8e4m3)": the family name users know, and rtx's spelling.
std::string type_label(DataType t) {
  const std::string name(to_string(t));
  switch (t) {
    case DataType::kFP8E4M3:
    case DataType::kFP8E5M2: return "FP8 (" + name + ")";
    case DataType::kFP4E2M1: return "FP4 (" + name + ")";
    case DataType::kBF16: return "BF16 (" + name + ")";
    case DataType::kINT4:
    case DataType::kUINT4: return "INT4 (" + name + ")";
    default: return name;
  }
}

}  // namespace

int min_compute_capability(DataType dtype) {
  switch (dtype) {
    case DataType::kFP8E4M3:
    case DataType::kFP8E5M2: return 89;
    case DataType::kFP4E2M1: return 100;
    case DataType::kBF16:
    case DataType::kINT4:
    case DataType::kUINT4: return 80;
    default: return 0;
  }
}

GatingResult check_hardware_support(const ir::Graph& graph, std::span<const Target> targets,
                                    bool targets_were_explicit, ErrorRecorder* recorder) {
  GatingResult r;
  r.targets.assign(targets.begin(), targets.end());

  // Gated types per layer, in topological order (the first layer named is the first to run).
  std::map<DataType, GatedType> used;
  for (ir::NodeId id : graph.topological_order()) {
    const ir::Node& node = graph.node(id);
    std::set<DataType> here;
    for (const auto* list : {&node.inputs, &node.outputs})
      for (ir::ValueId v : *list)
        if (v != ir::kNoValue && min_compute_capability(graph.value(v).info.dtype) > 0)
          here.insert(graph.value(v).info.dtype);
    for (DataType t : here) {
      auto [it, fresh] = used.try_emplace(t);
      if (fresh) it->second = GatedType{t, min_compute_capability(t), node.describe(), 0};
      ++it->second.layers;
    }
  }
  // Graph inputs and outputs bound to no node (an output that is an input) still need the type.
  for (const auto* list : {&graph.inputs(), &graph.outputs()}) {
    for (ir::ValueId v : *list) {
      const DataType t = graph.value(v).info.dtype;
      if (min_compute_capability(t) > 0 && !used.count(t))
        used[t] = GatedType{t, min_compute_capability(t), "tensor '" + graph.value(v).name + "'", 0};
    }
  }
  for (auto& [t, g] : used) {
    r.types.push_back(g);
    r.min_sm = std::max(r.min_sm, g.min_sm);
  }

  const auto report = [&](Severity severity, Error e) {
    if (recorder != nullptr) recorder->report(severity, e);
    (severity == Severity::kERROR ? r.errors : r.warnings).push_back(std::move(e));
  };
  const auto uses = [](const GatedType& g) {
    return "layer " + g.first_layer +
           (g.layers > 1 ? " (and " + std::to_string(g.layers - 1) + " more)" : std::string());
  };

  if (targets_were_explicit) {
    for (const GatedType& g : r.types) {
      for (const Target& t : targets) {
        if (t.sm >= g.min_sm) continue;
        report(Severity::kERROR,
               Error{gating_errc::kUnsupportedTarget,
                     uses(g) + " uses " + type_label(g.dtype) + ", which needs compute capability " +
                         cc_string(g.min_sm) + " or later; target " + t.to_string() +
                         " (compute capability " + cc_string(t.sm) +
                         ") cannot run it. Remove the target or change the layer's type"});
      }
    }
    r.ok = r.errors.empty();
    return r;
  }

  if (r.min_sm == 0) return r;
  // Default targets: drop what cannot run the engine and say so once per raising type.
  std::vector<Target> kept;
  std::vector<std::string> dropped;
  for (const Target& t : targets) {
    if (t.ptx || t.sm >= r.min_sm) {
      kept.push_back(t);
    } else {
      dropped.push_back(t.to_string());
    }
  }
  int lowest_cubin = 0;
  for (const Target& t : kept)
    if (!t.ptx && (lowest_cubin == 0 || t.sm < lowest_cubin)) lowest_cubin = t.sm;
  std::vector<Target> final_targets;
  // PTX is compiled for the lowest architecture that can run the engine: the lowest cubin kept,
  // or (a PTX-only list) the minimum itself when the installed NVRTC can target it.
  int ptx_sm = lowest_cubin;
  if (ptx_sm == 0 && check_target(Target{r.min_sm, false, true})) ptx_sm = r.min_sm;
  for (Target t : kept) {
    if (t.ptx && t.sm < r.min_sm) {
      if (ptx_sm == 0) {
        dropped.push_back(t.to_string());
        continue;
      }
      dropped.push_back(t.to_string() + " (now compute_" + std::to_string(ptx_sm) + ")");
      t.sm = ptx_sm;
    }
    if (std::find(final_targets.begin(), final_targets.end(), t) == final_targets.end())
      final_targets.push_back(t);
  }
  if (!dropped.empty()) {
    std::string list;
    for (size_t i = 0; i < dropped.size(); ++i) list += (i ? ", " : "") + dropped[i];
    for (const GatedType& g : r.types) {
      // One warning per type that raised the minimum above some default target.
      bool raises = false;
      for (const Target& t : targets) raises = raises || t.sm < g.min_sm;
      if (!raises) continue;
      report(Severity::kWARNING,
             Error{gating_errc::kMinimumRaised,
                   uses(g) + " uses " + type_label(g.dtype) + ", which needs compute capability " +
                       cc_string(g.min_sm) + " or later: the engine's minimum compute capability is " +
                       cc_string(r.min_sm) + "; targets dropped: " + list});
    }
  }
  if (final_targets.empty()) {
    report(Severity::kERROR,
           Error{gating_errc::kNoTargetLeft,
                 "the network needs compute capability " + cc_string(r.min_sm) +
                     " or later, and none of the available targets reaches it (the installed "
                     "NVRTC may be too old for such GPUs)"});
    r.ok = false;
    return r;
  }
  r.targets = std::move(final_targets);
  r.ok = r.errors.empty();
  return r;
}

}  // namespace rtx::jit
