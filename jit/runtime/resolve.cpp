// SPDX-License-Identifier: Apache-2.0
// Shape resolution, on-host folding of shape computations, value placement and the activation
// memory plan for concrete input shapes; see resolve.hpp.
#include "jit/runtime/resolve.hpp"

#include <algorithm>

#include "ir/op_registry.hpp"
#include "jit/runtime/errors.hpp"
#include "jit/runtime/memory_plan.hpp"

namespace rtx::runtime {
namespace {

/// Nodes whose outputs together hold at most this many elements are computed on the host when
/// all their inputs are known (shape arithmetic on dynamic dims); bigger ones run as planned.
constexpr int64_t kFoldElementLimit = 1 << 16;

[[noreturn]] void bad_plan(const std::string& what) {
  throw Exception(errc::kBadPlan, "engine plan is malformed: " + what);
}

bool is_data(const ExecutionPlan& plan, int32_t v) {
  const auto k = plan.values[static_cast<size_t>(v)].kind;
  return k == ir::ValueKind::kWeight || k == ir::ValueKind::kConstant;
}

/// ONNX Shape: dims [start, end) of `shape`, both clamped to [0, rank].
HostTensor shape_value(const ir::Node& node, const std::vector<int64_t>& shape) {
  const auto rank = static_cast<int64_t>(shape.size());
  const auto clamp = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  const int64_t start = clamp(node.attr_int("start", 0));
  const int64_t end = std::max(start, clamp(node.attr_int("end", rank)));
  HostTensor out(DataType::kINT64, {end - start});
  for (int64_t i = start; i < end; ++i) out.set_int(i - start, shape[static_cast<size_t>(i)]);
  return out;
}

}  // namespace

void validate_plan(const ExecutionPlan& plan) {
  const size_t n_values = plan.values.size();
  std::vector<int32_t> node_step(plan.nodes.size(), -1);
  std::vector<char> available(n_values, 0);
  for (size_t v = 0; v < n_values; ++v)
    available[v] = plan.values[v].kind != ir::ValueKind::kIntermediate;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Step& step = plan.steps[s];
    const std::string where = "step " + std::to_string(s) + " (" + to_string(step.kind) + ")";
    for (int32_t v : step.inputs)
      if (!available[static_cast<size_t>(v)])
        bad_plan(where + " reads value '" + plan.values[static_cast<size_t>(v)].name + "' before it is produced");
    std::vector<char> local = available;
    for (int32_t n : step.nodes) {
      if (node_step[static_cast<size_t>(n)] >= 0) bad_plan(where + " repeats node " + std::to_string(n));
      node_step[static_cast<size_t>(n)] = static_cast<int32_t>(s);
      const ir::Node& node = plan.nodes[static_cast<size_t>(n)];
      for (int32_t v : node.inputs)
        if (v != ir::kNoValue && !local[static_cast<size_t>(v)])
          bad_plan(where + ": node '" + node.name + "' reads '" + plan.values[static_cast<size_t>(v)].name +
                   "' before it is produced");
      for (int32_t v : node.outputs)
        if (v != ir::kNoValue) local[static_cast<size_t>(v)] = 1;
    }
    for (int32_t v : step.outputs)
      if (!local[static_cast<size_t>(v)] || available[static_cast<size_t>(v)])
        bad_plan(where + " lists output '" + plan.values[static_cast<size_t>(v)].name + "' it does not produce");
    if (step.kind == StepKind::kAlias || step.kind == StepKind::kCopy) {
      if (step.nodes.size() != 1) bad_plan(where + " must cover exactly one node");
      const ir::Node& node = plan.nodes[static_cast<size_t>(step.nodes[0])];
      if (node.inputs.empty() || node.inputs[0] != step.inputs[0] || node.outputs.size() != 1 ||
          node.outputs[0] != step.outputs[0])
        bad_plan(where + ": input/output are not the node's data input/output");
      const auto& in = plan.values[static_cast<size_t>(step.inputs[0])].info;
      const auto& out = plan.values[static_cast<size_t>(step.outputs[0])].info;
      if (in.dtype != out.dtype) bad_plan(where + " changes the dtype");
    }
    if (step.kind == StepKind::kKernel) {
      for (const auto& [role, v] : step.operands)
        if (!local[static_cast<size_t>(v)]) bad_plan(where + ": operand '" + role + "' is not available");
    }
    available = std::move(local);
  }
  for (size_t n = 0; n < plan.nodes.size(); ++n)
    if (node_step[n] < 0) bad_plan("node '" + plan.nodes[n].name + "' is in no step");
  for (int32_t v : plan.outputs) {
    if (!available[static_cast<size_t>(v)]) bad_plan("graph output '" + plan.values[static_cast<size_t>(v)].name + "' is never produced");
    if (plan.values[static_cast<size_t>(v)].kind != ir::ValueKind::kIntermediate)
      bad_plan("graph output '" + plan.values[static_cast<size_t>(v)].name + "' is not computed by a step");
  }
  for (int32_t v : plan.inputs) {
    const PlanValue& pv = plan.values[static_cast<size_t>(v)];
    if (!pv.info.is_static() && !plan.profiles.count(pv.name))
      bad_plan("dynamic input '" + pv.name + "' has no profile");
  }
}

