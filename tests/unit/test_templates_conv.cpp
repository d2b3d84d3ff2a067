// SPDX-License-Identifier: Apache-2.0
// Convolution family without a GPU: the implicit-GEMM (NCHW and NHWC), depthwise and 1x1-GEMM
// kernels compiled by NVRTC for every default target, and the host side: problems from shapes
// and IR nodes (pads, auto_pad, 1-D/3-D), the planner's algorithm choice, can_implement, launch
// configuration, parameter blocks, OHWI weight reordering and JSON round trips.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "jit/cache.hpp"
#include "jit/compiler.hpp"
#include "jit/kernels/conv.hpp"

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;

namespace {

bool contains(const std::vector<uint8_t>& image, const std::string& s) {
  return std::search(image.begin(), image.end(), s.begin(), s.end()) != image.end();
}

ConvProblem problem_2d(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m, int64_t k,
                       int64_t stride, int64_t pad, int64_t groups = 1, int64_t dilation = 1) {
  return conv_problem(std::vector<int64_t>{n, c, h, w}, std::vector<int64_t>{m, c / groups, k, k},
                      std::vector<int64_t>{stride, stride},
                      std::vector<int64_t>{pad, pad, pad, pad},
                      std::vector<int64_t>{dilation, dilation}, groups);
}

}  // namespace

TEST_CASE("every kind of conv kernel compiles for every default target") {
  ConvPlanOptions nhwc;
  nhwc.layout = ConvLayout::kNHWC;
  nhwc.activation = GemmActivation::kRelu;
  nhwc.residual = true;
  ConvPlanOptions nchw;
  nchw.activation = GemmActivation::kSilu;
  nchw.output = DataType::kF16;
  std::vector<ConvSpec> specs = {
      choose_conv_spec(DataType::kF16, problem_2d(8, 64, 28, 28, 128, 3, 1, 1), true, nhwc),
      choose_conv_spec(DataType::kF32, problem_2d(2, 16, 9, 9, 32, 3, 2, 1), true, nchw),
      choose_conv_spec(DataType::kBF16, problem_2d(2, 32, 9, 9, 64, 3, 1, 1, 32), true, nhwc),
  };
  CHECK(specs[0].algorithm == ConvAlgorithm::kImplicitGemm);
  CHECK(specs[1].algorithm == ConvAlgorithm::kImplicitGemm);
  CHECK(specs[1].layout == ConvLayout::kNCHW);
  CHECK(specs[2].algorithm == ConvAlgorithm::kDepthwise);
  for (const auto& s : specs) CHECK_MESSAGE(s.validate(), s.describe());
  const auto targets = default_targets();
  KernelCache cache{std::filesystem::path{}};
  CompileOptions options;
  options.cache = &cache;
  const auto t0 = std::chrono::steady_clock::now();
  auto images = compile(conv_program(specs), targets, options);
  REQUIRE_MESSAGE(images, (images ? std::string() : images.error().to_string()));
  MESSAGE(
      specs.size() << " conv kernels x " << targets.size() << " targets: "
                   << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                   << " s");
  for (const CompiledImage& img : *images) {
    INFO("target " << img.target.to_string());
    if (img.target.ptx) {
      const std::string ptx(img.image.begin(), img.image.end());
      CHECK(ptx.find("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32") != std::string::npos);
      CHECK(ptx.find("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32") != std::string::npos);
    } else {
      CHECK(img.image[0] == 0x7f);
      CHECK((img.image[18] | img.image[19] << 8) == 190);  // EM_CUDA
    }
    for (const auto& s : specs) {
      const std::string* lowered = img.lowered_name(s.name_expression());
      REQUIRE_MESSAGE(lowered != nullptr, s.name_expression());
      CHECK(contains(img.image, *lowered));
    }
  }
}

