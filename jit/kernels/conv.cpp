// SPDX-License-Identifier: Apache-2.0
// Host side of the convolution family: spec rendering, problems from shapes and IR nodes, the
// GEMM views of a convolution, can_implement, launch configuration and the planner.
#include "jit/kernels/conv.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ir/graph.hpp"

namespace rtx::jit::kernels {
namespace {

namespace dev = rtx::kernels;

constexpr const char* kSpecInvalid = "rtx.jit.411";
constexpr const char* kNotImplementable = "rtx.jit.412";
constexpr const char* kBadBuffer = "rtx.jit.413";

bool is_conv_float(DataType t) {
  return t == DataType::kF16 || t == DataType::kBF16 || t == DataType::kF32;
}
int elem_bytes(DataType t) {
  return static_cast<int>(bit_width(t) / 8);
}
int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}
bool multiple_of(int64_t value, int64_t v) {
  return v <= 1 || value % v == 0;
}

const char* algorithm_name(ConvAlgorithm a) {
  switch (a) {
    case ConvAlgorithm::kImplicitGemm:
      return "implicit_gemm";
    case ConvAlgorithm::kDepthwise:
      return "depthwise";
    case ConvAlgorithm::kGemm:
      return "gemm";
  }
  return "?";
}

Error spec_error(const ConvSpec& spec, const std::string& what) {
  return Error{kSpecInvalid, "conv spec " + spec.describe() + ": " + what};
}
Error problem_error(const ConvSpec& spec, const std::string& what) {
  return Error{kNotImplementable,
               "conv spec " + spec.describe() + " cannot run this problem: " + what};
}

std::string epilogue_expression(const GemmEpilogue& e) {
  std::ostringstream s;
  s << "rtx::kernels::gemm::Epilogue<(rtx::kernels::gemm::Activation)"
    << static_cast<int>(kernel_activation(e.activation)) << ", (rtx::kernels::gemm::BiasMode)"
    << static_cast<int>(e.bias) << ", false, " << (e.residual ? "true" : "false") << ">";
  return s.str();
}

}  // namespace

// ---- ConvSpec ----------------------------------------------------------------------------------

GemmEpilogue ConvSpec::epilogue() const {
  GemmEpilogue e;
  e.activation = activation;
  e.residual = residual;
  if (bias) {
    // NCHW GEMM views have output channels as rows; NHWC and depthwise index channels as N.
    const bool rows = layout == ConvLayout::kNCHW && algorithm != ConvAlgorithm::kDepthwise;
    e.bias = rows ? GemmBiasMode::kPerRow : GemmBiasMode::kPerColumn;
  }
  return e;
}

GemmSpec ConvSpec::gemm_spec() const {
  GemmSpec g;
  g.input = input;
  g.output = output;
  g.a_k_major = true;   // weights (M/G, C/G)
  g.b_k_major = false;  // x (C/G, positions)
  g.vec_a = vec_a;
  g.vec_b = vec_b;
  g.tile = tile;
  g.epilogue = epilogue();
  return g;
}

std::string ConvSpec::name_expression() const {
  if (algorithm == ConvAlgorithm::kGemm) return gemm_spec().name_expression();
  std::ostringstream s;
  const auto in = cuda_type_name(input), out = cuda_type_name(output);
  const int layout_value = static_cast<int>(layout);
  if (algorithm == ConvAlgorithm::kDepthwise) {
    s << "rtx::kernels::conv::conv_depthwise<" << in << ", " << out
      << ", (rtx::kernels::conv::Layout)" << layout_value << ", " << epilogue_expression(epilogue())
      << ">";
    return s.str();
  }
  s << "rtx::kernels::conv::conv_implicit_gemm<" << in << ", " << out
    << ", rtx::kernels::gemm::TileShape<" << tile.bm << ", " << tile.bn << ", " << tile.bk << ", "
    << tile.stages << ", " << tile.warps_m << ", " << tile.warps_n
    << ">, (rtx::kernels::conv::Layout)" << layout_value << ", " << vec_a << ", " << vec_b << ", "
    << epilogue_expression(epilogue()) << ">";
  return s.str();
}

