// SPDX-License-Identifier: Apache-2.0
// Host side of the quantized GEMM family: spec rendering and (de)serialisation, problems from
// operand shapes, can_implement, launch configuration, parameter blocks, TMA maps for the Hopper
// kernel, and the planner that maps folded Q/DQ groups (ir/quant_passes.hpp) to specs.
#include "jit/kernels/qgemm.hpp"

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ir/graph.hpp"
#include "ir/quant_passes.hpp"

namespace rtx::jit::kernels {
namespace {

namespace dev = rtx::kernels::qgemm;
using namespace qgemm_errc;

bool is_8bit_int(DataType t) { return t == DataType::kINT8 || t == DataType::kUINT8; }
bool is_fp8(DataType t) { return t == DataType::kFP8E4M3 || t == DataType::kFP8E5M2; }
bool is_float_type(DataType t) {
  return t == DataType::kF32 || t == DataType::kF16 || t == DataType::kBF16;
}
bool is_16bit(DataType t) { return t == DataType::kF16 || t == DataType::kBF16; }
bool is_weight_only_b(DataType t) {
  return is_8bit_int(t) || is_fp8(t) || t == DataType::kINT4 || t == DataType::kUINT4 ||
         t == DataType::kFP4E2M1;
}
int bits(DataType t) { return bit_width(t); }
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
bool pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }
bool multiple_of(int64_t value, int64_t v) { return v <= 1 || value % v == 0; }

/// CUDA C++ spelling of an element type in name expressions (tags for packed 4-bit types).
std::string type_name(DataType t) {
  switch (t) {
    case DataType::kINT4: return "rtx::kernels::qgemm::Int4";
    case DataType::kUINT4: return "rtx::kernels::qgemm::UInt4";
    case DataType::kFP4E2M1: return "rtx::kernels::qgemm::Fp4E2M1";
    default: return std::string(cuda_type_name(t));
  }
}

const char* bias_name(QBiasMode b) {
  switch (b) {
    case QBiasMode::kNone: return "none";
    case QBiasMode::kAdd: return "add";
    case QBiasMode::kGemmC: return "gemm_c";
  }
  return "?";
}

const char* scale_name(QScaleMode s) {
  switch (s) {
    case QScaleMode::kPerTensor: return "per_tensor";
    case QScaleMode::kPerColumn: return "per_column";
    case QScaleMode::kBlocked: return "blocked";
  }
  return "?";
}

const char* algorithm_name(QGemmAlgorithm a) {
  return a == QGemmAlgorithm::kWgmma ? "wgmma" : "mma_sync";
}

Error spec_error(const QGemmSpec& spec, const std::string& what) {
  return Error{kSpecInvalid, "quantized GEMM spec " + spec.describe() + ": " + what};
}

Error problem_error(const QGemmSpec& spec, const std::string& what) {
  return Error{kNotImplementable,
               "quantized GEMM spec " + spec.describe() + " cannot run this problem: " + what};
}

/// Whether the output is an fp8 type (the only one `saturate` changes).
bool fp8_output(const QGemmSpec& s) { return is_fp8(s.output); }

std::string bquant_expression(const QGemmSpec& s) {
  std::ostringstream o;
  o << "rtx::kernels::qgemm::BQuant<(rtx::kernels::qgemm::ScaleMode)" << static_cast<int>(s.b_scale)
    << ", " << (s.b_zero ? "true" : "false") << ">";
  return o.str();
}

std::string epilogue_expression(const QGemmSpec& s) {
  std::ostringstream o;
  // `saturate` only matters for fp8 outputs: one spelling otherwise, so kernels dedupe.
  const bool saturate = s.epilogue.saturate || !fp8_output(s);
  o << "rtx::kernels::qgemm::QEpilogue<(rtx::kernels::gemm::Activation)"
    << static_cast<int>(s.epilogue.activation) << ", (rtx::kernels::qgemm::BiasMode)"
    << static_cast<int>(s.epilogue.bias) << ", " << (s.epilogue.quantize ? "true" : "false")
    << ", " << (saturate ? "true" : "false") << ">";
  return o.str();
}

std::string tile_expression(const GemmTile& t) {
  std::ostringstream o;
  o << "rtx::kernels::gemm::TileShape<" << t.bm << ", " << t.bn << ", " << t.bk << ", "
    << t.stages << ", " << t.warps_m << ", " << t.warps_n << ">";
  return o.str();
}

// Geometry of the wgmma kernel (qgemm/qgemm_sm90.cuh).
constexpr int kWgmmaBM = 128;
constexpr int kWgmmaBK = 128;
constexpr int kWgmmaThreads = 384;

/// Largest product magnitude of one 8-bit integer pair, for the s32 overflow bound.
int64_t max_product(DataType a, DataType b) {
  const int64_t ma = a == DataType::kUINT8 ? 255 : 128;
  const int64_t mb = b == DataType::kUINT8 ? 255 : 128;
  return ma * mb;
}

}  // namespace

// ---- QGemmSpec -----------------------------------------------------------------------------------

bool QGemmSpec::weight_only() const { return is_16bit(a); }

