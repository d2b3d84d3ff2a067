// SPDX-License-Identifier: Apache-2.0
// Pooling family without a GPU: planning MaxPool/AveragePool/GlobalAveragePool from IR nodes,
// window geometry against the IR's shape inference over many attribute combinations, launch
// parameters (spatial dims padded to 3), spec JSON, and NVRTC compilation.
#include <doctest/doctest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "ir/op_registry.hpp"
#include "jit/kernels/pool.hpp"
#include "templates/reduce/params.cuh"
#include "test_templates_util.hpp"

using namespace rtx;
using namespace rtx::jit::kernels;
using ir::OpKind;
using rtx::test::fake_ptr;

namespace {

using Attrs = std::map<std::string, ir::AttrValue, std::less<>>;

ir::Node make_node(OpKind op, Attrs attrs = {}, size_t outputs = 1) {
  ir::Node n;
  n.op = op;
  n.name = "pool_node";
  n.inputs = {0};
  for (size_t i = 0; i < outputs; ++i) n.outputs.push_back(static_cast<ir::ValueId>(1 + i));
  n.attrs = std::move(attrs);
  return n;
}

ir::TensorInfo info(DataType t, std::vector<int64_t> shape) {
  return ir::TensorInfo{t, std::move(shape), true};
}

template <class P>
P params_of(const PoolLaunch& l) {
  REQUIRE(l.params.size() == sizeof(P));
  P p;
  std::memcpy(&p, l.params.data(), sizeof(P));
  return p;
}

}  // namespace

TEST_CASE("plan_pool: attributes, dtypes and what is refused") {
  const auto x = info(DataType::kF16, {2, 3, 10, 12});
  auto mp = plan_pool(make_node(OpKind::kMaxPool, {{"kernel_shape", std::vector<int64_t>{3, 3}},
                                                   {"strides", std::vector<int64_t>{2, 2}},
                                                   {"pads", std::vector<int64_t>{1, 1, 1, 1}}}),
                      std::vector{x});
  REQUIRE(mp);
  CHECK(mp->kind == PoolKind::kMax);
  CHECK(mp->dilations == std::vector<int64_t>{1, 1});
  CHECK(mp->name_expressions() == std::vector<std::string>{"rtx::kernels::max_pool<__half>"});
  auto gap = plan_pool(make_node(OpKind::kGlobalAveragePool), std::vector{x});
  REQUIRE(gap);
  CHECK(gap->name_expressions().at(0) ==
        "rtx::kernels::reduce_rows<rtx::kernels::MeanOp<__half>, __half, __half, 32>");
  CHECK(plan_pool(make_node(OpKind::kMaxPool, {{"kernel_shape", std::vector<int64_t>{2, 2}}}),
                  std::vector{info(DataType::kINT8, {1, 1, 4, 4})}));
  // AveragePool of integers, 4 spatial dims, a missing kernel_shape: not supported.
  CHECK(!plan_pool(make_node(OpKind::kAveragePool, {{"kernel_shape", std::vector<int64_t>{2, 2}}}),
                   std::vector{info(DataType::kINT8, {1, 1, 4, 4})}));
  CHECK(!plan_pool(make_node(OpKind::kMaxPool, {{"kernel_shape", std::vector<int64_t>{2, 2, 2, 2}}}),
                   std::vector{info(DataType::kF32, {1, 1, 4, 4, 4, 4})}));
  CHECK(!plan_pool(make_node(OpKind::kMaxPool), std::vector{x}));
}

