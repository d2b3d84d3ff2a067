// SPDX-License-Identifier: Apache-2.0
// The kernel plan: family choice per node, fusion (GEMM and convolution epilogues, pointwise
// chains), aliases and host groups; see planner.hpp.
#include "jit/builder/planner.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "ir/quant_passes.hpp"
#include "jit/kernels/attention.hpp"
#include "jit/kernels/conv.hpp"
#include "jit/kernels/gemm.hpp"
#include "jit/kernels/movement.hpp"
#include "jit/kernels/norm.hpp"
#include "jit/kernels/pointwise.hpp"
#include "jit/kernels/pool.hpp"
#include "jit/kernels/qconv.hpp"
#include "jit/kernels/qgemm.hpp"
#include "jit/kernels/reduce.hpp"
#include "jit/runtime/errors.hpp"

namespace rtx::builder {
namespace {

using ir::NodeId;
using ir::OpKind;
using ir::ValueId;
using runtime::Step;
using runtime::StepKind;
namespace k = jit::kernels;

/// A step being formed: its nodes and where it runs in the topological order.
struct Group {
  StepKind kind = StepKind::kHost;
  std::vector<NodeId> nodes;
  size_t position = 0;  ///< topological index of its last node: every input exists by then
  std::string family;
  nlohmann::json spec;
  std::map<std::string, int32_t> operands;
  std::vector<PlannedKernel> kernels;  ///< every kernel the step may launch
};

bool is_alias_op(OpKind op) {
  return op == OpKind::kReshape || op == OpKind::kFlatten || op == OpKind::kSqueeze ||
         op == OpKind::kUnsqueeze || op == OpKind::kIdentity;
}

/// Splits a family program into the kernels of `group`: one per name expression, each with the
/// program's include lines and other source.
template <class Spec>
void add_kernels(Group& gr, const std::string& family, const Spec& spec, const jit::Program& program) {
  nlohmann::json js;
  k::to_json(js, spec);
  gr.family = family;
  gr.spec = js;
  std::vector<std::string> includes;
  std::string definitions;
  std::istringstream lines(program.source);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#include", 0) == 0) {
      includes.push_back(line);
    } else {
      definitions += line;
      definitions += '\n';
    }
  }
  if (definitions.find_first_not_of(" \n\t") == std::string::npos) definitions.clear();
  for (const std::string& name : program.name_expressions)
    gr.kernels.push_back(PlannedKernel{family, js, name, includes, definitions});
}

class Planner {
 public:
  Planner(const ir::Graph& graph, const PlannerOptions& options) : g_(graph), options_(options) {
    for (ValueId v : g_.outputs()) graph_outputs_.insert(v);
    consumers_.resize(g_.values().size());
    for (NodeId n = 0; n < static_cast<NodeId>(g_.nodes().size()); ++n)
      for (ValueId v : g_.node(n).inputs)
        if (v != ir::kNoValue) consumers_[static_cast<size_t>(v)].push_back(n);
    // The most restrictive target decides tiles: every image holds the same kernels.
    int min_sm = 1 << 30;
    for (const auto& t : options_.targets) {
      min_sm = std::min(min_sm, t.sm);
      if (limit_sm_ == 0 || k::max_shared_bytes(t.sm) < k::max_shared_bytes(limit_sm_)) limit_sm_ = t.sm;
    }
    min_sm_ = options_.targets.empty() ? 80 : min_sm;
    if (limit_sm_ == 0) limit_sm_ = 80;
    // Arch-specific kernels (wgmma) only when every image is the sm_90a cubin.
    hopper_only_ = !options_.targets.empty() &&
                   std::all_of(options_.targets.begin(), options_.targets.end(), [](const jit::Target& t) {
                     return t.sm == 90 && t.arch_specific && !t.ptx;
                   });
  }

