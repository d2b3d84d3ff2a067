// SPDX-License-Identifier: Apache-2.0
// Quantized GEMM family without a GPU. NVRTC compiles every kind of kernel for the targets it
// may use: int8/uint8 and int4/uint4/int8 weight-only kernels for every default target, fp8
// kernels for sm_89 and newer (+ compute_89 PTX), fp4 weight-only kernels for sm_100 and sm_120
// only (+ compute_100 PTX; they have never run: no Blackwell GPU was available), and the wgmma
// kernels for sm_90a; images are CUDA ELF / PTX holding the expected MMA instructions, lowered
// names resolve. Host side: name expressions, validation, JSON, problems and scale addressing,
// can_implement (alignment, overflow bounds, buffers), launch configuration, parameter blocks
// and the planner on folded IR groups.
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
#include "jit/kernels/qgemm.hpp"

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;

namespace {

QGemmEpilogue epi(GemmActivation act = GemmActivation::kNone, QBiasMode bias = QBiasMode::kNone,
                  bool quantize = false, bool saturate = true) {
  return QGemmEpilogue{act, bias, quantize, saturate};
}

/// An 8-bit x 8-bit spec (mma.sync unless the tile says wgmma).
QGemmSpec s8(DataType a, DataType b, DataType scale, DataType mid, DataType out, bool bk,
             QScaleMode mode, GemmTile tile, QGemmEpilogue e, int va = 16, int vb = 16) {
  QGemmSpec s;
  s.algorithm = tile.warps_m == 1 && tile.warps_n == 1 ? QGemmAlgorithm::kWgmma : QGemmAlgorithm::kMmaSync;
  s.a = a;
  s.b = b;
  s.scale = scale;
  s.mid = mid;
  s.output = out;
  s.b_k_major = bk;
  s.b_scale = mode;
  s.tile = tile;
  s.epilogue = e;
  s.vec_a = va;
  s.vec_b = vb;
  return s;
}

/// A weight-only spec.
QGemmSpec wo(DataType a, DataType b, DataType scale, DataType out, bool bk, QScaleMode mode,
             bool zero, GemmTile tile, QGemmEpilogue e, int va = 8, int vb = 16) {
  QGemmSpec s = s8(a, b, scale, a, out, bk, mode, tile, e, va, vb);
  s.b_zero = zero;
  return s;
}

constexpr DataType I8 = DataType::kINT8, U8 = DataType::kUINT8, I4 = DataType::kINT4,
                   U4 = DataType::kUINT4, E4 = DataType::kFP8E4M3, E5 = DataType::kFP8E5M2,
                   F4 = DataType::kFP4E2M1, F32 = DataType::kF32, F16 = DataType::kF16,
                   B16 = DataType::kBF16;
constexpr auto kTensor = QScaleMode::kPerTensor;
constexpr auto kColumn = QScaleMode::kPerColumn;
constexpr auto kBlocked = QScaleMode::kBlocked;
const GemmTile k8Medium{128, 128, 128, 3, 2, 4};
const GemmTile k8Small{64, 128, 128, 4, 2, 4};
const GemmTile k8Large{256, 128, 128, 2, 4, 2};
const GemmTile kWoLarge{128, 128, 64, 4, 2, 4};
const GemmTile kWoSmall{64, 128, 64, 4, 2, 4};
const GemmTile kWoNarrow{64, 64, 64, 4, 2, 2};

/// Kernels every default target may run (int8/uint8, int4/uint4/int8 weight-only).
std::vector<QGemmSpec> sm80_specs() {
  using A = GemmActivation;
  return {
      s8(I8, I8, F32, F32, I8, true, kColumn, k8Medium, epi(A::kRelu, QBiasMode::kAdd, true)),
      s8(I8, I8, F16, F16, F16, false, kTensor, GemmTile{128, 128, 128, 2, 2, 4}, epi(A::kNone, QBiasMode::kGemmC)),
      s8(U8, I8, B16, B16, U8, true, kColumn, k8Small, epi(A::kGelu, QBiasMode::kNone, true)),
      s8(I8, U8, F32, F32, F32, false, kTensor, k8Large, epi(), 4, 8),
      s8(U8, U8, F32, F32, F32, true, kTensor, k8Small, epi(A::kSigmoid)),
      wo(F16, I4, F16, F16, false, kBlocked, true, kWoSmall, epi()),
      wo(B16, U4, B16, B16, true, kBlocked, true, kWoNarrow, epi()),
      wo(F16, I8, F32, I8, false, kColumn, false, kWoLarge, epi(A::kSilu, QBiasMode::kAdd, true)),
      wo(B16, U8, B16, B16, true, kTensor, true, kWoSmall, epi(A::kTanh, QBiasMode::kGemmC)),
      wo(F16, I4, F16, F16, true, kColumn, false, kWoNarrow, epi(), 1, 4),
  };
}

/// Kernels with fp8 operands (sm_89 and newer).
std::vector<QGemmSpec> sm89_specs() {
  return {
      s8(E4, E4, F16, F16, E4, true, kColumn, k8Medium, epi(GemmActivation::kNone, QBiasMode::kNone, true, false)),
      s8(E5, E4, B16, B16, B16, false, kTensor, GemmTile{128, 128, 128, 2, 2, 4}, epi()),
      s8(E4, E5, F32, F32, F32, true, kTensor, k8Small, epi(GemmActivation::kRelu, QBiasMode::kAdd)),
      s8(E5, E5, F32, F32, I8, true, kColumn, k8Small, epi(GemmActivation::kNone, QBiasMode::kNone, true)),
      wo(F16, E4, F16, F16, false, kColumn, false, kWoSmall, epi()),
      wo(B16, E5, B16, B16, true, kBlocked, false, kWoNarrow, epi()),
  };
}

/// fp4 weight-only kernels (sm_100 and newer).
std::vector<QGemmSpec> sm100_specs() {
  return {
      wo(F16, F4, F16, F16, true, kBlocked, false, kWoSmall, epi()),
      wo(B16, F4, F32, B16, false, kBlocked, false, kWoNarrow, epi(GemmActivation::kGeluTanh)),
      wo(F16, F4, F16, E4, true, kColumn, false, kWoLarge, epi(GemmActivation::kNone, QBiasMode::kNone, true)),
  };
}

/// wgmma kernels (sm_90a).
std::vector<QGemmSpec> sm90a_specs() {
  return {
      s8(I8, I8, F32, F32, I8, true, kColumn, GemmTile{128, 256, 128, 4, 1, 1}, epi(GemmActivation::kNone, QBiasMode::kNone, true)),
      s8(E4, E4, F32, F16, F16, true, kTensor, GemmTile{128, 128, 128, 6, 1, 1}, epi()),
      s8(U8, I8, B16, B16, B16, true, kColumn, GemmTile{128, 256, 128, 4, 1, 1}, epi(GemmActivation::kRelu, QBiasMode::kGemmC)),
      s8(E5, E4, F32, F32, E4, true, kTensor, GemmTile{128, 128, 128, 6, 1, 1}, epi(GemmActivation::kNone, QBiasMode::kAdd, true)),
  };
}

bool contains(const std::vector<uint8_t>& image, const std::string& s) {
  return std::search(image.begin(), image.end(), s.begin(), s.end()) != image.end();
}

/// Compiles `specs` as one program for `targets` and checks the images.
void compile_and_check(const std::vector<QGemmSpec>& specs, const std::vector<Target>& targets,
                       const std::vector<std::string>& ptx_needles) {
  for (const auto& s : specs) {
    INFO(s.describe());
    REQUIRE(s.validate());
    for (const Target& t : targets) CHECK_MESSAGE(s.supports(t), t.to_string());
  }
  KernelCache cache{std::filesystem::path{}};
  CompileOptions options;
  options.cache = &cache;
  auto images = compile(qgemm_program(specs), targets, options);
  REQUIRE_MESSAGE(images, (images ? std::string() : images.error().to_string()));
  REQUIRE(images->size() == targets.size());
  for (const CompiledImage& img : *images) {
    INFO("target " << img.target.to_string());
    REQUIRE(img.image.size() > 64);
    if (img.target.ptx) {
      const std::string ptx(img.image.begin(), img.image.end());
      CHECK(ptx.find(".entry") != std::string::npos);
      for (const auto& needle : ptx_needles) CHECK_MESSAGE(ptx.find(needle) != std::string::npos, needle);
    } else {
      CHECK(img.image[0] == 0x7f);
      CHECK(img.image[1] == 'E');
      CHECK(img.image[2] == 'L');
      CHECK(img.image[3] == 'F');
      CHECK((img.image[18] | img.image[19] << 8) == 190);  // EM_CUDA
    }
    for (const QGemmSpec& s : specs) {
      const std::string* lowered = img.lowered_name(s.name_expression());
      REQUIRE_MESSAGE(lowered != nullptr, s.name_expression());
      CHECK_MESSAGE(contains(img.image, *lowered), *lowered);
    }
  }
}

/// The subset of the default targets at or above `sm` (cubins), plus PTX for the lowest.
std::vector<Target> targets_from(int sm) {
  std::vector<Target> t;
  for (const Target& d : default_targets())
    if (!d.ptx && d.sm >= sm) t.push_back(d);
  if (!t.empty()) t.push_back(Target{t.front().sm, false, true});
  return t;
}

}  // namespace

