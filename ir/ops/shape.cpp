// SPDX-License-Identifier: Apache-2.0
// Shape and data-movement ops (ONNX semantics at the latest opset): Reshape, Transpose, Flatten,
// Squeeze, Unsqueeze, Concat, Split, Slice, Gather, GatherElements, Expand, Tile, Pad, Shape,
// Size, ConstantOfShape, Range, Constant, Trilu. These ops never compute on element values (Range
// aside): they move bits, so every data type works and NaN payloads, -0 and packed 4-bit nibbles
// survive exactly. One element mover below does all the copying; ops describe *where* elements
// go (strides, index maps) and never *what* they are.
//
// Inference reads value inputs (shape, axes, pads, starts...) through ctx.constant(i); when such
// an input is unknown it still returns the rank (from the input's static length) with dynamic
// dims wherever the value matters.
//
// Error ids (rtx.ir.6xx, stable):
//   600 a shape/axes/index input has the wrong dtype
//   601 such an input is not 1-D (lists) or not one element (scalars), or has a negative dim
//   602 Reshape: more than one -1
//   603 Reshape: an entry below -1
//   604 Reshape: element counts differ
//   605 Reshape: a 0 entry has no input dim to copy, or allowzero with both 0 and -1
//   606 Reshape: cannot infer -1 (the other dims multiply to 0)
//   609 an element count overflows int64
//   610 Transpose: perm is not a permutation of the dims
//   615 Squeeze: a squeezed dim is not 1, or no axes and a dynamic dim
//   616 an axis is repeated
//   617 the output rank is unknown (a value input of dynamic length)
//   620 Concat: dtypes differ
//   621 Concat: ranks differ
//   622 Concat: a non-axis dim differs
//   625 Split: sizes do not add up, or one is negative
//   626 Split: split, num_outputs and the number of outputs disagree
//   630 Slice: starts/ends/axes/steps lengths differ
//   631 Slice: a step is 0
//   635 Gather/GatherElements: an index is out of range
//   637 GatherElements: indices rank or shape invalid
//   645 Tile: repeats length or value invalid
//   650 Pad: pads length invalid
//   651 Pad: unknown mode
//   652 Pad: crops below zero, or a non-constant mode pads an empty axis
//   653 Pad: constant_value dtype or size invalid
//   665 ConstantOfShape: value attribute invalid
//   666 ConstantOfShape: a negative dim
//   670 Range: dtype or rank invalid
//   671 Range: delta is 0 or the count is invalid
//   675 Constant: value attribute missing, repeated or unsupported
//   680 Trilu: rank below 2
//   699 internal: an output shape is not static at evaluation
#include <algorithm>
#include <cmath>
#include <cstring>
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

size_t sz(int64_t v) {
  return static_cast<size_t>(v);
}
int64_t len(const auto& c) {
  return static_cast<int64_t>(c.size());
}
bool is_dyn(int64_t d) {
  return d < 0;
}

std::string ints_to_string(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// ---- element mover --------------------------------------------------------------------------

/// Copies elements between buffers of one dtype, bit for bit. Byte-sized types copy whole
/// elements (memcpy of 1/2/4/8 bytes); packed 4-bit types move one nibble at a time, so odd
/// element indices and odd counts work.
class Mover {
 public:
  explicit Mover(DataType t) : bits_(bit_width(t)), bytes_(bit_width(t) / 8) {}

  /// dst[j] = src[i]
  void copy(std::byte* dst, int64_t j, const std::byte* src, int64_t i) const {
    if (bits_ == 4) {
      numeric::set_nibble(reinterpret_cast<uint8_t*>(dst), j,
                          numeric::get_nibble(reinterpret_cast<const uint8_t*>(src), i));
      return;
    }
    switch (bytes_) {
      case 1:
        dst[j] = src[i];
        return;
      case 2:
        std::memcpy(dst + j * 2, src + i * 2, 2);
        return;
      case 4:
        std::memcpy(dst + j * 4, src + i * 4, 4);
        return;
      default:
        std::memcpy(dst + j * 8, src + i * 8, 8);
        return;
    }
  }
  /// dst[j .. j+n) = src[i .. i+n)
  void copy_run(std::byte* dst, int64_t j, const std::byte* src, int64_t i, int64_t n) const {
    if (n <= 0) return;
    if (bits_ == 4) {
      for (int64_t k = 0; k < n; ++k) copy(dst, j + k, src, i + k);
      return;
    }
    std::memcpy(dst + j * bytes_, src + i * bytes_, sz(n * bytes_));
  }

 private:
  int bits_;
  int64_t bytes_;
};

/// out[flat] = in[base + sum(idx[d] * src_strides[d])] over every index of `out_shape`, in
/// row-major order. Strides may be 0 (broadcast) or negative (reversed slices). The innermost
/// dim is a plain loop (a run copy when its stride is 1).
void strided_copy(const Mover& m, std::byte* dst, std::span<const int64_t> out_shape,
                  const std::byte* src, int64_t base, std::span<const int64_t> src_strides) {
  const int64_t total = product(out_shape);
  if (total == 0) return;
  const size_t rank = out_shape.size();
  if (rank == 0) {
    m.copy(dst, 0, src, base);
    return;
  }
  const int64_t inner = out_shape[rank - 1];
  const int64_t inner_stride = src_strides[rank - 1];
  std::vector<int64_t> idx(rank - 1, 0);
  int64_t offset = base;
  for (int64_t out = 0; out < total; out += inner) {
    if (inner_stride == 1) {
      m.copy_run(dst, out, src, offset, inner);
    } else {
      for (int64_t k = 0; k < inner; ++k) m.copy(dst, out + k, src, offset + k * inner_stride);
    }
    // Odometer over the outer dims, keeping `offset` in step.
    for (size_t d = rank - 1; d-- > 0;) {
      offset += src_strides[d];
      if (++idx[d] < out_shape[d]) break;
      offset -= src_strides[d] * out_shape[d];
      idx[d] = 0;
    }
  }
}

/// A fresh output tensor with the inferred (static) shape of output `i`.
HostTensor make_output(const EvalContext& ctx, size_t i) {
  const TensorInfo& info = ctx.outputs[i];
  if (!info.is_static())
    fail(ctx.node, "rtx.ir.699",
         "output " + std::to_string(i) + " is " + describe(info) + " at evaluation (not static)");
  return HostTensor(info.dtype, info.shape);
}

/// A deep copy of `in` viewed with `shape` (same element count): Reshape, Flatten, Squeeze and
/// Unsqueeze. A copy, not a view, so that writing to an output never changes an input.
HostTensor copy_with_shape(const HostTensor& in, Shape shape) {
  return in.clone().reshaped(std::move(shape));
}

// ---- checked arithmetic on dims ---------------------------------------------------------------

int64_t mul_dims(int64_t a, int64_t b, const Node& node) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    fail(node, "rtx.ir.609",
         "element count overflows int64 (" + std::to_string(a) + " * " + std::to_string(b) + ")");
  return r;
}

