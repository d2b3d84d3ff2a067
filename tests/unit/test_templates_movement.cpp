// SPDX-License-Identifier: Apache-2.0
// Data-movement family without a GPU: planning Transpose/Slice/Expand/Concat/Gather/Pad from IR
// nodes, the launches chosen for representative shapes (merged dims, widened units, tiled
// transposes, concat groups), output shapes against the IR's inference, spec JSON, and NVRTC
// compilation of every movement kernel for every default target.
#include <doctest/doctest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "ir/op_registry.hpp"
#include "jit/kernels/movement.hpp"
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
  n.name = "movement_node";
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back(static_cast<ir::ValueId>(i));
  n.outputs.push_back(static_cast<ir::ValueId>(inputs));
  n.attrs = std::move(attrs);
  return n;
}

ir::TensorInfo info(DataType t, std::vector<int64_t> shape) {
  return ir::TensorInfo{t, std::move(shape), true};
}

HostTensor ints(std::vector<int64_t> v) {
  const auto n = static_cast<int64_t>(v.size());
  return HostTensor::from_vector(DataType::kINT64, {n}, v);
}

template <class P>
P params_of(const MovementLaunch& l) {
  REQUIRE(l.params.size() == sizeof(P));
  P p;
  std::memcpy(&p, l.params.data(), sizeof(P));
  return p;
}

MovementArgs one_input(std::vector<int64_t> shape) {
  MovementArgs a;
  a.in_shapes = {std::move(shape)};
  a.in = {fake_ptr(0x100000)};
  a.out = fake_ptr(0x200000);
  return a;
}

/// Output shape the IR infers for `node` with inputs `infos` and constants.
std::vector<int64_t> ir_shape(const ir::Node& node, const std::vector<ir::TensorInfo>& infos,
                              const std::vector<const HostTensor*>& constants) {
  return ir::infer(node, infos, constants).at(0).shape;
}

}  // namespace

TEST_CASE("transpose: tiled when the input is contiguous along the output's rows") {
  const auto spec = plan_movement(make_node(OpKind::kTranspose, 1),
                                  std::vector{info(DataType::kF32, {64, 48})}).value();
  CHECK(spec.perm == std::vector<int64_t>{1, 0});
  CHECK(spec.elem_bytes == 4);
  auto l = make_launches(spec, one_input({64, 48}));
  REQUIRE(l);
  REQUIRE(l->size() == 1);
  CHECK(l->at(0).kernel == "rtx::kernels::transpose_tiled<unsigned int>");
  const auto p = params_of<rtx::kernels::TransposeParams>(l->at(0));
  CHECK(p.rows == 48);  // output [48, 64]: output rows walk input columns... contiguous in input
  CHECK(p.cols == 64);
  CHECK(p.in_col_stride == 48);
  CHECK(p.batch == 1);
  CHECK(l->at(0).config.grid.x == 2);
  CHECK(l->at(0).config.grid.y == 2);

  SUBCASE("NCHW -> NHWC merges H and W into one batched transpose") {
    const auto nhwc = plan_movement(make_node(OpKind::kTranspose, 1, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}}),
                                    std::vector{info(DataType::kF16, {2, 32, 7, 9})}).value();
    auto t = make_launches(nhwc, one_input({2, 32, 7, 9}));
    REQUIRE(t);
    const auto q = params_of<rtx::kernels::TransposeParams>(t->at(0));
    CHECK(t->at(0).kernel == "rtx::kernels::transpose_tiled<unsigned short>");
    CHECK(q.rows == 63);
    CHECK(q.cols == 32);
    CHECK(q.in_col_stride == 63);
    CHECK(q.batch == 2);
    CHECK(q.batch_strides[0] == 32 * 63);
  }
  SUBCASE("a permutation keeping the last dim moves 16-byte units") {
    const auto keep = plan_movement(make_node(OpKind::kTranspose, 1, {{"perm", std::vector<int64_t>{1, 0, 2}}}),
                                    std::vector{info(DataType::kF16, {3, 5, 64})}).value();
    auto t = make_launches(keep, one_input({3, 5, 64}));
    REQUIRE(t);
    CHECK(t->at(0).kernel == "rtx::kernels::copy_strided<uint4>");
    const auto q = params_of<rtx::kernels::CopyParams>(t->at(0));
    CHECK(q.rank == 3);
    CHECK(q.shape[2] == 8);  // 64 halves = 8 units of 16 bytes
    CHECK(q.in_strides[0] == 8);
    CHECK(q.in_strides[1] == 40);
    CHECK(q.n == 120);
  }
  SUBCASE("small transposes copy element by element") {
    auto t = make_launches(spec, one_input({4, 3}));
    REQUIRE(t);
    CHECK(t->at(0).kernel == "rtx::kernels::copy_strided<unsigned int>");
  }
}

