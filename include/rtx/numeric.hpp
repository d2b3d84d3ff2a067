// SPDX-License-Identifier: Apache-2.0
// Exact scalar conversions between double and every element format rtx stores (f64, f32, f16,
// bf16, fp8 e4m3/e5m2, fp4 e2m1, packed int4/uint4, the integer types and bool). They are the
// ground truth of the reference evaluator and of every GPU-versus-reference test, so each
// conversion rounds once, directly from double (going through float would round twice), to
// nearest with ties to even, and follows the ONNX Cast rules (opset 19+ tables; ml_dtypes, which
// ONNX's reference implementation uses; CUDA's cuda_fp8.h/cuda_fp4.h agree) for saturation,
// infinities and NaN. Everything works on bit patterns with integer arithmetic: no dependence on
// the FPU rounding mode, no undefined float-to-narrower casts, and most functions are constexpr.
// Host only, header only.
//
// Rules in one place (|x| means the magnitude; "rounded" means rounded to the target precision
// with an unbounded exponent, i.e. the ONNX table's `[x]`):
//   f32/f16/bf16  rounded > max finite -> +-inf; NaN -> quiet NaN keeping the sign
//                 (f32 0x7FC00000, f16 0x7E00, bf16 0x7FC0; payloads are not kept).
//   fp8 e4m3fn    max 448, no inf. saturate: rounded > 448 and +-inf -> +-448 (0x7E/0xFE).
//                 !saturate: rounded > 448 and +-inf -> NaN with the sign (0x7F/0xFF).
//                 So 464 (the tie between 448 and the missing 480) gives 448 in both modes.
//                 NaN -> 0x7F / 0xFF (sign kept) in both modes.
//   fp8 e5m2      max 57344, inf 0x7C. saturate: rounded > 57344 and +-inf -> +-57344 (0x7B/0xFB).
//                 !saturate: -> +-inf. 61440 (the tie with 65536) overflows. NaN -> 0x7E/0xFE.
//   fp4 e2m1      max 6, no inf/NaN: always saturates (inf -> +-6); NaN -> +6 (0x7) whatever its
//                 sign, as ONNX's float4e2m1 cast and CUDA's __nv_cvt_double_to_fp4 do.
//   Every float format keeps the sign of zero, and of results that underflow to zero.
//   integers      double -> int: round half to even, then clamp to the type's range, NaN -> 0
//                 (QuantizeLinear's rule; ONNX Cast float -> int truncates instead: use
//                 truncate_saturate_int for that). int64 -> narrower int: wraps like a C cast.
//   bool          any nonzero value (NaN included) -> 1.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "rtx/types.hpp"

