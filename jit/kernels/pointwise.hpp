// SPDX-License-Identifier: Apache-2.0
// Host side of the pointwise family (templates/pointwise/pointwise.cuh). A fusable chain of
// elementwise IR nodes is rendered as one tiny functor,
//   struct pw_<hash> { __device__ Out operator()(In0 x0, In1 x1, ...) const { ... } };
// and the program instantiates the reviewed driver `rtx::kernels::pointwise<Fn, Out, In...>`,
// which owns the loops, 16-byte vector accesses, broadcasting and tails. Rendering is the only
// code generation in the family.
//
// Semantics of a rendered chain. Values are computed in float (double for f64, the integer type
// itself with two's complement wrap for integers, bool for bool) and rounded once when stored.
// Intermediate values keep float precision, except that a value feeding an op whose result jumps
// (Cast, comparisons, Floor, Ceil, Mod, IsInf, IsNaN, QuantizeLinear) is first rounded to its
// own dtype, so those ops see exactly what an unfused graph would. Scalar constants of the graph
// become literals; every other input is a kernel input. Supported ops: Relu, LeakyRelu, Sigmoid,
// Tanh, Erf, Gelu (erf and tanh), Silu, Exp, Log, Sqrt, Reciprocal, Neg, Abs, Floor, Ceil, Sin,
// Cos, Clip, Not, IsNaN, IsInf, Identity, Cast, Add, Sub, Mul, Div, Pow, Max, Min, Mod, Equal,
// Less, LessOrEqual, Greater, GreaterOrEqual, And, Or, Xor, Where, and per-tensor
// QuantizeLinear / DequantizeLinear (int8, uint8, int32 and fp8 sides). Every dtype except the
// packed 4-bit ones. Integer x / 0 and x % 0 give 0 (the reference evaluator reports an error).
//
// Error ids: rtx.jit.301 (chain cannot be rendered), 302 (bad run-time arguments), 303 (bad
// spec JSON).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ir/graph.hpp"
#include "jit/compiler.hpp"
#include "jit/kernels/common.hpp"
#include "rtx/error.hpp"
#include "rtx/types.hpp"
#include "templates/pointwise/params.cuh"

namespace rtx::jit::kernels {

/// Compile-time choices of one pointwise kernel: the rendered functor and the storage dtypes.
struct PointwiseSpec {
  std::string functor_name;    ///< qualified: "rtx::generated::pw_<12 hex digits>"
  std::string functor_source;  ///< the functor struct inside `namespace rtx::generated { }`
  DataType output = DataType::kF32;
  std::vector<DataType> inputs;  ///< kernel inputs in functor argument order

  /// "rtx::kernels::pointwise<rtx::generated::pw_..., Out, In0, ...>".
  std::string name_expression() const;
  /// One program holding this kernel (include + functor, one name expression).
  Program program() const;
  friend bool operator==(const PointwiseSpec&, const PointwiseSpec&) = default;
};

void to_json(nlohmann::json& j, const PointwiseSpec& spec);
/// Throws rtx::Exception rtx.jit.303 on missing keys, unknown dtypes or a bad functor name.
void from_json(const nlohmann::json& j, PointwiseSpec& spec);

/// One program holding several pointwise kernels (functors deduplicated by name): what the
/// engine builder compiles, since NVRTC spends most of its time parsing the shared headers.
Program pointwise_program(std::span<const PointwiseSpec> specs, std::string name = "pointwise");

/// How a kernel input is broadcast: numpy-style from its own shape (rank 0); a 1-D per-axis
/// quantization parameter viewed as `rank` dims, all 1 but `axis` (so it lines up with the
/// quantized tensor's `axis` instead of its last dim); or (block > 0) a block-wise one, of the
/// quantized tensor's rank with ceil(D / block) at `axis`, whose value repeats over each block.
struct InputView {
  int rank = 0;
  int axis = 0;
  int64_t block = 0;
  friend bool operator==(const InputView&, const InputView&) = default;
};

/// A rendered chain and the graph values its kernel reads, in argument order.
struct PointwiseChain {
  PointwiseSpec spec;
  std::vector<ir::ValueId> inputs;
  std::vector<InputView> views;  ///< one per input
};

/// The shape input `shape` takes under `view` (itself when view.rank == 0); rtx.jit.302 when a
/// viewed input is not 1-D or the axis is outside the rank.
Expected<std::vector<int64_t>> view_shape(const std::vector<int64_t>& shape, const InputView& view);

/// Whether `op` can be part of a rendered chain at all (dtypes are checked when rendering).
bool is_pointwise_op(ir::OpKind op);

/// Renders the chain `nodes` of `graph` (topologically ordered, each an elementwise node) whose
/// result is `output` (an output of the last node or of another chain node). Inputs produced
/// outside the chain become kernel inputs, except one-element constants, which become literals.
/// rtx.jit.301 when an op, dtype or attribute is not supported.
Expected<PointwiseChain> render_pointwise(const ir::Graph& graph, std::span<const ir::NodeId> nodes,
                                          ir::ValueId output);

/// One node as a one-node chain: every present input is a kernel input. nullopt when the node
/// is not a supported elementwise op for these input dtypes.
std::optional<PointwiseSpec> plan_pointwise(const ir::Node& node,
                                            std::span<const ir::TensorInfo> inputs);

/// Run-time arguments: shapes (each input numpy-broadcasts to `out_shape`) and device buffers.
struct PointwiseArgs {
  std::vector<int64_t> out_shape;
  std::vector<std::vector<int64_t>> in_shapes;
  void* out = nullptr;
  std::vector<const void*> in;
};

/// Turns the graph's shapes in `args` into the kernel's under `views`. Per-axis inputs take
/// view_shape(). With block-wise views, the quantized axis of extent D splits into
/// (D / block, block) in the output and in every input (an input of extent 1 there into (1, 1)),
/// and a block-wise input's (D / block) into (D / block, 1): plain broadcasting then repeats each
/// parameter over its block, and the kernel is the same as for any other chain. rtx.jit.302 when
/// D is not a multiple of the block (the step then runs on the host), views disagree, or shapes
/// do not fit.
Expected<void> apply_views(PointwiseArgs& args, std::span<const InputView> views);

/// Side-effect free: whether `spec` can run `args` (input count, broadcastable shapes, rank
/// at most kMaxRank after merging dims, non-null buffers). rtx.jit.302 otherwise.
Expected<void> can_implement(const PointwiseSpec& spec, const PointwiseArgs& args);

/// Kernel parameters: merged dims, broadcast strides, and the vector path when every input is
/// contiguous or a single element and every buffer is 16-byte aligned. rtx.jit.302 on bad args.
Expected<rtx::kernels::PointwiseParams> make_params(const PointwiseSpec& spec,
                                                    const PointwiseArgs& args);

/// Elements each thread moves per vector step: 16 / the widest storage type.
int pointwise_vector_width(const PointwiseSpec& spec);

/// Grid and block for `params`; `multiprocessors` (0 = unknown) caps the grid at 32 blocks per
/// SM (the loops are grid-stride). A zero grid means nothing to do.
LaunchConfig launch_config(const PointwiseSpec& spec, const rtx::kernels::PointwiseParams& params,
                           int multiprocessors = 0);

/// make_params + launch on `stream` (a cudaStream_t).
Expected<void> run(const PointwiseSpec& spec, const PointwiseArgs& args,
                   const LoadedProgram& program, void* stream, int multiprocessors = 0);

}  // namespace rtx::jit::kernels