/// Product of dims [from, to), or kDynamic if any of them is dynamic.
int64_t dims_product(const Shape& s, size_t from, size_t to, const Node& node) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) {
    if (is_dyn(s[i])) return kDynamic;
    p = mul_dims(p, s[i], node);
  }
  return p;
}

// ---- value inputs (shape, axes, pads, ...) ---------------------------------------------------

/// A 1-D integer input whose values may be known (constant) or not; its length is known when its
/// shape is static.
struct IntList {
  int64_t length = kDynamic;
  std::optional<std::vector<int64_t>> values;
};

bool is_index_type(DataType t) {
  return t == DataType::kINT64 || t == DataType::kINT32;
}

IntList list_input(const InferContext& ctx, size_t i, const char* what, bool allow_int32) {
  const TensorInfo& info = ctx.input(i);
  const bool ok = allow_int32 ? is_index_type(info.dtype) : info.dtype == DataType::kINT64;
  require(ok, ctx.node, "rtx.ir.600",
          std::string("input '") + what + "' must be " +
              (allow_int32 ? "int32 or int64" : "int64") + ", got " + describe(info));
  require(info.rank() == 1, ctx.node, "rtx.ir.601",
          std::string("input '") + what + "' must be 1-D, got " + describe(info));
  IntList l;
  l.length = info.shape[0];
  if (const HostTensor* c = ctx.constant(i)) {
    l.values = constant_ints(*c);
    l.length = len(*l.values);
  }
  return l;
}

/// Checks that a value input holds exactly one element (a 0-d scalar, or shape [1]).
void require_scalar(const InferContext& ctx, size_t i, const char* what, const char* id) {
  const TensorInfo& info = ctx.input(i);
  const bool one =
      info.rank() == 0 || (info.rank() == 1 && (info.shape[0] == 1 || is_dyn(info.shape[0])));
  require(one, ctx.node, id,
          std::string("input '") + what + "' must be a scalar, got " + describe(info));
}

int64_t known_length(const IntList& l, const Node& node, const char* what) {
  require(l.length != kDynamic, node, "rtx.ir.617",
          std::string("the output rank is unknown: input '") + what + "' has a dynamic length");
  return l.length;
}

/// Normalises axes against `rank` and rejects duplicates.
std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank,
                                    const Node& node) {
  std::vector<int64_t> out;
  std::vector<bool> seen(sz(rank), false);
  for (int64_t a : axes) {
    const int64_t n = normalize_axis(a, rank, node);
    require(!seen[sz(n)], node, "rtx.ir.616",
            "axis " + std::to_string(a) + " is repeated in " + ints_to_string(axes));
    seen[sz(n)] = true;
    out.push_back(n);
  }
  return out;
}

// ---- Reshape ----------------------------------------------------------------------------------

Shape reshape_dims(const Node& node, const Shape& in, const std::vector<int64_t>& spec,
                   bool allowzero) {
  Shape out(spec.size());
  std::vector<bool> copied(spec.size(), false);
  int64_t infer_at = -1;
  bool has_zero = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    const int64_t v = spec[i];
    if (v == -1) {
      require(infer_at < 0, node, "rtx.ir.602",
              "shape " + ints_to_string(spec) + " has more than one -1");
      infer_at = static_cast<int64_t>(i);
      out[i] = kDynamic;
    } else if (v == 0) {
      has_zero = true;
      if (allowzero) {
        out[i] = 0;
      } else {
        require(i < in.size(), node, "rtx.ir.605",
                "shape " + ints_to_string(spec) + ": entry " + std::to_string(i) +
                    " is 0 (copy the input dim) but the input " + shape_to_string(in) +
                    " has no dim " + std::to_string(i));
        out[i] = in[i];
        copied[i] = true;
      }
    } else {
      require(v > 0, node, "rtx.ir.603",
              "shape " + ints_to_string(spec) + " has an invalid entry " + std::to_string(v));
      out[i] = v;
    }
  }
  require(!(allowzero && has_zero && infer_at >= 0), node, "rtx.ir.605",
          "shape " + ints_to_string(spec) + " has both 0 and -1 while allowzero=1");
  if (infer_at >= 0) {
    // The -1 dim is count(in) / count(other out dims). A dynamic input dim copied by a 0 at the
    // same position appears on both sides and cancels, so [?,3,4] with [0,-1] gives [?,12].
    int64_t in_count = 1;
    bool known = true;
    for (size_t j = 0; j < in.size(); ++j) {
      if (!is_dyn(in[j]))
        in_count = mul_dims(in_count, in[j], node);
      else if (!(j < copied.size() && copied[j]))
        known = false;
    }
    if (known) {
      int64_t rest = 1;
      for (size_t i = 0; i < out.size(); ++i) {
        if (static_cast<int64_t>(i) == infer_at || is_dyn(out[i]))
          continue;  // dynamic: cancelled copy
        rest = mul_dims(rest, out[i], node);
      }
      require(rest != 0, node, "rtx.ir.606",
              "cannot infer the -1 in shape " + ints_to_string(spec) + " for input " +
                  shape_to_string(in) + ": the other dims multiply to 0");
      require(in_count % rest == 0, node, "rtx.ir.604",
              "cannot reshape " + shape_to_string(in) + " (" + std::to_string(in_count) +
                  " elements) to " + ints_to_string(spec));
      out[sz(infer_at)] = in_count / rest;
    }
  } else {
    const int64_t a = dims_product(in, 0, in.size(), node);
    const int64_t b = dims_product(out, 0, out.size(), node);
    require(a == kDynamic || b == kDynamic || a == b, node, "rtx.ir.604",
            "cannot reshape " + shape_to_string(in) + " (" + std::to_string(a) + " elements) to " +
                ints_to_string(spec) + " (" + std::to_string(b) + " elements)");
  }
  return out;
}

std::vector<TensorInfo> infer_reshape(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const IntList shape = list_input(ctx, 1, "shape", false);
  const bool allowzero = ctx.node.attr_int("allowzero", 0) != 0;
  if (!shape.values) {
    const int64_t r = known_length(shape, ctx.node, "shape");
    return {TensorInfo{data.dtype, Shape(sz(r), kDynamic)}};
  }
  return {TensorInfo{data.dtype, reshape_dims(ctx.node, data.shape, *shape.values, allowzero)}};
}

std::vector<HostTensor> eval_reshape_like(const EvalContext& ctx) {
  return {copy_with_shape(ctx.input(0), make_output(ctx, 0).shape())};
}

// ---- Transpose --------------------------------------------------------------------------------

