// SPDX-License-Identifier: Apache-2.0
// Scalar math for the elementwise ops, in the compute types of common/convert.cuh: float and
// double overloads of the activations, NaN-propagating max/min (numpy's maximum/minimum, which
// the reference evaluator follows), and integer arithmetic with two's complement wrap-around and
// defined results where C++ has none. Rendered pointwise functors call these by name, so the
// definitions here are the reviewed semantics of every fused op.
//
// Where ONNX (or C++) leaves an integer case undefined, the reference evaluator raises an error;
// a kernel cannot, so it returns a fixed value and the builder's checks keep such inputs away:
//   integer x / 0 -> 0, x % 0 -> 0, 0 ** negative -> 0.
#pragma once

#include "common/convert.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels {

// ---- floating ----------------------------------------------------------------------------------

RTX_DEVICE inline float nan_value(float) {
  return __int_as_float(0x7fc00000);
}
RTX_DEVICE inline double nan_value(double) {
  return __longlong_as_double(0x7ff8000000000000LL);
}

/// numpy maximum/minimum: NaN in either operand gives NaN.
template <class T>
RTX_DEVICE inline T nan_max(T a, T b) {
  if constexpr (kIsInt<T> || kSame<T, bool>) {
    return a < b ? b : a;
  } else {
    if (a != a || b != b) return nan_value(a);
    return a < b ? b : a;
  }
}
template <class T>
RTX_DEVICE inline T nan_min(T a, T b) {
  if constexpr (kIsInt<T> || kSame<T, bool>) {
    return b < a ? b : a;
  } else {
    if (a != a || b != b) return nan_value(a);
    return b < a ? b : a;
  }
}

RTX_DEVICE inline float sigmoid(float x) {
  return 1.0f / (1.0f + expf(-x));
}
RTX_DEVICE inline double sigmoid(double x) {
  return 1.0 / (1.0 + exp(-x));
}

RTX_DEVICE inline float silu(float x) {
  return x / (1.0f + expf(-x));
}
RTX_DEVICE inline double silu(double x) {
  return x / (1.0 + exp(-x));
}

/// Gelu with the exact erf form, 0.5 x (1 + erf(x / sqrt 2)), written as 0.5 x erfc(-x / sqrt 2):
/// for negative x, 1 + erf(...) cancels to a few bits (f32 relative error ~1e-4 at x = -4), erfc
/// does not.
RTX_DEVICE inline float gelu_erf(float x) {
  return 0.5f * x * erfcf(x * -0.70710678118654752f);
}
RTX_DEVICE inline double gelu_erf(double x) {
  return 0.5 * x * erfc(x * -0.70710678118654752440);
}

/// Gelu with the tanh approximation, 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3),
/// written as x / (1 + exp(-2u)), which is the same function without the cancellation of 1 + tanh.
RTX_DEVICE inline float gelu_tanh(float x) {
  const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
  return x / (1.0f + expf(-2.0f * inner));
}
RTX_DEVICE inline double gelu_tanh(double x) {
  const double inner = 0.79788456080286535588 * (x + 0.044715 * x * x * x);
  return x / (1.0 + exp(-2.0 * inner));
}

template <class T>
RTX_DEVICE inline T relu(T x) {
  return x < T(0) ? T(0) : x;  // NaN and -0 pass through unchanged, as in the reference
}

template <class T>
RTX_DEVICE inline T leaky_relu(T x, T alpha) {
  return x < T(0) ? alpha * x : x;
}

/// numpy clip = minimum(maximum(x, lo), hi): NaN propagates; lo > hi gives hi.
template <class T>
RTX_DEVICE inline T clip(T x, T lo, T hi) {
  return nan_min(nan_max(x, lo), hi);
}

RTX_DEVICE inline bool is_nan(float x) {
  return x != x;
}
RTX_DEVICE inline bool is_nan(double x) {
  return x != x;
}
RTX_DEVICE inline bool is_inf(float x, bool pos, bool neg) {
  return (pos && x == __int_as_float(0x7f800000)) || (neg && x == __int_as_float(0xff800000));
}
RTX_DEVICE inline bool is_inf(double x, bool pos, bool neg) {
  return (pos && x == __longlong_as_double(0x7ff0000000000000LL)) ||
         (neg && x == __longlong_as_double(static_cast<long long>(0xfff0000000000000ULL)));
}

// ---- integers: two's complement wrap, no undefined behaviour -----------------------------------

template <class T>
struct UnsignedOf;
template <>
struct UnsignedOf<signed char> {
  using type = unsigned char;
};
template <>
struct UnsignedOf<unsigned char> {
  using type = unsigned char;
};
template <>
struct UnsignedOf<int> {
  using type = unsigned int;
};
template <>
struct UnsignedOf<long long> {
  using type = unsigned long long;
};

template <class T>
RTX_DEVICE inline T wrap_add(T a, T b) {
  using U = typename UnsignedOf<T>::type;
  return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
}
template <class T>
RTX_DEVICE inline T wrap_sub(T a, T b) {
  using U = typename UnsignedOf<T>::type;
  return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
}
template <class T>
RTX_DEVICE inline T wrap_mul(T a, T b) {
  using U = typename UnsignedOf<T>::type;
  // Promote narrow types through unsigned int: unsigned char * unsigned char would promote to
  // (signed) int and could overflow it.
  return static_cast<T>(static_cast<U>(static_cast<unsigned long long>(static_cast<U>(a)) *
                                       static_cast<unsigned long long>(static_cast<U>(b))));
}
template <class T>
RTX_DEVICE inline T wrap_neg(T a) {
  using U = typename UnsignedOf<T>::type;
  return static_cast<T>(static_cast<U>(U(0) - static_cast<U>(a)));
}
template <class T>
RTX_DEVICE inline T wrap_abs(T a) {
  return a < T(0) ? wrap_neg(a) : a;
}

