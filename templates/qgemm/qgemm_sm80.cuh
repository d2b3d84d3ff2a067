// SPDX-License-Identifier: Apache-2.0
// Quantized GEMMs on tensor cores with mma.sync: the folded form of DQ(A) x DQ(B) [+ bias]
// [-> activation] [-> Q]. Two kernels share one cp.async pipeline shape with the GEMM family
// (gemm/mma_core.cuh: swizzled tiles, dense loaders, ldmatrix fragment loads, rasterisation):
//
//   qgemm_mma  8-bit A and B: int8/uint8 (mma.m16n8k32 s32 accumulation, sm_80+) or fp8
//              e4m3/e5m2 (mma.m16n8k32 f32 accumulation, sm_89+). The integer products are
//              exact; the epilogue applies a_scale * b_scale (per tensor or per output column)
//              to the staged accumulators, then bias / activation / requantization.
//   qgemm_wo   weight-only: f16/bf16 A, quantized B (int8, uint8, int4, uint4, fp8 e4m3/e5m2,
//              fp4 e2m1) with per-tensor, per-column or block-wise scales and zero points. Each
//              raw B tile is dequantized in shared memory into the f16/bf16 tile the GEMM
//              family's warp MMA reads, bit-identical to DequantizeLinear's output, then
//              multiplied in f32 (mma.m16n8k16).
//
// 8-bit fragments reuse the 16-bit ldmatrix loads: an m16n8k32 8-bit fragment holds exactly the
// bytes an m16n8k16 16-bit fragment holds at the same K-major tile address, so a tile of BK 8-bit
// elements is read as a tile of BK/2 halves. B stored (K, N) (MatMul's weight layout) cannot be
// fed to the 8-bit MMA (it takes K-major B only, and ldmatrix cannot transpose bytes): its raw
// tile is transposed in shared memory (4 x 4 byte blocks through prmt) before the MMAs.
//
// Contract (qgemm_mma)
//   template parameters:
//     TA, TB     signed char / unsigned char (both integer) or __nv_fp8_e4m3 / __nv_fp8_e5m2
//                (both fp8)
//     TScale     float, __half or __nv_bfloat16: a_scale, b_scale and y_scale storage
//     TMid       float, __half or __nv_bfloat16: the dequantized MatMul's dtype (results are
//                rounded to it before bias, activation and Q, as in the unfused graph)
//     TOut       TMid, or signed char / unsigned char / fp8 when Epi::kQuant
//     Shape      gemm::TileShape<BM, BN, 128, kStages, WM, WN> (BK in 8-bit elements: 128)
//     kBKMajor   true: B stored (N, K); false: stored (K, N) (transposed in shared memory)
//     kVecA/B    bytes per cp.async copy (4, 8 or 16); lda, ldb and the base addresses are
//                multiples of them
//     BQ         BQuant<kPerTensor or kPerColumn, false> (no B zero point)
//     Epi        QEpilogue<Activation, BiasMode, kQuant, kSaturate>
//   block shape: Shape::kThreads = 32 * WM * WN threads (x only)
//   grid:        x = tiles_m * tiles_n, z = min(batch_count, 65535)
//   shared:      qgemm_shared_bytes (host: QGemmSpec::shared_bytes()): stages of A and B (+ one
//                transposed B tile when !kBKMajor), at least the f32 staging tile BM x (BN + 8)
//   name expression:
//     rtx::kernels::qgemm::qgemm_mma<signed char, signed char, float, float, signed char,
//       rtx::kernels::gemm::TileShape<128, 128, 128, 4, 2, 4>, true, 16, 16,
//       rtx::kernels::qgemm::BQuant<(rtx::kernels::qgemm::ScaleMode)1, false>,
//       rtx::kernels::qgemm::QEpilogue<(rtx::kernels::gemm::Activation)0,
//       (rtx::kernels::qgemm::BiasMode)0, true, true>>
//
// Contract (qgemm_wo)
//   template parameters:
//     TA         __half or __nv_bfloat16 (A, the dequantized B and the MatMul's dtype)
//     TB         signed char, unsigned char, __nv_fp8_e4m3, __nv_fp8_e5m2, Int4, UInt4, Fp4E2M1
//     TScale     float, __half or __nv_bfloat16 (b_scale and y_scale storage)
//     TOut       TA, or an 8-bit type when Epi::kQuant
//     Shape      gemm::TileShape<BM, BN, 64, kStages, WM, WN> (BK in 16-bit elements)
//     kBKMajor   true: B stored (N, K); false: stored (K, N)
//     kVecA      elements of A per copy (8, 4, 2 or 1)
//     kVecB      bytes of raw B per copy (4, 8 or 16)
//     BQ         BQuant<any ScaleMode, kZero>
//     Epi        QEpilogue<...>
//   block, grid: as qgemm_mma
//   shared:      stages of A and raw B, one dequantized B tile; at least the staging tile
//   name expression:
//     rtx::kernels::qgemm::qgemm_wo<__half, rtx::kernels::qgemm::Int4, __half, __half,
//       rtx::kernels::gemm::TileShape<64, 128, 64, 4, 2, 4>, false, 8, 16,
//       rtx::kernels::qgemm::BQuant<(rtx::kernels::qgemm::ScaleMode)2, true>,
//       rtx::kernels::qgemm::QEpilogue<(rtx::kernels::gemm::Activation)0,
//       (rtx::kernels::qgemm::BiasMode)0, false, true>>
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "gemm/mma_core.cuh"
#include "qgemm/common.cuh"
#include "qgemm/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::qgemm {

