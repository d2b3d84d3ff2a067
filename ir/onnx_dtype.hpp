// SPDX-License-Identifier: Apache-2.0
// ONNX TensorProto.DataType numbers <-> rtx::DataType. Cast's `to`, QuantizeLinear's and
// DequantizeLinear's `output_dtype` and `precision`, and the ONNX importer all speak these numbers;
// one table here keeps them from drifting apart. Types ONNX has and rtx does not (strings,
// int16/uint16/uint32/uint64, complex, the fnuz float8 variants, float8e8m0, 2-bit ints) map to
// nothing, and `onnx_type_name` lets callers name them in error messages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "rtx/types.hpp"

namespace rtx::ir {

/// The rtx type of ONNX TensorProto data type number `onnx_type` (1 FLOAT, 2 UINT8, 3 INT8,
/// 6 INT32, 7 INT64, 9 BOOL, 10 FLOAT16, 11 DOUBLE, 16 BFLOAT16, 17 FLOAT8E4M3FN, 19 FLOAT8E5M2,
/// 21 UINT4, 22 INT4, 23 FLOAT4E2M1), or nullopt for every other number.
std::optional<DataType> data_type_from_onnx(int64_t onnx_type);

/// The ONNX TensorProto data type number of `t` (inverse of data_type_from_onnx).
int64_t onnx_from_data_type(DataType t);

/// ONNX's upper-case name of a data type number ("FLOAT16", "UINT16", "STRING"), or
/// "<unknown ONNX type N>" for numbers ONNX does not define. For error messages.
std::string onnx_type_name(int64_t onnx_type);

}  // namespace rtx::ir