std::string QGemmSpec::name_expression() const {
  std::ostringstream s;
  const std::string ta = type_name(a), tb = type_name(b), ts = type_name(scale),
                    tm = type_name(mid), to = type_name(output);
  if (algorithm == QGemmAlgorithm::kWgmma) {
    s << "rtx::kernels::qgemm::qgemm_wgmma<" << ta << ", " << tb << ", " << ts << ", " << tm
      << ", " << to << ", " << tile.bn << ", " << tile.stages << ", " << bquant_expression(*this)
      << ", " << epilogue_expression(*this) << ">";
  } else if (weight_only()) {
    s << "rtx::kernels::qgemm::qgemm_wo<" << ta << ", " << tb << ", " << ts << ", " << to << ", "
      << tile_expression(tile) << ", " << (b_k_major ? "true" : "false") << ", " << vec_a << ", "
      << vec_b << ", " << bquant_expression(*this) << ", " << epilogue_expression(*this) << ">";
  } else {
    s << "rtx::kernels::qgemm::qgemm_mma<" << ta << ", " << tb << ", " << ts << ", " << tm << ", "
      << to << ", " << tile_expression(tile) << ", " << (b_k_major ? "true" : "false") << ", "
      << vec_a << ", " << vec_b << ", " << bquant_expression(*this) << ", "
      << epilogue_expression(*this) << ">";
  }
  return s.str();
}

std::string QGemmSpec::source() const {
  return algorithm == QGemmAlgorithm::kWgmma ? "#include \"qgemm/qgemm_sm90.cuh\"\n"
                                             : "#include \"qgemm/qgemm_sm80.cuh\"\n";
}

Program QGemmSpec::program() const {
  const QGemmSpec one[] = {*this};
  return qgemm_program(one);
}

int QGemmSpec::threads() const {
  return algorithm == QGemmAlgorithm::kWgmma ? kWgmmaThreads : tile.warps_m * tile.warps_n * 32;
}

int QGemmSpec::shared_bytes() const {
  const int epilogue = tile.bm * (tile.bn + 8) * 4;
  if (algorithm == QGemmAlgorithm::kWgmma) {
    return tile.stages * (kWgmmaBM + tile.bn) * kWgmmaBK + 16 * tile.stages + 1024;
  }
  if (weight_only()) {
    const int ea = static_cast<int>(bit_width(a) / 8);
    const int stage_a = tile.bm * tile.bk * ea;
    const int stage_b = tile.bn * tile.bk * bits(b) / 8;
    const int conv = tile.bn * tile.bk * ea;
    return std::max(tile.stages * (stage_a + stage_b) + conv, epilogue);
  }
  const int stage_a = tile.bm * tile.bk;
  const int stage_b = tile.bn * tile.bk;
  const int conv = b_k_major ? 0 : tile.bn * tile.bk;
  return std::max(tile.stages * (stage_a + stage_b) + conv, epilogue);
}

int QGemmSpec::min_sm() const {
  if (b == DataType::kFP4E2M1) return 100;
  if (is_fp8(a) || is_fp8(b) || is_fp8(output)) return 89;
  return 80;
}

bool QGemmSpec::supports(const Target& target) const {
  if (algorithm == QGemmAlgorithm::kWgmma) return target.sm == 90 && target.arch_specific && !target.ptx;
  return target.sm >= min_sm();
}

