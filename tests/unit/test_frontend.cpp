// SPDX-License-Identifier: Apache-2.0
// The typed front end: the IR that layers build (ops, attributes, shapes, dtypes, names), dynamic
// dims and profiles, errors recorded at build time (and that one mistake gives one error),
// weights shared rather than copied, and end-to-end results on the reference evaluator checked
// against hand-computed values. What the front end rejects at compile time is proved by
// tests/compile_fail/.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "ir/graph.hpp"
#include "rtx/rtx.hpp"

using namespace rtx;

namespace {

HostTensor make_f32(std::vector<int64_t> shape, std::vector<double> values) {
  return HostTensor::from_doubles(DataType::kF32, std::move(shape), values);
}

/// The one live node producing the tensor `t`.
template <class T>
const ir::Node& producer(const Network& net, const T& t) {
  const ir::Graph& g = detail::graph_of(net);
  REQUIRE(t.valid());
  const ir::NodeId n = g.value(t.value_id()).producer;
  REQUIRE(n >= 0);
  return g.node(n);
}

void check_values(const HostTensor& t, const std::vector<int64_t>& shape,
                  const std::vector<double>& want, double tol = 1e-6) {
  REQUIRE(t.valid());
  REQUIRE(t.shape() == shape);
  REQUIRE(t.element_count() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i)
    CHECK_MESSAGE(std::fabs(t.get_double(static_cast<int64_t>(i)) - want[i]) <= tol,
                  "element " << i << ": got " << t.get_double(static_cast<int64_t>(i)) << ", want "
                             << want[i]);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("frontend: inputs, weights and a rank-2 linear build one Gemm") {
  Network net;
  auto x = net.input<f32, 2>("x", {dynamic, 4});
  auto w = net.weight<f32, 2>("w", make_f32({3, 4}, std::vector<double>(12, 0.5)));
  auto b = net.weight<f32, 1>("b", make_f32({3}, {1, 2, 3}));
  auto y = linear(x, w, b);
  static_assert(std::is_same_v<decltype(y), Tensor<f32, 2>>);
  net.output(y, "y");
  REQUIRE(net.ok());

  CHECK(x.shape() == std::array<int64_t, 2>{dynamic, 4});
  CHECK(x.name() == "x");
  CHECK(y.shape() == std::array<int64_t, 2>{dynamic, 3});
  CHECK(y.name() == "y");
  CHECK(Tensor<f16, 1>::dtype() == DataType::kF16);

  const ir::Graph& g = detail::graph_of(net);
  CHECK(net.num_layers() == 1);
  const ir::Node& n = producer(net, y);
  CHECK(n.op == ir::OpKind::kGemm);
  CHECK(n.name == "linear_1");
  CHECK(n.attr_int("transB", 0) == 1);
  REQUIRE(n.inputs.size() == 3);
  CHECK(g.value(n.inputs[0]).name == "x");
  CHECK(g.value(n.inputs[1]).name == "w");
  CHECK(g.value(n.inputs[2]).name == "b");
  CHECK(g.value(n.inputs[1]).kind == ir::ValueKind::kWeight);
  CHECK(net.input_names() == std::vector<std::string>{"x"});
  CHECK(net.output_names() == std::vector<std::string>{"y"});
  CHECK(contains(net.to_text(), "Gemm[linear_1](x, w, b)"));
}

TEST_CASE("frontend: linear on rank 3 is Transpose + MatMul + Add with shared base name") {
  Network net;
  auto x = net.input<f32>("x", {2, dynamic, 4});
  auto w = net.weight<f32, 2>("w", make_f32({5, 4}, std::vector<double>(20, 1)));
  auto b = net.weight<f32, 1>("b", make_f32({5}, {0, 0, 0, 0, 0}));
  auto y = linear(x, w, b);
  static_assert(std::is_same_v<decltype(y), Tensor<f32, 3>>);
  REQUIRE(net.ok());
  CHECK(y.shape() == std::array<int64_t, 3>{2, dynamic, 5});
  const ir::Node& add = producer(net, y);
  CHECK(add.op == ir::OpKind::kAdd);
  CHECK(add.name == "linear_1/bias");
  const ir::Graph& g = detail::graph_of(net);
  const ir::Node& mm = g.node(g.value(add.inputs[0]).producer);
  CHECK(mm.op == ir::OpKind::kMatMul);
  CHECK(mm.name == "linear_1/matmul");
  const ir::Node& tr = g.node(g.value(mm.inputs[1]).producer);
  CHECK(tr.op == ir::OpKind::kTranspose);
  CHECK(tr.attr_ints("perm") == std::vector<int64_t>{1, 0});
  CHECK(net.num_layers() == 3);
}

TEST_CASE("frontend: layers build the expected ops, attributes, shapes and dtypes") {
  Network net;
  auto img = net.input<f32>("img", {dynamic, 3, 8, 8});
  auto cw = net.weight<f32, 4>("cw", make_f32({4, 3, 3, 3}, std::vector<double>(108, 0.1)));
  auto cb = net.weight<f32, 1>("cb", make_f32({4}, {0, 0, 0, 0}));

  auto c = conv2d(img, cw, cb, {.strides = {1, 1}, .pads = {1, 1, 1, 1}});
  CHECK(c.shape() == std::array<int64_t, 4>{dynamic, 4, 8, 8});
  CHECK(producer(net, c).op == ir::OpKind::kConv);
  CHECK(producer(net, c).attr_ints("pads") == std::vector<int64_t>{1, 1, 1, 1});
  CHECK(producer(net, c).attr_int("group", 0) == 1);

  auto p = max_pool(relu(c), {.kernel = {2, 2}, .strides = {2, 2}});
  CHECK(p.shape() == std::array<int64_t, 4>{dynamic, 4, 4, 4});
  CHECK(producer(net, p).attr_ints("kernel_shape") == std::vector<int64_t>{2, 2});

  auto gp = global_avg_pool(p);
  CHECK(gp.shape() == std::array<int64_t, 4>{dynamic, 4, 1, 1});
  auto f = flatten(gp);
  static_assert(std::is_same_v<decltype(f), Tensor<f32, 2>>);
  CHECK(f.shape() == std::array<int64_t, 2>{dynamic, 4});

  auto m = reduce_mean(p, {2, 3});
  static_assert(std::is_same_v<decltype(m), Tensor<f32, 2>>);
  CHECK(m.shape() == std::array<int64_t, 2>{dynamic, 4});
  CHECK(producer(net, m).attr_int("keepdims", -1) == 0);
  auto mk = reduce_max(p, {-1}, keep_dims);
  static_assert(std::is_same_v<decltype(mk), Tensor<f32, 4>>);
  CHECK(mk.shape() == std::array<int64_t, 4>{dynamic, 4, 4, 1});
  auto all = reduce_sum(p);
  static_assert(std::is_same_v<decltype(all), Tensor<f32, 0>>);
  auto am = argmax(f, 1);
  static_assert(std::is_same_v<decltype(am), Tensor<i64, 1>>);
  CHECK(am.shape() == std::array<int64_t, 1>{dynamic});

  auto sq = squeeze(gp, {2, 3});
  static_assert(std::is_same_v<decltype(sq), Tensor<f32, 2>>);
  auto us = unsqueeze(sq, {1});
  CHECK(us.shape() == std::array<int64_t, 3>{dynamic, 1, 4});
  auto r = reshape(p, {-1, 64});
  static_assert(std::is_same_v<decltype(r), Tensor<f32, 2>>);
  CHECK(r.shape()[1] == 64);
  auto t = transpose(p, {0, 2, 3, 1});
  CHECK(t.shape() == std::array<int64_t, 4>{dynamic, 4, 4, 4});
  auto cat = concat<1>(f, f, f);
  CHECK(cat.shape() == std::array<int64_t, 2>{dynamic, 12});
  CHECK(producer(net, cat).attr_int("axis") == 1);
  auto cat2 = concat(std::vector{f, f}, -1);
  CHECK(cat2.shape() == std::array<int64_t, 2>{dynamic, 8});
  auto sl = slice(cat, {2}, {6}, {1});
  CHECK(sl.shape() == std::array<int64_t, 2>{dynamic, 4});

  auto h = cast<f16>(f);
  static_assert(std::is_same_v<decltype(h), Tensor<f16, 2>>);
  CHECK(producer(net, h).attr_int("to") == 10);  // ONNX TensorProto FLOAT16
  auto gt = greater(f, f);
  static_assert(std::is_same_v<decltype(gt), Tensor<boolean, 2>>);
  auto sel = where(gt, f, f * 2.0);
  CHECK(sel.shape() == std::array<int64_t, 2>{dynamic, 4});

  auto q = quantize<i8>(f, 0.5);
  static_assert(std::is_same_v<decltype(q), Tensor<i8, 2>>);
  CHECK(producer(net, q).op == ir::OpKind::kQuantizeLinear);
  auto dq = dequantize(q, 0.5);
  static_assert(std::is_same_v<decltype(dq), Tensor<f32, 2>>);
  auto qs = net.weight<f32, 1>("qs", make_f32({4}, {1, 1, 1, 1}));
  auto q8 = quantize<fp8e4m3>(f, qs);
  CHECK(producer(net, q8).attr_int("output_dtype") == 17);  // ONNX FLOAT8E4M3FN
  auto d8 = dequantize(q8, qs);
  CHECK(d8.shape() == std::array<int64_t, 2>{dynamic, 4});

  auto ids = net.input<i64>("ids", {dynamic});
  auto table = net.weight<f32, 2>("table", make_f32({10, 3}, std::vector<double>(30, 0)));
  auto emb = gather(table, ids);
  static_assert(std::is_same_v<decltype(emb), Tensor<f32, 2>>);
  CHECK(emb.shape() == std::array<int64_t, 2>{dynamic, 3});

  auto qh = net.input<f16>("q", {1, 2, 5, 8});
  auto att = attention(qh, qh, qh, {.is_causal = true});
  CHECK(att.shape() == std::array<int64_t, 4>{1, 2, 5, 8});
  CHECK(producer(net, att).attr_int("is_causal") == 1);

  auto ln = layer_norm(f, qs, qs);
  CHECK(producer(net, ln).attr_int("axis") == 1);
  auto sm = softmax(ln);
  CHECK(producer(net, sm).attr_int("axis") == -1);
  auto bn = batch_norm(c, cb, cb, cb, cb);
  CHECK(bn.shape() == c.shape());
  CHECK_MESSAGE(net.ok(), (net.ok() ? "" : net.errors().front().to_string()));
}

TEST_CASE("frontend: dynamic dims and profiles") {
  Network net;
  auto x = net.input<f16>("x", {dynamic, 784});
  net.set_profile("x", {1, 784}, {8, 784}, {64, 784});
  REQUIRE(net.ok());
  const ir::Graph& g = detail::graph_of(net);
  const auto& prof = g.profiles().at("x");
  CHECK(prof.min == std::vector<int64_t>{1, 784});
  CHECK(prof.opt == std::vector<int64_t>{8, 784});
  CHECK(prof.max == std::vector<int64_t>{64, 784});
  CHECK(x.shape()[0] == dynamic);

  net.set_profile("x", {1, 784}, {8, 784}, {4, 784});
  REQUIRE(net.errors().size() == 1);
  CHECK(net.errors()[0].id == "rtx.ir.107");
  net.set_profile("nope", {1}, {1}, {1});
  REQUIRE(net.errors().size() == 2);
  CHECK(net.errors()[1].id == "rtx.ir.106");

  Network net2;
  (void)net2.input<f32>("bad", {-3, 2});
  REQUIRE(net2.errors().size() == 1);
  CHECK(net2.errors()[0].id == "rtx.ir.103");
  CHECK(contains(net2.errors()[0].message, "rtx::dynamic"));
}

TEST_CASE("frontend: a linear with the wrong in_features is one clear error") {
  Network net;
  auto x = net.input<f32>("x", {dynamic, 784});
  auto w1 = net.weight<f32, 2>("w1", HostTensor(DataType::kF32, {10, 700}));
  auto h = linear(x, w1);
  CHECK_FALSE(h.valid());
  CHECK(h.shape() == std::array<int64_t, 2>{dynamic, dynamic});
  // Later layers on the invalid tensor record nothing new.
  auto y = softmax(relu(h) + 1.0);
  CHECK_FALSE(y.valid());
  net.output(y, "y");
  CHECK_FALSE(net.ok());
  REQUIRE(net.errors().size() == 1);
  const Error& e = net.errors()[0];
  CHECK(e.id == "rtx.frontend.110");
  CHECK(contains(e.message, "rtx::linear"));
  CHECK(contains(e.message, "'w1' f32[10,700]"));
  CHECK(contains(e.message, "784"));
  CHECK(net.status().error().id == "rtx.frontend.110");

  // The reference evaluator refuses the network with its first error.
  auto r = evaluate_reference(net, {{"x", HostTensor(DataType::kF32, {1, 784})}});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == "rtx.frontend.110");
}

TEST_CASE("frontend: linear bias size, reshape count and op errors name the layer") {
  SUBCASE("bias") {
    Network net;
    auto x = net.input<f32>("x", {2, 4});
    auto w = net.weight<f32, 2>("w", HostTensor(DataType::kF32, {3, 4}));
    auto b = net.weight<f32, 1>("b", HostTensor(DataType::kF32, {5}));
    CHECK_FALSE(linear(x, w, b).valid());
    REQUIRE(net.errors().size() == 1);
    CHECK(net.errors()[0].id == "rtx.frontend.111");
  }
  SUBCASE("reshape element count") {
    Network net;
    auto x = net.input<f32>("x", {2, 3});
    auto r = reshape(x, {4, 2});
    CHECK_FALSE(r.valid());
    REQUIRE(net.errors().size() == 1);
    const Error& e = net.errors()[0];
    CHECK(e.id.rfind("rtx.ir.6", 0) == 0);  // the Reshape op's own id
    CHECK(contains(e.message, "rtx::reshape (node 'reshape_1'; inputs 'x' f32[2,3]"));
    // The failed node is kept dead: it is not a layer of the network.
    CHECK(net.num_layers() == 0);
  }
  SUBCASE("broadcast") {
    Network net;
    auto a = net.input<f32>("a", {2, 3});
    auto b = net.input<f32>("b", {4});
    CHECK_FALSE((a + b).valid());
    REQUIRE(net.errors().size() == 1);
    CHECK(net.errors()[0].id == "rtx.ir.131");
    CHECK(contains(net.errors()[0].message, "rtx::add"));
  }
  SUBCASE("pool without a kernel") {
    Network net;
    auto x = net.input<f32>("x", {1, 3, 8, 8});
    CHECK_FALSE(max_pool(x, {}).valid());
    REQUIRE(net.errors().size() == 1);
    CHECK(net.errors()[0].id.rfind("rtx.ir.", 0) == 0);
    CHECK(contains(net.errors()[0].message, "rtx::max_pool"));
  }
  SUBCASE("conv channels") {
    Network net;
    auto x = net.input<f32>("x", {1, 3, 8, 8});
    auto w = net.weight<f32, 4>("w", HostTensor(DataType::kF32, {4, 2, 3, 3}));
    CHECK_FALSE(conv2d(x, w).valid());
    REQUIRE(net.errors().size() == 1);
    CHECK(net.errors()[0].id.rfind("rtx.ir.5", 0) == 0);
    CHECK(contains(net.errors()[0].message, "rtx::conv"));
  }
}

TEST_CASE("frontend: axes are checked before the rank changes") {
  Network net;
  auto x = net.input<f32>("x", {2, 3});
  CHECK_FALSE(reduce_sum(x, {2}).valid());
  CHECK_FALSE(reduce_sum(x, {1, -1}).valid());
  CHECK_FALSE(unsqueeze(x, {3}).valid());
  CHECK(unsqueeze(x, {2}).valid());
  CHECK(unsqueeze(x, {-1}).shape() == std::array<int64_t, 3>{2, 3, 1});
  REQUIRE(net.errors().size() == 3);
  for (const Error& e : net.errors()) CHECK(e.id == "rtx.frontend.120");
  CHECK(contains(net.errors()[0].message, "out of range"));
  CHECK(contains(net.errors()[1].message, "repeated"));
}

TEST_CASE("frontend: weights and constants are checked against their declared type") {
  Network net;
  auto w = net.weight<f32, 2>("w", HostTensor(DataType::kF16, {2, 2}));
  CHECK_FALSE(w.valid());
  auto v = net.weight<f32, 1>("v", HostTensor(DataType::kF32, {2, 2}));
  CHECK_FALSE(v.valid());
  auto e = net.weight<f32, 1>("e", HostTensor());
  CHECK_FALSE(e.valid());
  auto c = net.constant<i64, 1>(HostTensor(DataType::kINT64, {3}));
  CHECK(c.valid());
  auto dup = net.input<f32>("c2", {1});
  auto dup2 = net.input<f32>("c2", {1});
  CHECK(dup.valid());
  CHECK_FALSE(dup2.valid());
  REQUIRE(net.errors().size() == 4);
  CHECK(net.errors()[0].id == "rtx.frontend.102");
  CHECK(contains(net.errors()[0].message, "weight 'w' holds f16[2,2] but was declared as f32"));
  CHECK(net.errors()[1].id == "rtx.frontend.102");
  CHECK(net.errors()[2].id == "rtx.frontend.103");
  CHECK(net.errors()[3].id == "rtx.ir.102");
}

TEST_CASE("frontend: unbuilt tensors and tensors of another network") {
  Network net;
  auto x = net.input<f32>("x", {2});
  Tensor<f32, 1> unbuilt;
  CHECK_FALSE(unbuilt.valid());
  CHECK(unbuilt.name().empty());
  CHECK_FALSE((x + unbuilt).valid());
  REQUIRE(net.errors().size() == 1);
  CHECK(net.errors()[0].id == "rtx.frontend.101");
  CHECK(contains(net.errors()[0].message, "never built"));

  net.output(unbuilt, "y");
  REQUIRE(net.errors().size() == 2);
  CHECK(net.errors()[1].id == "rtx.frontend.104");

  Network other;
  auto z = other.input<f32>("z", {2});
  CHECK_FALSE((x * z).valid());
  REQUIRE(net.errors().size() == 3);
  CHECK(net.errors()[2].id == "rtx.frontend.101");
  CHECK(contains(net.errors()[2].message, "another Network"));
  other.output(x);
  REQUIRE(other.errors().size() == 1);
  CHECK(other.errors()[0].id == "rtx.frontend.101");
}

TEST_CASE("frontend: outputs never rename inputs or earlier outputs") {
  Network net;
  auto x = net.input<f32>("x", {2});
  auto h = relu(x);
  net.output(h, "a");
  net.output(h, "b");       // same value, second name: an Identity
  net.output(x, "x_copy");  // an input as output: the input keeps its name
  REQUIRE(net.ok());
  CHECK(net.input_names() == std::vector<std::string>{"x"});
  CHECK(net.output_names() == std::vector<std::string>{"a", "b", "x_copy"});
  CHECK(h.name() == "a");
  auto r = evaluate_reference(net, {{"x", make_f32({2}, {-1, 5})}});
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
  check_values(r->at("a"), {2}, {0, 5});
  check_values(r->at("b"), {2}, {0, 5});
  check_values(r->at("x_copy"), {2}, {-1, 5});

  net.output(h, "x");  // clashes with the input's name
  REQUIRE(net.errors().size() == 1);
  CHECK(net.errors()[0].id == "rtx.ir.102");
}

TEST_CASE("frontend: errors also go to an ErrorRecorder") {
  ErrorRecorder recorder;
  Network net;
  net.set_error_recorder(&recorder);
  auto x = net.input<f32>("x", {2, 3});
  (void)reshape(x, {5});
  CHECK(recorder.error_count() == 1);
  CHECK(recorder.entries()[0].error.id == net.errors()[0].id);
}

TEST_CASE("frontend: weights are borrowed, not copied") {
  std::vector<float> data = {1, 2, 3, 4, 5, 6};
  Network net;
  auto w = net.weight<f32, 2>("w", HostTensor::borrow(DataType::kF32, {2, 3}, data.data()));
  REQUIRE(w.valid());
  const ir::Graph& g = detail::graph_of(net);
  CHECK(g.constant_data(w.value_id())->data() == reinterpret_cast<const std::byte*>(data.data()));

  HostTensor owned = make_f32({3}, {1, 2, 3});
  auto c = net.constant<f32, 1>(owned, "c");
  CHECK(g.constant_data(c.value_id())->data() == owned.data());
  CHECK(c.name() == "c");
}

TEST_CASE("frontend: tensors stay valid when the network is moved") {
  auto make = [] {
    Network net;
    auto x = net.input<f32>("x", {2});
    auto y = relu(x);
    return std::pair{std::move(net), y};
  };
  auto [net, y] = make();
  auto z = y * 3.0;
  net.output(z, "z");
  REQUIRE(net.ok());
  auto r = evaluate_reference(net, {{"x", make_f32({2}, {-1, 2})}});
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
  check_values(r->at("z"), {2}, {0, 6});
}

TEST_CASE("frontend: a tiny MLP evaluates to hand-computed values") {
  Network net;
  auto x = net.input<f32>("x", {dynamic, 2});
  // h = relu(x w1^T + b1), y = h w2^T + b2
  auto w1 = net.weight<f32, 2>("w1", make_f32({2, 2}, {1, 0, -1, 1}));
  auto b1 = net.weight<f32, 1>("b1", make_f32({2}, {0.5, -2}));
  auto w2 = net.weight<f32, 2>("w2", make_f32({1, 2}, {2, 3}));
  auto b2 = net.weight<f32, 1>("b2", make_f32({1}, {1}));
  auto y = linear(relu(linear(x, w1, b1)), w2, b2);
  net.output(y, "y");
  net.set_profile("x", {1, 2}, {2, 2}, {4, 2});
  REQUIRE(net.ok());
  // Row [1, 2]: x w1^T = [1, 1]; + b1 = [1.5, -1]; relu = [1.5, 0]; 1.5*2 + 0*3 + 1 = 4.
  // Row [-1, 0]: x w1^T = [-1, 1]; + b1 = [-0.5, -1]; relu = [0, 0]; 0 + 1 = 1.
  auto r = evaluate_reference(net, {{"x", make_f32({2, 2}, {1, 2, -1, 0})}});
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
  REQUIRE(r->size() == 1);
  check_values(r->at("y"), {2, 1}, {4, 1});

  // Bad inputs are reported by the evaluator, not thrown.
  auto missing = evaluate_reference(net, {});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().id == "rtx.reference.101");
  auto too_big = evaluate_reference(net, {{"x", HostTensor(DataType::kF32, {8, 2})}});
  REQUIRE_FALSE(too_big.has_value());
  CHECK(too_big.error().id == "rtx.reference.103");
}

