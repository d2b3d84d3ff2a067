// SPDX-License-Identifier: Apache-2.0
// Q/DQ folding for quantized GEMMs: pattern matching (match_quant_gemm), the folded groups of a
// graph (find_quant_gemms) and the pass that makes shared Q/DQ paths claimable and annotates
// anchors (fold_quantized_gemms). See quant_passes.hpp.
#include "ir/quant_passes.hpp"

#include <algorithm>
#include <set>

#include "ir/onnx_dtype.hpp"

namespace rtx::ir {
namespace {

bool is_int8(DataType t) { return t == DataType::kINT8 || t == DataType::kUINT8; }
bool is_fp8(DataType t) { return t == DataType::kFP8E4M3 || t == DataType::kFP8E5M2; }
bool is_mid(DataType t) {
  return t == DataType::kF32 || t == DataType::kF16 || t == DataType::kBF16;
}
bool is_weight_only_b(DataType t) {
  return is_int8(t) || is_fp8(t) || t == DataType::kINT4 || t == DataType::kUINT4 ||
         t == DataType::kFP4E2M1;
}
bool is_float_quant(DataType t) { return is_fp8(t) || t == DataType::kFP4E2M1; }

bool is_activation(const Node& n) {
  switch (n.op) {
    case OpKind::kRelu:
    case OpKind::kSigmoid:
    case OpKind::kTanh:
    case OpKind::kSilu: return true;
    case OpKind::kGelu: {
      const std::string approx = n.attr_string("approximate", "none");
      return approx == "none" || approx == "tanh";
    }
    default: return false;
  }
}

bool all_static(const std::vector<int64_t>& shape) {
  return std::all_of(shape.begin(), shape.end(), [](int64_t d) { return d >= 0; });
}

bool all_ones(const std::vector<int64_t>& shape) {
  return std::all_of(shape.begin(), shape.end(), [](int64_t d) { return d == 1; });
}

/// Live consumers of every value (with multiplicity) and graph-output flags, built once.
class Index {
 public:
  explicit Index(const Graph& g) : g_(g), readers_(g.values().size()), output_(g.values().size(), 0) {
    for (NodeId n = 0; n < static_cast<NodeId>(g.nodes().size()); ++n) {
      const Node& node = g.node(n);
      if (node.dead) continue;
      for (ValueId v : node.inputs)
        if (v != kNoValue) readers_[static_cast<size_t>(v)].push_back(n);
    }
    for (ValueId v : g.outputs()) output_[static_cast<size_t>(v)] = 1;
  }

  const Graph& graph() const { return g_; }

  /// The live node producing v, or -1 (inputs, weights, constants).
  NodeId producer(ValueId v) const {
    if (v == kNoValue) return -1;
    const NodeId p = g_.value(v).producer;
    return p >= 0 && !g_.node(p).dead ? p : -1;
  }

  /// Whether `reader` is the only use of v (read once, not a graph output).
  bool exclusive(ValueId v, NodeId reader) const {
    const auto& r = readers_[static_cast<size_t>(v)];
    return !output_[static_cast<size_t>(v)] && r.size() == 1 && r[0] == reader;
  }

  /// The one node reading v (once), when v is not a graph output.
  std::optional<NodeId> sole_reader(ValueId v) const {
    const auto& r = readers_[static_cast<size_t>(v)];
    if (output_[static_cast<size_t>(v)] || r.size() != 1) return std::nullopt;
    return r[0];
  }

  bool is_output(ValueId v) const { return output_[static_cast<size_t>(v)] != 0; }
  const std::vector<NodeId>& readers(ValueId v) const { return readers_[static_cast<size_t>(v)]; }