std::vector<int64_t> transpose_perm(const Node& node, int64_t rank) {
  std::vector<int64_t> perm;
  if (auto p = node.find_ints("perm")) {
    perm = *p;
  } else {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  require(len(perm) == rank, node, "rtx.ir.610",
          "perm " + ints_to_string(perm) + " has " + std::to_string(perm.size()) +
              " entries for rank " + std::to_string(rank));
  std::vector<bool> seen(sz(rank), false);
  for (int64_t p : perm) {
    require(
        p >= 0 && p < rank && !seen[sz(p)], node, "rtx.ir.610",
        "perm " + ints_to_string(perm) + " is not a permutation of 0.." + std::to_string(rank - 1));
    seen[sz(p)] = true;
  }
  return perm;
}

std::vector<TensorInfo> infer_transpose(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const auto perm = transpose_perm(ctx.node, data.rank());
  Shape out;
  for (int64_t p : perm) out.push_back(data.shape[sz(p)]);
  return {TensorInfo{data.dtype, out}};
}

std::vector<HostTensor> eval_transpose(const EvalContext& ctx) {
  const HostTensor& in = ctx.input(0);
  const auto perm = transpose_perm(ctx.node, in.rank());
  const auto in_strides = strides_of(in.shape());
  std::vector<int64_t> strides;
  for (int64_t p : perm) strides.push_back(in_strides[sz(p)]);
  HostTensor out = make_output(ctx, 0);
  strided_copy(Mover(in.dtype()), out.mutable_data(), out.shape(), in.data(), 0, strides);
  return {out};
}

// ---- Flatten ----------------------------------------------------------------------------------

std::vector<TensorInfo> infer_flatten(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const int64_t r = data.rank();
  int64_t axis = ctx.node.attr_int("axis", 1);
  // Flatten accepts axis in [-r, r] (axis == r gives [count, 1]).
  if (axis < -r || axis > r)
    fail(ctx.node, "rtx.ir.130",
         "axis " + std::to_string(axis) + " is out of range [" + std::to_string(-r) + ", " +
             std::to_string(r) + "] for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  return {TensorInfo{data.dtype,
                     {dims_product(data.shape, 0, sz(axis), ctx.node),
                      dims_product(data.shape, sz(axis), sz(r), ctx.node)}}};
}

// ---- Squeeze / Unsqueeze ----------------------------------------------------------------------

std::vector<TensorInfo> infer_squeeze(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const int64_t r = data.rank();
  Shape out;
  if (!ctx.has_input(1)) {
    for (int64_t d : data.shape) {
      require(!is_dyn(d), ctx.node, "rtx.ir.615",
              "input " + describe(data) +
                  " has a dynamic dim and no axes are given: the output rank is unknown");
      if (d != 1) out.push_back(d);
    }
    return {TensorInfo{data.dtype, out}};
  }
  const IntList axes = list_input(ctx, 1, "axes", false);
  if (!axes.values) {
    const int64_t n = known_length(axes, ctx.node, "axes");
    require(n <= r, ctx.node, "rtx.ir.616",
            "axes has " + std::to_string(n) + " entries for rank " + std::to_string(r));
    return {TensorInfo{data.dtype, Shape(sz(r - n), kDynamic)}};
  }
  const auto norm = normalize_axes(*axes.values, r, ctx.node);
  std::vector<bool> drop(sz(r), false);
  for (int64_t a : norm) {
    const int64_t d = data.shape[sz(a)];
    require(d == 1 || is_dyn(d), ctx.node, "rtx.ir.615",
            "cannot squeeze axis " + std::to_string(a) + " of " + describe(data) +
                ": its size is not 1");
    drop[sz(a)] = true;
  }
  for (int64_t i = 0; i < r; ++i)
    if (!drop[sz(i)]) out.push_back(data.shape[sz(i)]);
  return {TensorInfo{data.dtype, out}};
}

std::vector<TensorInfo> infer_unsqueeze(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const IntList axes = list_input(ctx, 1, "axes", false);
  const int64_t n = known_length(axes, ctx.node, "axes");
  const int64_t out_rank = data.rank() + n;
  if (!axes.values) return {TensorInfo{data.dtype, Shape(sz(out_rank), kDynamic)}};
  const auto norm = normalize_axes(*axes.values, out_rank, ctx.node);
  std::vector<bool> inserted(sz(out_rank), false);
  for (int64_t a : norm) inserted[sz(a)] = true;
  Shape out;
  size_t k = 0;
  for (int64_t i = 0; i < out_rank; ++i) out.push_back(inserted[sz(i)] ? 1 : data.shape[k++]);
  return {TensorInfo{data.dtype, out}};
}

// ---- Concat -----------------------------------------------------------------------------------

std::vector<TensorInfo> infer_concat(const InferContext& ctx) {
  const TensorInfo& first = ctx.input(0);
  const int64_t r = first.rank();
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis"), r, ctx.node);
  Shape out = first.shape;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const TensorInfo& in = ctx.input(i);
    require(in.dtype == first.dtype, ctx.node, "rtx.ir.620",
            "input " + std::to_string(i) + " is " + describe(in) + " but input 0 is " +
                describe(first));
    require(in.rank() == r, ctx.node, "rtx.ir.621",
            "input " + std::to_string(i) + " is " + describe(in) + " but input 0 is " +
                describe(first) + " (ranks differ)");
    for (int64_t d = 0; d < r; ++d) {
      const int64_t a = out[sz(d)], b = in.shape[sz(d)];
      if (d == axis) {
        out[sz(d)] = (is_dyn(a) || is_dyn(b)) ? kDynamic : a + b;
      } else if (is_dyn(a)) {
        out[sz(d)] = b;
      } else {
        require(is_dyn(b) || a == b, ctx.node, "rtx.ir.622",
                "input " + std::to_string(i) + " is " + describe(in) + ", which differs from " +
                    shape_to_string(out) + " in dim " + std::to_string(d) + " (concat axis is " +
                    std::to_string(axis) + ")");
      }
    }
  }
  return {TensorInfo{first.dtype, out}};
}

std::vector<HostTensor> eval_concat(const EvalContext& ctx) {
  HostTensor out = make_output(ctx, 0);
  const auto& shape = out.shape();
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis"), out.rank(), ctx.node);
  const int64_t outer = product(std::span(shape).first(sz(axis)));
  const int64_t inner = product(std::span(shape).subspan(sz(axis) + 1));
  const int64_t out_run = shape[sz(axis)] * inner;
  const Mover m(out.dtype());
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const HostTensor& in = ctx.input(i);
    const int64_t run = in.shape()[sz(axis)] * inner;
    for (int64_t o = 0; o < outer; ++o)
      m.copy_run(out.mutable_data(), o * out_run + offset, in.data(), o * run, run);
    offset += run;
  }
  return {out};
}

// ---- Split ------------------------------------------------------------------------------------

