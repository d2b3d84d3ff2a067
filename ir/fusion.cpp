// SPDX-License-Identifier: Apache-2.0
// Pattern fusion passes (see fusion.hpp). Each pass walks the live nodes, matches its pattern
// backwards from a root node, checks that every matched inner value is used only inside the match
// (so removing the chain loses nothing) and that the constants have the values the pattern needs,
// then adds the fused node, infers it and keeps it only if its output has exactly the dtype and
// shape of the chain's output. The chain's nodes are marked dead; remove_dead_nodes drops them.
#include "ir/fusion.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <set>
#include <unordered_map>

namespace rtx::ir {
namespace {

class Fuser {
 public:
  explicit Fuser(Graph& g) : g_(g) { count_uses(); }

  Graph& graph() { return g_; }

  /// The live producer of `v` if it has kind `op`.
  const Node* producer(ValueId v, OpKind op) const {
    if (v == kNoValue) return nullptr;
    const NodeId p = g_.value(v).producer;
    if (p < 0) return nullptr;
    const Node& n = g_.node(p);
    return (!n.dead && n.op == op) ? &n : nullptr;
  }
  NodeId id_of(const Node* n) const { return static_cast<NodeId>(n - g_.nodes().data()); }

  /// The value of a constant holding exactly one element.
  std::optional<double> scalar(ValueId v) const {
    if (v == kNoValue) return std::nullopt;
    const HostTensor* t = g_.constant_data(v);
    if (!t || t->element_count() != 1 || (!is_floating(t->dtype()) && !is_integer(t->dtype())))
      return std::nullopt;
    return t->get_double(0);
  }
  bool scalar_is(ValueId v, double want, double rel = 1e-6) const {
    auto s = scalar(v);
    return s && std::fabs(*s - want) <= rel * std::max(1.0, std::fabs(want));
  }

  /// Every output of every matched node except `root` is used only by matched nodes and is no
  /// graph output: the chain can go once the root's output is replaced.
  bool interior_ok(const std::set<NodeId>& matched, NodeId root) const {
    for (NodeId id : matched) {
      if (id == root) continue;
      for (ValueId v : g_.node(id).outputs) {
        if (v == kNoValue) continue;
        if (is_output_.count(v)) return false;
        auto it = users_.find(v);
        if (it == users_.end()) continue;
        for (NodeId u : it->second)
          if (!matched.count(u)) return false;
      }
    }
    return true;
  }

  /// Adds op(inputs) in place of `root`'s first output. Keeps it only when it infers to the same
  /// dtype and shape; then the old chain dies. `extra` are helper nodes made for the fusion (a K
  /// transpose), killed too if the fusion is abandoned.
  bool replace(NodeId root, OpKind op, std::vector<ValueId> inputs,
               std::map<std::string, AttrValue, std::less<>> attrs, const std::set<NodeId>& matched,
               const std::vector<NodeId>& extra = {}) {
    const ValueId old_out = g_.node(root).outputs.at(0);
    const std::string base = g_.node(root).name;
    const NodeId id =
        g_.add_node(op, base + "/" + std::string(op_name(op)), std::move(inputs), 1,
                    std::move(attrs), {g_.unique_name(g_.value(old_out).name + ".fused")});
    bool ok = true;
    try {
      for (NodeId e : extra) g_.infer_node(e);
      g_.infer_node(id);
      const TensorInfo& a = g_.value(g_.node(id).outputs[0]).info;
      const TensorInfo& b = g_.value(old_out).info;
      ok = a.dtype == b.dtype && a.shape == b.shape;
    } catch (const Exception&) {
      ok = false;
    }
    if (!ok) {
      g_.node(id).dead = true;
      for (NodeId e : extra) g_.node(e).dead = true;
      return false;
    }
    const ValueId new_out = g_.node(id).outputs[0];
    g_.replace_uses(old_out, new_out);
    // The fused value takes the chain's name (a graph output keeps its name).
    const std::string name = g_.value(old_out).name;
    g_.rename_value(old_out, g_.unique_name(name + ".unfused"));
    g_.rename_value(new_out, name);
    for (NodeId m : matched) g_.node(m).dead = true;
    ++fused_;
    count_uses();
    return true;
  }

