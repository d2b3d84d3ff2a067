// SPDX-License-Identifier: Apache-2.0
// Pointwise family without a GPU: snapshots of rendered functors, rendering errors, planning of
// single nodes, run-time parameters (dim merging, broadcast strides, vector-path choice), launch
// configs, spec JSON, and NVRTC compilation of a representative set of functors (every op, the
// cast matrix) for every default target in one program.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "ir/graph.hpp"
#include "ir/onnx_dtype.hpp"
#include "jit/kernels/pointwise.hpp"
#include "test_templates_util.hpp"

using namespace rtx;
using namespace rtx::jit::kernels;
using ir::OpKind;
using rtx::test::fake_ptr;
using rtx::test::out_of;

namespace {

using Attrs = std::map<std::string, ir::AttrValue, std::less<>>;

/// A one-node IR node with inputs 0..n-1 and output n.
ir::Node make_node(OpKind op, size_t inputs, Attrs attrs = {}) {
  ir::Node n;
  n.op = op;
  n.name = std::string(ir::op_name(op)) + "_node";
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back(static_cast<ir::ValueId>(i));
  n.outputs.push_back(static_cast<ir::ValueId>(inputs));
  n.attrs = std::move(attrs);
  return n;
}

ir::TensorInfo info(DataType t, std::vector<int64_t> shape = {4, 8}) {
  return ir::TensorInfo{t, std::move(shape), true};
}

PointwiseSpec plan1(OpKind op, std::vector<ir::TensorInfo> inputs, Attrs attrs = {}) {
  const ir::Node n = make_node(op, inputs.size(), std::move(attrs));
  auto spec = plan_pointwise(n, inputs);
  REQUIRE_MESSAGE(spec.has_value(), "plan_pointwise failed for " << ir::op_name(op));
  return *spec;
}

}  // namespace

TEST_CASE("render: Add + Gelu + Mul by a constant + Cast to int32 (snapshot)") {
  ir::Graph g;
  const auto x = g.add_input("x", DataType::kF16, {4, 8});
  const auto y = g.add_input("y", DataType::kF16, {8});
  const auto half = g.add_constant(HostTensor::scalar(DataType::kF16, 0.5));
  const auto add = g.add_node(OpKind::kAdd, "add", {x, y});
  const auto gelu = g.add_node(OpKind::kGelu, "gelu", {out_of(g, add)});
  const auto mul = g.add_node(OpKind::kMul, "mul", {out_of(g, gelu), half});
  const auto cast = g.add_node(OpKind::kCast, "cast", {out_of(g, mul)}, 1, {{"to", int64_t{6}}});
  g.infer_shapes();
  const std::vector<ir::NodeId> nodes{add, gelu, mul, cast};
  auto chain = render_pointwise(g, nodes, out_of(g, cast));
  REQUIRE_MESSAGE(chain.has_value(), (chain ? "" : chain.error().to_string()));
  // The Cast rounds its f16 operand first (an unfused graph stores mul's result as f16).
  const char* golden = R"(namespace rtx::generated {
struct pw_b013111bda3c {
  __device__ int operator()(__half x0, __half x1) const {
    const float a0 = rtx::kernels::load_compute(x0);
    const float a1 = rtx::kernels::load_compute(x1);
    const float v0 = (a0 + a1);
    const float v1 = rtx::kernels::gelu_erf(v0);
    const float v2 = (v1 * 0.5f);
    const int v3 = rtx::kernels::cast<int>(rtx::kernels::cast<int, true>(rtx::kernels::round_as<__half>(v2)));
    return rtx::kernels::cast<int, false>(v3);
  }
};
}  // namespace rtx::generated
)";
  CHECK(chain->spec.functor_source == golden);
  CHECK(chain->spec.functor_name == "rtx::generated::pw_b013111bda3c");
  CHECK(chain->spec.output == DataType::kINT32);
  CHECK(chain->spec.inputs == std::vector<DataType>{DataType::kF16, DataType::kF16});
  CHECK(chain->inputs == std::vector<ir::ValueId>{x, y});  // the constant became a literal
  CHECK(chain->spec.name_expression() ==
        "rtx::kernels::pointwise<rtx::generated::pw_b013111bda3c, int, __half, __half>");
}

