// SPDX-License-Identifier: Apache-2.0
// Convolution as an implicit GEMM on tensor cores (sm_80 and newer): the mma.sync main loop and
// fused epilogue of the GEMM family (gemm/mma_core.cuh, gemm/epilogue.cuh) with an operand loader
// that gathers the im2col matrix straight from the activations, so no im2col buffer exists.
// Handles 1-D, 2-D and 3-D convolutions, strides, pads (implicit zeros), dilations and groups.
//
//   NHWC: A = im2col (rows = output positions, K-major, copies of kVecA channels: C / G, C and
//         the group offset must be multiples of kVecA), B = OHWI weights (K-major dense).
//         The fast path: 16-byte cp.async copies when C / G is a multiple of 8 (16-bit) or 4.
//   NCHW: A = OIHW weights (K-major dense), B = im2col (rows = K, columns = output positions
//         of one image). 16-bit: quads of 4 positions read as two words where consecutive in x
//         (conv/im2col_quad.cuh), element by element at borders and other strides; f32: one
//         cp.async per element. Correct for every shape; 1x1 stride-1 unpadded NCHW
//         convolutions are plain batched GEMMs (the host plans them onto the GEMM kernel).
//
// Contract
//   template parameters:
//     TIn, TOut  as for gemm_mma (f16/bf16 with f32 accumulation, f32 inputs through tf32)
//     Shape      gemm::TileShape<BM, BN, BK, kStages, WM, WN>
//     kLayout    (rtx::kernels::conv::Layout)0 (NCHW) or 1 (NHWC)
//     kVecA      NHWC: channels per im2col copy; NCHW: weight copy vector (divides K)
//     kVecB      NHWC: weight copy vector (divides K); NCHW: 1
//     Epi        gemm::Epilogue<act, bias (per column for NHWC, per row for NCHW), false, res>
//   block shape: Shape::kThreads threads; grid as for gemm_mma over the GEMM view (z = group for
//                NHWC, image * G + group for NCHW)
//   shared:      gemm::SharedBytes<TIn, Shape, true, kLayout == NHWC>::kTotal bytes (dynamic)
//   name expression:
//     rtx::kernels::conv::conv_implicit_gemm<__half, __half, rtx::kernels::gemm::TileShape<128,
//       128, 64, 4, 2, 4>, (rtx::kernels::conv::Layout)1, 8, 8, rtx::kernels::gemm::Epilogue<
//       (rtx::kernels::gemm::Activation)1, (rtx::kernels::gemm::BiasMode)1, false, false>>
#pragma once

#include "conv/im2col_quad.cuh"
#include "conv/params.cuh"
#include "gemm/epilogue.cuh"
#include "gemm/mma_core.cuh"
#include "gemm/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::conv {

/// NHWC im2col operand (GEMM A, K-major): row = output position, k = (t, r, s, c). Each thread
/// copies one fixed kVec-channel column of several rows; the rows' input coordinates are worked
/// out once per block, the k decomposition once per k-tile.
template <class T, int kBM, int kBK, int kVec, int kThreads>
struct Im2colNhwcLoader {
  using Layout = gemm::TileLayout<T, kBM, kBK, true>;
  static constexpr int kVecBytes = kVec * static_cast<int>(sizeof(T));
  static constexpr int kVecsPerRow = kBK / kVec;
  static_assert(kThreads % kVecsPerRow == 0, "rtx: threads must cover whole tile rows");
  static constexpr int kRowsPerPass = kThreads / kVecsPerRow;
  static_assert(kBM % kRowsPerPass == 0, "rtx: tile rows must divide among passes");
  static constexpr int kPerThread = kBM / kRowsPerPass;
  static constexpr int kInvalid = -(1 << 29);  // an input coordinate that fails every bounds test

  const T* x;  // this group's first channel
  const ConvParams* cp;
  int nd[kPerThread];  // n * D of each row
  int id0[kPerThread], ih0[kPerThread], iw0[kPerThread];

