// SPDX-License-Identifier: Apache-2.0
// Host side of the GEMM family (templates/gemm/): GEMM and batched MatMul on tensor cores with
// a fused epilogue. CUTLASS-style split: a GemmSpec holds the compile-time choices (dtypes,
// operand layouts, copy vector widths, tile shape, epilogue) and renders the NVRTC program and
// name expression; a GemmProblem holds the run-time shapes and strides; can_implement() says,
// without side effects, whether a spec can run a problem; launch_config(), make_params() and
// run() launch it. plan_gemm() maps an IR MatMul/Gemm node (ONNX semantics) to a spec for one
// target architecture.
//
// Algorithms are Spec variants: kMmaSync (gemm/gemm_sm80.cuh, every target from sm_80) and
// kWgmma (gemm/gemm_sm90.cuh: wgmma + TMA, only the sm_90a target). The planner picks per
// target, so one engine holds an mma.sync cubin for sm_80 and a wgmma cubin for sm_90a.
//
// Error ids: rtx.jit.401 (spec invalid), 402 (problem not implementable by the spec),
// 403 (buffer missing or misaligned), 404 (launch setup failed).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jit/compiler.hpp"
#include "jit/kernels/common.hpp"
#include "jit/module.hpp"
#include "rtx/error.hpp"
#include "rtx/types.hpp"
#include "templates/gemm/params.cuh"

namespace rtx::ir {
struct Node;
struct TensorInfo;
}  // namespace rtx::ir

namespace rtx::jit::kernels {

using GemmActivation = rtx::kernels::gemm::Activation;
using GemmBiasMode = rtx::kernels::gemm::BiasMode;

/// Which kernel template implements a spec.
enum class GemmAlgorithm : uint8_t {
  kMmaSync = 0,  ///< mma.sync + ldmatrix + cp.async pipeline; sm_80 and newer
  kWgmma = 1,    ///< wgmma + TMA, warp-specialised; sm_90a only
};

/// Block tile, pipeline depth and warp grid. (The wgmma kernel's tile is 128 x {64, 128, 256} x 64
/// with a fixed warp layout: warps_m = warps_n = 1 there.)
struct GemmTile {
  int bm = 128;
  int bn = 256;
  int bk = 64;
  int stages = 3;
  int warps_m = 2;
  int warps_n = 4;
  friend bool operator==(const GemmTile&, const GemmTile&) = default;
};

/// The activation a kernel is compiled with: kNone and kRelu become kFloor (one kernel, the floor
/// a run-time parameter), the others stay. Specs keep the activation the graph asked for.
constexpr GemmActivation kernel_activation(GemmActivation a) {
  return a == GemmActivation::kNone || a == GemmActivation::kRelu ? GemmActivation::kFloor : a;
}
/// "none", "relu", "gelu", ...: the activation's name in specs and descriptions (GEMM, qgemm, qconv).
const char* activation_name(GemmActivation a);
/// The spec activation named `name` (kNone .. kTanh; kFloor is never a spec's), or nullopt.
std::optional<GemmActivation> activation_from_name(std::string_view name);
/// The epilogue activation that node `n` (Relu, Sigmoid, Tanh, Silu, Gelu of either form) fuses
/// as, for the GEMM, qgemm and qconv families; nullopt for any other node.
std::optional<GemmActivation> epilogue_activation(const ir::Node& n);
/// GemmParams::activation_floor for `a`: 0 for ReLU, -inf otherwise (read only by kFloor).
float activation_floor(GemmActivation a);

/// The fused epilogue: D = act(alpha * acc + bias + beta * C) + residual.
struct GemmEpilogue {
  GemmActivation activation = GemmActivation::kNone;
  GemmBiasMode bias = GemmBiasMode::kNone;
  bool c = false;         ///< beta * C (input dtype, broadcast through strides)
  bool residual = false;  ///< + R after the activation (output dtype)
  friend bool operator==(const GemmEpilogue&, const GemmEpilogue&) = default;
};

/// Compile-time choices of one GEMM kernel.
struct GemmSpec {
  GemmAlgorithm algorithm = GemmAlgorithm::kMmaSync;
  DataType input = DataType::kF16;   ///< A, B, bias and C: f16, bf16 or f32 (tf32 MMA)
  DataType output = DataType::kF16;  ///< D and the residual: f16, bf16 or f32
  bool a_k_major = true;             ///< A stored (M, K); false: stored (K, M) (Gemm transA)
  bool b_k_major = false;  ///< B stored (N, K) (Gemm transB); false: (K, N), MatMul's weights
  int vec_a = 8;           ///< elements per global->shared copy of A (alignment-dependent)
  int vec_b = 8;
  GemmTile tile;
  GemmEpilogue epilogue;

