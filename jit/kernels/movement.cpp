// SPDX-License-Identifier: Apache-2.0
// Data-movement family host side: planning from IR nodes, strided views (merged dims, widened
// units), the tiled-transpose choice, concat grouping, gather and pad parameters.
#include "jit/kernels/movement.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace rtx::jit::kernels {
namespace {

using rtx::kernels::ConcatParams;
using rtx::kernels::CopyParams;
using rtx::kernels::GatherParams;
using rtx::kernels::PadParams;
using rtx::kernels::TransposeParams;

Error bad_args(const std::string& m) {
  return Error{errc::kBadArguments, "movement: " + m};
}

constexpr std::pair<MovementKind, const char*> kNames[] = {
    {MovementKind::kTranspose, "transpose"}, {MovementKind::kSlice, "slice"},
    {MovementKind::kExpand, "expand"},       {MovementKind::kConcat, "concat"},
    {MovementKind::kGather, "gather"},       {MovementKind::kPad, "pad"},
};

constexpr const char* kPadModes[] = {"constant", "reflect", "edge", "wrap"};

std::string unit_type(int bytes) {
  switch (bytes) {
    case 1: return "unsigned char";
    case 2: return "unsigned short";
    case 4: return "unsigned int";
    case 8: return "unsigned long long";
    default: return "uint4";
  }
}

/// Unit sizes from `elem` up to 16 bytes.
std::vector<int> units_from(int elem) {
  std::vector<int> u;
  for (int b = elem; b <= 16; b *= 2) u.push_back(b);
  return u;
}

template <class P>
std::vector<uint8_t> bytes_of(const P& p) {
  std::vector<uint8_t> b(sizeof(P));
  std::memcpy(b.data(), &p, sizeof(P));
  return b;
}

LaunchConfig linear_config(int64_t n) {
  LaunchConfig c;
  c.block = Dim3{static_cast<unsigned>(rtx::kernels::kMovementBlock), 1, 1};
  const int64_t blocks = (n + rtx::kernels::kMovementBlock - 1) / rtx::kernels::kMovementBlock;
  c.grid = Dim3{static_cast<unsigned>(std::clamp<int64_t>(blocks, n > 0 ? 1 : 0, 1 << 20)), 1, 1};
  return c;
}

/// A strided view: out contiguous with `shape`; element c at in[offset + sum c[d] * strides[d]].
struct View {
  std::vector<int64_t> shape, strides;
  int64_t offset = 0;
};

/// Drops extent-1 dims and merges dims the input walks as one.
View merge(const View& v) {
  View m;
  m.offset = v.offset;
  for (size_t d = 0; d < v.shape.size(); ++d) {
    if (v.shape[d] == 1) continue;
    if (!m.shape.empty() && m.strides.back() == v.strides[d] * v.shape[d]) {
      m.shape.back() *= v.shape[d];
      m.strides.back() = v.strides[d];
    } else {
      m.shape.push_back(v.shape[d]);
      m.strides.push_back(v.strides[d]);
    }
  }
  return m;
}

/// The widest unit (bytes) that can move the view's contiguous innermost run.
int widest_unit(const View& v, int elem, const void* in, const void* out) {
  if (v.shape.empty() || v.strides.back() != 1) return elem;
  for (int w = 16; w > elem; w /= 2) {
    const int64_t k = w / elem;  // elements per unit
    bool ok = v.shape.back() % k == 0 && v.offset % k == 0 && is_aligned(in, static_cast<size_t>(w)) &&
              is_aligned(out, static_cast<size_t>(w));
    for (size_t d = 0; ok && d + 1 < v.shape.size(); ++d) ok = v.strides[d] % k == 0;
    if (ok) return w;
  }
  return elem;
}

View widen(const View& v, int elem, int unit) {
  const int64_t k = unit / elem;
  View w = v;
  if (k == 1) return w;
  w.shape.back() /= k;
  for (size_t d = 0; d + 1 < w.shape.size(); ++d) w.strides[d] /= k;
  w.offset /= k;
  return w;
}

/// ONNX Slice clamping for one axis (as the reference evaluator): first index, step, count.
struct AxisSlice {
  int64_t start = 0, step = 1, count = 0;
};
AxisSlice slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step) {
  AxisSlice s;
  s.step = step;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    s.start = start;
    s.count = end > start ? (end - start - 1) / step + 1 : 0;
  } else {
    if (dim == 0) return s;
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    s.start = start;
    const int64_t mag = step == std::numeric_limits<int64_t>::min()
                            ? std::numeric_limits<int64_t>::max()
                            : -step;
    s.count = start > end ? (start - end - 1) / mag + 1 : 0;
  }
  return s;
}