// ---- NVRTC ------------------------------------------------------------------------------------------

TEST_CASE("int8 and int4 kernels compile for every default target") {
  compile_and_check(sm80_specs(), default_targets(),
                    {"mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32",
                     "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32",
                     "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32",
                     "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", "cp.async", "ldmatrix"});
}

TEST_CASE("fp8 kernels compile for sm_89 and newer") {
  const auto targets = targets_from(89);
  REQUIRE(targets.size() >= 2);
  for (const QGemmSpec& s : sm89_specs()) {
    CHECK(s.min_sm() == 89);
    CHECK_FALSE(s.supports(Target{86}));
    CHECK_FALSE(s.supports(Target{80, false, true}));
  }
  compile_and_check(sm89_specs(), targets,
                    {"mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32",
                     "mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e4m3.f32"});
}

TEST_CASE("fp4 weight-only kernels compile for sm_100 and sm_120 only") {
  const auto targets = targets_from(100);
  for (const QGemmSpec& s : sm100_specs()) {
    CHECK(s.min_sm() == 100);
    for (int sm : {80, 86, 89, 90}) CHECK_FALSE(s.supports(Target{sm}));
  }
  REQUIRE(targets.size() >= 2);  // sm_100, sm_120 (+ PTX) where NVRTC supports them
  compile_and_check(sm100_specs(), targets, {"mma.sync.aligned.m16n8k16.row.col.f32"});
}

