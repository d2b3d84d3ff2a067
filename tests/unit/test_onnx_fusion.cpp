// SPDX-License-Identifier: Apache-2.0
// Pattern fusion (ir/fusion.cpp): each rewrite is proven by running the decomposed graph and the
// fused graph on the reference evaluator with the same random inputs. In f64 the two agree to
// ~1e-13 (the rewrite is exact); in f32 to ~1e-7 (the chain rounds at each step, the fused op
// once). Negative cases check that near-misses (a wrong constant, an inner value used elsewhere,
// a non-trailing axis) are left alone.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "ir/fusion.hpp"
#include "ir/graph.hpp"
#include "ir/reference.hpp"
#include "test_onnx_util.hpp"

namespace rtx::test {
namespace {

using ir::OpKind;
using ir::ValueId;
using Attrs = std::map<std::string, ir::AttrValue, std::less<>>;

/// A graph under construction with terse helpers.
struct Builder {
  ir::Graph g;
  DataType dtype = DataType::kF32;
  explicit Builder(DataType t = DataType::kF32) : dtype(t) {}
  ValueId in(const std::string& name, std::vector<int64_t> shape) {
    return g.add_input(name, dtype, std::move(shape));
  }
  ValueId c(double v) { return g.add_constant(HostTensor::scalar(dtype, v)); }
  ValueId ints(std::vector<int64_t> v) {
    return g.add_constant(
        HostTensor::from_vector(DataType::kINT64, {static_cast<int64_t>(v.size())}, v));
  }
  ValueId w(const std::string& name, std::vector<int64_t> shape, double base) {
    HostTensor t(dtype, shape);
    for (int64_t i = 0; i < t.element_count(); ++i)
      t.set_double(i, base + 0.1 * static_cast<double>(i));
    return g.add_weight(name, t);
  }
  ValueId op(OpKind k, std::vector<ValueId> inputs, Attrs attrs = {}) {
    const ir::NodeId id = g.add_node(k, {}, std::move(inputs), 1, std::move(attrs));
    g.infer_node(id);
    return g.node(id).outputs[0];
  }
  void out(ValueId v) { g.mark_output(v, "y"); }
};

HostTensor random_tensor(DataType t, const std::vector<int64_t>& shape, std::mt19937& rng,
                         double lo = -2, double hi = 2) {
  std::uniform_real_distribution<double> u(lo, hi);
  HostTensor h(t, shape);
  for (int64_t i = 0; i < h.element_count(); ++i) h.set_double(i, u(rng));
  return h;
}

int count(const ir::Graph& g, OpKind op) {
  int n = 0;
  for (const auto& node : g.nodes()) n += !node.dead && node.op == op;
  return n;
}

/// Fuses a copy of `b.g` and compares both on random inputs. Returns the largest error relative
/// to the largest output magnitude; `fused` is the fused graph.
double fuse_and_compare(const Builder& b, ir::Graph& fused, uint32_t seed = 7) {
  fused = b.g;
  ir::PassOptions po;
  ir::fuse_patterns(fused, po);
  ir::remove_dead_nodes(fused, po);
  fused.verify();
  std::mt19937 rng(seed);
  ir::TensorMap inputs;
  for (ValueId v : b.g.inputs())
    inputs[b.g.value(v).name] =
        random_tensor(b.g.value(v).info.dtype, b.g.value(v).info.shape, rng);
  const auto want = ir::evaluate(b.g, inputs).at("y");
  const auto got = ir::evaluate(fused, inputs).at("y");
  REQUIRE(got.shape() == want.shape());
  REQUIRE(got.dtype() == want.dtype());
  double scale = 0, err = 0;
  for (int64_t i = 0; i < want.element_count(); ++i) {
    scale = std::max(scale, std::fabs(want.get_double(i)));
    err = std::max(err, std::fabs(got.get_double(i) - want.get_double(i)));
  }
  return scale > 0 ? err / scale : err;
}

// ---- SiLU ---------------------------------------------------------------------------------------

TEST_CASE("fusion: x * sigmoid(x) -> Silu") {
  for (DataType t : {DataType::kF32, DataType::kF64}) {
    Builder b(t);
    const ValueId x = b.in("x", {3, 5});
    b.out(b.op(OpKind::kMul, {b.op(OpKind::kSigmoid, {x}), x}));
    ir::Graph f;
    const double err = fuse_and_compare(b, f);
    CHECK(count(f, OpKind::kSilu) == 1);
    CHECK(count(f, OpKind::kMul) == 0);
    CHECK(err <= (t == DataType::kF64 ? 1e-13 : 1e-6));
  }
  // The sigmoid is also a graph output: it must stay, so no fusion.
  Builder b;
  const ValueId x = b.in("x", {4});
  const ValueId s = b.op(OpKind::kSigmoid, {x});
  b.out(b.op(OpKind::kMul, {x, s}));
  b.g.mark_output(s, "s");
  ir::Graph f;
  fuse_and_compare(b, f);
  CHECK(count(f, OpKind::kSilu) == 0);
}

// ---- GELU ---------------------------------------------------------------------------------------

TEST_CASE("fusion: GELU erf forms -> Gelu") {
  const double r2 = std::numbers::sqrt2;
  for (DataType t : {DataType::kF32, DataType::kF64}) {
    SUBCASE("PyTorch: ((erf(x / sqrt2) + 1) * x) * 0.5") {
      Builder b(t);
      const ValueId x = b.in("x", {2, 8});
      const ValueId e = b.op(OpKind::kErf, {b.op(OpKind::kDiv, {x, b.c(r2)})});
      b.out(
          b.op(OpKind::kMul, {b.op(OpKind::kMul, {x, b.op(OpKind::kAdd, {e, b.c(1)})}), b.c(0.5)}));
      ir::Graph f;
      const double err = fuse_and_compare(b, f);
      CHECK(count(f, OpKind::kGelu) == 1);
      CHECK(count(f, OpKind::kErf) == 0);
      CHECK(err <= (t == DataType::kF64 ? 1e-13 : 1e-6));
    }
    SUBCASE("Hugging Face: (x * 0.5) * (1 + erf(x * 0.70710678))") {
      Builder b(t);
      const ValueId x = b.in("x", {2, 8});
      const ValueId e = b.op(OpKind::kErf, {b.op(OpKind::kMul, {x, b.c(1 / r2)})});
      b.out(
          b.op(OpKind::kMul, {b.op(OpKind::kMul, {x, b.c(0.5)}), b.op(OpKind::kAdd, {b.c(1), e})}));
      ir::Graph f;
      const double err = fuse_and_compare(b, f);
      CHECK(count(f, OpKind::kGelu) == 1);
      CHECK(err <= (t == DataType::kF64 ? 1e-13 : 1e-6));
    }
  }
  // Near miss: 0.6 instead of 0.5.
  Builder b;
  const ValueId x = b.in("x", {4});
  const ValueId e = b.op(OpKind::kErf, {b.op(OpKind::kDiv, {x, b.c(r2)})});
  b.out(b.op(OpKind::kMul, {b.op(OpKind::kMul, {x, b.op(OpKind::kAdd, {e, b.c(1)})}), b.c(0.6)}));
  ir::Graph f;
  fuse_and_compare(b, f);
  CHECK(count(f, OpKind::kGelu) == 0);
}

TEST_CASE("fusion: GELU tanh form -> Gelu(approximate=tanh)") {
  const double k = std::sqrt(2.0 / std::numbers::pi);
  for (bool pow_form : {true, false}) {
    for (DataType t : {DataType::kF32, DataType::kF64}) {
      Builder b(t);
      const ValueId x = b.in("x", {3, 7});
      const ValueId cube = pow_form ? b.op(OpKind::kPow, {x, b.c(3)})
                                    : b.op(OpKind::kMul, {b.op(OpKind::kMul, {x, x}), x});
      const ValueId inner = b.op(OpKind::kAdd, {x, b.op(OpKind::kMul, {b.c(0.044715), cube})});
      const ValueId th = b.op(OpKind::kTanh, {b.op(OpKind::kMul, {b.c(k), inner})});
      b.out(b.op(OpKind::kMul,
                 {b.op(OpKind::kMul, {b.c(0.5), x}), b.op(OpKind::kAdd, {b.c(1), th})}));
      ir::Graph f;
      const double err = fuse_and_compare(b, f);
      REQUIRE(count(f, OpKind::kGelu) == 1);
      for (const auto& n : f.nodes())
        if (!n.dead && n.op == OpKind::kGelu) CHECK(n.attr_string("approximate", "none") == "tanh");
      CHECK(count(f, OpKind::kTanh) == 0);
      CHECK(err <= (t == DataType::kF64 ? 1e-13 : 1e-6));
    }
  }
}

// ---- LayerNorm
// -----------------------------------------------------------------------------------

/// ReduceMean / Sub / Pow / ReduceMean / Add / Sqrt / Div [/ Mul / Add] over `axes`.
ValueId decomposed_layer_norm(Builder& b, ValueId x, std::vector<int64_t> axes, double eps,
                              ValueId gamma, ValueId beta) {
  const ValueId mean = b.op(OpKind::kReduceMean, {x, b.ints(axes)}, {{"keepdims", int64_t{1}}});
  const ValueId d = b.op(OpKind::kSub, {x, mean});
  const ValueId var = b.op(OpKind::kReduceMean, {b.op(OpKind::kPow, {d, b.c(2)}), b.ints(axes)},
                           {{"keepdims", int64_t{1}}});
  const ValueId den = b.op(OpKind::kSqrt, {b.op(OpKind::kAdd, {var, b.c(eps)})});
  ValueId y = b.op(OpKind::kDiv, {d, den});
  if (gamma != ir::kNoValue) y = b.op(OpKind::kMul, {y, gamma});
  if (beta != ir::kNoValue) y = b.op(OpKind::kAdd, {y, beta});
  return y;
}

TEST_CASE("fusion: decomposed LayerNorm -> LayerNormalization") {
  for (DataType t : {DataType::kF32, DataType::kF64}) {
    SUBCASE("last axis with scale and bias") {
      Builder b(t);
      const ValueId x = b.in("x", {2, 3, 16});
      b.out(decomposed_layer_norm(b, x, {-1}, 1e-5, b.w("gamma", {16}, 0.5),
                                  b.w("beta", {16}, -0.3)));
      ir::Graph f;
      const double err = fuse_and_compare(b, f);
      REQUIRE(count(f, OpKind::kLayerNormalization) == 1);
      CHECK(count(f, OpKind::kReduceMean) == 0);
      for (const auto& n : f.nodes())
        if (!n.dead && n.op == OpKind::kLayerNormalization) {
          CHECK(n.attr_int("axis", 0) == 2);
          CHECK(n.attr_float("epsilon", 0) == doctest::Approx(1e-5).epsilon(1e-6));
        }
      CHECK(err <= (t == DataType::kF64 ? 1e-12 : 1e-6));
    }
    SUBCASE("two trailing axes, no affine") {
      Builder b(t);
      const ValueId x = b.in("x", {2, 4, 5});
      b.out(decomposed_layer_norm(b, x, {1, 2}, 1e-3, ir::kNoValue, ir::kNoValue));
      ir::Graph f;
      const double err = fuse_and_compare(b, f);
      CHECK(count(f, OpKind::kLayerNormalization) == 1);
      CHECK(err <= (t == DataType::kF64 ? 1e-12 : 1e-6));
    }
  }
  SUBCASE("a non-trailing axis is not a LayerNorm") {
    Builder b;
    const ValueId x = b.in("x", {2, 3, 4});
    b.out(decomposed_layer_norm(b, x, {1}, 1e-5, ir::kNoValue, ir::kNoValue));
    ir::Graph f;
    fuse_and_compare(b, f);
    CHECK(count(f, OpKind::kLayerNormalization) == 0);
  }
  SUBCASE("the mean also feeds something else: no fusion") {
    Builder b;
    const ValueId x = b.in("x", {2, 4});
    const ValueId mean = b.op(OpKind::kReduceMean, {x, b.ints({-1})}, {{"keepdims", int64_t{1}}});
    const ValueId d = b.op(OpKind::kSub, {x, mean});
    const ValueId var = b.op(OpKind::kReduceMean, {b.op(OpKind::kMul, {d, d}), b.ints({-1})},
                             {{"keepdims", int64_t{1}}});
    const ValueId y =
        b.op(OpKind::kDiv, {d, b.op(OpKind::kSqrt, {b.op(OpKind::kAdd, {var, b.c(1e-5)})})});
    b.out(b.op(OpKind::kAdd, {y, mean}));
    ir::Graph f;
    fuse_and_compare(b, f);
    CHECK(count(f, OpKind::kLayerNormalization) == 0);
  }
}

// ---- RMSNorm
// -------------------------------------------------------------------------------------

TEST_CASE("fusion: decomposed RMSNorm -> RMSNormalization") {
  for (bool reciprocal : {false, true}) {
    for (DataType t : {DataType::kF32, DataType::kF64}) {
      Builder b(t);
      const ValueId x = b.in("x", {2, 3, 8});
      const ValueId ms = b.op(OpKind::kReduceMean, {b.op(OpKind::kPow, {x, b.c(2)}), b.ints({-1})},
                              {{"keepdims", int64_t{1}}});
      const ValueId rms = b.op(OpKind::kSqrt, {b.op(OpKind::kAdd, {ms, b.c(1e-6)})});
      const ValueId n = reciprocal ? b.op(OpKind::kMul, {x, b.op(OpKind::kReciprocal, {rms})})
                                   : b.op(OpKind::kDiv, {x, rms});
      b.out(b.op(OpKind::kMul, {b.w("g", {8}, 0.7), n}));
      ir::Graph f;
      const double err = fuse_and_compare(b, f);
      REQUIRE(count(f, OpKind::kRMSNormalization) == 1);
      CHECK(count(f, OpKind::kSqrt) == 0);
      CHECK(err <= (t == DataType::kF64 ? 1e-12 : 1e-6));
    }
  }
  SUBCASE("a bias after the scale stays an Add") {
    Builder b;
    const ValueId x = b.in("x", {2, 8});
    const ValueId ms = b.op(OpKind::kReduceMean, {b.op(OpKind::kMul, {x, x}), b.ints({1})},
                            {{"keepdims", int64_t{1}}});
    const ValueId n =
        b.op(OpKind::kDiv, {x, b.op(OpKind::kSqrt, {b.op(OpKind::kAdd, {ms, b.c(1e-6)})})});
    b.out(b.op(OpKind::kAdd, {b.op(OpKind::kMul, {n, b.w("g", {8}, 1.0)}), b.w("bias", {8}, 0.2)}));
    ir::Graph f;
    const double err = fuse_and_compare(b, f);
    CHECK(count(f, OpKind::kRMSNormalization) == 1);
    CHECK(count(f, OpKind::kAdd) == 1);
    CHECK(err <= 1e-6);
  }
}

// ---- attention
// -----------------------------------------------------------------------------------

TEST_CASE("fusion: scaled-dot-product attention -> Attention") {
  const int64_t B = 2, H = 3, S = 4, L = 5, D = 8;
  for (DataType t : {DataType::kF32, DataType::kF64}) {
    SUBCASE("MatMul(Q, Transpose(K)) / sqrt(D) + mask -> Softmax -> MatMul(V)") {
      Builder b(t);
      const ValueId q = b.in("q", {B, H, S, D});
      const ValueId k = b.in("k", {B, H, L, D});
      const ValueId v = b.in("v", {B, H, L, D});
      const ValueId mask = b.in("mask", {B, 1, S, L});
      const ValueId kt =
          b.op(OpKind::kTranspose, {k}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
      const ValueId s = b.op(
          OpKind::kDiv, {b.op(OpKind::kMatMul, {q, kt}), b.c(std::sqrt(static_cast<double>(D)))});
      const ValueId p =
          b.op(OpKind::kSoftmax, {b.op(OpKind::kAdd, {s, mask})}, {{"axis", int64_t{-1}}});
      b.out(b.op(OpKind::kMatMul, {p, v}));
      ir::Graph f;
      const double err = fuse_and_compare(b, f);
      REQUIRE(count(f, OpKind::kAttention) == 1);
      CHECK(count(f, OpKind::kSoftmax) == 0);
      CHECK(count(f, OpKind::kTranspose) == 0);  // K^T's transpose cancels against Attention's
      CHECK(err <= (t == DataType::kF64 ? 1e-12 : 1e-6));
    }
    SUBCASE("PyTorch's SDPA export: Q and K^T each scaled by sqrt(scale), K from (B, L, H, D)") {
      Builder b(t);
      const ValueId q = b.in("q", {B, H, S, D});
      const ValueId k = b.in("k", {B, L, H, D});
      const ValueId v = b.in("v", {B, H, L, D});
      const double rs = std::sqrt(1.0 / std::sqrt(static_cast<double>(D)));
      const ValueId kt =
          b.op(OpKind::kTranspose, {k}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}});
      const ValueId qk = b.op(
          OpKind::kMatMul, {b.op(OpKind::kMul, {q, b.c(rs)}), b.op(OpKind::kMul, {kt, b.c(rs)})});
      const ValueId p = b.op(OpKind::kSoftmax, {qk}, {{"axis", int64_t{3}}});
      b.out(b.op(OpKind::kMatMul, {p, v}));
      ir::Graph f;
      const double err = fuse_and_compare(b, f);
      REQUIRE(count(f, OpKind::kAttention) == 1);
      CHECK(count(f, OpKind::kTranspose) == 1);  // (B, L, H, D) -> (B, H, L, D)
      CHECK(err <= (t == DataType::kF64 ? 1e-12 : 1e-6));
    }
  }
  SUBCASE("softmax over another axis is not attention") {
    Builder b;
    const ValueId q = b.in("q", {1, 1, 3, 2});
    const ValueId kt = b.in("kt", {1, 1, 2, 3});
    const ValueId v = b.in("v", {1, 1, 3, 2});
    const ValueId p =
        b.op(OpKind::kSoftmax, {b.op(OpKind::kMatMul, {q, kt})}, {{"axis", int64_t{2}}});
    b.out(b.op(OpKind::kMatMul, {p, v}));
    ir::Graph f;
    fuse_and_compare(b, f);
    CHECK(count(f, OpKind::kAttention) == 0);
  }
  SUBCASE("a scale applied after the mask add is not fused") {
    Builder b;
    const ValueId q = b.in("q", {1, 1, 3, 2});
    const ValueId kt = b.in("kt", {1, 1, 2, 3});
    const ValueId v = b.in("v", {1, 1, 3, 2});
    const ValueId mask = b.in("mask", {1, 1, 3, 3});
    const ValueId s =
        b.op(OpKind::kMul, {b.op(OpKind::kAdd, {b.op(OpKind::kMatMul, {q, kt}), mask}), b.c(0.5)});
    b.out(b.op(OpKind::kMatMul, {b.op(OpKind::kSoftmax, {s}, {{"axis", int64_t{-1}}}), v}));
    ir::Graph f;
    fuse_and_compare(b, f);
    CHECK(count(f, OpKind::kAttention) == 0);
  }
}

TEST_CASE("fusion runs at ONNX import (and can be switched off)") {
  // y = x * sigmoid(x) in ONNX
  ModelBuilder m(17);
  m.input("x", 1, {4});
  m.node("Sigmoid", {"x"}, {"s"});
  m.node("Mul", {"x", "s"}, {"y"});
  m.output("y");
  CHECK(count_ops(parse_ok(m), OpKind::kSilu) == 1);
  onnx::ParserOptions off;
  off.fuse_patterns = false;
  Network plain = parse_ok(m, off);
  CHECK(count_ops(plain, OpKind::kSilu) == 0);
  CHECK(count_ops(plain, OpKind::kSigmoid) == 1);
}

}  // namespace
}  // namespace rtx::test
