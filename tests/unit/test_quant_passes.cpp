// SPDX-License-Identifier: Apache-2.0
// Q/DQ folding (ir/quant_passes): which DQ -> MatMul/Gemm [-> Add -> act -> Q] patterns fold and
// which do not (per-token activation scales, activation zero points, blocks along N, mixed
// types, shared values), what the pass rewrites (shared DequantizeLinear / Transpose paths are
// duplicated, anchors annotated) and that the rewritten graph computes exactly what the
// original computes on the reference evaluator (bit for bit). Also the numerics contract of the
// folded kernels, emulated on the host: the integer path (exact integer sums, scales applied to
// the sum, requantization) agrees bit for bit with the decomposed reference for power-of-two
// scales and within one quantization step otherwise, and the in-kernel dequantization of every
// weight type equals DequantizeLinear's output bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "ir/op_registry.hpp"
#include "ir/passes.hpp"
#include "ir/quant_passes.hpp"
#include "ir/reference.hpp"
#include "rtx/numeric.hpp"

using namespace rtx;
using namespace rtx::ir;

namespace {

using Attrs = std::map<std::string, AttrValue, std::less<>>;

std::mt19937_64& rng() {
  static std::mt19937_64 r(std::random_device{}());
  return r;
}

/// Random integers in [lo, hi] stored as `dtype`.
HostTensor random_ints(DataType dtype, std::vector<int64_t> shape, int lo, int hi) {
  std::uniform_int_distribution<int> u(lo, hi);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng());
  return HostTensor::from_doubles(dtype, std::move(shape), v);
}

/// Random reals in [lo, hi) rounded to `dtype`.
HostTensor random_reals(DataType dtype, std::vector<int64_t> shape, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng());
  return HostTensor::from_doubles(dtype, std::move(shape), v);
}

/// Powers of two 2^e, e uniform in [lo, hi].
HostTensor pow2_scales(DataType dtype, std::vector<int64_t> shape, int lo, int hi) {
  std::uniform_int_distribution<int> u(lo, hi);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = std::ldexp(1.0, u(rng()));
  return HostTensor::from_doubles(dtype, std::move(shape), v);
}

NodeId dq(Graph& g, const std::string& name, ValueId x, ValueId s, ValueId zp = kNoValue, Attrs attrs = {}) {
  std::vector<ValueId> in = {x, s};
  if (zp != kNoValue) in.push_back(zp);
  return g.add_node(OpKind::kDequantizeLinear, name, in, 1, std::move(attrs));
}

NodeId q(Graph& g, const std::string& name, ValueId x, ValueId s, ValueId zp = kNoValue, Attrs attrs = {}) {
  std::vector<ValueId> in = {x, s};
  if (zp != kNoValue) in.push_back(zp);
  return g.add_node(OpKind::kQuantizeLinear, name, in, 1, std::move(attrs));
}

ValueId out(const Graph& g, NodeId n) { return g.node(n).outputs[0]; }

/// An int8 Linear layer: y = Q(relu(DQ(x) @ DQ(w) + b)) with per-channel weight scales.
struct Int8Layer {
  Graph g;
  NodeId dq_x, dq_w, mm, add, relu, qy;
  int64_t m = 5, k = 48, n = 24;
  bool pow2 = true;

  explicit Int8Layer(bool pow2_scales_ = true, DataType mid = DataType::kF32) : pow2(pow2_scales_) {
    const ValueId x = g.add_input("x", DataType::kINT8, {m, k});
    const ValueId sx = g.add_weight("sx", pow2 ? pow2_scales(mid, {}, -6, -3) : random_reals(mid, {}, 0.01, 0.05));
    const ValueId w = g.add_weight("w", random_ints(DataType::kINT8, {k, n}, -127, 127));
    const ValueId sw = g.add_weight("sw", pow2 ? pow2_scales(mid, {n}, -8, -5) : random_reals(mid, {n}, 0.002, 0.02));
    const ValueId b = g.add_weight("b", random_reals(mid, {n}, -1, 1));
    const ValueId sy = g.add_weight("sy", pow2 ? pow2_scales(mid, {}, -4, -2) : random_reals(mid, {}, 0.02, 0.08));
    const ValueId zy = g.add_weight("zy", HostTensor::from_doubles(DataType::kINT8, {}, std::vector<double>{3}));
    dq_x = dq(g, "dq_x", x, sx);
    dq_w = dq(g, "dq_w", w, sw, kNoValue, {{"axis", int64_t{1}}});
    mm = g.add_node(OpKind::kMatMul, "fc", {out(g, dq_x), out(g, dq_w)});
    add = g.add_node(OpKind::kAdd, "fc_bias", {out(g, mm), b});
    relu = g.add_node(OpKind::kRelu, "fc_relu", {out(g, add)});
    qy = q(g, "q_y", out(g, relu), sy, zy);
    g.mark_output(out(g, qy), "y");
    g.infer_shapes();
  }
};

/// Evaluates both graphs on the same inputs and requires byte-identical outputs.
void check_same_outputs(const Graph& original, const Graph& folded, const TensorMap& inputs) {
  const TensorMap a = evaluate(original, inputs);
  const TensorMap b = evaluate(folded, inputs);
  REQUIRE(a.size() == b.size());
  for (const auto& [name, t] : a) {
    INFO("output " << name);
    const auto it = b.find(name);
    REQUIRE(it != b.end());
    REQUIRE(t.dtype() == it->second.dtype());
    REQUIRE(t.shape() == it->second.shape());
    CHECK(std::memcmp(t.data(), it->second.data(), t.byte_size()) == 0);
  }
}

