// SPDX-License-Identifier: Apache-2.0
// Host side of the convolution family (templates/conv/): Conv as an implicit GEMM on tensor
// cores (NCHW and NHWC, 1-D/2-D/3-D, stride, pad, dilation, groups), depthwise convolution as its
// own kernel, and 1x1 NCHW convolutions mapped onto the dense GEMM kernel. Fused epilogue: bias
// per output channel, activation, residual add, output cast. Same split as the GEMM family:
// ConvSpec (compile-time choices) / ConvProblem (run-time shapes) / can_implement /
// launch_config / make_params / run, and plan_conv() for IR Conv nodes.
//
// Tensor layouts: NCHW: x (N, C, D, H, W), y (N, M, Do, Ho, Wo), weights OIHW (M, C/G, T, R, S)
// as ONNX stores them. NHWC: x (N, D, H, W, C), y (N, Do, Ho, Wo, M), weights OHWI
// (M, T, R, S, C/G) (ohwi_weights() converts). Depthwise takes OIHW weights in both layouts
// ((M, 1, T, R, S) is the same memory as OHWI). The residual has the output's layout.
//
// Error ids: rtx.jit.411 (spec invalid), 412 (problem not implementable), 413 (bad buffer).
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
#include "jit/kernels/gemm.hpp"
#include "jit/module.hpp"
#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/types.hpp"
#include "templates/conv/params.cuh"

namespace rtx::jit::kernels {

/// Activation memory layout.
enum class ConvLayout : uint8_t {
  kNCHW = 0,
  kNHWC = 1,
};

/// Which kernel implements a spec.
enum class ConvAlgorithm : uint8_t {
  kImplicitGemm = 0,  ///< conv/implicit_gemm.cuh (tensor cores)
  kDepthwise = 1,     ///< conv/depthwise.cuh (groups == C)
  kGemm = 2,          ///< NCHW 1x1, stride 1, no pads: the dense GEMM kernel (gemm_spec())
};

/// Compile-time choices of one convolution kernel.
struct ConvSpec {
  ConvAlgorithm algorithm = ConvAlgorithm::kImplicitGemm;
  ConvLayout layout = ConvLayout::kNHWC;
  DataType input = DataType::kF16;   ///< x, w, bias
  DataType output = DataType::kF16;  ///< y, residual
  int vec_a = 8;  ///< implicit GEMM: NHWC channels per im2col copy / NCHW weight copy vector
  int vec_b = 8;  ///< implicit GEMM: NHWC weight copy vector / NCHW 1 (element gathers)
  GemmTile tile{128, 128, 64, 4, 2, 4};
  GemmActivation activation = GemmActivation::kNone;
  bool bias = false;
  bool residual = false;

  /// The GEMM-family epilogue this spec uses (bias per row for NCHW GEMM views).
  GemmEpilogue epilogue() const;
  /// kGemm: the GEMM kernel's spec (A = weights (M/G, C/G), B = x (C/G, positions)).
  GemmSpec gemm_spec() const;
  std::string name_expression() const;
  Program program() const;
  int threads() const;
  int shared_bytes() const;
  bool supports(const Target& target) const { return target.sm >= 80; }
  /// rtx.jit.411 when the choices do not fit the templates.
  Expected<void> validate() const;
  std::string describe() const;
  friend bool operator==(const ConvSpec&, const ConvSpec&) = default;
};

/// One program with many convolution kernels.
Program conv_program(std::span<const ConvSpec> specs, std::string name = "rtx_conv");

void to_json(nlohmann::json& j, const ConvSpec& spec);
void from_json(const nlohmann::json& j, ConvSpec& spec);

/// Run-time shapes of a convolution, always 3-D spatially (leading extents 1 for 1-D/2-D).
struct ConvProblem {
  int64_t n = 1, c = 1, m = 1, groups = 1;
  int spatial_rank = 2;                ///< 1, 2 or 3: the rank the caller's tensors have
  std::array<int64_t, 3> in{1, 1, 1};  ///< D, H, W
  std::array<int64_t, 3> out{1, 1, 1};
  std::array<int64_t, 3> kernel{1, 1, 1};
  std::array<int64_t, 3> stride{1, 1, 1};
  std::array<int64_t, 3> pad{0, 0, 0};  ///< leading pads
  std::array<int64_t, 3> dilation{1, 1, 1};

