// SPDX-License-Identifier: Apache-2.0
// QuantizeLinear and DequantizeLinear at ONNX opset 23: per-tensor, per-axis and block-wise
// scales (granularity from the scale's shape), optional zero points, and the output types int8,
// uint8, int4, uint4 (packed), fp8 e4m3/e5m2 and fp4 e2m1.
//
// Arithmetic, matching the spec's wording on precision:
//   Quantize:   q = x / scale in the *precision* dtype (the `precision` attribute, else the
//               scale's dtype; double for an int32 scale): both operands are converted to it and
//               the exact quotient is rounded once to it, which is what a kernel dividing in that
//               dtype gets. Integers: y = saturate(round_half_even(q) + zero_point); NaN
//               quantizes to the zero point, +-inf saturates. fp8: y = cast(q) with `saturate`;
//               fp4: y = cast(q), always saturating.
//   Dequantize: y = (x - zero_point) * scale, computed exactly and rounded once to the output
//               dtype (`output_dtype`, else the scale's), which "determines the precision of the
//               multiplication" in the spec.
// Float quantized types (fp8, fp4) take a zero point only for form's sake: a nonzero one is an
// error (rtx.ir.711) rather than silently ignored (ONNX's reference ignores it for fp8 quantize
// and fp4 dequantize but rejects it for fp8 dequantize; one rule is clearer).
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ir/onnx_dtype.hpp"
#include "ir/op_registry.hpp"
#include "ir/ops/op_utils.hpp"
#include "rtx/numeric.hpp"

namespace rtx::ir {
namespace {

bool is_one_of(DataType t, std::initializer_list<DataType> set) {
  for (DataType s : set)
    if (s == t) return true;
  return false;
}

std::string dtype_name(DataType t) {
  return std::string(to_string(t));
}

/// A dtype from an ONNX number attribute (output_dtype, precision); 0 means "not given".
std::optional<DataType> onnx_attr_dtype(const Node& node, const char* key, const char* bad_id) {
  const int64_t v = node.attr_int(key, 0);
  if (v == 0) return std::nullopt;
  if (auto t = data_type_from_onnx(v)) return t;
  if (v == 4 || v == 5)
    fail(node, "rtx.ir.703",
         std::string("attribute '") + key + "' = " + std::to_string(v) + " (" + onnx_type_name(v) +
             "): 16-bit integer quantization is not supported");
  fail(node, bad_id,
       std::string("attribute '") + key + "' = " + std::to_string(v) + " (" + onnx_type_name(v) +
           ") is not a type rtx supports here");
}

enum class Granularity { kPerTensor, kPerAxis, kBlocked };

struct Layout {
  Granularity kind = Granularity::kPerTensor;
  int64_t axis = 0;
  int64_t block = 0;
};

bool all_ones(const std::vector<int64_t>& shape) {
  for (int64_t d : shape)
    if (d != 1) return false;
  return true;
}

/// Granularity from the scale's shape (ONNX: scalar; 1-D along `axis`; same rank as x with dim
/// `axis` = ceil(D/block_size)). A one-element scale of any rank is per-tensor, as in ONNX's
/// reference. Checks the zero point's shape against the scale's. Dynamic dims are not compared.
Layout quant_layout(const Node& node, const std::vector<int64_t>& x,
                    const std::vector<int64_t>& scale, const std::vector<int64_t>* zp) {
  Layout l;
  l.block = node.attr_int("block_size", 0);
  require(l.block >= 0, node, "rtx.ir.708",
          "attribute 'block_size' is " + std::to_string(l.block) + "; it must be >= 0");
  const auto x_rank = static_cast<int64_t>(x.size());
  const auto s_rank = static_cast<int64_t>(scale.size());
  if (zp) {
    bool same = zp->size() == scale.size();
    for (size_t i = 0; same && i < scale.size(); ++i)
      same = (*zp)[i] == scale[i] || (*zp)[i] == kDynamic || scale[i] == kDynamic;
    require(same, node, "rtx.ir.705",
            "zero point shape " + shape_to_string(*zp) + " differs from scale shape " +
                shape_to_string(scale));
  }
  if (s_rank == 0 || all_ones(scale)) return l;
  if (l.block == 0) {
    require(
        s_rank == 1, node, "rtx.ir.707",
        "scale shape " + shape_to_string(scale) +
            " is neither a scalar nor 1-D (per-axis); blocked quantization needs block_size > 0");
    l.kind = Granularity::kPerAxis;
    l.axis = normalize_axis(node.attr_int("axis", 1), x_rank, node);
    const int64_t d = x[static_cast<size_t>(l.axis)];
    require(d == kDynamic || scale[0] == kDynamic || scale[0] == d, node, "rtx.ir.706",
            "per-axis scale has " + std::to_string(scale[0]) + " elements but input dim " +
                std::to_string(l.axis) + " of " + shape_to_string(x) + " is " + std::to_string(d));
    return l;
  }
  l.kind = Granularity::kBlocked;
  require(s_rank == x_rank, node, "rtx.ir.709",
          "blocked quantization needs a scale of the input's rank " + std::to_string(x_rank) +
              ", got scale shape " + shape_to_string(scale));
  l.axis = normalize_axis(node.attr_int("axis", 1), x_rank, node);
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == kDynamic || scale[i] == kDynamic) continue;
    const int64_t want = static_cast<int64_t>(i) == l.axis ? (x[i] + l.block - 1) / l.block : x[i];
    require(scale[i] == want, node, "rtx.ir.710",
            "blocked scale shape " + shape_to_string(scale) + " does not fit input " +
                shape_to_string(x) + " with axis " + std::to_string(l.axis) + " and block_size " +
                std::to_string(l.block) + " (dim " + std::to_string(i) + " should be " +
                std::to_string(want) + ")");
  }
  return l;
}