std::vector<TensorInfo> infer_split(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), data.rank(), ctx.node);
  const int64_t n_out = len(ctx.node.outputs);
  const int64_t dim = data.shape[sz(axis)];
  std::vector<int64_t> sizes(sz(n_out), kDynamic);
  if (ctx.has_input(1)) {
    require(!ctx.node.has_attr("num_outputs"), ctx.node, "rtx.ir.626",
            "input 'split' and attribute 'num_outputs' cannot both be given");
    const IntList split = list_input(ctx, 1, "split", false);
    require(split.length == kDynamic || split.length == n_out, ctx.node, "rtx.ir.626",
            "input 'split' has " + std::to_string(split.length) + " entries for " +
                std::to_string(n_out) + " outputs");
    if (split.values) {
      int64_t sum = 0;
      for (int64_t s : *split.values) {
        require(s >= 0, ctx.node, "rtx.ir.625",
                "split " + ints_to_string(*split.values) + " has a negative entry");
        sum += s;
      }
      require(is_dyn(dim) || sum == dim, ctx.node, "rtx.ir.625",
              "split " + ints_to_string(*split.values) + " adds up to " + std::to_string(sum) +
                  " but dim " + std::to_string(axis) + " of " + describe(data) + " is " +
                  std::to_string(dim));
      sizes = *split.values;
    }
  } else {
    const int64_t num = ctx.node.attr_int("num_outputs", n_out);
    require(num == n_out && num >= 1, ctx.node, "rtx.ir.626",
            "num_outputs is " + std::to_string(num) + " but the node has " + std::to_string(n_out) +
                " outputs");
    if (!is_dyn(dim)) {
      // ONNX: chunks of ceil(dim / num); the last one takes what is left (smaller).
      const int64_t chunk = (dim + num - 1) / num;
      const int64_t last = dim - chunk * (num - 1);
      require(last >= 0, ctx.node, "rtx.ir.625",
              "cannot split dim " + std::to_string(axis) + " of size " + std::to_string(dim) +
                  " into " + std::to_string(num) + " chunks of " + std::to_string(chunk) +
                  " (the last would be negative)");
      std::fill(sizes.begin(), sizes.end(), chunk);
      sizes.back() = last;
    }
  }
  std::vector<TensorInfo> outs;
  for (int64_t s : sizes) {
    TensorInfo t{data.dtype, data.shape};
    t.shape[sz(axis)] = s;
    outs.push_back(t);
  }
  return outs;
}

std::vector<HostTensor> eval_split(const EvalContext& ctx) {
  const HostTensor& in = ctx.input(0);
  const auto& shape = in.shape();
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), in.rank(), ctx.node);
  const int64_t outer = product(std::span(shape).first(sz(axis)));
  const int64_t inner = product(std::span(shape).subspan(sz(axis) + 1));
  const int64_t in_run = shape[sz(axis)] * inner;
  const Mover m(in.dtype());
  std::vector<HostTensor> outs;
  int64_t offset = 0;
  for (size_t k = 0; k < ctx.outputs.size(); ++k) {
    HostTensor out = make_output(ctx, k);
    const int64_t run = out.shape()[sz(axis)] * inner;
    for (int64_t o = 0; o < outer; ++o)
      m.copy_run(out.mutable_data(), o * run, in.data(), o * in_run + offset, run);
    offset += run;
    outs.push_back(out);
  }
  return outs;
}

// ---- Slice ------------------------------------------------------------------------------------

/// One sliced axis after ONNX's clamping: first index, step and element count.
struct AxisSlice {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};

/// ONNX Slice clamping: negative starts/ends count from the end; starts clamp to [0, dim]
/// (positive step) or [0, dim-1] (negative step); ends clamp to [0, dim] or [-1, dim-1]. Huge
/// values (INT64_MAX, INT64_MIN) mean "to the end" in the step's direction.
AxisSlice slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step) {
  AxisSlice s;
  s.step = step;
  if (start < 0) start += dim;  // cannot overflow: dim >= 0
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    s.start = start;
    s.count = end > start ? (end - start - 1) / step + 1 : 0;
  } else {
    if (dim == 0) return s;  // nothing to take; start 0 is never read
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    s.start = start;
    // -step overflows for INT64_MIN; such a step takes one element at most.
    const int64_t mag =
        step == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : -step;
    s.count = start > end ? (start - end - 1) / mag + 1 : 0;
  }
  return s;
}

/// Per-dim slices of a static shape from constant starts/ends/axes/steps.
std::vector<AxisSlice> slice_plan(const Node& node, const Shape& shape,
                                  const std::vector<int64_t>& starts,
                                  const std::vector<int64_t>& ends,
                                  const std::vector<int64_t>& axes,
                                  const std::vector<int64_t>& steps) {
  std::vector<AxisSlice> plan(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) plan[d] = AxisSlice{0, 1, shape[d]};
  for (size_t i = 0; i < axes.size(); ++i) {
    require(steps[i] != 0, node, "rtx.ir.631", "steps " + ints_to_string(steps) + " has a 0 entry");
    const size_t a = sz(axes[i]);
    if (is_dyn(shape[a])) {
      plan[a].count = kDynamic;
      continue;
    }
    plan[a] = slice_axis(shape[a], starts[i], ends[i], steps[i]);
  }
  return plan;
}

struct SliceArgs {
  IntList starts, ends;
  std::optional<std::vector<int64_t>> axes;   ///< normalised; nullopt when unknown
  std::optional<std::vector<int64_t>> steps;  ///< nullopt when unknown
};

SliceArgs slice_args(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  SliceArgs a;
  a.starts = list_input(ctx, 1, "starts", true);
  a.ends = list_input(ctx, 2, "ends", true);
  int64_t n = a.starts.length != kDynamic ? a.starts.length : a.ends.length;
  const auto same = [&](const IntList& l, const char* what) {
    if (l.length == kDynamic) return;
    if (n == kDynamic) n = l.length;
    require(l.length == n, ctx.node, "rtx.ir.630",
            std::string("input '") + what + "' has " + std::to_string(l.length) +
                " entries, starts/ends have " + std::to_string(n));
  };
  same(a.ends, "ends");
  if (ctx.has_input(3)) {
    const IntList axes = list_input(ctx, 3, "axes", true);
    same(axes, "axes");
    if (axes.values) a.axes = normalize_axes(*axes.values, data.rank(), ctx.node);
  } else if (n != kDynamic) {
    require(n <= data.rank(), ctx.node, "rtx.ir.630",
            "starts has " + std::to_string(n) + " entries for input " + describe(data));
    a.axes = std::vector<int64_t>();
    for (int64_t i = 0; i < n; ++i) a.axes->push_back(i);
  }
  if (ctx.has_input(4)) {
    const IntList steps = list_input(ctx, 4, "steps", true);
    same(steps, "steps");
    if (steps.values) a.steps = steps.values;
  } else if (n != kDynamic) {
    a.steps = std::vector<int64_t>(sz(n), 1);
  }
  return a;
}

std::vector<TensorInfo> infer_slice(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const SliceArgs a = slice_args(ctx);
  if (!a.axes) return {TensorInfo{data.dtype, Shape(data.shape.size(), kDynamic)}};
  if (a.steps)
    for (int64_t s : *a.steps)
      require(s != 0, ctx.node, "rtx.ir.631",
              "steps " + ints_to_string(*a.steps) + " has a 0 entry");
  Shape out = data.shape;
  if (!a.starts.values || !a.ends.values || !a.steps) {
    for (int64_t ax : *a.axes) out[sz(ax)] = kDynamic;
    return {TensorInfo{data.dtype, out}};
  }
  const auto plan =
      slice_plan(ctx.node, data.shape, *a.starts.values, *a.ends.values, *a.axes, *a.steps);
  for (size_t d = 0; d < plan.size(); ++d) out[d] = plan[d].count;
  return {TensorInfo{data.dtype, out}};
}