Expected<View> copy_view(const MovementSpec& spec, const MovementArgs& args) {
  const auto& in = args.in_shapes[0];
  const auto st = contiguous_strides(in);
  View v;
  switch (spec.kind) {
    case MovementKind::kTranspose:
      for (int64_t p : spec.perm) {
        v.shape.push_back(in[static_cast<size_t>(p)]);
        v.strides.push_back(st[static_cast<size_t>(p)]);
      }
      return v;
    case MovementKind::kSlice: {
      v.shape = in;
      v.strides = st;
      for (size_t i = 0; i < spec.axes.size(); ++i) {
        const auto a = static_cast<size_t>(spec.axes[i]);
        const AxisSlice s = slice_axis(in[a], spec.starts[i], spec.ends[i], spec.steps[i]);
        v.shape[a] = s.count;
        v.strides[a] = st[a] * s.step;
        if (s.count > 0) v.offset += s.start * st[a];
      }
      return v;
    }
    case MovementKind::kExpand: {
      const auto& out = args.out_shape;
      if (out.size() < in.size()) return bad_args("expand target rank is below the input's");
      v.shape = out;
      v.strides.assign(out.size(), 0);
      const size_t shift = out.size() - in.size();
      for (size_t d = 0; d < in.size(); ++d) {
        if (in[d] == out[d + shift]) {
          v.strides[d + shift] = in[d] == 1 ? 0 : st[d];
        } else if (in[d] != 1) {
          return bad_args("input " + shape_to_string(in) + " does not expand to " +
                          shape_to_string(out));
        }
      }
      return v;
    }
    default: return bad_args("not a strided-copy op");
  }
}

std::vector<MovementLaunch> copy_launches(const MovementSpec& spec, const View& full,
                                          const void* in, void* out) {
  std::vector<MovementLaunch> launches;
  const int64_t n = element_count(full.shape);
  if (n == 0) return launches;
  View v = merge(full);
  const int e = spec.elem_bytes;
  // Tiled transpose: the input is contiguous along the output's rows and the tile is worth it.
  const size_t r = v.shape.size();
  if (spec.kind == MovementKind::kTranspose && e <= 8 && r >= 2 && v.strides[r - 2] == 1 &&
      v.strides[r - 1] != 1 && v.shape[r - 2] >= 16 && v.shape[r - 1] >= 16 &&
      r - 2 <= static_cast<size_t>(kMaxRank)) {
    TransposeParams p{};
    p.in = in;
    p.out = out;
    p.rows = v.shape[r - 2];
    p.cols = v.shape[r - 1];
    p.in_col_stride = v.strides[r - 1];
    p.batch = 1;
    p.batch_rank = static_cast<int32_t>(r - 2);
    for (size_t d = 0; d + 2 < r; ++d) {
      p.batch_shape[d] = v.shape[d];
      p.batch_strides[d] = v.strides[d];
      p.batch *= v.shape[d];
    }
    MovementLaunch l;
    l.kernel = name_expression("rtx::kernels::transpose_tiled", {unit_type(e)});
    const int64_t t = rtx::kernels::kTransposeTile;
    l.config.block = Dim3{static_cast<unsigned>(t), 8, 1};
    l.config.grid = Dim3{static_cast<unsigned>((p.cols + t - 1) / t),
                         static_cast<unsigned>((p.rows + t - 1) / t),
                         static_cast<unsigned>(std::min<int64_t>(p.batch, 65535))};
    l.params = bytes_of(p);
    launches.push_back(std::move(l));
    return launches;
  }
  const int unit = widest_unit(v, e, in, out);
  v = widen(v, e, unit);
  CopyParams p{};
  p.in = in;
  p.out = out;
  p.n = element_count(v.shape);
  p.offset = v.offset;
  p.rank = static_cast<int32_t>(v.shape.size());
  for (size_t d = 0; d < v.shape.size(); ++d) {
    p.shape[d] = v.shape[d];
    p.in_strides[d] = v.strides[d];
  }
  MovementLaunch l;
  l.kernel = name_expression("rtx::kernels::copy_strided", {unit_type(unit)});
  l.config = linear_config(p.n);
  l.params = bytes_of(p);
  launches.push_back(std::move(l));
  return launches;
}