int live_nodes(const Graph& g, OpKind op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += !node.dead && node.op == op;
  return n;
}

}  // namespace

TEST_CASE("an int8 Linear layer with bias, Relu and Q folds into one group") {
  Int8Layer l;
  auto m = match_quant_gemm(l.g, l.mm);
  REQUIRE(m);
  CHECK(m->kind == QuantGemmKind::kInt8);
  CHECK(m->nodes == std::vector<NodeId>{l.dq_x, l.dq_w, l.mm, l.add, l.relu, l.qy});
  CHECK(m->a == l.g.find_value("x"));
  CHECK(m->a_scale == l.g.find_value("sx"));
  CHECK(m->b == l.g.find_value("w"));
  CHECK(m->b_scale == l.g.find_value("sw"));
  CHECK(m->b_zero == kNoValue);
  CHECK(m->bias == l.g.find_value("b"));
  CHECK_FALSE(m->bias_is_gemm_c);
  CHECK(m->y_scale == l.g.find_value("sy"));
  CHECK(m->y_zero == l.g.find_value("zy"));
  CHECK(m->output == l.g.find_value("y"));
  CHECK(m->output_type == DataType::kINT8);
  CHECK(m->mid_type == DataType::kF32);
  CHECK(m->b_granularity == QuantScale::kPerColumn);
  CHECK_FALSE(m->b_k_major);
  CHECK(m->operands() == std::map<std::string, ValueId>{{"a", m->a}, {"a_scale", m->a_scale},
                                                        {"b", m->b}, {"b_scale", m->b_scale},
                                                        {"bias", m->bias}, {"y_scale", m->y_scale},
                                                        {"y_zero", m->y_zero}, {"d", m->output}});
  CHECK(m->describe(l.g) == "int8 MatMul 'fc' (+bias, Relu, Q->i8)");

  Graph folded = l.g;
  fold_quantized_gemms(folded, {});
  folded.verify();
  CHECK(folded.node(l.mm).attr_string(std::string(kQuantGemmAttr), "") == "int8");
  CHECK(find_quant_gemms(folded).size() == 1);
  TensorMap in{{"x", random_ints(DataType::kINT8, {l.m, l.k}, -128, 127)}};
  check_same_outputs(l.g, folded, in);
}

TEST_CASE("a DequantizeLinear shared by three projections is duplicated, one per GEMM") {
  Graph g;
  const ValueId x = g.add_input("x", DataType::kINT8, {2, 7, 32});
  const ValueId sx = g.add_weight("sx", pow2_scales(DataType::kF32, {}, -5, -3));
  const NodeId dq_x = dq(g, "dq_x", x, sx);
  std::vector<NodeId> mms;
  for (const char* p : {"q", "k", "v"}) {
    const std::string s(p);
    const ValueId w = g.add_weight("w" + s, random_ints(DataType::kINT8, {32, 16}, -127, 127));
    const ValueId sw = g.add_weight("s" + s, pow2_scales(DataType::kF32, {}, -7, -5));
    const NodeId d = dq(g, "dq_w" + s, w, sw);
    mms.push_back(g.add_node(OpKind::kMatMul, "proj_" + s, {out(g, dq_x), out(g, d)}));
    g.mark_output(out(g, mms.back()), s);
  }
  // The activation's DQ output is also a graph output: it must survive for that reader.
  g.mark_output(out(g, dq_x), "x_dequantized");
  g.infer_shapes();
  for (NodeId mm : mms) CHECK_FALSE(match_quant_gemm(g, mm));  // shared: not claimable yet

  Graph folded = g;
  fold_quantized_gemms(folded, {});
  folded.verify();
  for (NodeId mm : mms) {
    auto m = match_quant_gemm(folded, mm);
    REQUIRE(m);
    CHECK(m->kind == QuantGemmKind::kInt8);
    CHECK(m->a_dq != dq_x);  // each owns a copy
    CHECK(m->a == x);
    CHECK(m->b_granularity == QuantScale::kPerTensor);
    CHECK(folded.node(mm).attr_string(std::string(kQuantGemmAttr), "") == "int8");
  }
  CHECK(find_quant_gemms(folded).size() == 3);
  CHECK(live_nodes(folded, OpKind::kDequantizeLinear) == 3 + 3 + 1);  // weights, copies, original
  CHECK_FALSE(folded.node(dq_x).dead);

  TensorMap in{{"x", random_ints(DataType::kINT8, {2, 7, 32}, -128, 127)}};
  check_same_outputs(g, folded, in);
}

TEST_CASE("an activation DQ read only by two GEMMs: one copy, the last GEMM keeps the original") {
  Graph g;
  const ValueId x = g.add_input("x", DataType::kINT8, {4, 16});
  const ValueId sx = g.add_weight("sx", pow2_scales(DataType::kF32, {}, -5, -3));
  const NodeId dq_x = dq(g, "dq_x", x, sx);
  for (const char* p : {"a", "b"}) {
    const std::string s(p);
    const ValueId w = g.add_weight("w" + s, random_ints(DataType::kINT8, {16, 8}, -127, 127));
    const ValueId sw = g.add_weight("s" + s, pow2_scales(DataType::kF32, {8}, -7, -5));
    const NodeId d = dq(g, "dq_w" + s, w, sw, kNoValue, {{"axis", int64_t{1}}});
    g.mark_output(out(g, g.add_node(OpKind::kMatMul, "mm_" + s, {out(g, dq_x), out(g, d)})), s);
  }
  g.infer_shapes();
  Graph folded = g;
  fold_quantized_gemms(folded, {});
  CHECK_FALSE(folded.node(dq_x).dead);
  CHECK(live_nodes(folded, OpKind::kDequantizeLinear) == 2 + 2);
  CHECK(find_quant_gemms(folded).size() == 2);
  folded.verify();
  TensorMap in{{"x", random_ints(DataType::kINT8, {4, 16}, -128, 127)}};
  check_same_outputs(g, folded, in);
}