TEST_CASE("wgmma kernels compile for sm_90a only") {
  const Target sm90a{90, true, false};
  for (const QGemmSpec& s : sm90a_specs()) {
    CHECK(s.supports(sm90a));
    CHECK_FALSE(s.supports(Target{90}));
    CHECK_FALSE(s.supports(Target{100}));
  }
  compile_and_check(sm90a_specs(), {sm90a}, {});
}

// ---- host side --------------------------------------------------------------------------------------

TEST_CASE("name expressions and descriptions") {
  const auto specs = sm80_specs();
  CHECK(specs[0].name_expression() ==
        "rtx::kernels::qgemm::qgemm_mma<signed char, signed char, float, float, signed char, "
        "rtx::kernels::gemm::TileShape<128, 128, 128, 3, 2, 4>, true, 16, 16, "
        "rtx::kernels::qgemm::BQuant<(rtx::kernels::qgemm::ScaleMode)1, false>, "
        "rtx::kernels::qgemm::QEpilogue<(rtx::kernels::gemm::Activation)1, "
        "(rtx::kernels::qgemm::BiasMode)1, true, true>>");
  CHECK(specs[5].name_expression() ==
        "rtx::kernels::qgemm::qgemm_wo<__half, rtx::kernels::qgemm::Int4, __half, __half, "
        "rtx::kernels::gemm::TileShape<64, 128, 64, 4, 2, 4>, false, 8, 16, "
        "rtx::kernels::qgemm::BQuant<(rtx::kernels::qgemm::ScaleMode)2, true>, "
        "rtx::kernels::qgemm::QEpilogue<(rtx::kernels::gemm::Activation)0, "
        "(rtx::kernels::qgemm::BiasMode)0, false, true>>");
  CHECK(sm90a_specs()[0].name_expression() ==
        "rtx::kernels::qgemm::qgemm_wgmma<signed char, signed char, float, float, signed char, 256, "
        "4, rtx::kernels::qgemm::BQuant<(rtx::kernels::qgemm::ScaleMode)1, false>, "
        "rtx::kernels::qgemm::QEpilogue<(rtx::kernels::gemm::Activation)0, "
        "(rtx::kernels::qgemm::BiasMode)0, true, true>>");
  CHECK(specs[0].describe() == "mma_sync i8xi8 f32->i8 128x128x128 s3 w2x4 K v16/16 per_column relu+add+q");
  // `saturate` is spelled only where it matters (fp8 outputs), so equal kernels dedupe.
  QGemmSpec a = specs[0], b = specs[0];
  b.epilogue.saturate = false;
  CHECK(a.name_expression() == b.name_expression());
  QGemmSpec f = sm89_specs()[0];
  CHECK(f.name_expression().find("true, false>>") != std::string::npos);
  CHECK(specs[0].source() == "#include \"qgemm/qgemm_sm80.cuh\"\n");
  CHECK(sm90a_specs()[0].source() == "#include \"qgemm/qgemm_sm90.cuh\"\n");
  const std::vector<QGemmSpec> mixed = {specs[0], sm90a_specs()[0]};
  const Program p = qgemm_program(mixed);
  CHECK(p.name_expressions.size() == 2);
  CHECK(p.source.find("qgemm_sm80.cuh") != std::string::npos);
  CHECK(p.source.find("qgemm_sm90.cuh") != std::string::npos);
}