TEST_CASE("slice: steps, negative steps and clamping match the IR") {
  const HostTensor starts = ints({-1, 1}), ends = ints({INT64_MIN, 100}), axes = ints({1, 2}),
                   steps = ints({-2, 3});
  const std::vector<ir::TensorInfo> infos{info(DataType::kINT8, {2, 7, 11}), info(DataType::kINT64, {2}),
                                          info(DataType::kINT64, {2}), info(DataType::kINT64, {2}),
                                          info(DataType::kINT64, {2})};
  const std::vector<const HostTensor*> constants{nullptr, &starts, &ends, &axes, &steps};
  const ir::Node node = make_node(OpKind::kSlice, 5);
  const auto spec = plan_movement(node, infos, constants).value();
  MovementArgs a = one_input({2, 7, 11});
  const auto shape = movement_output_shape(spec, a).value();
  CHECK(shape == ir_shape(node, infos, constants));
  CHECK(shape == std::vector<int64_t>{2, 4, 4});
  auto l = make_launches(spec, a);
  REQUIRE(l);
  const auto p = params_of<rtx::kernels::CopyParams>(l->at(0));
  CHECK(l->at(0).kernel == "rtx::kernels::copy_strided<unsigned char>");
  CHECK(p.offset == 6 * 11 + 1);  // starts at row 6, column 1
  CHECK(p.in_strides[1] == -22);
  CHECK(p.in_strides[2] == 3);
  // Non-constant starts cannot be planned.
  const std::vector<const HostTensor*> none{nullptr, nullptr, &ends, &axes, &steps};
  CHECK(!plan_movement(node, infos, none));
}

TEST_CASE("expand: broadcast strides of 0, target shape from the output") {
  const auto spec = plan_movement(make_node(OpKind::kExpand, 2),
                                  std::vector{info(DataType::kF32, {3, 1}), info(DataType::kINT64, {3})}).value();
  MovementArgs a = one_input({3, 1});
  a.out_shape = {2, 3, 4};
  auto l = make_launches(spec, a);
  REQUIRE(l);
  const auto p = params_of<rtx::kernels::CopyParams>(l->at(0));
  CHECK(p.n == 24);
  REQUIRE(p.rank == 3);
  CHECK(p.in_strides[0] == 0);
  CHECK(p.in_strides[1] == 1);
  CHECK(p.in_strides[2] == 0);
  a.out_shape = {2, 5, 4};
  CHECK(make_launches(spec, a).error().id == "rtx.jit.302");
}

