// SPDX-License-Identifier: Apache-2.0
// Device helpers shared by the attention kernels (attention/flash_sm80.cuh and
// attention/generic.cuh): element conversions for __half / __nv_bfloat16 and the score transform
// (scale, softcap, attn_mask) in base-2 units. Plain CUDA C++, no inline PTX (that lives in
// attention/mma_sm80.cuh).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "attention/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::attention {

inline constexpr float kLog2e = 1.4426950408889634f;

/// -infinity (NVRTC has no <cmath> INFINITY macro).
__device__ __forceinline__ float neg_inf() {
  return __int_as_float(0xff800000u);
}

// ---- element types ------------------------------------------------------------------------------

template <class T>
struct Element;

template <>
struct Element<float> {  // f32 attention: the generic kernel only (the flash kernel is f16/bf16)
  __device__ __forceinline__ static float to_float(float x) { return x; }
  __device__ __forceinline__ static float from_float(float x) { return x; }
};

template <>
struct Element<__half> {
  __device__ __forceinline__ static float to_float(__half x) { return __half2float(x); }
  __device__ __forceinline__ static __half from_float(float x) { return __float2half_rn(x); }
  /// Two floats rounded to a packed pair (lower address = `lo`).
  __device__ __forceinline__ static unsigned pack(float lo, float hi) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const unsigned*>(&h);
  }
};

template <>
struct Element<__nv_bfloat16> {
  __device__ __forceinline__ static float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
  __device__ __forceinline__ static __nv_bfloat16 from_float(float x) {
    return __float2bfloat16_rn(x);
  }
  __device__ __forceinline__ static unsigned pack(float lo, float hi) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const unsigned*>(&h);
  }
};

// ---- scores -------------------------------------------------------------------------------------

/// Scaled (and soft-capped) score in base-2 units: log2(e) * x for x = scale * dot, or
/// log2(e) * softcap * tanh(scale * dot / softcap). exp2 of differences of these equals exp of
/// the natural differences, so the softmax is unchanged.
__device__ __forceinline__ float scaled_score(const AttentionParams& p, float dot) {
  if (p.softcap > 0.0f) return p.softcap_log2 * tanhf(dot * p.scale_over_softcap);
  return dot * p.scale_log2;
}

/// The attn_mask term of element (row `mask_row`, key j) in base-2 units: 0 or -inf for a bool
/// mask, log2(e) * value for an additive one; -inf past the mask's last dim. Only called when
/// the launch has a mask (p.mask_kind != kNone); the kind is a uniform run-time branch, so one
/// compiled kernel serves every mask kind.
template <class T>
__device__ __forceinline__ float mask_term(const AttentionParams& p, const unsigned char* mask_row,
                                           RTX_STD::int64_t j) {
  if (j >= p.mask_len) return neg_inf();
  const RTX_STD::int64_t at = j * p.mask_stride[3];
  if (p.mask_kind == static_cast<int>(MaskKind::kBool)) return mask_row[at] != 0 ? 0.0f : neg_inf();
  return kLog2e * Element<T>::to_float(reinterpret_cast<const T*>(mask_row)[at]);
}

/// Address of mask element (b, h, i, 0); nullptr without a mask.
template <class T>
__device__ __forceinline__ const unsigned char* mask_row(const AttentionParams& p,
                                                         RTX_STD::int64_t b, RTX_STD::int64_t h,
                                                         RTX_STD::int64_t i) {
  if (p.mask_kind == static_cast<int>(MaskKind::kNone)) return nullptr;
  const RTX_STD::int64_t element = p.mask_kind == static_cast<int>(MaskKind::kBool)
                                       ? 1
                                       : static_cast<RTX_STD::int64_t>(sizeof(T));
  return static_cast<const unsigned char*>(p.mask) +
         (b * p.mask_stride[0] + h * p.mask_stride[1] + i * p.mask_stride[2]) * element;
}

/// 1 / (softmax denominator) for the final rescale: a row that saw no unmasked key gives NaN
/// (the reference's 0/0), except that an empty key sequence gives an all-zero output.
__device__ __forceinline__ float inverse_sum(const AttentionParams& p, float sum) {
  if (sum > 0.0f) return 1.0f / sum;
  return p.kv_seq == 0 ? 0.0f : __int_as_float(0x7fc00000);
}

}  // namespace rtx::kernels::attention
