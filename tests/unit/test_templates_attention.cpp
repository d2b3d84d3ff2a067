// SPDX-License-Identifier: Apache-2.0
// Attention family without a GPU: every kernel the planner can produce compiles with NVRTC for
// every default target (cubins are ELF for EM_CUDA, PTX has entries, lowered names are in the
// images); and the host side: name expressions, spec validation, JSON, planning from IR nodes,
// problems (strides of the 3-D and 4-D layouts, mask broadcasting, default scale),
// can_implement, launch configuration and kernel parameters, checked against hand-computed values.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.hpp"
#include "jit/cache.hpp"
#include "jit/compiler.hpp"
#include "jit/kernels/attention.hpp"

namespace {

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;
using ir::TensorInfo;

bool contains(const std::vector<uint8_t>& bytes, std::string_view needle) {
  return std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end()) != bytes.end();
}

/// An Attention node over inputs 0..n-1 (kNoValue where `present` is false) with `outputs`
/// outputs (only the first wanted unless `all_outputs`).
ir::Node attention_node(std::vector<bool> present,
                        std::map<std::string, ir::AttrValue, std::less<>> attrs = {},
                        int outputs = 1, bool all_outputs = false) {
  ir::Node n;
  n.op = ir::OpKind::kAttention;
  n.name = "attn";
  n.attrs = std::move(attrs);
  for (size_t i = 0; i < present.size(); ++i)
    n.inputs.push_back(present[i] ? static_cast<ir::ValueId>(i) : ir::kNoValue);
  for (int i = 0; i < outputs; ++i)
    n.outputs.push_back(i == 0 || all_outputs ? static_cast<ir::ValueId>(100 + i) : ir::kNoValue);
  return n;
}

TensorInfo info(DataType t, std::vector<int64_t> shape) {
  return TensorInfo{t, std::move(shape), true};
}
TensorInfo absent() {
  return TensorInfo{DataType::kF32, {}, false};
}

constexpr DataType kF16 = DataType::kF16;
constexpr DataType kBF16 = DataType::kBF16;

}  // namespace

