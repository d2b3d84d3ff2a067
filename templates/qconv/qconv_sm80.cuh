// SPDX-License-Identifier: Apache-2.0
// Quantized (int8) convolution as an implicit GEMM on tensor cores with mma.sync (sm_80 and
// newer; the same kernel runs on sm_90): the folded form of
//     [Q](act(Conv(DQ(x), DQ(W)) [+ B]))
// with int8/uint8 x and W, per-tensor x scale, per-tensor or per-output-channel W scale and no
// zero points (ir/quant_passes.hpp). It is the quantized GEMM's 8-bit main loop
// (qgemm/qgemm_sm80.cuh: Warp8 fragments and m16n8k32 s32 MMAs, the multistage cp.async
// pipeline, gemm::DenseLoader for the weights) with an im2col operand loader in the place of
// the activations, and the quantized GEMM's epilogue arithmetic (qgemm/common.cuh: rounding to
// the Conv's dtype, activation, requantization) applied per output channel.
//
// Layout: NCHW, the layout the engine keeps activations in (the float convolution is planned in
// NCHW too, so no transposes are needed around the step). GEMM view per (image, group):
//   A = W as stored, OIHW: (M / G) rows of K = (C / G) * T * R * S bytes, K-major; dense
//       cp.async copies of kVecW bytes (K must be a multiple of kVecW: the host plans 4, 8 or 16).
//   B = im2col of x: columns = output positions of the image, K in (c, t, r, s) order. The
//       8-bit MMA takes B K-major; a thread loads 4 consecutive positions of one k as one word
//       (two aligned loads and a funnel shift where the bytes are consecutive in x: stride 1
//       along W inside the image, or 1x1 unpadded stride-1 convolutions; byte by byte at
//       borders and other strides), transposes 4 x 4 blocks in registers and stores 4 k-bytes
//       per position at once. No cp.async: padding and k >= K read as 0. Pointwise
//       convolutions (1x1, stride 1, no padding; kVecX != 0) copy x's channel rows raw with
//       cp.async and transpose the tile in shared memory, as qgemm_mma does for MN-major B.
//   D = y, NCHW: rows = output channels (row stride = positions), written as TOut.
// Exactness: the s32 sums are exact (the host bounds K * max|x * w| below 2^31); the staged
// value is float(acc) * (x_scale * w_scale[m]) as in qgemm_mma; with Conv's bias B the value
// and the bias are added in double and rounded once to TMid, as the reference's Conv does.
//
// Contract
//   template parameters:
//     TW, TX     signed char / unsigned char: weights and activations
//     TScale     float, __half or __nv_bfloat16 (x_scale, w_scale, y_scale)
//     TMid       float, __half or __nv_bfloat16: the Conv's dtype (and B's)
//     TOut       TMid, or signed char / unsigned char when Epi::kQuant
//     Shape      gemm::TileShape<BM, BN, 128, kStages, WM, WN>; BN a multiple of 32, the warps
//                covering whole rows of BN / 32 warps, whole runs of 4-k blocks per thread
//     kVecW      bytes per weight copy (4, 8 or 16): K and the weights' address are multiples
//     kVecX      0: the im2col gather (any geometry); 4, 8 or 16: a pointwise convolution (1x1,
//                stride 1, no padding) whose x rows are copied raw, kVecX bytes per cp.async
//                (the plane and x's address are multiples), and transposed in shared memory
//     kPerChannel  W's scale: true per output channel (M values), false one value
//     Epi        qgemm::QEpilogue<Activation, BiasMode kNone or kGemmC (Conv's B: one rounding
//                with the product), kQuant, kSaturate>
//   block shape: Shape::kThreads threads (x only)
//   grid:        x = tiles_m * tiles_n, z = min(N * G, 65535) (blocks loop over the rest)
//   shared:      qgemm::Smem8<Shape, kVecX == 0>::kTotal bytes (dynamic): the A and B stages
//                (pointwise: plus one transposed B tile), at least the f32 staging tile
//                BM x (BN + 8)
//   name expression:
//     rtx::kernels::qconv::qconv_mma<signed char, signed char, float, __half, signed char,
//       rtx::kernels::gemm::TileShape<128, 128, 128, 4, 2, 4>, 16, 0, true,
//       rtx::kernels::qgemm::QEpilogue<(rtx::kernels::gemm::Activation)1,
//       (rtx::kernels::qgemm::BiasMode)2, true, true>>
#pragma once

#include "conv/im2col_quad.cuh"
#include "conv/params.cuh"
#include "gemm/mma_core.cuh"
#include "qconv/params.cuh"
#include "qgemm/common.cuh"
#include "qgemm/qgemm_sm80.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::qconv {