/// Truncating division; x / 0 -> 0, MIN / -1 wraps to MIN.
template <class T>
RTX_DEVICE inline T int_div(T a, T b) {
  if (b == T(0)) return T(0);
  if constexpr (!kSame<T, unsigned char>) {
    if (b == T(-1)) return wrap_neg(a);
  }
  return static_cast<T>(a / b);
}

/// Remainder: kCFmod -> sign of the dividend (C's %), else sign of the divisor (Python's).
/// x % 0 -> 0 and x % -1 -> 0.
template <bool kCFmod, class T>
RTX_DEVICE inline T int_mod(T a, T b) {
  if (b == T(0)) return T(0);
  if constexpr (!kSame<T, unsigned char>) {
    if (b == T(-1)) return T(0);
  }
  T r = static_cast<T>(a % b);
  if constexpr (!kCFmod) {
    if (r != T(0) && ((r < T(0)) != (b < T(0)))) r = static_cast<T>(r + b);
  }
  return r;
}

/// Integer power with an integer exponent: square and multiply modulo 2^64 (the low bits are the
/// wrapped result for every width); negative exponents truncate 1 / base^|e| toward zero.
template <class T>
RTX_DEVICE inline T int_pow(T base, long long e) {
  if (e < 0) {
    if (base == T(1)) return T(1);
    if constexpr (!kSame<T, unsigned char>) {
      if (base == T(-1)) return (e % 2 == 0) ? T(1) : T(-1);
    }
    return T(0);
  }
  unsigned long long result = 1;
  unsigned long long b = static_cast<unsigned long long>(static_cast<long long>(base));
  for (unsigned long long k = static_cast<unsigned long long>(e); k != 0; k >>= 1) {
    if (k & 1) result *= b;
    b *= b;
  }
  return static_cast<T>(result);
}

/// Integer base, floating exponent: numpy's rule, the double power truncated toward zero (and
/// saturated). CUDA's pow is only within 2 ulp, so pow(-3.0, 1.0) may come out as
/// -2.9999999999999996 and truncate to -2: an integral exponent whose result is exact in double
/// (|result| < 2^53) takes the exact integer power instead.
RTX_DEVICE inline long long int_base_pow(long long base, double e) {
  const double p = pow(static_cast<double>(base), e);
  if (e >= 0.0 && e == floor(e) && fabs(p) < 9.0e15) return int_pow<long long>(base, static_cast<long long>(e));
  return truncate_to_int<long long>(p);
}

/// Round half to even then saturate to [lo, hi]; NaN -> 0 (QuantizeLinear's integer rule before
/// the zero point is added).
RTX_DEVICE inline long long round_half_even_clamped(double q, long long lo, long long hi) {
  if (q != q) return 0;
  const double r = rint(q);  // round to nearest even in the default rounding mode
  if (r <= static_cast<double>(lo)) return lo;
  if (r >= static_cast<double>(hi)) return hi;
  return __double2ll_rn(r);
}

/// QuantizeLinear's x / scale carried out in precision P (float, double, __half or
/// __nv_bfloat16): both operands are rounded to P and the quotient is rounded once to P, as the
/// reference evaluator (and ONNX's) does. Returned widened to double.
template <class P, class X, class S>
RTX_DEVICE inline double quantize_divide(X x, S s) {
  if constexpr (kSame<P, float>) {
    return static_cast<double>(cast<float>(x) / cast<float>(s));  // IEEE division: one rounding
  } else if constexpr (kSame<P, double>) {
    return cast<double>(x) / cast<double>(s);
  } else {
    // The exact quotient of two 16-bit floats rounded to double and then to P equals the
    // quotient rounded once to P (double carries more than 2 * 11 + 2 bits).
    const double q = cast<double>(cast<P>(x)) / cast<double>(cast<P>(s));
    return cast<double>(cast<P>(q));
  }
}

/// QuantizeLinear to an integer type: round half to even, add the zero point, saturate to T's
/// range; NaN quantizes to the zero point. (Clamping to +-2^32 first keeps the addition exact
/// without changing the saturated result.)
/// kBits < 8: a 4-bit type held in T (int4 in signed char: -8..7; uint4 in unsigned char: 0..15).
template <class T, int kBits = 8>
RTX_DEVICE inline T quantize_int(double q, long long zero_point) {
  long long r = round_half_even_clamped(q, -(1LL << 32), 1LL << 32) + zero_point;
  constexpr long long kLo = kBits == 8 ? IntRange<T>::kLo : (IntRange<T>::kLo < 0 ? -(1LL << (kBits - 1)) : 0);
  constexpr long long kHi = kBits == 8 ? IntRange<T>::kHi : (kLo < 0 ? (1LL << (kBits - 1)) - 1 : (1LL << kBits) - 1);
  if (r < kLo) r = kLo;
  if (r > kHi) r = kHi;
  return static_cast<T>(r);
}

}  // namespace rtx::kernels
