// SPDX-License-Identifier: Apache-2.0
// Run-time parameters of the reduction kernels (reduce/reduce.cuh), shared by the host (g++,
// jit/kernels/reduce.cpp) and NVRTC. One struct serves both kernels:
//   rows mode    (reduce_rows):    result v reduces the contiguous run of `reduce` elements that
//                                  starts at (v / chunks) * row_stride + (v % chunks) * reduce,
//                                  clipped to its row; arg indices count from (v % chunks) * reduce
//   strided mode (reduce_strided): result o reduces the elements at kept_offset(o) +
//                                  red_offset(r) for r in chunk blockIdx.y of [0, red_total)
// A split reduction runs two launches: a partial pass writing `chunks` states per result
// (finalize = 0), then a rows pass over those states (finalize = 1).
#pragma once

#include "rtx/config.hpp"
#if defined(__CUDACC_RTC__)
#include "common/limits.cuh"
#else
#include "templates/common/limits.cuh"
#endif

namespace rtx::kernels {

/// Threads per block of reduce_strided (its __launch_bounds__); blockDim.x * blockDim.y.
inline constexpr int kReduceStridedBlock = 256;

struct ReduceParams {
  const void* in;
  void* out;
  RTX_STD::int64_t outputs;     ///< results this launch writes
  RTX_STD::int64_t reduce;      ///< elements (or states) per result and chunk
  RTX_STD::int64_t count;       ///< elements of the whole reduction (ReduceMean's divisor)
  RTX_STD::int64_t row_stride;  ///< rows mode: elements per original row
  RTX_STD::int64_t chunks;      ///< chunks per original row (rows) / per result (strided)
  RTX_STD::int64_t red_total;   ///< strided mode: elements reduced per result, all chunks
  RTX_STD::int32_t finalize;    ///< 1: write the op's final value as Out; 0: write raw states
  RTX_STD::int32_t vectorized;  ///< rows mode: 1 if 16-byte loads may be used (aligned base)
  RTX_STD::int32_t kept_rank;   ///< strided mode: dims enumerating results
  RTX_STD::int32_t red_rank;    ///< strided mode: dims enumerating reduced elements
  RTX_STD::int64_t kept_shape[kMaxRank];
  RTX_STD::int64_t kept_strides[kMaxRank];  ///< input element strides of the kept dims
  RTX_STD::int64_t red_shape[kMaxRank];
  RTX_STD::int64_t red_strides[kMaxRank];  ///< input element strides of the reduced dims
};

}  // namespace rtx::kernels