Expected<void> QGemmSpec::validate() const {
  if (!is_float_type(scale)) return spec_error(*this, "scales must be f32, f16 or bf16");
  if (!is_float_type(mid)) return spec_error(*this, "the MatMul dtype must be f32, f16 or bf16");
  if (epilogue.quantize) {
    if (!is_8bit_int(output) && !is_fp8(output))
      return spec_error(*this, "a requantized output must be int8, uint8 or fp8");
  } else if (output != mid) {
    return spec_error(*this, "without a QuantizeLinear the output dtype is the MatMul's");
  }
  const int out_vec = 16 / static_cast<int>(bit_width(output) / 8);
  const auto check_common_tile = [&](int threads) -> Expected<void> {
    if (tile.bn % out_vec != 0 || threads % (tile.bn / out_vec) != 0)
      return spec_error(*this, "the epilogue needs threads to cover whole rows of BN");
    if (shared_bytes() > 232448) return spec_error(*this, "needs more than 227 KiB of shared memory");
    return {};
  };
  const auto check_warp_tile = [&]() -> Expected<void> {
    const auto& t = tile;
    if (t.warps_m < 1 || t.warps_n < 1 || t.warps_m * t.warps_n > 16)
      return spec_error(*this, "warp grid must have 1..16 warps");
    if (t.stages < 2 || t.stages > 8) return spec_error(*this, "stages must be 2..8");
    if (t.bm <= 0 || t.bn <= 0 || t.bm % (16 * t.warps_m) != 0 || t.bn % (16 * t.warps_n) != 0)
      return spec_error(*this, "BM and BN must be multiples of 16 x warps");
    return {};
  };

  if (weight_only()) {
    if (algorithm != QGemmAlgorithm::kMmaSync) return spec_error(*this, "weight-only uses mma.sync");
    if (mid != a) return spec_error(*this, "weight-only: the MatMul dtype is A's");
    if (!is_weight_only_b(b)) return spec_error(*this, "weight-only B must be a quantized type");
    if (b_zero && (is_fp8(b) || b == DataType::kFP4E2M1))
      return spec_error(*this, "float quantized types have no zero point");
    if (tile.bk != 64) return spec_error(*this, "weight-only tiles are 64 deep");
    if (auto ok = check_warp_tile(); !ok) return ok;
    if ((tile.bn * 2) % 128 != 0) return spec_error(*this, "BN must be a multiple of 64");
    if (vec_a != 1 && vec_a != 2 && vec_a != 4 && vec_a != 8)
      return spec_error(*this, "A copies are 1, 2, 4 or 8 elements");
    if (vec_b != 4 && vec_b != 8 && vec_b != 16) return spec_error(*this, "B copies are 4, 8 or 16 bytes");
    const int threads = this->threads();
    if ((tile.bm * tile.bk / vec_a) % threads != 0)
      return spec_error(*this, "A tile copies must divide evenly among the block's threads");
    const int raw_row = (b_k_major ? tile.bk : tile.bn) * bits(b) / 8;
    if (raw_row % 16 != 0 || !pow2(raw_row / 16) || raw_row % vec_b != 0)
      return spec_error(*this, "raw B rows must be a power-of-two number of 16-byte chunks");
    const int items_per_row = (b_k_major ? tile.bk : tile.bn) / 8;
    const int items = (b_k_major ? tile.bn : tile.bk) * items_per_row;
    if (items % threads != 0 || threads % items_per_row != 0)
      return spec_error(*this, "dequantization work must divide evenly among the block's threads");
    return check_common_tile(threads);
  }

  const bool ints = is_8bit_int(a) && is_8bit_int(b);
  const bool fp8s = is_fp8(a) && is_fp8(b);
  if (!ints && !fp8s) return spec_error(*this, "A and B must both be int8/uint8 or both fp8");
  if (b_scale == QScaleMode::kBlocked || b_zero)
    return spec_error(*this, "8-bit x 8-bit takes per-tensor or per-column B scales, no zero point");
  if (algorithm == QGemmAlgorithm::kWgmma) {
    if (!b_k_major) return spec_error(*this, "wgmma reads 8-bit B stored (N, K) only");
    if (tile.bm != kWgmmaBM || tile.bk != kWgmmaBK || (tile.bn != 128 && tile.bn != 256))
      return spec_error(*this, "wgmma tiles are 128 x {128, 256} x 128");
    if (tile.stages < 2 || tile.stages > 8) return spec_error(*this, "stages must be 2..8");
    if (tile.bm * (tile.bn + 8) * 4 > tile.stages * (tile.bm + tile.bn) * tile.bk)
      return spec_error(*this, "too few stages to hold the epilogue's staging tile");
    return check_common_tile(256);  // the two consumer warpgroups run the epilogue
  }
  if (tile.bk != 128) return spec_error(*this, "8-bit tiles are 128 deep");
  if (auto ok = check_warp_tile(); !ok) return ok;
  for (int v : {vec_a, vec_b})
    if (v != 4 && v != 8 && v != 16) return spec_error(*this, "8-bit copies are 4, 8 or 16 bytes");
  const int threads = this->threads();
  if ((tile.bm * tile.bk / vec_a) % threads != 0)
    return spec_error(*this, "A tile copies must divide evenly among the block's threads");
  if (b_k_major) {
    if ((tile.bn * tile.bk / vec_b) % threads != 0)
      return spec_error(*this, "B tile copies must divide evenly among the block's threads");
  } else {
    if (tile.bn % 16 != 0 || !pow2(tile.bn / 16) || ((tile.bk / 4) * (tile.bn / 4)) % threads != 0)
      return spec_error(*this, "the B transpose needs BN a power of two >= 16 dividing among threads");
  }
  return check_common_tile(threads);
}

std::string QGemmSpec::describe() const {
  std::ostringstream s;
  s << algorithm_name(algorithm) << " " << to_string(a) << "x" << to_string(b) << " "
    << to_string(mid) << "->" << to_string(output) << " " << tile.bm << "x" << tile.bn << "x"
    << tile.bk << " s" << tile.stages;
  if (algorithm == QGemmAlgorithm::kMmaSync) s << " w" << tile.warps_m << "x" << tile.warps_n;
  s << " " << (b_k_major ? "K" : "N") << " v" << vec_a << "/" << vec_b << " " << scale_name(b_scale)
    << (b_zero ? "+zero" : "") << " " << activation_name(epilogue.activation);
  if (epilogue.bias != QBiasMode::kNone) s << "+" << bias_name(epilogue.bias);
  if (epilogue.quantize) s << "+q" << (epilogue.saturate ? "" : "(nosat)");
  return s.str();
}

Program qgemm_program(std::span<const QGemmSpec> specs, std::string name) {
  Program p;
  p.name = std::move(name);
  bool sm80 = false, sm90 = false;
  for (const auto& s : specs) {
    p.name_expressions.push_back(s.name_expression());
    (s.algorithm == QGemmAlgorithm::kWgmma ? sm90 : sm80) = true;
  }
  if (sm80) p.source += "#include \"qgemm/qgemm_sm80.cuh\"\n";
  if (sm90) p.source += "#include \"qgemm/qgemm_sm90.cuh\"\n";
  return p;
}

void to_json(nlohmann::json& j, const QGemmSpec& s) {
  j = nlohmann::json{
      {"algorithm", algorithm_name(s.algorithm)},
      {"a", std::string(to_string(s.a))},
      {"b", std::string(to_string(s.b))},
      {"scale", std::string(to_string(s.scale))},
      {"mid", std::string(to_string(s.mid))},
      {"output", std::string(to_string(s.output))},
      {"b_k_major", s.b_k_major},
      {"b_scale", scale_name(s.b_scale)},
      {"b_zero", s.b_zero},
      {"vec_a", s.vec_a},
      {"vec_b", s.vec_b},
      {"tile", {s.tile.bm, s.tile.bn, s.tile.bk, s.tile.stages, s.tile.warps_m, s.tile.warps_n}},
      {"epilogue",
       {{"activation", activation_name(s.epilogue.activation)},
        {"bias", bias_name(s.epilogue.bias)},
        {"quantize", s.epilogue.quantize},
        {"saturate", s.epilogue.saturate}}},
      {"form",
       {{"gemm", s.form.gemm},
        {"alpha", s.form.alpha},
        {"beta", s.form.beta},
        {"b_block", s.form.b_block},
        {"b_scale_k_first", s.form.b_scale_k_first}}},
  };
}

