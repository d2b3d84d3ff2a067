// SPDX-License-Identifier: Apache-2.0
// The int8 convolution (templates/qconv, jit/kernels/qconv) without a GPU: NVRTC compiles the
// kernel kinds for sm_80, sm_86, sm_89 and sm_90 (+ compute_80 PTX) into images holding the
// s8/u8 m16n8k32 MMA, and the images stay small; host side: name expressions, validation, JSON,
// can_implement (K alignment, overflow, buffers, scale counts), launch configuration, parameter
// blocks and the planner on folded IR groups (what it declines stays DQ + float Conv).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "ir/quant_passes.hpp"
#include "jit/cache.hpp"
#include "jit/compiler.hpp"
#include "jit/kernels/qconv.hpp"

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;

namespace {

constexpr DataType I8 = DataType::kINT8, U8 = DataType::kUINT8, F32 = DataType::kF32,
                   F16 = DataType::kF16, B16 = DataType::kBF16;

QConvSpec spec(DataType x, DataType w, DataType scale, DataType mid, DataType out, GemmTile tile,
               bool per_channel = true, GemmActivation act = GemmActivation::kNone, bool bias = false,
               int vec = 16, int vec_x = 0) {
  QConvSpec s;
  s.x = x;
  s.w = w;
  s.scale = scale;
  s.mid = mid;
  s.output = out;
  s.tile = tile;
  s.per_channel = per_channel;
  s.activation = act;
  s.bias = bias;
  s.quantize = out == I8 || out == U8;
  s.vec_w = vec;
  s.vec_x = vec_x;
  return s;
}

const GemmTile kMedium{128, 128, 128, 3, 2, 4};
const GemmTile kSmall{64, 128, 128, 4, 2, 4};
const GemmTile kNarrow{128, 64, 128, 4, 4, 2};
const GemmTile kTiny{64, 64, 128, 4, 2, 2};

/// One spec of each tile, operand types, epilogue and copy width the planner uses.
std::vector<QConvSpec> specs() {
  using A = GemmActivation;
  return {
      spec(I8, I8, F32, F32, I8, kMedium, true, A::kRelu, true),
      spec(U8, I8, F16, F16, U8, kSmall, false, A::kNone, true, 8),
      spec(I8, I8, B16, B16, B16, kNarrow, true, A::kSilu, false, 4),
      spec(I8, U8, F32, F16, F16, kTiny, true, A::kNone, true),
      // Pointwise kernels (x rows by cp.async, transposed in shared memory).
      spec(I8, I8, F32, F16, I8, kMedium, true, A::kRelu, true, 16, 16),
      spec(U8, I8, F16, F16, F16, kTiny, false, A::kNone, false, 8, 4),
  };
}

bool contains(const std::vector<uint8_t>& image, const std::string& s) {
  return std::search(image.begin(), image.end(), s.begin(), s.end()) != image.end();
}

/// int8 Conv (N, C, H, W) x (M, C/G, k, k), per-channel weight scales, bias, relu, Q to int8.
ir::Graph conv_layer(int64_t c, int64_t m, int64_t k, int64_t hw, int64_t group = 1, bool q = true,
                     DataType mid = F16) {
  ir::Graph g;
  const ir::ValueId x = g.add_input("x", I8, {ir::kDynamic, c, hw, hw});
  g.set_profile("x", ir::InputProfile{{1, c, hw, hw}, {8, c, hw, hw}, {32, c, hw, hw}});
  const ir::ValueId sx = g.add_weight("sx", HostTensor::scalar(mid, 0.125));
  const ir::ValueId w = g.add_weight("w", HostTensor(I8, {m, c / group, k, k}));
  const ir::ValueId sw = g.add_weight("sw", HostTensor(mid, {m}));
  const ir::ValueId b = g.add_weight("b", HostTensor(mid, {m}));
  const ir::NodeId dx = g.add_node(ir::OpKind::kDequantizeLinear, "dq_x", {x, sx});
  const ir::NodeId dw = g.add_node(ir::OpKind::kDequantizeLinear, "dq_w", {w, sw}, 1, {{"axis", int64_t{0}}});
  const int64_t pad = k / 2;
  ir::ValueId y = g.node(g.add_node(ir::OpKind::kConv, "conv", {g.node(dx).outputs[0], g.node(dw).outputs[0], b}, 1,
                                    {{"pads", std::vector<int64_t>{pad, pad, pad, pad}}, {"group", group}}))
                      .outputs[0];
  y = g.node(g.add_node(ir::OpKind::kRelu, "relu", {y})).outputs[0];
  if (q) {
    const ir::ValueId sy = g.add_weight("sy", HostTensor::scalar(mid, 0.25));
    y = g.node(g.add_node(ir::OpKind::kQuantizeLinear, "q_y", {y, sy}, 1, {{"output_dtype", int64_t{3}}})).outputs[0];
  }
  g.mark_output(y, "y");
  g.infer_shapes();
  ir::fold_quantized_gemms(g, {});
  return g;
}

ir::QuantConvGroup group_of(const ir::Graph& g) {
  const auto groups = ir::find_quant_convs(g);
  REQUIRE(groups.size() == 1);
  return groups[0];
}

}  // namespace

