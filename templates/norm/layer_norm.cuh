// SPDX-License-Identifier: Apache-2.0
// LayerNormalization and RMSNormalization over the trailing dims (rows x cols after the host
// flattens [axis, rank) into cols). Statistics in float. Rows that fit the register cache are
// read once: the mean and then the centred sum of squares are reduced from registers (a
// two-pass variance with a single memory pass), all relative to the row's first element so rows
// far from zero keep their precision. Longer rows accumulate Welford states (count,
// mean, M2) merged with Chan's formula, then read the row again to write.
//
//   layer norm: y = (x - mean) / sqrt(var + eps) * scale + bias   (bias optional)
//               Mean and InvStdDev outputs (float per row) when their pointers are set
//   RMS norm:   y = x / sqrt(mean(x^2) + eps) * scale              (Y has scale's dtype)
//
// Contract: layer_norm_rows
//   name expression:  "rtx::kernels::layer_norm_rows<T, kThreads>", e.g.
//                     "rtx::kernels::layer_norm_rows<__nv_bfloat16, 512>"
//   template params:  T in {float, __half, __nv_bfloat16}: X, Scale, B and Y;
//                     kThreads in {32, 128, 512, 1024} threads per row
// Contract: rms_norm_rows
//   name expression:  "rtx::kernels::rms_norm_rows<T, S, kThreads>", e.g.
//                     "rtx::kernels::rms_norm_rows<__half, __half, 128>"
//   template params:  T: X; S: scale and Y (each float, __half or __nv_bfloat16)
// Both:
//   parameters:       NormParams (norm/params.cuh)
//   block shape:      norm_block(kThreads) = max(kThreads, 128) threads, 1-D; any grid
//   shared memory:    static, 3 * 32 floats
//   alignment:        natural; with vectorized = 1 every buffer is 16-byte aligned and
//                     cols * sizeof(T) is a multiple of 16 (16-byte accesses of X and Y)
#pragma once

#include "common/convert.cuh"
#include "common/math.cuh"
#include "common/reduce.cuh"
#include "common/vector.cuh"
#include "norm/params.cuh"
#include "norm/row.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels {

/// Welford state: count, mean and sum of squared deviations.
struct Welford {
  float n;
  float mean;
  float m2;
};

RTX_DEVICE inline Welford shuffle_xor(Welford w, int mask) {
  return Welford{shuffle_xor(w.n, mask), shuffle_xor(w.mean, mask), shuffle_xor(w.m2, mask)};
}