int elem_bytes_of(DataType t) {
  return bit_width(t) >= 8 ? bit_width(t) / 8 : 0;
}

}  // namespace

std::string_view movement_kind_name(MovementKind kind) {
  for (const auto& [k, n] : kNames)
    if (k == kind) return n;
  return "?";
}

std::vector<std::string> MovementSpec::name_expressions() const {
  std::vector<std::string> v;
  switch (kind) {
    case MovementKind::kTranspose:
      v.push_back(name_expression("rtx::kernels::transpose_tiled", {unit_type(elem_bytes)}));
      [[fallthrough]];
    case MovementKind::kSlice:
    case MovementKind::kExpand:
      for (int u : units_from(elem_bytes))
        v.push_back(name_expression("rtx::kernels::copy_strided", {unit_type(u)}));
      break;
    case MovementKind::kConcat:
      for (int u : units_from(elem_bytes))
        v.push_back(name_expression("rtx::kernels::concat", {unit_type(u)}));
      break;
    case MovementKind::kGather:
      for (int u : units_from(elem_bytes))
        v.push_back(name_expression("rtx::kernels::gather",
                                    {unit_type(u), index == DataType::kINT32 ? "int" : "long long"}));
      break;
    case MovementKind::kPad:
      v.push_back(name_expression("rtx::kernels::pad", {unit_type(elem_bytes)}));
      break;
  }
  return v;
}

Program MovementSpec::program() const {
  Program p;
  p.name = std::string(movement_kind_name(kind)) + "_" + std::to_string(elem_bytes * 8);
  p.source = "#include \"movement/movement.cuh\"\n";
  p.name_expressions = name_expressions();
  return p;
}

void to_json(nlohmann::json& j, const MovementSpec& s) {
  j = nlohmann::json{{"kind", std::string(movement_kind_name(s.kind))},
                     {"elem_bytes", s.elem_bytes},
                     {"index", std::string(to_string(s.index))},
                     {"rank", s.rank},
                     {"perm", s.perm},
                     {"axis", s.axis},
                     {"starts", s.starts},
                     {"ends", s.ends},
                     {"axes", s.axes},
                     {"steps", s.steps},
                     {"pads", s.pads},
                     {"pad_mode", kPadModes[s.pad_mode & 3]},
                     {"pad_value_bits", s.pad_value_bits}};
}

