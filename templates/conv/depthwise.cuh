// SPDX-License-Identifier: Apache-2.0
// Depthwise convolution (groups == C: one input channel per group, any channel multiplier
// M / G) as its own simple kernel: with one input channel per group the implicit GEMM would have
// K = T * R * S, far too small for tensor cores, and the layer is bound by memory traffic. One
// thread computes one output element over all kernel taps in f32, then applies the fused
// epilogue (bias per channel, activation, residual, output cast).
//
// Contract
//   template parameters:
//     TIn      __half, __nv_bfloat16 or float (x, w, bias)
//     TOut     __half, __nv_bfloat16 or float (y, residual)
//     kLayout  (rtx::kernels::conv::Layout)0 (NCHW) or 1 (NHWC)
//     Epi      gemm::Epilogue<act, bias (None or PerColumn = per output channel), false, res>
//   block shape: 256 threads; grid: enough blocks for N * M * Do * Ho * Wo outputs (grid-stride)
//   shared memory: none
//   parameters: ConvParams; weights OIHW (M, 1, T, R, S); output and residual contiguous in
//     kLayout; gemm.d = y, gemm.bias, gemm.residual.ptr, gemm.alpha are read
//   name expression:
//     rtx::kernels::conv::conv_depthwise<__half, __half, (rtx::kernels::conv::Layout)1,
//       rtx::kernels::gemm::Epilogue<(rtx::kernels::gemm::Activation)0,
//       (rtx::kernels::gemm::BiasMode)1, false, false>>
#pragma once

#include "conv/params.cuh"
#include "gemm/epilogue.cuh"
#include "gemm/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::conv {

template <class TIn, class TOut, Layout kLayout, class Epi>
__global__ void __launch_bounds__(256) conv_depthwise(const __grid_constant__ ConvParams cp) {
  using RTX_STD::int64_t;
  const gemm::GemmParams& p = cp.gemm;
  const TIn* x = static_cast<const TIn*>(cp.x);
  const TIn* w = static_cast<const TIn*>(cp.w);
  TOut* y = static_cast<TOut*>(p.d);
  const int64_t positions = static_cast<int64_t>(cp.out_d) * cp.out_h * cp.out_w;
  const int64_t total = positions * cp.out_channels * cp.batch;
  const int taps = cp.ker_t * cp.ker_r * cp.ker_s;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t n, m, pos;
    if constexpr (kLayout == Layout::kNHWC) {
      m = idx % cp.out_channels;
      const int64_t np = idx / cp.out_channels;
      pos = np % positions;
      n = np / positions;
    } else {
      pos = idx % positions;
      const int64_t nm = idx / positions;
      m = nm % cp.out_channels;
      n = nm / cp.out_channels;
    }
    unsigned ow, oh;
    unsigned rest = cp.div_out_w.divmod(static_cast<unsigned>(pos), ow);
    const unsigned od = cp.div_out_h.divmod(rest, oh);
    const int ci = static_cast<int>(cp.div_mg.div(static_cast<unsigned>(m)));  // the group
    const int d0 = static_cast<int>(od) * cp.stride_d - cp.pad_d;
    const int h0 = static_cast<int>(oh) * cp.stride_h - cp.pad_h;
    const int w0 = static_cast<int>(ow) * cp.stride_w - cp.pad_w;
    const TIn* wm = w + m * taps;
    float acc = 0.0f;
    for (int t = 0; t < cp.ker_t; ++t) {
      const int id = d0 + t * cp.dil_d;
      if (id < 0 || id >= cp.in_d) continue;
      for (int r = 0; r < cp.ker_r; ++r) {
        const int ih = h0 + r * cp.dil_h;
        if (ih < 0 || ih >= cp.in_h) continue;
        for (int s = 0; s < cp.ker_s; ++s) {
          const int iw = w0 + s * cp.dil_w;
          if (iw < 0 || iw >= cp.in_w) continue;
          const int64_t pixel = (static_cast<int64_t>(id) * cp.in_h + ih) * cp.in_w + iw;
          int64_t xi;
          if constexpr (kLayout == Layout::kNHWC) {
            xi = (n * cp.in_d * cp.in_h * cp.in_w + pixel) * cp.channels + ci;
          } else {
            xi = (n * cp.channels + ci) * (static_cast<int64_t>(cp.in_d) * cp.in_h * cp.in_w) +
                 pixel;
          }
          acc += gemm::to_float(x[xi]) * gemm::to_float(wm[(t * cp.ker_r + r) * cp.ker_s + s]);
        }
      }
    }
    float v = p.alpha * acc;
    if constexpr (Epi::kBias != gemm::BiasMode::kNone) {
      v += gemm::to_float(static_cast<const TIn*>(p.bias)[m]);
    }
    v = gemm::activate<Epi::kAct>(v, p.activation_floor);
    if constexpr (Epi::kResidual)
      v += gemm::to_float(static_cast<const TOut*>(p.residual.ptr)[idx]);
    y[idx] = gemm::from_float<TOut>(v);
  }
}

}  // namespace rtx::kernels::conv