  KernelPlan run() {
    KernelPlan result;
    const auto order = g_.topological_order();
    std::vector<size_t> position(g_.nodes().size(), 0);
    for (size_t i = 0; i < order.size(); ++i) position[static_cast<size_t>(order[i])] = i;
    claimed_.assign(g_.nodes().size(), 0);
    std::vector<Group> groups;
    const auto add_group = [&](Group group) {
      for (NodeId n : group.nodes) {
        claimed_[static_cast<size_t>(n)] = 1;
        group.position = std::max(group.position, position[static_cast<size_t>(n)]);
      }
      groups.push_back(std::move(group));
    };
    // GEMMs first: a group may absorb a node that comes before its anchor (the transpose of a
    // weight), which the in-order pass below would otherwise give to another family.
    // Quantized GEMMs before float ones: a folded pattern claims its Q/DQ nodes with the anchor.
    for (NodeId id : order)
      if (auto qgemm = plan_qgemm_group(id)) add_group(std::move(*qgemm));
    for (NodeId id : order)
      if (auto qconv = plan_qconv_group(id)) add_group(std::move(*qconv));
    for (NodeId id : order)
      if (auto gemm = plan_gemm_group(id)) add_group(std::move(*gemm));
    for (NodeId id : order) {
      if (claimed_[static_cast<size_t>(id)]) continue;
      std::optional<Group> group;
      if (!group) group = plan_attention_group(id);
      if (!group) group = plan_conv_group(id);
      if (!group) group = plan_norm_group(id);
      if (!group) group = plan_reduce_group(id);
      if (!group) group = plan_pool_group(id);
      if (!group && is_alias_op(g_.node(id).op) && alias_ok(id)) {
        group = Group{};
        group->kind = graph_outputs_.count(g_.node(id).outputs[0]) ? StepKind::kCopy : StepKind::kAlias;
        group->nodes = {id};
      }
      if (!group) group = plan_movement_group(id);
      if (!group) group = plan_pointwise_group(id);
      if (!group) {
        group = Group{};
        group->kind = StepKind::kHost;
        group->nodes = {id};
        result.host_ops.push_back(g_.node(id).describe());
      }
      add_group(std::move(*group));
    }
    std::stable_sort(groups.begin(), groups.end(),
                     [](const Group& a, const Group& b) { return a.position < b.position; });
    // Consecutive host nodes share one step: one round trip instead of one per node.
    std::vector<Group> merged;
    for (Group& gr : groups) {
      if (gr.kind == StepKind::kHost && !merged.empty() && merged.back().kind == StepKind::kHost) {
        merged.back().nodes.insert(merged.back().nodes.end(), gr.nodes.begin(), gr.nodes.end());
        continue;
      }
      merged.push_back(std::move(gr));
    }

    result.plan = runtime::plan_from_graph(g_);
    std::map<std::string, int32_t> kernel_index;  // name expression -> kernels entry
    for (Group& gr : merged) {
      Step step;
      step.kind = gr.kind;
      step.nodes.assign(gr.nodes.begin(), gr.nodes.end());
      fill_io(step);
      if (gr.kind == StepKind::kAlias || gr.kind == StepKind::kCopy) {
        // Only the data input moves; a Reshape's shape is read by inference at resolution.
        step.inputs = {g_.node(gr.nodes[0]).inputs[0]};
      }
      if (gr.kind == StepKind::kKernel) {
        step.family = gr.family;
        step.spec = gr.spec;
        step.operands = gr.operands;
        for (const PlannedKernel& pk : gr.kernels) {
          auto [it, fresh] = kernel_index.emplace(pk.name_expression, static_cast<int32_t>(result.kernels.size()));
          if (fresh) result.kernels.push_back(pk);
          if (step.kernel < 0) step.kernel = it->second;
        }
      }
      result.plan.steps.push_back(std::move(step));
    }
    return result;
  }

 private:
  const ir::TensorInfo& info(ValueId v) const { return g_.value(v).info; }

  /// The one unclaimed node reading `v` (once), when `v` is not a graph output; else nullopt.
  std::optional<NodeId> sole_consumer(ValueId v) const {
    if (graph_outputs_.count(v)) return std::nullopt;
    const auto& c = consumers_[static_cast<size_t>(v)];
    if (c.size() != 1) return std::nullopt;  // also catches a node reading v twice
    if (claimed_[static_cast<size_t>(c[0])]) return std::nullopt;
    return c[0];
  }