Program ConvSpec::program() const {
  const ConvSpec one[] = {*this};
  return conv_program(one);
}

int ConvSpec::threads() const {
  if (algorithm == ConvAlgorithm::kDepthwise) return 256;
  return tile.warps_m * tile.warps_n * 32;
}

int ConvSpec::shared_bytes() const {
  if (algorithm == ConvAlgorithm::kDepthwise) return 0;
  return gemm_spec().shared_bytes();  // same main loop and epilogue staging
}

Expected<void> ConvSpec::validate() const {
  if (!is_conv_float(input) || !is_conv_float(output))
    return spec_error(*this, "dtypes must be f16, bf16 or f32");
  if (algorithm == ConvAlgorithm::kDepthwise) return {};
  if (algorithm == ConvAlgorithm::kGemm) {
    if (layout != ConvLayout::kNCHW) return spec_error(*this, "the GEMM path is for NCHW 1x1");
    auto ok = gemm_spec().validate();
    if (!ok) return spec_error(*this, ok.error().message);
    return {};
  }
  // The implicit GEMM shares the GEMM kernel's tile rules; its operands are A K-major and B
  // K-major (NHWC weights) or MN-major (NCHW im2col).
  GemmSpec g = gemm_spec();
  g.b_k_major = layout == ConvLayout::kNHWC;
  if (auto ok = g.validate(); !ok) return spec_error(*this, ok.error().message);
  const int threads = this->threads();
  if (layout == ConvLayout::kNHWC) {
    const int per_row = tile.bk / vec_a;
    if (threads % per_row != 0 || tile.bm % (threads / per_row) != 0)
      return spec_error(*this, "im2col copies must divide evenly among threads");
  } else {
    if (vec_b != 1) return spec_error(*this, "NCHW im2col gathers single elements (vec_b = 1)");
    if (elem_bytes(input) == 2) {
      // Im2colNchw16Loader: quads of 4 positions, each quad's threads splitting the k rows.
      const int quads = tile.bn / 4;
      if (tile.bn % 4 != 0 || threads % quads != 0 || tile.bk % (threads / quads) != 0)
        return spec_error(*this, "16-bit NCHW im2col needs threads to cover whole quad rows of BN");
    } else if (threads % tile.bn != 0 || tile.bk % (threads / tile.bn) != 0) {
      return spec_error(*this, "NCHW im2col needs threads to be a multiple of BN");
    }
  }
  return {};
}

std::string ConvSpec::describe() const {
  std::ostringstream s;
  s << algorithm_name(algorithm) << " " << (layout == ConvLayout::kNHWC ? "nhwc " : "nchw ")
    << to_string(input) << "->" << to_string(output);
  if (algorithm != ConvAlgorithm::kDepthwise) {
    s << " " << tile.bm << "x" << tile.bn << "x" << tile.bk << " s" << tile.stages << " v" << vec_a
      << "/" << vec_b;
  }
  s << " act" << static_cast<int>(activation) << (bias ? "+bias" : "")
    << (residual ? "+residual" : "");
  return s.str();
}

Program conv_program(std::span<const ConvSpec> specs, std::string name) {
  Program p;
  p.name = std::move(name);
  bool implicit = false, depthwise = false, gemm = false;
  for (const auto& s : specs) {
    p.name_expressions.push_back(s.name_expression());
    (s.algorithm == ConvAlgorithm::kDepthwise ? depthwise
     : s.algorithm == ConvAlgorithm::kGemm    ? gemm
                                              : implicit) = true;
  }
  if (implicit) p.source += "#include \"conv/implicit_gemm.cuh\"\n";
  if (depthwise) p.source += "#include \"conv/depthwise.cuh\"\n";
  if (gemm) p.source += "#include \"gemm/gemm_sm80.cuh\"\n";
  return p;
}

