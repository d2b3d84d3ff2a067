// SPDX-License-Identifier: Apache-2.0
// Flash-style fused attention on tensor cores (mma.sync m16n8k16, sm_80 and newer): one CTA owns
// a tile of kBlockM query rows of one (batch, head), streams K and V through shared memory in
// tiles of kBlockN keys and keeps the softmax online (running row max and row sum, FlashAttention-2
// style), so scores never touch global memory.
//
// Contract
//   template parameters: T          __half or __nv_bfloat16 (Q, K, V, Y and an additive mask)
//                        kHeadDim   64 or 128: the static head size; the run-time head_dim and
//                                   v_head_dim may be smaller (multiples of 8; zero padded)
//                        kBlockM    query rows per CTA: 16 * kWarps * (1 or 2)
//                        kBlockN    keys per K/V tile: a multiple of 16
//                        kWarps     warps per CTA; warp w owns query rows
//                                   [w * kBlockM / kWarps, (w + 1) * kBlockM / kWarps)
//   block shape:         (kWarps * 32, 1, 1); grid (batch * q_heads * m_blocks, 1, 1) with
//                        m_blocks = ceil(q_seq / kBlockM) (AttentionParams::m_blocks)
//   shared memory:       dynamic, (kBlockM + 2 * kBlockN) * kHeadDim * sizeof(T) bytes
//                        (Q tile, one K tile, one V tile); above 48 KiB the host opts in
//   alignment:           Q, K, V, Y base addresses 16-byte aligned; every batch/head/seq stride
//                        and head_dim, v_head_dim multiples of 8 elements; the mask needs none
//   name expression:     rtx::kernels::attention::flash_attention<__half, 128, 64, 64, 4>
//
// Pipeline per K/V tile n (one buffer each, FlashAttention-2's overlap): wait for K[n]; issue
// V[n]; S = Q K[n]^T; mask and online softmax; wait for V[n]; issue K[n+1]; O += P V[n]. The
// V copy overlaps the QK^T product and the next K copy overlaps the PV product.
//
// Shared-memory tiles store rows of kHeadDim elements in 16-byte chunks, chunk c of row r at
// chunk (c ^ (r & 7)) of its 128-byte segment: ldmatrix (8 rows x 16 bytes) and the 16-byte
// cp.async writes are free of bank conflicts without padding.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "attention/common.cuh"
#include "attention/mma_sm80.cuh"
#include "attention/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::attention {

/// Byte offset of 16-byte chunk `chunk` of row `row` in a swizzled tile of kRowBytes per row.
template <int kRowBytes>
__device__ __forceinline__ unsigned swizzled(int row, int chunk) {
  static_assert(kRowBytes % 128 == 0, "rtx: swizzled tile rows must be multiples of 128 bytes");
  return static_cast<unsigned>(row * kRowBytes + ((chunk ^ (row & 7)) << 4));
}

/// Copies rows [0, kRows) of a (rows, head) tile into shared memory at `dst` with 16-byte
/// cp.async: row r comes from `base + r * row_stride`; rows >= `rows` and chunks >= `chunks`
/// are zero-filled, so partial tiles need no other bounds checks.
template <class T, int kRows, int kHeadDim, int kThreads>
__device__ __forceinline__ void load_tile(unsigned dst, const T* base, RTX_STD::int64_t row_stride,
                                          RTX_STD::int64_t rows, int chunks) {
  constexpr int kChunks = kHeadDim / 8;
  constexpr int kTotal = kRows * kChunks;
  static_assert(kTotal % kThreads == 0, "rtx: tile copies must divide evenly among threads");
#pragma unroll
  for (int it = 0; it < kTotal / kThreads; ++it) {
    const int idx = static_cast<int>(threadIdx.x) + it * kThreads;
    const int row = idx / kChunks;
    const int chunk = idx % kChunks;
    const bool ok = row < rows && chunk < chunks;
    const T* src = ok ? base + row * row_stride + chunk * 8 : base;
    cp_async_16(dst + swizzled<kHeadDim * 2>(row, chunk), src, ok ? 16 : 0);
  }
}

