// SPDX-License-Identifier: Apache-2.0
// Graph IR core: construction, names, profiles, topological order, verifier errors, inference
// driver, dumps, compaction, passes and the graph-level reference evaluator.
#include <doctest/doctest.h>

#include "ir/passes.hpp"
#include "ir/reference.hpp"
#include "op_test_util.hpp"

using namespace rtx;
using namespace rtx::ir;
using rtx::test::check_error;
using rtx::test::check_tensor;

namespace {

// y = relu(x + w), with x dynamic in dim 0.
Graph small_graph() {
  Graph g;
  const ValueId x = g.add_input("x", DataType::kF32, {kDynamic, 3}, {"batch", ""});
  const ValueId w = g.add_weight("w", test::f32({3}, {1, -2, 3}));
  const NodeId add = g.add_node(OpKind::kAdd, "add", {x, w});
  const NodeId relu = g.add_node(OpKind::kRelu, "relu", {g.node(add).outputs[0]});
  g.mark_output(g.node(relu).outputs[0], "y");
  g.infer_shapes();
  return g;
}

PassOptions verifying() {
  PassOptions o;
  o.verify_each = true;
  return o;
}

}  // namespace

TEST_CASE("graph: construction, inference and names") {
  Graph g = small_graph();
  const ValueId y = g.find_value("y");
  REQUIRE(y != kNoValue);
  CHECK(g.value(y).info.dtype == DataType::kF32);
  CHECK(g.value(y).info.shape == std::vector<int64_t>{kDynamic, 3});
  CHECK(g.value(g.find_value("x")).dim_names[0] == "batch");
  CHECK(g.unique_name("y") == "y_1");
  CHECK(g.unique_name("fresh") == "fresh");
  check_error([&] { g.add_input("x", DataType::kF32, {1}); }, "rtx.ir.102", "duplicate");
  check_error([&] { g.add_input("bad", DataType::kF32, {-5}); }, "rtx.ir.103");
  CHECK_NOTHROW(g.verify());
}

TEST_CASE("graph: weights are shared, not copied") {
  Graph g;
  std::vector<float> data = {1, 2, 3, 4};
  auto t = HostTensor::borrow(DataType::kF32, {4}, data.data());
  const ValueId w = g.add_weight("w", t);
  CHECK(g.constant_data(w)->data() == reinterpret_cast<const std::byte*>(data.data()));
  check_error([&] { g.set_constant_data(w, test::f32({2}, {1, 2})); }, "rtx.ir.109");
}

TEST_CASE("graph: profiles are checked against the input") {
  Graph g = small_graph();
  CHECK_NOTHROW(g.set_profile("x", {{1, 3}, {8, 3}, {64, 3}}));
  check_error([&] { g.set_profile("x", {{1, 3}, {8, 3}, {4, 3}}); }, "rtx.ir.107", "min <= opt <= max");
  check_error([&] { g.set_profile("x", {{1, 2}, {8, 3}, {64, 3}}); }, "rtx.ir.107", "static");
  check_error([&] { g.set_profile("w", {{3}, {3}, {3}}); }, "rtx.ir.106");
}

TEST_CASE("graph: topological order follows dependencies, not insertion") {
  Graph g;
  const ValueId x = g.add_input("x", DataType::kF32, {2});
  const NodeId late = g.add_node(OpKind::kRelu, "late", {kNoValue});  // wired below
  const NodeId early = g.add_node(OpKind::kNeg, "early", {x});
  g.node(late).inputs[0] = g.node(early).outputs[0];
  g.mark_output(g.node(late).outputs[0], "y");
  const auto order = g.topological_order();
  REQUIRE(order.size() == 2);
  CHECK(order[0] == early);
  CHECK(order[1] == late);
}

TEST_CASE("graph: verifier names cycles, dangling values and inconsistent infos") {
  SUBCASE("cycle") {
    Graph g;
    const ValueId x = g.add_input("x", DataType::kF32, {2});
    const NodeId a = g.add_node(OpKind::kAdd, "a", {x, x});
    const NodeId b = g.add_node(OpKind::kRelu, "b", {g.node(a).outputs[0]});
    g.node(a).inputs[1] = g.node(b).outputs[0];
    g.mark_output(g.node(b).outputs[0]);
    check_error([&] { g.verify(); }, "rtx.ir.101", "cycle");
  }
  SUBCASE("dangling input") {
    Graph g;
    const ValueId x = g.add_input("x", DataType::kF32, {2});
    const NodeId a = g.add_node(OpKind::kRelu, "a", {x});
    const NodeId b = g.add_node(OpKind::kRelu, "b", {g.node(a).outputs[0]});
    g.infer_shapes();
    g.mark_output(g.node(b).outputs[0]);
    g.node(a).dead = true;
    check_error([&] { g.verify(); }, "rtx.ir.153", "nothing produces");
  }
  SUBCASE("recorded info disagrees with inference") {
    Graph g = small_graph();
    g.value(g.find_value("y")).info.dtype = DataType::kF16;
    check_error([&] { g.verify(); }, "rtx.ir.155", "Relu 'relu'");
  }
  SUBCASE("dtype mismatch names the node and its operands") {
    Graph g;
    const ValueId x = g.add_input("x", DataType::kF32, {2});
    const ValueId h = g.add_input("h", DataType::kF16, {2});
    g.add_node(OpKind::kAdd, "mixed", {x, h});
    try {
      g.infer_shapes();
      FAIL("expected an error");
    } catch (const Exception& e) {
      CHECK(e.error().message.find("Add 'mixed'") != std::string::npos);
    }
  }
  SUBCASE("arity") {
    Graph g;
    const ValueId x = g.add_input("x", DataType::kF32, {2});
    g.add_node(OpKind::kRelu, "r", {x, x});
    check_error([&] { g.verify(); }, "rtx.ir.152");
  }
}

