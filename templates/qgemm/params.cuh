// SPDX-License-Identifier: Apache-2.0
// Run-time parameters of the quantized GEMM family (templates/qgemm/): the folded form of
//   [Q](act(DQ(A) x DQ(B) [+ bias]))
// where the DequantizeLinear of each operand and the optional trailing QuantizeLinear run inside
// one kernel. Compiled by the host compiler and by NVRTC alike (only rtx/config.hpp and the GEMM
// family's params are included), so the host fills exactly the bytes the kernel reads; trivially
// copyable and passed by value as one kernel parameter.
//
// Operands (all strides in elements; packed 4-bit types count nibbles, low nibble first):
//   A  (M, K) stored K-major with row stride lda: int8/uint8/fp8 (8-bit kernels, per-tensor
//      scale `a_scale`, zero point 0) or f16/bf16 (weight-only kernels: A is not quantized).
//   B  op(B) (K, N): stored (K, N) ("N-major", MatMul's weight layout, row stride ldb) or (N, K)
//      ("K-major", Gemm transB=1). Quantized; its scale and zero point are addressed by
//          index(k, n) = (k / b_block) * b_scale_k_stride + n * b_scale_n_stride
//      which spells per-tensor (both strides 0), per-channel along N (n stride 1) and block-wise
//      along K (ONNX blocked quantization with block_size = b_block) with one formula.
//   D  (M, N) row stride ldd: the dequantized result in the "mid" type (the MatMul's dtype), or
//      requantized (int8/uint8/fp8) with the per-tensor `y_scale` / `y_zero` when a
//      QuantizeLinear follows.
#pragma once

#include "rtx/config.hpp"
// NVRTC sees templates by their path relative to templates/; the host compiler by the path from
// the repository root.
#if defined(__CUDACC_RTC__)
#include "gemm/params.cuh"
#else
#include "templates/gemm/params.cuh"
#endif

namespace rtx::kernels::qgemm {

/// Batch dims a launch can address (as the GEMM family).
inline constexpr int kMaxBatchRank = gemm::kMaxBatchRank;

/// Granularity of B's scale (and zero point). Values are part of name expressions and of stored
/// specs: never renumber.
enum class ScaleMode : int {
  kPerTensor = 0,  ///< one scale
  kPerColumn = 1,  ///< one scale per output column n (ONNX per-axis on B's N axis)
  kBlocked = 2,    ///< index(k, n) as in the file comment (block-wise along K, or per-axis on K)
};

/// How a bias enters. Values are part of name expressions: never renumber.
enum class BiasMode : int {
  kNone = 0,
  kAdd = 1,   ///< MatMul then Add(bias[N]): the product is rounded to the mid type first
  kGemmC = 2, ///< ONNX Gemm's beta * C with C of shape (N) or (1, N): one rounding for both
};

/// Everything a quantized GEMM launch needs at run time (shapes are run-time values).
struct QGemmParams {
  const void* a;  ///< A elements
  const void* b;  ///< B elements (packed for 4-bit types)
  void* d;        ///< output elements
  RTX_STD::int64_t m, n, k;
  RTX_STD::int64_t lda, ldb, ldd;  ///< row strides of A, B, D as stored (elements)
  RTX_STD::int32_t batch_rank;     ///< used entries of batch_dims (0: one GEMM)
  RTX_STD::int32_t group_m;        ///< tile rasterisation group (rows of tiles swept together)
  RTX_STD::int64_t batch_count;    ///< product of batch_dims
  RTX_STD::int64_t batch_dims[kMaxBatchRank];
  RTX_STD::int64_t a_batch_stride[kMaxBatchRank];
  RTX_STD::int64_t b_batch_stride[kMaxBatchRank];  ///< nonzero only with a per-tensor B scale
  RTX_STD::int64_t d_batch_stride[kMaxBatchRank];
  const void* a_scale;  ///< one scale (scale type); unused by the weight-only kernels
  const void* b_scale;  ///< scale type, addressed as in the file comment
  const void* b_zero;   ///< B's storage type, same addressing; nullptr means 0
  RTX_STD::int64_t b_scale_k_stride;
  RTX_STD::int64_t b_scale_n_stride;
  RTX_STD::int64_t b_block;  ///< K block of B's scales (>= 1)
  const void* bias;          ///< N values of the mid type (BiasMode::kAdd / kGemmC)
  const void* y_scale;       ///< one scale (scale type) when the output is requantized
  const void* y_zero;        ///< one zero point (output type); nullptr means 0
  float alpha;               ///< Gemm's alpha (1 for MatMul)
  float beta;                ///< Gemm's beta (BiasMode::kGemmC)
  RTX_STD::int32_t tiles_m;  ///< ceil(m / tile rows)
  RTX_STD::int32_t tiles_n;  ///< ceil(n / tile columns)
};

/// Offsets (elements) of one batch index into A, B and D.
struct QBatchOffsets {
  RTX_STD::int64_t a = 0, b = 0, d = 0;
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
__device__ __forceinline__ QBatchOffsets batch_offsets(const QGemmParams& p, RTX_STD::int64_t z) {
  QBatchOffsets o;
#pragma unroll
  for (int i = kMaxBatchRank - 1; i >= 0; --i) {
    if (i < p.batch_rank) {
      const RTX_STD::int64_t dim = p.batch_dims[i];
      const RTX_STD::int64_t idx = z % dim;
      z /= dim;
      o.a += idx * p.a_batch_stride[i];
      o.b += idx * p.b_batch_stride[i];
      o.d += idx * p.d_batch_stride[i];
    }
  }
  return o;
}
#endif

}  // namespace rtx::kernels::qgemm
