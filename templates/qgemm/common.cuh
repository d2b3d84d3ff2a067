// SPDX-License-Identifier: Apache-2.0
// Building blocks shared by the quantized GEMM kernels (qgemm/qgemm_sm80.cuh, qgemm_sm90.cuh):
// the quantized element types (8-bit CUDA types plus tags for the packed 4-bit ones), exact
// decoding of stored elements, DequantizeLinear of one element with the reference evaluator's
// rounding, the byte-tile loader for raw (not yet dequantized) operand tiles, and the epilogue
// pass that takes staged f32 values to the output: bias, activation, rounding to the MatMul's
// dtype and the optional QuantizeLinear.
//
// Exactness (the reference evaluator computes DequantizeLinear exactly and rounds once to its
// output type, ir/ops/quantization.cpp): (x - zero_point) has at most 9 significant bits and a
// 16-bit scale at most 11, so their product is exact in f32 and a single rounding to the output
// type reproduces the reference bit for bit; with an f32 scale the product may need 33 bits, so
// it is formed in double (exact) and rounded once to a 16-bit output, or rounded once to f32 by
// an IEEE multiply.
//
// Contract
//   Tags: rtx::kernels::qgemm::Int4, UInt4, Fp4E2M1 (two elements per byte, low nibble first,
//   as ONNX and rtx::HostTensor pack them). 8-bit elements use signed char, unsigned char,
//   __nv_fp8_e4m3 and __nv_fp8_e5m2.
//   BQuant<ScaleMode, kZero>, QEpilogue<Activation, BiasMode, kQuant, kSaturate>: compile-time
//   descriptions passed to the kernels. Name-expression forms:
//     rtx::kernels::qgemm::BQuant<(rtx::kernels::qgemm::ScaleMode)1, false>
//     rtx::kernels::qgemm::QEpilogue<(rtx::kernels::gemm::Activation)1,
//                                    (rtx::kernels::qgemm::BiasMode)1, true, true>
//   store_tile(): all threads of the block, after a barrier that follows the last write of the
//   staged tile; reads shared memory and the epilogue operands only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "common/convert.cuh"
#include "common/math.cuh"
#include "gemm/epilogue.cuh"
#include "gemm/mma_core.cuh"
#include "qgemm/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::qgemm {

// ---- element types ------------------------------------------------------------------------------

/// Packed signed 4-bit integers (ONNX INT4).
struct Int4 {};
/// Packed unsigned 4-bit integers (ONNX UINT4).
struct UInt4 {};
/// Packed fp4 e2m1 (OCP MX FP4: no infinities or NaNs, max 6).
struct Fp4E2M1 {};

template <class T>
struct QType;
template <>
struct QType<signed char> {
  static constexpr int kBits = 8;
  static constexpr bool kFloat = false;
};
template <>
struct QType<unsigned char> {
  static constexpr int kBits = 8;
  static constexpr bool kFloat = false;
};
template <>
struct QType<__nv_fp8_e4m3> {
  static constexpr int kBits = 8;
  static constexpr bool kFloat = true;
};
template <>
struct QType<__nv_fp8_e5m2> {
  static constexpr int kBits = 8;
  static constexpr bool kFloat = true;
};
template <>
struct QType<Int4> {
  static constexpr int kBits = 4;
  static constexpr bool kFloat = false;
};
template <>
struct QType<UInt4> {
  static constexpr int kBits = 4;
  static constexpr bool kFloat = false;
};
template <>
struct QType<Fp4E2M1> {
  static constexpr int kBits = 4;
  static constexpr bool kFloat = true;
};

/// Exact value of one stored element: `code` is the byte (8-bit types) or the nibble (4-bit).
template <class T>
__device__ __forceinline__ float decode(unsigned code) {
  if constexpr (kSame<T, signed char>) {
    return static_cast<float>(static_cast<int>(static_cast<signed char>(code)));
  } else if constexpr (kSame<T, unsigned char>) {
    return static_cast<float>(code & 0xFFu);
  } else if constexpr (kSame<T, __nv_fp8_e4m3> || kSame<T, __nv_fp8_e5m2>) {
    // Every fp8 value (NaN included) is exact in f16.
    const __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(code & 0xFFu),
                                                 kFp8Kind<T>);
    return __half2float(__half(h));
  } else if constexpr (kSame<T, Int4>) {
    return static_cast<float>(static_cast<int>(code << 28) >> 28);
  } else if constexpr (kSame<T, UInt4>) {
    return static_cast<float>(code & 0xFu);
  } else {
    static_assert(kSame<T, Fp4E2M1>, "rtx: decode<T>: not a quantized element type");
    // e2m1: bit 3 sign, bits 2..1 exponent (bias 1), bit 0 mantissa.
    const unsigned m = code & 7u;
    const float mag = m < 2 ? 0.5f * static_cast<float>(m)
                            : static_cast<float>(2 + (m & 1)) * static_cast<float>(1 << ((m >> 1) - 1)) * 0.5f;
    return (code & 8u) ? -mag : mag;
  }
}

