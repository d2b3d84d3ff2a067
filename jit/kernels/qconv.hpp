// SPDX-License-Identifier: Apache-2.0
// Host side of the quantized convolution (templates/qconv/qconv_sm80.cuh): the kernel that runs
// a folded DQ(x) -> Conv <- DQ(W) [B] [-> activation] [-> Q] pattern (ir::QuantConvGroup) as one
// launch, int8/uint8 operands accumulated exactly in s32 by mma.sync (sm_80 and newer).
// Same split as the other families: QConvSpec (compile-time choices, the engine's step spec) /
// the float convolution's ConvProblem (run-time shapes: geometry is shared with
// jit/kernels/conv.hpp, NCHW) / can_implement / launch_config / make_params / run, and
// plan_qconv() for folded groups.
//
// What the planner declines (the group then runs as DequantizeLinear + the float Conv):
// K = (C / G) * taps not a multiple of 4 (the OIHW weight rows are copied with 4/8/16-byte
// cp.async), dynamic channel or spatial dims, K * max|x * w| >= 2^31 (s32 overflow), one
// (image, group) slice of x of 2^31 bytes or more, targets below sm_80.
//
// Error ids: rtx.jit.811 (spec invalid), 812 (problem not implementable by the spec),
// 813 (buffer missing or misaligned).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "jit/compiler.hpp"
#include "jit/kernels/common.hpp"
#include "jit/kernels/conv.hpp"
#include "jit/kernels/gemm.hpp"
#include "jit/module.hpp"
#include "rtx/error.hpp"
#include "rtx/types.hpp"
#include "templates/qconv/params.cuh"

namespace rtx::ir {
class Graph;
struct QuantConvGroup;
}  // namespace rtx::ir

namespace rtx::jit::kernels {

/// Error ids of the quantized convolution.
namespace qconv_errc {
inline constexpr const char* kSpecInvalid = "rtx.jit.811";
inline constexpr const char* kNotImplementable = "rtx.jit.812";
inline constexpr const char* kBadBuffer = "rtx.jit.813";
}  // namespace qconv_errc

/// Compile-time choices of one quantized convolution kernel (NCHW, OIHW weights).
struct QConvSpec {
  DataType x = DataType::kINT8;       ///< activations: int8 / uint8
  DataType w = DataType::kINT8;       ///< weights: int8 / uint8
  DataType scale = DataType::kF32;    ///< x, w and y scale storage: f32, f16, bf16
  DataType mid = DataType::kF32;      ///< the Conv's dtype (and its bias's): f32, f16, bf16
  DataType output = DataType::kF32;   ///< mid, or int8 / uint8 with quantize
  bool per_channel = false;           ///< W's scale is per output channel
  int vec_w = 16;                     ///< weight bytes per cp.async copy: 4, 8 or 16
  /// 0: the im2col gather (any geometry); 4, 8 or 16: a pointwise convolution (1x1, stride 1, no
  /// padding) whose x rows are copied with cp.async of this many bytes and transposed in shared
  /// memory (the plane and x's address must be multiples).
  int vec_x = 0;
  GemmTile tile{128, 128, 128, 4, 2, 4};  ///< BK is 128 (bytes)
  GemmActivation activation = GemmActivation::kNone;
  bool bias = false;                  ///< Conv's B (one rounding with the product)
  bool quantize = false;              ///< a QuantizeLinear writes the output
  friend bool operator==(const QConvSpec&, const QConvSpec&) = default;

  /// The kernel's NVRTC name expression.
  std::string name_expression() const;
  /// A program holding just this kernel.
  Program program() const;
  int threads() const;
  /// Dynamic shared memory per block (bytes).
  int shared_bytes() const;
  bool supports(const Target& target) const { return target.sm >= 80; }
  /// Structural checks mirroring the template's static requirements (rtx.jit.811).
  Expected<void> validate() const;
  /// "i8xi8 f16->i8 128x128x128 s4 w2x4 v16 per_channel relu+bias+q" (" x16" after v16 for a
  /// pointwise kernel).
  std::string describe() const;
};

void to_json(nlohmann::json& j, const QConvSpec& spec);
/// Throws rtx::Exception rtx.jit.811 on a malformed spec.
void from_json(const nlohmann::json& j, QConvSpec& spec);

/// Device buffers of a launch (those the spec needs).
struct QConvBuffers {
  const void* x = nullptr;
  const void* w = nullptr;
  void* y = nullptr;
  const void* x_scale = nullptr;
  const void* w_scale = nullptr;
  const void* bias = nullptr;
  const void* y_scale = nullptr;
  const void* y_zero = nullptr;  ///< optional even with quantize (0)
};

/// Whether `spec` can run `problem` (K alignment, int32 ranges, the s32 overflow bound); no
/// side effects; rtx.jit.811/812 otherwise.
Expected<void> can_implement(const QConvSpec& spec, const ConvProblem& problem);
/// ... and the buffers: present as the spec needs, the weights aligned to vec_w (813), and the
/// W scale's element count (1, or M per channel: 812).
Expected<void> can_implement(const QConvSpec& spec, const ConvProblem& problem,
                             const QConvBuffers& buffers, int64_t w_scale_count);

inline size_t workspace_size(const QConvSpec&, const ConvProblem&) { return 0; }
/// Grid, block and dynamic shared memory; an empty output gives a grid with a 0 extent.
LaunchConfig launch_config(const QConvSpec& spec, const ConvProblem& problem);
rtx::kernels::qconv::QConvParams make_params(const QConvSpec& spec, const ConvProblem& problem,
                                             const QConvBuffers& buffers);
/// Checks, then launches `kernel` (compiled from `spec`); an empty output launches nothing.
Expected<void> run(const QConvSpec& spec, const Kernel& kernel, const ConvProblem& problem,
                   const QConvBuffers& buffers, int64_t w_scale_count, void* stream);

/// What the planner knows beyond the pattern.
struct QConvPlanOptions {
  int sm = 80;                 ///< the most restrictive target (shared memory)
  int multiprocessors = 132;   ///< SMs of the expected GPU, for the tile choice
};

/// Tile, stages and weight copy vector for `base` (dtypes and epilogue set) on `problem`;
/// nullopt when K is not a multiple of 4 or nothing fits.
std::optional<QConvSpec> choose_qconv_spec(QConvSpec base, const ConvProblem& problem,
                                           const QConvPlanOptions& options);

/// The spec for a folded group (ir::match_quant_conv), or nullopt when the kernel cannot run it
/// (the group's nodes then run unfused).
std::optional<QConvSpec> plan_qconv(const ir::Graph& graph, const ir::QuantConvGroup& group,
                                    const QConvPlanOptions& options = {});

}  // namespace rtx::jit::kernels
