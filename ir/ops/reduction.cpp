// SPDX-License-Identifier: Apache-2.0
// The reduction family: ReduceSum/Mean/Max/Min/Prod (opset 18 form, axes as an input), ArgMax,
// ArgMin, CumSum, Softmax, LogSoftmax, LayerNormalization, RMSNormalization and
// BatchNormalization (inference mode). Each op's inference and reference implementation sit side
// by side. Floating math runs in double and is rounded once to the output dtype; integer math runs
// in int64 (sums and products wrap in uint64, so overflow is defined and matches a C cast).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ir/op_registry.hpp"
#include "ir/ops/op_utils.hpp"
#include "rtx/numeric.hpp"

namespace rtx::ir {
namespace {

using Shape = std::vector<int64_t>;

// ---- small helpers -----------------------------------------------------------------------------

bool is_float_type(DataType t) {
  return t == DataType::kF64 || t == DataType::kF32 || t == DataType::kF16 || t == DataType::kBF16;
}

std::string dtype_name(DataType t) {
  return std::string(to_string(t));
}

/// Fails with `id` unless `ok`; the message names the input and the dtype.
void require_dtype(const Node& node, bool ok, const char* id, const std::string& what, DataType t,
                   const char* accepted) {
  require(ok, node, id,
          what + " has dtype " + dtype_name(t) + ", which is not accepted (" + accepted + ")");
}

int64_t bool_attr(const Node& node, const char* key, int64_t fallback, const char* id) {
  const int64_t v = node.attr_int(key, fallback);
  require(v == 0 || v == 1, node, id,
          "attribute '" + std::string(key) + "' must be 0 or 1, got " + std::to_string(v));
  return v;
}

/// ONNX TensorProto data type codes accepted by stash_type / softmax_precision.
std::optional<DataType> onnx_float_code(int64_t code) {
  switch (code) {
    case 1:
      return DataType::kF32;
    case 10:
      return DataType::kF16;
    case 11:
      return DataType::kF64;
    case 16:
      return DataType::kBF16;
    default:
      return std::nullopt;
  }
}

/// Product of dims [from, to) of a static shape.
int64_t span_product(const Shape& s, size_t from, size_t to) {
  int64_t n = 1;
  for (size_t i = from; i < to; ++i) n *= s[i];
  return n;
}

/// Whether `s` broadcasts unidirectionally to `x` (numpy rules, right-aligned; `s` never grows x).
/// Dynamic dims are accepted against anything (checked again with concrete shapes at run time).
bool broadcasts_to(const Shape& s, const Shape& x) {
  if (s.size() > x.size()) return false;
  const size_t shift = x.size() - s.size();
  for (size_t i = 0; i < s.size(); ++i) {
    const int64_t a = s[i], b = x[i + shift];
    if (a == 1 || a == b || a == kDynamic || b == kDynamic) continue;
    return false;
  }
  return true;
}

/// All elements of `t` expanded to `shape` (t broadcasts unidirectionally to it), as doubles.
std::vector<double> expand_doubles(const HostTensor& t, const Shape& shape) {
  const auto src = t.to_doubles();
  const auto strides = broadcast_strides(t.shape(), shape);
  std::vector<double> out(static_cast<size_t>(product(shape)));
  for_each_index(shape, [&](int64_t flat, std::span<const int64_t> idx) {
    out[static_cast<size_t>(flat)] = src[static_cast<size_t>(offset_of(idx, strides))];
  });
  return out;
}

/// Splits a static shape around `axis` into (outer, axis extent, inner) for strided walks.
struct AxisSplit {
  int64_t outer, extent, inner;
};
AxisSplit split_at(const Shape& s, size_t axis) {
  return {span_product(s, 0, axis), s[axis], span_product(s, axis + 1, s.size())};
}

// ---- Reduce* -----------------------------------------------------------------------------------

enum class Reduce { kSum, kMean, kMax, kMin, kProd };

bool reduce_accepts(Reduce kind, DataType t) {
  if (is_float_type(t) || t == DataType::kINT32 || t == DataType::kINT64) return true;
  // ReduceMax/ReduceMin (opset 20) also take 8-bit integers and bool (false < true).
  return (kind == Reduce::kMax || kind == Reduce::kMin) &&
         (t == DataType::kINT8 || t == DataType::kUINT8 || t == DataType::kBOOL);
}

/// Which dims of a rank-`rank` input are reduced, given the axes values. An empty list means
/// "all" unless noop_with_empty_axes is set (then nothing: the op is an identity).
std::vector<bool> reduced_dims(const Node& node, int64_t rank, const std::vector<int64_t>& axes,
                               bool noop) {
  std::vector<bool> mask(static_cast<size_t>(rank), axes.empty() && !noop);
  for (int64_t a : axes) {
    const auto d = static_cast<size_t>(normalize_axis(a, rank, node));
    require(!mask[d], node, "rtx.ir.303", "axes list dim " + std::to_string(d) + " more than once");
    mask[d] = true;
  }
  return mask;
}

struct ReduceAttrs {
  bool keepdims;
  bool noop;
};

ReduceAttrs reduce_attrs(const Node& node) {
  // The IR takes the opset-18 form: the ONNX importer turns an `axes` attribute into input 1.
  require(!node.has_attr("axes"), node, "rtx.ir.305",
          "takes axes as input 1 (opset 18 form), not as an attribute");
  return {bool_attr(node, "keepdims", 1, "rtx.ir.304") != 0,
          bool_attr(node, "noop_with_empty_axes", 0, "rtx.ir.304") != 0};
}

std::vector<TensorInfo> infer_reduce(Reduce kind, const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  require_dtype(node, reduce_accepts(kind, x.dtype), "rtx.ir.301", "input 'data'", x.dtype,
                kind == Reduce::kMax || kind == Reduce::kMin
                    ? "f64, f32, f16, bf16, i64, i32, i8, u8, bool"
                    : "f64, f32, f16, bf16, i64, i32");
  const auto attrs = reduce_attrs(node);
  const int64_t rank = x.rank();

  std::optional<std::vector<int64_t>> axes = std::vector<int64_t>{};
  int64_t axes_len = 0;
  if (ctx.has_input(1)) {
    const TensorInfo& a = ctx.inputs[1];
    require(a.dtype == DataType::kINT64 || a.dtype == DataType::kINT32, node, "rtx.ir.302",
            "input 'axes' must be i64 (or i32), got " + dtype_name(a.dtype));
    require(a.rank() <= 1, node, "rtx.ir.302", "input 'axes' must be 1-D, got " + describe(a));
    axes_len = a.rank() == 0 ? 1 : a.shape[0];
    if (const HostTensor* c = ctx.constant(1))
      axes = c->to_ints();
    else if (axes_len != 0)
      axes.reset();
  }

  TensorInfo out{x.dtype, {}, true};
  if (axes) {
    const auto mask = reduced_dims(node, rank, *axes, attrs.noop);
    for (int64_t d = 0; d < rank; ++d) {
      if (!mask[static_cast<size_t>(d)])
        out.shape.push_back(x.shape[static_cast<size_t>(d)]);
      else if (attrs.keepdims)
        out.shape.push_back(1);
    }
  } else if (attrs.keepdims) {
    // Which dims shrink to 1 is known only at run time.
    for (int64_t d : x.shape) out.shape.push_back(d == 1 ? 1 : kDynamic);
  } else {
    require(
        axes_len != kDynamic, node, "rtx.ir.306",
        "output rank is unknown: 'axes' is not a constant and its length is dynamic (keepdims=0)");
    require(axes_len <= rank, node, "rtx.ir.306",
            "input 'axes' has " + std::to_string(axes_len) + " entries for a rank-" +
                std::to_string(rank) + " input");
    out.shape.assign(static_cast<size_t>(rank - axes_len), kDynamic);
  }
  return {out};
}

std::vector<HostTensor> eval_reduce(Reduce kind, const EvalContext& ctx) {
  const HostTensor& x = ctx.input(0);
  const auto attrs = reduce_attrs(ctx.node);
  const std::vector<int64_t> axes =
      ctx.has_input(1) ? ctx.input(1).to_ints() : std::vector<int64_t>{};
  const auto mask = reduced_dims(ctx.node, x.rank(), axes, attrs.noop);
  const Shape& out_shape = ctx.outputs[0].shape;

  // Output index of each input element: reduced dims get stride 0 in the keepdims-shaped output.
  Shape kept = x.shape();
  int64_t group = 1;  // elements per output value
  for (size_t d = 0; d < kept.size(); ++d)
    if (mask[d]) {
      group *= kept[d];
      kept[d] = 1;
    }
  auto strides = strides_of(kept);
  for (size_t d = 0; d < kept.size(); ++d)
    if (mask[d]) strides[d] = 0;
  const auto count = static_cast<size_t>(product(kept));
  std::vector<size_t> target(static_cast<size_t>(x.element_count()));
  for_each_index(x.shape(), [&](int64_t flat, std::span<const int64_t> idx) {
    target[static_cast<size_t>(flat)] = static_cast<size_t>(offset_of(idx, strides));
  });

  if (is_float_type(x.dtype())) {
    const auto v = x.to_doubles();
    constexpr double kInf = std::numeric_limits<double>::infinity();
    const double init = kind == Reduce::kProd  ? 1.0
                        : kind == Reduce::kMax ? -kInf
                        : kind == Reduce::kMin ? kInf
                                               : 0.0;
    std::vector<double> acc(count, init);
    for (size_t i = 0; i < v.size(); ++i) {
      double& a = acc[target[i]];
      switch (kind) {
        case Reduce::kSum:
        case Reduce::kMean:
          a += v[i];
          break;
        case Reduce::kProd:
          a *= v[i];
          break;
        // NaN propagates (numpy's maximum/minimum reduce): once NaN, the accumulator stays NaN.
        case Reduce::kMax:
          if (!std::isnan(a) && (std::isnan(v[i]) || v[i] > a)) a = v[i];
          break;
        case Reduce::kMin:
          if (!std::isnan(a) && (std::isnan(v[i]) || v[i] < a)) a = v[i];
          break;
      }
    }
    // The mean of an empty set is 0/0 = NaN.
    if (kind == Reduce::kMean)
      for (double& a : acc) a /= static_cast<double>(group);
    return {HostTensor::from_doubles(x.dtype(), out_shape, acc)};
  }

  const auto v = x.to_ints();
  const auto range = numeric::int_range(x.dtype());
  // Sums and products in uint64: wrapping is defined and agrees with a C cast to the dtype.
  std::vector<uint64_t> acc(count, kind == Reduce::kProd ? 1u : 0u);
  std::vector<int64_t> best(count, kind == Reduce::kMax ? range.lo : range.hi);
  for (size_t i = 0; i < v.size(); ++i) {
    const size_t t = target[i];
    switch (kind) {
      case Reduce::kSum:
      case Reduce::kMean:
        acc[t] += static_cast<uint64_t>(v[i]);
        break;
      case Reduce::kProd:
        acc[t] *= static_cast<uint64_t>(v[i]);
        break;
      case Reduce::kMax:
        best[t] = std::max(best[t], v[i]);
        break;
      case Reduce::kMin:
        best[t] = std::min(best[t], v[i]);
        break;
    }
  }
  HostTensor out(x.dtype(), out_shape);
  for (size_t t = 0; t < count; ++t) {
    int64_t r = 0;
    if (kind == Reduce::kMax || kind == Reduce::kMin)
      r = best[t];
    else if (kind == Reduce::kMean)
      r = group == 0 ? 0 : static_cast<int64_t>(acc[t]) / group;  // truncates, like numpy's cast
    else
      r = static_cast<int64_t>(acc[t]);
    out.set_int(static_cast<int64_t>(t), r);
  }
  return {out};
}

OpSchema reduce_schema(OpKind op, Reduce kind) {
  return OpSchema{op,
                  1,
                  2,
                  1,
                  1,
                  [kind](const InferContext& c) { return infer_reduce(kind, c); },
                  [kind](const EvalContext& c) { return eval_reduce(kind, c); }};
}

// ---- ArgMax / ArgMin ---------------------------------------------------------------------------

bool arg_accepts(DataType t) {
  return is_float_type(t) || t == DataType::kINT8 || t == DataType::kUINT8 ||
         t == DataType::kINT32 || t == DataType::kINT64;
}

std::vector<TensorInfo> infer_arg(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  require_dtype(node, arg_accepts(x.dtype), "rtx.ir.301", "input 'data'", x.dtype,
                "f64, f32, f16, bf16, i64, i32, i8, u8");
  require(x.rank() >= 1, node, "rtx.ir.307", "needs an input of rank >= 1, got a 0-d scalar");
  const auto axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", 0), x.rank(), node));
  const bool keepdims = bool_attr(node, "keepdims", 1, "rtx.ir.304") != 0;
  bool_attr(node, "select_last_index", 0, "rtx.ir.304");
  require(x.shape[axis] != 0, node, "rtx.ir.308",
          "cannot take the arg-extremum over an empty axis " + std::to_string(axis));
  TensorInfo out{DataType::kINT64, {}, true};
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (d != axis)
      out.shape.push_back(x.shape[d]);
    else if (keepdims)
      out.shape.push_back(1);
  }
  return {out};
}

template <class T>
void arg_walk(const std::vector<T>& v, const AxisSplit& s, bool is_max, bool last,
              HostTensor& out) {
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      const auto at = [&](int64_t k) {
        return v[static_cast<size_t>((o * s.extent + k) * s.inner + i)];
      };
      int64_t best = 0;
      T bv = at(0);
      for (int64_t k = 1; k < s.extent; ++k) {
        const T x = at(k);
        bool better = false, equal = false;
        if constexpr (std::is_floating_point_v<T>) {
          // numpy's rule: NaN is the extremum (the first one, or the last with select_last_index).
          if (std::isnan(bv)) {
            equal = std::isnan(x);
          } else {
            better = std::isnan(x) || (is_max ? x > bv : x < bv);
            equal = x == bv;
          }
        } else {
          better = is_max ? x > bv : x < bv;
          equal = x == bv;
        }
        if (better || (last && equal)) {
          best = k;
          bv = x;
        }
      }
      out.set_int(o * s.inner + i, best);
    }
}

