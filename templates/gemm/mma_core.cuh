// SPDX-License-Identifier: Apache-2.0
// Building blocks of the tensor-core GEMM main loop for sm_80 and newer (mma.sync): PTX
// wrappers (cp.async, ldmatrix, mma), the swizzled shared-memory tile layout, the dense
// global->shared tile loader, the per-warp MMA over one pipeline stage, and the multistage
// cp.async pipeline that drives them. The dense GEMM (gemm/gemm_sm80.cuh) and the implicit-GEMM
// convolution (conv/implicit_gemm.cuh) are this main loop with different operand loaders.
//
// Shared-memory layout: every operand tile is stored row by row, each row a multiple of 128
// bytes, in 16-byte chunks; chunk c of row r lives at chunk (c ^ (r & 7)) of the same 128-byte
// segment. Eight consecutive rows at the same logical chunk therefore hit eight different
// chunks: ldmatrix (8 rows x 16 bytes per matrix) and the 16-byte cp.async writes are free of
// bank conflicts without padding. A tile is "K-major" (rows = M or N, K contiguous; ldmatrix
// without .trans) or "MN-major" (rows = K; ldmatrix .trans for 16-bit types, 32-bit loads for
// tf32).
//
// Warp tile: (BM / WM) x (BN / WN) per warp in m16n8 fragments; f16/bf16 use
// mma.m16n8k16.f32.{f16,bf16}, f32 inputs use mma.m16n8k8.f32.tf32 after rounding the operands
// to tf32 (cvt.rna), all accumulating in f32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "gemm/epilogue.cuh"
#include "gemm/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::gemm {

/// Block tile (BM x BN x BK), pipeline depth and warp grid (WM x WN warps) of a GEMM kernel.
/// Name-expression form: rtx::kernels::gemm::TileShape<128, 256, 64, 3, 2, 4>.
template <int kBM, int kBN, int kBK, int kStages_, int kWarpsM, int kWarpsN>
struct TileShape {
  static constexpr int BM = kBM;
  static constexpr int BN = kBN;
  static constexpr int BK = kBK;
  static constexpr int kStages = kStages_;
  static constexpr int WM = kWarpsM;
  static constexpr int WN = kWarpsN;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static_assert(kStages >= 2, "rtx: the cp.async pipeline needs at least 2 stages");
  static_assert(BM % (16 * WM) == 0 && BN % (16 * WN) == 0,
                "rtx: each warp needs whole 16x16 pieces of the block tile");
};

// ---- PTX wrappers -------------------------------------------------------------------------------

__device__ __forceinline__ unsigned smem_u32(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

/// Asynchronous global->shared copy of kBytes (4, 8 or 16); bytes past `src_bytes` are zeroed.
template <int kBytes>
__device__ __forceinline__ void cp_async(unsigned dst, const void* src, int src_bytes) {
  static_assert(kBytes == 4 || kBytes == 8 || kBytes == 16, "cp.async copies 4, 8 or 16 bytes");
  if constexpr (kBytes == 16) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
                 "r"(src_bytes));
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(dst), "l"(src),
                 "n"(kBytes), "r"(src_bytes));
  }
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::);
}
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ unsigned lds_u32(unsigned addr) {
  unsigned v;
  asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(v) : "r"(addr));
  return v;
}
__device__ __forceinline__ void sts_u16(unsigned addr, unsigned short v) {
  asm volatile("st.shared.u16 [%0], %1;\n" ::"r"(addr), "h"(v));
}
/// f32 bits -> tf32 bits, rounded to nearest (ties away), as cuBLAS's tf32 mode does.
__device__ __forceinline__ unsigned to_tf32(unsigned f32_bits) {
  unsigned r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(__uint_as_float(f32_bits)));
  return r;
}

/// d += a * b for one m16n8 fragment: m16n8k16 for 16-bit inputs, m16n8k8 (tf32) for float.
template <class T>
__device__ __forceinline__ void mma(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]);

template <>
__device__ __forceinline__ void mma<__half>(float (&d)[4], const unsigned (&a)[4],
                                            const unsigned (&b)[2]) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <>
__device__ __forceinline__ void mma<__nv_bfloat16>(float (&d)[4], const unsigned (&a)[4],
                                                   const unsigned (&b)[2]) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <>
