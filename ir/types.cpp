// SPDX-License-Identifier: Apache-2.0
// DataType names: rtx's short spellings and the ONNX spellings accepted on input.
#include <array>
#include <utility>

#include "rtx/types.hpp"

namespace rtx {

std::string_view to_string(DataType t) {
  switch (t) {
    case DataType::kF64: return "f64";
    case DataType::kF32: return "f32";
    case DataType::kF16: return "f16";
    case DataType::kBF16: return "bf16";
    case DataType::kFP8E4M3: return "fp8e4m3";
    case DataType::kFP8E5M2: return "fp8e5m2";
    case DataType::kFP4E2M1: return "fp4e2m1";
    case DataType::kINT4: return "i4";
    case DataType::kUINT4: return "u4";
    case DataType::kINT8: return "i8";
    case DataType::kUINT8: return "u8";
    case DataType::kINT32: return "i32";
    case DataType::kINT64: return "i64";
    case DataType::kBOOL: return "bool";
  }
  return "?";
}

std::optional<DataType> data_type_from_string(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, DataType>, 26> kAliases = {{
      {"double", DataType::kF64},       {"float64", DataType::kF64},
      {"float", DataType::kF32},        {"float32", DataType::kF32},
      {"float16", DataType::kF16},      {"half", DataType::kF16},
      {"bfloat16", DataType::kBF16},    {"float8e4m3fn", DataType::kFP8E4M3},
      {"fp8", DataType::kFP8E4M3},      {"float8e5m2", DataType::kFP8E5M2},
      {"float4e2m1", DataType::kFP4E2M1}, {"fp4", DataType::kFP4E2M1},
      {"int4", DataType::kINT4},        {"uint4", DataType::kUINT4},
      {"int8", DataType::kINT8},        {"uint8", DataType::kUINT8},
      {"int32", DataType::kINT32},      {"int64", DataType::kINT64},
      {"int", DataType::kINT32},        {"boolean", DataType::kBOOL},
      {"f8e4m3", DataType::kFP8E4M3},   {"f8e5m2", DataType::kFP8E5M2},
      {"e4m3", DataType::kFP8E4M3},     {"e5m2", DataType::kFP8E5M2},
      {"s8", DataType::kINT8},          {"fp16", DataType::kF16},
  }};
  for (int i = 0; i < kDataTypeCount; ++i) {
    const auto t = static_cast<DataType>(i);
    if (to_string(t) == name) return t;
  }
  for (const auto& [alias, t] : kAliases)
    if (alias == name) return t;
  return std::nullopt;
}

}  // namespace rtx