void check_input_shape(const ExecutionPlan& plan, size_t input_index, std::span<const int64_t> dims) {
  const PlanValue& v = plan.values[static_cast<size_t>(plan.inputs.at(input_index))];
  const auto& declared = v.info.shape;
  const std::string given = shape_to_string(dims);
  if (dims.size() != declared.size())
    throw Exception(errc::kBadShape, "input '" + v.name + "': shape " + given + " has rank " +
                                         std::to_string(dims.size()) + ", the engine's input has rank " +
                                         std::to_string(declared.size()) + " " + shape_to_string(declared));
  auto profile = plan.profiles.find(v.name);
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] < 0)
      throw Exception(errc::kBadShape, "input '" + v.name + "': shape " + given + " has a negative dim");
    if (declared[d] != ir::kDynamic && declared[d] != dims[d])
      throw Exception(errc::kBadShape, "input '" + v.name + "': dim " + std::to_string(d) + " is " +
                                           std::to_string(dims[d]) + " but fixed at " +
                                           std::to_string(declared[d]) + " (shape " + given + ")");
    if (declared[d] == ir::kDynamic && profile != plan.profiles.end()) {
      const int64_t lo = profile->second.min[d], hi = profile->second.max[d];
      if (dims[d] < lo || dims[d] > hi)
        throw Exception(errc::kBadShape, "input '" + v.name + "': dim " + std::to_string(d) + " = " +
                                             std::to_string(dims[d]) + " is outside the profile [" +
                                             std::to_string(lo) + ", " + std::to_string(hi) +
                                             "] (shape " + given + "); build with a wider profile");
    }
  }
}

std::vector<std::vector<int64_t>> profile_shapes(const ExecutionPlan& plan, int which) {
  std::vector<std::vector<int64_t>> shapes;
  for (int32_t v : plan.inputs) {
    const PlanValue& pv = plan.values[static_cast<size_t>(v)];
    auto it = plan.profiles.find(pv.name);
    if (it == plan.profiles.end()) {
      shapes.push_back(pv.info.shape);
      continue;
    }
    shapes.push_back(which == 0 ? it->second.min : which == 1 ? it->second.opt : it->second.max);
  }
  return shapes;
}