__device__ __forceinline__ void mma<float>(float (&d)[4], const unsigned (&a)[4],
                                           const unsigned (&b)[2]) {
  asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// ---- shared-memory tile layout ------------------------------------------------------------------

/// Byte offset of 16-byte chunk `chunk` of row `row` in a swizzled tile with kRowBytes per row.
template <int kRowBytes>
__device__ __forceinline__ unsigned swizzle(int row, int chunk) {
  static_assert(kRowBytes % 128 == 0, "rtx: swizzled tile rows must be multiples of 128 bytes");
  return static_cast<unsigned>(row * kRowBytes + ((chunk ^ (row & 7)) << 4));
}

/// Geometry of one operand's tile in one pipeline stage: kMN (BM or BN) by kBK elements of T,
/// stored K-major (kMN rows of kBK) or MN-major (kBK rows of kMN).
template <class T, int kMN, int kBK, bool kKMajor>
struct TileLayout {
  static constexpr bool kIsKMajor = kKMajor;
  static constexpr int kRows = kKMajor ? kMN : kBK;
  static constexpr int kCols = kKMajor ? kBK : kMN;  // elements per stored row
  static constexpr int kRowBytes = kCols * static_cast<int>(sizeof(T));
  static constexpr int kStageBytes = kRows * kRowBytes;
  /// Byte offset of element (row, col) of the stored tile.
  __device__ __forceinline__ static unsigned offset(int row, int col) {
    const int byte = col * static_cast<int>(sizeof(T));
    return swizzle<kRowBytes>(row, byte >> 4) + static_cast<unsigned>(byte & 15);
  }
};

// ---- dense operand loader -----------------------------------------------------------------------

/// Copies one kMN x kBK tile of a dense operand (row stride `ld`) into a pipeline stage with
/// cp.async, kVec elements per copy (kVec * sizeof(T) = 16, 8 or 4 bytes; 2-byte elements with
/// kVec == 1 go through registers). Elements outside the matrix are written as zeros (cp.async's
/// src-size), so K, M and N need not be multiples of anything. Requirements (checked by the
/// host's can_implement): `ld`, the batch strides and the base address are multiples of kVec
/// elements.
template <class T, int kMN, int kBK, bool kKMajor, int kVec, int kThreads>
struct DenseLoader {
  using Layout = TileLayout<T, kMN, kBK, kKMajor>;
  static constexpr int kVecBytes = kVec * static_cast<int>(sizeof(T));
  static constexpr int kVecsPerRow = Layout::kCols / kVec;
  static constexpr int kVecs = Layout::kRows * kVecsPerRow;
  static_assert(Layout::kCols % kVec == 0, "rtx: vector width must divide the tile row");
  static_assert(kVecs % kThreads == 0, "rtx: tile copies must divide evenly among threads");
  static constexpr int kPerThread = kVecs / kThreads;

  const T* base;               // element (mn0, k = 0) of this block's operand
  RTX_STD::int64_t ld;         // stored row stride
  RTX_STD::int64_t mn_extent;  // valid rows/cols along M or N counted from mn0
  RTX_STD::int64_t k_extent;   // K

  /// Issues the copies of k-tile starting at k0 into the stage at shared address `stage`.
  __device__ __forceinline__ void load(unsigned stage, RTX_STD::int64_t k0) const {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      const int v = static_cast<int>(threadIdx.x) + i * kThreads;
      const int row = v / kVecsPerRow;
      const int col = (v % kVecsPerRow) * kVec;
      // Stored row/col -> (mn, k) and the number of in-range elements of this vector.
      RTX_STD::int64_t g_row, g_col, limit;
      bool row_ok;
      if constexpr (kKMajor) {
        g_row = row;       // mn
        g_col = k0 + col;  // k
        row_ok = row < mn_extent;
        limit = k_extent - g_col;
      } else {
        g_row = k0 + row;  // k
        g_col = col;       // mn
        row_ok = g_row < k_extent;
        limit = mn_extent - g_col;
      }
      const bool ok = row_ok && limit > 0;
      const T* src = ok ? base + g_row * ld + g_col : base;
      const unsigned dst = stage + Layout::offset(row, col);
      if constexpr (kVecBytes >= 4) {
        const int bytes =
            ok ? static_cast<int>(limit < kVec ? limit : kVec) * static_cast<int>(sizeof(T)) : 0;
        cp_async<kVecBytes>(dst, src, bytes);
      } else {
        static_assert(sizeof(T) == 2 && kVec == 1, "rtx: sub-4-byte copies are single halves");
        const unsigned short bits = ok ? *reinterpret_cast<const unsigned short*>(src) : 0;
        sts_u16(dst, bits);
      }
    }
  }
};