TEST_CASE("frontend: layer results on the reference evaluator") {
  Network net;
  auto x = net.input<f32>("x", {2, 3});
  auto ids = net.input<i32>("ids", {2});
  net.output(softmax(x), "softmax");
  net.output(where(greater(x, x * 0.0), x, -x), "abs");
  net.output(reduce_sum(x, {1}), "row_sum");
  net.output(reduce_mean(x), "mean");
  net.output(concat<0>(x, x * 10.0), "cat");
  net.output(slice(x, {1}, {3}, {1}), "cols");
  net.output(gather(x, ids), "rows");
  net.output(dequantize(quantize<i8>(x, 0.5), 0.5), "qdq");
  net.output(clip(x, -1, 1), "clip");
  net.output(argmax(x, 1), "argmax");
  net.output(transpose(x), "xt");
  auto pos = greater(x, x * 0.0);
  net.output(logical_xor(pos, equal(pos, logical_not(pos))), "xor");
  net.output(matmul(x, transpose(x)), "gram");
  REQUIRE_MESSAGE(net.ok(), (net.ok() ? "" : net.errors().front().to_string()));

  auto r = evaluate_reference(
      net, {{"x", make_f32({2, 3}, {0, 1, 2, -3, 0.3, 1.6})},
            {"ids", HostTensor::from_vector(DataType::kINT32, {2}, std::vector<int32_t>{1, 1})}});
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
  const auto& out = *r;
  // softmax row [0, 1, 2]: e^k / (1 + e + e^2), the sum being 11.1073379;
  // row [-3, 0.3, 1.6]: e^-3 + e^0.3 + e^1.6 = 0.0497871 + 1.3498588 + 4.9530324 = 6.3526783.
  check_values(
      out.at("softmax"), {2, 3},
      {0.0900305732, 0.2447284711, 0.6652409558, 0.0078371776, 0.2124865677, 0.7796762547});
  check_values(out.at("abs"), {2, 3}, {0, 1, 2, 3, 0.3, 1.6});
  check_values(out.at("row_sum"), {2}, {3, -1.1}, 1e-6);
  check_values(out.at("mean"), {}, {(3 - 1.1) / 6}, 1e-6);
  check_values(out.at("cat"), {4, 3}, {0, 1, 2, -3, 0.3, 1.6, 0, 10, 20, -30, 3, 16}, 1e-5);
  check_values(out.at("cols"), {2, 2}, {1, 2, 0.3, 1.6});
  check_values(out.at("rows"), {2, 3}, {-3, 0.3, 1.6, -3, 0.3, 1.6});
  // Quantized to steps of 0.5, round half to even: 0.3 -> 0.5, 1.6 -> 1.5.
  check_values(out.at("qdq"), {2, 3}, {0, 1, 2, -3, 0.5, 1.5});
  check_values(out.at("clip"), {2, 3}, {0, 1, 1, -1, 0.3, 1});
  CHECK(out.at("argmax").dtype() == DataType::kINT64);
  check_values(out.at("argmax"), {2}, {2, 2});
  check_values(out.at("xt"), {3, 2}, {0, -3, 1, 0.3, 2, 1.6});
  // equal(pos, !pos) is all false, so xor gives pos = x > 0.
  CHECK(out.at("xor").dtype() == DataType::kBOOL);
  check_values(out.at("xor"), {2, 3}, {0, 1, 1, 0, 1, 1});
  // [0,1,2].[0,1,2] = 5; [0,1,2].[-3,.3,1.6] = 3.5; [-3,.3,1.6]^2 = 9 + .09 + 2.56 = 11.65
  check_values(out.at("gram"), {2, 2}, {5, 3.5, 3.5, 11.65}, 1e-5);
}