 private:
  const Graph& g_;
  std::vector<std::vector<NodeId>> readers_;
  std::vector<char> output_;
};

/// Granularity of a Q/DQ scale as the reference evaluator derives it (ir/ops/quantization.cpp),
/// for static scale shapes only.
struct ScaleLayout {
  enum Kind { kTensor, kAxis, kBlocked } kind = kTensor;
  int64_t axis = 0;
  int64_t block = 0;
};

std::optional<ScaleLayout> scale_layout(const Node& q, const TensorInfo& x, const TensorInfo& scale) {
  if (!all_static(scale.shape)) return std::nullopt;
  ScaleLayout l;
  if (scale.shape.empty() || all_ones(scale.shape)) return l;
  const int64_t rank = x.rank();
  int64_t axis = q.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return std::nullopt;
  l.axis = axis;
  l.block = q.attr_int("block_size", 0);
  if (l.block == 0) {
    if (scale.rank() != 1) return std::nullopt;
    l.kind = ScaleLayout::kAxis;
  } else {
    if (l.block < 0 || scale.rank() != rank) return std::nullopt;
    l.kind = ScaleLayout::kBlocked;
  }
  return l;
}

bool per_tensor(const TensorInfo& info) {
  return all_static(info.shape) && (info.shape.empty() || all_ones(info.shape));
}

/// A zero point that the folded kernels may ignore: absent, or known data that is all zero.
/// (Float quantized types only admit zero; the reference rejects anything else.)
bool zero_or_absent(const Graph& g, const Node& n, size_t input) {
  if (!n.has_input(input)) return true;
  const ValueId v = n.inputs[input];
  if (is_float_quant(g.value(v).info.dtype)) return true;
  const HostTensor* data = g.constant_data(v);
  if (data == nullptr) return false;
  for (int64_t i = 0; i < data->element_count(); ++i)
    if (data->get_double(i) != 0.0) return false;
  return true;
}

/// The activation node that alone reads `cur` and keeps the dtype `mid`, or nullopt.
std::optional<NodeId> match_activation(const Index& ix, ValueId cur, DataType mid) {
  const Graph& g = ix.graph();
  auto c = ix.sole_reader(cur);
  if (!c || !is_activation(g.node(*c)) || g.node(*c).outputs.size() != 1 ||
      g.value(g.node(*c).outputs[0]).info.dtype != mid)
    return std::nullopt;
  return c;
}

/// A trailing per-tensor QuantizeLinear that alone reads `cur`.
struct OutputQ {
  NodeId node = -1;
  ValueId scale = kNoValue;
  ValueId zero = kNoValue;  ///< integer outputs only; kNoValue when absent
  ValueId output = kNoValue;
  bool saturate = true;
};

/// The QuantizeLinear reading `cur` when its scale is per tensor and of `scale_type` (as its
/// `precision`, if set), its output int8/uint8 (or fp8 with `allow_fp8`) and its zero point per
/// tensor (zero for fp8); else nullopt.
std::optional<OutputQ> match_output_q(const Index& ix, ValueId cur, DataType scale_type, bool allow_fp8) {
  const Graph& g = ix.graph();
  const auto info = [&](ValueId v) -> const TensorInfo& { return g.value(v).info; };
  auto c = ix.sole_reader(cur);
  if (!c || g.node(*c).op != OpKind::kQuantizeLinear) return std::nullopt;
  const Node& q = g.node(*c);
  const DataType out = q.outputs.size() == 1 ? info(q.outputs[0]).dtype : DataType::kF32;
  bool ok = q.inputs.size() >= 2 && q.inputs[0] == cur && q.has_input(1) &&
            (is_int8(out) || (allow_fp8 && is_fp8(out))) && per_tensor(info(q.inputs[1])) &&
            info(q.inputs[1]).dtype == scale_type;
  if (ok && q.attr_int("precision", 0) != 0) {
    const auto prec = data_type_from_onnx(q.attr_int("precision", 0));
    ok = prec && *prec == scale_type;
  }
  if (ok && q.has_input(2)) ok = per_tensor(info(q.inputs[2])) && (is_int8(out) || zero_or_absent(g, q, 2));
  if (!ok) return std::nullopt;
  OutputQ r;
  r.node = *c;
  r.scale = q.inputs[1];
  if (q.has_input(2) && is_int8(out)) r.zero = q.inputs[2];
  r.output = q.outputs[0];
  r.saturate = q.attr_int("saturate", 1) != 0;
  return r;
}

/// The trailing [activation] [QuantizeLinear] after value `cur` of a GEMM or Conv pattern `m`:
/// fills its activation and output-Q fields, appends the matched nodes to `tail` and returns the
/// pattern's last value.
template <class Group>
ValueId match_tail(const Index& ix, ValueId cur, Group& m, std::vector<NodeId>& tail, bool allow_fp8) {
  if (auto act = match_activation(ix, cur, m.mid_type)) {
    m.activation = *act;
    tail.push_back(*act);
    cur = ix.graph().node(*act).outputs[0];
  }
  if (auto q = match_output_q(ix, cur, m.scale_type, allow_fp8)) {
    m.y_q = q->node;
    m.y_scale = q->scale;
    m.y_zero = q->zero;
    if constexpr (requires { m.saturate; }) m.saturate = q->saturate;
    tail.push_back(q->node);
    cur = q->output;
  }
  return cur;
}

/// The pattern at `anchor`. With `allow_shared`, the operand-path nodes (DQs and the weight's
/// Transpose) may have other readers: the pass duplicates them before matching strictly.
std::optional<QuantGemmGroup> match(const Index& ix, NodeId anchor_id, bool allow_shared) {
  const Graph& g = ix.graph();
  const Node& anchor = g.node(anchor_id);
  if (anchor.dead || (anchor.op != OpKind::kMatMul && anchor.op != OpKind::kGemm)) return std::nullopt;
  if (anchor.inputs.size() < 2 || !anchor.has_input(0) || !anchor.has_input(1)) return std::nullopt;
  if (anchor.outputs.size() != 1 || anchor.outputs[0] == kNoValue) return std::nullopt;
  const auto info = [&](ValueId v) -> const TensorInfo& { return g.value(v).info; };
  const auto private_to = [&](ValueId v, NodeId reader) {
    return allow_shared ? !ix.readers(v).empty() : ix.exclusive(v, reader);
  };

  QuantGemmGroup m;
  m.anchor = anchor_id;
  m.gemm = anchor.op == OpKind::kGemm;
  m.mid_type = info(anchor.outputs[0]).dtype;
  if (!is_mid(m.mid_type)) return std::nullopt;
  if (m.gemm) {
    if (anchor.attr_int("transA", 0) != 0) return std::nullopt;
    m.alpha = anchor.attr_float("alpha", 1.0);
    m.beta = anchor.attr_float("beta", 1.0);
  } else if (info(anchor.inputs[0]).rank() < 2) {
    return std::nullopt;
  }

  // ---- B: DQ(w), Transpose(DQ(w)) or DQ(Transpose(w)) (the last two: MatMul only) ----------
  std::vector<NodeId> b_path;  // execution order
  ValueId bv = anchor.inputs[1];
  NodeId reader = anchor_id;
  NodeId p = ix.producer(bv);
  int dq_k_axis = 0;  // K's axis in the DQ's input
  if (p >= 0 && g.node(p).op == OpKind::kTranspose && !m.gemm) {
    const Node& t = g.node(p);
    if (!t.has_input(0) || info(t.inputs[0]).rank() != 2 || t.attr_ints("perm", {1, 0}) != std::vector<int64_t>{1, 0})
      return std::nullopt;
    if (!private_to(bv, reader)) return std::nullopt;
    m.b_transpose = p;
    m.b_k_major = true;
    dq_k_axis = 1;  // the DQ sees the stored (N, K) weight
    b_path.push_back(p);
    reader = p;
    bv = t.inputs[0];
    p = ix.producer(bv);
  }
  if (p < 0 || g.node(p).op != OpKind::kDequantizeLinear || !private_to(bv, reader)) return std::nullopt;
  m.b_dq = p;
  b_path.push_back(p);
  const Node& bdq = g.node(p);
  ValueId stored_b = bdq.inputs[0];
  if (m.b_transpose < 0 && !m.gemm) {
    // DQ(Transpose(w)): the kernel reads w itself, K-major.
    const NodeId tp = ix.producer(stored_b);
    if (tp >= 0 && g.node(tp).op == OpKind::kTranspose && g.node(tp).has_input(0) &&
        info(g.node(tp).inputs[0]).rank() == 2 &&
        g.node(tp).attr_ints("perm", {1, 0}) == std::vector<int64_t>{1, 0} && private_to(stored_b, p)) {
      m.b_transpose = tp;
      m.b_k_major = true;
      dq_k_axis = 0;  // the DQ sees the transposed (K, N) value
      b_path.push_back(tp);
      stored_b = g.node(tp).inputs[0];
    }
  }
  if (m.gemm && anchor.attr_int("transB", 0) != 0) {
    m.b_k_major = true;
    dq_k_axis = 1;
  }
  std::reverse(b_path.begin(), b_path.end());
  m.b = stored_b;
  m.b_type = info(m.b).dtype;
  m.b_scale = bdq.inputs[1];
  m.scale_type = info(m.b_scale).dtype;
  if (info(bdq.outputs[0]).dtype != m.mid_type || !is_mid(m.scale_type)) return std::nullopt;
  const TensorInfo& b_dq_in = info(bdq.inputs[0]);
  const auto bl = scale_layout(bdq, b_dq_in, info(m.b_scale));
  if (!bl) return std::nullopt;
  if (b_dq_in.rank() != 2) {
    // A batched B (an activation): only a per-tensor scale factors out of every product.
    if (b_dq_in.rank() < 2 || m.gemm || m.b_transpose >= 0 || bl->kind != ScaleLayout::kTensor)
      return std::nullopt;
    m.b_granularity = QuantScale::kPerTensor;
  } else {
    const int64_t n_axis = 1 - dq_k_axis;
    switch (bl->kind) {
      case ScaleLayout::kTensor: m.b_granularity = QuantScale::kPerTensor; break;
      case ScaleLayout::kAxis:
        if (bl->axis == n_axis) {
          m.b_granularity = QuantScale::kPerColumn;
        } else {
          m.b_granularity = QuantScale::kBlocked;  // one scale per k: blocks of 1 along K
          m.b_block = 1;
          m.b_scale_k_first = true;
        }
        break;
      case ScaleLayout::kBlocked:
        if (bl->axis != dq_k_axis) return std::nullopt;  // blocks along N: not supported
        m.b_granularity = QuantScale::kBlocked;
        m.b_block = bl->block;
        m.b_scale_k_first = dq_k_axis == 0;
        break;
    }
  }

  // ---- A: DQ(x) (int8 / fp8) or a float tensor (weight-only) --------------------------------
  const ValueId av = anchor.inputs[0];
  const NodeId adq = ix.producer(av);
  std::vector<NodeId> a_path;
  if (adq >= 0 && g.node(adq).op == OpKind::kDequantizeLinear) {
    const Node& d = g.node(adq);
    if (!private_to(av, anchor_id)) return std::nullopt;
    m.a_dq = adq;
    a_path.push_back(adq);
    m.a = d.inputs[0];
    m.a_type = info(m.a).dtype;
    m.a_scale = d.inputs[1];
    if (is_int8(m.a_type) && is_int8(m.b_type)) {
      m.kind = QuantGemmKind::kInt8;
    } else if (is_fp8(m.a_type) && is_fp8(m.b_type)) {
      m.kind = QuantGemmKind::kFp8;
    } else {
      return std::nullopt;
    }
    // The integer (or fp8) products are exact only if the scales factor out of the sums:
    // per-tensor A, per-tensor or per-column B, and no zero points.
    if (!per_tensor(info(m.a_scale)) || info(m.a_scale).dtype != m.scale_type) return std::nullopt;
    if (info(d.outputs[0]).dtype != m.mid_type) return std::nullopt;
    if (m.b_granularity == QuantScale::kBlocked) return std::nullopt;
    if (!zero_or_absent(g, d, 2) || !zero_or_absent(g, bdq, 2)) return std::nullopt;
  } else {
    m.kind = QuantGemmKind::kWeightOnly;
    m.a = av;
    m.a_type = info(av).dtype;
    if ((m.a_type != DataType::kF16 && m.a_type != DataType::kBF16) || m.a_type != m.mid_type)
      return std::nullopt;
    if (!is_weight_only_b(m.b_type) || b_dq_in.rank() != 2) return std::nullopt;
    if (bdq.has_input(2)) {
      if (is_float_quant(m.b_type)) {
        if (!zero_or_absent(g, bdq, 2)) return std::nullopt;
      } else {
        m.b_zero = bdq.inputs[2];
      }
    }
  }

  // ---- Gemm's C as a per-column bias ---------------------------------------------------------
  const TensorInfo& out_info = info(anchor.outputs[0]);
  const int64_t n_dim = out_info.shape.empty() ? kDynamic : out_info.shape.back();
  const auto is_row_vector = [&](const TensorInfo& t, int64_t max_rank) {
    if (t.rank() < 1 || t.rank() > max_rank || !all_static(t.shape) || n_dim < 0) return false;
    for (int64_t i = 0; i + 1 < t.rank(); ++i)
      if (t.shape[static_cast<size_t>(i)] != 1) return false;
    return t.shape.back() == n_dim;
  };
  if (m.gemm && anchor.has_input(2)) {
    const TensorInfo& c = info(anchor.inputs[2]);
    if (c.dtype != m.mid_type || !is_row_vector(c, 2)) return std::nullopt;
    m.bias = anchor.inputs[2];
    m.bias_is_gemm_c = true;
  }

  // ---- trailing nodes: [Add bias] [activation] [Q] --------------------------------------------
  std::vector<NodeId> tail;
  ValueId cur = anchor.outputs[0];
  if (!m.gemm) {
    if (auto c = ix.sole_reader(cur); c && g.node(*c).op == OpKind::kAdd) {
      const Node& add = g.node(*c);
      if (add.inputs.size() == 2 && add.has_input(0) && add.has_input(1) && add.outputs.size() == 1) {
        const ValueId other = add.inputs[0] == cur ? add.inputs[1] : add.inputs[0];
        if (other != cur && info(other).dtype == m.mid_type && is_row_vector(info(other), out_info.rank()) &&
            info(add.outputs[0]).shape == out_info.shape) {
          m.bias_add = *c;
          m.bias = other;
          tail.push_back(*c);
          cur = add.outputs[0];
        }
      }
    }
  }
  m.output = match_tail(ix, cur, m, tail, true);
  cur = m.output;
  m.output_type = info(cur).dtype;

  m.nodes = a_path;
  m.nodes.insert(m.nodes.end(), b_path.begin(), b_path.end());
  m.nodes.push_back(anchor_id);
  m.nodes.insert(m.nodes.end(), tail.begin(), tail.end());
  return m;
}

/// The quantized convolution at `anchor` (see quant_passes.hpp); `allow_shared` as for match().
std::optional<QuantConvGroup> match_conv(const Index& ix, NodeId anchor_id, bool allow_shared) {
  const Graph& g = ix.graph();
  const Node& anchor = g.node(anchor_id);
  if (anchor.dead || anchor.op != OpKind::kConv || !anchor.has_input(0) || !anchor.has_input(1))
    return std::nullopt;
  if (anchor.outputs.size() != 1 || anchor.outputs[0] == kNoValue) return std::nullopt;
  const auto info = [&](ValueId v) -> const TensorInfo& { return g.value(v).info; };
  const auto private_to = [&](ValueId v, NodeId reader) {
    return allow_shared ? !ix.readers(v).empty() : ix.exclusive(v, reader);
  };
  QuantConvGroup m;
  m.anchor = anchor_id;
  m.mid_type = info(anchor.outputs[0]).dtype;
  if (!is_mid(m.mid_type)) return std::nullopt;
  const int64_t rank = info(anchor.inputs[0]).rank();
  if (rank < 3 || rank > 5 || info(anchor.inputs[1]).rank() != rank) return std::nullopt;

  // ---- W: DQ(int8 w), per-tensor or per-output-channel (axis 0) scale, no zero point ----------
  const NodeId wdq = ix.producer(anchor.inputs[1]);
  if (wdq < 0 || g.node(wdq).op != OpKind::kDequantizeLinear || !private_to(anchor.inputs[1], anchor_id))
    return std::nullopt;
  const Node& wd = g.node(wdq);
  m.w_dq = wdq;
  m.w = wd.inputs[0];
  m.w_type = info(m.w).dtype;
  m.w_scale = wd.inputs[1];
  m.scale_type = info(m.w_scale).dtype;
  if (!is_int8(m.w_type) || !is_mid(m.scale_type) || info(wd.outputs[0]).dtype != m.mid_type) return std::nullopt;
  const auto wl = scale_layout(wd, info(m.w), info(m.w_scale));
  if (!wl) return std::nullopt;
  if (wl->kind == ScaleLayout::kAxis && wl->axis == 0) {
    m.per_channel = true;
  } else if (wl->kind != ScaleLayout::kTensor) {
    return std::nullopt;  // per-input-channel, per-tap or blocked scales do not factor out of the sums
  }
  if (!zero_or_absent(g, wd, 2)) return std::nullopt;

  // ---- x: DQ(int8 x), per-tensor scale of the same dtype, no zero point ----------------------
  const NodeId xdq = ix.producer(anchor.inputs[0]);
  if (xdq < 0 || g.node(xdq).op != OpKind::kDequantizeLinear || !private_to(anchor.inputs[0], anchor_id))
    return std::nullopt;
  const Node& xd = g.node(xdq);
  m.x_dq = xdq;
  m.x = xd.inputs[0];
  m.x_type = info(m.x).dtype;
  m.x_scale = xd.inputs[1];
  if (!is_int8(m.x_type) || info(xd.outputs[0]).dtype != m.mid_type) return std::nullopt;
  if (!per_tensor(info(m.x_scale)) || info(m.x_scale).dtype != m.scale_type) return std::nullopt;
  // A nonzero activation zero point would also make padding nonzero in the integer domain.
  if (!zero_or_absent(g, xd, 2)) return std::nullopt;

  // ---- Conv's own bias (the mid dtype, one value per output channel) -------------------------
  if (anchor.has_input(2)) {
    const TensorInfo& b = info(anchor.inputs[2]);
    if (b.dtype != m.mid_type || b.rank() != 1) return std::nullopt;
    m.bias = anchor.inputs[2];
  }

  // ---- trailing nodes: [activation] [Q to int8/uint8] -----------------------------------------
  std::vector<NodeId> tail;
  ValueId cur = anchor.outputs[0];
  m.output = match_tail(ix, cur, m, tail, false);
  cur = m.output;
  m.output_type = info(cur).dtype;
  m.nodes = {xdq, wdq, anchor_id};
  m.nodes.insert(m.nodes.end(), tail.begin(), tail.end());
  return m;
}

/// Adds a copy of node `n` (same op, inputs and attributes; fresh outputs) and infers it.
NodeId clone_node(Graph& g, NodeId n) {
  const Node copy = g.node(n);  // add_node may reallocate the node table
  const NodeId id = g.add_node(copy.op, g.unique_name(copy.name + "_qfold"), copy.inputs,
                               static_cast<int>(copy.outputs.size()), copy.attrs);
  g.infer_node(id);
  return id;
}

/// Makes the operand path `path` (execution order, last node read by `reader` at input `slot`)
/// private to `reader`: walking from the reader outward, the first node whose output is also
/// read elsewhere and every node before it are cloned, each clone feeding the next.
void privatize(Graph& g, std::vector<NodeId> path, NodeId reader, size_t slot) {
  bool cloning = false;
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    const ValueId out = g.node(*it).outputs[0];
    if (!cloning) {
      const Index ix(g);
      cloning = !ix.exclusive(out, reader);
    }
    if (cloning) {
      const NodeId c = clone_node(g, *it);
      g.node(reader).inputs[slot] = g.node(c).outputs[0];
      reader = c;
    } else {
      reader = *it;
    }
    slot = 0;  // DQ and Transpose read their operand at input 0
  }
}

/// fold_quantized_gemms() for one Conv: privatise shared DQs, then annotate (or clear).
void fold_conv(Graph& graph, NodeId id, std::set<NodeId>& touched) {
  bool matched = false;
  {
    const Index ix(graph);
    matched = match_conv(ix, id, false).has_value();
    if (!matched) {
      if (const auto shared = match_conv(ix, id, true)) {
        touched.insert(shared->w_dq);
        touched.insert(shared->x_dq);
        privatize(graph, {shared->w_dq}, id, 1);
        privatize(graph, {shared->x_dq}, id, 0);
      }
    }
  }
  if (!matched) matched = match_quant_conv(graph, id).has_value();
  Node& anchor = graph.node(id);
  if (matched) {
    anchor.attrs[std::string(kQuantGemmAttr)] = std::string(to_string(QuantGemmKind::kInt8));
  } else {
    anchor.attrs.erase(std::string(kQuantGemmAttr));
  }
}

}  // namespace