namespace norm_detail {

/// Chan et al.'s parallel merge of two Welford states.
struct WelfordCombine {
  RTX_DEVICE Welford operator()(Welford a, Welford b) const {
    if (a.n == 0.0f) return b;
    if (b.n == 0.0f) return a;
    const float n = a.n + b.n;
    const float delta = b.mean - a.mean;
    const float wb = b.n / n;
    return Welford{n, a.mean + delta * wb, a.m2 + b.m2 + delta * delta * a.n * wb};
  }
};

/// Shared body of both norms. kRms: statistics are mean(x^2) only, no centring, no bias.
template <class T, class S, int kThreads, bool kRms>
RTX_DEVICE inline void norm_rows(const NormParams& p) {
  constexpr int kBlock = norm_block(kThreads);
  constexpr int kRows = kBlock / kThreads;
  constexpr int kVec = vec_width(static_cast<int>(sizeof(T)));
  constexpr int kSlots = kNormCachedVectors * kVec;
  __shared__ float smem_f[kBlock / 32];
  __shared__ Welford smem_w[kBlock / 32];
  const int t = static_cast<int>(threadIdx.x) % kThreads;
  const int local = static_cast<int>(threadIdx.x) / kThreads;
  const bool vectorized = p.vectorized != 0;
  const long long cols = p.cols;
  const float inv_cols = 1.0f / static_cast<float>(cols);
  const bool cached = cols <= static_cast<long long>(kThreads) * kSlots;
  const S* scale = static_cast<const S*>(p.scale);
  const S* bias = static_cast<const S*>(p.bias);
  for (long long first = static_cast<long long>(blockIdx.x) * kRows; first < p.rows;
       first += static_cast<long long>(gridDim.x) * kRows) {
    const long long r = first + local;
    const bool active = r < p.rows;
    const T* x = static_cast<const T*>(p.in) + (active ? r : 0) * cols;
    S* y = static_cast<S*>(p.out) + (active ? r : 0) * cols;
    // Layer norm centres on pivot = x[0] first: x - pivot is exact for values of similar
    // magnitude (Sterbenz), so a row far from zero (x ~ 100 +- 0.5) keeps its precision; the
    // statistics and the output are computed from d = x - pivot and shift = mean - pivot.
    const float pivot = !kRms && active && cols > 0 ? to_float(x[0]) : 0.0f;
    float shift = 0.0f, rstd = 0.0f;
    float v[kSlots];
    if (cached) {
      if (active) {
        load_row<T, kThreads, kNormCachedVectors>(x, cols, t, vectorized, 0.0f, v);
      } else {
#pragma unroll
        for (int i = 0; i < kSlots; ++i) v[i] = 0.0f;
      }
      if constexpr (kRms) {
        float ss = 0.0f;
#pragma unroll
        for (int i = 0; i < kSlots; ++i) ss += v[i] * v[i];  // slots past the row hold 0
        ss = group_reduce<kThreads>(ss, SumCombine{}, smem_f);
        rstd = rsqrtf(ss * inv_cols + p.epsilon);
      } else {
        float sum = 0.0f;
#pragma unroll
        for (int j = 0; j < kNormCachedVectors; ++j) {
#pragma unroll
          for (int e = 0; e < kVec; ++e) {
            // Slots past the row become 0 - pivot: they are masked out of both sums.
            v[j * kVec + e] -= pivot;
            if (in_row<kThreads, kVec>(j, e, t, cols, vectorized)) sum += v[j * kVec + e];
          }
        }
        shift = group_reduce<kThreads>(sum, SumCombine{}, smem_f) * inv_cols;
        float sq = 0.0f;
#pragma unroll
        for (int j = 0; j < kNormCachedVectors; ++j) {
#pragma unroll
          for (int e = 0; e < kVec; ++e) {
            const float d = v[j * kVec + e] - shift;
            if (in_row<kThreads, kVec>(j, e, t, cols, vectorized)) sq += d * d;
          }
        }
        sq = group_reduce<kThreads>(sq, SumCombine{}, smem_f);
        rstd = rsqrtf(sq * inv_cols + p.epsilon);
      }
    } else {
      if constexpr (kRms) {
        float ss = 0.0f;
        if (active)
          for_each_in_row<T, kThreads>(x, cols, t, vectorized,
                                       [&ss](float a, long long) { ss += a * a; });
        ss = group_reduce<kThreads>(ss, SumCombine{}, smem_f);
        rstd = rsqrtf(ss * inv_cols + p.epsilon);
      } else {
        Welford w{0.0f, 0.0f, 0.0f};
        if (active)
          for_each_in_row<T, kThreads>(x, cols, t, vectorized, [&w, pivot](float a, long long) {
            const float d0 = a - pivot;
            w.n += 1.0f;
            const float d = d0 - w.mean;
            w.mean += d / w.n;
            w.m2 += d * (d0 - w.mean);
          });
        w = group_reduce<kThreads>(w, WelfordCombine{}, smem_w);
        shift = w.mean;
        rstd = rsqrtf(w.m2 * inv_cols + p.epsilon);
      }
    }
    if (active && t == 0) {
      if (p.mean) static_cast<float*>(p.mean)[r] = pivot + shift;
      if (p.inv_std) static_cast<float*>(p.inv_std)[r] = rstd;
    }
    if (!active) continue;  // no barrier below: inactive groups may leave early
    // `d` is x - pivot for layer norm (cached slots already hold it), x itself for RMS norm.
    const auto affine = [&](float d, long long c) {
      float o = kRms ? d * rstd : (d - shift) * rstd;
      o *= to_float(scale[c]);
      if (!kRms && bias) o += to_float(bias[c]);
      return o;
    };
    if (cached) {
      store_row<T, S, kThreads, kNormCachedVectors>(y, cols, t, vectorized, v, affine);
    } else {
      for (long long c = t; c < cols; c += kThreads)
        y[c] = cast<S>(affine(to_float(x[c]) - pivot, c));
    }
  }
}

}  // namespace norm_detail

template <class T, int kThreads>
__global__ void __launch_bounds__(norm_block(kThreads)) layer_norm_rows(NormParams p) {
  norm_detail::norm_rows<T, T, kThreads, false>(p);
}

template <class T, class S, int kThreads>
__global__ void __launch_bounds__(norm_block(kThreads)) rms_norm_rows(NormParams p) {
  norm_detail::norm_rows<T, S, kThreads, true>(p);
}

}  // namespace rtx::kernels
