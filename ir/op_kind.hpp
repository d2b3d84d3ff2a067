// SPDX-License-Identifier: Apache-2.0
// The IR's operator kinds. Each op has ONNX semantics at the latest opset we support (23):
// attribute names, input order and optional inputs are ONNX's, so the ONNX importer only upgrades
// older opset forms and the reference evaluator can be checked against ONNX's node tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rtx::ir {

// X(kind, "OnnxName")
#define RTX_IR_OPS(X)                                                                           \
  /* unary elementwise */                                                                       \
  X(Relu, "Relu") X(LeakyRelu, "LeakyRelu") X(Sigmoid, "Sigmoid") X(Tanh, "Tanh") X(Erf, "Erf") \
  X(Gelu, "Gelu") X(Silu, "Silu") X(Exp, "Exp") X(Log, "Log") X(Sqrt, "Sqrt")                   \
  X(Reciprocal, "Reciprocal") X(Neg, "Neg") X(Abs, "Abs") X(Floor, "Floor") X(Ceil, "Ceil")     \
  X(Sin, "Sin") X(Cos, "Cos") X(Clip, "Clip") X(Not, "Not") X(IsNaN, "IsNaN") X(IsInf, "IsInf") \
  X(Identity, "Identity") X(Cast, "Cast")                                                       \
  /* binary / variadic / ternary elementwise with numpy broadcasting */                         \
  X(Add, "Add") X(Sub, "Sub") X(Mul, "Mul") X(Div, "Div") X(Pow, "Pow") X(Max, "Max")           \
  X(Min, "Min") X(Mod, "Mod") X(Equal, "Equal") X(Less, "Less") X(LessOrEqual, "LessOrEqual")   \
  X(Greater, "Greater") X(GreaterOrEqual, "GreaterOrEqual") X(And, "And") X(Or, "Or")           \
  X(Xor, "Xor") X(Where, "Where")                                                               \
  /* linear algebra and convolution */                                                          \
  X(MatMul, "MatMul") X(Gemm, "Gemm") X(Conv, "Conv") X(ConvTranspose, "ConvTranspose")         \
  X(MaxPool, "MaxPool") X(AveragePool, "AveragePool")                                           \
  X(GlobalAveragePool, "GlobalAveragePool")                                                     \
  /* normalisation, softmax, attention */                                                       \
  X(BatchNormalization, "BatchNormalization") X(LayerNormalization, "LayerNormalization")       \
  X(RMSNormalization, "RMSNormalization") X(Softmax, "Softmax") X(LogSoftmax, "LogSoftmax")     \
  X(Attention, "Attention")                                                                     \
  /* reductions */                                                                              \
  X(ReduceSum, "ReduceSum") X(ReduceMean, "ReduceMean") X(ReduceMax, "ReduceMax")               \
  X(ReduceMin, "ReduceMin") X(ReduceProd, "ReduceProd") X(ArgMax, "ArgMax")                     \
  X(ArgMin, "ArgMin") X(CumSum, "CumSum")                                                       \
  /* shape and data movement */                                                                 \
  X(Reshape, "Reshape") X(Transpose, "Transpose") X(Flatten, "Flatten") X(Squeeze, "Squeeze")   \
  X(Unsqueeze, "Unsqueeze") X(Concat, "Concat") X(Split, "Split") X(Slice, "Slice")             \
  X(Gather, "Gather") X(GatherElements, "GatherElements") X(Expand, "Expand") X(Tile, "Tile")   \
  X(Pad, "Pad") X(Resize, "Resize") X(Shape, "Shape") X(Size, "Size")                           \
  X(ConstantOfShape, "ConstantOfShape") X(Range, "Range") X(Constant, "Constant")               \
  X(Trilu, "Trilu")                                                                             \
  /* quantization */                                                                            \
  X(QuantizeLinear, "QuantizeLinear") X(DequantizeLinear, "DequantizeLinear")

enum class OpKind : uint16_t {
#define RTX_IR_OP_ENUM(kind, name) k##kind,
  RTX_IR_OPS(RTX_IR_OP_ENUM)
#undef RTX_IR_OP_ENUM
};

inline constexpr int kOpKindCount = 0
#define RTX_IR_OP_COUNT(kind, name) +1
    RTX_IR_OPS(RTX_IR_OP_COUNT)
#undef RTX_IR_OP_COUNT
    ;

/// The ONNX op type of a kind ("MatMul").
std::string_view op_name(OpKind kind);
/// Inverse of op_name (ONNX default domain op types only).
std::optional<OpKind> op_from_name(std::string_view name);

}  // namespace rtx::ir