TEST_CASE("weight-only: transposed weights in both orders, blocked scales and zero points") {
  for (int form = 0; form < 3; ++form) {
    CAPTURE(form);
    Graph g;
    const int64_t m = 3, k = 64, n = 16, block = 16;
    const ValueId x = g.add_input("x", DataType::kF16, {m, k});
    NodeId dqw = -1, tr = -1;
    ValueId b_in;
    if (form == 0) {
      // MatMul(x, Transpose(DQ(w))): w stored (N, K), blocks along its axis 1 (K).
      const ValueId w = g.add_weight("w", random_ints(DataType::kINT4, {n, k}, -8, 7));
      const ValueId s = g.add_weight("s", random_reals(DataType::kF16, {n, k / block}, 0.01, 0.1));
      const ValueId z = g.add_weight("z", random_ints(DataType::kINT4, {n, k / block}, -2, 2));
      dqw = dq(g, "dq_w", w, s, z, {{"axis", int64_t{1}}, {"block_size", block}});
      tr = g.add_node(OpKind::kTranspose, "w_t", {out(g, dqw)}, 1, {{"perm", std::vector<int64_t>{1, 0}}});
      b_in = out(g, tr);
    } else if (form == 1) {
      // MatMul(x, DQ(Transpose(w))): the DQ sees (K, N), blocks along its axis 0 (K).
      const ValueId w = g.add_weight("w", random_ints(DataType::kUINT4, {n, k}, 0, 15));
      const ValueId s = g.add_weight("s", random_reals(DataType::kF16, {k / block, n}, 0.01, 0.1));
      const ValueId z = g.add_weight("z", random_ints(DataType::kUINT4, {k / block, n}, 6, 9));
      tr = g.add_node(OpKind::kTranspose, "w_t", {w}, 1, {{"perm", std::vector<int64_t>{1, 0}}});
      dqw = dq(g, "dq_w", out(g, tr), s, z, {{"axis", int64_t{0}}, {"block_size", block}});
      b_in = out(g, dqw);
    } else {
      // MatMul(x, DQ(w)): w stored (K, N), per-channel along N.
      const ValueId w = g.add_weight("w", random_ints(DataType::kINT8, {k, n}, -128, 127));
      const ValueId s = g.add_weight("s", random_reals(DataType::kF16, {n}, 0.01, 0.1));
      dqw = dq(g, "dq_w", w, s, kNoValue, {{"axis", int64_t{1}}});
      b_in = out(g, dqw);
    }
    const NodeId mm = g.add_node(OpKind::kMatMul, "fc", {x, b_in});
    g.mark_output(out(g, mm), "y");
    g.infer_shapes();
    auto grp = match_quant_gemm(g, mm);
    REQUIRE(grp);
    CHECK(grp->kind == QuantGemmKind::kWeightOnly);
    CHECK(grp->a == x);
    CHECK(grp->a_dq == -1);
    CHECK(grp->b == g.find_value("w"));
    CHECK(grp->b_dq == dqw);
    CHECK(grp->b_transpose == tr);
    CHECK(grp->b_k_major == (form != 2));
    if (form == 2) {
      CHECK(grp->b_granularity == QuantScale::kPerColumn);
      CHECK(grp->b_zero == kNoValue);
    } else {
      CHECK(grp->b_granularity == QuantScale::kBlocked);
      CHECK(grp->b_block == block);
      CHECK(grp->b_scale_k_first == (form == 1));
      CHECK(grp->b_zero == g.find_value("z"));
    }
    CHECK(grp->nodes.size() == (form == 2 ? 2u : 3u));
    CHECK(grp->nodes.back() == mm);
    Graph folded = g;
    fold_quantized_gemms(folded, {});
    CHECK(folded.node(mm).attr_string(std::string(kQuantGemmAttr), "") == "weight_only");
    check_same_outputs(g, folded, {{"x", random_reals(DataType::kF16, {m, k}, -1, 1)}});
  }
}

TEST_CASE("Gemm with transB and C folds with C as the bias; fp8 with a non-saturating Q") {
  Graph g;
  const ValueId x = g.add_input("x", DataType::kFP8E4M3, {6, 32});
  const ValueId sx = g.add_weight("sx", pow2_scales(DataType::kF16, {}, -3, -1));
  const ValueId w = g.add_weight("w", random_reals(DataType::kFP8E4M3, {20, 32}, -4, 4));
  const ValueId sw = g.add_weight("sw", pow2_scales(DataType::kF16, {20}, -4, -2));
  const ValueId c = g.add_weight("c", random_reals(DataType::kF16, {1, 20}, -1, 1));
  const ValueId sy = g.add_weight("sy", pow2_scales(DataType::kF16, {}, -2, 0));
  const NodeId dx = dq(g, "dq_x", x, sx);
  const NodeId dw = dq(g, "dq_w", w, sw, kNoValue, {{"axis", int64_t{0}}});
  const NodeId gm = g.add_node(OpKind::kGemm, "gemm", {out(g, dx), out(g, dw), c}, 1,
                               {{"transB", int64_t{1}}, {"alpha", 0.5}, {"beta", 2.0}});
  const NodeId qy = q(g, "q_y", out(g, gm), sy, kNoValue,
                      {{"output_dtype", int64_t{17}}, {"saturate", int64_t{0}}});
  g.mark_output(out(g, qy), "y");
  g.infer_shapes();
  auto m = match_quant_gemm(g, gm);
  REQUIRE(m);
  CHECK(m->kind == QuantGemmKind::kFp8);
  CHECK(m->gemm);
  CHECK(m->b_k_major);
  CHECK(m->b_granularity == QuantScale::kPerColumn);
  CHECK(m->bias == c);
  CHECK(m->bias_is_gemm_c);
  CHECK(m->alpha == 0.5);
  CHECK(m->beta == 2.0);
  CHECK(m->y_q == qy);
  CHECK_FALSE(m->saturate);
  CHECK(m->y_zero == kNoValue);
  CHECK(m->output_type == DataType::kFP8E4M3);
  CHECK(m->mid_type == DataType::kF16);
  CHECK(m->scale_type == DataType::kF16);
}