std::string_view to_string(QuantGemmKind kind) {
  switch (kind) {
    case QuantGemmKind::kInt8: return "int8";
    case QuantGemmKind::kFp8: return "fp8";
    case QuantGemmKind::kWeightOnly: return "weight_only";
  }
  return "?";
}

std::map<std::string, ValueId> QuantGemmGroup::operands() const {
  std::map<std::string, ValueId> r;
  const auto put = [&](const char* role, ValueId v) {
    if (v != kNoValue) r[role] = v;
  };
  put("a", a);
  put("a_scale", a_scale);
  put("b", b);
  put("b_scale", b_scale);
  put("b_zero", b_zero);
  put("bias", bias);
  put("y_scale", y_scale);
  put("y_zero", y_zero);
  put("d", output);
  return r;
}

std::string QuantGemmGroup::describe(const Graph& graph) const {
  std::string s = std::string(to_string(kind)) + " " + graph.node(anchor).describe();
  std::vector<std::string> extras;
  if (b_transpose >= 0) extras.push_back("transposed weight");
  if (bias != kNoValue) extras.push_back(bias_is_gemm_c ? "C" : "+bias");
  if (activation >= 0) extras.push_back(std::string(op_name(graph.node(activation).op)));
  if (y_q >= 0) extras.push_back("Q->" + std::string(rtx::to_string(output_type)));
  if (!extras.empty()) {
    s += " (";
    for (size_t i = 0; i < extras.size(); ++i) s += (i ? ", " : "") + extras[i];
    s += ")";
  }
  return s;
}