  __device__ __forceinline__ Im2colNhwcLoader(const T* x_group, const ConvParams& params,
                                              RTX_STD::int64_t m0)
      : x(x_group), cp(&params) {
    const int row0 = static_cast<int>(threadIdx.x) / kVecsPerRow;
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      const RTX_STD::int64_t pos = m0 + row0 + i * kRowsPerPass;
      if (pos < params.gemm.m) {
        unsigned rest = static_cast<unsigned>(pos), ow, oh, od;
        rest = params.div_out_w.divmod(rest, ow);
        rest = params.div_out_h.divmod(rest, oh);
        const unsigned n = params.div_out_d.divmod(rest, od);
        nd[i] = static_cast<int>(n) * params.in_d;
        id0[i] = static_cast<int>(od) * params.stride_d - params.pad_d;
        ih0[i] = static_cast<int>(oh) * params.stride_h - params.pad_h;
        iw0[i] = static_cast<int>(ow) * params.stride_w - params.pad_w;
      } else {
        nd[i] = 0;
        id0[i] = ih0[i] = iw0[i] = kInvalid;
      }
    }
  }

  __device__ __forceinline__ void load(unsigned stage, RTX_STD::int64_t k0) const {
    const ConvParams& p = *cp;
    const int vcol = (static_cast<int>(threadIdx.x) % kVecsPerRow) * kVec;
    const int row0 = static_cast<int>(threadIdx.x) / kVecsPerRow;
    const RTX_STD::int64_t k = k0 + vcol;
    const bool k_ok = k < p.gemm.k;
    unsigned c = 0, s = 0, r = 0, t = 0;
    if (k_ok) {
      unsigned rest = p.div_cg.divmod(static_cast<unsigned>(k), c);
      rest = p.div_s.divmod(rest, s);
      t = p.div_r.divmod(rest, r);
    }
    const int dz = static_cast<int>(t) * p.dil_d;
    const int dy = static_cast<int>(r) * p.dil_h;
    const int dx = static_cast<int>(s) * p.dil_w;
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      const int id = id0[i] + dz, ih = ih0[i] + dy, iw = iw0[i] + dx;
      const bool ok =
          k_ok && id >= 0 && id < p.in_d && ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w;
      const RTX_STD::int64_t pixel =
          (static_cast<RTX_STD::int64_t>(nd[i] + id) * p.in_h + ih) * p.in_w + iw;
      const T* src = ok ? x + pixel * p.channels + c : x;
      const unsigned dst = stage + Layout::offset(row0 + i * kRowsPerPass, vcol);
      if constexpr (kVecBytes >= 4) {
        gemm::cp_async<kVecBytes>(dst, src, ok ? kVecBytes : 0);
      } else {
        const unsigned short bits = ok ? *reinterpret_cast<const unsigned short*>(src) : 0;
        gemm::sts_u16(dst, bits);
      }
    }
  }
};

/// NCHW im2col operand of 4-byte elements (GEMM B, MN-major: stored rows = k, columns = output
/// positions of one image), k = (c, t, r, s). Each thread owns one column (its position decoded
/// once) and walks its rows of the k-tile, stepping the (c, t, r, s) counters instead of
/// dividing; one cp.async per element.
template <class T, int kBN, int kBK, int kThreads>
struct Im2colNchwLoader {
  static_assert(sizeof(T) == 4, "rtx: 16-bit elements take Im2colNchw16Loader");
  using Layout = gemm::TileLayout<T, kBN, kBK, false>;
  static_assert(kThreads % kBN == 0, "rtx: threads must be a multiple of BN");
  static constexpr int kRowsPerPass = kThreads / kBN;
  static_assert(kBK % kRowsPerPass == 0, "rtx: k-tile rows must divide among passes");
  static constexpr int kPerThread = kBK / kRowsPerPass;

  const T* x;  // this image's and group's first channel
  const ConvParams* cp;
  int id0, ih0, iw0;  // window origin (window_origin)

  __device__ __forceinline__ Im2colNchwLoader(const T* x_image_group, const ConvParams& params,
                                              RTX_STD::int64_t n0)
      : x(x_image_group), cp(&params) {
    conv::window_origin(params, n0 + static_cast<int>(threadIdx.x) % kBN, id0, ih0, iw0);
  }

