// SPDX-License-Identifier: Apache-2.0
// Small networks shared by the builder/runtime unit tests and the GPU suite: an MLP, a CNN and a
// transformer block, built with the typed front end from deterministic pseudo-random weights (a
// portable generator, so every machine builds the same engines). Each has a dynamic batch bounded
// by a profile.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rtx/rtx.hpp"

namespace rtx::test {

/// SplitMix64 in [-scale, scale): the same numbers on every compiler and library.
class Pseudo {
 public:
  explicit Pseudo(uint64_t seed) : s_(seed) {}
  double next(double scale = 1.0) {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (static_cast<double>(z >> 11) / 9007199254740992.0 * 2.0 - 1.0) * scale;
  }
  /// Values center + [-scale, scale).
  HostTensor tensor(DataType dtype, std::vector<int64_t> shape, double scale = 1.0, double center = 0.0) {
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    std::vector<double> v(static_cast<size_t>(count));
    for (auto& x : v) x = center + next(scale);
    return HostTensor::from_doubles(dtype, std::move(shape), v);
  }

 private:
  uint64_t s_;
};

/// x (batch, in) -> linear+relu (hidden) -> linear (out): two GEMMs with fused bias and relu.
/// Batch profile [1, 64], opt 8.
template <class T>
Network make_mlp(int64_t in = 64, int64_t hidden = 128, int64_t out = 16, uint64_t seed = 1) {
  Pseudo rng(seed);
  const DataType dt = T::value;
  Network net;
  auto x = net.input<T>("x", {dynamic, in});
  net.set_profile("x", {1, in}, {8, in}, {64, in});
  auto w1 = net.weight<T, 2>("fc1.weight", rng.tensor(dt, {hidden, in}, 1.0 / std::sqrt(double(in))));
  auto b1 = net.weight<T, 1>("fc1.bias", rng.tensor(dt, {hidden}, 0.1));
  auto w2 = net.weight<T, 2>("fc2.weight", rng.tensor(dt, {out, hidden}, 1.0 / std::sqrt(double(hidden))));
  auto b2 = net.weight<T, 1>("fc2.bias", rng.tensor(dt, {out}, 0.1));
  auto h = relu(linear(x, w1, b1));
  net.output(linear(h, w2, b2), "y");
  return net;
}

/// x (batch, 3, 16, 16) -> conv 3x3 (8) + relu -> maxpool 2 -> conv 3x3 (16) + relu ->
/// global average pool -> flatten -> linear (10). Batch profile [1, 8], opt 2.
template <class T>
Network make_cnn(uint64_t seed = 2) {
  Pseudo rng(seed);
  const DataType dt = T::value;
  Network net;
  auto x = net.input<T>("x", {dynamic, 3, 16, 16});
  net.set_profile("x", {1, 3, 16, 16}, {2, 3, 16, 16}, {8, 3, 16, 16});
  auto c1w = net.weight<T, 4>("conv1.weight", rng.tensor(dt, {8, 3, 3, 3}, 0.3));
  auto c1b = net.weight<T, 1>("conv1.bias", rng.tensor(dt, {8}, 0.1));
  auto c2w = net.weight<T, 4>("conv2.weight", rng.tensor(dt, {16, 8, 3, 3}, 0.15));
  auto c2b = net.weight<T, 1>("conv2.bias", rng.tensor(dt, {16}, 0.1));
  auto fw = net.weight<T, 2>("fc.weight", rng.tensor(dt, {10, 16}, 0.25));
  auto fb = net.weight<T, 1>("fc.bias", rng.tensor(dt, {10}, 0.1));
  ConvOptions same;
  same.pads = {1, 1, 1, 1};
  auto h = relu(conv2d(x, c1w, c1b, same));
  PoolOptions pool;
  pool.kernel = {2, 2};
  pool.strides = {2, 2};
  h = max_pool(h, pool);
  h = relu(conv2d(h, c2w, c2b, same));
  auto f = flatten(global_avg_pool(h), 1);
  net.output(linear(f, fw, fb), "logits");
  return net;
}

/// The block both transformer models share, on x (batch, seq, dim): layer norm -> q, k, v
/// projections -> attention (3-D layout) -> output projection + residual -> layer norm -> MLP
/// (gelu) + residual. `proj(name, input, in_features, out_features, bias, activation_scale)`
/// makes one projection (the scale is what a quantized projection quantizes its input with:
/// layer-norm outputs lie within about +-4, attention and gelu outputs within about +-2).
template <class X, class LN, class Proj>
X transformer_block_body(const X& x, const LN& ln1s, const LN& ln1b, const LN& ln2s, const LN& ln2b, int64_t dim,
                         int64_t heads, const Proj& proj) {
  auto h = layer_norm(x, ln1s, ln1b);
  AttentionOptions ao;
  ao.q_num_heads = heads;
  ao.kv_num_heads = heads;
  auto q = proj("attn.q", h, dim, dim, false, 4.0 / 127);
  auto k = proj("attn.k", h, dim, dim, false, 4.0 / 127);
  auto v = proj("attn.v", h, dim, dim, false, 4.0 / 127);
  auto a = attention(q, k, v, ao);
  auto x1 = add(proj("attn.out", a, dim, dim, true, 2.0 / 127), x);
  auto h2 = layer_norm(x1, ln2s, ln2b);
  auto m = gelu(proj("mlp.fc1", h2, dim, 2 * dim, true, 4.0 / 127));
  return add(proj("mlp.fc2", m, 2 * dim, dim, true, 2.0 / 127), x1);
}

/// One pre-norm transformer block on x (batch, seq, dim) with `heads` heads of dim / heads:
/// layer norm -> q, k, v projections -> attention (3-D layout) -> output projection + residual ->
/// layer norm -> MLP (gelu) + residual. Batch profile [1, 4], opt 2.
template <class T>
Network make_transformer_block(int64_t seq = 32, int64_t dim = 128, int64_t heads = 2, uint64_t seed = 3) {
  Pseudo rng(seed);
  const DataType dt = T::value;
  Network net;
  auto x = net.input<T>("x", {dynamic, seq, dim});
  net.set_profile("x", {1, seq, dim}, {2, seq, dim}, {4, seq, dim});
  const double s = 1.0 / std::sqrt(double(dim));
  auto ln1s = net.weight<T, 1>("ln1.scale", rng.tensor(dt, {dim}, 0.2, 1.0));
  auto ln1b = net.weight<T, 1>("ln1.bias", rng.tensor(dt, {dim}, 0.1));
  auto wq = net.weight<T, 2>("attn.q.weight", rng.tensor(dt, {dim, dim}, s));
  auto wk = net.weight<T, 2>("attn.k.weight", rng.tensor(dt, {dim, dim}, s));
  auto wv = net.weight<T, 2>("attn.v.weight", rng.tensor(dt, {dim, dim}, s));
  auto wo = net.weight<T, 2>("attn.out.weight", rng.tensor(dt, {dim, dim}, s));
  auto bo = net.weight<T, 1>("attn.out.bias", rng.tensor(dt, {dim}, 0.1));
  auto ln2s = net.weight<T, 1>("ln2.scale", rng.tensor(dt, {dim}, 0.2, 1.0));
  auto ln2b = net.weight<T, 1>("ln2.bias", rng.tensor(dt, {dim}, 0.1));
  auto w1 = net.weight<T, 2>("mlp.fc1.weight", rng.tensor(dt, {2 * dim, dim}, s));
  auto b1 = net.weight<T, 1>("mlp.fc1.bias", rng.tensor(dt, {2 * dim}, 0.1));
  auto w2 = net.weight<T, 2>("mlp.fc2.weight", rng.tensor(dt, {dim, 2 * dim}, 1.0 / std::sqrt(2.0 * dim)));
  auto b2 = net.weight<T, 1>("mlp.fc2.bias", rng.tensor(dt, {dim}, 0.1));

  const std::map<std::string, Tensor<T, 2>> weights{{"attn.q", wq}, {"attn.k", wk}, {"attn.v", wv},
                                                     {"attn.out", wo}, {"mlp.fc1", w1}, {"mlp.fc2", w2}};
  const std::map<std::string, Tensor<T, 1>> biases{{"attn.out", bo}, {"mlp.fc1", b1}, {"mlp.fc2", b2}};
  const auto proj = [&](const std::string& name, const Tensor<T, 3>& in, int64_t, int64_t, bool bias, double) {
    return bias ? linear(in, weights.at(name), biases.at(name)) : linear(in, weights.at(name));
  };
  net.output(transformer_block_body(x, ln1s, ln1b, ln2s, ln2b, dim, heads, proj), "y");
  return net;
}

/// Explicit int8 quantization of a linear layer, as quantization toolkits export it: x
/// quantized and dequantized per tensor (scale `x_scale`, zero point 0), the weight stored int8
/// (out, in) with one scale per output channel, then linear() in T. The builder folds each such
/// layer (with its bias, activation and a following QuantizeLinear) into one int8 GEMM kernel.
/// Q is the quantized type: i8, or fp8e4m3 (the same scales: values stay within +-127).
template <class T, class Q = i8, class X>
X quantized_linear(Network& net, Pseudo& rng, const X& x, const std::string& name, int64_t in, int64_t out,
                   double x_scale, bool bias = true) {
  const DataType dt = T::value;
  const double w_scale = 1.0 / (127.0 * std::sqrt(double(in)));
  auto w = net.weight<Q, 2>(name + ".weight", rng.tensor(Q::value, {out, in}, 127.0));
  auto s = net.weight<T, 1>(name + ".weight_scale", rng.tensor(dt, {out}, 0.2 * w_scale, w_scale));
  QuantOptions per_output_channel;
  per_output_channel.axis = 0;
  auto xq = dequantize<T>(quantize<Q>(x, x_scale), x_scale);
  auto wq = dequantize(w, s, per_output_channel);
  if (!bias) return linear(xq, wq);
  auto b = net.weight<T, 1>(name + ".bias", rng.tensor(dt, {out}, 0.1));
  return linear(xq, wq, b);
}

/// Explicit int8 quantization of a 2-D convolution (k x k, `options`), as quantization toolkits
/// export it: x quantized and dequantized per tensor (scale `x_scale`, zero point 0), the weight
/// stored int8 OIHW with one scale per output channel, then conv2d() in T with a bias. The builder
/// folds each such layer (with a following activation and QuantizeLinear) into one int8
/// convolution kernel (a `qconv` step).
template <class T, class X>
X quantized_conv(Network& net, Pseudo& rng, const X& x, const std::string& name, int64_t in, int64_t out,
                 int64_t k, const ConvOptions& options, double x_scale) {
  const DataType dt = T::value;
  const double w_scale = 1.0 / (127.0 * std::sqrt(double(in * k * k)));
  auto w = net.weight<i8, 4>(name + ".weight", rng.tensor(DataType::kINT8, {out, in, k, k}, 127.0));
  auto s = net.weight<T, 1>(name + ".weight_scale", rng.tensor(dt, {out}, 0.2 * w_scale, w_scale));
  auto b = net.weight<T, 1>(name + ".bias", rng.tensor(dt, {out}, 0.1));
  QuantOptions per_output_channel;
  per_output_channel.axis = 0;
  auto xq = dequantize<T>(quantize<i8>(x, x_scale), x_scale);
  return conv2d(xq, dequantize(w, s, per_output_channel), b, options);
}

/// A small quantized CNN (quantized_conv layers): x (batch, 16, 16, 16) -> conv 3x3 (32) + relu
/// -> conv 3x3 stride 2 (32) + relu -> conv 1x1 (64) -> global average pool -> flatten -> linear
/// (10) in T. Each relu's output is requantized by the next layer (folded into the previous
/// kernel). Batch profile [1, 8], opt 2.
template <class T>
Network make_quantized_cnn(uint64_t seed = 7) {
  Pseudo rng(seed);
  const DataType dt = T::value;
  Network net;
  auto x = net.input<T>("x", {dynamic, 16, 16, 16});
  net.set_profile("x", {1, 16, 16, 16}, {2, 16, 16, 16}, {8, 16, 16, 16});
  ConvOptions same;
  same.pads = {1, 1, 1, 1};
  ConvOptions down = same;
  down.strides = {2, 2};
  auto h = relu(quantized_conv<T>(net, rng, x, "conv1", 16, 32, 3, same, 1.0 / 64));
  h = relu(quantized_conv<T>(net, rng, h, "conv2", 32, 32, 3, down, 1.0 / 32));
  h = quantized_conv<T>(net, rng, h, "conv3", 32, 64, 1, ConvOptions{}, 1.0 / 32);
  auto fw = net.weight<T, 2>("fc.weight", rng.tensor(dt, {10, 64}, 0.125));
  auto fb = net.weight<T, 1>("fc.bias", rng.tensor(dt, {10}, 0.1));
  net.output(linear(flatten(global_avg_pool(h), 1), fw, fb), "logits");
  return net;
}

/// make_mlp with quantized layers (quantized_linear, int8 or fp8): x (batch, in) -> linear +
/// relu -> linear. Batch profile [1, 64], opt 8.
template <class T, class Q = i8>
Network make_quantized_mlp(int64_t in = 64, int64_t hidden = 128, int64_t out = 16, uint64_t seed = 5) {
  Pseudo rng(seed);
  Network net;
  auto x = net.input<T>("x", {dynamic, in});
  net.set_profile("x", {1, in}, {8, in}, {64, in});
  auto h = relu(quantized_linear<T, Q>(net, rng, x, "fc1", in, hidden, 1.0 / 64));
  net.output(quantized_linear<T, Q>(net, rng, h, "fc2", hidden, out, 1.0 / 32), "y");
  return net;
}

/// make_transformer_block with every projection an int8 layer (quantized_linear: each
/// quantizes its own input). Batch profile [1, 4], opt 2.
template <class T>
Network make_quantized_transformer_block(int64_t seq = 32, int64_t dim = 128, int64_t heads = 2, uint64_t seed = 6) {
  Pseudo rng(seed);
  const DataType dt = T::value;
  Network net;
  auto x = net.input<T>("x", {dynamic, seq, dim});
  net.set_profile("x", {1, seq, dim}, {2, seq, dim}, {4, seq, dim});
  auto ln1s = net.weight<T, 1>("ln1.scale", rng.tensor(dt, {dim}, 0.2, 1.0));
  auto ln1b = net.weight<T, 1>("ln1.bias", rng.tensor(dt, {dim}, 0.1));
  auto ln2s = net.weight<T, 1>("ln2.scale", rng.tensor(dt, {dim}, 0.2, 1.0));
  auto ln2b = net.weight<T, 1>("ln2.bias", rng.tensor(dt, {dim}, 0.1));
  const auto proj = [&](const std::string& name, const Tensor<T, 3>& in, int64_t in_features, int64_t out_features,
                        bool bias, double x_scale) {
    return quantized_linear<T>(net, rng, in, name, in_features, out_features, x_scale, bias);
  };
  net.output(transformer_block_body(x, ln1s, ln1b, ln2s, ln2b, dim, heads, proj), "y");
  return net;
}

}  // namespace rtx::test
