// SPDX-License-Identifier: Apache-2.0
// Reduction family without a GPU: planning from IR nodes (axes, keepdims, noop, ArgMax
// attributes), the rows/strided/split decision and each launch's parameters, workspace sizes,
// spec JSON, and NVRTC compilation of every kernel a spec can launch.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "jit/kernels/reduce.hpp"
#include "test_templates_util.hpp"

using namespace rtx;
using namespace rtx::jit::kernels;
using ir::OpKind;
using rtx::test::fake_ptr;

namespace {

using Attrs = std::map<std::string, ir::AttrValue, std::less<>>;

ir::Node make_node(OpKind op, size_t inputs, Attrs attrs = {}) {
  ir::Node n;
  n.op = op;
  n.name = "reduce_node";
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back(static_cast<ir::ValueId>(i));
  n.outputs.push_back(static_cast<ir::ValueId>(inputs));
  n.attrs = std::move(attrs);
  return n;
}

/// A Reduce* spec over `shape` with constant `axes`.
ReduceSpec reduce_spec(OpKind op, DataType t, std::vector<int64_t> shape, std::vector<int64_t> axes,
                       Attrs attrs = {}) {
  const HostTensor a = HostTensor::from_vector(DataType::kINT64, {static_cast<int64_t>(axes.size())}, axes);
  const std::vector<ir::TensorInfo> infos{{t, shape, true}, {DataType::kINT64, {static_cast<int64_t>(axes.size())}, true}};
  const std::vector<const HostTensor*> constants{nullptr, &a};
  auto s = plan_reduce(make_node(op, 2, std::move(attrs)), infos, constants);
  REQUIRE(s.has_value());
  return *s;
}

ReduceArgs args_for(std::vector<int64_t> shape) {
  ReduceArgs a;
  a.in_shape = std::move(shape);
  a.in = fake_ptr(0x100000);
  a.out = fake_ptr(0x200000);
  a.workspace = fake_ptr(0x300000);
  a.multiprocessors = 132;
  return a;
}

}  // namespace

TEST_CASE("plan_reduce: kinds, axes normalisation, noop and what is refused") {
  const auto s = reduce_spec(OpKind::kReduceSum, DataType::kF16, {2, 3, 4}, {-1, 0});
  CHECK(s.kind == ReduceKind::kSum);
  CHECK(s.axes == std::vector<int64_t>{0, 2});
  CHECK(s.output == DataType::kF16);
  CHECK(s.op_type() == "rtx::kernels::SumOp<__half>");
  CHECK(s.state_type() == "float");

  // No axes input: every dim; with noop_with_empty_axes: none.
  const std::vector<ir::TensorInfo> x{{DataType::kF32, {2, 3}, true}};
  auto all = plan_reduce(make_node(OpKind::kReduceMax, 1), x);
  REQUIRE(all);
  CHECK(all->axes == std::vector<int64_t>{0, 1});
  auto none = plan_reduce(make_node(OpKind::kReduceMax, 1, {{"noop_with_empty_axes", int64_t{1}}}), x);
  REQUIRE(none);
  CHECK(none->axes.empty());

  // Axes known only at run time, bool sums, duplicate axes: not this family.
  const std::vector<ir::TensorInfo> with_axes{{DataType::kF32, {2, 3}, true}, {DataType::kINT64, {1}, true}};
  CHECK(!plan_reduce(make_node(OpKind::kReduceSum, 2), with_axes));
  CHECK(!plan_reduce(make_node(OpKind::kReduceSum, 1), std::vector<ir::TensorInfo>{{DataType::kBOOL, {4}, true}}));
  CHECK(plan_reduce(make_node(OpKind::kReduceMin, 1), std::vector<ir::TensorInfo>{{DataType::kBOOL, {4}, true}}));
  const HostTensor dup = HostTensor::from_vector(DataType::kINT64, {2}, std::vector<int64_t>{1, -1});
  const std::vector<const HostTensor*> c{nullptr, &dup};
  CHECK(!plan_reduce(make_node(OpKind::kReduceSum, 2),
                     std::vector<ir::TensorInfo>{{DataType::kF32, {2, 3}, true}, {DataType::kINT64, {2}, true}}, c));

  auto arg = plan_reduce(make_node(OpKind::kArgMax, 1, {{"axis", int64_t{-2}}, {"select_last_index", int64_t{1}}}),
                         std::vector<ir::TensorInfo>{{DataType::kBF16, {5, 6, 7}, true}});
  REQUIRE(arg);
  CHECK(arg->axes == std::vector<int64_t>{1});
  CHECK(arg->output == DataType::kINT64);
  CHECK(arg->op_type() == "rtx::kernels::ArgMaxOp<__nv_bfloat16, true>");
  CHECK(arg->state_type() == "rtx::kernels::ArgState<float>");
  CHECK(arg->state_bytes() == 16);
  CHECK(!plan_reduce(make_node(OpKind::kSoftmax, 1), std::vector<ir::TensorInfo>{{DataType::kF32, {4}, true}}));
}

