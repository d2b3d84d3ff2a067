// SPDX-License-Identifier: Apache-2.0
// The ONNX TensorProto.DataType table (onnx.proto, IR version 11 numbering).
#include "ir/onnx_dtype.hpp"

#include <array>
#include <string_view>

namespace rtx::ir {
namespace {

// Index = ONNX number. Stable: ONNX never renumbers its data types.
constexpr std::array<std::string_view, 27> kOnnxNames = {
    "UNDEFINED",      "FLOAT",      "UINT8",          "INT8",       "UINT16",   "INT16",
    "INT32",          "INT64",      "STRING",         "BOOL",       "FLOAT16",  "DOUBLE",
    "UINT32",         "UINT64",     "COMPLEX64",      "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
    "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4",      "INT4",     "FLOAT4E2M1",
    "FLOAT8E8M0",     "UINT2",      "INT2",
};

}  // namespace

std::optional<DataType> data_type_from_onnx(int64_t onnx_type) {
  switch (onnx_type) {
    case 1:
      return DataType::kF32;
    case 2:
      return DataType::kUINT8;
    case 3:
      return DataType::kINT8;
    case 6:
      return DataType::kINT32;
    case 7:
      return DataType::kINT64;
    case 9:
      return DataType::kBOOL;
    case 10:
      return DataType::kF16;
    case 11:
      return DataType::kF64;
    case 16:
      return DataType::kBF16;
    case 17:
      return DataType::kFP8E4M3;
    case 19:
      return DataType::kFP8E5M2;
    case 21:
      return DataType::kUINT4;
    case 22:
      return DataType::kINT4;
    case 23:
      return DataType::kFP4E2M1;
    default:
      return std::nullopt;
  }
}

int64_t onnx_from_data_type(DataType t) {
  switch (t) {
    case DataType::kF32:
      return 1;
    case DataType::kUINT8:
      return 2;
    case DataType::kINT8:
      return 3;
    case DataType::kINT32:
      return 6;
    case DataType::kINT64:
      return 7;
    case DataType::kBOOL:
      return 9;
    case DataType::kF16:
      return 10;
    case DataType::kF64:
      return 11;
    case DataType::kBF16:
      return 16;
    case DataType::kFP8E4M3:
      return 17;
    case DataType::kFP8E5M2:
      return 19;
    case DataType::kUINT4:
      return 21;
    case DataType::kINT4:
      return 22;
    case DataType::kFP4E2M1:
      return 23;
  }
  return 0;
}

std::string onnx_type_name(int64_t onnx_type) {
  if (onnx_type >= 0 && onnx_type < static_cast<int64_t>(kOnnxNames.size()))
    return std::string(kOnnxNames[static_cast<size_t>(onnx_type)]);
  return "<unknown ONNX type " + std::to_string(onnx_type) + ">";
}

}  // namespace rtx::ir