void from_json(const nlohmann::json& j, QGemmSpec& s) {
  const auto fail = [](const std::string& what) -> void {
    throw Exception(kSpecInvalid, "quantized GEMM spec JSON: " + what);
  };
  try {
    const std::string algorithm = j.at("algorithm").get<std::string>();
    if (algorithm == "mma_sync") {
      s.algorithm = QGemmAlgorithm::kMmaSync;
    } else if (algorithm == "wgmma") {
      s.algorithm = QGemmAlgorithm::kWgmma;
    } else {
      fail("unknown algorithm '" + algorithm + "'");
    }
    const auto dtype = [&](const char* key) {
      const auto name = j.at(key).get<std::string>();
      auto t = data_type_from_string(name);
      if (!t) fail(std::string("unknown dtype '") + name + "' for " + key);
      return *t;
    };
    s.a = dtype("a");
    s.b = dtype("b");
    s.scale = dtype("scale");
    s.mid = dtype("mid");
    s.output = dtype("output");
    s.b_k_major = j.at("b_k_major").get<bool>();
    const auto scale = j.at("b_scale").get<std::string>();
    bool found = false;
    for (int m = 0; m <= static_cast<int>(QScaleMode::kBlocked); ++m) {
      if (scale == scale_name(static_cast<QScaleMode>(m))) {
        s.b_scale = static_cast<QScaleMode>(m);
        found = true;
      }
    }
    if (!found) fail("unknown b_scale '" + scale + "'");
    s.b_zero = j.at("b_zero").get<bool>();
    s.vec_a = j.at("vec_a").get<int>();
    s.vec_b = j.at("vec_b").get<int>();
    const auto tile = j.at("tile").get<std::vector<int>>();
    if (tile.size() != 6) fail("tile needs 6 values (bm, bn, bk, stages, warps_m, warps_n)");
    s.tile = GemmTile{tile[0], tile[1], tile[2], tile[3], tile[4], tile[5]};
    const auto& e = j.at("epilogue");
    const auto act = e.at("activation").get<std::string>();
    const auto activation = activation_from_name(act);
    if (!activation) fail("unknown activation '" + act + "'");
    s.epilogue.activation = *activation;
    const auto bias = e.at("bias").get<std::string>();
    found = false;
    for (int b = 0; b <= static_cast<int>(QBiasMode::kGemmC); ++b) {
      if (bias == bias_name(static_cast<QBiasMode>(b))) {
        s.epilogue.bias = static_cast<QBiasMode>(b);
        found = true;
      }
    }
    if (!found) fail("unknown bias mode '" + bias + "'");
    s.epilogue.quantize = e.at("quantize").get<bool>();
    s.epilogue.saturate = e.at("saturate").get<bool>();
    const auto& f = j.at("form");
    s.form.gemm = f.at("gemm").get<bool>();
    s.form.alpha = f.at("alpha").get<double>();
    s.form.beta = f.at("beta").get<double>();
    s.form.b_block = f.at("b_block").get<int64_t>();
    s.form.b_scale_k_first = f.at("b_scale_k_first").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    fail(e.what());
  }
}

// ---- problems ------------------------------------------------------------------------------------

Expected<QGemmProblem> qgemm_problem(const QGemmSpec& spec, std::span<const int64_t> a_shape,
                                     std::span<const int64_t> b_shape,
                                     std::span<const int64_t> b_scale_shape) {
  return detail::catch_errors(kNotImplementable, [&]() -> Expected<QGemmProblem> {
    QGemmProblem q;
    if (b_shape.size() < 2) return problem_error(spec, "B must have rank >= 2");
    if (spec.b_k_major && b_shape.size() != 2) return problem_error(spec, "a K-major B is 2-D");
    if (spec.form.gemm) {
      q.shape = gemm_problem(a_shape, b_shape, false, spec.b_k_major, false, {},
                             static_cast<float>(spec.form.alpha), static_cast<float>(spec.form.beta));
    } else {
      // MatMul sees the logical (K, N) operand; a K-major B is read in its stored layout.
      std::vector<int64_t> logical(b_shape.begin(), b_shape.end());
      if (spec.b_k_major) std::swap(logical[0], logical[1]);
      q.shape = matmul_problem(a_shape, logical);
      if (spec.b_k_major) {
        q.shape.b_k_major = true;
        q.shape.ldb = q.shape.k;
      }
      q.shape.beta = static_cast<float>(spec.form.beta);
    }
    const int64_t k = q.shape.k, n = q.shape.n;
    const int64_t scale_count = element_count(b_scale_shape);
    switch (spec.b_scale) {
      case QScaleMode::kPerTensor:
        if (scale_count != 1) return problem_error(spec, "a per-tensor scale has one element");
        q.b_block = std::max<int64_t>(k, 1);
        break;
      case QScaleMode::kPerColumn:
        if (scale_count != n) return problem_error(spec, "a per-column scale has N elements");
        q.b_scale_n_stride = 1;
        q.b_block = std::max<int64_t>(k, 1);
        break;
      case QScaleMode::kBlocked: {
        const int64_t block = spec.form.b_block;
        if (block < 1) return problem_error(spec, "a blocked scale needs a block size >= 1");
        const int64_t kb = ceil_div(k, block);
        q.b_block = block;
        if (b_scale_shape.size() == 1) {
          if (b_scale_shape[0] != kb) return problem_error(spec, "a scale along K has ceil(K / block) elements");
          q.b_scale_k_stride = 1;
        } else if (b_scale_shape.size() == 2) {
          const bool fits = spec.form.b_scale_k_first
                                ? (b_scale_shape[0] == kb && b_scale_shape[1] == n)
                                : (b_scale_shape[0] == n && b_scale_shape[1] == kb);
          if (!fits) return problem_error(spec, "blocked scale shape " + shape_to_string(b_scale_shape) +
                                                    " does not fit K, N and the block");
          if (spec.form.b_scale_k_first) {
            q.b_scale_k_stride = n;
            q.b_scale_n_stride = 1;
          } else {
            q.b_scale_k_stride = 1;
            q.b_scale_n_stride = kb;
          }
        } else {
          return problem_error(spec, "a blocked scale is 1-D or 2-D");
        }
        break;
      }
    }
    return q;
  });
}

