// SPDX-License-Identifier: Apache-2.0
// The stable error ids of the ONNX importer (documented in docs/onnx.md). One constant per
// distinct failure so tests and users can match on them; messages say what and where.
#pragma once

namespace rtx::onnx::err {

// ---- the model file and its protobuf ----------------------------------------------------------
inline constexpr const char* kFileOpen = "rtx.onnx.101";   ///< cannot open / read the model
inline constexpr const char* kMalformed = "rtx.onnx.102";  ///< not a valid ModelProto
inline constexpr const char* kTooLarge = "rtx.onnx.103";   ///< protobuf part >= 2 GiB
inline constexpr const char* kNoGraph = "rtx.onnx.104";    ///< model without a graph
inline constexpr const char* kOpset = "rtx.onnx.106";      ///< default-domain opset unusable
// ---- tensors and external data -------------------------------------------------------------
inline constexpr const char* kDataType = "rtx.onnx.201";     ///< dtype rtx cannot hold
inline constexpr const char* kDataSize = "rtx.onnx.202";     ///< data size differs from dims
inline constexpr const char* kDims = "rtx.onnx.203";         ///< negative / overflowing dims
inline constexpr const char* kExtLocation = "rtx.onnx.204";  ///< external data w/o location
inline constexpr const char* kExtPath = "rtx.onnx.205";      ///< location escapes model dir
inline constexpr const char* kExtFile = "rtx.onnx.206";      ///< external file missing
inline constexpr const char* kExtRange = "rtx.onnx.207";     ///< offset/length out of file
inline constexpr const char* kExtLength = "rtx.onnx.208";    ///< length differs from dims
inline constexpr const char* kExtNoDir = "rtx.onnx.209";     ///< external data, no model dir
inline constexpr const char* kSegment = "rtx.onnx.210";      ///< segmented tensors
inline constexpr const char* kExtKey = "rtx.onnx.211";       ///< bad external data key value
inline constexpr const char* kSparse = "rtx.onnx.212";       ///< malformed sparse tensor
// ---- graph structure and operators --------------------------------------------------------
inline constexpr const char* kUnsupportedOps = "rtx.onnx.301";  ///< list of unsupported ops
inline constexpr const char* kUnknownValue = "rtx.onnx.302";    ///< input names no known value
inline constexpr const char* kDuplicate = "rtx.onnx.303";       ///< value defined twice
inline constexpr const char* kValueType = "rtx.onnx.304";       ///< non-tensor / bad type
inline constexpr const char* kNoShape = "rtx.onnx.305";         ///< graph input without rank
inline constexpr const char* kInference = "rtx.onnx.306";       ///< shape inference failed
inline constexpr const char* kOutputMismatch = "rtx.onnx.307";  ///< declared != inferred
inline constexpr const char* kAttribute = "rtx.onnx.308";       ///< bad attribute
inline constexpr const char* kNoOutput = "rtx.onnx.309";        ///< graph output not produced
inline constexpr const char* kFunction = "rtx.onnx.311";        ///< function expansion failed
inline constexpr const char* kUnsupportedUse = "rtx.onnx.312";  ///< supported op, unsupported form
inline constexpr const char* kArity = "rtx.onnx.313";           ///< wrong number of inputs/outputs
// ---- refit / initializer reading ---------------------------------------------------------------
inline constexpr const char* kNoInitializer = "rtx.onnx.401";  ///< requested name not present
// ---- anything else -----------------------------------------------------------------------------
inline constexpr const char* kInternal = "rtx.onnx.999";

}  // namespace rtx::onnx::err