TEST_CASE("conv problems: pads, strides, dilation, 1-D and 3-D") {
  const auto p = problem_2d(2, 16, 9, 9, 32, 3, 2, 1);
  CHECK(p.spatial_rank == 2);
  CHECK(p.out == std::array<int64_t, 3>{1, 5, 5});  // (9 + 2 - 3) / 2 + 1
  CHECK(p.gemm_k() == 16 * 9);
  CHECK(p.output_shape(ConvLayout::kNCHW) == std::vector<int64_t>{2, 32, 5, 5});
  CHECK(p.output_shape(ConvLayout::kNHWC) == std::vector<int64_t>{2, 5, 5, 32});
  const auto d = problem_2d(1, 4, 10, 10, 4, 3, 1, 0, 1, 3);
  CHECK(d.out == std::array<int64_t, 3>{1, 4, 4});  // extent 7
  const auto one = conv_problem(std::vector<int64_t>{3, 8, 20}, std::vector<int64_t>{6, 8, 5},
                                std::vector<int64_t>{2}, std::vector<int64_t>{1, 3}, {}, 1);
  CHECK(one.spatial_rank == 1);
  CHECK(one.out == std::array<int64_t, 3>{1, 1, 10});  // (20 + 4 - 5) / 2 + 1
  CHECK(one.input_shape(ConvLayout::kNHWC) == std::vector<int64_t>{3, 20, 8});
  const auto three = conv_problem(std::vector<int64_t>{1, 4, 5, 6, 7},
                                  std::vector<int64_t>{8, 2, 3, 3, 3}, {}, {}, {}, 2);
  CHECK(three.out == std::array<int64_t, 3>{3, 4, 5});
  CHECK(three.gemm_k() == 2 * 27);
  CHECK_THROWS_AS(problem_2d(1, 6, 9, 9, 8, 3, 1, 1, 4), Exception);  // 4 does not divide 6
  CHECK_THROWS_AS(problem_2d(1, 4, 2, 2, 8, 5, 1, 0), Exception);     // kernel larger than input

  ir::Node node;
  node.op = ir::OpKind::kConv;
  node.attrs["auto_pad"] = std::string("SAME_UPPER");
  node.attrs["strides"] = std::vector<int64_t>{2, 2};
  const auto same =
      conv_problem(node, std::vector<int64_t>{1, 3, 7, 8}, std::vector<int64_t>{4, 3, 3, 3});
  CHECK(same.out == std::array<int64_t, 3>{1, 4, 4});  // ceil(7 / 2), ceil(8 / 2)
  CHECK(same.pad == std::array<int64_t, 3>{0, 1, 0});  // totals 2 and 1: begins 1 and 0
}

