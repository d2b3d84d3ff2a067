// SPDX-License-Identifier: Apache-2.0
// Normalisation family host side: planning from IR nodes, the threads-per-row choice and the
// kernel parameters.
#include "jit/kernels/norm.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace rtx::jit::kernels {
namespace {

Error bad_args(const std::string& m) {
  return Error{errc::kBadArguments, "norm: " + m};
}

bool is_norm_dtype(DataType t) {
  return t == DataType::kF16 || t == DataType::kBF16 || t == DataType::kF32;
}

int dtype_bytes(DataType t) {
  return bit_width(t) / 8;
}

constexpr std::pair<NormKind, const char*> kNames[] = {
    {NormKind::kSoftmax, "softmax"},
    {NormKind::kLogSoftmax, "log_softmax"},
    {NormKind::kLayerNorm, "layer_norm"},
    {NormKind::kRmsNorm, "rms_norm"},
};

/// Whether `param` (right-aligned) covers exactly dims [axis, rank) of `x` (leading 1s allowed);
/// dynamic dims on either side are accepted here and checked again at run time.
bool covers_row(std::span<const int64_t> param, std::span<const int64_t> x, int64_t axis) {
  if (param.size() > x.size()) return false;
  const size_t shift = x.size() - param.size();
  for (size_t i = 0; i < param.size(); ++i) {
    const int64_t d = static_cast<int64_t>(i + shift);
    const int64_t p = param[i], xd = x[i + shift];
    if (d < axis) {
      if (p != 1) return false;
    } else if (p != xd && p != ir::kDynamic && xd != ir::kDynamic) {
      return false;
    } else if (p == 1 && xd == ir::kDynamic) {
      return false;  // might broadcast within the row at run time
    }
  }
  return true;
}

}  // namespace

std::string_view norm_kind_name(NormKind kind) {
  for (const auto& [k, n] : kNames)
    if (k == kind) return n;
  return "?";
}

bool NormSpec::strided() const {
  return (kind == NormKind::kSoftmax || kind == NormKind::kLogSoftmax) && axis != rank - 1;
}

std::string NormSpec::name_expression(int t) const {
  const std::string in(cuda_type_name(input));
  const std::string threads_s = std::to_string(t);
  switch (kind) {
    case NormKind::kSoftmax:
    case NormKind::kLogSoftmax: {
      const char* log = kind == NormKind::kLogSoftmax ? "true" : "false";
      if (strided()) return kernels::name_expression("rtx::kernels::softmax_strided", {in, log});
      return kernels::name_expression("rtx::kernels::softmax_rows", {in, threads_s, log});
    }
    case NormKind::kLayerNorm:
      return kernels::name_expression("rtx::kernels::layer_norm_rows", {in, threads_s});
    case NormKind::kRmsNorm:
      return kernels::name_expression("rtx::kernels::rms_norm_rows",
                                       {in, cuda_type_name(scale), threads_s});
  }
  return {};
}

std::vector<std::string> NormSpec::name_expressions() const {
  if (strided()) return {name_expression(0)};
  std::vector<std::string> v;
  for (int t : threads) v.push_back(name_expression(t));
  return v;
}

Program NormSpec::program() const {
  Program p;
  p.name = std::string(norm_kind_name(kind)) + "_" + std::string(to_string(input));
  p.source = kind == NormKind::kSoftmax || kind == NormKind::kLogSoftmax
                 ? "#include \"norm/softmax.cuh\"\n"
                 : "#include \"norm/layer_norm.cuh\"\n";
  p.name_expressions = name_expressions();
  return p;
}

void to_json(nlohmann::json& j, const NormSpec& s) {
  j = nlohmann::json{{"kind", std::string(norm_kind_name(s.kind))},
                     {"input", std::string(to_string(s.input))},
                     {"scale", std::string(to_string(s.scale))},
                     {"rank", s.rank},
                     {"axis", s.axis},
                     {"epsilon", s.epsilon},
                     {"threads", s.threads}};
}