/// The element at flat index `i` of a tensor of T stored at `base`, decoded exactly.
template <class T>
__device__ __forceinline__ float load_decode(const void* base, RTX_STD::int64_t i) {
  const unsigned char* bytes = static_cast<const unsigned char*>(base);
  if constexpr (QType<T>::kBits == 4) {
    const unsigned b = __ldg(bytes + (i >> 1));
    return decode<T>((i & 1) ? (b >> 4) : (b & 0xFu));
  } else {
    return decode<T>(__ldg(bytes + i));
  }
}

/// A scale (f32, f16 or bf16 storage) at index i, as float (exact).
template <class TScale>
__device__ __forceinline__ float load_scale(const void* base, RTX_STD::int64_t i) {
  return rtx::kernels::to_float(static_cast<const TScale*>(base)[i]);
}

/// DequantizeLinear of one element: (x - zero_point) * scale rounded once to TOut (see the file
/// comment). `centered` = x - zero_point (exact in f32), `scale` exact in f32.
template <class TOut, class TScale>
__device__ __forceinline__ TOut dequantize(float centered, float scale) {
  if constexpr (kSame<TScale, float> && !kSame<TOut, float>) {
    return cast<TOut>(static_cast<double>(centered) * static_cast<double>(scale));
  } else {
    return cast<TOut>(__fmul_rn(centered, scale));
  }
}

// ---- compile-time descriptions -------------------------------------------------------------------

/// B's quantization: scale granularity and whether a zero point is read.
template <ScaleMode kMode_, bool kZero_>
struct BQuant {
  static constexpr ScaleMode kMode = kMode_;
  static constexpr bool kZero = kZero_;
};

/// The epilogue after the dequantized product: + bias, activation, then either the MatMul's own
/// dtype or a QuantizeLinear (kQuant) with ONNX's `saturate` (fp8 outputs only).
template <gemm::Activation kAct_, BiasMode kBias_, bool kQuant_, bool kSaturate_>
struct QEpilogue {
  static constexpr gemm::Activation kAct = kAct_;
  static constexpr BiasMode kBias = kBias_;
  static constexpr bool kQuant = kQuant_;
  static constexpr bool kSaturate = kSaturate_;
};

// ---- raw byte tiles ------------------------------------------------------------------------------

/// Geometry of a raw tile of kRows rows of kRowBytes bytes, stored dense; 16-byte chunk c of row
/// r lives at chunk c ^ ((r >> 2) & (kChunks - 1)) (kChunks = chunks per row, at most 8 used),
/// which keeps the 4-row transposing reads of the 8-bit conversion free of bank conflicts.
template <int kRows_, int kRowBytes_>
struct RawTile {
  static constexpr int kRows = kRows_;
  static constexpr int kRowBytes = kRowBytes_;
  static constexpr int kChunks = kRowBytes / 16;
  static constexpr int kMask = (kChunks >= 8 ? 8 : kChunks) - 1;
  static constexpr int kStageBytes = kRows * kRowBytes;
  static_assert(kRowBytes % 16 == 0 && (kChunks & (kChunks - 1)) == 0,
                "rtx: raw tile rows must be a power-of-two number of 16-byte chunks");
  /// Byte offset of byte `col` of row `row`.
  __device__ __forceinline__ static unsigned offset(int row, int col) {
    const int chunk = (col >> 4) ^ ((row >> 2) & kMask);
    return static_cast<unsigned>(row * kRowBytes + (chunk << 4) + (col & 15));
  }
};

/// Copies one raw tile with cp.async, kVecBytes (4, 8 or 16) per copy; bytes past `bytes_valid`
/// in each row and rows past `rows_left` are zero-filled. `base` is the byte of stored row 0 at
/// the tile's first column, `ld` the stored row stride in bytes; both (and so every copy's
/// source) are multiples of kVecBytes (host: can_implement).
template <class Tile, int kVecBytes, int kThreads>
struct RawLoader {
  static constexpr int kVecsPerRow = Tile::kRowBytes / kVecBytes;
  static constexpr int kVecs = Tile::kRows * kVecsPerRow;
  static constexpr int kPerThread = (kVecs + kThreads - 1) / kThreads;
  static_assert(kVecBytes == 4 || kVecBytes == 8 || kVecBytes == 16, "rtx: cp.async vectors");
  static_assert(Tile::kRowBytes % kVecBytes == 0, "rtx: vector must divide the raw row");

  const unsigned char* base;
  RTX_STD::int64_t ld;           // bytes between stored rows
  RTX_STD::int64_t bytes_valid;  // bytes of each row inside the matrix (from the tile's start)

