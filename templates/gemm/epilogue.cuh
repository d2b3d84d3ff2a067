// SPDX-License-Identifier: Apache-2.0
// The fused epilogue of the GEMM family: element conversions, activations, and the pass that
// takes a tile of f32 accumulators (already multiplied by alpha, staged in shared memory) to the
// output: + bias, + beta * C, activation, + residual, cast to the output dtype, stored with 16-byte
// vectors where the row is aligned and complete.
//
// Contract
//   Epilogue<kAct, kBias, kC, kResidual>: a compile-time description, passed to the GEMM and
//     conv kernels as a template argument. Name-expression form:
//     rtx::kernels::gemm::Epilogue<(rtx::kernels::gemm::Activation)1,
//                                  (rtx::kernels::gemm::BiasMode)1, false, true>
//   store_tile(): called by all threads of a block after a __syncthreads() that follows the last
//     write of the tile into shared memory; reads only shared memory and the epilogue operands.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/math.cuh"
#include "gemm/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::gemm {

template <Activation kAct_, BiasMode kBias_, bool kC_, bool kResidual_>
struct Epilogue {
  static constexpr Activation kAct = kAct_;
  static constexpr BiasMode kBias = kBias_;
  static constexpr bool kC = kC_;                // beta * C (input dtype) before the activation
  static constexpr bool kResidual = kResidual_;  // + R (output dtype) after the activation
};

// ---- conversions --------------------------------------------------------------------------------