std::optional<QuantGemmGroup> match_quant_gemm(const Graph& graph, NodeId anchor) {
  if (anchor < 0 || static_cast<size_t>(anchor) >= graph.nodes().size()) return std::nullopt;
  const Index ix(graph);
  return match(ix, anchor, false);
}

std::vector<QuantGemmGroup> find_quant_gemms(const Graph& graph) {
  const Index ix(graph);
  std::vector<QuantGemmGroup> groups;
  std::set<NodeId> claimed;
  for (NodeId id : graph.topological_order()) {
    auto m = match(ix, id, false);
    if (!m) continue;
    if (std::any_of(m->nodes.begin(), m->nodes.end(), [&](NodeId n) { return claimed.count(n) > 0; }))
      continue;
    claimed.insert(m->nodes.begin(), m->nodes.end());
    groups.push_back(std::move(*m));
  }
  return groups;
}

std::map<std::string, ValueId> QuantConvGroup::operands() const {
  std::map<std::string, ValueId> r;
  const auto put = [&](const char* role, ValueId v) {
    if (v != kNoValue) r[role] = v;
  };
  put("x", x);
  put("x_scale", x_scale);
  put("w", w);
  put("w_scale", w_scale);
  put("bias", bias);
  put("y_scale", y_scale);
  put("y_zero", y_zero);
  put("y", output);
  return r;
}

