// SPDX-License-Identifier: Apache-2.0
// Run-time parameters of the convolution family (implicit GEMM and depthwise), shared by the host
// compiler and NVRTC. A convolution is always described in 3-D (depth, height, width); 1-D and
// 2-D convolutions set the missing leading spatial extents, kernel sizes, strides and dilations
// to 1 and their pads to 0.
//
// Implicit-GEMM view (the GEMM part of the parameters, `gemm`, follows gemm/params.cuh):
//   NHWC: rows = output positions of all images (N * Do * Ho * Wo), columns = output channels of
//         one group (M / G), K = T * R * S * (C / G) in (t, r, s, c) order; weights are stored
//         OHWI (M, T, R, S, C / G); the batch of the launch is the group.
//   NCHW: rows = output channels of one group, columns = output positions of one image, K =
//         (C / G) * T * R * S in (c, t, r, s) order (ONNX's OIHW weights as they are); the batch
//         of the launch is (image, group).
#pragma once

#include "rtx/config.hpp"
// NVRTC sees templates by their path relative to templates/; the host compiler by the path from
// the repository root.
#if defined(__CUDACC_RTC__)
#include "gemm/params.cuh"
#else
#include "templates/gemm/params.cuh"
#endif

namespace rtx::kernels::conv {

/// Memory layout of activations. Values appear in name expressions as
/// `(rtx::kernels::conv::Layout)N`: never renumber.
enum class Layout : int {
  kNCHW = 0,  ///< (N, C, D, H, W), ONNX's layout
  kNHWC = 1,  ///< (N, D, H, W, C), channels innermost: the fast layout for implicit GEMM
};

struct ConvParams {
  gemm::GemmParams gemm;   ///< GEMM view: m, n, k, D/bias/residual and batch strides, alpha, tiles
  const void* x;           ///< input activations (input dtype)
  const void* w;           ///< weights: OIHW for NCHW and depthwise, OHWI for NHWC
  RTX_STD::int32_t batch;  ///< N
  RTX_STD::int32_t channels;      ///< C
  RTX_STD::int32_t cg;            ///< C / G
  RTX_STD::int32_t mg;            ///< M / G
  RTX_STD::int32_t out_channels;  ///< M
  RTX_STD::int32_t in_d, in_h, in_w;
  RTX_STD::int32_t out_d, out_h, out_w;
  RTX_STD::int32_t ker_t, ker_r, ker_s;
  RTX_STD::int32_t stride_d, stride_h, stride_w;
  RTX_STD::int32_t pad_d, pad_h, pad_w;  ///< leading pads (trailing pads follow from out_*)
  RTX_STD::int32_t dil_d, dil_h, dil_w;
  gemm::FastDivmod div_cg;     ///< by C / G
  gemm::FastDivmod div_s;      ///< by S (kernel width)
  gemm::FastDivmod div_r;      ///< by R
  gemm::FastDivmod div_t;      ///< by T
  gemm::FastDivmod div_out_w;  ///< by Wo
  gemm::FastDivmod div_out_h;  ///< by Ho
  gemm::FastDivmod div_out_d;  ///< by Do
  gemm::FastDivmod div_mg;     ///< by M / G (depthwise: output channel -> group)
};

/// Input coordinates of the window origin of output position `pos` of one image (the NCHW GEMM
/// view's column), or a sentinel that fails every bounds test when pos is past the image's
/// positions (a tile's tail column).
RTX_HOST_DEVICE inline void window_origin(const ConvParams& p, RTX_STD::int64_t pos, int& id0, int& ih0, int& iw0) {
  if (pos < p.gemm.n) {
    RTX_STD::uint32_t rest = static_cast<RTX_STD::uint32_t>(pos), ow, oh;
    rest = p.div_out_w.divmod(rest, ow);
    const RTX_STD::uint32_t od = p.div_out_h.divmod(rest, oh);
    id0 = static_cast<int>(od) * p.stride_d - p.pad_d;
    ih0 = static_cast<int>(oh) * p.stride_h - p.pad_h;
    iw0 = static_cast<int>(ow) * p.stride_w - p.pad_w;
  } else {
    id0 = ih0 = iw0 = -(1 << 29);
  }
}

}  // namespace rtx::kernels::conv