  int64_t positions() const { return out[0] * out[1] * out[2]; }
  int64_t taps() const { return kernel[0] * kernel[1] * kernel[2]; }
  /// The GEMM K of the implicit GEMM: (C / G) * taps.
  int64_t gemm_k() const { return c / groups * taps(); }
  /// 1x1 kernel, stride 1 and no padding at either end: the im2col matrix of one image is x's
  /// (C, positions) itself.
  bool is_pointwise() const {
    return taps() == 1 && stride == std::array<int64_t, 3>{1, 1, 1} && pad == std::array<int64_t, 3>{0, 0, 0} &&
           out == in;
  }
  /// Output shape in `layout` with the caller's spatial rank.
  std::vector<int64_t> output_shape(ConvLayout layout) const;
  /// Input shape in `layout` with the caller's spatial rank.
  std::vector<int64_t> input_shape(ConvLayout layout) const;
};

/// A problem from NCHW-ordered shapes: x (N, C, spatial...), w (M, C/G, kernel...), and ONNX-style
/// attributes (empty vectors mean the defaults; pads holds begins then ends). Throws
/// rtx::Exception (rtx.jit.412) on inconsistent shapes.
ConvProblem conv_problem(std::span<const int64_t> x_nchw, std::span<const int64_t> w_oihw,
                         std::span<const int64_t> strides, std::span<const int64_t> pads,
                         std::span<const int64_t> dilations, int64_t groups);

/// Device buffers: x, w, y; bias (M values) and residual as the spec needs.
struct ConvBuffers {
  const void* x = nullptr;
  const void* w = nullptr;
  void* y = nullptr;
  const void* bias = nullptr;
  const void* residual = nullptr;
};

/// kGemm: the GEMM problem of a 1x1 NCHW convolution (batch dims (N, G)).
GemmProblem conv_gemm_problem(const ConvProblem& problem);

/// Whether `spec` can run `problem`; no side effects.
Expected<void> can_implement(const ConvSpec& spec, const ConvProblem& problem);
Expected<void> can_implement(const ConvSpec& spec, const ConvProblem& problem,
                             const ConvBuffers& buffers);
inline size_t workspace_size(const ConvSpec&, const ConvProblem&) {
  return 0;
}
LaunchConfig launch_config(const ConvSpec& spec, const ConvProblem& problem);
/// Parameter block of kImplicitGemm and kDepthwise specs.
rtx::kernels::conv::ConvParams make_params(const ConvSpec& spec, const ConvProblem& problem,
                                           const ConvBuffers& buffers);
/// Checks and launches `kernel` (compiled from `spec`; for kGemm from spec.gemm_spec()).
Expected<void> run(const ConvSpec& spec, const Kernel& kernel, const ConvProblem& problem,
                   const ConvBuffers& buffers, void* stream);

/// OIHW (M, C/G, spatial...) weights reordered to OHWI (M, spatial..., C/G) for NHWC specs.
HostTensor ohwi_weights(const HostTensor& oihw);

/// What the planner knows beyond the node.
struct ConvPlanOptions {
  int sm = 80;
  ConvLayout layout = ConvLayout::kNCHW;  ///< the layout the engine keeps activations in
  std::optional<DataType> output;
  GemmActivation activation = GemmActivation::kNone;
  bool residual = false;
  int multiprocessors = 132;
};

/// A spec for `problem`: depthwise for groups == C, the GEMM kernel for NCHW 1x1 convolutions,
/// else implicit GEMM with copy vectors from the channel counts and a tile that fits `sm`.
ConvSpec choose_conv_spec(DataType input, const ConvProblem& problem, bool bias,
                          const ConvPlanOptions& options);

/// Maps an IR Conv node (ONNX semantics; static spatial and channel dims) to a spec, or nullopt.
std::optional<ConvSpec> plan_conv(const ir::Node& node, std::span<const ir::TensorInfo> inputs,
                                  const ConvPlanOptions& options = {});

/// The problem of an IR Conv node for concrete input shapes (x NCHW, w OIHW); reads strides,
/// pads, dilations, group and auto_pad.
ConvProblem conv_problem(const ir::Node& node, std::span<const int64_t> x_nchw,
                         std::span<const int64_t> w_oihw);

}  // namespace rtx::jit::kernels