void from_json(const nlohmann::json& j, MovementSpec& spec) {
  const auto fail = [](const std::string& m) {
    throw Exception(errc::kBadSpec, "movement spec JSON: " + m);
  };
  try {
    MovementSpec s;
    const std::string kind = j.at("kind").get<std::string>();
    bool found = false;
    for (const auto& [k, n] : kNames)
      if (kind == n) {
        s.kind = k;
        found = true;
      }
    if (!found) fail("unknown kind '" + kind + "'");
    s.elem_bytes = j.at("elem_bytes").get<int>();
    if (s.elem_bytes != 1 && s.elem_bytes != 2 && s.elem_bytes != 4 && s.elem_bytes != 8)
      fail("elem_bytes must be 1, 2, 4 or 8");
    const auto index = data_type_from_string(j.at("index").get<std::string>());
    if (!index || (*index != DataType::kINT32 && *index != DataType::kINT64))
      fail("index must be i32 or i64");
    s.index = *index;
    s.rank = j.at("rank").get<int64_t>();
    if (s.rank < 0 || s.rank > kMaxRank) fail("bad rank");
    s.perm = j.at("perm").get<std::vector<int64_t>>();
    s.axis = j.at("axis").get<int64_t>();
    s.starts = j.at("starts").get<std::vector<int64_t>>();
    s.ends = j.at("ends").get<std::vector<int64_t>>();
    s.axes = j.at("axes").get<std::vector<int64_t>>();
    s.steps = j.at("steps").get<std::vector<int64_t>>();
    s.pads = j.at("pads").get<std::vector<int64_t>>();
    const std::string mode = j.at("pad_mode").get<std::string>();
    s.pad_mode = -1;
    for (int m = 0; m < 4; ++m)
      if (mode == kPadModes[m]) s.pad_mode = m;
    if (s.pad_mode < 0) fail("unknown pad_mode '" + mode + "'");
    s.pad_value_bits = j.at("pad_value_bits").get<uint64_t>();
    // Structural checks the launch code relies on.
    if (s.kind == MovementKind::kTranspose) {
      std::vector<int64_t> sorted = s.perm;
      std::sort(sorted.begin(), sorted.end());
      for (size_t i = 0; i < sorted.size(); ++i)
        if (sorted[i] != static_cast<int64_t>(i)) fail("perm is not a permutation");
      if (static_cast<int64_t>(s.perm.size()) != s.rank) fail("perm size differs from rank");
    }
    if (s.kind == MovementKind::kSlice) {
      const size_t n = s.starts.size();
      if (s.ends.size() != n || s.axes.size() != n || s.steps.size() != n) fail("slice lists differ");
      for (size_t i = 0; i < n; ++i)
        if (s.axes[i] < 0 || s.axes[i] >= s.rank || s.steps[i] == 0) fail("bad slice axis/step");
    }
    if (s.kind == MovementKind::kPad && static_cast<int64_t>(s.pads.size()) != 2 * s.rank)
      fail("pads must hold 2 * rank values");
    if ((s.kind == MovementKind::kConcat || s.kind == MovementKind::kGather) &&
        (s.axis < 0 || s.axis >= std::max<int64_t>(s.rank, 1)))
      fail("axis out of range");
    spec = std::move(s);
  } catch (const nlohmann::json::exception& e) {
    fail(e.what());
  }
}