TEST_CASE("render: a per-axis DequantizeLinear loads its scale and zero point through axis views") {
  ir::Graph g;
  const auto x = g.add_input("x", DataType::kINT8, {2, 3, 5});
  const auto s = g.add_input("s", DataType::kF32, {3});
  const auto z = g.add_input("z", DataType::kINT8, {3});
  const auto n = g.add_node(OpKind::kDequantizeLinear, "dq", {x, s, z}, 1, {{"axis", int64_t{-2}}});
  g.infer_shapes();
  const std::vector<ir::NodeId> nodes{n};
  auto r = render_pointwise(g, nodes, out_of(g, n));
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
  REQUIRE(r->views.size() == 3);
  CHECK(r->views[0] == InputView{});
  CHECK(r->views[1] == InputView{3, 1});
  CHECK(r->views[2] == InputView{3, 1});
  CHECK(*view_shape({3}, r->views[1]) == std::vector<int64_t>{1, 3, 1});
  CHECK_FALSE(view_shape({3, 1}, r->views[1]).has_value());  // only 1-D parameters are viewed
}

TEST_CASE("render: a block-wise DequantizeLinear views its parameters block by block") {
  ir::Graph g;
  const auto x = g.add_input("x", DataType::kINT8, {2, 6, 3});
  const auto s = g.add_input("s", DataType::kF32, {2, 3, 3});
  const auto z = g.add_input("z", DataType::kINT8, {2, 3, 3});
  const auto n = g.add_node(OpKind::kDequantizeLinear, "dq", {x, s, z}, 1,
                            {{"axis", int64_t{1}}, {"block_size", int64_t{2}}});
  g.infer_shapes();
  const std::vector<ir::NodeId> nodes{n};
  auto r = render_pointwise(g, nodes, out_of(g, n));
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
  REQUIRE(r->views.size() == 3);
  CHECK(r->views[0] == InputView{});
  CHECK(r->views[1] == (InputView{3, 1, 2}));
  CHECK(r->views[2] == (InputView{3, 1, 2}));

  // The kernel sees axis 1 (6) as 3 blocks of 2; the parameters repeat over each block.
  PointwiseArgs a;
  a.out_shape = {2, 6, 3};
  a.in_shapes = {{2, 6, 3}, {2, 3, 3}, {2, 3, 3}};
  REQUIRE(apply_views(a, r->views).has_value());
  CHECK(a.out_shape == std::vector<int64_t>{2, 3, 2, 3});
  CHECK(a.in_shapes[0] == std::vector<int64_t>{2, 3, 2, 3});
  CHECK(a.in_shapes[1] == std::vector<int64_t>{2, 3, 1, 3});
  CHECK(a.in_shapes[2] == std::vector<int64_t>{2, 3, 1, 3});

  // A partial last block (7 = 3 blocks of 2, the last one short) is left to the host.
  PointwiseArgs partial;
  partial.out_shape = {2, 7, 3};
  partial.in_shapes = {{2, 7, 3}, {2, 4, 3}, {2, 4, 3}};
  const auto refused = apply_views(partial, r->views);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().id == "rtx.jit.302");

  // An input of higher rank than the output (a malformed plan) is an error, not a crash.
  PointwiseArgs taller;
  taller.out_shape = {2, 6, 3};
  taller.in_shapes = {{1, 2, 6, 3}, {2, 3, 3}, {2, 3, 3}};
  const auto refused_rank = apply_views(taller, r->views);
  REQUIRE_FALSE(refused_rank.has_value());
  CHECK(refused_rank.error().id == "rtx.jit.302");

  // Parameters whose blocked extent does not match ceil(D / block) are not viewed: the node is
  // not rendered (it runs on the host).
  ir::Graph bad;
  const auto bx = bad.add_input("x", DataType::kINT8, {2, 6});
  const auto bs = bad.add_input("s", DataType::kF32, {2, 2});
  const auto bn = bad.add_node(OpKind::kDequantizeLinear, "dq", {bx, bs}, 1,
                               {{"axis", int64_t{1}}, {"block_size", int64_t{4}}});
  bad.infer_shapes();
  const std::vector<ir::NodeId> bad_nodes{bn};
  CHECK(render_pointwise(bad, bad_nodes, out_of(bad, bn)).has_value());  // ceil(6 / 4) = 2: fits
  ir::Graph worse;
  const auto wx = worse.add_input("x", DataType::kINT8, {2, 6});
  const auto ws = worse.add_input("s", DataType::kF32, {2, 3});
  const auto wn = worse.add_node(OpKind::kDequantizeLinear, "dq", {wx, ws}, 1,
                                 {{"axis", int64_t{1}}, {"block_size", int64_t{4}}});
  const std::vector<ir::NodeId> worse_nodes{wn};
  worse.value(worse.node(wn).outputs[0]).info = {DataType::kF32, {2, 6}};
  CHECK_FALSE(render_pointwise(worse, worse_nodes, out_of(worse, wn)).has_value());
}