/// NCHW im2col of 8-bit activations into a K-major tile (rows = output positions, kBK bytes of k
/// each). A thread owns a quad of 4 consecutive positions and a run of kPer 4-k blocks; it loads
/// each k's 4 position bytes as one word, transposes each 4 x 4 block in registers and stores
/// each position's 4 k-bytes with one 32-bit shared store. Where the quad's 4 positions are
/// consecutive input bytes (stride 1 along W, one output row, inside the image; or a 1x1
/// unpadded stride-1 convolution, where positions are the input plane's) the word is one or two
/// aligned loads; elsewhere (borders, strides, a quad across rows) it is gathered byte by byte.
/// Lanes of a warp take 8 quads x 4 runs, so each k of a load instruction reads 32 consecutive
/// bytes.
template <int kBN, int kBK, int kThreads>
struct Im2colNchw8Loader {
  using Layout = gemm::TileLayout<signed char, kBN, kBK, true>;
  static constexpr int kQuads = kBN / 4;
  static constexpr int kWarpCols = kQuads / 8;  // warps side by side along the positions
  static_assert(kQuads % 8 == 0 && kThreads % (32 * kWarpCols) == 0,
                "rtx: BN must be a multiple of 32 and the warps must cover whole quad rows");
  static constexpr int kRuns = kThreads / kQuads;  // threads per quad
  static constexpr int kBlocks = kBK / 4;          // 4-k blocks per k-tile
  static_assert(kBlocks % kRuns == 0, "rtx: a k-tile's blocks must divide among a quad's threads");
  static constexpr int kPer = kBlocks / kRuns;  // consecutive blocks per thread

  const unsigned char* x;  // this image's and group's first channel
  const conv::ConvParams* cp;
  int quad, run;
  conv::QuadWindow<1> window;

  __device__ __forceinline__ Im2colNchw8Loader(const unsigned char* x_image_group,
                                               const conv::ConvParams& params, RTX_STD::int64_t n0)
      : x(x_image_group),
        cp(&params),
        quad((static_cast<int>(threadIdx.x) & 7) + 8 * ((static_cast<int>(threadIdx.x) >> 5) % kWarpCols)),
        run(((static_cast<int>(threadIdx.x) >> 3) & 3) + 4 * ((static_cast<int>(threadIdx.x) >> 5) / kWarpCols)),
        window(x_image_group, params, static_cast<int>(n0) + 4 * quad) {}

  /// The 4 positions' bytes at the tap's channel and kernel offset, byte j = position j.
  __device__ __forceinline__ unsigned gather(const conv::TapCounter& tap) const {
    const conv::ConvParams& p = *cp;
    const int c = static_cast<int>(tap.c), dz = tap.dz(p), dy = tap.dy(p), dx = tap.dx(p);
    RTX_STD::uintptr_t a;
    if (window.run_address(c, dz, dy, dx, a)) {
      unsigned word[1];
      conv::load_words<1>(a, word);
      return word[0];
    }
    int off[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) off[j] = window.offset(p, j, c, dz, dy, dx);
    unsigned word = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j) word |= (off[j] >= 0 ? static_cast<unsigned>(__ldg(x + off[j])) : 0u) << (8 * j);
    return word;
  }

  __device__ __forceinline__ void load(unsigned stage, RTX_STD::int64_t k0) const {
    const conv::ConvParams& p = *cp;
    const int block0 = run * kPer;
    RTX_STD::int64_t k = k0 + 4 * block0;
    // K is a multiple of 4 (the host plans it so): a block lies wholly inside or past K.
    conv::TapCounter tap(p, k);
    // One block at a time (not unrolled: the gather is long and the image stays small).
#pragma unroll 1
    for (int b = 0; b < kPer; ++b) {
      unsigned rows[4], cols[4];  // 4 position bytes of one k; 4 k-bytes of one position
      const bool inside = k < p.gemm.k;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        rows[i] = inside ? gather(tap) : 0u;
        tap.step(p);
      }
      qgemm::transpose_4x4_bytes(rows, cols);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(stage + Layout::offset(4 * quad + j, 4 * (block0 + b))),
                     "r"(cols[j]));
      }
      k += 4;
    }
  }
};

/// The pointwise operand (1x1, stride 1, no padding: the im2col matrix is x itself, rows =
/// channels, columns = the plane's positions): the k-tile's channel rows copied raw with
/// cp.async of kVecX bytes (qgemm::RawLoader; the plane and the slice start are multiples of
/// kVecX), transposed to K-major in shared memory by the kernel's step (qgemm::transpose_bytes).
template <class Shape, int kVecX>
struct PointwiseLoader {
  using Raw = qgemm::RawTile<Shape::BK, Shape::BN>;
  qgemm::RawLoader<Raw, kVecX, Shape::kThreads> raw;
  RTX_STD::int64_t k;  // channels of the group (the GEMM's K)

