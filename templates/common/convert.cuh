// SPDX-License-Identifier: Apache-2.0
// Element types and exact conversions between them, on the device. Every kernel family reads and
// writes storage types (float, __half, __nv_bfloat16, __nv_fp8_e4m3, __nv_fp8_e5m2, double,
// signed char, unsigned char, int, long long, bool) and computes in float (double for f64 data,
// the integer type itself for integers). `cast<To, kSaturate>(x)` converts with ONNX Cast's rules,
// the same ones the reference evaluator (include/rtx/numeric.hpp) applies:
//   - float -> float: round to nearest even; fp8 overflow saturates to +-max when kSaturate (the
//     ONNX default), else gives NaN (e4m3) or inf (e5m2); NaN stays NaN.
//   - float -> integer: truncate toward zero, saturate to the target's range, NaN -> 0.
//   - integer -> integer: wrap to the target's width (a C cast); anything -> bool: value != 0.
//   - integer -> float: correctly rounded (via the int64 conversion instructions).
// Nothing here allocates, loops or branches on data beyond the conversion itself.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "rtx/config.hpp"

namespace rtx::kernels {

// ---- type classification -----------------------------------------------------------------------

template <class A, class B>
inline constexpr bool kSame = RTX_STD::is_same_v<A, B>;

/// Integer storage types (bool excluded).
template <class T>
inline constexpr bool kIsInt = kSame<T, signed char> || kSame<T, unsigned char> ||
                               kSame<T, int> || kSame<T, long long>;

/// fp8 storage types.
template <class T>
inline constexpr bool kIsFp8 = kSame<T, __nv_fp8_e4m3> || kSame<T, __nv_fp8_e5m2>;

/// Floating storage types whose values decode exactly to float.
template <class T>
inline constexpr bool kIsFloatLike = kSame<T, float> || kSame<T, __half> ||
                                     kSame<T, __nv_bfloat16> || kIsFp8<T>;

/// The type arithmetic on T happens in: float for float-like storage, double for double, and
/// the type itself for integers and bool.
template <class T>
struct ComputeOf {
  using type = T;
};
template <>
struct ComputeOf<__half> {
  using type = float;
};
template <>
struct ComputeOf<__nv_bfloat16> {
  using type = float;
};
template <>
struct ComputeOf<__nv_fp8_e4m3> {
  using type = float;
};
template <>
struct ComputeOf<__nv_fp8_e5m2> {
  using type = float;
};
template <class T>
using Compute = typename ComputeOf<T>::type;

/// Inclusive range of an integer type (bool: [0, 1]).
template <class T>
struct IntRange;
template <>
struct IntRange<signed char> {
  static constexpr long long kLo = -128, kHi = 127;
};
template <>
struct IntRange<unsigned char> {
  static constexpr long long kLo = 0, kHi = 255;
};
template <>
struct IntRange<int> {
  static constexpr long long kLo = -2147483647LL - 1, kHi = 2147483647LL;
};
template <>
struct IntRange<long long> {
  static constexpr long long kLo = -9223372036854775807LL - 1, kHi = 9223372036854775807LL;
};
template <>
struct IntRange<bool> {
  static constexpr long long kLo = 0, kHi = 1;
};

// ---- decoding to float -------------------------------------------------------------------------

RTX_DEVICE inline float to_float(float x) {
  return x;
}
RTX_DEVICE inline float to_float(__half x) {
  return __half2float(x);
}
RTX_DEVICE inline float to_float(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
RTX_DEVICE inline float to_float(__nv_fp8_e4m3 x) {
  return static_cast<float>(x);
}
RTX_DEVICE inline float to_float(__nv_fp8_e5m2 x) {
  return static_cast<float>(x);
}

/// fp8 value from its bits.
template <class T>
RTX_DEVICE inline T fp8_from_bits(__nv_fp8_storage_t bits) {
  T r;
  r.__x = bits;
  return r;
}

template <class T>
inline constexpr __nv_fp8_interpretation_t kFp8Kind =
    kSame<T, __nv_fp8_e4m3> ? __NV_E4M3 : __NV_E5M2;

// ---- float/double -> integer: truncate toward zero, saturate, NaN -> 0 -------------------------

template <class To>
RTX_DEVICE inline To truncate_to_int(double v) {
  if (v != v) return To(0);
  // Compare in double: the bounds of every integer type up to int32 are exact; for int64 the
  // upper bound 2^63 is exact and anything at or above it saturates.
  if (v <= static_cast<double>(IntRange<To>::kLo)) return static_cast<To>(IntRange<To>::kLo);
  if (v >= static_cast<double>(IntRange<To>::kHi)) return static_cast<To>(IntRange<To>::kHi);
  return static_cast<To>(__double2ll_rz(v));
}

template <class To>
RTX_DEVICE inline To truncate_to_int(float v) {
  if (v != v) return To(0);
  if constexpr (kSame<To, long long>) {
    // 2^63 is exact in float; __float2ll_rz saturates at it as well.
    return __float2ll_rz(v);
  } else {
    const long long t = __float2ll_rz(v);  // |v| < 2^63 here or saturated: no UB
    if (t < IntRange<To>::kLo) return static_cast<To>(IntRange<To>::kLo);
    if (t > IntRange<To>::kHi) return static_cast<To>(IntRange<To>::kHi);
    return static_cast<To>(t);
  }
}

// ---- conversions from one source class ---------------------------------------------------------

template <class To, bool kSaturate>
RTX_DEVICE inline To from_float(float f) {
  if constexpr (kSame<To, float>) {
    return f;
  } else if constexpr (kSame<To, double>) {
    return static_cast<double>(f);
  } else if constexpr (kSame<To, __half>) {
    return __float2half_rn(f);
  } else if constexpr (kSame<To, __nv_bfloat16>) {
    return __float2bfloat16_rn(f);
  } else if constexpr (kIsFp8<To>) {
    return fp8_from_bits<To>(
        __nv_cvt_float_to_fp8(f, kSaturate ? __NV_SATFINITE : __NV_NOSAT, kFp8Kind<To>));
  } else if constexpr (kSame<To, bool>) {
    return f != 0.0f;  // NaN -> true, as a C++ conversion
  } else {
    static_assert(kIsInt<To>, "rtx: cast<To>: unsupported target type");
    return truncate_to_int<To>(f);
  }
}

template <class To, bool kSaturate>
RTX_DEVICE inline To from_double(double d) {
  if constexpr (kSame<To, double>) {
    return d;
  } else if constexpr (kSame<To, float>) {
    return __double2float_rn(d);
  } else if constexpr (kSame<To, __half>) {
    return __double2half(d);
  } else if constexpr (kSame<To, __nv_bfloat16>) {
    return __double2bfloat16(d);
  } else if constexpr (kIsFp8<To>) {
    return fp8_from_bits<To>(
        __nv_cvt_double_to_fp8(d, kSaturate ? __NV_SATFINITE : __NV_NOSAT, kFp8Kind<To>));
  } else if constexpr (kSame<To, bool>) {
    return d != 0.0;
  } else {
    static_assert(kIsInt<To>, "rtx: cast<To>: unsupported target type");
    return truncate_to_int<To>(d);
  }
}

template <class To, bool kSaturate>
RTX_DEVICE inline To from_int(long long v) {
  if constexpr (kSame<To, bool>) {
    return v != 0;
  } else if constexpr (kIsInt<To>) {
    // Two's complement wrap to the target width (modular conversion, as a C cast on every
    // CUDA target; ONNX Cast between integer types).
    return static_cast<To>(static_cast<unsigned long long>(v));
  } else if constexpr (kSame<To, float>) {
    return __ll2float_rn(v);
  } else if constexpr (kSame<To, double>) {
    return __ll2double_rn(v);
  } else if constexpr (kSame<To, __half>) {
    return __ll2half_rn(v);
  } else if constexpr (kSame<To, __nv_bfloat16>) {
    return __ll2bfloat16_rn(v);
  } else {
    static_assert(kIsFp8<To>, "rtx: cast<To>: unsupported target type");
    // Every int64 beyond 2^53 is far beyond the fp8 range, so rounding to double first is exact
    // where it matters.
    return fp8_from_bits<To>(__nv_cvt_double_to_fp8(
        __ll2double_rn(v), kSaturate ? __NV_SATFINITE : __NV_NOSAT, kFp8Kind<To>));
  }
}

/// Converts `x` to `To` with ONNX Cast semantics (see the file comment). kSaturate only affects
/// fp8 targets.
template <class To, bool kSaturate = true, class From>
RTX_DEVICE inline To cast(From x) {
  if constexpr (kSame<To, From>) {
    return x;
  } else if constexpr (kIsInt<From> || kSame<From, bool>) {
    return from_int<To, kSaturate>(static_cast<long long>(x));
  } else if constexpr (kSame<From, double>) {
    return from_double<To, kSaturate>(x);
  } else {
    static_assert(kIsFloatLike<From>, "rtx: cast<To>(x): unsupported source type");
    return from_float<To, kSaturate>(to_float(x));
  }
}

/// Loads a storage value into its compute type (exact).
template <class T>
RTX_DEVICE inline Compute<T> load_compute(T x) {
  return cast<Compute<T>>(x);
}

/// `v` (a compute value) rounded to storage type T and widened back: what an unfused graph would
/// hold after storing v as T.
template <class T, class C>
RTX_DEVICE inline C round_as(C v) {
  return cast<C>(cast<T>(v));
}

}  // namespace rtx::kernels
