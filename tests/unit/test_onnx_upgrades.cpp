// SPDX-License-Identifier: Apache-2.0
// ONNX opset upgrades: older forms (attributes that later became inputs, Softmax's 2-D coercion,
// Resize-10 / Upsample coordinates, BatchNorm spatial, Dropout at inference) import as the IR's
// opset-23 forms and compute what the old opset defined. Expected values are worked out by hand
// in the comments. Also the exact compositions of ops outside the IR (Sum, Mean, PRelu, ...).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "test_onnx_util.hpp"

namespace rtx::test {
namespace {

constexpr int32_t kF32 = 1;
constexpr int32_t kI64 = 7;

TEST_CASE("onnx upgrade: Clip-6 min/max attributes become inputs") {
  ModelBuilder m(6);
  m.input("x", kF32, {4});
  auto& n = m.node("Clip", {"x"}, {"y"});
  attr_f(n, "min", -1.0f);
  attr_f(n, "max", 2.0f);
  m.output("y");
  Network net = parse_ok(m);
  auto out = run(net, {{"x", f32t({4}, {-5, -0.5, 1.5, 9})}});
  check_close(out.at("y"), {4}, {-1, -0.5, 1.5, 2});
  // Only max given: min stays open.
  ModelBuilder h(6);
  h.input("x", kF32, {2});
  attr_f(h.node("Clip", {"x"}, {"y"}), "max", 0.0f);
  h.output("y");
  auto o2 = run(parse_ok(h), {{"x", f32t({2}, {-7, 3})}});
  check_close(o2.at("y"), {2}, {-7, 0});
}

TEST_CASE("onnx upgrade: Softmax-11 coerces to 2-D at axis") {
  // x (1, 2, 2) = [[1, 2], [3, 4]], axis=1: one row of four values 1..4.
  ModelBuilder m(11);
  m.input("x", kF32, {1, 2, 2});
  attr_i(m.node("Softmax", {"x"}, {"y"}), "axis", 1);
  m.output("y");
  Network net = parse_ok(m);
  auto out = run(net, {{"x", f32t({1, 2, 2}, {1, 2, 3, 4})}});
  const double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0) + std::exp(4.0);
  check_close(out.at("y"), {1, 2, 2},
              {std::exp(1.0) / s, std::exp(2.0) / s, std::exp(3.0) / s, std::exp(4.0) / s});

  // The default axis (1) on a rank-2 input is the last axis: a single Softmax node.
  ModelBuilder d(11);
  d.input("x", kF32, {2, 2});
  d.node("LogSoftmax", {"x"}, {"y"});
  d.output("y");
  Network net2 = parse_ok(d);
  CHECK(count_ops(net2, ir::OpKind::kLogSoftmax) == 1);
  CHECK(count_ops(net2, ir::OpKind::kFlatten) == 0);
  auto o2 = run(net2, {{"x", f32t({2, 2}, {0, 0, 1, 1})}});
  check_close(o2.at("y"), {2, 2}, {-std::log(2.0), -std::log(2.0), -std::log(2.0), -std::log(2.0)});