TEST_CASE("qconv kernels compile for sm_80, sm_86, sm_89 and sm_90 and stay small") {
  const std::vector<Target> targets = {Target{80}, Target{86}, Target{89}, Target{90}, Target{80, false, true}};
  const auto all = specs();
  Program program;
  program.name = "rtx_qconv_test";
  program.source = "#include \"qconv/qconv_sm80.cuh\"\n";
  for (const auto& s : all) {
    INFO(s.describe());
    REQUIRE(s.validate());
    for (const Target& t : targets) CHECK(s.supports(t));
    program.name_expressions.push_back(s.name_expression());
  }
  CHECK(all[0].program().source == program.source);
  KernelCache cache{std::filesystem::path{}};
  CompileOptions options;
  options.cache = &cache;
  auto images = compile(program, targets, options);
  REQUIRE_MESSAGE(images, (images ? std::string() : images.error().to_string()));
  REQUIRE(images->size() == targets.size());
  for (const CompiledImage& img : *images) {
    INFO("target " << img.target.to_string());
    if (img.target.ptx) {
      const std::string ptx(img.image.begin(), img.image.end());
      for (const char* needle : {"mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32",
                                 "mma.sync.aligned.m16n8k32.row.col.s32.s8.u8.s32",
                                 "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32", "cp.async", "ldmatrix"})
        CHECK_MESSAGE(ptx.find(needle) != std::string::npos, needle);
    } else {
      CHECK(img.image[0] == 0x7f);
      CHECK((img.image[18] | img.image[19] << 8) == 190);  // EM_CUDA
      // Under 128 KiB of cubin per kernel (no runaway unrolling; about 100 KiB with the im2col
      // loader's one-load and byte-gather paths unrolled over a 4-k block).
      CHECK(img.image.size() < all.size() * 128 * 1024);
    }
    for (const QConvSpec& s : all) {
      const std::string* lowered = img.lowered_name(s.name_expression());
      REQUIRE_MESSAGE(lowered != nullptr, s.name_expression());
      CHECK_MESSAGE(contains(img.image, *lowered), *lowered);
    }
  }
}