void to_json(nlohmann::json& j, const ConvSpec& s) {
  j = nlohmann::json{
      {"algorithm", algorithm_name(s.algorithm)},
      {"layout", s.layout == ConvLayout::kNHWC ? "nhwc" : "nchw"},
      {"input", std::string(to_string(s.input))},
      {"output", std::string(to_string(s.output))},
      {"vec_a", s.vec_a},
      {"vec_b", s.vec_b},
      {"tile", {s.tile.bm, s.tile.bn, s.tile.bk, s.tile.stages, s.tile.warps_m, s.tile.warps_n}},
      {"activation", static_cast<int>(s.activation)},
      {"bias", s.bias},
      {"residual", s.residual},
  };
}

void from_json(const nlohmann::json& j, ConvSpec& s) {
  const auto fail = [](const std::string& what) {
    throw Exception(kSpecInvalid, "conv spec JSON: " + what);
  };
  const auto algorithm = j.at("algorithm").get<std::string>();
  bool found = false;
  for (auto a : {ConvAlgorithm::kImplicitGemm, ConvAlgorithm::kDepthwise, ConvAlgorithm::kGemm}) {
    if (algorithm == algorithm_name(a)) {
      s.algorithm = a;
      found = true;
    }
  }
  if (!found) fail("unknown algorithm '" + algorithm + "'");
  const auto layout = j.at("layout").get<std::string>();
  if (layout != "nhwc" && layout != "nchw") fail("unknown layout '" + layout + "'");
  s.layout = layout == "nhwc" ? ConvLayout::kNHWC : ConvLayout::kNCHW;
  for (const char* key : {"input", "output"}) {
    const auto name = j.at(key).get<std::string>();
    const auto t = data_type_from_string(name);
    if (!t) fail("unknown dtype '" + name + "'");
    (std::string(key) == "input" ? s.input : s.output) = *t;
  }
  s.vec_a = j.at("vec_a").get<int>();
  s.vec_b = j.at("vec_b").get<int>();
  const auto tile = j.at("tile").get<std::vector<int>>();
  if (tile.size() != 6) fail("tile needs 6 values");
  s.tile = GemmTile{tile[0], tile[1], tile[2], tile[3], tile[4], tile[5]};
  const int act = j.at("activation").get<int>();
  if (act < 0 || act > static_cast<int>(GemmActivation::kTanh)) fail("unknown activation");
  s.activation = static_cast<GemmActivation>(act);
  s.bias = j.at("bias").get<bool>();
  s.residual = j.at("residual").get<bool>();
}

// ---- problems ----------------------------------------------------------------------------------

std::vector<int64_t> ConvProblem::output_shape(ConvLayout layout) const {
  std::vector<int64_t> s{n};
  if (layout == ConvLayout::kNCHW) s.push_back(m);
  for (int i = 3 - spatial_rank; i < 3; ++i) s.push_back(out[static_cast<size_t>(i)]);
  if (layout == ConvLayout::kNHWC) s.push_back(m);
  return s;
}

std::vector<int64_t> ConvProblem::input_shape(ConvLayout layout) const {
  std::vector<int64_t> s{n};
  if (layout == ConvLayout::kNCHW) s.push_back(c);
  for (int i = 3 - spatial_rank; i < 3; ++i) s.push_back(in[static_cast<size_t>(i)]);
  if (layout == ConvLayout::kNHWC) s.push_back(c);
  return s;
}

