// SPDX-License-Identifier: Apache-2.0
// The elementwise op family: unary math (Relu .. Cast), binary arithmetic and comparisons with
// numpy broadcasting, the variadic Max/Min, and Where. Semantics are ONNX's at opset <= 23 (Silu
// is rtx's own: y = x * sigmoid(x)). Floating types are computed in double and rounded once to the
// output dtype; integers in int64 with two's complement wrap-around (numpy's and ONNX's behaviour
// on overflow), so int8..int64 results are exact; bool is 0/1. Where ONNX leaves a case undefined
// we pick one deterministic answer and say so next to the code:
//   - integer Div and Mod by zero: rtx.ir.212 / rtx.ir.213 instead of C's undefined behaviour;
//   - INT64_MIN / -1 wraps to INT64_MIN and INT64_MIN % -1 is 0 (two's complement, like numpy);
//   - Cast float -> integer truncates toward zero and saturates out-of-range values (inf too) to
//     the target's range; NaN -> 0. Integer -> narrower integer wraps (ONNX's rule).
//   - Pow with an integer base and a negative integer exponent truncates 1/base^|e| toward zero
//     (1 for base 1, +-1 for base -1, 0 otherwise); base 0 is an error (rtx.ir.214).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "ir/onnx_dtype.hpp"
#include "ir/op_registry.hpp"
#include "ir/ops/op_utils.hpp"
#include "rtx/numeric.hpp"

namespace rtx::ir {
namespace {

// ---- dtype sets --------------------------------------------------------------------------------

using TypeSet = uint32_t;
constexpr TypeSet bit(DataType t) {
  return TypeSet{1} << static_cast<unsigned>(t);
}

constexpr TypeSet kFloats =
    bit(DataType::kF16) | bit(DataType::kBF16) | bit(DataType::kF32) | bit(DataType::kF64);
constexpr TypeSet kSignedInts =
    bit(DataType::kINT8) | bit(DataType::kINT32) | bit(DataType::kINT64);
constexpr TypeSet kInts = kSignedInts | bit(DataType::kUINT8);
constexpr TypeSet kNumeric = kFloats | kInts;
constexpr TypeSet kBool = bit(DataType::kBOOL);
constexpr TypeSet kFp8 = bit(DataType::kFP8E4M3) | bit(DataType::kFP8E5M2);

bool in_set(TypeSet set, DataType t) {
  return (set & bit(t)) != 0;
}

std::string set_to_string(TypeSet set) {
  std::string s;
  for (int i = 0; i < kDataTypeCount; ++i) {
    const auto t = static_cast<DataType>(i);
    if (!in_set(set, t)) continue;
    if (!s.empty()) s += ", ";
    s += to_string(t);
  }
  return s;
}

/// rtx.ir.201: `what` (e.g. "input 0") has a dtype the op does not accept.
void check_dtype(const Node& node, const TensorInfo& info, TypeSet set, const std::string& what) {
  require(in_set(set, info.dtype), node, "rtx.ir.201",
          what + " has dtype " + std::string(to_string(info.dtype)) + "; " +
              std::string(op_name(node.op)) + " accepts " + set_to_string(set));
}

/// rtx.ir.202: inputs that must share a dtype do not.
void check_same_dtype(const Node& node, const TensorInfo& a, size_t ia, const TensorInfo& b,
                      size_t ib) {
  require(a.dtype == b.dtype, node, "rtx.ir.202",
          "input " + std::to_string(ia) + " is " + describe(a) + " but input " +
              std::to_string(ib) + " is " + describe(b) + "; they must have the same dtype");
}

// ---- broadcasting walk -------------------------------------------------------------------------

/// Calls f(out_flat, offsets) for every element of `out_shape`, where offsets[k] is the flat
/// index of the matching element of input k (shape in_shapes[k], numpy-broadcast to out_shape).
/// Offsets are updated incrementally, like an odometer, so the walk is O(1) per element.
template <class F>
void walk_broadcast(const std::vector<int64_t>& out_shape,
                    const std::vector<std::vector<int64_t>>& in_shapes, F&& f) {
  const size_t rank = out_shape.size();
  const size_t n = in_shapes.size();
  std::vector<std::vector<int64_t>> strides(n);
  for (size_t k = 0; k < n; ++k) strides[k] = broadcast_strides(in_shapes[k], out_shape);
  const int64_t total = product(out_shape);
  std::vector<int64_t> idx(rank, 0), off(n, 0);
  for (int64_t flat = 0; flat < total; ++flat) {
    f(flat, static_cast<const int64_t*>(off.data()));
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < out_shape[d]) {
        for (size_t k = 0; k < n; ++k) off[k] += strides[k][d];
        break;
      }
      for (size_t k = 0; k < n; ++k) off[k] -= strides[k][d] * (out_shape[d] - 1);
      idx[d] = 0;
    }
  }
}

