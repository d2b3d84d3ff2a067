// SPDX-License-Identifier: Apache-2.0
// One schema per op kind: arity, shape/dtype inference and the reference implementation. Each op
// family lives in one file under ir/ops/ that registers its schemas; inference and evaluation of
// an op sit side by side so they cannot drift apart.
//
// Inference works on partially known shapes (kDynamic dims) at build time and on concrete shapes
// at run time: the same function serves both. Inputs whose *values* decide output shapes (Reshape's
// shape, Slice's starts...) are passed as constants when known; when unknown, inference returns
// dynamic dims of the right rank where it can.
#pragma once

#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "ir/graph.hpp"

namespace rtx::ir {

/// What inference sees of one node.
struct InferContext {
  const Node& node;
  std::span<const TensorInfo> inputs;           ///< one per node input; present=false if omitted
  std::span<const HostTensor* const> constants;  ///< data of constant inputs, else nullptr

  size_t num_inputs() const { return inputs.size(); }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].present; }
  const TensorInfo& input(size_t i) const;       ///< throws if absent
  /// Constant data of input i, or nullptr if absent or not known at this point.
  const HostTensor* constant(size_t i) const {
    return i < constants.size() ? constants[i] : nullptr;
  }
};

/// What the reference implementation sees: the node and concrete input tensors (an invalid
/// HostTensor for an omitted optional input), plus the inferred output infos.
struct EvalContext {
  const Node& node;
  std::span<const HostTensor> inputs;
  std::span<const TensorInfo> outputs;  ///< inferred from the concrete inputs

  size_t num_inputs() const { return inputs.size(); }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].valid(); }
  const HostTensor& input(size_t i) const;  ///< throws if absent
};

using InferFn = std::function<std::vector<TensorInfo>(const InferContext&)>;
using EvalFn = std::function<std::vector<HostTensor>(const EvalContext&)>;

struct OpSchema {
  OpKind kind;
  int min_inputs = 1;
  int max_inputs = 1;  ///< -1: variadic
  int min_outputs = 1;
  int max_outputs = 1;  ///< -1: variadic
  InferFn infer;
  EvalFn evaluate;
};

/// The schema of `kind`. Throws rtx.ir.120 if no family registered it.
const OpSchema& schema(OpKind kind);
/// Whether a family registered `kind` (tests use this to prove coverage).
bool has_schema(OpKind kind);

/// Registration, called once by the registry for each family (ir/ops/*.cpp).
class OpRegistry {
 public:
  void add(OpSchema s);
};
void register_elementwise_ops(OpRegistry&);   // ir/ops/elementwise.cpp: unary, binary, Where, Cast, Clip
void register_reduction_ops(OpRegistry&);     // ir/ops/reduction.cpp: Reduce*, ArgMax/Min, CumSum,
                                              //   Softmax, LogSoftmax, LayerNorm, RMSNorm, BatchNorm
void register_linalg_ops(OpRegistry&);        // ir/ops/linalg.cpp: MatMul, Gemm, Attention
void register_conv_ops(OpRegistry&);          // ir/ops/conv.cpp: Conv, ConvTranspose, pools, Resize
void register_shape_ops(OpRegistry&);         // ir/ops/shape.cpp: Reshape .. Trilu
void register_quantization_ops(OpRegistry&);  // ir/ops/quantization.cpp: Q/DQ

/// Runs inference for `node` given its input infos and constants (checks arity first).
std::vector<TensorInfo> infer(const Node& node, std::span<const TensorInfo> inputs,
                              std::span<const HostTensor* const> constants);
/// Runs the reference implementation of one node on concrete inputs: infers outputs from the
/// actual input shapes and data, evaluates, and checks the results match the inferred infos.
std::vector<HostTensor> evaluate_node(const Node& node, std::span<const HostTensor> inputs);

}  // namespace rtx::ir