ConvProblem conv_problem(std::span<const int64_t> x, std::span<const int64_t> w,
                         std::span<const int64_t> strides, std::span<const int64_t> pads,
                         std::span<const int64_t> dilations, int64_t groups) {
  const auto fail = [](const std::string& what) {
    throw Exception(kNotImplementable, "convolution: " + what);
  };
  if (x.size() < 3 || x.size() > 5 || w.size() != x.size())
    fail("x and w need equal rank 3..5, got " + shape_to_string(x) + " and " + shape_to_string(w));
  const size_t rank = x.size() - 2;
  ConvProblem p;
  p.spatial_rank = static_cast<int>(rank);
  p.n = x[0];
  p.c = x[1];
  p.m = w[0];
  p.groups = groups;
  if (groups < 1 || p.c % groups != 0 || p.m % groups != 0 || w[1] * groups != p.c)
    fail("group " + std::to_string(groups) + " does not fit x " + shape_to_string(x) + " and w " +
         shape_to_string(w));
  const auto at = [&](std::span<const int64_t> v, size_t i, int64_t fallback) {
    return v.empty() ? fallback : v[i];
  };
  if ((!strides.empty() && strides.size() != rank) ||
      (!dilations.empty() && dilations.size() != rank) ||
      (!pads.empty() && pads.size() != 2 * rank))
    fail("strides/dilations need one value per spatial dim and pads two");
  for (size_t i = 0; i < rank; ++i) {
    const size_t d = 3 - rank + i;
    p.in[d] = x[2 + i];
    p.kernel[d] = w[2 + i];
    p.stride[d] = at(strides, i, 1);
    p.dilation[d] = at(dilations, i, 1);
    p.pad[d] = at(pads, i, 0);
    const int64_t pad_end = at(pads, rank + i, 0);
    const int64_t extent = (p.kernel[d] - 1) * p.dilation[d] + 1;
    const int64_t span = p.in[d] + p.pad[d] + pad_end - extent;
    if (p.stride[d] < 1 || p.dilation[d] < 1 || p.kernel[d] < 1 || span < 0 || p.pad[d] < 0 ||
        pad_end < 0)
      fail("window does not fit spatial dim " + std::to_string(i));
    p.out[d] = span / p.stride[d] + 1;
  }
  return p;
}

ConvProblem conv_problem(const ir::Node& node, std::span<const int64_t> x,
                         std::span<const int64_t> w) {
  const size_t rank = x.size() >= 2 ? x.size() - 2 : 0;
  auto strides = node.attr_ints("strides");
  auto dilations = node.attr_ints("dilations");
  auto pads = node.attr_ints("pads");
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "VALID") {
    pads.assign(2 * rank, 0);
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    pads.assign(2 * rank, 0);
    for (size_t i = 0; i < rank && i + 2 < w.size(); ++i) {
      const int64_t s = strides.empty() ? 1 : strides[i];
      const int64_t d = dilations.empty() ? 1 : dilations[i];
      const int64_t in = x[2 + i];
      const int64_t out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + (w[2 + i] - 1) * d + 1 - in);
      pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pads[rank + i] = total - pads[i];
    }
  }
  return conv_problem(x, w, strides, pads, dilations, node.attr_int("group", 1));
}

GemmProblem conv_gemm_problem(const ConvProblem& p) {
  const int64_t cg = p.c / p.groups, mg = p.m / p.groups, pos = p.positions();
  GemmProblem g;
  g.m = mg;
  g.n = pos;
  g.k = cg;
  g.a_k_major = true;
  g.b_k_major = false;
  g.lda = cg;
  g.ldb = pos;
  g.ldd = pos;
  g.batch = {p.n, p.groups};
  g.a_batch = {0, mg * cg};
  g.b_batch = {p.c * pos, cg * pos};
  g.d_batch = {p.m * pos, mg * pos};
  g.bias_batch = {0, mg};
  g.c = GemmOperandStrides{0, 0, {0, 0}};
  g.residual = GemmOperandStrides{pos, 1, g.d_batch};
  return g;
}

// ---- can_implement / launch ---------------------------------------------------------------------

