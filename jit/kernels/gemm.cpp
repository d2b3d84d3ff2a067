// SPDX-License-Identifier: Apache-2.0
// Host side of the GEMM family: spec rendering and (de)serialisation, problem construction from
// MatMul/Gemm shapes, can_implement, launch configuration, parameter blocks, TMA maps for the
// Hopper kernel, and the planner that maps IR nodes to specs.
#include "jit/kernels/gemm.hpp"

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "ir/graph.hpp"

namespace rtx::jit::kernels {
namespace {

namespace dev = rtx::kernels::gemm;

constexpr const char* kSpecInvalid = "rtx.jit.401";
constexpr const char* kNotImplementable = "rtx.jit.402";
constexpr const char* kBadBuffer = "rtx.jit.403";
constexpr const char* kLaunchSetup = "rtx.jit.404";

bool is_gemm_float(DataType t) {
  return t == DataType::kF16 || t == DataType::kBF16 || t == DataType::kF32;
}

int elem_bytes(DataType t) {
  return static_cast<int>(bit_width(t) / 8);
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

const char* activation_name(GemmActivation a) {
  switch (a) {
    case GemmActivation::kNone:
      return "none";
    case GemmActivation::kRelu:
      return "relu";
    case GemmActivation::kGelu:
      return "gelu";
    case GemmActivation::kGeluTanh:
      return "gelu_tanh";
    case GemmActivation::kSilu:
      return "silu";
    case GemmActivation::kSigmoid:
      return "sigmoid";
    case GemmActivation::kTanh:
      return "tanh";
    case GemmActivation::kFloor:
      return "floor";
  }
  return "?";
}

std::optional<GemmActivation> activation_from_name(std::string_view name) {
  for (int a = 0; a <= static_cast<int>(GemmActivation::kTanh); ++a) {
    if (name == activation_name(static_cast<GemmActivation>(a))) return static_cast<GemmActivation>(a);
  }
  return std::nullopt;
}

std::optional<GemmActivation> epilogue_activation(const ir::Node& n) {
  switch (n.op) {
    case ir::OpKind::kRelu: return GemmActivation::kRelu;
    case ir::OpKind::kSigmoid: return GemmActivation::kSigmoid;
    case ir::OpKind::kTanh: return GemmActivation::kTanh;
    case ir::OpKind::kSilu: return GemmActivation::kSilu;
    case ir::OpKind::kGelu: {
      const std::string approx = n.attr_string("approximate", "none");
      if (approx == "none") return GemmActivation::kGelu;
      if (approx == "tanh") return GemmActivation::kGeluTanh;
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

float activation_floor(GemmActivation a) {
  return a == GemmActivation::kRelu ? 0.0f : -std::numeric_limits<float>::infinity();
}

namespace {

std::string epilogue_expression(const GemmEpilogue& e) {
  std::ostringstream s;
  s << "rtx::kernels::gemm::Epilogue<(rtx::kernels::gemm::Activation)"
    << static_cast<int>(kernel_activation(e.activation)) << ", (rtx::kernels::gemm::BiasMode)"
    << static_cast<int>(e.bias) << ", " << (e.c ? "true" : "false") << ", "
    << (e.residual ? "true" : "false") << ">";
  return s.str();
}

const char* bias_name(GemmBiasMode b) {
  switch (b) {
    case GemmBiasMode::kNone:
      return "none";
    case GemmBiasMode::kPerColumn:
      return "per_column";
    case GemmBiasMode::kPerRow:
      return "per_row";
  }
  return "?";
}

Error spec_error(const GemmSpec& spec, const std::string& what) {
  return Error{kSpecInvalid, "GEMM spec " + spec.describe() + ": " + what};
}

Error problem_error(const GemmSpec& spec, const std::string& what) {
  return Error{kNotImplementable,
               "GEMM spec " + spec.describe() + " cannot run this problem: " + what};
}

bool multiple_of(int64_t value, int64_t v) {
  return v <= 1 || value % v == 0;
}

// wgmma kernel geometry (gemm/gemm_sm90.cuh).
constexpr int kWgmmaBM = 128;
constexpr int kWgmmaBK = 64;
constexpr int kWgmmaThreads = 384;

}  // namespace

// ---- GemmSpec ----------------------------------------------------------------------------------

std::string GemmSpec::name_expression() const {
  std::ostringstream s;
  const auto in = cuda_type_name(input), out = cuda_type_name(output);
  if (algorithm == GemmAlgorithm::kWgmma) {
    s << "rtx::kernels::gemm::gemm_wgmma<" << in << ", " << out << ", " << tile.bn << ", "
      << tile.stages << ", " << (a_k_major ? "true" : "false") << ", "
      << (b_k_major ? "true" : "false") << ", " << epilogue_expression(epilogue) << ">";
    return s.str();
  }
  s << "rtx::kernels::gemm::gemm_mma<" << in << ", " << out << ", rtx::kernels::gemm::TileShape<"
    << tile.bm << ", " << tile.bn << ", " << tile.bk << ", " << tile.stages << ", " << tile.warps_m
    << ", " << tile.warps_n << ">, " << (a_k_major ? "true" : "false") << ", "
    << (b_k_major ? "true" : "false") << ", " << vec_a << ", " << vec_b << ", "
    << epilogue_expression(epilogue) << ">";
  return s.str();
}

std::string GemmSpec::source() const {
  return algorithm == GemmAlgorithm::kWgmma ? "#include \"gemm/gemm_sm90.cuh\"\n"
                                            : "#include \"gemm/gemm_sm80.cuh\"\n";
}

Program GemmSpec::program() const {
  const GemmSpec one[] = {*this};
  return gemm_program(one);
}

int GemmSpec::threads() const {
  return algorithm == GemmAlgorithm::kWgmma ? kWgmmaThreads : tile.warps_m * tile.warps_n * 32;
}

int GemmSpec::shared_bytes() const {
  const int e = elem_bytes(input);
  if (algorithm == GemmAlgorithm::kWgmma) {
    return tile.stages * (kWgmmaBM + tile.bn) * kWgmmaBK * e + 16 * tile.stages + 1024;
  }
  const int pipeline = tile.stages * (tile.bm + tile.bn) * tile.bk * e;
  const int epilogue = tile.bm * (tile.bn + 8) * 4;
  return std::max(pipeline, epilogue);
}

bool GemmSpec::supports(const Target& target) const {
  if (algorithm == GemmAlgorithm::kWgmma) {
    return target.sm == 90 && target.arch_specific && !target.ptx;
  }
  return target.sm >= 80;
}

Expected<void> GemmSpec::validate() const {
  if (!is_gemm_float(input)) return spec_error(*this, "input dtype must be f16, bf16 or f32");
  if (!is_gemm_float(output)) return spec_error(*this, "output dtype must be f16, bf16 or f32");
  const int e = elem_bytes(input);
  if (algorithm == GemmAlgorithm::kWgmma) {
    if (e != 2) return spec_error(*this, "wgmma takes f16 or bf16 inputs (f32 uses mma.sync)");
    if (tile.bm != kWgmmaBM || tile.bk != kWgmmaBK ||
        (tile.bn != 64 && tile.bn != 128 && tile.bn != 256))
      return spec_error(*this, "wgmma tiles are 128 x {64, 128, 256} x 64");
    if (tile.stages < 2 || tile.stages > 8) return spec_error(*this, "stages must be 2..8");
    if (tile.bm * (tile.bn + 8) * 4 > tile.stages * (tile.bm + tile.bn) * tile.bk * e)
      return spec_error(*this, "too few stages to hold the epilogue's staging tile");
    if (shared_bytes() > max_shared_bytes(90))
      return spec_error(*this, "needs more shared memory than sm_90 has");
    return {};
  }
  const auto& t = tile;
  if (t.warps_m < 1 || t.warps_n < 1 || t.warps_m * t.warps_n > 16)
    return spec_error(*this, "warp grid must have 1..16 warps");
  if (t.stages < 2 || t.stages > 8) return spec_error(*this, "stages must be 2..8");
  if (t.bm <= 0 || t.bn <= 0 || t.bk <= 0 || t.bm % (16 * t.warps_m) != 0 ||
      t.bn % (16 * t.warps_n) != 0)
    return spec_error(*this, "BM and BN must be multiples of 16 x warps");
  if ((t.bk * e) % 128 != 0)
    return spec_error(*this, "BK * element size must be a multiple of 128");
  if (!a_k_major && (t.bm * e) % 128 != 0)
    return spec_error(*this, "an M-major A tile needs BM * element size to be a multiple of 128");
  if (!b_k_major && (t.bn * e) % 128 != 0)
    return spec_error(*this, "an N-major B tile needs BN * element size to be a multiple of 128");
  const int max_vec = 16 / e;
  for (int v : {vec_a, vec_b}) {
    if (v < 1 || v > max_vec || (v & (v - 1)) != 0)
      return spec_error(*this, "copy vectors must be powers of two of at most 16 bytes");
  }
  const int threads = this->threads();
  if ((t.bm * t.bk / vec_a) % threads != 0 || (t.bn * t.bk / vec_b) % threads != 0)
    return spec_error(*this, "tile copies must divide evenly among the block's threads");
  const int out_vec = output == DataType::kF32 ? 4 : 8;
  if (t.bn % out_vec != 0 || threads % (t.bn / out_vec) != 0)
    return spec_error(*this, "the epilogue needs threads to cover whole rows of BN");
  if (shared_bytes() > 232448) return spec_error(*this, "needs more than 227 KiB of shared memory");
  return {};
}

std::string GemmSpec::describe() const {
  std::ostringstream s;
  s << (algorithm == GemmAlgorithm::kWgmma ? "wgmma " : "mma_sync ") << to_string(input) << "->"
    << to_string(output) << " " << tile.bm << "x" << tile.bn << "x" << tile.bk << " s"
    << tile.stages;
  if (algorithm == GemmAlgorithm::kMmaSync) s << " w" << tile.warps_m << "x" << tile.warps_n;
  s << " " << (a_k_major ? "K" : "M") << (b_k_major ? "K" : "N") << " v" << vec_a << "/" << vec_b;
  s << " " << activation_name(epilogue.activation);
  if (epilogue.bias != GemmBiasMode::kNone) s << "+bias_" << bias_name(epilogue.bias);
  if (epilogue.c) s << "+c";
  if (epilogue.residual) s << "+residual";
  return s.str();
}

Program gemm_program(std::span<const GemmSpec> specs, std::string name) {
  Program p;
  p.name = std::move(name);
  bool sm80 = false, sm90 = false;
  for (const auto& s : specs) {
    p.name_expressions.push_back(s.name_expression());
    (s.algorithm == GemmAlgorithm::kWgmma ? sm90 : sm80) = true;
  }
  if (sm80) p.source += "#include \"gemm/gemm_sm80.cuh\"\n";
  if (sm90) p.source += "#include \"gemm/gemm_sm90.cuh\"\n";
  return p;
}

void to_json(nlohmann::json& j, const GemmSpec& s) {
  j = nlohmann::json{
      {"algorithm", s.algorithm == GemmAlgorithm::kWgmma ? "wgmma" : "mma_sync"},
      {"input", std::string(to_string(s.input))},
      {"output", std::string(to_string(s.output))},
      {"a_k_major", s.a_k_major},
      {"b_k_major", s.b_k_major},
      {"vec_a", s.vec_a},
      {"vec_b", s.vec_b},
      {"tile", {s.tile.bm, s.tile.bn, s.tile.bk, s.tile.stages, s.tile.warps_m, s.tile.warps_n}},
      {"epilogue",
       {{"activation", activation_name(s.epilogue.activation)},
        {"bias", bias_name(s.epilogue.bias)},
        {"c", s.epilogue.c},
        {"residual", s.epilogue.residual}}},
  };
}

void from_json(const nlohmann::json& j, GemmSpec& s) {
  const auto fail = [](const std::string& what) {
    throw Exception(kSpecInvalid, "GEMM spec JSON: " + what);
  };
  const std::string algorithm = j.at("algorithm").get<std::string>();
  if (algorithm == "mma_sync") {
    s.algorithm = GemmAlgorithm::kMmaSync;
  } else if (algorithm == "wgmma") {
    s.algorithm = GemmAlgorithm::kWgmma;
  } else {
    fail("unknown algorithm '" + algorithm + "'");
  }
  const auto dtype = [&](const char* key) {
    const auto name = j.at(key).get<std::string>();
    auto t = data_type_from_string(name);
    if (!t) fail(std::string("unknown dtype '") + name + "' for " + key);
    return *t;
  };
  s.input = dtype("input");
  s.output = dtype("output");
  s.a_k_major = j.at("a_k_major").get<bool>();
  s.b_k_major = j.at("b_k_major").get<bool>();
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
  bool found = false;
  for (int b = 0; b <= static_cast<int>(GemmBiasMode::kPerRow); ++b) {
    if (bias == bias_name(static_cast<GemmBiasMode>(b))) {
      s.epilogue.bias = static_cast<GemmBiasMode>(b);
      found = true;
    }
  }
  if (!found) fail("unknown bias mode '" + bias + "'");
  s.epilogue.c = e.at("c").get<bool>();
  s.epilogue.residual = e.at("residual").get<bool>();
}

// ---- problems ----------------------------------------------------------------------------------

int64_t GemmProblem::batch_count() const {
  int64_t n = 1;
  for (int64_t d : batch) n *= d;
  return n;
}

namespace {

/// Drops batch dims of extent 1 and merges neighbours whose strides nest in every operand.
void simplify_batch(GemmProblem& p) {
  std::vector<std::vector<int64_t>*> strides = {&p.a_batch,    &p.b_batch, &p.d_batch,
                                                &p.bias_batch, &p.c.batch, &p.residual.batch};
  for (auto* s : strides) s->resize(p.batch.size(), 0);
  for (size_t i = 0; i < p.batch.size();) {
    if (p.batch[i] == 1) {
      p.batch.erase(p.batch.begin() + static_cast<std::ptrdiff_t>(i));
      for (auto* s : strides) s->erase(s->begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  for (size_t i = 0; i + 1 < p.batch.size();) {
    const int64_t inner = p.batch[i + 1];
    const bool nests = std::all_of(strides.begin(), strides.end(),
                                   [&](auto* s) { return (*s)[i] == (*s)[i + 1] * inner; });
    if (nests) {
      p.batch[i] *= inner;
      for (auto* s : strides) {
        (*s)[i] = (*s)[i + 1];
        s->erase(s->begin() + static_cast<std::ptrdiff_t>(i + 1));
      }
      p.batch.erase(p.batch.begin() + static_cast<std::ptrdiff_t>(i + 1));
    } else {
      ++i;
    }
  }
}

}  // namespace

GemmProblem matmul_problem(std::span<const int64_t> a_shape, std::span<const int64_t> b_shape) {
  if (a_shape.empty() || b_shape.empty())
    throw Exception(kNotImplementable, "MatMul operands need rank >= 1");
  std::vector<int64_t> a(a_shape.begin(), a_shape.end()), b(b_shape.begin(), b_shape.end());
  const bool b_vector = b.size() == 1;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b_vector) b.push_back(1);
  GemmProblem p;
  p.m = a[a.size() - 2];
  p.k = a.back();
  p.n = b.back();
  if (b[b.size() - 2] != p.k)
    throw Exception(kNotImplementable, "MatMul inner dims differ: " + shape_to_string(a_shape) +
                                           " x " + shape_to_string(b_shape));
  p.a_k_major = true;
  p.lda = p.k;
  // A (K) vector B is one K-major row: contiguous along K, which the copies can vectorise.
  p.b_k_major = b_vector;
  p.ldb = b_vector ? p.k : p.n;
  p.ldd = p.n;
  const size_t ra = a.size() - 2, rb = b.size() - 2, rank = std::max(ra, rb);
  p.batch.assign(rank, 1);
  p.a_batch.assign(rank, 0);
  p.b_batch.assign(rank, 0);
  p.d_batch.assign(rank, 0);
  for (size_t i = 0; i < rank; ++i) {  // right-aligned numpy broadcasting
    const int64_t da = i + ra >= rank ? a[i + ra - rank] : 1;
    const int64_t db = i + rb >= rank ? b[i + rb - rank] : 1;
    if (da != db && da != 1 && db != 1)
      throw Exception(kNotImplementable,
                      "MatMul batch dims do not broadcast: " + shape_to_string(a_shape) + " x " +
                          shape_to_string(b_shape));
    p.batch[i] = std::max(da, db);
  }
  int64_t sa = p.m * p.k, sb = p.k * p.n, sd = p.m * p.n;
  for (size_t i = rank; i-- > 0;) {
    const int64_t da = i + ra >= rank ? a[i + ra - rank] : 1;
    const int64_t db = i + rb >= rank ? b[i + rb - rank] : 1;
    p.a_batch[i] = da == 1 ? 0 : sa;
    p.b_batch[i] = db == 1 ? 0 : sb;
    p.d_batch[i] = sd;
    sa *= da;
    sb *= db;
    sd *= p.batch[i];
  }
  p.bias_batch.assign(rank, 0);
  p.c = GemmOperandStrides{0, 0, std::vector<int64_t>(rank, 0)};
  p.residual = GemmOperandStrides{p.ldd, 1, p.d_batch};
  simplify_batch(p);
  // B shared by every batch and A/D contiguous: one tall GEMM instead of many short ones.
  if (p.batch.size() == 1 && p.b_batch[0] == 0 && p.a_batch[0] == p.m * p.lda &&
      p.d_batch[0] == p.m * p.ldd && p.residual.batch[0] == p.m * p.ldd) {
    p.m *= p.batch[0];
    p.batch.clear();
    p.a_batch.clear();
    p.b_batch.clear();
    p.d_batch.clear();
    p.bias_batch.clear();
    p.c.batch.clear();
    p.residual.batch.clear();
  }
  return p;
}

GemmProblem gemm_problem(std::span<const int64_t> a_shape, std::span<const int64_t> b_shape,
                         bool trans_a, bool trans_b, bool has_c, std::span<const int64_t> c_shape,
                         float alpha, float beta) {
  if (a_shape.size() != 2 || b_shape.size() != 2)
    throw Exception(kNotImplementable, "Gemm operands must be 2-D");
  GemmProblem p;
  p.m = trans_a ? a_shape[1] : a_shape[0];
  p.k = trans_a ? a_shape[0] : a_shape[1];
  p.n = trans_b ? b_shape[0] : b_shape[1];
  if ((trans_b ? b_shape[1] : b_shape[0]) != p.k)
    throw Exception(kNotImplementable, "Gemm inner dims differ");
  p.a_k_major = !trans_a;
  p.b_k_major = trans_b;
  p.lda = a_shape[1];
  p.ldb = b_shape[1];
  p.ldd = p.n;
  p.alpha = alpha;
  p.beta = beta;
  p.residual = GemmOperandStrides{p.ldd, 1, {}};
  if (has_c) {
    if (c_shape.size() > 2) throw Exception(kNotImplementable, "Gemm C must have rank <= 2");
    const int64_t cm = c_shape.size() == 2 ? c_shape[0] : 1;
    const int64_t cn = c_shape.empty() ? 1 : c_shape.back();
    if ((cm != 1 && cm != p.m) || (cn != 1 && cn != p.n))
      throw Exception(kNotImplementable, "Gemm C does not broadcast to (M, N)");
    p.c.row = cm == 1 ? 0 : cn;
    p.c.col = cn == 1 ? 0 : 1;
  }
  return p;
}

int choose_vector(DataType dtype, int64_t ld, std::span<const int64_t> batch_strides) {
  const int e = elem_bytes(dtype);
  for (int v = 16 / e; v > 1; v /= 2) {
    if (!multiple_of(ld, v)) continue;
    if (std::all_of(batch_strides.begin(), batch_strides.end(),
                    [&](int64_t s) { return multiple_of(s, v); }))
      return v;
  }
  return 1;
}

// ---- can_implement / launch ---------------------------------------------------------------------

Expected<void> can_implement(const GemmSpec& spec, const GemmProblem& p) {
  if (auto ok = spec.validate(); !ok) return ok;
  if (spec.a_k_major != p.a_k_major || spec.b_k_major != p.b_k_major)
    return problem_error(spec, "operand layouts differ from the problem's");
  if (p.m < 0 || p.n < 0 || p.k < 0) return problem_error(spec, "negative extent");
  const size_t rank = p.batch.size();
  if (rank > static_cast<size_t>(dev::kMaxBatchRank))
    return problem_error(spec, std::to_string(rank) + " batch dims after merging; at most " +
                                   std::to_string(dev::kMaxBatchRank));
  for (const auto* s : {&p.a_batch, &p.b_batch, &p.d_batch}) {
    if (s->size() != rank) return problem_error(spec, "batch stride lists differ in length");
  }
  for (const auto* s : {&p.bias_batch, &p.c.batch, &p.residual.batch}) {
    if (!s->empty() && s->size() != rank)
      return problem_error(spec, "epilogue batch stride lists differ in length");
  }
  for (int64_t d : p.batch) {
    if (d < 0) return problem_error(spec, "negative batch extent");
  }
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  const int64_t bm = spec.tile.bm, bn = spec.tile.bn;
  const int64_t tiles_m = ceil_div(p.m, bm), tiles_n = ceil_div(p.n, bn);
  if (tiles_m * tiles_n > kInt32Max || p.m > kInt32Max || p.n > kInt32Max || p.k > kInt32Max)
    return problem_error(spec, "M, N, K and the tile count must fit in int32");
  // Copy vectors: every row start (ld) and batch start must be a whole vector. A K-major operand
  // with a single row never moves to a second row, so its ld does not matter.
  const auto check_vec = [&](int v, int64_t ld, bool k_major, int64_t rows,
                             const std::vector<int64_t>& batch,
                             const char* name) -> Expected<void> {
    const bool ld_matters = !(k_major && rows <= 1);
    if ((ld_matters && !multiple_of(ld, v)) ||
        !std::all_of(batch.begin(), batch.end(), [&](int64_t s) { return multiple_of(s, v); }))
      return problem_error(spec,
                           std::string(name) + "'s row or batch stride is not a multiple of " +
                               std::to_string(v) + " elements (ld " + std::to_string(ld) + ")");
    return {};
  };
  if (auto ok = check_vec(spec.vec_a, p.lda, p.a_k_major, p.m, p.a_batch, "A"); !ok) return ok;
  if (auto ok = check_vec(spec.vec_b, p.ldb, p.b_k_major, p.n, p.b_batch, "B"); !ok) return ok;
  if (spec.algorithm == GemmAlgorithm::kWgmma) {
    // TMA: 16-byte aligned row and batch strides, one batch dim, each operand batched or shared.
    if (rank > 1) return problem_error(spec, "wgmma takes at most one batch dim");
    if (p.batch_count() > 65535) return problem_error(spec, "wgmma takes at most 65535 batches");
    const auto tma_ok = [&](int64_t ld, const std::vector<int64_t>& batch) {
      return ld % 8 == 0 && ld > 0 && (batch.empty() || batch[0] % 8 == 0);
    };
    if (!tma_ok(p.lda, p.a_batch) || !tma_ok(p.ldb, p.b_batch))
      return problem_error(spec, "TMA needs row and batch strides that are multiples of 8");
    if (p.k == 0) return problem_error(spec, "K = 0 goes to the mma.sync kernel");
  }
  return {};
}

Expected<void> can_implement(const GemmSpec& spec, const GemmProblem& p, const GemmBuffers& b) {
  if (auto ok = can_implement(spec, p); !ok) return ok;
  const bool empty_out = p.m == 0 || p.n == 0 || p.batch_count() == 0;
  if (empty_out) return {};
  const auto bad = [&](const std::string& what) {
    return Error{kBadBuffer, "GEMM " + spec.describe() + ": " + what};
  };
  if (b.d == nullptr) return bad("no output buffer");
  if (p.k > 0 && (b.a == nullptr || b.b == nullptr)) return bad("no A or B buffer");
  if (spec.epilogue.bias != GemmBiasMode::kNone && b.bias == nullptr) return bad("no bias buffer");
  if (spec.epilogue.c && b.c == nullptr) return bad("no C buffer");
  if (spec.epilogue.residual && b.residual == nullptr) return bad("no residual buffer");
  const int e = elem_bytes(spec.input);
  const auto aligned = [](const void* ptr, int bytes) {
    return reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(bytes) == 0;
  };
  const int align_a = spec.algorithm == GemmAlgorithm::kWgmma ? 16 : spec.vec_a * e;
  const int align_b = spec.algorithm == GemmAlgorithm::kWgmma ? 16 : spec.vec_b * e;
  if (!aligned(b.a, align_a) || !aligned(b.b, align_b))
    return bad("A or B is not aligned to its copy vector (" + std::to_string(align_a) + "/" +
               std::to_string(align_b) + " bytes)");
  if (!aligned(b.d, elem_bytes(spec.output))) return bad("D is not element-aligned");
  return {};
}

LaunchConfig launch_config(const GemmSpec& spec, const GemmProblem& p) {
  LaunchConfig c;
  const int64_t tiles = ceil_div(p.m, spec.tile.bm) * ceil_div(p.n, spec.tile.bn);
  const int64_t batches = p.batch_count();
  c.grid.x = static_cast<unsigned>(tiles);
  c.grid.y = 1;
  c.grid.z = static_cast<unsigned>(std::min<int64_t>(batches, 65535));
  c.block.x = static_cast<unsigned>(spec.threads());
  c.shared_bytes = static_cast<size_t>(spec.shared_bytes());
  return c;
}

dev::GemmParams make_params(const GemmSpec& spec, const GemmProblem& p, const GemmBuffers& b) {
  dev::GemmParams params;
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
    for (size_t i = 0; i < from.size() && i < static_cast<size_t>(dev::kMaxBatchRank); ++i)
      to[i] = from[i];
  };
  copy(p.batch, params.batch_dims);
  copy(p.a_batch, params.a_batch_stride);
  copy(p.b_batch, params.b_batch_stride);
  copy(p.d_batch, params.d_batch_stride);
  copy(p.bias_batch, params.bias_batch_stride);
  params.bias = b.bias;
  params.c.ptr = b.c;
  params.c.row_stride = p.c.row;
  params.c.col_stride = p.c.col;
  copy(p.c.batch, params.c.batch_stride);
  params.residual.ptr = b.residual;
  params.residual.row_stride = p.residual.row;
  params.residual.col_stride = p.residual.col;
  copy(p.residual.batch, params.residual.batch_stride);
  params.alpha = p.alpha;
  params.beta = p.beta;
  params.activation_floor = activation_floor(spec.epilogue.activation);
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

/// A 3-D TMA map over a stored matrix: dims (inner, outer, batch), 128-byte swizzle.
/// (Written through `desc`: a 64-byte aligned struct is not passed around by value.)
Expected<void> make_tma(dev::TmaDescriptor& desc, const void* ptr, DataType dtype, int64_t inner,
                        int64_t outer, int64_t ld, int64_t batch, int64_t batch_stride,
                        uint32_t box_inner, uint32_t box_outer) {
  auto fn = encode_tiled();
  if (!fn) return fn.error();
  static_assert(sizeof(CUtensorMap) == sizeof(dev::TmaDescriptor), "TMA map size");
  const int e = elem_bytes(dtype);
  const bool batched = batch > 1 && batch_stride != 0;
  const cuuint64_t dims[3] = {static_cast<cuuint64_t>(std::max<int64_t>(inner, 1)),
                              static_cast<cuuint64_t>(std::max<int64_t>(outer, 1)),
                              static_cast<cuuint64_t>(batched ? batch : 1)};
  const cuuint64_t strides[2] = {
      static_cast<cuuint64_t>(ld * e),
      static_cast<cuuint64_t>(batched ? batch_stride * e : ld * e * dims[1])};
  const cuuint32_t box[3] = {box_inner, box_outer, 1};
  const cuuint32_t element_strides[3] = {1, 1, 1};
  const CUresult r = (*fn)(
      reinterpret_cast<CUtensorMap*>(&desc),
      dtype == DataType::kBF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
      3, const_cast<void*>(ptr), dims, strides, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
      CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    return Error{kLaunchSetup, "cuTensorMapEncodeTiled failed with CUresult " +
                                   std::to_string(static_cast<int>(r))};
  return {};
}

}  // namespace

Expected<void> make_tma_maps(const GemmSpec& spec, const GemmProblem& p, const GemmBuffers& b,
                             dev::TmaDescriptor& a_map, dev::TmaDescriptor& b_map) {
  const int64_t batch = p.batch_count();
  const int64_t a_bs = p.a_batch.empty() ? 0 : p.a_batch[0];
  const int64_t b_bs = p.b_batch.empty() ? 0 : p.b_batch[0];
  // A: K-major box (64 k, 128 rows); M-major box (64 m, 64 k). B likewise with BN rows.
  auto ok_a = p.a_k_major ? make_tma(a_map, b.a, spec.input, p.k, p.m, p.lda, batch, a_bs, 64, 128)
                          : make_tma(a_map, b.a, spec.input, p.m, p.k, p.lda, batch, a_bs, 64, 64);
  if (!ok_a) return ok_a;
  return p.b_k_major ? make_tma(b_map, b.b, spec.input, p.k, p.n, p.ldb, batch, b_bs, 64,
                                static_cast<uint32_t>(spec.tile.bn))
                     : make_tma(b_map, b.b, spec.input, p.n, p.k, p.ldb, batch, b_bs, 64, 64);
}

Expected<void> run(const GemmSpec& spec, const Kernel& kernel, const GemmProblem& p,
                   const GemmBuffers& b, void* stream) {
  if (auto ok = can_implement(spec, p, b); !ok) return ok;
  const LaunchConfig lc = launch_config(spec, p);
  if (lc.grid.x == 0 || lc.grid.z == 0) return {};  // empty output
  dev::GemmParams params = make_params(spec, p, b);
  if (lc.shared_bytes > 48 * 1024) {
    if (auto ok = kernel.set_max_dynamic_shared_memory(static_cast<int>(lc.shared_bytes)); !ok)
      return ok;
  }
  if (spec.algorithm == GemmAlgorithm::kWgmma) {
    dev::TmaDescriptor ta, tb;
    if (auto ok = make_tma_maps(spec, p, b, ta, tb); !ok) return ok;
    void* args[] = {&params, &ta, &tb};
    return kernel.launch(lc.grid, lc.block, lc.shared_bytes, stream, args);
  }
  void* args[] = {&params};
  return kernel.launch(lc.grid, lc.block, lc.shared_bytes, stream, args);
}

int max_shared_bytes(int sm) {
  switch (sm) {
    case 80:
    case 87:
      return 166912;  // 163 KiB
    case 86:
    case 89:
    case 120:
    case 121:
      return 101376;  // 99 KiB
    case 90:
    case 100:
    case 103:
    case 110:
      return 232448;  // 227 KiB
    default:
      return 101376;  // unknown: the smallest of the family
  }
}

// ---- planning ----------------------------------------------------------------------------------

GemmSpec choose_gemm_spec(DataType input, const GemmProblem& problem,
                          const GemmPlanOptions& options) {
  GemmSpec spec;
  spec.input = input;
  spec.output = options.output.value_or(input);
  spec.a_k_major = problem.a_k_major;
  spec.b_k_major = problem.b_k_major;
  spec.epilogue = options.epilogue;
  spec.vec_a =
      choose_vector(input, problem.a_k_major && problem.m <= 1 ? 0 : problem.lda, problem.a_batch);
  spec.vec_b =
      choose_vector(input, problem.b_k_major && problem.n <= 1 ? 0 : problem.ldb, problem.b_batch);
  const int e = elem_bytes(input);
  const int64_t batches = std::max<int64_t>(problem.batch_count(), 1);
  const int64_t sms = options.multiprocessors > 0 ? options.multiprocessors : 132;
  const int limit = max_shared_bytes(options.sm);

  // Hopper: wgmma + TMA where the target is sm_90a and the problem suits TMA.
  if (options.sm == 90 && options.arch_specific && e == 2) {
    GemmSpec w = spec;
    w.algorithm = GemmAlgorithm::kWgmma;
    w.vec_a = w.vec_b = 8;
    // The widest tile that still gives most SMs a block: wide tiles reuse each A row more, but
    // a 1024^3 problem has only 32 blocks of 128 x 256 for 132 SMs.
    for (const auto& [bn, stages] : {std::pair{256, 4}, std::pair{128, 6}, std::pair{64, 8}}) {
      const int64_t tiles = ceil_div(problem.m, 128) * ceil_div(problem.n, bn) * batches;
      w.tile = GemmTile{128, bn, 64, stages, 1, 1};
      if (tiles * 5 >= sms * 4 || bn == 64) break;
    }
    if (can_implement(w, problem)) return w;
  }

  // Tiles measured on an H200 (docs/performance.md): 256 x 128 with 4 x 2 warps beat 128 x 256
  // with 2 x 4 by 4% (f16) and 6% (tf32) at 4096^3.
  const int bk = 128 / e;
  const GemmTile large{256, 128, bk, 3, 4, 2};
  const GemmTile medium{128, 128, bk, 4, 2, 4};
  const GemmTile small{64, 128, bk, 4, 2, 4};
  const bool narrow_copies = std::min(spec.vec_a, spec.vec_b) * e < 8;
  const int64_t large_tiles = ceil_div(problem.m, 256) * ceil_div(problem.n, 128) * batches;
  const int64_t medium_tiles = ceil_div(problem.m, 128) * ceil_div(problem.n, 128) * batches;
  std::vector<GemmTile> order;
  if (narrow_copies) {
    order = {small};
  } else if (large_tiles >= sms) {
    order = {large, medium, small};
  } else if (medium_tiles >= sms / 2) {
    order = {medium, small};
  } else {
    order = {small, medium};
  }
  for (GemmTile t : order) {
    for (; t.stages >= 2; --t.stages) {
      spec.tile = t;
      if (spec.shared_bytes() <= limit && spec.validate()) return spec;
    }
  }
  spec.tile = GemmTile{64, 128, bk, 2, 2, 4};
  return spec;
}

std::optional<GemmSpec> plan_gemm(const ir::Node& node, std::span<const ir::TensorInfo> inputs,
                                  const GemmPlanOptions& options) {
  if (node.op != ir::OpKind::kMatMul && node.op != ir::OpKind::kGemm) return std::nullopt;
  if (inputs.size() < 2 || !inputs[0].present || !inputs[1].present) return std::nullopt;
  const ir::TensorInfo& a = inputs[0];
  const ir::TensorInfo& b = inputs[1];
  if (!is_gemm_float(a.dtype) || a.dtype != b.dtype) return std::nullopt;
  if (options.output && !is_gemm_float(*options.output)) return std::nullopt;
  const auto known = [](int64_t d) { return d != ir::kDynamic; };
  // A representative problem: dynamic dims get a placeholder that assumes nothing about
  // alignment (1) for dims that set strides, and a large extent for the tile choice.
  const auto or_unaligned = [&](int64_t d) { return known(d) ? d : 1; };
  const auto or_large = [&](int64_t d) { return known(d) ? d : 4096; };
  GemmProblem p;
  GemmPlanOptions opts = options;
  if (node.op == ir::OpKind::kMatMul) {
    if (a.rank() < 1 || b.rank() < 1) return std::nullopt;
    const bool b_vector = b.rank() == 1;
    const int64_t k = a.shape.back();
    const int64_t n = b_vector ? 1 : b.shape.back();
    p.m = a.rank() >= 2 ? or_large(a.shape[a.shape.size() - 2]) : 1;
    p.n = or_large(n);
    p.k = or_large(k);
    p.a_k_major = true;
    p.b_k_major = b_vector;
    p.lda = or_unaligned(k);
    p.ldb = b_vector ? or_unaligned(k) : or_unaligned(n);
    int64_t batch = 1;
    const size_t rank = static_cast<size_t>(std::max(a.rank(), b.rank()));
    if (rank > 2 + static_cast<size_t>(dev::kMaxBatchRank)) return std::nullopt;
    for (size_t i = 0; i + 2 < static_cast<size_t>(a.rank()); ++i) batch *= or_large(a.shape[i]);
    p.batch = {batch};
    // Batch strides are multiples of the row strides: they add no alignment constraint.
    p.a_batch = {p.lda};
    p.b_batch = {0};
    p.d_batch = {0};
  } else {
    if (a.rank() != 2 || b.rank() != 2) return std::nullopt;
    const bool ta = node.attr_int("transA", 0) != 0, tb = node.attr_int("transB", 0) != 0;
    p.m = or_large(ta ? a.shape[1] : a.shape[0]);
    p.k = or_large(ta ? a.shape[0] : a.shape[1]);
    p.n = or_large(tb ? b.shape[0] : b.shape[1]);
    p.a_k_major = !ta;
    p.b_k_major = tb;
    p.lda = or_unaligned(a.shape[1]);
    p.ldb = or_unaligned(b.shape[1]);
    const double beta = node.attr_float("beta", 1.0);
    if (inputs.size() > 2 && inputs[2].present) {
      if (inputs[2].rank() > 2 || inputs[2].dtype != a.dtype) return std::nullopt;
      if (beta != 0.0) opts.epilogue.c = true;
    }
  }
  GemmSpec spec = choose_gemm_spec(a.dtype, p, opts);
  if (!spec.validate()) return std::nullopt;
  return spec;
}

}  // namespace rtx::jit::kernels