__device__ __forceinline__ float to_float(float x) {
  return x;
}
__device__ __forceinline__ float to_float(__half x) {
  return __half2float(x);
}
__device__ __forceinline__ float to_float(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

template <class T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// ---- activations --------------------------------------------------------------------------------

/// The activation of the epilogue; the formulas are the pointwise ones (common/math.cuh).
/// `floor` is GemmParams::activation_floor, read only by kFloor.
template <Activation kAct>
__device__ __forceinline__ float activate(float x, float floor = 0.0f) {
  if constexpr (kAct == Activation::kRelu) {
    return x < 0.0f ? 0.0f : x;  // keeps NaN, like the reference
  } else if constexpr (kAct == Activation::kFloor) {
    return x < floor ? floor : x;  // keeps NaN; floor -inf changes nothing
  } else if constexpr (kAct == Activation::kGelu) {
    return rtx::kernels::gelu_erf(x);
  } else if constexpr (kAct == Activation::kGeluTanh) {
    return rtx::kernels::gelu_tanh(x);
  } else if constexpr (kAct == Activation::kSilu) {
    return rtx::kernels::silu(x);
  } else if constexpr (kAct == Activation::kSigmoid) {
    return rtx::kernels::sigmoid(x);
  } else if constexpr (kAct == Activation::kTanh) {
    return tanhf(x);
  } else {
    return x;
  }
}

// ---- batch offsets ------------------------------------------------------------------------------

/// Offsets (elements) of one batch index into every operand of a GEMM launch.
struct BatchOffsets {
  RTX_STD::int64_t a = 0, b = 0, d = 0, bias = 0, c = 0, residual = 0;
};

__device__ __forceinline__ BatchOffsets batch_offsets(const GemmParams& p, RTX_STD::int64_t z) {
  BatchOffsets o;
  // Unrolled on purpose: with constant indices the parameters are read in place. A run-time loop
  // over p.batch_rank (91 KB less code per sm_90 image) made ResNet-50's 1x1 convolutions up to
  // 22% slower on an H100 (2026-12-06, docs/performance.md).
#pragma unroll
  for (int i = kMaxBatchRank - 1; i >= 0; --i) {
    if (i < p.batch_rank) {
      const RTX_STD::int64_t dim = p.batch_dims[i];
      const RTX_STD::int64_t idx = z % dim;
      z /= dim;
      o.a += idx * p.a_batch_stride[i];
      o.b += idx * p.b_batch_stride[i];
      o.d += idx * p.d_batch_stride[i];
      o.bias += idx * p.bias_batch_stride[i];
      o.c += idx * p.c.batch_stride[i];
      o.residual += idx * p.residual.batch_stride[i];
    }
  }
  return o;
}

// ---- the tile epilogue --------------------------------------------------------------------------

/// Loads `kVec` consecutive elements of an epilogue operand starting at column `col` of row `row`
/// into v[] as floats (adds `scale * value`). Vector load when the elements are contiguous,
/// aligned and all in range; element loads otherwise.
template <class T, int kVec>
__device__ __forceinline__ void accumulate_operand(float (&v)[kVec], const T* base,
                                                   RTX_STD::int64_t row_stride,
                                                   RTX_STD::int64_t col_stride,
                                                   RTX_STD::int64_t row, RTX_STD::int64_t col,
                                                   RTX_STD::int64_t n, float scale) {
  const T* p = base + row * row_stride + col * col_stride;
  constexpr int kBytes = kVec * static_cast<int>(sizeof(T));
  if (col_stride == 1 && col + kVec <= n && (kBytes == 16 || kBytes == 8) &&
      (reinterpret_cast<RTX_STD::uintptr_t>(p) % kBytes) == 0) {
    alignas(16) T tmp[kVec];
    if constexpr (kBytes == 16) {
      *reinterpret_cast<uint4*>(tmp) = *reinterpret_cast<const uint4*>(p);
    } else {
      *reinterpret_cast<uint2*>(tmp) = *reinterpret_cast<const uint2*>(p);
    }
#pragma unroll
    for (int e = 0; e < kVec; ++e) v[e] += scale * to_float(tmp[e]);
    return;
  }
#pragma unroll
  for (int e = 0; e < kVec; ++e) {
    if (col + e < n) v[e] += scale * to_float(p[e * col_stride]);
  }
}

/// Writes the (rows x cols) tile of alpha-scaled accumulators held in shared memory (`tile`, f32,
/// row stride `ld`) to D at (m0, n0) of the batch whose offsets are `off`, applying the epilogue.
/// kThreads threads (`tid` in [0, kThreads)) take consecutive kVec-column pieces of each row, so
/// global accesses are coalesced along N.
template <class TIn, class TOut, class Epi, int kRows, int kCols, int kThreads, int kLd>
__device__ __forceinline__ void store_tile(const float* tile, const GemmParams& p,
                                           const BatchOffsets& off, RTX_STD::int64_t m0,
                                           RTX_STD::int64_t n0, int tid) {
  constexpr int kVec = sizeof(TOut) == 2 ? 8 : 4;  // 16-byte stores
  constexpr int kPiecesPerRow = kCols / kVec;
  static_assert(kCols % kVec == 0 && kThreads % kPiecesPerRow == 0, "tile/thread mismatch");
  constexpr int kRowsPerPass = kThreads / kPiecesPerRow;
  const int piece = tid % kPiecesPerRow;
  const int row0 = tid / kPiecesPerRow;
  TOut* d = static_cast<TOut*>(p.d) + off.d;
  const RTX_STD::int64_t col = n0 + piece * kVec;
  if (col >= p.n) return;  // no barrier follows: threads may leave early
  for (int r = row0; r < kRows; r += kRowsPerPass) {
    const RTX_STD::int64_t row = m0 + r;
    if (row >= p.m) break;
    float v[kVec];
    const float* src = tile + r * kLd + piece * kVec;
#pragma unroll
    for (int e = 0; e < kVec; e += 4) {
      const float4 f = *reinterpret_cast<const float4*>(src + e);
      v[e] = f.x;
      v[e + 1] = f.y;
      v[e + 2] = f.z;
      v[e + 3] = f.w;
    }
    if constexpr (Epi::kBias == BiasMode::kPerColumn) {
      accumulate_operand<TIn, kVec>(v, static_cast<const TIn*>(p.bias) + off.bias, 0, 1, 0, col,
                                    p.n, 1.0f);
    } else if constexpr (Epi::kBias == BiasMode::kPerRow) {
      const float b = to_float(static_cast<const TIn*>(p.bias)[off.bias + row]);
#pragma unroll
      for (int e = 0; e < kVec; ++e) v[e] += b;
    }
    if constexpr (Epi::kC) {
      accumulate_operand<TIn, kVec>(v, static_cast<const TIn*>(p.c.ptr) + off.c, p.c.row_stride,
                                    p.c.col_stride, row, col, p.n, p.beta);
    }
#pragma unroll
    for (int e = 0; e < kVec; ++e) v[e] = activate<Epi::kAct>(v[e], p.activation_floor);
    if constexpr (Epi::kResidual) {
      accumulate_operand<TOut, kVec>(v, static_cast<const TOut*>(p.residual.ptr) + off.residual,
                                     p.residual.row_stride, p.residual.col_stride, row, col, p.n,
                                     1.0f);
    }
    TOut* out = d + row * p.ldd + col;
    if (col + kVec <= p.n && (reinterpret_cast<RTX_STD::uintptr_t>(out) % 16) == 0) {
      alignas(16) TOut tmp[kVec];
#pragma unroll
      for (int e = 0; e < kVec; ++e) tmp[e] = from_float<TOut>(v[e]);
      *reinterpret_cast<uint4*>(out) = *reinterpret_cast<const uint4*>(tmp);
    } else {
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        if (col + e < p.n) out[e] = from_float<TOut>(v[e]);
      }
    }
  }
}

}  // namespace rtx::kernels::gemm