std::vector<HostTensor> eval_slice(const EvalContext& ctx) {
  const HostTensor& in = ctx.input(0);
  const auto starts = ctx.input(1).to_ints();
  const auto ends = ctx.input(2).to_ints();
  std::vector<int64_t> axes;
  if (ctx.has_input(3)) {
    axes = normalize_axes(ctx.input(3).to_ints(), in.rank(), ctx.node);
  } else {
    for (int64_t i = 0; i < len(starts); ++i) axes.push_back(i);
  }
  const auto steps =
      ctx.has_input(4) ? ctx.input(4).to_ints() : std::vector<int64_t>(starts.size(), 1);
  const auto plan = slice_plan(ctx.node, in.shape(), starts, ends, axes, steps);
  const auto in_strides = strides_of(in.shape());
  HostTensor out = make_output(ctx, 0);
  std::vector<int64_t> strides(plan.size());
  int64_t base = 0;
  for (size_t d = 0; d < plan.size(); ++d) {
    strides[d] = in_strides[d] * plan[d].step;
    if (plan[d].count > 0) base += plan[d].start * in_strides[d];
  }
  strided_copy(Mover(in.dtype()), out.mutable_data(), out.shape(), in.data(), base, strides);
  return {out};
}

// ---- Gather / GatherElements ------------------------------------------------------------------

void require_indices(const InferContext& ctx, size_t i) {
  const TensorInfo& t = ctx.input(i);
  require(is_index_type(t.dtype), ctx.node, "rtx.ir.600",
          "indices must be int32 or int64, got " + describe(t));
}

std::vector<TensorInfo> infer_gather(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& indices = ctx.input(1);
  require_indices(ctx, 1);
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), data.rank(), ctx.node);
  Shape out(data.shape.begin(), data.shape.begin() + axis);
  out.insert(out.end(), indices.shape.begin(), indices.shape.end());
  out.insert(out.end(), data.shape.begin() + axis + 1, data.shape.end());
  return {TensorInfo{data.dtype, out}};
}

/// An index in [-dim, dim) mapped to [0, dim); otherwise a clear error naming where it was.
int64_t checked_index(int64_t v, int64_t dim, int64_t where, const Node& node) {
  if (v < -dim || v >= dim)
    fail(node, "rtx.ir.635",
         "index " + std::to_string(v) + " (element " + std::to_string(where) +
             " of indices) is out of range [" + std::to_string(-dim) + ", " +
             std::to_string(dim - 1) + "]");
  return v < 0 ? v + dim : v;
}

std::vector<HostTensor> eval_gather(const EvalContext& ctx) {
  const HostTensor& data = ctx.input(0);
  const auto idx = ctx.input(1).to_ints();
  const auto& shape = data.shape();
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), data.rank(), ctx.node);
  const int64_t outer = product(std::span(shape).first(sz(axis)));
  const int64_t dim = shape[sz(axis)];
  const int64_t inner = product(std::span(shape).subspan(sz(axis) + 1));
  const int64_t n = len(idx);
  std::vector<int64_t> rows(idx.size());
  for (int64_t k = 0; k < n; ++k) rows[sz(k)] = checked_index(idx[sz(k)], dim, k, ctx.node);
  HostTensor out = make_output(ctx, 0);
  const Mover m(data.dtype());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < n; ++k)
      m.copy_run(out.mutable_data(), (o * n + k) * inner, data.data(),
                 (o * dim + rows[sz(k)]) * inner, inner);
  return {out};
}

std::vector<TensorInfo> infer_gather_elements(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& indices = ctx.input(1);
  require_indices(ctx, 1);
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), data.rank(), ctx.node);
  require(indices.rank() == data.rank(), ctx.node, "rtx.ir.637",
          "indices " + describe(indices) + " must have the rank of data " + describe(data));
  for (int64_t d = 0; d < data.rank(); ++d) {
    const int64_t a = data.shape[sz(d)], b = indices.shape[sz(d)];
    require(d == axis || is_dyn(a) || is_dyn(b) || b <= a, ctx.node, "rtx.ir.637",
            "indices " + describe(indices) + " is larger than data " + describe(data) + " in dim " +
                std::to_string(d));
  }
  return {TensorInfo{data.dtype, indices.shape}};
}

std::vector<HostTensor> eval_gather_elements(const EvalContext& ctx) {
  const HostTensor& data = ctx.input(0);
  const HostTensor& indices = ctx.input(1);
  const auto idx = indices.to_ints();
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), data.rank(), ctx.node);
  const auto strides = strides_of(data.shape());
  const int64_t dim = data.shape()[sz(axis)];
  HostTensor out = make_output(ctx, 0);
  const Mover m(data.dtype());
  for_each_index(indices.shape(), [&](int64_t flat, std::span<const int64_t> at) {
    int64_t src = 0;
    for (size_t d = 0; d < at.size(); ++d)
      src += (static_cast<int64_t>(d) == axis ? checked_index(idx[sz(flat)], dim, flat, ctx.node)
                                              : at[d]) *
             strides[d];
    m.copy(out.mutable_data(), flat, data.data(), src);
  });
  return {out};
}

// ---- Expand / Tile ----------------------------------------------------------------------------

std::vector<TensorInfo> infer_expand(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const IntList shape = list_input(ctx, 1, "shape", false);
  if (shape.values) {
    for (int64_t v : *shape.values)
      require(v >= 0, ctx.node, "rtx.ir.601",
              "shape " + ints_to_string(*shape.values) + " has a negative entry");
    return {TensorInfo{data.dtype, broadcast_shapes(data.shape, *shape.values, ctx.node)}};
  }
  // Unknown target: a static input dim other than 1 survives broadcasting (the target entry must
  // be 1 or equal to it); every other dim is dynamic.
  const int64_t l = known_length(shape, ctx.node, "shape");
  const int64_t r = std::max(l, data.rank());
  Shape out(sz(r), kDynamic);
  for (int64_t i = 0; i < data.rank(); ++i) {
    const int64_t d = data.shape[sz(data.rank() - 1 - i)];
    if (!is_dyn(d) && d != 1) out[sz(r - 1 - i)] = d;
  }
  return {TensorInfo{data.dtype, out}};
}

std::vector<HostTensor> eval_expand(const EvalContext& ctx) {
  const HostTensor& in = ctx.input(0);
  HostTensor out = make_output(ctx, 0);
  const auto strides = broadcast_strides(in.shape(), out.shape());
  strided_copy(Mover(in.dtype()), out.mutable_data(), out.shape(), in.data(), 0, strides);
  return {out};
}

std::vector<TensorInfo> infer_tile(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const IntList reps = list_input(ctx, 1, "repeats", false);
  require(reps.length == kDynamic || reps.length == data.rank(), ctx.node, "rtx.ir.645",
          "repeats has " + std::to_string(reps.length) + " entries for input " + describe(data));
  Shape out(data.shape.size(), kDynamic);
  for (size_t d = 0; d < out.size(); ++d) {
    const int64_t dim = data.shape[d];
    if (!reps.values) {
      if (dim == 0) out[d] = 0;
      continue;
    }
    const int64_t r = (*reps.values)[d];
    require(r >= 0, ctx.node, "rtx.ir.645",
            "repeats " + ints_to_string(*reps.values) + " has a negative entry");
    out[d] = r == 0 ? 0 : is_dyn(dim) ? kDynamic : mul_dims(dim, r, ctx.node);
  }
  return {TensorInfo{data.dtype, out}};
}

