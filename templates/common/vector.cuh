// SPDX-License-Identifier: Apache-2.0
// Vector memory accesses: `Vec<T, N>` is N elements of T aligned to their total size, so a load
// or store of one Vec is a single instruction of up to 16 bytes (ld.global.v4.u32 for 16 bytes).
// Callers guarantee the address is aligned to sizeof(Vec<T, N>); the host checks pointer
// alignment before choosing a vectorized path.
#pragma once

#include "rtx/config.hpp"

namespace rtx::kernels {

/// Elements per 16-byte vector for an element of `bytes` bytes (1 for elements of 16+ bytes).
RTX_HOST_DEVICE constexpr int vec_width(int bytes) {
  return bytes >= 16 ? 1 : 16 / bytes;
}

/// N elements of T, aligned to N * sizeof(T) (a power of two up to 16).
template <class T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

/// Loads N elements from `p` (aligned to sizeof(Vec<T, N>)).
template <class T, int N>
RTX_DEVICE inline Vec<T, N> load_vec(const T* p) {
  return *reinterpret_cast<const Vec<T, N>*>(p);
}

/// Stores N elements to `p` (aligned to sizeof(Vec<T, N>)).
template <class T, int N>
RTX_DEVICE inline void store_vec(T* p, const Vec<T, N>& v) {
  *reinterpret_cast<Vec<T, N>*>(p) = v;
}

/// Byte-sized unsigned types used to move elements without interpreting them (data movement
/// kernels are instantiated per element *size*, not per dtype). 16-byte elements move as uint4.
template <int kBytes>
struct UnitOf;
template <>
struct UnitOf<1> {
  using type = unsigned char;
};
template <>
struct UnitOf<2> {
  using type = unsigned short;
};
template <>
struct UnitOf<4> {
  using type = unsigned int;
};
template <>
struct UnitOf<8> {
  using type = unsigned long long;
};
template <>
struct UnitOf<16> {
  using type = uint4;
};

}  // namespace rtx::kernels