TEST_CASE("render: equal chains of differently named layers share one functor (one kernel)") {
  ir::Graph g;
  const auto x = g.add_input("x", DataType::kF16, {4, 8});
  const auto y = g.add_input("y", DataType::kF16, {4, 8});
  const auto add1 = g.add_node(OpKind::kAdd, "block1.add", {x, y});
  const auto relu1 = g.add_node(OpKind::kRelu, "block1.relu", {out_of(g, add1)});
  const auto add2 = g.add_node(OpKind::kAdd, "block2.add", {out_of(g, relu1), y});
  const auto relu2 = g.add_node(OpKind::kRelu, "block2.relu", {out_of(g, add2)});
  g.infer_shapes();
  const std::vector<ir::NodeId> block1{add1, relu1}, block2{add2, relu2};
  auto first = render_pointwise(g, block1, out_of(g, relu1));
  auto second = render_pointwise(g, block2, out_of(g, relu2));
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK(first->spec.functor_name == second->spec.functor_name);
  CHECK(first->spec.functor_source == second->spec.functor_source);
}

TEST_CASE("render: DequantizeLinear -> Relu -> QuantizeLinear with constant scales (snapshot)") {
  ir::Graph g;
  const auto q = g.add_input("q", DataType::kINT8, {16});
  const auto s = g.add_constant(HostTensor::scalar(DataType::kF32, 0.25));
  const auto zp = g.add_constant(HostTensor::scalar(DataType::kINT8, -3));
  const auto s2 = g.add_constant(HostTensor::scalar(DataType::kF32, 0.125));
  const auto zp2 = g.add_constant(HostTensor::scalar(DataType::kUINT8, 128));
  const auto dq = g.add_node(OpKind::kDequantizeLinear, "dq", {q, s, zp});
  const auto relu = g.add_node(OpKind::kRelu, "relu", {out_of(g, dq)});
  const auto qn = g.add_node(OpKind::kQuantizeLinear, "q", {out_of(g, relu), s2, zp2});
  g.infer_shapes();
  const std::vector<ir::NodeId> nodes{dq, relu, qn};
  auto chain = render_pointwise(g, nodes, out_of(g, qn));
  REQUIRE_MESSAGE(chain.has_value(), (chain ? "" : chain.error().to_string()));
  const char* golden = R"(namespace rtx::generated {
struct pw_cbfc651edadd {
  __device__ unsigned char operator()(signed char x0) const {
    const signed char a0 = rtx::kernels::load_compute(x0);
    const float v0 = (static_cast<float>(static_cast<int>(a0) - static_cast<int>(static_cast<signed char>(-3))) * rtx::kernels::cast<float>(0.25f));
    const float v1 = rtx::kernels::relu(v0);
    const double q0 = rtx::kernels::quantize_divide<float>(v1, 0.125f);
    const unsigned char v2 = rtx::kernels::quantize_int<unsigned char>(q0, static_cast<long long>(static_cast<unsigned char>(128)));
    return rtx::kernels::cast<unsigned char, false>(v2);
  }
};
}  // namespace rtx::generated
)";
  CHECK(chain->spec.functor_source == golden);
  CHECK(chain->spec.inputs == std::vector<DataType>{DataType::kINT8});
}

TEST_CASE("render: Where(Greater(a, b), a, Sqrt(b)) in bf16, shared inputs read once (snapshot)") {
  ir::Graph g;
  const auto a = g.add_input("a", DataType::kBF16, {3, 5});
  const auto b = g.add_input("b", DataType::kBF16, {3, 5});
  const auto gt = g.add_node(OpKind::kGreater, "gt", {a, b});
  const auto sq = g.add_node(OpKind::kSqrt, "sqrt", {b});
  const auto wh = g.add_node(OpKind::kWhere, "where", {out_of(g, gt), a, out_of(g, sq)});
  g.infer_shapes();
  const std::vector<ir::NodeId> nodes{gt, sq, wh};
  auto chain = render_pointwise(g, nodes, out_of(g, wh));
  REQUIRE_MESSAGE(chain.has_value(), (chain ? "" : chain.error().to_string()));
  const char* golden = R"(namespace rtx::generated {
struct pw_ec46cd8f04b2 {
  __device__ __nv_bfloat16 operator()(__nv_bfloat16 x0, __nv_bfloat16 x1) const {
    const float a0 = rtx::kernels::load_compute(x0);
    const float a1 = rtx::kernels::load_compute(x1);
    const bool v0 = (a0 > a1);
    const float v1 = sqrtf(a1);
    const float v2 = (v0 ? a0 : v1);
    return rtx::kernels::cast<__nv_bfloat16, false>(v2);
  }
};
}  // namespace rtx::generated
)";
  CHECK(chain->spec.functor_source == golden);
  CHECK(chain->inputs == std::vector<ir::ValueId>{a, b});
}

