// SPDX-License-Identifier: Apache-2.0
// Smoke kernel for the JIT service: the smallest real template (one elementwise scale), used by
// tests/unit/test_jit.cpp to prove that NVRTC compiles an embedded template, that name
// expressions lower, and that the cache round-trips. Not used by any engine.
//
// Contract
//   template parameters: T     element type with operator* (float, int, __half via cuda_fp16.h)
//                        kScale integer factor, converted to T
//   block shape:         any 1-D block; grid covers n with one element per thread
//   shared memory:       none
//   alignment:           natural alignment of T
//   name expression:     "rtx::kernels::smoke_scale<float, 2>"
#pragma once

#include "rtx/config.hpp"

namespace rtx::kernels {

/// out[i] = in[i] * kScale for i < n.
template <class T, int kScale>
__global__ void smoke_scale(const T* __restrict__ in, T* __restrict__ out, RTX_STD::int64_t n) {
  const RTX_STD::int64_t i = static_cast<RTX_STD::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = in[i] * static_cast<T>(kScale);
}

}  // namespace rtx::kernels
