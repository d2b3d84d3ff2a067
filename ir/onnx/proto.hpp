// SPDX-License-Identifier: Apache-2.0
// The one place that includes ONNX's generated protobuf classes. Internal to ir/onnx (and its
// tests): public headers never see protobuf types. `pb` names ONNX's namespace so code inside
// rtx::onnx does not confuse it with its own.
#pragma once

#include <onnx/onnx_pb.h>

namespace rtx::onnx {
namespace pb = ::onnx;
}  // namespace rtx::onnx