TEST_CASE("render: equal chains get equal functor names; different ones differ") {
  const auto make = [](double alpha) {
    ir::Graph g;
    const auto x = g.add_input("x", DataType::kF32, {8});
    const auto n = g.add_node(OpKind::kLeakyRelu, "lr", {x}, 1, {{"alpha", alpha}});
    g.infer_shapes();
    const std::vector<ir::NodeId> nodes{n};
    return render_pointwise(g, nodes, out_of(g, n)).value().spec;
  };
  CHECK(make(0.1).functor_name == make(0.1).functor_name);
  CHECK(make(0.1).functor_name != make(0.2).functor_name);
  CHECK(make(0.1).functor_source.find("rtx::kernels::leaky_relu(a0, 0.100000001f)") !=
        std::string::npos);
}

TEST_CASE("render: unsupported chains are errors rtx.jit.301 naming the problem") {
  SUBCASE("not an elementwise op") {
    ir::Graph g;
    const auto x = g.add_input("x", DataType::kF32, {2, 3});
    const auto n = g.add_node(OpKind::kSoftmax, "sm", {x});
    g.infer_shapes();
    const std::vector<ir::NodeId> nodes{n};
    auto r = render_pointwise(g, nodes, out_of(g, n));
    REQUIRE(!r);
    CHECK(r.error().id == "rtx.jit.301");
    CHECK(r.error().message.find("Softmax") != std::string::npos);
  }
  SUBCASE("packed 4-bit input of an op other than Q/DQ") {
    ir::Graph g;
    const auto x = g.add_input("x", DataType::kINT4, {8});
    const auto n = g.add_node(OpKind::kIdentity, "id", {x});
    g.infer_shapes();
    const std::vector<ir::NodeId> nodes{n};
    auto r = render_pointwise(g, nodes, out_of(g, n));
    REQUIRE(!r);
    CHECK(r.error().id == "rtx.jit.301");
    CHECK(r.error().message.find("4-bit") != std::string::npos);
  }
  SUBCASE("a block-wise scale that does not have ceil(D / block) blocks") {
    ir::Graph g;
    const auto x = g.add_input("x", DataType::kINT8, {2, 8});
    const auto s = g.add_input("s", DataType::kF32, {2, 3});
    const auto n = g.add_node(OpKind::kDequantizeLinear, "dq", {x, s}, 1,
                              {{"axis", int64_t{1}}, {"block_size", int64_t{4}}});
    g.value(g.node(n).outputs[0]).info = {DataType::kF32, {2, 8}};
    const std::vector<ir::NodeId> nodes{n};
    auto r = render_pointwise(g, nodes, out_of(g, n));
    REQUIRE(!r);
    CHECK(r.error().message.find("block-wise") != std::string::npos);
  }
  SUBCASE("more inputs than one kernel takes") {
    ir::Graph g;
    std::vector<ir::ValueId> xs;
    for (int i = 0; i < 9; ++i) xs.push_back(g.add_input("x" + std::to_string(i), DataType::kF32, {4}));
    const auto n = g.add_node(OpKind::kMax, "max", xs);
    g.infer_shapes();
    const std::vector<ir::NodeId> nodes{n};
    auto r = render_pointwise(g, nodes, out_of(g, n));
    REQUIRE(!r);
    CHECK(r.error().message.find("at most 8") != std::string::npos);
  }
  SUBCASE("output not produced by the chain") {
    ir::Graph g;
    const auto x = g.add_input("x", DataType::kF32, {4});
    const auto n = g.add_node(OpKind::kRelu, "r", {x});
    g.infer_shapes();
    const std::vector<ir::NodeId> nodes{n};
    auto r = render_pointwise(g, nodes, x);
    REQUIRE(!r);
    CHECK(r.error().id == "rtx.jit.301");
  }
}

TEST_CASE("plan_pointwise: single nodes; nullopt for what the family does not do") {
  const auto f16 = info(DataType::kF16);
  CHECK(plan1(OpKind::kRelu, {f16}).output == DataType::kF16);
  CHECK(plan1(OpKind::kEqual, {f16, f16}).output == DataType::kBOOL);
  CHECK(plan1(OpKind::kCast, {f16}, {{"to", int64_t{17}}}).output == DataType::kFP8E4M3);
  CHECK(plan1(OpKind::kWhere, {info(DataType::kBOOL), f16, f16}).inputs.size() == 3);
  CHECK(!plan_pointwise(make_node(OpKind::kMatMul, 2), std::vector{f16, f16}));
  CHECK(!plan_pointwise(make_node(OpKind::kRelu, 1), std::vector{info(DataType::kFP4E2M1)}));
  // Inference failures (mixed dtypes) are not implementable either.
  CHECK(!plan_pointwise(make_node(OpKind::kAdd, 2), std::vector{f16, info(DataType::kF32)}));
  // A Cast's saturate=0 reaches the rendered code.
  const auto sat = plan1(OpKind::kCast, {info(DataType::kF32)},
                         {{"to", int64_t{19}}, {"saturate", int64_t{0}}});
  CHECK(sat.functor_source.find("cast<__nv_fp8_e5m2, false>") != std::string::npos);
}