// ---- 8-bit MMA ------------------------------------------------------------------------------------

/// d += a * b for one m16n8k32 fragment of 8-bit operands. Integer pairs accumulate in s32 (no
/// saturation: the host bounds K so sums cannot overflow), fp8 pairs in f32 (sm_89 and newer;
/// on older targets the instruction is compiled out and the kernel traps).
template <class TA, class TB>
struct Mma8;

#define RTX_QGEMM_MMA8_INT(TA, TB, TYPES)                                                   \
  template <>                                                                               \
  struct Mma8<TA, TB> {                                                                     \
    using Acc = int;                                                                        \
    __device__ __forceinline__ static void run(int (&d)[4], const unsigned (&a)[4],         \
                                               const unsigned (&b)[2]) {                    \
      asm("mma.sync.aligned.m16n8k32.row.col.s32." TYPES ".s32 {%0, %1, %2, %3}, "         \
          "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"                                \
          : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])                                  \
          : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));              \
    }                                                                                       \
  };
RTX_QGEMM_MMA8_INT(signed char, signed char, "s8.s8")
RTX_QGEMM_MMA8_INT(signed char, unsigned char, "s8.u8")
RTX_QGEMM_MMA8_INT(unsigned char, signed char, "u8.s8")
RTX_QGEMM_MMA8_INT(unsigned char, unsigned char, "u8.u8")
#undef RTX_QGEMM_MMA8_INT

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
#define RTX_QGEMM_MMA8_FP8_BODY(TYPES)                                                      \
  asm("mma.sync.aligned.m16n8k32.row.col.f32." TYPES ".f32 {%0, %1, %2, %3}, "             \
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"                                    \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                                      \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
#define RTX_QGEMM_MMA8_FP8_BODY(TYPES) __trap();
#endif
#define RTX_QGEMM_MMA8_FP8(TA, TB, TYPES)                                                   \
  template <>                                                                               \
  struct Mma8<TA, TB> {                                                                     \
    using Acc = float;                                                                      \
    __device__ __forceinline__ static void run(float (&d)[4], const unsigned (&a)[4],       \
                                               const unsigned (&b)[2]) {                    \
      RTX_QGEMM_MMA8_FP8_BODY(TYPES)                                                        \
    }                                                                                       \
  };
RTX_QGEMM_MMA8_FP8(__nv_fp8_e4m3, __nv_fp8_e4m3, "e4m3.e4m3")
RTX_QGEMM_MMA8_FP8(__nv_fp8_e4m3, __nv_fp8_e5m2, "e4m3.e5m2")
RTX_QGEMM_MMA8_FP8(__nv_fp8_e5m2, __nv_fp8_e4m3, "e5m2.e4m3")
RTX_QGEMM_MMA8_FP8(__nv_fp8_e5m2, __nv_fp8_e5m2, "e5m2.e5m2")
#undef RTX_QGEMM_MMA8_FP8
#undef RTX_QGEMM_MMA8_FP8_BODY

/// How fp8 fragments are multiplied on the architecture being compiled: natively (sm_89, sm_120:
/// mma.m16n8k32 e4m3/e5m2), through f16 (sm_90, sm_100...: their fp8 tensor path is wgmma /
/// tcgen05, and ptxas emulates fp8 mma.sync with spills), or not at all (before sm_89: the kernel
/// traps; the host never plans it there).
enum class Fp8Path { kNative, kViaF16, kNone };
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 890 || __CUDA_ARCH__ >= 1200)
inline constexpr Fp8Path kFp8Path = Fp8Path::kNative;
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ > 890
inline constexpr Fp8Path kFp8Path = Fp8Path::kViaF16;
#else
inline constexpr Fp8Path kFp8Path = Fp8Path::kNone;
#endif