TEST_CASE("make_launches: reduction over the last axes runs as rows") {
  const auto s = reduce_spec(OpKind::kReduceMean, DataType::kF32, {8, 1, 3, 100}, {2, 3});
  auto l = make_launches(s, args_for({8, 1, 3, 100}));
  REQUIRE(l);
  REQUIRE(l->size() == 1);
  const auto& p = (*l)[0].params;
  CHECK((*l)[0].kernel ==
        "rtx::kernels::reduce_rows<rtx::kernels::MeanOp<float>, float, float, 32>");
  CHECK(p.outputs == 8);
  CHECK(p.reduce == 300);
  CHECK(p.row_stride == 300);
  CHECK(p.count == 300);
  CHECK(p.chunks == 1);
  CHECK(p.finalize == 1);
  CHECK(p.vectorized == 1);
  CHECK((*l)[0].config.block.x == 256);
  CHECK((*l)[0].config.grid.x == 1);  // 8 rows per block

  // Long rows use a block per row.
  auto wide = make_launches(s, args_for({8, 1, 3, 1000}));
  REQUIRE(wide);
  CHECK(wide->at(0).kernel.find(", 256>") != std::string::npos);
  CHECK(wide->at(0).config.grid.x == 8);
  CHECK(workspace_size(s, std::vector<int64_t>{8, 1, 3, 1000}).value() == 0);
}

TEST_CASE("make_launches: a middle axis is strided (outer x reduce x inner)") {
  const auto s = reduce_spec(OpKind::kReduceMax, DataType::kF16, {4, 50, 64}, {1});
  auto l = make_launches(s, args_for({4, 50, 64}));
  REQUIRE(l);
  REQUIRE(l->size() == 1);
  const auto& L = (*l)[0];
  CHECK(L.kernel == "rtx::kernels::reduce_strided<rtx::kernels::MaxOp<__half>, __half, __half>");
  CHECK(L.params.outputs == 256);
  CHECK(L.params.red_total == 50);
  CHECK(L.params.kept_rank == 2);
  CHECK(L.params.kept_shape[0] == 4);
  CHECK(L.params.kept_strides[0] == 3200);
  CHECK(L.params.kept_shape[1] == 64);
  CHECK(L.params.kept_strides[1] == 1);
  CHECK(L.params.red_rank == 1);
  CHECK(L.params.red_shape[0] == 50);
  CHECK(L.params.red_strides[0] == 64);
  CHECK(L.config.block.x * L.config.block.y == 256);
  CHECK(L.config.block.y == 4);  // 50 elements: 4 threads share each result
  CHECK(L.config.grid.x == 256 / L.config.block.x);
  CHECK(L.config.grid.y == 1);
}

TEST_CASE("make_launches: non-adjacent axes walk kept and reduced dims by strides") {
  const auto s = reduce_spec(OpKind::kReduceSum, DataType::kINT32, {3, 4, 5, 6}, {0, 2});
  auto l = make_launches(s, args_for({3, 4, 5, 6}));
  REQUIRE(l);
  const auto& p = l->at(0).params;
  CHECK(p.kept_rank == 2);
  CHECK(p.red_rank == 2);
  CHECK(p.red_shape[0] == 3);
  CHECK(p.red_strides[0] == 120);
  CHECK(p.red_shape[1] == 5);
  CHECK(p.red_strides[1] == 6);
  CHECK(p.outputs == 24);
  CHECK(p.red_total == 15);
}

TEST_CASE("make_launches: one huge reduction splits into a partial and a finishing pass") {
  const auto s = reduce_spec(OpKind::kReduceSum, DataType::kF16, {1 << 22}, {0});
  const std::vector<int64_t> shape{1 << 22};
  const size_t ws = workspace_size(s, shape).value();
  auto l = make_launches(s, args_for(shape));
  REQUIRE(l);
  REQUIRE(l->size() == 2);
  const auto& first = l->at(0).params;
  const auto& last = l->at(1).params;
  CHECK(l->at(0).kernel == "rtx::kernels::reduce_rows<rtx::kernels::SumOp<__half>, __half, float, 256>");
  CHECK(l->at(1).kernel == "rtx::kernels::reduce_rows<rtx::kernels::SumOp<__half>, float, __half, 32>");
  CHECK(first.chunks > 1);
  CHECK(first.chunks <= 128);
  CHECK(first.reduce % 16 == 0);               // chunk starts stay 16-byte aligned
  CHECK(first.reduce * first.chunks >= (1 << 22));
  CHECK(first.outputs == first.chunks);
  CHECK(first.finalize == 0);
  CHECK(first.out == fake_ptr(0x300000));
  CHECK(ws == static_cast<size_t>(first.chunks) * 4);
  CHECK(last.in == fake_ptr(0x300000));
  CHECK(last.outputs == 1);
  CHECK(last.reduce == first.chunks);
  CHECK(last.count == (1 << 22));
  CHECK(last.finalize == 1);

  ReduceArgs no_ws = args_for(shape);
  no_ws.workspace = nullptr;
  CHECK(make_launches(s, no_ws).error().id == "rtx.jit.302");
}