std::vector<HostTensor> eval_arg(bool is_max, const EvalContext& ctx) {
  const HostTensor& x = ctx.input(0);
  const auto axis =
      static_cast<size_t>(normalize_axis(ctx.node.attr_int("axis", 0), x.rank(), ctx.node));
  const bool last = ctx.node.attr_int("select_last_index", 0) != 0;
  HostTensor out(DataType::kINT64, ctx.outputs[0].shape);
  const AxisSplit s = split_at(x.shape(), axis);
  if (is_float_type(x.dtype()))
    arg_walk(x.to_doubles(), s, is_max, last, out);
  else
    arg_walk(x.to_ints(), s, is_max, last, out);
  return {out};
}

// ---- CumSum ------------------------------------------------------------------------------------

bool cumsum_accepts(DataType t) {
  return is_float_type(t) || t == DataType::kINT32 || t == DataType::kINT64;
}

std::vector<TensorInfo> infer_cumsum(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  require_dtype(node, cumsum_accepts(x.dtype), "rtx.ir.301", "input 'x'", x.dtype,
                "f64, f32, f16, bf16, i64, i32");
  require(x.rank() >= 1, node, "rtx.ir.307", "needs an input of rank >= 1, got a 0-d scalar");
  const TensorInfo& a = ctx.input(1);
  require(a.dtype == DataType::kINT64 || a.dtype == DataType::kINT32, node, "rtx.ir.309",
          "input 'axis' must be i32 or i64, got " + dtype_name(a.dtype));
  require(a.rank() == 0 || (a.rank() == 1 && (a.shape[0] == 1 || a.shape[0] == kDynamic)), node,
          "rtx.ir.309", "input 'axis' must be a 0-d or one-element 1-D tensor, got " + describe(a));
  if (const HostTensor* c = ctx.constant(1)) {
    require(c->element_count() == 1, node, "rtx.ir.309",
            "input 'axis' must hold one value, got " + c->describe());
    normalize_axis(c->get_int(0), x.rank(), node);
  }
  bool_attr(node, "exclusive", 0, "rtx.ir.304");
  bool_attr(node, "reverse", 0, "rtx.ir.304");
  return {TensorInfo{x.dtype, x.shape, true}};
}