std::string QuantConvGroup::describe(const Graph& graph) const {
  std::string s = "int8 " + graph.node(anchor).describe() + (per_channel ? " (per-channel" : " (per-tensor");
  if (bias != kNoValue) s += ", +bias";
  if (activation >= 0) s += ", " + std::string(op_name(graph.node(activation).op));
  if (y_q >= 0) s += ", Q->" + std::string(rtx::to_string(output_type));
  return s + ")";
}

std::optional<QuantConvGroup> match_quant_conv(const Graph& graph, NodeId anchor) {
  if (anchor < 0 || static_cast<size_t>(anchor) >= graph.nodes().size()) return std::nullopt;
  const Index ix(graph);
  return match_conv(ix, anchor, false);
}

std::vector<QuantConvGroup> find_quant_convs(const Graph& graph) {
  const Index ix(graph);
  std::vector<QuantConvGroup> groups;
  for (NodeId id : graph.topological_order())
    if (auto m = match_conv(ix, id, false)) groups.push_back(std::move(*m));  // disjoint by construction
  return groups;
}

void fold_quantized_gemms(Graph& graph, const PassOptions&) {
  const std::vector<NodeId> order = graph.topological_order();
  std::set<NodeId> touched;  // original path nodes that lost readers to clones
  for (NodeId id : order) {
    if (graph.node(id).op == OpKind::kConv) {
      fold_conv(graph, id, touched);
      continue;
    }
    if (graph.node(id).op != OpKind::kMatMul && graph.node(id).op != OpKind::kGemm) continue;
    std::optional<QuantGemmGroup> m;
    {
      const Index ix(graph);
      m = match(ix, id, false);
      if (!m) {
        const auto shared = match(ix, id, true);
        if (shared) {
          std::vector<NodeId> b_path;
          for (NodeId n : shared->nodes)
            if (n == shared->b_dq || n == shared->b_transpose) b_path.push_back(n);
          std::vector<NodeId> a_path;
          if (shared->a_dq >= 0) a_path.push_back(shared->a_dq);
          touched.insert(b_path.begin(), b_path.end());
          touched.insert(a_path.begin(), a_path.end());
          privatize(graph, b_path, id, 1);
          if (!a_path.empty()) privatize(graph, a_path, id, 0);
        }
      }
    }
    if (!m) m = match_quant_gemm(graph, id);
    Node& anchor = graph.node(id);
    if (m) {
      anchor.attrs[std::string(kQuantGemmAttr)] = std::string(to_string(m->kind));
    } else {
      anchor.attrs.erase(std::string(kQuantGemmAttr));
    }
  }
  // Originals whose every reader moved to a clone compute nothing anyone reads.
  const Index ix(graph);
  for (NodeId n : touched) {
    Node& node = graph.node(n);
    const bool read = std::any_of(node.outputs.begin(), node.outputs.end(), [&](ValueId v) {
      return v != kNoValue && (!ix.readers(v).empty() || ix.is_output(v));
    });
    if (!read) node.dead = true;
  }
}

}  // namespace rtx::ir