TEST_CASE("threads and shared memory") {
  const auto specs = sm80_specs();
  CHECK(specs[0].threads() == 256);
  CHECK(specs[0].shared_bytes() == 3 * (128 * 128 + 128 * 128));  // pipeline > staging
  CHECK(specs[1].shared_bytes() == 2 * (128 * 128 * 2) + 128 * 128);  // + transposed B tile
  CHECK(specs[4].shared_bytes() == 4 * (64 * 128 + 128 * 128));
  // A 256-row tile's f32 staging (256 x 136 floats) outgrows two pipeline stages.
  CHECK(specs[3].shared_bytes() == 256 * 136 * 4);
  // weight-only int4 (K, N): A stages f16 64x64, raw B 128x64 nibbles, one f16 B tile.
  CHECK(specs[5].shared_bytes() == 4 * (64 * 64 * 2 + 128 * 64 / 2) + 128 * 64 * 2);
  CHECK(specs[6].threads() == 128);
  const QGemmSpec w = sm90a_specs()[0];
  CHECK(w.threads() == 384);
  CHECK(w.shared_bytes() == 4 * (128 + 256) * 128 + 16 * 4 + 1024);
}

TEST_CASE("validation rejects what the templates cannot instantiate") {
  const QGemmSpec good = sm80_specs()[0];
  const auto rejects = [](QGemmSpec s, const char* why) {
    INFO(why);
    auto r = s.validate();
    REQUIRE_FALSE(r);
    CHECK(r.error().id == "rtx.jit.801");
  };
  QGemmSpec s = good;
  s.b = E4;
  rejects(s, "int8 x fp8");
  s = good;
  s.b_scale = kBlocked;
  rejects(s, "blocked scale on 8-bit x 8-bit");
  s = good;
  s.b_zero = true;
  rejects(s, "zero point on 8-bit x 8-bit");
  s = good;
  s.tile.bk = 64;
  rejects(s, "8-bit tiles are 128 deep");
  s = good;
  s.vec_a = 2;
  rejects(s, "2-byte copies");
  s = good;
  s.epilogue.quantize = false;
  rejects(s, "int8 output without a Q");
  s = good;
  s.output = F16;
  rejects(s, "Q into f16");
  s = good;
  s.scale = I8;
  rejects(s, "int8 scales");
  s = sm90a_specs()[0];
  s.b_k_major = false;
  rejects(s, "wgmma with B stored (K, N)");
  s = sm90a_specs()[0];
  s.tile.bn = 64;
  rejects(s, "wgmma BN 64");
  s = sm90a_specs()[0];
  s.tile.stages = 2;
  rejects(s, "staging does not fit 2 stages of 128x256");
  s = sm80_specs()[5];
  s.tile.bk = 128;
  rejects(s, "weight-only tiles are 64 deep");
  s = sm80_specs()[5];
  s.mid = F32;
  rejects(s, "weight-only mid is A's dtype");
  s = sm89_specs()[4];
  s.b_zero = true;
  rejects(s, "fp8 weights have no zero point");
  s = sm80_specs()[5];
  s.tile = GemmTile{64, 32, 64, 4, 2, 2};
  rejects(s, "BN 32 cannot hold an N-major f16 tile");
  s = good;
  s.tile.stages = 9;
  rejects(s, "too many stages");
  for (const auto& list : {sm80_specs(), sm89_specs(), sm100_specs(), sm90a_specs()})
    for (const auto& x : list) CHECK_MESSAGE(x.validate(), x.describe());
}

TEST_CASE("JSON round trips and malformed JSON") {
  for (const auto& list : {sm80_specs(), sm89_specs(), sm100_specs(), sm90a_specs()}) {
    for (QGemmSpec s : list) {
      s.form = QGemmForm{true, 0.5, 2.0, 32, true};
      nlohmann::json j;
      to_json(j, s);
      QGemmSpec back;
      from_json(j, back);
      CHECK(back == s);
      CHECK(back.name_expression() == s.name_expression());
    }
  }
  nlohmann::json j;
  to_json(j, sm80_specs()[0]);
  for (const char* key : {"algorithm", "a", "b_scale", "tile", "form"}) {
    nlohmann::json bad = j;
    if (std::string(key) == "tile") {
      bad[key] = std::vector<int>{1, 2, 3};
    } else if (std::string(key) == "form") {
      bad.erase(key);
    } else {
      bad[key] = "nonsense";
    }
    QGemmSpec s;
    try {
      from_json(bad, s);
      FAIL("accepted malformed JSON key " << key);
    } catch (const Exception& e) {
      CHECK(e.error().id == "rtx.jit.801");
    }
  }
}

