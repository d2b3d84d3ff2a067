// SPDX-License-Identifier: Apache-2.0
// Reduction family host side: planning from IR nodes, dim merging into rows or strided views,
// the split decision and the kernel parameters of each pass.
#include "jit/kernels/reduce.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "ir/graph.hpp"

namespace rtx::jit::kernels {
namespace {

using rtx::kernels::ReduceParams;

Error bad_args(const std::string& m) {
  return Error{errc::kBadArguments, "reduce: " + m};
}

constexpr std::array<std::pair<ReduceKind, const char*>, 7> kKindNames{{
    {ReduceKind::kSum, "sum"},
    {ReduceKind::kMean, "mean"},
    {ReduceKind::kMax, "max"},
    {ReduceKind::kMin, "min"},
    {ReduceKind::kProd, "prod"},
    {ReduceKind::kArgMax, "argmax"},
    {ReduceKind::kArgMin, "argmin"},
}};

bool is_arg(ReduceKind k) {
  return k == ReduceKind::kArgMax || k == ReduceKind::kArgMin;
}

bool is_float_dtype(DataType t) {
  return t == DataType::kF16 || t == DataType::kBF16 || t == DataType::kF32 ||
         t == DataType::kF64;
}

bool accepts(ReduceKind k, DataType t) {
  if (is_float_dtype(t) || t == DataType::kINT32 || t == DataType::kINT64) return true;
  if (k == ReduceKind::kMax || k == ReduceKind::kMin)
    return t == DataType::kINT8 || t == DataType::kUINT8 || t == DataType::kBOOL;
  if (is_arg(k)) return t == DataType::kINT8 || t == DataType::kUINT8;
  return false;
}

std::string acc_type(DataType t) {
  if (t == DataType::kF64) return "double";
  if (is_float_dtype(t)) return "float";
  return "long long";
}

/// Merged view of one input: dims with a reduced flag, extent-1 dims dropped.
struct Group {
  int64_t extent;
  int64_t stride;  // input element stride
  bool reduced;
};

std::vector<Group> merge_groups(std::span<const int64_t> shape, std::span<const int64_t> axes) {
  const auto strides = contiguous_strides(shape);
  std::vector<Group> g;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const bool red = std::find(axes.begin(), axes.end(), static_cast<int64_t>(d)) != axes.end();
    if (!g.empty() && g.back().reduced == red) {
      g.back().extent *= shape[d];
      g.back().stride = strides[d];
    } else {
      g.push_back(Group{shape[d], strides[d], red});
    }
  }
  return g;
}

/// How a reduction runs for one concrete shape.
struct Plan {
  bool rows = true;
  int64_t outputs = 0;
  int64_t reduce = 0;  // per result
  std::vector<Group> kept, red;
  int64_t chunks = 1;
  int64_t chunk = 0;
  int strided_by = 1;  // blockDim.y of reduce_strided
};

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

Expected<Plan> make_plan(const ReduceSpec& spec, std::span<const int64_t> shape, int mp) {
  if (static_cast<int64_t>(shape.size()) != spec.rank)
    return bad_args("input rank " + std::to_string(shape.size()) + " differs from the planned " +
                    std::to_string(spec.rank));
  for (int64_t d : shape)
    if (d < 0) return bad_args("input shape " + shape_to_string(shape) + " has a negative dim");
  Plan p;
  const auto groups = merge_groups(shape, spec.axes);
  p.outputs = 1;
  p.reduce = 1;
  for (const auto& g : groups) (g.reduced ? p.reduce : p.outputs) *= g.extent;
  // Zero-extent kept dims make the output empty; zero-extent reduced dims give empty reductions.
  for (size_t d = 0; d < shape.size(); ++d) {
    const bool red =
        std::find(spec.axes.begin(), spec.axes.end(), static_cast<int64_t>(d)) != spec.axes.end();
    if (shape[d] == 0) (red ? p.reduce : p.outputs) = 0;
  }
  size_t reduced_groups = 0;
  for (const auto& g : groups) {
    (g.reduced ? p.red : p.kept).push_back(g);
    reduced_groups += g.reduced ? 1 : 0;
  }
  p.rows = reduced_groups == 0 || (reduced_groups == 1 && groups.back().reduced);
  if (p.reduce == 0 || p.outputs == 0) p.rows = true;
  if (p.kept.size() > static_cast<size_t>(kMaxRank) || p.red.size() > static_cast<size_t>(kMaxRank))
    return bad_args("too many dims after merging");
  if (mp <= 0) mp = 132;
  const int64_t want = int64_t{mp} * 4;  // results (or chunks) to keep every SM busy
  if (p.rows) {
    if (p.reduce >= 8192 && p.outputs < want) {
      int64_t chunks = std::min<int64_t>({ceil_div(want, p.outputs), ceil_div(p.reduce, 4096), 128});
      int64_t chunk = ceil_div(ceil_div(p.reduce, chunks), 16) * 16;  // 16-element aligned starts
      chunks = ceil_div(p.reduce, chunk);
      if (chunks > 1) {
        p.chunks = chunks;
        p.chunk = chunk;
      }
    }
  } else {
    p.strided_by = p.reduce >= 64 ? 8 : p.reduce >= 4 ? 4 : p.reduce >= 2 ? 2 : 1;
    const int64_t bx = rtx::kernels::kReduceStridedBlock / p.strided_by;
    const int64_t blocks = ceil_div(p.outputs, bx);
    if (p.reduce >= 4096 && blocks < want / 2) {
      int64_t chunks =
          std::min<int64_t>({ceil_div(want, blocks), ceil_div(p.reduce, 1024), 128});
      int64_t chunk = ceil_div(p.reduce, chunks);
      chunks = ceil_div(p.reduce, chunk);
      if (chunks > 1) {
        p.chunks = chunks;
        p.chunk = chunk;
      }
    }
  }
  return p;
}

unsigned grid_cap(int64_t blocks) {
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, 65535));
}

}  // namespace