std::vector<HostTensor> eval_tile(const EvalContext& ctx) {
  const HostTensor& in = ctx.input(0);
  const auto reps = ctx.input(1).to_ints();
  // The output, viewed as [r0, d0, r1, d1, ...], is row-major: read it with stride 0 over the
  // repeat dims and the input's strides over the data dims.
  const auto in_strides = strides_of(in.shape());
  Shape view;
  std::vector<int64_t> strides;
  for (size_t d = 0; d < in.shape().size(); ++d) {
    view.push_back(reps[d]);
    view.push_back(in.shape()[d]);
    strides.push_back(0);
    strides.push_back(in_strides[d]);
  }
  HostTensor out = make_output(ctx, 0);
  strided_copy(Mover(in.dtype()), out.mutable_data(), view, in.data(), 0, strides);
  return {out};
}

// ---- Pad --------------------------------------------------------------------------------------

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

PadMode pad_mode(const Node& node) {
  const std::string m = node.attr_string("mode", "constant");
  if (m == "constant") return PadMode::kConstant;
  if (m == "reflect") return PadMode::kReflect;
  if (m == "edge") return PadMode::kEdge;
  if (m == "wrap") return PadMode::kWrap;
  fail(node, "rtx.ir.651", "mode '" + m + "' is not one of constant, reflect, edge, wrap");
}

/// Per-dim (begin, end) pads from the pads/axes inputs; nullopt entries are unknown.
struct PadArgs {
  std::vector<std::optional<std::pair<int64_t, int64_t>>> per_dim;
  bool all_unknown = false;  ///< axes input present but not constant
};

PadArgs pad_args(const Node& node, int64_t rank, const IntList& pads,
                 const std::optional<IntList>& axes_in) {
  PadArgs a;
  a.per_dim.assign(sz(rank), std::pair<int64_t, int64_t>{0, 0});
  std::vector<int64_t> axes;
  if (axes_in) {
    if (!axes_in->values) {
      a.all_unknown = true;
      return a;
    }
    axes = normalize_axes(*axes_in->values, rank, node);
  } else {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  const int64_t n = len(axes);
  require(pads.length == kDynamic || pads.length == 2 * n, node, "rtx.ir.650",
          "pads has " + std::to_string(pads.length) + " entries; want " + std::to_string(2 * n) +
              " (begin and end for each of " + std::to_string(n) + " axes)");
  for (int64_t i = 0; i < n; ++i) {
    auto& slot = a.per_dim[sz(axes[sz(i)])];
    if (pads.values)
      slot = std::pair{(*pads.values)[sz(i)], (*pads.values)[sz(i + n)]};
    else
      slot = std::nullopt;
  }
  return a;
}

/// Checks the padded size of one dim and returns it. Negative pads crop first (onnxruntime's
/// rule); the remaining positive pads then apply to the cropped extent.
int64_t padded_dim(const Node& node, PadMode mode, int64_t dim, int64_t begin, int64_t end,
                   int64_t axis) {
  const int64_t kept = dim + std::min<int64_t>(begin, 0) + std::min<int64_t>(end, 0);
  require(kept >= 0, node, "rtx.ir.652",
          "pads (" + std::to_string(begin) + ", " + std::to_string(end) + ") crop more than the " +
              std::to_string(dim) + " elements of axis " + std::to_string(axis));
  require(
      mode == PadMode::kConstant || kept > 0 || (begin <= 0 && end <= 0), node, "rtx.ir.652",
      "cannot pad axis " + std::to_string(axis) + " in this mode: it has no elements to repeat");
  return kept + std::max<int64_t>(begin, 0) + std::max<int64_t>(end, 0);
}

std::vector<TensorInfo> infer_pad(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  const PadMode mode = pad_mode(ctx.node);
  const IntList pads = list_input(ctx, 1, "pads", false);
  if (ctx.has_input(2)) {
    const TensorInfo& cv = ctx.input(2);
    require(cv.dtype == data.dtype, ctx.node, "rtx.ir.653",
            "constant_value is " + describe(cv) + " but data is " + describe(data));
    require(cv.element_count() == 1 || cv.element_count() == kDynamic, ctx.node, "rtx.ir.653",
            "constant_value must hold one element, got " + describe(cv));
  }
  std::optional<IntList> axes;
  if (ctx.has_input(3)) axes = list_input(ctx, 3, "axes", true);
  const PadArgs a = pad_args(ctx.node, data.rank(), pads, axes);
  Shape out(data.shape.size(), kDynamic);
  if (a.all_unknown) return {TensorInfo{data.dtype, out}};
  for (size_t d = 0; d < out.size(); ++d) {
    if (!a.per_dim[d] || is_dyn(data.shape[d])) {
      // Unknown pads, or a dynamic dim: only an axis padded by (0, 0) keeps its (dynamic) size.
      if (a.per_dim[d] && *a.per_dim[d] == std::pair<int64_t, int64_t>{0, 0})
        out[d] = data.shape[d];
      continue;
    }
    out[d] = padded_dim(ctx.node, mode, data.shape[d], a.per_dim[d]->first, a.per_dim[d]->second,
                        static_cast<int64_t>(d));
  }
  return {TensorInfo{data.dtype, out}};
}

/// Maps output coordinate `o` of a padded axis to an input coordinate, or -1 for the constant.
/// `n` is the axis length after cropping (negative pads), `begin` the axis' begin pad.
int64_t pad_source(PadMode mode, int64_t o, int64_t n, int64_t begin) {
  const int64_t crop = std::max<int64_t>(-begin, 0);  // elements cropped at the start
  const int64_t x = o - std::max<int64_t>(begin, 0);  // coordinate in the cropped extent
  if (x >= 0 && x < n) return crop + x;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return crop + (x < 0 ? 0 : n - 1);
    case PadMode::kWrap:
      return crop + ((x % n) + n) % n;
    case PadMode::kReflect: {
      if (n == 1) return crop;
      const int64_t period = 2 * (n - 1);  // numpy 'reflect': mirror without repeating the edge
      int64_t m = ((x % period) + period) % period;
      if (m >= n) m = period - m;
      return crop + m;
    }
  }
  return -1;
}

