// SPDX-License-Identifier: Apache-2.0
// The pointwise driver: applies a rendered functor elementwise over numpy-broadcast inputs. The
// builder renders only the functor (jit/kernels/pointwise.cpp); loops, vectorisation, broadcasting
// and bounds checks live here, reviewed once for every fused chain.
//
// Contract
//   name expression:  "rtx::kernels::pointwise<Fn, Out, In0, In1, ...>"
//                     e.g. "rtx::kernels::pointwise<rtx::generated::pw_1f2e3d4c, __half, __half,
//                     __half>"
//   template params:  Fn   functor type: `__device__ Out operator()(In0, In1, ...) const`,
//                          default-constructible and stateless
//                     Out  output storage type; In... input storage types (1..8 of them);
//                          any of float, double, __half, __nv_bfloat16, __nv_fp8_e4m3,
//                          __nv_fp8_e5m2, signed char, unsigned char, int, long long, bool,
//                          and the packed 4-bit int4x2 / uint4x2 (two elements per byte, element
//                          2i in the low nibble, as ONNX stores int4). Fn takes and returns a
//                          4-bit value as signed / unsigned char; the driver unpacks inputs and
//                          packs outputs (one thread writes both nibbles of a byte). Packed
//                          types always take the strided path.
//   parameters:       PointwiseParams (pointwise/params.cuh) by value
//   block shape:      1-D, kPointwiseBlock (256) threads; any grid (grid-stride loops)
//   shared memory:    none
//   alignment:        vector path (params.vectorized = 1): every pointer 16-byte aligned; each
//                     thread moves kVec = 16 / max(sizeof(Out), sizeof(In)...) elements per
//                     step (one 16-byte access for the widest type, narrower ones for the rest)
//                     and the last n % kVec elements run as a scalar tail. Inputs there are
//                     contiguous, single elements, or periodic (a contiguous run repeated over
//                     leading dims, like a bias over the last dim; its length a multiple of kVec).
//                     strided path: natural alignment of each type; per-input element strides
//                     (0 on broadcast dims) over the merged output shape, rank <= 8.
#pragma once

#include "common/convert.cuh"
#include "common/math.cuh"
#include "common/vector.cuh"
#include "pointwise/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels {

/// Packed 4-bit integers (see the contract): only the pointwise driver reads and writes them.
struct int4x2 {
  unsigned char bits;
};
struct uint4x2 {
  unsigned char bits;
};

