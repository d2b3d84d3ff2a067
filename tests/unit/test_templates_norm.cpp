// SPDX-License-Identifier: Apache-2.0
// Normalisation family without a GPU: planning Softmax/LogSoftmax/LayerNormalization/
// RMSNormalization from IR nodes, the threads-per-row choice, launch parameters (rows, cols,
// vector path, statistics outputs), argument checks, spec JSON, and NVRTC compilation.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "jit/kernels/norm.hpp"
#include "test_templates_util.hpp"

using namespace rtx;
using namespace rtx::jit::kernels;
using ir::OpKind;
using rtx::test::fake_ptr;

namespace {

using Attrs = std::map<std::string, ir::AttrValue, std::less<>>;

ir::Node make_node(OpKind op, size_t inputs, size_t outputs = 1, Attrs attrs = {}) {
  ir::Node n;
  n.op = op;
  n.name = "norm_node";
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back(static_cast<ir::ValueId>(i));
  for (size_t i = 0; i < outputs; ++i) n.outputs.push_back(static_cast<ir::ValueId>(inputs + i));
  n.attrs = std::move(attrs);
  return n;
}

ir::TensorInfo info(DataType t, std::vector<int64_t> shape) {
  return ir::TensorInfo{t, std::move(shape), true};
}

}  // namespace

TEST_CASE("norm_threads_for: the fewest threads whose register cache holds the row") {
  const std::vector<int> all(std::begin(kNormThreadVariants), std::end(kNormThreadVariants));
  // f16: 4 vectors of 8 elements per thread = 32 per thread.
  CHECK(norm_threads_for(100, DataType::kF16, all) == 32);
  CHECK(norm_threads_for(1024, DataType::kF16, all) == 32);
  CHECK(norm_threads_for(1025, DataType::kF16, all) == 128);
  CHECK(norm_threads_for(4096, DataType::kF16, all) == 128);
  CHECK(norm_threads_for(8192, DataType::kF16, all) == 512);
  CHECK(norm_threads_for(100000, DataType::kF16, all) == 1024);  // longer: the two-read path
  // f32: 16 per thread.
  CHECK(norm_threads_for(4096, DataType::kF32, all) == 512);
  const std::vector<int> one{128};
  CHECK(norm_threads_for(100000, DataType::kF32, one) == 128);
}