  /// Copies stored rows row0 .. row0 + kRows - 1 (those below rows_left) into `stage`.
  __device__ __forceinline__ void load(unsigned stage, RTX_STD::int64_t row0,
                                       RTX_STD::int64_t rows_left) const {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      const int v = static_cast<int>(threadIdx.x) + i * kThreads;
      if (kVecs % kThreads != 0 && v >= kVecs) break;
      const int row = v / kVecsPerRow;
      const int col = (v % kVecsPerRow) * kVecBytes;
      const RTX_STD::int64_t limit = bytes_valid - col;
      const bool ok = row < rows_left && limit > 0;
      const unsigned char* src = ok ? base + (row0 + row) * ld + col : base;
      const int bytes = ok ? static_cast<int>(limit < kVecBytes ? limit : kVecBytes) : 0;
      gemm::cp_async<kVecBytes>(stage + Tile::offset(row, col), src, bytes);
    }
  }
};

// ---- epilogue -------------------------------------------------------------------------------------

/// `v` rounded to T and widened back to float (what the unfused graph stores between ops).
template <class T>
__device__ __forceinline__ float round_to(float v) {
  if constexpr (kSame<T, float>) {
    return v;
  } else {
    return rtx::kernels::to_float(cast<T>(v));
  }
}

/// a + b rounded once to T (the reference adds exactly and rounds once): an IEEE f32 add for f32;
/// for 16-bit T the sum of two T values is exact in double, then rounded once.
template <class T>
__device__ __forceinline__ float add_round(float a, float b) {
  if constexpr (kSame<T, float>) {
    return __fadd_rn(a, b);
  } else {
    return rtx::kernels::to_float(cast<T>(static_cast<double>(a) + static_cast<double>(b)));
  }
}

/// alpha * x + beta * c rounded once to T (ONNX Gemm): the products are exact in double and the
/// sum rounds only when the terms are more than 2^53 apart.
template <class T>
__device__ __forceinline__ float axpby_round(float alpha, float x, float beta, float c) {
  const double s = static_cast<double>(alpha) * static_cast<double>(x) +
                   static_cast<double>(beta) * static_cast<double>(c);
  return rtx::kernels::to_float(cast<T>(s));
}

/// QuantizeLinear of one value with the reference's rounding: v / scale rounded once to the
/// precision TScale (common/math.cuh), then round half to even, + zero point, saturate (integer
/// outputs; NaN gives the zero point) or a cast with `saturate` (fp8). The quotient is a TScale
/// value, so float arithmetic from there on is exact: no double math in the epilogue loop.
/// `inv_scale` != 0 when the scale is an f32 power of two whose reciprocal is a normal number:
/// then v * inv_scale is exactly the correctly rounded quotient, and the division (about ten
/// instructions per element) is skipped.
template <class TOut, class TScale, bool kSaturate>
__device__ __forceinline__ TOut requantize(float v, TScale scale, float inv_scale,
                                           long long zero_point) {
  const float q = inv_scale != 0.0f ? v * inv_scale
                                    : static_cast<float>(quantize_divide<TScale>(v, scale));
  if constexpr (kIsInt<TOut>) {
    // Beyond +-1024 every 8-bit result saturates whatever the zero point: clamping first keeps
    // the conversion and the addition exact.
    const float r = q != q ? 0.0f : fminf(fmaxf(rintf(q), -1024.0f), 1024.0f);
    long long i = static_cast<long long>(static_cast<int>(r)) + zero_point;
    if (i < IntRange<TOut>::kLo) i = IntRange<TOut>::kLo;
    if (i > IntRange<TOut>::kHi) i = IntRange<TOut>::kHi;
    return static_cast<TOut>(i);
  } else {
    return cast<TOut, kSaturate>(q);
  }
}

/// The end of the quantized epilogue, shared by the GEMM and the convolution: a value v already
/// rounded to TMid (bias added) becomes round(act(v)) for an activation, then either v as TOut
/// (== TMid) or QuantizeLinear(v, y_scale, y_zero) into TOut. The requantization constants are
/// read once, when the stage is made.
template <class TScale, class TMid, class TOut, class Epi>
struct OutputStage {
  [[maybe_unused]] TScale y_scale{};
  [[maybe_unused]] float y_inv = 0.0f;  // 1 / y_scale when that multiplies exactly (requantize)
  [[maybe_unused]] long long y_zero = 0;

