// SPDX-License-Identifier: Apache-2.0
// Compile-time vocabulary of the typed front end: which element types each layer accepts, the
// "is this a Tensor" concept, and the shared checks whose static_assert messages tell the user
// what to write instead. Internal: reached through <rtx/rtx.hpp>, <rtx/network.hpp> or
// <rtx/layers.hpp>. Kept flat (constexpr bools and one concept, no trait towers) so that
// instantiating a layer costs the compiler little.
#pragma once

#if !defined(RTX_INTERNAL) && !defined(RTX_DETAIL_ALLOWED)
#error "rtx: rtx/detail headers are internal; include <rtx/rtx.hpp> instead"
#endif

#include <type_traits>

#include "rtx/types.hpp"

namespace rtx {

template <DTypeTagType T, int Rank>
class Tensor;

namespace detail {

template <class X>
struct IsTensor : std::false_type {};
template <class T, int Rank>
struct IsTensor<Tensor<T, Rank>> : std::true_type {};

/// f64, f32, f16, bf16: the types arithmetic, activations and normalisations compute in.
template <class T>
inline constexpr bool is_compute_float_v =
    T::value == DataType::kF64 || T::value == DataType::kF32 || T::value == DataType::kF16 ||
    T::value == DataType::kBF16;

/// int8, uint8, int32, int64: integer types with ordinary arithmetic.
template <class T>
inline constexpr bool is_plain_int_v =
    T::value == DataType::kINT8 || T::value == DataType::kUINT8 || T::value == DataType::kINT32 ||
    T::value == DataType::kINT64;

/// Types add/sub/mul/div/max/min/comparisons accept.
template <class T>
inline constexpr bool is_arithmetic_v = is_compute_float_v<T> || is_plain_int_v<T>;

/// fp8, fp4 and 4-bit integers: storage formats produced by quantize, read by dequantize.
template <class T>
inline constexpr bool is_storage_only_v =
    T::value == DataType::kFP8E4M3 || T::value == DataType::kFP8E5M2 ||
    T::value == DataType::kFP4E2M1 || T::value == DataType::kINT4 || T::value == DataType::kUINT4;

template <class T>
inline constexpr bool is_bool_v = T::value == DataType::kBOOL;

/// Index types of gather.
template <class T>
inline constexpr bool is_index_v = T::value == DataType::kINT32 || T::value == DataType::kINT64;

constexpr int max_rank(int a, int b) {
  return a > b ? a : b;
}

// ---- shared checks (one place per message, so every layer says the same thing) ---------------

template <class A, class B>
constexpr void require_same_dtype() {
  static_assert(std::is_same_v<typename A::dtype_tag, typename B::dtype_tag>,
                "rtx: operands have different dtypes; use rtx::cast<T>(x) first");
}

template <class A>
constexpr void require_arithmetic() {
  static_assert(!is_bool_v<typename A::dtype_tag>,
                "rtx: arithmetic on a boolean tensor; use rtx::cast<T>(x) or rtx::where first");
  static_assert(!is_storage_only_v<typename A::dtype_tag>,
                "rtx: fp8, fp4 and 4-bit integer tensors are storage formats; use "
                "rtx::dequantize(x, scale) first");
  static_assert(is_arithmetic_v<typename A::dtype_tag>,
                "rtx: this layer needs a numeric tensor (f32, f16, bf16, f64, i8, u8, i32, i64)");
}

template <class A>
constexpr void require_float() {
  static_assert(!is_storage_only_v<typename A::dtype_tag>,
                "rtx: fp8, fp4 and 4-bit integer tensors are storage formats; use "
                "rtx::dequantize(x, scale) first");
  static_assert(is_compute_float_v<typename A::dtype_tag>,
                "rtx: this layer needs a floating-point tensor (f32, f16, bf16 or f64); use "
                "rtx::cast<rtx::f32>(x) first");
}

template <class A>
constexpr void require_bool() {
  static_assert(is_bool_v<typename A::dtype_tag>,
                "rtx: logical layers need rtx::boolean tensors; compare first (rtx::greater...)");
}

}  // namespace detail

/// True for every `rtx::Tensor<T, Rank>`: the layers take any Tensor and check dtype and rank
/// themselves, so misuse gives one readable message instead of an overload-resolution listing.
template <class X>
concept TensorType = detail::IsTensor<std::remove_cvref_t<X>>::value;

}  // namespace rtx
