// SPDX-License-Identifier: Apache-2.0
// Run-time parameters of the quantized convolution (templates/qconv/qconv_sm80.cuh): the folded
// form of [Q](act(Conv(DQ(x), DQ(W)) [+ B])) with int8/uint8 x and W (ir/quant_passes.hpp).
// Shared by the host compiler and NVRTC (only rtx/config.hpp and the conv/GEMM params are
// included); trivially copyable, passed by value as one kernel parameter.
//
// Geometry is the float convolution's NCHW implicit-GEMM view (conv/params.cuh), filled by the
// same host code: per (image, group) batch index, rows = output channels of the group (M / G),
// columns = output positions, K = (C / G) * T * R * S in (c, t, r, s) order; W is ONNX's OIHW
// as stored (K-major rows of K bytes), x and y are NCHW.
#pragma once

#include "rtx/config.hpp"
#if defined(__CUDACC_RTC__)
#include "conv/params.cuh"
#else
#include "templates/conv/params.cuh"
#endif

namespace rtx::kernels::qconv {

struct QConvParams {
  conv::ConvParams conv;  ///< geometry, the NCHW GEMM view (conv.gemm: m, n, k, lda, ldd, batch (N, G))
  const void* x_scale;    ///< one scale (scale type)
  const void* w_scale;    ///< one scale, or M (per output channel)
  RTX_STD::int64_t w_scale_stride;  ///< 0: per tensor; 1: per output channel
  const void* bias;       ///< M values of the mid type, or nullptr (BiasMode::kNone)
  const void* y_scale;    ///< one scale when the output is requantized
  const void* y_zero;     ///< one zero point (output type); nullptr means 0
};

}  // namespace rtx::kernels::qconv