TEST_CASE("qgemm_problem: MatMul, transposed weights, Gemm and B scale addressing") {
  QGemmSpec s = sm80_specs()[0];  // K-major B, per column
  s.b_k_major = false;
  const std::vector<int64_t> a{2, 3, 64}, b{64, 48}, col{48};
  auto p = qgemm_problem(s, a, b, col);
  REQUIRE(p);
  CHECK(p->shape.m == 6);
  CHECK(p->shape.n == 48);
  CHECK(p->shape.k == 64);
  CHECK(p->shape.lda == 64);
  CHECK(p->shape.ldb == 48);
  CHECK_FALSE(p->shape.b_k_major);
  CHECK(p->b_scale_k_stride == 0);
  CHECK(p->b_scale_n_stride == 1);

  s.b_k_major = true;  // the weight stored (N, K) behind a folded Transpose
  const std::vector<int64_t> bt{48, 64};
  p = qgemm_problem(s, a, bt, col);
  REQUIRE(p);
  CHECK(p->shape.b_k_major);
  CHECK(p->shape.ldb == 64);
  CHECK(p->shape.n == 48);

  QGemmSpec w = sm80_specs()[6];  // weight-only, (N, K), blocked
  w.form.b_block = 16;
  w.form.b_scale_k_first = false;
  const std::vector<int64_t> a2{5, 64};
  const std::vector<int64_t> nk_scale{48, 4};
  p = qgemm_problem(w, a2, bt, nk_scale);
  REQUIRE(p);
  CHECK(p->b_block == 16);
  CHECK(p->b_scale_k_stride == 1);
  CHECK(p->b_scale_n_stride == 4);
  w.form.b_scale_k_first = true;
  const std::vector<int64_t> kn_scale{4, 48};
  p = qgemm_problem(w, a2, bt, kn_scale);
  REQUIRE(p);
  CHECK(p->b_scale_k_stride == 48);
  CHECK(p->b_scale_n_stride == 1);
  w.form.b_block = 1;  // per-k scale (per-axis along K)
  const std::vector<int64_t> per_k{64};
  p = qgemm_problem(w, a2, bt, per_k);
  REQUIRE(p);
  CHECK(p->b_scale_k_stride == 1);
  CHECK(p->b_scale_n_stride == 0);
  // Mismatched scales are errors, not crashes.
  const std::vector<int64_t> wrong{47};
  auto bad = qgemm_problem(s, a, bt, wrong);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().id == "rtx.jit.802");
  w.form.b_block = 16;
  CHECK(qgemm_problem(w, a2, bt, kn_scale));  // (K blocks, N) with block 16 fits
  const std::vector<int64_t> wrong2{48, 5};
  w.form.b_scale_k_first = false;
  CHECK_FALSE(qgemm_problem(w, a2, bt, wrong2));

  QGemmSpec g = sm80_specs()[1];  // Gemm with C, B stored (K, N)
  g.form.gemm = true;
  g.form.alpha = 0.25;
  g.form.beta = 3.0;
  const std::vector<int64_t> one{};
  p = qgemm_problem(g, a2, std::vector<int64_t>{64, 48}, one);
  REQUIRE(p);
  CHECK(p->shape.alpha == 0.25f);
  CHECK(p->shape.beta == 3.0f);
  CHECK(p->shape.m == 5);
  CHECK_FALSE(qgemm_problem(g, a, std::vector<int64_t>{64, 48}, one));  // Gemm A is 2-D
}

