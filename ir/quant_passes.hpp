// SPDX-License-Identifier: Apache-2.0
// Q/DQ folding for quantized GEMMs and convolutions. Explicit quantization (the user's QuantizeLinear /
// DequantizeLinear nodes) describes a quantized MatMul as the float graph
//     DQ(A) -> MatMul/Gemm <- [Transpose] <- DQ(B) [<- Transpose]   then [Add bias] [act] [Q]
// and rtx runs that whole pattern as one kernel of the quantized GEMM family
// (jit/kernels/qgemm.hpp): integer or fp8 products accumulated exactly, the scales applied in the
// epilogue, the trailing QuantizeLinear done in the same pass over the output; or, for float A
// and quantized B, the weights dequantized inside the kernel (weight-only quantization).
//
// Representation: the folded pattern keeps its nodes (so the graph's meaning is, by
// construction, exactly the reference composition of DequantizeLinear, MatMul/Gemm, Add, the
// activation and QuantizeLinear) and its anchor (the MatMul/Gemm) is annotated with the
// attribute kQuantGemmAttr naming the kernel kind. match_quant_gemm() recognises the pattern
// and returns every node it covers and the operands by role; the planner claims those nodes as
// one kernel step. fold_quantized_gemms() makes patterns claimable: a DequantizeLinear (or the
// Transpose of a dequantized weight) shared by several GEMMs, or also read by other nodes or a
// graph output, is duplicated so each GEMM owns its copy (the copies cost nothing once folded).
// A pattern that does not match (per-token activation scales, nonzero activation zero points,
// blocks along N, unsupported dtypes...) is left alone: its Q/DQ run as pointwise kernels and
// the MatMul in float.
//
// What folds (B is the operand that is dequantized; "mid" is the MatMul's dtype):
//   kInt8        A int8/uint8 with a per-tensor scale, B int8/uint8 with a per-tensor or
//                per-output-channel scale; zero points absent or all zero (symmetric, as in
//                TensorRT). mid f32, f16 or bf16; both scales of one dtype.
//   kFp8         A and B fp8 e4m3/e5m2, scales as kInt8.
//   kWeightOnly  A f16/bf16 (not dequantized), B int8, uint8, int4, uint4, fp8 or fp4 (2-D)
//                with a per-tensor, per-channel (N or K) or block-wise (along K) scale and, for
//                integer types, any zero point.
//   Trailing (each the sole consumer of the value before it): Add of a per-column bias
//   (MatMul only; Gemm's C of shape (N) or (1, N) plays that role), one activation of
//   Relu / Sigmoid / Tanh / Silu / Gelu, and a per-tensor QuantizeLinear to int8/uint8/fp8
//   whose scale has the dtype of the other scales.
//
// Quantized convolutions (QuantConvGroup, match_quant_conv; same attribute, kind "int8"):
//     DQ(x) -> Conv <- DQ(W)   [Conv's bias B]   then [act] [Q]
//   x int8/uint8 (N, C, spatial...) with a per-tensor scale; W int8/uint8 (M, C/G, kernel...)
//   with a per-tensor or per-output-channel (axis 0) scale; both zero points absent or all zero
//   (a nonzero activation zero point would also turn the implicit zero padding into a nonzero
//   integer); scales of one float dtype; mid (Conv's dtype) f32, f16 or bf16; B, when present, of
//   the mid dtype. Trailing: one activation as above and a per-tensor QuantizeLinear to
//   int8/uint8 only (fp8 outputs stay unfused). The pass does not look at shapes beyond ranks:
//   whether a kernel can run the pattern (K = C/G * taps a multiple of 4 bytes for the weight
//   rows' cp.async copies, static channel and spatial dims, the s32 overflow bound) is the
//   planner's question (jit/kernels/qconv.hpp); a Conv it declines runs as DQ + float Conv.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.hpp"
#include "ir/passes.hpp"

namespace rtx::ir {

/// The attribute fold_quantized_gemms() puts on anchors: the kind ("int8", "fp8", "weight_only").
inline constexpr std::string_view kQuantGemmAttr = "rtx_quantized_gemm";

/// Which member of the quantized GEMM family runs a folded pattern.
enum class QuantGemmKind : uint8_t {
  kInt8 = 0,        ///< int8/uint8 x int8/uint8, s32 accumulation
  kFp8 = 1,         ///< fp8 x fp8, f32 accumulation
  kWeightOnly = 2,  ///< f16/bf16 A, quantized B dequantized in the kernel
};

/// "int8", "fp8", "weight_only".
std::string_view to_string(QuantGemmKind kind);

/// Granularity of B's scale (and zero point) relative to the logical (K, N) operand.
enum class QuantScale : uint8_t {
  kPerTensor = 0,
  kPerColumn = 1,  ///< one per output column n
  kBlocked = 2,    ///< one per (K block, n), or per K block / per k for a 1-D scale along K
};

/// A recognised quantized GEMM pattern: what one kernel replaces.
struct QuantGemmGroup {
  QuantGemmKind kind = QuantGemmKind::kInt8;
  NodeId anchor = -1;        ///< the MatMul or Gemm
  std::vector<NodeId> nodes; ///< every covered node, in execution order (anchor included)
  NodeId a_dq = -1;          ///< A's DequantizeLinear (-1 for weight-only)
  NodeId b_dq = -1;          ///< B's DequantizeLinear
  NodeId b_transpose = -1;   ///< a Transpose on B's path (before or after b_dq), or -1
  NodeId bias_add = -1;      ///< the Add of a bias, or -1
  NodeId activation = -1;    ///< the activation node, or -1
  NodeId y_q = -1;           ///< the trailing QuantizeLinear, or -1