  /// Reshape-like nodes alias their data input; a graph output needs a real copy instead.
  bool alias_ok(NodeId id) const {
    const ir::Node& n = g_.node(id);
    if (n.inputs.empty() || n.inputs[0] == ir::kNoValue || n.outputs.size() != 1) return false;
    return info(n.inputs[0]).dtype == info(n.outputs[0]).dtype;
  }

  std::vector<ir::TensorInfo> input_infos(const ir::Node& n) const {
    std::vector<ir::TensorInfo> infos;
    for (ValueId v : n.inputs)
      infos.push_back(v == ir::kNoValue ? ir::TensorInfo{DataType::kF32, {}, false} : info(v));
    return infos;
  }

  /// Data of constant inputs (not weights: a plan never depends on weight values).
  std::vector<const HostTensor*> input_constants(const ir::Node& n) const {
    std::vector<const HostTensor*> c;
    for (ValueId v : n.inputs)
      c.push_back(v != ir::kNoValue && g_.value(v).kind == ir::ValueKind::kConstant ? g_.constant_data(v) : nullptr);
    return c;
  }

  template <class Spec>
  bool supports_all_targets(const Spec& spec) const {
    return std::all_of(options_.targets.begin(), options_.targets.end(),
                       [&](const jit::Target& t) { return spec.supports(t); });
  }

  /// Same rank, and every dim equal (static) or dynamic on both sides; the runtime checks the
  /// concrete shapes again and falls back to the host when they differ.
  static bool same_shape(const ir::TensorInfo& a, const ir::TensorInfo& b) { return a.shape == b.shape; }

  /// The Transpose node feeding `matmul`'s B when it swaps the two dims of a 2-D value and
  /// nothing else reads its result.
  std::optional<NodeId> transposed_weight(const ir::Node& matmul) const {
    if (matmul.op != OpKind::kMatMul || matmul.inputs.size() < 2) return std::nullopt;
    const ValueId b = matmul.inputs[1];
    const NodeId producer = g_.value(b).producer;
    if (producer < 0 || claimed_[static_cast<size_t>(producer)]) return std::nullopt;
    const ir::Node& t = g_.node(producer);
    if (t.op != OpKind::kTranspose || t.inputs.empty() || t.inputs[0] == ir::kNoValue) return std::nullopt;
    if (info(t.inputs[0]).rank() != 2 || graph_outputs_.count(b)) return std::nullopt;
    if (consumers_[static_cast<size_t>(b)].size() != 1) return std::nullopt;
    if (t.attr_ints("perm", {1, 0}) != std::vector<int64_t>{1, 0}) return std::nullopt;
    return producer;
  }

  // ---- GEMM: MatMul/Gemm [+ bias] [+ activation] [+ residual] ----
  /// A MatMul/Gemm that fold_quantized_gemms() annotated, with its Q/DQ pattern as one
  /// quantized GEMM kernel; nullopt (the nodes then run unfused) when the pattern no longer holds
  /// or no kernel of the family runs it on every target.
  std::optional<Group> plan_qgemm_group(NodeId id) const {
    const ir::Node& anchor = g_.node(id);
    if (anchor.op != OpKind::kMatMul && anchor.op != OpKind::kGemm) return std::nullopt;
    if (anchor.attr_string(std::string(ir::kQuantGemmAttr), "").empty()) return std::nullopt;
    auto match = ir::match_quant_gemm(g_, id);
    if (!match) return std::nullopt;
    for (NodeId n : match->nodes)
      if (claimed_[static_cast<size_t>(n)]) return std::nullopt;
    k::QGemmPlanOptions opts;
    opts.sm = limit_sm_;
    opts.arch_specific = hopper_only_;
    opts.multiprocessors = options_.multiprocessors;
    auto spec = k::plan_qgemm(g_, *match, opts);
    if (!spec || !supports_all_targets(*spec)) return std::nullopt;
    Group gr;
    gr.kind = StepKind::kKernel;
    gr.nodes = match->nodes;
    for (const auto& [role, v] : match->operands()) gr.operands[role] = v;
    add_kernels(gr, "qgemm", *spec, spec->program());
    return gr;
  }