namespace rtx::numeric {

namespace detail {

inline constexpr uint64_t kF64Sign = uint64_t{1} << 63;
inline constexpr uint64_t kF64ExpMask = uint64_t{0x7FF} << 52;
inline constexpr uint64_t kF64FracMask = (uint64_t{1} << 52) - 1;

constexpr bool is_nan_bits(uint64_t bits) {
  return (bits & ~kF64Sign) > kF64ExpMask;
}
constexpr bool is_inf_bits(uint64_t bits) {
  return (bits & ~kF64Sign) == kF64ExpMask;
}

/// 2^k for k in [-1022, 1023], built from its bit pattern: exact and usable in constexpr.
constexpr double pow2(int k) {
  return std::bit_cast<double>(static_cast<uint64_t>(k + 1023) << 52);
}

constexpr double with_sign(bool negative, double magnitude) {
  return negative ? -magnitude : magnitude;
}

/// The default quiet NaN of double, with the requested sign.
constexpr double quiet_nan(bool negative) {
  return std::bit_cast<double>((negative ? kF64Sign : 0) | uint64_t{0x7FF8000000000000});
}

/// A binary floating-point format with an implicit leading bit and subnormals. Magnitude codes
/// (the bits without the sign) grow with the value, which the rounding below relies on.
struct MiniFloat {
  int man_bits;       ///< explicit fraction bits
  int bias;           ///< exponent bias; the smallest normal is 2^(1 - bias)
  uint64_t max_code;  ///< magnitude code of the largest finite value
};

inline constexpr MiniFloat kF32Format{23, 127, 0x7F7FFFFF};
inline constexpr MiniFloat kF16Format{10, 15, 0x7BFF};
inline constexpr MiniFloat kBF16Format{7, 127, 0x7F7F};
inline constexpr MiniFloat kE4M3Format{3, 7, 0x7E};
inline constexpr MiniFloat kE5M2Format{2, 15, 0x7B};
inline constexpr MiniFloat kE2M1Format{1, 1, 0x7};

/// Rounds a finite, non-negative double (given by its bits) to nearest, ties to even, in format
/// `f` as if its exponent range were unbounded above. Returns the magnitude code; a result above
/// `f.max_code` means overflow and the caller applies its format's rule. Subnormal results come
/// out right because below the smallest normal the quantum stays fixed at 2^(1 - bias - man_bits)
/// and a carry out of the subnormal range lands exactly on the smallest normal's code.
constexpr uint64_t round_magnitude(uint64_t abs_bits, MiniFloat f) {
  const uint64_t biased = abs_bits >> 52;
  // Zero or a double subnormal (< 2^-1022): far below half the smallest subnormal of any format
  // here (f32's is 2^-150), so it rounds to zero.
  if (biased == 0) return 0;
  const uint64_t significand = (abs_bits & kF64FracMask) | (uint64_t{1} << 52);
  const int exponent = static_cast<int>(biased) - 1023;
  const int min_exponent = 1 - f.bias;
  const int target_exponent = exponent > min_exponent ? exponent : min_exponent;
  const int shift = 52 - f.man_bits + (target_exponent - exponent);  // >= 29 for these formats
  uint64_t q = 0;
  if (shift < 64) {  // otherwise the value is below a quarter of the quantum: it rounds to zero
    q = significand >> shift;
    const uint64_t rest = significand & ((uint64_t{1} << shift) - 1);
    const uint64_t half = uint64_t{1} << (shift - 1);
    if (rest > half || (rest == half && (q & 1) != 0)) ++q;
  }
  // Normal: (exponent field - 1) << man_bits plus q in [2^m, 2^(m+1)], so a carry to 2^(m+1)
  // moves to the next binade by itself. Subnormal: the field part is 0 and the code is q.
  return (static_cast<uint64_t>(target_exponent + f.bias - 1) << f.man_bits) + q;
}

/// Value of a finite magnitude code of format `f`.
constexpr double decode_magnitude(uint64_t code, MiniFloat f) {
  const uint64_t field = code >> f.man_bits;
  const uint64_t fraction = code & ((uint64_t{1} << f.man_bits) - 1);
  if (field == 0) return static_cast<double>(fraction) * pow2(1 - f.bias - f.man_bits);
  return static_cast<double>(fraction | (uint64_t{1} << f.man_bits)) *
         pow2(static_cast<int>(field) - f.bias - f.man_bits);
}

/// int64 -> double rounded to odd (exact when |v| < 2^53). Rounding to odd at 53 bits and then
/// to nearest-even at 24 bits or fewer gives the same result as rounding once, so integer
/// conversions to f32/f16/bf16/fp8 stay exact even for integers beyond 2^53.
constexpr double int_to_double_round_odd(int64_t v) {
  const bool negative = v < 0;
  const uint64_t magnitude =
      negative ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  if ((magnitude >> 53) == 0) return with_sign(negative, static_cast<double>(magnitude));
  const int shift = std::bit_width(magnitude) - 53;
  uint64_t kept = magnitude >> shift;
  if ((magnitude & ((uint64_t{1} << shift) - 1)) != 0) kept |= 1;
  return with_sign(negative, static_cast<double>(kept) * pow2(shift));
}

template <class T>
inline T load(const std::byte* data, int64_t index) {
  T value;
  std::memcpy(&value, data + index * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return value;
}

template <class T>
inline void store(std::byte* data, int64_t index, T value) {
  std::memcpy(data + index * static_cast<int64_t>(sizeof(T)), &value, sizeof(T));
}

}  // namespace detail

// ---- IEEE binary32 / binary16 / bfloat16 ------------------------------------------------------

/// double -> binary32, round to nearest even; overflow -> +-inf; NaN -> quiet NaN with its sign.
/// Same result as `static_cast<float>` on IEEE hardware, but defined for every input (the C++
/// cast is undefined for finite values beyond float's range).
constexpr float f32_from_double(double x) {
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  const uint32_t sign = static_cast<uint32_t>(bits >> 32) & 0x80000000u;
  if (detail::is_nan_bits(bits)) return std::bit_cast<float>(sign | 0x7FC00000u);
  uint64_t code = detail::round_magnitude(bits & ~detail::kF64Sign, detail::kF32Format);
  if (code > detail::kF32Format.max_code) code = 0x7F800000u;  // inf
  return std::bit_cast<float>(sign | static_cast<uint32_t>(code));
}

/// double -> IEEE binary16 bits, round to nearest even from double directly; overflow (65520 and
/// above) -> +-inf (0x7C00); subnormals down to 2^-24; NaN -> 0x7E00 | sign.
constexpr uint16_t f16_from_double(double x) {
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  const uint16_t sign = static_cast<uint16_t>((bits >> 48) & 0x8000u);
  if (detail::is_nan_bits(bits)) return static_cast<uint16_t>(sign | 0x7E00u);
  uint64_t code = detail::round_magnitude(bits & ~detail::kF64Sign, detail::kF16Format);
  if (code > detail::kF16Format.max_code) code = 0x7C00u;
  return static_cast<uint16_t>(sign | code);
}

/// IEEE binary16 bits -> double (exact). NaN codes give a quiet NaN with the code's sign.
constexpr double f16_to_double(uint16_t bits) {
  const bool negative = (bits & 0x8000u) != 0;
  const uint16_t magnitude = bits & 0x7FFFu;
  if (magnitude > 0x7C00u) return detail::quiet_nan(negative);
  if (magnitude == 0x7C00u) {
    return detail::with_sign(negative, std::numeric_limits<double>::infinity());
  }
  return detail::with_sign(negative, detail::decode_magnitude(magnitude, detail::kF16Format));
}

/// double -> bfloat16 bits, round to nearest even from double directly; overflow -> +-inf
/// (0x7F80); NaN -> 0x7FC0 | sign.
constexpr uint16_t bf16_from_double(double x) {
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  const uint16_t sign = static_cast<uint16_t>((bits >> 48) & 0x8000u);
  if (detail::is_nan_bits(bits)) return static_cast<uint16_t>(sign | 0x7FC0u);
  uint64_t code = detail::round_magnitude(bits & ~detail::kF64Sign, detail::kBF16Format);
  if (code > detail::kBF16Format.max_code) code = 0x7F80u;
  return static_cast<uint16_t>(sign | code);
}

/// bfloat16 bits -> double (exact). NaN codes give a quiet NaN with the code's sign.
constexpr double bf16_to_double(uint16_t bits) {
  const bool negative = (bits & 0x8000u) != 0;
  const uint16_t magnitude = bits & 0x7FFFu;
  if (magnitude > 0x7F80u) return detail::quiet_nan(negative);
  if (magnitude == 0x7F80u) {
    return detail::with_sign(negative, std::numeric_limits<double>::infinity());
  }
  return detail::with_sign(negative, detail::decode_magnitude(magnitude, detail::kBF16Format));
}

// ---- OCP 8-bit floating point -----------------------------------------------------------------

/// double -> fp8 e4m3fn (bias 7, no inf, S.1111.111 is NaN, max 448), round to nearest even.
/// saturate (ONNX Cast default): values whose rounding exceeds 448, and +-inf, give +-448.
/// !saturate: they give NaN with the input's sign (0x7F / 0xFF). NaN -> 0x7F / 0xFF.
constexpr uint8_t fp8e4m3_from_double(double x, bool saturate = true) {
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  const uint8_t sign = static_cast<uint8_t>((bits >> 56) & 0x80u);
  if (detail::is_nan_bits(bits)) return static_cast<uint8_t>(sign | 0x7Fu);
  uint64_t code = detail::round_magnitude(bits & ~detail::kF64Sign, detail::kE4M3Format);
  if (code > detail::kE4M3Format.max_code) code = saturate ? 0x7Eu : 0x7Fu;
  return static_cast<uint8_t>(sign | code);
}

/// fp8 e4m3fn bits -> double (exact). 0x7F / 0xFF give a quiet NaN with that sign.
constexpr double fp8e4m3_to_double(uint8_t bits) {
  const bool negative = (bits & 0x80u) != 0;
  const uint8_t magnitude = bits & 0x7Fu;
  if (magnitude == 0x7Fu) return detail::quiet_nan(negative);
  return detail::with_sign(negative, detail::decode_magnitude(magnitude, detail::kE4M3Format));
}

/// double -> fp8 e5m2 (bias 15, IEEE-like: inf S.11111.00, NaN S.11111.{01,10,11}, max 57344),
/// round to nearest even. saturate (ONNX Cast default): values whose rounding exceeds 57344 (so
/// 61440 and above), and +-inf, give +-57344. !saturate: they give +-inf. NaN -> 0x7E | sign.
constexpr uint8_t fp8e5m2_from_double(double x, bool saturate = true) {
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  const uint8_t sign = static_cast<uint8_t>((bits >> 56) & 0x80u);
  if (detail::is_nan_bits(bits)) return static_cast<uint8_t>(sign | 0x7Eu);
  uint64_t code = detail::round_magnitude(bits & ~detail::kF64Sign, detail::kE5M2Format);
  if (code > detail::kE5M2Format.max_code) code = saturate ? 0x7Bu : 0x7Cu;
  return static_cast<uint8_t>(sign | code);
}

/// fp8 e5m2 bits -> double (exact); 0x7C/0xFC are +-inf, 0x7D..0x7F (and negatives) NaN.
constexpr double fp8e5m2_to_double(uint8_t bits) {
  const bool negative = (bits & 0x80u) != 0;
  const uint8_t magnitude = bits & 0x7Fu;
  if (magnitude > 0x7Cu) return detail::quiet_nan(negative);
  if (magnitude == 0x7Cu) {
    return detail::with_sign(negative, std::numeric_limits<double>::infinity());
  }
  return detail::with_sign(negative, detail::decode_magnitude(magnitude, detail::kE5M2Format));
}

// ---- OCP MX 4-bit floating point --------------------------------------------------------------

/// double -> fp4 e2m1 nibble (values +-{0, 0.5, 1, 1.5, 2, 3, 4, 6}; sign is bit 3), round to
/// nearest even (so 0.25 -> 0, 0.75 -> 1, 1.25 -> 1, 1.75 -> 2, 2.5 -> 2, 3.5 -> 4, 5 -> 4);
/// always saturating: |x| >= 7 and +-inf give +-6. The format has no NaN: NaN gives +6 (0x7).
constexpr uint8_t fp4e2m1_from_double(double x) {
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  if (detail::is_nan_bits(bits)) return 0x7u;
  const uint8_t sign = static_cast<uint8_t>((bits >> 60) & 0x8u);
  uint64_t code = detail::round_magnitude(bits & ~detail::kF64Sign, detail::kE2M1Format);
  if (code > detail::kE2M1Format.max_code) code = detail::kE2M1Format.max_code;
  return static_cast<uint8_t>(sign | code);
}

/// fp4 e2m1 nibble (bits above the low four are ignored) -> double (exact).
constexpr double fp4e2m1_to_double(uint8_t nibble) {
  const bool negative = (nibble & 0x8u) != 0;
  return detail::with_sign(negative, detail::decode_magnitude(nibble & 0x7u, detail::kE2M1Format));
}

// ---- integers ---------------------------------------------------------------------------------

/// Nearest integer, ties to even (2.5 -> 2, -2.5 -> -2, 3.5 -> 4); saturates to the int64
/// range; NaN -> 0.
constexpr int64_t round_half_even(double x) {
  if (x != x) return 0;
  if (x >= 0x1p63) return std::numeric_limits<int64_t>::max();
  if (x < -0x1p63) return std::numeric_limits<int64_t>::min();  // -2^63 itself is exact below
  // From 2^52 up every double is an integer, and the C++ conversion below is exact.
  if (x >= 0x1p52 || x <= -0x1p52) return static_cast<int64_t>(x);
  int64_t t = static_cast<int64_t>(x);                 // toward zero
  const double fraction = x - static_cast<double>(t);  // exact: |x| < 2^52
  if (fraction > 0.5 || (fraction == 0.5 && (t & 1) != 0)) ++t;
  if (fraction < -0.5 || (fraction == -0.5 && (t & 1) != 0)) --t;
  return t;
}

/// Round half to even, then clamp to [lo, hi]; NaN -> 0. QuantizeLinear's rule for integer
/// outputs, and `encode`'s for every integer type.
constexpr int64_t saturate_int(double x, int64_t lo, int64_t hi) {
  const int64_t r = round_half_even(x);
  return r < lo ? lo : (r > hi ? hi : r);
}

/// Truncate toward zero (a C cast's rounding, which ONNX Cast float -> int uses), then clamp to
/// [lo, hi]; NaN -> 0. The clamp makes the out-of-range case, undefined in ONNX and C++, defined.
constexpr int64_t truncate_saturate_int(double x, int64_t lo, int64_t hi) {
  int64_t r = 0;
  if (x != x) {
    r = 0;
  } else if (x >= 0x1p63) {
    r = std::numeric_limits<int64_t>::max();
  } else if (x < -0x1p63) {
    r = std::numeric_limits<int64_t>::min();
  } else {
    r = static_cast<int64_t>(x);
  }
  return r < lo ? lo : (r > hi ? hi : r);
}

/// Inclusive value range of an integer type.
struct IntRange {
  int64_t lo;  ///< smallest value
  int64_t hi;  ///< largest value
};

/// Range of an integer or bool type: int4 [-8, 7], uint4 [0, 15], int8, uint8, int32, int64,
/// bool [0, 1]. Floating types give the int64 range (no clamp beyond int64).
constexpr IntRange int_range(DataType t) {
  switch (t) {
    case DataType::kINT4:
      return {-8, 7};
    case DataType::kUINT4:
      return {0, 15};
    case DataType::kINT8:
      return {-128, 127};
    case DataType::kUINT8:
      return {0, 255};
    case DataType::kINT32:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    case DataType::kBOOL:
      return {0, 1};
    case DataType::kINT64:
    case DataType::kF32:
    case DataType::kF16:
    case DataType::kBF16:
    case DataType::kFP8E4M3:
    case DataType::kFP8E5M2:
    case DataType::kFP4E2M1:
    case DataType::kF64:
      break;
  }
  return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
}

// ---- 4-bit packing ----------------------------------------------------------------------------

/// Element `index` of a packed 4-bit array: byte index / 2, low nibble for even indices.
constexpr uint8_t get_nibble(const uint8_t* data, int64_t index) {
  const uint8_t byte = data[index / 2];
  return static_cast<uint8_t>((index % 2) != 0 ? (byte >> 4) : (byte & 0x0Fu));
}

/// Writes element `index` of a packed 4-bit array (only the low 4 bits of `nibble`), leaving
/// the other nibble of the byte untouched.
constexpr void set_nibble(uint8_t* data, int64_t index, uint8_t nibble) {
  uint8_t& byte = data[index / 2];
  const unsigned n = nibble & 0x0Fu;
  byte =
      static_cast<uint8_t>((index % 2) != 0 ? ((byte & 0x0Fu) | (n << 4)) : ((byte & 0xF0u) | n));
}

/// Two's complement value of a 4-bit nibble: 0..7 -> 0..7, 8..15 -> -8..-1.
constexpr int8_t int4_from_nibble(uint8_t nibble) {
  return static_cast<int8_t>(static_cast<int>((nibble & 0x0Fu) ^ 0x08u) - 8);
}

// ---- any DataType -----------------------------------------------------------------------------

/// Element `index` of an array of type `t` as a double: exact for every type except int64
/// values beyond 2^53 (rounded to nearest even). Multi-byte elements are in host byte order.
/// bool reads any nonzero byte as 1. An unknown type gives NaN.
inline double decode(DataType t, const std::byte* data, int64_t index) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  switch (t) {
    case DataType::kF64:
      return detail::load<double>(data, index);
    case DataType::kF32:
      return static_cast<double>(detail::load<float>(data, index));
    case DataType::kF16:
      return f16_to_double(detail::load<uint16_t>(data, index));
    case DataType::kBF16:
      return bf16_to_double(detail::load<uint16_t>(data, index));
    case DataType::kFP8E4M3:
      return fp8e4m3_to_double(bytes[index]);
    case DataType::kFP8E5M2:
      return fp8e5m2_to_double(bytes[index]);
    case DataType::kFP4E2M1:
      return fp4e2m1_to_double(get_nibble(bytes, index));
    case DataType::kINT4:
      return int4_from_nibble(get_nibble(bytes, index));
    case DataType::kUINT4:
      return get_nibble(bytes, index);
    case DataType::kINT8:
      return detail::load<int8_t>(data, index);
    case DataType::kUINT8:
      return bytes[index];
    case DataType::kINT32:
      return detail::load<int32_t>(data, index);
    case DataType::kINT64:
      return static_cast<double>(detail::load<int64_t>(data, index));
    case DataType::kBOOL:
      return bytes[index] != 0 ? 1.0 : 0.0;
  }
  return detail::quiet_nan(false);
}

/// Writes `value` as element `index` of an array of type `t`, with the rules at the top of this
/// file: floats round to nearest even (fp8 overflow per `saturate`, ONNX's attribute, which
/// affects nothing else); integers round half to even and clamp, NaN -> 0; bool is value != 0.
/// 4-bit types rewrite only their nibble. An unknown type writes nothing.
inline void encode(DataType t, std::byte* data, int64_t index, double value, bool saturate = true) {
  auto* bytes = reinterpret_cast<uint8_t*>(data);
  switch (t) {
    case DataType::kF64:
      detail::store<double>(data, index, value);
      return;
    case DataType::kF32:
      detail::store<float>(data, index, f32_from_double(value));
      return;
    case DataType::kF16:
      detail::store<uint16_t>(data, index, f16_from_double(value));
      return;
    case DataType::kBF16:
      detail::store<uint16_t>(data, index, bf16_from_double(value));
      return;
    case DataType::kFP8E4M3:
      bytes[index] = fp8e4m3_from_double(value, saturate);
      return;
    case DataType::kFP8E5M2:
      bytes[index] = fp8e5m2_from_double(value, saturate);
      return;
    case DataType::kFP4E2M1:
      set_nibble(bytes, index, fp4e2m1_from_double(value));
      return;
    case DataType::kINT4:
      set_nibble(bytes, index, static_cast<uint8_t>(saturate_int(value, -8, 7) & 0x0F));
      return;
    case DataType::kUINT4:
      set_nibble(bytes, index, static_cast<uint8_t>(saturate_int(value, 0, 15)));
      return;
    case DataType::kINT8:
      detail::store<int8_t>(data, index, static_cast<int8_t>(saturate_int(value, -128, 127)));
      return;
    case DataType::kUINT8:
      bytes[index] = static_cast<uint8_t>(saturate_int(value, 0, 255));
      return;
    case DataType::kINT32: {
      const IntRange r = int_range(DataType::kINT32);
      detail::store<int32_t>(data, index, static_cast<int32_t>(saturate_int(value, r.lo, r.hi)));
      return;
    }
    case DataType::kINT64:
      detail::store<int64_t>(data, index, round_half_even(value));
      return;
    case DataType::kBOOL:
      bytes[index] = value != 0.0 ? 1 : 0;
      return;
  }
}

/// Element `index` of an array of type `t` as an integer: exact for the integer types and bool
/// (nonzero byte -> 1); floating types are decoded and truncated toward zero like a C cast,
/// clamped to the int64 range, NaN -> 0 (see truncate_saturate_int).
inline int64_t decode_int(DataType t, const std::byte* data, int64_t index) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  switch (t) {
    case DataType::kINT4:
      return int4_from_nibble(get_nibble(bytes, index));
    case DataType::kUINT4:
      return get_nibble(bytes, index);
    case DataType::kINT8:
      return detail::load<int8_t>(data, index);
    case DataType::kUINT8:
      return bytes[index];
    case DataType::kINT32:
      return detail::load<int32_t>(data, index);
    case DataType::kINT64:
      return detail::load<int64_t>(data, index);
    case DataType::kBOOL:
      return bytes[index] != 0 ? 1 : 0;
    case DataType::kF64:
    case DataType::kF32:
    case DataType::kF16:
    case DataType::kBF16:
    case DataType::kFP8E4M3:
    case DataType::kFP8E5M2:
    case DataType::kFP4E2M1:
      break;
  }
  const IntRange r = int_range(DataType::kINT64);
  return truncate_saturate_int(decode(t, data, index), r.lo, r.hi);
}