  __device__ __forceinline__ void load(unsigned stage, RTX_STD::int64_t k0) const {
    const ConvParams& p = *cp;
    const int col = static_cast<int>(threadIdx.x) % kBN;
    const int row0 = static_cast<int>(threadIdx.x) / kBN;
    // (c, t, r, s) of this thread's first row, then stepped by kRowsPerPass.
    RTX_STD::int64_t k = k0 + row0;
    TapCounter tap(p, k);
    // The offset of the element at the tap (0 with ok false when it is padding or past K),
    // then the tap stepped by kRowsPerPass.
    const auto next = [&](bool& ok) {
      const int id = id0 + tap.dz(p), ih = ih0 + tap.dy(p), iw = iw0 + tap.dx(p);
      ok = k < p.gemm.k && id >= 0 && id < p.in_d && ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w;
      const RTX_STD::int64_t off =
          ok ? ((static_cast<RTX_STD::int64_t>(tap.c) * p.in_d + id) * p.in_h + ih) * p.in_w + iw : 0;
      k += kRowsPerPass;
      tap.advance(p, kRowsPerPass);
      return off;
    };
    // 4-byte elements: one asynchronous copy per element, issued as its offset is known.
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      bool ok;
      const RTX_STD::int64_t off = next(ok);
      gemm::cp_async<4>(stage + Layout::offset(row0 + i * kRowsPerPass, col), x + off, ok ? 4 : 0);
    }
  }
};

/// NCHW im2col operand of 16-bit elements (GEMM B, MN-major: stored rows = k, columns = output
/// positions of one image), k = (c, t, r, s). A thread owns a quad of 4 consecutive positions
/// (QuadWindow) and a run of kPer consecutive k rows of the k-tile; per k it reads the quad's 4
/// elements as two words where they are consecutive in x (conv/im2col_quad.cuh) and one by one
/// elsewhere (padding, strides, quads across rows), and stores them with one 8-byte shared
/// store. Consecutive lanes take consecutive quads, so a warp reads one k row's 256 bytes.
template <class T, int kBN, int kBK, int kThreads>
struct Im2colNchw16Loader {
  static_assert(sizeof(T) == 2, "rtx: 16-bit elements");
  using Layout = gemm::TileLayout<T, kBN, kBK, false>;
  static constexpr int kQuads = kBN / 4;
  static_assert(kBN % 4 == 0 && kThreads % kQuads == 0, "rtx: threads must cover whole quad rows of BN");
  static constexpr int kRuns = kThreads / kQuads;  // threads per quad
  static_assert(kBK % kRuns == 0, "rtx: k-tile rows must divide among a quad's threads");
  static constexpr int kPer = kBK / kRuns;  // consecutive k rows per thread

  const unsigned short* x;  // this image's and group's first channel
  const ConvParams* cp;
  int quad, run;
  QuadWindow<2> window;

  __device__ __forceinline__ Im2colNchw16Loader(const T* x_image_group, const ConvParams& params,
                                                RTX_STD::int64_t n0)
      : x(reinterpret_cast<const unsigned short*>(x_image_group)),
        cp(&params),
        quad(static_cast<int>(threadIdx.x) % kQuads),
        run(static_cast<int>(threadIdx.x) / kQuads),
        window(x_image_group, params, static_cast<int>(n0) + 4 * quad) {}

  __device__ __forceinline__ void load(unsigned stage, RTX_STD::int64_t k0) const {
    const ConvParams& p = *cp;
    const int row0 = run * kPer;
    RTX_STD::int64_t k = k0 + row0;
    TapCounter tap(p, k);  // the run's first k, then stepped
#pragma unroll 4
    for (int i = 0; i < kPer; ++i) {
      unsigned w[2] = {0u, 0u};  // the quad's 4 elements, position 0 in the low half of w[0]
      if (k < p.gemm.k) {
        const int c = static_cast<int>(tap.c), dz = tap.dz(p), dy = tap.dy(p), dx = tap.dx(p);
        RTX_STD::uintptr_t a;
        if (window.run_address(c, dz, dy, dx, a)) {
          load_words<2>(a, w);
        } else {
          int off[4];
#pragma unroll
          for (int j = 0; j < 4; ++j) off[j] = window.offset(p, j, c, dz, dy, dx);
          unsigned e[4];
#pragma unroll
          for (int j = 0; j < 4; ++j) e[j] = off[j] >= 0 ? static_cast<unsigned>(__ldg(x + off[j])) : 0u;
          w[0] = e[0] | (e[1] << 16);
          w[1] = e[2] | (e[3] << 16);
        }
      }
      asm volatile("st.shared.v2.b32 [%0], {%1, %2};\n" ::"r"(stage + Layout::offset(row0 + i, 4 * quad)),
                   "r"(w[0]), "r"(w[1]));
      ++k;
      tap.step(p);
    }
  }
};