TEST_CASE("qconv name expressions, shared memory, validation and JSON") {
  const QConvSpec s = specs()[0];
  CHECK(s.name_expression() ==
        "rtx::kernels::qconv::qconv_mma<signed char, signed char, float, float, signed char, "
        "rtx::kernels::gemm::TileShape<128, 128, 128, 3, 2, 4>, 16, 0, true, "
        "rtx::kernels::qgemm::QEpilogue<(rtx::kernels::gemm::Activation)1, (rtx::kernels::qgemm::BiasMode)2, "
        "true, true>>");
  CHECK(s.threads() == 256);
  CHECK(s.shared_bytes() == 3 * (128 + 128) * 128);
  CHECK(specs()[3].shared_bytes() == 4 * (64 + 64) * 128);
  CHECK(s.describe() == "i8xi8 f32->i8 128x128x128 s3 w2x4 v16 per_channel relu+bias+q");
  // A pointwise kernel: one more B tile for the transpose, " x16" in the description.
  CHECK(specs()[4].shared_bytes() == 3 * (128 + 128) * 128 + 128 * 128);
  CHECK(specs()[4].describe() == "i8xi8 f16->i8 128x128x128 s3 w2x4 v16 x16 per_channel relu+bias+q");
  CHECK(specs()[4].name_expression().find(">, 16, 16, true, ") != std::string::npos);

  const auto invalid = [](QConvSpec t, const char* why) {
    INFO(why);
    auto ok = t.validate();
    REQUIRE_FALSE(ok);
    CHECK(ok.error().id == qconv_errc::kSpecInvalid);
  };
  QConvSpec t = s;
  t.x = DataType::kFP8E4M3;
  invalid(t, "fp8 activations");
  t = s;
  t.output = DataType::kF16;
  invalid(t, "quantize with a float output");
  t = s;
  t.quantize = false;
  invalid(t, "no Q and an int8 output");
  t = s;
  t.tile.bk = 64;
  invalid(t, "BK 64");
  t = s;
  t.vec_w = 2;
  invalid(t, "2-byte copies");
  t = s;
  t.tile = GemmTile{64, 96, 128, 3, 2, 2};
  invalid(t, "threads that do not cover whole im2col columns");
  t = s;
  t.tile.stages = 9;
  invalid(t, "stages");
  t = s;
  t.tile = GemmTile{256, 256, 128, 4, 2, 4};
  invalid(t, "shared memory");
  t = s;
  t.vec_x = 2;
  invalid(t, "2-byte x copies");
  t = s;
  t.vec_x = 16;
  t.tile = GemmTile{128, 96, 128, 3, 2, 2};
  invalid(t, "a raw x row of 96 bytes");

  for (const QConvSpec& one : specs()) {
    nlohmann::json j;
    to_json(j, one);
    QConvSpec back;
    from_json(j, back);
    CHECK(back == one);
  }
  nlohmann::json j;
  to_json(j, s);
  {
    // Engines written before pointwise kernels have no vec_x: they read back as the gather.
    nlohmann::json old_engine = j;
    old_engine.erase("vec_x");
    QConvSpec back;
    from_json(old_engine, back);
    CHECK(back == s);
  }
  for (const char* key : {"x", "tile", "activation", "quantize"}) {
    nlohmann::json broken = j;
    if (std::string(key) == "x") broken[key] = "i9";
    else if (std::string(key) == "tile") broken[key] = {1, 2, 3};
    else if (std::string(key) == "activation") broken[key] = "swish";
    else broken.erase(key);
    QConvSpec out;
    try {
      from_json(broken, out);
      FAIL("accepted a malformed " << key);
    } catch (const Exception& e) {
      CHECK(e.error().id == qconv_errc::kSpecInvalid);
    }
  }
}

