// SPDX-License-Identifier: Apache-2.0
// Run-time parameters of the attention family (fused scaled-dot-product attention, the IR's
// `Attention` op, ONNX opset 23). Compiled by the host compiler, nvcc and NVRTC alike (only
// rtx/config.hpp is included), so the host fills exactly the bytes the kernels read. Trivially
// copyable, passed by value as the kernels' only parameter.
//
// The problem, for batch b, query head h (KV head h / group), query row i < q_seq:
//   x_ij = scale * <Q_i, K_j>                         j < kv_seq
//   x_ij = softcap * tanh(x_ij / softcap)             when softcap > 0
//   x_ij += mask(b, h, i, j)                          additive mask; bool mask: false -> -inf;
//                                                     j >= mask_len -> -inf (ONNX pads a short
//                                                     mask)
//   x_ij = -inf                                       when causal and j > i + causal_offset
//   Y_i  = sum_j softmax_j(x_i) V_j                   a row with every x = -inf gives NaN (as the
//                                                     reference does); kv_seq == 0 gives 0
// Tensors are addressed through element strides for (batch, head, seq); the last dim (head_dim or
// v_head_dim) is contiguous. That covers the 4-D (B, H, S, D) and 3-D (B, S, H * D) layouts alike.
#pragma once

#include "rtx/config.hpp"

namespace rtx::kernels::attention {

/// The kind of attn_mask input, a run-time choice (AttentionParams::mask_kind). The numeric values
/// are part of the parameter block: never renumber.
enum class MaskKind : int {
  kNone = 0,      ///< no attn_mask input
  kBool = 1,      ///< bool elements (one byte, 0 = masked out)
  kAdditive = 2,  ///< elements of Q's dtype, added to the scaled scores
};

/// Everything an attention launch needs at run time; shapes are run-time values, so a new shape
/// never needs a recompile. Strides are in elements.
struct AttentionParams {
  const void* q;     ///< queries, element type T
  const void* k;     ///< keys, T
  const void* v;     ///< values, T
  const void* mask;  ///< attn_mask (bool bytes or T, see mask_kind), or nullptr
  void* y;           ///< output, T

  RTX_STD::int64_t batch;
  RTX_STD::int64_t q_heads;
  RTX_STD::int64_t kv_heads;
  RTX_STD::int64_t group;  ///< q_heads / kv_heads: query head h reads KV head h / group
  RTX_STD::int64_t q_seq;
  RTX_STD::int64_t kv_seq;
  RTX_STD::int64_t head_dim;    ///< D of Q and K
  RTX_STD::int64_t v_head_dim;  ///< Dv of V and Y

  RTX_STD::int64_t q_stride[3];  ///< (batch, head, seq)
  RTX_STD::int64_t k_stride[3];
  RTX_STD::int64_t v_stride[3];
  RTX_STD::int64_t y_stride[3];
  RTX_STD::int64_t mask_stride[4];  ///< (batch, head, query, key); 0 = broadcast
  RTX_STD::int64_t mask_len;        ///< keys j >= mask_len are masked out
  RTX_STD::int64_t causal_offset;   ///< causal: query i sees keys j <= i + causal_offset

  RTX_STD::int64_t m_blocks;   ///< flash kernel: ceil(q_seq / block_m) query tiles per (b, h)
  RTX_STD::int32_t causal;     ///< 0 or 1
  RTX_STD::int32_t mask_kind;  ///< a MaskKind value
  float scale;                 ///< multiplies Q.K (natural units)
  float scale_log2;            ///< scale * log2(e): the kernels run the softmax in base 2
  float softcap;               ///< 0: none
  float softcap_log2;          ///< softcap * log2(e)
  float scale_over_softcap;    ///< scale / softcap (0 without softcap): saves a division per score
};

}  // namespace rtx::kernels::attention