/// Two fp8 values (the low and high byte of `pair`) as an f16x2 register: exact.
template <class T>
__device__ __forceinline__ unsigned fp8x2_to_f16x2(unsigned pair) {
  unsigned r = 0;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  const unsigned short p16 = static_cast<unsigned short>(pair & 0xFFFFu);
  if constexpr (kSame<T, __nv_fp8_e4m3>) {
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;\n" : "=r"(r) : "h"(p16));
  } else {
    asm("cvt.rn.f16x2.e5m2x2 %0, %1;\n" : "=r"(r) : "h"(p16));
  }
#else
  (void)pair;
  __trap();
#endif
  return r;
}

/// The per-warp part of the 8-bit main loop: both tiles K-major (BK = 128 bytes per row), read
/// through the 16-bit fragment loads of the GEMM family (see the file comment).
template <class TA, class TB, class Shape>
struct Warp8 {
  static_assert(Shape::BK == 128, "rtx: 8-bit tiles are 128 elements (bytes) deep");
  using Half = gemm::TileShape<Shape::BM, Shape::BN, Shape::BK / 2, Shape::kStages, Shape::WM,
                               Shape::WN>;
  using Frag = gemm::WarpMma<__half, Half, true, true>;
  using Op = Mma8<TA, TB>;
  using AccT = typename Op::Acc;
  static constexpr int kFragsM = Frag::kFragsM;
  static constexpr int kFragsN = Frag::kFragsN;
  static constexpr int kWarpTileM = Frag::kWarpTileM;
  static constexpr int kWarpTileN = Frag::kWarpTileN;
  static constexpr int kSteps = Shape::BK / 32;
  using Acc = AccT[kFragsM][kFragsN][4];

  __device__ __forceinline__ static void compute(Acc& acc, unsigned stage_a, unsigned stage_b,
                                                 int wm0, int wn0, int lane) {
    if constexpr (QType<TA>::kFloat && kFp8Path == Fp8Path::kViaF16) {
      compute_via_f16(acc, stage_a, stage_b, wm0, wn0, lane);
      return;
    }
    unsigned a[2][kFragsM][4];
    unsigned b[2][kFragsN][2];
    Frag::load_a(a[0], stage_a, wm0, 0, lane);
    Frag::load_b(b[0], stage_b, wn0, 0, lane);
#pragma unroll
    for (int ks = 0; ks < kSteps; ++ks) {
      if (ks + 1 < kSteps) {
        Frag::load_a(a[(ks + 1) & 1], stage_a, wm0, ks + 1, lane);
        Frag::load_b(b[(ks + 1) & 1], stage_b, wn0, ks + 1, lane);
      }
#pragma unroll
      for (int fm = 0; fm < kFragsM; ++fm) {
#pragma unroll
        for (int fn = 0; fn < kFragsN; ++fn) {
          const int n = (fm & 1) ? kFragsN - 1 - fn : fn;
          Op::run(acc[fm][n], a[ks & 1][fm], b[ks & 1][n]);
        }
      }
    }
  }