TEST_CASE("qconv can_implement, launch configuration and parameter blocks") {
  const QConvSpec s = specs()[0];  // 16-byte weight copies, per-channel scales, bias, Q
  const std::vector<int64_t> x = {8, 64, 28, 28}, w = {128, 64, 3, 3};
  const std::vector<int64_t> strides = {2, 2}, pads = {1, 1, 1, 1}, none;
  const ConvProblem p = conv_problem(x, w, strides, pads, none, 1);
  CHECK(p.gemm_k() == 576);
  CHECK(p.positions() == 14 * 14);
  REQUIRE(can_implement(s, p));
  // K = 3 * 9 = 27: not a multiple of the copy vector.
  const std::vector<int64_t> x3 = {1, 3, 16, 16}, w3 = {16, 3, 3, 3};
  auto bad_k = can_implement(s, conv_problem(x3, w3, none, pads, none, 1));
  REQUIRE_FALSE(bad_k);
  CHECK(bad_k.error().id == qconv_errc::kNotImplementable);
  // uint8 x uint8 with a huge K could overflow s32.
  QConvSpec u = s;
  u.x = u.w = U8;
  const std::vector<int64_t> xb = {1, 4096, 4, 4}, wb = {16, 4096, 3, 3};
  auto overflow = can_implement(u, conv_problem(xb, wb, none, pads, none, 1));
  REQUIRE_FALSE(overflow);
  CHECK(overflow.error().id == qconv_errc::kNotImplementable);

  alignas(16) static int8_t dummy[64];
  QConvBuffers buf{dummy, dummy, dummy, dummy, dummy, dummy, dummy, nullptr};
  CHECK(can_implement(s, p, buf, 128));
  auto count = can_implement(s, p, buf, 1);  // per channel needs M scales
  REQUIRE_FALSE(count);
  CHECK(count.error().id == qconv_errc::kNotImplementable);
  QConvBuffers no_bias = buf;
  no_bias.bias = nullptr;
  auto missing = can_implement(s, p, no_bias, 128);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().id == qconv_errc::kBadBuffer);
  QConvBuffers misaligned = buf;
  misaligned.w = dummy + 4;
  auto align = can_implement(s, p, misaligned, 128);
  REQUIRE_FALSE(align);
  CHECK(align.error().id == qconv_errc::kBadBuffer);

  const LaunchConfig lc = launch_config(s, p);
  CHECK(lc.grid.x == 1 * 2);  // 128 channels x 196 positions in 128 x 128 tiles
  CHECK(lc.grid.z == 8);
  CHECK(lc.block.x == 256);
  CHECK(lc.shared_bytes == static_cast<size_t>(s.shared_bytes()));
  const auto params = make_params(s, p, buf);
  CHECK(params.conv.gemm.m == 128);
  CHECK(params.conv.gemm.n == 196);
  CHECK(params.conv.gemm.k == 576);
  CHECK(params.conv.gemm.lda == 576);
  CHECK(params.conv.gemm.ldd == 196);
  CHECK(params.conv.gemm.batch_count == 8);
  CHECK(params.conv.gemm.tiles_m == 1);
  CHECK(params.conv.gemm.tiles_n == 2);
  CHECK(params.conv.stride_h == 2);
  CHECK(params.conv.pad_w == 1);
  CHECK(params.w_scale_stride == 1);
  CHECK(params.bias == dummy);
  CHECK(params.y_zero == nullptr);
  // The pointwise kernel: only for 1x1 stride-1 unpadded problems whose plane fits its copies.
  QConvSpec pw = s;
  pw.vec_x = 16;
  const std::vector<int64_t> w1 = {128, 64, 1, 1}, no_pads = {0, 0, 0, 0}, end_pads = {0, 0, 1, 1};
  CHECK(can_implement(pw, conv_problem(x, w1, none, no_pads, none, 1)));  // 28 x 28 = 784 = 49 x 16
  const std::vector<int64_t> x14 = {8, 64, 14, 14};
  for (const auto& [what, problem] : std::vector<std::pair<const char*, ConvProblem>>{
           {"3x3", p},
           {"stride 2", conv_problem(x, w1, strides, no_pads, none, 1)},
           {"padding at the far ends", conv_problem(x, w1, none, end_pads, none, 1)},
           {"a 14 x 14 plane (196 bytes) with 16-byte copies", conv_problem(x14, w1, none, no_pads, none, 1)}}) {
    INFO(what);
    auto refused = can_implement(pw, problem);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().id == qconv_errc::kNotImplementable);
  }
  QConvBuffers x_misaligned = buf;
  x_misaligned.x = dummy + 4;
  auto x_align = can_implement(pw, conv_problem(x, w1, none, no_pads, none, 1), x_misaligned, 128);
  REQUIRE_FALSE(x_align);
  CHECK(x_align.error().id == qconv_errc::kBadBuffer);
  // Empty batch: nothing to launch.
  const std::vector<int64_t> x0 = {0, 64, 28, 28};
  CHECK(launch_config(s, conv_problem(x0, w, strides, pads, none, 1)).grid.x == 0);
}