TEST_CASE("frontend: pad, expand, resize, conv_transpose, reduce_prod, concat list") {
  Network net;
  auto x = net.input<f32>("x", {2, 3});
  auto pair = net.input<f32>("pair", {1, 1, 2});
  auto k = net.weight<f32, 3>("k", make_f32({1, 1, 2}, {1, 10}));
  net.output(pad(x, {0, 1, 0, 0}, 9), "pad");
  net.output(expand(reduce_sum(x, {1}, keep_dims), {2, 3}), "expand");
  net.output(resize(reshape(pair, {1, 1, 1, 2}), {1, 1, 2, 2}), "resize");
  net.output(conv_transpose(pair, k), "deconv");
  net.output(reduce_prod(x, {1}), "prod");
  auto cat = concat({x, x}, 1);
  static_assert(std::is_same_v<decltype(cat), Tensor<f32, 2>>);
  net.output(cat, "cat");
  REQUIRE_MESSAGE(net.ok(), (net.ok() ? "" : net.errors().front().to_string()));

  auto r = evaluate_reference(net, {{"x", make_f32({2, 3}, {0, 1, 2, -3, 0.3, 1.6})},
                                    {"pair", make_f32({1, 1, 2}, {1, 2})}});
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
  const auto& out = *r;
  check_values(out.at("pad"), {2, 4}, {9, 0, 1, 2, 9, -3, 0.3, 1.6});
  check_values(out.at("expand"), {2, 3}, {3, 3, 3, -1.1, -1.1, -1.1});
  check_values(out.at("resize"), {1, 1, 2, 4}, {1, 1, 2, 2, 1, 1, 2, 2});
  // Transposed 1-d conv of [1, 2] with kernel [1, 10]: [1*1, 1*10 + 2*1, 2*10].
  check_values(out.at("deconv"), {1, 1, 3}, {1, 12, 20});
  check_values(out.at("prod"), {2}, {0, -1.44}, 1e-6);
  check_values(out.at("cat"), {2, 6}, {0, 1, 2, 0, 1, 2, -3, 0.3, 1.6, -3, 0.3, 1.6});
}

TEST_CASE("frontend: evaluate_reference needs outputs; wrap_graph adopts a graph") {
  Network empty;
  (void)empty.input<f32>("x", {1});
  auto r = evaluate_reference(empty, {{"x", make_f32({1}, {1})}});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == "rtx.frontend.130");

  ir::Graph g;
  const ir::ValueId x = g.add_input("x", DataType::kF32, {2});
  const ir::NodeId n = g.add_node(ir::OpKind::kNeg, "neg", {x});
  g.mark_output(g.node(n).outputs[0], "y");
  g.infer_shapes();
  Network wrapped = detail::wrap_graph(std::move(g));
  CHECK(wrapped.ok());
  CHECK(wrapped.output_names() == std::vector<std::string>{"y"});
  auto w = evaluate_reference(wrapped, {{"x", make_f32({2}, {1, -2})}});
  REQUIRE(w.has_value());
  check_values(w->at("y"), {2}, {-1, 2});
}