namespace pointwise_detail {

template <class T>
struct Element {  // what Fn takes for a T stored in memory
  using type = T;
  static constexpr bool kPacked = false;
};
template <>
struct Element<int4x2> {
  using type = signed char;
  static constexpr bool kPacked = true;
};
template <>
struct Element<uint4x2> {
  using type = unsigned char;
  static constexpr bool kPacked = true;
};

/// Element `off` of an input stored as T (a nibble of byte off / 2 for packed types).
template <class T, class I>
RTX_DEVICE inline typename Element<T>::type read_element(const void* base, I off) {
  if constexpr (Element<T>::kPacked) {
    const unsigned char byte = static_cast<const unsigned char*>(base)[off >> 1];
    const int nibble = (off & 1) ? (byte >> 4) : (byte & 15);
    if constexpr (kSame<T, int4x2>) {
      return static_cast<signed char>(nibble >= 8 ? nibble - 16 : nibble);  // sign-extended
    } else {
      return static_cast<unsigned char>(nibble);
    }
  } else {
    return static_cast<const T*>(base)[off];
  }
}

// Our own index sequence: <cuda/std/utility> would add about 50 KB of device symbols
// (numeric_limits members) to every image that includes this header.
template <int... K>
struct IndexSeq {};
template <int N, int... K>
struct MakeIndexSeq : MakeIndexSeq<N - 1, N - 1, K...> {};
template <int... K>
struct MakeIndexSeq<0, K...> {
  using type = IndexSeq<K...>;
};

template <class... T>
struct MaxSize;
template <class T>
struct MaxSize<T> {
  static constexpr int value = static_cast<int>(sizeof(T));
};
template <class T, class... R>
struct MaxSize<T, R...> {
  static constexpr int value = static_cast<int>(sizeof(T)) > MaxSize<R...>::value
                                   ? static_cast<int>(sizeof(T))
                                   : MaxSize<R...>::value;
};

/// One loaded vector per input, addressable by input index (a minimal tuple).
template <int K, class T, int N>
struct Slot {
  Vec<T, N> value;
};
template <int N, class Seq, class... In>
struct Inputs;
template <int N, int... K, class... In>
struct Inputs<N, IndexSeq<K...>, In...> : Slot<K, In, N>... {};

template <int K, class T, int N>
RTX_DEVICE inline Vec<T, N>& slot(Slot<K, T, N>& s) {
  return s.value;
}

/// Vector `i` (elements [i * N, i * N + N)) of input K, or its single element repeated.
template <int K, int N, class T>
RTX_DEVICE inline Vec<T, N> load_input(const PointwiseParams& p, RTX_STD::int64_t i) {
  const T* base = static_cast<const T*>(p.in[K]);
  if (p.scalar_mask & (1u << K)) {
    Vec<T, N> v;
    const T x = base[0];
#pragma unroll
    for (int j = 0; j < N; ++j) v.v[j] = x;
    return v;
  }
  if (p.periodic_mask & (1u << K)) return load_vec<T, N>(base + (i * N) % p.period[K]);
  return load_vec<T, N>(base + i * N);
}

/// Element index of input K for output element i on the vector path.
template <int K>
RTX_DEVICE inline RTX_STD::int64_t vector_path_index(const PointwiseParams& p, RTX_STD::int64_t i) {
  if (p.scalar_mask & (1u << K)) return 0;
  if (p.periodic_mask & (1u << K)) return i % p.period[K];
  return i;
}

template <class Fn, class Out, class... In, int... K>
RTX_DEVICE inline void vector_path(const PointwiseParams& p, IndexSeq<K...>) {
  constexpr int kVec = vec_width(MaxSize<Out, In...>::value);
  const Fn fn{};
  Out* out = static_cast<Out*>(p.out);
  const RTX_STD::int64_t vectors = p.n / kVec;
  const RTX_STD::int64_t stride = static_cast<RTX_STD::int64_t>(gridDim.x) * blockDim.x;
  const RTX_STD::int64_t first = static_cast<RTX_STD::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (RTX_STD::int64_t i = first; i < vectors; i += stride) {
    Inputs<kVec, IndexSeq<K...>, In...> in;
    // All loads are issued before any use, so each thread has every input in flight at once.
    ((slot<static_cast<int>(K)>(in) = load_input<static_cast<int>(K), kVec, In>(p, i)), ...);
    Vec<Out, kVec> r;
#pragma unroll
    for (int j = 0; j < kVec; ++j) r.v[j] = fn(slot<static_cast<int>(K)>(in).v[j]...);
    store_vec<Out, kVec>(out + i * kVec, r);
  }
  // Scalar tail: the last n % kVec elements.
  const RTX_STD::int64_t tail = vectors * kVec + first;
  if (tail < p.n) {
    out[tail] = fn(read_element<In>(p.in[K], vector_path_index<static_cast<int>(K)>(p, tail))...);
  }
}

/// Offset of output element `i` in input `k` (element units), with index type I.
template <class I>
RTX_DEVICE inline void offsets_of(const PointwiseParams& p, I i, int inputs, I* off) {
  for (int k = 0; k < inputs; ++k) off[k] = 0;
  I rest = i;
  for (int d = p.rank - 1; d >= 0; --d) {
    const I extent = static_cast<I>(p.shape[d]);
    const I c = rest % extent;
    rest /= extent;
    for (int k = 0; k < inputs; ++k) off[k] += c * static_cast<I>(p.strides[k][d]);
  }
}

template <class I, class Fn, class Out, class... In, int... K>
RTX_DEVICE inline void strided_path(const PointwiseParams& p, IndexSeq<K...>) {
  constexpr int kIn = static_cast<int>(sizeof...(In));
  const Fn fn{};
  const I n = static_cast<I>(p.n);
  const I stride = static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
  const I first = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x;
  if constexpr (Element<Out>::kPacked) {
    // One thread per output byte: both nibbles, so no two threads write one byte.
    unsigned char* out = static_cast<unsigned char*>(p.out);
    for (I b = first; b < (n + 1) / 2; b += stride) {
      unsigned char byte = 0;
      for (int h = 0; h < 2 && 2 * b + h < n; ++h) {
        I off[kIn];
        offsets_of<I>(p, 2 * b + h, kIn, off);
        const auto v = fn(read_element<In>(p.in[K], off[K])...);
        byte = static_cast<unsigned char>(byte | ((static_cast<unsigned>(v) & 15u) << (4 * h)));
      }
      out[b] = byte;
    }
  } else {
    Out* out = static_cast<Out*>(p.out);
    for (I i = first; i < n; i += stride) {
      I off[kIn];
      offsets_of<I>(p, i, kIn, off);
      out[i] = fn(read_element<In>(p.in[K], off[K])...);
    }
  }
}

}  // namespace pointwise_detail

/// out[i] = Fn{}(in0[i'], in1[i''], ...) over the broadcast output shape (see the contract).
template <class Fn, class Out, class... In>
__global__ void __launch_bounds__(kPointwiseBlock) pointwise(PointwiseParams p) {
  static_assert(sizeof...(In) >= 1 && sizeof...(In) <= kMaxPointwiseInputs,
                "rtx: pointwise takes 1 to kMaxPointwiseInputs inputs");
  using Seq = typename pointwise_detail::MakeIndexSeq<static_cast<int>(sizeof...(In))>::type;
  constexpr bool kAnyPacked =
      pointwise_detail::Element<Out>::kPacked || (pointwise_detail::Element<In>::kPacked || ...);
  if constexpr (!kAnyPacked) {
    if (p.vectorized) {
      pointwise_detail::vector_path<Fn, Out, In...>(p, Seq{});
      return;
    }
  }
  if (p.n <= 0x7fffffff) {
    // 32-bit index arithmetic (a third of the cost of 64-bit division) whenever it fits.
    pointwise_detail::strided_path<unsigned, Fn, Out, In...>(p, Seq{});
  } else {
    pointwise_detail::strided_path<RTX_STD::int64_t, Fn, Out, In...>(p, Seq{});
  }
}

}  // namespace rtx::kernels