Resolution resolve(const ExecutionPlan& plan, std::span<const std::vector<int64_t>> input_shapes) {
  const size_t n = plan.values.size();
  if (input_shapes.size() != plan.inputs.size())
    throw Exception(errc::kShapesMissing, "resolve needs one shape per input");
  Resolution r;
  r.infos.resize(n);
  r.known.resize(n);
  for (size_t v = 0; v < n; ++v) {
    r.infos[v] = plan.values[v].info;
    if (plan.values[v].kind == ir::ValueKind::kConstant) r.known[v] = plan.values[v].data;
  }
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    check_input_shape(plan, i, input_shapes[i]);
    r.infos[static_cast<size_t>(plan.inputs[i])].shape = input_shapes[i];
  }

  // ---- shapes, and folding of what became known ----
  r.node_folded.assign(plan.nodes.size(), 0);
  std::vector<int32_t> producer_step(n, -1);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    for (int32_t node_id : plan.steps[s].nodes) {
      const ir::Node& node = plan.nodes[static_cast<size_t>(node_id)];
      std::vector<ir::TensorInfo> in_infos;
      std::vector<const HostTensor*> consts;
      bool all_known = true;
      for (int32_t v : node.inputs) {
        if (v == ir::kNoValue) {
          in_infos.push_back(ir::TensorInfo{DataType::kF32, {}, false});
          consts.push_back(nullptr);
          continue;
        }
        in_infos.push_back(r.infos[static_cast<size_t>(v)]);
        const HostTensor& k = r.known[static_cast<size_t>(v)];
        consts.push_back(k.valid() ? &k : nullptr);
        all_known = all_known && k.valid();
      }
      const auto outs = ir::infer(node, in_infos, consts);
      int64_t out_elements = 0;
      for (size_t o = 0; o < node.outputs.size() && o < outs.size(); ++o) {
        const int32_t v = node.outputs[o];
        if (v == ir::kNoValue) continue;
        if (!outs[o].is_static())
          throw Exception(errc::kBadShape,
                          "cannot infer the shape of '" + plan.values[static_cast<size_t>(v)].name + "' (" +
                              node.describe() + ") for these input shapes: it depends on values computed on the GPU");
        r.infos[static_cast<size_t>(v)] = outs[o];
        out_elements += outs[o].element_count();
        producer_step[static_cast<size_t>(v)] = static_cast<int32_t>(s);
      }
      // Shape and Size need only the (now concrete) input shape.
      if ((node.op == ir::OpKind::kShape || node.op == ir::OpKind::kSize) && !node.inputs.empty() &&
          node.inputs[0] != ir::kNoValue && node.outputs.size() == 1 && node.outputs[0] != ir::kNoValue) {
        const auto& shape = r.infos[static_cast<size_t>(node.inputs[0])].shape;
        HostTensor value;
        if (node.op == ir::OpKind::kShape) {
          value = shape_value(node, shape);
        } else {
          value = HostTensor(DataType::kINT64, {});
          int64_t count = 1;
          for (int64_t d : shape) count *= d;
          value.set_int(0, count);
        }
        r.known[static_cast<size_t>(node.outputs[0])] = std::move(value);
        r.node_folded[static_cast<size_t>(node_id)] = 1;
        continue;
      }
      if (!all_known || out_elements > kFoldElementLimit) continue;
      std::vector<HostTensor> args;
      for (int32_t v : node.inputs) args.push_back(v == ir::kNoValue ? HostTensor{} : r.known[static_cast<size_t>(v)]);
      auto values = ir::evaluate_node(node, args);
      for (size_t o = 0; o < node.outputs.size() && o < values.size(); ++o)
        if (node.outputs[o] != ir::kNoValue) r.known[static_cast<size_t>(node.outputs[o])] = std::move(values[o]);
      r.node_folded[static_cast<size_t>(node_id)] = 1;
    }
  }
  r.step_folded.assign(plan.steps.size(), 0);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const auto& nodes = plan.steps[s].nodes;
    r.step_folded[s] = !nodes.empty() && std::all_of(nodes.begin(), nodes.end(), [&](int32_t id) {
      return r.node_folded[static_cast<size_t>(id)] != 0;
    });
  }
  r.bytes.resize(n);
  for (size_t v = 0; v < n; ++v)
    r.bytes[v] = static_cast<int64_t>(storage_bytes(r.infos[v].dtype, static_cast<uint64_t>(r.infos[v].element_count())));

  // ---- where values are available ----
  r.host_resident.assign(n, 0);
  for (size_t v = 0; v < n; ++v) r.host_resident[v] = r.known[v].valid() || is_data(plan, static_cast<int32_t>(v));
  for (size_t s = 0; s < plan.steps.size(); ++s)
    if (plan.steps[s].kind == StepKind::kHost && !r.step_folded[s])
      for (int32_t node_id : plan.steps[s].nodes)
        for (int32_t v : plan.nodes[static_cast<size_t>(node_id)].outputs)
          if (v != ir::kNoValue) r.host_resident[static_cast<size_t>(v)] = 1;
  r.need_device.assign(n, 0);
  for (int32_t v : plan.outputs) r.need_device[static_cast<size_t>(v)] = 1;
  for (size_t s = plan.steps.size(); s-- > 0;) {
    if (r.step_folded[s]) continue;
    const Step& step = plan.steps[s];
    switch (step.kind) {
      case StepKind::kKernel:
      case StepKind::kCopy:
        for (int32_t v : step.inputs) r.need_device[static_cast<size_t>(v)] = 1;
        break;
      case StepKind::kAlias:
        if (r.need_device[static_cast<size_t>(step.outputs[0])]) r.need_device[static_cast<size_t>(step.inputs[0])] = 1;
        break;
      case StepKind::kHost:
        for (int32_t v : step.inputs)
          if (!r.host_resident[static_cast<size_t>(v)]) r.need_device[static_cast<size_t>(v)] = 1;
        break;
    }
  }

  // ---- storage ----
  r.storage.assign(n, Storage::kNone);
  r.root.resize(n);
  for (size_t v = 0; v < n; ++v) r.root[v] = static_cast<int32_t>(v);
  for (int32_t v : plan.inputs) r.storage[static_cast<size_t>(v)] = Storage::kUser;
  for (int32_t v : plan.outputs) r.storage[static_cast<size_t>(v)] = Storage::kUser;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Step& step = plan.steps[s];
    for (int32_t node_id : step.nodes) {
      for (int32_t v : plan.nodes[static_cast<size_t>(node_id)].outputs) {
        if (v == ir::kNoValue) continue;
        const auto sv = static_cast<size_t>(v);
        const bool folded = r.known[sv].valid();
        if (folded && r.need_device[sv]) r.uploads.push_back(v);
        if (r.storage[sv] == Storage::kUser || !r.need_device[sv]) continue;
        if (!folded && step.kind == StepKind::kAlias) {
          r.storage[sv] = Storage::kAlias;
          r.root[sv] = r.root[static_cast<size_t>(step.inputs[0])];
        } else {
          r.storage[sv] = Storage::kArena;
        }
      }
    }
  }
  for (size_t v = 0; v < n; ++v)
    if (is_data(plan, static_cast<int32_t>(v)) && r.need_device[v]) r.storage[v] = Storage::kEngine;

  // ---- lifetimes and the arena ----
  std::vector<int32_t> first(n, -1), last(n, -1);
  for (size_t v = 0; v < n; ++v) {
    if (r.storage[v] != Storage::kArena) continue;
    first[v] = r.known[v].valid() ? 0 : std::max(producer_step[v], 0);
    last[v] = first[v];
  }
  const auto read = [&](int32_t v, size_t s) {
    const auto root = static_cast<size_t>(r.root[static_cast<size_t>(v)]);
    if (r.storage[root] == Storage::kArena) last[root] = std::max(last[root], static_cast<int32_t>(s));
  };
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    if (r.step_folded[s]) continue;
    const Step& step = plan.steps[s];
    if (step.kind == StepKind::kAlias) continue;  // reads nothing itself
    for (int32_t v : step.inputs)
      if (step.kind != StepKind::kHost || !r.host_resident[static_cast<size_t>(v)]) read(v, s);
  }
  // A graph output may be an alias of an arena value only through a copy step, which reads it.
  std::vector<BufferLifetime> buffers;
  std::vector<size_t> owners;
  for (size_t v = 0; v < n; ++v) {
    if (r.storage[v] != Storage::kArena) continue;
    buffers.push_back({r.bytes[v], first[v], last[v]});
    owners.push_back(v);
  }
  const MemoryPlan mp = plan_memory(buffers);
  r.offset.assign(n, -1);
  for (size_t i = 0; i < owners.size(); ++i) r.offset[owners[i]] = mp.offsets[i];
  r.arena_bytes = mp.peak;
  r.activation_sum = mp.sum;
  return r;
}

}  // namespace rtx::runtime