TEST_CASE("make_launches: few long columns split through blockIdx.y") {
  const auto s = reduce_spec(OpKind::kArgMin, DataType::kF32, {100000, 8}, {0});
  auto l = make_launches(s, args_for({100000, 8}));
  REQUIRE(l);
  REQUIRE(l->size() == 2);
  CHECK(l->at(0).kernel ==
        "rtx::kernels::reduce_strided<rtx::kernels::ArgMinOp<float, false>, float, "
        "rtx::kernels::ArgState<float>>");
  CHECK(l->at(0).config.grid.y > 1);
  CHECK(l->at(0).params.chunks == l->at(0).config.grid.y);
  CHECK(l->at(1).params.reduce == l->at(0).params.chunks);
  CHECK(workspace_size(s, std::vector<int64_t>{100000, 8}).value() ==
        static_cast<size_t>(8 * l->at(0).params.chunks * 16));
}

TEST_CASE("make_launches: empty and degenerate shapes") {
  const auto s = reduce_spec(OpKind::kReduceProd, DataType::kF32, {3, 4}, {1});
  SUBCASE("empty output: no launch") {
    auto l = make_launches(s, args_for({0, 4}));
    REQUIRE(l);
    CHECK(l->empty());
  }
  SUBCASE("empty reduction: every result is the identity") {
    auto l = make_launches(s, args_for({3, 0}));
    REQUIRE(l);
    REQUIRE(l->size() == 1);
    CHECK(l->at(0).params.outputs == 3);
    CHECK(l->at(0).params.reduce == 0);
  }
  SUBCASE("reduced dim of extent 1: rows of one element") {
    auto l = make_launches(s, args_for({3, 1}));
    REQUIRE(l);
    CHECK(l->at(0).params.outputs == 3);
    CHECK(l->at(0).params.reduce == 1);
  }
  SUBCASE("wrong rank") {
    CHECK(make_launches(s, args_for({3, 4, 1})).error().id == "rtx.jit.302");
  }
}

TEST_CASE("spec JSON round trip and malformed JSON") {
  const auto s = reduce_spec(OpKind::kReduceMin, DataType::kUINT8, {4, 5}, {1});
  nlohmann::json j = s;
  CHECK(j.at("kind") == "min");
  CHECK(j.get<ReduceSpec>() == s);
  j["axes"] = std::vector<int64_t>{7};
  CHECK_THROWS_WITH_AS(j.get<ReduceSpec>(), doctest::Contains("rtx.jit.303"), Exception);
  j = s;
  j["kind"] = "median";
  CHECK_THROWS_AS(j.get<ReduceSpec>(), Exception);
  j = s;
  j.erase("rank");
  CHECK_THROWS_AS(j.get<ReduceSpec>(), Exception);
}

TEST_CASE("NVRTC: every launchable kernel of representative specs, all default targets") {
  // All targets: a float mean (vector rows, states in float) and an arg reduction (struct
  // states). The GPU suite's target additionally gets every kind and dtype family.
  const auto mean = reduce_spec(OpKind::kReduceMean, DataType::kF16, {4, 4}, {1});
  const auto argmax = reduce_spec(OpKind::kArgMax, DataType::kF32, {4, 4}, {},
                                  {{"axis", int64_t{1}}, {"select_last_index", int64_t{1}}});
  jit::Program p;
  p.name = "reduce_representative";
  p.source = "#include \"reduce/reduce.cuh\"\n";
  for (const auto& s : {mean, argmax})
    for (const auto& e : s.name_expressions()) p.name_expressions.push_back(e);
  const auto images = rtx::test::compile_and_check(p);
  // Row loads of f16 are 16 bytes wide.
  const std::string ptx = rtx::test::ptx_of(images);
  const std::string* lowered = images.back().lowered_name(mean.name_expressions()[0]);
  REQUIRE(lowered);
  CHECK(rtx::test::ptx_entry(ptx, *lowered).find("ld.global.v4.u32") != std::string::npos);

  jit::Program all;
  all.name = "reduce_all";
  all.source = p.source;
  const std::vector<std::pair<OpKind, DataType>> kinds{
      {OpKind::kReduceSum, DataType::kBF16},  {OpKind::kReduceSum, DataType::kINT64},
      {OpKind::kReduceMean, DataType::kINT32}, {OpKind::kReduceMax, DataType::kBOOL},
      {OpKind::kReduceMin, DataType::kINT8},   {OpKind::kReduceProd, DataType::kF64},
      {OpKind::kReduceMax, DataType::kF32},    {OpKind::kArgMin, DataType::kUINT8}};
  for (const auto& [op, t] : kinds) {
    const auto s = op == OpKind::kArgMin ? reduce_spec(op, t, {4, 4}, {}, {{"axis", int64_t{0}}})
                                         : reduce_spec(op, t, {4, 4}, {0});
    for (const auto& e : s.name_expressions()) all.name_expressions.push_back(e);
  }
  rtx::test::compile_and_check(all, {jit::Target{90, false, false}});
}
