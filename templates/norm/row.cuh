// SPDX-License-Identifier: Apache-2.0
// Row access shared by the row-wise normalisation kernels: a group of kThreads threads owns one
// row and each thread keeps kNormCachedVectors 16-byte vectors of it in registers, so a row is
// read from memory once. Slot (j, e) of thread t holds column
//   vectorized:   (j * kThreads + t) * kVec + e   (16-byte loads, coalesced across the group)
//   otherwise:    (j * kVec + e) * kThreads + t   (element loads, coalesced across the group)
#pragma once

#include "common/convert.cuh"
#include "common/vector.cuh"
#include "norm/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels {

/// Block size of a row kernel with kThreads threads per row (at least 4 warps per block).
RTX_HOST_DEVICE constexpr int norm_block(int threads) {
  return threads < 128 ? 128 : threads;
}

namespace norm_detail {

template <int kThreads, int kVec>
RTX_DEVICE inline long long column(int j, int e, int t, bool vectorized) {
  return vectorized ? (static_cast<long long>(j) * kThreads + t) * kVec + e
                    : (static_cast<long long>(j) * kVec + e) * kThreads + t;
}

/// Loads thread t's slots of `row` as float; slots past `cols` get `fill`.
template <class T, int kThreads, int kVecs, int kSlots>
RTX_DEVICE inline void load_row(const T* row, long long cols, int t, bool vectorized, float fill,
                                float (&v)[kSlots]) {
  constexpr int kVec = vec_width(static_cast<int>(sizeof(T)));
  static_assert(kSlots == kVecs * kVec, "rtx: cache size mismatch");
#pragma unroll
  for (int j = 0; j < kVecs; ++j) {
    if (vectorized) {
      const long long c0 = (static_cast<long long>(j) * kThreads + t) * kVec;
      if (c0 < cols) {  // cols is a multiple of kVec on the vectorized path
        const Vec<T, kVec> x = load_vec<T, kVec>(row + c0);
#pragma unroll
        for (int e = 0; e < kVec; ++e) v[j * kVec + e] = to_float(x.v[e]);
      } else {
#pragma unroll
        for (int e = 0; e < kVec; ++e) v[j * kVec + e] = fill;
      }
    } else {
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        const long long c = column<kThreads, kVec>(j, e, t, false);
        v[j * kVec + e] = c < cols ? to_float(row[c]) : fill;
      }
    }
  }
}

/// Whether slot (j, e) of thread t lies inside the row.
template <int kThreads, int kVec>
RTX_DEVICE inline bool in_row(int j, int e, int t, long long cols, bool vectorized) {
  return column<kThreads, kVec>(j, e, t, vectorized) < cols;
}

/// Stores thread t's slots (values computed per column by `f(slot_value, column)`) to `row` as
/// Out. The slot mapping is that of T (the input type), so loads and stores pair up.
template <class T, class Out, int kThreads, int kVecs, int kSlots, class F>
RTX_DEVICE inline void store_row(Out* row, long long cols, int t, bool vectorized,
                                 const float (&v)[kSlots], F f) {
  constexpr int kVec = vec_width(static_cast<int>(sizeof(T)));
#pragma unroll
  for (int j = 0; j < kVecs; ++j) {
    if (vectorized) {
      const long long c0 = (static_cast<long long>(j) * kThreads + t) * kVec;
      if (c0 < cols) {
        if constexpr (sizeof(Out) == sizeof(T)) {
          Vec<Out, kVec> y;
#pragma unroll
          for (int e = 0; e < kVec; ++e) y.v[e] = cast<Out>(f(v[j * kVec + e], c0 + e));
          store_vec<Out, kVec>(row + c0, y);
        } else {
#pragma unroll
          for (int e = 0; e < kVec; ++e) row[c0 + e] = cast<Out>(f(v[j * kVec + e], c0 + e));
        }
      }
    } else {
#pragma unroll
      for (int e = 0; e < kVec; ++e) {
        const long long c = column<kThreads, kVec>(j, e, t, false);
        if (c < cols) row[c] = cast<Out>(f(v[j * kVec + e], c));
      }
    }
  }
}

/// Calls f(value, column) for every element of `row` thread t of kThreads owns (no caching;
/// the path for rows longer than the register cache).
template <class T, int kThreads, class F>
RTX_DEVICE inline void for_each_in_row(const T* row, long long cols, int t, bool vectorized, F f) {
  constexpr int kVec = vec_width(static_cast<int>(sizeof(T)));
  if (vectorized) {
    for (long long c0 = static_cast<long long>(t) * kVec; c0 < cols;
         c0 += static_cast<long long>(kThreads) * kVec) {
      const Vec<T, kVec> x = load_vec<T, kVec>(row + c0);
#pragma unroll
      for (int e = 0; e < kVec; ++e) f(to_float(x.v[e]), c0 + e);
    }
  } else {
    for (long long c = t; c < cols; c += kThreads) f(to_float(row[c]), c);
  }
}

}  // namespace norm_detail
}  // namespace rtx::kernels
