// SPDX-License-Identifier: Apache-2.0
// ONNX TensorProto -> rtx::HostTensor. Raw data is borrowed from the parsed message (kept alive
// by shared ownership) and external data from a memory map: neither is copied. The typed repeated
// fields (float_data, int32_data...) are converted into fresh storage. Every size, dim and dtype
// from the file is checked (rtx.onnx.2xx).
#pragma once

#include <memory>
#include <string>

#include "ir/onnx/model_io.hpp"
#include "ir/onnx/proto.hpp"
#include "rtx/host_tensor.hpp"

namespace rtx::onnx {

/// Converts `t`. `owner` keeps the message holding `t` alive (borrowed raw data points into it);
/// `external` resolves external data (nullptr: external data is an error, rtx.onnx.209).
/// `what` names the tensor in messages when `t.name()` is empty.
HostTensor tensor_from_proto(const pb::TensorProto& t, const std::shared_ptr<const void>& owner,
                             ExternalDataStore* external, const std::string& what = {});

/// Densifies a SparseTensorProto (values + indices; rtx.onnx.212 for malformed ones).
HostTensor tensor_from_sparse_proto(const pb::SparseTensorProto& t,
                                    const std::shared_ptr<const void>& owner,
                                    ExternalDataStore* external);

/// rtx type of an ONNX element type number; rtx.onnx.201 naming `what` if rtx has none.
DataType data_type_or_throw(int64_t onnx_type, const std::string& what);

/// Parses a serialized TensorProto (the conformance tests' input_N.pb / output_N.pb files).
/// The result owns its data.
HostTensor tensor_from_bytes(const void* data, size_t size, const std::string& what);

}  // namespace rtx::onnx
