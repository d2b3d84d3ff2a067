// SPDX-License-Identifier: Apache-2.0
// MaxPool and AveragePool over 1 to 3 spatial dims of NCHW-style tensors (ONNX opset 22:
// pads, strides, dilations; ceil_mode only changes the output extent, which the host computes;
// count_include_pad), and GlobalAveragePool, which is a mean over each plane and runs the
// reduction family's row kernel (reduce_rows with MeanOp).
//
// Semantics match the reference evaluator (ir/ops/conv.cpp):
//   MaxPool: the first maximum in kernel order wins; NaN loses to any number and is the result
//            only when every tap inside the input is NaN; a window wholly in padding gives -inf
//            (Indices -1). Indices are flat input offsets (plane * plane_size + spatial, spatial
//            in row-major order, or column-major with storage_order = 1).
//   AveragePool: sum of the taps inside the input divided by the taps inside the input, or with
//            count_include_pad by the taps inside [-pad_begin, in + pad_end) (taps ceil_mode
//            pushes past the end padding never count); a window with no taps gives NaN.
//
// Contract: max_pool
//   name expression:  "rtx::kernels::max_pool<T>", T in {float, double, __half,
//                     __nv_bfloat16, signed char, unsigned char}
//   parameters:       PoolParams (pool/params.cuh)
//   block shape:      kPoolBlock (256) threads, 1-D; grid-stride, one thread per output element
//   shared memory:    none
//   alignment:        natural alignment of T (and 8 bytes for Indices)
// Contract: avg_pool
//   name expression:  "rtx::kernels::avg_pool<T>", T in {float, double, __half, __nv_bfloat16}
//   otherwise as max_pool (sums in float; double for f64)
// GlobalAveragePool
//   name expression:  "rtx::kernels::reduce_rows<rtx::kernels::MeanOp<T>, T, T, kThreads>"
//                     (reduce/reduce.cuh; rows = N * C, one row per plane)
#pragma once

#include "common/convert.cuh"
#include "pool/params.cuh"
#include "reduce/reduce.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels {

namespace pool_detail {

/// Output element i -> (plane, output coordinates).
RTX_DEVICE inline long long decode(const PoolParams& p, long long i, long long (&o)[kPoolDims]) {
  long long rest = i;
  for (int d = kPoolDims - 1; d >= 0; --d) {
    o[d] = rest % p.out_shape[d];
    rest /= p.out_shape[d];
  }
  return rest;
}

}  // namespace pool_detail

template <class T>
__global__ void __launch_bounds__(kPoolBlock) max_pool(PoolParams p) {
  using C = Compute<T>;
  const T* in = static_cast<const T*>(p.in);
  T* out = static_cast<T*>(p.out);
  long long* indices = static_cast<long long*>(p.indices);
  const long long plane_size = p.in_shape[0] * p.in_shape[1] * p.in_shape[2];
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    long long o[kPoolDims];
    const long long plane = pool_detail::decode(p, i, o);
    const T* x = in + plane * plane_size;
    long long best = -1, first_nan = -1;
    C best_v = C(0);
    for (long long k0 = 0; k0 < p.kernel[0]; ++k0) {
      const long long c0 = o[0] * p.stride[0] - p.pad_begin[0] + k0 * p.dilation[0];
      if (c0 < 0 || c0 >= p.in_shape[0]) continue;
      for (long long k1 = 0; k1 < p.kernel[1]; ++k1) {
        const long long c1 = o[1] * p.stride[1] - p.pad_begin[1] + k1 * p.dilation[1];
        if (c1 < 0 || c1 >= p.in_shape[1]) continue;
        for (long long k2 = 0; k2 < p.kernel[2]; ++k2) {
          const long long c2 = o[2] * p.stride[2] - p.pad_begin[2] + k2 * p.dilation[2];
          if (c2 < 0 || c2 >= p.in_shape[2]) continue;
          const long long off = (c0 * p.in_shape[1] + c1) * p.in_shape[2] + c2;
          const C v = cast<C>(x[off]);
          if (v != v) {
            if (first_nan < 0) first_nan = off;
          } else if (best < 0 || v > best_v) {  // strict: the first maximum wins
            best = off;
            best_v = v;
          }
        }
      }
    }
    const long long chosen = best >= 0 ? best : first_nan;
    if (chosen < 0) {
      out[i] = cast<T>(-__int_as_float(0x7f800000));  // window wholly in padding
    } else {
      out[i] = x[chosen];
    }
    if (indices) {
      long long spatial = chosen;
      if (chosen >= 0 && p.storage_order == 1) {
        // Column major: the first spatial dim varies fastest. Dims padded to 3 lead with
        // extent 1 and coordinate 0, so the same formula serves 1, 2 and 3 spatial dims.
        const long long c2 = chosen % p.in_shape[2];
        const long long c1 = (chosen / p.in_shape[2]) % p.in_shape[1];
        const long long c0 = chosen / (p.in_shape[2] * p.in_shape[1]);
        spatial = c0 + c1 * p.in_shape[0] + c2 * p.in_shape[0] * p.in_shape[1];
      }
      indices[i] = chosen < 0 ? -1 : plane * plane_size + spatial;
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kPoolBlock) avg_pool(PoolParams p) {
  using A = Compute<T>;  // float, or double for f64
  const T* in = static_cast<const T*>(p.in);
  T* out = static_cast<T*>(p.out);
  const long long plane_size = p.in_shape[0] * p.in_shape[1] * p.in_shape[2];
  const bool include_pad = p.count_include_pad != 0;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    long long o[kPoolDims];
    const long long plane = pool_detail::decode(p, i, o);
    const T* x = in + plane * plane_size;
    // The divisor is separable: per dim, the taps inside the counted extent.
    long long divisor = 1;
    for (int d = 0; d < kPoolDims; ++d) {
      const long long lo = include_pad ? -p.pad_begin[d] : 0;
      const long long hi = include_pad ? p.in_shape[d] + p.pad_end[d] : p.in_shape[d];
      long long taps = 0;
      for (long long k = 0; k < p.kernel[d]; ++k) {
        const long long c = o[d] * p.stride[d] - p.pad_begin[d] + k * p.dilation[d];
        taps += (c >= lo && c < hi) ? 1 : 0;
      }
      divisor *= taps;
    }
    A sum = A(0);
    for (long long k0 = 0; k0 < p.kernel[0]; ++k0) {
      const long long c0 = o[0] * p.stride[0] - p.pad_begin[0] + k0 * p.dilation[0];
      if (c0 < 0 || c0 >= p.in_shape[0]) continue;
      for (long long k1 = 0; k1 < p.kernel[1]; ++k1) {
        const long long c1 = o[1] * p.stride[1] - p.pad_begin[1] + k1 * p.dilation[1];
        if (c1 < 0 || c1 >= p.in_shape[1]) continue;
        for (long long k2 = 0; k2 < p.kernel[2]; ++k2) {
          const long long c2 = o[2] * p.stride[2] - p.pad_begin[2] + k2 * p.dilation[2];
          if (c2 < 0 || c2 >= p.in_shape[2]) continue;
          sum += cast<A>(x[(c0 * p.in_shape[1] + c1) * p.in_shape[2] + c2]);
        }
      }
    }
    out[i] = cast<T>(sum / static_cast<A>(divisor));  // 0 / 0 = NaN for an empty window
  }
}

}  // namespace rtx::kernels