  /// fp8 through f16 MMAs. A fragment register of an m16n8k32 8-bit MMA holds k = 4t..4t+3 of
  /// its row (t = lane % 4), B's the same k of its column; an m16n8k16 f16 fragment holds
  /// k = 2t, 2t+1 (registers 0/1) and 2t+8, 2t+9 (registers 2/3). Reading the f16 MMA's k index
  /// 2t + j as real k 4t + j and 2t + 8 + j as 4t + 2 + j (j = 0, 1) is a bijection on 0..15
  /// applied to A and B alike, so the dot products are unchanged: the low halves of each fp8
  /// register feed the first f16 k-half, the high halves the second, and the k32 step is two f16
  /// MMAs (real k 0..15 from fp8 registers 0/1, 16..31 from 2/3). Each fragment is converted once
  /// per k step, not once per MMA.
  __device__ __forceinline__ static void compute_via_f16(Acc& acc, unsigned stage_a,
                                                         unsigned stage_b, int wm0, int wn0,
                                                         int lane) {
#pragma unroll
    for (int ks = 0; ks < kSteps; ++ks) {
      unsigned a8[kFragsM][4];
      unsigned b8[kFragsN][2];
      Frag::load_a(a8, stage_a, wm0, ks, lane);
      Frag::load_b(b8, stage_b, wn0, ks, lane);
      unsigned bh[kFragsN][4];  // [half 0: lo, hi][half 1: lo, hi] of k 0..15 and 16..31
#pragma unroll
      for (int fn = 0; fn < kFragsN; ++fn) {
        bh[fn][0] = fp8x2_to_f16x2<TB>(b8[fn][0]);
        bh[fn][1] = fp8x2_to_f16x2<TB>(b8[fn][0] >> 16);
        bh[fn][2] = fp8x2_to_f16x2<TB>(b8[fn][1]);
        bh[fn][3] = fp8x2_to_f16x2<TB>(b8[fn][1] >> 16);
      }
#pragma unroll
      for (int fm = 0; fm < kFragsM; ++fm) {
        // fp8 registers 0..3 = (row g, k lo), (row g+8, k lo), (row g, k hi), (row g+8, k hi).
        const unsigned lo[4] = {fp8x2_to_f16x2<TA>(a8[fm][0]), fp8x2_to_f16x2<TA>(a8[fm][1]),
                                fp8x2_to_f16x2<TA>(a8[fm][0] >> 16),
                                fp8x2_to_f16x2<TA>(a8[fm][1] >> 16)};
        const unsigned hi[4] = {fp8x2_to_f16x2<TA>(a8[fm][2]), fp8x2_to_f16x2<TA>(a8[fm][3]),
                                fp8x2_to_f16x2<TA>(a8[fm][2] >> 16),
                                fp8x2_to_f16x2<TA>(a8[fm][3] >> 16)};
#pragma unroll
        for (int fn = 0; fn < kFragsN; ++fn) {
          const int n = (fm & 1) ? kFragsN - 1 - fn : fn;
          const unsigned b_lo[2] = {bh[n][0], bh[n][1]};
          const unsigned b_hi[2] = {bh[n][2], bh[n][3]};
          gemm::mma<__half>(acc[fm][n], lo, b_lo);
          gemm::mma<__half>(acc[fm][n], hi, b_hi);
        }
      }
    }
  }

  /// Writes acc * a_scale * b_scale(column) as f32 into the staging tile (row stride kLd).
  template <int kLd, class TScale, ScaleMode kMode>
  __device__ __forceinline__ static void stage(const Acc& acc, float* tile, const QGemmParams& p,
                                               RTX_STD::int64_t n0, int wm0, int wn0, int lane) {
    const int g = lane >> 2, t = lane & 3;
    const float sa = load_scale<TScale>(p.a_scale, 0);
    const float s_tensor = kMode == ScaleMode::kPerTensor ? sa * load_scale<TScale>(p.b_scale, 0)
                                                          : 0.0f;
#pragma unroll
    for (int fn = 0; fn < kFragsN; ++fn) {
      const int col = wn0 + fn * 8 + 2 * t;
      float s0 = s_tensor, s1 = s_tensor;
      if constexpr (kMode == ScaleMode::kPerColumn) {
        const RTX_STD::int64_t n = n0 + col;
        s0 = n < p.n ? sa * load_scale<TScale>(p.b_scale, n * p.b_scale_n_stride) : 0.0f;
        s1 = n + 1 < p.n ? sa * load_scale<TScale>(p.b_scale, (n + 1) * p.b_scale_n_stride) : 0.0f;
      }
#pragma unroll
      for (int fm = 0; fm < kFragsM; ++fm) {
        const int row = wm0 + fm * 16 + g;
        *reinterpret_cast<float2*>(tile + row * kLd + col) =
            make_float2(static_cast<float>(acc[fm][fn][0]) * s0,
                        static_cast<float>(acc[fm][fn][1]) * s1);
        *reinterpret_cast<float2*>(tile + (row + 8) * kLd + col) =
            make_float2(static_cast<float>(acc[fm][fn][2]) * s0,
                        static_cast<float>(acc[fm][fn][3]) * s1);
      }
    }
  }
};

/// Transposes a 4 x 4 block of bytes held as four words: byte j of r[i] becomes byte i of c[j]
/// (eight byte permutes).
__device__ __forceinline__ void transpose_4x4_bytes(const unsigned (&r)[4], unsigned (&c)[4]) {
  const unsigned t0 = __byte_perm(r[0], r[1], 0x5140);
  const unsigned t1 = __byte_perm(r[0], r[1], 0x7362);
  const unsigned t2 = __byte_perm(r[2], r[3], 0x5140);
  const unsigned t3 = __byte_perm(r[2], r[3], 0x7362);
  c[0] = __byte_perm(t0, t2, 0x5410);
  c[1] = __byte_perm(t0, t2, 0x7632);
  c[2] = __byte_perm(t1, t3, 0x5410);
  c[3] = __byte_perm(t1, t3, 0x7632);
}