void from_json(const nlohmann::json& j, NormSpec& spec) {
  const auto fail = [](const std::string& m) {
    throw Exception(errc::kBadSpec, "norm spec JSON: " + m);
  };
  try {
    NormSpec s;
    const std::string kind = j.at("kind").get<std::string>();
    bool found = false;
    for (const auto& [k, n] : kNames)
      if (kind == n) {
        s.kind = k;
        found = true;
      }
    if (!found) fail("unknown kind '" + kind + "'");
    const auto in = data_type_from_string(j.at("input").get<std::string>());
    const auto sc = data_type_from_string(j.at("scale").get<std::string>());
    if (!in || !sc || !is_norm_dtype(*in) || !is_norm_dtype(*sc)) fail("unsupported dtype");
    s.input = *in;
    s.scale = *sc;
    s.rank = j.at("rank").get<int64_t>();
    s.axis = j.at("axis").get<int64_t>();
    s.epsilon = j.at("epsilon").get<float>();
    s.threads = j.at("threads").get<std::vector<int>>();
    if (s.rank < 1 || s.axis < 0 || s.axis >= s.rank) fail("bad rank/axis");
    if (s.threads.empty()) fail("no thread variants");
    for (int t : s.threads)
      if (std::find(std::begin(kNormThreadVariants), std::end(kNormThreadVariants), t) ==
          std::end(kNormThreadVariants))
        fail("bad threads-per-row variant " + std::to_string(t));
    spec = std::move(s);
  } catch (const nlohmann::json::exception& e) {
    fail(e.what());
  }
}

int norm_threads_for(int64_t cols, DataType dtype, std::span<const int> available) {
  const int64_t per_thread = rtx::kernels::kNormCachedVectors * (16 / dtype_bytes(dtype));
  int best = 0;
  for (int t : available) best = std::max(best, t);
  for (int t : available)
    if (int64_t{t} * per_thread >= cols && t < best) best = t;
  return best;
}

std::optional<NormSpec> plan_norm(const ir::Node& node, std::span<const ir::TensorInfo> inputs) {
  NormSpec s;
  switch (node.op) {
    case ir::OpKind::kSoftmax: s.kind = NormKind::kSoftmax; break;
    case ir::OpKind::kLogSoftmax: s.kind = NormKind::kLogSoftmax; break;
    case ir::OpKind::kLayerNormalization: s.kind = NormKind::kLayerNorm; break;
    case ir::OpKind::kRMSNormalization: s.kind = NormKind::kRmsNorm; break;
    default: return std::nullopt;
  }
  if (inputs.empty() || !inputs[0].present) return std::nullopt;
  const ir::TensorInfo& x = inputs[0];
  if (!is_norm_dtype(x.dtype) || x.rank() < 1 || x.rank() > kMaxRank) return std::nullopt;
  s.input = s.scale = x.dtype;
  s.rank = x.rank();
  try {
    int64_t axis = node.attr_int("axis", -1);
    if (axis < -s.rank || axis >= s.rank) return std::nullopt;
    s.axis = axis < 0 ? axis + s.rank : axis;
    int64_t cols = 1;  // the row length when static
    const bool softmax = s.kind == NormKind::kSoftmax || s.kind == NormKind::kLogSoftmax;
    const size_t from = softmax ? static_cast<size_t>(s.axis) : static_cast<size_t>(s.axis);
    const size_t to = softmax ? from + 1 : x.shape.size();
    for (size_t d = from; d < to; ++d)
      cols = (cols < 0 || x.shape[d] == ir::kDynamic) ? -1 : cols * x.shape[d];
    if (!softmax) {
      s.epsilon = static_cast<float>(node.attr_float("epsilon", 1e-5));
      if (inputs.size() < 2 || !inputs[1].present) return std::nullopt;
      const ir::TensorInfo& sc = inputs[1];
      if (!covers_row(sc.shape, x.shape, s.axis)) return std::nullopt;
      if (s.kind == NormKind::kLayerNorm) {
        if (sc.dtype != x.dtype) return std::nullopt;
        if (inputs.size() > 2 && inputs[2].present &&
            (inputs[2].dtype != x.dtype || !covers_row(inputs[2].shape, x.shape, s.axis)))
          return std::nullopt;
        const bool stats = (node.outputs.size() > 1 && node.outputs[1] != ir::kNoValue) ||
                           (node.outputs.size() > 2 && node.outputs[2] != ir::kNoValue);
        if (stats && node.attr_int("stash_type", 1) != 1) return std::nullopt;
      } else {
        if (!is_norm_dtype(sc.dtype)) return std::nullopt;
        s.scale = sc.dtype;
      }
    }
    if (cols > 0) s.threads = {norm_threads_for(cols, s.input, kNormThreadVariants)};
  } catch (const Exception&) {
    return std::nullopt;
  }
  return s;
}

Expected<void> can_implement(const NormSpec& spec, const NormArgs& args) {
  auto l = make_launch(spec, args);
  if (!l) return l.error();
  return {};
}