  /// Flattens a tree of Mul nodes rooted at `v` into its factors. Inner Muls join `nodes`.
  void product_factors(ValueId v, std::vector<ValueId>& factors, std::set<NodeId>& nodes,
                       bool is_root) {
    const Node* m = producer(v, OpKind::kMul);
    if (m && (is_root || uses(v) == 1)) {
      nodes.insert(id_of(m));
      product_factors(m->inputs[0], factors, nodes, false);
      product_factors(m->inputs[1], factors, nodes, false);
      return;
    }
    factors.push_back(v);
  }

  size_t uses(ValueId v) const {
    auto it = users_.find(v);
    return (it == users_.end() ? 0 : it->second.size()) + (is_output_.count(v) ? 1 : 0);
  }

  /// Axes of a Reduce node (constant input 1 of the opset-18 form), normalised for `rank`.
  std::optional<std::vector<int64_t>> reduce_axes(const Node& n, int64_t rank) const {
    if (!n.has_input(1)) return std::nullopt;
    const HostTensor* t = g_.constant_data(n.inputs[1]);
    if (!t) return std::nullopt;
    std::vector<int64_t> axes = t->to_ints();
    for (auto& a : axes) {
      if (a < -rank || a >= rank) return std::nullopt;
      if (a < 0) a += rank;
    }
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) return std::nullopt;
    return axes;
  }

  /// The first axis when `axes` are exactly the trailing axes of `rank`.
  static std::optional<int64_t> trailing_axis(const std::vector<int64_t>& axes, int64_t rank) {
    if (axes.empty()) return std::nullopt;
    for (size_t i = 0; i < axes.size(); ++i)
      if (axes[i] != rank - static_cast<int64_t>(axes.size()) + static_cast<int64_t>(i))
        return std::nullopt;
    return axes.front();
  }

  /// x * x or Pow(x, 2): returns x.
  std::optional<ValueId> square_of(ValueId v, std::set<NodeId>& nodes) const {
    if (const Node* p = producer(v, OpKind::kPow); p && scalar_is(p->inputs[1], 2.0, 0)) {
      nodes.insert(id_of(p));
      return p->inputs[0];
    }
    if (const Node* m = producer(v, OpKind::kMul); m && m->inputs[0] == m->inputs[1]) {
      nodes.insert(id_of(m));
      return m->inputs[0];
    }
    return std::nullopt;
  }

  /// A ones constant of `shape` and `dtype` (a LayerNorm / RMSNorm without an affine scale).
  std::optional<ValueId> ones(DataType dtype, const std::vector<int64_t>& shape) {
    for (int64_t d : shape)
      if (d < 0) return std::nullopt;
    HostTensor t(dtype, shape);
    for (int64_t i = 0; i < t.element_count(); ++i) t.set_double(i, 1.0);
    return g_.add_constant(std::move(t));
  }

  int fused() const { return fused_; }

 private:
  void count_uses() {
    users_.clear();
    is_output_.clear();
    for (size_t i = 0; i < g_.nodes().size(); ++i) {
      const Node& n = g_.nodes()[i];
      if (n.dead) continue;
      for (ValueId v : n.inputs)
        if (v != kNoValue) users_[v].push_back(static_cast<NodeId>(i));
    }
    for (ValueId v : g_.outputs()) is_output_.insert(v);
  }