TEST_CASE("make_params: contiguous same-shape inputs take the vector path, dims merged") {
  const auto spec = plan1(OpKind::kAdd, {info(DataType::kF16), info(DataType::kF16)});
  PointwiseArgs a;
  a.out_shape = {4, 8, 16};
  a.in_shapes = {{4, 8, 16}, {4, 8, 16}};
  a.out = fake_ptr(0x10000);
  a.in = {fake_ptr(0x20000), fake_ptr(0x30000)};
  auto p = make_params(spec, a);
  REQUIRE(p);
  CHECK(p->n == 512);
  CHECK(p->vectorized == 1);
  CHECK(p->scalar_mask == 0);
  CHECK(p->rank == 1);
  CHECK(p->shape[0] == 512);
  CHECK(p->strides[0][0] == 1);
  CHECK(pointwise_vector_width(spec) == 8);  // 16 bytes of f16
  const auto c = launch_config(spec, *p);
  CHECK(c.block.x == 256);
  CHECK(c.grid.x == 1);  // 64 vectors
  CHECK(launch_config(spec, *p, 2).grid.x == 1);

  SUBCASE("a misaligned buffer falls back to the strided path") {
    a.in[1] = fake_ptr(0x30002);
    auto q = make_params(spec, a);
    REQUIRE(q);
    CHECK(q->vectorized == 0);
    CHECK(launch_config(spec, *q).grid.x == 2);  // 512 elements
  }
  SUBCASE("a one-element input stays on the vector path as a scalar") {
    a.in_shapes[1] = {1, 1};
    auto q = make_params(spec, a);
    REQUIRE(q);
    CHECK(q->vectorized == 1);
    CHECK(q->scalar_mask == 2u);
  }
}

TEST_CASE("make_params: broadcasting strides, merged dims and errors") {
  const auto spec = plan1(OpKind::kMul, {info(DataType::kF32), info(DataType::kF32)});
  PointwiseArgs a;
  a.out = fake_ptr(0x10000);
  a.in = {fake_ptr(0x20000), fake_ptr(0x30000)};

  SUBCASE("bias over the last dim") {
    a.out_shape = {2, 3, 4, 5};
    a.in_shapes = {{2, 3, 4, 5}, {5}};
    auto p = make_params(spec, a);
    REQUIRE(p);
    CHECK(p->vectorized == 0);
    REQUIRE(p->rank == 2);  // [24, 5]: the leading dims merge for both inputs
    CHECK(p->shape[0] == 24);
    CHECK(p->shape[1] == 5);
    CHECK(p->strides[0][0] == 5);
    CHECK(p->strides[0][1] == 1);
    CHECK(p->strides[1][0] == 0);
    CHECK(p->strides[1][1] == 1);
  }
  SUBCASE("a bias over the last dim whose length fits the vectors stays on the vector path") {
    a.out_shape = {64, 4096};
    a.in_shapes = {{64, 4096}, {4096}};
    auto p = make_params(spec, a);
    REQUIRE(p);
    CHECK(p->vectorized == 1);
    CHECK(p->periodic_mask == 2u);
    CHECK(p->period[1] == 4096);
    CHECK(p->scalar_mask == 0u);
    a.in_shapes = {{64, 4096}, {1, 4096}};
    CHECK(make_params(spec, a)->periodic_mask == 2u);
    a.in_shapes = {{64, 4096}, {64, 1}};  // a column broadcast has no vector form
    CHECK(make_params(spec, a)->vectorized == 0);
  }
  SUBCASE("per-channel [C, 1, 1] against NCHW") {
    a.out_shape = {2, 3, 4, 5};
    a.in_shapes = {{2, 3, 4, 5}, {3, 1, 1}};
    auto p = make_params(spec, a);
    REQUIRE(p);
    REQUIRE(p->rank == 3);  // [2, 3, 20]
    CHECK(p->shape[2] == 20);
    CHECK(p->strides[1][0] == 0);
    CHECK(p->strides[1][1] == 1);
    CHECK(p->strides[1][2] == 0);
    CHECK(p->strides[0][0] == 60);
  }
  SUBCASE("outer product [4, 1] x [1, 6]") {
    a.out_shape = {4, 6};
    a.in_shapes = {{4, 1}, {1, 6}};
    auto p = make_params(spec, a);
    REQUIRE(p);
    REQUIRE(p->rank == 2);
    CHECK(p->strides[0][0] == 1);
    CHECK(p->strides[0][1] == 0);
    CHECK(p->strides[1][0] == 0);
    CHECK(p->strides[1][1] == 1);
  }
  SUBCASE("0-d output") {
    a.out_shape = {};
    a.in_shapes = {{}, {}};
    auto p = make_params(spec, a);
    REQUIRE(p);
    CHECK(p->n == 1);
    CHECK(p->rank == 0);
  }
  SUBCASE("empty output: nothing to launch") {
    a.out_shape = {3, 0};
    a.in_shapes = {{3, 0}, {0}};
    auto p = make_params(spec, a);
    REQUIRE(p);
    CHECK(p->n == 0);
    CHECK(launch_config(spec, *p).grid.x == 0);
  }
  SUBCASE("shapes that do not broadcast") {
    a.out_shape = {4, 6};
    a.in_shapes = {{4, 6}, {4}};
    auto p = make_params(spec, a);
    REQUIRE(!p);
    CHECK(p.error().id == "rtx.jit.302");
    CHECK(p.error().message.find("[4]") != std::string::npos);
  }
  SUBCASE("wrong input count") {
    a.out_shape = {4};
    a.in_shapes = {{4}};
    a.in = {fake_ptr(0x20000)};
    CHECK(make_params(spec, a).error().id == "rtx.jit.302");
  }
  SUBCASE("more than 8 dims that cannot merge") {
    a.out_shape = std::vector<int64_t>(9, 2);
    a.in_shapes = {{2, 1, 2, 1, 2, 1, 2, 1, 2}, std::vector<int64_t>(9, 2)};
    auto p = make_params(spec, a);
    REQUIRE(!p);
    CHECK(p.error().message.find("at most 8") != std::string::npos);
  }
  SUBCASE("nine dims that merge are fine") {
    a.out_shape = std::vector<int64_t>(9, 2);
    a.in_shapes = {std::vector<int64_t>(9, 2), std::vector<int64_t>(9, 2)};
    auto p = make_params(spec, a);
    REQUIRE(p);
    CHECK(p->rank == 1);
  }
  SUBCASE("null buffers") {
    a.out_shape = {4};
    a.in_shapes = {{4}, {4}};
    a.in[0] = nullptr;
    CHECK(make_params(spec, a).error().id == "rtx.jit.302");
  }
}

