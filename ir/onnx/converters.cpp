// SPDX-License-Identifier: Apache-2.0
// One converter per ONNX op type. Most ops map 1:1 onto the IR (which has ONNX's opset-23
// semantics); the converters here upgrade what changed across opsets: attributes that became
// inputs (Clip min/max, Reduce*/Squeeze/Unsqueeze axes, Split split, Slice starts/ends, Pad pads),
// Softmax's 2-D coercion before opset 13, Resize 10 / Upsample coordinate rules, BatchNorm's
// spatial / training forms, and inference-time Dropout. A few ops outside the IR that decompose
// exactly into IR ops (Sum, Mean, PRelu, Elu, HardSigmoid, ReduceL2...) are expanded here.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "ir/onnx/errors.hpp"
#include "ir/onnx/importer.hpp"
#include "ir/onnx_dtype.hpp"

namespace rtx::onnx {
namespace {

using ir::kNoValue;
using ir::OpKind;
using ir::ValueId;

// ---- helpers ------------------------------------------------------------------------------------

/// The ONNX op type and IR kind are the same op: inputs and attributes pass through.
template <OpKind K>
void direct(ConvertContext& c) {
  c.emit(K, c.inputs(), c.attrs_except({}));
}

int64_t rank_of(ConvertContext& c, ValueId v) {
  return c.info(v).rank();
}

/// Moves list attribute `key` to a 1-D int64 constant input (nullopt -> kNoValue).
ValueId ints_attr_as_input(ConvertContext& c, std::string_view key) {
  auto v = c.attr_ints(key);
  return v ? c.const_ints(*v) : kNoValue;
}

/// Inputs with `extra` placed at index `at` (padding with kNoValue), trailing absent dropped.
std::vector<ValueId> with_input(std::vector<ValueId> in, size_t at, ValueId extra) {
  if (in.size() <= at) in.resize(at + 1, kNoValue);
  in[at] = extra;
  while (!in.empty() && in.back() == kNoValue) in.pop_back();
  return in;
}

/// Only output 0 may be used (the rest are training-time outputs rtx does not compute).
void require_only_first_output(ConvertContext& c, const char* why) {
  for (size_t i = 1; i < c.num_outputs(); ++i)
    if (c.wants_output(i))
      c.fail(err::kUnsupportedUse,
             "output " + std::to_string(i) + " ('" + c.node().outputs[i] + "') is used; " + why);
}

/// A scalar of x's dtype (for decompositions that need constants like 1 or alpha).
ValueId scalar_like(ConvertContext& c, ValueId x, double v) {
  return c.const_scalar(c.info(x).dtype, v);
}

// ---- elementwise
// ----------------------------------------------------------------------------------

void convert_clip(ConvertContext& c) {
  if (c.opset() >= 11) return direct<OpKind::kClip>(c);
  // Clip-6: min/max attributes (defaults: the float range) -> inputs of x's dtype.
  const ValueId x = c.required_input(0);
  const DataType t = c.info(x).dtype;
  const ValueId lo = c.has_attr("min") ? c.const_scalar(t, c.attr_float("min", 0)) : kNoValue;
  const ValueId hi = c.has_attr("max") ? c.const_scalar(t, c.attr_float("max", 0)) : kNoValue;
  c.emit(OpKind::kClip, with_input(with_input({x}, 1, lo), 2, hi), {});
}

void convert_cast_like(ConvertContext& c) {
  const ValueId x = c.required_input(0);
  const ValueId like = c.required_input(1);
  Attrs a = c.attrs_except({});
  a["to"] = ir::onnx_from_data_type(c.info(like).dtype);
  c.emit(OpKind::kCast, {x}, std::move(a));
}

/// Variadic Sum / Mean: a left fold of Adds (the order numpy's reference uses), Mean divides.
void convert_sum_mean(ConvertContext& c, bool mean) {
  std::vector<ValueId> in = c.inputs();
  if (in.empty()) c.fail(err::kArity, "needs at least one input");
  for (ValueId v : in)
    if (v == kNoValue) c.fail(err::kArity, "inputs cannot be omitted");
  if (in.size() == 1 && !mean) return c.emit(OpKind::kIdentity, {in[0]}, {});
  ValueId acc = in[0];
  for (size_t i = 1; i < in.size(); ++i) {
    const bool last = i + 1 == in.size();
    if (last && !mean) return c.emit(OpKind::kAdd, {acc, in[i]}, {});
    acc = c.add(OpKind::kAdd, {acc, in[i]});
  }
  c.emit(OpKind::kDiv, {acc, scalar_like(c, in[0], static_cast<double>(in.size()))}, {});
}

void convert_swish(ConvertContext& c) {
  const ValueId x = c.required_input(0);
  const double alpha = c.attr_float("alpha", 1.0);
  if (alpha == 1.0) return c.emit(OpKind::kSilu, {x}, {});
  const ValueId ax = c.add(OpKind::kMul, {x, scalar_like(c, x, alpha)});
  c.emit(OpKind::kMul, {x, c.add(OpKind::kSigmoid, {ax})}, {});
}

void convert_prelu(ConvertContext& c) {
  // PRelu(x, slope) = x < 0 ? slope * x : x, slope broadcasting to x.
  const ValueId x = c.required_input(0);
  const ValueId slope = c.required_input(1);
  const ValueId neg = c.add(OpKind::kLess, {x, scalar_like(c, x, 0.0)});
  c.emit(OpKind::kWhere, {neg, c.add(OpKind::kMul, {x, slope}), x}, {});
}

void convert_elu(ConvertContext& c) {
  // Elu(x) = x < 0 ? alpha * (exp(x) - 1) : x
  const ValueId x = c.required_input(0);
  const double alpha = c.attr_float("alpha", 1.0);
  const ValueId em1 = c.add(OpKind::kSub, {c.add(OpKind::kExp, {x}), scalar_like(c, x, 1.0)});
  const ValueId neg = c.add(OpKind::kLess, {x, scalar_like(c, x, 0.0)});
  c.emit(OpKind::kWhere, {neg, c.add(OpKind::kMul, {em1, scalar_like(c, x, alpha)}), x}, {});
}

void convert_selu(ConvertContext& c) {
  // Selu(x) = gamma * (x <= 0 ? alpha * (exp(x) - 1) : x)
  const ValueId x = c.required_input(0);
  const double alpha = c.attr_float("alpha", 1.67326319217681884765625);
  const double gamma = c.attr_float("gamma", 1.05070102214813232421875);
  const ValueId em1 = c.add(OpKind::kSub, {c.add(OpKind::kExp, {x}), scalar_like(c, x, 1.0)});
  const ValueId le = c.add(OpKind::kLessOrEqual, {x, scalar_like(c, x, 0.0)});
  const ValueId inner =
      c.add(OpKind::kWhere, {le, c.add(OpKind::kMul, {em1, scalar_like(c, x, alpha)}), x});
  c.emit(OpKind::kMul, {inner, scalar_like(c, x, gamma)}, {});
}

void convert_hard_sigmoid(ConvertContext& c) {
  // max(0, min(1, alpha * x + beta))
  const ValueId x = c.required_input(0);
  const ValueId ax = c.add(OpKind::kMul, {x, scalar_like(c, x, c.attr_float("alpha", 0.2))});
  const ValueId axb = c.add(OpKind::kAdd, {ax, scalar_like(c, x, c.attr_float("beta", 0.5))});
  c.emit(OpKind::kClip, {axb, scalar_like(c, x, 0.0), scalar_like(c, x, 1.0)}, {});
}

void convert_hard_swish(ConvertContext& c) {
  // x * max(0, min(1, x / 6 + 0.5))
  const ValueId x = c.required_input(0);
  const ValueId ax = c.add(OpKind::kMul, {x, scalar_like(c, x, 1.0 / 6.0)});
  const ValueId axb = c.add(OpKind::kAdd, {ax, scalar_like(c, x, 0.5)});
  const ValueId hs = c.add(OpKind::kClip, {axb, scalar_like(c, x, 0.0), scalar_like(c, x, 1.0)});
  c.emit(OpKind::kMul, {x, hs}, {});
}

void convert_softsign(ConvertContext& c) {
  const ValueId x = c.required_input(0);
  const ValueId den = c.add(OpKind::kAdd, {c.add(OpKind::kAbs, {x}), scalar_like(c, x, 1.0)});
  c.emit(OpKind::kDiv, {x, den}, {});
}

void convert_softplus(ConvertContext& c) {
  // log(exp(x) + 1), as ONNX defines it (overflowing to inf for large x like the reference).
  const ValueId x = c.required_input(0);
  const ValueId e1 = c.add(OpKind::kAdd, {c.add(OpKind::kExp, {x}), scalar_like(c, x, 1.0)});
  c.emit(OpKind::kLog, {e1}, {});
}

void convert_thresholded_relu(ConvertContext& c) {
  const ValueId x = c.required_input(0);
  const ValueId gt = c.add(OpKind::kGreater, {x, scalar_like(c, x, c.attr_float("alpha", 1.0))});
  c.emit(OpKind::kWhere, {gt, x, scalar_like(c, x, 0.0)}, {});
}

void convert_sign(ConvertContext& c) {
  const ValueId x = c.required_input(0);
  const ValueId zero = scalar_like(c, x, 0.0);
  const ValueId neg =
      c.add(OpKind::kWhere, {c.add(OpKind::kLess, {x, zero}), scalar_like(c, x, -1.0), zero});
  c.emit(OpKind::kWhere, {c.add(OpKind::kGreater, {x, zero}), scalar_like(c, x, 1.0), neg}, {});
}

// ---- normalisation, softmax ------------------------------------------------------------------

void convert_batch_norm(ConvertContext& c) {
  if (c.opset() < 9 && c.attr_int("spatial", 1) != 1)
    c.fail(err::kUnsupportedUse, "spatial=0 (per-activation statistics) is not supported");
  if (c.attr_int("training_mode", 0) != 0)
    c.fail(err::kUnsupportedUse,
           "training_mode=1 computes batch statistics; rtx imports inference graphs only");
  require_only_first_output(c, "it exists only in training mode");
  Attrs a;
  if (c.has_attr("epsilon")) a["epsilon"] = c.attr_float("epsilon", 1e-5);
  if (c.has_attr("momentum")) a["momentum"] = c.attr_float("momentum", 0.9);
  c.emit(OpKind::kBatchNormalization, c.inputs(), std::move(a), 1);
}

/// Softmax / LogSoftmax before opset 13 coerce the input to 2-D at `axis` (default 1): the
/// normalisation runs over all dims from axis on. That equals the opset-13 op on the last axis
/// when axis is the last dim; otherwise flatten, normalise over dim 1, and reshape back.
template <OpKind K>
void convert_softmax(ConvertContext& c) {
  if (c.opset() >= 13) return direct<K>(c);
  const ValueId x = c.required_input(0);
  const int64_t r = rank_of(c, x);
  int64_t axis = c.attr_int("axis", 1);
  if (axis < -r || axis > std::max<int64_t>(r - 1, 0))
    c.fail(err::kAttribute,
           "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  if (r == 0 || axis == r - 1) return c.emit(K, {x}, {{"axis", int64_t{-1}}});
  const ValueId flat = c.add(OpKind::kFlatten, {x}, {{"axis", axis}});
  const ValueId y = c.add(K, {flat}, {{"axis", int64_t{1}}});
  c.emit(OpKind::kReshape, {y, c.add(OpKind::kShape, {x})}, {});
}

// ---- reductions
// -----------------------------------------------------------------------------------

/// Reduce* with an `axes` attribute before `since` (ReduceSum 13, the others 18) -> input.
template <OpKind K, int64_t Since>
void convert_reduce(ConvertContext& c) {
  if (c.opset() >= Since) return direct<K>(c);
  const ValueId x = c.required_input(0);
  c.emit(K, with_input({x}, 1, ints_attr_as_input(c, "axes")), c.attrs_except({"axes"}));
}

/// The Reduce ops outside the IR, as exact compositions: ReduceL1 = sum|x|, ReduceL2 =
/// sqrt(sum x^2), ReduceSumSquare = sum x^2, ReduceLogSum = log(sum x), ReduceLogSumExp =
/// log(sum exp x).
enum class ReduceExtra { kL1, kL2, kSumSquare, kLogSum, kLogSumExp };
template <ReduceExtra E>
void convert_reduce_extra(ConvertContext& c) {
  const ValueId x = c.required_input(0);
  ValueId axes = c.opset() >= 18 ? c.input(1) : ints_attr_as_input(c, "axes");
  ValueId pre = x;
  if (E == ReduceExtra::kL1) pre = c.add(OpKind::kAbs, {x});
  if (E == ReduceExtra::kL2 || E == ReduceExtra::kSumSquare) pre = c.add(OpKind::kMul, {x, x});
  if (E == ReduceExtra::kLogSumExp) pre = c.add(OpKind::kExp, {x});
  Attrs a = c.attrs_except({"axes"});
  if (E == ReduceExtra::kL1 || E == ReduceExtra::kSumSquare)
    return c.emit(OpKind::kReduceSum, with_input({pre}, 1, axes), std::move(a));
  const ValueId sum = c.add(OpKind::kReduceSum, with_input({pre}, 1, axes), std::move(a));
  c.emit(E == ReduceExtra::kL2 ? OpKind::kSqrt : OpKind::kLog, {sum}, {});
}

void convert_global_max_pool(ConvertContext& c) {
  const ValueId x = c.required_input(0);
  const int64_t r = rank_of(c, x);
  if (r < 3) c.fail(err::kUnsupportedUse, "needs an input of rank >= 3 (N, C, spatial...)");
  std::vector<int64_t> axes;
  for (int64_t d = 2; d < r; ++d) axes.push_back(d);
  c.emit(OpKind::kReduceMax, {x, c.const_ints(axes)}, {{"keepdims", int64_t{1}}});
}

// ---- shape ops
// ------------------------------------------------------------------------------------

/// Reshape whose target is computed (x.view(b, s, heads, d) exports as Concat of Shape(x)
/// gathers and constants): where every unknown element is "dim i of x" at position i, the
/// target becomes a constant with 0 there (copy the input dim), so the output dims that are
/// constants stay static.
void convert_reshape(ConvertContext& c) {
  const ValueId x = c.required_input(0);
  const ValueId shape = c.required_input(1);
  if (!c.constant(shape) && c.attr_int("allowzero", 0) == 0) {
    if (auto s = c.symbolic(shape); s && !s->scalar) {
      std::vector<int64_t> target;
      bool ok = true;
      for (size_t i = 0; i < s->elems.size() && ok; ++i) {
        const SymDim& e = s->elems[i];
        if (e.known())
          target.push_back(e.value);
        else if (e == c.canonical_dim(x, static_cast<int64_t>(i)))
          target.push_back(0);
        else
          ok = false;
      }
      if (ok) return c.emit(OpKind::kReshape, {x, c.const_ints(target)}, c.attrs_except({}));
    }
  }
  c.emit(OpKind::kReshape, c.inputs(), c.attrs_except({}));
}

template <OpKind K>
void convert_squeeze(ConvertContext& c) {
  if (c.opset() >= 13) return direct<K>(c);
  const ValueId x = c.required_input(0);
  c.emit(K, with_input({x}, 1, ints_attr_as_input(c, "axes")), c.attrs_except({"axes"}));
}

void convert_split(ConvertContext& c) {
  const ValueId x = c.required_input(0);
  ValueId split = c.opset() >= 13 ? c.input(1) : ints_attr_as_input(c, "split");
  Attrs a = c.attrs_except({"split"});
  // An empty split input (opset 13 writers sometimes pass one) means "equal parts".
  if (split != kNoValue)
    if (auto v = c.constant_ints(split); v && v->empty()) split = kNoValue;
  if (split == kNoValue && !a.count("num_outputs"))
    a["num_outputs"] = static_cast<int64_t>(c.num_outputs());
  c.emit(OpKind::kSplit, with_input({x}, 1, split), std::move(a));
}

void convert_slice(ConvertContext& c) {
  if (c.opset() >= 10) return direct<OpKind::kSlice>(c);
  const ValueId x = c.required_input(0);
  auto starts = c.attr_ints("starts");
  auto ends = c.attr_ints("ends");
  if (!starts || !ends)
    c.fail(err::kAttribute, "attributes 'starts' and 'ends' are required before opset 10");
  std::vector<ValueId> in = {x, c.const_ints(*starts), c.const_ints(*ends)};
  if (auto axes = c.attr_ints("axes")) in.push_back(c.const_ints(*axes));
  c.emit(OpKind::kSlice, in, {});
}

void convert_pad(ConvertContext& c) {
  if (c.opset() >= 11) return direct<OpKind::kPad>(c);
  const ValueId x = c.required_input(0);
  auto pads = c.attr_ints("pads");
  if (!pads) pads = c.attr_ints("paddings");
  if (!pads) c.fail(err::kAttribute, "attribute 'pads' is required before opset 11");
  const std::string mode = c.attr_string("mode", "constant");
  std::vector<ValueId> in = {x, c.const_ints(*pads)};
  if (mode == "constant") in.push_back(scalar_like(c, x, c.attr_float("value", 0.0)));
  c.emit(OpKind::kPad, in, {{"mode", mode}});
}

void convert_constant(ConvertContext& c) {
  const auto& attrs = c.node().attrs;
  if (attrs.size() != 1)
    c.fail(err::kAttribute, "needs exactly one of value, value_float(s), value_int(s) (got " +
                                std::to_string(attrs.size()) + " attributes)");
  const auto& [key, v] = *attrs.begin();
  HostTensor data;
  if (key == "value" || key == "sparse_value") {
    if (const auto* t = std::get_if<HostTensor>(&v)) data = *t;
  } else if (key == "value_float") {
    if (const auto* d = std::get_if<double>(&v)) data = HostTensor::scalar(DataType::kF32, *d);
  } else if (key == "value_int") {
    if (const auto* i = std::get_if<int64_t>(&v))
      data = HostTensor::from_vector(DataType::kINT64, {}, std::vector<int64_t>{*i});
  } else if (key == "value_floats") {
    if (const auto* f = std::get_if<std::vector<double>>(&v))
      data = HostTensor::from_doubles(DataType::kF32, {static_cast<int64_t>(f->size())}, *f);
  } else if (key == "value_ints") {
    if (const auto* i = std::get_if<std::vector<int64_t>>(&v))
      data = HostTensor::from_vector(DataType::kINT64, {static_cast<int64_t>(i->size())}, *i);
  } else if (key == "value_string" || key == "value_strings") {
    c.fail(err::kDataType, "string constants are not supported");
  }
  if (!data.valid())
    c.fail(err::kAttribute, "attribute '" + key + "' has the wrong type or is unknown");
  c.bind_constant(0, std::move(data));
}

void convert_dropout(ConvertContext& c) {
  // Inference: the identity, and an all-true mask. training_mode (opset 12 input) must be a
  // constant false; a ratio input is ignored like onnxruntime does at inference.
  const ValueId x = c.required_input(0);
  if (c.opset() >= 12 && c.has_input(2)) {
    const HostTensor* t = c.constant(c.input(2));
    if (!t || t->element_count() != 1)
      c.fail(err::kUnsupportedUse,
             "training_mode must be a constant (rtx imports inference graphs)");
    if (t->get_double(0) != 0)
      c.fail(err::kUnsupportedUse,
             "training_mode=true drops values at random; rtx imports inference graphs only");
  }
  if (c.opset() < 7 && c.attr_int("is_test", 0) == 0)
    c.fail(err::kUnsupportedUse, "is_test=0 (training) is not supported");
  c.emit_output(0, OpKind::kIdentity, {x});
  if (c.wants_output(1)) {
    // Opset 10+ masks are bool; before that they had x's type.
    HostTensor one =
        HostTensor::scalar(c.opset() >= 10 ? DataType::kBOOL : c.info(x).dtype, 1.0).reshaped({1});
    c.emit_output(1, OpKind::kConstantOfShape, {c.add(OpKind::kShape, {x})}, {{"value", one}});
  }
}

// ---- conv / pool / resize
// -------------------------------------------------------------------------

void convert_max_pool(ConvertContext& c) {
  c.emit(OpKind::kMaxPool, c.inputs(), c.attrs_except({}));
}

/// Resize-10 and Upsample: scales only; output coordinates map back asymmetrically
/// (x_in = x_out / scale) and nearest rounds down (the onnx version converter's reading).
void emit_legacy_resize(ConvertContext& c, ValueId x, ValueId scales) {
  std::string mode = c.attr_string("mode", "nearest");
  if (mode == "bilinear") mode = "linear";  // Upsample-7 spelling
  if (mode != "nearest" && mode != "linear")
    c.fail(err::kAttribute, "mode '" + mode + "' is not nearest or linear");
  Attrs a = {{"mode", mode}, {"coordinate_transformation_mode", std::string("asymmetric")}};
  if (mode == "nearest") a["nearest_mode"] = std::string("floor");
  c.emit(OpKind::kResize, {x, kNoValue, scales}, std::move(a));
}

void convert_upsample(ConvertContext& c) {
  const ValueId x = c.required_input(0);
  if (c.opset() >= 9) return emit_legacy_resize(c, x, c.required_input(1));
  auto scales = c.attr_floats("scales");
  if (!scales) c.fail(err::kAttribute, "attribute 'scales' is required before opset 9");
  emit_legacy_resize(c, x,
                     c.const_tensor(HostTensor::from_doubles(
                         DataType::kF32, {static_cast<int64_t>(scales->size())}, *scales)));
}

void convert_resize(ConvertContext& c) {
  const ValueId x = c.required_input(0);
  if (c.opset() < 11) return emit_legacy_resize(c, x, c.required_input(1));
  std::vector<ValueId> in = c.inputs();
  in.resize(4, kNoValue);
  // Opset 11 requires a scales input even when sizes are given: an empty tensor then.
  if (in[2] != kNoValue)
    if (const HostTensor* s = c.constant(in[2]); s && s->element_count() == 0) in[2] = kNoValue;
  if (in[1] != kNoValue)
    if (const HostTensor* r = c.constant(in[1]); r && r->element_count() == 0) in[1] = kNoValue;
  while (!in.empty() && in.back() == kNoValue) in.pop_back();
  c.emit(OpKind::kResize, in, c.attrs_except({}));
}

// ---- attention ----------------------------------------------------------------------------------

/// Attention-24's nonpad_kv_seqlen (B,) masks key positions >= nonpad[b]. The IR op (opset 23)
/// has no such input: it becomes part of an additive float mask, as ONNX's reference computes it:
/// bias = (attn_mask as a float bias, padded to total_seq with -inf) + (pos < nonpad ? 0 : -inf).
void convert_attention(ConvertContext& c) {
  std::vector<ValueId> in = c.inputs();
  if (!c.has_input(6)) return c.emit(OpKind::kAttention, in, c.attrs_except({}));
  const ValueId q = c.required_input(0);
  const ValueId k = c.required_input(1);
  const ValueId nonpad = c.required_input(6);
  const ir::TensorInfo& ki = c.info(k);
  int64_t total = ki.rank() == 4 ? ki.shape[2] : ki.rank() == 3 ? ki.shape[1] : ir::kDynamic;
  if (c.has_input(4)) {
    const ir::TensorInfo& pk = c.info(c.input(4));
    total = (total < 0 || pk.rank() != 4 || pk.shape[2] < 0) ? ir::kDynamic : total + pk.shape[2];
  }
  if (total < 0)
    c.fail(err::kUnsupportedUse, "nonpad_kv_seqlen needs a static key sequence length");
  const DataType t = c.info(q).dtype;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<int64_t> positions(static_cast<size_t>(total));
  for (int64_t i = 0; i < total; ++i) positions[static_cast<size_t>(i)] = i;
  const ValueId lens = c.add(OpKind::kUnsqueeze, {nonpad, c.const_ints({1})});    // (B, 1)
  const ValueId keep = c.add(OpKind::kLess, {c.const_ints(positions), lens});     // (B, L)
  const ValueId keep4 = c.add(OpKind::kUnsqueeze, {keep, c.const_ints({1, 2})});  // (B,1,1,L)
  ValueId bias = c.add(OpKind::kWhere, {keep4, c.const_scalar(t, 0.0), c.const_scalar(t, -inf)});
  if (c.has_input(3)) {
    ValueId mask = c.input(3);
    const ir::TensorInfo mi = c.info(mask);
    if (mi.dtype == DataType::kBOOL)
      mask = c.add(OpKind::kWhere, {mask, c.const_scalar(t, 0.0), c.const_scalar(t, -inf)});
    const int64_t last = mi.rank() ? mi.shape.back() : 1;
    if (last < 0)
      c.fail(err::kUnsupportedUse, "nonpad_kv_seqlen with an attn_mask needs its last dim static");
    if (last < total) {
      std::vector<int64_t> pads(static_cast<size_t>(2 * mi.rank()), 0);
      pads.back() = total - last;
      mask = c.add(OpKind::kPad, {mask, c.const_ints(pads), c.const_scalar(t, -inf)});
    }
    bias = c.add(OpKind::kAdd, {mask, bias});
  }
  in.resize(6, kNoValue);
  in[3] = bias;
  while (!in.empty() && in.back() == kNoValue) in.pop_back();
  c.emit(OpKind::kAttention, in, c.attrs_except({}));
}

// ---- quantization
// ---------------------------------------------------------------------------------

/// Q/DQ: ONNX's reference treats a one-element zero point as per-tensor whatever its rank
/// (writers emit scale [] with zero point [1]); the IR wants both in the same shape.
template <OpKind K>
void convert_qdq(ConvertContext& c) {
  std::vector<ValueId> in = c.inputs();
  if (in.size() >= 3 && in[1] != kNoValue && in[2] != kNoValue) {
    const ir::TensorInfo& scale = c.info(in[1]);
    const ir::TensorInfo& zp = c.info(in[2]);
    if (scale.element_count() == 1 && zp.element_count() == 1 && scale.shape != zp.shape) {
      if (const HostTensor* z = c.constant(in[2]))
        in[2] = c.const_tensor(z->reshaped(scale.shape));
      else
        in[2] = c.add(OpKind::kReshape, {in[2], c.const_ints(scale.shape)});
    }
  }
  c.emit(K, in, c.attrs_except({}));
}

// ---- the table ----------------------------------------------------------------------------------

// Since: the first opset whose form of the op the converter reads (earlier forms differ).
#define RTX_DIRECT(name, since) \
  { #name, since, direct < OpKind::k##name> }

const std::vector<OpConverter> kConverters = {
    // unary elementwise (version 1 differs from 6 only by the legacy consumed_inputs hint)
    RTX_DIRECT(Relu, 1),
    RTX_DIRECT(LeakyRelu, 1),
    RTX_DIRECT(Sigmoid, 1),
    RTX_DIRECT(Tanh, 1),
    RTX_DIRECT(Erf, 9),
    RTX_DIRECT(Gelu, 20),
    RTX_DIRECT(Exp, 1),
    RTX_DIRECT(Log, 1),
    RTX_DIRECT(Sqrt, 1),
    RTX_DIRECT(Reciprocal, 1),
    RTX_DIRECT(Neg, 1),
    RTX_DIRECT(Abs, 1),
    RTX_DIRECT(Floor, 1),
    RTX_DIRECT(Ceil, 1),
    RTX_DIRECT(Sin, 7),
    RTX_DIRECT(Cos, 7),
    RTX_DIRECT(Not, 1),
    RTX_DIRECT(IsNaN, 9),
    RTX_DIRECT(IsInf, 10),
    RTX_DIRECT(Identity, 1),
    RTX_DIRECT(Cast, 6),  // Cast-1 spelled `to` as a string
    {"Clip", 1, convert_clip},
    {"CastLike", 15, convert_cast_like},
    // binary / variadic elementwise (before opset 7: legacy `broadcast`/`axis` attributes)
    RTX_DIRECT(Add, 7),
    RTX_DIRECT(Sub, 7),
    RTX_DIRECT(Mul, 7),
    RTX_DIRECT(Div, 7),
    RTX_DIRECT(Pow, 7),
    RTX_DIRECT(Max, 6),
    RTX_DIRECT(Min, 6),
    RTX_DIRECT(Mod, 10),
    RTX_DIRECT(Equal, 7),
    RTX_DIRECT(Less, 7),
    RTX_DIRECT(LessOrEqual, 12),
    RTX_DIRECT(Greater, 7),
    RTX_DIRECT(GreaterOrEqual, 12),
    RTX_DIRECT(And, 7),
    RTX_DIRECT(Or, 7),
    RTX_DIRECT(Xor, 7),
    RTX_DIRECT(Where, 9),
    {"Sum", 6, [](ConvertContext& c) { convert_sum_mean(c, false); }},
    {"Mean", 6, [](ConvertContext& c) { convert_sum_mean(c, true); }},
    // activations outside the IR, as exact compositions
    {"Swish", 24, convert_swish},
    {"PRelu", 7, convert_prelu},
    {"Elu", 6, convert_elu},
    {"Selu", 6, convert_selu},
    {"HardSigmoid", 6, convert_hard_sigmoid},
    {"HardSwish", 14, convert_hard_swish},
    {"Softsign", 1, convert_softsign},
    {"Softplus", 1, convert_softplus},
    {"ThresholdedRelu", 10, convert_thresholded_relu},
    {"Sign", 9, convert_sign},
    // linear algebra, convolution, pooling, resize
    RTX_DIRECT(MatMul, 1),
    RTX_DIRECT(Gemm, 7),
    RTX_DIRECT(Conv, 1),
    RTX_DIRECT(ConvTranspose, 1),
    RTX_DIRECT(AveragePool, 1),
    RTX_DIRECT(GlobalAveragePool, 1),
    {"MaxPool", 1, convert_max_pool},
    {"GlobalMaxPool", 1, convert_global_max_pool},
    {"Resize", 10, convert_resize},
    {"Upsample", 7, convert_upsample},
    // normalisation, softmax, attention
    {"BatchNormalization", 6, convert_batch_norm},
    RTX_DIRECT(LayerNormalization, 17),
    RTX_DIRECT(RMSNormalization, 23),
    {"Softmax", 1, convert_softmax<OpKind::kSoftmax>},
    {"LogSoftmax", 1, convert_softmax<OpKind::kLogSoftmax>},
    {"Attention", 23, convert_attention},
    {"Dropout", 1, convert_dropout},
    // reductions
    {"ReduceSum", 1, convert_reduce<OpKind::kReduceSum, 13>},
    {"ReduceMean", 1, convert_reduce<OpKind::kReduceMean, 18>},
    {"ReduceMax", 1, convert_reduce<OpKind::kReduceMax, 18>},
    {"ReduceMin", 1, convert_reduce<OpKind::kReduceMin, 18>},
    {"ReduceProd", 1, convert_reduce<OpKind::kReduceProd, 18>},
    {"ReduceL1", 1, convert_reduce_extra<ReduceExtra::kL1>},
    {"ReduceL2", 1, convert_reduce_extra<ReduceExtra::kL2>},
    {"ReduceSumSquare", 1, convert_reduce_extra<ReduceExtra::kSumSquare>},
    {"ReduceLogSum", 1, convert_reduce_extra<ReduceExtra::kLogSum>},
    {"ReduceLogSumExp", 1, convert_reduce_extra<ReduceExtra::kLogSumExp>},
    RTX_DIRECT(ArgMax, 1),
    RTX_DIRECT(ArgMin, 1),
    RTX_DIRECT(CumSum, 11),
    // shape and data movement
    {"Reshape", 5, convert_reshape},
    RTX_DIRECT(Transpose, 1),
    RTX_DIRECT(Flatten, 1),
    RTX_DIRECT(Concat, 4),
    RTX_DIRECT(Gather, 1),
    RTX_DIRECT(GatherElements, 11),
    RTX_DIRECT(Expand, 8),
    RTX_DIRECT(Tile, 6),
    RTX_DIRECT(Shape, 1),
    RTX_DIRECT(Size, 1),
    RTX_DIRECT(ConstantOfShape, 9),
    RTX_DIRECT(Range, 11),
    RTX_DIRECT(Trilu, 14),
    {"Squeeze", 1, convert_squeeze<OpKind::kSqueeze>},
    {"Unsqueeze", 1, convert_squeeze<OpKind::kUnsqueeze>},
    {"Split", 2, convert_split},
    {"Slice", 1, convert_slice},
    {"Pad", 1, convert_pad},
    {"Constant", 1, convert_constant},
    // quantization
    {"QuantizeLinear", 10, convert_qdq<OpKind::kQuantizeLinear>},
    {"DequantizeLinear", 10, convert_qdq<OpKind::kDequantizeLinear>},
};

#undef RTX_DIRECT

}  // namespace

const OpConverter* find_converter(std::string_view op_type) {
  for (const auto& c : kConverters)
    if (c.op_type == op_type) return &c;
  return nullptr;
}

const std::vector<OpConverter>& all_converters() {
  return kConverters;
}

}  // namespace rtx::onnx