template <class TIn, class TOut, class Shape, Layout kLayout, int kVecA, int kVecB, class Epi>
__global__ void __launch_bounds__(Shape::kThreads, 1)
    conv_implicit_gemm(const __grid_constant__ ConvParams cp) {
  constexpr bool kNhwc = kLayout == Layout::kNHWC;
  using Mma = gemm::WarpMma<TIn, Shape, true, kNhwc>;
  using Smem = gemm::SharedBytes<TIn, Shape, true, kNhwc>;
  using LoaderA = typename RTX_STD::conditional<
      kNhwc, Im2colNhwcLoader<TIn, Shape::BM, Shape::BK, kVecA, Shape::kThreads>,
      gemm::DenseLoader<TIn, Shape::BM, Shape::BK, true, kVecA, Shape::kThreads>>::type;
  using Im2colB = typename RTX_STD::conditional<sizeof(TIn) == 2,
                                                 Im2colNchw16Loader<TIn, Shape::BN, Shape::BK, Shape::kThreads>,
                                                 Im2colNchwLoader<TIn, Shape::BN, Shape::BK, Shape::kThreads>>::type;
  using LoaderB = typename RTX_STD::conditional<
      kNhwc, gemm::DenseLoader<TIn, Shape::BN, Shape::BK, true, kVecB, Shape::kThreads>, Im2colB>::type;
  extern __shared__ __align__(128) unsigned char smem[];
  const gemm::GemmParams& p = cp.gemm;

  const gemm::BlockTile<Shape, Mma::kWarpTileM, Mma::kWarpTileN> bt(p);
  const RTX_STD::int64_t m0 = bt.m0, n0 = bt.n0;
  const int wm0 = bt.wm0, wn0 = bt.wn0, lane = bt.lane, ktiles = bt.ktiles;
  const TIn* x = static_cast<const TIn*>(cp.x);
  const TIn* w = static_cast<const TIn*>(cp.w);

  for (RTX_STD::int64_t z = blockIdx.z; z < p.batch_count; z += gridDim.z) {
    const gemm::BatchOffsets off = gemm::batch_offsets(p, z);
    typename Mma::Acc acc;
    gemm::clear_accumulators(acc);
    if constexpr (kNhwc) {
      // a = group channel offset into x; b = group's weight rows.
      const LoaderA la(x + off.a, cp, m0);
      const LoaderB lb{w + off.b + n0 * p.ldb, p.ldb, p.n - n0, p.k};
      gemm::mainloop<TIn, Shape>(acc, la, lb, ktiles, gemm::smem_u32(smem), wm0, wn0, lane);
    } else {
      // a = group's weight rows; b = image-and-group offset into x.
      const LoaderA la{w + off.a + m0 * p.lda, p.lda, p.m - m0, p.k};
      const LoaderB lb(x + off.b, cp, n0);
      gemm::mainloop<TIn, Shape>(acc, la, lb, ktiles, gemm::smem_u32(smem), wm0, wn0, lane);
    }
    float* tile = reinterpret_cast<float*>(smem);
    Mma::template stage_accumulators<Smem::kEpilogueLd>(acc, tile, wm0, wn0, lane, p.alpha);
    __syncthreads();
    gemm::store_tile<TIn, TOut, Epi, Shape::BM, Shape::BN, Shape::kThreads, Smem::kEpilogueLd>(
        tile, p, off, m0, n0, static_cast<int>(threadIdx.x));
    __syncthreads();
  }
}

}  // namespace rtx::kernels::conv