TEST_CASE("planner: depthwise, 1x1 GEMM, implicit GEMM vectors and tiles") {
  ConvPlanOptions nchw;
  const auto pw =
      choose_conv_spec(DataType::kF16, problem_2d(2, 64, 14, 14, 128, 1, 1, 0), false, nchw);
  CHECK(pw.algorithm == ConvAlgorithm::kGemm);
  CHECK(pw.gemm_spec().epilogue.bias == GemmBiasMode::kNone);
  const auto pwb =
      choose_conv_spec(DataType::kF16, problem_2d(2, 64, 14, 14, 128, 1, 1, 0), true, nchw);
  CHECK(pwb.gemm_spec().epilogue.bias == GemmBiasMode::kPerRow);
  CHECK(can_implement(pwb, problem_2d(2, 64, 14, 14, 128, 1, 1, 0)));
  CHECK_FALSE(can_implement(pwb, problem_2d(2, 64, 14, 14, 128, 3, 1, 1)));
  // 1x1 with padding only at the far ends: the output plane is larger than x's, so not a GEMM.
  const std::vector<int64_t> x14 = {2, 64, 14, 14}, w1 = {128, 64, 1, 1}, end_pads = {0, 0, 1, 1}, none;
  const ConvProblem padded = conv_problem(x14, w1, none, end_pads, none, 1);
  CHECK_FALSE(padded.is_pointwise());
  CHECK_FALSE(can_implement(pwb, padded));
  CHECK(choose_conv_spec(DataType::kF16, padded, true, nchw).algorithm == ConvAlgorithm::kImplicitGemm);

  ConvPlanOptions nhwc;
  nhwc.layout = ConvLayout::kNHWC;
  const auto first = problem_2d(8, 3, 224, 224, 64, 7, 2, 3);
  const auto s = choose_conv_spec(DataType::kF16, first, true, nhwc);
  CHECK(s.algorithm == ConvAlgorithm::kImplicitGemm);
  CHECK(s.vec_a == 1);     // C = 3: one channel per copy
  CHECK(s.tile.bn == 64);  // 64 output channels: the narrow tile
  CHECK(s.epilogue().bias == GemmBiasMode::kPerColumn);
  CHECK(can_implement(s, first));
  const auto wide =
      choose_conv_spec(DataType::kF16, problem_2d(8, 64, 56, 56, 256, 3, 1, 1), true, nhwc);
  CHECK(wide.vec_a == 8);
  CHECK(wide.vec_b == 8);
  CHECK(wide.tile.bn == 128);
  ConvSpec forced = wide;
  forced.vec_a = 8;
  CHECK(can_implement(forced, problem_2d(8, 12, 56, 56, 256, 3, 1, 1)).error().id == "rtx.jit.412");
  for (int sm : {80, 86, 89, 90, 100, 120}) {
    nhwc.sm = sm;
    const auto t =
        choose_conv_spec(DataType::kF32, problem_2d(8, 64, 56, 56, 256, 3, 1, 1), true, nhwc);
    CHECK(t.shared_bytes() <= max_shared_bytes(sm));
    CHECK(t.tile.bk == 32);
  }

  ir::Node node;
  node.op = ir::OpKind::kConv;
  node.attrs["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  node.attrs["group"] = int64_t{4};
  const std::vector<ir::TensorInfo> in = {{DataType::kBF16, {ir::kDynamic, 32, 16, 16}, true},
                                          {DataType::kBF16, {64, 8, 3, 3}, true},
                                          {DataType::kBF16, {64}, true}};
  auto planned = plan_conv(node, in);
  REQUIRE(planned);
  CHECK(planned->algorithm == ConvAlgorithm::kImplicitGemm);
  CHECK(planned->layout == ConvLayout::kNCHW);
  CHECK(planned->bias);
  CHECK(planned->vec_a == 8);  // K = 8 * 9 = 72
  const std::vector<ir::TensorInfo> dyn_c = {{DataType::kBF16, {1, ir::kDynamic, 16, 16}, true},
                                             {DataType::kBF16, {64, 8, 3, 3}, true}};
  CHECK_FALSE(plan_conv(node, dyn_c));
  const std::vector<ir::TensorInfo> ints = {{DataType::kINT8, {1, 32, 16, 16}, true},
                                            {DataType::kINT8, {64, 8, 3, 3}, true}};
  CHECK_FALSE(plan_conv(node, ints));
}

TEST_CASE("launch config, params, names, JSON, OHWI weights") {
  ConvPlanOptions nhwc;
  nhwc.layout = ConvLayout::kNHWC;
  const auto p = problem_2d(2, 16, 9, 9, 32, 3, 2, 1, 2);
  const auto s = choose_conv_spec(DataType::kF16, p, true, nhwc);
  REQUIRE(s.algorithm == ConvAlgorithm::kImplicitGemm);
  const LaunchConfig lc = launch_config(s, p);
  CHECK(lc.grid.z == 2);  // groups
  CHECK(lc.grid.x == static_cast<unsigned>(((2 * 25 + s.tile.bm - 1) / s.tile.bm) *
                                           ((16 + s.tile.bn - 1) / s.tile.bn)));
  int dummy = 0;
  const auto params = make_params(s, p, ConvBuffers{&dummy, &dummy, &dummy, &dummy, nullptr});
  CHECK(params.gemm.m == 50);
  CHECK(params.gemm.n == 16);
  CHECK(params.gemm.k == 72);
  CHECK(params.gemm.ldd == 32);
  CHECK(params.gemm.a_batch_stride[0] == 8);
  CHECK(params.gemm.b_batch_stride[0] == 16 * 72);
  CHECK(params.cg == 8);
  CHECK(params.out_h == 5);
  CHECK(params.div_cg.div(17) == 2);

  ConvSpec nchw = s;
  nchw.layout = ConvLayout::kNCHW;
  nchw.vec_b = 1;
  const auto q = make_params(nchw, p, ConvBuffers{&dummy, &dummy, &dummy, &dummy, nullptr});
  CHECK(q.gemm.m == 16);
  CHECK(q.gemm.n == 25);
  CHECK(q.gemm.batch_count == 4);
  CHECK(q.gemm.b_batch_stride[0] == 16 * 81);
  CHECK(q.gemm.b_batch_stride[1] == 8 * 81);
  CHECK(q.gemm.d_batch_stride[1] == 16 * 25);
  CHECK(q.gemm.bias_batch_stride[1] == 16);

  CHECK(s.name_expression().rfind("rtx::kernels::conv::conv_implicit_gemm<__half, __half, "
                                  "rtx::kernels::gemm::TileShape<",
                                  0) == 0);
  ConvSpec dw;
  dw.algorithm = ConvAlgorithm::kDepthwise;
  dw.layout = ConvLayout::kNCHW;
  dw.input = DataType::kF32;
  dw.output = DataType::kBF16;
  dw.activation = GemmActivation::kRelu;
  dw.bias = true;
  CHECK(dw.name_expression() ==
        "rtx::kernels::conv::conv_depthwise<float, __nv_bfloat16, (rtx::kernels::conv::Layout)0, "
        "rtx::kernels::gemm::Epilogue<(rtx::kernels::gemm::Activation)7, "
        "(rtx::kernels::gemm::BiasMode)1, false, false>>");  // ReLU: kFloor with floor 0
  for (const ConvSpec& x : {s, nchw, dw}) {
    nlohmann::json j = x;
    CHECK(j.get<ConvSpec>() == x);
  }
  nlohmann::json j = s;
  j["layout"] = "nwhc";
  CHECK_THROWS_AS(j.get<ConvSpec>(), Exception);

  // OHWI: (M=2, C=3, 2x1) -> (2, 2, 1, 3); element (o, c, y, 0) moves to (o, y, 0, c).
  std::vector<float> v(12);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  const HostTensor oihw = HostTensor::from_vector(DataType::kF32, {2, 3, 2, 1}, v);
  const HostTensor ohwi = ohwi_weights(oihw);
  CHECK(ohwi.shape() == std::vector<int64_t>{2, 2, 1, 3});
  // (o=1, y=1, c=2): OIHW flat (1*3 + 2)*2 + 1 = 11; OHWI flat (1*2 + 1)*3 + 2 = 11.
  CHECK(ohwi.get_double(11) == 11.0);
  // (o=0, y=1, c=0): OIHW flat 1; OHWI flat 3.
  CHECK(ohwi.get_double(3) == 1.0);
  // (o=0, y=0, c=1): OIHW flat 2; OHWI flat 1.
  CHECK(ohwi.get_double(1) == 2.0);
}

TEST_CASE("TapCounter and window_origin (host-device helpers of the NCHW im2col loaders)") {
  // A 3-D convolution: K = (C / G) * T * R * S = 3 * 2 * 3 * 5 = 90, k = ((c * T + t) * R + r) * S + s.
  const std::vector<int64_t> x = {1, 6, 4, 7, 9}, w = {4, 3, 2, 3, 5}, strides = {1, 2, 1}, pads = {0, 1, 2, 0, 1, 2},
                             dilations = {1, 1, 2};
  const ConvProblem p = conv_problem(x, w, strides, pads, dilations, 2);
  ConvSpec spec = choose_conv_spec(DataType::kF16, p, false, ConvPlanOptions{});
  REQUIRE(spec.algorithm == ConvAlgorithm::kImplicitGemm);
  int dummy = 0;
  const auto cp = make_params(spec, p, ConvBuffers{&dummy, &dummy, &dummy, nullptr, nullptr});
  REQUIRE(cp.gemm.k == 90);
  const auto expect = [&](const rtx::kernels::conv::TapCounter& tap, int64_t k) {
    INFO("k = " << k);
    CHECK(tap.s == static_cast<uint32_t>(k % 5));
    CHECK(tap.r == static_cast<uint32_t>(k / 5 % 3));
    CHECK(tap.t == static_cast<uint32_t>(k / 15 % 2));
    CHECK(tap.c == static_cast<uint32_t>(k / 30));
    CHECK(tap.dx(cp) == static_cast<int>(k % 5) * 2);  // dilation 2 along W
  };
  rtx::kernels::conv::TapCounter stepped(cp, 0);
  for (int64_t k = 0; k < 90; ++k) {
    expect(rtx::kernels::conv::TapCounter(cp, k), k);  // decoded
    expect(stepped, k);                                 // stepped one at a time
    stepped.step(cp);
  }
  for (uint32_t n : {2u, 3u, 7u, 16u}) {
    rtx::kernels::conv::TapCounter advanced(cp, 1);
    for (int64_t k = 1; k < 90; k += n) {
      expect(advanced, k);
      advanced.advance(cp, n);
    }
  }
  // Past K the counter stays at zero (loaders test k themselves).
  const rtx::kernels::conv::TapCounter past(cp, 90);
  CHECK(past.c + past.t + past.r + past.s == 0);

  // Window origins: output position (od, oh, ow) starts at od * 1 - 0, oh * 2 - 1, ow * 1 - 2;
  // positions past the image's get a sentinel that fails every bounds test.
  const int64_t positions = p.positions();
  REQUIRE(cp.gemm.n == positions);
  for (int64_t pos = 0; pos < positions + 3; ++pos) {
    int id0, ih0, iw0;
    rtx::kernels::conv::window_origin(cp, pos, id0, ih0, iw0);
    INFO("position " << pos);
    if (pos < positions) {
      CHECK(iw0 == static_cast<int>(pos % p.out[2]) - 2);
      CHECK(ih0 == static_cast<int>(pos / p.out[2] % p.out[1]) * 2 - 1);
      CHECK(id0 == static_cast<int>(pos / (p.out[2] * p.out[1])));
    } else {
      CHECK(iw0 < -(1 << 20));
      CHECK(ih0 < -(1 << 20));
    }
  }
}