// ---- warp-level MMA over one stage --------------------------------------------------------------

/// The per-warp part of the main loop: fragments from a stage (ldmatrix / lds) and the MMAs.
template <class T, class Shape, bool kAKMajor, bool kBKMajor>
struct WarpMma {
  static constexpr int kWarpTileM = Shape::BM / Shape::WM;
  static constexpr int kWarpTileN = Shape::BN / Shape::WN;
  static constexpr int kFragsM = kWarpTileM / 16;
  static constexpr int kFragsN = kWarpTileN / 8;
  static constexpr bool kTf32 = sizeof(T) == 4;
  static constexpr int kStepK = kTf32 ? 8 : 16;
  static_assert(Shape::BK % kStepK == 0, "rtx: BK must be a multiple of the MMA K");
  static_assert(kFragsN % 2 == 0, "rtx: B fragments are loaded in pairs");
  using LayoutA = TileLayout<T, Shape::BM, Shape::BK, kAKMajor>;
  using LayoutB = TileLayout<T, Shape::BN, Shape::BK, kBKMajor>;
  using Acc = float[kFragsM][kFragsN][4];

  __device__ __forceinline__ static void load_a(unsigned (&a)[kFragsM][4], unsigned stage, int wm0,
                                                int ks, int lane) {
#pragma unroll
    for (int fm = 0; fm < kFragsM; ++fm) {
      const int m = wm0 + fm * 16;
      if constexpr (kAKMajor) {
        // Matrices (m0-7,k0), (m8-15,k0), (m0-7,k+8B/16B), (m8-15,...): a0..a3.
        const int row = m + (lane & 15);
        const int chunk = ks * 2 + (lane >> 4);
        ldmatrix_x4(a[fm], stage + swizzle<LayoutA::kRowBytes>(row, chunk));
      } else if constexpr (!kTf32) {
        const int j = lane >> 3;
        const int row = ks * 16 + (j >> 1) * 8 + (lane & 7);  // k
        const int col = m + (j & 1) * 8;                      // m
        ldmatrix_x4_trans(a[fm], stage + LayoutA::offset(row, col));
      } else {
        const int g = lane >> 2, t = lane & 3;
        const int k = ks * 8 + t;
        a[fm][0] = lds_u32(stage + LayoutA::offset(k, m + g));
        a[fm][1] = lds_u32(stage + LayoutA::offset(k, m + g + 8));
        a[fm][2] = lds_u32(stage + LayoutA::offset(k + 4, m + g));
        a[fm][3] = lds_u32(stage + LayoutA::offset(k + 4, m + g + 8));
      }
      if constexpr (kTf32) {
#pragma unroll
        for (int r = 0; r < 4; ++r) a[fm][r] = to_tf32(a[fm][r]);
      }
    }
  }