TEST_CASE("patterns that do not fold") {
  SUBCASE("per-token activation scale") {
    Graph g;
    const ValueId x = g.add_input("x", DataType::kINT8, {4, 8});
    const NodeId dx = dq(g, "dq_x", x, g.add_weight("sx", pow2_scales(DataType::kF32, {4}, -4, -2)),
                         kNoValue, {{"axis", int64_t{0}}});
    const NodeId dw = dq(g, "dq_w", g.add_weight("w", random_ints(DataType::kINT8, {8, 4}, -9, 9)),
                         g.add_weight("sw", pow2_scales(DataType::kF32, {}, -4, -2)));
    const NodeId mm = g.add_node(OpKind::kMatMul, "mm", {out(g, dx), out(g, dw)});
    g.mark_output(out(g, mm), "y");
    g.infer_shapes();
    CHECK_FALSE(match_quant_gemm(g, mm));
    fold_quantized_gemms(g, {});
    CHECK_FALSE(g.node(mm).has_attr(kQuantGemmAttr));
  }
  SUBCASE("nonzero activation zero point") {
    Graph g;
    const ValueId x = g.add_input("x", DataType::kUINT8, {4, 8});
    const ValueId zx = g.add_weight("zx", HostTensor::from_doubles(DataType::kUINT8, {}, std::vector<double>{128}));
    const NodeId dx = dq(g, "dq_x", x, g.add_weight("sx", pow2_scales(DataType::kF32, {}, -4, -2)), zx);
    const NodeId dw = dq(g, "dq_w", g.add_weight("w", random_ints(DataType::kINT8, {8, 4}, -9, 9)),
                         g.add_weight("sw", pow2_scales(DataType::kF32, {}, -4, -2)));
    const NodeId mm = g.add_node(OpKind::kMatMul, "mm", {out(g, dx), out(g, dw)});
    g.mark_output(out(g, mm), "y");
    g.infer_shapes();
    CHECK_FALSE(match_quant_gemm(g, mm));
  }
  SUBCASE("a zero zero point is fine") {
    Graph g;
    const ValueId x = g.add_input("x", DataType::kUINT8, {4, 8});
    const ValueId zx = g.add_weight("zx", HostTensor::from_doubles(DataType::kUINT8, {}, std::vector<double>{0}));
    const NodeId dx = dq(g, "dq_x", x, g.add_weight("sx", pow2_scales(DataType::kF32, {}, -4, -2)), zx);
    const NodeId dw = dq(g, "dq_w", g.add_weight("w", random_ints(DataType::kINT8, {8, 4}, -9, 9)),
                         g.add_weight("sw", pow2_scales(DataType::kF32, {}, -4, -2)));
    const NodeId mm = g.add_node(OpKind::kMatMul, "mm", {out(g, dx), out(g, dw)});
    g.mark_output(out(g, mm), "y");
    g.infer_shapes();
    auto m = match_quant_gemm(g, mm);
    REQUIRE(m);
    CHECK(m->a_type == DataType::kUINT8);
  }
  SUBCASE("blocks along N, and blocked scales with 8-bit activations") {
    for (int64_t axis : {1, 0}) {
      CAPTURE(axis);
      Graph g;
      const ValueId x = g.add_input("x", DataType::kINT8, {4, 32});
      const NodeId dx = dq(g, "dq_x", x, g.add_weight("sx", pow2_scales(DataType::kF32, {}, -4, -2)));
      const std::vector<int64_t> sshape = axis == 1 ? std::vector<int64_t>{32, 2} : std::vector<int64_t>{2, 16};
      const NodeId dw = dq(g, "dq_w", g.add_weight("w", random_ints(DataType::kINT8, {32, 16}, -9, 9)),
                           g.add_weight("sw", pow2_scales(DataType::kF32, sshape, -4, -2)), kNoValue,
                           {{"axis", axis}, {"block_size", int64_t{axis == 1 ? 8 : 16}}});
      const NodeId mm = g.add_node(OpKind::kMatMul, "mm", {out(g, dx), out(g, dw)});
      g.mark_output(out(g, mm), "y");
      g.infer_shapes();
      // axis 1 (N) is never supported; axis 0 (K) is fine for weight-only but cannot factor out
      // of an integer sum.
      CHECK_FALSE(match_quant_gemm(g, mm));
    }
  }
  SUBCASE("int8 activations with an int4 weight; f32 weight-only activations") {
    Graph g;
    const ValueId x = g.add_input("x", DataType::kINT8, {4, 16});
    const NodeId dx = dq(g, "dq_x", x, g.add_weight("sx", pow2_scales(DataType::kF32, {}, -4, -2)));
    const NodeId dw = dq(g, "dq_w", g.add_weight("w", random_ints(DataType::kINT4, {16, 4}, -8, 7)),
                         g.add_weight("sw", pow2_scales(DataType::kF32, {}, -4, -2)));
    const NodeId mm = g.add_node(OpKind::kMatMul, "mm", {out(g, dx), out(g, dw)});
    g.mark_output(out(g, mm), "y");
    const ValueId xf = g.add_input("xf", DataType::kF32, {4, 16});
    const NodeId dw2 = dq(g, "dq_w2", g.add_weight("w2", random_ints(DataType::kINT4, {16, 4}, -8, 7)),
                          g.add_weight("sw2", pow2_scales(DataType::kF32, {}, -4, -2)));
    const NodeId mm2 = g.add_node(OpKind::kMatMul, "mm2", {xf, out(g, dw2)});
    g.mark_output(out(g, mm2), "y2");
    g.infer_shapes();
    CHECK_FALSE(match_quant_gemm(g, mm));
    CHECK_FALSE(match_quant_gemm(g, mm2));  // f32 A: no tensor-core weight-only kernel
  }
  SUBCASE("a MatMul without any DequantizeLinear") {
    Graph g;
    const ValueId x = g.add_input("x", DataType::kF16, {4, 16});
    const ValueId w = g.add_weight("w", random_reals(DataType::kF16, {16, 4}, -1, 1));
    const NodeId mm = g.add_node(OpKind::kMatMul, "mm", {x, w});
    g.mark_output(out(g, mm), "y");
    g.infer_shapes();
    CHECK_FALSE(match_quant_gemm(g, mm));
    CHECK(find_quant_gemms(g).empty());
  }
}

