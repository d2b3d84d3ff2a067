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

/// The (c, t, r, s) of im2col row k in NCHW order (k = ((c * T + t) * R + r) * S + s), decoded
/// once and then stepped, so the loaders divide once per k-tile, not once per element. Past K
/// it stays (0, 0, 0, 0); callers test k themselves.
struct TapCounter {
 public:
  RTX_STD::uint32_t c = 0, t = 0, r = 0, s = 0;

  RTX_HOST_DEVICE TapCounter(const ConvParams& p, RTX_STD::int64_t k) {
    if (k < p.gemm.k) {
      RTX_STD::uint32_t rest = p.div_s.divmod(static_cast<RTX_STD::uint32_t>(k), s);
      rest = p.div_r.divmod(rest, r);
      c = p.div_t.divmod(rest, t);
    }
  }
  /// k + n.
  RTX_HOST_DEVICE void advance(const ConvParams& p, RTX_STD::uint32_t n) {
    s += n;
    while (s >= static_cast<RTX_STD::uint32_t>(p.ker_s)) {
      s -= p.ker_s;
      carry(p);
    }
  }
  /// k + 1.
  RTX_HOST_DEVICE void step(const ConvParams& p) {
    if (++s == static_cast<RTX_STD::uint32_t>(p.ker_s)) {
      s = 0;
      carry(p);
    }
  }

  /// The tap's offsets from the window origin (dilations applied).
  RTX_HOST_DEVICE int dz(const ConvParams& p) const { return static_cast<int>(t) * p.dil_d; }
  RTX_HOST_DEVICE int dy(const ConvParams& p) const { return static_cast<int>(r) * p.dil_h; }
  RTX_HOST_DEVICE int dx(const ConvParams& p) const { return static_cast<int>(s) * p.dil_w; }

 private:
  RTX_HOST_DEVICE void carry(const ConvParams& p) {
    if (++r == static_cast<RTX_STD::uint32_t>(p.ker_r)) {
      r = 0;
      if (++t == static_cast<RTX_STD::uint32_t>(p.ker_t)) {
        t = 0;
        ++c;
      }
    }
  }
};

}  // namespace rtx::kernels::conv