Expected<void> can_implement(const ConvSpec& spec, const ConvProblem& p) {
  if (auto ok = spec.validate(); !ok) return ok;
  if (p.n < 0 || p.c < 1 || p.m < 1 || p.groups < 1 || p.c % p.groups != 0 || p.m % p.groups != 0)
    return problem_error(spec, "channels and groups are inconsistent");
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  int64_t in_elems = p.n * p.c, out_elems = p.n * p.m;
  for (size_t i = 0; i < 3; ++i) {
    if (p.in[i] < 1 || p.out[i] < 1 || p.kernel[i] < 1 || p.stride[i] < 1 || p.dilation[i] < 1 ||
        p.pad[i] < 0 || p.in[i] > kInt32Max / 4 || p.out[i] > kInt32Max / 4)
      return problem_error(spec, "spatial extents out of range");
    in_elems *= p.in[i];
    out_elems *= p.out[i];
  }
  // Positions and K go through 32-bit fast division.
  if (p.n * p.positions() > kInt32Max || p.gemm_k() > kInt32Max || p.m > kInt32Max ||
      p.n * p.in[0] > kInt32Max)
    return problem_error(spec, "N x positions, K or M exceed int32");
  const int64_t cg = p.c / p.groups, mg = p.m / p.groups;
  switch (spec.algorithm) {
    case ConvAlgorithm::kDepthwise:
      if (cg != 1) return problem_error(spec, "depthwise needs groups == C");
      return {};
    case ConvAlgorithm::kGemm: {
      if (!p.is_pointwise())
        return problem_error(spec, "the GEMM path takes 1x1, stride 1, unpadded convolutions");
      auto ok = can_implement(spec.gemm_spec(), conv_gemm_problem(p));
      if (!ok) return problem_error(spec, ok.error().message);
      return {};
    }
    case ConvAlgorithm::kImplicitGemm:
      break;
  }
  const int64_t k = p.gemm_k();
  if (spec.layout == ConvLayout::kNHWC) {
    if (!multiple_of(cg, spec.vec_a) || !multiple_of(p.c, spec.vec_a))
      return problem_error(
          spec, "C and C/G must be multiples of the im2col vector " + std::to_string(spec.vec_a));
    if (!multiple_of(k, spec.vec_b))
      return problem_error(spec, "K must be a multiple of the weight vector");
  } else {
    if (!multiple_of(k, spec.vec_a))
      return problem_error(spec, "K must be a multiple of the weight vector");
  }
  const int64_t rows = spec.layout == ConvLayout::kNHWC ? p.n * p.positions() : mg;
  const int64_t cols = spec.layout == ConvLayout::kNHWC ? mg : p.positions();
  if (ceil_div(rows, spec.tile.bm) * ceil_div(cols, spec.tile.bn) > kInt32Max)
    return problem_error(spec, "too many tiles");
  return {};
}

Expected<void> can_implement(const ConvSpec& spec, const ConvProblem& p, const ConvBuffers& b) {
  if (auto ok = can_implement(spec, p); !ok) return ok;
  if (p.n == 0) return {};
  const auto bad = [&](const std::string& what) {
    return Error{kBadBuffer, "conv " + spec.describe() + ": " + what};
  };
  if (b.x == nullptr || b.w == nullptr || b.y == nullptr) return bad("x, w and y are required");
  if (spec.bias && b.bias == nullptr) return bad("no bias buffer");
  if (spec.residual && b.residual == nullptr) return bad("no residual buffer");
  const int e = elem_bytes(spec.input);
  const auto aligned = [](const void* ptr, int bytes) {
    return reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(bytes) == 0;
  };
  const int align_x = spec.algorithm == ConvAlgorithm::kImplicitGemm
                          ? (spec.layout == ConvLayout::kNHWC ? spec.vec_a : 1) * e
                      : spec.algorithm == ConvAlgorithm::kGemm ? spec.vec_b * e
                                                               : e;
  const int align_w =
      spec.algorithm == ConvAlgorithm::kDepthwise
          ? e
          : (spec.layout == ConvLayout::kNHWC && spec.algorithm == ConvAlgorithm::kImplicitGemm
                 ? spec.vec_b
                 : spec.vec_a) *
                e;
  if (!aligned(b.x, align_x) || !aligned(b.w, align_w))
    return bad("x or w is not aligned to its copy vector");
  return {};
}