  /// A Conv that fold_quantized_gemms() annotated, with its Q/DQ pattern as one int8
  /// convolution kernel (NCHW, like the float convolutions); nullopt (DQ + float Conv then) when
  /// the pattern no longer holds or the kernel cannot run it (jit/kernels/qconv.hpp).
  std::optional<Group> plan_qconv_group(NodeId id) const {
    const ir::Node& anchor = g_.node(id);
    if (anchor.op != OpKind::kConv || min_sm_ < 80) return std::nullopt;
    if (anchor.attr_string(std::string(ir::kQuantGemmAttr), "").empty()) return std::nullopt;
    auto match = ir::match_quant_conv(g_, id);
    if (!match) return std::nullopt;
    for (NodeId n : match->nodes)
      if (claimed_[static_cast<size_t>(n)]) return std::nullopt;
    k::QConvPlanOptions opts;
    opts.sm = limit_sm_;
    opts.multiprocessors = options_.multiprocessors;
    auto spec = k::plan_qconv(g_, *match, opts);
    if (!spec || !supports_all_targets(*spec)) return std::nullopt;
    Group gr;
    gr.kind = StepKind::kKernel;
    gr.nodes = match->nodes;
    for (const auto& [role, v] : match->operands()) gr.operands[role] = v;
    add_kernels(gr, "qconv", *spec, spec->program());
    return gr;
  }

  std::optional<Group> plan_gemm_group(NodeId id) const {
    const ir::Node& anchor = g_.node(id);
    if (anchor.op != OpKind::kMatMul && anchor.op != OpKind::kGemm) return std::nullopt;
    if (claimed_[static_cast<size_t>(id)]) return std::nullopt;
    if (anchor.outputs.empty() || anchor.outputs[0] == ir::kNoValue) return std::nullopt;
    const auto infos = input_infos(anchor);
    k::GemmPlanOptions opts;
    opts.sm = limit_sm_;
    opts.arch_specific = hopper_only_;
    opts.multiprocessors = options_.multiprocessors;
    auto base = k::plan_gemm(anchor, infos, opts);
    if (!base || !supports_all_targets(*base)) return std::nullopt;
    // MatMul(x, Transpose(w)) with a 2-D w stored (N, K): read w K-major instead of transposing
    // it (rtx::linear on rank > 2 and many ONNX exports produce exactly this).
    std::optional<NodeId> transpose = transposed_weight(anchor);
    if (transpose) {
      k::GemmSpec t = *base;
      const int64_t kdim = info(anchor.inputs[1]).shape[0];
      t.b_k_major = true;
      t.vec_b = k::choose_vector(t.input, kdim == ir::kDynamic ? 1 : kdim, {});
      // TMA reads the (N, K) weight by rows of K: they must be 16-byte multiples.
      const bool tma_rows = t.algorithm != k::GemmAlgorithm::kWgmma || (kdim != ir::kDynamic && kdim % 8 == 0);
      if (t.algorithm == k::GemmAlgorithm::kWgmma) t.vec_b = 8;
      if (tma_rows && t.validate() && supports_all_targets(t)) {
        base = t;
      } else {
        transpose.reset();
      }
    }
    Group gr;
    gr.kind = StepKind::kKernel;
    gr.nodes = {id};
    gr.operands["a"] = anchor.inputs[0];
    gr.operands["b"] = anchor.inputs[1];
    if (transpose) {
      gr.nodes.insert(gr.nodes.begin(), *transpose);
      gr.operands["b"] = g_.node(*transpose).inputs[0];
    }
    const bool has_c = anchor.op == OpKind::kGemm && anchor.has_input(2);
    if (has_c) gr.operands["c"] = anchor.inputs[2];
    ValueId cur = anchor.outputs[0];
    const DataType dtype = info(anchor.inputs[0]).dtype;
    k::GemmEpilogue epi = base->epilogue;
    const int64_t n_dim = info(cur).shape.empty() ? ir::kDynamic : info(cur).shape.back();

    // + bias (one value per output column)
    if (auto c = sole_consumer(cur); c && !has_c && g_.node(*c).op == OpKind::kAdd && n_dim != ir::kDynamic) {
      const ir::Node& add = g_.node(*c);
      const ValueId other = add.inputs[0] == cur ? add.inputs[1] : add.inputs[0];
      const auto& oi = info(other);
      if (other != cur && oi.rank() == 1 && oi.shape[0] == n_dim && oi.dtype == dtype &&
          same_shape(info(add.outputs[0]), info(cur))) {
        epi.bias = k::GemmBiasMode::kPerColumn;
        gr.operands["bias"] = other;
        gr.nodes.push_back(*c);
        cur = add.outputs[0];
      }
    }
    // activation
    if (auto c = sole_consumer(cur)) {
      if (auto act = k::epilogue_activation(g_.node(*c)); act && g_.node(*c).outputs.size() == 1) {
        epi.activation = *act;
        gr.nodes.push_back(*c);
        cur = g_.node(*c).outputs[0];
      }
    }
    // + residual (a full tensor of the output's shape)
    if (auto c = sole_consumer(cur); c && g_.node(*c).op == OpKind::kAdd) {
      const ir::Node& add = g_.node(*c);
      const ValueId other = add.inputs[0] == cur ? add.inputs[1] : add.inputs[0];
      if (other != cur && info(other).dtype == info(cur).dtype && same_shape(info(other), info(cur)) &&
          same_shape(info(add.outputs[0]), info(cur))) {
        epi.residual = true;
        gr.operands["residual"] = other;
        gr.nodes.push_back(*c);
        cur = add.outputs[0];
      }
    }
    gr.operands["d"] = cur;
    k::GemmSpec spec = *base;
    spec.epilogue = epi;
    if (!spec.validate() || !supports_all_targets(spec)) {  // the fused form is not implementable
      spec = *base;
      gr.nodes = transpose ? std::vector<NodeId>{*transpose, id} : std::vector<NodeId>{id};
      gr.operands.erase("bias");
      gr.operands.erase("residual");
      gr.operands["d"] = anchor.outputs[0];
    }
    add_kernels(gr, "gemm", spec, spec.program());
    return gr;
  }