/// Transposes a raw 8-bit B tile stored (K, N) (RawTile<BK, BN>) into the K-major tile the 8-bit
/// MMA reads (gemm::TileLayout<TB, BN, BK, true>): 4 x 4 byte blocks, four 32-bit loads, eight
/// byte permutes, four 32-bit stores. Lanes of a warp take 8 k-blocks x 4 n-blocks so both the
/// loads (raw swizzle) and the stores (tile swizzle) spread over the banks.
template <class TB, int BN, int BK, int kThreads>
__device__ __forceinline__ void transpose_bytes(unsigned raw, unsigned out) {
  using Raw = RawTile<BK, BN>;
  using Out = gemm::TileLayout<TB, BN, BK, true>;
  constexpr int kBlocksK = BK / 4;   // 32
  constexpr int kBlocksN = BN / 4;
  constexpr int kItems = kBlocksK * kBlocksN;
  static_assert(kItems % kThreads == 0 && kBlocksK % 8 == 0 && kBlocksN % 4 == 0,
                "rtx: transpose work must divide among threads");
  constexpr int kGroupsK = kBlocksK / 8;
#pragma unroll
  for (int it = 0; it < kItems / kThreads; ++it) {
    const int q = static_cast<int>(threadIdx.x) + it * kThreads;
    const int lane = q & 31, w = q >> 5;
    const int kb = (lane & 7) + 8 * (w % kGroupsK);
    const int nb = (lane >> 3) + 4 * (w / kGroupsK);
    unsigned r[4], c[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) r[i] = gemm::lds_u32(raw + Raw::offset(4 * kb + i, 4 * nb));
    transpose_4x4_bytes(r, c);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(out + Out::offset(4 * nb + j, 4 * kb)),
                   "r"(c[j]));
    }
  }
}

/// The multistage cp.async loop shared by the kernels: `load(stage, ktile)` issues the copies of
/// one k-tile, `step(stage, ktile)` consumes a landed one (it may convert and synchronise, as
/// long as every thread calls it). Ends with every copy landed and a barrier.
template <int kStages, class Load, class Step>
__device__ __forceinline__ void pipeline(int ktiles, const Load& load, const Step& step) {
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) load(s, s);
    gemm::cp_async_commit();
  }
  int read_stage = 0;
  int write_stage = kStages - 1;
  for (int kt = 0; kt < ktiles; ++kt) {
    gemm::cp_async_wait<kStages - 2>();
    __syncthreads();
    const int next = kt + kStages - 1;
    if (next < ktiles) load(write_stage, next);
    gemm::cp_async_commit();
    step(read_stage, kt);
    read_stage = read_stage + 1 == kStages ? 0 : read_stage + 1;
    write_stage = write_stage + 1 == kStages ? 0 : write_stage + 1;
  }
  gemm::cp_async_wait<0>();
  __syncthreads();
}

/// Shared memory of qgemm_mma (bytes).
template <class Shape, bool kBKMajor>
struct Smem8 {
  static constexpr int kStageA = Shape::BM * Shape::BK;
  static constexpr int kStageB = Shape::BN * Shape::BK;
  static constexpr int kConv = kBKMajor ? 0 : Shape::BN * Shape::BK;
  static constexpr int kPipeline = Shape::kStages * (kStageA + kStageB) + kConv;
  static constexpr int kLd = Shape::BN + 8;
  static constexpr int kEpilogue = Shape::BM * kLd * 4;
  static constexpr int kTotal = kPipeline > kEpilogue ? kPipeline : kEpilogue;
};

template <class TA, class TB, class TScale, class TMid, class TOut, class Shape, bool kBKMajor,
          int kVecA, int kVecB, class BQ, class Epi>
