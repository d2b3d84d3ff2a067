// SPDX-License-Identifier: Apache-2.0
// Run-time parameters of the normalisation kernels (norm/softmax.cuh, norm/layer_norm.cuh),
// shared by the host (g++, jit/kernels/norm.cpp) and NVRTC.
#pragma once

#include "rtx/config.hpp"

namespace rtx::kernels {

/// Vectors of 16 bytes each thread keeps in registers per row (row capacity of the one-pass
/// path = kThreads * kNormCachedVectors * 16 / sizeof(T)).
inline constexpr int kNormCachedVectors = 4;

struct NormParams {
  const void* in;     ///< X, rows x cols (rows mode) or outer x cols x inner (strided softmax)
  void* out;          ///< Y, same layout
  const void* scale;  ///< layer/RMS norm: cols elements (required)
  const void* bias;   ///< layer norm: cols elements, or null
  void* mean;         ///< layer norm: float per row, or null (ONNX output Mean)
  void* inv_std;      ///< layer norm: float per row, or null (ONNX output InvStdDev)
  RTX_STD::int64_t rows;
  RTX_STD::int64_t cols;
  RTX_STD::int64_t inner;  ///< strided softmax: elements between consecutive axis positions
  float epsilon;
  /// 1: every row start of in/out (and scale/bias) is 16-byte aligned: 16-byte accesses.
  RTX_STD::int32_t vectorized;
};

}  // namespace rtx::kernels
