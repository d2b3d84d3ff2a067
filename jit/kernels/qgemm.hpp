// SPDX-License-Identifier: Apache-2.0
// Host side of the quantized GEMM family (templates/qgemm/): the kernels that run a folded
// DQ(A) x DQ(B) [+ bias] [-> activation] [-> Q] pattern (ir/quant_passes.hpp) as one launch.
// CUTLASS-style like the GEMM family (jit/kernels/gemm.hpp, whose problem construction and tile
// vocabulary it reuses): a QGemmSpec holds the compile-time choices and renders the NVRTC
// program and name expression; a QGemmProblem holds run-time shapes, strides and the addressing
// of B's scales; can_implement() says, without side effects, whether a spec can run a problem;
// launch_config(), make_params() and run() launch it. plan_qgemm() maps a folded group to a
// spec for one target architecture.
//
// Kernels (name-expression forms in the templates' contract blocks):
//   8-bit x 8-bit, mma.sync   qgemm/qgemm_sm80.cuh qgemm_mma    int8/uint8 (sm_80+), fp8 (sm_89+)
//   8-bit x 8-bit, wgmma      qgemm/qgemm_sm90.cuh qgemm_wgmma  sm_90a only, B stored (N, K)
//   weight-only, mma.sync     qgemm/qgemm_sm80.cuh qgemm_wo     f16/bf16 A; int8, uint8, int4,
//                             uint4 (sm_80+), fp8 (sm_89+), fp4 e2m1 (sm_100+) B
// The minimum architectures are the hardware gating rules (jit/gating.hpp); FP4 kernels are
// compiled for sm_100 and sm_120 only and have never run here (no such GPU was available).
//
// Error ids: rtx.jit.801 (spec invalid), 802 (problem not implementable by the spec),
// 803 (buffer missing or misaligned), 804 (launch setup failed).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "jit/compiler.hpp"
#include "jit/kernels/common.hpp"
#include "jit/kernels/gemm.hpp"
#include "jit/module.hpp"
#include "rtx/error.hpp"
#include "rtx/types.hpp"
#include "templates/qgemm/params.cuh"

namespace rtx::ir {
class Graph;
struct QuantGemmGroup;
}  // namespace rtx::ir

namespace rtx::jit::kernels {

using QScaleMode = rtx::kernels::qgemm::ScaleMode;
using QBiasMode = rtx::kernels::qgemm::BiasMode;

/// Error ids of the family.
namespace qgemm_errc {
inline constexpr const char* kSpecInvalid = "rtx.jit.801";
inline constexpr const char* kNotImplementable = "rtx.jit.802";
inline constexpr const char* kBadBuffer = "rtx.jit.803";
inline constexpr const char* kLaunchSetup = "rtx.jit.804";
}  // namespace qgemm_errc

/// Which kernel template implements a spec.
enum class QGemmAlgorithm : uint8_t {
  kMmaSync = 0,  ///< qgemm_mma (8-bit) or qgemm_wo (weight-only); sm_80 and newer
  kWgmma = 1,    ///< qgemm_wgmma (8-bit, B stored (N, K)); sm_90a only
};

/// What follows the dequantized product.
struct QGemmEpilogue {
  GemmActivation activation = GemmActivation::kNone;
  QBiasMode bias = QBiasMode::kNone;
  bool quantize = false;  ///< a QuantizeLinear (per-tensor) writes the output
  bool saturate = true;   ///< its `saturate` (fp8 outputs)
  friend bool operator==(const QGemmEpilogue&, const QGemmEpilogue&) = default;
};

/// How operand shapes become a problem: static facts of the folded pattern that do not change
/// the kernel (not part of the name expression).
struct QGemmForm {
  bool gemm = false;             ///< ONNX Gemm (2-D, alpha, beta) rather than MatMul
  double alpha = 1.0;
  double beta = 1.0;
  int64_t b_block = 0;           ///< kBlocked: the K block of B's scale (1: per-k scale)
  bool b_scale_k_first = false;  ///< kBlocked, 2-D scale: dims (K blocks, N), else (N, K blocks)
  friend bool operator==(const QGemmForm&, const QGemmForm&) = default;
};

/// Compile-time choices of one quantized GEMM kernel.
struct QGemmSpec {
  QGemmAlgorithm algorithm = QGemmAlgorithm::kMmaSync;
  DataType a = DataType::kINT8;       ///< int8/uint8/fp8 (8-bit kernels) or f16/bf16 (weight-only)
  DataType b = DataType::kINT8;       ///< the quantized operand
  DataType scale = DataType::kF32;    ///< storage of the scales (f32, f16, bf16)
  DataType mid = DataType::kF32;      ///< the dequantized MatMul's dtype (== a for weight-only)
  DataType output = DataType::kF32;   ///< mid, or int8/uint8/fp8 with epilogue.quantize
  bool b_k_major = false;             ///< B stored (N, K); else (K, N)
  QScaleMode b_scale = QScaleMode::kPerTensor;
  bool b_zero = false;                ///< weight-only integer B reads a zero point
  int vec_a = 16;                     ///< A elements per cp.async copy
  int vec_b = 16;                     ///< B bytes per cp.async copy
  GemmTile tile{128, 128, 128, 4, 2, 4};  ///< bk: 128 (8-bit) or 64 (weight-only)
  QGemmEpilogue epilogue;
  QGemmForm form;