TEST_CASE("4-bit Q/DQ: packed types in the name expression, nibbles in the functor, strided path only") {
  const auto dq = plan1(OpKind::kDequantizeLinear, {info(DataType::kINT4, {8}), info(DataType::kF32, {})});
  CHECK(dq.name_expression().find(", float, rtx::kernels::int4x2, float>") != std::string::npos);
  CHECK(dq.functor_source.find("operator()(signed char x0, float x1)") != std::string::npos);
  const auto q = plan1(OpKind::kQuantizeLinear,
                       {info(DataType::kF32, {8}), info(DataType::kF32, {}), info(DataType::kUINT4, {})});
  CHECK(q.name_expression().find(", rtx::kernels::uint4x2, float, float, rtx::kernels::uint4x2>") != std::string::npos);
  CHECK(q.functor_source.find("quantize_int<unsigned char, 4>") != std::string::npos);
  // The engine stores specs as JSON: 4-bit dtypes must read back (the runtime loads them).
  for (const PointwiseSpec& s : {dq, q}) {
    const nlohmann::json j = s;
    CHECK(j.get<PointwiseSpec>() == s);
  }
  // Aligned, contiguous and same-shaped: the vector path for anything else, never for nibbles.
  alignas(16) static uint8_t buffers[3][64];
  PointwiseArgs a;
  a.out_shape = {64};
  a.in_shapes = {{64}, {}, {}};
  a.out = buffers[0];
  a.in = {buffers[1], buffers[2], buffers[2]};
  const auto p = make_params(q, a);
  REQUIRE(p.has_value());
  CHECK(p->vectorized == 0);
}

TEST_CASE("launch_config: grid-stride cap") {
  const auto spec = plan1(OpKind::kAbs, {info(DataType::kF32)});
  rtx::kernels::PointwiseParams p{};
  p.n = int64_t{1} << 30;
  p.vectorized = 1;
  CHECK(launch_config(spec, p).grid.x == 8192);
  CHECK(launch_config(spec, p, 132).grid.x == 132 * 32);
  p.n = 1000;
  p.vectorized = 1;
  CHECK(launch_config(spec, p).grid.x == 1);  // 250 vectors of 4 floats
}