/// Writes integer `value` as element `index` of type `t`. Integer types wrap to their width like
/// a C cast (200 -> int8 -56; int4/uint4 keep the low 4 bits); bool is value != 0; int64 is
/// exact. Floating types get the correctly rounded value (one rounding, even for |value| > 2^53),
/// with `saturate` applying to fp8 as in `encode`.
inline void encode_int(DataType t, std::byte* data, int64_t index, int64_t value,
                       bool saturate = true) {
  auto* bytes = reinterpret_cast<uint8_t*>(data);
  switch (t) {
    case DataType::kINT4:
    case DataType::kUINT4:
      set_nibble(bytes, index, static_cast<uint8_t>(value & 0x0F));
      return;
    case DataType::kINT8:
      detail::store<int8_t>(data, index, static_cast<int8_t>(value));
      return;
    case DataType::kUINT8:
      bytes[index] = static_cast<uint8_t>(value);
      return;
    case DataType::kINT32:
      detail::store<int32_t>(data, index, static_cast<int32_t>(value));
      return;
    case DataType::kINT64:
      detail::store<int64_t>(data, index, value);
      return;
    case DataType::kBOOL:
      bytes[index] = value != 0 ? 1 : 0;
      return;
    case DataType::kF64:
      detail::store<double>(data, index, static_cast<double>(value));
      return;
    case DataType::kF32:
    case DataType::kF16:
    case DataType::kBF16:
    case DataType::kFP8E4M3:
    case DataType::kFP8E5M2:
    case DataType::kFP4E2M1:
      encode(t, data, index, detail::int_to_double_round_odd(value), saturate);
      return;
  }
}

}  // namespace rtx::numeric
