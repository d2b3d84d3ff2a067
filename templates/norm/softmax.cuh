// SPDX-License-Identifier: Apache-2.0
// Softmax and LogSoftmax (ONNX opset 13 semantics: along one axis). Numerically stable form:
// y = exp(x - max) / sum(exp(x - max)), log-softmax y = x - max - log(sum); statistics in float;
// NaN anywhere in a row makes the row NaN (as in the reference evaluator).
//
// Contract: softmax_rows (the axis is the last dim: rows x cols, contiguous)
//   name expression:  "rtx::kernels::softmax_rows<T, kThreads, kLog>", e.g.
//                     "rtx::kernels::softmax_rows<__half, 128, false>"
//   template params:  T in {float, __half, __nv_bfloat16} (input and output);
//                     kThreads in {32, 128, 512, 1024} threads per row; kLog: LogSoftmax
//   parameters:       NormParams (norm/params.cuh): in, out, rows, cols, vectorized
//   block shape:      norm_block(kThreads) = max(kThreads, 128) threads, 1-D; any grid
//   shared memory:    static, 32 floats
//   algorithm:        rows of at most kThreads * 4 * (16 / sizeof(T)) elements are read once
//                     into registers (max, then sum of exp, then write: one read, one write);
//                     longer rows use an online (max, sum) pass and a second read to write
//   alignment:        natural; with vectorized = 1, in/out 16-byte aligned and cols * sizeof(T)
//                     a multiple of 16 (16-byte accesses)
// Contract: softmax_strided (any other axis: outer x cols x inner, reduction stride `inner`)
//   name expression:  "rtx::kernels::softmax_strided<T, kLog>", e.g.
//                     "rtx::kernels::softmax_strided<float, true>"
//   block shape:      256 threads, 1-D; one thread per (outer, inner) position, grid-stride
//   shared memory:    none
//   alignment:        natural alignment of T
#pragma once

#include "common/convert.cuh"
#include "common/math.cuh"
#include "common/reduce.cuh"
#include "common/vector.cuh"
#include "norm/params.cuh"
#include "norm/row.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels {

/// Running (max, sum of exp(x - max)) of a set of values; m = -inf means empty.
struct MaxSum {
  float m;
  float s;
};

RTX_DEVICE inline MaxSum shuffle_xor(MaxSum v, int mask) {
  return MaxSum{shuffle_xor(v.m, mask), shuffle_xor(v.s, mask)};
}