std::vector<HostTensor> eval_pad(const EvalContext& ctx) {
  const HostTensor& in = ctx.input(0);
  const PadMode mode = pad_mode(ctx.node);
  const auto pads = ctx.input(1).to_ints();
  const int64_t rank = in.rank();
  std::vector<int64_t> axes;
  if (ctx.has_input(3)) {
    axes = normalize_axes(ctx.input(3).to_ints(), rank, ctx.node);
  } else {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  std::vector<int64_t> begin(sz(rank), 0), end(sz(rank), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    begin[sz(axes[i])] = pads[i];
    end[sz(axes[i])] = pads[i + axes.size()];
  }
  HostTensor out = make_output(ctx, 0);
  const auto& oshape = out.shape();
  // Per dim: output coordinate -> input coordinate (or -1 = constant).
  std::vector<std::vector<int64_t>> map(sz(rank));
  for (size_t d = 0; d < sz(rank); ++d) {
    const int64_t kept =
        in.shape()[d] + std::min<int64_t>(begin[d], 0) + std::min<int64_t>(end[d], 0);
    for (int64_t o = 0; o < oshape[d]; ++o) map[d].push_back(pad_source(mode, o, kept, begin[d]));
  }
  const Mover m(in.dtype());
  const auto strides = strides_of(in.shape());
  const bool has_value = ctx.has_input(2);
  std::byte* dst = out.mutable_data();
  for_each_index(oshape, [&](int64_t flat, std::span<const int64_t> at) {
    int64_t src = 0;
    for (size_t d = 0; d < at.size(); ++d) {
      const int64_t s = map[d][sz(at[d])];
      if (s < 0) {
        if (has_value) m.copy(dst, flat, ctx.input(2).data(), 0);  // else stays zero
        return;
      }
      src += s * strides[d];
    }
    m.copy(dst, flat, in.data(), src);
  });
  return {out};
}

// ---- Shape / Size -----------------------------------------------------------------------------

/// [start, end) of ONNX Shape after clamping to [0, rank].
std::pair<int64_t, int64_t> shape_range(const Node& node, int64_t rank) {
  auto clamp = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  const int64_t start = clamp(node.attr_int("start", 0));
  const int64_t end = clamp(node.attr_int("end", rank));
  return {start, std::max(start, end)};
}

std::vector<TensorInfo> infer_shape(const InferContext& ctx) {
  const auto [s, e] = shape_range(ctx.node, ctx.input(0).rank());
  return {TensorInfo{DataType::kINT64, {e - s}}};
}

std::vector<HostTensor> eval_shape(const EvalContext& ctx) {
  const HostTensor& in = ctx.input(0);
  const auto [s, e] = shape_range(ctx.node, in.rank());
  HostTensor out = make_output(ctx, 0);
  for (int64_t i = s; i < e; ++i) out.set_int(i - s, in.shape()[sz(i)]);
  return {out};
}

std::vector<TensorInfo> infer_size(const InferContext& ctx) {
  ctx.input(0);
  return {TensorInfo{DataType::kINT64, {}}};
}

std::vector<HostTensor> eval_size(const EvalContext& ctx) {
  HostTensor out = make_output(ctx, 0);
  out.set_int(0, ctx.input(0).element_count());
  return {out};
}

// ---- ConstantOfShape --------------------------------------------------------------------------

/// The fill value: the 'value' attribute (one element), or f32 0.
HostTensor fill_value(const Node& node) {
  if (const HostTensor* v = node.attr_tensor("value")) {
    require(v->element_count() == 1, node, "rtx.ir.665",
            "attribute 'value' must hold one element, got " + v->describe());
    return *v;
  }
  return HostTensor::scalar(DataType::kF32, 0.0);
}

std::vector<TensorInfo> infer_constant_of_shape(const InferContext& ctx) {
  const HostTensor value = fill_value(ctx.node);
  const IntList shape = list_input(ctx, 0, "input", false);
  if (!shape.values)
    return {TensorInfo{value.dtype(), Shape(sz(known_length(shape, ctx.node, "input")), kDynamic)}};
  for (int64_t d : *shape.values)
    require(d >= 0, ctx.node, "rtx.ir.666",
            "shape " + ints_to_string(*shape.values) + " has a negative dim");
  dims_product(*shape.values, 0, shape.values->size(), ctx.node);  // rejects overflow
  return {TensorInfo{value.dtype(), *shape.values}};
}

std::vector<HostTensor> eval_constant_of_shape(const EvalContext& ctx) {
  const HostTensor value = fill_value(ctx.node);
  HostTensor out = make_output(ctx, 0);
  const Mover m(out.dtype());
  for (int64_t i = 0; i < out.element_count(); ++i) m.copy(out.mutable_data(), i, value.data(), 0);
  return {out};
}

// ---- Range ------------------------------------------------------------------------------------

bool range_type_ok(DataType t) {
  return t == DataType::kF64 || t == DataType::kF32 || t == DataType::kF16 ||
         t == DataType::kBF16 || t == DataType::kINT8 || t == DataType::kINT32 ||
         t == DataType::kINT64;
}

/// Element count of Range: max(ceil((limit - start) / delta), 0); exact for integers.
int64_t range_count(const Node& node, const HostTensor& start, const HostTensor& limit,
                    const HostTensor& delta) {
  if (is_integer(start.dtype())) {
    const int64_t s = start.get_int(0), l = limit.get_int(0), d = delta.get_int(0);
    require(d != 0, node, "rtx.ir.671", "delta is 0");
    // Unsigned differences cannot overflow; counts fit because |l - s| < 2^64 and |d| >= 1.
    if (d > 0) {
      if (l <= s) return 0;
      const uint64_t diff = static_cast<uint64_t>(l) - static_cast<uint64_t>(s);
      const uint64_t ud = static_cast<uint64_t>(d);
      return static_cast<int64_t>(diff / ud + (diff % ud != 0));
    }
    if (l >= s) return 0;
    const uint64_t diff = static_cast<uint64_t>(s) - static_cast<uint64_t>(l);
    const uint64_t ud = 0 - static_cast<uint64_t>(d);
    const uint64_t n = diff / ud + (diff % ud != 0);
    require(n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), node, "rtx.ir.671",
            "too many elements");
    return static_cast<int64_t>(n);
  }
  const double s = start.get_double(0), l = limit.get_double(0), d = delta.get_double(0);
  require(d != 0, node, "rtx.ir.671", "delta is 0");
  // The count is computed in the dtype's precision, as onnxruntime and numpy's arange do: in
  // f32, range(0, 0.3, 0.1) has 3 elements ((0.3f - 0f) / 0.1f rounds to 3.0f), in double 4.
  const auto in_dtype = [&](double v) {
    return HostTensor::scalar(start.dtype(), v).get_double(0);
  };
  const double n = std::ceil(in_dtype(in_dtype(l - s) / d));
  require(std::isfinite(n) && n < 9.0e18, node, "rtx.ir.671",
          "cannot count the elements of range(" + std::to_string(s) + ", " + std::to_string(l) +
              ", " + std::to_string(d) + ")");
  return n > 0 ? static_cast<int64_t>(n) : 0;
}