/// Broadcast shape of all present inputs (numpy rules; dynamic dims as in broadcast_shapes).
std::vector<int64_t> broadcast_infos(const Node& node, std::span<const TensorInfo> infos) {
  std::vector<int64_t> out;
  for (const auto& info : infos) out = broadcast_shapes(out, info.shape, node);
  return out;
}

std::vector<int64_t> broadcast_tensors(const Node& node, std::span<const HostTensor> ts) {
  std::vector<int64_t> out;
  for (const auto& t : ts) out = broadcast_shapes(out, t.shape(), node);
  return out;
}

/// Copies element `si` of `src` into element `di` of `dst` bit for bit (same dtype): no decode,
/// so NaN payloads, -0 and int64 beyond 2^53 survive.
void copy_element(const HostTensor& src, int64_t si, std::byte* dst, int64_t di) {
  const int bits = bit_width(src.dtype());
  if (bits == 4) {
    const auto* s = reinterpret_cast<const uint8_t*>(src.data());
    numeric::set_nibble(reinterpret_cast<uint8_t*>(dst), di, numeric::get_nibble(s, si));
    return;
  }
  const size_t bytes = static_cast<size_t>(bits / 8);
  std::memcpy(dst + static_cast<size_t>(di) * bytes, src.data() + static_cast<size_t>(si) * bytes,
              bytes);
}

// ---- integer helpers (two's complement wrap, no signed-overflow UB)
// ------------------------------

int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t wrap_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t wrap_mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
int64_t wrap_neg(int64_t a) {
  return static_cast<int64_t>(uint64_t{0} - static_cast<uint64_t>(a));
}

int64_t int_div(int64_t a, int64_t b, const Node& node) {
  if (b == 0) fail(node, "rtx.ir.212", "integer division by zero (" + std::to_string(a) + " / 0)");
  if (b == -1) return wrap_neg(a);  // INT64_MIN / -1 overflows in C++; numpy wraps
  return a / b;                     // C++ truncates toward zero, as ONNX asks
}