  Graph& g_;
  std::unordered_map<ValueId, std::vector<NodeId>> users_;
  std::set<ValueId> is_output_;
  int fused_ = 0;
};

/// Runs `match` on every live node of the graph (in order), including nodes the pass adds.
template <class F>
void for_each_root(Graph& g, OpKind op, F&& match) {
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    if (g.node(static_cast<NodeId>(i)).dead || g.node(static_cast<NodeId>(i)).op != op) continue;
    match(static_cast<NodeId>(i));
  }
}

// ---- SiLU -------------------------------------------------------------------------------------

void silu(Graph& graph) {
  Fuser f(graph);
  for_each_root(graph, OpKind::kMul, [&](NodeId id) {
    const Node& mul = graph.node(id);
    for (int k = 0; k < 2; ++k) {
      const ValueId x = mul.inputs[static_cast<size_t>(k)];
      const Node* sig = f.producer(mul.inputs[static_cast<size_t>(1 - k)], OpKind::kSigmoid);
      if (!sig || sig->inputs[0] != x) continue;
      std::set<NodeId> matched = {id, f.id_of(sig)};
      if (!f.interior_ok(matched, id)) continue;
      f.replace(id, OpKind::kSilu, {x}, {}, matched);
      return;  // node references are stale once a node was added
    }
  });
}

// ---- GELU -------------------------------------------------------------------------------------

/// x / sqrt(2) or x * (1 / sqrt(2)): returns x.
std::optional<ValueId> over_sqrt2(Fuser& f, ValueId v, std::set<NodeId>& nodes) {
  const double r2 = std::numbers::sqrt2;
  if (const Node* d = f.producer(v, OpKind::kDiv); d && f.scalar_is(d->inputs[1], r2, 1e-5)) {
    nodes.insert(f.id_of(d));
    return d->inputs[0];
  }
  if (const Node* m = f.producer(v, OpKind::kMul)) {
    for (int k = 0; k < 2; ++k)
      if (f.scalar_is(m->inputs[static_cast<size_t>(1 - k)], 1.0 / r2, 1e-5)) {
        nodes.insert(f.id_of(m));
        return m->inputs[static_cast<size_t>(k)];
      }
  }
  return std::nullopt;
}

/// x^3 as Pow(x, 3), x*x*x (either nesting): returns x.
std::optional<ValueId> cube_of(Fuser& f, ValueId v, std::set<NodeId>& nodes) {
  if (const Node* p = f.producer(v, OpKind::kPow); p && f.scalar_is(p->inputs[1], 3.0, 0)) {
    nodes.insert(f.id_of(p));
    return p->inputs[0];
  }
  std::vector<ValueId> factors;
  std::set<NodeId> inner;
  f.product_factors(v, factors, inner, true);
  if (factors.size() == 3 && factors[0] == factors[1] && factors[1] == factors[2]) {
    nodes.insert(inner.begin(), inner.end());
    return factors[0];
  }
  return std::nullopt;
}