template <class Acc, class T>
void cumsum_walk(const std::vector<T>& v, const AxisSplit& s, bool exclusive, bool reverse,
                 std::vector<T>& out) {
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      Acc acc{};
      for (int64_t step = 0; step < s.extent; ++step) {
        const int64_t k = reverse ? s.extent - 1 - step : step;
        const auto at = static_cast<size_t>((o * s.extent + k) * s.inner + i);
        if (exclusive) {
          out[at] = static_cast<T>(acc);
          acc += static_cast<Acc>(v[at]);
        } else {
          acc += static_cast<Acc>(v[at]);
          out[at] = static_cast<T>(acc);
        }
      }
    }
}

std::vector<HostTensor> eval_cumsum(const EvalContext& ctx) {
  const HostTensor& x = ctx.input(0);
  const auto axis =
      static_cast<size_t>(normalize_axis(ctx.input(1).get_int(0), x.rank(), ctx.node));
  const bool exclusive = ctx.node.attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.node.attr_int("reverse", 0) != 0;
  const AxisSplit s = split_at(x.shape(), axis);
  if (is_float_type(x.dtype())) {
    const auto v = x.to_doubles();
    std::vector<double> out(v.size());
    cumsum_walk<double>(v, s, exclusive, reverse, out);
    return {HostTensor::from_doubles(x.dtype(), x.shape(), out)};
  }
  const auto v = x.to_ints();
  std::vector<int64_t> sums(v.size());
  cumsum_walk<uint64_t>(v, s, exclusive, reverse, sums);  // wraps instead of overflowing
  HostTensor out(x.dtype(), x.shape());
  for (size_t i = 0; i < sums.size(); ++i) out.set_int(static_cast<int64_t>(i), sums[i]);
  return {out};
}