TEST_CASE("the trailing chain stops at values read elsewhere; Q needs the scales' dtype") {
  SUBCASE("the MatMul output is also a graph output") {
    Int8Layer l;
    l.g.mark_output(out(l.g, l.mm), "pre_bias");
    auto m = match_quant_gemm(l.g, l.mm);
    REQUIRE(m);
    CHECK(m->nodes == std::vector<NodeId>{l.dq_x, l.dq_w, l.mm});
    CHECK(m->bias == kNoValue);
    CHECK(m->y_q == -1);
    CHECK(m->output_type == DataType::kF32);
  }
  SUBCASE("the Relu output has a second reader") {
    Int8Layer l;
    const NodeId extra = l.g.add_node(OpKind::kNeg, "neg", {out(l.g, l.relu)});
    l.g.mark_output(out(l.g, extra), "neg");
    l.g.infer_shapes();
    auto m = match_quant_gemm(l.g, l.mm);
    REQUIRE(m);
    CHECK(m->nodes == std::vector<NodeId>{l.dq_x, l.dq_w, l.mm, l.add, l.relu});
    CHECK(m->output == out(l.g, l.relu));
  }
  SUBCASE("a Q with a differently typed scale stays a separate node") {
    Graph g;
    const ValueId x = g.add_input("x", DataType::kINT8, {4, 8});
    const NodeId dx = dq(g, "dq_x", x, g.add_weight("sx", pow2_scales(DataType::kF32, {}, -4, -2)));
    const NodeId dw = dq(g, "dq_w", g.add_weight("w", random_ints(DataType::kINT8, {8, 4}, -9, 9)),
                         g.add_weight("sw", pow2_scales(DataType::kF32, {}, -4, -2)));
    const NodeId mm = g.add_node(OpKind::kMatMul, "mm", {out(g, dx), out(g, dw)});
    const NodeId qy = q(g, "q", out(g, mm), g.add_weight("sy", pow2_scales(DataType::kF16, {}, -2, -1)));
    g.mark_output(out(g, qy), "y");
    g.infer_shapes();
    auto m = match_quant_gemm(g, mm);
    REQUIRE(m);
    CHECK(m->y_q == -1);
    CHECK(m->output == out(g, mm));
  }
}

// ---- numerics of the folded kernels, emulated on the host -----------------------------------

namespace {

/// The qgemm epilogue's QuantizeLinear for an f32 precision (templates/qgemm/common.cuh).
int kernel_requantize(float v, float scale, int zero, int lo, int hi) {
  const float qv = v / scale;
  const float r = qv != qv ? 0.0f : std::fmin(std::fmax(std::nearbyint(qv), -1024.0f), 1024.0f);
  return std::clamp(static_cast<int>(r) + zero, lo, hi);
}

/// The int8 kernel on the host: exact integer sums, acc * (sa * sb[n]) in f32, then the
/// epilogue of Int8Layer (f32 mid: bias add, Relu, Q).
std::vector<int> emulate_int8_layer(const Int8Layer& l, const HostTensor& x) {
  const Graph& g = l.g;
  const auto xs = x.to_ints();
  const auto w = g.constant_data(g.find_value("w"))->to_ints();
  const auto sw = g.constant_data(g.find_value("sw"))->to_doubles();
  const auto b = g.constant_data(g.find_value("b"))->to_doubles();
  const float sx = static_cast<float>(g.constant_data(g.find_value("sx"))->get_double(0));
  const float sy = static_cast<float>(g.constant_data(g.find_value("sy"))->get_double(0));
  const int zy = static_cast<int>(g.constant_data(g.find_value("zy"))->get_int(0));
  std::vector<int> y(static_cast<size_t>(l.m * l.n));
  for (int64_t i = 0; i < l.m; ++i) {
    for (int64_t j = 0; j < l.n; ++j) {
      int32_t acc = 0;
      for (int64_t kk = 0; kk < l.k; ++kk)
        acc += static_cast<int32_t>(xs[static_cast<size_t>(i * l.k + kk)] * w[static_cast<size_t>(kk * l.n + j)]);
      const float s = sx * static_cast<float>(sw[static_cast<size_t>(j)]);
      float v = static_cast<float>(acc) * s;
      v = v + static_cast<float>(b[static_cast<size_t>(j)]);
      v = v < 0.0f ? 0.0f : v;
      y[static_cast<size_t>(i * l.n + j)] = kernel_requantize(v, sy, zy, -128, 127);
    }
  }
  return y;
}

}  // namespace