/// Flat scale index of every element of x (row-major).
std::vector<int64_t> scale_indices(const Layout& l, const std::vector<int64_t>& x_shape,
                                   const std::vector<int64_t>& scale_shape) {
  std::vector<int64_t> out(static_cast<size_t>(product(x_shape)), 0);
  if (l.kind == Granularity::kPerTensor) return out;
  const auto axis = static_cast<size_t>(l.axis);
  const auto s_strides = strides_of(scale_shape);
  for_each_index(x_shape, [&](int64_t flat, std::span<const int64_t> idx) {
    int64_t o = 0;
    if (l.kind == Granularity::kPerAxis) {
      o = idx[axis];
    } else {
      for (size_t d = 0; d < idx.size(); ++d)
        o += (d == axis ? idx[d] / l.block : idx[d]) * s_strides[d];
    }
    out[static_cast<size_t>(flat)] = o;
  });
  return out;
}

bool is_float_quant(DataType t) {
  return t == DataType::kFP8E4M3 || t == DataType::kFP8E5M2 || t == DataType::kFP4E2M1;
}

/// Float quantized types accept a zero point only if it is all zeros.
void check_float_zero_point(const Node& node, const HostTensor* zp) {
  if (!zp || !is_float_quant(zp->dtype())) return;
  for (int64_t i = 0; i < zp->element_count(); ++i) {
    if (zp->get_double(i) != 0.0)
      fail(node, "rtx.ir.711",
           "zero point element " + std::to_string(i) + " is " + std::to_string(zp->get_double(i)) +
               "; " + dtype_name(zp->dtype()) + " quantization needs a zero point of 0");
  }
}

/// `v` rounded to dtype `t` (to nearest even) and widened back: the result of computing in `t`.
double round_to(DataType t, double v) {
  switch (t) {
    case DataType::kF32:
      return static_cast<double>(numeric::f32_from_double(v));
    case DataType::kF16:
      return numeric::f16_to_double(numeric::f16_from_double(v));
    case DataType::kBF16:
      return numeric::bf16_to_double(numeric::bf16_from_double(v));
    default:
      return v;
  }
}

