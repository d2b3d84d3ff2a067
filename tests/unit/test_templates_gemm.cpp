// SPDX-License-Identifier: Apache-2.0
// GEMM family without a GPU: every kind of kernel the planner produces compiled by NVRTC for
// every default target (cubins are CUDA ELF, PTX holds the entries and the mma/ldmatrix/cp.async
// instructions, lowered names are in the images), the wgmma kernel for sm_90a, and the host side:
// fast division, MatMul/Gemm problems (broadcast, folding, 1-D operands), copy-vector choice,
// can_implement, launch configuration, parameter blocks, JSON round trips and the planner.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "jit/cache.hpp"
#include "jit/compiler.hpp"
#include "jit/kernels/gemm.hpp"

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;
namespace dev = rtx::kernels::gemm;

namespace {

bool contains(const std::vector<uint8_t>& image, const std::string& s) {
  return std::search(image.begin(), image.end(), s.begin(), s.end()) != image.end();
}

void check_images(const std::vector<CompiledImage>& images, std::span<const GemmSpec> specs,
                  const char* mma_instruction) {
  for (const CompiledImage& img : images) {
    INFO("target " << img.target.to_string());
    REQUIRE(img.image.size() > 64);
    if (img.target.ptx) {
      const std::string ptx(img.image.begin(), img.image.end());
      CHECK(ptx.find(".entry") != std::string::npos);
      CHECK(ptx.find(mma_instruction) != std::string::npos);
      CHECK(ptx.find("cp.async") != std::string::npos);
    } else {
      CHECK(img.image[0] == 0x7f);
      CHECK(img.image[1] == 'E');
      CHECK(img.image[2] == 'L');
      CHECK(img.image[3] == 'F');
      CHECK((img.image[18] | img.image[19] << 8) == 190);  // EM_CUDA
    }
    for (const GemmSpec& s : specs) {
      const std::string* lowered = img.lowered_name(s.name_expression());
      REQUIRE_MESSAGE(lowered != nullptr, s.name_expression());
      CHECK_MESSAGE(contains(img.image, *lowered), *lowered);
    }
  }
}

GemmSpec spec_of(DataType in, DataType out, bool ak, bool bk, int va, int vb, GemmTile tile,
                 GemmEpilogue epi) {
  GemmSpec s;
  s.input = in;
  s.output = out;
  s.a_k_major = ak;
  s.b_k_major = bk;
  s.vec_a = va;
  s.vec_b = vb;
  s.tile = tile;
  s.epilogue = epi;
  return s;
}

/// The kinds of mma.sync kernel the planner produces, split so the unit suite stays fast on two
/// cores: the first two are compiled for every default target (every template, both MMA shapes,
/// ldmatrix with and without .trans, 32-bit fragment loads, 16-byte and 4-byte copies, every
/// epilogue operand); the rest (bf16, the K-major B path, the other tiles) for sm_80 only, since
/// an instantiation that compiles for one target compiles for all.
std::vector<GemmSpec> all_target_specs() {
  using A = GemmActivation;
  using B = GemmBiasMode;
  return {
      spec_of(DataType::kF16, DataType::kF16, true, false, 8, 8, {256, 128, 64, 3, 4, 2},
              {A::kRelu, B::kPerColumn, false, true}),
      spec_of(DataType::kF32, DataType::kF32, false, false, 1, 2, {64, 128, 32, 3, 2, 4},
              {A::kGelu, B::kNone, true, false}),
  };
}
std::vector<GemmSpec> sm80_specs() {
  using A = GemmActivation;
  using B = GemmBiasMode;
  return {
      spec_of(DataType::kBF16, DataType::kF32, true, true, 8, 8, {64, 128, 64, 4, 2, 4},
              {A::kSilu, B::kPerRow, true, false}),
      spec_of(DataType::kF16, DataType::kBF16, true, false, 8, 8, {128, 128, 64, 3, 2, 4},
              {A::kNone, B::kNone, false, false}),
      spec_of(DataType::kF16, DataType::kF16, true, false, 1, 4, {64, 128, 64, 4, 2, 4},
              {A::kGeluTanh, B::kNone, false, false}),
      spec_of(DataType::kF16, DataType::kF16, false, true, 8, 8, {128, 256, 64, 3, 2, 4},
              {A::kSigmoid, B::kPerColumn, false, false}),
  };
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("mma.sync GEMM kernels compile for every default target") {
  const auto specs = all_target_specs();
  for (const auto& s : specs) CHECK_MESSAGE(s.validate(), s.describe());
  const auto targets = default_targets();
  KernelCache cache{std::filesystem::path{}};
  CompileOptions options;
  options.cache = &cache;
  const auto t0 = std::chrono::steady_clock::now();
  auto images = compile(gemm_program(specs), targets, options);
  REQUIRE_MESSAGE(images, (images ? std::string() : images.error().to_string()));
  MESSAGE(specs.size() << " GEMM kernels x " << targets.size() << " targets: " << seconds_since(t0)
                       << " s");
  REQUIRE(images->size() == targets.size());
  check_images(*images, specs, "mma.sync.aligned.m16n8k");
  const std::string ptx(images->back().image.begin(), images->back().image.end());
  CHECK(ptx.find("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32") != std::string::npos);
  CHECK(ptx.find("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32") != std::string::npos);
  CHECK(ptx.find("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16") != std::string::npos);
  CHECK(ptx.find("cvt.rna.tf32.f32") != std::string::npos);
  CHECK(ptx.find("cp.async.cg.shared.global") != std::string::npos);
}

TEST_CASE("the other mma.sync GEMM variants compile (sm_80)") {
  const auto specs = sm80_specs();
  for (const auto& s : specs) CHECK_MESSAGE(s.validate(), s.describe());
  const Target targets[] = {{80, false, false}, {80, false, true}};
  KernelCache cache{std::filesystem::path{}};
  CompileOptions options;
  options.cache = &cache;
  const auto t0 = std::chrono::steady_clock::now();
  auto images = compile(gemm_program(specs), targets, options);
  REQUIRE_MESSAGE(images, (images ? std::string() : images.error().to_string()));
  MESSAGE(specs.size() << " GEMM kernels for sm_80: " << seconds_since(t0) << " s");
  check_images(*images, specs, "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32");
}

TEST_CASE("the planner's kernel for each default target fits that target and was compiled") {
  // Square f16 MatMul as a Linear layer sees it: each target gets the tile that fits its shared
  // memory; those specs are among the ones compiled above (sm_90a's wgmma spec: its own test).
  const GemmProblem p =
      matmul_problem(std::vector<int64_t>{4096, 4096}, std::vector<int64_t>{4096, 4096});
  std::vector<GemmSpec> compiled = all_target_specs();
  for (const auto& s : sm80_specs()) compiled.push_back(s);
  for (const Target& t : default_targets()) {
    GemmPlanOptions po;
    po.sm = t.sm;
    const GemmSpec s = choose_gemm_spec(DataType::kF16, p, po);
    INFO(t.to_string() << ": " << s.describe());
    CHECK(s.algorithm == GemmAlgorithm::kMmaSync);
    CHECK(s.shared_bytes() <= max_shared_bytes(t.sm));
    CHECK(can_implement(s, p));
    const bool same_kernel = std::any_of(compiled.begin(), compiled.end(), [&](GemmSpec c) {
      c.epilogue = s.epilogue;
      c.output = s.output;
      return c == s;
    });
    CHECK(same_kernel);
  }
}

TEST_CASE("the wgmma + TMA kernel compiles for sm_90a") {
  GemmPlanOptions po;
  po.sm = 90;
  po.arch_specific = true;
  const GemmProblem p =
      matmul_problem(std::vector<int64_t>{4096, 4096}, std::vector<int64_t>{4096, 4096});
  GemmSpec s = choose_gemm_spec(DataType::kF16, p, po);
  REQUIRE(s.algorithm == GemmAlgorithm::kWgmma);
  CHECK(s.tile == GemmTile{128, 256, 64, 4, 1, 1});
  GemmSpec t = s;  // the other operand layouts and the narrow tile, bf16, f32 output
  t.input = DataType::kBF16;
  t.output = DataType::kF32;
  t.a_k_major = false;
  t.b_k_major = true;
  t.tile = GemmTile{128, 128, 64, 6, 1, 1};
  t.epilogue = {GemmActivation::kGeluTanh, GemmBiasMode::kPerColumn, true, true};
  GemmSpec u = s;  // the narrow tile small problems get
  u.tile = GemmTile{128, 64, 64, 8, 1, 1};
  const GemmSpec specs[] = {s, t, u};
  const GemmProblem small =
      matmul_problem(std::vector<int64_t>{1024, 1024}, std::vector<int64_t>{1024, 1024});
  CHECK(choose_gemm_spec(DataType::kF16, small, po).tile == u.tile);
  for (const auto& x : specs) CHECK_MESSAGE(x.validate(), x.describe());
  CHECK(s.supports(Target{90, true, false}));
  CHECK_FALSE(s.supports(Target{90, false, false}));
  CHECK_FALSE(s.supports(Target{100, true, false}));
  const Target sm90a{90, true, false};
  KernelCache cache{std::filesystem::path{}};
  CompileOptions options;
  options.cache = &cache;
  const auto t0 = std::chrono::steady_clock::now();
  auto images = compile(gemm_program(specs), std::span<const Target>(&sm90a, 1), options);
  REQUIRE_MESSAGE(images, (images ? std::string() : images.error().to_string()));
  MESSAGE("wgmma kernels for sm_90a: " << seconds_since(t0) << " s");
  check_images(*images, specs, "");
}

TEST_CASE("FastDivmod divides exactly below 2^31") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> any(0, 0x7fffffffu);
  std::vector<uint32_t> divisors;
  for (uint32_t d = 1; d <= 1100; ++d) divisors.push_back(d);
  for (uint32_t d :
       {4095u, 4096u, 4097u, 65535u, 65536u, 65537u, 1000003u, 0x40000000u, 0x7fffffffu})
    divisors.push_back(d);
  for (uint32_t d : divisors) {
    const auto f = dev::FastDivmod::make(d);
    for (uint32_t n : {0u, 1u, d - 1, d, d + 1, 2 * d - 1, 0x7ffffffeu, 0x7fffffffu}) {
      if (n > 0x7fffffffu) continue;
      uint32_t r = 0;
      const uint32_t q = f.divmod(n, r);
      REQUIRE_MESSAGE(q == n / d, "n=" << n << " d=" << d);
      REQUIRE(r == n % d);
    }
    for (int i = 0; i < 200; ++i) {
      const uint32_t n = any(rng);
      REQUIRE_MESSAGE(f.div(n) == n / d, "n=" << n << " d=" << d);
    }
  }
}

TEST_CASE("matmul_problem: plain, broadcast batches, folding, 1-D operands") {
  SUBCASE("2-D") {
    const auto p = matmul_problem(std::vector<int64_t>{7, 13}, std::vector<int64_t>{13, 5});
    CHECK(p.m == 7);
    CHECK(p.k == 13);
    CHECK(p.n == 5);
    CHECK(p.lda == 13);
    CHECK(p.ldb == 5);
    CHECK(p.ldd == 5);
    CHECK(p.a_k_major);
    CHECK_FALSE(p.b_k_major);
    CHECK(p.batch.empty());
  }
  SUBCASE("B shared by every batch: folded into one tall GEMM") {
    const auto p = matmul_problem(std::vector<int64_t>{4, 3, 8, 16}, std::vector<int64_t>{16, 32});
    CHECK(p.m == 96);
    CHECK(p.batch.empty());
  }
  SUBCASE("both batched, broadcast dims get stride 0") {
    const auto p =
        matmul_problem(std::vector<int64_t>{2, 1, 8, 16}, std::vector<int64_t>{3, 16, 32});
    REQUIRE(p.batch == std::vector<int64_t>{2, 3});
    CHECK(p.a_batch == std::vector<int64_t>{128, 0});
    CHECK(p.b_batch == std::vector<int64_t>{0, 512});
    CHECK(p.d_batch == std::vector<int64_t>{768, 256});
    CHECK(p.residual.batch == p.d_batch);
    CHECK(p.batch_count() == 6);
  }
  SUBCASE("contiguous batch dims merge") {
    const auto p =
        matmul_problem(std::vector<int64_t>{2, 3, 8, 16}, std::vector<int64_t>{2, 3, 16, 32});
    REQUIRE(p.batch == std::vector<int64_t>{6});
    CHECK(p.a_batch == std::vector<int64_t>{128});
    CHECK(p.b_batch == std::vector<int64_t>{512});
    CHECK(p.d_batch == std::vector<int64_t>{256});
  }
  SUBCASE("A broadcast against batched B stays batched") {
    const auto p = matmul_problem(std::vector<int64_t>{8, 16}, std::vector<int64_t>{5, 16, 32});
    REQUIRE(p.batch == std::vector<int64_t>{5});
    CHECK(p.a_batch == std::vector<int64_t>{0});
    CHECK(p.m == 8);
  }
  SUBCASE("1-D B is one K-major row, 1-D A one row") {
    const auto p = matmul_problem(std::vector<int64_t>{3, 10}, std::vector<int64_t>{10});
    CHECK(p.n == 1);
    CHECK(p.b_k_major);
    CHECK(p.ldb == 10);
    const auto q = matmul_problem(std::vector<int64_t>{10}, std::vector<int64_t>{10, 6});
    CHECK(q.m == 1);
    CHECK(q.n == 6);
  }
  SUBCASE("errors") {
    CHECK_THROWS_AS(matmul_problem(std::vector<int64_t>{3, 4}, std::vector<int64_t>{5, 6}),
                    Exception);
    CHECK_THROWS_AS(matmul_problem(std::vector<int64_t>{2, 3, 4}, std::vector<int64_t>{3, 4, 6}),
                    Exception);
  }
}

TEST_CASE("gemm_problem: transposes and C broadcasting") {
  const auto p = gemm_problem(std::vector<int64_t>{20, 10}, std::vector<int64_t>{30, 20}, true,
                              true, true, std::vector<int64_t>{30}, 2.0f, 0.5f);
  CHECK(p.m == 10);
  CHECK(p.k == 20);
  CHECK(p.n == 30);
  CHECK_FALSE(p.a_k_major);
  CHECK(p.b_k_major);
  CHECK(p.lda == 10);
  CHECK(p.ldb == 20);
  CHECK(p.c.row == 0);
  CHECK(p.c.col == 1);
  CHECK(p.alpha == 2.0f);
  CHECK(p.beta == 0.5f);
  const auto q = gemm_problem(std::vector<int64_t>{10, 20}, std::vector<int64_t>{20, 30}, false,
                              false, true, std::vector<int64_t>{10, 1}, 1.0f, 1.0f);
  CHECK(q.c.row == 1);
  CHECK(q.c.col == 0);
  const auto r = gemm_problem(std::vector<int64_t>{10, 20}, std::vector<int64_t>{20, 30}, false,
                              false, true, std::vector<int64_t>{}, 1.0f, 1.0f);
  CHECK(r.c.row == 0);
  CHECK(r.c.col == 0);
  CHECK_THROWS_AS(gemm_problem(std::vector<int64_t>{10, 20}, std::vector<int64_t>{20, 30}, false,
                               false, true, std::vector<int64_t>{7}, 1.0f, 1.0f),
                  Exception);
}

TEST_CASE("copy vectors follow strides") {
  CHECK(choose_vector(DataType::kF16, 1000, {}) == 8);
  CHECK(choose_vector(DataType::kF16, 1004, {}) == 4);
  CHECK(choose_vector(DataType::kF16, 7, {}) == 1);
  CHECK(choose_vector(DataType::kF16, 64, std::vector<int64_t>{6}) == 2);
  CHECK(choose_vector(DataType::kF32, 6, {}) == 2);
  CHECK(choose_vector(DataType::kF32, 12, {}) == 4);
  CHECK(choose_vector(DataType::kBF16, 0, {}) == 8);  // 0: the stride never matters
}

TEST_CASE("spec names, validation and JSON") {
  GemmSpec s;
  s.tile = {128, 256, 64, 3, 2, 4};
  CHECK(s.name_expression() ==
        "rtx::kernels::gemm::gemm_mma<__half, __half, rtx::kernels::gemm::TileShape<128, 256, 64, "
        "3, 2, 4>, true, false, 8, 8, rtx::kernels::gemm::Epilogue<(rtx::kernels::gemm::"
        "Activation)7, (rtx::kernels::gemm::BiasMode)0, false, false>>");
  CHECK(GemmSpec{}.tile == s.tile);  // the default tile
  // No activation and ReLU compile to one kernel (Activation::kFloor); the floor is a parameter.
  GemmSpec relu = s;
  relu.epilogue.activation = GemmActivation::kRelu;
  CHECK(relu.name_expression() == s.name_expression());
  CHECK(activation_floor(GemmActivation::kRelu) == 0.0f);
  CHECK(activation_floor(GemmActivation::kNone) == -std::numeric_limits<float>::infinity());
  GemmSpec gelu = s;
  gelu.epilogue.activation = GemmActivation::kGelu;
  CHECK(gelu.name_expression().find("Activation)2") != std::string::npos);
  CHECK(s.validate());
  CHECK(s.threads() == 256);
  CHECK(s.shared_bytes() == 3 * (128 + 256) * 64 * 2);
  CHECK(s.describe() == "mma_sync f16->f16 128x256x64 s3 w2x4 KN v8/8 none");

  GemmSpec bad = s;
  bad.tile.bk = 32;  // 64-byte rows: the swizzle needs 128
  CHECK(bad.validate().error().id == "rtx.jit.401");
  bad = s;
  bad.vec_a = 3;
  CHECK_FALSE(bad.validate());
  bad = s;
  bad.input = DataType::kINT8;
  CHECK_FALSE(bad.validate());
  bad = s;
  bad.algorithm = GemmAlgorithm::kWgmma;
  bad.input = DataType::kF32;
  CHECK_FALSE(bad.validate());

  GemmSpec w = s;
  w.algorithm = GemmAlgorithm::kWgmma;
  w.input = DataType::kBF16;
  w.output = DataType::kF32;
  w.tile = {128, 256, 64, 4, 1, 1};
  w.epilogue = {GemmActivation::kSilu, GemmBiasMode::kPerRow, true, true};
  CHECK(w.validate());
  CHECK(w.threads() == 384);
  CHECK(w.name_expression() ==
        "rtx::kernels::gemm::gemm_wgmma<__nv_bfloat16, float, 256, 4, true, false, "
        "rtx::kernels::gemm::Epilogue<(rtx::kernels::gemm::Activation)4, "
        "(rtx::kernels::gemm::BiasMode)2, true, true>>");
  for (const GemmSpec& x : {s, w}) {
    nlohmann::json j = x;
    const GemmSpec back = j.get<GemmSpec>();
    CHECK(back == x);
  }
  nlohmann::json j = s;
  j["algorithm"] = "magic";
  CHECK_THROWS_AS(j.get<GemmSpec>(), Exception);
  j = s;
  j["epilogue"]["activation"] = "swish";
  CHECK_THROWS_AS(j.get<GemmSpec>(), Exception);
}

TEST_CASE("can_implement, launch_config and make_params") {
  GemmPlanOptions po;
  po.sm = 80;
  const auto p = matmul_problem(std::vector<int64_t>{300, 1000}, std::vector<int64_t>{1000, 520});
  const GemmSpec s = choose_gemm_spec(DataType::kF16, p, po);
  CHECK(s.vec_a == 8);
  CHECK(s.vec_b == 8);
  CHECK(can_implement(s, p));

  SUBCASE("launch geometry") {
    const LaunchConfig lc = launch_config(s, p);
    CHECK(lc.grid.x == (300 + s.tile.bm - 1) / s.tile.bm * ((520 + s.tile.bn - 1) / s.tile.bn));
    CHECK(lc.grid.z == 1);
    CHECK(lc.block.x == 256);
    CHECK(lc.shared_bytes == static_cast<size_t>(s.shared_bytes()));
    GemmProblem empty = p;
    empty.m = 0;
    CHECK(launch_config(s, empty).grid.x == 0);
  }
  SUBCASE("misaligned strides are refused") {
    auto odd = matmul_problem(std::vector<int64_t>{300, 1001}, std::vector<int64_t>{1001, 520});
    CHECK(can_implement(s, odd).error().id == "rtx.jit.402");
    GemmSpec narrow = s;
    narrow.vec_a = 1;
    CHECK(can_implement(narrow, odd));
    GemmSpec flipped = s;
    flipped.b_k_major = true;
    CHECK(can_implement(flipped, p).error().id == "rtx.jit.402");
  }
  SUBCASE("buffers: presence and alignment") {
    alignas(16) static uint16_t storage[64];
    GemmBuffers b{storage, storage, storage, nullptr, nullptr, nullptr};
    CHECK(can_implement(s, p, b));
    GemmBuffers shifted = b;
    shifted.a = storage + 1;  // 2 bytes off a 16-byte copy vector
    CHECK(can_implement(s, p, shifted).error().id == "rtx.jit.403");
    GemmSpec with_bias = s;
    with_bias.epilogue.bias = GemmBiasMode::kPerColumn;
    CHECK(can_implement(with_bias, p, b).error().id == "rtx.jit.403");
  }
  SUBCASE("parameter block") {
    auto q = matmul_problem(std::vector<int64_t>{2, 1, 8, 16}, std::vector<int64_t>{3, 16, 32});
    q.alpha = 0.5f;
    GemmSpec qs = choose_gemm_spec(DataType::kF16, q, po);
    int x = 0;
    const auto params = make_params(qs, q, GemmBuffers{&x, &x, &x, nullptr, nullptr, nullptr});
    CHECK(params.m == 8);
    CHECK(params.n == 32);
    CHECK(params.k == 16);
    CHECK(params.batch_rank == 2);
    CHECK(params.batch_count == 6);
    CHECK(params.batch_dims[0] == 2);
    CHECK(params.batch_dims[1] == 3);
    CHECK(params.a_batch_stride[0] == 128);
    CHECK(params.a_batch_stride[1] == 0);
    CHECK(params.b_batch_stride[1] == 512);
    CHECK(params.alpha == 0.5f);
    CHECK(params.tiles_m == 1);
    CHECK(params.tiles_n == 1);
    CHECK(params.residual.row_stride == 32);
    CHECK(launch_config(qs, q).grid.z == 6);
  }
  SUBCASE("wgmma constraints") {
    GemmPlanOptions hopper;
    hopper.sm = 90;
    hopper.arch_specific = true;
    const GemmSpec w = choose_gemm_spec(DataType::kF16, p, hopper);
    REQUIRE(w.algorithm == GemmAlgorithm::kWgmma);
    CHECK(can_implement(w, p));
    auto odd = matmul_problem(std::vector<int64_t>{300, 1001}, std::vector<int64_t>{1001, 520});
    CHECK_FALSE(can_implement(w, odd));
    CHECK(choose_gemm_spec(DataType::kF16, odd, hopper).algorithm == GemmAlgorithm::kMmaSync);
    auto two_batch =
        matmul_problem(std::vector<int64_t>{2, 1, 8, 16}, std::vector<int64_t>{3, 16, 32});
    CHECK(choose_gemm_spec(DataType::kF16, two_batch, hopper).algorithm == GemmAlgorithm::kMmaSync);
    CHECK(choose_gemm_spec(DataType::kF32, p, hopper).algorithm == GemmAlgorithm::kMmaSync);
  }
}

TEST_CASE("plan_gemm maps MatMul and Gemm nodes") {
  ir::Node mm;
  mm.op = ir::OpKind::kMatMul;
  const std::vector<ir::TensorInfo> f16_in = {{DataType::kF16, {ir::kDynamic, 512}, true},
                                              {DataType::kF16, {512, 1024}, true}};
  auto s = plan_gemm(mm, f16_in);
  REQUIRE(s);
  CHECK(s->algorithm == GemmAlgorithm::kMmaSync);
  CHECK(s->input == DataType::kF16);
  CHECK(s->output == DataType::kF16);
  CHECK(s->a_k_major);
  CHECK_FALSE(s->b_k_major);
  CHECK(s->vec_a == 8);
  CHECK(s->vec_b == 8);

  GemmPlanOptions hopper;
  hopper.sm = 90;
  hopper.arch_specific = true;
  hopper.output = DataType::kF32;
  hopper.epilogue.activation = GemmActivation::kGelu;
  hopper.epilogue.bias = GemmBiasMode::kPerColumn;
  auto h = plan_gemm(mm, f16_in, hopper);
  REQUIRE(h);
  CHECK(h->algorithm == GemmAlgorithm::kWgmma);
  CHECK(h->output == DataType::kF32);
  CHECK(h->epilogue.activation == GemmActivation::kGelu);

  // Dynamic K: nothing is known about row alignment.
  const std::vector<ir::TensorInfo> dyn_k = {{DataType::kF32, {64, ir::kDynamic}, true},
                                             {DataType::kF32, {ir::kDynamic, 96}, true}};
  auto d = plan_gemm(mm, dyn_k);
  REQUIRE(d);
  CHECK(d->vec_a == 1);
  CHECK(d->vec_b == 4);
  CHECK(d->tile.bk == 32);

  const std::vector<ir::TensorInfo> ints = {{DataType::kINT32, {4, 4}, true},
                                            {DataType::kINT32, {4, 4}, true}};
  CHECK_FALSE(plan_gemm(mm, ints));

  ir::Node gemm;
  gemm.op = ir::OpKind::kGemm;
  gemm.attrs["transB"] = int64_t{1};
  gemm.attrs["beta"] = 0.5;
  const std::vector<ir::TensorInfo> g_in = {{DataType::kBF16, {64, 256}, true},
                                            {DataType::kBF16, {128, 256}, true},
                                            {DataType::kBF16, {128}, true}};
  auto g = plan_gemm(gemm, g_in);
  REQUIRE(g);
  CHECK(g->b_k_major);
  CHECK(g->epilogue.c);
  gemm.attrs["beta"] = 0.0;  // ONNX: C is ignored when beta == 0
  CHECK_FALSE(plan_gemm(gemm, g_in)->epilogue.c);

  ir::Node relu;
  relu.op = ir::OpKind::kRelu;
  CHECK_FALSE(plan_gemm(relu, f16_in));
}
