// SPDX-License-Identifier: Apache-2.0
// Host side of the attention family (templates/attention/): fused scaled-dot-product attention,
// the IR's `Attention` op (ONNX opset 23) for f16 and bf16 with f32 accumulation. CUTLASS-style
// split: an AttentionSpec holds the compile-time choices (algorithm, dtype, static head size,
// tile) and renders the NVRTC program and name expression; an AttentionProblem holds the
// run-time shapes, strides and mask kind (a run-time choice: one kernel serves every mask);
// can_implement() says, without side effects, whether a spec can run
// a problem; launch_config(), make_params() and run() launch it. plan_attention() maps an IR node
// to a spec; attention_problem() turns the node and concrete input shapes into a problem.
//
// Algorithms: kFlash (attention/flash_sm80.cuh: mma.sync tensor cores, online softmax over K/V
// tiles in shared memory; static head size 64 or 128, run-time head sizes up to it in multiples
// of 8, 16-byte aligned rows) and kGeneric (attention/generic.cuh: CUDA cores, any head sizes,
// strides and alignment). Both cover 4-D (B, H, S, D) and 3-D (B, S, H * D) layouts, GQA/MQA,
// bool or additive attn_mask with broadcasting (and a short last dim), is_causal, scale, softcap.
// Not covered (plan_attention returns nullopt, the runtime falls back to another path):
// past_key/past_value inputs, the present_key/present_value/qk outputs, dtypes other than f16
// and bf16, V of another dtype than Q.
//
// Error ids: rtx.jit.701 (spec invalid), 702 (problem not implementable by the spec or not
// describable: dynamic dims, unsupported node), 703 (buffer missing or misaligned).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "jit/compiler.hpp"
#include "jit/kernels/common.hpp"
#include "jit/module.hpp"
#include "rtx/error.hpp"
#include "rtx/types.hpp"
#include "templates/attention/params.cuh"

namespace rtx::ir {
struct Node;
struct TensorInfo;
}  // namespace rtx::ir

namespace rtx::jit::kernels {

using AttentionMask = rtx::kernels::attention::MaskKind;
using AttentionParams = rtx::kernels::attention::AttentionParams;

/// Which kernel template implements a spec.
enum class AttentionAlgorithm : uint8_t {
  kFlash = 0,    ///< tensor cores (mma.sync), sm_80 and newer; static head size 64 or 128
  kGeneric = 1,  ///< CUDA cores; any head sizes, strides and alignment
};

/// Flash kernel tile: query rows per CTA, keys per K/V tile, warps per CTA.
struct AttentionTile {
  int block_m = 64;
  int block_n = 64;
  int warps = 4;
  friend bool operator==(const AttentionTile&, const AttentionTile&) = default;
};

/// Compile-time choices of one attention kernel.
struct AttentionSpec {
  AttentionAlgorithm algorithm = AttentionAlgorithm::kFlash;
  DataType dtype = DataType::kF16;  ///< Q, K, V, Y (and an additive mask): f16 or bf16
  int head_dim = 64;                ///< kFlash: 64 or 128 (static size); kGeneric: 0
  AttentionTile tile;               ///< kFlash only; kGeneric keeps the default