__global__ void __launch_bounds__(Shape::kThreads, 1)
    qgemm_mma(const __grid_constant__ QGemmParams p) {
  static_assert(QType<TA>::kBits == 8 && QType<TB>::kBits == 8, "rtx: qgemm_mma is 8-bit");
  static_assert(QType<TA>::kFloat == QType<TB>::kFloat, "rtx: integer x integer or fp8 x fp8");
  static_assert(BQ::kMode != ScaleMode::kBlocked && !BQ::kZero,
                "rtx: 8-bit x 8-bit folds per-tensor or per-column B scales without zero point");
  using W = Warp8<TA, TB, Shape>;
  using Smem = Smem8<Shape, kBKMajor>;
  using LoaderA = gemm::DenseLoader<TA, Shape::BM, Shape::BK, true, kVecA, Shape::kThreads>;
  using DirectB = gemm::DenseLoader<TB, Shape::BN, Shape::BK, true, kVecB, Shape::kThreads>;
  using RawB = RawTile<Shape::BK, Shape::BN>;
  using RawLoaderB = RawLoader<RawB, kVecB, Shape::kThreads>;
  extern __shared__ __align__(128) unsigned char smem[];

  const gemm::BlockTile<Shape, W::kWarpTileM, W::kWarpTileN> bt(p);
  const RTX_STD::int64_t m0 = bt.m0, n0 = bt.n0;
  const int wm0 = bt.wm0, wn0 = bt.wn0, lane = bt.lane, ktiles = bt.ktiles;
  const unsigned smem_a = gemm::smem_u32(smem);
  const unsigned smem_b = smem_a + Shape::kStages * Smem::kStageA;
  const unsigned conv = smem_b + Shape::kStages * Smem::kStageB;

  for (RTX_STD::int64_t z = blockIdx.z; z < p.batch_count; z += gridDim.z) {
    const QBatchOffsets off = batch_offsets(p, z);
    const TA* a = static_cast<const TA*>(p.a) + off.a;
    const TB* b = static_cast<const TB*>(p.b) + off.b;
    const LoaderA la{a + m0 * p.lda, p.lda, p.m - m0, p.k};
    const DirectB lb{b + n0 * p.ldb, p.ldb, p.n - n0, p.k};
    const RawLoaderB lr{reinterpret_cast<const unsigned char*>(b) + n0, p.ldb, p.n - n0};

    typename W::Acc acc;
    gemm::clear_accumulators(acc);

    const auto load = [&](int s, int kt) {
      const RTX_STD::int64_t k0 = static_cast<RTX_STD::int64_t>(kt) * Shape::BK;
      la.load(smem_a + s * Smem::kStageA, k0);
      if constexpr (kBKMajor) {
        lb.load(smem_b + s * Smem::kStageB, k0);
      } else {
        lr.load(smem_b + s * Smem::kStageB, k0, p.k - k0);
      }
    };
    const auto step = [&](int s, int) {
      unsigned tile_b = smem_b + s * Smem::kStageB;
      if constexpr (!kBKMajor) {
        transpose_bytes<TB, Shape::BN, Shape::BK, Shape::kThreads>(tile_b, conv);
        __syncthreads();
        tile_b = conv;
      }
      W::compute(acc, smem_a + s * Smem::kStageA, tile_b, wm0, wn0, lane);
    };
    pipeline<Shape::kStages>(ktiles, load, step);

    float* tile = reinterpret_cast<float*>(smem);
    W::template stage<Smem::kLd, TScale, BQ::kMode>(acc, tile, p, n0, wm0, wn0, lane);
    __syncthreads();
    store_tile<TScale, TMid, TOut, Epi, Shape::BM, Shape::BN, Shape::kThreads, Smem::kLd>(
        tile, p, off.d, m0, n0, static_cast<int>(threadIdx.x));
    __syncthreads();  // the next batch reuses shared memory
  }
}

// ---- weight-only -----------------------------------------------------------------------------------

/// Dequantizes raw B tiles into the 16-bit tile layout the GEMM family's warp MMA reads.
/// Each item is 8 consecutive output elements (one 16-byte store) along the stored row: along N
/// for B stored (K, N), along K for B stored (N, K). Elements outside the matrix become 0 (their
/// scales are never read).
template <class TA, class TB, class TScale, int BN, int BK, bool kBKMajor, class BQ, int kThreads>
struct Dequantizer {
  static constexpr int kBits = QType<TB>::kBits;
  static constexpr int kRows = kBKMajor ? BN : BK;                   // stored rows per tile
  static constexpr int kCols = kBKMajor ? BK : BN;                   // elements per stored row
  using Raw = RawTile<kRows, kCols * kBits / 8>;
  using Out = gemm::TileLayout<TA, BN, BK, kBKMajor>;
  static constexpr int kItemsPerRow = kCols / 8;
  static constexpr int kItems = kRows * kItemsPerRow;
  static_assert(kItems % kThreads == 0, "rtx: dequantization work must divide among threads");
  static_assert(kThreads % kItemsPerRow == 0, "rtx: each thread keeps one column of items");
  // With B stored (K, N), a thread's items all cover the same 8 columns: per-column scales and
  // zero points are read once per tile column instead of once per item.
  static constexpr bool kHoist = !kBKMajor && BQ::kMode == ScaleMode::kPerColumn;

  const QGemmParams& p;
  RTX_STD::int64_t n0;
  float scale[kHoist ? 8 : 1];
  float zero[kHoist ? 8 : 1];

