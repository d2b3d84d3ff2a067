// SPDX-License-Identifier: Apache-2.0
// Pattern fusion: recognises the decomposed subgraphs exporters emit for LayerNormalization,
// GELU (erf and tanh forms), RMSNorm, SiLU and scaled-dot-product attention, and replaces each by
// the one fused IR op. A match requires every inner value to have no other consumer and every
// constant (eps, 0.5, sqrt(2), the attention scale...) to be a constant scalar of the expected
// value, so a rewrite never changes what the graph computes beyond rounding (the fused op rounds
// once where the chain rounded at each step).
#pragma once

#include "ir/graph.hpp"
#include "ir/passes.hpp"

namespace rtx::ir {

/// x * sigmoid(x) -> Silu.
void fuse_silu(Graph& graph, const PassOptions& options);
/// x * 0.5 * (1 + erf(x / sqrt 2)) -> Gelu; 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) ->
/// Gelu(approximate="tanh").
void fuse_gelu(Graph& graph, const PassOptions& options);
/// ReduceMean / Sub / Pow / ReduceMean / Add / Sqrt / Div [/ Mul / Add] -> LayerNormalization.
void fuse_layer_norm(Graph& graph, const PassOptions& options);
/// x / sqrt(mean(x^2) + eps) * g  (or x * reciprocal(sqrt(...)) * g) -> RMSNormalization.
void fuse_rms_norm(Graph& graph, const PassOptions& options);
/// MatMul(Q, K^T) * scale [+ mask] -> Softmax -> MatMul(., V) -> Attention.
void fuse_attention(Graph& graph, const PassOptions& options);
/// All of the above, in an order where earlier fusions do not hide later ones.
void fuse_patterns(Graph& graph, const PassOptions& options);

}  // namespace rtx::ir