LaunchConfig launch_config(const ConvSpec& spec, const ConvProblem& p) {
  if (spec.algorithm == ConvAlgorithm::kGemm)
    return launch_config(spec.gemm_spec(), conv_gemm_problem(p));
  LaunchConfig c;
  c.block.x = static_cast<unsigned>(spec.threads());
  c.shared_bytes = static_cast<size_t>(spec.shared_bytes());
  if (spec.algorithm == ConvAlgorithm::kDepthwise) {
    const int64_t total = p.n * p.m * p.positions();
    c.grid.x = static_cast<unsigned>(std::min<int64_t>(ceil_div(total, 256), 1 << 20));
    return c;
  }
  const int64_t mg = p.m / p.groups;
  if (spec.layout == ConvLayout::kNHWC) {
    c.grid.x = static_cast<unsigned>(ceil_div(p.n * p.positions(), spec.tile.bm) *
                                     ceil_div(mg, spec.tile.bn));
    c.grid.z = static_cast<unsigned>(std::min<int64_t>(p.groups, 65535));
  } else {
    c.grid.x =
        static_cast<unsigned>(ceil_div(mg, spec.tile.bm) * ceil_div(p.positions(), spec.tile.bn));
    c.grid.z = static_cast<unsigned>(std::min<int64_t>(p.n * p.groups, 65535));
  }
  if (p.n == 0) c.grid.x = 0;
  return c;
}

dev::conv::ConvParams make_params(const ConvSpec& spec, const ConvProblem& p,
                                  const ConvBuffers& b) {
  dev::conv::ConvParams cp;
  std::memset(&cp, 0, sizeof(cp));
  const int64_t cg = p.c / p.groups, mg = p.m / p.groups, pos = p.positions();
  const int64_t in_pixels = p.in[0] * p.in[1] * p.in[2];
  dev::gemm::GemmParams& g = cp.gemm;
  g.d = b.y;
  g.bias = b.bias;
  g.residual.ptr = b.residual;
  g.alpha = 1.0f;
  g.activation_floor = activation_floor(spec.activation);
  g.group_m = 8;
  g.k = p.gemm_k();
  if (spec.layout == ConvLayout::kNHWC) {
    g.m = p.n * pos;
    g.n = mg;
    g.lda = 0;
    g.ldb = g.k;
    g.ldd = p.m;
    g.batch_rank = 1;
    g.batch_dims[0] = p.groups;
    g.a_batch_stride[0] = cg;        // group's first channel in x
    g.b_batch_stride[0] = mg * g.k;  // group's weight rows
    g.d_batch_stride[0] = mg;
    g.bias_batch_stride[0] = mg;
    g.residual.row_stride = p.m;
    g.residual.col_stride = 1;
    g.residual.batch_stride[0] = mg;
  } else {
    g.m = mg;
    g.n = pos;
    g.lda = g.k;
    g.ldb = 0;
    g.ldd = pos;
    g.batch_rank = 2;
    g.batch_dims[0] = p.n;
    g.batch_dims[1] = p.groups;
    g.a_batch_stride[0] = 0;
    g.a_batch_stride[1] = mg * g.k;
    g.b_batch_stride[0] = p.c * in_pixels;
    g.b_batch_stride[1] = cg * in_pixels;
    g.d_batch_stride[0] = p.m * pos;
    g.d_batch_stride[1] = mg * pos;
    g.bias_batch_stride[1] = mg;
    g.residual.row_stride = pos;
    g.residual.col_stride = 1;
    g.residual.batch_stride[0] = p.m * pos;
    g.residual.batch_stride[1] = mg * pos;
  }
  g.batch_count = 1;
  for (int i = 0; i < g.batch_rank; ++i) g.batch_count *= g.batch_dims[i];
  g.tiles_m = static_cast<int32_t>(ceil_div(g.m, spec.tile.bm));
  g.tiles_n = static_cast<int32_t>(ceil_div(g.n, spec.tile.bn));
  cp.x = b.x;
  cp.w = b.w;
  const auto i32 = [](int64_t v) { return static_cast<int32_t>(v); };
  cp.batch = i32(p.n);
  cp.channels = i32(p.c);
  cp.cg = i32(cg);
  cp.mg = i32(mg);
  cp.out_channels = i32(p.m);
  cp.in_d = i32(p.in[0]);
  cp.in_h = i32(p.in[1]);
  cp.in_w = i32(p.in[2]);
  cp.out_d = i32(p.out[0]);
  cp.out_h = i32(p.out[1]);
  cp.out_w = i32(p.out[2]);
  cp.ker_t = i32(p.kernel[0]);
  cp.ker_r = i32(p.kernel[1]);
  cp.ker_s = i32(p.kernel[2]);
  cp.stride_d = i32(p.stride[0]);
  cp.stride_h = i32(p.stride[1]);
  cp.stride_w = i32(p.stride[2]);
  cp.pad_d = i32(p.pad[0]);
  cp.pad_h = i32(p.pad[1]);
  cp.pad_w = i32(p.pad[2]);
  cp.dil_d = i32(p.dilation[0]);
  cp.dil_h = i32(p.dilation[1]);
  cp.dil_w = i32(p.dilation[2]);
  const auto div = [](int64_t d) {
    return dev::gemm::FastDivmod::make(static_cast<uint32_t>(std::max<int64_t>(d, 1)));
  };
  cp.div_cg = div(cg);
  cp.div_s = div(p.kernel[2]);
  cp.div_r = div(p.kernel[1]);
  cp.div_t = div(p.kernel[0]);
  cp.div_out_w = div(p.out[2]);
  cp.div_out_h = div(p.out[1]);
  cp.div_out_d = div(p.out[0]);
  cp.div_mg = div(mg);
  return cp;
}