  // Opset 13 means the single axis: axis=1 on (1, 2, 2) normalises pairs along dim 1.
  ModelBuilder n13(13);
  n13.input("x", kF32, {1, 2, 2});
  attr_i(n13.node("Softmax", {"x"}, {"y"}), "axis", 1);
  n13.output("y");
  auto o3 = run(parse_ok(n13), {{"x", f32t({1, 2, 2}, {0, 5, 0, 5})}});
  check_close(o3.at("y"), {1, 2, 2}, {0.5, 0.5, 0.5, 0.5});
}

TEST_CASE("onnx upgrade: Reduce* axes attribute (ReduceSum < 13, others < 18) becomes an input") {
  // x (2, 3) = [[1, 2, 3], [4, 5, 6]]
  const auto x = f32t({2, 3}, {1, 2, 3, 4, 5, 6});
  ModelBuilder s(11);
  s.input("x", kF32, {2, 3});
  auto& n = s.node("ReduceSum", {"x"}, {"y"});
  attr_ints(n, "axes", {1});
  attr_i(n, "keepdims", 0);
  s.output("y");
  check_close(run(parse_ok(s), {{"x", x}}).at("y"), {2}, {6, 15});

  ModelBuilder mean(13);
  mean.input("x", kF32, {2, 3});
  attr_ints(mean.node("ReduceMean", {"x"}, {"y"}), "axes", {0});
  mean.output("y");
  check_close(run(parse_ok(mean), {{"x", x}}).at("y"), {1, 3}, {2.5, 3.5, 4.5});

  // No axes: reduce everything (keepdims 1 by default).
  ModelBuilder all(13);
  all.input("x", kF32, {2, 3});
  all.node("ReduceMax", {"x"}, {"y"});
  all.output("y");
  check_close(run(parse_ok(all), {{"x", x}}).at("y"), {1, 1}, {6});

  // ReduceSum-13 takes axes as an input already.
  ModelBuilder s13(13);
  s13.input("x", kF32, {2, 3}).init_i64("axes", {1}, {-1});
  s13.node("ReduceSum", {"x", "axes"}, {"y"});
  s13.output("y");
  check_close(run(parse_ok(s13), {{"x", x}}).at("y"), {2, 1}, {6, 15});
}

TEST_CASE("onnx upgrade: the Reduce ops outside the IR") {
  // x = [[3, -4], [1, 2]] over axis 1, keepdims 0
  const auto reduce = [&](const char* op, int64_t opset, const HostTensor& x) {
    ModelBuilder m(opset);
    m.input("x", kF32, {2, 2});
    if (opset >= 18) m.init_i64("axes", {1}, {1});
    auto& n = opset >= 18 ? m.node(op, {"x", "axes"}, {"y"}) : m.node(op, {"x"}, {"y"});
    if (opset < 18) attr_ints(n, "axes", {1});
    attr_i(n, "keepdims", 0);
    m.output("y");
    return run(parse_ok(m), {{"x", x}}).at("y");
  };
  const auto x = f32t({2, 2}, {3, -4, 1, 2});
  check_close(reduce("ReduceL1", 13, x), {2}, {7, 3});
  check_close(reduce("ReduceL2", 18, x), {2}, {5, std::sqrt(5.0)});
  check_close(reduce("ReduceSumSquare", 13, x), {2}, {25, 5});
  // positive data for the logs: [[1, 2], [0, 1]]
  const auto p = f32t({2, 2}, {1, 2, 0, 1});
  check_close(reduce("ReduceLogSum", 18, p), {2}, {std::log(3.0), 0});
  check_close(reduce("ReduceLogSumExp", 13, p), {2},
              {std::log(std::exp(1.0) + std::exp(2.0)), std::log(1 + std::exp(1.0))});
}

TEST_CASE("onnx upgrade: Squeeze / Unsqueeze axes attributes (< 13)") {
  ModelBuilder m(11);
  m.input("x", kF32, {1, 3, 1});
  attr_ints(m.node("Squeeze", {"x"}, {"s"}), "axes", {0});
  attr_ints(m.node("Unsqueeze", {"s"}, {"y"}), "axes", {0, 3});
  m.output("y");
  Network net = parse_ok(m);
  const ir::Graph& g = detail::graph_of(net);
  // (1,3,1) -squeeze 0-> (3,1) -unsqueeze 0,3-> (1,3,1,1)
  CHECK(g.value(g.outputs()[0]).info.shape == std::vector<int64_t>{1, 3, 1, 1});
  auto out = run(net, {{"x", f32t({1, 3, 1}, {1, 2, 3})}});
  check_close(out.at("y"), {1, 3, 1, 1}, {1, 2, 3});
  // Squeeze without axes removes every 1.
  ModelBuilder all(11);
  all.input("x", kF32, {1, 3, 1});
  all.node("Squeeze", {"x"}, {"y"});
  all.output("y");
  Network n2 = parse_ok(all);
  CHECK(detail::graph_of(n2).value(detail::graph_of(n2).outputs()[0]).info.shape ==
        std::vector<int64_t>{3});
}

TEST_CASE("onnx upgrade: Split's split attribute (< 13) and equal splits before opset 18") {
  const auto x = f32t({5}, {1, 2, 3, 4, 5});
  ModelBuilder m(11);
  m.input("x", kF32, {5});
  auto& n = m.node("Split", {"x"}, {"a", "b"});
  attr_ints(n, "split", {2, 3});
  m.output("a").output("b");
  auto out = run(parse_ok(m), {{"x", x}});
  check_close(out.at("a"), {2}, {1, 2});
  check_close(out.at("b"), {3}, {3, 4, 5});

  ModelBuilder eq(13);
  eq.input("x", kF32, {6});
  eq.node("Split", {"x"}, {"a", "b", "c"});
  eq.output("a").output("b").output("c");
  auto o2 = run(parse_ok(eq), {{"x", f32t({6}, {1, 2, 3, 4, 5, 6})}});
  check_close(o2.at("c"), {2}, {5, 6});

  ModelBuilder n18(18);
  n18.input("x", kF32, {5});
  attr_i(n18.node("Split", {"x"}, {"a", "b"}), "num_outputs", 2);
  n18.output("a").output("b");
  auto o3 = run(parse_ok(n18), {{"x", x}});
  check_close(o3.at("a"), {3}, {1, 2, 3});  // ceil(5/2) first, remainder last
  check_close(o3.at("b"), {2}, {4, 5});
}

TEST_CASE("onnx upgrade: Slice-9 starts/ends/axes attributes") {
  ModelBuilder m(9);
  m.input("x", kF32, {2, 4});
  auto& n = m.node("Slice", {"x"}, {"y"});
  attr_ints(n, "starts", {1});
  attr_ints(n, "ends", {1000});
  attr_ints(n, "axes", {1});
  m.output("y");
  auto out = run(parse_ok(m), {{"x", f32t({2, 4}, {0, 1, 2, 3, 4, 5, 6, 7})}});
  check_close(out.at("y"), {2, 3}, {1, 2, 3, 5, 6, 7});
}

TEST_CASE("onnx upgrade: Pad-2 pads / value attributes") {
  ModelBuilder m(2);
  m.input("x", kF32, {2});
  auto& n = m.node("Pad", {"x"}, {"y"});
  attr_ints(n, "pads", {1, 2});
  attr_f(n, "value", 9.0f);
  m.output("y");
  auto out = run(parse_ok(m), {{"x", f32t({2}, {1, 2})}});
  check_close(out.at("y"), {5}, {9, 1, 2, 9, 9});

  ModelBuilder r(10);
  r.input("x", kF32, {3});
  auto& e = r.node("Pad", {"x"}, {"y"});
  attr_ints(e, "pads", {2, 1});
  attr_s(e, "mode", "reflect");
  r.output("y");
  auto o2 = run(parse_ok(r), {{"x", f32t({3}, {1, 2, 3})}});
  check_close(o2.at("y"), {6}, {3, 2, 1, 2, 3, 2});
}

TEST_CASE("onnx upgrade: Resize-10 and Upsample use asymmetric coordinates, nearest rounds down") {
  // Nearest, scale 2 on [1, 2, 3]: out[i] = in[floor(i / 2)]
  ModelBuilder m(10);
  m.input("x", kF32, {1, 3});
  m.init_f32("scales", {2}, {1, 2});
  m.node("Resize", {"x", "scales"}, {"y"});
  m.output("y");
  auto out = run(parse_ok(m), {{"x", f32t({1, 3}, {1, 2, 3})}});
  check_close(out.at("y"), {1, 6}, {1, 1, 2, 2, 3, 3});

  // Linear, scale 2 on [0, 4]: x_in = i / 2 -> 0, 0.5, 1, 1.5(clamped to 1) -> 0, 2, 4, 4
  ModelBuilder u(9);
  u.input("x", kF32, {1, 2});
  u.init_f32("scales", {2}, {1, 2});
  attr_s(u.node("Upsample", {"x", "scales"}, {"y"}), "mode", "linear");
  u.output("y");
  auto o2 = run(parse_ok(u), {{"x", f32t({1, 2}, {0, 4})}});
  check_close(o2.at("y"), {1, 4}, {0, 2, 4, 4});

  // Upsample-7 keeps its scales in an attribute.
  ModelBuilder u7(7);
  u7.input("x", kF32, {1, 2});
  attr_floats(u7.node("Upsample", {"x"}, {"y"}), "scales", {1, 3});
  u7.output("y");
  auto o3 = run(parse_ok(u7), {{"x", f32t({1, 2}, {5, 6})}});
  check_close(o3.at("y"), {1, 6}, {5, 5, 5, 6, 6, 6});

  // Resize-11 with an empty scales tensor and sizes given.
  ModelBuilder r11(11);
  r11.input("x", kF32, {1, 2});
  r11.init_f32("roi", {0}, {}).init_f32("scales", {0}, {}).init_i64("sizes", {2}, {1, 4});
  auto& n = r11.node("Resize", {"x", "roi", "scales", "sizes"}, {"y"});
  attr_s(n, "coordinate_transformation_mode", "asymmetric");
  attr_s(n, "nearest_mode", "floor");
  r11.output("y");
  auto o4 = run(parse_ok(r11), {{"x", f32t({1, 2}, {7, 8})}});
  check_close(o4.at("y"), {1, 4}, {7, 7, 8, 8});
}

TEST_CASE("onnx upgrade: BatchNormalization forms") {
  // y = (x - mean) / sqrt(var + eps) * scale + bias, per channel; eps = 0 here.
  const auto make = [](int64_t opset) {
    ModelBuilder m(opset);
    m.input("x", kF32, {1, 2, 1, 1});
    m.init_f32("s", {2}, {2, 1})
        .init_f32("b", {2}, {1, 0})
        .init_f32("mu", {2}, {1, -1})
        .init_f32("var", {2}, {4, 1});
    auto& n = m.node("BatchNormalization", {"x", "s", "b", "mu", "var"}, {"y"});
    attr_f(n, "epsilon", 0.0f);
    if (opset < 9) attr_i(n, "spatial", 1);
    m.output("y");
    return m;
  };
  for (int64_t opset : {7, 9, 15}) {
    auto out = run(parse_ok(make(opset)), {{"x", f32t({1, 2, 1, 1}, {5, 3})}});
    // channel 0: (5 - 1) / 2 * 2 + 1 = 5; channel 1: (3 + 1) / 1 * 1 + 0 = 4
    check_close(out.at("y"), {1, 2, 1, 1}, {5, 4});
  }
  ModelBuilder bad = make(7);
  bad.graph().mutable_node(0)->mutable_attribute(1)->set_i(0);  // spatial = 0
  Error e = parse_error(bad);
  CHECK(e.id == "rtx.onnx.312");
  CHECK(e.message.find("spatial") != std::string::npos);
}

TEST_CASE("onnx upgrade: Dropout imports as the identity with an all-true mask") {
  ModelBuilder m(13);
  m.input("x", kF32, {3});
  m.init_f32("ratio", {}, {0.5f});
  m.node("Dropout", {"x", "ratio"}, {"y", "mask"});
  m.output("y").output("mask");
  Network net = parse_ok(m);
  auto out = run(net, {{"x", f32t({3}, {1, -2, 3})}});
  check_close(out.at("y"), {3}, {1, -2, 3});
  CHECK(out.at("mask").dtype() == DataType::kBOOL);
  CHECK(out.at("mask").to_ints() == std::vector<int64_t>{1, 1, 1});

  ModelBuilder t(13);
  t.input("x", kF32, {3});
  t.init_f32("ratio", {}, {0.5f});
  auto& tm = t.init("train", 9, {});
  tm.add_int32_data(1);
  t.node("Dropout", {"x", "ratio", "train"}, {"y"});
  t.output("y");
  CHECK(parse_error(t).id == "rtx.onnx.312");
}

TEST_CASE("onnx upgrade: Constant forms") {
  ModelBuilder m(13);
  m.input("x", kI64, {3});
  attr_ints(m.node("Constant", {}, {"c"}), "value_ints", {10, 20, 30});
  m.node("Add", {"x", "c"}, {"y"});
  auto& f = m.node("Constant", {}, {"f"});
  attr_f(f, "value_float", 1.5f);
  m.output("y").output("f");
  Network net = parse_ok(m);
  auto out = run(
      net, {{"x", HostTensor::from_vector(DataType::kINT64, {3}, std::vector<int64_t>{1, 2, 3})}});
  CHECK(out.at("y").to_ints() == std::vector<int64_t>{11, 22, 33});
  CHECK(out.at("f").rank() == 0);
  CHECK(out.at("f").get_double(0) == 1.5);

  ModelBuilder two(13);
  two.input("x", kF32, {1});
  auto& c = two.node("Constant", {}, {"c"});
  attr_f(c, "value_float", 1.0f);
  attr_i(c, "value_int", 1);
  two.node("Add", {"x", "c"}, {"y"});
  two.output("y");
  CHECK(parse_error(two).id == "rtx.onnx.308");
}

TEST_CASE("onnx: ops outside the IR import as exact compositions") {
  const auto unary = [](const char* op, int64_t opset, std::vector<double> x, auto&& set_attrs) {
    ModelBuilder m(opset);
    m.input("x", kF32, {static_cast<int64_t>(x.size())});
    set_attrs(m.node(op, {"x"}, {"y"}));
    m.output("y");
    return run(parse_ok(m), {{"x", f32t({static_cast<int64_t>(x.size())}, x)}}).at("y");
  };
  const auto none = [](pb::NodeProto&) {};
  // Elu alpha=2: x<0 -> 2 (e^x - 1)
  check_close(unary("Elu", 6, {-1, 0, 3}, [](pb::NodeProto& n) { attr_f(n, "alpha", 2.0f); }), {3},
              {2 * (std::exp(-1.0) - 1), 0, 3}, 1e-6);
  // Selu defaults: gamma * (x <= 0 ? alpha (e^x - 1) : x)
  const double a = 1.67326319217681884765625, g = 1.05070102214813232421875;
  check_close(unary("Selu", 6, {-2, 1}, none), {2}, {g * a * (std::exp(-2.0) - 1), g}, 1e-6);
  // HardSigmoid defaults alpha 0.2, beta 0.5
  check_close(unary("HardSigmoid", 6, {-5, 0, 1, 5}, none), {4}, {0, 0.5, 0.7, 1}, 1e-6);
  // HardSwish: x * clip(x / 6 + 0.5, 0, 1)
  check_close(unary("HardSwish", 14, {-4, 0, 1, 4}, none), {4}, {0, 0, 1 * (1.0 / 6 + 0.5), 4},
              1e-6);
  check_close(unary("Softsign", 1, {-3, 1}, none), {2}, {-0.75, 0.5}, 1e-6);
  check_close(unary("Softplus", 1, {0, 2}, none), {2}, {std::log(2.0), std::log(1 + std::exp(2.0))},
              1e-6);
  check_close(unary("ThresholdedRelu", 10, {0.5, 1, 2}, none), {3}, {0, 0, 2}, 1e-6);
  check_close(unary("Sign", 9, {-3, 0, 0.1}, none), {3}, {-1, 0, 1}, 0);
  check_close(unary("Swish", 24, {1}, [](pb::NodeProto& n) { attr_f(n, "alpha", 2.0f); }), {1},
              {1 / (1 + std::exp(-2.0))}, 1e-6);

  // PRelu with a per-channel slope broadcasting from (2, 1).
  ModelBuilder p(9);
  p.input("x", kF32, {2, 2}).init_f32("slope", {2, 1}, {0.5f, 3.0f});
  p.node("PRelu", {"x", "slope"}, {"y"});
  p.output("y");
  check_close(run(parse_ok(p), {{"x", f32t({2, 2}, {-2, 2, -1, 1})}}).at("y"), {2, 2},
              {-1, 2, -3, 1});

  // Sum of three, Mean of two, Sum of one.
  ModelBuilder s(13);
  s.input("a", kF32, {2}).input("b", kF32, {2}).input("c", kF32, {1});
  s.node("Sum", {"a", "b", "c"}, {"sum"});
  s.node("Mean", {"a", "b"}, {"mean"});
  s.node("Sum", {"a"}, {"one"});
  s.output("sum").output("mean").output("one");
  auto o = run(parse_ok(s),
               {{"a", f32t({2}, {1, 2})}, {"b", f32t({2}, {3, 5})}, {"c", f32t({1}, {10})}});
  check_close(o.at("sum"), {2}, {14, 17});
  check_close(o.at("mean"), {2}, {2, 3.5});
  check_close(o.at("one"), {2}, {1, 2});

  // GlobalMaxPool over the spatial dims.
  ModelBuilder gmp(13);
  gmp.input("x", kF32, {1, 2, 2});
  gmp.node("GlobalMaxPool", {"x"}, {"y"});
  gmp.output("y");
  check_close(run(parse_ok(gmp), {{"x", f32t({1, 2, 2}, {1, 7, -3, -2})}}).at("y"), {1, 2, 1},
              {7, -2});

  // CastLike takes the dtype of its second input.
  ModelBuilder cl(15);
  cl.input("x", kF32, {2}).input("like", kI64, {1});
  cl.node("CastLike", {"x", "like"}, {"y"});
  cl.output("y");
  auto co =
      run(parse_ok(cl),
          {{"x", f32t({2}, {2.0, -3.0})},
           {"like", HostTensor::from_vector(DataType::kINT64, {1}, std::vector<int64_t>{0})}});
  CHECK(co.at("y").dtype() == DataType::kINT64);
  CHECK(co.at("y").to_ints() == std::vector<int64_t>{2, -3});
}

TEST_CASE("onnx upgrade: Q/DQ accept a one-element zero point next to a scalar scale") {
  ModelBuilder m(21);
  m.input("x", kF32, {3});
  m.init_f32("scale", {}, {0.5f});
  auto& zp = m.init("zp", 3, {1});  // int8 [1]
  zp.add_int32_data(2);
  m.node("QuantizeLinear", {"x", "scale", "zp"}, {"q"});
  m.node("DequantizeLinear", {"q", "scale", "zp"}, {"y"});
  m.output("q").output("y");
  auto out = run(parse_ok(m), {{"x", f32t({3}, {1, -1, 100})}});
  // q = saturate(round(x / 0.5) + 2): 4, 0, 127 ; y = (q - 2) * 0.5
  CHECK(out.at("q").to_ints() == std::vector<int64_t>{4, 0, 127});
  check_close(out.at("y"), {3}, {1, -1, 62.5});
}

TEST_CASE("onnx upgrade: Attention-24 nonpad_kv_seqlen becomes part of the mask") {
  // One head, Q (1,1,1,1) = 1, K (1,1,3,1) = [0, 0, 0], V = [1, 2, 100]; nonpad 2 masks key 2:
  // softmax over the first two equal scores -> (1 + 2) / 2.
  ModelBuilder m(24);
  m.input("q", kF32, {1, 1, 1, 1}).input("k", kF32, {1, 1, 3, 1}).input("v", kF32, {1, 1, 3, 1});
  m.init_i64("nonpad", {1}, {2});
  m.node("Attention", {"q", "k", "v", "", "", "", "nonpad"}, {"y"});
  m.output("y");
  auto out = run(parse_ok(m), {{"q", f32t({1, 1, 1, 1}, {1})},
                               {"k", f32t({1, 1, 3, 1}, {0, 0, 0})},
                               {"v", f32t({1, 1, 3, 1}, {1, 2, 100})}});
  check_close(out.at("y"), {1, 1, 1, 1}, {1.5});
}

}  // namespace
}  // namespace rtx::test
