// SPDX-License-Identifier: Apache-2.0
// Warp and thread-group reductions shared by the reduce, norm and pool families. A reduction
// takes a combining functor `op(a, b)` that must be associative and commutative up to rounding;
// every thread of the group receives the same result because every thread combines the partial
// values in the same order (so results are deterministic run to run).
//
// Types: anything `shuffle_xor` knows (float, double, int, unsigned, long long, unsigned long
// long, bool) plus any type that provides its own `shuffle_xor(T, int)` overload in namespace
// rtx::kernels (found by argument-dependent lookup, e.g. the arg-reduction state).
#pragma once

#include "rtx/config.hpp"

namespace rtx::kernels {

inline constexpr unsigned kFullMask = 0xffffffffu;

RTX_DEVICE inline float shuffle_xor(float v, int m) {
  return __shfl_xor_sync(kFullMask, v, m);
}
RTX_DEVICE inline double shuffle_xor(double v, int m) {
  return __shfl_xor_sync(kFullMask, v, m);
}
RTX_DEVICE inline int shuffle_xor(int v, int m) {
  return __shfl_xor_sync(kFullMask, v, m);
}
RTX_DEVICE inline unsigned shuffle_xor(unsigned v, int m) {
  return __shfl_xor_sync(kFullMask, v, m);
}
RTX_DEVICE inline long long shuffle_xor(long long v, int m) {
  return __shfl_xor_sync(kFullMask, v, m);
}
RTX_DEVICE inline unsigned long long shuffle_xor(unsigned long long v, int m) {
  return __shfl_xor_sync(kFullMask, v, m);
}
RTX_DEVICE inline bool shuffle_xor(bool v, int m) {
  return __shfl_xor_sync(kFullMask, static_cast<int>(v), m) != 0;
}

/// Butterfly reduction over the 32 lanes of a warp (all lanes must be active); every lane gets
/// the result.
template <class T, class Op>
RTX_DEVICE inline T warp_reduce(T v, Op op) {
#pragma unroll
  for (int m = 16; m >= 1; m /= 2) v = op(v, shuffle_xor(v, m));
  return v;
}

/// Reduces `v` over each group of kThreads consecutive threads of the block (kThreads a power of
/// two from 32 to 1024 dividing blockDim.x). Every thread of a group gets its group's result.
/// `smem` holds at least blockDim.x / 32 values. For kThreads > 32 this contains __syncthreads():
/// every thread of the block must call it the same number of times (no early exits).
template <int kThreads, class T, class Op>
RTX_DEVICE inline T group_reduce(T v, Op op, T* smem) {
  static_assert(kThreads >= 32 && kThreads <= 1024 && (kThreads & (kThreads - 1)) == 0,
                "rtx: group_reduce needs a power-of-two group of 32..1024 threads");
  v = warp_reduce(v, op);
  if constexpr (kThreads > 32) {
    constexpr int kWarps = kThreads / 32;
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const int lane = static_cast<int>(threadIdx.x) % 32;
    __syncthreads();  // the previous call's readers are done with smem
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    const int first = (warp / kWarps) * kWarps;
    T r = smem[first];
#pragma unroll
    for (int w = 1; w < kWarps; ++w) r = op(r, smem[first + w]);
    v = r;
  }
  return v;
}

/// Combining functors for the common cases.
struct SumCombine {
  template <class T>
  RTX_DEVICE T operator()(T a, T b) const {
    return a + b;
  }
};
struct MaxCombine {
  template <class T>
  RTX_DEVICE T operator()(T a, T b) const {
    return a < b ? b : a;
  }
};

}  // namespace rtx::kernels