TEST_CASE("folded int8 arithmetic matches the decomposed reference (bit-exact with 2^k scales)") {
  for (bool pow2 : {true, false}) {
    CAPTURE(pow2);
    for (int trial = 0; trial < 4; ++trial) {
      Int8Layer l(pow2);
      const HostTensor x = random_ints(DataType::kINT8, {l.m, l.k}, -128, 127);
      const auto want = evaluate(l.g, {{"x", x}}).at("y").to_ints();
      const auto got = emulate_int8_layer(l, x);
      int max_diff = 0;
      for (size_t i = 0; i < got.size(); ++i)
        max_diff = std::max(max_diff, std::abs(got[i] - static_cast<int>(want[i])));
      if (pow2) {
        CHECK(max_diff == 0);
      } else {
        CHECK(max_diff <= 1);  // one rounding of the scales' product vs per-element DQ rounding
      }
    }
  }
}

namespace {

/// The qgemm kernels' DequantizeLinear of one element (templates/qgemm/common.cuh, dequantize):
/// the centered value times the scale, in double for an f32 scale and a 16-bit output (exact),
/// else an f32 multiply (exact for 16-bit scales), then one rounding to the output type.
double kernel_dequantize(double centered, double scale, DataType scale_type, DataType out) {
  const auto round_out = [&](double v) {
    return out == DataType::kF16 ? numeric::f16_to_double(numeric::f16_from_double(v))
                                 : numeric::bf16_to_double(numeric::bf16_from_double(v));
  };
  if (scale_type == DataType::kF32) return round_out(centered * scale);
  const float p = static_cast<float>(centered) * static_cast<float>(scale);
  return round_out(static_cast<double>(p));
}

/// The device decoder of one stored element (templates/qgemm/common.cuh, decode).
double kernel_decode(DataType t, unsigned code) {
  switch (t) {
    case DataType::kINT8: return static_cast<signed char>(code);
    case DataType::kUINT8: return code & 0xFF;
    case DataType::kINT4: return static_cast<int>(code << 28) >> 28;
    case DataType::kUINT4: return code & 0xF;
    case DataType::kFP8E4M3: return numeric::fp8e4m3_to_double(static_cast<uint8_t>(code));
    case DataType::kFP8E5M2: return numeric::fp8e5m2_to_double(static_cast<uint8_t>(code));
    case DataType::kFP4E2M1: {
      const unsigned m = code & 7u;
      const double mag = m < 2 ? 0.5 * m : (2 + (m & 1)) * static_cast<double>(1 << ((m >> 1) - 1)) * 0.5;
      return (code & 8u) ? -mag : mag;
    }
    default: return NAN;
  }
}

}  // namespace

TEST_CASE("in-kernel dequantization of every weight type equals DequantizeLinear bit for bit") {
  const std::vector<DataType> types = {DataType::kINT8, DataType::kUINT8, DataType::kINT4,
                                       DataType::kUINT4, DataType::kFP8E4M3, DataType::kFP8E5M2,
                                       DataType::kFP4E2M1};
  for (DataType wt : types) {
    for (DataType st : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
      for (DataType outt : {DataType::kF16, DataType::kBF16}) {
        CAPTURE(to_string(wt));
        CAPTURE(to_string(st));
        CAPTURE(to_string(outt));
        const int64_t k = 64, n = 8, block = 32;
        // Every code of the type appears (4-bit: all 16; 8-bit: all 256 over the tensor).
        const int codes = bit_width(wt) == 4 ? 16 : 256;
        HostTensor w(wt, {k, n});
        for (int64_t i = 0; i < k * n; ++i) {
          const auto code = static_cast<uint8_t>((i * 37 + 11) % codes);
          if (bit_width(wt) == 4) {
            numeric::set_nibble(reinterpret_cast<uint8_t*>(w.mutable_data()), i, code);
          } else {
            reinterpret_cast<uint8_t*>(w.mutable_data())[i] = code;
          }
        }
        if (wt == DataType::kFP8E4M3)  // NaN codes (0x7F/0xFF) decode to NaN in both
          for (int64_t i = 0; i < k * n; ++i) {
            auto* p = reinterpret_cast<uint8_t*>(w.mutable_data()) + i;
            if ((*p & 0x7F) == 0x7F) *p = 0x12;
          }
        const bool is_int = is_integer(wt);
        const HostTensor s = random_reals(st, {k / block, n}, 0.001, 3.0);
        HostTensor z;
        if (is_int) z = random_ints(wt, {k / block, n}, wt == DataType::kUINT4 ? 0 : -3, wt == DataType::kUINT4 ? 15 : 3);
        Node node;
        node.op = OpKind::kDequantizeLinear;
        node.attrs = {{"axis", int64_t{0}}, {"block_size", block},
                      {"output_dtype", int64_t{outt == DataType::kF16 ? 10 : 16}}};
        std::vector<HostTensor> ins = {w, s};
        if (is_int) ins.push_back(z);
        node.inputs = is_int ? std::vector<ValueId>{0, 1, 2} : std::vector<ValueId>{0, 1};
        node.outputs = {3};
        const HostTensor want = evaluate_node(node, ins)[0];
        int mismatches = 0;
        for (int64_t i = 0; i < k * n; ++i) {
          const int64_t kk = i / n, nn = i % n, si = (kk / block) * n + nn;
          const unsigned code = bit_width(wt) == 4
                                    ? numeric::get_nibble(reinterpret_cast<const uint8_t*>(w.data()), i)
                                    : reinterpret_cast<const uint8_t*>(w.data())[i];
          const double zp = is_int ? static_cast<double>(z.get_int(si)) : 0.0;
          const double got = kernel_dequantize(kernel_decode(wt, code) - zp, s.get_double(si), st, outt);
          const double ref = want.get_double(i);
          if (!(got == ref || (std::isnan(got) && std::isnan(ref)))) ++mismatches;
        }
        CHECK(mismatches == 0);
      }
    }
  }
}