  __device__ __forceinline__ static void load_b(unsigned (&b)[kFragsN][2], unsigned stage, int wn0,
                                                int ks, int lane) {
#pragma unroll
    for (int fp = 0; fp < kFragsN / 2; ++fp) {
      const int n = wn0 + fp * 16;
      if constexpr (kBKMajor || !kTf32) {
        unsigned r[4];
        const int j = lane >> 3;
        if constexpr (kBKMajor) {
          // Matrices (n0-7,k lo), (n0-7,k hi), (n8-15,k lo), (n8-15,k hi).
          const int row = n + (j >> 1) * 8 + (lane & 7);
          const int chunk = ks * 2 + (j & 1);
          ldmatrix_x4(r, stage + swizzle<LayoutB::kRowBytes>(row, chunk));
        } else {
          const int row = ks * 16 + (j & 1) * 8 + (lane & 7);  // k
          const int col = n + (j >> 1) * 8;                    // n
          ldmatrix_x4_trans(r, stage + LayoutB::offset(row, col));
        }
        b[2 * fp][0] = r[0];
        b[2 * fp][1] = r[1];
        b[2 * fp + 1][0] = r[2];
        b[2 * fp + 1][1] = r[3];
      } else {
        const int g = lane >> 2, t = lane & 3;
        const int k = ks * 8 + t;
        b[2 * fp][0] = lds_u32(stage + LayoutB::offset(k, n + g));
        b[2 * fp][1] = lds_u32(stage + LayoutB::offset(k + 4, n + g));
        b[2 * fp + 1][0] = lds_u32(stage + LayoutB::offset(k, n + 8 + g));
        b[2 * fp + 1][1] = lds_u32(stage + LayoutB::offset(k + 4, n + 8 + g));
      }
      if constexpr (kTf32) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          b[2 * fp][r] = to_tf32(b[2 * fp][r]);
          b[2 * fp + 1][r] = to_tf32(b[2 * fp + 1][r]);
        }
      }
    }
  }

  /// acc += the stage's A tile (warp rows) x B tile (warp columns).
  __device__ __forceinline__ static void compute(Acc& acc, unsigned stage_a, unsigned stage_b,
                                                 int wm0, int wn0, int lane) {
    unsigned a[2][kFragsM][4];
    unsigned b[2][kFragsN][2];
    // Fragments of step ks+1 load while step ks multiplies (register double buffering).
    load_a(a[0], stage_a, wm0, 0, lane);
    load_b(b[0], stage_b, wn0, 0, lane);
#pragma unroll
    for (int ks = 0; ks < Shape::BK / kStepK; ++ks) {
      if (ks + 1 < Shape::BK / kStepK) {
        load_a(a[(ks + 1) & 1], stage_a, wm0, ks + 1, lane);
        load_b(b[(ks + 1) & 1], stage_b, wn0, ks + 1, lane);
      }
#pragma unroll
      for (int fm = 0; fm < kFragsM; ++fm) {
#pragma unroll
        for (int fn = 0; fn < kFragsN; ++fn) {
          // Serpentine order over N reuses the B fragment of the previous MMA.
          const int n = (fm & 1) ? kFragsN - 1 - fn : fn;
          mma<T>(acc[fm][n], a[ks & 1][fm], b[ks & 1][n]);
        }
      }
    }
  }

  /// Writes alpha * acc into the f32 staging tile (row stride kLd floats) of the epilogue.
  template <int kLd>
  __device__ __forceinline__ static void stage_accumulators(const Acc& acc, float* tile, int wm0,
                                                            int wn0, int lane, float alpha) {
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int fm = 0; fm < kFragsM; ++fm) {
#pragma unroll
      for (int fn = 0; fn < kFragsN; ++fn) {
        const int row = wm0 + fm * 16 + g;
        const int col = wn0 + fn * 8 + 2 * t;
        *reinterpret_cast<float2*>(tile + row * kLd + col) =
            make_float2(alpha * acc[fm][fn][0], alpha * acc[fm][fn][1]);
        *reinterpret_cast<float2*>(tile + (row + 8) * kLd + col) =
            make_float2(alpha * acc[fm][fn][2], alpha * acc[fm][fn][3]);
      }
    }
  }
};

// ---- the pipelined main loop --------------------------------------------------------------------

/// Shared memory the main loop and the epilogue of a kernel with this shape use (bytes).
template <class T, class Shape, bool kAKMajor, bool kBKMajor>
struct SharedBytes {
  static constexpr int kStageA = TileLayout<T, Shape::BM, Shape::BK, kAKMajor>::kStageBytes;
  static constexpr int kStageB = TileLayout<T, Shape::BN, Shape::BK, kBKMajor>::kStageBytes;
  static constexpr int kPipeline = Shape::kStages * (kStageA + kStageB);
  static constexpr int kEpilogueLd = Shape::BN + 8;  // floats; +8 keeps float2 stores conflict-free
  static constexpr int kEpilogue = Shape::BM * kEpilogueLd * 4;
  static constexpr int kTotal = kPipeline > kEpilogue ? kPipeline : kEpilogue;
};