Expected<void> run(const ConvSpec& spec, const Kernel& kernel, const ConvProblem& p,
                   const ConvBuffers& b, void* stream) {
  if (auto ok = can_implement(spec, p, b); !ok) return ok;
  if (spec.algorithm == ConvAlgorithm::kGemm) {
    GemmBuffers gb;
    gb.a = b.w;
    gb.b = b.x;
    gb.d = b.y;
    gb.bias = b.bias;
    gb.residual = b.residual;
    return run(spec.gemm_spec(), kernel, conv_gemm_problem(p), gb, stream);
  }
  const LaunchConfig lc = launch_config(spec, p);
  if (lc.grid.x == 0 || lc.grid.z == 0) return {};
  auto params = make_params(spec, p, b);
  if (lc.shared_bytes > 48 * 1024) {
    if (auto ok = kernel.set_max_dynamic_shared_memory(static_cast<int>(lc.shared_bytes)); !ok)
      return ok;
  }
  void* args[] = {&params};
  return kernel.launch(lc.grid, lc.block, lc.shared_bytes, stream, args);
}

HostTensor ohwi_weights(const HostTensor& w) {
  if (w.rank() < 3) throw Exception(kNotImplementable, "weights need rank >= 3");
  const auto& s = w.shape();
  const int64_t m = s[0], cg = s[1];
  int64_t taps = 1;
  for (size_t i = 2; i < s.size(); ++i) taps *= s[i];
  std::vector<int64_t> shape{m};
  shape.insert(shape.end(), s.begin() + 2, s.end());
  shape.push_back(cg);
  HostTensor out(w.dtype(), shape);
  const size_t e = static_cast<size_t>(bit_width(w.dtype()) / 8);
  const std::byte* src = w.data();
  std::byte* dst = out.mutable_data();
  for (int64_t o = 0; o < m; ++o)
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t t = 0; t < taps; ++t)
        std::memcpy(dst + static_cast<size_t>((o * taps + t) * cg + c) * e,
                    src + static_cast<size_t>((o * cg + c) * taps + t) * e, e);
  return out;
}

// ---- planning ----------------------------------------------------------------------------------