// ---- quantized convolutions --------------------------------------------------------------------

namespace {

/// An int8 convolution: y = Q(relu(Conv(DQ(x), DQ(w)) + B)) by default; every part can change.
struct Int8Conv {
  Graph g;
  NodeId dq_x = -1, dq_w = -1, conv = -1, relu = -1, qy = -1;
  ValueId x = kNoValue;

  struct Options {
    DataType x_type = DataType::kINT8;
    DataType w_type = DataType::kINT8;
    DataType mid = DataType::kF32;
    bool per_channel = true;
    int64_t w_axis = 0;          // the per-axis scale's axis
    bool bias = true;
    bool relu = true;
    bool q = true;
    DataType q_type = DataType::kINT8;
    double x_zero = 0, w_zero = 0;  // zero points (added as inputs when nonzero or `zeros`)
    bool zeros = false;
    int64_t group = 1;
  };

  explicit Int8Conv(const Options& o) {
    const int64_t n = 2, c = 8, h = 7, wd = 9, m = 16;
    x = g.add_input("x", o.x_type, {n, c, h, wd});
    const ValueId sx = g.add_weight("sx", pow2_scales(o.mid, {}, -6, -3));
    const ValueId w = g.add_weight("w", random_ints(o.w_type, {m, c / o.group, 3, 3}, o.w_type == DataType::kUINT8 ? 0 : -127, 127));
    const int64_t scale_len = o.w_axis == 0 ? m : c / o.group;
    const ValueId sw = g.add_weight("sw", pow2_scales(o.mid, o.per_channel ? std::vector<int64_t>{scale_len} : std::vector<int64_t>{}, -8, -5));
    ValueId zx = kNoValue, zw = kNoValue;
    if (o.zeros || o.x_zero != 0)
      zx = g.add_weight("zx", HostTensor::from_doubles(o.x_type, {}, std::vector<double>{o.x_zero}));
    if (o.zeros || o.w_zero != 0) {
      const std::vector<int64_t> zs = o.per_channel ? std::vector<int64_t>{scale_len} : std::vector<int64_t>{};
      zw = g.add_weight("zw", HostTensor::from_doubles(o.w_type, zs, std::vector<double>(o.per_channel ? scale_len : 1, o.w_zero)));
    }
    dq_x = dq(g, "dq_x", x, sx, zx);
    Attrs wa;
    if (o.per_channel) wa["axis"] = o.w_axis;
    dq_w = dq(g, "dq_w", w, sw, zw, wa);
    std::vector<ValueId> in = {out(g, dq_x), out(g, dq_w)};
    if (o.bias) in.push_back(g.add_weight("b", random_reals(o.mid, {m}, -1, 1)));
    conv = g.add_node(OpKind::kConv, "conv", in, 1,
                      {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"strides", std::vector<int64_t>{2, 1}},
                       {"group", o.group}});
    ValueId y = out(g, conv);
    if (o.relu) {
      relu = g.add_node(OpKind::kRelu, "relu", {y});
      y = out(g, relu);
    }
    if (o.q) {
      const ValueId sy = g.add_weight("sy", pow2_scales(o.mid, {}, -4, -2));
      const ValueId zy = g.add_weight("zy", HostTensor::from_doubles(o.q_type, {}, std::vector<double>{o.q_type == DataType::kUINT8 ? 120.0 : -3.0}));
      Attrs qa;
      if (o.q_type == DataType::kFP8E4M3) qa["output_dtype"] = int64_t{17};
      qy = o.q_type == DataType::kFP8E4M3 ? q(g, "q_y", y, sy, kNoValue, qa) : q(g, "q_y", y, sy, zy);
      y = out(g, qy);
    }
    g.mark_output(y, "y");
    g.infer_shapes();
  }

  TensorMap inputs() const {
    return {{"x", random_ints(g.value(x).info.dtype, {2, 8, 7, 9}, g.value(x).info.dtype == DataType::kUINT8 ? 0 : -128, 127)}};
  }
};

}  // namespace

TEST_CASE("an int8 Conv with bias, Relu and Q folds into one group; the graph computes the same") {
  for (DataType mid : {DataType::kF32, DataType::kF16}) {
    CAPTURE(to_string(mid));
    Int8Conv::Options o;
    o.mid = mid;
    Int8Conv l(o);
    auto m = match_quant_conv(l.g, l.conv);
    REQUIRE(m);
    CHECK(m->nodes == std::vector<NodeId>{l.dq_x, l.dq_w, l.conv, l.relu, l.qy});
    CHECK(m->per_channel);
    CHECK(m->x_type == DataType::kINT8);
    CHECK(m->mid_type == mid);
    CHECK(m->output_type == DataType::kINT8);
    CHECK(m->bias != kNoValue);
    CHECK(m->y_zero != kNoValue);
    const auto ops = m->operands();
    CHECK(ops.count("x") == 1);
    CHECK(ops.count("w_scale") == 1);
    CHECK(ops.at("y") == l.g.node(l.qy).outputs[0]);
    CHECK(m->describe(l.g).find("per-channel, +bias") != std::string::npos);
    // GEMM matching ignores convolutions.
    CHECK_FALSE(match_quant_gemm(l.g, l.conv));
    CHECK(find_quant_gemms(l.g).empty());
    Graph folded = l.g;
    fold_quantized_gemms(folded, {});
    CHECK(folded.node(l.conv).attr_string(std::string(kQuantGemmAttr), "") == "int8");
    CHECK(find_quant_convs(folded).size() == 1);
    check_same_outputs(l.g, folded, l.inputs());
  }
}

