// SPDX-License-Identifier: Apache-2.0
// Host side of the quantized convolution: spec rendering and (de)serialisation, can_implement,
// launch configuration, parameter blocks and the planner for folded groups; see qconv.hpp.
#include "jit/kernels/qconv.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ir/graph.hpp"
#include "ir/quant_passes.hpp"

namespace rtx::jit::kernels {
namespace {

namespace dev = rtx::kernels;
using namespace qconv_errc;

bool is_8bit_int(DataType t) { return t == DataType::kINT8 || t == DataType::kUINT8; }
bool is_float_type(DataType t) {
  return t == DataType::kF32 || t == DataType::kF16 || t == DataType::kBF16;
}
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

Error spec_error(const QConvSpec& spec, const std::string& what) {
  return Error{kSpecInvalid, "quantized conv spec " + spec.describe() + ": " + what};
}

Error problem_error(const QConvSpec& spec, const std::string& what) {
  return Error{kNotImplementable, "quantized conv spec " + spec.describe() + " cannot run this problem: " + what};
}

int64_t max_product(DataType a, DataType b) {
  const int64_t ma = a == DataType::kUINT8 ? 255 : 128;
  const int64_t mb = b == DataType::kUINT8 ? 255 : 128;
  return ma * mb;
}

/// The float convolution's spec that fills the shared geometry (NCHW view, this tile).
ConvSpec geometry_spec(const QConvSpec& s) {
  ConvSpec c;
  c.algorithm = ConvAlgorithm::kImplicitGemm;
  c.layout = ConvLayout::kNCHW;
  c.tile = s.tile;
  return c;
}

}  // namespace

// ---- QConvSpec -----------------------------------------------------------------------------------

std::string QConvSpec::name_expression() const {
  std::ostringstream s;
  // Conv's B enters with one rounding, the quantized GEMM's kGemmC bias mode (value 2).
  s << "rtx::kernels::qconv::qconv_mma<" << cuda_type_name(w) << ", " << cuda_type_name(x) << ", "
    << cuda_type_name(scale) << ", " << cuda_type_name(mid) << ", " << cuda_type_name(output)
    << ", rtx::kernels::gemm::TileShape<" << tile.bm << ", " << tile.bn << ", " << tile.bk << ", "
    << tile.stages << ", " << tile.warps_m << ", " << tile.warps_n << ">, " << vec_w << ", " << vec_x << ", "
    << (per_channel ? "true" : "false") << ", rtx::kernels::qgemm::QEpilogue<(rtx::kernels::gemm::Activation)"
    << static_cast<int>(activation) << ", (rtx::kernels::qgemm::BiasMode)" << (bias ? 2 : 0) << ", "
    << (quantize ? "true" : "false") << ", true>>";
  return s.str();
}

Program QConvSpec::program() const {
  Program p;
  p.name = "rtx_qconv";
  p.source = "#include \"qconv/qconv_sm80.cuh\"\n";
  p.name_expressions.push_back(name_expression());
  return p;
}

int QConvSpec::threads() const { return tile.warps_m * tile.warps_n * 32; }

int QConvSpec::shared_bytes() const {
  // Pointwise kernels transpose each B stage into one more B tile.
  const int pipeline = tile.stages * (tile.bm + tile.bn) * tile.bk + (vec_x != 0 ? tile.bn * tile.bk : 0);
  const int epilogue = tile.bm * (tile.bn + 8) * 4;
  return std::max(pipeline, epilogue);
}

Expected<void> QConvSpec::validate() const {
  if (!is_8bit_int(x) || !is_8bit_int(w)) return spec_error(*this, "x and w must be int8 or uint8");
  if (!is_float_type(scale)) return spec_error(*this, "scales must be f32, f16 or bf16");
  if (!is_float_type(mid)) return spec_error(*this, "the Conv dtype must be f32, f16 or bf16");
  if (quantize) {
    if (!is_8bit_int(output)) return spec_error(*this, "a requantized output must be int8 or uint8");
  } else if (output != mid) {
    return spec_error(*this, "without a QuantizeLinear the output dtype is the Conv's");
  }
  const auto& t = tile;
  if (t.bk != 128) return spec_error(*this, "8-bit tiles are 128 deep");
  if (t.warps_m < 1 || t.warps_n < 1 || t.warps_m * t.warps_n > 16)
    return spec_error(*this, "warp grid must have 1..16 warps");
  if (t.stages < 2 || t.stages > 8) return spec_error(*this, "stages must be 2..8");
  // Warp tiles of whole m16 fragments and pairs of n8 fragments (ldmatrix x4 on B).
  if (t.bm <= 0 || t.bn <= 0 || t.bm % (16 * t.warps_m) != 0 || t.bn % (16 * t.warps_n) != 0)
    return spec_error(*this, "BM and BN must be multiples of 16 x warps");
  if (vec_w != 4 && vec_w != 8 && vec_w != 16) return spec_error(*this, "weight copies are 4, 8 or 16 bytes");
  const int threads = this->threads();
  if ((t.bm * t.bk / vec_w) % threads != 0)
    return spec_error(*this, "weight tile copies must divide evenly among the block's threads");
  if (vec_x != 0) {
    // PointwiseLoader: raw rows of BN bytes (a power-of-two number of 16-byte chunks), then
    // qgemm::transpose_bytes over 4 x 4 blocks (8 k-blocks x 4 n-blocks per warp).
    if (vec_x != 4 && vec_x != 8 && vec_x != 16) return spec_error(*this, "x copies are 4, 8 or 16 bytes");
    const int chunks = t.bn / 16;
    if (t.bn % 16 != 0 || (chunks & (chunks - 1)) != 0 || ((t.bk / 4) * (t.bn / 4)) % threads != 0)
      return spec_error(*this, "the pointwise loader needs BN a power-of-two multiple of 16 and whole transpose blocks");
  } else {
    // The im2col loader (Im2colNchw8Loader): quads of 4 positions, 8 quads per warp, each quad's
    // threads splitting the 32 4-k blocks of a k-tile into equal runs.
    const int quads = t.bn / 4;
    if (quads % 8 != 0 || threads % (32 * (quads / 8)) != 0 || 32 % (threads / quads) != 0)
      return spec_error(*this, "the im2col loader needs BN a multiple of 32, whole warp rows and equal runs of k");
  }
  const int out_vec = 16 / static_cast<int>(bit_width(output) / 8);
  if (t.bn % out_vec != 0 || threads % (t.bn / out_vec) != 0)
    return spec_error(*this, "the epilogue needs threads to cover whole rows of BN");
  if (shared_bytes() > 232448) return spec_error(*this, "needs more than 227 KiB of shared memory");
  return {};
}

std::string QConvSpec::describe() const {
  std::ostringstream s;
  s << to_string(x) << "x" << to_string(w) << " " << to_string(mid) << "->" << to_string(output) << " "
    << tile.bm << "x" << tile.bn << "x" << tile.bk << " s" << tile.stages << " w" << tile.warps_m << "x"
    << tile.warps_n << " v" << vec_w << (vec_x != 0 ? " x" + std::to_string(vec_x) : std::string()) << " "
    << (per_channel ? "per_channel" : "per_tensor") << " "
    << activation_name(activation);
  if (bias) s << "+bias";
  if (quantize) s << "+q";
  return s.str();
}

void to_json(nlohmann::json& j, const QConvSpec& s) {
  j = nlohmann::json{
      {"x", std::string(to_string(s.x))},
      {"w", std::string(to_string(s.w))},
      {"scale", std::string(to_string(s.scale))},
      {"mid", std::string(to_string(s.mid))},
      {"output", std::string(to_string(s.output))},
      {"per_channel", s.per_channel},
      {"vec_w", s.vec_w},
      {"vec_x", s.vec_x},
      {"tile", {s.tile.bm, s.tile.bn, s.tile.bk, s.tile.stages, s.tile.warps_m, s.tile.warps_n}},
      {"activation", activation_name(s.activation)},
      {"bias", s.bias},
      {"quantize", s.quantize},
  };
}

void from_json(const nlohmann::json& j, QConvSpec& s) {
  const auto fail = [](const std::string& what) -> void {
    throw Exception(kSpecInvalid, "quantized conv spec JSON: " + what);
  };
  try {
    const auto dtype = [&](const char* key) {
      const auto name = j.at(key).get<std::string>();
      auto t = data_type_from_string(name);
      if (!t) fail(std::string("unknown dtype '") + name + "' for " + key);
      return *t;
    };
    s.x = dtype("x");
    s.w = dtype("w");
    s.scale = dtype("scale");
    s.mid = dtype("mid");
    s.output = dtype("output");
    s.per_channel = j.at("per_channel").get<bool>();
    s.vec_w = j.at("vec_w").get<int>();
    // Engines written before pointwise kernels existed have no vec_x: the gather.
    s.vec_x = j.contains("vec_x") ? j.at("vec_x").get<int>() : 0;
    const auto tile = j.at("tile").get<std::vector<int>>();
    if (tile.size() != 6) fail("tile needs 6 values (bm, bn, bk, stages, warps_m, warps_n)");
    s.tile = GemmTile{tile[0], tile[1], tile[2], tile[3], tile[4], tile[5]};
    const auto act = j.at("activation").get<std::string>();
    const auto activation = activation_from_name(act);
    if (!activation) fail("unknown activation '" + act + "'");
    s.activation = *activation;
    s.bias = j.at("bias").get<bool>();
    s.quantize = j.at("quantize").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    fail(e.what());
  }
}

// ---- can_implement / launch ----------------------------------------------------------------------

Expected<void> can_implement(const QConvSpec& spec, const ConvProblem& p) {
  if (auto ok = spec.validate(); !ok) return ok;
  if (p.n < 0 || p.c < 1 || p.m < 1 || p.groups < 1 || p.c % p.groups != 0 || p.m % p.groups != 0)
    return problem_error(spec, "channels and groups do not fit together");
  const int64_t k = p.gemm_k(), mg = p.m / p.groups, pos = p.positions();
  if (k % spec.vec_w != 0)
    return problem_error(spec, "K = (C / G) * taps = " + std::to_string(k) + " is not a multiple of the " +
                                   std::to_string(spec.vec_w) + "-byte weight copies");
  if (k > kInt32Max || pos > kInt32Max || mg > kInt32Max)
    return problem_error(spec, "K, M / G and the output positions must fit in int32");
  if (ceil_div(mg, spec.tile.bm) * ceil_div(pos, spec.tile.bn) > kInt32Max)
    return problem_error(spec, "too many tiles");
  // The im2col loader addresses one (image, group) slice of x with 32-bit offsets.
  const int64_t slice = (p.c / p.groups) * p.in[0] * p.in[1] * p.in[2];
  if (slice > kInt32Max) return problem_error(spec, "one image's group of x must stay below 2^31 elements");
  if (k * max_product(spec.x, spec.w) > kInt32Max)
    return problem_error(spec, "K = " + std::to_string(k) + " could overflow the s32 accumulators");
  if (spec.vec_x != 0) {
    if (!p.is_pointwise()) return problem_error(spec, "the pointwise kernel needs a 1x1, stride-1, unpadded convolution");
    if (pos % spec.vec_x != 0)
      return problem_error(spec, "the plane (" + std::to_string(pos) + " positions) is not a multiple of the " +
                                     std::to_string(spec.vec_x) + "-byte x copies");
  }
  return {};
}

Expected<void> can_implement(const QConvSpec& spec, const ConvProblem& p, const QConvBuffers& b,
                             int64_t w_scale_count) {
  if (auto ok = can_implement(spec, p); !ok) return ok;
  if (w_scale_count != (spec.per_channel ? p.m : 1))
    return problem_error(spec, "W's scale has " + std::to_string(w_scale_count) + " values; expected " +
                                   (spec.per_channel ? "one per output channel (" + std::to_string(p.m) + ")" : "1"));
  if (p.n == 0 || p.positions() == 0) return {};
  const auto bad = [&](const std::string& what) {
    return Error{kBadBuffer, "quantized conv " + spec.describe() + ": " + what};
  };
  if (b.y == nullptr) return bad("no output buffer");
  if (b.x == nullptr || b.w == nullptr || b.x_scale == nullptr || b.w_scale == nullptr)
    return bad("no x, w or scale buffer");
  if (spec.bias && b.bias == nullptr) return bad("no bias buffer");
  if (spec.quantize && b.y_scale == nullptr) return bad("no output scale buffer");
  if (reinterpret_cast<uintptr_t>(b.w) % static_cast<uintptr_t>(spec.vec_w) != 0)
    return bad("the weights are not aligned to " + std::to_string(spec.vec_w) + " bytes");
  if (spec.vec_x != 0 && reinterpret_cast<uintptr_t>(b.x) % static_cast<uintptr_t>(spec.vec_x) != 0)
    return bad("x is not aligned to " + std::to_string(spec.vec_x) + " bytes");
  if (reinterpret_cast<uintptr_t>(b.y) % static_cast<uintptr_t>(bit_width(spec.output) / 8) != 0)
    return bad("the output is not element-aligned");
  return {};
}

LaunchConfig launch_config(const QConvSpec& spec, const ConvProblem& p) {
  LaunchConfig c;
  const int64_t mg = p.m / std::max<int64_t>(p.groups, 1);
  c.grid.x = static_cast<unsigned>(ceil_div(mg, spec.tile.bm) * ceil_div(p.positions(), spec.tile.bn));
  c.grid.y = 1;
  c.grid.z = static_cast<unsigned>(std::min<int64_t>(p.n * p.groups, 65535));
  if (p.n == 0) c.grid.x = 0;
  c.block.x = static_cast<unsigned>(spec.threads());
  c.shared_bytes = static_cast<size_t>(spec.shared_bytes());
  return c;
}

dev::qconv::QConvParams make_params(const QConvSpec& spec, const ConvProblem& p, const QConvBuffers& b) {
  dev::qconv::QConvParams q;
  std::memset(&q, 0, sizeof(q));
  ConvBuffers cb;
  cb.x = b.x;
  cb.w = b.w;
  cb.y = b.y;
  cb.bias = spec.bias ? b.bias : nullptr;
  q.conv = make_params(geometry_spec(spec), p, cb);
  q.x_scale = b.x_scale;
  q.w_scale = b.w_scale;
  q.w_scale_stride = spec.per_channel ? 1 : 0;
  q.bias = cb.bias;
  q.y_scale = spec.quantize ? b.y_scale : nullptr;
  q.y_zero = spec.quantize ? b.y_zero : nullptr;
  return q;
}

Expected<void> run(const QConvSpec& spec, const Kernel& kernel, const ConvProblem& p, const QConvBuffers& b,
                   int64_t w_scale_count, void* stream) {
  if (auto ok = can_implement(spec, p, b, w_scale_count); !ok) return ok;
  const LaunchConfig lc = launch_config(spec, p);
  if (lc.grid.x == 0 || lc.grid.z == 0) return {};
  auto params = make_params(spec, p, b);
  if (lc.shared_bytes > 48 * 1024) {
    if (auto ok = kernel.set_max_dynamic_shared_memory(static_cast<int>(lc.shared_bytes)); !ok) return ok;
  }
  void* args[] = {&params};
  return kernel.launch(lc.grid, lc.block, lc.shared_bytes, stream, args);
}

// ---- planning ------------------------------------------------------------------------------------

std::optional<QConvSpec> choose_qconv_spec(QConvSpec base, const ConvProblem& p, const QConvPlanOptions& options) {
  const int64_t k = p.gemm_k();
  base.vec_w = k % 16 == 0 ? 16 : (k % 8 == 0 ? 8 : (k % 4 == 0 ? 4 : 0));
  if (base.vec_w == 0) return std::nullopt;
  const int64_t mg = p.m / std::max<int64_t>(p.groups, 1), pos = p.positions();
  // Pointwise convolutions copy x's rows with cp.async when the plane allows whole copies
  // (4 bytes at least); the gather serves the rest.
  base.vec_x = !p.is_pointwise() ? 0 : pos % 16 == 0 ? 16 : (pos % 8 == 0 ? 8 : (pos % 4 == 0 ? 4 : 0));
  const int64_t batches = std::max<int64_t>(p.n * p.groups, 1);
  const int64_t sms = options.multiprocessors > 0 ? options.multiprocessors : 132;
  // Narrow tiles where the channels or the positions (late CNN stages: 7x7 = 49) would leave
  // most of a 128-wide tile empty, and where 128x128 tiles would not fill half the GPU.
  const int bn = pos <= 64 ? 64 : 128;
  int bm = mg <= 64 ? 64 : 128;
  if (bm == 128 && ceil_div(mg, 128) * ceil_div(pos, bn) * batches < sms / 2) bm = 64;
  std::vector<GemmTile> order;
  if (bm == 128 && bn == 128) order.push_back({128, 128, 128, 4, 2, 4});
  if (bm == 128 && bn == 64) order.push_back({128, 64, 128, 4, 4, 2});
  if (bm == 64 && bn == 128) order.push_back({64, 128, 128, 4, 2, 4});
  order.push_back({64, 64, 128, 4, 2, 2});
  const int limit = max_shared_bytes(options.sm);
  for (GemmTile t : order) {
    for (; t.stages >= 2; --t.stages) {
      base.tile = t;
      if (base.shared_bytes() <= limit && base.validate()) return base;
    }
  }
  return std::nullopt;
}

std::optional<QConvSpec> plan_qconv(const ir::Graph& graph, const ir::QuantConvGroup& group,
                                    const QConvPlanOptions& options) {
  if (options.sm < 80) return std::nullopt;
  QConvSpec spec;
  spec.x = group.x_type;
  spec.w = group.w_type;
  spec.scale = group.scale_type;
  spec.mid = group.mid_type;
  spec.output = group.output_type;
  spec.per_channel = group.per_channel;
  if (group.activation >= 0) {
    const auto act = epilogue_activation(graph.node(group.activation));
    if (!act) return std::nullopt;
    spec.activation = *act;
  }
  spec.bias = group.bias != ir::kNoValue;
  spec.quantize = group.y_q >= 0;

  // Channels, kernel and spatial dims static; the batch may be dynamic (1 stands in for it).
  const ir::TensorInfo& x = graph.value(group.x).info;
  const ir::TensorInfo& w = graph.value(group.w).info;
  if (x.rank() < 3 || x.rank() > 5 || w.rank() != x.rank() || !w.is_static()) return std::nullopt;
  for (size_t i = 1; i < x.shape.size(); ++i)
    if (x.shape[i] == ir::kDynamic) return std::nullopt;
  std::vector<int64_t> xs = x.shape;
  if (xs[0] == ir::kDynamic) xs[0] = 1;
  const ir::TensorInfo& ws = graph.value(group.w_scale).info;
  if (!ws.is_static() || element_count(ws.shape) != (spec.per_channel ? w.shape[0] : 1)) return std::nullopt;
  if (spec.bias) {
    const ir::TensorInfo& b = graph.value(group.bias).info;
    if (b.shape != std::vector<int64_t>{w.shape[0]}) return std::nullopt;
  }
  ConvProblem p;
  try {
    p = conv_problem(graph.node(group.anchor), xs, w.shape);
  } catch (const Exception&) {
    return std::nullopt;
  }
  auto chosen = choose_qconv_spec(spec, p, options);
  if (!chosen || !can_implement(*chosen, p)) return std::nullopt;
  return chosen;
}

}  // namespace rtx::jit::kernels
