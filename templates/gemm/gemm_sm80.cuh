// SPDX-License-Identifier: Apache-2.0
// Dense GEMM and batched MatMul on tensor cores with mma.sync (sm_80 and newer; the portable
// path, and the PTX fallback for GPUs newer than every cubin of an engine).
//
// Contract
//   template parameters:
//     TIn        __half, __nv_bfloat16 (f32 accumulation) or float (tf32 MMA, f32 accumulation)
//     TOut       __half, __nv_bfloat16 or float: D's element type (and the residual's)
//     Shape      TileShape<BM, BN, BK, kStages, WM, WN>; BK * sizeof(TIn) and the MN-major tile
//                rows must be multiples of 128 bytes (host: GemmSpec validation)
//     kAKMajor   true: A stored (M, K) with row stride lda; false: stored (K, M) (Gemm transA)
//     kBKMajor   true: B stored (N, K) (Gemm transB); false: stored (K, N) (MatMul's weights)
//     kVecA/B    elements per global->shared copy (16/8/4 bytes, or one 2-byte element): lda,
//                ldb, every nonzero batch stride and the base address must be multiples of it
//     Epi        Epilogue<Activation, BiasMode, kC, kResidual>
//   block shape: Shape::kThreads = 32 * WM * WN threads (x only)
//   grid:        x = tiles_m * tiles_n (rasterised in groups of group_m tile rows),
//                y = 1, z = min(batch_count, 65535) (the kernel loops over further batches)
//   shared:      SharedBytes<TIn, Shape, kAKMajor, kBKMajor>::kTotal bytes of dynamic shared
//                memory (max of the pipeline stages and the f32 epilogue staging tile); above
//                48 KiB the host raises the kernel's limit first
//   alignment:   D rows are written with 16-byte stores where aligned, element stores otherwise
//   name expression:
//     rtx::kernels::gemm::gemm_mma<__half, __half, rtx::kernels::gemm::TileShape<128, 256, 64,
//       3, 2, 4>, true, false, 8, 8, rtx::kernels::gemm::Epilogue<
//       (rtx::kernels::gemm::Activation)0, (rtx::kernels::gemm::BiasMode)0, false, false>>
#pragma once

#include "gemm/epilogue.cuh"
#include "gemm/mma_core.cuh"
#include "gemm/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::gemm {

template <class TIn, class TOut, class Shape, bool kAKMajor, bool kBKMajor, int kVecA, int kVecB,
          class Epi>
__global__ void __launch_bounds__(Shape::kThreads, 1)
    gemm_mma(const __grid_constant__ GemmParams p) {
  using Mma = WarpMma<TIn, Shape, kAKMajor, kBKMajor>;
  using LoaderA = DenseLoader<TIn, Shape::BM, Shape::BK, kAKMajor, kVecA, Shape::kThreads>;
  using LoaderB = DenseLoader<TIn, Shape::BN, Shape::BK, kBKMajor, kVecB, Shape::kThreads>;
  using Smem = SharedBytes<TIn, Shape, kAKMajor, kBKMajor>;
  extern __shared__ __align__(128) unsigned char smem[];

  const BlockTile<Shape, Mma::kWarpTileM, Mma::kWarpTileN> bt(p);
  const RTX_STD::int64_t m0 = bt.m0, n0 = bt.n0;
  const int wm0 = bt.wm0, wn0 = bt.wn0, lane = bt.lane, ktiles = bt.ktiles;

  for (RTX_STD::int64_t z = blockIdx.z; z < p.batch_count; z += gridDim.z) {
    const BatchOffsets off = batch_offsets(p, z);
    const TIn* a = static_cast<const TIn*>(p.a) + off.a;
    const TIn* b = static_cast<const TIn*>(p.b) + off.b;
    const LoaderA la{a + (kAKMajor ? m0 * p.lda : m0), p.lda, p.m - m0, p.k};
    const LoaderB lb{b + (kBKMajor ? n0 * p.ldb : n0), p.ldb, p.n - n0, p.k};

    typename Mma::Acc acc;
    clear_accumulators(acc);

    mainloop<TIn, Shape>(acc, la, lb, ktiles, smem_u32(smem), wm0, wn0, lane);

    float* tile = reinterpret_cast<float*>(smem);
    Mma::template stage_accumulators<Smem::kEpilogueLd>(acc, tile, wm0, wn0, lane, p.alpha);
    __syncthreads();
    store_tile<TIn, TOut, Epi, Shape::BM, Shape::BN, Shape::kThreads, Smem::kEpilogueLd>(
        tile, p, off, m0, n0, static_cast<int>(threadIdx.x));
    __syncthreads();  // the next batch reuses shared memory
  }
}

}  // namespace rtx::kernels::gemm