std::optional<MovementSpec> plan_movement(const ir::Node& node,
                                          std::span<const ir::TensorInfo> inputs,
                                          std::span<const HostTensor* const> constants) {
  if (inputs.empty() || !inputs[0].present) return std::nullopt;
  const ir::TensorInfo& x = inputs[0];
  MovementSpec s;
  s.elem_bytes = elem_bytes_of(x.dtype);
  s.rank = x.rank();
  if (s.elem_bytes == 0 || s.rank > kMaxRank) return std::nullopt;
  const auto constant = [&](size_t i) -> const HostTensor* {
    return i < constants.size() ? constants[i] : nullptr;
  };
  const auto present = [&](size_t i) { return i < inputs.size() && inputs[i].present; };
  try {
    switch (node.op) {
      case ir::OpKind::kTranspose: {
        s.kind = MovementKind::kTranspose;
        if (auto p = node.find_ints("perm")) {
          s.perm = *p;
        } else {
          for (int64_t i = s.rank - 1; i >= 0; --i) s.perm.push_back(i);
        }
        std::vector<int64_t> sorted = s.perm;
        std::sort(sorted.begin(), sorted.end());
        for (size_t i = 0; i < sorted.size(); ++i)
          if (sorted[i] != static_cast<int64_t>(i)) return std::nullopt;
        if (static_cast<int64_t>(s.perm.size()) != s.rank) return std::nullopt;
        return s;
      }
      case ir::OpKind::kSlice: {
        s.kind = MovementKind::kSlice;
        if (!constant(1) || !constant(2)) return std::nullopt;
        s.starts = constant(1)->to_ints();
        s.ends = constant(2)->to_ints();
        const size_t n = s.starts.size();
        if (s.ends.size() != n) return std::nullopt;
        if (present(3)) {
          if (!constant(3)) return std::nullopt;
          s.axes = constant(3)->to_ints();
        } else {
          for (size_t i = 0; i < n; ++i) s.axes.push_back(static_cast<int64_t>(i));
        }
        if (present(4)) {
          if (!constant(4)) return std::nullopt;
          s.steps = constant(4)->to_ints();
        } else {
          s.steps.assign(n, 1);
        }
        if (s.axes.size() != n || s.steps.size() != n) return std::nullopt;
        for (size_t i = 0; i < n; ++i) {
          int64_t& a = s.axes[i];
          if (a < -s.rank || a >= s.rank || s.steps[i] == 0) return std::nullopt;
          if (a < 0) a += s.rank;
        }
        return s;
      }
      case ir::OpKind::kExpand:
        s.kind = MovementKind::kExpand;
        return s;
      case ir::OpKind::kConcat: {
        s.kind = MovementKind::kConcat;
        const int64_t axis = node.attr_int("axis");
        if (s.rank < 1 || axis < -s.rank || axis >= s.rank) return std::nullopt;
        s.axis = axis < 0 ? axis + s.rank : axis;
        for (size_t i = 1; i < inputs.size(); ++i)
          if (!inputs[i].present || inputs[i].dtype != x.dtype) return std::nullopt;
        return s;
      }
      case ir::OpKind::kGather: {
        s.kind = MovementKind::kGather;
        if (!present(1)) return std::nullopt;
        if (inputs[1].dtype != DataType::kINT32 && inputs[1].dtype != DataType::kINT64)
          return std::nullopt;
        s.index = inputs[1].dtype;
        const int64_t axis = node.attr_int("axis", 0);
        if (s.rank < 1 || axis < -s.rank || axis >= s.rank) return std::nullopt;
        s.axis = axis < 0 ? axis + s.rank : axis;
        return s;
      }
      case ir::OpKind::kPad: {
        s.kind = MovementKind::kPad;
        const std::string mode = node.attr_string("mode", "constant");
        s.pad_mode = -1;
        for (int m = 0; m < 4; ++m)
          if (mode == kPadModes[m]) s.pad_mode = m;
        if (s.pad_mode < 0 || !constant(1)) return std::nullopt;
        const auto pads = constant(1)->to_ints();
        std::vector<int64_t> axes;
        if (present(3)) {
          if (!constant(3)) return std::nullopt;
          axes = constant(3)->to_ints();
        } else {
          for (int64_t i = 0; i < s.rank; ++i) axes.push_back(i);
        }
        if (pads.size() != 2 * axes.size()) return std::nullopt;
        s.pads.assign(static_cast<size_t>(2 * s.rank), 0);
        for (size_t i = 0; i < axes.size(); ++i) {
          int64_t a = axes[i];
          if (a < -s.rank || a >= s.rank) return std::nullopt;
          if (a < 0) a += s.rank;
          s.pads[static_cast<size_t>(a)] = pads[i];
          s.pads[static_cast<size_t>(a + s.rank)] = pads[i + axes.size()];
        }
        if (present(2)) {
          const HostTensor* v = constant(2);
          if (!v || v->element_count() != 1 || v->dtype() != x.dtype) return std::nullopt;
          std::memcpy(&s.pad_value_bits, v->data(), static_cast<size_t>(s.elem_bytes));
        }
        return s;
      }
      default: return std::nullopt;
    }
  } catch (const Exception&) {
    return std::nullopt;
  }
}