TEST_CASE("graph: text and DOT dumps") {
  Graph g = small_graph();
  const std::string text = g.to_text();
  CHECK(text.find("input  x: f32[?,3]") != std::string::npos);
  CHECK(text.find("weight w: f32[3]") != std::string::npos);
  CHECK(text.find("= Relu[relu](add:out)") != std::string::npos);
  CHECK(text.find("output y: f32[?,3]") != std::string::npos);
  const std::string dot = g.to_dot();
  CHECK(dot.rfind("digraph rtx {", 0) == 0);
  CHECK(dot.find("-> n1") != std::string::npos);
  CHECK(dot.back() == '\n');
}

TEST_CASE("reference: evaluates, checks inputs and the profile") {
  Graph g = small_graph();
  g.set_profile("x", {{1, 3}, {2, 3}, {4, 3}});
  auto out = evaluate(g, {{"x", test::f32({2, 3}, {0, 0, 0, 1, 5, -4})}});
  check_tensor(out.at("y"), DataType::kF32, {2, 3}, {1, 0, 3, 2, 3, 0});
  check_error([&] { evaluate(g, {}); }, "rtx.reference.101", "'x'");
  check_error([&] { evaluate(g, {{"x", test::tensor(DataType::kF16, {2, 3}, {0, 0, 0, 0, 0, 0})}}); }, "rtx.reference.102");
  check_error([&] { evaluate(g, {{"x", test::f32({2, 4}, std::vector<double>(8, 0))}}); }, "rtx.reference.103");
  check_error([&] { evaluate(g, {{"x", test::f32({5, 3}, std::vector<double>(15, 0))}}); }, "rtx.reference.103", "profile");
  check_error([&] { evaluate(g, {{"x", test::f32({1, 3}, {0, 0, 0})}, {"zz", test::f32({1}, {0})}}); }, "rtx.reference.104");
}

TEST_CASE("passes: folding a Shape -> Gather -> Concat -> Reshape chain makes the shape static") {
  Graph g;
  const ValueId x = g.add_input("x", DataType::kF32, {2, 3, 4});
  const ValueId shape = g.node(g.add_node(OpKind::kShape, "shape", {x})).outputs[0];
  const ValueId idx = g.add_constant(test::i64({1}, {0}));
  const ValueId first = g.node(g.add_node(OpKind::kGather, "gather", {shape, idx}, 1, {{"axis", int64_t{0}}})).outputs[0];
  const ValueId minus_one = g.add_constant(test::i64({1}, {-1}));
  const ValueId new_shape =
      g.node(g.add_node(OpKind::kConcat, "concat", {first, minus_one}, 1, {{"axis", int64_t{0}}})).outputs[0];
  const ValueId y = g.node(g.add_node(OpKind::kReshape, "reshape", {x, new_shape})).outputs[0];
  g.mark_output(y, "y");
  g.infer_shapes();
  run_passes(g, default_pipeline(), verifying());
  REQUIRE(g.nodes().size() == 1);
  CHECK(g.nodes()[0].op == OpKind::kReshape);
  CHECK(g.value(g.find_value("y")).info.shape == std::vector<int64_t>{2, 12});
  const auto* folded = g.constant_data(g.nodes()[0].inputs[1]);
  REQUIRE(folded);
  CHECK(folded->to_ints() == std::vector<int64_t>{2, -1});
}

TEST_CASE("passes: identities go, graph output names stay, dead nodes are dropped") {
  Graph g;
  const ValueId x = g.add_input("x", DataType::kF32, {2});
  const ValueId r = g.node(g.add_node(OpKind::kRelu, "relu", {x})).outputs[0];
  const ValueId id = g.node(g.add_node(OpKind::kIdentity, "id", {r})).outputs[0];
  g.add_node(OpKind::kNeg, "unused", {x});
  g.mark_output(id, "y");
  g.infer_shapes();
  run_passes(g, default_pipeline(), verifying());
  REQUIRE(g.nodes().size() == 1);
  CHECK(g.nodes()[0].op == OpKind::kRelu);
  CHECK(g.value(g.outputs()[0]).name == "y");
  auto out = evaluate(g, {{"x", test::f32({2}, {-1, 2})}});
  check_tensor(out.at("y"), DataType::kF32, {2}, {0, 2});
}

TEST_CASE("passes: RTX_IR_VERIFY names the pass that broke the graph") {
  Graph g = small_graph();
  const Pass breaker{"breaker", [](Graph& graph, const PassOptions&) { graph.nodes()[0].dead = true; }};
  check_error([&] { run_passes(g, std::span<const Pass>(&breaker, 1), verifying()); },
              "rtx.ir.153", "after pass 'breaker'");
}