  __device__ __forceinline__ Dequantizer(const QGemmParams& params, RTX_STD::int64_t n_begin)
      : p(params), n0(n_begin) {
    if constexpr (kHoist) {
      const int c = static_cast<int>(threadIdx.x) % kItemsPerRow;
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const RTX_STD::int64_t n = n0 + 8 * c + e;
        const RTX_STD::int64_t i = n * p.b_scale_n_stride;
        scale[e] = n < p.n ? load_scale<TScale>(p.b_scale, i) : 0.0f;
        zero[e] = 0.0f;
        if constexpr (BQ::kZero) {
          if (n < p.n) zero[e] = load_decode<TB>(p.b_zero, i);
        }
      }
    } else if constexpr (BQ::kMode == ScaleMode::kPerTensor) {
      scale[0] = load_scale<TScale>(p.b_scale, 0);
      zero[0] = 0.0f;
      if constexpr (BQ::kZero) zero[0] = load_decode<TB>(p.b_zero, 0);
    }
  }

  /// Index of the scale of element (k, n) (see params.cuh).
  __device__ __forceinline__ RTX_STD::int64_t scale_index(RTX_STD::int64_t k,
                                                          RTX_STD::int64_t n) const {
    if constexpr (BQ::kMode == ScaleMode::kPerTensor) {
      return 0;
    } else if constexpr (BQ::kMode == ScaleMode::kPerColumn) {
      return n * p.b_scale_n_stride;
    } else {
      // K < 2^31 (host): a 32-bit division is enough and much cheaper than a 64-bit one.
      const auto kb = static_cast<unsigned>(k) / static_cast<unsigned>(p.b_block);
      return static_cast<RTX_STD::int64_t>(kb) * p.b_scale_k_stride + n * p.b_scale_n_stride;
    }
  }

  /// Dequantizes the raw tile at `raw` (k-tile starting at k0) into `out`.
  __device__ __forceinline__ void run(unsigned raw, unsigned out, RTX_STD::int64_t k0) const {
    // Not unrolled: the MMA accumulators are live across this loop, and eight elements' scale
    // and zero-point loads per item are enough to keep the loads in flight.
#pragma unroll 1
    for (int it = 0; it < kItems / kThreads; ++it) {
      const int q = static_cast<int>(threadIdx.x) + it * kThreads;
      const int c = q % kItemsPerRow;
      const int r = q / kItemsPerRow;
      // Codes of the 8 elements.
      unsigned codes[8];
      if constexpr (kBits == 8) {
        const unsigned lo = gemm::lds_u32(raw + Raw::offset(r, 8 * c));
        const unsigned hi = gemm::lds_u32(raw + Raw::offset(r, 8 * c + 4));
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          codes[e] = (lo >> (8 * e)) & 0xFFu;
          codes[e + 4] = (hi >> (8 * e)) & 0xFFu;
        }
      } else {
        const unsigned w = gemm::lds_u32(raw + Raw::offset(r, 4 * c));
#pragma unroll
        for (int e = 0; e < 8; ++e) codes[e] = (w >> (4 * e)) & 0xFu;
      }
      alignas(16) TA v[8];
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const RTX_STD::int64_t k = kBKMajor ? k0 + 8 * c + e : k0 + r;
        const RTX_STD::int64_t n = kBKMajor ? n0 + r : n0 + 8 * c + e;
        float x = 0.0f;
        if (k < p.k && n < p.n) {
          float s, zp;
          if constexpr (kHoist) {
            s = scale[e];
            zp = zero[e];
          } else if constexpr (BQ::kMode == ScaleMode::kPerTensor) {
            s = scale[0];
            zp = zero[0];
          } else {
            const RTX_STD::int64_t i = scale_index(k, n);
            s = load_scale<TScale>(p.b_scale, i);
            zp = 0.0f;
            if constexpr (BQ::kZero) zp = load_decode<TB>(p.b_zero, i);
          }
          v[e] = dequantize<TA, TScale>(decode<TB>(codes[e]) - zp, s);
        } else {
          v[e] = cast<TA>(x);
        }
      }
      // The output tile's stored rows match the raw tile's: n (K-major) or k (N-major).
      const uint4 bits = *reinterpret_cast<const uint4*>(v);
      asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};\n" ::"r"(out + Out::offset(r, 8 * c)),
                   "r"(bits.x), "r"(bits.y), "r"(bits.z), "r"(bits.w));
    }
  }
};