/// 1 + erf(x / sqrt 2)  -> (x, "none");  1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)) -> (x, "tanh").
std::optional<std::pair<ValueId, std::string>> gelu_bracket(Fuser& f, ValueId v,
                                                            std::set<NodeId>& nodes) {
  const Node* add = f.producer(v, OpKind::kAdd);
  if (!add) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    if (!f.scalar_is(add->inputs[static_cast<size_t>(1 - k)], 1.0, 0)) continue;
    const ValueId inner = add->inputs[static_cast<size_t>(k)];
    std::set<NodeId> local = {f.id_of(add)};
    if (const Node* erf = f.producer(inner, OpKind::kErf)) {
      local.insert(f.id_of(erf));
      if (auto x = over_sqrt2(f, erf->inputs[0], local)) {
        nodes.insert(local.begin(), local.end());
        return std::make_pair(*x, std::string("none"));
      }
    }
    if (const Node* tanh = f.producer(inner, OpKind::kTanh)) {
      local.insert(f.id_of(tanh));
      // sqrt(2/pi) * (x + 0.044715 * x^3)
      std::vector<ValueId> factors;
      f.product_factors(tanh->inputs[0], factors, local, true);
      if (factors.size() != 2) continue;
      for (int j = 0; j < 2; ++j) {
        if (!f.scalar_is(factors[static_cast<size_t>(1 - j)], std::sqrt(2.0 / std::numbers::pi),
                         1e-5))
          continue;
        const Node* sum = f.producer(factors[static_cast<size_t>(j)], OpKind::kAdd);
        if (!sum) continue;
        for (int s = 0; s < 2; ++s) {
          const ValueId x = sum->inputs[static_cast<size_t>(s)];
          std::set<NodeId> cubic = local;
          cubic.insert(f.id_of(sum));
          std::vector<ValueId> terms;
          f.product_factors(sum->inputs[static_cast<size_t>(1 - s)], terms, cubic, true);
          if (terms.size() == 2) {
            for (int t = 0; t < 2; ++t) {
              if (!f.scalar_is(terms[static_cast<size_t>(1 - t)], 0.044715, 1e-5)) continue;
              std::set<NodeId> c3 = cubic;
              auto cx = cube_of(f, terms[static_cast<size_t>(t)], c3);
              if (cx && *cx == x) {
                nodes.insert(c3.begin(), c3.end());
                return std::make_pair(x, std::string("tanh"));
              }
            }
          } else if (terms.size() == 4) {
            // 0.044715 * x * x * x flattened into one product
            int consts = 0;
            std::vector<ValueId> xs;
            for (ValueId t : terms) {
              if (f.scalar_is(t, 0.044715, 1e-5))
                ++consts;
              else
                xs.push_back(t);
            }
            if (consts == 1 && xs.size() == 3 && xs[0] == x && xs[1] == x && xs[2] == x) {
              nodes.insert(cubic.begin(), cubic.end());
              return std::make_pair(x, std::string("tanh"));
            }
          }
        }
      }
    }
  }
  return std::nullopt;
}

void gelu(Graph& graph) {
  Fuser f(graph);
  for_each_root(graph, OpKind::kMul, [&](NodeId id) {
    if (graph.node(id).dead) return;
    // 0.5 * x * bracket, in any association and order.
    std::vector<ValueId> factors;
    std::set<NodeId> matched = {id};
    f.product_factors(graph.node(id).outputs[0], factors, matched, true);
    if (factors.size() != 3) return;
    for (size_t half = 0; half < 3; ++half) {
      if (!f.scalar_is(factors[half], 0.5, 0)) continue;
      for (size_t b = 0; b < 3; ++b) {
        if (b == half) continue;
        const size_t xi = 3 - half - b;
        std::set<NodeId> nodes = matched;
        auto br = gelu_bracket(f, factors[b], nodes);
        if (!br || br->first != factors[xi]) continue;
        if (!f.interior_ok(nodes, id)) continue;
        std::map<std::string, AttrValue, std::less<>> attrs;
        if (br->second == "tanh") attrs["approximate"] = std::string("tanh");
        f.replace(id, OpKind::kGelu, {br->first}, std::move(attrs), nodes);
        return;  // node references are stale once a node was added
      }
    }
  });
}

// ---- LayerNorm ----------------------------------------------------------------------------------