// ---- Softmax / LogSoftmax ----------------------------------------------------------------------

std::vector<TensorInfo> infer_softmax(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  require_dtype(node, is_float_type(x.dtype), "rtx.ir.301", "input 'input'", x.dtype,
                "f64, f32, f16, bf16");
  require(x.rank() >= 1, node, "rtx.ir.307", "needs an input of rank >= 1, got a 0-d scalar");
  normalize_axis(node.attr_int("axis", -1), x.rank(), node);
  return {TensorInfo{x.dtype, x.shape, true}};
}

std::vector<HostTensor> eval_softmax(bool log, const EvalContext& ctx) {
  const HostTensor& x = ctx.input(0);
  const auto axis =
      static_cast<size_t>(normalize_axis(ctx.node.attr_int("axis", -1), x.rank(), ctx.node));
  const AxisSplit s = split_at(x.shape(), axis);
  const auto v = x.to_doubles();
  std::vector<double> out(v.size());
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      const auto at = [&](int64_t k) {
        return static_cast<size_t>((o * s.extent + k) * s.inner + i);
      };
      // Subtracting the maximum keeps exp() in range for large inputs (numerically stable form).
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < s.extent; ++k)
        m = std::isnan(v[at(k)]) || std::isnan(m) ? v[at(k)] + m : std::max(m, v[at(k)]);
      double sum = 0;
      for (int64_t k = 0; k < s.extent; ++k) sum += std::exp(v[at(k)] - m);
      const double log_sum = std::log(sum);
      for (int64_t k = 0; k < s.extent; ++k)
        out[at(k)] = log ? v[at(k)] - m - log_sum : std::exp(v[at(k)] - m) / sum;
    }
  return {HostTensor::from_doubles(x.dtype(), x.shape(), out)};
}