ConvSpec choose_conv_spec(DataType input, const ConvProblem& p, bool bias,
                          const ConvPlanOptions& options) {
  ConvSpec spec;
  spec.input = input;
  spec.output = options.output.value_or(input);
  spec.layout = options.layout;
  spec.activation = options.activation;
  spec.bias = bias;
  spec.residual = options.residual;
  const int64_t cg = p.c / p.groups, mg = p.m / p.groups;
  if (cg == 1 && p.groups > 1) {
    spec.algorithm = ConvAlgorithm::kDepthwise;
    spec.vec_a = spec.vec_b = 1;
    return spec;
  }
  const int e = elem_bytes(input);
  const int bk = 128 / e;
  const int limit = max_shared_bytes(options.sm);
  const bool one_by_one = p.is_pointwise();
  if (options.layout == ConvLayout::kNCHW && one_by_one) {
    GemmPlanOptions gopts;
    gopts.sm = options.sm;
    gopts.multiprocessors = options.multiprocessors;
    gopts.output = spec.output;
    gopts.epilogue = spec.epilogue();
    const GemmProblem gp = conv_gemm_problem(p);
    GemmSpec g = choose_gemm_spec(input, gp, gopts);
    if (g.algorithm == GemmAlgorithm::kMmaSync && can_implement(g, gp)) {
      spec.algorithm = ConvAlgorithm::kGemm;
      spec.vec_a = g.vec_a;
      spec.vec_b = g.vec_b;
      spec.tile = g.tile;
      return spec;
    }
  }
  spec.algorithm = ConvAlgorithm::kImplicitGemm;
  const int64_t k = p.gemm_k();
  if (options.layout == ConvLayout::kNHWC) {
    spec.vec_a = choose_vector(input, cg, std::vector<int64_t>{p.c});
    spec.vec_b = choose_vector(input, k, {});
  } else {
    spec.vec_a = choose_vector(input, k, {});
    spec.vec_b = 1;
  }
  // Output channels per group are the NHWC GEMM's N: narrow layers get a narrow tile.
  const bool narrow = options.layout == ConvLayout::kNHWC && mg <= 64;
  const int64_t rows = options.layout == ConvLayout::kNHWC ? p.n * p.positions() : mg;
  const int64_t cols = options.layout == ConvLayout::kNHWC ? mg : p.positions();
  const int64_t batches = options.layout == ConvLayout::kNHWC ? p.groups : p.n * p.groups;
  const bool few = ceil_div(rows, 128) * ceil_div(cols, 128) * batches < options.multiprocessors;
  std::vector<GemmTile> order;
  if (narrow) order.push_back({128, 64, bk, 4, 4, 2});
  if (few) order.push_back({64, 128, bk, 4, 2, 4});
  order.push_back({128, 128, bk, 4, 2, 4});
  order.push_back({64, 128, bk, 4, 2, 4});
  for (GemmTile t : order) {
    for (; t.stages >= 2; --t.stages) {
      spec.tile = t;
      if (spec.shared_bytes() <= limit && spec.validate()) return spec;
    }
  }
  spec.tile = GemmTile{64, 128, bk, 2, 2, 4};
  return spec;
}

std::optional<ConvSpec> plan_conv(const ir::Node& node, std::span<const ir::TensorInfo> inputs,
                                  const ConvPlanOptions& options) {
  if (node.op != ir::OpKind::kConv || inputs.size() < 2) return std::nullopt;
  const ir::TensorInfo& x = inputs[0];
  const ir::TensorInfo& w = inputs[1];
  if (!is_conv_float(x.dtype) || w.dtype != x.dtype) return std::nullopt;
  if (options.output && !is_conv_float(*options.output)) return std::nullopt;
  if (x.rank() < 3 || x.rank() > 5 || w.rank() != x.rank()) return std::nullopt;
  // Channels, kernel and spatial dims must be static; the batch may be dynamic.
  for (size_t i = 1; i < x.shape.size(); ++i) {
    if (x.shape[i] == ir::kDynamic) return std::nullopt;
  }
  if (!w.is_static()) return std::nullopt;
  const bool bias = inputs.size() > 2 && inputs[2].present;
  if (bias && inputs[2].dtype != x.dtype) return std::nullopt;
  std::vector<int64_t> xs = x.shape;
  if (xs[0] == ir::kDynamic) xs[0] = 1;
  ConvProblem p;
  try {
    p = conv_problem(node, xs, w.shape);
  } catch (const Exception&) {
    return std::nullopt;
  }
  ConvSpec spec = choose_conv_spec(x.dtype, p, bias, options);
  if (!can_implement(spec, p)) return std::nullopt;
  return spec;
}

}  // namespace rtx::jit::kernels
