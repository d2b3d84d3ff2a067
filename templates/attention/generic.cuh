// SPDX-License-Identifier: Apache-2.0
// Generic fused attention on CUDA cores: any head sizes (Q/K and V may differ, 0 included), any
// strides and alignment. One CTA computes one query row of one (batch, head): its warps score a
// chunk of 32 keys (lanes split the head dim, a warp reduction sums), then every thread updates
// the online softmax and its own elements of the output row. The fallback for what the flash
// kernel (attention/flash_sm80.cuh) does not cover; correct first, not fast.
//
// Contract
//   template parameters: T       __half, __nv_bfloat16 or float (Q, K, V, Y and an additive
//                                mask); float is how f32 networks run attention on the GPU
//   block shape:         (128, 1, 1); grid (batch * q_heads * q_seq, 1, 1)
//   shared memory:       dynamic, (head_dim + v_head_dim + 32) * 4 bytes (<= 48 KiB: the host
//                        refuses larger head sizes)
//   alignment:           natural alignment of T; strides are arbitrary
//   name expression:     rtx::kernels::attention::attention_generic<__half>
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "attention/common.cuh"
#include "attention/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::attention {

inline constexpr int kGenericThreads = 128;
inline constexpr int kGenericChunk = 32;  // keys scored per step

template <class T>
__global__ void __launch_bounds__(kGenericThreads) attention_generic(const AttentionParams p) {
  static_assert(sizeof(T) == 2 || sizeof(T) == 4,
                "rtx: attention_generic takes __half, __nv_bfloat16 or float");
  using E = Element<T>;
  using i64 = RTX_STD::int64_t;
  constexpr int kWarps = kGenericThreads / 32;

  extern __shared__ float smem_f[];
  float* s_q = smem_f;                // (head_dim)   the query row in f32
  float* s_acc = s_q + p.head_dim;    // (v_head_dim) unnormalised output row
  float* s_x = s_acc + p.v_head_dim;  // (32)         scores of one key chunk, base-2 units

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32;
  const int lane = tid % 32;
  const i64 row = blockIdx.x;  // ((b * q_heads) + h) * q_seq + i
  const i64 bh = row / p.q_seq;
  const i64 i = row - bh * p.q_seq;
  const i64 b = bh / p.q_heads;
  const i64 h = bh - b * p.q_heads;
  const i64 hk = h / p.group;

  const T* q =
      static_cast<const T*>(p.q) + b * p.q_stride[0] + h * p.q_stride[1] + i * p.q_stride[2];
  const T* k = static_cast<const T*>(p.k) + b * p.k_stride[0] + hk * p.k_stride[1];
  const T* v = static_cast<const T*>(p.v) + b * p.v_stride[0] + hk * p.v_stride[1];
  const unsigned char* mrow = mask_row<T>(p, b, h, i);
  const bool has_mask = p.mask_kind != static_cast<int>(MaskKind::kNone);

  for (i64 d = tid; d < p.head_dim; d += kGenericThreads) s_q[d] = E::to_float(q[d]);
  for (i64 e = tid; e < p.v_head_dim; e += kGenericThreads) s_acc[e] = 0.0f;
  __syncthreads();

  i64 n_end = p.kv_seq;
  if (p.causal && i + p.causal_offset + 1 < n_end) n_end = i + p.causal_offset + 1;

  float row_max = neg_inf();
  float row_sum = 0.0f;
  for (i64 j0 = 0; j0 < n_end; j0 += kGenericChunk) {
    for (int jj = warp; jj < kGenericChunk; jj += kWarps) {
      const i64 j = j0 + jj;
      float x = neg_inf();
      if (j < n_end) {
        const T* kj = k + j * p.k_stride[2];
        float dot = 0.0f;
        for (i64 d = lane; d < p.head_dim; d += 32) dot += s_q[d] * E::to_float(kj[d]);
#pragma unroll
        for (int off = 16; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
        x = scaled_score(p, dot);
        if (has_mask) x += mask_term<T>(p, mrow, j);
      }
      if (lane == 0) s_x[jj] = x;
    }
    __syncthreads();

    // Every thread runs the same online-softmax update on the 32 scores (shared broadcasts).
    float mx = row_max;
#pragma unroll
    for (int jj = 0; jj < kGenericChunk; ++jj) mx = fmaxf(mx, s_x[jj]);
    const float base = mx == neg_inf() ? 0.0f : mx;  // all masked so far: keep exact zeros
    const float correction = exp2f(row_max - base);
    row_max = mx;
    float pr[kGenericChunk];
    float sum = 0.0f;
#pragma unroll
    for (int jj = 0; jj < kGenericChunk; ++jj) {
      pr[jj] = exp2f(s_x[jj] - base);
      sum += pr[jj];
    }
    row_sum = row_sum * correction + sum;
    const i64 left = n_end - j0;
    const int count = left < kGenericChunk ? static_cast<int>(left) : kGenericChunk;
    for (i64 e = tid; e < p.v_head_dim; e += kGenericThreads) {
      float acc = s_acc[e] * correction;
#pragma unroll
      for (int jj = 0; jj < kGenericChunk; ++jj)
        if (jj < count) acc += pr[jj] * E::to_float(v[(j0 + jj) * p.v_stride[2] + e]);
      s_acc[e] = acc;
    }
    __syncthreads();  // s_x is rewritten by the next chunk
  }

  const float inv = inverse_sum(p, row_sum);
  T* y = static_cast<T*>(p.y) + b * p.y_stride[0] + h * p.y_stride[1] + i * p.y_stride[2];
  for (i64 e = tid; e < p.v_head_dim; e += kGenericThreads) y[e] = E::from_float(s_acc[e] * inv);
}

}  // namespace rtx::kernels::attention
