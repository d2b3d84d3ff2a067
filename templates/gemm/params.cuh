// SPDX-License-Identifier: Apache-2.0
// Run-time parameters of the GEMM family (dense GEMM / batched MatMul, and the implicit-GEMM
// convolution that shares its main loop and epilogue). Compiled by the host compiler, nvcc and
// NVRTC alike (only rtx/config.hpp is included), so the host fills exactly the bytes the kernel
// reads. Everything here is trivially copyable and passed by value as one kernel parameter.
//
// The problem: for every batch index (a multi-index over `batch_dims`),
//   D(M, N) = act(alpha * op(A)(M, K) * op(B)(K, N) + bias + beta * C) + R
// where op(A) is read K-major (A stored (M, K), row stride lda) or M-major (A stored (K, M)),
// op(B) K-major (B stored (N, K)) or N-major (B stored (K, N), the weight layout), and C and R are
// broadcast to (batch..., M, N) through strides (0 = broadcast). All strides are in elements.
#pragma once

#include "rtx/config.hpp"

namespace rtx::kernels::gemm {

/// Batch dims a GEMM launch can address (after the planner merged contiguous dims).
inline constexpr int kMaxBatchRank = 8;

/// The activation of the fused epilogue. The numeric values are part of name expressions
/// (spelled `(rtx::kernels::gemm::Activation)N`) and of stored specs: never renumber.
enum class Activation : int {
  kNone = 0,
  kRelu = 1,
  kGelu = 2,      ///< 0.5 x (1 + erf(x / sqrt 2)), ONNX Gelu(approximate="none")
  kGeluTanh = 3,  ///< ONNX Gelu(approximate="tanh")
  kSilu = 4,      ///< x * sigmoid(x)
  kSigmoid = 5,
  kTanh = 6,
  /// Outputs below GemmParams::activation_floor are raised to it: ReLU (floor 0) and no
  /// activation (floor -inf) in one kernel, so a network with both compiles each GEMM shape once.
  /// Only name expressions use it; specs keep kNone / kRelu.
  kFloor = 7,
};

/// Where a bias vector applies: one value per output column (the usual Linear/NHWC bias) or per
/// output row (an NCHW convolution's output channel). Values are part of name expressions.
enum class BiasMode : int {
  kNone = 0,
  kPerColumn = 1,
  kPerRow = 2,
};

/// A tensor read by the epilogue, broadcast to (batch..., M, N) through strides.
struct EpilogueOperand {
  const void* ptr;
  RTX_STD::int64_t row_stride;  ///< elements between rows (0 = broadcast along M)
  RTX_STD::int64_t col_stride;  ///< elements between columns (0 = broadcast along N)
  RTX_STD::int64_t batch_stride[kMaxBatchRank];
};

/// Everything a GEMM launch needs at run time. Shapes are run-time values: a new shape never
/// needs a recompile.
struct GemmParams {
  const void* a;  ///< op(A) elements (input dtype)
  const void* b;  ///< op(B) elements (input dtype)
  void* d;        ///< output (output dtype)
  RTX_STD::int64_t m, n, k;
  RTX_STD::int64_t lda, ldb, ldd;  ///< row strides of A, B and D as stored
  RTX_STD::int32_t batch_rank;     ///< number of used entries of batch_dims (0: one GEMM)
  RTX_STD::int32_t group_m;      ///< tile rasterisation: tiles of this many rows are swept together
  RTX_STD::int64_t batch_count;  ///< product of batch_dims (1 when batch_rank == 0)
  RTX_STD::int64_t batch_dims[kMaxBatchRank];
  RTX_STD::int64_t a_batch_stride[kMaxBatchRank];
  RTX_STD::int64_t b_batch_stride[kMaxBatchRank];
  RTX_STD::int64_t d_batch_stride[kMaxBatchRank];
  const void* bias;  ///< kPerColumn: N values; kPerRow: M values (input dtype), stride 1
  RTX_STD::int64_t bias_batch_stride[kMaxBatchRank];
  EpilogueOperand c;         ///< beta * C before the activation (input dtype)
  EpilogueOperand residual;  ///< + R after the activation (output dtype)
  float alpha;
  float beta;
  float activation_floor;    ///< Activation::kFloor: 0 for ReLU, -inf for none
  RTX_STD::int32_t tiles_m;  ///< ceil(m / tile rows)
  RTX_STD::int32_t tiles_n;  ///< ceil(n / tile columns)
};

/// An opaque TMA tensor map (the driver's CUtensorMap: 128 bytes, 64-byte aligned), built on the
/// host per launch and passed by value as a __grid_constant__ kernel parameter.
struct alignas(64) TmaDescriptor {
  unsigned long long opaque[16];
};

/// Division by a run-time constant through a multiply-high and a shift (valid for dividends
/// below 2^31), set up once on the host: the implicit-GEMM loaders split indices into
/// (channel, tap, position) coordinates many times per tile, and a hardware division is ~20
/// instructions.
struct FastDivmod {
  RTX_STD::uint32_t divisor;
  RTX_STD::uint32_t multiplier;  ///< 0 when divisor == 1
  RTX_STD::uint32_t shift;

  /// Host-side setup; `d` must be >= 1.
  static FastDivmod make(RTX_STD::uint32_t d) {
    FastDivmod f{d, 0, 0};
    if (d <= 1) return f;
    RTX_STD::uint32_t log2 = 0;  // ceil(log2(d))
    while ((RTX_STD::uint64_t{1} << log2) < d) ++log2;
    const RTX_STD::uint64_t p = 31 + log2;
    f.multiplier = static_cast<RTX_STD::uint32_t>(((RTX_STD::uint64_t{1} << p) + d - 1) / d);
    f.shift = static_cast<RTX_STD::uint32_t>(p - 32);
    return f;
  }

  /// n / divisor for 0 <= n < 2^31.
  RTX_HOST_DEVICE RTX_STD::uint32_t div(RTX_STD::uint32_t n) const {
    if (multiplier == 0) return n;
#if defined(__CUDA_ARCH__)
    return __umulhi(n, multiplier) >> shift;
#else
    return static_cast<RTX_STD::uint32_t>((static_cast<RTX_STD::uint64_t>(n) * multiplier) >> 32) >>
           shift;
#endif
  }
  /// Quotient, and the remainder through `rem`.
  RTX_HOST_DEVICE RTX_STD::uint32_t divmod(RTX_STD::uint32_t n, RTX_STD::uint32_t& rem) const {
    const RTX_STD::uint32_t q = div(n);
    rem = n - q * divisor;
    return q;
  }
};

}  // namespace rtx::kernels::gemm
