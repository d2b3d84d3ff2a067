// SPDX-License-Identifier: Apache-2.0
// Run-time parameters of the data-movement kernels (movement/movement.cuh), shared by the host
// (g++, jit/kernels/movement.cpp) and NVRTC. All sizes, offsets and strides count elements of
// the kernel's unit type E (the host may move several tensor elements as one wider unit).
#pragma once

#include "rtx/config.hpp"
#if defined(__CUDACC_RTC__)
#include "common/limits.cuh"
#else
#include "templates/common/limits.cuh"
#endif

namespace rtx::kernels {

inline constexpr int kMovementBlock = 256;  ///< threads per block of the 1-D movement kernels
inline constexpr int kTransposeTile = 32;   ///< transpose_tiled: tile edge; block is 32 x 8
inline constexpr int kMaxConcatInputs = 8;  ///< inputs one concat launch copies

/// copy_strided: out is contiguous with `shape`; element at multi-index c comes from
/// in[offset + sum_d c[d] * in_strides[d]] (strides may be 0 (expand) or negative (slice)).
struct CopyParams {
  const void* in;
  void* out;
  RTX_STD::int64_t n;  ///< output elements
  RTX_STD::int64_t offset;
  RTX_STD::int32_t rank;
  RTX_STD::int32_t reserved;
  RTX_STD::int64_t shape[kMaxRank];
  RTX_STD::int64_t in_strides[kMaxRank];
};

/// transpose_tiled: out is contiguous [batch..., rows, cols]; out[b, i, j] comes from
/// in[batch_offset(b) + i + j * in_col_stride] (the input is contiguous along output rows).
struct TransposeParams {
  const void* in;
  void* out;
  RTX_STD::int64_t rows;
  RTX_STD::int64_t cols;
  RTX_STD::int64_t in_col_stride;
  RTX_STD::int64_t batch;  ///< product of batch_shape
  RTX_STD::int32_t batch_rank;
  RTX_STD::int32_t reserved;
  RTX_STD::int64_t batch_shape[kMaxRank];
  RTX_STD::int64_t batch_strides[kMaxRank];  ///< input strides of the batch dims
};

/// concat: out viewed as [outer, out_row]; input k, viewed as [outer, row[k]], lands at
/// columns [offset[k], offset[k] + row[k]) of every output row.
struct ConcatParams {
  const void* in[kMaxConcatInputs];
  void* out;
  RTX_STD::int64_t outer;
  RTX_STD::int64_t out_row;
  RTX_STD::int64_t row[kMaxConcatInputs];
  RTX_STD::int64_t offset[kMaxConcatInputs];
  RTX_STD::int64_t total_row;  ///< sum of row[k] over this launch's inputs
  RTX_STD::int32_t inputs;
  RTX_STD::int32_t reserved;
};

/// gather (ONNX Gather along one axis): data viewed as [outer, dim, inner], indices as
/// [count]; out[(o * count + k) * inner + i] = data[(o * dim + idx[k]) * inner + i]. Negative
/// indices count from the end; indices outside [-dim, dim) give zero elements.
struct GatherParams {
  const void* data;
  const void* indices;
  void* out;
  RTX_STD::int64_t outer;
  RTX_STD::int64_t dim;
  RTX_STD::int64_t count;
  RTX_STD::int64_t inner;
};

/// pad (ONNX Pad): per dim, output coordinate o maps to x = o - lead[d] within the kept extent
/// kept[d] (input coordinates from crop[d]); outside it the mode decides.
struct PadParams {
  const void* in;
  void* out;
  RTX_STD::int64_t n;  ///< output elements
  RTX_STD::int32_t rank;
  RTX_STD::int32_t mode;  ///< 0 constant, 1 reflect, 2 edge, 3 wrap
  RTX_STD::uint64_t value_bits;  ///< constant mode: the fill element's bits (low bytes)
  RTX_STD::int64_t out_shape[kMaxRank];
  RTX_STD::int64_t in_strides[kMaxRank];
  RTX_STD::int64_t lead[kMaxRank];  ///< max(begin pad, 0)
  RTX_STD::int64_t crop[kMaxRank];  ///< max(-begin pad, 0)
  RTX_STD::int64_t kept[kMaxRank];  ///< input extent after negative pads
};

}  // namespace rtx::kernels