TEST_CASE("plan_norm: softmax along the last axis or strided; layer and RMS norm") {
  auto sm = plan_norm(make_node(OpKind::kSoftmax, 1), std::vector{info(DataType::kF16, {8, 4096})});
  REQUIRE(sm);
  CHECK(sm->axis == 1);
  CHECK(!sm->strided());
  CHECK(sm->threads == std::vector<int>{128});
  CHECK(sm->name_expressions() ==
        std::vector<std::string>{"rtx::kernels::softmax_rows<__half, 128, false>"});

  auto lsm = plan_norm(make_node(OpKind::kLogSoftmax, 1, 1, {{"axis", int64_t{1}}}),
                       std::vector{info(DataType::kF32, {2, 10, 7, 7})});
  REQUIRE(lsm);
  CHECK(lsm->strided());
  CHECK(lsm->name_expressions() ==
        std::vector<std::string>{"rtx::kernels::softmax_strided<float, true>"});

  // A dynamic row length compiles every variant.
  auto dyn = plan_norm(make_node(OpKind::kSoftmax, 1),
                       std::vector{info(DataType::kBF16, {ir::kDynamic, ir::kDynamic})});
  REQUIRE(dyn);
  CHECK(dyn->threads.size() == 4);
  CHECK(dyn->name_expressions().size() == 4);

  auto ln = plan_norm(make_node(OpKind::kLayerNormalization, 3, 3, {{"epsilon", 1e-3}}),
                      std::vector{info(DataType::kF16, {4, 16, 768}), info(DataType::kF16, {768}),
                                  info(DataType::kF16, {1, 768})});
  REQUIRE(ln);
  CHECK(ln->axis == 2);
  CHECK(ln->epsilon == doctest::Approx(1e-3));
  CHECK(ln->name_expressions() ==
        std::vector<std::string>{"rtx::kernels::layer_norm_rows<__half, 32>"});

  auto ln2 = plan_norm(make_node(OpKind::kLayerNormalization, 2, 1, {{"axis", int64_t{1}}}),
                       std::vector{info(DataType::kF32, {4, 16, 64}), info(DataType::kF32, {16, 64})});
  REQUIRE(ln2);
  CHECK(ln2->threads == std::vector<int>{128});  // 1024 f32 elements per row

  auto rms = plan_norm(make_node(OpKind::kRMSNormalization, 2),
                       std::vector{info(DataType::kF16, {3, 4096}), info(DataType::kF32, {4096})});
  REQUIRE(rms);
  CHECK(rms->output() == DataType::kF32);
  CHECK(rms->name_expressions() ==
        std::vector<std::string>{"rtx::kernels::rms_norm_rows<__half, float, 128>"});

  SUBCASE("refused") {
    // Scale broadcast within the row, per-row scale, f64, stats in a non-f32 stash type.
    CHECK(!plan_norm(make_node(OpKind::kLayerNormalization, 2),
                     std::vector{info(DataType::kF16, {4, 8}), info(DataType::kF16, {1})}));
    CHECK(!plan_norm(make_node(OpKind::kLayerNormalization, 2),
                     std::vector{info(DataType::kF16, {4, 8}), info(DataType::kF16, {4, 8})}));
    CHECK(!plan_norm(make_node(OpKind::kSoftmax, 1), std::vector{info(DataType::kF64, {4, 8})}));
    CHECK(!plan_norm(make_node(OpKind::kLayerNormalization, 2, 2, {{"stash_type", int64_t{10}}}),
                     std::vector{info(DataType::kF16, {4, 8}), info(DataType::kF16, {8})}));
    CHECK(plan_norm(make_node(OpKind::kLayerNormalization, 2, 1, {{"stash_type", int64_t{10}}}),
                    std::vector{info(DataType::kF16, {4, 8}), info(DataType::kF16, {8})}));
    CHECK(!plan_norm(make_node(OpKind::kRelu, 1), std::vector{info(DataType::kF16, {4, 8})}));
  }
}

TEST_CASE("make_launch: rows, vector path, statistics and argument checks") {
  const auto ln = plan_norm(make_node(OpKind::kLayerNormalization, 3, 3),
                            std::vector{info(DataType::kF16, {ir::kDynamic, 1024}),
                                        info(DataType::kF16, {1024}), info(DataType::kF16, {1024})})
                      .value();
  NormArgs a;
  a.in_shape = {300, 1024};
  a.in = fake_ptr(0x100000);
  a.out = fake_ptr(0x200000);
  a.scale_shape = {1024};
  a.scale = fake_ptr(0x300000);
  a.bias_shape = {1, 1024};
  a.bias = fake_ptr(0x400000);
  a.mean = fake_ptr(0x500000);
  a.inv_std = fake_ptr(0x600000);
  auto l = make_launch(ln, a);
  REQUIRE(l);
  CHECK(l->kernel == "rtx::kernels::layer_norm_rows<__half, 32>");
  CHECK(l->params.rows == 300);
  CHECK(l->params.cols == 1024);
  CHECK(l->params.vectorized == 1);
  CHECK(l->params.mean == fake_ptr(0x500000));
  CHECK(l->params.epsilon == doctest::Approx(1e-5));
  CHECK(l->config.block.x == 128);  // 4 rows of 32 threads per block
  CHECK(l->config.grid.x == 75);

  SUBCASE("odd row lengths or misaligned buffers use element accesses") {
    a.in_shape = {300, 1023};
    a.scale_shape = {1023};
    a.bias_shape = {1023};
    auto odd = make_launch(ln, a);
    REQUIRE(odd);
    CHECK(odd->params.vectorized == 0);
  }
  SUBCASE("scale not matching the normalised dims") {
    a.scale_shape = {512};
    auto bad = make_launch(ln, a);
    REQUIRE(!bad);
    CHECK(bad.error().id == "rtx.jit.302");
    CHECK(bad.error().message.find("[512]") != std::string::npos);
  }
  SUBCASE("empty input: nothing to launch") {
    a.in_shape = {0, 1024};
    auto empty = make_launch(ln, a);
    REQUIRE(empty);
    CHECK(empty->config.grid.x == 0);
  }
  SUBCASE("strided softmax") {
    const auto sm = plan_norm(make_node(OpKind::kSoftmax, 1, 1, {{"axis", int64_t{1}}}),
                              std::vector{info(DataType::kF32, {2, 10, 3, 5})})
                        .value();
    NormArgs s;
    s.in_shape = {2, 10, 3, 5};
    s.in = fake_ptr(0x100000);
    s.out = fake_ptr(0x200000);
    auto sl = make_launch(sm, s);
    REQUIRE(sl);
    CHECK(sl->params.rows == 2);
    CHECK(sl->params.cols == 10);
    CHECK(sl->params.inner == 15);
    CHECK(sl->config.grid.x == 1);
  }
}