TEST_CASE("can_implement: copy alignment, s32 overflow, packed rows, batches, buffers") {
  QGemmSpec s = sm80_specs()[0];
  s.b_k_major = false;
  s.tile = k8Medium;
  const std::vector<int64_t> col{64};
  auto ok = [&](const QGemmSpec& spec, std::vector<int64_t> a, std::vector<int64_t> b,
                std::vector<int64_t> sc) {
    auto p = qgemm_problem(spec, a, b, sc);
    REQUIRE(p);
    return static_cast<bool>(can_implement(spec, *p));
  };
  CHECK(ok(s, {128, 256}, {256, 64}, col));
  CHECK_FALSE(ok(s, {128, 250}, {250, 64}, col));  // lda 250 not a multiple of 16
  s.vec_a = 4;
  s.vec_b = 4;
  CHECK_FALSE(ok(s, {128, 250}, {250, 64}, col));  // ... nor of 4
  CHECK(ok(s, {128, 252}, {252, 64}, col));
  // |sum| < 2^31: 128 * 128 * K for int8 x int8; 255 * 255 * K for uint8 x uint8.
  s.vec_a = 16;
  CHECK(ok(s, {4, 131056}, {131056, 64}, col));
  CHECK_FALSE(ok(s, {4, 131072}, {131072, 64}, col));
  QGemmSpec u = sm80_specs()[4];
  CHECK_FALSE(ok(u, {4, 33040}, {64, 33040}, {}));
  CHECK(ok(u, {4, 33024}, {64, 33024}, {}));
  // Packed 4-bit rows start on whole bytes: an odd stored row length cannot.
  QGemmSpec w = sm80_specs()[9];  // int4 (N, K) per column, copies of 4 bytes
  CHECK(ok(w, {3, 72}, {64, 72}, {64}));
  CHECK_FALSE(ok(w, {3, 73}, {64, 73}, {64}));
  // A batched B needs a per-tensor scale.
  QGemmSpec t = sm80_specs()[1];
  CHECK(ok(t, {3, 8, 32}, {3, 32, 64}, {}));
  t.b_scale = kColumn;
  CHECK_FALSE(ok(t, {3, 8, 32}, {3, 32, 64}, {64}));
  // wgmma: one batch dim, 16-byte strides.
  QGemmSpec g = sm90a_specs()[1];
  CHECK(ok(g, {256, 512}, {256, 512}, {}));
  CHECK_FALSE(ok(g, {256, 520}, {256, 520}, {}));  // 520-byte rows: not TMA/16-byte aligned
  CHECK_FALSE(ok(g, {256, 0}, {256, 0}, {}));      // K = 0 is left to mma.sync

  // Buffers.
  QGemmSpec b8 = sm80_specs()[0];
  auto p = qgemm_problem(b8, std::vector<int64_t>{32, 64}, std::vector<int64_t>{48, 64}, std::vector<int64_t>{48});
  REQUIRE(p);
  alignas(16) static unsigned char mem[4096];
  QGemmBuffers buf{mem, mem, mem, mem, mem, nullptr, mem, mem, nullptr};
  CHECK(can_implement(b8, *p, buf));
  QGemmBuffers missing = buf;
  missing.a_scale = nullptr;
  auto r = can_implement(b8, *p, missing);
  REQUIRE_FALSE(r);
  CHECK(r.error().id == "rtx.jit.803");
  missing = buf;
  missing.y_scale = nullptr;
  CHECK_FALSE(can_implement(b8, *p, missing));
  missing = buf;
  missing.bias = nullptr;
  CHECK_FALSE(can_implement(b8, *p, missing));
  QGemmBuffers misaligned = buf;
  misaligned.a = mem + 4;
  CHECK_FALSE(can_implement(b8, *p, misaligned));
}