  // ---- attention ----
  std::optional<Group> plan_attention_group(NodeId id) const {
    const ir::Node& node = g_.node(id);
    if (node.op != OpKind::kAttention || min_sm_ < 80) return std::nullopt;
    k::AttentionPlanOptions opts;
    opts.sm = min_sm_;
    auto spec = k::plan_attention(node, input_infos(node), opts);
    if (!spec) return std::nullopt;
    Group gr;
    gr.kind = StepKind::kKernel;
    gr.nodes = {id};
    const char* roles[] = {"q", "k", "v", "mask"};
    for (size_t i = 0; i < 4; ++i)
      if (node.has_input(i)) gr.operands[roles[i]] = node.inputs[i];
    gr.operands["y"] = node.outputs[0];
    add_kernels(gr, "attention", *spec, spec->program());
    return gr;
  }

  // ---- convolution [+ activation] (NCHW; bias is the node's third input) ----
  std::optional<Group> plan_conv_group(NodeId id) const {
    const ir::Node& node = g_.node(id);
    if (node.op != OpKind::kConv || min_sm_ < 80 || node.outputs.size() != 1) return std::nullopt;
    const auto infos = input_infos(node);
    k::ConvPlanOptions opts;
    opts.sm = limit_sm_;
    opts.layout = k::ConvLayout::kNCHW;
    opts.multiprocessors = options_.multiprocessors;
    Group gr;
    gr.kind = StepKind::kKernel;
    gr.nodes = {id};
    ValueId cur = node.outputs[0];
    std::optional<k::ConvSpec> spec;
    if (auto c = sole_consumer(cur)) {
      if (auto act = k::epilogue_activation(g_.node(*c)); act && g_.node(*c).outputs.size() == 1) {
        opts.activation = *act;
        spec = k::plan_conv(node, infos, opts);
        if (spec && supports_all_targets(*spec)) {
          gr.nodes.push_back(*c);
          cur = g_.node(*c).outputs[0];
        } else {
          spec.reset();
        }
      }
    }
    if (!spec) {
      opts.activation = k::GemmActivation::kNone;
      spec = k::plan_conv(node, infos, opts);
      if (!spec || !supports_all_targets(*spec)) return std::nullopt;
    }
    gr.operands["x"] = node.inputs[0];
    gr.operands["w"] = node.inputs[1];
    if (node.has_input(2)) gr.operands["bias"] = node.inputs[2];
    gr.operands["y"] = cur;
    jit::Program program = spec->algorithm == k::ConvAlgorithm::kGemm ? spec->gemm_spec().program() : spec->program();
    add_kernels(gr, "conv", *spec, program);
    return gr;
  }