/// Follows an optional `* gamma` then `+ beta` after the normalised value `v` (produced by
/// `norm_node`). Returns the root node and the scale / bias values (kNoValue when absent).
struct Affine {
  NodeId root;
  ValueId scale = kNoValue;
  ValueId bias = kNoValue;
};
Affine follow_affine(Fuser& f, NodeId norm_node, std::set<NodeId>& nodes, bool allow_bias) {
  Graph& g = f.graph();
  Affine a{norm_node};
  const auto sole_user = [&](ValueId v, OpKind op) -> const Node* {
    if (f.uses(v) != 1) return nullptr;
    for (NodeId u : g.consumers(v))
      if (g.node(u).op == op) return &g.node(u);
    return nullptr;
  };
  ValueId cur = g.node(norm_node).outputs[0];
  if (const Node* m = sole_user(cur, OpKind::kMul)) {
    const ValueId other = m->inputs[0] == cur ? m->inputs[1] : m->inputs[0];
    if (other != cur) {
      a.scale = other;
      a.root = f.id_of(m);
      nodes.insert(a.root);
      cur = m->outputs[0];
    }
  }
  if (const Node* ad = allow_bias ? sole_user(cur, OpKind::kAdd) : nullptr) {
    const ValueId other = ad->inputs[0] == cur ? ad->inputs[1] : ad->inputs[0];
    if (other != cur && a.scale != kNoValue) {
      a.bias = other;
      a.root = f.id_of(ad);
      nodes.insert(a.root);
    }
  }
  return a;
}

void layer_norm(Graph& graph) {
  Fuser f(graph);
  for_each_root(graph, OpKind::kDiv, [&](NodeId id) {
    const Node& div = graph.node(id);
    // d = x - mean(x)
    const Node* sub = f.producer(div.inputs[0], OpKind::kSub);
    if (!sub) return;
    const ValueId x = sub->inputs[0];
    const Node* mean1 = f.producer(sub->inputs[1], OpKind::kReduceMean);
    if (!mean1 || mean1->inputs[0] != x || mean1->attr_int("keepdims", 1) != 1) return;
    const int64_t rank = graph.value(x).info.rank();
    auto axes = f.reduce_axes(*mean1, rank);
    if (!axes) return;
    auto axis = Fuser::trailing_axis(*axes, rank);
    if (!axis) return;
    // sqrt(mean(d^2) + eps)
    const Node* sq = f.producer(div.inputs[1], OpKind::kSqrt);
    if (!sq) return;
    const Node* add = f.producer(sq->inputs[0], OpKind::kAdd);
    if (!add) return;
    std::set<NodeId> nodes = {id, f.id_of(sub), f.id_of(mean1), f.id_of(sq), f.id_of(add)};
    for (int k = 0; k < 2; ++k) {
      auto eps = f.scalar(add->inputs[static_cast<size_t>(1 - k)]);
      const Node* mean2 = f.producer(add->inputs[static_cast<size_t>(k)], OpKind::kReduceMean);
      if (!eps || !mean2 || mean2->attr_int("keepdims", 1) != 1) continue;
      auto axes2 = f.reduce_axes(*mean2, rank);
      if (!axes2 || *axes2 != *axes) continue;
      std::set<NodeId> all = nodes;
      all.insert(f.id_of(mean2));
      auto d = f.square_of(mean2->inputs[0], all);
      if (!d || *d != div.inputs[0]) continue;
      Affine aff = follow_affine(f, id, all, true);
      if (!f.interior_ok(all, aff.root)) continue;
      ValueId scale = aff.scale;
      if (scale == kNoValue) {
        const auto& xs = graph.value(x).info.shape;
        auto o =
            f.ones(graph.value(x).info.dtype, std::vector<int64_t>(xs.begin() + *axis, xs.end()));
        if (!o) continue;
        scale = *o;
      }
      std::vector<ValueId> in = {x, scale};
      if (aff.bias != kNoValue) in.push_back(aff.bias);
      f.replace(aff.root, OpKind::kLayerNormalization, in, {{"axis", *axis}, {"epsilon", *eps}},
                all);
      return;  // node references are stale once a node was added
    }
  });
}

// ---- RMSNorm ------------------------------------------------------------------------------------