TEST_CASE("pool_output_shape agrees with the IR's inference over many window attributes") {
  int checked = 0;
  for (const char* auto_pad : {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"})
    for (int64_t k : {1, 2, 3})
      for (int64_t s : {1, 2, 3})
        for (int64_t d : {1, 2})
          for (int64_t pad : {0, 1})
            for (int64_t ceil : {0, 1})
              for (int64_t in : {5, 8, 9}) {
                if (pad >= k) continue;  // ONNX needs pads smaller than the kernel
                Attrs a{{"kernel_shape", std::vector<int64_t>{k, 2}},
                        {"strides", std::vector<int64_t>{s, 1}},
                        {"dilations", std::vector<int64_t>{d, 1}},
                        {"auto_pad", std::string(auto_pad)},
                        {"ceil_mode", ceil}};
                if (std::string(auto_pad) == "NOTSET") a["pads"] = std::vector<int64_t>{pad, 0, 0, pad};
                for (OpKind op : {OpKind::kMaxPool, OpKind::kAveragePool}) {
                  const ir::Node node = make_node(op, a);
                  const std::vector<ir::TensorInfo> infos{info(DataType::kF32, {2, 3, in, 6})};
                  std::vector<int64_t> want;
                  try {
                    want = ir::infer(node, infos, std::vector<const HostTensor*>{nullptr}).at(0).shape;
                  } catch (const Exception&) {
                    continue;  // the IR rejects this window; so must we
                  }
                  const auto spec = plan_pool(node, infos);
                  REQUIRE(spec);
                  const std::vector<int64_t> shape{2, 3, in, 6};
                  auto got = pool_output_shape(*spec, shape);
                  REQUIRE(got);
                  CHECK_MESSAGE(*got == want, "auto_pad " << auto_pad << " k " << k << " s " << s
                                                          << " d " << d << " pad " << pad << " ceil "
                                                          << ceil << " in " << in);
                  ++checked;
                }
              }
  CHECK(checked > 500);
}

TEST_CASE("make_launch: spatial dims padded to three, indices, global average as rows") {
  const auto spec = plan_pool(make_node(OpKind::kAveragePool,
                                        {{"kernel_shape", std::vector<int64_t>{3, 2}},
                                         {"pads", std::vector<int64_t>{1, 0, 1, 1}},
                                         {"count_include_pad", int64_t{1}}}),
                              std::vector{info(DataType::kF32, {2, 3, 10, 12})})
                        .value();
  PoolArgs a;
  a.in_shape = {2, 3, 10, 12};
  a.in = fake_ptr(0x100000);
  a.out = fake_ptr(0x200000);
  auto l = make_launch(spec, a);
  REQUIRE(l);
  CHECK(l->kernel == "rtx::kernels::avg_pool<float>");
  CHECK(l->out_shape == std::vector<int64_t>{2, 3, 10, 12});
  const auto p = params_of<rtx::kernels::PoolParams>(*l);
  CHECK(p.planes == 6);
  CHECK(p.n == 720);
  CHECK(p.in_shape[0] == 1);
  CHECK(p.kernel[0] == 1);
  CHECK(p.in_shape[1] == 10);
  CHECK(p.kernel[1] == 3);
  CHECK(p.pad_begin[1] == 1);
  CHECK(p.pad_end[1] == 1);
  CHECK(p.pad_end[2] == 1);
  CHECK(p.count_include_pad == 1);
  CHECK(l->config.grid.x == 3);

  const auto g = plan_pool(make_node(OpKind::kGlobalAveragePool),
                           std::vector{info(DataType::kBF16, {4, 8, 50, 50})}).value();
  PoolArgs ga;
  ga.in_shape = {4, 8, 50, 50};
  ga.in = fake_ptr(0x100000);
  ga.out = fake_ptr(0x200000);
  auto gl = make_launch(g, ga);
  REQUIRE(gl);
  CHECK(gl->out_shape == std::vector<int64_t>{4, 8, 1, 1});
  CHECK(gl->kernel.find(", 256>") != std::string::npos);  // 2500 elements per plane
  const auto r = params_of<rtx::kernels::ReduceParams>(*gl);
  CHECK(r.outputs == 32);
  CHECK(r.reduce == 2500);
  CHECK(r.count == 2500);
  CHECK(r.finalize == 1);

  PoolArgs bad = a;
  bad.in_shape = {2, 3, 10};
  CHECK(make_launch(spec, bad).error().id == "rtx.jit.302");
  bad = a;
  bad.in_shape = {2, 3, 0, 12};
  CHECK(!make_launch(spec, bad));  // kernel larger than the padded input: the IR rejects it too
}

TEST_CASE("spec JSON round trip and malformed JSON") {
  const auto s = plan_pool(make_node(OpKind::kMaxPool, {{"kernel_shape", std::vector<int64_t>{2}},
                                                        {"storage_order", int64_t{1}}},
                                     2),
                           std::vector{info(DataType::kUINT8, {1, 2, 9})})
                     .value();
  nlohmann::json j = s;
  CHECK(j.at("kind") == "max");
  CHECK(j.get<PoolSpec>() == s);
  j["kernel"] = std::vector<int64_t>{0};
  CHECK_THROWS_WITH_AS(j.get<PoolSpec>(), doctest::Contains("rtx.jit.303"), Exception);
  j = s;
  j["auto_pad"] = "SOMETIMES";
  CHECK_THROWS_AS(j.get<PoolSpec>(), Exception);
}

TEST_CASE("NVRTC: pooling kernels for every default target") {
  jit::Program p;
  p.name = "pool_representative";
  p.source = "#include \"pool/pool.cuh\"\n";
  p.name_expressions = {"rtx::kernels::max_pool<__half>", "rtx::kernels::max_pool<signed char>",
                        "rtx::kernels::avg_pool<float>",
                        "rtx::kernels::reduce_rows<rtx::kernels::MeanOp<__half>, __half, __half, 32>"};
  rtx::test::compile_and_check(p);
  jit::Program all;
  all.name = "pool_all";
  all.source = p.source;
  for (const char* t : {"float", "double", "__half", "__nv_bfloat16"}) {
    PoolSpec s;
    s.dtype = *data_type_from_string(t == std::string("float")    ? "f32"
                                     : t == std::string("double") ? "f64"
                                     : t == std::string("__half") ? "f16"
                                                                  : "bf16");
    for (PoolKind k : {PoolKind::kMax, PoolKind::kAverage, PoolKind::kGlobalAverage}) {
      s.kind = k;
      for (const auto& e : s.name_expressions()) all.name_expressions.push_back(e);
    }
  }
  all.name_expressions.push_back("rtx::kernels::max_pool<unsigned char>");
  rtx::test::compile_and_check(all, {jit::Target{90, false, false}});
}