namespace norm_detail {

RTX_DEVICE inline float neg_inf() {
  return __int_as_float(0xff800000);
}

struct MaxSumCombine {
  RTX_DEVICE MaxSum operator()(MaxSum a, MaxSum b) const {
    if (a.m == neg_inf() && a.s == 0.0f) return b;
    if (b.m == neg_inf() && b.s == 0.0f) return a;
    const float m = nan_max(a.m, b.m);
    return MaxSum{m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
  }
};
struct NanMaxCombine {
  RTX_DEVICE float operator()(float a, float b) const { return nan_max(a, b); }
};

}  // namespace norm_detail

template <class T, int kThreads, bool kLog>
__global__ void __launch_bounds__(norm_block(kThreads)) softmax_rows(NormParams p) {
  constexpr int kBlock = norm_block(kThreads);
  constexpr int kRows = kBlock / kThreads;
  constexpr int kVec = vec_width(static_cast<int>(sizeof(T)));
  constexpr int kSlots = kNormCachedVectors * kVec;
  __shared__ float smem_f[kBlock / 32];
  __shared__ MaxSum smem_ms[kBlock / 32];
  const int t = static_cast<int>(threadIdx.x) % kThreads;
  const int local = static_cast<int>(threadIdx.x) / kThreads;
  const bool vectorized = p.vectorized != 0;
  const long long cols = p.cols;
  const bool cached = cols <= static_cast<long long>(kThreads) * kSlots;  // same for every row
  for (long long first = static_cast<long long>(blockIdx.x) * kRows; first < p.rows;
       first += static_cast<long long>(gridDim.x) * kRows) {
    const long long r = first + local;
    const bool active = r < p.rows;
    const T* x = static_cast<const T*>(p.in) + (active ? r : 0) * cols;
    T* y = static_cast<T*>(p.out) + (active ? r : 0) * cols;
    if (cached) {
      float v[kSlots];
      if (active) {
        norm_detail::load_row<T, kThreads, kNormCachedVectors>(x, cols, t, vectorized,
                                                               norm_detail::neg_inf(), v);
      } else {
#pragma unroll
        for (int i = 0; i < kSlots; ++i) v[i] = norm_detail::neg_inf();
      }
      float m = norm_detail::neg_inf();
#pragma unroll
      for (int i = 0; i < kSlots; ++i) m = nan_max(m, v[i]);
      m = group_reduce<kThreads>(m, norm_detail::NanMaxCombine{}, smem_f);
      float s = 0.0f;
#pragma unroll
      for (int j = 0; j < kNormCachedVectors; ++j) {
#pragma unroll
        for (int e = 0; e < kVec; ++e) {
          // Slots past the row hold -inf but must contribute nothing even when m = -inf.
          const bool inside = norm_detail::in_row<kThreads, kVec>(j, e, t, cols, vectorized);
          const float ex = inside ? expf(v[j * kVec + e] - m) : 0.0f;
          if constexpr (!kLog) v[j * kVec + e] = ex;
          s += ex;
        }
      }
      s = group_reduce<kThreads>(s, SumCombine{}, smem_f);
      if (active) {
        if constexpr (kLog) {
          const float shift = m + logf(s);
          norm_detail::store_row<T, T, kThreads, kNormCachedVectors>(
              y, cols, t, vectorized, v, [shift](float a, long long) { return a - shift; });
        } else {
          const float inv = 1.0f / s;
          norm_detail::store_row<T, T, kThreads, kNormCachedVectors>(
              y, cols, t, vectorized, v, [inv](float a, long long) { return a * inv; });
        }
      }
    } else {
      // Long rows: one online pass for (max, sum), a second read to write.
      MaxSum ms{norm_detail::neg_inf(), 0.0f};
      if (active) {
        norm_detail::for_each_in_row<T, kThreads>(x, cols, t, vectorized, [&ms](float a, long long) {
          if (a != a || ms.m != ms.m) {
            ms.m = a + ms.m;  // NaN sticks
            return;
          }
          if (a == norm_detail::neg_inf()) return;  // exp(-inf - m) = 0 (an all -inf row: NaN below)
          if (a > ms.m) {
            ms.s = ms.s * expf(ms.m - a) + 1.0f;
            ms.m = a;
          } else {
            ms.s += expf(a - ms.m);
          }
        });
      }
      ms = group_reduce<kThreads>(ms, norm_detail::MaxSumCombine{}, smem_ms);
      if (active) {
        const float m = ms.m, s = ms.s;
        const float shift = m + logf(s), inv = 1.0f / s;
        for (long long c = t; c < cols; c += kThreads) {
          const float a = to_float(x[c]);
          y[c] = cast<T>(kLog ? a - shift : expf(a - m) * inv);
        }
      }
    }
  }
}

template <class T, bool kLog>
__global__ void __launch_bounds__(256) softmax_strided(NormParams p) {
  const long long positions = p.rows * p.inner;
  const long long inner = p.inner, cols = p.cols;
  const T* in = static_cast<const T*>(p.in);
  T* out = static_cast<T*>(p.out);
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < positions;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long o = i / inner, k = i % inner;
    const T* x = in + o * cols * inner + k;
    T* y = out + o * cols * inner + k;
    float m = norm_detail::neg_inf();
    for (long long c = 0; c < cols; ++c) m = nan_max(m, to_float(x[c * inner]));
    float s = 0.0f;
    for (long long c = 0; c < cols; ++c) s += expf(to_float(x[c * inner]) - m);
    const float shift = m + logf(s), inv = 1.0f / s;
    for (long long c = 0; c < cols; ++c) {
      const float a = to_float(x[c * inner]);
      y[c * inner] = cast<T>(kLog ? a - shift : expf(a - m) * inv);
    }
  }
}

}  // namespace rtx::kernels
