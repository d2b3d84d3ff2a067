// SPDX-License-Identifier: Apache-2.0
// Run-time parameters of the pooling kernels (pool/pool.cuh), shared by the host (g++,
// jit/kernels/pool.cpp) and NVRTC. Inputs are NCHW-style: [N, C, spatial...] with 1 to 3
// spatial dims; the host always fills 3 (leading extents 1, kernel 1, stride 1, no padding).
#pragma once

#include "rtx/config.hpp"

namespace rtx::kernels {

inline constexpr int kPoolDims = 3;     ///< spatial dims the kernels walk
inline constexpr int kPoolBlock = 256;  ///< threads per block (1-D)

struct PoolParams {
  const void* in;
  void* out;
  void* indices;              ///< MaxPool: int64 Indices output, or null
  RTX_STD::int64_t planes;    ///< N * C
  RTX_STD::int64_t n;         ///< output elements = planes * product(out_shape)
  RTX_STD::int32_t count_include_pad;  ///< AveragePool: divide by taps inside the padded extent
  RTX_STD::int32_t storage_order;      ///< MaxPool Indices: 0 row major, 1 column major
  RTX_STD::int64_t in_shape[kPoolDims];
  RTX_STD::int64_t out_shape[kPoolDims];
  RTX_STD::int64_t kernel[kPoolDims];
  RTX_STD::int64_t stride[kPoolDims];
  RTX_STD::int64_t dilation[kPoolDims];
  RTX_STD::int64_t pad_begin[kPoolDims];
  RTX_STD::int64_t pad_end[kPoolDims];
};

}  // namespace rtx::kernels