TEST_CASE("spec JSON round trip and malformed JSON") {
  const auto spec = plan1(OpKind::kSigmoid, {info(DataType::kBF16)});
  nlohmann::json j = spec;
  CHECK(j.at("output") == "bf16");
  const PointwiseSpec back = j.get<PointwiseSpec>();
  CHECK(back == spec);
  nlohmann::json bad = j;
  bad["functor_name"] = "evil; int x";
  CHECK_THROWS_WITH_AS(bad.get<PointwiseSpec>(), doctest::Contains("rtx.jit.303"), Exception);
  bad = j;
  bad["inputs"] = nlohmann::json::array({"fp4e2m1"});  // packed fp4: no pointwise kernel
  CHECK_THROWS_AS(bad.get<PointwiseSpec>(), Exception);
  bad = j;
  bad.erase("output");
  CHECK_THROWS_AS(bad.get<PointwiseSpec>(), Exception);
}

namespace {

/// Specs covering every op (float, integer and bool forms) and the cast matrix.
std::vector<PointwiseSpec> all_specs() {
  std::vector<PointwiseSpec> specs;
  const auto f16 = info(DataType::kF16), f32 = info(DataType::kF32), bf16 = info(DataType::kBF16);
  const auto f64 = info(DataType::kF64), i32 = info(DataType::kINT32), i8 = info(DataType::kINT8);
  const auto u8 = info(DataType::kUINT8), i64 = info(DataType::kINT64);
  const auto bl = info(DataType::kBOOL);
  const auto scalar = [](DataType t) { return info(t, {}); };
  // Float unary ops (f16 data, one f64 variant).
  for (OpKind op : {OpKind::kRelu, OpKind::kSigmoid, OpKind::kTanh, OpKind::kErf, OpKind::kSilu,
                    OpKind::kExp, OpKind::kLog, OpKind::kSqrt, OpKind::kReciprocal, OpKind::kNeg,
                    OpKind::kAbs, OpKind::kFloor, OpKind::kCeil, OpKind::kSin, OpKind::kCos,
                    OpKind::kIdentity, OpKind::kIsNaN})
    specs.push_back(plan1(op, {f16}));
  specs.push_back(plan1(OpKind::kGelu, {bf16}, {{"approximate", std::string("tanh")}}));
  specs.push_back(plan1(OpKind::kGelu, {f64}));
  specs.push_back(plan1(OpKind::kLeakyRelu, {f32}));
  specs.push_back(plan1(OpKind::kIsInf, {f32}, {{"detect_negative", int64_t{0}}}));
  specs.push_back(plan1(OpKind::kClip, {f16, scalar(DataType::kF16), scalar(DataType::kF16)}));
  // Integer unary ops.
  specs.push_back(plan1(OpKind::kNeg, {i8}));
  specs.push_back(plan1(OpKind::kAbs, {i64}));
  specs.push_back(plan1(OpKind::kRelu, {i32}));
  specs.push_back(plan1(OpKind::kErf, {i32}));
  specs.push_back(plan1(OpKind::kClip, {u8, scalar(DataType::kUINT8), scalar(DataType::kUINT8)}));
  specs.push_back(plan1(OpKind::kNot, {bl}));
  // Binary arithmetic, float and integer.
  for (OpKind op : {OpKind::kAdd, OpKind::kSub, OpKind::kMul, OpKind::kDiv}) {
    specs.push_back(plan1(op, {f32, f32}));
    specs.push_back(plan1(op, {i32, i32}));
  }
  specs.push_back(plan1(OpKind::kDiv, {i8, i8}));
  specs.push_back(plan1(OpKind::kMul, {u8, u8}));
  specs.push_back(plan1(OpKind::kPow, {f32, f32}));
  specs.push_back(plan1(OpKind::kPow, {i64, i32}));
  specs.push_back(plan1(OpKind::kPow, {i32, f32}));
  specs.push_back(plan1(OpKind::kMax, {f16, f16, f16}));
  specs.push_back(plan1(OpKind::kMin, {i64, i64}));
  specs.push_back(plan1(OpKind::kMod, {i32, i32}));
  specs.push_back(plan1(OpKind::kMod, {i8, i8}, {{"fmod", int64_t{1}}}));
  specs.push_back(plan1(OpKind::kMod, {f32, f32}, {{"fmod", int64_t{1}}}));
  for (OpKind op : {OpKind::kEqual, OpKind::kLess, OpKind::kLessOrEqual, OpKind::kGreater,
                    OpKind::kGreaterOrEqual})
    specs.push_back(plan1(op, {f16, f16}));
  specs.push_back(plan1(OpKind::kEqual, {bl, bl}));
  for (OpKind op : {OpKind::kAnd, OpKind::kOr, OpKind::kXor}) specs.push_back(plan1(op, {bl, bl}));
  specs.push_back(plan1(OpKind::kWhere, {bl, f16, f16}));
  specs.push_back(plan1(OpKind::kWhere, {bl, info(DataType::kFP8E4M3), info(DataType::kFP8E4M3)}));
  // Quantization.
  specs.push_back(
      plan1(OpKind::kDequantizeLinear, {i8, scalar(DataType::kF32), scalar(DataType::kINT8)}));
  specs.push_back(plan1(OpKind::kDequantizeLinear, {i32, scalar(DataType::kF16)}));
  specs.push_back(
      plan1(OpKind::kDequantizeLinear, {info(DataType::kFP8E5M2), scalar(DataType::kBF16)}));
  specs.push_back(
      plan1(OpKind::kQuantizeLinear, {f32, scalar(DataType::kF32), scalar(DataType::kUINT8)}));
  specs.push_back(
      plan1(OpKind::kQuantizeLinear, {f16, scalar(DataType::kF16), scalar(DataType::kINT8)}));
  specs.push_back(
      plan1(OpKind::kQuantizeLinear, {i32, scalar(DataType::kINT32), scalar(DataType::kINT8)}));
  specs.push_back(plan1(OpKind::kQuantizeLinear, {bf16, scalar(DataType::kBF16)},
                        {{"output_dtype", int64_t{17}}}));
  // Cast matrix: every supported dtype to and from f32, plus a few direct pairs.
  const DataType all[] = {DataType::kF16,     DataType::kBF16,    DataType::kF64,
                          DataType::kFP8E4M3, DataType::kFP8E5M2, DataType::kINT8,
                          DataType::kUINT8,   DataType::kINT32,   DataType::kINT64,
                          DataType::kBOOL};
  for (DataType t : all) {
    specs.push_back(plan1(OpKind::kCast, {f32}, {{"to", ir::onnx_from_data_type(t)}}));
    specs.push_back(plan1(OpKind::kCast, {info(t)}, {{"to", int64_t{1}}}));
  }
  specs.push_back(plan1(OpKind::kCast, {f16}, {{"to", int64_t{17}}, {"saturate", int64_t{0}}}));
  specs.push_back(plan1(OpKind::kCast, {f64}, {{"to", int64_t{19}}}));
  specs.push_back(plan1(OpKind::kCast, {i64}, {{"to", int64_t{16}}}));
  specs.push_back(plan1(OpKind::kCast, {info(DataType::kFP8E4M3)}, {{"to", int64_t{3}}}));
  // Packed 4-bit Q/DQ (the last four: the representative set takes them too).
  const auto i4 = info(DataType::kINT4), u4 = info(DataType::kUINT4);
  specs.push_back(plan1(OpKind::kDequantizeLinear, {i4, scalar(DataType::kF32), scalar(DataType::kINT4)}));
  specs.push_back(plan1(OpKind::kDequantizeLinear, {u4, scalar(DataType::kF16)}));
  specs.push_back(plan1(OpKind::kQuantizeLinear, {f32, scalar(DataType::kF32), scalar(DataType::kINT4)}));
  specs.push_back(plan1(OpKind::kQuantizeLinear, {f16, scalar(DataType::kF16), scalar(DataType::kUINT4)}));
  return specs;
}

}  // namespace