/// fmod = false: Python's sign-of-divisor remainder; true: C's sign-of-dividend remainder.
int64_t int_mod(int64_t a, int64_t b, bool c_fmod, const Node& node) {
  if (b == 0) fail(node, "rtx.ir.213", "integer modulo by zero (" + std::to_string(a) + " % 0)");
  if (b == -1) return 0;  // avoids INT64_MIN % -1, undefined in C++
  int64_t r = a % b;
  if (!c_fmod && r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

int64_t int_pow(int64_t base, int64_t exponent, const Node& node) {
  if (exponent < 0) {
    if (base == 1) return 1;
    if (base == -1) return (exponent % 2 == 0) ? 1 : -1;
    if (base == 0)
      fail(node, "rtx.ir.214",
           "integer 0 raised to the negative power " + std::to_string(exponent));
    return 0;  // |1 / base^|e|| < 1 truncates to 0
  }
  // Square and multiply modulo 2^64: the low bits equal those of the narrower types' wrapped
  // results, so set_int's truncation gives numpy's int8/int32 answers too.
  uint64_t result = 1;
  uint64_t b = static_cast<uint64_t>(base);
  for (uint64_t e = static_cast<uint64_t>(exponent); e != 0; e >>= 1) {
    if (e & 1) result *= b;
    b *= b;
  }
  return static_cast<int64_t>(result);
}

/// numpy's maximum/minimum: NaN in either operand gives NaN.
double nan_max(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return a < b ? b : a;
}
double nan_min(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return b < a ? b : a;
}

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

/// An integer tensor of `dtype` from int64 values (wrapping to the dtype's width).
HostTensor ints_to_tensor(DataType dtype, const std::vector<int64_t>& shape,
                          const std::vector<int64_t>& values) {
  HostTensor t(dtype, shape);
  for (size_t i = 0; i < values.size(); ++i) t.set_int(static_cast<int64_t>(i), values[i]);
  return t;
}

/// A bool tensor from 0/1 bytes.
HostTensor bools_to_tensor(const std::vector<int64_t>& shape, const std::vector<uint8_t>& values) {
  HostTensor t(DataType::kBOOL, shape);
  if (!values.empty()) std::memcpy(t.mutable_data(), values.data(), values.size());
  return t;
}

// ---- unary ops ---------------------------------------------------------------------------------

using FloatFn = std::function<double(double)>;
using IntFn = std::function<int64_t(int64_t)>;
/// Builds the per-element function from the node's attributes (and validates them); called by
/// inference too, so bad attributes fail at build time.
using FloatFnFactory = std::function<FloatFn(const Node&)>;
using IntFnFactory = std::function<IntFn(const Node&)>;

/// Integer results of a floating function (Erf on integers): computed in double and truncated
/// toward zero, as numpy's astype does in ONNX's reference.
IntFn int_via_double(FloatFn f) {
  return [f = std::move(f)](int64_t v) {
    return numeric::truncate_saturate_int(f(static_cast<double>(v)),
                                          std::numeric_limits<int64_t>::min(),
                                          std::numeric_limits<int64_t>::max());
  };
}

void add_unary(OpRegistry& r, OpKind kind, TypeSet types, FloatFnFactory float_fn,
               IntFnFactory int_fn = {}) {
  OpSchema s;
  s.kind = kind;
  s.min_inputs = s.max_inputs = 1;
  s.infer = [types, float_fn, int_fn](const InferContext& ctx) {
    const TensorInfo& x = ctx.input(0);
    check_dtype(ctx.node, x, types, "input 0");
    if (is_floating(x.dtype))
      float_fn(ctx.node);
    else if (int_fn)
      int_fn(ctx.node);
    return std::vector<TensorInfo>{TensorInfo{x.dtype, x.shape, true}};
  };
  s.evaluate = [float_fn, int_fn](const EvalContext& ctx) {
    const HostTensor& x = ctx.input(0);
    if (is_floating(x.dtype())) {
      const FloatFn f = float_fn(ctx.node);
      std::vector<double> v = x.to_doubles();
      for (double& e : v) e = f(e);
      return std::vector<HostTensor>{HostTensor::from_doubles(x.dtype(), x.shape(), v)};
    }
    const IntFn f = int_fn(ctx.node);
    std::vector<int64_t> v = x.to_ints();
    for (int64_t& e : v) e = f(e);
    return std::vector<HostTensor>{ints_to_tensor(x.dtype(), x.shape(), v)};
  };
  r.add(std::move(s));
}

/// A factory for functions with no attributes.
FloatFnFactory plain(double (*f)(double)) {
  return [f](const Node&) { return FloatFn(f); };
}
IntFnFactory plain_int(int64_t (*f)(int64_t)) {
  return [f](const Node&) { return IntFn(f); };
}

FloatFn gelu_fn(const Node& node) {
  const std::string mode = node.attr_string("approximate", "none");
  // 0.5 x (1 + erf(x / sqrt 2)) and 0.5 x (1 + tanh(u)), in forms without the cancellation of
  // 1 + erf / 1 + tanh at negative x (the kernels use the same forms, common/math.cuh).
  if (mode == "none")
    return [](double x) { return 0.5 * x * std::erfc(-x / std::numbers::sqrt2); };
  if (mode == "tanh") {
    return [](double x) {
      const double u = std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x);
      return x / (1.0 + std::exp(-2.0 * u));
    };
  }
  fail(node, "rtx.ir.207",
       "attribute 'approximate' is \"" + mode + "\"; expected \"none\" or \"tanh\"");
}

void register_unary(OpRegistry& r) {
  // ONNX type constraints (latest opset <= 23); int16/uint16+ do not exist in rtx.
  add_unary(r, OpKind::kRelu, kFloats | kSignedInts,
            plain([](double x) { return x < 0 ? 0.0 : x; }),
            plain_int([](int64_t x) { return x < 0 ? int64_t{0} : x; }));
  add_unary(r, OpKind::kLeakyRelu, kFloats, [](const Node& n) {
    // ONNX float attributes are float32: the default is 0.01f, not the double 0.01.
    const double alpha = n.attr_float("alpha", static_cast<double>(0.01f));
    return FloatFn([alpha](double x) { return x < 0 ? alpha * x : x; });
  });
  add_unary(r, OpKind::kSigmoid, kFloats, plain(sigmoid));
  add_unary(r, OpKind::kTanh, kFloats, plain([](double x) { return std::tanh(x); }));
  add_unary(r, OpKind::kErf, kNumeric, plain([](double x) { return std::erf(x); }),
            [](const Node&) { return int_via_double([](double x) { return std::erf(x); }); });
  add_unary(r, OpKind::kGelu, kFloats, gelu_fn);
  add_unary(r, OpKind::kSilu, kFloats, plain([](double x) { return x * sigmoid(x); }));
  add_unary(r, OpKind::kExp, kFloats, plain([](double x) { return std::exp(x); }));
  add_unary(r, OpKind::kLog, kFloats, plain([](double x) { return std::log(x); }));
  add_unary(r, OpKind::kSqrt, kFloats, plain([](double x) { return std::sqrt(x); }));
  add_unary(r, OpKind::kReciprocal, kFloats, plain([](double x) { return 1.0 / x; }));
  add_unary(r, OpKind::kNeg, kFloats | kSignedInts, plain([](double x) { return -x; }),
            plain_int(wrap_neg));
  add_unary(r, OpKind::kAbs, kNumeric, plain([](double x) { return std::fabs(x); }),
            plain_int([](int64_t x) { return x < 0 ? wrap_neg(x) : x; }));
  add_unary(r, OpKind::kFloor, kFloats, plain([](double x) { return std::floor(x); }));
  add_unary(r, OpKind::kCeil, kFloats, plain([](double x) { return std::ceil(x); }));
  add_unary(r, OpKind::kSin, kFloats, plain([](double x) { return std::sin(x); }));
  add_unary(r, OpKind::kCos, kFloats, plain([](double x) { return std::cos(x); }));
  add_unary(r, OpKind::kNot, kBool, {},
            plain_int([](int64_t x) { return x != 0 ? int64_t{0} : int64_t{1}; }));

  // IsNaN / IsInf: float (fp8 too, opset 20) -> bool.
  for (OpKind kind : {OpKind::kIsNaN, OpKind::kIsInf}) {
    OpSchema s;
    s.kind = kind;
    s.infer = [](const InferContext& ctx) {
      const TensorInfo& x = ctx.input(0);
      check_dtype(ctx.node, x, kFloats | kFp8, "input 0");
      return std::vector<TensorInfo>{TensorInfo{DataType::kBOOL, x.shape, true}};
    };
    s.evaluate = [kind](const EvalContext& ctx) {
      const HostTensor& x = ctx.input(0);
      const bool pos = ctx.node.attr_int("detect_positive", 1) != 0;
      const bool neg = ctx.node.attr_int("detect_negative", 1) != 0;
      const std::vector<double> v = x.to_doubles();
      std::vector<uint8_t> out(v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        if (kind == OpKind::kIsNaN)
          out[i] = std::isnan(v[i]) ? 1 : 0;
        else
          out[i] = std::isinf(v[i]) && ((v[i] > 0 && pos) || (v[i] < 0 && neg)) ? 1 : 0;
      }
      return std::vector<HostTensor>{bools_to_tensor(x.shape(), out)};
    };
    r.add(std::move(s));
  }

  // Identity: any dtype, bit-exact copy.
  {
    OpSchema s;
    s.kind = OpKind::kIdentity;
    s.infer = [](const InferContext& ctx) {
      const TensorInfo& x = ctx.input(0);
      return std::vector<TensorInfo>{TensorInfo{x.dtype, x.shape, true}};
    };
    s.evaluate = [](const EvalContext& ctx) {
      return std::vector<HostTensor>{ctx.input(0).clone()};
    };
    r.add(std::move(s));
  }
}

// ---- Clip --------------------------------------------------------------------------------------

void check_clip_bound(const InferContext& ctx, size_t i, const char* name) {
  if (!ctx.has_input(i)) return;
  const TensorInfo& b = ctx.input(i);
  const TensorInfo& x = ctx.input(0);
  require(b.dtype == x.dtype, ctx.node, "rtx.ir.206",
          std::string(name) + " is " + describe(b) + " but input is " + describe(x) +
              "; they must have the same dtype");
  const bool scalar =
      b.rank() == 0 || (b.rank() == 1 && (b.shape[0] == 1 || b.shape[0] == kDynamic));
  require(scalar, ctx.node, "rtx.ir.205",
          std::string(name) + " must be a scalar (shape [] or [1]), got " + describe(b));
}

void register_clip(OpRegistry& r) {
  OpSchema s;
  s.kind = OpKind::kClip;
  s.min_inputs = 1;
  s.max_inputs = 3;
  s.infer = [](const InferContext& ctx) {
    const TensorInfo& x = ctx.input(0);
    check_dtype(ctx.node, x, kNumeric, "input 0");
    check_clip_bound(ctx, 1, "min");
    check_clip_bound(ctx, 2, "max");
    return std::vector<TensorInfo>{TensorInfo{x.dtype, x.shape, true}};
  };
  s.evaluate = [](const EvalContext& ctx) {
    const HostTensor& x = ctx.input(0);
    for (size_t i = 1; i < 3; ++i) {
      if (ctx.has_input(i) && ctx.input(i).element_count() != 1)
        fail(ctx.node, "rtx.ir.205",
             "bound " + std::to_string(i) + " holds " +
                 std::to_string(ctx.input(i).element_count()) +
                 " elements; it must hold exactly one");
    }
    // numpy's clip = minimum(maximum(x, min), max): when min > max every element becomes max,
    // as ONNX specifies, and NaN (in x or a bound) propagates.
    if (is_floating(x.dtype())) {
      const double lo =
          ctx.has_input(1) ? ctx.input(1).get_double(0) : -std::numeric_limits<double>::infinity();
      const double hi =
          ctx.has_input(2) ? ctx.input(2).get_double(0) : std::numeric_limits<double>::infinity();
      std::vector<double> v = x.to_doubles();
      for (double& e : v) e = nan_min(nan_max(e, lo), hi);
      return std::vector<HostTensor>{HostTensor::from_doubles(x.dtype(), x.shape(), v)};
    }
    const int64_t lo =
        ctx.has_input(1) ? ctx.input(1).get_int(0) : std::numeric_limits<int64_t>::min();
    const int64_t hi =
        ctx.has_input(2) ? ctx.input(2).get_int(0) : std::numeric_limits<int64_t>::max();
    std::vector<int64_t> v = x.to_ints();
    for (int64_t& e : v) e = std::min(std::max(e, lo), hi);
    return std::vector<HostTensor>{ints_to_tensor(x.dtype(), x.shape(), v)};
  };
  r.add(std::move(s));
}

// ---- Cast --------------------------------------------------------------------------------------

DataType cast_target(const Node& node) {
  const int64_t to = node.attr_int("to");
  if (auto t = data_type_from_onnx(to)) return *t;
  if (to >= 0 && to <= 26)
    fail(node, "rtx.ir.208",
         "cannot cast to ONNX type " + onnx_type_name(to) + " (to=" + std::to_string(to) +
             "): rtx has no such type");
  fail(node, "rtx.ir.209", "attribute 'to' = " + std::to_string(to) + " is not an ONNX data type");
}

void register_cast(OpRegistry& r) {
  OpSchema s;
  s.kind = OpKind::kCast;
  s.infer = [](const InferContext& ctx) {
    const TensorInfo& x = ctx.input(0);
    return std::vector<TensorInfo>{TensorInfo{cast_target(ctx.node), x.shape, true}};
  };
  s.evaluate = [](const EvalContext& ctx) {
    const HostTensor& x = ctx.input(0);
    const DataType to = cast_target(ctx.node);
    // saturate only matters for fp8 targets (fp4 always saturates; see rtx/numeric.hpp).
    const bool saturate = ctx.node.attr_int("saturate", 1) != 0;
    if (x.dtype() == to) return std::vector<HostTensor>{x.clone()};
    HostTensor y(to, x.shape());
    std::byte* out = y.mutable_data();
    const int64_t n = x.element_count();
    const bool from_float = is_floating(x.dtype());
    const bool to_int = is_integer(to);
    const numeric::IntRange range = numeric::int_range(to);
    for (int64_t i = 0; i < n; ++i) {
      if (!from_float) {
        // integer/bool source: exact value; narrower integer targets wrap (ONNX), floats round
        // once, bool is != 0.
        numeric::encode_int(to, out, i, x.get_int(i), saturate);
      } else if (to_int) {
        // float -> integer: truncate toward zero (numpy astype, C cast). Out of range is
        // undefined in ONNX; we saturate (inf too) and map NaN to 0.
        numeric::encode_int(to, out, i,
                            numeric::truncate_saturate_int(x.get_double(i), range.lo, range.hi));
      } else {
        // float -> float (round to nearest even; fp8 overflow per saturate) or bool (NaN -> 1).
        numeric::encode(to, out, i, x.get_double(i), saturate);
      }
    }
    return std::vector<HostTensor>{y};
  };
  r.add(std::move(s));
}

// ---- binary / variadic -------------------------------------------------------------------------

using FloatBinary = std::function<double(double, double)>;
using IntBinary = std::function<int64_t(int64_t, int64_t)>;
using FloatBinaryFactory = std::function<FloatBinary(const Node&)>;
using IntBinaryFactory = std::function<IntBinary(const Node&)>;

/// Same-dtype arithmetic with broadcasting; variadic when max_inputs is -1 (Max, Min: a left
/// fold). The result dtype is the inputs'.
void add_arith(OpRegistry& r, OpKind kind, TypeSet types, FloatBinaryFactory float_fn,
               IntBinaryFactory int_fn, int max_inputs = 2) {
  OpSchema s;
  s.kind = kind;
  s.min_inputs = max_inputs < 0 ? 1 : 2;
  s.max_inputs = max_inputs;
  s.infer = [types, float_fn, int_fn](const InferContext& ctx) {
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const TensorInfo& in = ctx.input(i);
      check_dtype(ctx.node, in, types, "input " + std::to_string(i));
      if (i > 0) check_same_dtype(ctx.node, ctx.input(0), 0, in, i);
    }
    const DataType dt = ctx.input(0).dtype;
    if (is_floating(dt))
      float_fn(ctx.node);
    else
      int_fn(ctx.node);
    return std::vector<TensorInfo>{TensorInfo{dt, broadcast_infos(ctx.node, ctx.inputs), true}};
  };
  s.evaluate = [float_fn, int_fn](const EvalContext& ctx) {
    const auto out_shape = broadcast_tensors(ctx.node, ctx.inputs);
    std::vector<std::vector<int64_t>> shapes;
    for (const auto& t : ctx.inputs) shapes.push_back(t.shape());
    const DataType dt = ctx.inputs[0].dtype();
    const size_t n = ctx.inputs.size();
    const auto total = static_cast<size_t>(product(out_shape));
    if (is_floating(dt)) {
      const FloatBinary f = float_fn(ctx.node);
      std::vector<std::vector<double>> in(n);
      for (size_t k = 0; k < n; ++k) in[k] = ctx.inputs[k].to_doubles();
      std::vector<double> out(total);
      walk_broadcast(out_shape, shapes, [&](int64_t flat, const int64_t* off) {
        double acc = in[0][static_cast<size_t>(off[0])];
        for (size_t k = 1; k < n; ++k) acc = f(acc, in[k][static_cast<size_t>(off[k])]);
        out[static_cast<size_t>(flat)] = acc;
      });
      return std::vector<HostTensor>{HostTensor::from_doubles(dt, out_shape, out)};
    }
    const IntBinary f = int_fn(ctx.node);
    std::vector<std::vector<int64_t>> in(n);
    for (size_t k = 0; k < n; ++k) in[k] = ctx.inputs[k].to_ints();
    std::vector<int64_t> out(total);
    walk_broadcast(out_shape, shapes, [&](int64_t flat, const int64_t* off) {
      int64_t acc = in[0][static_cast<size_t>(off[0])];
      for (size_t k = 1; k < n; ++k) acc = f(acc, in[k][static_cast<size_t>(off[k])]);
      out[static_cast<size_t>(flat)] = acc;
    });
    return std::vector<HostTensor>{ints_to_tensor(dt, out_shape, out)};
  };
  r.add(std::move(s));
}

