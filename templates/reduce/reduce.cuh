// SPDX-License-Identifier: Apache-2.0
// Reductions along any axes. The host merges the input's dims into kept and reduced groups:
// when the reduced dims form one contiguous run at the end the input is rows (outer x reduce)
// and reduce_rows runs; otherwise reduce_strided walks kept and reduced dims by strides (the
// "outer x reduce x inner" column case among others). Few, long reductions are split into
// chunks: a partial pass writes states, and a reduce_rows pass over the states finishes.
//
// Contract: reduce_rows
//   name expression:  "rtx::kernels::reduce_rows<Op, In, Out, kThreads>", e.g.
//                     "rtx::kernels::reduce_rows<rtx::kernels::SumOp<__half>, __half, __half, 256>"
//                     (a finishing pass over states: In = Op::State, e.g. float)
//   template params:  Op (reduce/ops.cuh) over element type T; In = T or Op::State; Out = the
//                     output type (finalize = 1) or Op::State (finalize = 0); kThreads = 32
//                     (a warp per row, 8 rows per block) or 256 (a block per row)
//   parameters:       ReduceParams (reduce/params.cuh), rows mode
//   block shape:      256 threads (1-D); any grid (grid-stride over rows)
//   shared memory:    static, 8 states
//   alignment:        natural alignment of In; with params.vectorized = 1 the base pointer is
//                     16-byte aligned and each row's aligned middle is read with 16-byte loads
//                     (unaligned heads and tails element by element)
// Contract: reduce_strided
//   name expression:  "rtx::kernels::reduce_strided<Op, T, Out>", e.g.
//                     "rtx::kernels::reduce_strided<rtx::kernels::MaxOp<float>, float, float>"
//   template params:  Op over T; Out = the output type or Op::State (partial pass)
//   parameters:       ReduceParams, strided mode; blockIdx.y = chunk of the reduced range
//   block shape:      (bx, by) with bx * by = 256 = kReduceStridedBlock, by in {1, 2, 4, 8}:
//                     threadIdx.x picks the result (consecutive results are usually consecutive
//                     in memory), threadIdx.y interleaves the reduced range
//   shared memory:    static, 256 states
//   alignment:        natural alignment of T
#pragma once

#include "common/convert.cuh"
#include "common/reduce.cuh"
#include "common/vector.cuh"
#include "reduce/ops.cuh"
#include "reduce/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels {

namespace reduce_detail {

template <class Op, class In>
RTX_DEVICE inline typename Op::State load_state(const Op& op, In x, long long index) {
  if constexpr (kSame<In, typename Op::State>) {
    return x;  // a finishing pass reads states
  } else {
    return op.load(x, index);
  }
}

template <class Op, class Out>
RTX_DEVICE inline void store_result(const Op& op, const ReduceParams& p, Out* out,
                                    RTX_STD::int64_t i, typename Op::State s) {
  using State = typename Op::State;
  // A raw-state pass (finalize = 0) writes Out = State; struct states are never finalised into
  // themselves, so that combination compiles only the raw store.
  if constexpr (RTX_STD::is_arithmetic_v<State> || !kSame<Out, State>) {
    if (p.finalize) {
      out[i] = cast<Out>(op.finish(s, p.count));
      return;
    }
  }
  if constexpr (kSame<Out, State>) out[i] = s;
}

/// Combines elements [0, len) of `row` (indices from index_base) owned by thread `t` of `n`.
template <class Op, class In>
RTX_DEVICE inline typename Op::State row_partial(const Op& op, const In* row, long long len,
                                                 long long index_base, int t, int n,
                                                 bool vectorized) {
  using State = typename Op::State;
  State s = op.identity();
  constexpr int kVec = kSame<In, typename Op::State> ? 1 : vec_width(static_cast<int>(sizeof(In)));
  long long head = len;
  if constexpr (kVec > 1) {
    if (vectorized) {
      const auto addr = reinterpret_cast<unsigned long long>(row) / sizeof(In);
      head = static_cast<long long>((kVec - addr % kVec) % kVec);
      if (head > len) head = len;
    }
  }
  // Unaligned head (or the whole row when not vectorized), element by element.
  for (long long k = t; k < head; k += n) s = op.combine(s, load_state(op, row[k], index_base + k));
  if constexpr (kVec > 1) {
    if (head < len) {
      const long long vectors = (len - head) / kVec;
      const In* body = row + head;
      for (long long j = t; j < vectors; j += n) {
        const Vec<In, kVec> v = load_vec<In, kVec>(body + j * kVec);
#pragma unroll
        for (int e = 0; e < kVec; ++e)
          s = op.combine(s, load_state(op, v.v[e], index_base + head + j * kVec + e));
      }
      for (long long k = head + vectors * kVec + t; k < len; k += n)
        s = op.combine(s, load_state(op, row[k], index_base + k));
    }
  }
  return s;
}

}  // namespace reduce_detail

