// SPDX-License-Identifier: Apache-2.0
// Layers of the typed front end: free functions on rtx::Tensor<T, Rank> that add IR nodes (ONNX
// semantics) to the tensors' Network. The result type carries the result's dtype and rank, so
// misuse a type can show is a compile error whose message says what to write instead; misuse only
// the dims can show is recorded in the Network when the layer is called (see network.hpp).
//
// Every layer is a short template that checks types, then describes its node to one non-template
// function (detail::add_layer, in ir/network.cpp). Lists of axes or dims are C arrays deduced from
// braced lists, so `rtx::reshape(x, {-1, 28, 28})` is a Tensor of rank 3 and
// `rtx::reduce_mean(x, {2, 3})` removes two dims, both known to the compiler.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#ifndef RTX_DETAIL_ALLOWED
#define RTX_DETAIL_ALLOWED 1
#endif
#include "rtx/detail/dtype_traits.hpp"
#include "rtx/detail/layer_builder.hpp"
#include "rtx/network.hpp"

namespace rtx {

namespace detail {

template <class X>
Operand operand(const X& t) {
  return Operand::tensor(t.network_impl(), t.value_id());
}

/// An int64 1-D constant (axes, shapes, slice bounds).
inline Operand ints(const int64_t* v, size_t n, const char* label) {
  std::vector<int64_t> values;
  if (n > 0) values.assign(v, v + n);  // v may be null when n is 0
  return Operand::make_constant(
      HostTensor::from_vector(DataType::kINT64, {static_cast<int64_t>(n)}, values), label);
}
inline Operand ints(const std::vector<int64_t>& v, const char* label) {
  return ints(v.data(), v.size(), label);
}

/// A 0-d constant of dtype `t` (scalar operands, clip bounds).
inline Operand scalar(DataType t, double value, const char* label) {
  return Operand::make_constant(HostTensor::scalar(t, value), label);
}

/// Builds one node whose result has the C++ type Out; the network is the first operand's.
template <class Out>
Out make(LayerSpec spec) {
  NetworkImpl* net = nullptr;
  for (const Operand& o : spec.inputs)
    if (o.net != nullptr) {
      net = o.net;
      break;
    }
  spec.out_dtype = Out::dtype();
  spec.out_rank = Out::rank;
  const int32_t id = add_layer(net, std::move(spec));
  return Out(InternalTag{}, net, id);
}

template <class Out>
Out make(const char* layer, const char* op, std::vector<Operand> inputs,
         std::vector<LayerAttr> attrs = {}) {
  LayerSpec spec;
  spec.layer = layer;
  spec.op = op;
  spec.inputs = std::move(inputs);
  spec.attrs = std::move(attrs);
  return make<Out>(std::move(spec));
}

template <class A, class B>
auto binary(const char* layer, const char* op, const A& a, const B& b) {
  require_same_dtype<A, B>();
  require_arithmetic<A>();
  using Out = Tensor<typename A::dtype_tag, max_rank(A::rank, B::rank)>;
  return make<Out>(layer, op, {operand(a), operand(b)});
}

template <class A>
A binary_scalar(const char* layer, const char* op, const A& a, double s, bool scalar_first) {
  require_arithmetic<A>();
  Operand c = scalar(A::dtype(), s, "scalar");
  return scalar_first ? make<A>(layer, op, {std::move(c), operand(a)})
                      : make<A>(layer, op, {operand(a), std::move(c)});
}

template <class A, class B>
auto compare(const char* layer, const char* op, const A& a, const B& b) {
  require_same_dtype<A, B>();
  require_arithmetic<A>();
  return make<Tensor<boolean, max_rank(A::rank, B::rank)>>(layer, op, {operand(a), operand(b)});
}

template <class X>
X unary_float(const char* layer, const char* op, const X& x, std::vector<LayerAttr> attrs = {}) {
  require_float<X>();
  return make<X>(layer, op, {operand(x)}, std::move(attrs));
}

template <size_t N, bool Keep, class X>
auto reduce(const char* layer, const char* op, const X& x, const int64_t* axes) {
  static_assert(N <= static_cast<size_t>(X::rank),
                "rtx: more reduction axes than the tensor has dims");
  require_arithmetic<X>();
  // N == 0 means every axis (ONNX: no axes input), which leaves a 0-d result.
  constexpr int out_rank =
      Keep ? X::rank
           : (N == 0 ? 0 : X::rank - static_cast<int>(N <= static_cast<size_t>(X::rank) ? N : 0));
  LayerSpec spec;
  spec.layer = layer;
  spec.op = op;
  spec.inputs = {operand(x)};
  if (N > 0) spec.inputs.push_back(ints(axes, N, "axes"));
  spec.attrs = {{"keepdims", int64_t{Keep ? 1 : 0}}};
  if constexpr (N > 0) spec.axes.assign(axes, axes + N);
  spec.axes_rank = X::rank;
  return make<Tensor<typename X::dtype_tag, out_rank>>(std::move(spec));
}

template <bool Keep, class X>
auto arg_reduce(const char* layer, const char* op, const X& x, int64_t axis) {
  static_assert(X::rank >= 1, "rtx: argmax/argmin need a tensor of rank >= 1");
  require_arithmetic<X>();
  LayerSpec spec;
  spec.layer = layer;
  spec.op = op;
  spec.inputs = {operand(x)};
  spec.attrs = {{"axis", axis}, {"keepdims", int64_t{Keep ? 1 : 0}}};
  spec.axes = {axis};
  spec.axes_rank = X::rank;
  return make<Tensor<i64, Keep ? X::rank : X::rank - 1>>(std::move(spec));
}

template <class X>
constexpr void require_pool_rank() {
  static_assert(X::rank >= 3,
                "rtx: pooling needs an (N, C, spatial...) tensor of rank >= 3; use rtx::unsqueeze "
                "or rtx::reshape first");
  static_assert(X::rank <= 5, "rtx: pooling supports 1, 2 or 3 spatial dims (rank 3, 4 or 5)");
}

}  // namespace detail

// ---- options ------------------------------------------------------------------------------------

/// Convolution settings (ONNX Conv attributes). Empty lists take ONNX's defaults.
struct ConvOptions {
  std::vector<int64_t> strides{};         ///< per spatial dim; default 1
  std::vector<int64_t> pads{};            ///< all begins, then all ends; default 0
  std::vector<int64_t> dilations{};       ///< per spatial dim; default 1
  int64_t groups = 1;                     ///< channels are split into this many groups
  std::string auto_pad{};                 ///< "SAME_UPPER", "SAME_LOWER", "VALID"; empty: use pads
  std::vector<int64_t> output_padding{};  ///< conv_transpose: extra size at the end of each dim
};

/// Pooling settings (ONNX MaxPool/AveragePool attributes). `kernel` is required.
struct PoolOptions {
  std::vector<int64_t> kernel{};     ///< window per spatial dim
  std::vector<int64_t> strides{};    ///< default 1
  std::vector<int64_t> pads{};       ///< all begins, then all ends; default 0
  std::vector<int64_t> dilations{};  ///< default 1
  bool ceil_mode = false;            ///< round the output size up instead of down
  bool count_include_pad = false;    ///< avg_pool: divide by the full window, padding included
  std::string auto_pad{};            ///< "SAME_UPPER", "SAME_LOWER", "VALID"; empty: use pads
};

/// Quantization layout (ONNX QuantizeLinear/DequantizeLinear). The scale's rank picks the
/// granularity: 0 per tensor, 1 per axis (`axis`), the input's rank block-wise (`block_size`
/// elements along `axis` share a scale).
struct QuantOptions {
  int64_t axis = 1;        ///< per-axis and block-wise: the quantized axis
  int64_t block_size = 0;  ///< block-wise: elements per block (0: not block-wise)
  bool saturate = true;    ///< fp8 outputs: clamp out-of-range values (else inf/NaN)
};

/// Scaled dot-product attention settings (ONNX Attention).
struct AttentionOptions {
  std::optional<double> scale{};  ///< default 1/sqrt(head_size)
  bool is_causal = false;         ///< mask future positions (upper triangle)
  int64_t q_num_heads = 0;        ///< rank-3 inputs (batch, seq, hidden) only
  int64_t kv_num_heads = 0;       ///< rank-3 inputs only
};

/// Gelu's two forms (ONNX Gelu `approximate`).
enum class GeluApproximation { kNone, kTanh };

/// Tag asking reductions to keep reduced dims with extent 1 (`rtx::reduce_sum(x, {1},
/// rtx::keep_dims)` keeps x's rank).
struct KeepDims {
  explicit KeepDims() = default;
};
inline constexpr KeepDims keep_dims{};

// ---- elementwise arithmetic (numpy broadcasting; result rank = the larger rank) --------------

/// a + b with broadcasting; same dtype required.
template <TensorType A, TensorType B>
auto add(const A& a, const B& b) {
  return detail::binary("add", "Add", a, b);
}
/// a - b
template <TensorType A, TensorType B>
auto sub(const A& a, const B& b) {
  return detail::binary("sub", "Sub", a, b);
}
/// a * b (elementwise; rtx::matmul is the matrix product)
template <TensorType A, TensorType B>
auto mul(const A& a, const B& b) {
  return detail::binary("mul", "Mul", a, b);
}
/// a / b (integer division truncates, as in ONNX)
template <TensorType A, TensorType B>
auto div(const A& a, const B& b) {
  return detail::binary("div", "Div", a, b);
}
/// a ** b
template <TensorType A, TensorType B>
auto pow(const A& a, const B& b) {
  return detail::binary("pow", "Pow", a, b);
}
/// Elementwise maximum.
template <TensorType A, TensorType B>
auto max(const A& a, const B& b) {
  return detail::binary("max", "Max", a, b);
}
/// Elementwise minimum.
template <TensorType A, TensorType B>
auto min(const A& a, const B& b) {
  return detail::binary("min", "Min", a, b);
}

template <TensorType A, TensorType B>
auto operator+(const A& a, const B& b) {
  return add(a, b);
}
template <TensorType A, TensorType B>
auto operator-(const A& a, const B& b) {
  return sub(a, b);
}
template <TensorType A, TensorType B>
auto operator*(const A& a, const B& b) {
  return mul(a, b);
}
template <TensorType A, TensorType B>
auto operator/(const A& a, const B& b) {
  return div(a, b);
}

// With a scalar: the scalar becomes a 0-d constant of the tensor's dtype (rounded once).
template <TensorType A>
A operator+(const A& a, double s) {
  return detail::binary_scalar("add", "Add", a, s, false);
}
template <TensorType A>
A operator+(double s, const A& a) {
  return detail::binary_scalar("add", "Add", a, s, true);
}
template <TensorType A>
A operator-(const A& a, double s) {
  return detail::binary_scalar("sub", "Sub", a, s, false);
}
template <TensorType A>
A operator-(double s, const A& a) {
  return detail::binary_scalar("sub", "Sub", a, s, true);
}
template <TensorType A>
A operator*(const A& a, double s) {
  return detail::binary_scalar("mul", "Mul", a, s, false);
}
template <TensorType A>
A operator*(double s, const A& a) {
  return detail::binary_scalar("mul", "Mul", a, s, true);
}
template <TensorType A>
A operator/(const A& a, double s) {
  return detail::binary_scalar("div", "Div", a, s, false);
}
template <TensorType A>
A operator/(double s, const A& a) {
  return detail::binary_scalar("div", "Div", a, s, true);
}

// ---- comparisons and logic (results are rtx::boolean) -----------------------------------------

/// a == b, elementwise (boolean tensors too).
template <TensorType A, TensorType B>
auto equal(const A& a, const B& b) {
  detail::require_same_dtype<A, B>();
  if constexpr (!detail::is_bool_v<typename A::dtype_tag>) detail::require_arithmetic<A>();
  return detail::make<Tensor<boolean, detail::max_rank(A::rank, B::rank)>>(
      "equal", "Equal", {detail::operand(a), detail::operand(b)});
}
/// a < b
template <TensorType A, TensorType B>
auto less(const A& a, const B& b) {
  return detail::compare("less", "Less", a, b);
}
/// a <= b
template <TensorType A, TensorType B>
auto less_equal(const A& a, const B& b) {
  return detail::compare("less_equal", "LessOrEqual", a, b);
}
/// a > b
template <TensorType A, TensorType B>
auto greater(const A& a, const B& b) {
  return detail::compare("greater", "Greater", a, b);
}
/// a >= b
template <TensorType A, TensorType B>
auto greater_equal(const A& a, const B& b) {
  return detail::compare("greater_equal", "GreaterOrEqual", a, b);
}

/// a && b on boolean tensors.
template <TensorType A, TensorType B>
auto logical_and(const A& a, const B& b) {
  detail::require_bool<A>();
  detail::require_bool<B>();
  return detail::make<Tensor<boolean, detail::max_rank(A::rank, B::rank)>>(
      "logical_and", "And", {detail::operand(a), detail::operand(b)});
}
/// a || b on boolean tensors.
template <TensorType A, TensorType B>
auto logical_or(const A& a, const B& b) {
  detail::require_bool<A>();
  detail::require_bool<B>();
  return detail::make<Tensor<boolean, detail::max_rank(A::rank, B::rank)>>(
      "logical_or", "Or", {detail::operand(a), detail::operand(b)});
}
/// a != b on boolean tensors (exclusive or).
template <TensorType A, TensorType B>
auto logical_xor(const A& a, const B& b) {
  detail::require_bool<A>();
  detail::require_bool<B>();
  return detail::make<Tensor<boolean, detail::max_rank(A::rank, B::rank)>>(
      "logical_xor", "Xor", {detail::operand(a), detail::operand(b)});
}
/// !a on a boolean tensor.
template <TensorType A>
A logical_not(const A& a) {
  detail::require_bool<A>();
  return detail::make<A>("logical_not", "Not", {detail::operand(a)});
}

/// cond ? a : b, elementwise with broadcasting over all three.
template <TensorType C, TensorType A, TensorType B>
auto where(const C& cond, const A& a, const B& b) {
  static_assert(detail::is_bool_v<typename C::dtype_tag>,
                "rtx: where's condition must be an rtx::boolean tensor; compare first "
                "(rtx::greater...)");
  detail::require_same_dtype<A, B>();
  constexpr int rank = detail::max_rank(C::rank, detail::max_rank(A::rank, B::rank));
  return detail::make<Tensor<typename A::dtype_tag, rank>>(
      "where", "Where", {detail::operand(cond), detail::operand(a), detail::operand(b)});
}

// ---- unary -----------------------------------------------------------------------------------

/// max(x, 0)
template <TensorType X>
X relu(const X& x) {
  detail::require_arithmetic<X>();
  return detail::make<X>("relu", "Relu", {detail::operand(x)});
}
/// x if x >= 0 else alpha * x
template <TensorType X>
X leaky_relu(const X& x, double alpha = 0.01) {
  return detail::unary_float("leaky_relu", "LeakyRelu", x, {{"alpha", alpha}});
}
/// 1 / (1 + exp(-x))
template <TensorType X>
X sigmoid(const X& x) {
  return detail::unary_float("sigmoid", "Sigmoid", x);
}
template <TensorType X>
X tanh(const X& x) {
  return detail::unary_float("tanh", "Tanh", x);
}
/// x * Phi(x), exact (erf) or with the tanh approximation.
template <TensorType X>
X gelu(const X& x, GeluApproximation approximation = GeluApproximation::kNone) {
  return detail::unary_float(
      "gelu", "Gelu", x,
      {{"approximate", std::string(approximation == GeluApproximation::kTanh ? "tanh" : "none")}});
}
/// x * sigmoid(x) (also called swish)
template <TensorType X>
X silu(const X& x) {
  return detail::unary_float("silu", "Silu", x);
}
template <TensorType X>
X exp(const X& x) {
  return detail::unary_float("exp", "Exp", x);
}
template <TensorType X>
X log(const X& x) {
  return detail::unary_float("log", "Log", x);
}
template <TensorType X>
X sqrt(const X& x) {
  return detail::unary_float("sqrt", "Sqrt", x);
}
template <TensorType X>
X erf(const X& x) {
  return detail::unary_float("erf", "Erf", x);
}
/// 1 / x
template <TensorType X>
X reciprocal(const X& x) {
  return detail::unary_float("reciprocal", "Reciprocal", x);
}
template <TensorType X>
X floor(const X& x) {
  return detail::unary_float("floor", "Floor", x);
}
template <TensorType X>
X ceil(const X& x) {
  return detail::unary_float("ceil", "Ceil", x);
}
template <TensorType X>
X sin(const X& x) {
  return detail::unary_float("sin", "Sin", x);
}
template <TensorType X>
X cos(const X& x) {
  return detail::unary_float("cos", "Cos", x);
}
/// |x|
template <TensorType X>
X abs(const X& x) {
  detail::require_arithmetic<X>();
  return detail::make<X>("abs", "Abs", {detail::operand(x)});
}
/// -x
template <TensorType X>
X neg(const X& x) {
  detail::require_arithmetic<X>();
  return detail::make<X>("neg", "Neg", {detail::operand(x)});
}
template <TensorType X>
X operator-(const X& x) {
  return neg(x);
}
/// min(max(x, lo), hi); the bounds are rounded to x's dtype.
template <TensorType X>
X clip(const X& x, double lo, double hi) {
  detail::require_arithmetic<X>();
  return detail::make<X>("clip", "Clip",
                         {detail::operand(x), detail::scalar(X::dtype(), lo, "min"),
                          detail::scalar(X::dtype(), hi, "max")});
}

/// x converted to element type U (ONNX Cast: floats to integers truncate toward zero; fp8
/// results saturate).
template <DTypeTagType U, TensorType X>
Tensor<U, X::rank> cast(const X& x) {
  return detail::make<Tensor<U, X::rank>>("cast", "Cast", {detail::operand(x)}, {{"to", U::value}});
}

// ---- matrix products ---------------------------------------------------------------------------

/// Batched matrix product (..., M, K) x (..., K, N) -> (..., M, N); batch dims broadcast.
template <TensorType A, TensorType B>
auto matmul(const A& a, const B& b) {
  static_assert(A::rank >= 2 && B::rank >= 2,
                "rtx: matmul needs rank >= 2; use rtx::unsqueeze first");
  detail::require_same_dtype<A, B>();
  detail::require_arithmetic<A>();
  return detail::make<Tensor<typename A::dtype_tag, detail::max_rank(A::rank, B::rank)>>(
      "matmul", "MatMul", {detail::operand(a), detail::operand(b)});
}

namespace detail {
template <class X, class W>
X linear_impl(const X& x, const W& w, Operand bias) {
  NetworkImpl* net = x.network_impl() != nullptr ? x.network_impl() : w.network_impl();
  if (!check_linear(net, operand(x), operand(w), bias)) return X(InternalTag{}, net, -1);
  const std::string base = net != nullptr ? next_layer_name(net, "linear") : std::string("linear");
  LayerSpec spec;
  spec.layer = "linear";
  if constexpr (X::rank == 2) {
    // (M, K) x (N, K)^T + (N): one Gemm, which the builder maps to a GEMM kernel with epilogue.
    spec.op = "Gemm";
    spec.name = base;
    spec.inputs = {operand(x), operand(w), std::move(bias)};
    spec.attrs = {{"transB", int64_t{1}}};
    return make<X>(std::move(spec));
  } else {
    // Other ranks: MatMul by w^T (a Transpose of a weight, which constant folding removes).
    spec.op = "Transpose";
    spec.name = base + "/transpose";
    spec.inputs = {operand(w)};
    spec.attrs = {{"perm", std::vector<int64_t>{1, 0}}};
    const auto wt = make<Tensor<typename X::dtype_tag, 2>>(std::move(spec));
    LayerSpec mm;
    mm.layer = "linear";
    mm.op = "MatMul";
    mm.name = base + "/matmul";
    mm.inputs = {operand(x), operand(wt)};
    const X y = make<X>(std::move(mm));
    if (!bias.is_tensor) return y;
    LayerSpec add;
    add.layer = "linear";
    add.op = "Add";
    add.name = base + "/bias";
    add.inputs = {operand(y), std::move(bias)};
    return make<X>(std::move(add));
  }
}

template <class X, class W>
constexpr void require_linear() {
  static_assert(X::rank >= 1, "rtx: linear needs x of rank >= 1: (..., in_features)");
  static_assert(W::rank == 2, "rtx: linear weights must be rank 2: (out_features, in_features)");
  require_same_dtype<X, W>();
  require_float<X>();
}
}  // namespace detail

/// torch.nn.Linear: x (..., K) times w^T with w (N, K), result (..., N). A rank-2 x becomes one
/// Gemm; other ranks MatMul by w^T. K is checked when the layer is built (rtx.frontend.110).
template <TensorType X, TensorType W>
X linear(const X& x, const W& w) {
  detail::require_linear<X, W>();
  return detail::linear_impl(x, w, detail::Operand::absent());
}
/// Same plus bias b (N).
template <TensorType X, TensorType W, TensorType B>
X linear(const X& x, const W& w, const B& b) {
  detail::require_linear<X, W>();
  static_assert(B::rank == 1, "rtx: linear bias must be rank 1: (out_features)");
  detail::require_same_dtype<X, B>();
  return detail::linear_impl(x, w, detail::operand(b));
}

// ---- convolution and pooling -------------------------------------------------------------------

namespace detail {
template <class X, class W>
constexpr void require_conv() {
  static_assert(X::rank >= 3 && X::rank <= 5,
                "rtx: conv needs an (N, C, spatial...) input of rank 3, 4 or 5; use "
                "rtx::unsqueeze or rtx::reshape first");
  static_assert(W::rank == X::rank,
                "rtx: conv weights need the input's rank: (out_channels, in_channels / groups, "
                "kernel...)");
  require_same_dtype<X, W>();
  require_float<X>();
}

inline std::vector<LayerAttr> conv_attrs(const ConvOptions& o) {
  std::vector<LayerAttr> a{{"group", o.groups}};
  if (!o.strides.empty()) a.push_back({"strides", o.strides});
  if (!o.pads.empty()) a.push_back({"pads", o.pads});
  if (!o.dilations.empty()) a.push_back({"dilations", o.dilations});
  if (!o.auto_pad.empty()) a.push_back({"auto_pad", o.auto_pad});
  return a;
}

inline std::vector<LayerAttr> pool_attrs(const PoolOptions& o, bool average) {
  std::vector<LayerAttr> a{{"kernel_shape", o.kernel}, {"ceil_mode", int64_t{o.ceil_mode}}};
  if (average) a.push_back({"count_include_pad", int64_t{o.count_include_pad}});
  if (!o.strides.empty()) a.push_back({"strides", o.strides});
  if (!o.pads.empty()) a.push_back({"pads", o.pads});
  if (!o.dilations.empty()) a.push_back({"dilations", o.dilations});
  if (!o.auto_pad.empty()) a.push_back({"auto_pad", o.auto_pad});
  return a;
}
}  // namespace detail

/// N-d convolution (ONNX Conv): x (N, C, spatial...), w (M, C / groups, kernel...), same rank.
template <TensorType X, TensorType W>
X conv(const X& x, const W& w, const ConvOptions& options = {}) {
  detail::require_conv<X, W>();
  return detail::make<X>("conv", "Conv", {detail::operand(x), detail::operand(w)},
                         detail::conv_attrs(options));
}
/// Same plus bias b (M).
template <TensorType X, TensorType W, TensorType B>
X conv(const X& x, const W& w, const B& b, const ConvOptions& options = {}) {
  detail::require_conv<X, W>();
  static_assert(B::rank == 1, "rtx: conv bias must be rank 1: (out_channels)");
  detail::require_same_dtype<X, B>();
  return detail::make<X>("conv", "Conv",
                         {detail::operand(x), detail::operand(w), detail::operand(b)},
                         detail::conv_attrs(options));
}
/// 2-d convolution: x (N, C, H, W).
template <TensorType X, TensorType W, TensorType B>
X conv2d(const X& x, const W& w, const B& b, const ConvOptions& options = {}) {
  static_assert(X::rank == 4, "rtx: conv2d needs an (N, C, H, W) input; use rtx::conv for 1-d/3-d");
  return conv(x, w, b, options);
}
template <TensorType X, TensorType W>
X conv2d(const X& x, const W& w, const ConvOptions& options = {}) {
  static_assert(X::rank == 4, "rtx: conv2d needs an (N, C, H, W) input; use rtx::conv for 1-d/3-d");
  return conv(x, w, options);
}

/// Transposed convolution (ONNX ConvTranspose, the gradient of conv): x (N, C, spatial...),
/// w (C, M / groups, kernel...), optional bias b (M); same rank for x and w.
template <TensorType X, TensorType W>
X conv_transpose(const X& x, const W& w, const ConvOptions& options = {}) {
  detail::require_conv<X, W>();
  auto attrs = detail::conv_attrs(options);
  if (!options.output_padding.empty()) attrs.push_back({"output_padding", options.output_padding});
  return detail::make<X>("conv_transpose", "ConvTranspose",
                         {detail::operand(x), detail::operand(w)}, std::move(attrs));
}
template <TensorType X, TensorType W, TensorType B>
X conv_transpose(const X& x, const W& w, const B& b, const ConvOptions& options = {}) {
  detail::require_conv<X, W>();
  static_assert(B::rank == 1, "rtx: conv bias must be rank 1: (out_channels)");
  detail::require_same_dtype<X, B>();
  auto attrs = detail::conv_attrs(options);
  if (!options.output_padding.empty()) attrs.push_back({"output_padding", options.output_padding});
  return detail::make<X>("conv_transpose", "ConvTranspose",
                         {detail::operand(x), detail::operand(w), detail::operand(b)},
                         std::move(attrs));
}

/// Max pooling over the spatial dims (options.kernel is required).
template <TensorType X>
X max_pool(const X& x, const PoolOptions& options) {
  detail::require_pool_rank<X>();
  detail::require_arithmetic<X>();
  return detail::make<X>("max_pool", "MaxPool", {detail::operand(x)},
                         detail::pool_attrs(options, false));
}
/// Average pooling over the spatial dims (options.kernel is required).
template <TensorType X>
X avg_pool(const X& x, const PoolOptions& options) {
  detail::require_pool_rank<X>();
  detail::require_float<X>();
  return detail::make<X>("avg_pool", "AveragePool", {detail::operand(x)},
                         detail::pool_attrs(options, true));
}
/// Mean over all spatial dims: (N, C, spatial...) -> (N, C, 1, ...).
template <TensorType X>
X global_avg_pool(const X& x) {
  detail::require_pool_rank<X>();
  detail::require_float<X>();
  return detail::make<X>("global_avg_pool", "GlobalAveragePool", {detail::operand(x)});
}

// ---- normalisation and softmax ----------------------------------------------------------------

/// Inference batch normalisation over channel dim 1: (x - mean) / sqrt(var + eps) * scale + bias.
template <TensorType X, TensorType P>
X batch_norm(const X& x, const P& scale, const P& bias, const P& mean, const P& var,
             double epsilon = 1e-5) {
  static_assert(X::rank >= 2, "rtx: batch_norm needs an (N, C, ...) input of rank >= 2");
  static_assert(P::rank == 1, "rtx: batch_norm parameters must be rank 1: (channels)");
  detail::require_same_dtype<X, P>();
  detail::require_float<X>();
  return detail::make<X>("batch_norm", "BatchNormalization",
                         {detail::operand(x), detail::operand(scale), detail::operand(bias),
                          detail::operand(mean), detail::operand(var)},
                         {{"epsilon", epsilon}});
}

namespace detail {
template <class X, class S>
constexpr void require_norm() {
  static_assert(S::rank >= 1 && S::rank <= X::rank,
                "rtx: the scale of a normalisation covers the last dims of x: its rank must be "
                "between 1 and x's rank");
  require_same_dtype<X, S>();
  require_float<X>();
}
}  // namespace detail

/// Layer normalisation over the last S dims of x, where S is the rank of `scale` (the
/// normalised shape): y = (x - mean) / sqrt(var + eps) * scale + bias.
template <TensorType X, TensorType S, TensorType B>
X layer_norm(const X& x, const S& scale, const B& bias, double epsilon = 1e-5) {
  detail::require_norm<X, S>();
  detail::require_same_dtype<S, B>();
  return detail::make<X>("layer_norm", "LayerNormalization",
                         {detail::operand(x), detail::operand(scale), detail::operand(bias)},
                         {{"axis", int64_t{X::rank - S::rank}}, {"epsilon", epsilon}});
}
/// Same without bias.
template <TensorType X, TensorType S>
X layer_norm(const X& x, const S& scale, double epsilon = 1e-5) {
  detail::require_norm<X, S>();
  return detail::make<X>("layer_norm", "LayerNormalization",
                         {detail::operand(x), detail::operand(scale)},
                         {{"axis", int64_t{X::rank - S::rank}}, {"epsilon", epsilon}});
}
/// RMS normalisation over the last S dims (S = rank of `scale`): x / sqrt(mean(x^2) + eps) * scale.
template <TensorType X, TensorType S>
X rms_norm(const X& x, const S& scale, double epsilon = 1e-5) {
  detail::require_norm<X, S>();
  return detail::make<X>("rms_norm", "RMSNormalization",
                         {detail::operand(x), detail::operand(scale)},
                         {{"axis", int64_t{X::rank - S::rank}}, {"epsilon", epsilon}});
}

/// softmax along `axis` (negative counts from the end).
template <TensorType X>
X softmax(const X& x, int64_t axis = -1) {
  static_assert(X::rank >= 1, "rtx: softmax needs a tensor of rank >= 1");
  return detail::unary_float("softmax", "Softmax", x, {{"axis", axis}});
}
/// log(softmax(x)) along `axis`, computed stably.
template <TensorType X>
X log_softmax(const X& x, int64_t axis = -1) {
  static_assert(X::rank >= 1, "rtx: log_softmax needs a tensor of rank >= 1");
  return detail::unary_float("log_softmax", "LogSoftmax", x, {{"axis", axis}});
}

// ---- reductions (axes as a braced list; the result rank drops by its length) -------------------

/// Sum over `axes` (e.g. {1} or {-2, -1}); the reduced dims disappear.
template <TensorType X, size_t N>
auto reduce_sum(const X& x, const int64_t (&axes)[N]) {
  return detail::reduce<N, false>("reduce_sum", "ReduceSum", x, axes);
}
/// Sum over `axes`, keeping them with extent 1.
template <TensorType X, size_t N>
X reduce_sum(const X& x, const int64_t (&axes)[N], KeepDims) {
  return detail::reduce<N, true>("reduce_sum", "ReduceSum", x, axes);
}
/// Sum of every element (a 0-d result).
template <TensorType X>
auto reduce_sum(const X& x) {
  return detail::reduce<0, false>("reduce_sum", "ReduceSum", x, nullptr);
}

/// Mean over `axes`; the reduced dims disappear.
template <TensorType X, size_t N>
auto reduce_mean(const X& x, const int64_t (&axes)[N]) {
  return detail::reduce<N, false>("reduce_mean", "ReduceMean", x, axes);
}
template <TensorType X, size_t N>
X reduce_mean(const X& x, const int64_t (&axes)[N], KeepDims) {
  return detail::reduce<N, true>("reduce_mean", "ReduceMean", x, axes);
}
template <TensorType X>
auto reduce_mean(const X& x) {
  return detail::reduce<0, false>("reduce_mean", "ReduceMean", x, nullptr);
}

/// Maximum over `axes`; the reduced dims disappear.
template <TensorType X, size_t N>
auto reduce_max(const X& x, const int64_t (&axes)[N]) {
  return detail::reduce<N, false>("reduce_max", "ReduceMax", x, axes);
}
template <TensorType X, size_t N>
X reduce_max(const X& x, const int64_t (&axes)[N], KeepDims) {
  return detail::reduce<N, true>("reduce_max", "ReduceMax", x, axes);
}
template <TensorType X>
auto reduce_max(const X& x) {
  return detail::reduce<0, false>("reduce_max", "ReduceMax", x, nullptr);
}

/// Minimum over `axes`; the reduced dims disappear.
template <TensorType X, size_t N>
auto reduce_min(const X& x, const int64_t (&axes)[N]) {
  return detail::reduce<N, false>("reduce_min", "ReduceMin", x, axes);
}
template <TensorType X, size_t N>
X reduce_min(const X& x, const int64_t (&axes)[N], KeepDims) {
  return detail::reduce<N, true>("reduce_min", "ReduceMin", x, axes);
}
template <TensorType X>
auto reduce_min(const X& x) {
  return detail::reduce<0, false>("reduce_min", "ReduceMin", x, nullptr);
}

/// Product over `axes`; the reduced dims disappear.
template <TensorType X, size_t N>
auto reduce_prod(const X& x, const int64_t (&axes)[N]) {
  return detail::reduce<N, false>("reduce_prod", "ReduceProd", x, axes);
}
template <TensorType X, size_t N>
X reduce_prod(const X& x, const int64_t (&axes)[N], KeepDims) {
  return detail::reduce<N, true>("reduce_prod", "ReduceProd", x, axes);
}
template <TensorType X>
auto reduce_prod(const X& x) {
  return detail::reduce<0, false>("reduce_prod", "ReduceProd", x, nullptr);
}

/// Index (i64) of the largest element along `axis`; that dim disappears.
template <TensorType X>
auto argmax(const X& x, int64_t axis) {
  return detail::arg_reduce<false>("argmax", "ArgMax", x, axis);
}
template <TensorType X>
auto argmax(const X& x, int64_t axis, KeepDims) {
  return detail::arg_reduce<true>("argmax", "ArgMax", x, axis);
}
/// Index (i64) of the smallest element along `axis`; that dim disappears.
template <TensorType X>
auto argmin(const X& x, int64_t axis) {
  return detail::arg_reduce<false>("argmin", "ArgMin", x, axis);
}
template <TensorType X>
auto argmin(const X& x, int64_t axis, KeepDims) {
  return detail::arg_reduce<true>("argmin", "ArgMin", x, axis);
}

// ---- shape and data movement -------------------------------------------------------------------

/// New dims, one entry per result dim (ONNX Reshape: -1 is inferred, 0 copies x's dim): the
/// result rank is the number of entries, so `reshape(x, {-1, 28, 28})` has rank 3.
template <TensorType X, size_t N>
auto reshape(const X& x, const int64_t (&dims)[N]) {
  return detail::make<Tensor<typename X::dtype_tag, static_cast<int>(N)>>(
      "reshape", "Reshape", {detail::operand(x), detail::ints(dims, N, "shape")});
}
/// Same with a std::array (rank 0, dims computed at run time).
template <TensorType X, size_t N>
auto reshape(const X& x, const std::array<int64_t, N>& dims) {
  return detail::make<Tensor<typename X::dtype_tag, static_cast<int>(N)>>(
      "reshape", "Reshape", {detail::operand(x), detail::ints(dims.data(), N, "shape")});
}

/// Permutes dims: result dim i is x's dim perm[i].
template <TensorType X, size_t N>
X transpose(const X& x, const int64_t (&perm)[N]) {
  static_assert(N == static_cast<size_t>(X::rank),
                "rtx: transpose needs a permutation with one entry per dim of x");
  return detail::make<X>("transpose", "Transpose", {detail::operand(x)},
                         {{"perm", std::vector<int64_t>(perm, perm + N)}});
}
/// Reverses the dims.
template <TensorType X>
X transpose(const X& x) {
  return detail::make<X>("transpose", "Transpose", {detail::operand(x)});
}

/// (d0 ... d(axis-1), d(axis) ... ) -> (product of the first, product of the rest).
template <TensorType X>
Tensor<typename X::dtype_tag, 2> flatten(const X& x, int64_t axis = 1) {
  return detail::make<Tensor<typename X::dtype_tag, 2>>("flatten", "Flatten", {detail::operand(x)},
                                                        {{"axis", axis}});
}

/// Removes the listed dims (each must have extent 1).
template <TensorType X, size_t N>
auto squeeze(const X& x, const int64_t (&axes)[N]) {
  static_assert(N <= static_cast<size_t>(X::rank), "rtx: squeeze lists more axes than x has dims");
  detail::LayerSpec spec;
  spec.layer = "squeeze";
  spec.op = "Squeeze";
  spec.inputs = {detail::operand(x), detail::ints(axes, N, "axes")};
  spec.axes.assign(axes, axes + N);
  spec.axes_rank = X::rank;
  constexpr int rank = X::rank - static_cast<int>(N <= static_cast<size_t>(X::rank) ? N : 0);
  return detail::make<Tensor<typename X::dtype_tag, rank>>(std::move(spec));
}
/// Inserts dims of extent 1 at the listed positions of the result.
template <TensorType X, size_t N>
auto unsqueeze(const X& x, const int64_t (&axes)[N]) {
  constexpr int rank = X::rank + static_cast<int>(N);
  static_assert(rank <= 8, "rtx: tensor ranks go from 0 to 8");
  detail::LayerSpec spec;
  spec.layer = "unsqueeze";
  spec.op = "Unsqueeze";
  spec.inputs = {detail::operand(x), detail::ints(axes, N, "axes")};
  spec.axes.assign(axes, axes + N);
  spec.axes_rank = rank;
  return detail::make<Tensor<typename X::dtype_tag, (rank <= 8 ? rank : 8)>>(std::move(spec));
}

/// Joins tensors of one dtype and rank along compile-time `Axis` (negative counts from the end):
/// `rtx::concat<1>(a, b, c)`.
template <int64_t Axis, TensorType First, TensorType... Rest>
First concat(const First& first, const Rest&... rest) {
  static_assert((std::is_same_v<typename First::dtype_tag, typename Rest::dtype_tag> && ...),
                "rtx: operands have different dtypes; use rtx::cast<T>(x) first");
  static_assert(((First::rank == Rest::rank) && ...),
                "rtx: concat needs tensors of the same rank; use rtx::unsqueeze or rtx::reshape "
                "first");
  static_assert(Axis >= -First::rank && Axis < First::rank, "rtx: concat axis is out of range");
  return detail::make<First>("concat", "Concat", {detail::operand(first), detail::operand(rest)...},
                             {{"axis", Axis}});
}
/// Same for a list known at run time. An empty list gives an invalid tensor that belongs to no
/// network (marking it as an output records rtx.frontend.104).
template <DTypeTagType T, int Rank>
Tensor<T, Rank> concat(const std::vector<Tensor<T, Rank>>& parts, int64_t axis) {
  if (parts.empty()) return Tensor<T, Rank>();
  std::vector<detail::Operand> ops;
  for (const auto& p : parts) ops.push_back(detail::operand(p));
  return detail::make<Tensor<T, Rank>>("concat", "Concat", std::move(ops), {{"axis", axis}});
}
/// Same with a braced list, like torch.cat: `rtx::concat({a, b}, 1)`.
template <DTypeTagType T, int Rank>
Tensor<T, Rank> concat(std::initializer_list<Tensor<T, Rank>> parts, int64_t axis) {
  return concat(std::vector<Tensor<T, Rank>>(parts), axis);
}

/// Elements [starts, ends) with `steps` along `axes` (default: the first starts.size() dims,
/// step 1); bounds clamp as in ONNX Slice. The rank does not change.
template <TensorType X>
X slice(const X& x, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
        const std::vector<int64_t>& axes = {}, const std::vector<int64_t>& steps = {}) {
  std::vector<detail::Operand> in{detail::operand(x), detail::ints(starts, "starts"),
                                  detail::ints(ends, "ends")};
  if (!axes.empty() || !steps.empty())
    in.push_back(axes.empty() ? detail::Operand::absent() : detail::ints(axes, "axes"));
  if (!steps.empty()) in.push_back(detail::ints(steps, "steps"));
  return detail::make<X>("slice", "Slice", std::move(in));
}

/// Picks entries of `data` along `axis` by `indices` (i32 or i64): result rank
/// data.rank - 1 + indices.rank (an embedding lookup is gather(table, ids, 0)).
template <TensorType D, TensorType I>
auto gather(const D& data, const I& indices, int64_t axis = 0) {
  static_assert(D::rank >= 1, "rtx: gather needs data of rank >= 1");
  static_assert(detail::is_index_v<typename I::dtype_tag>,
                "rtx: gather indices must be rtx::i32 or rtx::i64; use rtx::cast<rtx::i64>(x) "
                "first");
  constexpr int rank = D::rank - 1 + I::rank;
  static_assert(rank <= 8, "rtx: tensor ranks go from 0 to 8");
  return detail::make<Tensor<typename D::dtype_tag, (rank <= 8 ? rank : 8)>>(
      "gather", "Gather", {detail::operand(data), detail::operand(indices)}, {{"axis", axis}});
}

/// How pad fills the new border (ONNX Pad `mode`).
enum class PadMode { kConstant, kReflect, kEdge, kWrap };

/// Pads x by pads = (begin of each dim..., end of each dim...) (negative values crop), with
/// `value` (kConstant, rounded to x's dtype) or copies of x (the other modes).
template <TensorType X>
X pad(const X& x, const std::vector<int64_t>& pads, double value = 0,
      PadMode mode = PadMode::kConstant) {
  static const char* const kModes[] = {"constant", "reflect", "edge", "wrap"};
  return detail::make<X>(
      "pad", "Pad",
      {detail::operand(x), detail::ints(pads, "pads"), detail::scalar(X::dtype(), value, "value")},
      {{"mode", std::string(kModes[static_cast<int>(mode)])}});
}

/// Broadcasts x to `dims` (numpy rules; a 1 in dims keeps x's extent): the result rank is the
/// larger of x's rank and the number of dims.
template <TensorType X, size_t N>
auto expand(const X& x, const int64_t (&dims)[N]) {
  constexpr int rank = detail::max_rank(X::rank, static_cast<int>(N));
  return detail::make<Tensor<typename X::dtype_tag, rank>>(
      "expand", "Expand", {detail::operand(x), detail::ints(dims, N, "shape")});
}

/// Resampling settings (ONNX Resize attributes); empty strings keep ONNX's defaults
/// (half_pixel coordinates, round_prefer_floor).
struct ResizeOptions {
  std::string mode = "nearest";                  ///< "nearest" or "linear"
  std::string coordinate_transformation_mode{};  ///< "half_pixel", "asymmetric", ...
  std::string nearest_mode{};                    ///< "round_prefer_floor", "floor", ...
};

/// Resizes x by one scale per dim (1 keeps a dim): resize(img, {1, 1, 2, 2}) doubles H and W.
template <TensorType X>
X resize(const X& x, const std::vector<double>& scales, const ResizeOptions& options = {}) {
  detail::require_arithmetic<X>();
  std::vector<detail::LayerAttr> attrs{{"mode", options.mode}};
  if (!options.coordinate_transformation_mode.empty())
    attrs.push_back({"coordinate_transformation_mode", options.coordinate_transformation_mode});
  if (!options.nearest_mode.empty()) attrs.push_back({"nearest_mode", options.nearest_mode});
  return detail::make<X>(
      "resize", "Resize",
      {detail::operand(x), detail::Operand::absent(),
       detail::Operand::make_constant(
           HostTensor::from_doubles(DataType::kF32, {static_cast<int64_t>(scales.size())}, scales),
           "scales")},
      std::move(attrs));
}

// ---- quantization ------------------------------------------------------------------------------

namespace detail {
template <class Q, class X, class S>
constexpr void require_quantize() {
  static_assert(is_quantized(Q::value),
                "rtx: quantize produces a quantized type (i8, u8, i4, u4, fp8e4m3, fp8e5m2, "
                "fp4e2m1); use rtx::cast<T>(x) for other conversions");
  static_assert(is_compute_float_v<typename X::dtype_tag>,
                "rtx: quantize needs a floating-point input (f32, f16, bf16)");
  static_assert(is_compute_float_v<typename S::dtype_tag>,
                "rtx: quantization scales must be floating-point (f32, f16, bf16)");
  static_assert(S::rank == 0 || S::rank == 1 || S::rank == X::rank,
                "rtx: the scale's rank picks the granularity: 0 (per tensor), 1 (per axis) or "
                "x's rank (block-wise)");
}
template <class Q, class S>
constexpr void require_dequantize() {
  static_assert(is_quantized(Q::dtype()),
                "rtx: dequantize needs a quantized tensor (i8, u8, i4, u4, fp8e4m3, fp8e5m2, "
                "fp4e2m1); this tensor is not quantized");
  static_assert(is_compute_float_v<typename S::dtype_tag>,
                "rtx: quantization scales must be floating-point (f32, f16, bf16)");
  static_assert(S::rank == 0 || S::rank == 1 || S::rank == Q::rank,
                "rtx: the scale's rank picks the granularity: 0 (per tensor), 1 (per axis) or "
                "x's rank (block-wise)");
}
inline std::vector<LayerAttr> quant_attrs(const QuantOptions& o) {
  return {{"axis", o.axis}, {"block_size", o.block_size}, {"saturate", int64_t{o.saturate}}};
}
}  // namespace detail

/// x / scale (+ zero point 0), rounded and saturated to Q (ONNX QuantizeLinear).
template <DTypeTagType Q, TensorType X, TensorType S>
Tensor<Q, X::rank> quantize(const X& x, const S& scale, const QuantOptions& options = {}) {
  detail::require_quantize<Q, X, S>();
  auto attrs = detail::quant_attrs(options);
  attrs.push_back({"output_dtype", Q::value});
  return detail::make<Tensor<Q, X::rank>>(
      "quantize", "QuantizeLinear", {detail::operand(x), detail::operand(scale)}, std::move(attrs));
}
/// Same with a zero point (dtype Q, shaped like the scale).
template <DTypeTagType Q, TensorType X, TensorType S, TensorType Z>
Tensor<Q, X::rank> quantize(const X& x, const S& scale, const Z& zero_point,
                            const QuantOptions& options = {}) {
  detail::require_quantize<Q, X, S>();
  static_assert(std::is_same_v<typename Z::dtype_tag, Q>,
                "rtx: the zero point must have the quantized type Q");
  return detail::make<Tensor<Q, X::rank>>(
      "quantize", "QuantizeLinear",
      {detail::operand(x), detail::operand(scale), detail::operand(zero_point)},
      detail::quant_attrs(options));
}
/// Per-tensor quantization with a constant scale and zero point.
template <DTypeTagType Q, TensorType X>
Tensor<Q, X::rank> quantize(const X& x, double scale, double zero_point = 0) {
  static_assert(is_quantized(Q::value),
                "rtx: quantize produces a quantized type (i8, u8, i4, u4, fp8e4m3, fp8e5m2, "
                "fp4e2m1); use rtx::cast<T>(x) for other conversions");
  static_assert(detail::is_compute_float_v<typename X::dtype_tag>,
                "rtx: quantize needs a floating-point input (f32, f16, bf16)");
  return detail::make<Tensor<Q, X::rank>>(
      "quantize", "QuantizeLinear",
      {detail::operand(x), detail::scalar(X::dtype(), scale, "scale"),
       detail::scalar(Q::value, zero_point, "zero_point")},
      {{"saturate", int64_t{1}}});
}

/// (q - zero point) * scale in the scale's dtype (ONNX DequantizeLinear).
template <TensorType Q, TensorType S>
Tensor<typename S::dtype_tag, Q::rank> dequantize(const Q& q, const S& scale,
                                                  const QuantOptions& options = {}) {
  detail::require_dequantize<Q, S>();
  return detail::make<Tensor<typename S::dtype_tag, Q::rank>>(
      "dequantize", "DequantizeLinear", {detail::operand(q), detail::operand(scale)},
      {{"axis", options.axis}, {"block_size", options.block_size}});
}
/// Same with a zero point (q's dtype, shaped like the scale).
template <TensorType Q, TensorType S, TensorType Z>
Tensor<typename S::dtype_tag, Q::rank> dequantize(const Q& q, const S& scale, const Z& zero_point,
                                                  const QuantOptions& options = {}) {
  detail::require_dequantize<Q, S>();
  static_assert(std::is_same_v<typename Z::dtype_tag, typename Q::dtype_tag>,
                "rtx: the zero point must have the quantized tensor's type");
  return detail::make<Tensor<typename S::dtype_tag, Q::rank>>(
      "dequantize", "DequantizeLinear",
      {detail::operand(q), detail::operand(scale), detail::operand(zero_point)},
      {{"axis", options.axis}, {"block_size", options.block_size}});
}
/// Per-tensor dequantization with a constant scale and zero point; the result has type Out.
template <DTypeTagType Out = f32, TensorType Q>
Tensor<Out, Q::rank> dequantize(const Q& q, double scale, double zero_point = 0) {
  static_assert(is_quantized(Q::dtype()),
                "rtx: dequantize needs a quantized tensor (i8, u8, i4, u4, fp8e4m3, fp8e5m2, "
                "fp4e2m1); this tensor is not quantized");
  static_assert(detail::is_compute_float_v<Out>, "rtx: dequantize produces f32, f16 or bf16");
  return detail::make<Tensor<Out, Q::rank>>(
      "dequantize", "DequantizeLinear",
      {detail::operand(q), detail::scalar(Out::value, scale, "scale"),
       detail::scalar(Q::dtype(), zero_point, "zero_point")});
}

// ---- attention ---------------------------------------------------------------------------------

namespace detail {
template <class Q, class K, class V>
constexpr void require_attention() {
  static_assert(Q::rank == 3 || Q::rank == 4,
                "rtx: attention takes (batch, heads, seq, head_size) or (batch, seq, hidden) "
                "tensors");
  static_assert(K::rank == Q::rank && V::rank == Q::rank,
                "rtx: attention needs q, k and v of the same rank");
  require_same_dtype<Q, K>();
  require_same_dtype<Q, V>();
  require_float<Q>();
}
inline std::vector<LayerAttr> attention_attrs(const AttentionOptions& o) {
  std::vector<LayerAttr> a{{"is_causal", int64_t{o.is_causal}}};
  if (o.scale) a.push_back({"scale", *o.scale});
  if (o.q_num_heads > 0) a.push_back({"q_num_heads", o.q_num_heads});
  if (o.kv_num_heads > 0) a.push_back({"kv_num_heads", o.kv_num_heads});
  return a;
}
}  // namespace detail

/// Scaled dot-product attention softmax(q k^T * scale) v (ONNX Attention); the result has q's
/// shape with v's head size.
template <TensorType Q, TensorType K, TensorType V>
Q attention(const Q& q, const K& k, const V& v, const AttentionOptions& options = {}) {
  detail::require_attention<Q, K, V>();
  return detail::make<Q>("attention", "Attention",
                         {detail::operand(q), detail::operand(k), detail::operand(v)},
                         detail::attention_attrs(options));
}
/// Same with a mask added to (float) or selecting (boolean) the scores, broadcast to
/// (batch, heads, q_seq, kv_seq).
template <TensorType Q, TensorType K, TensorType V, TensorType M>
Q attention(const Q& q, const K& k, const V& v, const M& mask,
            const AttentionOptions& options = {}) {
  detail::require_attention<Q, K, V>();
  static_assert(detail::is_bool_v<typename M::dtype_tag> ||
                    std::is_same_v<typename M::dtype_tag, typename Q::dtype_tag>,
                "rtx: an attention mask is rtx::boolean or has q's dtype");
  return detail::make<Q>(
      "attention", "Attention",
      {detail::operand(q), detail::operand(k), detail::operand(v), detail::operand(mask)},
      detail::attention_attrs(options));
}

}  // namespace rtx
