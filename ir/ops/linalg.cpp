// SPDX-License-Identifier: Apache-2.0
// The linear-algebra family: MatMul (numpy matmul semantics), Gemm and ONNX Attention (opset 23):
// shape/dtype inference and reference implementations. Products go through Eigen's GEMM: floats
// in double (rounded once to the output dtype), integers in uint64 (exact, wrapping like a C cast
// to the output dtype).
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ir/op_registry.hpp"
#include "ir/ops/op_utils.hpp"

namespace rtx::ir {
namespace {

using Shape = std::vector<int64_t>;
template <class S>
using RowMatrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

bool is_float_type(DataType t) {
  return t == DataType::kF64 || t == DataType::kF32 || t == DataType::kF16 || t == DataType::kBF16;
}
bool matmul_accepts(DataType t) {
  return is_float_type(t) || t == DataType::kINT32 || t == DataType::kINT64;
}

std::string dtype_name(DataType t) {
  return std::string(to_string(t));
}

/// Two dims that may still be equal: equal, or at least one is dynamic.
bool may_equal(int64_t a, int64_t b) {
  return a == b || a == kDynamic || b == kDynamic;
}
std::string dim_str(int64_t d) {
  return d == kDynamic ? "?" : std::to_string(d);
}

void require_accepted(const Node& node, const std::string& what, DataType t) {
  require(matmul_accepts(t), node, "rtx.ir.401",
          what + " has dtype " + dtype_name(t) +
              ", which is not accepted (f64, f32, f16, bf16, i64, i32)");
}

void require_same_dtype(const Node& node, const std::string& a, DataType ta, const std::string& b,
                        DataType tb) {
  require(ta == tb, node, "rtx.ir.402",
          "inputs " + a + " (" + dtype_name(ta) + ") and " + b + " (" + dtype_name(tb) +
              ") must have the same dtype");
}

/// C(m, n) = A(m, k) * B(k, n) for row-major buffers, through Eigen's GEMM.
template <class S>
void gemm_into(const S* a, const S* b, S* c, int64_t m, int64_t k, int64_t n) {
  using Map = Eigen::Map<const RowMatrix<S>>;
  Eigen::Map<RowMatrix<S>> out(c, m, n);
  if (k == 0) {
    out.setZero();  // an empty sum
    return;
  }
  out.noalias() = Map(a, m, k) * Map(b, k, n);
}

// ---- MatMul ------------------------------------------------------------------------------------

/// MatMul's operand shapes after numpy's promotion of 1-D operands to matrices.
struct MatMulShapes {
  Shape a, b;   ///< (..., M, K) and (..., K, N)
  Shape batch;  ///< broadcast batch dims
  Shape out;    ///< final output shape (promoted dims removed)
};

MatMulShapes matmul_shapes(const Node& node, const Shape& a_in, const Shape& b_in) {
  require(!a_in.empty() && !b_in.empty(), node, "rtx.ir.403",
          "operands must have rank >= 1, got " + shape_to_string(a_in) + " and " +
              shape_to_string(b_in));
  MatMulShapes s{a_in, b_in, {}, {}};
  if (s.a.size() == 1) s.a.insert(s.a.begin(), 1);  // (K) -> (1, K)
  if (s.b.size() == 1) s.b.push_back(1);            // (K) -> (K, 1)
  const int64_t ka = s.a[s.a.size() - 1], kb = s.b[s.b.size() - 2];
  require(may_equal(ka, kb), node, "rtx.ir.404",
          "inner dims differ: A " + shape_to_string(a_in) + " has K=" + dim_str(ka) + ", B " +
              shape_to_string(b_in) + " has K=" + dim_str(kb));
  s.batch = broadcast_shapes(std::span(s.a).first(s.a.size() - 2),
                             std::span(s.b).first(s.b.size() - 2), node);
  s.out = s.batch;
  if (a_in.size() > 1) s.out.push_back(s.a[s.a.size() - 2]);
  if (b_in.size() > 1) s.out.push_back(s.b.back());
  return s;
}

std::vector<TensorInfo> infer_matmul(const InferContext& ctx) {
  const TensorInfo& a = ctx.input(0);
  const TensorInfo& b = ctx.input(1);
  require_accepted(ctx.node, "input 'A'", a.dtype);
  require_same_dtype(ctx.node, "'A'", a.dtype, "'B'", b.dtype);
  return {TensorInfo{a.dtype, matmul_shapes(ctx.node, a.shape, b.shape).out, true}};
}

template <class S>
std::vector<S> batched_matmul(const std::vector<S>& a, const std::vector<S>& b,
                              const MatMulShapes& s) {
  const int64_t m = s.a[s.a.size() - 2], k = s.a.back(), n = s.b.back();
  const Shape a_batch(s.a.begin(), s.a.end() - 2), b_batch(s.b.begin(), s.b.end() - 2);
  // Strides in units of whole matrices; broadcast batch dims get stride 0.
  const auto sa = broadcast_strides(a_batch, s.batch), sb = broadcast_strides(b_batch, s.batch);
  std::vector<S> out(static_cast<size_t>(product(s.batch) * m * n));
  for_each_index(s.batch, [&](int64_t flat, std::span<const int64_t> idx) {
    gemm_into(a.data() + offset_of(idx, sa) * m * k, b.data() + offset_of(idx, sb) * k * n,
              out.data() + flat * m * n, m, k, n);
  });
  return out;
}

std::vector<uint64_t> as_wrapping(const HostTensor& t) {
  const auto v = t.to_ints();
  return {v.begin(), v.end()};
}

HostTensor ints_tensor(DataType dtype, const Shape& shape, const std::vector<uint64_t>& v) {
  HostTensor out(dtype, shape);
  for (size_t i = 0; i < v.size(); ++i)
    out.set_int(static_cast<int64_t>(i), static_cast<int64_t>(v[i]));
  return out;
}

std::vector<HostTensor> eval_matmul(const EvalContext& ctx) {
  const HostTensor& a = ctx.input(0);
  const HostTensor& b = ctx.input(1);
  const auto s = matmul_shapes(ctx.node, a.shape(), b.shape());
  if (is_float_type(a.dtype()))
    return {HostTensor::from_doubles(a.dtype(), s.out,
                                     batched_matmul(a.to_doubles(), b.to_doubles(), s))};
  return {ints_tensor(a.dtype(), s.out, batched_matmul(as_wrapping(a), as_wrapping(b), s))};
}

// ---- Gemm --------------------------------------------------------------------------------------

struct GemmDims {
  int64_t m, k, n;
};

GemmDims gemm_dims(const Node& node, const Shape& a, const Shape& b) {
  require(a.size() == 2 && b.size() == 2, node, "rtx.ir.403",
          "A and B must be 2-D, got " + shape_to_string(a) + " and " + shape_to_string(b));
  const bool ta = node.attr_int("transA", 0) != 0, tb = node.attr_int("transB", 0) != 0;
  const GemmDims d{ta ? a[1] : a[0], ta ? a[0] : a[1], tb ? b[0] : b[1]};
  const int64_t kb = tb ? b[1] : b[0];
  require(may_equal(d.k, kb), node, "rtx.ir.404",
          "inner dims differ: op(A) has K=" + dim_str(d.k) + ", op(B) has K=" + dim_str(kb) +
              " (A " + shape_to_string(a) + ", B " + shape_to_string(b) +
              ", transA=" + std::to_string(ta) + ", transB=" + std::to_string(tb) + ")");
  return d;
}

std::vector<TensorInfo> infer_gemm(const InferContext& ctx) {
  const Node& node = ctx.node;
  for (const char* key : {"transA", "transB"}) {
    const int64_t v = node.attr_int(key, 0);
    require(v == 0 || v == 1, node, "rtx.ir.406",
            "attribute '" + std::string(key) + "' must be 0 or 1, got " + std::to_string(v));
  }
  const TensorInfo& a = ctx.input(0);
  const TensorInfo& b = ctx.input(1);
  require_accepted(node, "input 'A'", a.dtype);
  require_same_dtype(node, "'A'", a.dtype, "'B'", b.dtype);
  const GemmDims d = gemm_dims(node, a.shape, b.shape);
  if (ctx.has_input(2)) {
    const TensorInfo& c = ctx.input(2);
    require_same_dtype(node, "'A'", a.dtype, "'C'", c.dtype);
    // C broadcasts unidirectionally to (M, N).
    bool ok = c.rank() <= 2;
    const Shape mn{d.m, d.n};
    for (size_t i = 0; ok && i < c.shape.size(); ++i) {
      const int64_t cd = c.shape[i], od = mn[i + 2 - c.shape.size()];
      ok = cd == 1 || may_equal(cd, od);
    }
    require(ok, node, "rtx.ir.405",
            "input 'C' " + describe(c) + " does not broadcast to (M, N) = " + shape_to_string(mn));
  }
  return {TensorInfo{a.dtype, {d.m, d.n}, true}};
}

/// op(X) as a contiguous row-major matrix (transposed copy when `trans`).
template <class S>
std::vector<S> maybe_transposed(const std::vector<S>& x, const Shape& shape, bool trans) {
  if (!trans) return x;
  std::vector<S> t(x.size());
  Eigen::Map<RowMatrix<S>>(t.data(), shape[1], shape[0]) =
      Eigen::Map<const RowMatrix<S>>(x.data(), shape[0], shape[1]).transpose();
  return t;
}

std::vector<HostTensor> eval_gemm(const EvalContext& ctx) {
  const Node& node = ctx.node;
  const HostTensor& a = ctx.input(0);
  const HostTensor& b = ctx.input(1);
  const bool ta = node.attr_int("transA", 0) != 0, tb = node.attr_int("transB", 0) != 0;
  const double alpha = node.attr_float("alpha", 1.0), beta = node.attr_float("beta", 1.0);
  const GemmDims d = gemm_dims(node, a.shape(), b.shape());
  const Shape out_shape{d.m, d.n};
  // ONNX (and its reference) skip C entirely when beta == 0, so inf/NaN in C do not leak in.
  const bool use_c = ctx.has_input(2) && beta != 0.0;
  const auto c_strides = use_c ? broadcast_strides(ctx.input(2).shape(), out_shape) : Shape{0, 0};
  const auto c_at = [&](int64_t i, int64_t j) {
    return static_cast<size_t>(i * c_strides[0] + j * c_strides[1]);
  };
  const auto count = static_cast<size_t>(d.m * d.n);

  if (is_float_type(a.dtype())) {
    std::vector<double> y(count);
    gemm_into(maybe_transposed(a.to_doubles(), a.shape(), ta).data(),
              maybe_transposed(b.to_doubles(), b.shape(), tb).data(), y.data(), d.m, d.k, d.n);
    const auto c = use_c ? ctx.input(2).to_doubles() : std::vector<double>{};
    for (int64_t i = 0; i < d.m; ++i)
      for (int64_t j = 0; j < d.n; ++j) {
        double& v = y[static_cast<size_t>(i * d.n + j)];
        v = alpha * v + (use_c ? beta * c[c_at(i, j)] : 0.0);
      }
    return {HostTensor::from_doubles(a.dtype(), out_shape, y)};
  }

  // Integers: the product is exact (wrapping); integral alpha/beta keep it exact, other values go
  // through double and truncate toward zero, as numpy's float result cast back to the dtype does.
  std::vector<uint64_t> p(count);
  gemm_into(maybe_transposed(as_wrapping(a), a.shape(), ta).data(),
            maybe_transposed(as_wrapping(b), b.shape(), tb).data(), p.data(), d.m, d.k, d.n);
  const auto c = use_c ? as_wrapping(ctx.input(2)) : std::vector<uint64_t>{};
  const bool integral = std::trunc(alpha) == alpha && std::trunc(beta) == beta &&
                        std::fabs(alpha) < 9.2e18 && std::fabs(beta) < 9.2e18;
  HostTensor out(a.dtype(), out_shape);
  for (int64_t i = 0; i < d.m; ++i)
    for (int64_t j = 0; j < d.n; ++j) {
      const size_t o = static_cast<size_t>(i * d.n + j);
      int64_t v = 0;
      if (integral) {
        uint64_t w = static_cast<uint64_t>(static_cast<int64_t>(alpha)) * p[o];
        if (use_c) w += static_cast<uint64_t>(static_cast<int64_t>(beta)) * c[c_at(i, j)];
        v = static_cast<int64_t>(w);
      } else {
        double f = alpha * static_cast<double>(static_cast<int64_t>(p[o]));
        if (use_c) f += beta * static_cast<double>(static_cast<int64_t>(c[c_at(i, j)]));
        v = std::isfinite(f) ? static_cast<int64_t>(std::clamp(std::trunc(f), -9.2e18, 9.2e18)) : 0;
      }
      out.set_int(static_cast<int64_t>(o), v);
    }
  return {out};
}

// ---- Attention (opset 23) ----------------------------------------------------------------------
//
// Shapes (4-D form; the 3-D form packs heads into the last dim: (B, S, heads * head_size)):
//   Q (B, Hq, Sq, D)   K (B, Hkv, Skv, D)   V (B, Hkv, Skv, Dv)   past_key/value (B, Hkv, P, D/Dv)
//   total T = P + Skv; Y (B, Hq, Sq, Dv); present_key/value (B, Hkv, T, D/Dv); qk (B, Hq, Sq, T)
// Query head h reads KV head h / (Hq / Hkv) (GQA/MQA; ONNX's np.repeat interleaving).
// Order of operations follows ONNX's reference implementation: S = scale * Q K^T, softcap,
// + bias (attn_mask and causal mask), softmax, P V.

struct AttentionDims {
  bool three_d = false;
  int64_t batch = kDynamic, q_heads = kDynamic, kv_heads = kDynamic;
  int64_t q_seq = kDynamic, kv_seq = kDynamic, past = 0, total = kDynamic;
  int64_t head = kDynamic, v_head = kDynamic;
};

int64_t div_dim(int64_t hidden, int64_t heads) {
  return hidden == kDynamic || heads == kDynamic ? kDynamic : hidden / heads;
}
int64_t add_dims(int64_t a, int64_t b) {
  return a == kDynamic || b == kDynamic ? kDynamic : a + b;
}

AttentionDims attention_dims(const Node& node, std::span<const TensorInfo> in, bool has_past) {
  const TensorInfo &q = in[0], &k = in[1], &v = in[2];
  require((q.rank() == 3 || q.rank() == 4) && k.rank() == q.rank() && v.rank() == q.rank(), node,
          "rtx.ir.410",
          "Q, K and V must all be 3-D or all 4-D, got Q " + describe(q) + ", K " + describe(k) +
              ", V " + describe(v));
  AttentionDims d;
  const int64_t attr_q = node.attr_int("q_num_heads", 0),
                attr_kv = node.attr_int("kv_num_heads", 0);
  require(attr_q >= 0 && attr_kv >= 0, node, "rtx.ir.411",
          "q_num_heads and kv_num_heads must be positive");
  d.batch = q.shape[0];
  if (q.rank() == 3) {
    d.three_d = true;
    require(attr_q > 0 && attr_kv > 0, node, "rtx.ir.411",
            "3-D Q/K/V need the attributes q_num_heads and kv_num_heads (got " +
                std::to_string(attr_q) + " and " + std::to_string(attr_kv) + ")");
    d.q_heads = attr_q;
    d.kv_heads = attr_kv;
    d.q_seq = q.shape[1];
    d.kv_seq = k.shape[1];
    const std::pair<const TensorInfo*, int64_t> hidden[] = {
        {&q, attr_q}, {&k, attr_kv}, {&v, attr_kv}};
    const char* names[] = {"Q", "K", "V"};
    for (size_t i = 0; i < 3; ++i) {
      const int64_t h = hidden[i].first->shape[2];
      require(h == kDynamic || h % hidden[i].second == 0, node, "rtx.ir.412",
              std::string(names[i]) + " hidden size " + std::to_string(h) +
                  " is not divisible by its head count " + std::to_string(hidden[i].second));
    }
    d.head = div_dim(q.shape[2], attr_q);
    const int64_t k_head = div_dim(k.shape[2], attr_kv);
    require(may_equal(d.head, k_head), node, "rtx.ir.414",
            "Q head size " + dim_str(d.head) + " differs from K head size " + dim_str(k_head));
    if (d.head == kDynamic) d.head = k_head;
    d.v_head = div_dim(v.shape[2], attr_kv);
    require(may_equal(k.shape[1], v.shape[1]), node, "rtx.ir.415",
            "K and V sequence lengths differ: " + describe(k) + " vs " + describe(v));
  } else {
    d.q_heads = q.shape[1];
    d.kv_heads = k.shape[1];
    d.q_seq = q.shape[2];
    d.kv_seq = k.shape[2];
    d.head = q.shape[3];
    d.v_head = v.shape[3];
    require(
        may_equal(k.shape[1], v.shape[1]) && may_equal(k.shape[2], v.shape[2]), node, "rtx.ir.415",
        "K and V must agree on heads and sequence length: " + describe(k) + " vs " + describe(v));
    require(may_equal(d.head, k.shape[3]), node, "rtx.ir.414",
            "Q head size " + dim_str(d.head) + " differs from K head size " + dim_str(k.shape[3]));
    require((attr_q == 0 || may_equal(attr_q, d.q_heads)) &&
                (attr_kv == 0 || may_equal(attr_kv, d.kv_heads)),
            node, "rtx.ir.422",
            "q_num_heads/kv_num_heads (" + std::to_string(attr_q) + ", " + std::to_string(attr_kv) +
                ") disagree with the 4-D shapes of Q " + describe(q) + " and K " + describe(k));
    if (d.kv_heads == kDynamic) d.kv_heads = v.shape[1];
    if (d.head == kDynamic) d.head = k.shape[3];
  }
  if (d.kv_seq == kDynamic) d.kv_seq = d.three_d ? v.shape[1] : v.shape[2];
  require(
      may_equal(q.shape[0], k.shape[0]) && may_equal(q.shape[0], v.shape[0]), node, "rtx.ir.415",
      "Q, K and V batch sizes differ: " + describe(q) + ", " + describe(k) + ", " + describe(v));
  require(d.kv_heads != 0 && d.q_heads != 0, node, "rtx.ir.413", "head counts must be positive");
  require(d.q_heads == kDynamic || d.kv_heads == kDynamic || d.q_heads % d.kv_heads == 0, node,
          "rtx.ir.413",
          "q_num_heads " + std::to_string(d.q_heads) + " is not a multiple of kv_num_heads " +
              std::to_string(d.kv_heads));
  if (d.batch == kDynamic) d.batch = k.shape[0] != kDynamic ? k.shape[0] : v.shape[0];

  if (has_past) {
    const TensorInfo &pk = in[4], &pv = in[5];
    require(pk.dtype == k.dtype && pv.dtype == v.dtype, node, "rtx.ir.417",
            "past_key/past_value dtypes (" + dtype_name(pk.dtype) + ", " + dtype_name(pv.dtype) +
                ") must match K and V (" + dtype_name(k.dtype) + ", " + dtype_name(v.dtype) + ")");
    const Shape want_k{d.batch, d.kv_heads, kDynamic, d.head},
        want_v{d.batch, d.kv_heads, kDynamic, d.v_head};
    bool ok = pk.rank() == 4 && pv.rank() == 4;
    for (size_t i = 0; ok && i < 4; ++i)
      ok = may_equal(pk.shape[i], want_k[i]) && may_equal(pv.shape[i], want_v[i]);
    ok = ok && may_equal(pk.shape[2], pv.shape[2]);
    require(ok, node, "rtx.ir.417",
            "past_key " + describe(pk) + " / past_value " + describe(pv) +
                " must be (batch, kv_num_heads, " + "past_sequence_length, head_size) = " +
                shape_to_string(want_k) + " / " + shape_to_string(want_v));
    d.past = pk.shape[2] != kDynamic ? pk.shape[2] : pv.shape[2];
  }
  d.total = add_dims(d.past, d.kv_seq);
  return d;
}

/// The attn_mask's shape right-aligned to 4-D (leading 1s).
Shape mask_4d(const Shape& m) {
  Shape s(4 - m.size(), 1);
  s.insert(s.end(), m.begin(), m.end());
  return s;
}

void check_mask(const Node& node, const TensorInfo& mask, const TensorInfo& q,
                const AttentionDims& d) {
  require(mask.dtype == DataType::kBOOL || is_float_type(mask.dtype), node, "rtx.ir.421",
          "attn_mask must be bool or a float type, got " + dtype_name(mask.dtype));
  require(mask.dtype == DataType::kBOOL || mask.dtype == q.dtype, node, "rtx.ir.421",
          "a float attn_mask must have Q's dtype " + dtype_name(q.dtype) + ", got " +
              dtype_name(mask.dtype));
  require(mask.rank() >= 1 && mask.rank() <= 4, node, "rtx.ir.416",
          "attn_mask must have rank 1 to 4, got " + describe(mask));
  const Shape m = mask_4d(mask.shape);
  const Shape full{d.batch, d.q_heads, d.q_seq, d.total};
  bool ok = true;
  for (size_t i = 0; i < 3; ++i) ok = ok && (m[i] == 1 || may_equal(m[i], full[i]));
  // The last dim may be shorter than total_sequence_length: ONNX pads it with masked positions.
  ok = ok && (m[3] == kDynamic || d.total == kDynamic || m[3] <= d.total);
  require(ok, node, "rtx.ir.416",
          "attn_mask " + describe(mask) +
              " does not broadcast to (batch, q_num_heads, q_seq, total_seq) = " +
              shape_to_string(full));
}

struct AttentionAttrs {
  bool causal;
  std::optional<double> scale;
  double softcap;
  int64_t qk_mode;
};

AttentionAttrs attention_attrs(const Node& node, bool want_qk) {
  AttentionAttrs a{};
  const int64_t causal = node.attr_int("is_causal", 0);
  require(causal == 0 || causal == 1, node, "rtx.ir.423",
          "attribute 'is_causal' must be 0 or 1, got " + std::to_string(causal));
  a.causal = causal == 1;
  if (node.has_attr("scale")) a.scale = node.attr_float("scale", 1.0);
  a.softcap = node.attr_float("softcap", 0.0);
  require(a.softcap >= 0.0, node, "rtx.ir.419",
          "attribute 'softcap' must be >= 0, got " + std::to_string(a.softcap));
  if (node.has_attr("softmax_precision")) {
    // Softmax runs in double here, at least as precise as any requested type.
    const int64_t p = node.attr_int("softmax_precision", 1);
    require(p == 1 || p == 10 || p == 11 || p == 16, node, "rtx.ir.420",
            "attribute 'softmax_precision' must be 1 (float), 10 (float16), 11 (double) or 16 "
            "(bfloat16), got " +
                std::to_string(p));
  }
  a.qk_mode = node.attr_int("qk_matmul_output_mode", 0);
  require(a.qk_mode >= 0 && a.qk_mode <= 3, node, "rtx.ir.418",
          "attribute 'qk_matmul_output_mode' must be 0..3, got " + std::to_string(a.qk_mode));
  if (want_qk) {
    // Mode 1 is "the output after the softcap operation (before mask addition)" in the current
    // spec text (ONNX 1.22) and reference. With softcap, the text and the reference disagree on
    // modes 0 and 2 (the reference softcaps those too): only unambiguous combinations are
    // supported.
    require(a.qk_mode == 1 || a.qk_mode == 3 || a.softcap == 0.0, node, "rtx.ir.418",
            "qk_matmul_output_mode=" + std::to_string(a.qk_mode) +
                " with softcap > 0 is not supported (the ONNX spec and reference disagree on it); "
                "use mode 1 or 3");
  }
  return a;
}

bool output_wanted(const Node& node, size_t i) {
  return i < node.outputs.size() && node.outputs[i] != kNoValue;
}

std::vector<TensorInfo> infer_attention(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& q = ctx.input(0);
  const TensorInfo& k = ctx.input(1);
  const TensorInfo& v = ctx.input(2);
  for (const auto& [name, t] :
       {std::pair{"Q", q.dtype}, std::pair{"K", k.dtype}, std::pair{"V", v.dtype}})
    require(is_float_type(t), node, "rtx.ir.401",
            std::string("input '") + name + "' has dtype " + dtype_name(t) +
                ", which is not accepted (f64, f32, f16, bf16)");
  require_same_dtype(node, "'Q'", q.dtype, "'K'", k.dtype);
  const bool has_pk = ctx.has_input(4), has_pv = ctx.has_input(5);
  require(has_pk == has_pv, node, "rtx.ir.417", "past_key and past_value must be given together");
  attention_attrs(node, output_wanted(node, 3));  // validates the attributes
  const AttentionDims d = attention_dims(node, ctx.inputs, has_pk);
  if (ctx.has_input(3)) check_mask(node, ctx.inputs[3], q, d);

  std::vector<TensorInfo> outs;
  const int64_t y_hidden =
      d.q_heads == kDynamic || d.v_head == kDynamic ? kDynamic : d.q_heads * d.v_head;
  outs.push_back(d.three_d ? TensorInfo{q.dtype, {d.batch, d.q_seq, y_hidden}, true}
                           : TensorInfo{q.dtype, {d.batch, d.q_heads, d.q_seq, d.v_head}, true});
  if (node.outputs.size() > 1)
    outs.push_back(TensorInfo{k.dtype, {d.batch, d.kv_heads, d.total, d.head}, true});
  if (node.outputs.size() > 2)
    outs.push_back(TensorInfo{v.dtype, {d.batch, d.kv_heads, d.total, d.v_head}, true});
  if (node.outputs.size() > 3)
    outs.push_back(TensorInfo{q.dtype, {d.batch, d.q_heads, d.q_seq, d.total}, true});
  return outs;
}

/// A tensor's values in (B, H, S, D) order; 3-D inputs are (B, S, H * D).
std::vector<double> to_bhsd(const HostTensor& t, bool three_d, int64_t heads) {
  const auto v = t.to_doubles();
  if (!three_d) return v;
  const int64_t b = t.shape()[0], s = t.shape()[1], d = t.shape()[2] / heads;
  std::vector<double> out(v.size());
  for (int64_t ib = 0; ib < b; ++ib)
    for (int64_t is = 0; is < s; ++is)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t id = 0; id < d; ++id)
          out[static_cast<size_t>(((ib * heads + h) * s + is) * d + id)] =
              v[static_cast<size_t>((ib * s + is) * heads * d + h * d + id)];
  return out;
}

/// Concatenates past (B, H, P, D) and new (B, H, S, D) along the sequence axis.
std::vector<double> concat_seq(const std::vector<double>& past, const std::vector<double>& cur,
                               int64_t bh, int64_t p, int64_t s, int64_t d) {
  std::vector<double> out(static_cast<size_t>(bh * (p + s) * d));
  for (int64_t i = 0; i < bh; ++i) {
    std::copy_n(past.begin() + i * p * d, p * d, out.begin() + i * (p + s) * d);
    std::copy_n(cur.begin() + i * s * d, s * d, out.begin() + i * (p + s) * d + p * d);
  }
  return out;
}

std::vector<HostTensor> eval_attention(const EvalContext& ctx) {
  const Node& node = ctx.node;
  const HostTensor& q_t = ctx.input(0);
  const HostTensor& k_t = ctx.input(1);
  const HostTensor& v_t = ctx.input(2);
  const bool has_past = ctx.has_input(4);
  std::vector<TensorInfo> infos;
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    infos.push_back(ctx.has_input(i)
                        ? TensorInfo{ctx.inputs[i].dtype(), ctx.inputs[i].shape(), true}
                        : TensorInfo{DataType::kF32, {}, false});
  const AttentionDims d = attention_dims(node, infos, has_past);
  const bool want_qk = output_wanted(node, 3);
  const AttentionAttrs attrs = attention_attrs(node, want_qk);
  const int64_t B = d.batch, Hq = d.q_heads, Hkv = d.kv_heads, Sq = d.q_seq, T = d.total,
                D = d.head, Dv = d.v_head;
  const int64_t group = Hq / Hkv;
  const double scale = attrs.scale ? *attrs.scale : 1.0 / std::sqrt(static_cast<double>(D));

  const auto q = to_bhsd(q_t, d.three_d, Hq);
  auto k = to_bhsd(k_t, d.three_d, Hkv);
  auto v = to_bhsd(v_t, d.three_d, Hkv);
  if (has_past) {
    k = concat_seq(ctx.input(4).to_doubles(), k, B * Hkv, d.past, d.kv_seq, D);
    v = concat_seq(ctx.input(5).to_doubles(), v, B * Hkv, d.past, d.kv_seq, Dv);
  }

  // Additive bias (B?, H?, Sq?, T) from attn_mask (broadcast; a short last dim is padded with
  // masked positions) and the causal mask (query i sees key j <= i + past_sequence_length).
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  std::vector<double> mask;
  Shape m4, ms;
  if (ctx.has_input(3)) {
    const HostTensor& m = ctx.input(3);
    m4 = mask_4d(m.shape());
    ms = strides_of(m4);
    for (size_t i = 0; i < 4; ++i)
      if (m4[i] == 1) ms[i] = 0;
    mask = m.to_doubles();
    if (m.dtype() == DataType::kBOOL)
      for (double& x : mask) x = x != 0.0 ? 0.0 : kNegInf;
  }
  const auto bias = [&](int64_t b, int64_t h, int64_t i, int64_t j) {
    double x = 0.0;
    if (!m4.empty())
      x = j < m4[3] ? mask[static_cast<size_t>(b * ms[0] + h * ms[1] + i * ms[2] + j * ms[3])]
                    : kNegInf;
    if (attrs.causal && j > i + d.past) x += kNegInf;
    return x;
  };

  std::vector<double> y(static_cast<size_t>(B * Hq * Sq * Dv));
  std::vector<double> qk_out(want_qk ? static_cast<size_t>(B * Hq * Sq * T) : 0);
  RowMatrix<double> s(Sq, T), yh(Sq, Dv);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t g = h / group;  // the KV head this query head reads
      const double* qh = q.data() + (b * Hq + h) * Sq * D;
      const double* kh = k.data() + (b * Hkv + g) * T * D;
      const double* vh = v.data() + (b * Hkv + g) * T * Dv;
      if (D == 0)
        s.setZero();
      else
        s.noalias() = Eigen::Map<const RowMatrix<double>>(qh, Sq, D) *
                      Eigen::Map<const RowMatrix<double>>(kh, T, D).transpose();
      double* qk = want_qk ? qk_out.data() + (b * Hq + h) * Sq * T : nullptr;
      for (int64_t i = 0; i < Sq; ++i) {
        for (int64_t j = 0; j < T; ++j) {
          // With D == 0 the product is an empty sum: keep it 0 even if the default scale is inf.
          double x = D == 0 ? 0.0 : s(i, j) * scale;
          if (attrs.softcap > 0.0) x = attrs.softcap * std::tanh(x / attrs.softcap);
          if (qk && (attrs.qk_mode == 0 || attrs.qk_mode == 1)) qk[i * T + j] = x;
          x += bias(b, h, i, j);
          if (qk && attrs.qk_mode == 2) qk[i * T + j] = x;
          s(i, j) = x;
        }
        // Stable softmax over the row; a fully masked row gives NaN, as in ONNX's reference.
        double mx = kNegInf;
        for (int64_t j = 0; j < T; ++j) mx = std::max(mx, s(i, j));
        double sum = 0.0;
        for (int64_t j = 0; j < T; ++j) {
          s(i, j) = std::exp(s(i, j) - mx);
          sum += s(i, j);
        }
        for (int64_t j = 0; j < T; ++j) {
          s(i, j) /= sum;
          if (qk && attrs.qk_mode == 3) qk[i * T + j] = s(i, j);
        }
      }
      if (T == 0)
        yh.setZero();
      else
        yh.noalias() = s * Eigen::Map<const RowMatrix<double>>(vh, T, Dv);
      for (int64_t i = 0; i < Sq; ++i)
        for (int64_t e = 0; e < Dv; ++e) {
          // 3-D output packs heads into the hidden dim: (B, Sq, Hq * Dv).
          const int64_t at =
              d.three_d ? (b * Sq + i) * Hq * Dv + h * Dv + e : ((b * Hq + h) * Sq + i) * Dv + e;
          y[static_cast<size_t>(at)] = yh(i, e);
        }
    }

  std::vector<HostTensor> outs{HostTensor::from_doubles(q_t.dtype(), ctx.outputs[0].shape, y)};
  if (node.outputs.size() > 1)
    outs.push_back(output_wanted(node, 1)
                       ? HostTensor::from_doubles(k_t.dtype(), ctx.outputs[1].shape, k)
                       : HostTensor{});
  if (node.outputs.size() > 2)
    outs.push_back(output_wanted(node, 2)
                       ? HostTensor::from_doubles(v_t.dtype(), ctx.outputs[2].shape, v)
                       : HostTensor{});
  if (node.outputs.size() > 3)
    outs.push_back(want_qk ? HostTensor::from_doubles(q_t.dtype(), ctx.outputs[3].shape, qk_out)
                           : HostTensor{});
  return outs;
}

}  // namespace

void register_linalg_ops(OpRegistry& r) {
  r.add(OpSchema{OpKind::kMatMul, 2, 2, 1, 1, infer_matmul, eval_matmul});
  r.add(OpSchema{OpKind::kGemm, 2, 3, 1, 1, infer_gemm, eval_gemm});
  r.add(OpSchema{OpKind::kAttention, 3, 6, 1, 4, infer_attention, eval_attention});
}

}  // namespace rtx::ir