/// Shared memory of qgemm_wo (bytes).
template <class TA, class TB, class Shape, bool kBKMajor>
struct SmemWo {
  static constexpr int kBits = QType<TB>::kBits;
  static constexpr int kStageA = Shape::BM * Shape::BK * static_cast<int>(sizeof(TA));
  static constexpr int kStageB = Shape::BN * Shape::BK * kBits / 8;
  static constexpr int kConv = Shape::BN * Shape::BK * static_cast<int>(sizeof(TA));
  static constexpr int kPipeline = Shape::kStages * (kStageA + kStageB) + kConv;
  static constexpr int kLd = Shape::BN + 8;
  static constexpr int kEpilogue = Shape::BM * kLd * 4;
  static constexpr int kTotal = kPipeline > kEpilogue ? kPipeline : kEpilogue;
};

template <class TA, class TB, class TScale, class TOut, class Shape, bool kBKMajor, int kVecA,
          int kVecB, class BQ, class Epi>
__global__ void __launch_bounds__(Shape::kThreads, 1)
    qgemm_wo(const __grid_constant__ QGemmParams p) {
  static_assert(kSame<TA, __half> || kSame<TA, __nv_bfloat16>, "rtx: weight-only A is f16/bf16");
  using Mma = gemm::WarpMma<TA, Shape, true, kBKMajor>;
  using Smem = SmemWo<TA, TB, Shape, kBKMajor>;
  using LoaderA = gemm::DenseLoader<TA, Shape::BM, Shape::BK, true, kVecA, Shape::kThreads>;
  using Deq = Dequantizer<TA, TB, TScale, Shape::BN, Shape::BK, kBKMajor, BQ, Shape::kThreads>;
  using RawLoaderB = RawLoader<typename Deq::Raw, kVecB, Shape::kThreads>;
  constexpr int kBits = QType<TB>::kBits;
  extern __shared__ __align__(128) unsigned char smem[];

  const gemm::BlockTile<Shape, Mma::kWarpTileM, Mma::kWarpTileN> bt(p);
  const RTX_STD::int64_t m0 = bt.m0, n0 = bt.n0;
  const int wm0 = bt.wm0, wn0 = bt.wn0, lane = bt.lane, ktiles = bt.ktiles;
  const unsigned smem_a = gemm::smem_u32(smem);
  const unsigned smem_b = smem_a + Shape::kStages * Smem::kStageA;
  const unsigned conv = smem_b + Shape::kStages * Smem::kStageB;
  const Deq deq(p, n0);
  // Raw B in bytes: rows of the stored matrix, (ldb * kBits / 8) bytes apart.
  const RTX_STD::int64_t ld_bytes = p.ldb * kBits / 8;

  for (RTX_STD::int64_t z = blockIdx.z; z < p.batch_count; z += gridDim.z) {
    const QBatchOffsets off = batch_offsets(p, z);
    const TA* a = static_cast<const TA*>(p.a) + off.a;
    const unsigned char* b = static_cast<const unsigned char*>(p.b) + off.b * kBits / 8;
    const LoaderA la{a + m0 * p.lda, p.lda, p.m - m0, p.k};
    typename Mma::Acc acc;
    gemm::clear_accumulators(acc);

    const auto load = [&](int s, int kt) {
      const RTX_STD::int64_t k0 = static_cast<RTX_STD::int64_t>(kt) * Shape::BK;
      la.load(smem_a + s * Smem::kStageA, k0);
      if constexpr (kBKMajor) {
        // Stored rows are n; the k-tile is a window of bytes of each row.
        const RawLoaderB lr{b + n0 * ld_bytes + k0 * kBits / 8, ld_bytes, (p.k - k0) * kBits / 8};
        lr.load(smem_b + s * Smem::kStageB, 0, p.n - n0);
      } else {
        // Stored rows are k; the tile's columns start at byte n0 * kBits / 8 of each row.
        const RawLoaderB lr{b + n0 * kBits / 8, ld_bytes, (p.n - n0) * kBits / 8};
        lr.load(smem_b + s * Smem::kStageB, k0, p.k - k0);
      }
    };
    const auto step = [&](int s, int kt) {
      deq.run(smem_b + s * Smem::kStageB, conv, static_cast<RTX_STD::int64_t>(kt) * Shape::BK);
      __syncthreads();
      Mma::compute(acc, smem_a + s * Smem::kStageA, conv, wm0, wn0, lane);
    };
    pipeline<Shape::kStages>(ktiles, load, step);

    float* tile = reinterpret_cast<float*>(smem);
    Mma::template stage_accumulators<Smem::kLd>(acc, tile, wm0, wn0, lane, 1.0f);
    __syncthreads();
    store_tile<TScale, TA, TOut, Epi, Shape::BM, Shape::BN, Shape::kThreads, Smem::kLd>(
        tile, p, off.d, m0, n0, static_cast<int>(threadIdx.x));
    __syncthreads();
  }
}

}  // namespace rtx::kernels::qgemm