// ---- QuantizeLinear ----------------------------------------------------------------------------

DataType quantize_output(const Node& node, const TensorInfo* zp) {
  const auto attr = onnx_attr_dtype(node, "output_dtype", "rtx.ir.715");
  DataType out = DataType::kUINT8;
  if (zp) {
    if (attr && *attr != zp->dtype)
      fail(node, "rtx.ir.704",
           "attribute output_dtype is " + dtype_name(*attr) + " but the zero point is " +
               dtype_name(zp->dtype));
    out = zp->dtype;
  } else if (attr) {
    out = *attr;
  }
  require(is_quantized(out), node, "rtx.ir.703",
          "output type " + dtype_name(out) +
              " is not a quantized type (int8, uint8, int4, uint4, fp8e4m3, fp8e5m2, fp4e2m1)");
  return out;
}

/// The dtype the division x / scale is carried out in.
DataType quantize_precision(const Node& node, DataType scale) {
  if (auto p = onnx_attr_dtype(node, "precision", "rtx.ir.714")) {
    require(
        is_one_of(*p, {DataType::kF32, DataType::kF16, DataType::kBF16, DataType::kF64}), node,
        "rtx.ir.714",
        "attribute 'precision' is " + dtype_name(*p) + "; expected a float type (f32, f16, bf16)");
    return *p;
  }
  return scale == DataType::kINT32 ? DataType::kF64 : scale;
}

std::vector<TensorInfo> infer_quantize(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& scale = ctx.input(1);
  const TensorInfo* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const auto accepted = {DataType::kF32, DataType::kF16, DataType::kBF16, DataType::kINT32};
  require(is_one_of(x.dtype, accepted), node, "rtx.ir.701",
          "input x is " + describe(x) + "; QuantizeLinear accepts f32, f16, bf16, i32");
  require(is_one_of(scale.dtype, accepted), node, "rtx.ir.702",
          "scale is " + describe(scale) + "; QuantizeLinear accepts f32, f16, bf16, i32 scales");
  const DataType out = quantize_output(node, zp);
  quantize_precision(node, scale.dtype);
  quant_layout(node, x.shape, scale.shape, zp ? &zp->shape : nullptr);
  check_float_zero_point(node, ctx.constant(2));
  return {TensorInfo{out, x.shape, true}};
}

std::vector<HostTensor> eval_quantize(const EvalContext& ctx) {
  const Node& node = ctx.node;
  const HostTensor& x = ctx.input(0);
  const HostTensor& scale = ctx.input(1);
  const HostTensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  check_float_zero_point(node, zp);
  const DataType out_type = ctx.outputs[0].dtype;
  const DataType precision = quantize_precision(node, scale.dtype());
  const bool saturate = node.attr_int("saturate", 1) != 0;
  const Layout l = quant_layout(node, x.shape(), scale.shape(), zp ? &zp->shape() : nullptr);
  const auto sidx = scale_indices(l, x.shape(), scale.shape());
  const std::vector<double> xs = x.to_doubles();
  const std::vector<double> ss = scale.to_doubles();
  const std::vector<int64_t> zps = zp ? zp->to_ints() : std::vector<int64_t>{};
  HostTensor y(out_type, x.shape());
  std::byte* dst = y.mutable_data();
  const numeric::IntRange range = numeric::int_range(out_type);
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto si = static_cast<size_t>(sidx[i]);
    // Both operands are converted to the precision dtype first, as ONNX's reference does.
    const double q = round_to(precision, round_to(precision, xs[i]) / round_to(precision, ss[si]));
    if (is_float_quant(out_type)) {
      numeric::encode(out_type, dst, static_cast<int64_t>(i), q, saturate);
      continue;
    }
    // round_half_even saturates to int64 (NaN -> 0); clamping to a small window first keeps the
    // zero-point addition from overflowing without changing the saturated result.
    int64_t r = numeric::round_half_even(q);
    r = std::min<int64_t>(std::max<int64_t>(r, -(int64_t{1} << 32)), int64_t{1} << 32);
    r += zp ? zps[si] : 0;
    r = std::min(std::max(r, range.lo), range.hi);
    numeric::encode_int(out_type, dst, static_cast<int64_t>(i), r);
  }
  return {y};
}

