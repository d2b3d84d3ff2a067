// SPDX-License-Identifier: Apache-2.0
// The NCHW im2col view of a quad: 4 consecutive output positions of one image, as the 8-bit
// (qconv/qconv_sm80.cuh) and 16-bit (conv/implicit_gemm.cuh) NCHW loaders read them. For one k
// = (c, t, r, s) the quad's 4 input elements are often consecutive in x: stride 1 along W with
// the quad inside one output row and the window inside the image, or any quad of a 1x1 unpadded
// stride-1 convolution (positions are the input plane's). Then they are read as whole aligned
// words and funnel-shifted into place (load_words) instead of one element at a time; elsewhere
// (padding, other strides, quads across rows) each element is gathered on its own.
#pragma once

#include "conv/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::conv {

/// The 32-bit words holding the kWords * 4 bytes at address a (a multiple of the element size):
/// aligned loads of the words covering bytes a & ~3 to (a + 4 kWords - 1) | 3, funnel-shifted
/// into place. The caller checks that those words lie inside the tensor (QuadWindow::run_address).
template <int kWords>
__device__ __forceinline__ void load_words(RTX_STD::uintptr_t a, unsigned (&out)[kWords]) {
  const unsigned* w = reinterpret_cast<const unsigned*>(a & ~static_cast<RTX_STD::uintptr_t>(3));
  const unsigned shift = static_cast<unsigned>(a & 3) * 8;
  if (shift == 0) {
#pragma unroll
    for (int i = 0; i < kWords; ++i) out[i] = __ldg(w + i);
    return;
  }
  unsigned cur = __ldg(w);
#pragma unroll
  for (int i = 0; i < kWords; ++i) {
    const unsigned next = __ldg(w + i + 1);
    out[i] = __funnelshift_r(cur, next, shift);
    cur = next;
  }
}

/// One thread's quad (positions pos0 .. pos0 + 3 of one image) of elements kElemBytes wide.
template <int kElemBytes>
struct QuadWindow {
  int id0[4], ih0[4], iw0[4];  // window origins (window_origin; a sentinel past the positions)
  // The one-load path: the quad's elements for a tap start at element
  // ((c * run_d + id) * run_h + ih) * run_w + iw, (id, ih, iw) = run origin + tap offset, and
  // are all inside when id < run_d, ih < run_h and iw + 3 < run_w. A row run uses the input's
  // dims; a pointwise convolution sees the plane as one row of D * H * W elements starting at
  // pos0. run_w = 0 turns the path off.
  int run_d, run_h, run_w, run_id0, run_ih0, run_iw0;
  RTX_STD::uintptr_t begin, end;  // bytes of this image's and group's slice of x (C / G planes)

  __device__ __forceinline__ QuadWindow(const void* x_image_group, const ConvParams& p, int pos0) {
#pragma unroll
    for (int j = 0; j < 4; ++j) window_origin(p, pos0 + j, id0[j], ih0[j], iw0[j]);
    const bool whole = pos0 + 3 < p.gemm.n;
    // (Equal input and output dims: no padding at the far ends either.)
    const bool pointwise = p.ker_t == 1 && p.ker_r == 1 && p.ker_s == 1 && p.stride_d == 1 && p.stride_h == 1 &&
                           p.stride_w == 1 && p.pad_d == 0 && p.pad_h == 0 && p.pad_w == 0 &&
                           p.in_d == p.out_d && p.in_h == p.out_h && p.in_w == p.out_w;
    begin = reinterpret_cast<RTX_STD::uintptr_t>(x_image_group);
    end = begin + static_cast<RTX_STD::uintptr_t>(p.cg) * p.in_d * p.in_h * p.in_w * kElemBytes;
    run_d = p.in_d, run_h = p.in_h, run_w = p.in_w;
    run_id0 = id0[0], run_ih0 = ih0[0], run_iw0 = iw0[0];
    if (whole && pointwise) {
      run_d = run_h = 1;
      run_w = p.in_d * p.in_h * p.in_w;
      run_id0 = run_ih0 = 0;
      run_iw0 = pos0;
    } else if (!(whole && p.stride_w == 1 && id0[3] == id0[0] && ih0[3] == ih0[0])) {
      run_w = 0;
    }
  }

  /// True, with the byte address of the first element in `a`, when the quad's 4 elements of
  /// channel c at tap offset (dz, dy, dx) are consecutive in x and the aligned words holding
  /// them lie inside the slice (so no read ever passes the tensor's ends).
  __device__ __forceinline__ bool run_address(int c, int dz, int dy, int dx, RTX_STD::uintptr_t& a) const {
    const int id = run_id0 + dz, ih = run_ih0 + dy, iw = run_iw0 + dx;
    if (!(id >= 0 && id < run_d && ih >= 0 && ih < run_h && iw >= 0 && iw + 3 < run_w)) return false;
    // The host keeps one image-and-group slice of x below 2^31 bytes.
    a = begin + static_cast<RTX_STD::uintptr_t>(((c * run_d + id) * run_h + ih) * run_w + iw) * kElemBytes;
    return (a & ~static_cast<RTX_STD::uintptr_t>(3)) >= begin && ((a + 4 * kElemBytes - 1) | 3) < end;
  }

  /// Element offset of position j's input at channel c, tap offset (dz, dy, dx); -1 for padding
  /// (and for positions past the image's).
  __device__ __forceinline__ int offset(const ConvParams& p, int j, int c, int dz, int dy, int dx) const {
    const int id = id0[j] + dz, ih = ih0[j] + dy, iw = iw0[j] + dx;
    const bool ok = id >= 0 && id < p.in_d && ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w;
    return ok ? ((c * p.in_d + id) * p.in_h + ih) * p.in_w + iw : -1;
  }
};

}  // namespace rtx::kernels::conv