// ---- can_implement / launch ----------------------------------------------------------------------

Expected<void> can_implement(const QGemmSpec& spec, const QGemmProblem& q) {
  if (auto ok = spec.validate(); !ok) return ok;
  const GemmProblem& p = q.shape;
  if (!p.a_k_major) return problem_error(spec, "A must be stored (M, K)");
  if (spec.b_k_major != p.b_k_major) return problem_error(spec, "B's layout differs from the problem's");
  if (p.m < 0 || p.n < 0 || p.k < 0) return problem_error(spec, "negative extent");
  const size_t rank = p.batch.size();
  if (rank > static_cast<size_t>(dev::kMaxBatchRank))
    return problem_error(spec, std::to_string(rank) + " batch dims after merging; at most " +
                                   std::to_string(dev::kMaxBatchRank));
  for (const auto* s : {&p.a_batch, &p.b_batch, &p.d_batch})
    if (s->size() != rank) return problem_error(spec, "batch stride lists differ in length");
  for (int64_t d : p.batch)
    if (d < 0) return problem_error(spec, "negative batch extent");
  const bool b_batched = std::any_of(p.b_batch.begin(), p.b_batch.end(), [](int64_t s) { return s != 0; });
  if (b_batched && spec.b_scale != QScaleMode::kPerTensor)
    return problem_error(spec, "a batched B needs a per-tensor scale");
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  const int64_t tiles = ceil_div(p.m, spec.tile.bm) * ceil_div(p.n, spec.tile.bn);
  if (tiles > kInt32Max || p.m > kInt32Max || p.n > kInt32Max || p.k > kInt32Max)
    return problem_error(spec, "M, N, K and the tile count must fit in int32");
  if (q.b_block < 1 || q.b_block > kInt32Max) return problem_error(spec, "B's scale block out of range");
  if (is_8bit_int(spec.a) && p.k * max_product(spec.a, spec.b) > kInt32Max)
    return problem_error(spec, "K = " + std::to_string(p.k) + " could overflow the s32 accumulators");

  // Copy vectors: every row start and batch start must be a whole vector (elements of A;
  // bytes of raw B).
  const auto all_multiple = [](const std::vector<int64_t>& v, int64_t m) {
    return std::all_of(v.begin(), v.end(), [&](int64_t s) { return multiple_of(s, m); });
  };
  if (!(p.m <= 1 || multiple_of(p.lda, spec.vec_a)) || !all_multiple(p.a_batch, spec.vec_a))
    return problem_error(spec, "A's row or batch stride is not a multiple of " + std::to_string(spec.vec_a) +
                                   " elements (lda " + std::to_string(p.lda) + ")");
  const int b_bits = bits(spec.b);
  if ((p.ldb * b_bits) % 8 != 0 || std::any_of(p.b_batch.begin(), p.b_batch.end(),
                                                [&](int64_t s) { return (s * b_bits) % 8 != 0; }))
    return problem_error(spec, "packed 4-bit B rows must start on whole bytes (even ldb)");
  const int64_t ldb_bytes = p.ldb * b_bits / 8;
  std::vector<int64_t> b_batch_bytes;
  for (int64_t s : p.b_batch) b_batch_bytes.push_back(s * b_bits / 8);
  if (!multiple_of(ldb_bytes, spec.vec_b) || !all_multiple(b_batch_bytes, spec.vec_b))
    return problem_error(spec, "B's row or batch stride is not a multiple of " + std::to_string(spec.vec_b) +
                                   " bytes (ldb " + std::to_string(p.ldb) + ")");

  if (spec.algorithm == QGemmAlgorithm::kWgmma) {
    if (rank > 1) return problem_error(spec, "wgmma takes at most one batch dim");
    if (p.batch_count() > 65535) return problem_error(spec, "wgmma takes at most 65535 batches");
    const auto tma_ok = [&](int64_t ld, const std::vector<int64_t>& batch) {
      return ld % 16 == 0 && ld > 0 && (batch.empty() || batch[0] % 16 == 0);
    };
    if (!tma_ok(p.lda, p.a_batch) || !tma_ok(p.ldb, p.b_batch))
      return problem_error(spec, "TMA needs row and batch strides that are multiples of 16 bytes");
    if (p.k == 0) return problem_error(spec, "K = 0 goes to the mma.sync kernel");
  }
  return {};
}

