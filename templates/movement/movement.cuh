// SPDX-License-Identifier: Apache-2.0
// Data movement: strided copy (transpose/permute, slice with steps, expand), a tiled transpose
// through shared memory, concat, gather along an axis and pad. The kernels move opaque units
// (E = unsigned char, unsigned short, unsigned int, unsigned long long or uint4): dtype does not
// matter to a copy, so one instantiation serves every dtype of a size, and the host moves runs
// of contiguous elements as wider units where sizes and alignment allow. Cast is elementwise and
// runs through the pointwise driver (pointwise/pointwise.cuh).
//
// Contract (all kernels)
//   template params:  E, the unit moved (its size divides every offset and run the host passes)
//   alignment:        every pointer aligned to sizeof(E)
//   shared memory:    none, except transpose_tiled: static 32 x 33 units
// copy_strided
//   name expression:  "rtx::kernels::copy_strided<unsigned short>"
//   parameters:       CopyParams; block kMovementBlock (256), 1-D, grid-stride; one thread per
//                     output unit, writes coalesced
// transpose_tiled
//   name expression:  "rtx::kernels::transpose_tiled<unsigned int>"
//   parameters:       TransposeParams; block (32, 8); grid (ceil(cols / 32), ceil(rows / 32),
//                     min(batch, 65535)) with a loop over the remaining batches: reads and writes
//                     both coalesced through a padded 32 x 33 shared tile
// concat
//   name expression:  "rtx::kernels::concat<uint4>"
//   parameters:       ConcatParams (up to 8 inputs per launch); block 256, grid-stride
// gather
//   name expression:  "rtx::kernels::gather<unsigned short, long long>" (second: index type,
//                     int or long long)
//   parameters:       GatherParams; block 256, grid-stride over outer * count * inner
// pad
//   name expression:  "rtx::kernels::pad<unsigned char>"
//   parameters:       PadParams; block 256, grid-stride; modes constant, reflect, edge, wrap
#pragma once

#include "common/vector.cuh"
#include "movement/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels {

namespace movement_detail {

RTX_DEVICE inline long long first_index() {
  return static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
}
RTX_DEVICE inline long long grid_stride() {
  return static_cast<long long>(gridDim.x) * blockDim.x;
}

}  // namespace movement_detail

template <class E>
__global__ void __launch_bounds__(kMovementBlock) copy_strided(CopyParams p) {
  const E* in = static_cast<const E*>(p.in);
  E* out = static_cast<E*>(p.out);
  for (long long i = movement_detail::first_index(); i < p.n; i += movement_detail::grid_stride()) {
    long long rest = i, off = p.offset;
    for (int d = p.rank - 1; d >= 0; --d) {
      off += (rest % p.shape[d]) * p.in_strides[d];
      rest /= p.shape[d];
    }
    out[i] = in[off];
  }
}

template <class E>
__global__ void __launch_bounds__(kTransposeTile * 8) transpose_tiled(TransposeParams p) {
  __shared__ E tile[kTransposeTile][kTransposeTile + 1];  // +1: no bank conflicts on columns
  const E* in = static_cast<const E*>(p.in);
  E* out = static_cast<E*>(p.out);
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const long long row0 = static_cast<long long>(blockIdx.y) * kTransposeTile;
  const long long col0 = static_cast<long long>(blockIdx.x) * kTransposeTile;
  for (long long b = blockIdx.z; b < p.batch; b += gridDim.z) {
    long long in_base = 0, rest = b;
    for (int d = p.batch_rank - 1; d >= 0; --d) {
      in_base += (rest % p.batch_shape[d]) * p.batch_strides[d];
      rest /= p.batch_shape[d];
    }
    // Read: consecutive tx walk output rows, which are contiguous in the input.
    for (int k = ty; k < kTransposeTile; k += 8) {
      const long long i = row0 + tx, j = col0 + k;
      if (i < p.rows && j < p.cols) tile[k][tx] = in[in_base + i + j * p.in_col_stride];
    }
    __syncthreads();
    // Write: consecutive tx walk output columns (contiguous in the output).
    E* out_base = out + b * p.rows * p.cols;
    for (int k = ty; k < kTransposeTile; k += 8) {
      const long long i = row0 + k, j = col0 + tx;
      if (i < p.rows && j < p.cols) out_base[i * p.cols + j] = tile[tx][k];
    }
    __syncthreads();
  }
}

template <class E>
__global__ void __launch_bounds__(kMovementBlock) concat(ConcatParams p) {
  E* out = static_cast<E*>(p.out);
  const long long n = p.outer * p.total_row;
  for (long long i = movement_detail::first_index(); i < n; i += movement_detail::grid_stride()) {
    const long long o = i / p.total_row;
    long long c = i % p.total_row;
    int k = 0;
    while (k + 1 < p.inputs && c >= p.row[k]) {
      c -= p.row[k];
      ++k;
    }
    out[o * p.out_row + p.offset[k] + c] = static_cast<const E*>(p.in[k])[o * p.row[k] + c];
  }
}

template <class E, class Idx>
__global__ void __launch_bounds__(kMovementBlock) gather(GatherParams p) {
  const E* data = static_cast<const E*>(p.data);
  const Idx* indices = static_cast<const Idx*>(p.indices);
  E* out = static_cast<E*>(p.out);
  const long long n = p.outer * p.count * p.inner;
  for (long long i = movement_detail::first_index(); i < n; i += movement_detail::grid_stride()) {
    const long long inner = i % p.inner;
    const long long k = (i / p.inner) % p.count;
    const long long o = i / (p.inner * p.count);
    long long idx = static_cast<long long>(indices[k]);
    if (idx < 0) idx += p.dim;
    if (idx < 0 || idx >= p.dim) {
      out[i] = E{};  // out of range: ONNX leaves it undefined; the reference reports an error
    } else {
      out[i] = data[(o * p.dim + idx) * p.inner + inner];
    }
  }
}

template <class E>
__global__ void __launch_bounds__(kMovementBlock) pad(PadParams p) {
  const E* in = static_cast<const E*>(p.in);
  E* out = static_cast<E*>(p.out);
  for (long long i = movement_detail::first_index(); i < p.n; i += movement_detail::grid_stride()) {
    long long rest = i, off = 0;
    bool constant = false;
    for (int d = p.rank - 1; d >= 0; --d) {
      const long long o = rest % p.out_shape[d];
      rest /= p.out_shape[d];
      const long long n = p.kept[d];
      long long x = o - p.lead[d];
      if (x < 0 || x >= n) {
        switch (p.mode) {
          case 0: constant = true; break;
          case 2: x = x < 0 ? 0 : n - 1; break;
          case 3: x = ((x % n) + n) % n; break;
          default: {  // reflect (numpy's: the edge is not repeated)
            if (n == 1) {
              x = 0;
            } else {
              const long long period = 2 * (n - 1);
              long long m = ((x % period) + period) % period;
              x = m >= n ? period - m : m;
            }
          }
        }
      }
      off += (p.crop[d] + x) * p.in_strides[d];
    }
    if (constant) {
      E v;
      const unsigned char* src = reinterpret_cast<const unsigned char*>(&p.value_bits);
      unsigned char* dst = reinterpret_cast<unsigned char*>(&v);
      for (int b = 0; b < static_cast<int>(sizeof(E)); ++b) dst[b] = src[b];
      out[i] = v;
    } else {
      out[i] = in[off];
    }
  }
}

}  // namespace rtx::kernels