// ---- DequantizeLinear --------------------------------------------------------------------------

DataType dequantize_output(const Node& node, DataType scale) {
  const int64_t v = node.attr_int("output_dtype", 0);
  if (v == 0) return scale;
  const auto t = data_type_from_onnx(v);
  require(t && is_one_of(*t, {DataType::kF32, DataType::kF16, DataType::kBF16}), node, "rtx.ir.713",
          "attribute output_dtype is " + std::to_string(v) + " (" + onnx_type_name(v) +
              "); expected 1 (FLOAT), 10 (FLOAT16) or 16 (BFLOAT16)");
  return *t;
}

std::vector<TensorInfo> infer_dequantize(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& scale = ctx.input(1);
  const TensorInfo* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  require(is_quantized(x.dtype) || x.dtype == DataType::kINT32, node, "rtx.ir.701",
          "input x is " + describe(x) +
              "; DequantizeLinear accepts i8, u8, i32, i4, u4, fp8e4m3, fp8e5m2, fp4e2m1");
  require(is_one_of(scale.dtype, {DataType::kF32, DataType::kF16, DataType::kBF16}), node,
          "rtx.ir.702",
          "scale is " + describe(scale) + "; DequantizeLinear accepts f32, f16, bf16");
  if (zp)
    require(zp->dtype == x.dtype, node, "rtx.ir.712",
            "zero point is " + describe(*zp) + " but x is " + describe(x) +
                "; they must have the same dtype");
  const DataType out = dequantize_output(node, scale.dtype);
  quant_layout(node, x.shape, scale.shape, zp ? &zp->shape : nullptr);
  check_float_zero_point(node, ctx.constant(2));
  return {TensorInfo{out, x.shape, true}};
}

std::vector<HostTensor> eval_dequantize(const EvalContext& ctx) {
  const Node& node = ctx.node;
  const HostTensor& x = ctx.input(0);
  const HostTensor& scale = ctx.input(1);
  const HostTensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  check_float_zero_point(node, zp);
  const Layout l = quant_layout(node, x.shape(), scale.shape(), zp ? &zp->shape() : nullptr);
  const auto sidx = scale_indices(l, x.shape(), scale.shape());
  // x - zp is exact in double (integers below 2^33, or fp8/fp4 values), and so is its product
  // with a scale of at most 24 significant bits unless |x - zp| >= 2^29 (int32 inputs): the one
  // rounding is from_doubles' to the output dtype.
  const std::vector<double> xs = x.to_doubles();
  const std::vector<double> ss = scale.to_doubles();
  const std::vector<double> zps = zp ? zp->to_doubles() : std::vector<double>{};
  std::vector<double> y(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto si = static_cast<size_t>(sidx[i]);
    y[i] = (xs[i] - (zp ? zps[si] : 0.0)) * ss[si];
  }
  return {HostTensor::from_doubles(ctx.outputs[0].dtype, x.shape(), y)};
}

}  // namespace

void register_quantization_ops(OpRegistry& r) {
  OpSchema q;
  q.kind = OpKind::kQuantizeLinear;
  q.min_inputs = 2;
  q.max_inputs = 3;
  q.infer = infer_quantize;
  q.evaluate = eval_quantize;
  r.add(std::move(q));

  OpSchema dq;
  dq.kind = OpKind::kDequantizeLinear;
  dq.min_inputs = 2;
  dq.max_inputs = 3;
  dq.infer = infer_dequantize;
  dq.evaluate = eval_dequantize;
  r.add(std::move(dq));
}

}  // namespace rtx::ir