  /// The kernel's NVRTC name expression, e.g. "rtx::kernels::gemm::gemm_mma<__half, ...>".
  std::string name_expression() const;
  /// Headers the program includes.
  std::string source() const;
  /// A program holding just this kernel.
  Program program() const;
  /// Threads per block.
  int threads() const;
  /// Dynamic shared memory per block (bytes).
  int shared_bytes() const;
  /// Whether the spec can be compiled for `target` (wgmma needs exactly sm_90a).
  bool supports(const Target& target) const;
  /// Structural checks: dtypes, tile divisibility, vector widths (rtx.jit.401).
  Expected<void> validate() const;
  /// "mma_sync f16->f16 128x256x64 s3 w2x4 NN v8/8 relu+bias".
  std::string describe() const;
  friend bool operator==(const GemmSpec&, const GemmSpec&) = default;
};

/// One program with many GEMM kernels (NVRTC parses the headers once).
Program gemm_program(std::span<const GemmSpec> specs, std::string name = "rtx_gemm");

void to_json(nlohmann::json& j, const GemmSpec& spec);
void from_json(const nlohmann::json& j, GemmSpec& spec);

/// Strides of an epilogue operand (C or the residual) broadcast to (batch..., M, N).
struct GemmOperandStrides {
  int64_t row = 0;
  int64_t col = 0;
  std::vector<int64_t> batch;  ///< one per GemmProblem::batch dim (0 = broadcast)
};

/// Run-time shapes, stored layouts and strides (elements) of a GEMM launch: a full description
/// of the memory the kernel reads and writes.
struct GemmProblem {
  int64_t m = 0, n = 0, k = 0;
  bool a_k_major = true;              ///< A stored (M, K); false: (K, M)
  bool b_k_major = false;             ///< B stored (N, K); false: (K, N)
  int64_t lda = 0, ldb = 0, ldd = 0;  ///< row strides of A, B, D as stored
  std::vector<int64_t> batch;         ///< batch dims, outermost first (empty: one GEMM)
  std::vector<int64_t> a_batch, b_batch, d_batch, bias_batch;  ///< per batch dim; 0 = broadcast
  GemmOperandStrides c, residual;
  float alpha = 1.0f;
  float beta = 0.0f;

  int64_t batch_count() const;
};

/// Device buffers of a launch; bias, c and residual as the spec's epilogue requires.
struct GemmBuffers {
  const void* a = nullptr;
  const void* b = nullptr;
  void* d = nullptr;
  const void* bias = nullptr;
  const void* c = nullptr;
  const void* residual = nullptr;
};

/// MatMul (numpy semantics) of contiguous row-major A (..., M, K) and B (..., K, N): 1-D
/// operands promoted, batch dims broadcast (stride 0), batch dims merged where possible, and
/// A's batch folded into M when B is shared by every batch (a Linear layer: one large GEMM).
/// D is contiguous with the MatMul output shape. A residual (if used) gets D's strides.
GemmProblem matmul_problem(std::span<const int64_t> a_shape, std::span<const int64_t> b_shape);

/// ONNX Gemm of contiguous A, B (2-D, transposed as stored when trans_a/trans_b) and optional C
/// (broadcast to (M, N): rank 0, 1 or 2; empty span with has_c = false when absent).
GemmProblem gemm_problem(std::span<const int64_t> a_shape, std::span<const int64_t> b_shape,
                         bool trans_a, bool trans_b, bool has_c, std::span<const int64_t> c_shape,
                         float alpha, float beta);

/// Largest copy vector (elements: 16, 8 or 4 bytes, else 1) dividing `ld` and every stride.
int choose_vector(DataType dtype, int64_t ld, std::span<const int64_t> batch_strides);

/// Whether `spec` can run `problem` (shapes, strides vs vector widths, index ranges). No side
/// effects; rtx.jit.401/402 otherwise.
Expected<void> can_implement(const GemmSpec& spec, const GemmProblem& problem);
/// ... and the buffers: present as the epilogue needs and aligned to the copy vectors (403).
Expected<void> can_implement(const GemmSpec& spec, const GemmProblem& problem,
                             const GemmBuffers& buffers);

/// Extra device memory a launch needs (none for these kernels).
inline size_t workspace_size(const GemmSpec&, const GemmProblem&) {
  return 0;
}

/// Grid, block and dynamic shared memory. An empty output gives a grid with a 0 extent.
LaunchConfig launch_config(const GemmSpec& spec, const GemmProblem& problem);

/// The kernel parameter block.
rtx::kernels::gemm::GemmParams make_params(const GemmSpec& spec, const GemmProblem& problem,
                                           const GemmBuffers& buffers);

/// The wgmma kernel's second and third parameters: TMA maps of A and B over `buffers` (needs the
/// CUDA driver: cuTensorMapEncodeTiled through cudart's entry-point lookup).
Expected<void> make_tma_maps(const GemmSpec& spec, const GemmProblem& problem, const GemmBuffers& buffers,
                             rtx::kernels::gemm::TmaDescriptor& a_map, rtx::kernels::gemm::TmaDescriptor& b_map);

/// Checks, then launches `kernel` (compiled from `spec`) on `stream` (a cudaStream_t). An empty
/// output launches nothing.
Expected<void> run(const GemmSpec& spec, const Kernel& kernel, const GemmProblem& problem,
                   const GemmBuffers& buffers, void* stream);

/// Largest dynamic shared memory a block may use on architecture `sm` (bytes).
int max_shared_bytes(int sm);

/// What the planner knows beyond the node.
struct GemmPlanOptions {
  int sm = 80;                     ///< target architecture (compute capability * 10)
  bool arch_specific = false;      ///< the target is sm_XXa: wgmma may be used on sm_90a
  std::optional<DataType> output;  ///< output dtype after a fused Cast (default: input's)
  GemmEpilogue epilogue;           ///< fused ops (bias / activation / residual)
  int multiprocessors = 132;       ///< SMs of the expected GPU, for the tile choice
};

/// A spec for `problem` on `options.sm`: operand layouts from the problem, tile by problem size
/// and shared-memory limit, copy vectors by strides, epilogue and output dtype from `options`
/// (output defaults to `input`).
GemmSpec choose_gemm_spec(DataType input, const GemmProblem& problem,
                          const GemmPlanOptions& options);

/// Maps an IR MatMul or Gemm node (ONNX semantics) with these input infos to a spec, or nullopt
/// when the family cannot implement it (dtype not f16/bf16/f32, dims too large, ...). Dynamic
/// dims are allowed; copy vectors then assume the worst for dims that set alignment.
std::optional<GemmSpec> plan_gemm(const ir::Node& node, std::span<const ir::TensorInfo> inputs,
                                  const GemmPlanOptions& options = {});

}  // namespace rtx::jit::kernels