  /// Whether A is f16/bf16 (the weight-only kernel).
  bool weight_only() const;
  /// The kernel's NVRTC name expression.
  std::string name_expression() const;
  /// Headers the program includes.
  std::string source() const;
  /// A program holding just this kernel.
  Program program() const;
  /// Threads per block.
  int threads() const;
  /// Dynamic shared memory per block (bytes).
  int shared_bytes() const;
  /// Oldest compute capability that may run it (the gating rule of its types).
  int min_sm() const;
  /// Whether it may be compiled for `target` (its minimum; wgmma: exactly sm_90a).
  bool supports(const Target& target) const;
  /// Structural checks mirroring the templates' static requirements (rtx.jit.801).
  Expected<void> validate() const;
  /// "mma_sync int8xint8 f32->int8 128x128x128 s4 w2x4 N v16/16 per_column relu+add+q".
  std::string describe() const;
  friend bool operator==(const QGemmSpec&, const QGemmSpec&) = default;
};

/// One program with many quantized GEMM kernels.
Program qgemm_program(std::span<const QGemmSpec> specs, std::string name = "rtx_qgemm");

void to_json(nlohmann::json& j, const QGemmSpec& spec);
/// Throws rtx::Exception rtx.jit.801 on a malformed spec.
void from_json(const nlohmann::json& j, QGemmSpec& spec);

/// Run-time description of one launch.
struct QGemmProblem {
  GemmProblem shape;              ///< m, n, k, layouts, strides, batch (C and residual unused)
  int64_t b_scale_k_stride = 0;   ///< B scale index = (k / b_block) * k_stride + n * n_stride
  int64_t b_scale_n_stride = 0;
  int64_t b_block = 1;
};

/// Device buffers of a launch (those the spec needs).
struct QGemmBuffers {
  const void* a = nullptr;
  const void* b = nullptr;
  void* d = nullptr;
  const void* a_scale = nullptr;
  const void* b_scale = nullptr;
  const void* b_zero = nullptr;
  const void* bias = nullptr;
  const void* y_scale = nullptr;
  const void* y_zero = nullptr;  ///< optional even with quantize (0)
};

/// The problem of `spec` for contiguous operands of these shapes: A as stored ((..., M, K) for
/// MatMul, (M, K) for Gemm), B as stored ((K, N) or, b_k_major, (N, K); MatMul may batch B with
/// a per-tensor scale) and B's scale (rtx.jit.802 when they do not fit together).
Expected<QGemmProblem> qgemm_problem(const QGemmSpec& spec, std::span<const int64_t> a_shape,
                                     std::span<const int64_t> b_shape,
                                     std::span<const int64_t> b_scale_shape);

/// Whether `spec` can run `problem` (layouts, copy vectors, index ranges, overflow-free integer
/// sums). No side effects; rtx.jit.801/802 otherwise.
Expected<void> can_implement(const QGemmSpec& spec, const QGemmProblem& problem);
/// ... and the buffers: present as the spec needs and aligned to the copy vectors (803).
Expected<void> can_implement(const QGemmSpec& spec, const QGemmProblem& problem,
                             const QGemmBuffers& buffers);

/// Extra device memory a launch needs (none).
inline size_t workspace_size(const QGemmSpec&, const QGemmProblem&) { return 0; }

/// Grid, block and dynamic shared memory; an empty output gives a grid with a 0 extent.
LaunchConfig launch_config(const QGemmSpec& spec, const QGemmProblem& problem);

/// The kernel parameter block.
rtx::kernels::qgemm::QGemmParams make_params(const QGemmSpec& spec, const QGemmProblem& problem,
                                             const QGemmBuffers& buffers);

/// The two TMA maps (A, B) that the wgmma kernel takes after its parameter block; built per
/// launch because they hold the buffer addresses (the runtime and run() share this).
Expected<void> make_tma_maps(const QGemmSpec& spec, const QGemmProblem& problem, const QGemmBuffers& buffers,
                             rtx::kernels::gemm::TmaDescriptor& a_map, rtx::kernels::gemm::TmaDescriptor& b_map);

/// Checks, then launches `kernel` (compiled from `spec`) on `stream`; the wgmma kernel gets its
/// TMA maps built here. An empty output launches nothing.
Expected<void> run(const QGemmSpec& spec, const Kernel& kernel, const QGemmProblem& problem,
                   const QGemmBuffers& buffers, void* stream);

/// What the planner knows beyond the pattern.
struct QGemmPlanOptions {
  int sm = 80;                  ///< target architecture (compute capability * 10)
  bool arch_specific = false;   ///< the target is sm_XXa: wgmma may be used on sm_90a
  int multiprocessors = 132;    ///< SMs of the expected GPU, for the tile choice
};

/// Tile, pipeline depth and copy vectors for `base` (dtypes, layouts, epilogue and form set) on
/// `problem`; nullopt when no tile fits (copy alignment below 4 bytes for 8-bit operands...).
std::optional<QGemmSpec> choose_qgemm_spec(QGemmSpec base, const QGemmProblem& problem,
                                           const QGemmPlanOptions& options);

/// The spec for a folded group (ir::match_quant_gemm) on `options.sm`, or nullopt when the
/// family cannot implement it there (the group's nodes then run unfused).
std::optional<QGemmSpec> plan_qgemm(const ir::Graph& graph, const ir::QuantGemmGroup& group,
                                    const QGemmPlanOptions& options = {});

}  // namespace rtx::jit::kernels