  __device__ __forceinline__ PointwiseLoader(const unsigned char* x_image_group, const conv::ConvParams& p,
                                             RTX_STD::int64_t n0)
      : raw{x_image_group + n0, static_cast<RTX_STD::int64_t>(p.in_d) * p.in_h * p.in_w, p.gemm.n - n0},
        k(p.gemm.k) {}

  __device__ __forceinline__ void load(unsigned stage, RTX_STD::int64_t k0) const { raw.load(stage, k0, k - k0); }
};

/// Writes acc * x_scale * w_scale(row) as f32 into the staging tile (row stride kLd floats);
/// `channel0` is the output channel of tile row 0, `rows_left` the rows inside the group.
template <class Warp, int kLd, class TScale, bool kPerChannel>
__device__ __forceinline__ void stage_rows(const typename Warp::Acc& acc, float* tile,
                                           const QConvParams& qp, RTX_STD::int64_t channel0,
                                           RTX_STD::int64_t rows_left, int wm0, int wn0, int lane) {
  const int g = lane >> 2, t = lane & 3;
  const float sx = qgemm::load_scale<TScale>(qp.x_scale, 0);
  const float s_tensor = kPerChannel ? 0.0f : sx * qgemm::load_scale<TScale>(qp.w_scale, 0);
#pragma unroll
  for (int fm = 0; fm < Warp::kFragsM; ++fm) {
    const int row = wm0 + fm * 16 + g;
    float s0 = s_tensor, s1 = s_tensor;
    if constexpr (kPerChannel) {
      s0 = row < rows_left ? sx * qgemm::load_scale<TScale>(qp.w_scale, channel0 + row) : 0.0f;
      s1 = row + 8 < rows_left ? sx * qgemm::load_scale<TScale>(qp.w_scale, channel0 + row + 8) : 0.0f;
    }
#pragma unroll
    for (int fn = 0; fn < Warp::kFragsN; ++fn) {
      const int col = wn0 + fn * 8 + 2 * t;
      *reinterpret_cast<float2*>(tile + row * kLd + col) =
          make_float2(static_cast<float>(acc[fm][fn][0]) * s0, static_cast<float>(acc[fm][fn][1]) * s0);
      *reinterpret_cast<float2*>(tile + (row + 8) * kLd + col) =
          make_float2(static_cast<float>(acc[fm][fn][2]) * s1, static_cast<float>(acc[fm][fn][3]) * s1);
    }
  }
}

/// The epilogue of qgemm::store_tile with the bias per row (output channel): staged value s of
/// row m becomes v = round(s + B[m]) (one rounding, double sum) or round(s), then
/// round(act(v)), then v as TOut or QuantizeLinear(v, y_scale, y_zero). 16-byte stores along
/// the positions where the row is aligned, element stores otherwise.
template <class TScale, class TMid, class TOut, class Epi, int kRows, int kCols, int kThreads, int kLd>
__device__ __forceinline__ void store_rows(const float* tile, const QConvParams& qp,
                                           RTX_STD::int64_t d_offset, RTX_STD::int64_t m0,
                                           RTX_STD::int64_t n0, RTX_STD::int64_t channel0, int tid) {
  constexpr int kVec = 16 / static_cast<int>(sizeof(TOut));
  constexpr int kPiecesPerRow = kCols / kVec;
  static_assert(kCols % kVec == 0 && kThreads % kPiecesPerRow == 0, "rtx: tile/thread mismatch");
  static_assert(Epi::kQuant || kSame<TMid, TOut>, "rtx: without a Q the output is the mid type");
  static_assert(Epi::kBias != qgemm::BiasMode::kAdd, "rtx: Conv's bias is added with one rounding (kGemmC)");
  constexpr int kRowsPerPass = kThreads / kPiecesPerRow;
  const gemm::GemmParams& p = qp.conv.gemm;
  const int piece = tid % kPiecesPerRow;
  const int row0 = tid / kPiecesPerRow;
  TOut* d = static_cast<TOut*>(p.d) + d_offset;
  const RTX_STD::int64_t col = n0 + piece * kVec;
  if (col >= p.n) return;  // no barrier follows: threads may leave early

  const qgemm::OutputStage<TScale, TMid, TOut, Epi> finish(qp.y_scale, qp.y_zero);

  for (int r = row0; r < kRows; r += kRowsPerPass) {
    const RTX_STD::int64_t row = m0 + r;
    if (row >= p.m) break;
    float bias = 0.0f;
    if constexpr (Epi::kBias != qgemm::BiasMode::kNone) {
      bias = rtx::kernels::to_float(static_cast<const TMid*>(qp.bias)[channel0 + r]);
    }
    const float* src = tile + r * kLd + piece * kVec;
    alignas(16) TOut out[kVec];
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      float v = src[e];
      if constexpr (Epi::kBias != qgemm::BiasMode::kNone) {
        v = qgemm::axpby_round<TMid>(1.0f, v, 1.0f, bias);
      } else {
        v = qgemm::round_to<TMid>(v);
      }
      out[e] = finish(v);
    }
    qgemm::store_piece<TOut, kVec>(d + row * p.ldd + col, out, p.n - col);
  }
}