TEST_CASE("launch configuration and parameter blocks") {
  QGemmSpec s = sm80_specs()[6];  // weight-only uint4 (N, K) blocked, 64x64 tile, 128 threads
  s.form.b_block = 32;
  const std::vector<int64_t> a{2, 100, 128}, b{96, 128}, sc{96, 4};
  auto p = qgemm_problem(s, a, b, sc);
  REQUIRE(p);
  REQUIRE(can_implement(s, *p));
  const LaunchConfig lc = launch_config(s, *p);
  CHECK(lc.grid.x == 4 * 2);  // ceil(200 / 64) x ceil(96 / 64)
  CHECK(lc.grid.z == 1);
  CHECK(lc.block.x == 128);
  CHECK(lc.shared_bytes == static_cast<size_t>(s.shared_bytes()));
  int dummy[4];
  const QGemmBuffers buf{dummy, dummy + 1, dummy + 2, nullptr, dummy + 3, dummy, nullptr, nullptr, nullptr};
  const auto params = make_params(s, *p, buf);
  CHECK(params.m == 200);
  CHECK(params.n == 96);
  CHECK(params.k == 128);
  CHECK(params.lda == 128);
  CHECK(params.ldb == 128);
  CHECK(params.ldd == 96);
  CHECK(params.batch_rank == 0);
  CHECK(params.batch_count == 1);
  CHECK(params.b_block == 32);
  CHECK(params.b_scale_k_stride == 1);
  CHECK(params.b_scale_n_stride == 4);
  CHECK(params.b_zero == dummy);
  CHECK(params.a_scale == nullptr);
  CHECK(params.tiles_m == 4);
  CHECK(params.tiles_n == 2);
  CHECK(params.alpha == 1.0f);

  // Empty outputs launch nothing.
  const std::vector<int64_t> a0{0, 128};
  auto p0 = qgemm_problem(s, a0, b, sc);
  REQUIRE(p0);
  CHECK(launch_config(s, *p0).grid.x == 0);

  // Batched 8-bit x 8-bit (B an activation with a per-tensor scale).
  QGemmSpec t = sm80_specs()[1];
  const std::vector<int64_t> a3{4, 7, 32}, b3{4, 32, 64};
  auto p3 = qgemm_problem(t, a3, b3, std::vector<int64_t>{});
  REQUIRE(p3);
  const auto params3 = make_params(t, *p3, QGemmBuffers{});
  CHECK(params3.batch_rank == 1);
  CHECK(params3.batch_dims[0] == 4);
  CHECK(params3.a_batch_stride[0] == 7 * 32);
  CHECK(params3.b_batch_stride[0] == 32 * 64);
  CHECK(params3.d_batch_stride[0] == 7 * 64);
  CHECK(launch_config(t, *p3).grid.z == 4);
}

// ---- planning from folded IR groups -------------------------------------------------------------

namespace {

/// x (int8 or fp8, (m, k)) -> DQ -> MatMul <- DQ(w (k, n) or its (n, k) transpose) -> Q.
ir::Graph layer(DataType xt, DataType wt, int64_t m, int64_t k, int64_t n, bool transposed_weight,
                bool with_q) {
  ir::Graph g;
  const ir::ValueId x = g.add_input("x", xt, {m, k});
  const ir::ValueId sx = g.add_weight("sx", HostTensor::scalar(DataType::kF32, 0.5));
  const ir::ValueId w = g.add_weight("w", HostTensor(wt, transposed_weight ? std::vector<int64_t>{n, k}
                                                                            : std::vector<int64_t>{k, n}));
  const ir::ValueId sw = g.add_weight("sw", HostTensor(DataType::kF32, {n}));
  const ir::NodeId dx = g.add_node(ir::OpKind::kDequantizeLinear, "dq_x", {x, sx});
  const ir::NodeId dw = g.add_node(ir::OpKind::kDequantizeLinear, "dq_w", {w, sw}, 1,
                                   {{"axis", int64_t{transposed_weight ? 0 : 1}}});
  ir::ValueId b = g.node(dw).outputs[0];
  if (transposed_weight)
    b = g.node(g.add_node(ir::OpKind::kTranspose, "t", {b}, 1, {{"perm", std::vector<int64_t>{1, 0}}})).outputs[0];
  ir::ValueId y = g.node(g.add_node(ir::OpKind::kMatMul, "fc", {g.node(dx).outputs[0], b})).outputs[0];
  if (with_q) {
    const ir::ValueId sy = g.add_weight("sy", HostTensor::scalar(DataType::kF32, 0.25));
    y = g.node(g.add_node(ir::OpKind::kQuantizeLinear, "q_y", {y, sy}, 1,
                          {{"output_dtype", int64_t{xt == DataType::kINT8 ? 3 : 17}}}))
            .outputs[0];
  }
  g.mark_output(y, "y");
  g.infer_shapes();
  return g;
}

ir::QuantGemmGroup group_of(const ir::Graph& g) {
  const auto groups = ir::find_quant_gemms(g);
  REQUIRE(groups.size() == 1);
  return groups[0];
}

}  // namespace