std::vector<TensorInfo> infer_range(const InferContext& ctx) {
  const char* names[3] = {"start", "limit", "delta"};
  const TensorInfo& start = ctx.input(0);
  require(
      range_type_ok(start.dtype), ctx.node, "rtx.ir.670",
      "start is " + describe(start) + "; Range takes f64, f32, f16, bf16, int8, int32 or int64");
  for (size_t i = 0; i < 3; ++i) {
    require(ctx.input(i).dtype == start.dtype, ctx.node, "rtx.ir.670",
            std::string(names[i]) + " is " + describe(ctx.input(i)) + " but start is " +
                describe(start));
    require_scalar(ctx, i, names[i], "rtx.ir.670");
  }
  if (ctx.constant(0) && ctx.constant(1) && ctx.constant(2))
    return {
        TensorInfo{start.dtype,
                   {range_count(ctx.node, *ctx.constant(0), *ctx.constant(1), *ctx.constant(2))}}};
  return {TensorInfo{start.dtype, {kDynamic}}};
}

std::vector<HostTensor> eval_range(const EvalContext& ctx) {
  const HostTensor& start = ctx.input(0);
  const HostTensor& delta = ctx.input(2);
  HostTensor out = make_output(ctx, 0);
  const int64_t n = out.element_count();
  if (is_integer(start.dtype())) {
    // Wrapping unsigned arithmetic: values stay in range for any valid count.
    const uint64_t s = static_cast<uint64_t>(start.get_int(0));
    const uint64_t d = static_cast<uint64_t>(delta.get_int(0));
    for (int64_t i = 0; i < n; ++i)
      out.set_int(i, static_cast<int64_t>(s + static_cast<uint64_t>(i) * d));
  } else {
    // Each element is start + i * delta in double, rounded once to the dtype.
    const double s = start.get_double(0), d = delta.get_double(0);
    std::vector<double> v(sz(n));
    for (int64_t i = 0; i < n; ++i) v[sz(i)] = s + static_cast<double>(i) * d;
    out = HostTensor::from_doubles(out.dtype(), out.shape(), v);
  }
  return {out};
}

// ---- Constant ---------------------------------------------------------------------------------

HostTensor constant_value(const Node& node) {
  static const char* kUnsupported[] = {"sparse_value", "value_string", "value_strings"};
  for (const char* key : kUnsupported)
    require(!node.has_attr(key), node, "rtx.ir.675",
            std::string("attribute '") + key + "' is not supported");
  std::optional<HostTensor> out;
  auto set = [&](HostTensor t) {
    require(!out, node, "rtx.ir.675",
            "exactly one of value, value_float(s), value_int(s) must be given");
    out = std::move(t);
  };
  if (const HostTensor* t = node.attr_tensor("value")) set(*t);
  if (node.has_attr("value_float"))
    set(HostTensor::scalar(DataType::kF32, node.attr_float("value_float", 0)));
  if (node.has_attr("value_floats")) {
    const auto v = node.attr_floats("value_floats");
    set(HostTensor::from_doubles(DataType::kF32, {len(v)}, v));
  }
  if (node.has_attr("value_int")) {
    HostTensor t(DataType::kINT64, {});
    t.set_int(0, node.attr_int("value_int"));
    set(t);
  }
  if (node.has_attr("value_ints")) {
    const auto v = node.attr_ints("value_ints");
    set(HostTensor::from_vector(DataType::kINT64, {len(v)}, v));
  }
  require(out.has_value(), node, "rtx.ir.675", "has no value attribute");
  return *out;
}

std::vector<TensorInfo> infer_constant(const InferContext& ctx) {
  const HostTensor v = constant_value(ctx.node);
  return {TensorInfo{v.dtype(), v.shape()}};
}

std::vector<HostTensor> eval_constant(const EvalContext& ctx) {
  return {constant_value(ctx.node).clone()};
}

// ---- Trilu ------------------------------------------------------------------------------------

std::vector<TensorInfo> infer_trilu(const InferContext& ctx) {
  const TensorInfo& data = ctx.input(0);
  require(data.rank() >= 2, ctx.node, "rtx.ir.680",
          "input must have rank 2 or more, got " + describe(data));
  if (ctx.has_input(1)) {
    require(ctx.input(1).dtype == DataType::kINT64, ctx.node, "rtx.ir.600",
            "k must be int64, got " + describe(ctx.input(1)));
    require_scalar(ctx, 1, "k", "rtx.ir.601");
  }
  return {TensorInfo{data.dtype, data.shape}};
}

std::vector<HostTensor> eval_trilu(const EvalContext& ctx) {
  const HostTensor& in = ctx.input(0);
  const int64_t k = ctx.has_input(1) ? ctx.input(1).get_int(0) : 0;
  const bool upper = ctx.node.attr_int("upper", 1) != 0;
  HostTensor out = make_output(ctx, 0);
  const auto& shape = in.shape();
  const int64_t rows = shape[shape.size() - 2], cols = shape[shape.size() - 1];
  const int64_t batch = rows * cols == 0 ? 0 : in.element_count() / (rows * cols);
  const Mover m(in.dtype());
  // Upper keeps j - i >= k, lower keeps j - i <= k; the rest stays zero (fresh output).
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        const bool keep = upper ? j - i >= k : j - i <= k;
        const int64_t at = (b * rows + i) * cols + j;
        if (keep) m.copy(out.mutable_data(), at, in.data(), at);
      }
  return {out};
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  r.add({OpKind::kReshape, 2, 2, 1, 1, infer_reshape, eval_reshape_like});
  r.add({OpKind::kTranspose, 1, 1, 1, 1, infer_transpose, eval_transpose});
  r.add({OpKind::kFlatten, 1, 1, 1, 1, infer_flatten, eval_reshape_like});
  r.add({OpKind::kSqueeze, 1, 2, 1, 1, infer_squeeze, eval_reshape_like});
  r.add({OpKind::kUnsqueeze, 2, 2, 1, 1, infer_unsqueeze, eval_reshape_like});
  r.add({OpKind::kConcat, 1, -1, 1, 1, infer_concat, eval_concat});
  r.add({OpKind::kSplit, 1, 2, 1, -1, infer_split, eval_split});
  r.add({OpKind::kSlice, 3, 5, 1, 1, infer_slice, eval_slice});
  r.add({OpKind::kGather, 2, 2, 1, 1, infer_gather, eval_gather});
  r.add({OpKind::kGatherElements, 2, 2, 1, 1, infer_gather_elements, eval_gather_elements});
  r.add({OpKind::kExpand, 2, 2, 1, 1, infer_expand, eval_expand});
  r.add({OpKind::kTile, 2, 2, 1, 1, infer_tile, eval_tile});
  r.add({OpKind::kPad, 2, 4, 1, 1, infer_pad, eval_pad});
  r.add({OpKind::kShape, 1, 1, 1, 1, infer_shape, eval_shape});
  r.add({OpKind::kSize, 1, 1, 1, 1, infer_size, eval_size});
  r.add({OpKind::kConstantOfShape, 1, 1, 1, 1, infer_constant_of_shape, eval_constant_of_shape});
  r.add({OpKind::kRange, 3, 3, 1, 1, infer_range, eval_range});
  r.add({OpKind::kConstant, 0, 0, 1, 1, infer_constant, eval_constant});
  r.add({OpKind::kTrilu, 1, 2, 1, 1, infer_trilu, eval_trilu});
}

}  // namespace rtx::ir