// ---- LayerNormalization / RMSNormalization -----------------------------------------------------

bool wants_output(const Node& node, size_t i) {
  return i < node.outputs.size() && node.outputs[i] != kNoValue;
}

DataType stash_dtype(const Node& node) {
  const int64_t code = node.attr_int("stash_type", 1);
  const auto t = onnx_float_code(code);
  require(t.has_value(), node, "rtx.ir.311",
          "attribute 'stash_type' must be an ONNX float type code (1, 10, 11, 16), got " +
              std::to_string(code));
  return *t;
}

void check_norm_param(const Node& node, const TensorInfo& x, const TensorInfo& p,
                      const char* name) {
  require(broadcasts_to(p.shape, x.shape), node, "rtx.ir.310",
          std::string("input '") + name + "' " + describe(p) + " does not broadcast to X " +
              describe(x));
}

std::vector<TensorInfo> infer_layer_norm(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  require_dtype(node, is_float_type(x.dtype), "rtx.ir.301", "input 'X'", x.dtype,
                "f64, f32, f16, bf16");
  const auto axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", -1), x.rank(), node));
  const DataType stash = stash_dtype(node);
  ctx.input(1);  // Scale is required: rtx.ir.124 when omitted
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has_input(i)) continue;
    const char* name = i == 1 ? "Scale" : "B";
    const TensorInfo& p = ctx.input(i);
    require(p.dtype == x.dtype, node, "rtx.ir.312",
            std::string("input '") + name + "' is " + dtype_name(p.dtype) + " but X is " +
                dtype_name(x.dtype));
    check_norm_param(node, x, p, name);
  }
  std::vector<TensorInfo> outs{TensorInfo{x.dtype, x.shape, true}};
  Shape stat = x.shape;
  for (size_t d = axis; d < stat.size(); ++d) stat[d] = 1;
  for (size_t i = 1; i < ctx.node.outputs.size(); ++i)
    outs.push_back(TensorInfo{stash, stat, true});
  return outs;
}