void rms_norm(Graph& graph) {
  Fuser f(graph);
  for_each_root(graph, OpKind::kSqrt, [&](NodeId id) {
    const Node& sq = graph.node(id);
    const Node* add = f.producer(sq.inputs[0], OpKind::kAdd);
    if (!add) return;
    for (int k = 0; k < 2; ++k) {
      auto eps = f.scalar(add->inputs[static_cast<size_t>(1 - k)]);
      const Node* mean = f.producer(add->inputs[static_cast<size_t>(k)], OpKind::kReduceMean);
      if (!eps || !mean || mean->attr_int("keepdims", 1) != 1) continue;
      std::set<NodeId> nodes = {id, f.id_of(add), f.id_of(mean)};
      auto x = f.square_of(mean->inputs[0], nodes);
      if (!x) continue;
      const int64_t rank = graph.value(*x).info.rank();
      auto axes = f.reduce_axes(*mean, rank);
      if (!axes) continue;
      auto axis = Fuser::trailing_axis(*axes, rank);
      if (!axis) continue;
      // x / sqrt(...)  or  x * reciprocal(sqrt(...))
      NodeId norm = -1;
      const ValueId s = sq.outputs[0];
      for (NodeId u : graph.consumers(s)) {
        const Node& n = graph.node(u);
        if (n.op == OpKind::kDiv && n.inputs[0] == *x && n.inputs[1] == s) norm = u;
        if (n.op == OpKind::kReciprocal) {
          for (NodeId w : graph.consumers(n.outputs[0])) {
            const Node& m = graph.node(w);
            if (m.op == OpKind::kMul && (m.inputs[0] == *x || m.inputs[1] == *x)) {
              norm = w;
              nodes.insert(u);
            }
          }
        }
      }
      if (norm < 0) continue;
      nodes.insert(norm);
      Affine aff = follow_affine(f, norm, nodes, false);  // RMSNorm has no bias
      if (!f.interior_ok(nodes, aff.root)) continue;
      ValueId scale = aff.scale;
      if (scale == kNoValue) {
        const auto& xs = graph.value(*x).info.shape;
        auto o =
            f.ones(graph.value(*x).info.dtype, std::vector<int64_t>(xs.begin() + *axis, xs.end()));
        if (!o) continue;
        scale = *o;
      }
      f.replace(aff.root, OpKind::kRMSNormalization, {*x, scale},
                {{"axis", *axis}, {"epsilon", *eps}}, nodes);
      return;  // node references are stale once a node was added
    }
  });
}

// ---- scaled-dot-product attention ---------------------------------------------------------------

/// Peels scalar-constant multiplications / divisions off `v`, multiplying them into `scale`.
ValueId peel_scale(Fuser& f, ValueId v, double& scale, std::set<NodeId>& nodes) {
  for (;;) {
    if (const Node* m = f.producer(v, OpKind::kMul)) {
      bool peeled = false;
      for (int k = 0; k < 2 && !peeled; ++k)
        if (auto c = f.scalar(m->inputs[static_cast<size_t>(1 - k)])) {
          scale *= *c;
          nodes.insert(f.id_of(m));
          v = m->inputs[static_cast<size_t>(k)];
          peeled = true;
        }
      if (peeled) continue;
    }
    if (const Node* d = f.producer(v, OpKind::kDiv)) {
      if (auto c = f.scalar(d->inputs[1]); c && *c != 0) {
        scale /= *c;
        nodes.insert(f.id_of(d));
        v = d->inputs[0];
        continue;
      }
    }
    return v;
  }
}