Expected<std::vector<int64_t>> movement_output_shape(const MovementSpec& spec,
                                                     const MovementArgs& args) {
  if (args.in_shapes.empty()) return bad_args("no input shape");
  const auto& in = args.in_shapes[0];
  if (static_cast<int64_t>(in.size()) != spec.rank)
    return bad_args("input rank " + std::to_string(in.size()) + " differs from the planned " +
                    std::to_string(spec.rank));
  for (const auto& s : args.in_shapes)
    for (int64_t d : s)
      if (d < 0) return bad_args("shape " + shape_to_string(s) + " has a negative dim");
  switch (spec.kind) {
    case MovementKind::kTranspose:
    case MovementKind::kSlice:
    case MovementKind::kExpand: {
      auto v = copy_view(spec, args);
      if (!v) return v.error();
      return v->shape;
    }
    case MovementKind::kConcat: {
      std::vector<int64_t> out = in;
      const auto a = static_cast<size_t>(spec.axis);
      out[a] = 0;
      for (const auto& s : args.in_shapes) {
        if (s.size() != in.size()) return bad_args("concat inputs differ in rank");
        for (size_t d = 0; d < s.size(); ++d)
          if (d != a && s[d] != in[d])
            return bad_args("concat input " + shape_to_string(s) + " differs from " +
                            shape_to_string(in) + " outside the axis");
        out[a] += s[a];
      }
      return out;
    }
    case MovementKind::kGather: {
      if (args.in_shapes.size() != 2) return bad_args("gather takes data and indices");
      const auto a = static_cast<size_t>(spec.axis);
      std::vector<int64_t> out(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(a));
      out.insert(out.end(), args.in_shapes[1].begin(), args.in_shapes[1].end());
      out.insert(out.end(), in.begin() + static_cast<std::ptrdiff_t>(a) + 1, in.end());
      return out;
    }
    case MovementKind::kPad: {
      std::vector<int64_t> out(in.size());
      for (size_t d = 0; d < in.size(); ++d) {
        const int64_t b = spec.pads[d], e = spec.pads[d + in.size()];
        const int64_t kept = in[d] + std::min<int64_t>(b, 0) + std::min<int64_t>(e, 0);
        if (kept < 0) return bad_args("pads crop more than dim " + std::to_string(d) + " holds");
        if (spec.pad_mode != 0 && kept == 0 && (b > 0 || e > 0))
          return bad_args("cannot pad an empty dim in this mode");
        out[d] = kept + std::max<int64_t>(b, 0) + std::max<int64_t>(e, 0);
      }
      return out;
    }
  }
  return bad_args("unknown kind");
}

Expected<void> can_implement(const MovementSpec& spec, const MovementArgs& args) {
  auto l = make_launches(spec, args);
  if (!l) return l.error();
  return {};
}