TEST_CASE("every plannable attention kernel compiles for every default target") {
  const std::vector<AttentionSpec> specs = plannable_attention_specs();
  REQUIRE(specs.size() == 7);  // {f16, bf16} x {flash 64, flash 128, generic}, f32 generic; masks: run time
  for (const AttentionSpec& s : specs) CHECK_MESSAGE(s.validate(), s.describe());
  const Program program = attention_program(specs);
  const std::vector<Target> targets = default_targets();
  KernelCache cache{std::filesystem::path{}};
  CompileOptions options;
  options.cache = &cache;
  const auto t0 = std::chrono::steady_clock::now();
  auto images = compile(program, targets, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE_MESSAGE(images, (images ? std::string() : images.error().to_string()));
  double nvrtc_seconds = 0;
  for (const CompiledImage& img : *images) nvrtc_seconds += img.seconds;
  MESSAGE(specs.size() << " attention kernels x " << targets.size() << " targets: " << seconds
                       << " s wall, " << nvrtc_seconds << " s NVRTC summed over targets");
  REQUIRE(images->size() == targets.size());
  for (const CompiledImage& img : *images) {
    INFO("target " << img.target.to_string());
    CHECK_MESSAGE(img.log.empty(), img.log);  // no NVRTC warnings either
    REQUIRE(img.image.size() > 64);
    if (img.target.ptx) {
      const std::string ptx(img.image.begin(), img.image.end());
      CHECK(ptx.find(".target sm_80") != std::string::npos);
      CHECK(ptx.find(".entry") != std::string::npos);
      CHECK(ptx.find("mma.sync.aligned.m16n8k16") != std::string::npos);
      CHECK(ptx.find("ldmatrix") != std::string::npos);
    } else {
      CHECK(img.image[0] == 0x7f);
      CHECK(img.image[1] == 'E');
      CHECK(img.image[2] == 'L');
      CHECK(img.image[3] == 'F');
      CHECK((img.image[18] | img.image[19] << 8) == 190);  // EM_CUDA
    }
    for (const AttentionSpec& s : specs) {
      const std::string* lowered = img.lowered_name(s.name_expression());
      REQUIRE_MESSAGE(lowered != nullptr, s.name_expression());
      CHECK_MESSAGE(contains(img.image, *lowered), *lowered);
    }
  }
  // Distinct specs are distinct kernels.
  const CompiledImage& first = (*images)[0];
  std::vector<std::string> names;
  for (const AttentionSpec& s : specs) names.push_back(*first.lowered_name(s.name_expression()));
  std::sort(names.begin(), names.end());
  CHECK(std::unique(names.begin(), names.end()) == names.end());
}

TEST_CASE("attention specs: name expressions, describe, validation") {
  AttentionSpec flash{AttentionAlgorithm::kFlash, kF16, 128, {64, 64, 4}};
  CHECK(flash.name_expression() ==
        "rtx::kernels::attention::flash_attention<__half, 128, 64, 64, 4>");
  CHECK(flash.describe() == "flash f16 d128 64x64 w4");
  CHECK(flash.threads() == 128);
  CHECK(flash.validate());
  AttentionSpec generic{AttentionAlgorithm::kGeneric, kBF16, 0, {}};
  CHECK(generic.name_expression() == "rtx::kernels::attention::attention_generic<__nv_bfloat16>");
  CHECK(generic.describe() == "generic bf16");
  CHECK(generic.threads() == 128);
  CHECK(generic.validate());
  CHECK(generic.source() == "#include \"attention/attention.cuh\"\n");
  const Program one = flash.program();
  CHECK(one.name_expressions == std::vector<std::string>{flash.name_expression()});

  const auto invalid = [](AttentionSpec s) {
    auto r = s.validate();
    REQUIRE_FALSE(r);
    CHECK(r.error().id == "rtx.jit.701");
  };
  AttentionSpec s = flash;
  s.dtype = DataType::kF32;
  invalid(s);
  s = flash;
  s.head_dim = 96;  // padded to 128 by the planner, never a static size
  invalid(s);
  s = flash;
  s.tile = {48, 64, 4};  // 12 rows per warp
  invalid(s);
  s = flash;
  s.tile = {256, 64, 4};  // 64 rows per warp
  invalid(s);
  s = flash;
  s.tile = {64, 40, 4};
  invalid(s);
  s = flash;
  s.tile = {64, 64, 3};
  invalid(s);
  s = generic;
  s.head_dim = 64;
  invalid(s);
  // Tile variants the benchmark tries are valid.
  for (AttentionTile t : {AttentionTile{128, 32, 4}, AttentionTile{128, 64, 8},
                          AttentionTile{64, 32, 4}, AttentionTile{128, 128, 8}}) {
    s = flash;
    s.tile = t;
    CHECK_MESSAGE(s.validate(), s.describe());
  }
}

TEST_CASE("attention specs round-trip through JSON; bad JSON is rtx.jit.701") {
  for (const AttentionSpec& s : plannable_attention_specs()) {
    nlohmann::json j = s;
    const AttentionSpec back = j.get<AttentionSpec>();
    CHECK(back == s);
  }
  const AttentionSpec flash{AttentionAlgorithm::kFlash, kBF16, 64, {128, 64, 4}};
  const nlohmann::json j = flash;
  CHECK(j.dump() == R"({"algorithm":"flash","dtype":"bf16","head_dim":64,)"
                    R"("tile":{"block_m":128,"block_n":64,"warps":4}})");
  const auto bad = [&](const char* key, nlohmann::json value) {
    nlohmann::json b = j;
    b[key] = std::move(value);
    AttentionSpec out;
    try {
      from_json(b, out);
      FAIL("accepted " << b.dump());
    } catch (const Exception& e) {
      CHECK(e.error().id == "rtx.jit.701");
    }
  };
  bad("algorithm", "wgmma");
  bad("dtype", "f32");
  bad("dtype", "nonsense");
  bad("head_dim", 80);
  bad("head_dim", "64");
  bad("tile", nlohmann::json::object());
}

TEST_CASE("plan_attention maps IR Attention nodes to flash or generic specs") {
  const auto node4 = attention_node({true, true, true});
  // 4-D f16, D = 64: flash with the static head size 64.
  std::vector<TensorInfo> in = {info(kF16, {2, 8, 128, 64}), info(kF16, {2, 8, 128, 64}),
                                info(kF16, {2, 8, 128, 64})};
  auto s = plan_attention(node4, in);
  REQUIRE(s);
  CHECK(*s == AttentionSpec{AttentionAlgorithm::kFlash, kF16, 64, default_attention_tile(64)});
  CHECK(default_attention_tile(64) == AttentionTile{128, 64, 8});
  CHECK(default_attention_tile(128) == AttentionTile{64, 64, 4});
  // Dynamic batch and sequence lengths do not matter; GQA neither.
  in = {info(kBF16, {ir::kDynamic, 8, ir::kDynamic, 128}),
        info(kBF16, {ir::kDynamic, 2, ir::kDynamic, 128}),
        info(kBF16, {ir::kDynamic, 2, ir::kDynamic, 128})};
  s = plan_attention(node4, in);
  REQUIRE(s);
  CHECK(s->algorithm == AttentionAlgorithm::kFlash);
  CHECK(s->dtype == kBF16);
  CHECK(s->head_dim == 128);
  // Head sizes 96 and 40 run padded in the 128 and 64 kernels; V may be smaller than Q/K.
  in = {info(kF16, {1, 4, 7, 96}), info(kF16, {1, 4, 7, 96}), info(kF16, {1, 4, 7, 32})};
  s = plan_attention(node4, in);
  REQUIRE(s);
  CHECK(s->algorithm == AttentionAlgorithm::kFlash);
  CHECK(s->head_dim == 128);
  in = {info(kF16, {1, 4, 7, 40}), info(kF16, {1, 4, 7, 40}), info(kF16, {1, 4, 7, 40})};
  CHECK(plan_attention(node4, in)->head_dim == 64);
  // Head sizes that are not multiples of 8, above 128, or dynamic: generic.
  for (int64_t d : {int64_t{12}, int64_t{160}, ir::kDynamic}) {
    in = {info(kF16, {1, 4, 7, d}), info(kF16, {1, 4, 7, d}), info(kF16, {1, 4, 7, d})};
    s = plan_attention(node4, in);
    REQUIRE(s);
    CHECK(*s == AttentionSpec{AttentionAlgorithm::kGeneric, kF16, 0, {}});
  }
  // Head sizes beyond the generic kernel's shared memory: not covered.
  in = {info(kF16, {1, 1, 7, 8192}), info(kF16, {1, 1, 7, 8192}), info(kF16, {1, 1, 7, 8192})};
  CHECK_FALSE(plan_attention(node4, in));

  // 3-D: head sizes from the hidden sizes and head-count attributes.
  const auto node3 = attention_node({true, true, true},
                                    {{"q_num_heads", int64_t{16}}, {"kv_num_heads", int64_t{4}}});
  in = {info(kF16, {2, 10, 16 * 128}), info(kF16, {2, 12, 4 * 128}), info(kF16, {2, 12, 4 * 64})};
  s = plan_attention(node3, in);
  REQUIRE(s);
  CHECK(s->head_dim == 128);
  CHECK(s->algorithm == AttentionAlgorithm::kFlash);
  const auto node3_no_heads = attention_node({true, true, true});
  CHECK_FALSE(plan_attention(node3_no_heads, in));

  // Masks: bool and additive (Q's dtype) share the kernels (the mask kind is a run-time choice).
  const auto masked = attention_node({true, true, true, true});
  in = {info(kF16, {2, 8, 16, 64}), info(kF16, {2, 8, 16, 64}), info(kF16, {2, 8, 16, 64}),
        info(DataType::kBOOL, {16, 16})};
  const AttentionSpec plain = plan_attention(node4, std::span(in).first(3)).value();
  CHECK(plan_attention(masked, in) == plain);
  in[3] = info(kF16, {2, 1, 16, 16});
  CHECK(plan_attention(masked, in) == plain);
  in[3] = info(DataType::kF32, {16, 16});
  CHECK_FALSE(plan_attention(masked, in));
  in[3] = info(DataType::kBOOL, {1, 2, 8, 16, 16});  // rank 5
  CHECK_FALSE(plan_attention(masked, in));
  // An omitted mask (kNoValue) is no mask.
  const auto unmasked = attention_node({true, true, true, false});
  in[3] = absent();
  CHECK(plan_attention(unmasked, in) == plain);

  // f32 runs on the generic kernel (CUDA cores), whatever the head size.
  in = {info(DataType::kF32, {2, 8, 16, 64}), info(DataType::kF32, {2, 8, 16, 64}),
        info(DataType::kF32, {2, 8, 16, 64})};
  CHECK(plan_attention(node4, in) ==
        AttentionSpec{AttentionAlgorithm::kGeneric, DataType::kF32, 0, AttentionTile{}});
  // Not covered: other dtypes, mixed dtypes, past KV, extra outputs, old GPUs, other ops.
  in = {info(DataType::kF64, {2, 8, 16, 64}), info(DataType::kF64, {2, 8, 16, 64}),
        info(DataType::kF64, {2, 8, 16, 64})};
  CHECK_FALSE(plan_attention(node4, in));
  in = {info(kF16, {2, 8, 16, 64}), info(kF16, {2, 8, 16, 64}), info(kBF16, {2, 8, 16, 64})};
  CHECK_FALSE(plan_attention(node4, in));
  in = {info(kF16, {2, 8, 16, 64}), info(kF16, {2, 8, 16, 64}),
        info(kF16, {2, 8, 16, 64}), absent(),
        info(kF16, {2, 8, 5, 64}),  info(kF16, {2, 8, 5, 64})};
  CHECK_FALSE(plan_attention(attention_node({true, true, true, false, true, true}), in));
  in.resize(3);
  CHECK_FALSE(plan_attention(attention_node({true, true, true}, {}, 3, true), in));
  CHECK(plan_attention(attention_node({true, true, true}, {}, 4, false), in));  // unwanted
  CHECK_FALSE(plan_attention(node4, in, AttentionPlanOptions{75}));
  ir::Node matmul = node4;
  matmul.op = ir::OpKind::kMatMul;
  CHECK_FALSE(plan_attention(matmul, in));
}

TEST_CASE("attention_problem: strides of both layouts, mask broadcasting, scale") {
  // 4-D, GQA, bool mask (q_seq, total) broadcast over batch and heads.
  auto node = attention_node({true, true, true, true}, {{"is_causal", int64_t{1}}});
  std::vector<TensorInfo> in = {info(kF16, {2, 8, 5, 64}), info(kF16, {2, 2, 7, 64}),
                                info(kF16, {2, 2, 7, 32}), info(DataType::kBOOL, {5, 7})};
  auto p = attention_problem(node, in);
  REQUIRE_MESSAGE(p, (p ? "" : p.error().to_string()));
  CHECK(p->dtype == kF16);
  CHECK(p->batch == 2);
  CHECK(p->q_heads == 8);
  CHECK(p->kv_heads == 2);
  CHECK(p->q_seq == 5);
  CHECK(p->kv_seq == 7);
  CHECK(p->head_dim == 64);
  CHECK(p->v_head_dim == 32);
  CHECK(p->q_stride == std::array<int64_t, 3>{8 * 5 * 64, 5 * 64, 64});
  CHECK(p->k_stride == std::array<int64_t, 3>{2 * 7 * 64, 7 * 64, 64});
  CHECK(p->v_stride == std::array<int64_t, 3>{2 * 7 * 32, 7 * 32, 32});
  CHECK(p->y_stride == std::array<int64_t, 3>{8 * 5 * 32, 5 * 32, 32});
  CHECK(p->mask == AttentionMask::kBool);
  CHECK(p->mask_stride == std::array<int64_t, 4>{0, 0, 7, 1});
  CHECK(p->mask_len == 7);
  CHECK(p->causal);
  CHECK(p->causal_offset == 0);
  CHECK(p->scale == doctest::Approx(0.125));  // 1 / sqrt(64)
  CHECK(p->softcap == 0.0);
  CHECK(p->output_elements() == 2 * 8 * 5 * 32);

  // 3-D (B, S, H * D): heads D apart, rows H * D apart; a short additive mask (B, 1, 1, 4) of
  // a 6-key sequence: keys 4 and 5 are masked out.
  node = attention_node({true, true, true, true}, {{"q_num_heads", int64_t{4}},
                                                   {"kv_num_heads", int64_t{4}},
                                                   {"scale", 0.5},
                                                   {"softcap", 30.0}});
  in = {info(kBF16, {3, 5, 4 * 16}), info(kBF16, {3, 6, 4 * 16}), info(kBF16, {3, 6, 4 * 24}),
        info(kBF16, {3, 1, 1, 4})};
  p = attention_problem(node, in);
  REQUIRE(p);
  CHECK(p->head_dim == 16);
  CHECK(p->v_head_dim == 24);
  CHECK(p->q_stride == std::array<int64_t, 3>{5 * 64, 16, 64});
  CHECK(p->k_stride == std::array<int64_t, 3>{6 * 64, 16, 64});
  CHECK(p->v_stride == std::array<int64_t, 3>{6 * 96, 24, 96});
  CHECK(p->y_stride == std::array<int64_t, 3>{5 * 96, 24, 96});
  CHECK(p->mask == AttentionMask::kAdditive);
  CHECK(p->mask_stride == std::array<int64_t, 4>{4, 0, 0, 1});
  CHECK(p->mask_len == 4);
  CHECK_FALSE(p->causal);
  CHECK(p->scale == 0.5);
  CHECK(p->softcap == 30.0);

  // Dynamic dims and uncovered nodes are rtx.jit.702.
  in = {info(kF16, {ir::kDynamic, 8, 5, 64}), info(kF16, {2, 8, 7, 64}), info(kF16, {2, 8, 7, 64})};
  auto dyn = attention_problem(attention_node({true, true, true}), in);
  REQUIRE_FALSE(dyn);
  CHECK(dyn.error().id == "rtx.jit.702");
  in[0] = info(kF16, {2, 8, 5, 64});
  auto extra = attention_problem(attention_node({true, true, true}, {}, 2, true), in);
  REQUIRE_FALSE(extra);
  CHECK(extra.error().id == "rtx.jit.702");
  // A wrongly typed attribute is an error value, never an exception.
  auto bad_attr = attention_problem(
      attention_node({true, true, true}, {{"is_causal", std::string("yes")}}), in);
  REQUIRE_FALSE(bad_attr);
  CHECK_FALSE(
      plan_attention(attention_node({true, true, true, true}, {{"q_num_heads", std::string("x")}}),
                     std::vector<TensorInfo>{info(kF16, {1, 2, 64}), info(kF16, {1, 2, 64}),
                                             info(kF16, {1, 2, 64}), info(DataType::kBOOL, {2})}));
}

TEST_CASE("can_implement, launch_config and make_params") {
  const auto node = attention_node({true, true, true, true}, {{"is_causal", int64_t{1}}});
  std::vector<TensorInfo> in = {info(kF16, {2, 8, 100, 128}), info(kF16, {2, 4, 300, 128}),
                                info(kF16, {2, 4, 300, 128}), info(kF16, {2, 1, 100, 300})};
  const AttentionProblem p = attention_problem(node, in).value();
  const AttentionSpec flash = plan_attention(node, in).value();
  REQUIRE(flash == AttentionSpec{AttentionAlgorithm::kFlash, kF16, 128, {64, 64, 4}});
  CHECK(can_implement(flash, p));

  // Grid: 2 batches x 8 heads x ceil(100 / 64) query tiles; Q + K + V tiles of 128 halves.
  const LaunchConfig c = launch_config(flash, p);
  CHECK(c.grid.x == 2 * 8 * 2);
  CHECK(c.grid.y == 1);
  CHECK(c.block.x == 128);
  CHECK(c.shared_bytes == (64 + 2 * 64) * 128 * 2);
  CHECK(shared_bytes(flash, p) == 49152);

  alignas(16) static unsigned char buf[64];
  const AttentionBuffers b{buf, buf, buf, buf + 2, buf};
  const AttentionParams k = make_params(flash, p, b);
  CHECK(k.q == buf);
  CHECK(k.mask == buf + 2);
  CHECK(k.group == 2);
  CHECK(k.q_seq == 100);
  CHECK(k.kv_seq == 300);
  CHECK(k.head_dim == 128);
  CHECK(k.v_head_dim == 128);
  CHECK(k.k_stride[0] == 4 * 300 * 128);
  CHECK(k.k_stride[1] == 300 * 128);
  CHECK(k.k_stride[2] == 128);
  CHECK(k.mask_stride[0] == 100 * 300);
  CHECK(k.mask_stride[1] == 0);
  CHECK(k.mask_stride[2] == 300);
  CHECK(k.mask_stride[3] == 1);
  CHECK(k.mask_len == 300);
  CHECK(k.m_blocks == 2);
  CHECK(k.causal == 1);
  CHECK(k.mask_kind == 2);  // MaskKind::kAdditive
  CHECK(k.causal_offset == 0);
  CHECK(k.scale == doctest::Approx(1.0 / std::sqrt(128.0)));
  CHECK(k.scale_log2 == doctest::Approx(1.4426950408889634 / std::sqrt(128.0)));
  CHECK(k.softcap == 0.0f);
  CHECK(k.scale_over_softcap == 0.0f);
  AttentionProblem capped = p;
  capped.scale = 0.5;
  capped.softcap = 20.0;
  const AttentionParams kc = make_params(flash, capped, b);
  CHECK(kc.softcap == 20.0f);
  CHECK(kc.softcap_log2 == doctest::Approx(20.0 * 1.4426950408889634));
  CHECK(kc.scale_over_softcap == doctest::Approx(0.025));

  CHECK(can_implement(flash, p, b));
  // Misaligned or missing buffers: rtx.jit.703 for flash; the generic kernel needs 2 bytes.
  auto mis = can_implement(flash, p, AttentionBuffers{buf + 8, buf, buf, buf, buf});
  REQUIRE_FALSE(mis);
  CHECK(mis.error().id == "rtx.jit.703");
  auto no_mask = can_implement(flash, p, AttentionBuffers{buf, buf, buf, nullptr, buf});
  REQUIRE_FALSE(no_mask);
  CHECK(no_mask.error().id == "rtx.jit.703");
  const AttentionSpec generic{AttentionAlgorithm::kGeneric, kF16, 0, {}};
  CHECK(can_implement(generic, p, AttentionBuffers{buf + 8, buf + 2, buf, buf + 1, buf + 4}));
  CHECK_FALSE(can_implement(generic, p, AttentionBuffers{buf + 1, buf, buf, buf, buf}));
  const LaunchConfig g = launch_config(generic, p);
  CHECK(g.grid.x == 2 * 8 * 100);
  CHECK(g.block.x == 128);
  CHECK(g.shared_bytes == (128 + 128 + 32) * 4);
  CHECK(make_params(generic, p, b).m_blocks == 1);

  // Spec/problem mismatches are rtx.jit.702.
  const auto not_ok = [](const AttentionSpec& s, const AttentionProblem& q) {
    auto r = can_implement(s, q);
    REQUIRE_FALSE(r);
    CHECK(r.error().id == "rtx.jit.702");
  };
  AttentionProblem q = p;
  q.dtype = kBF16;
  not_ok(flash, q);
  q = p;
  q.mask = static_cast<AttentionMask>(5);
  not_ok(flash, q);
  q = p;
  q.head_dim = 136;  // more than the static 128
  not_ok(flash, q);
  CHECK(can_implement(generic, q));  // any head size that fits its shared memory
  q = p;
  q.head_dim = 120;  // padded: fine
  q.q_stride = {8 * 100 * 120, 100 * 120, 120};
  q.k_stride = {4 * 300 * 120, 300 * 120, 120};
  CHECK(can_implement(flash, q));
  q.q_stride[1] = 100 * 120 + 4;  // rows of Q no longer 16-byte aligned
  not_ok(flash, q);
  q = p;
  q.kv_heads = 3;  // 8 query heads do not split into 3 groups
  not_ok(flash, q);
  not_ok(generic, q);
  q = p;
  q.head_dim = 8000;
  q.v_head_dim = 8000;
  not_ok(generic, q);
  q = p;
  q.scale = INFINITY;
  not_ok(generic, q);

  // Empty outputs launch nothing and need no buffers.
  q = p;
  q.q_seq = 0;
  CHECK(launch_config(flash, q).grid.x == 0);
  CHECK(can_implement(flash, q, AttentionBuffers{}));
  q = p;
  q.kv_seq = 0;  // rows see no keys: output zeros, K and V never read
  CHECK(launch_config(flash, q).grid.x == 32);
  CHECK(can_implement(flash, q, AttentionBuffers{buf, nullptr, nullptr, nullptr, buf}));
}