  ValueId a = kNoValue;        ///< A as stored: quantized (kInt8/kFp8) or float (weight-only)
  ValueId a_scale = kNoValue;  ///< per-tensor scale of A (kInt8/kFp8)
  ValueId b = kNoValue;        ///< B as stored (before any folded Transpose)
  ValueId b_scale = kNoValue;
  ValueId b_zero = kNoValue;   ///< weight-only integer B: its zero point, else kNoValue
  ValueId bias = kNoValue;     ///< the Add's bias or Gemm's C
  ValueId y_scale = kNoValue;  ///< the trailing Q's scale
  ValueId y_zero = kNoValue;   ///< the trailing Q's zero point (integer outputs), or kNoValue
  ValueId output = kNoValue;   ///< the value the kernel writes

  bool gemm = false;           ///< anchor is ONNX Gemm (alpha, beta, C) rather than MatMul
  double alpha = 1.0, beta = 1.0;
  bool b_k_major = false;      ///< B stored (N, K): Gemm transB=1, or a folded Transpose
  QuantScale b_granularity = QuantScale::kPerTensor;
  int64_t b_block = 0;         ///< kBlocked: the K block (1 for a per-axis scale along K)
  bool b_scale_k_first = false;  ///< kBlocked, 2-D scale: dims (K blocks, N) rather than (N, K blocks)
  bool bias_is_gemm_c = false; ///< bias is Gemm's C (one rounding with the product)
  bool saturate = true;        ///< the trailing Q's `saturate`

  DataType a_type = DataType::kINT8;    ///< dtype of `a`
  DataType b_type = DataType::kINT8;    ///< dtype of `b`
  DataType scale_type = DataType::kF32; ///< dtype of the scales (b's; a's and y's are equal)
  DataType mid_type = DataType::kF32;   ///< the MatMul's dtype (dequantized values, results)
  DataType output_type = DataType::kF32;  ///< dtype of `output`

  /// Values by role: "a", "a_scale", "b", "b_scale", "b_zero", "bias", "y_scale", "y_zero" (those
  /// present) and "d" (the output).
  std::map<std::string, ValueId> operands() const;
  /// "int8 MatMul 'fc1' (+bias, relu, Q)" for reports.
  std::string describe(const Graph& graph) const;
};

/// A recognised quantized convolution pattern (see the file comment).
struct QuantConvGroup {
  NodeId anchor = -1;          ///< the Conv
  std::vector<NodeId> nodes;   ///< x's DQ, W's DQ, the Conv, then the trailing nodes
  NodeId x_dq = -1;
  NodeId w_dq = -1;
  NodeId activation = -1;      ///< or -1
  NodeId y_q = -1;             ///< the trailing QuantizeLinear, or -1

  ValueId x = kNoValue;        ///< int8/uint8 activations (N, C, spatial...)
  ValueId x_scale = kNoValue;  ///< per tensor
  ValueId w = kNoValue;        ///< int8/uint8 weights (M, C/G, kernel...)
  ValueId w_scale = kNoValue;  ///< one value, or M values (per_channel)
  ValueId bias = kNoValue;     ///< Conv's B (M values of the mid dtype), or kNoValue
  ValueId y_scale = kNoValue;
  ValueId y_zero = kNoValue;   ///< the trailing Q's zero point, or kNoValue
  ValueId output = kNoValue;   ///< the value the kernel writes

  bool per_channel = false;    ///< W's scale is per output channel
  DataType x_type = DataType::kINT8;
  DataType w_type = DataType::kINT8;
  DataType scale_type = DataType::kF32;
  DataType mid_type = DataType::kF32;
  DataType output_type = DataType::kF32;

  /// Values by role: "x", "x_scale", "w", "w_scale", "bias", "y_scale", "y_zero" (those present)
  /// and "y" (the output).
  std::map<std::string, ValueId> operands() const;
  /// "int8 Conv 'conv1' (per-channel, +bias, Relu, Q->i8)" for reports.
  std::string describe(const Graph& graph) const;
};

/// The quantized convolution anchored at `anchor` (a live Conv), or nullopt; pure, with the same
/// exclusivity rule as match_quant_gemm().
std::optional<QuantConvGroup> match_quant_conv(const Graph& graph, NodeId anchor);

/// Every quantized convolution pattern of the graph, anchors in topological order.
std::vector<QuantConvGroup> find_quant_convs(const Graph& graph);

/// The quantized GEMM pattern anchored at `anchor` (a live MatMul or Gemm), or nullopt when the
/// pattern does not hold there: every DequantizeLinear, Transpose and trailing node must be read
/// only by the next node of the pattern (fold_quantized_gemms() arranges that where it can).
/// Pure: reads the graph only (shapes and dtypes as inferred; constant data only to check that
/// zero points that must be zero are).
std::optional<QuantGemmGroup> match_quant_gemm(const Graph& graph, NodeId anchor);

/// Every folded group of the graph, anchors in topological order; groups never share nodes.
std::vector<QuantGemmGroup> find_quant_gemms(const Graph& graph);

/// The pass: duplicates shared DequantizeLinear / Transpose nodes on the operand paths of GEMMs
/// and convolutions that would then match, and annotates every matching anchor with kQuantGemmAttr (and removes a
/// stale annotation where the pattern no longer holds). Re-infers the nodes it adds. Never
/// changes what the graph computes.
void fold_quantized_gemms(Graph& graph, const PassOptions& options);

}  // namespace rtx::ir