TEST_CASE("plan_qconv: tiles per shape and target, and what stays unfused") {
  // ResNet-like 3x3 conv: 64 -> 64 channels at 56x56.
  const ir::Graph g = conv_layer(64, 64, 3, 56);
  auto s80 = plan_qconv(g, group_of(g), QConvPlanOptions{80, 108});
  REQUIRE(s80);
  CHECK(s80->x == I8);
  CHECK(s80->mid == F16);
  CHECK(s80->output == I8);
  CHECK(s80->quantize);
  CHECK(s80->bias);
  CHECK(s80->per_channel);
  CHECK(s80->activation == GemmActivation::kRelu);
  CHECK(s80->vec_w == 16);
  CHECK(s80->tile.bm == 64);
  CHECK(s80->tile.bn == 128);
  CHECK(s80->shared_bytes() <= max_shared_bytes(80));
  // sm_86: less shared memory, still a plan.
  const ir::Graph g2 = conv_layer(256, 512, 3, 7, 1, false);
  auto s86 = plan_qconv(g2, group_of(g2), QConvPlanOptions{86, 84});
  REQUIRE(s86);
  CHECK(s86->tile.bn == 64);  // 7 x 7 = 49 positions
  CHECK(s86->output == F16);
  CHECK(s86->shared_bytes() <= max_shared_bytes(86));
  CHECK(s80->vec_x == 0);  // 3x3: the gather
  // 1x1 with K = 8 * 1: 8-byte copies; grouped 3x3 with K = 4 * 9 = 36: 4-byte copies.
  const ir::Graph g3 = conv_layer(8, 32, 1, 9);
  auto s3 = plan_qconv(g3, group_of(g3));
  REQUIRE(s3);
  CHECK(s3->vec_w == 8);
  CHECK(s3->vec_x == 0);  // a 9 x 9 plane: no whole 4-byte copies, the gather
  // Pointwise planes: 56 x 56 = 3136 (16-byte x copies), 14 x 14 = 196 (4-byte).
  const ir::Graph g56 = conv_layer(64, 256, 1, 56);
  auto s56 = plan_qconv(g56, group_of(g56));
  REQUIRE(s56);
  CHECK(s56->vec_x == 16);
  const ir::Graph g14 = conv_layer(256, 1024, 1, 14);
  auto s14 = plan_qconv(g14, group_of(g14));
  REQUIRE(s14);
  CHECK(s14->vec_x == 4);
  const ir::Graph g4 = conv_layer(8, 16, 3, 9, 2);
  auto s4 = plan_qconv(g4, group_of(g4));
  REQUIRE(s4);
  CHECK(s4->vec_w == 4);
  // K = 3 * 9 = 27 (an RGB stem): no plan, the group runs as DQ + float Conv.
  const ir::Graph g5 = conv_layer(3, 16, 3, 32);
  CHECK_FALSE(plan_qconv(g5, group_of(g5)));
  // Depthwise 3x3 (K = 9): likewise.
  const ir::Graph g6 = conv_layer(16, 16, 3, 8, 16);
  CHECK_FALSE(plan_qconv(g6, group_of(g6)));
  // Before sm_80: nothing.
  CHECK_FALSE(plan_qconv(g, group_of(g), QConvPlanOptions{75, 40}));
}