template <class T, int kHeadDim, int kBlockM, int kBlockN, int kWarps>
__global__ void __launch_bounds__(kWarps * 32) flash_attention(const AttentionParams p) {
  static_assert(sizeof(T) == 2, "rtx: flash_attention takes __half or __nv_bfloat16");
  static_assert(kHeadDim == 64 || kHeadDim == 128, "rtx: flash_attention head sizes are 64, 128");
  static_assert(kBlockM % (16 * kWarps) == 0, "rtx: each warp owns whole 16-row tiles");
  static_assert(kBlockN % 16 == 0, "rtx: kBlockN must be a multiple of 16");
  using E = Element<T>;
  using i64 = RTX_STD::int64_t;
  constexpr int kThreads = kWarps * 32;
  constexpr int kMTiles = kBlockM / (16 * kWarps);  // 16-row MMA tiles per warp
  constexpr int kNTiles = kBlockN / 8;              // n8 tiles of S per warp row tile
  constexpr int kDTiles = kHeadDim / 8;             // n8 tiles of O
  constexpr int kKSteps = kHeadDim / 16;            // k16 steps of Q K^T
  constexpr int kPSteps = kBlockN / 16;             // k16 steps of P V
  constexpr int kRowBytes = kHeadDim * 2;
  // Q fragments stay in registers when they are few; otherwise they are re-read from shared
  // memory in every tile (costs shared-memory bandwidth, saves registers for O and S).
  constexpr bool kQInRegs = kMTiles * kKSteps * 4 <= 32;

  extern __shared__ __align__(128) unsigned char smem[];
  const unsigned s_q = smem_u32(smem);
  const unsigned s_k = s_q + kBlockM * kRowBytes;
  const unsigned s_v = s_k + kBlockN * kRowBytes;

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int quad_row = lane / 4;  // row g of the m16n8 fragment layout
  const int quad_col = lane % 4;  // column pair t

  // Tiles of one (b, h) are adjacent in the grid (K/V stay in L2); within them the last query
  // tiles, which see the most keys under a causal mask, start first.
  const i64 blk = blockIdx.x;
  const i64 bh = blk / p.m_blocks;
  const i64 m_block = p.m_blocks - 1 - (blk - bh * p.m_blocks);
  const i64 b = bh / p.q_heads;
  const i64 h = bh - b * p.q_heads;
  const i64 hk = h / p.group;
  const i64 m0 = m_block * kBlockM;

  const T* q = static_cast<const T*>(p.q) + b * p.q_stride[0] + h * p.q_stride[1];
  const T* k = static_cast<const T*>(p.k) + b * p.k_stride[0] + hk * p.k_stride[1];
  const T* v = static_cast<const T*>(p.v) + b * p.v_stride[0] + hk * p.v_stride[1];
  const int q_chunks = static_cast<int>(p.head_dim / 8);
  const int v_chunks = static_cast<int>(p.v_head_dim / 8);

  i64 n_end = p.kv_seq;
  if (p.causal) {
    const i64 last_visible = m0 + kBlockM + p.causal_offset;  // one past the last row's keys
    n_end = n_end < last_visible ? n_end : last_visible;
  }
  const int n_blocks = n_end > 0 ? static_cast<int>((n_end + kBlockN - 1) / kBlockN) : 0;

  load_tile<T, kBlockM, kHeadDim, kThreads>(s_q, q + m0 * p.q_stride[2], p.q_stride[2],
                                            p.q_seq - m0, q_chunks);
  if (n_blocks > 0)
    load_tile<T, kBlockN, kHeadDim, kThreads>(s_k, k, p.k_stride[2], p.kv_seq, q_chunks);
  cp_async_commit();

  // Rows of this thread: row_of(mt, r) = m0 + (warp * kMTiles + mt) * 16 + quad_row + 8 r.
  float o[kMTiles][kDTiles][4];
  float row_max[kMTiles][2];
  float row_sum[kMTiles][2];  // this thread's partial sums; the quad is summed at the end
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[mt][dt][e] = 0.0f;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      row_max[mt][r] = neg_inf();
      row_sum[mt][r] = 0.0f;
    }
  }
  unsigned q_frag[kQInRegs ? kMTiles : 1][kQInRegs ? kKSteps : 1][4];

  const bool has_mask = p.mask_kind != static_cast<int>(MaskKind::kNone);
  // Sequence positions fit in 32 bits (the host checks q_seq, kv_seq < 2^30): the per-element
  // index math of the masked path stays in 32-bit registers.
  const int q_seq = static_cast<int>(p.q_seq);
  const int kv_seq = static_cast<int>(p.kv_seq);
  const int causal_offset = static_cast<int>(p.causal_offset);
  const int row0 = static_cast<int>(m0) + warp * kMTiles * 16 + quad_row;  // row of (mt 0, r 0)

  for (int nb = 0; nb < n_blocks; ++nb) {
    const int n0 = nb * kBlockN;
    cp_async_wait_all();
    __syncthreads();  // K[nb] (and Q) landed; every warp is done reading V[nb - 1]

    if constexpr (kQInRegs) {
      if (nb == 0) {
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
          for (int ks = 0; ks < kKSteps; ++ks) {
            const int row = (warp * kMTiles + mt) * 16 + lane % 16;
            ldmatrix_x4(q_frag[mt][ks], s_q + swizzled<kRowBytes>(row, ks * 2 + lane / 16));
          }
      }
    }
    load_tile<T, kBlockN, kHeadDim, kThreads>(s_v, v + n0 * p.v_stride[2], p.v_stride[2],
                                              kv_seq - n0, v_chunks);
    cp_async_commit();

    // S = Q K^T  (kMTiles x 16 rows, kBlockN keys per warp)
    float s[kMTiles][kNTiles][4];
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < kKSteps; ++ks) {
      unsigned a_frag[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        if constexpr (kQInRegs) {
#pragma unroll
          for (int e = 0; e < 4; ++e) a_frag[mt][e] = q_frag[mt][ks][e];
        } else {
          const int row = (warp * kMTiles + mt) * 16 + lane % 16;
          ldmatrix_x4(a_frag[mt], s_q + swizzled<kRowBytes>(row, ks * 2 + lane / 16));
        }
      }
#pragma unroll
      for (int np = 0; np < kNTiles / 2; ++np) {
        unsigned b_frag[4];  // keys np*16 + [0, 8) and [8, 16), d chunks 2 ks and 2 ks + 1
        const int row = np * 16 + lane % 8 + (lane / 16) * 8;
        ldmatrix_x4(b_frag, s_k + swizzled<kRowBytes>(row, ks * 2 + (lane / 8) % 2));
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          mma_16816<T>(s[mt][2 * np], a_frag[mt], b_frag[0], b_frag[1]);
          mma_16816<T>(s[mt][2 * np + 1], a_frag[mt], b_frag[2], b_frag[3]);
        }
      }
    }

    // Scores in base-2 units; masks only where a tile can hold masked elements.
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
      for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[mt][nt][e] = scaled_score(p, s[mt][nt][e]);
    const bool edge = n0 + kBlockN > kv_seq ||
                      (p.causal && n0 + kBlockN - 1 > static_cast<int>(m0) + causal_offset);
    if (has_mask || edge) {
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int i = row0 + mt * 16 + 8 * r;
          const int visible = p.causal ? i + causal_offset : kv_seq;  // last visible key
          // Rows past q_seq read row q_seq - 1 of the mask: their results are discarded.
          const unsigned char* mrow =
              has_mask ? mask_row<T>(p, b, h, i < q_seq ? i : q_seq - 1) : nullptr;
#pragma unroll
          for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
            for (int c = 0; c < 2; ++c) {
              const int j = n0 + nt * 8 + quad_col * 2 + c;
              float& x = s[mt][nt][2 * r + c];
              if (j >= kv_seq || j > visible)
                x = neg_inf();
              else if (has_mask)
                x += mask_term<T>(p, mrow, j);
            }
        }
    }

    // Online softmax: new row max, rescale the running sum and O, P = exp2(S - max).
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = row_max[mt][r];
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt)
          mx = fmaxf(mx, fmaxf(s[mt][nt][2 * r], s[mt][nt][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        // While a row has seen only masked keys its max is -inf; subtracting 0 instead keeps
        // exp2 at exact zeros rather than NaN (-inf - -inf).
        const float base = mx == neg_inf() ? 0.0f : mx;
        const float correction = exp2f(row_max[mt][r] - base);
        row_max[mt][r] = mx;
        float sum = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
          for (int c = 0; c < 2; ++c) {
            const float pr = exp2f(s[mt][nt][2 * r + c] - base);
            s[mt][nt][2 * r + c] = pr;
            sum += pr;
          }
        row_sum[mt][r] = row_sum[mt][r] * correction + sum;
#pragma unroll
        for (int dt = 0; dt < kDTiles; ++dt) {
          o[mt][dt][2 * r] *= correction;
          o[mt][dt][2 * r + 1] *= correction;
        }
      }

    cp_async_wait_all();
    __syncthreads();  // V[nb] landed; every warp is done reading K[nb]
    if (nb + 1 < n_blocks) {
      load_tile<T, kBlockN, kHeadDim, kThreads>(s_k, k + (n0 + kBlockN) * p.k_stride[2],
                                                p.k_stride[2], kv_seq - n0 - kBlockN, q_chunks);
      cp_async_commit();
    }

    // O += P V: the S accumulators of two n8 tiles form the A fragment of one k16 step.
#pragma unroll
    for (int kk = 0; kk < kPSteps; ++kk) {
      unsigned p_frag[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        p_frag[mt][0] = E::pack(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        p_frag[mt][1] = E::pack(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        p_frag[mt][2] = E::pack(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        p_frag[mt][3] = E::pack(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < kDTiles / 2; ++dp) {
        unsigned b_frag[4];  // keys kk*16 + [0, 8), [8, 16) x dv chunks 2 dp, 2 dp + 1
        const int row = kk * 16 + lane % 8 + ((lane / 8) % 2) * 8;
        ldmatrix_x4_trans(b_frag, s_v + swizzled<kRowBytes>(row, dp * 2 + lane / 16));
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          mma_16816<T>(o[mt][2 * dp], p_frag[mt], b_frag[0], b_frag[1]);
          mma_16816<T>(o[mt][2 * dp + 1], p_frag[mt], b_frag[2], b_frag[3]);
        }
      }
    }
  }

  // Epilogue: O / rowsum, rounded to T, staged through this warp's own rows of the Q tile (no
  // other warp reads them), then written with 16-byte stores.
  // With no key tile at all the Q copy may still be in flight, written by threads of any warp.
  cp_async_wait_all();
  __syncthreads();
  unsigned char* s_out = smem;
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float sum = row_sum[mt][r];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const float inv = inverse_sum(p, sum);
      const int row = (warp * kMTiles + mt) * 16 + quad_row + 8 * r;
#pragma unroll
      for (int dt = 0; dt < kDTiles; ++dt) {
        const unsigned packed = E::pack(o[mt][dt][2 * r] * inv, o[mt][dt][2 * r + 1] * inv);
        *reinterpret_cast<unsigned*>(s_out + swizzled<kRowBytes>(row, dt) + quad_col * 4) = packed;
      }
    }
  __syncwarp();
  T* y = static_cast<T*>(p.y) + b * p.y_stride[0] + h * p.y_stride[1];
  constexpr int kWarpRows = kMTiles * 16;
  constexpr int kChunks = kHeadDim / 8;
#pragma unroll
  for (int it = 0; it < kWarpRows * kChunks / 32; ++it) {
    const int idx = lane + it * 32;
    const int row = warp * kWarpRows + idx / kChunks;
    const int chunk = idx % kChunks;
    const i64 i = m0 + row;
    if (i < p.q_seq && chunk < v_chunks) {
      const uint4 val = *reinterpret_cast<const uint4*>(s_out + swizzled<kRowBytes>(row, chunk));
      *reinterpret_cast<uint4*>(y + i * p.y_stride[2] + chunk * 8) = val;
    }
  }
}

}  // namespace rtx::kernels::attention