TEST_CASE("spec JSON round trip and malformed JSON") {
  const auto s = plan_norm(make_node(OpKind::kRMSNormalization, 2, 1, {{"epsilon", 1e-6}}),
                           std::vector{info(DataType::kBF16, {2, 64}), info(DataType::kBF16, {64})})
                     .value();
  nlohmann::json j = s;
  CHECK(j.at("kind") == "rms_norm");
  CHECK(j.get<NormSpec>() == s);
  j["threads"] = std::vector<int>{100};
  CHECK_THROWS_WITH_AS(j.get<NormSpec>(), doctest::Contains("rtx.jit.303"), Exception);
  j = s;
  j["axis"] = 5;
  CHECK_THROWS_AS(j.get<NormSpec>(), Exception);
}

TEST_CASE("NVRTC: norm kernels for every default target, every variant for sm_90") {
  jit::Program p;
  p.name = "norm_representative";
  p.source = "#include \"norm/softmax.cuh\"\n#include \"norm/layer_norm.cuh\"\n";
  p.name_expressions = {"rtx::kernels::softmax_rows<__half, 128, false>",
                        "rtx::kernels::softmax_strided<float, true>",
                        "rtx::kernels::layer_norm_rows<__half, 512>",
                        "rtx::kernels::rms_norm_rows<__nv_bfloat16, float, 32>"};
  const auto images = rtx::test::compile_and_check(p);
  const std::string ptx = rtx::test::ptx_of(images);
  for (const char* e : {"rtx::kernels::softmax_rows<__half, 128, false>",
                        "rtx::kernels::layer_norm_rows<__half, 512>"}) {
    const std::string* lowered = images.back().lowered_name(e);
    REQUIRE(lowered);
    const std::string body = rtx::test::ptx_entry(ptx, *lowered);
    CHECK(body.find("ld.global.v4.u32") != std::string::npos);
    CHECK(body.find("local") == std::string::npos);  // the register cache stays in registers
  }

  jit::Program all;
  all.name = "norm_all";
  all.source = p.source;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
    NormSpec s;
    s.input = s.scale = t;
    s.rank = 2;
    s.axis = 1;
    for (NormKind k : {NormKind::kSoftmax, NormKind::kLogSoftmax, NormKind::kLayerNorm,
                       NormKind::kRmsNorm}) {
      s.kind = k;
      for (const auto& e : s.name_expressions()) all.name_expressions.push_back(e);
    }
  }
  rtx::test::compile_and_check(all, {jit::Target{90, false, false}});
}
