// SPDX-License-Identifier: Apache-2.0
// Run-time parameters of the pointwise driver (pointwise/pointwise.cuh), shared by the host
// (g++, jit/kernels/pointwise.cpp fills it) and NVRTC, so both agree on its layout. Trivially
// copyable; passed by value as the kernel's only parameter (well under the 4 KiB limit).
#pragma once

#include "rtx/config.hpp"
// NVRTC sees templates by their path relative to templates/; the host compiler by the path from
// the repository root.
#if defined(__CUDACC_RTC__)
#include "common/limits.cuh"
#else
#include "templates/common/limits.cuh"
#endif

namespace rtx::kernels {

/// Most inputs one fused pointwise kernel reads.
inline constexpr int kMaxPointwiseInputs = 8;
/// Threads per block of the driver (its __launch_bounds__).
inline constexpr int kPointwiseBlock = 256;

struct PointwiseParams {
  void* out;                              ///< contiguous output, n elements
  const void* in[kMaxPointwiseInputs];    ///< input base pointers (unused slots null)
  RTX_STD::int64_t n;                     ///< output element count
  RTX_STD::int32_t rank;                  ///< rank of `shape` after merging dims (0..kMaxRank)
  /// 1: every input is contiguous with the output's shape, a single element (scalar_mask) or
  /// periodic (periodic_mask), and every pointer is 16-byte aligned: the 16-byte vector path
  /// runs.
  RTX_STD::int32_t vectorized;
  RTX_STD::uint32_t scalar_mask;    ///< vector path: bit k set = input k is one element
  /// Vector path: bit k set = output element i reads element i % period[k] of input k (a
  /// contiguous input broadcast over leading dims, e.g. a bias over the last dim); period[k]
  /// is a multiple of the vector width.
  RTX_STD::uint32_t periodic_mask;
  RTX_STD::int64_t period[kMaxPointwiseInputs];
  RTX_STD::int64_t shape[kMaxRank];                          ///< merged output shape
  RTX_STD::int64_t strides[kMaxPointwiseInputs][kMaxRank];  ///< element strides, 0 = broadcast
};

}  // namespace rtx::kernels