void attention(Graph& graph) {
  Fuser f(graph);
  for_each_root(graph, OpKind::kMatMul, [&](NodeId id) {
    const Node& pv = graph.node(id);
    const Node* sm = f.producer(pv.inputs[0], OpKind::kSoftmax);
    if (!sm) return;
    const ValueId v = pv.inputs[1];
    const TensorInfo& vi = graph.value(v).info;
    if (vi.rank() != 4) return;
    const int64_t sm_axis = sm->attr_int("axis", -1);
    if (sm_axis != -1 && sm_axis != 3) return;
    std::set<NodeId> nodes = {id, f.id_of(sm)};
    double scale = 1.0;
    ValueId s = peel_scale(f, sm->inputs[0], scale, nodes);
    ValueId mask = kNoValue;
    if (const Node* add = f.producer(s, OpKind::kAdd)) {
      // (scores + mask) * c would scale the mask too: the fused op cannot express that.
      if (scale != 1.0) return;
      // scores + mask: the scores side is the one leading to the QK MatMul.
      for (int k = 0; k < 2; ++k) {
        std::set<NodeId> trial = nodes;
        double trial_scale = scale;
        const ValueId inner =
            peel_scale(f, add->inputs[static_cast<size_t>(k)], trial_scale, trial);
        if (f.producer(inner, OpKind::kMatMul)) {
          mask = add->inputs[static_cast<size_t>(1 - k)];
          nodes = trial;
          nodes.insert(f.id_of(add));
          scale = trial_scale;
          s = inner;
          break;
        }
      }
      if (mask == kNoValue) return;
    }
    const Node* qk = f.producer(s, OpKind::kMatMul);
    if (!qk) return;
    nodes.insert(f.id_of(qk));
    const ValueId q = peel_scale(f, qk->inputs[0], scale, nodes);
    const ValueId kt = peel_scale(f, qk->inputs[1], scale, nodes);
    const TensorInfo& qi = graph.value(q).info;
    const TensorInfo& kti = graph.value(kt).info;
    if (qi.rank() != 4 || kti.rank() != 4 || qi.dtype != vi.dtype || kti.dtype != vi.dtype) return;
    if (mask != kNoValue) {
      const TensorInfo& mi = graph.value(mask).info;
      if (mi.dtype != qi.dtype || mi.rank() < 1 || mi.rank() > 4) return;
    }
    // K (B, H, L, D) from K^T (B, H, D, L): compose with the transpose that made K^T, if any.
    std::vector<int64_t> perm = {0, 1, 3, 2};
    ValueId k_src = kt;
    if (const Node* t = f.producer(kt, OpKind::kTranspose); t && f.uses(kt) == 1) {
      const auto p = t->attr_ints("perm", {});
      if (p.size() == 4) {
        for (auto& e : perm) e = p[static_cast<size_t>(e)];
        k_src = t->inputs[0];
        nodes.insert(f.id_of(t));
      }
    }
    if (!f.interior_ok(nodes, id)) return;
    std::vector<NodeId> extra;
    ValueId k = k_src;
    if (perm != std::vector<int64_t>{0, 1, 2, 3}) {
      const NodeId tn = graph.add_node(OpKind::kTranspose, pv.name + "/key_transpose", {k_src}, 1,
                                       {{"perm", perm}});
      extra.push_back(tn);
      k = graph.node(tn).outputs[0];
    }
    std::vector<ValueId> in = {q, k, v};
    if (mask != kNoValue) in.push_back(mask);
    f.replace(id, OpKind::kAttention, in, {{"scale", scale}}, nodes, extra);
  });
}

}  // namespace

void fuse_silu(Graph& graph, const PassOptions&) {
  silu(graph);
}
void fuse_gelu(Graph& graph, const PassOptions&) {
  gelu(graph);
}
void fuse_layer_norm(Graph& graph, const PassOptions&) {
  layer_norm(graph);
}
void fuse_rms_norm(Graph& graph, const PassOptions&) {
  rms_norm(graph);
}
void fuse_attention(Graph& graph, const PassOptions&) {
  attention(graph);
}

void fuse_patterns(Graph& graph, const PassOptions& options) {
  // LayerNorm before RMSNorm (both start from mean(x^2)); GELU before SiLU is irrelevant (they
  // share no ops); attention last so the norms around it are already single nodes.
  fuse_layer_norm(graph, options);
  fuse_rms_norm(graph, options);
  fuse_gelu(graph, options);
  fuse_silu(graph, options);
  fuse_attention(graph, options);
}

}  // namespace rtx::ir