std::vector<HostTensor> eval_layer_norm(const EvalContext& ctx) {
  const HostTensor& x = ctx.input(0);
  const Node& node = ctx.node;
  const auto axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", -1), x.rank(), node));
  const double eps = node.attr_float("epsilon", 1e-5);
  const Shape& shape = x.shape();
  const auto v = x.to_doubles();
  const auto scale = expand_doubles(ctx.input(1), shape);
  const auto bias =
      ctx.has_input(2) ? expand_doubles(ctx.input(2), shape) : std::vector<double>(v.size(), 0.0);
  const int64_t outer = span_product(shape, 0, axis),
                inner = span_product(shape, axis, shape.size());
  std::vector<double> y(v.size()), mean(static_cast<size_t>(outer)),
      inv(static_cast<size_t>(outer));
  for (int64_t o = 0; o < outer; ++o) {
    const auto base = static_cast<size_t>(o * inner);
    double sum = 0;
    for (int64_t k = 0; k < inner; ++k) sum += v[base + static_cast<size_t>(k)];
    const double mu = sum / static_cast<double>(inner);
    double sq = 0;
    for (int64_t k = 0; k < inner; ++k)
      sq += (v[base + static_cast<size_t>(k)] - mu) * (v[base + static_cast<size_t>(k)] - mu);
    const double inv_std = 1.0 / std::sqrt(sq / static_cast<double>(inner) + eps);
    mean[static_cast<size_t>(o)] = mu;
    inv[static_cast<size_t>(o)] = inv_std;
    for (int64_t k = 0; k < inner; ++k) {
      const size_t j = base + static_cast<size_t>(k);
      y[j] = (v[j] - mu) * inv_std * scale[j] + bias[j];
    }
  }
  std::vector<HostTensor> outs{HostTensor::from_doubles(x.dtype(), shape, y)};
  for (size_t i = 1; i < node.outputs.size(); ++i) {
    if (!wants_output(node, i)) {
      outs.emplace_back();
      continue;
    }
    outs.push_back(
        HostTensor::from_doubles(ctx.outputs[i].dtype, ctx.outputs[i].shape, i == 1 ? mean : inv));
  }
  return outs;
}