std::string_view reduce_kind_name(ReduceKind kind) {
  for (const auto& [k, n] : kKindNames)
    if (k == kind) return n;
  return "?";
}

// ---- spec ----------------------------------------------------------------------------------------

std::string ReduceSpec::op_type() const {
  const std::string t(cuda_type_name(input));
  switch (kind) {
    case ReduceKind::kSum: return "rtx::kernels::SumOp<" + t + ">";
    case ReduceKind::kMean: return "rtx::kernels::MeanOp<" + t + ">";
    case ReduceKind::kMax: return "rtx::kernels::MaxOp<" + t + ">";
    case ReduceKind::kMin: return "rtx::kernels::MinOp<" + t + ">";
    case ReduceKind::kProd: return "rtx::kernels::ProdOp<" + t + ">";
    case ReduceKind::kArgMax:
      return "rtx::kernels::ArgMaxOp<" + t + ", " + (select_last ? "true" : "false") + ">";
    case ReduceKind::kArgMin:
      return "rtx::kernels::ArgMinOp<" + t + ", " + (select_last ? "true" : "false") + ">";
  }
  return {};
}

std::string ReduceSpec::state_type() const {
  const std::string acc = acc_type(input);
  return is_arg(kind) ? "rtx::kernels::ArgState<" + acc + ">" : acc;
}

size_t ReduceSpec::state_bytes() const {
  if (is_arg(kind)) return 16;  // {Acc (4 or 8 bytes), long long}, 8-byte aligned
  return acc_type(input) == "float" ? 4 : 8;
}

std::vector<std::string> ReduceSpec::name_expressions() const {
  const std::string op = op_type(), t(cuda_type_name(input)), out(cuda_type_name(output));
  const std::string st = state_type();
  return {
      name_expression("rtx::kernels::reduce_rows", {op, t, out, "32"}),
      name_expression("rtx::kernels::reduce_rows", {op, t, out, "256"}),
      name_expression("rtx::kernels::reduce_rows", {op, t, st, "256"}),
      name_expression("rtx::kernels::reduce_rows", {op, st, out, "32"}),
      name_expression("rtx::kernels::reduce_strided", {op, t, out}),
      name_expression("rtx::kernels::reduce_strided", {op, t, st}),
  };
}

Program ReduceSpec::program() const {
  Program p;
  p.name = "reduce_" + std::string(reduce_kind_name(kind)) + "_" + std::string(to_string(input));
  p.source = "#include \"reduce/reduce.cuh\"\n";
  p.name_expressions = name_expressions();
  return p;
}

void to_json(nlohmann::json& j, const ReduceSpec& s) {
  j = nlohmann::json{{"kind", std::string(reduce_kind_name(s.kind))},
                     {"input", std::string(to_string(s.input))},
                     {"output", std::string(to_string(s.output))},
                     {"select_last", s.select_last},
                     {"rank", s.rank},
                     {"axes", s.axes}};
}