  std::optional<Group> single(NodeId id, const char* family) const {
    Group gr;
    gr.kind = StepKind::kKernel;
    gr.family = family;
    gr.nodes = {id};
    return gr;
  }

  // ---- softmax, log-softmax, layer norm, RMS norm ----
  std::optional<Group> plan_norm_group(NodeId id) const {
    const ir::Node& node = g_.node(id);
    auto spec = k::plan_norm(node, input_infos(node));
    if (!spec) return std::nullopt;
    auto gr = single(id, "norm");
    gr->operands["x"] = node.inputs[0];
    if (node.has_input(1)) gr->operands["scale"] = node.inputs[1];
    if (node.has_input(2)) gr->operands["bias"] = node.inputs[2];
    gr->operands["y"] = node.outputs[0];
    if (node.outputs.size() > 1 && node.outputs[1] != ir::kNoValue) gr->operands["mean"] = node.outputs[1];
    if (node.outputs.size() > 2 && node.outputs[2] != ir::kNoValue) gr->operands["inv_std"] = node.outputs[2];
    add_kernels(*gr, "norm", *spec, spec->program());
    return gr;
  }

  // ---- reductions ----
  std::optional<Group> plan_reduce_group(NodeId id) const {
    const ir::Node& node = g_.node(id);
    const auto consts = input_constants(node);
    auto spec = k::plan_reduce(node, input_infos(node), consts);
    if (!spec) return std::nullopt;
    auto gr = single(id, "reduce");
    gr->operands["x"] = node.inputs[0];
    gr->operands["y"] = node.outputs[0];
    add_kernels(*gr, "reduce", *spec, spec->program());
    return gr;
  }

  // ---- pooling ----
  std::optional<Group> plan_pool_group(NodeId id) const {
    const ir::Node& node = g_.node(id);
    auto spec = k::plan_pool(node, input_infos(node));
    if (!spec) return std::nullopt;
    auto gr = single(id, "pool");
    gr->operands["x"] = node.inputs[0];
    gr->operands["y"] = node.outputs[0];
    if (node.outputs.size() > 1 && node.outputs[1] != ir::kNoValue) gr->operands["indices"] = node.outputs[1];
    add_kernels(*gr, "pool", *spec, spec->program());
    return gr;
  }

  // ---- data movement: transpose, slice, expand, concat, gather, pad ----
  std::optional<Group> plan_movement_group(NodeId id) const {
    const ir::Node& node = g_.node(id);
    const auto consts = input_constants(node);
    auto spec = k::plan_movement(node, input_infos(node), consts);
    if (!spec) return std::nullopt;
    auto gr = single(id, "movement");
    // Data inputs: every input of Concat, data and indices of Gather, the data of the others.
    size_t data_inputs = 1;
    if (spec->kind == k::MovementKind::kConcat) data_inputs = node.inputs.size();
    if (spec->kind == k::MovementKind::kGather) data_inputs = 2;
    for (size_t i = 0; i < data_inputs; ++i) {
      if (!node.has_input(i)) return std::nullopt;
      gr->operands["in" + std::to_string(i)] = node.inputs[i];
    }
    gr->operands["y"] = node.outputs[0];
    add_kernels(*gr, "movement", *spec, spec->program());
    return gr;
  }