Expected<void> can_implement(const QGemmSpec& spec, const QGemmProblem& q, const QGemmBuffers& b) {
  if (auto ok = can_implement(spec, q); !ok) return ok;
  const GemmProblem& p = q.shape;
  if (p.m == 0 || p.n == 0 || p.batch_count() == 0) return {};
  const auto bad = [&](const std::string& what) {
    return Error{kBadBuffer, "quantized GEMM " + spec.describe() + ": " + what};
  };
  if (b.d == nullptr) return bad("no output buffer");
  if (p.k > 0 && (b.a == nullptr || b.b == nullptr || b.b_scale == nullptr))
    return bad("no A, B or B scale buffer");
  if (!spec.weight_only() && b.a_scale == nullptr) return bad("no A scale buffer");
  if (spec.b_zero && b.b_zero == nullptr) return bad("no B zero-point buffer");
  if (spec.epilogue.bias != QBiasMode::kNone && b.bias == nullptr) return bad("no bias buffer");
  if (spec.epilogue.quantize && b.y_scale == nullptr) return bad("no output scale buffer");
  const auto aligned = [](const void* ptr, int bytes) {
    return reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(bytes) == 0;
  };
  const int align_a = spec.algorithm == QGemmAlgorithm::kWgmma
                          ? 16
                          : spec.vec_a * static_cast<int>(bit_width(spec.a) / 8);
  const int align_b = spec.algorithm == QGemmAlgorithm::kWgmma ? 16 : spec.vec_b;
  if (!aligned(b.a, align_a) || !aligned(b.b, align_b))
    return bad("A or B is not aligned to its copy vector (" + std::to_string(align_a) + "/" +
               std::to_string(align_b) + " bytes)");
  if (!aligned(b.d, static_cast<int>(bit_width(spec.output) / 8))) return bad("D is not element-aligned");
  return {};
}

LaunchConfig launch_config(const QGemmSpec& spec, const QGemmProblem& q) {
  LaunchConfig c;
  const GemmProblem& p = q.shape;
  const int64_t tiles = ceil_div(p.m, spec.tile.bm) * ceil_div(p.n, spec.tile.bn);
  c.grid.x = static_cast<unsigned>(tiles);
  c.grid.y = 1;
  c.grid.z = static_cast<unsigned>(std::min<int64_t>(p.batch_count(), 65535));
  c.block.x = static_cast<unsigned>(spec.threads());
  c.shared_bytes = static_cast<size_t>(spec.shared_bytes());
  return c;
}

dev::QGemmParams make_params(const QGemmSpec& spec, const QGemmProblem& q, const QGemmBuffers& b) {
  const GemmProblem& p = q.shape;
  dev::QGemmParams params;
  std::memset(&params, 0, sizeof(params));
  params.a = b.a;
  params.b = b.b;
  params.d = b.d;
  params.m = p.m;
  params.n = p.n;
  params.k = p.k;
  params.lda = p.lda;
  params.ldb = p.ldb;
  params.ldd = p.ldd;
  params.batch_rank = static_cast<int32_t>(p.batch.size());
  params.group_m = 8;
  params.batch_count = p.batch_count();
  const auto copy = [](const std::vector<int64_t>& from, int64_t* to) {
    for (size_t i = 0; i < from.size() && i < static_cast<size_t>(dev::kMaxBatchRank); ++i) to[i] = from[i];
  };
  copy(p.batch, params.batch_dims);
  copy(p.a_batch, params.a_batch_stride);
  copy(p.b_batch, params.b_batch_stride);
  copy(p.d_batch, params.d_batch_stride);
  params.a_scale = b.a_scale;
  params.b_scale = b.b_scale;
  params.b_zero = spec.b_zero ? b.b_zero : nullptr;
  params.b_scale_k_stride = q.b_scale_k_stride;
  params.b_scale_n_stride = q.b_scale_n_stride;
  params.b_block = q.b_block;
  params.bias = b.bias;
  params.y_scale = b.y_scale;
  params.y_zero = b.y_zero;
  params.alpha = p.alpha;
  params.beta = p.beta;
  params.tiles_m = static_cast<int32_t>(ceil_div(p.m, spec.tile.bm));
  params.tiles_n = static_cast<int32_t>(ceil_div(p.n, spec.tile.bn));
  return params;
}

namespace {

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*,
                                 const cuuint64_t*, const cuuint64_t*, const cuuint32_t*,
                                 const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                 CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

/// cuTensorMapEncodeTiled through cudart's driver entry point lookup: no link-time libcuda.
Expected<EncodeTiled> encode_tiled() {
  static std::once_flag once;
  static EncodeTiled fn = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    void* ptr = nullptr;
    cudaDriverEntryPointQueryResult status{};
    const cudaError_t err = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &ptr, 12000,
                                                              cudaEnableDefault, &status);
    if (err != cudaSuccess || status != cudaDriverEntryPointSuccess || ptr == nullptr) {
      failure = std::string("cuTensorMapEncodeTiled is unavailable: ") + cudaGetErrorString(err);
      return;
    }
    fn = reinterpret_cast<EncodeTiled>(ptr);
  });
  if (fn == nullptr) return Error{kLaunchSetup, failure};
  return fn;
}