FloatBinaryFactory plain2(double (*f)(double, double)) {
  return [f](const Node&) { return FloatBinary(f); };
}
IntBinaryFactory plain_int2(int64_t (*f)(int64_t, int64_t)) {
  return [f](const Node&) { return IntBinary(f); };
}

/// Comparisons and logic: same-dtype inputs, bool output.
void add_compare(OpRegistry& r, OpKind kind, TypeSet types, bool (*float_fn)(double, double),
                 bool (*int_fn)(int64_t, int64_t)) {
  OpSchema s;
  s.kind = kind;
  s.min_inputs = s.max_inputs = 2;
  s.infer = [types](const InferContext& ctx) {
    check_dtype(ctx.node, ctx.input(0), types, "input 0");
    check_dtype(ctx.node, ctx.input(1), types, "input 1");
    check_same_dtype(ctx.node, ctx.input(0), 0, ctx.input(1), 1);
    return std::vector<TensorInfo>{
        TensorInfo{DataType::kBOOL, broadcast_infos(ctx.node, ctx.inputs), true}};
  };
  s.evaluate = [float_fn, int_fn](const EvalContext& ctx) {
    const HostTensor& a = ctx.input(0);
    const HostTensor& b = ctx.input(1);
    const auto out_shape = broadcast_tensors(ctx.node, ctx.inputs);
    std::vector<uint8_t> out(static_cast<size_t>(product(out_shape)));
    const std::vector<std::vector<int64_t>> shapes{a.shape(), b.shape()};
    if (is_floating(a.dtype())) {
      const auto va = a.to_doubles(), vb = b.to_doubles();
      walk_broadcast(out_shape, shapes, [&](int64_t flat, const int64_t* off) {
        out[static_cast<size_t>(flat)] =
            float_fn(va[static_cast<size_t>(off[0])], vb[static_cast<size_t>(off[1])]) ? 1 : 0;
      });
    } else {
      const auto va = a.to_ints(), vb = b.to_ints();
      walk_broadcast(out_shape, shapes, [&](int64_t flat, const int64_t* off) {
        out[static_cast<size_t>(flat)] =
            int_fn(va[static_cast<size_t>(off[0])], vb[static_cast<size_t>(off[1])]) ? 1 : 0;
      });
    }
    return std::vector<HostTensor>{bools_to_tensor(out_shape, out)};
  };
  r.add(std::move(s));
}