  // ---- pointwise chains: a node and its single-consumer elementwise successors ----
  std::optional<Group> plan_pointwise_group(NodeId id) const {
    const ir::Node& node = g_.node(id);
    if (!k::is_pointwise_op(node.op) || node.outputs.size() != 1 || node.outputs[0] == ir::kNoValue)
      return std::nullopt;
    std::vector<NodeId> chain = {id};
    auto rendered = k::render_pointwise(g_, chain, node.outputs[0]);
    if (!rendered) return std::nullopt;
    for (ValueId cur = node.outputs[0];;) {
      auto c = sole_consumer(cur);
      if (!c || !k::is_pointwise_op(g_.node(*c).op) || g_.node(*c).outputs.size() != 1) break;
      std::vector<NodeId> longer = chain;
      longer.push_back(*c);
      auto r = k::render_pointwise(g_, longer, g_.node(*c).outputs[0]);
      if (!r) break;
      chain = std::move(longer);
      rendered = std::move(r);
      cur = g_.node(*c).outputs[0];
    }
    Group gr;
    gr.kind = StepKind::kKernel;
    gr.nodes = chain;
    for (size_t i = 0; i < rendered->inputs.size(); ++i) gr.operands["in" + std::to_string(i)] = rendered->inputs[i];
    gr.operands["y"] = g_.node(chain.back()).outputs[0];
    add_kernels(gr, "pointwise", rendered->spec, rendered->spec.program());
    // Per-axis and block-wise Q/DQ parameters: how the runtime shapes them (the kernel is the
    // same either way).
    const auto& views = rendered->views;
    if (std::any_of(views.begin(), views.end(), [](const k::InputView& v) { return v.rank != 0; })) {
      nlohmann::json js = nlohmann::json::array();
      for (const auto& v : views) {
        js.push_back(v.rank == 0    ? nlohmann::json(nullptr)
                     : v.block == 0 ? nlohmann::json{v.rank, v.axis}
                                    : nlohmann::json{v.rank, v.axis, v.block});
      }
      gr.spec["input_views"] = js;
    }
    return gr;
  }

  /// Inputs: values the step's nodes read that the step does not produce. Outputs: values the
  /// step produces that a later step or the graph outputs need.
  void fill_io(Step& step) const {
    std::set<ValueId> produced;
    std::set<NodeId> inside(step.nodes.begin(), step.nodes.end());
    for (NodeId n : step.nodes) {
      for (ValueId v : g_.node(n).inputs)
        if (v != ir::kNoValue && !produced.count(v) &&
            std::find(step.inputs.begin(), step.inputs.end(), v) == step.inputs.end())
          step.inputs.push_back(v);
      for (ValueId v : g_.node(n).outputs)
        if (v != ir::kNoValue) produced.insert(v);
    }
    for (NodeId n : step.nodes) {
      for (ValueId v : g_.node(n).outputs) {
        if (v == ir::kNoValue) continue;
        bool needed = graph_outputs_.count(v) > 0;
        for (NodeId c : consumers_[static_cast<size_t>(v)]) needed = needed || !inside.count(c);
        if (needed) step.outputs.push_back(v);
      }
    }
  }

  const ir::Graph& g_;
  const PlannerOptions& options_;
  std::set<ValueId> graph_outputs_;
  std::vector<std::vector<NodeId>> consumers_;
  int limit_sm_ = 0;
  int min_sm_ = 80;
  bool hopper_only_ = false;  ///< every target is sm_90a: wgmma GEMMs allowed
  std::vector<char> claimed_;
};

}  // namespace

KernelPlan plan_kernels(const ir::Graph& graph, const PlannerOptions& options) {
  return Planner(graph, options).run();
}

jit::Program engine_program(const std::vector<PlannedKernel>& kernels) {
  jit::Program p;
  p.name = "rtx_engine";
  std::set<std::string> includes;  // sorted: deterministic program text
  std::vector<std::string> definitions;
  for (const PlannedKernel& k : kernels) {
    includes.insert(k.includes.begin(), k.includes.end());
    if (!k.definitions.empty() && std::find(definitions.begin(), definitions.end(), k.definitions) == definitions.end())
      definitions.push_back(k.definitions);
    if (std::find(p.name_expressions.begin(), p.name_expressions.end(), k.name_expression) == p.name_expressions.end())
      p.name_expressions.push_back(k.name_expression);
  }
  for (const auto& s : includes) p.source += s + "\n";
  for (const auto& d : definitions) p.source += d;
  return p;
}

}  // namespace rtx::builder