TEST_CASE("int8 Conv variants that fold: per-tensor scale, no bias, no Q, uint8, zero zero points, groups") {
  const auto folds = [](const Int8Conv::Options& o) {
    Int8Conv l(o);
    Graph folded = l.g;
    fold_quantized_gemms(folded, {});
    const bool ok = folded.node(l.conv).attr_string(std::string(kQuantGemmAttr), "") == "int8";
    if (ok) check_same_outputs(l.g, folded, l.inputs());
    return ok;
  };
  Int8Conv::Options o;
  o.per_channel = false;
  CHECK(folds(o));
  o = {};
  o.bias = false;
  o.relu = false;
  CHECK(folds(o));
  o = {};
  o.q = false;
  {
    Int8Conv l(o);
    auto m = match_quant_conv(l.g, l.conv);
    REQUIRE(m);
    CHECK(m->output_type == DataType::kF32);
    CHECK(m->nodes.back() == l.relu);
  }
  o = {};
  o.x_type = DataType::kUINT8;
  o.q_type = DataType::kUINT8;
  CHECK(folds(o));
  o = {};
  o.zeros = true;  // explicit all-zero zero points
  CHECK(folds(o));
  o = {};
  o.group = 2;
  CHECK(folds(o));
}

TEST_CASE("int8 Conv patterns that do not fold stay DQ + float Conv") {
  const auto stays = [](const Int8Conv::Options& o) {
    Int8Conv l(o);
    CHECK_FALSE(match_quant_conv(l.g, l.conv));
    Graph folded = l.g;
    fold_quantized_gemms(folded, {});
    CHECK_FALSE(folded.node(l.conv).has_attr(kQuantGemmAttr));
    CHECK(find_quant_convs(folded).empty());
  };
  SUBCASE("nonzero activation zero point (padding would be nonzero)") {
    Int8Conv::Options o;
    o.x_type = DataType::kUINT8;
    o.x_zero = 128;
    stays(o);
  }
  SUBCASE("nonzero weight zero point") {
    Int8Conv::Options o;
    o.w_zero = 2;
    stays(o);
  }
  SUBCASE("weight scale along the input channels") {
    Int8Conv::Options o;
    o.w_axis = 1;
    stays(o);
  }
  SUBCASE("float activations (weight-only conv is not folded)") {
    Graph g;
    const ValueId x = g.add_input("x", DataType::kF16, {1, 8, 5, 5});
    const NodeId dw = dq(g, "dq_w", g.add_weight("w", random_ints(DataType::kINT8, {4, 8, 1, 1}, -9, 9)),
                         g.add_weight("sw", pow2_scales(DataType::kF16, {}, -4, -2)));
    const NodeId conv = g.add_node(OpKind::kConv, "conv", {x, out(g, dw)});
    g.mark_output(out(g, conv), "y");
    g.infer_shapes();
    CHECK_FALSE(match_quant_conv(g, conv));
  }
  SUBCASE("an fp8 output Q is not folded: the Conv folds without it") {
    Int8Conv::Options o;
    o.q_type = DataType::kFP8E4M3;
    Int8Conv l(o);
    auto m = match_quant_conv(l.g, l.conv);
    REQUIRE(m);
    CHECK(m->y_q == -1);
    CHECK(m->output_type == DataType::kF32);
  }
}

TEST_CASE("a DequantizeLinear of x shared by two convolutions is duplicated, one per Conv") {
  Graph g;
  const ValueId x = g.add_input("x", DataType::kINT8, {1, 8, 6, 6});
  const NodeId dx = dq(g, "dq_x", x, g.add_weight("sx", pow2_scales(DataType::kF32, {}, -5, -3)));
  std::vector<NodeId> convs;
  for (int i = 0; i < 2; ++i) {
    const std::string s = std::to_string(i);
    const NodeId dw = dq(g, "dq_w" + s, g.add_weight("w" + s, random_ints(DataType::kINT8, {8, 8, 1, 1}, -99, 99)),
                         g.add_weight("sw" + s, pow2_scales(DataType::kF32, {8}, -8, -6)), kNoValue,
                         {{"axis", int64_t{0}}});
    convs.push_back(g.add_node(OpKind::kConv, "conv" + s, {out(g, dx), out(g, dw)}));
    g.mark_output(out(g, convs.back()), "y" + s);
  }
  g.infer_shapes();
  for (NodeId c : convs) CHECK_FALSE(match_quant_conv(g, c));
  Graph folded = g;
  fold_quantized_gemms(folded, {});
  for (NodeId c : convs) {
    CHECK(match_quant_conv(folded, c));
    CHECK(folded.node(c).attr_string(std::string(kQuantGemmAttr), "") == "int8");
  }
  CHECK(find_quant_convs(folded).size() == 2);
  check_same_outputs(g, folded, {{"x", random_ints(DataType::kINT8, {1, 8, 6, 6}, -128, 127)}});
}