/// A 3-D TMA map over a K-major 8-bit matrix: dims (K, rows, batch), box (128, box_rows, 1),
/// 128-byte swizzle, zero fill outside.
Expected<void> make_tma_8bit(rtx::kernels::gemm::TmaDescriptor& desc, const void* ptr, int64_t k,
                             int64_t rows, int64_t ld, int64_t batch, int64_t batch_stride,
                             uint32_t box_rows) {
  auto fn = encode_tiled();
  if (!fn) return fn.error();
  static_assert(sizeof(CUtensorMap) == sizeof(rtx::kernels::gemm::TmaDescriptor), "TMA map size");
  const bool batched = batch > 1 && batch_stride != 0;
  const cuuint64_t dims[3] = {static_cast<cuuint64_t>(std::max<int64_t>(k, 1)),
                              static_cast<cuuint64_t>(std::max<int64_t>(rows, 1)),
                              static_cast<cuuint64_t>(batched ? batch : 1)};
  const cuuint64_t strides[2] = {static_cast<cuuint64_t>(ld),
                                 static_cast<cuuint64_t>(batched ? batch_stride : ld * static_cast<int64_t>(dims[1]))};
  const cuuint32_t box[3] = {128, box_rows, 1};
  const cuuint32_t element_strides[3] = {1, 1, 1};
  const CUresult r = (*fn)(reinterpret_cast<CUtensorMap*>(&desc), CU_TENSOR_MAP_DATA_TYPE_UINT8, 3,
                           const_cast<void*>(ptr), dims, strides, box, element_strides,
                           CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                           CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    return Error{kLaunchSetup, "cuTensorMapEncodeTiled failed with CUresult " + std::to_string(static_cast<int>(r))};
  return {};
}

}  // namespace

Expected<void> make_tma_maps(const QGemmSpec& spec, const QGemmProblem& q, const QGemmBuffers& b,
                             rtx::kernels::gemm::TmaDescriptor& a_map, rtx::kernels::gemm::TmaDescriptor& b_map) {
  const GemmProblem& p = q.shape;
  const int64_t batch = p.batch_count();
  const int64_t a_bs = p.a_batch.empty() ? 0 : p.a_batch[0];
  const int64_t b_bs = p.b_batch.empty() ? 0 : p.b_batch[0];
  if (auto ok = make_tma_8bit(a_map, b.a, p.k, p.m, p.lda, batch, a_bs, 128); !ok) return ok;
  return make_tma_8bit(b_map, b.b, p.k, p.n, p.ldb, batch, b_bs, static_cast<uint32_t>(spec.tile.bn));
}

Expected<void> run(const QGemmSpec& spec, const Kernel& kernel, const QGemmProblem& q,
                   const QGemmBuffers& b, void* stream) {
  if (auto ok = can_implement(spec, q, b); !ok) return ok;
  const LaunchConfig lc = launch_config(spec, q);
  if (lc.grid.x == 0 || lc.grid.z == 0) return {};
  dev::QGemmParams params = make_params(spec, q, b);
  if (lc.shared_bytes > 48 * 1024) {
    if (auto ok = kernel.set_max_dynamic_shared_memory(static_cast<int>(lc.shared_bytes)); !ok) return ok;
  }
  if (spec.algorithm == QGemmAlgorithm::kWgmma) {
    rtx::kernels::gemm::TmaDescriptor ta, tb;
    if (auto ok = make_tma_maps(spec, q, b, ta, tb); !ok) return ok;
    void* args[] = {&params, &ta, &tb};
    return kernel.launch(lc.grid, lc.block, lc.shared_bytes, stream, args);
  }
  void* args[] = {&params};
  return kernel.launch(lc.grid, lc.block, lc.shared_bytes, stream, args);
}

// ---- planning ------------------------------------------------------------------------------------

