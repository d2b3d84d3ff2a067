// SPDX-License-Identifier: Apache-2.0
// Host side of the data-movement family (templates/movement/): Transpose (permute), Slice (with
// steps, negative too), Expand, Concat, Gather (one axis) and Pad (constant, reflect, edge,
// wrap), with ONNX semantics. The kernels move opaque units, so a spec depends on the element
// size, not the dtype (every dtype except the packed 4-bit ones). At run time dims are merged,
// contiguous innermost runs move as units of up to 16 bytes when sizes and alignment allow, and
// transposes whose input is contiguous along the output's rows go through shared-memory tiles.
// Cast is elementwise: plan it with plan_pointwise (jit/kernels/pointwise.hpp).
//
// Values that ONNX passes as inputs (Slice starts/ends/axes/steps, Pad pads/constant_value)
// must be constants at plan time; Gather indices are a run-time input (int32 or int64;
// indices outside [-dim, dim) give zero elements where the reference evaluator reports an
// error). Expand takes its target shape from the output shape at run time.
//
// Error ids: rtx.jit.301 (node not implementable), 302 (bad run-time arguments), 303 (bad JSON).
#pragma once

#include <cstdint>
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
#include "templates/movement/params.cuh"

namespace rtx::jit::kernels {

enum class MovementKind : uint8_t { kTranspose, kSlice, kExpand, kConcat, kGather, kPad };

/// "transpose", "slice", "expand", "concat", "gather", "pad".
std::string_view movement_kind_name(MovementKind kind);

/// Compile-time choices of one data-movement op.
struct MovementSpec {
  MovementKind kind = MovementKind::kTranspose;
  int elem_bytes = 4;                  ///< 1, 2, 4 or 8
  DataType index = DataType::kINT64;   ///< gather: int32 or int64
  int64_t rank = 0;                    ///< input rank (data rank for gather)
  std::vector<int64_t> perm;           ///< transpose
  int64_t axis = 0;                    ///< concat, gather (normalised)
  std::vector<int64_t> starts, ends, axes, steps;  ///< slice (axes normalised)
  std::vector<int64_t> pads;           ///< pad: begin and end per dim (rank * 2, dims in order)
  int pad_mode = 0;                    ///< 0 constant, 1 reflect, 2 edge, 3 wrap
  uint64_t pad_value_bits = 0;         ///< constant mode: the fill element's bytes

  std::vector<std::string> name_expressions() const;
  Program program() const;
  friend bool operator==(const MovementSpec&, const MovementSpec&) = default;
};

void to_json(nlohmann::json& j, const MovementSpec& spec);
/// Throws rtx::Exception rtx.jit.303 on malformed JSON.
void from_json(const nlohmann::json& j, MovementSpec& spec);

/// Maps Transpose, Slice, Expand, Concat, Gather or Pad to a spec. `constants` holds the data
/// of constant inputs (else nullptr). nullopt when not supported.
std::optional<MovementSpec> plan_movement(const ir::Node& node,
                                          std::span<const ir::TensorInfo> inputs,
                                          std::span<const HostTensor* const> constants = {});

/// Run-time arguments. For concat every input is listed; for gather in[0] is data and in[1]
/// the indices; for the others in[0] is the data.
struct MovementArgs {
  std::vector<std::vector<int64_t>> in_shapes;
  std::vector<const void*> in;
  std::vector<int64_t> out_shape;  ///< needed by expand; checked for the others
  void* out = nullptr;
};

/// One launch: the kernel and its by-value parameter block (one of the Params structs).
struct MovementLaunch {
  std::string kernel;
  LaunchConfig config;
  std::vector<uint8_t> params;  ///< bytes of CopyParams / TransposeParams / ConcatParams / ...
};

/// Side-effect free check of run-time arguments.
Expected<void> can_implement(const MovementSpec& spec, const MovementArgs& args);

/// The launches for `args` (concat: one per group of 8 inputs; none for empty outputs).
Expected<std::vector<MovementLaunch>> make_launches(const MovementSpec& spec,
                                                    const MovementArgs& args);

/// make_launches + launch each on `stream`.
Expected<void> run(const MovementSpec& spec, const MovementArgs& args, const LoadedProgram& program,
                   void* stream);

/// The output shape `spec` produces for `in_shapes` (what shape inference would say).
Expected<std::vector<int64_t>> movement_output_shape(const MovementSpec& spec,
                                                     const MovementArgs& args);

}  // namespace rtx::jit::kernels