TEST_CASE("concat: widened units when every run allows, groups of 8 inputs") {
  const auto spec = plan_movement(make_node(OpKind::kConcat, 3, {{"axis", int64_t{1}}}),
                                  std::vector{info(DataType::kF16, {2, 8, 4}), info(DataType::kF16, {2, 16, 4}),
                                              info(DataType::kF16, {2, 8, 4})}).value();
  MovementArgs a;
  a.in_shapes = {{2, 8, 4}, {2, 16, 4}, {2, 8, 4}};
  a.in = {fake_ptr(0x100000), fake_ptr(0x200000), fake_ptr(0x300000)};
  a.out = fake_ptr(0x400000);
  auto l = make_launches(spec, a);
  REQUIRE(l);
  REQUIRE(l->size() == 1);
  CHECK(l->at(0).kernel == "rtx::kernels::concat<uint4>");
  const auto p = params_of<rtx::kernels::ConcatParams>(l->at(0));
  CHECK(p.inputs == 3);
  CHECK(p.outer == 2);
  CHECK(p.row[0] == 4);  // 32 halves = 4 units
  CHECK(p.row[1] == 8);
  CHECK(p.offset[2] == 12);
  CHECK(p.out_row == 16);
  CHECK(p.total_row == 16);
  CHECK(movement_output_shape(spec, a).value() == std::vector<int64_t>{2, 32, 4});

  SUBCASE("a misaligned input keeps element units") {
    a.in[1] = fake_ptr(0x200002);
    CHECK(make_launches(spec, a)->at(0).kernel == "rtx::kernels::concat<unsigned short>");
  }
  SUBCASE("ten inputs, one empty: two launches covering nine") {
    const auto cat10 = plan_movement(make_node(OpKind::kConcat, 10, {{"axis", int64_t{0}}}),
                                     std::vector<ir::TensorInfo>(10, info(DataType::kF32, {3, 5}))).value();
    MovementArgs b;
    for (int i = 0; i < 10; ++i) {
      b.in_shapes.push_back({i == 4 ? 0 : 3, 5});
      b.in.push_back(fake_ptr(0x100000 * static_cast<uintptr_t>(i + 1)));
    }
    b.out = fake_ptr(0x2000000);
    auto m = make_launches(cat10, b);
    REQUIRE(m);
    REQUIRE(m->size() == 2);
    const auto p0 = params_of<rtx::kernels::ConcatParams>(m->at(0));
    const auto p1 = params_of<rtx::kernels::ConcatParams>(m->at(1));
    CHECK(p0.inputs == 8);
    CHECK(p1.inputs == 1);
    CHECK(p0.offset[4] == 60);  // input 5 (after the empty input 4) starts at row 12
    CHECK(p1.offset[0] == 120);
    CHECK(p1.out_row == 135);
  }
  SUBCASE("mismatched shapes") {
    a.in_shapes[1] = {3, 16, 4};
    CHECK(make_launches(spec, a).error().id == "rtx.jit.302");
  }
}

TEST_CASE("gather: outer x dim x inner with widened inner runs") {
  const std::vector<ir::TensorInfo> infos{info(DataType::kF32, {5, 10, 8}), info(DataType::kINT32, {2, 3})};
  const ir::Node node = make_node(OpKind::kGather, 2, {{"axis", int64_t{-2}}});
  const auto spec = plan_movement(node, infos).value();
  CHECK(spec.axis == 1);
  CHECK(spec.index == DataType::kINT32);
  MovementArgs a;
  a.in_shapes = {{5, 10, 8}, {2, 3}};
  a.in = {fake_ptr(0x100000), fake_ptr(0x200000)};
  a.out = fake_ptr(0x300000);
  CHECK(movement_output_shape(spec, a).value() == ir_shape(node, infos, {nullptr, nullptr}));
  auto l = make_launches(spec, a);
  REQUIRE(l);
  CHECK(l->at(0).kernel == "rtx::kernels::gather<uint4, int>");
  const auto p = params_of<rtx::kernels::GatherParams>(l->at(0));
  CHECK(p.outer == 5);
  CHECK(p.dim == 10);
  CHECK(p.count == 6);
  CHECK(p.inner == 2);  // 8 floats = 2 units of 16 bytes
  CHECK(!plan_movement(node, std::vector{info(DataType::kF32, {5, 10, 8}), info(DataType::kF32, {2})}));
}

