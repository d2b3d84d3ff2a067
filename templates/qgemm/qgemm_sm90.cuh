// SPDX-License-Identifier: Apache-2.0
// Hopper quantized GEMM (sm_90a only): 8-bit A and B (int8/uint8 with s32 accumulation, or fp8
// e4m3/e5m2 with f32 accumulation) through wgmma + TMA, warp-specialised exactly like the GEMM
// family's f16 kernel (gemm/gemm_sm90.cuh, whose mbarrier / TMA / descriptor wrappers it uses):
// one producer warpgroup streams 128-byte-swizzled TMA tiles of A (128 x 128 bytes) and B
// (BN x 128 bytes) into a kStages-deep ring; two consumer warpgroups each multiply 64 rows by the
// whole B tile with wgmma.m64nBNk32. An 8-bit K-major tile row is 128 bytes, as a 16-bit one is,
// so the shared-memory layout, the descriptors and the 32-byte k-step advance are the f16
// kernel's; only the instruction and the accumulator type change. The epilogue stages
// acc * a_scale * b_scale(column) in f32 and runs the quantized epilogue (qgemm/common.cuh).
// wgmma reads 8-bit operands K-major only: both A (M, K) and B (N, K) must be stored K-major.
//
// Contract
//   template parameters:
//     TA, TB     signed char / unsigned char (both) or __nv_fp8_e4m3 / __nv_fp8_e5m2 (both)
//     TScale     float, __half or __nv_bfloat16 (a_scale, b_scale, y_scale storage)
//     TMid       float, __half or __nv_bfloat16 (the dequantized MatMul's dtype)
//     TOut       TMid, or an 8-bit type when Epi::kQuant
//     BN         128 or 256 (block tile 128 x BN x 128)
//     kStages    pipeline depth (stage = (128 + BN) * 128 bytes)
//     BQ         BQuant<kPerTensor or kPerColumn, false>
//     Epi        QEpilogue<Activation, BiasMode, kQuant, kSaturate>
//   kernel parameters: QGemmParams (by value), then the TMA maps of A and B (gemm::TmaDescriptor
//     by value): 3-D (K, rows, batch) UINT8 maps, box {128, 128} for A and {128, BN} for B,
//     SWIZZLE_128B (jit/kernels/qgemm.cpp)
//   block shape: 384 threads (producer warpgroup + 2 consumer warpgroups)
//   grid:        x = tiles_m * tiles_n, z = batch_count (<= 65535; at most one batch dim)
//   shared:      kStages * (128 + BN) * 128 + 16 * kStages + 1024 bytes
//   alignment:   lda, ldb and batch strides multiples of 16 bytes; A, B 16-byte aligned
//   name expression:
//     rtx::kernels::qgemm::qgemm_wgmma<signed char, signed char, float, float, signed char, 256,
//       4, rtx::kernels::qgemm::BQuant<(rtx::kernels::qgemm::ScaleMode)1, false>,
//       rtx::kernels::qgemm::QEpilogue<(rtx::kernels::gemm::Activation)0,
//       (rtx::kernels::qgemm::BiasMode)0, true, true>>
#pragma once

#include <cuda_fp8.h>

#include "gemm/gemm_sm90.cuh"
#include "qgemm/common.cuh"
#include "qgemm/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::qgemm {
namespace sm90 {

// Accumulator register lists of the m64n128 (64 registers) and m64n256 (128) shapes.
#define RTX_QGEMM_REGS64 \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, " \
  "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, " \
  "%38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, " \
  "%56, %57, %58, %59, %60, %61, %62, %63"
#define RTX_QGEMM_OPS64(C) \
  C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7]), C(d[8]), C(d[9]), \
  C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15]), C(d[16]), C(d[17]), C(d[18]), \
  C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]), C(d[24]), C(d[25]), C(d[26]), C(d[27]), \
  C(d[28]), C(d[29]), C(d[30]), C(d[31]), C(d[32]), C(d[33]), C(d[34]), C(d[35]), C(d[36]), \
  C(d[37]), C(d[38]), C(d[39]), C(d[40]), C(d[41]), C(d[42]), C(d[43]), C(d[44]), C(d[45]), \
  C(d[46]), C(d[47]), C(d[48]), C(d[49]), C(d[50]), C(d[51]), C(d[52]), C(d[53]), C(d[54]), \
  C(d[55]), C(d[56]), C(d[57]), C(d[58]), C(d[59]), C(d[60]), C(d[61]), C(d[62]), C(d[63])
#define RTX_QGEMM_REGS128 \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, " \
  "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, " \
  "%38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, " \
  "%56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, " \
  "%74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, " \
  "%92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, " \
  "%108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, " \
  "%123, %124, %125, %126, %127"