  __device__ __forceinline__ OutputStage(const void* y_scale_ptr, const void* y_zero_ptr) {
    if constexpr (Epi::kQuant) {
      y_scale = *static_cast<const TScale*>(y_scale_ptr);
      if constexpr (kSame<TScale, float>) {
        const float inv = 1.0f / y_scale;
        const auto normal_pow2 = [](float f) {
          const unsigned bits = __float_as_uint(f) & 0x7FFFFFFFu;
          return (bits & 0x7FFFFFu) == 0 && bits >= 0x00800000u && bits < 0x7F800000u;
        };
        if (normal_pow2(y_scale) && normal_pow2(inv)) y_inv = inv;
      }
      if constexpr (kIsInt<TOut>) {
        if (y_zero_ptr != nullptr) y_zero = static_cast<long long>(*static_cast<const TOut*>(y_zero_ptr));
      }
    }
  }

  __device__ __forceinline__ TOut operator()(float v) const {
    if constexpr (Epi::kAct != gemm::Activation::kNone) {
      v = round_to<TMid>(gemm::activate<Epi::kAct>(v));
    }
    if constexpr (Epi::kQuant) {
      return requantize<TOut, TScale, Epi::kSaturate>(v, y_scale, y_inv, y_zero);
    } else {
      return cast<TOut>(v);
    }
  }
};

/// Stores kVec outputs at dst: one 16-byte store when all are inside the row (`valid` >= kVec)
/// and dst is aligned, element stores of the first `valid` otherwise.
template <class TOut, int kVec>
__device__ __forceinline__ void store_piece(TOut* dst, const TOut (&out)[kVec], RTX_STD::int64_t valid) {
  static_assert(kVec * sizeof(TOut) == 16, "rtx: a piece is 16 bytes");
  if (valid >= kVec && (reinterpret_cast<RTX_STD::uintptr_t>(dst) % 16) == 0) {
    *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(out);
  } else {
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      if (e < valid) dst[e] = out[e];
    }
  }
}

/// Writes the (kRows x kCols) tile of staged f32 values in shared memory (`tile`, row stride
/// kLd floats) to D at (m0, n0). Staged value s of column n becomes
///   kAdd:   v = round(round(alpha * s) + bias[n]);   kGemmC: v = round(alpha * s + beta * C[n]);
///   none:   v = round(alpha * s)
/// (round = to the mid type TMid), then v = round(act(v)) for an activation, then either v
/// stored as TOut (== TMid) or QuantizeLinear(v, y_scale, y_zero) into TOut. Threads take
/// consecutive kVec-column pieces of each row, so global stores are 16-byte and coalesced.
template <class TScale, class TMid, class TOut, class Epi, int kRows, int kCols, int kThreads,
          int kLd>
__device__ __forceinline__ void store_tile(const float* tile, const QGemmParams& p,
                                           RTX_STD::int64_t d_offset, RTX_STD::int64_t m0,
                                           RTX_STD::int64_t n0, int tid) {
  constexpr int kVec = 16 / static_cast<int>(sizeof(TOut));  // one 16-byte store
  constexpr int kPiecesPerRow = kCols / kVec;
  static_assert(kCols % kVec == 0 && kThreads % kPiecesPerRow == 0, "rtx: tile/thread mismatch");
  static_assert(Epi::kQuant || kSame<TMid, TOut>, "rtx: without a Q the output is the mid type");
  constexpr int kRowsPerPass = kThreads / kPiecesPerRow;
  const int piece = tid % kPiecesPerRow;
  const int row0 = tid / kPiecesPerRow;
  TOut* d = static_cast<TOut*>(p.d) + d_offset;
  const RTX_STD::int64_t col = n0 + piece * kVec;
  if (col >= p.n) return;  // no barrier follows: threads may leave early

  // Per-column bias and the requantization constants are the same for every row of the piece.
  float bias[kVec];
#pragma unroll
  for (int e = 0; e < kVec; ++e) {
    bias[e] = 0.0f;
    if constexpr (Epi::kBias != BiasMode::kNone) {
      if (col + e < p.n) bias[e] = rtx::kernels::to_float(static_cast<const TMid*>(p.bias)[col + e]);
    }
  }
  const OutputStage<TScale, TMid, TOut, Epi> finish(p.y_scale, p.y_zero);

  for (int r = row0; r < kRows; r += kRowsPerPass) {
    const RTX_STD::int64_t row = m0 + r;
    if (row >= p.m) break;
    const float* src = tile + r * kLd + piece * kVec;
    alignas(16) TOut out[kVec];
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      float v = src[e];
      if constexpr (Epi::kBias == BiasMode::kAdd) {
        v = add_round<TMid>(round_to<TMid>(p.alpha * v), bias[e]);
      } else if constexpr (Epi::kBias == BiasMode::kGemmC) {
        v = axpby_round<TMid>(p.alpha, v, p.beta, bias[e]);
      } else {
        v = round_to<TMid>(p.alpha * v);
      }
      out[e] = finish(v);
    }
    store_piece<TOut, kVec>(d + row * p.ldd + col, out, p.n - col);
  }
}

}  // namespace rtx::kernels::qgemm