void from_json(const nlohmann::json& j, ReduceSpec& spec) {
  const auto fail = [](const std::string& m) {
    throw Exception(errc::kBadSpec, "reduce spec JSON: " + m);
  };
  try {
    ReduceSpec s;
    const std::string kind = j.at("kind").get<std::string>();
    bool found = false;
    for (const auto& [k, n] : kKindNames)
      if (kind == n) {
        s.kind = k;
        found = true;
      }
    if (!found) fail("unknown kind '" + kind + "'");
    const auto in = data_type_from_string(j.at("input").get<std::string>());
    const auto out = data_type_from_string(j.at("output").get<std::string>());
    if (!in || !out) fail("unknown dtype");
    s.input = *in;
    s.output = *out;
    s.select_last = j.at("select_last").get<bool>();
    s.rank = j.at("rank").get<int64_t>();
    s.axes = j.at("axes").get<std::vector<int64_t>>();
    if (!accepts(s.kind, s.input)) fail("dtype " + std::string(to_string(s.input)) + " not accepted");
    if (s.output != (is_arg(s.kind) ? DataType::kINT64 : s.input)) fail("wrong output dtype");
    if (s.rank < 0 || s.rank > 64) fail("bad rank");
    for (int64_t a : s.axes)
      if (a < 0 || a >= s.rank) fail("axis out of range");
    spec = std::move(s);
  } catch (const nlohmann::json::exception& e) {
    fail(e.what());
  }
}

// ---- planning ------------------------------------------------------------------------------------

std::optional<ReduceSpec> plan_reduce(const ir::Node& node, std::span<const ir::TensorInfo> inputs,
                                      std::span<const HostTensor* const> constants) {
  ReduceSpec s;
  switch (node.op) {
    case ir::OpKind::kReduceSum: s.kind = ReduceKind::kSum; break;
    case ir::OpKind::kReduceMean: s.kind = ReduceKind::kMean; break;
    case ir::OpKind::kReduceMax: s.kind = ReduceKind::kMax; break;
    case ir::OpKind::kReduceMin: s.kind = ReduceKind::kMin; break;
    case ir::OpKind::kReduceProd: s.kind = ReduceKind::kProd; break;
    case ir::OpKind::kArgMax: s.kind = ReduceKind::kArgMax; break;
    case ir::OpKind::kArgMin: s.kind = ReduceKind::kArgMin; break;
    default: return std::nullopt;
  }
  if (inputs.empty() || !inputs[0].present) return std::nullopt;
  const ir::TensorInfo& x = inputs[0];
  if (!accepts(s.kind, x.dtype)) return std::nullopt;
  s.input = x.dtype;
  s.output = is_arg(s.kind) ? DataType::kINT64 : x.dtype;
  s.rank = x.rank();
  if (s.rank > kMaxRank) return std::nullopt;
  try {
    if (is_arg(s.kind)) {
      if (s.rank < 1) return std::nullopt;
      int64_t axis = node.attr_int("axis", 0);
      if (axis < -s.rank || axis >= s.rank) return std::nullopt;
      s.axes = {axis < 0 ? axis + s.rank : axis};
      s.select_last = node.attr_int("select_last_index", 0) != 0;
      return s;
    }
    const bool noop = node.attr_int("noop_with_empty_axes", 0) != 0;
    std::vector<int64_t> axes;
    if (inputs.size() > 1 && inputs[1].present) {
      const HostTensor* c = constants.size() > 1 ? constants[1] : nullptr;
      if (!c) return std::nullopt;  // axes known only at run time
      axes = c->to_ints();
    }
    if (axes.empty() && !noop) {
      for (int64_t d = 0; d < s.rank; ++d) axes.push_back(d);
    }
    for (int64_t& a : axes) {
      if (a < -s.rank || a >= s.rank) return std::nullopt;
      if (a < 0) a += s.rank;
    }
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) return std::nullopt;
    s.axes = axes;
  } catch (const Exception&) {
    return std::nullopt;
  }
  return s;
}

// ---- run time ------------------------------------------------------------------------------------

Expected<size_t> workspace_size(const ReduceSpec& spec, std::span<const int64_t> in_shape,
                                int multiprocessors) {
  auto p = make_plan(spec, in_shape, multiprocessors);
  if (!p) return p.error();
  if (p->chunks <= 1) return size_t{0};
  return static_cast<size_t>(p->outputs * p->chunks) * spec.state_bytes();
}