std::vector<TensorInfo> infer_rms_norm(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  require_dtype(node, is_float_type(x.dtype), "rtx.ir.301", "input 'X'", x.dtype,
                "f64, f32, f16, bf16");
  normalize_axis(node.attr_int("axis", -1), x.rank(), node);
  stash_dtype(node);
  const TensorInfo& s = ctx.input(1);
  require_dtype(node, is_float_type(s.dtype), "rtx.ir.301", "input 'scale'", s.dtype,
                "f64, f32, f16, bf16");
  check_norm_param(node, x, s, "scale");
  // ONNX types Y like scale (type constraint V), which may differ from X's.
  return {TensorInfo{s.dtype, x.shape, true}};
}

std::vector<HostTensor> eval_rms_norm(const EvalContext& ctx) {
  const HostTensor& x = ctx.input(0);
  const Node& node = ctx.node;
  const auto axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", -1), x.rank(), node));
  const double eps = node.attr_float("epsilon", 1e-5);
  const Shape& shape = x.shape();
  const auto v = x.to_doubles();
  const auto scale = expand_doubles(ctx.input(1), shape);
  const int64_t outer = span_product(shape, 0, axis),
                inner = span_product(shape, axis, shape.size());
  std::vector<double> y(v.size());
  for (int64_t o = 0; o < outer; ++o) {
    const auto base = static_cast<size_t>(o * inner);
    double sq = 0;
    for (int64_t k = 0; k < inner; ++k)
      sq += v[base + static_cast<size_t>(k)] * v[base + static_cast<size_t>(k)];
    const double rms = std::sqrt(sq / static_cast<double>(inner) + eps);
    for (int64_t k = 0; k < inner; ++k) {
      const size_t j = base + static_cast<size_t>(k);
      y[j] = v[j] / rms * scale[j];
    }
  }
  return {HostTensor::from_doubles(ctx.outputs[0].dtype, shape, y)};
}

// ---- BatchNormalization (inference) ------------------------------------------------------------