/// acc += A(block rows, 0:K) x B(0:K, block cols) through a kStages-deep cp.async pipeline:
/// while stage s is multiplied, the copies of the next kStages - 1 k-tiles are in flight.
/// Ends with every copy landed and a barrier, so the caller may reuse shared memory.
template <class T, class Shape, class LoaderA, class LoaderB>
__device__ __forceinline__ void mainloop(
    typename WarpMma<T, Shape, LoaderA::Layout::kIsKMajor, LoaderB::Layout::kIsKMajor>::Acc& acc,
    const LoaderA& la, const LoaderB& lb, int ktiles, unsigned smem, int wm0, int wn0, int lane) {
  using Mma = WarpMma<T, Shape, LoaderA::Layout::kIsKMajor, LoaderB::Layout::kIsKMajor>;
  constexpr int kStageA = LoaderA::Layout::kStageBytes;
  constexpr int kStageB = LoaderB::Layout::kStageBytes;
  constexpr int kStages = Shape::kStages;
  const unsigned smem_a = smem;
  const unsigned smem_b = smem + kStages * kStageA;
  // The prologue runs once per tile: a loop, not kStages - 1 copies of the loaders' code.
#pragma unroll 1
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) {
      la.load(smem_a + s * kStageA, static_cast<RTX_STD::int64_t>(s) * Shape::BK);
      lb.load(smem_b + s * kStageB, static_cast<RTX_STD::int64_t>(s) * Shape::BK);
    }
    cp_async_commit();  // empty groups keep the group count uniform
  }
  int read_stage = 0;
  int write_stage = kStages - 1;
  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<kStages - 2>();  // k-tile kt has landed (for this thread)
    __syncthreads();               // ... for every thread; stage kt-1 is free for everyone
    const int next = kt + kStages - 1;
    if (next < ktiles) {
      la.load(smem_a + write_stage * kStageA, static_cast<RTX_STD::int64_t>(next) * Shape::BK);
      lb.load(smem_b + write_stage * kStageB, static_cast<RTX_STD::int64_t>(next) * Shape::BK);
    }
    cp_async_commit();
    Mma::compute(acc, smem_a + read_stage * kStageA, smem_b + read_stage * kStageB, wm0, wn0, lane);
    read_stage = read_stage + 1 == kStages ? 0 : read_stage + 1;
    write_stage = write_stage + 1 == kStages ? 0 : write_stage + 1;
  }
  cp_async_wait<0>();
  __syncthreads();
}

/// Tile coordinates of linear block `pid`: groups of `group_m` tile rows are swept column by
/// column, so blocks running together share A rows and B columns in L2.
__device__ __forceinline__ void raster_tile(int pid, int tiles_m, int tiles_n, int group_m,
                                            int& tile_m, int& tile_n) {
  const int width = group_m * tiles_n;
  const int group = pid / width;
  const int first_m = group * group_m;
  const int rows = tiles_m - first_m < group_m ? tiles_m - first_m : group_m;
  const int in_group = pid - group * width;
  tile_m = first_m + in_group % rows;
  tile_n = in_group / rows;
}

/// Where this block's output tile and this thread's warp tile lie, for the mma.sync kernels:
/// the block's tile origin (m0, n0) in raster order (raster_tile), the warp's origin (wm0, wn0)
/// inside it (warps laid out WM x WN, warp tiles kWarpM x kWarpN), the lane, and the number of
/// k-tiles. Params: GemmParams or QGemmParams (tiles_m, tiles_n, group_m, k).
template <class Shape, int kWarpM, int kWarpN>
struct BlockTile {
  RTX_STD::int64_t m0, n0;
  int wm0, wn0, lane, ktiles;

  template <class Params>
  __device__ __forceinline__ explicit BlockTile(const Params& p) {
    int tile_m, tile_n;
    raster_tile(static_cast<int>(blockIdx.x), p.tiles_m, p.tiles_n, p.group_m, tile_m, tile_n);
    m0 = static_cast<RTX_STD::int64_t>(tile_m) * Shape::BM;
    n0 = static_cast<RTX_STD::int64_t>(tile_n) * Shape::BN;
    const int warp = static_cast<int>(threadIdx.x) >> 5;
    lane = static_cast<int>(threadIdx.x) & 31;
    wm0 = (warp / Shape::WN) * kWarpM;
    wn0 = (warp % Shape::WN) * kWarpN;
    ktiles = static_cast<int>((p.k + Shape::BK - 1) / Shape::BK);
  }
};

/// Zeroes a warp's accumulator fragments (an array [frags m][frags n][4]).
template <class T, int kM, int kN>
__device__ __forceinline__ void clear_accumulators(T (&acc)[kM][kN][4]) {
#pragma unroll
  for (int i = 0; i < kM; ++i)
#pragma unroll
    for (int j = 0; j < kN; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = T(0);
}

}  // namespace rtx::kernels::gemm