#define RTX_QGEMM_OPS128(C) \
  C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7]), C(d[8]), C(d[9]), \
  C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15]), C(d[16]), C(d[17]), C(d[18]), \
  C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]), C(d[24]), C(d[25]), C(d[26]), C(d[27]), \
  C(d[28]), C(d[29]), C(d[30]), C(d[31]), C(d[32]), C(d[33]), C(d[34]), C(d[35]), C(d[36]), \
  C(d[37]), C(d[38]), C(d[39]), C(d[40]), C(d[41]), C(d[42]), C(d[43]), C(d[44]), C(d[45]), \
  C(d[46]), C(d[47]), C(d[48]), C(d[49]), C(d[50]), C(d[51]), C(d[52]), C(d[53]), C(d[54]), \
  C(d[55]), C(d[56]), C(d[57]), C(d[58]), C(d[59]), C(d[60]), C(d[61]), C(d[62]), C(d[63]), \
  C(d[64]), C(d[65]), C(d[66]), C(d[67]), C(d[68]), C(d[69]), C(d[70]), C(d[71]), C(d[72]), \
  C(d[73]), C(d[74]), C(d[75]), C(d[76]), C(d[77]), C(d[78]), C(d[79]), C(d[80]), C(d[81]), \
  C(d[82]), C(d[83]), C(d[84]), C(d[85]), C(d[86]), C(d[87]), C(d[88]), C(d[89]), C(d[90]), \
  C(d[91]), C(d[92]), C(d[93]), C(d[94]), C(d[95]), C(d[96]), C(d[97]), C(d[98]), C(d[99]), \
  C(d[100]), C(d[101]), C(d[102]), C(d[103]), C(d[104]), C(d[105]), C(d[106]), C(d[107]), \
  C(d[108]), C(d[109]), C(d[110]), C(d[111]), C(d[112]), C(d[113]), C(d[114]), C(d[115]), \
  C(d[116]), C(d[117]), C(d[118]), C(d[119]), C(d[120]), C(d[121]), C(d[122]), C(d[123]), \
  C(d[124]), C(d[125]), C(d[126]), C(d[127])

/// wgmma.m64nNk32 with 8-bit operands from shared memory (both K-major); d += A * B, or d = A * B
/// when scale_d is 0.
template <class TA, class TB, int kN>
struct Wgmma8;