template <class Op, class In, class Out, int kThreads>
__global__ void __launch_bounds__(256) reduce_rows(ReduceParams p) {
  static_assert(kThreads == 32 || kThreads == 256, "rtx: reduce_rows runs 32 or 256 threads per row");
  using State = typename Op::State;
  constexpr int kRowsPerBlock = 256 / kThreads;
  __shared__ State smem[8];
  const Op op{};
  const In* in = static_cast<const In*>(p.in);
  Out* out = static_cast<Out*>(p.out);
  const int t = static_cast<int>(threadIdx.x) % kThreads;
  const int local = static_cast<int>(threadIdx.x) / kThreads;
  // Uniform trip count across the block: group_reduce synchronises when kThreads > 32.
  for (RTX_STD::int64_t first = static_cast<RTX_STD::int64_t>(blockIdx.x) * kRowsPerBlock;
       first < p.outputs; first += static_cast<RTX_STD::int64_t>(gridDim.x) * kRowsPerBlock) {
    const RTX_STD::int64_t v = first + local;
    State s = op.identity();
    if (v < p.outputs) {
      const RTX_STD::int64_t row = v / p.chunks, chunk = v % p.chunks;
      const RTX_STD::int64_t begin = chunk * p.reduce;
      RTX_STD::int64_t len = p.row_stride - begin;
      if (len > p.reduce) len = p.reduce;
      s = reduce_detail::row_partial(op, in + row * p.row_stride + begin, len, begin, t, kThreads,
                                     p.vectorized != 0);
    }
    s = group_reduce<kThreads>(s, [&op](State a, State b) { return op.combine(a, b); }, smem);
    if (v < p.outputs && t == 0) reduce_detail::store_result(op, p, out, v, s);
  }
}

template <class Op, class T, class Out>
__global__ void __launch_bounds__(kReduceStridedBlock) reduce_strided(ReduceParams p) {
  using State = typename Op::State;
  __shared__ State smem[kReduceStridedBlock];
  const Op op{};
  const T* in = static_cast<const T*>(p.in);
  Out* out = static_cast<Out*>(p.out);
  const int bx = static_cast<int>(blockDim.x), by = static_cast<int>(blockDim.y);
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const RTX_STD::int64_t o = static_cast<RTX_STD::int64_t>(blockIdx.x) * bx + tx;
  const RTX_STD::int64_t r0 = static_cast<RTX_STD::int64_t>(blockIdx.y) * p.reduce;
  RTX_STD::int64_t r1 = r0 + p.reduce;
  if (r1 > p.red_total) r1 = p.red_total;
  State s = op.identity();
  if (o < p.outputs) {
    RTX_STD::int64_t base = 0, rest = o;
    for (int d = p.kept_rank - 1; d >= 0; --d) {
      base += (rest % p.kept_shape[d]) * p.kept_strides[d];
      rest /= p.kept_shape[d];
    }
    for (RTX_STD::int64_t r = r0 + ty; r < r1; r += by) {
      RTX_STD::int64_t off = 0;
      if (p.red_rank == 1) {
        off = r * p.red_strides[0];
      } else {
        RTX_STD::int64_t q = r;
        for (int d = p.red_rank - 1; d >= 0; --d) {
          off += (q % p.red_shape[d]) * p.red_strides[d];
          q /= p.red_shape[d];
        }
      }
      s = op.combine(s, reduce_detail::load_state(op, in[base + off], r));
    }
  }
  smem[ty * bx + tx] = s;
  __syncthreads();
  if (ty == 0 && o < p.outputs) {
    for (int y = 1; y < by; ++y) s = op.combine(s, smem[y * bx + tx]);
    // Partial pass: states land as rows [result][chunk] for the finishing reduce_rows pass.
    const RTX_STD::int64_t at = p.finalize ? o : o * p.chunks + blockIdx.y;
    reduce_detail::store_result(op, p, out, at, s);
  }
}

}  // namespace rtx::kernels
