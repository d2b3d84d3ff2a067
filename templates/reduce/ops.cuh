// SPDX-License-Identifier: Apache-2.0
// Reduction operators for reduce/reduce.cuh. Each op over input element type T defines
//   State                         the partial result (what split passes write to the workspace)
//   identity()                    the state of an empty reduction
//   load(T x, long long index)    the state of one element (index: position along the reduction)
//   combine(State a, State b)     associative and commutative merge
//   finish(State s, long long n)  the final value (n: elements in the whole reduction)
// Semantics follow the reference evaluator (ir/ops/reduction.cpp): floating sums and products
// accumulate in float (double for f64) and round once; integers accumulate in int64 with two's
// complement wrap-around, so narrower results equal the reference's wrapped int64 result; Max
// and Min propagate NaN; the mean of an empty set is NaN (integers: 0); an empty Max is -inf
// (integers: the type's minimum); ArgMax/ArgMin take NaN as the extremum and break ties toward
// the first index (the last with kLast, ONNX select_last_index).
//
// Name-expression forms: "rtx::kernels::SumOp<__half>", "rtx::kernels::MeanOp<float>",
// "rtx::kernels::ProdOp<int>", "rtx::kernels::MaxOp<signed char>", "rtx::kernels::MinOp<bool>",
// "rtx::kernels::ArgMaxOp<__nv_bfloat16, false>", "rtx::kernels::ArgMinOp<long long, true>".
#pragma once

#include "common/convert.cuh"
#include "common/math.cuh"
#include "common/reduce.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels {

/// Accumulator type for input type T.
template <class T>
struct AccOfT {
  using type = long long;  // integers and bool
};
template <>
struct AccOfT<float> {
  using type = float;
};
template <>
struct AccOfT<__half> {
  using type = float;
};
template <>
struct AccOfT<__nv_bfloat16> {
  using type = float;
};
template <>
struct AccOfT<__nv_fp8_e4m3> {
  using type = float;
};
template <>
struct AccOfT<__nv_fp8_e5m2> {
  using type = float;
};
template <>
struct AccOfT<double> {
  using type = double;
};
template <class T>
using AccOf = typename AccOfT<T>::type;

template <class T>
inline constexpr bool kIntegral = kIsInt<T> || kSame<T, bool>;

template <class T>
RTX_DEVICE inline AccOf<T> lowest_of() {
  if constexpr (kIntegral<T>) {
    return IntRange<T>::kLo;
  } else if constexpr (kSame<AccOf<T>, double>) {
    return -__longlong_as_double(0x7ff0000000000000LL);
  } else {
    return -__int_as_float(0x7f800000);
  }
}
template <class T>
RTX_DEVICE inline AccOf<T> highest_of() {
  if constexpr (kIntegral<T>) {
    return IntRange<T>::kHi;
  } else if constexpr (kSame<AccOf<T>, double>) {
    return __longlong_as_double(0x7ff0000000000000LL);
  } else {
    return __int_as_float(0x7f800000);
  }
}

template <class T>
struct SumOp {
  using Acc = AccOf<T>;
  using State = Acc;
  RTX_DEVICE State identity() const { return State(0); }
  RTX_DEVICE State load(T x, long long) const { return cast<Acc>(x); }
  RTX_DEVICE State combine(State a, State b) const {
    if constexpr (kIntegral<T>) {
      return wrap_add(a, b);
    } else {
      return a + b;
    }
  }
  RTX_DEVICE Acc finish(State s, long long) const { return s; }
};

template <class T>
struct MeanOp : SumOp<T> {
  using Acc = AccOf<T>;
  using State = Acc;
  RTX_DEVICE Acc finish(State s, long long n) const {
    if constexpr (kIntegral<T>) {
      return n == 0 ? Acc(0) : s / n;  // truncates toward zero, like the reference
    } else {
      return s / static_cast<Acc>(n);  // n == 0: 0 / 0 = NaN
    }
  }
};

template <class T>
struct ProdOp {
  using Acc = AccOf<T>;
  using State = Acc;
  RTX_DEVICE State identity() const { return State(1); }
  RTX_DEVICE State load(T x, long long) const { return cast<Acc>(x); }
  RTX_DEVICE State combine(State a, State b) const {
    if constexpr (kIntegral<T>) {
      return wrap_mul(a, b);
    } else {
      return a * b;
    }
  }
  RTX_DEVICE Acc finish(State s, long long) const { return s; }
};

template <class T>
struct MaxOp {
  using Acc = AccOf<T>;
  using State = Acc;
  RTX_DEVICE State identity() const { return lowest_of<T>(); }
  RTX_DEVICE State load(T x, long long) const { return cast<Acc>(x); }
  RTX_DEVICE State combine(State a, State b) const { return nan_max(a, b); }
  RTX_DEVICE Acc finish(State s, long long) const { return s; }
};

template <class T>
struct MinOp {
  using Acc = AccOf<T>;
  using State = Acc;
  RTX_DEVICE State identity() const { return highest_of<T>(); }
  RTX_DEVICE State load(T x, long long) const { return cast<Acc>(x); }
  RTX_DEVICE State combine(State a, State b) const { return nan_min(a, b); }
  RTX_DEVICE Acc finish(State s, long long) const { return s; }
};

/// Value and index of an arg-extremum candidate; index < 0 marks the empty state.
template <class Acc>
struct ArgState {
  Acc value;
  long long index;
};

template <class Acc>
RTX_DEVICE inline ArgState<Acc> shuffle_xor(ArgState<Acc> s, int m) {
  return ArgState<Acc>{shuffle_xor(s.value, m), shuffle_xor(s.index, m)};
}

template <class T, bool kMax, bool kLast>
struct ArgOp {
  using Acc = AccOf<T>;
  using State = ArgState<Acc>;
  RTX_DEVICE State identity() const { return State{Acc(0), -1}; }
  RTX_DEVICE State load(T x, long long index) const { return State{cast<Acc>(x), index}; }
  RTX_DEVICE State by_index(State a, State b) const {
    return (kLast ? a.index > b.index : a.index < b.index) ? a : b;
  }
  RTX_DEVICE State combine(State a, State b) const {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    const bool a_nan = a.value != a.value, b_nan = b.value != b.value;  // false for integers
    if (a_nan || b_nan) return a_nan && b_nan ? by_index(a, b) : (a_nan ? a : b);
    if (kMax ? a.value > b.value : a.value < b.value) return a;
    if (kMax ? b.value > a.value : b.value < a.value) return b;
    return by_index(a, b);
  }
  RTX_DEVICE long long finish(State s, long long) const { return s.index; }
};

template <class T, bool kLast>
struct ArgMaxOp : ArgOp<T, true, kLast> {};
template <class T, bool kLast>
struct ArgMinOp : ArgOp<T, false, kLast> {};

}  // namespace rtx::kernels