#define RTX_QGEMM_WGMMA_INT(TA, TB, TYPES)                                                     \
  template <>                                                                                  \
  struct Wgmma8<TA, TB, 128> {                                                                 \
    using Acc = int;                                                                           \
    __device__ __forceinline__ static void run(int (&d)[64], unsigned long long desc_a,        \
                                               unsigned long long desc_b, int scale_d) {       \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                \
                   "wgmma.mma_async.sync.aligned.m64n128k32.s32." TYPES " {" RTX_QGEMM_REGS64  \
                   "}, %64, %65, p;\n}\n"                                                      \
                   : RTX_QGEMM_OPS64("+r")                                                     \
                   : "l"(desc_a), "l"(desc_b), "r"(scale_d));                                  \
    }                                                                                          \
  };                                                                                           \
  template <>                                                                                  \
  struct Wgmma8<TA, TB, 256> {                                                                 \
    using Acc = int;                                                                           \
    __device__ __forceinline__ static void run(int (&d)[128], unsigned long long desc_a,       \
                                               unsigned long long desc_b, int scale_d) {       \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"                               \
                   "wgmma.mma_async.sync.aligned.m64n256k32.s32." TYPES " {" RTX_QGEMM_REGS128 \
                   "}, %128, %129, p;\n}\n"                                                    \
                   : RTX_QGEMM_OPS128("+r")                                                    \
                   : "l"(desc_a), "l"(desc_b), "r"(scale_d));                                  \
    }                                                                                          \
  };
RTX_QGEMM_WGMMA_INT(signed char, signed char, "s8.s8")
RTX_QGEMM_WGMMA_INT(signed char, unsigned char, "s8.u8")
RTX_QGEMM_WGMMA_INT(unsigned char, signed char, "u8.s8")
RTX_QGEMM_WGMMA_INT(unsigned char, unsigned char, "u8.u8")
#undef RTX_QGEMM_WGMMA_INT

#define RTX_QGEMM_WGMMA_FP8(TA, TB, TYPES)                                                     \
  template <>                                                                                  \
  struct Wgmma8<TA, TB, 128> {                                                                 \
    using Acc = float;                                                                         \
    __device__ __forceinline__ static void run(float (&d)[64], unsigned long long desc_a,      \
                                               unsigned long long desc_b, int scale_d) {       \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                \
                   "wgmma.mma_async.sync.aligned.m64n128k32.f32." TYPES " {" RTX_QGEMM_REGS64  \
                   "}, %64, %65, p, 1, 1;\n}\n"                                                \
                   : RTX_QGEMM_OPS64("+f")                                                     \
                   : "l"(desc_a), "l"(desc_b), "r"(scale_d));                                  \
    }                                                                                          \
  };                                                                                           \
  template <>                                                                                  \
  struct Wgmma8<TA, TB, 256> {                                                                 \
    using Acc = float;                                                                         \
    __device__ __forceinline__ static void run(float (&d)[128], unsigned long long desc_a,     \
                                               unsigned long long desc_b, int scale_d) {       \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"                               \
                   "wgmma.mma_async.sync.aligned.m64n256k32.f32." TYPES " {" RTX_QGEMM_REGS128 \
                   "}, %128, %129, p, 1, 1;\n}\n"                                              \
                   : RTX_QGEMM_OPS128("+f")                                                    \
                   : "l"(desc_a), "l"(desc_b), "r"(scale_d));                                  \
    }                                                                                          \
  };
RTX_QGEMM_WGMMA_FP8(__nv_fp8_e4m3, __nv_fp8_e4m3, "e4m3.e4m3")
RTX_QGEMM_WGMMA_FP8(__nv_fp8_e4m3, __nv_fp8_e5m2, "e4m3.e5m2")
RTX_QGEMM_WGMMA_FP8(__nv_fp8_e5m2, __nv_fp8_e4m3, "e5m2.e4m3")
RTX_QGEMM_WGMMA_FP8(__nv_fp8_e5m2, __nv_fp8_e5m2, "e5m2.e5m2")
#undef RTX_QGEMM_WGMMA_FP8
#undef RTX_QGEMM_REGS64
#undef RTX_QGEMM_REGS128
#undef RTX_QGEMM_OPS64
#undef RTX_QGEMM_OPS128

/// Keeps the compiler from moving accumulator accesses across wgmma fences and waits.
template <int kN>
__device__ __forceinline__ void fence_acc(int (&d)[kN]) {
#pragma unroll
  for (int i = 0; i < kN; ++i) asm volatile("" : "+r"(d[i])::"memory");
}
template <int kN>
__device__ __forceinline__ void fence_acc(float (&d)[kN]) {
#pragma unroll
  for (int i = 0; i < kN; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

}  // namespace sm90

template <class TA, class TB, class TScale, class TMid, class TOut, int BN, int kStages, class BQ,
          class Epi>
__global__ void __launch_bounds__(384, 1)
    qgemm_wgmma(const __grid_constant__ QGemmParams p,
                const __grid_constant__ gemm::TmaDescriptor tma_a,
                const __grid_constant__ gemm::TmaDescriptor tma_b) {
  using namespace gemm::sm90;
  using sm90::fence_acc;
  static_assert(QType<TA>::kBits == 8 && QType<TB>::kBits == 8, "rtx: qgemm_wgmma is 8-bit");
  static_assert(QType<TA>::kFloat == QType<TB>::kFloat, "rtx: integer x integer or fp8 x fp8");
  static_assert(BN == 128 || BN == 256, "rtx: BN is 128 or 256");
  static_assert(BQ::kMode != ScaleMode::kBlocked && !BQ::kZero,
                "rtx: 8-bit x 8-bit folds per-tensor or per-column B scales without zero point");
  using Op = sm90::Wgmma8<TA, TB, BN>;
  using AccT = typename Op::Acc;
  constexpr int BM = 128, BK = 128;  // BK in bytes (= elements)
  constexpr int kStageA = BM * BK;
  constexpr int kStageB = BN * BK;
  constexpr int kLd = BN + 8;  // f32 staging row stride
  constexpr int kAcc = BN / 2;
  static_assert(BM * kLd * 4 <= kStages * (kStageA + kStageB), "staging must fit the stages");

  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const unsigned raw = gemm::smem_u32(smem_raw);
  const unsigned base = (raw + 1023u) & ~1023u;  // 128-byte swizzle atoms need 1024 alignment
  const unsigned smem_a = base;
  const unsigned smem_b = base + kStages * kStageA;
  const unsigned full = smem_b + kStages * kStageB;  // kStages barriers, then kStages "empty"
  const unsigned empty = full + 8 * kStages;

  int tile_m, tile_n;
  gemm::raster_tile(static_cast<int>(blockIdx.x), p.tiles_m, p.tiles_n, p.group_m, tile_m, tile_n);
  const int m0 = tile_m * BM;
  const int n0 = tile_n * BN;
  const int z = static_cast<int>(blockIdx.z);
  const int ktiles = static_cast<int>((p.k + BK - 1) / BK);
  const int warpgroup = static_cast<int>(threadIdx.x) / 128;

  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < kStages; ++s) {
      mbar_init(full + 8 * s, 1);
      mbar_init(empty + 8 * s, 8);  // lane 0 of each consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warpgroup == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x == 0) {
      const int za = p.batch_rank > 0 && p.a_batch_stride[0] != 0 ? z : 0;
      const int zb = p.batch_rank > 0 && p.b_batch_stride[0] != 0 ? z : 0;
      for (int kt = 0; kt < ktiles; ++kt) {
        const int s = kt % kStages;
        const int round = kt / kStages;
        if (round > 0) mbar_wait(empty + 8 * s, (round - 1) & 1);
        const unsigned bar = full + 8 * s;
        mbar_expect_tx(bar, kStageA + kStageB);
        const int k = kt * BK;
        tma_load_3d(smem_a + s * kStageA, &tma_a, bar, k, m0, za);
        tma_load_3d(smem_b + s * kStageB, &tma_b, bar, k, n0, zb);
      }
    }
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
  const int consumer = warpgroup - 1;  // rows 64 * consumer .. of the block tile
  const int tid = static_cast<int>(threadIdx.x) - 128;
  const int warp = (tid >> 5) & 3;
  const int lane = tid & 31;
  AccT d[kAcc];
#pragma unroll
  for (int i = 0; i < kAcc; ++i) d[i] = 0;

  for (int kt = 0; kt < ktiles; ++kt) {
    const int s = kt % kStages;
    mbar_wait(full + 8 * s, (kt / kStages) & 1);
    // A rows 64 * consumer.. (64 rows x 128 B, 8-row groups 1024 B apart); B: the whole tile.
    const unsigned a_base = smem_a + s * kStageA + consumer * 64 * 128;
    const unsigned b_base = smem_b + s * kStageB;
    const unsigned long long desc_a = make_desc(a_base, 16, 1024);
    const unsigned long long desc_b = make_desc(b_base, 16, 1024);
    wgmma_fence();
    fence_acc(d);
#pragma unroll
    for (int kk = 0; kk < BK / 32; ++kk) {
      // One k32 step: 32 bytes along each K-major row (descriptor units of 16 bytes).
      const unsigned long long step = (32u * kk) >> 4;
      Op::run(d, desc_a + step, desc_b + step, (kt > 0 || kk > 0) ? 1 : 0);
    }
    wgmma_commit();
    wgmma_wait<0>();
    fence_acc(d);
    if (lane == 0) mbar_arrive(empty + 8 * s);
  }

  // Epilogue: both consumers must be done reading the stages before they become staging.
  asm volatile("bar.sync 1, 256;\n" ::: "memory");
  float* tile = reinterpret_cast<float*>(smem_raw + (base - raw));
  {
    const int g = lane >> 2, t = lane & 3;
    const int row = consumer * 64 + warp * 16 + g;
    const float sa = load_scale<TScale>(p.a_scale, 0);
    const float s_tensor =
        BQ::kMode == ScaleMode::kPerTensor ? sa * load_scale<TScale>(p.b_scale, 0) : 0.0f;
#pragma unroll
    for (int j = 0; j < BN / 8; ++j) {
      const int col = j * 8 + 2 * t;
      float s0 = s_tensor, s1 = s_tensor;
      if constexpr (BQ::kMode == ScaleMode::kPerColumn) {
        const RTX_STD::int64_t n = static_cast<RTX_STD::int64_t>(n0) + col;
        s0 = n < p.n ? sa * load_scale<TScale>(p.b_scale, n * p.b_scale_n_stride) : 0.0f;
        s1 = n + 1 < p.n ? sa * load_scale<TScale>(p.b_scale, (n + 1) * p.b_scale_n_stride)
                         : 0.0f;
      }
      *reinterpret_cast<float2*>(tile + row * kLd + col) =
          make_float2(static_cast<float>(d[4 * j]) * s0, static_cast<float>(d[4 * j + 1]) * s1);
      *reinterpret_cast<float2*>(tile + (row + 8) * kLd + col) = make_float2(
          static_cast<float>(d[4 * j + 2]) * s0, static_cast<float>(d[4 * j + 3]) * s1);
    }
  }
  asm volatile("bar.sync 1, 256;\n" ::: "memory");
  const QBatchOffsets off = batch_offsets(p, z);
  store_tile<TScale, TMid, TOut, Epi, BM, BN, 256, kLd>(tile, p, off.d, m0, n0, tid);
}

}  // namespace rtx::kernels::qgemm