TEST_CASE("NVRTC: a representative set for every default target, every op for sm_90") {
  const auto specs = all_specs();
  // Every default target: one kernel per op class and storage width (16-, 8-, 1-byte types,
  // integers, bool, fp8 and the Q/DQ paths). NVRTC spends ~0.15 s per kernel and target, so the
  // full set runs for the GPU suite's target only.
  std::vector<PointwiseSpec> representative;
  for (size_t i : {0, 3, 17, 18, 22, 23, 27, 28, 29, 35, 38, 41, 45, 51, 53, 54, 57, 58, 62, 63,
                   68, 70, 72, 86})
    representative.push_back(specs.at(i));
  for (size_t i = specs.size() - 4; i < specs.size(); ++i) representative.push_back(specs[i]);
  const auto images =
      rtx::test::compile_and_check(pointwise_program(representative, "pointwise_representative"));

  // The f16 Relu kernel's vector path moves 16 bytes per access, with no local memory.
  const std::string ptx = rtx::test::ptx_of(images);
  const std::string* lowered = images.back().lowered_name(specs[0].name_expression());
  REQUIRE(lowered);
  const std::string body = rtx::test::ptx_entry(ptx, *lowered);
  REQUIRE(!body.empty());
  CHECK(body.find("ld.global.v4.u32") != std::string::npos);
  CHECK(body.find("st.global.v4.u32") != std::string::npos);
  CHECK(body.find("local") == std::string::npos);

  const jit::Program everything = pointwise_program(specs, "pointwise_all");
  CHECK(everything.name_expressions.size() == specs.size());
  rtx::test::compile_and_check(everything, {jit::Target{90, false, false}});
}
