// SPDX-License-Identifier: Apache-2.0
// Pooling family host side: planning from IR nodes, ONNX window geometry (the rules of
// ir/ops/conv.cpp's plan_window, including onnx#5741's ceil_mode fix) and kernel parameters.
#include "jit/kernels/pool.hpp"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "templates/reduce/params.cuh"

namespace rtx::jit::kernels {
namespace {

using rtx::kernels::PoolParams;

Error bad_args(const std::string& m) {
  return Error{errc::kBadArguments, "pool: " + m};
}

constexpr std::pair<PoolKind, const char*> kNames[] = {
    {PoolKind::kMax, "max"}, {PoolKind::kAverage, "average"}, {PoolKind::kGlobalAverage, "global_average"}};

bool is_float_dtype(DataType t) {
  return t == DataType::kF16 || t == DataType::kBF16 || t == DataType::kF32 ||
         t == DataType::kF64;
}

bool accepts(PoolKind k, DataType t) {
  return is_float_dtype(t) || (k == PoolKind::kMax && (t == DataType::kINT8 || t == DataType::kUINT8));
}

/// One spatial dim after resolving pads and output extent.
struct Window {
  int64_t in, out, kernel, stride, dilation, pad_begin, pad_end;
};

Expected<std::vector<Window>> plan_windows(const PoolSpec& spec, std::span<const int64_t> x) {
  const size_t n = static_cast<size_t>(spec.rank - 2);
  std::vector<Window> w(n);
  for (size_t i = 0; i < n; ++i) {
    Window& d = w[i];
    d.in = x[i + 2];
    d.kernel = spec.kernel[i];
    d.stride = spec.strides[i];
    d.dilation = spec.dilations[i];
    const bool explicit_pads = spec.auto_pad == "NOTSET";
    d.pad_begin = explicit_pads ? spec.pads[i] : 0;
    d.pad_end = explicit_pads ? spec.pads[i + n] : 0;
    const int64_t ek = (d.kernel - 1) * d.dilation + 1;
    if (spec.auto_pad == "SAME_UPPER" || spec.auto_pad == "SAME_LOWER") {
      d.out = (d.in + d.stride - 1) / d.stride;
      const int64_t total = std::max<int64_t>(0, (d.out - 1) * d.stride + ek - d.in);
      d.pad_begin = spec.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      d.pad_end = total - d.pad_begin;
      continue;
    }
    const int64_t span = d.in + d.pad_begin + d.pad_end - ek;
    if (span < 0)
      return bad_args("spatial dim " + std::to_string(i) + ": kernel extent " +
                      std::to_string(ek) + " exceeds the padded input " + std::to_string(d.in));
    if (!spec.ceil_mode) {
      d.out = span / d.stride + 1;
    } else {
      d.out = (span + d.stride - 1) / d.stride + 1;
      if ((d.out - 1) * d.stride >= d.in + d.pad_begin) --d.out;
    }
  }
  return w;
}

}  // namespace

std::string_view pool_kind_name(PoolKind kind) {
  for (const auto& [k, n] : kNames)
    if (k == kind) return n;
  return "?";
}

std::vector<std::string> PoolSpec::name_expressions() const {
  const std::string t(cuda_type_name(dtype));
  switch (kind) {
    case PoolKind::kMax: return {name_expression("rtx::kernels::max_pool", {t})};
    case PoolKind::kAverage: return {name_expression("rtx::kernels::avg_pool", {t})};
    case PoolKind::kGlobalAverage: {
      const std::string op = "rtx::kernels::MeanOp<" + t + ">";
      return {name_expression("rtx::kernels::reduce_rows", {op, t, t, "32"}),
              name_expression("rtx::kernels::reduce_rows", {op, t, t, "256"})};
    }
  }
  return {};
}

Program PoolSpec::program() const {
  Program p;
  p.name = std::string(pool_kind_name(kind)) + "_pool_" + std::string(to_string(dtype));
  p.source = "#include \"pool/pool.cuh\"\n";
  p.name_expressions = name_expressions();
  return p;
}

void to_json(nlohmann::json& j, const PoolSpec& s) {
  j = nlohmann::json{{"kind", std::string(pool_kind_name(s.kind))},
                     {"dtype", std::string(to_string(s.dtype))},
                     {"rank", s.rank},
                     {"kernel", s.kernel},
                     {"strides", s.strides},
                     {"dilations", s.dilations},
                     {"pads", s.pads},
                     {"auto_pad", s.auto_pad},
                     {"ceil_mode", s.ceil_mode},
                     {"count_include_pad", s.count_include_pad},
                     {"storage_order", s.storage_order}};
}

void from_json(const nlohmann::json& j, PoolSpec& spec) {
  const auto fail = [](const std::string& m) {
    throw Exception(errc::kBadSpec, "pool spec JSON: " + m);
  };
  try {
    PoolSpec s;
    const std::string kind = j.at("kind").get<std::string>();
    bool found = false;
    for (const auto& [k, n] : kNames)
      if (kind == n) {
        s.kind = k;
        found = true;
      }
    if (!found) fail("unknown kind '" + kind + "'");
    const auto t = data_type_from_string(j.at("dtype").get<std::string>());
    if (!t || !accepts(s.kind, *t)) fail("unsupported dtype");
    s.dtype = *t;
    s.rank = j.at("rank").get<int64_t>();
    s.kernel = j.at("kernel").get<std::vector<int64_t>>();
    s.strides = j.at("strides").get<std::vector<int64_t>>();
    s.dilations = j.at("dilations").get<std::vector<int64_t>>();
    s.pads = j.at("pads").get<std::vector<int64_t>>();
    s.auto_pad = j.at("auto_pad").get<std::string>();
    s.ceil_mode = j.at("ceil_mode").get<bool>();
    s.count_include_pad = j.at("count_include_pad").get<bool>();
    s.storage_order = j.at("storage_order").get<int>();
    const int64_t n = s.rank - 2;
    if (s.kind == PoolKind::kGlobalAverage) {
      if (s.rank < 2 || s.rank > kMaxRank) fail("bad rank");
    } else {
      if (n < 1 || n > rtx::kernels::kPoolDims) fail("pools take 1 to 3 spatial dims");
      if (static_cast<int64_t>(s.kernel.size()) != n || static_cast<int64_t>(s.strides.size()) != n ||
          static_cast<int64_t>(s.dilations.size()) != n || static_cast<int64_t>(s.pads.size()) != 2 * n)
        fail("window attribute sizes do not match the spatial rank");
      for (int64_t i = 0; i < n; ++i)
        if (s.kernel[static_cast<size_t>(i)] < 1 || s.strides[static_cast<size_t>(i)] < 1 ||
            s.dilations[static_cast<size_t>(i)] < 1)
          fail("kernel, strides and dilations must be >= 1");
      for (int64_t p : s.pads)
        if (p < 0) fail("pads must be >= 0");
      if (s.auto_pad != "NOTSET" && s.auto_pad != "SAME_UPPER" && s.auto_pad != "SAME_LOWER" &&
          s.auto_pad != "VALID")
        fail("bad auto_pad");
    }
    spec = std::move(s);
  } catch (const nlohmann::json::exception& e) {
    fail(e.what());
  }
}

std::optional<PoolSpec> plan_pool(const ir::Node& node, std::span<const ir::TensorInfo> inputs) {
  PoolSpec s;
  switch (node.op) {
    case ir::OpKind::kMaxPool: s.kind = PoolKind::kMax; break;
    case ir::OpKind::kAveragePool: s.kind = PoolKind::kAverage; break;
    case ir::OpKind::kGlobalAveragePool: s.kind = PoolKind::kGlobalAverage; break;
    default: return std::nullopt;
  }
  if (inputs.empty() || !inputs[0].present) return std::nullopt;
  const ir::TensorInfo& x = inputs[0];
  if (!accepts(s.kind, x.dtype)) return std::nullopt;
  s.dtype = x.dtype;
  s.rank = x.rank();
  if (s.kind == PoolKind::kGlobalAverage) {
    if (s.rank < 2 || s.rank > kMaxRank) return std::nullopt;
    return s;
  }
  const int64_t n = s.rank - 2;
  if (n < 1 || n > rtx::kernels::kPoolDims) return std::nullopt;
  try {
    const auto spatial = [&](const char* key, int64_t fallback) {
      auto v = node.find_ints(key);
      if (!v || v->empty()) return std::vector<int64_t>(static_cast<size_t>(n), fallback);
      return *v;
    };
    auto k = node.find_ints("kernel_shape");
    if (!k) return std::nullopt;
    s.kernel = *k;
    s.strides = spatial("strides", 1);
    s.dilations = spatial("dilations", 1);
    auto pads = node.find_ints("pads");
    s.pads = pads && !pads->empty() ? *pads : std::vector<int64_t>(static_cast<size_t>(2 * n), 0);
    s.auto_pad = node.attr_string("auto_pad", "NOTSET");
    s.ceil_mode = node.attr_int("ceil_mode", 0) != 0;
    s.count_include_pad = node.attr_int("count_include_pad", 0) != 0;
    s.storage_order = static_cast<int>(node.attr_int("storage_order", 0));
    // The same structural checks as JSON loading.
    nlohmann::json j;
    to_json(j, s);
    PoolSpec checked;
    from_json(j, checked);
  } catch (const Exception&) {
    return std::nullopt;
  }
  return s;
}

Expected<std::vector<int64_t>> pool_output_shape(const PoolSpec& spec,
                                                 std::span<const int64_t> in_shape) {
  if (static_cast<int64_t>(in_shape.size()) != spec.rank)
    return bad_args("input rank " + std::to_string(in_shape.size()) + " differs from the planned " +
                    std::to_string(spec.rank));
  for (int64_t d : in_shape)
    if (d < 0) return bad_args("input shape has a negative dim");
  std::vector<int64_t> out{in_shape[0], in_shape[1]};
  if (spec.kind == PoolKind::kGlobalAverage) {
    out.resize(in_shape.size(), 1);
    return out;
  }
  auto w = plan_windows(spec, in_shape);
  if (!w) return w.error();
  for (const auto& d : *w) out.push_back(d.out);
  return out;
}

Expected<void> can_implement(const PoolSpec& spec, const PoolArgs& args) {
  auto l = make_launch(spec, args);
  if (!l) return l.error();
  return {};
}

Expected<PoolLaunch> make_launch(const PoolSpec& spec, const PoolArgs& args) {
  auto out_shape = pool_output_shape(spec, args.in_shape);
  if (!out_shape) return out_shape.error();
  PoolLaunch l;
  l.out_shape = *out_shape;
  const auto names = spec.name_expressions();
  const int64_t n = element_count(*out_shape);
  const int64_t planes = args.in_shape[0] * args.in_shape[1];
  l.kernel = names.front();
  if (n == 0) {
    l.config.grid = Dim3{0, 1, 1};
    return l;
  }
  if (!args.out || !args.in) return bad_args("null input or output buffer");
  if (spec.kind == PoolKind::kGlobalAverage) {
    int64_t plane = 1;
    for (size_t d = 2; d < args.in_shape.size(); ++d) plane *= args.in_shape[d];
    rtx::kernels::ReduceParams p{};
    p.in = args.in;
    p.out = args.out;
    p.outputs = planes;
    p.reduce = plane;
    p.count = plane;
    p.row_stride = plane;
    p.chunks = 1;
    p.finalize = 1;
    p.vectorized = is_aligned(args.in, 16) ? 1 : 0;
    const bool wide = plane > 1024;
    l.kernel = names[wide ? 1 : 0];
    const int64_t rows_per_block = wide ? 1 : 8;
    l.config.block = Dim3{256, 1, 1};
    l.config.grid = Dim3{static_cast<unsigned>(std::clamp<int64_t>(
                             (planes + rows_per_block - 1) / rows_per_block, 1, 65535)),
                         1, 1};
    l.params.resize(sizeof p);
    std::memcpy(l.params.data(), &p, sizeof p);
    return l;
  }
  auto w = plan_windows(spec, args.in_shape);
  if (!w) return w.error();
  PoolParams p{};
  p.in = args.in;
  p.out = args.out;
  p.indices = spec.kind == PoolKind::kMax ? args.indices : nullptr;
  p.planes = planes;
  p.n = n;
  p.count_include_pad = spec.count_include_pad ? 1 : 0;
  p.storage_order = spec.storage_order;
  // Pad the spatial dims to 3 with leading unit dims.
  const size_t lead = static_cast<size_t>(rtx::kernels::kPoolDims) - w->size();
  for (size_t d = 0; d < static_cast<size_t>(rtx::kernels::kPoolDims); ++d) {
    if (d < lead) {
      p.in_shape[d] = p.out_shape[d] = p.kernel[d] = p.stride[d] = p.dilation[d] = 1;
      p.pad_begin[d] = p.pad_end[d] = 0;
      continue;
    }
    const Window& win = (*w)[d - lead];
    p.in_shape[d] = win.in;
    p.out_shape[d] = win.out;
    p.kernel[d] = win.kernel;
    p.stride[d] = win.stride;
    p.dilation[d] = win.dilation;
    p.pad_begin[d] = win.pad_begin;
    p.pad_end[d] = win.pad_end;
  }
  l.config.block = Dim3{static_cast<unsigned>(rtx::kernels::kPoolBlock), 1, 1};
  l.config.grid = Dim3{static_cast<unsigned>(std::clamp<int64_t>(
                           (n + rtx::kernels::kPoolBlock - 1) / rtx::kernels::kPoolBlock, 1, 1 << 20)),
                       1, 1};
  l.params.resize(sizeof p);
  std::memcpy(l.params.data(), &p, sizeof p);
  return l;
}

Expected<void> run(const PoolSpec& spec, const PoolArgs& args, const LoadedProgram& program,
                   void* stream) {
  auto l = make_launch(spec, args);
  if (!l) return l.error();
  return launch(program, l->kernel, l->config, l->params.data(), stream);
}

}  // namespace rtx::jit::kernels