TEST_CASE("plan_qgemm: int8 and fp8 layers per target") {
  const ir::Graph g = layer(DataType::kINT8, DataType::kINT8, 4096, 4096, 4096, true, true);
  const auto grp = group_of(g);
  // sm_80: mma.sync with a large tile (163 KiB of shared memory).
  auto s80 = plan_qgemm(g, grp, QGemmPlanOptions{80, false, 108});
  REQUIRE(s80);
  CHECK(s80->algorithm == QGemmAlgorithm::kMmaSync);
  CHECK(s80->a == DataType::kINT8);
  CHECK(s80->output == DataType::kINT8);
  CHECK(s80->epilogue.quantize);
  CHECK(s80->b_k_major);
  CHECK(s80->b_scale == QScaleMode::kPerColumn);
  CHECK(s80->shared_bytes() <= max_shared_bytes(80));
  CHECK(s80->supports(Target{80}));
  // sm_86 (99 KiB): a tile that fits.
  auto s86 = plan_qgemm(g, grp, QGemmPlanOptions{86, false, 84});
  REQUIRE(s86);
  CHECK(s86->shared_bytes() <= max_shared_bytes(86));
  // sm_90a: wgmma (B stored (N, K)).
  auto s90a = plan_qgemm(g, grp, QGemmPlanOptions{90, true, 132});
  REQUIRE(s90a);
  CHECK(s90a->algorithm == QGemmAlgorithm::kWgmma);
  CHECK(s90a->tile.bn == 256);
  CHECK(s90a->supports(Target{90, true, false}));

  // A weight stored (K, N) cannot feed wgmma: mma.sync with the in-shared-memory transpose.
  const ir::Graph g2 = layer(DataType::kINT8, DataType::kINT8, 512, 256, 256, false, false);
  auto s2 = plan_qgemm(g2, group_of(g2), QGemmPlanOptions{90, true, 132});
  REQUIRE(s2);
  CHECK(s2->algorithm == QGemmAlgorithm::kMmaSync);
  CHECK_FALSE(s2->b_k_major);
  CHECK(s2->output == DataType::kF32);

  // fp8: not before sm_89.
  const ir::Graph g3 = layer(DataType::kFP8E4M3, DataType::kFP8E4M3, 256, 256, 256, true, true);
  const auto grp3 = group_of(g3);
  CHECK_FALSE(plan_qgemm(g3, grp3, QGemmPlanOptions{80, false, 108}));
  auto s89 = plan_qgemm(g3, grp3, QGemmPlanOptions{89, false, 128});
  REQUIRE(s89);
  CHECK(s89->a == DataType::kFP8E4M3);
  CHECK(s89->output == DataType::kFP8E4M3);

  // K not a multiple of 4 bytes: no 8-bit copies possible, the group runs unfused.
  const ir::Graph g4 = layer(DataType::kINT8, DataType::kINT8, 64, 30, 64, true, false);
  CHECK_FALSE(plan_qgemm(g4, group_of(g4), QGemmPlanOptions{80, false, 108}));
}

TEST_CASE("plan_qgemm: weight-only int4 and fp4") {
  for (DataType wt : {DataType::kINT4, DataType::kFP4E2M1}) {
    CAPTURE(to_string(wt));
    ir::Graph g;
    const ir::ValueId x = g.add_input("x", DataType::kF16, {ir::kDynamic, 4096});
    g.set_profile("x", ir::InputProfile{{1, 4096}, {16, 4096}, {64, 4096}});
    const ir::ValueId w = g.add_weight("w", HostTensor(wt, {4096, 11008}));
    const ir::ValueId s = g.add_weight("s", HostTensor(DataType::kF16, {4096 / 128, 11008}));
    const ir::NodeId dw = g.add_node(ir::OpKind::kDequantizeLinear, "dq_w", {w, s}, 1,
                                     {{"axis", int64_t{0}}, {"block_size", int64_t{128}}});
    const ir::NodeId mm = g.add_node(ir::OpKind::kMatMul, "fc", {x, g.node(dw).outputs[0]});
    g.mark_output(g.node(mm).outputs[0], "y");
    g.infer_shapes();
    const auto grp = group_of(g);
    CHECK(grp.kind == ir::QuantGemmKind::kWeightOnly);
    auto s90 = plan_qgemm(g, grp, QGemmPlanOptions{90, false, 132});
    auto s100 = plan_qgemm(g, grp, QGemmPlanOptions{100, false, 148});
    REQUIRE(s100);
    CHECK(s100->weight_only());
    CHECK(s100->b == wt);
    CHECK(s100->b_scale == QScaleMode::kBlocked);
    CHECK(s100->form.b_block == 128);
    CHECK(s100->form.b_scale_k_first);
    CHECK_FALSE(s100->b_k_major);
    if (wt == DataType::kFP4E2M1) {
      CHECK_FALSE(s90);  // FP4 needs Blackwell
    } else {
      REQUIRE(s90);
      CHECK(s90->min_sm() == 80);
    }
    // The run-time problem for a batch of 8 rows.
    const std::vector<int64_t> a{8, 4096}, b{4096, 11008}, sc{32, 11008};
    auto p = qgemm_problem(*s100, a, b, sc);
    REQUIRE(p);
    CHECK(can_implement(*s100, *p));
    CHECK(p->b_scale_k_stride == 11008);
    CHECK(p->b_scale_n_stride == 1);
  }
}