Expected<NormLaunch> make_launch(const NormSpec& spec, const NormArgs& args) {
  const auto& shape = args.in_shape;
  if (static_cast<int64_t>(shape.size()) != spec.rank)
    return bad_args("input rank " + std::to_string(shape.size()) + " differs from the planned " +
                    std::to_string(spec.rank));
  for (int64_t d : shape)
    if (d < 0) return bad_args("input shape " + shape_to_string(shape) + " has a negative dim");
  const bool softmax = spec.kind == NormKind::kSoftmax || spec.kind == NormKind::kLogSoftmax;
  const auto axis = static_cast<size_t>(spec.axis);
  int64_t outer = 1, cols = 1, inner = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (d < axis) outer *= shape[d];
    else if (d == axis || !softmax) cols *= shape[d];
    else inner *= shape[d];
  }
  NormLaunch l;
  auto& p = l.params;
  p.in = args.in;
  p.out = args.out;
  p.rows = outer;
  p.cols = cols;
  p.inner = inner;
  p.epsilon = spec.epsilon;
  const int64_t elements = outer * cols * inner;
  if (elements == 0) {
    l.kernel = spec.name_expressions().front();
    l.config.grid = Dim3{0, 1, 1};
    return l;
  }
  if (!args.in || !args.out) return bad_args("null input or output buffer");
  const auto check_param = [&](const std::vector<int64_t>& ps, const char* what) -> Expected<void> {
    if (ps.size() > shape.size() || element_count(ps) != cols)
      return bad_args(std::string(what) + " shape " + shape_to_string(ps) +
                      " does not cover the normalised dims of " + shape_to_string(shape));
    const size_t shift = shape.size() - ps.size();
    for (size_t i = 0; i < ps.size(); ++i) {
      const size_t d = i + shift;
      if ((d < axis && ps[i] != 1) || (d >= axis && ps[i] != shape[d]))
        return bad_args(std::string(what) + " shape " + shape_to_string(ps) +
                        " does not match the normalised dims of " + shape_to_string(shape));
    }
    return {};
  };
  if (!softmax) {
    if (!args.scale) return bad_args("null scale buffer");
    if (auto r = check_param(args.scale_shape, "scale"); !r) return r.error();
    if (args.bias) {
      if (spec.kind != NormKind::kLayerNorm) return bad_args("RMS norm takes no bias");
      if (auto r = check_param(args.bias_shape, "bias"); !r) return r.error();
    }
    p.scale = args.scale;
    p.bias = args.bias;
    if (spec.kind == NormKind::kLayerNorm) {
      p.mean = args.mean;
      p.inv_std = args.inv_std;
    }
  }
  const int in_bytes = dtype_bytes(spec.input), out_bytes = dtype_bytes(spec.output());
  // Every access is at least one element wide: a pointer off its element size would fault.
  const int param_bytes = dtype_bytes(spec.kind == NormKind::kRmsNorm ? spec.scale : spec.input);
  if (!is_aligned(args.in, static_cast<size_t>(in_bytes)) || !is_aligned(args.out, static_cast<size_t>(out_bytes)) ||
      (p.scale && !is_aligned(p.scale, static_cast<size_t>(param_bytes))) ||
      (p.bias && !is_aligned(p.bias, static_cast<size_t>(param_bytes))) ||
      (p.mean && !is_aligned(p.mean, 4)) || (p.inv_std && !is_aligned(p.inv_std, 4)))
    return bad_args("a buffer is not aligned to its element size");
  bool vectorized = (cols * in_bytes) % 16 == 0 && (cols * out_bytes) % 16 == 0 &&
                    is_aligned(args.in, 16) && is_aligned(args.out, 16);
  if (p.scale) vectorized = vectorized && is_aligned(p.scale, 16);
  if (p.bias) vectorized = vectorized && is_aligned(p.bias, 16);
  p.vectorized = vectorized ? 1 : 0;
  if (spec.strided()) {
    l.kernel = spec.name_expression(0);
    l.config.block = Dim3{256, 1, 1};
    const int64_t blocks = std::clamp<int64_t>((outer * inner + 255) / 256, 1, 1 << 20);
    l.config.grid = Dim3{static_cast<unsigned>(blocks), 1, 1};
    return l;
  }
  const int threads = norm_threads_for(cols, spec.input, spec.threads);
  l.kernel = spec.name_expression(threads);
  const int block = threads < 128 ? 128 : threads;
  const int64_t rows_per_block = block / threads;
  const int64_t blocks = std::clamp<int64_t>((outer + rows_per_block - 1) / rows_per_block, 1,
                                             1 << 20);
  l.config.block = Dim3{static_cast<unsigned>(block), 1, 1};
  l.config.grid = Dim3{static_cast<unsigned>(blocks), 1, 1};
  return l;
}

Expected<void> run(const NormSpec& spec, const NormArgs& args, const LoadedProgram& program,
                   void* stream) {
  auto l = make_launch(spec, args);
  if (!l) return l.error();
  return launch(program, l->kernel, l->config, &l->params, stream);
}

}  // namespace rtx::jit::kernels