TEST_CASE("pad: per-dim lead/crop/kept, negative pads, modes") {
  const HostTensor pads = ints({1, -1, 2, 3}), value = HostTensor::scalar(DataType::kF16, 1.5);
  const std::vector<ir::TensorInfo> infos{info(DataType::kF16, {4, 5}), info(DataType::kINT64, {4}),
                                          info(DataType::kF16, {})};
  const std::vector<const HostTensor*> constants{nullptr, &pads, &value};
  const ir::Node node = make_node(OpKind::kPad, 3);
  const auto spec = plan_movement(node, infos, constants).value();
  CHECK(spec.pads == std::vector<int64_t>{1, -1, 2, 3});
  CHECK(spec.pad_value_bits == 0x3E00);  // f16 1.5
  MovementArgs a = one_input({4, 5});
  CHECK(movement_output_shape(spec, a).value() == ir_shape(node, infos, constants));
  auto l = make_launches(spec, a);
  REQUIRE(l);
  const auto p = params_of<rtx::kernels::PadParams>(l->at(0));
  CHECK(p.out_shape[0] == 7);
  CHECK(p.out_shape[1] == 7);
  CHECK(p.lead[0] == 1);
  CHECK(p.crop[1] == 1);
  CHECK(p.kept[1] == 4);
  CHECK(p.mode == 0);

  const ir::Node reflect = make_node(OpKind::kPad, 2, {{"mode", std::string("reflect")}});
  const auto rs = plan_movement(reflect, std::vector{infos[0], infos[1]}, std::vector<const HostTensor*>{nullptr, &pads}).value();
  CHECK(rs.pad_mode == 1);
  CHECK(!plan_movement(make_node(OpKind::kPad, 2, {{"mode", std::string("mirror")}}),
                       std::vector{infos[0], infos[1]}, std::vector<const HostTensor*>{nullptr, &pads}));
}

TEST_CASE("empty outputs launch nothing; packed 4-bit data is refused") {
  const auto spec = plan_movement(make_node(OpKind::kTranspose, 1),
                                  std::vector{info(DataType::kF32, {0, 3})}).value();
  auto l = make_launches(spec, one_input({0, 3}));
  REQUIRE(l);
  CHECK(l->empty());
  CHECK(!plan_movement(make_node(OpKind::kTranspose, 1), std::vector{info(DataType::kINT4, {4, 4})}));
}

TEST_CASE("spec JSON round trip and malformed JSON") {
  const HostTensor pads = ints({0, 1, 2, 0});
  const auto s = plan_movement(make_node(OpKind::kPad, 2, {{"mode", std::string("edge")}}),
                               std::vector{info(DataType::kINT64, {3, 3}), info(DataType::kINT64, {4})},
                               std::vector<const HostTensor*>{nullptr, &pads}).value();
  nlohmann::json j = s;
  CHECK(j.at("pad_mode") == "edge");
  CHECK(j.get<MovementSpec>() == s);
  j["pads"] = std::vector<int64_t>{1};
  CHECK_THROWS_WITH_AS(j.get<MovementSpec>(), doctest::Contains("rtx.jit.303"), Exception);
  j = s;
  j["elem_bytes"] = 3;
  CHECK_THROWS_AS(j.get<MovementSpec>(), Exception);
}

TEST_CASE("NVRTC: every movement kernel for every default target") {
  jit::Program p;
  p.name = "movement_all";
  p.source = "#include \"movement/movement.cuh\"\n";
  const char* units[] = {"unsigned char", "unsigned short", "unsigned int", "unsigned long long",
                         "uint4"};
  for (const char* u : units) {
    p.name_expressions.push_back(name_expression("rtx::kernels::copy_strided", {u}));
    p.name_expressions.push_back(name_expression("rtx::kernels::concat", {u}));
    p.name_expressions.push_back(name_expression("rtx::kernels::gather", {u, "int"}));
    p.name_expressions.push_back(name_expression("rtx::kernels::gather", {u, "long long"}));
    if (std::string(u) != "uint4") {
      p.name_expressions.push_back(name_expression("rtx::kernels::transpose_tiled", {u}));
      p.name_expressions.push_back(name_expression("rtx::kernels::pad", {u}));
    }
  }
  const auto images = rtx::test::compile_and_check(p);
  const std::string ptx = rtx::test::ptx_of(images);
  const std::string* lowered = images.back().lowered_name("rtx::kernels::copy_strided<uint4>");
  REQUIRE(lowered);
  CHECK(rtx::test::ptx_entry(ptx, *lowered).find("ld.global.v4.u32") != std::string::npos);
}