template <class TW, class TX, class TScale, class TMid, class TOut, class Shape, int kVecW, int kVecX,
          bool kPerChannel, class Epi>
__global__ void __launch_bounds__(Shape::kThreads, 1)
    qconv_mma(const __grid_constant__ QConvParams qp) {
  static_assert(kIsInt<TW> && kIsInt<TX> && sizeof(TW) == 1 && sizeof(TX) == 1,
                "rtx: qconv_mma multiplies int8/uint8 weights and activations");
  constexpr bool kPointwise = kVecX != 0;
  using W = qgemm::Warp8<TW, TX, Shape>;
  using Smem = qgemm::Smem8<Shape, !kPointwise>;  // pointwise: plus the transposed B tile
  using LoaderA = gemm::DenseLoader<TW, Shape::BM, Shape::BK, true, kVecW, Shape::kThreads>;
  using LoaderB = typename RTX_STD::conditional<kPointwise, PointwiseLoader<Shape, kVecX>,
                                                Im2colNchw8Loader<Shape::BN, Shape::BK, Shape::kThreads>>::type;
  extern __shared__ __align__(128) unsigned char smem[];
  const gemm::GemmParams& p = qp.conv.gemm;

  const gemm::BlockTile<Shape, W::kWarpTileM, W::kWarpTileN> bt(p);
  const RTX_STD::int64_t m0 = bt.m0, n0 = bt.n0;
  const int wm0 = bt.wm0, wn0 = bt.wn0, lane = bt.lane, ktiles = bt.ktiles;
  const unsigned smem_a = gemm::smem_u32(smem);
  const unsigned smem_b = smem_a + Shape::kStages * Smem::kStageA;
  const unsigned transposed = smem_b + Shape::kStages * Smem::kStageB;  // pointwise only
  const TW* w = static_cast<const TW*>(qp.conv.w);
  const unsigned char* x = static_cast<const unsigned char*>(qp.conv.x);

  for (RTX_STD::int64_t z = blockIdx.z; z < p.batch_count; z += gridDim.z) {
    // a: the group's weight rows; b: the image's and group's first input channel; d: output;
    // bias: the group's first output channel (for scales and B).
    const gemm::BatchOffsets off = gemm::batch_offsets(p, z);
    const LoaderA la{w + off.a + m0 * p.lda, p.lda, p.m - m0, p.k};
    const LoaderB lb(x + off.b, qp.conv, n0);

    typename W::Acc acc;
    gemm::clear_accumulators(acc);

    const auto load = [&](int s, int kt) {
      const RTX_STD::int64_t k0 = static_cast<RTX_STD::int64_t>(kt) * Shape::BK;
      la.load(smem_a + s * Smem::kStageA, k0);
      lb.load(smem_b + s * Smem::kStageB, k0);
    };
    const auto step = [&](int s, int) {
      unsigned tile_b = smem_b + s * Smem::kStageB;
      if constexpr (kPointwise) {
        // The pipeline's barrier before each step keeps the previous step's reads of
        // `transposed` ahead of this overwrite (as in qgemm_mma's MN-major B).
        qgemm::transpose_bytes<TX, Shape::BN, Shape::BK, Shape::kThreads>(tile_b, transposed);
        __syncthreads();
        tile_b = transposed;
      }
      W::compute(acc, smem_a + s * Smem::kStageA, tile_b, wm0, wn0, lane);
    };
    qgemm::pipeline<Shape::kStages>(ktiles, load, step);

    float* tile = reinterpret_cast<float*>(smem);
    stage_rows<W, Smem::kLd, TScale, kPerChannel>(acc, tile, qp, off.bias + m0, p.m - m0, wm0, wn0, lane);
    __syncthreads();
    store_rows<TScale, TMid, TOut, Epi, Shape::BM, Shape::BN, Shape::kThreads, Smem::kLd>(
        tile, qp, off.d, m0, n0, off.bias + m0, static_cast<int>(threadIdx.x));
    __syncthreads();  // the next batch index reuses shared memory
  }
}

}  // namespace rtx::kernels::qconv