Expected<std::vector<MovementLaunch>> make_launches(const MovementSpec& spec,
                                                    const MovementArgs& args) {
  auto out_shape = movement_output_shape(spec, args);
  if (!out_shape) return out_shape.error();
  if (spec.kind != MovementKind::kExpand && !args.out_shape.empty() && args.out_shape != *out_shape)
    return bad_args("output shape " + shape_to_string(args.out_shape) + " differs from " +
                    shape_to_string(*out_shape));
  const size_t want_inputs = spec.kind == MovementKind::kConcat ? args.in_shapes.size()
                             : spec.kind == MovementKind::kGather ? 2
                                                                  : 1;
  if (args.in.size() != want_inputs || args.in_shapes.size() != want_inputs)
    return bad_args("expected " + std::to_string(want_inputs) + " input buffers and shapes");
  std::vector<MovementLaunch> launches;
  const int64_t n = element_count(*out_shape);
  if (n == 0) return launches;
  if (!args.out) return bad_args("null output buffer");
  const int e = spec.elem_bytes;
  const auto& in = args.in_shapes[0];

  switch (spec.kind) {
    case MovementKind::kTranspose:
    case MovementKind::kSlice:
    case MovementKind::kExpand: {
      if (!args.in[0]) return bad_args("null input buffer");
      auto v = copy_view(spec, args);
      if (!v) return v.error();
      if (merge(*v).shape.size() > static_cast<size_t>(kMaxRank))
        return bad_args("more than 8 dims after merging");
      return copy_launches(spec, *v, args.in[0], args.out);
    }
    case MovementKind::kConcat: {
      const auto a = static_cast<size_t>(spec.axis);
      int64_t outer = 1, inner = 1;
      for (size_t d = 0; d < a; ++d) outer *= in[d];
      for (size_t d = a + 1; d < in.size(); ++d) inner *= in[d];
      std::vector<int64_t> rows, offsets;
      int64_t out_row = 0;
      for (const auto& s : args.in_shapes) {
        rows.push_back(s[a] * inner);
        offsets.push_back(out_row);
        out_row += s[a] * inner;
      }
      // Widest unit dividing every run and aligning every buffer.
      int unit = e;
      for (int w = 16; w > e; w /= 2) {
        const int64_t k = w / e;
        bool ok = is_aligned(args.out, static_cast<size_t>(w));
        for (size_t i = 0; ok && i < rows.size(); ++i)
          ok = rows[i] % k == 0 && (rows[i] == 0 || is_aligned(args.in[i], static_cast<size_t>(w)));
        if (ok) {
          unit = w;
          break;
        }
      }
      const int64_t k = unit / e;
      std::vector<size_t> live;
      for (size_t i = 0; i < rows.size(); ++i) {
        if (rows[i] == 0) continue;
        if (!args.in[i]) return bad_args("null input buffer " + std::to_string(i));
        live.push_back(i);
      }
      for (size_t g = 0; g < live.size(); g += rtx::kernels::kMaxConcatInputs) {
        ConcatParams p{};
        p.out = args.out;
        p.outer = outer;
        p.out_row = out_row / k;
        const size_t end = std::min(live.size(), g + rtx::kernels::kMaxConcatInputs);
        for (size_t j = g; j < end; ++j) {
          const size_t i = live[j];
          p.in[j - g] = args.in[i];
          p.row[j - g] = rows[i] / k;
          p.offset[j - g] = offsets[i] / k;
          p.total_row += rows[i] / k;
        }
        p.inputs = static_cast<int32_t>(end - g);
        MovementLaunch l;
        l.kernel = name_expression("rtx::kernels::concat", {unit_type(unit)});
        l.config = linear_config(p.outer * p.total_row);
        l.params = bytes_of(p);
        launches.push_back(std::move(l));
      }
      return launches;
    }
    case MovementKind::kGather: {
      if (!args.in[0] || !args.in[1]) return bad_args("null data or indices buffer");
      const auto a = static_cast<size_t>(spec.axis);
      GatherParams p{};
      p.data = args.in[0];
      p.indices = args.in[1];
      p.out = args.out;
      p.outer = 1;
      p.inner = 1;
      for (size_t d = 0; d < a; ++d) p.outer *= in[d];
      for (size_t d = a + 1; d < in.size(); ++d) p.inner *= in[d];
      p.dim = in[a];
      p.count = element_count(args.in_shapes[1]);
      int unit = e;
      for (int w = 16; w > e; w /= 2)
        if (p.inner % (w / e) == 0 && is_aligned(args.in[0], static_cast<size_t>(w)) &&
            is_aligned(args.out, static_cast<size_t>(w))) {
          unit = w;
          break;
        }
      p.inner /= unit / e;
      MovementLaunch l;
      l.kernel = name_expression("rtx::kernels::gather", {unit_type(unit), spec.index == DataType::kINT32
                                                                              ? "int"
                                                                              : "long long"});
      l.config = linear_config(p.outer * p.count * p.inner);
      l.params = bytes_of(p);
      launches.push_back(std::move(l));
      return launches;
    }
    case MovementKind::kPad: {
      if (!args.in[0] && element_count(in) > 0) return bad_args("null input buffer");
      if (in.size() > static_cast<size_t>(kMaxRank)) return bad_args("rank above 8");
      PadParams p{};
      p.in = args.in[0];
      p.out = args.out;
      p.n = n;
      p.rank = static_cast<int32_t>(in.size());
      p.mode = spec.pad_mode;
      p.value_bits = spec.pad_value_bits;
      const auto st = contiguous_strides(in);
      for (size_t d = 0; d < in.size(); ++d) {
        const int64_t b = spec.pads[d], en = spec.pads[d + in.size()];
        p.out_shape[d] = (*out_shape)[d];
        p.in_strides[d] = st[d];
        p.lead[d] = std::max<int64_t>(b, 0);
        p.crop[d] = std::max<int64_t>(-b, 0);
        p.kept[d] = in[d] + std::min<int64_t>(b, 0) + std::min<int64_t>(en, 0);
      }
      MovementLaunch l;
      l.kernel = name_expression("rtx::kernels::pad", {unit_type(e)});
      l.config = linear_config(n);
      l.params = bytes_of(p);
      launches.push_back(std::move(l));
      return launches;
    }
  }
  return launches;
}

Expected<void> run(const MovementSpec& spec, const MovementArgs& args, const LoadedProgram& program,
                   void* stream) {
  auto launches = make_launches(spec, args);
  if (!launches) return launches.error();
  for (auto& l : *launches) {
    auto r = launch(program, l.kernel, l.config, l.params.data(), stream);
    if (!r) return r;
  }
  return {};
}

}  // namespace rtx::jit::kernels