std::vector<TensorInfo> infer_batch_norm(const InferContext& ctx) {
  const Node& node = ctx.node;
  const int64_t training = node.attr_int("training_mode", 0);
  require(training == 0, node, "rtx.ir.313",
          "training_mode=" + std::to_string(training) +
              " is not supported: rtx runs BatchNormalization in "
              "inference mode only (running statistics are not updated)");
  require(node.outputs.size() <= 1 || std::all_of(node.outputs.begin() + 1, node.outputs.end(),
                                                  [](ValueId v) { return v == kNoValue; }),
          node, "rtx.ir.313",
          "outputs running_mean/running_var exist only in training mode, which is not supported");
  const TensorInfo& x = ctx.input(0);
  require_dtype(node, is_float_type(x.dtype), "rtx.ir.301", "input 'X'", x.dtype,
                "f64, f32, f16, bf16");
  require(x.rank() >= 2, node, "rtx.ir.315",
          "input 'X' must have rank >= 2 (N, C, ...), got " + describe(x));
  const int64_t channels = x.shape[1];
  const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) {
    const TensorInfo& p = ctx.input(i);
    require_dtype(node, is_float_type(p.dtype), "rtx.ir.301",
                  std::string("input '") + names[i] + "'", p.dtype, "f64, f32, f16, bf16");
    require(
        p.rank() == 1 && (p.shape[0] == channels || p.shape[0] == kDynamic || channels == kDynamic),
        node, "rtx.ir.314",
        std::string("input '") + names[i] +
            "' must have shape [C] = " + shape_to_string(Shape{channels}) + ", got " + describe(p));
  }
  std::vector<TensorInfo> outs{TensorInfo{x.dtype, x.shape, true}};
  for (size_t i = 1; i < node.outputs.size(); ++i) outs.push_back(TensorInfo{x.dtype, {}, false});
  return outs;
}

std::vector<HostTensor> eval_batch_norm(const EvalContext& ctx) {
  const HostTensor& x = ctx.input(0);
  const double eps = ctx.node.attr_float("epsilon", 1e-5);
  const auto v = x.to_doubles();
  const auto scale = ctx.input(1).to_doubles(), bias = ctx.input(2).to_doubles();
  const auto mean = ctx.input(3).to_doubles(), var = ctx.input(4).to_doubles();
  const int64_t channels = x.shape()[1];
  const int64_t inner = span_product(x.shape(), 2, x.shape().size());
  std::vector<double> y(v.size());
  for (size_t j = 0; j < v.size(); ++j) {
    const auto c = static_cast<size_t>((static_cast<int64_t>(j) / inner) % channels);
    y[j] = (v[j] - mean[c]) / std::sqrt(var[c] + eps) * scale[c] + bias[c];
  }
  std::vector<HostTensor> outs{HostTensor::from_doubles(x.dtype(), x.shape(), y)};
  outs.resize(ctx.node.outputs.size());
  return outs;
}

}  // namespace

void register_reduction_ops(OpRegistry& r) {
  r.add(reduce_schema(OpKind::kReduceSum, Reduce::kSum));
  r.add(reduce_schema(OpKind::kReduceMean, Reduce::kMean));
  r.add(reduce_schema(OpKind::kReduceMax, Reduce::kMax));
  r.add(reduce_schema(OpKind::kReduceMin, Reduce::kMin));
  r.add(reduce_schema(OpKind::kReduceProd, Reduce::kProd));
  r.add(OpSchema{OpKind::kArgMax, 1, 1, 1, 1, infer_arg,
                 [](const EvalContext& c) { return eval_arg(true, c); }});
  r.add(OpSchema{OpKind::kArgMin, 1, 1, 1, 1, infer_arg,
                 [](const EvalContext& c) { return eval_arg(false, c); }});
  r.add(OpSchema{OpKind::kCumSum, 2, 2, 1, 1, infer_cumsum, eval_cumsum});
  r.add(OpSchema{OpKind::kSoftmax, 1, 1, 1, 1, infer_softmax,
                 [](const EvalContext& c) { return eval_softmax(false, c); }});
  r.add(OpSchema{OpKind::kLogSoftmax, 1, 1, 1, 1, infer_softmax,
                 [](const EvalContext& c) { return eval_softmax(true, c); }});
  r.add(OpSchema{OpKind::kLayerNormalization, 2, 3, 1, 3, infer_layer_norm, eval_layer_norm});
  r.add(OpSchema{OpKind::kRMSNormalization, 2, 2, 1, 1, infer_rms_norm, eval_rms_norm});
  r.add(OpSchema{OpKind::kBatchNormalization, 5, 5, 1, 3, infer_batch_norm, eval_batch_norm});
}

}  // namespace rtx::ir