Expected<void> can_implement(const ReduceSpec& spec, const ReduceArgs& args) {
  auto l = make_launches(spec, args);
  if (!l) return l.error();
  return {};
}

Expected<std::vector<ReduceLaunch>> make_launches(const ReduceSpec& spec, const ReduceArgs& args) {
  auto planned = make_plan(spec, args.in_shape, args.multiprocessors);
  if (!planned) return planned.error();
  const Plan& p = *planned;
  std::vector<ReduceLaunch> launches;
  if (p.outputs == 0) return launches;
  if (!args.out || (!args.in && p.reduce > 0)) return bad_args("null input or output buffer");
  const auto names = spec.name_expressions();
  const bool split = p.chunks > 1;
  if (split && !args.workspace) return bad_args("the split reduction needs a workspace");

  ReduceParams base{};
  base.in = args.in;
  base.count = p.reduce;
  base.vectorized = is_aligned(args.in, 16) ? 1 : 0;

  if (p.rows) {
    ReduceLaunch first;
    first.params = base;
    first.params.outputs = p.outputs * p.chunks;
    first.params.reduce = split ? p.chunk : p.reduce;
    first.params.row_stride = p.reduce;
    first.params.chunks = p.chunks;
    first.params.finalize = split ? 0 : 1;
    first.params.out = split ? args.workspace : args.out;
    const bool wide = split || p.reduce > 1024;
    first.kernel = split ? names[2] : (wide ? names[1] : names[0]);
    const int64_t rows_per_block = wide ? 1 : 8;
    first.config.block = Dim3{256, 1, 1};
    first.config.grid = Dim3{grid_cap(ceil_div(first.params.outputs, rows_per_block)), 1, 1};
    launches.push_back(first);
  } else {
    ReduceLaunch first;
    first.params = base;
    first.params.outputs = p.outputs;
    first.params.red_total = p.reduce;
    first.params.reduce = split ? p.chunk : p.reduce;
    first.params.chunks = p.chunks;
    first.params.finalize = split ? 0 : 1;
    first.params.out = split ? args.workspace : args.out;
    first.params.kept_rank = static_cast<int32_t>(p.kept.size());
    first.params.red_rank = static_cast<int32_t>(p.red.size());
    for (size_t d = 0; d < p.kept.size(); ++d) {
      first.params.kept_shape[d] = p.kept[d].extent;
      first.params.kept_strides[d] = p.kept[d].stride;
    }
    for (size_t d = 0; d < p.red.size(); ++d) {
      first.params.red_shape[d] = p.red[d].extent;
      first.params.red_strides[d] = p.red[d].stride;
    }
    first.kernel = split ? names[5] : names[4];
    const unsigned by = static_cast<unsigned>(p.strided_by);
    const unsigned bx = static_cast<unsigned>(rtx::kernels::kReduceStridedBlock) / by;
    first.config.block = Dim3{bx, by, 1};
    const int64_t gx = ceil_div(p.outputs, bx);
    if (gx > 0x7fffffff) return bad_args("too many results for one launch");
    first.config.grid = Dim3{static_cast<unsigned>(gx), static_cast<unsigned>(p.chunks), 1};
    launches.push_back(first);
  }
  if (split) {
    ReduceLaunch finish;
    finish.params.in = args.workspace;
    finish.params.out = args.out;
    finish.params.outputs = p.outputs;
    finish.params.reduce = p.chunks;
    finish.params.row_stride = p.chunks;
    finish.params.chunks = 1;
    finish.params.count = p.reduce;
    finish.params.finalize = 1;
    finish.params.vectorized = 0;
    finish.kernel = names[3];
    finish.config.block = Dim3{256, 1, 1};
    finish.config.grid = Dim3{grid_cap(ceil_div(p.outputs, 8)), 1, 1};
    launches.push_back(finish);
  }
  return launches;
}

Expected<void> run(const ReduceSpec& spec, const ReduceArgs& args, const LoadedProgram& program,
                   void* stream) {
  auto launches = make_launches(spec, args);
  if (!launches) return launches.error();
  for (auto& l : *launches) {
    auto r = launch(program, l.kernel, l.config, &l.params, stream);
    if (!r) return r;
  }
  return {};
}

}  // namespace rtx::jit::kernels