  /// e.g. "rtx::kernels::attention::flash_attention<__half, 128, 64, 64, 4>".
  std::string name_expression() const;
  /// The program source: `#include "attention/attention.cuh"`.
  std::string source() const;
  /// A program holding just this kernel.
  Program program() const;
  /// Threads per block.
  int threads() const;
  /// Structural checks: dtype, head size, tile divisibility (rtx.jit.701).
  Expected<void> validate() const;
  /// "flash f16 d128 64x64 w4" / "generic bf16".
  std::string describe() const;
  friend bool operator==(const AttentionSpec&, const AttentionSpec&) = default;
};

/// One program with many attention kernels (NVRTC parses the headers once).
Program attention_program(std::span<const AttentionSpec> specs, std::string name = "rtx_attention");

/// Every spec plan_attention() can return (both dtypes; flash 64, flash 128, generic):
/// what an engine may need, and what the unit suite compiles for every target.
std::vector<AttentionSpec> plannable_attention_specs();

void to_json(nlohmann::json& j, const AttentionSpec& spec);
/// Throws rtx::Exception rtx.jit.701 on unknown names or an invalid spec.
void from_json(const nlohmann::json& j, AttentionSpec& spec);

/// Run-time shapes and element strides of one attention launch: a full description of the
/// memory the kernel reads and writes. Q/K/V/Y strides are (batch, head, seq); the last dim is
/// contiguous. Mask strides are (batch, head, query, key) with 0 for broadcast dims.
struct AttentionProblem {
  DataType dtype = DataType::kF16;
  int64_t batch = 0, q_heads = 0, kv_heads = 0, q_seq = 0, kv_seq = 0;
  int64_t head_dim = 0, v_head_dim = 0;
  std::array<int64_t, 3> q_stride{}, k_stride{}, v_stride{}, y_stride{};
  AttentionMask mask = AttentionMask::kNone;
  std::array<int64_t, 4> mask_stride{};
  int64_t mask_len = 0;  ///< keys j >= mask_len are masked out (ONNX pads a short mask)
  bool causal = false;
  int64_t causal_offset = 0;  ///< causal: query i sees keys j <= i + causal_offset
  double scale = 1.0;         ///< resolved (the default 1/sqrt(head_dim) already applied)
  double softcap = 0.0;       ///< 0: none

  /// Elements of Y.
  int64_t output_elements() const { return batch * q_heads * q_seq * v_head_dim; }
};

/// Device buffers of a launch; `mask` as the problem's mask kind requires.
struct AttentionBuffers {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* mask = nullptr;
  void* y = nullptr;
};

/// The problem of an IR Attention node with these concrete (static) input infos, all tensors
/// contiguous as the IR lays them out. rtx.jit.702 when a dim is dynamic or the node uses what
/// the family does not cover (see the file comment); the node's own validity is inference's job.
Expected<AttentionProblem> attention_problem(const ir::Node& node,
                                             std::span<const ir::TensorInfo> inputs);

/// Whether `spec` can run `problem` (dtype, mask kind, head sizes, strides, index ranges). No
/// side effects; rtx.jit.701/702 otherwise.
Expected<void> can_implement(const AttentionSpec& spec, const AttentionProblem& problem);
/// ... and the buffers: present where the problem reads or writes memory and aligned as the
/// algorithm requires (rtx.jit.703).
Expected<void> can_implement(const AttentionSpec& spec, const AttentionProblem& problem,
                             const AttentionBuffers& buffers);

/// Extra device memory a launch needs (none).
inline size_t workspace_size(const AttentionSpec&, const AttentionProblem&) {
  return 0;
}

/// Dynamic shared memory of one block (bytes) for `spec` on `problem`.
size_t shared_bytes(const AttentionSpec& spec, const AttentionProblem& problem);

/// Grid, block and dynamic shared memory. An empty output gives a grid with a 0 extent.
LaunchConfig launch_config(const AttentionSpec& spec, const AttentionProblem& problem);

/// The kernel parameter block.
AttentionParams make_params(const AttentionSpec& spec, const AttentionProblem& problem,
                            const AttentionBuffers& buffers);

/// Checks, then launches `kernel` (compiled from `spec`) on `stream` (a cudaStream_t). An empty
/// output launches nothing.
Expected<void> run(const AttentionSpec& spec, const Kernel& kernel, const AttentionProblem& problem,
                   const AttentionBuffers& buffers, void* stream);

/// What the planner knows beyond the node.
struct AttentionPlanOptions {
  int sm = 80;  ///< target architecture (compute capability * 10); every kernel runs on >= 80
};

/// The flash tile used for a static head size (64 or 128).
AttentionTile default_attention_tile(int head_dim);

/// Maps an IR Attention node with these input infos (dims may be dynamic) to a spec, or nullopt
/// when the family cannot implement it (see the file comment). kFlash when both head sizes are
/// static, positive, at most 128 and multiples of 8; kGeneric otherwise.
std::optional<AttentionSpec> plan_attention(const ir::Node& node,
                                            std::span<const ir::TensorInfo> inputs,
                                            const AttentionPlanOptions& options = {});

}  // namespace rtx::jit::kernels
