// SPDX-License-Identifier: Apache-2.0
// Data types known to rtx: the runtime enum `DataType` with names and bit widths, and the tag
// types (`rtx::f16`, `rtx::fp8e4m3`, ...) that the typed front end carries in `Tensor<T, Rank>`.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

namespace rtx {

/// Element types of tensors. The numeric values are part of the engine format: never reorder.
enum class DataType : uint8_t {
  kF32 = 0,
  kF16 = 1,
  kBF16 = 2,
  kFP8E4M3 = 3,  ///< OCP fp8 e4m3fn: no infinities, one NaN pattern per sign, max 448
  kFP8E5M2 = 4,  ///< OCP fp8 e5m2: IEEE-like, infinities and NaNs, max 57344
  kFP4E2M1 = 5,  ///< OCP MX fp4 e2m1: no infinities or NaNs, max 6, packed two per byte
  kINT4 = 6,     ///< signed 4-bit, packed two per byte (low nibble first)
  kUINT4 = 7,    ///< unsigned 4-bit, packed two per byte (low nibble first)
  kINT8 = 8,
  kUINT8 = 9,
  kINT32 = 10,
  kINT64 = 11,
  kBOOL = 12,  ///< one byte per element, 0 or 1
  kF64 = 13,   ///< accepted on import and by the reference evaluator; no GPU kernels
};

inline constexpr int kDataTypeCount = 14;

/// Bits one element occupies in memory (4 for the packed 4-bit types).
constexpr int bit_width(DataType t) {
  switch (t) {
    case DataType::kF64:
    case DataType::kINT64: return 64;
    case DataType::kF32:
    case DataType::kINT32: return 32;
    case DataType::kF16:
    case DataType::kBF16: return 16;
    case DataType::kFP8E4M3:
    case DataType::kFP8E5M2:
    case DataType::kINT8:
    case DataType::kUINT8:
    case DataType::kBOOL: return 8;
    case DataType::kFP4E2M1:
    case DataType::kINT4:
    case DataType::kUINT4: return 4;
  }
  return 0;
}

/// Bytes needed for `count` elements (4-bit types round up to whole bytes).
constexpr uint64_t storage_bytes(DataType t, uint64_t count) {
  return (count * static_cast<uint64_t>(bit_width(t)) + 7) / 8;
}

constexpr bool is_floating(DataType t) {
  return t == DataType::kF64 || t == DataType::kF32 || t == DataType::kF16 ||
         t == DataType::kBF16 || t == DataType::kFP8E4M3 || t == DataType::kFP8E5M2 ||
         t == DataType::kFP4E2M1;
}
constexpr bool is_integer(DataType t) {
  return t == DataType::kINT4 || t == DataType::kUINT4 || t == DataType::kINT8 ||
         t == DataType::kUINT8 || t == DataType::kINT32 || t == DataType::kINT64;
}
/// Types that QuantizeLinear may produce and DequantizeLinear may consume.
constexpr bool is_quantized(DataType t) {
  return t == DataType::kINT8 || t == DataType::kUINT8 || t == DataType::kINT4 ||
         t == DataType::kUINT4 || t == DataType::kFP8E4M3 || t == DataType::kFP8E5M2 ||
         t == DataType::kFP4E2M1;
}

/// Short lower-case name used in messages, JSON metadata and the CLI ("f16", "fp8e4m3", ...).
std::string_view to_string(DataType t);
/// Inverse of to_string; also accepts ONNX spellings ("float16", "float8e4m3fn", "int4", ...).
std::optional<DataType> data_type_from_string(std::string_view name);

// ---- Tag types for the typed front end -------------------------------------------------------
// Each tag names one DataType; `Tensor<rtx::f16, 2>` is a rank-2 half tensor.
template <DataType T>
struct DTypeTag {
  static constexpr DataType value = T;
};
struct f64 : DTypeTag<DataType::kF64> {};
struct f32 : DTypeTag<DataType::kF32> {};
struct f16 : DTypeTag<DataType::kF16> {};
struct bf16 : DTypeTag<DataType::kBF16> {};
struct fp8e4m3 : DTypeTag<DataType::kFP8E4M3> {};
struct fp8e5m2 : DTypeTag<DataType::kFP8E5M2> {};
struct fp4e2m1 : DTypeTag<DataType::kFP4E2M1> {};
struct i4 : DTypeTag<DataType::kINT4> {};
struct u4 : DTypeTag<DataType::kUINT4> {};
struct i8 : DTypeTag<DataType::kINT8> {};
struct u8 : DTypeTag<DataType::kUINT8> {};
struct i32 : DTypeTag<DataType::kINT32> {};
struct i64 : DTypeTag<DataType::kINT64> {};
struct boolean : DTypeTag<DataType::kBOOL> {};

template <class T>
concept DTypeTagType = requires { T::value; } && std::is_same_v<std::remove_cv_t<decltype(T::value)>, DataType>;

}  // namespace rtx