void register_pow(OpRegistry& r) {
  // Pow-15: base T in {int32, int64, floats}; exponent T1 any numeric; output = base's dtype.
  constexpr TypeSet kBase = kFloats | bit(DataType::kINT32) | bit(DataType::kINT64);
  OpSchema s;
  s.kind = OpKind::kPow;
  s.min_inputs = s.max_inputs = 2;
  s.infer = [](const InferContext& ctx) {
    check_dtype(ctx.node, ctx.input(0), kBase, "base (input 0)");
    check_dtype(ctx.node, ctx.input(1), kNumeric, "exponent (input 1)");
    return std::vector<TensorInfo>{
        TensorInfo{ctx.input(0).dtype, broadcast_infos(ctx.node, ctx.inputs), true}};
  };
  s.evaluate = [](const EvalContext& ctx) {
    const HostTensor& a = ctx.input(0);
    const HostTensor& b = ctx.input(1);
    const auto out_shape = broadcast_tensors(ctx.node, ctx.inputs);
    const std::vector<std::vector<int64_t>> shapes{a.shape(), b.shape()};
    const auto total = static_cast<size_t>(product(out_shape));
    if (is_floating(a.dtype())) {
      const auto va = a.to_doubles(), vb = b.to_doubles();
      std::vector<double> out(total);
      walk_broadcast(out_shape, shapes, [&](int64_t flat, const int64_t* off) {
        out[static_cast<size_t>(flat)] =
            std::pow(va[static_cast<size_t>(off[0])], vb[static_cast<size_t>(off[1])]);
      });
      return std::vector<HostTensor>{HostTensor::from_doubles(a.dtype(), out_shape, out)};
    }
    const auto va = a.to_ints();
    std::vector<int64_t> out(total);
    if (is_floating(b.dtype())) {
      // Integer base, float exponent: numpy computes in double and astype truncates.
      const auto vb = b.to_doubles();
      walk_broadcast(out_shape, shapes, [&](int64_t flat, const int64_t* off) {
        const double p = std::pow(static_cast<double>(va[static_cast<size_t>(off[0])]),
                                  vb[static_cast<size_t>(off[1])]);
        out[static_cast<size_t>(flat)] = numeric::truncate_saturate_int(
            p, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
      });
    } else {
      const auto vb = b.to_ints();
      walk_broadcast(out_shape, shapes, [&](int64_t flat, const int64_t* off) {
        out[static_cast<size_t>(flat)] =
            int_pow(va[static_cast<size_t>(off[0])], vb[static_cast<size_t>(off[1])], ctx.node);
      });
    }
    return std::vector<HostTensor>{ints_to_tensor(a.dtype(), out_shape, out)};
  };
  r.add(std::move(s));
}

bool mod_fmod(const Node& node, DataType dt) {
  const int64_t fmod = node.attr_int("fmod", 0);
  require(fmod == 0 || fmod == 1, node, "rtx.ir.211",
          "attribute 'fmod' is " + std::to_string(fmod) + "; expected 0 or 1");
  require(fmod == 1 || !is_floating(dt), node, "rtx.ir.210",
          "fmod=0 (integer modulo) needs integer inputs; for " + std::string(to_string(dt)) +
              " inputs set fmod=1");
  return fmod == 1;
}

void register_binary(OpRegistry& r) {
  add_arith(r, OpKind::kAdd, kNumeric, plain2([](double a, double b) { return a + b; }),
            plain_int2(wrap_add));
  add_arith(r, OpKind::kSub, kNumeric, plain2([](double a, double b) { return a - b; }),
            plain_int2(wrap_sub));
  add_arith(r, OpKind::kMul, kNumeric, plain2([](double a, double b) { return a * b; }),
            plain_int2(wrap_mul));
  add_arith(r, OpKind::kDiv, kNumeric, plain2([](double a, double b) { return a / b; }),
            [](const Node& n) {
              return IntBinary([&n](int64_t a, int64_t b) { return int_div(a, b, n); });
            });
  add_arith(r, OpKind::kMax, kNumeric, plain2(nan_max),
            plain_int2([](int64_t a, int64_t b) { return std::max(a, b); }), -1);
  add_arith(r, OpKind::kMin, kNumeric, plain2(nan_min),
            plain_int2([](int64_t a, int64_t b) { return std::min(a, b); }), -1);
  add_arith(
      r, OpKind::kMod, kNumeric,
      [](const Node& n) {
        mod_fmod(n, DataType::kF32);  // fmod=0 with float inputs is an error
        return FloatBinary([](double a, double b) { return std::fmod(a, b); });
      },
      [](const Node& n) {
        const bool c_fmod = mod_fmod(n, DataType::kINT64);
        return IntBinary([&n, c_fmod](int64_t a, int64_t b) { return int_mod(a, b, c_fmod, n); });
      });
  register_pow(r);

  add_compare(
      r, OpKind::kEqual, kNumeric | kBool, [](double a, double b) { return a == b; },
      [](int64_t a, int64_t b) { return a == b; });
  add_compare(
      r, OpKind::kLess, kNumeric, [](double a, double b) { return a < b; },
      [](int64_t a, int64_t b) { return a < b; });
  add_compare(
      r, OpKind::kLessOrEqual, kNumeric, [](double a, double b) { return a <= b; },
      [](int64_t a, int64_t b) { return a <= b; });
  add_compare(
      r, OpKind::kGreater, kNumeric, [](double a, double b) { return a > b; },
      [](int64_t a, int64_t b) { return a > b; });
  add_compare(
      r, OpKind::kGreaterOrEqual, kNumeric, [](double a, double b) { return a >= b; },
      [](int64_t a, int64_t b) { return a >= b; });
  // Logic ops take bool only; the float path is never reached (dtype check first).
  add_compare(
      r, OpKind::kAnd, kBool, [](double, double) { return false; },
      [](int64_t a, int64_t b) { return a != 0 && b != 0; });
  add_compare(
      r, OpKind::kOr, kBool, [](double, double) { return false; },
      [](int64_t a, int64_t b) { return a != 0 || b != 0; });
  add_compare(
      r, OpKind::kXor, kBool, [](double, double) { return false; },
      [](int64_t a, int64_t b) { return (a != 0) != (b != 0); });
}

// ---- Where -------------------------------------------------------------------------------------

void register_where(OpRegistry& r) {
  OpSchema s;
  s.kind = OpKind::kWhere;
  s.min_inputs = s.max_inputs = 3;
  s.infer = [](const InferContext& ctx) {
    const TensorInfo& c = ctx.input(0);
    require(c.dtype == DataType::kBOOL, ctx.node, "rtx.ir.203",
            "condition (input 0) is " + describe(c) + "; it must be bool");
    check_same_dtype(ctx.node, ctx.input(1), 1, ctx.input(2), 2);
    return std::vector<TensorInfo>{
        TensorInfo{ctx.input(1).dtype, broadcast_infos(ctx.node, ctx.inputs), true}};
  };
  s.evaluate = [](const EvalContext& ctx) {
    const HostTensor& c = ctx.input(0);
    const HostTensor& x = ctx.input(1);
    const HostTensor& y = ctx.input(2);
    const auto out_shape = broadcast_tensors(ctx.node, ctx.inputs);
    HostTensor out(x.dtype(), out_shape);
    std::byte* dst = out.mutable_data();
    const auto* cond = reinterpret_cast<const uint8_t*>(c.data());
    walk_broadcast(out_shape, {c.shape(), x.shape(), y.shape()},
                   [&](int64_t flat, const int64_t* off) {
                     if (cond[off[0]] != 0)
                       copy_element(x, off[1], dst, flat);
                     else
                       copy_element(y, off[2], dst, flat);
                   });
    return std::vector<HostTensor>{out};
  };
  r.add(std::move(s));
}

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  register_unary(r);
  register_clip(r);
  register_cast(r);
  register_binary(r);
  register_where(r);
}

}  // namespace rtx::ir