std::optional<QGemmSpec> choose_qgemm_spec(QGemmSpec base, const QGemmProblem& q,
                                           const QGemmPlanOptions& options) {
  const GemmProblem& p = q.shape;
  const int64_t batches = std::max<int64_t>(p.batch_count(), 1);
  const int64_t sms = options.multiprocessors > 0 ? options.multiprocessors : 132;
  const int limit = max_shared_bytes(options.sm);
  const int b_bits = bits(base.b);
  const auto largest_vec = [](int64_t ld_bytes, const std::vector<int64_t>& batch_bytes, int max) {
    for (int v = max; v >= 4; v /= 2) {
      if (!multiple_of(ld_bytes, v)) continue;
      if (std::all_of(batch_bytes.begin(), batch_bytes.end(), [&](int64_t s) { return multiple_of(s, v); }))
        return v;
    }
    return 0;
  };
  std::vector<int64_t> b_batch_bytes;
  for (int64_t s : p.b_batch) b_batch_bytes.push_back(s * b_bits / 8);
  const int64_t ldb_bytes = p.ldb * b_bits / 8;
  base.vec_b = largest_vec(ldb_bytes, b_batch_bytes, 16);
  if (base.vec_b == 0) return std::nullopt;
  base.b_k_major = p.b_k_major;

  if (!base.weight_only()) {
    base.vec_a = largest_vec(p.m <= 1 ? 16 : p.lda, p.a_batch, 16);
    if (base.vec_a == 0) return std::nullopt;
    // Hopper: wgmma + TMA where the target is sm_90a and B is stored (N, K).
    if (options.sm == 90 && options.arch_specific && p.b_k_major) {
      QGemmSpec w = base;
      w.algorithm = QGemmAlgorithm::kWgmma;
      w.vec_a = w.vec_b = 16;
      for (const auto& [bn, stages] : {std::pair{256, 4}, std::pair{128, 6}}) {
        w.tile = GemmTile{kWgmmaBM, bn, kWgmmaBK, stages, 1, 1};
        const int64_t tiles = ceil_div(p.m, kWgmmaBM) * ceil_div(p.n, bn) * batches;
        if (tiles * 5 >= sms * 4 || bn == 128) break;
      }
      if (can_implement(w, q)) return w;
    }
    // No 256x128 tile with 64x64 warp tiles (the f16 path's best): with s32/f32 accumulators of
    // 8-bit MMAs ptxas spills there (40-360 bytes on sm_90), while 64x32 warp tiles stay in
    // registers (about 230).
    const GemmTile medium{128, 128, 128, 4, 2, 4};
    const GemmTile small{64, 128, 128, 4, 2, 4};
    const int64_t medium_tiles = ceil_div(p.m, 128) * ceil_div(p.n, 128) * batches;
    std::vector<GemmTile> order;
    if (medium_tiles >= sms / 2) {
      order = {medium, small};
    } else {
      order = {small, medium};
    }
    for (GemmTile t : order) {
      for (; t.stages >= 2; --t.stages) {
        base.tile = t;
        if (base.shared_bytes() <= limit && base.validate()) return base;
      }
    }
    return std::nullopt;
  }

  base.vec_a = choose_vector(base.a, p.m <= 1 ? 0 : p.lda, p.a_batch);
  // Weight-only GEMMs are mostly memory-bound on B at small M: narrow tiles give more blocks.
  const GemmTile large{128, 128, 64, 4, 2, 4};
  const GemmTile small{64, 128, 64, 4, 2, 4};
  const GemmTile narrow{64, 64, 64, 4, 2, 2};
  const int64_t small_tiles = ceil_div(p.m, 64) * ceil_div(p.n, 128) * batches;
  std::vector<GemmTile> order;
  if (p.m > 64 && ceil_div(p.m, 128) * ceil_div(p.n, 128) * batches >= sms) {
    order = {large, small, narrow};
  } else if (small_tiles >= sms) {
    order = {small, narrow};
  } else {
    order = {narrow, small};
  }
  for (GemmTile t : order) {
    for (; t.stages >= 2; --t.stages) {
      base.tile = t;
      if (base.shared_bytes() <= limit && base.validate()) return base;
    }
  }
  return std::nullopt;
}

std::optional<QGemmSpec> plan_qgemm(const ir::Graph& graph, const ir::QuantGemmGroup& group,
                                    const QGemmPlanOptions& options) {
  QGemmSpec spec;
  spec.a = group.a_type;
  spec.b = group.b_type;
  spec.scale = group.scale_type;
  spec.mid = group.mid_type;
  spec.output = group.output_type;
  spec.b_k_major = group.b_k_major;
  switch (group.b_granularity) {
    case ir::QuantScale::kPerTensor: spec.b_scale = QScaleMode::kPerTensor; break;
    case ir::QuantScale::kPerColumn: spec.b_scale = QScaleMode::kPerColumn; break;
    case ir::QuantScale::kBlocked: spec.b_scale = QScaleMode::kBlocked; break;
  }
  spec.b_zero = group.b_zero != ir::kNoValue;
  if (group.activation >= 0) {
    const auto act = epilogue_activation(graph.node(group.activation));
    if (!act) return std::nullopt;
    spec.epilogue.activation = *act;
  }
  if (group.bias != ir::kNoValue)
    spec.epilogue.bias = group.bias_is_gemm_c ? QBiasMode::kGemmC : QBiasMode::kAdd;
  spec.epilogue.quantize = group.y_q >= 0;
  spec.epilogue.saturate = group.saturate;
  spec.form.gemm = group.gemm;
  spec.form.alpha = group.alpha;
  spec.form.beta = group.beta;
  spec.form.b_block = group.b_block;
  spec.form.b_scale_k_first = group.b_scale_k_first;
  if (spec.min_sm() > options.sm) return std::nullopt;

  // A representative problem: dynamic dims get a placeholder that assumes nothing about
  // alignment (1) where they set strides, and a large extent for the tile choice.
  const auto known = [](int64_t d) { return d != ir::kDynamic; };
  std::vector<int64_t> a_shape = graph.value(group.a).info.shape;
  std::vector<int64_t> b_shape = graph.value(group.b).info.shape;
  std::vector<int64_t> s_shape = graph.value(group.b_scale).info.shape;
  if (a_shape.empty() || b_shape.size() < 2) return std::nullopt;
  for (size_t i = 0; i + 1 < a_shape.size(); ++i)
    if (!known(a_shape[i])) a_shape[i] = i + 2 == a_shape.size() ? 4096 : 1;
  if (!known(a_shape.back())) a_shape.back() = 1;
  for (auto& d : b_shape)
    if (!known(d)) d = 1;
  for (auto& d : s_shape)
    if (!known(d)) return std::nullopt;
  auto problem = qgemm_problem(spec, a_shape, b_shape, s_shape);
  if (!problem) return std::nullopt;
  auto chosen = choose_qgemm_spec(spec, *problem, options);
  if (!chosen || !can_implement(*chosen, *problem)) return std::nullopt;
  return chosen;
}

}  // namespace rtx::jit::kernels
