// SPDX-License-Identifier: Apache-2.0
// The convolution family: Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool and
// Resize, with ONNX semantics at the latest opsets (Conv/ConvTranspose/pools 22, Resize 19).
// Inference works on partially known shapes (a dynamic input extent gives a dynamic output
// extent). The reference implementations compute in double and round once to the output dtype;
// Conv and ConvTranspose are per-group Eigen GEMMs over im2col / col2im buffers, so a real layer
// (1x64x56x56, 3x3, 64->64) evaluates in milliseconds rather than seconds.
#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "ir/op_registry.hpp"
#include "ir/ops/op_utils.hpp"

namespace rtx::ir {
namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr size_t u(int64_t i) {
  return static_cast<size_t>(i);
}

std::string ints_to_string(std::span<const int64_t> v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// Floor division (Python's //): ConvTranspose's total padding may be negative.
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// ---- dtype checks --------------------------------------------------------------------------

bool is_conv_float(DataType t) {
  return t == DataType::kF64 || t == DataType::kF32 || t == DataType::kF16 || t == DataType::kBF16;
}
constexpr const char* kFloatTypes = "f64, f32, f16 or bf16";

void require_dtype(const Node& node, const TensorInfo& info, bool ok, const std::string& what,
                   const char* accepted) {
  require(ok, node, "rtx.ir.500",
          what + " has dtype " + std::string(to_string(info.dtype)) + "; " +
              std::string(op_name(node.op)) + " accepts " + accepted);
}

void require_same_dtype(const Node& node, const TensorInfo& a, const char* a_name,
                        const TensorInfo& b, const char* b_name) {
  require(a.dtype == b.dtype, node, "rtx.ir.501",
          std::string(a_name) + " is " + describe(a) + " but " + b_name + " is " + describe(b) +
              ": they must have the same dtype");
}

// ---- window attributes shared by Conv, ConvTranspose and the pools ----------------------------

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

AutoPad read_auto_pad(const Node& node) {
  const std::string s = node.attr_string("auto_pad", "NOTSET");
  if (s == "NOTSET") return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  fail(node, "rtx.ir.505",
       "attribute auto_pad is '" + s + "'; expected NOTSET, SAME_UPPER, SAME_LOWER or VALID");
}

// A per-spatial-dim integer attribute: absent (or empty, as some exporters write it) gives
// `fallback` for every dim; present, it needs one value per spatial dim, each >= min_value.
std::vector<int64_t> spatial_ints(const Node& node, const char* key, int64_t n, int64_t fallback,
                                  int64_t min_value) {
  auto v = node.find_ints(key);
  if (!v || v->empty()) return std::vector<int64_t>(u(n), fallback);
  require(static_cast<int64_t>(v->size()) == n, node, "rtx.ir.503",
          "attribute " + std::string(key) + " " + ints_to_string(*v) + " has " +
              std::to_string(v->size()) + " values; the input has " + std::to_string(n) +
              " spatial dims");
  for (int64_t x : *v)
    require(x >= min_value, node, "rtx.ir.504",
            "attribute " + std::string(key) + " " + ints_to_string(*v) +
                " must be >= " + std::to_string(min_value));
  return *v;
}

// Explicit pads [x1_begin, x2_begin, ..., x1_end, x2_end, ...], each >= 0.
std::vector<int64_t> read_pads(const Node& node, int64_t n) {
  auto v = node.find_ints("pads");
  if (!v || v->empty()) return std::vector<int64_t>(u(2 * n), 0);
  require(static_cast<int64_t>(v->size()) == 2 * n, node, "rtx.ir.503",
          "attribute pads " + ints_to_string(*v) + " has " + std::to_string(v->size()) +
              " values; expected 2 per spatial dim (" + std::to_string(2 * n) + ")");
  for (int64_t x : *v)
    require(x >= 0, node, "rtx.ir.504", "attribute pads " + ints_to_string(*v) + " must be >= 0");
  return *v;
}

// Spatial kernel dims: the kernel_shape attribute when given (it must agree with W), else W's.
std::vector<int64_t> kernel_dims(const Node& node, const TensorInfo& w, int64_t n) {
  std::vector<int64_t> from_w(w.shape.begin() + 2, w.shape.end());
  for (int64_t k : from_w)
    require(k == kDynamic || k >= 1, node, "rtx.ir.508",
            "weight W " + describe(w) + " has an empty kernel dim");
  auto attr = node.find_ints("kernel_shape");
  if (!attr || attr->empty()) return from_w;
  require(static_cast<int64_t>(attr->size()) == n, node, "rtx.ir.503",
          "attribute kernel_shape " + ints_to_string(*attr) + " has " +
              std::to_string(attr->size()) + " values; the input has " + std::to_string(n) +
              " spatial dims");
  for (size_t i = 0; i < attr->size(); ++i) {
    require((*attr)[i] >= 1, node, "rtx.ir.504",
            "attribute kernel_shape " + ints_to_string(*attr) + " must be >= 1");
    require(from_w[i] == kDynamic || from_w[i] == (*attr)[i], node, "rtx.ir.508",
            "attribute kernel_shape " + ints_to_string(*attr) +
                " does not match the spatial dims of weight W " + describe(w));
  }
  return *attr;
}

// One spatial dim of a sliding window (Conv, pools) or of a transposed convolution.
struct Window {
  int64_t in = 0;
  int64_t out = 0;
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
  int64_t extent() const { return (kernel - 1) * dilation + 1; }
};

// Resolves pads and output extent of a forward window (ONNX convPoolShapeInference, with the
// ceil_mode rule of onnx#5741: the last window must start inside the input or its left padding).
void plan_window(const Node& node, Window& w, AutoPad pad, bool ceil_mode, size_t dim) {
  if (w.in == kDynamic || w.kernel == kDynamic) {
    w.out = kDynamic;
    return;
  }
  const int64_t ek = w.extent();
  if (pad == AutoPad::kSameUpper || pad == AutoPad::kSameLower) {
    // output = ceil(in / stride) with or without ceil_mode; the odd pad goes at the end for
    // SAME_UPPER and at the beginning for SAME_LOWER.
    w.out = (w.in + w.stride - 1) / w.stride;
    const int64_t total = std::max<int64_t>(0, (w.out - 1) * w.stride + ek - w.in);
    w.pad_begin = pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
    w.pad_end = total - w.pad_begin;
    return;
  }
  if (pad == AutoPad::kValid) w.pad_begin = w.pad_end = 0;
  const int64_t span = w.in + w.pad_begin + w.pad_end - ek;
  if (span < 0)
    fail(node, "rtx.ir.510",
         "spatial dim " + std::to_string(dim) + ": the kernel extent " + std::to_string(ek) +
             " (kernel " + std::to_string(w.kernel) + ", dilation " + std::to_string(w.dilation) +
             ") is larger than the padded input " + std::to_string(w.in) + " + " +
             std::to_string(w.pad_begin) + " + " + std::to_string(w.pad_end));
  if (!ceil_mode) {
    w.out = span / w.stride + 1;
    return;
  }
  w.out = (span + w.stride - 1) / w.stride + 1;
  if ((w.out - 1) * w.stride >= w.in + w.pad_begin) --w.out;
}

// Reads strides, dilations, pads and auto_pad and plans every spatial dim of input shape `x`.
std::vector<Window> plan_windows(const Node& node, std::span<const int64_t> x,
                                 const std::vector<int64_t>& kernel, bool ceil_mode) {
  const int64_t n = static_cast<int64_t>(kernel.size());
  const auto strides = spatial_ints(node, "strides", n, 1, 1);
  const auto dilations = spatial_ints(node, "dilations", n, 1, 1);
  const AutoPad ap = read_auto_pad(node);
  // With auto_pad set, ONNX forbids pads; exporters sometimes write both, so pads are ignored.
  const auto pads = ap == AutoPad::kNotSet ? read_pads(node, n) : std::vector<int64_t>(u(2 * n), 0);
  std::vector<Window> dims(u(n));
  for (int64_t i = 0; i < n; ++i) {
    Window& w = dims[u(i)];
    w.in = x[u(i + 2)];
    w.kernel = kernel[u(i)];
    w.stride = strides[u(i)];
    w.dilation = dilations[u(i)];
    w.pad_begin = pads[u(i)];
    w.pad_end = pads[u(i + n)];
    plan_window(node, w, ap, ceil_mode, u(i));
  }
  return dims;
}

// Per spatial dim, the coordinate each kernel tap k reaches from position p of the iterated
// space: table[k * positions + p] = p * stride - pad_begin + k * dilation. Forward windows
// iterate output positions (the coordinate is an input one); ConvTranspose iterates input
// positions (the coordinate is an output one).
std::vector<std::vector<int64_t>> tap_tables(const std::vector<Window>& dims, bool transposed) {
  std::vector<std::vector<int64_t>> tables;
  for (const Window& w : dims) {
    const int64_t positions = transposed ? w.in : w.out;
    std::vector<int64_t> t(u(w.kernel * positions));
    for (int64_t k = 0; k < w.kernel; ++k)
      for (int64_t p = 0; p < positions; ++p)
        t[u(k * positions + p)] = p * w.stride - w.pad_begin + k * w.dilation;
    tables.push_back(std::move(t));
  }
  return tables;
}

// Walks the positions of `space` in row-major order. Each dim maps its position through
// coords[i][pos] to a coordinate of a target tensor with extents `limits` and `strides`;
// f(flat_position, target_offset) gets -1 when any coordinate falls outside the target.
template <class F>
void walk_mapped(const std::vector<int64_t>& space, const std::vector<const int64_t*>& coords,
                 const std::vector<int64_t>& limits, const std::vector<int64_t>& strides, F&& f) {
  const size_t n = space.size();
  const int64_t total = product(space);
  if (total == 0) return;
  const int64_t last = space[n - 1];
  const int64_t* last_coords = coords[n - 1];
  const int64_t last_limit = limits[n - 1];
  const int64_t last_stride = strides[n - 1];
  std::vector<int64_t> pos(n, 0);
  for (int64_t flat = 0; flat < total;) {
    int64_t base = 0;
    bool inside = true;
    for (size_t i = 0; i + 1 < n; ++i) {
      const int64_t c = coords[i][u(pos[i])];
      if (c < 0 || c >= limits[i]) inside = false;
      base += c * strides[i];
    }
    for (int64_t j = 0; j < last; ++j, ++flat) {
      const int64_t c = last_coords[j];
      f(flat, inside && c >= 0 && c < last_limit ? base + c * last_stride : int64_t{-1});
    }
    for (int64_t i = static_cast<int64_t>(n) - 2; i >= 0; --i) {
      if (++pos[u(i)] < space[u(i)]) break;
      pos[u(i)] = 0;
    }
  }
}

// Every kernel tap as a multi-index, in row-major order (the order ONNX visits window elements).
std::vector<std::vector<int64_t>> kernel_taps(const std::vector<Window>& dims) {
  std::vector<int64_t> shape;
  for (const Window& w : dims) shape.push_back(w.kernel);
  std::vector<std::vector<int64_t>> taps;
  for_each_index(
      shape, [&](int64_t, std::span<const int64_t> k) { taps.emplace_back(k.begin(), k.end()); });
  return taps;
}

std::vector<int64_t> in_extents(const std::vector<Window>& dims) {
  std::vector<int64_t> v;
  for (const Window& w : dims) v.push_back(w.in);
  return v;
}
std::vector<int64_t> out_extents(const std::vector<Window>& dims) {
  std::vector<int64_t> v;
  for (const Window& w : dims) v.push_back(w.out);
  return v;
}

void check_bias(const InferContext& ctx, const TensorInfo& x, int64_t m) {
  if (!ctx.has_input(2)) return;
  const TensorInfo& b = ctx.input(2);
  require_same_dtype(ctx.node, x, "X", b, "bias B");
  require(b.rank() == 1 && (b.shape[0] == kDynamic || m == kDynamic || b.shape[0] == m), ctx.node,
          "rtx.ir.509",
          "bias B is " + describe(b) + "; expected one value per output channel (" +
              (m == kDynamic ? std::string("?") : std::to_string(m)) + ")");
}

void add_bias(const EvalContext& ctx, std::vector<double>& y, int64_t batch, int64_t m, int64_t p) {
  if (!ctx.has_input(2)) return;
  const auto b = ctx.input(2).to_doubles();
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < m; ++c) {
      double* row = y.data() + (n * m + c) * p;
      for (int64_t i = 0; i < p; ++i) row[i] += b[u(c)];
    }
}

int64_t read_group(const Node& node) {
  const int64_t group = node.attr_int("group", 1);
  require(group >= 1, node, "rtx.ir.506",
          "attribute group is " + std::to_string(group) + "; it must be >= 1");
  return group;
}

void check_conv_inputs(const Node& node, const TensorInfo& x, const TensorInfo& w,
                       const char* w_layout) {
  require_dtype(node, x, is_conv_float(x.dtype), "input X", kFloatTypes);
  require_same_dtype(node, x, "X", w, "weight W");
  require(x.rank() >= 3, node, "rtx.ir.502",
          "input X is " + describe(x) + "; it needs rank >= 3 (N, C, spatial...)");
  require(
      w.rank() == x.rank(), node, "rtx.ir.508",
      "weight W is " + describe(w) + "; it needs the rank of X " + describe(x) + " " + w_layout);
}

// ---- Conv ------------------------------------------------------------------------------------

std::vector<TensorInfo> infer_conv(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& w = ctx.input(1);
  check_conv_inputs(node, x, w, "(M, C/group, kernel...)");
  const int64_t n = x.rank() - 2;
  const int64_t group = read_group(node);
  const auto kernel = kernel_dims(node, w, n);
  const int64_t c = x.shape[1];
  const int64_t m = w.shape[0];
  if (c != kDynamic) {
    require(c % group == 0, node, "rtx.ir.506",
            "input X has " + std::to_string(c) + " channels, which group=" + std::to_string(group) +
                " does not divide");
    require(w.shape[1] == kDynamic || w.shape[1] * group == c, node, "rtx.ir.507",
            "input X " + describe(x) + " has " + std::to_string(c) +
                " channels, so weight W needs " + std::to_string(c / group) +
                " input channels per group (dim 1); W is " + describe(w));
  }
  if (m != kDynamic)
    require(m % group == 0, node, "rtx.ir.506",
            "weight W has " + std::to_string(m) +
                " output channels, which group=" + std::to_string(group) + " does not divide");
  check_bias(ctx, x, m);
  const auto dims = plan_windows(node, x.shape, kernel, false);
  std::vector<int64_t> shape{x.shape[0], m};
  for (const Window& d : dims) shape.push_back(d.out);
  return {TensorInfo{x.dtype, shape, true}};
}

std::vector<HostTensor> eval_conv(const EvalContext& ctx) {
  const Node& node = ctx.node;
  const HostTensor& x = ctx.input(0);
  const HostTensor& w = ctx.input(1);
  const int64_t group = read_group(node);
  const TensorInfo w_info{w.dtype(), w.shape(), true};
  const auto dims = plan_windows(node, x.shape(), kernel_dims(node, w_info, x.rank() - 2), false);
  const int64_t batch = x.shape()[0], c = x.shape()[1], m = w.shape()[0];
  const int64_t cg = c / group, mg = m / group;
  const auto in_shape = in_extents(dims), out_shape = out_extents(dims);
  const int64_t p_in = product(in_shape), p_out = product(out_shape);
  const auto taps = kernel_taps(dims);
  const int64_t k = static_cast<int64_t>(taps.size());

  std::vector<double> y(u(batch * m * p_out), 0.0);
  if (!y.empty()) {
    const auto xd = x.to_doubles();
    const auto wd = w.to_doubles();
    const auto tables = tap_tables(dims, false);
    const auto in_strides = strides_of(in_shape);
    RowMatrix col(cg * k, p_out);  // (C/group * kernel taps, output positions)
    std::vector<const int64_t*> coords(dims.size());
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t g = 0; g < group; ++g) {
        // im2col: row (channel, tap) holds the input value that tap sees at every output position.
        for (int64_t ch = 0; ch < cg; ++ch) {
          const double* xc = xd.data() + (b * c + g * cg + ch) * p_in;
          for (int64_t t = 0; t < k; ++t) {
            for (size_t i = 0; i < dims.size(); ++i)
              coords[i] = tables[i].data() + taps[u(t)][i] * dims[i].out;
            double* row = col.row(ch * k + t).data();
            walk_mapped(out_shape, coords, in_shape, in_strides,
                        [&](int64_t pos, int64_t off) { row[pos] = off < 0 ? 0.0 : xc[off]; });
          }
        }
        Eigen::Map<const RowMatrix> wg(wd.data() + g * mg * cg * k, mg,
                                       cg * k);  // (M/group, C/group * taps)
        Eigen::Map<RowMatrix> yg(y.data() + (b * m + g * mg) * p_out, mg,
                                 p_out);  // (M/group, positions)
        yg.noalias() = wg * col;
      }
    }
    add_bias(ctx, y, batch, m, p_out);
  }
  return {HostTensor::from_doubles(ctx.outputs[0].dtype, ctx.outputs[0].shape, y)};
}

// ---- ConvTranspose ---------------------------------------------------------------------------

// Plans every spatial dim of a transposed convolution: `out` and pads (pads may come out negative
// when output_shape asks for more than the full output; the extra positions get only the bias).
std::vector<Window> plan_transposed(const Node& node, std::span<const int64_t> x,
                                    const std::vector<int64_t>& kernel) {
  const int64_t n = static_cast<int64_t>(kernel.size());
  const auto strides = spatial_ints(node, "strides", n, 1, 1);
  const auto dilations = spatial_ints(node, "dilations", n, 1, 1);
  const auto out_pad = spatial_ints(node, "output_padding", n, 0, 0);
  const AutoPad ap = read_auto_pad(node);
  std::vector<int64_t> output_shape;
  if (auto os = node.find_ints("output_shape"); os && !os->empty()) {
    // ONNX gives the spatial dims; some exporters write the full (N, C, spatial...) shape.
    require(static_cast<int64_t>(os->size()) == n || static_cast<int64_t>(os->size()) == n + 2,
            node, "rtx.ir.503",
            "attribute output_shape " + ints_to_string(*os) + " needs " + std::to_string(n) +
                " values (one per spatial dim)");
    output_shape.assign(os->end() - n, os->end());
    for (int64_t v : output_shape)
      require(v >= 0, node, "rtx.ir.504",
              "attribute output_shape " + ints_to_string(*os) + " must be >= 0");
  }
  const auto pads = ap == AutoPad::kNotSet && output_shape.empty()
                        ? read_pads(node, n)
                        : std::vector<int64_t>(u(2 * n), 0);
  std::vector<Window> dims(u(n));
  for (int64_t i = 0; i < n; ++i) {
    Window& w = dims[u(i)];
    w.in = x[u(i + 2)];
    w.kernel = kernel[u(i)];
    w.stride = strides[u(i)];
    w.dilation = dilations[u(i)];
    const bool known = w.in != kDynamic && w.kernel != kDynamic;
    const int64_t full = known ? w.stride * (w.in - 1) + out_pad[u(i)] + w.extent() : kDynamic;
    const bool same = ap == AutoPad::kSameUpper || ap == AutoPad::kSameLower;
    if (!output_shape.empty() || same) {
      // ONNX: total_padding = stride * (in - 1) + output_padding + extent - output_shape, split
      // with the odd unit at the end for SAME_UPPER and at the beginning otherwise.
      w.out = !output_shape.empty() ? output_shape[u(i)]
                                    : (w.in == kDynamic ? kDynamic : w.in * w.stride);
      if (!known) continue;
      const int64_t total = full - w.out;
      w.pad_begin = ap == AutoPad::kSameUpper ? floor_div(total, 2) : total - floor_div(total, 2);
      w.pad_end = total - w.pad_begin;
      continue;
    }
    w.pad_begin = pads[u(i)];
    w.pad_end = pads[u(i + n)];
    if (!known) {
      w.out = kDynamic;
      continue;
    }
    w.out = full - w.pad_begin - w.pad_end;
    require(w.out >= 0, node, "rtx.ir.510",
            "spatial dim " + std::to_string(i) + ": pads " + std::to_string(w.pad_begin) + " + " +
                std::to_string(w.pad_end) + " exceed the full output extent " +
                std::to_string(full));
  }
  return dims;
}

std::vector<TensorInfo> infer_conv_transpose(const InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorInfo& x = ctx.input(0);
  const TensorInfo& w = ctx.input(1);
  check_conv_inputs(node, x, w, "(C, M/group, kernel...)");
  const int64_t n = x.rank() - 2;
  const int64_t group = read_group(node);
  const auto kernel = kernel_dims(node, w, n);
  const int64_t c = x.shape[1];
  if (c != kDynamic) {
    require(c % group == 0, node, "rtx.ir.506",
            "input X has " + std::to_string(c) + " channels, which group=" + std::to_string(group) +
                " does not divide");
    require(w.shape[0] == kDynamic || w.shape[0] == c, node, "rtx.ir.507",
            "input X " + describe(x) + " has " + std::to_string(c) +
                " channels, so weight W needs as many in dim 0 (C, M/group, kernel...); W is " +
                describe(w));
  }
  const int64_t m = w.shape[1] == kDynamic ? kDynamic : w.shape[1] * group;
  check_bias(ctx, x, m);
  const auto dims = plan_transposed(node, x.shape, kernel);
  std::vector<int64_t> shape{x.shape[0], m};
  for (const Window& d : dims) shape.push_back(d.out);
  return {TensorInfo{x.dtype, shape, true}};
}

std::vector<HostTensor> eval_conv_transpose(const EvalContext& ctx) {
  const Node& node = ctx.node;
  const HostTensor& x = ctx.input(0);
  const HostTensor& w = ctx.input(1);
  const int64_t group = read_group(node);
  const TensorInfo w_info{w.dtype(), w.shape(), true};
  const auto dims = plan_transposed(node, x.shape(), kernel_dims(node, w_info, x.rank() - 2));
  const int64_t batch = x.shape()[0], c = x.shape()[1];
  const int64_t cg = c / group, mg = w.shape()[1], m = mg * group;
  const auto in_shape = in_extents(dims), out_shape = out_extents(dims);
  const int64_t p_in = product(in_shape), p_out = product(out_shape);
  const auto taps = kernel_taps(dims);
  const int64_t k = static_cast<int64_t>(taps.size());

  std::vector<double> y(u(batch * m * p_out), 0.0);
  if (!y.empty()) {
    const auto xd = x.to_doubles();
    const auto wd = w.to_doubles();
    const auto tables = tap_tables(dims, true);
    const auto out_strides = strides_of(out_shape);
    RowMatrix col(mg * k, p_in);  // (M/group * kernel taps, input positions)
    std::vector<const int64_t*> coords(dims.size());
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t g = 0; g < group; ++g) {
        Eigen::Map<const RowMatrix> wg(wd.data() + g * cg * mg * k, cg,
                                       mg * k);  // (C/group, M/group * taps)
        Eigen::Map<const RowMatrix> xg(xd.data() + (b * c + g * cg) * p_in, cg,
                                       p_in);  // (C/group, positions)
        col.noalias() = wg.transpose() * xg;
        // col2im: every (channel, tap) row scatters into the output positions its taps reach.
        for (int64_t ch = 0; ch < mg; ++ch) {
          double* yc = y.data() + (b * m + g * mg + ch) * p_out;
          for (int64_t t = 0; t < k; ++t) {
            for (size_t i = 0; i < dims.size(); ++i)
              coords[i] = tables[i].data() + taps[u(t)][i] * dims[i].in;
            const double* row = col.row(ch * k + t).data();
            walk_mapped(in_shape, coords, out_shape, out_strides, [&](int64_t pos, int64_t off) {
              if (off >= 0) yc[off] += row[pos];
            });
          }
        }
      }
    }
    add_bias(ctx, y, batch, m, p_out);
  }
  return {HostTensor::from_doubles(ctx.outputs[0].dtype, ctx.outputs[0].shape, y)};
}

// ---- MaxPool, AveragePool --------------------------------------------------------------------

bool is_maxpool_type(DataType t) {
  return is_conv_float(t) || t == DataType::kINT8 || t == DataType::kUINT8;
}

bool read_ceil_mode(const Node& node) {
  const int64_t v = node.attr_int("ceil_mode", 0);
  require(v == 0 || v == 1, node, "rtx.ir.511",
          "attribute ceil_mode is " + std::to_string(v) + "; expected 0 or 1");
  return v == 1;
}

std::vector<int64_t> pool_kernel(const Node& node, int64_t n) {
  auto k = node.find_ints("kernel_shape");
  if (!k) fail(node, "rtx.ir.141", "required attribute 'kernel_shape' is missing");
  require(static_cast<int64_t>(k->size()) == n, node, "rtx.ir.503",
          "attribute kernel_shape " + ints_to_string(*k) + " has " + std::to_string(k->size()) +
              " values; the input has " + std::to_string(n) + " spatial dims");
  for (int64_t v : *k)
    require(v >= 1, node, "rtx.ir.504",
            "attribute kernel_shape " + ints_to_string(*k) + " must be >= 1");
  return *k;
}

std::vector<Window> pool_setup(const Node& node, const TensorInfo& x, bool max_pool) {
  if (max_pool)
    require_dtype(node, x, is_maxpool_type(x.dtype), "input X", "f64, f32, f16, bf16, i8 or u8");
  else
    require_dtype(node, x, is_conv_float(x.dtype), "input X", kFloatTypes);
  require(x.rank() >= 3, node, "rtx.ir.502",
          "input X is " + describe(x) + "; it needs rank >= 3 (N, C, spatial...)");
  if (max_pool) {
    const int64_t order = node.attr_int("storage_order", 0);
    require(order == 0 || order == 1, node, "rtx.ir.512",
            "attribute storage_order is " + std::to_string(order) +
                "; expected 0 (row major) or 1 (column major)");
  } else {
    const int64_t cip = node.attr_int("count_include_pad", 0);
    require(cip == 0 || cip == 1, node, "rtx.ir.513",
            "attribute count_include_pad is " + std::to_string(cip) + "; expected 0 or 1");
  }
  const bool ceil_mode = read_ceil_mode(node);
  return plan_windows(node, x.shape, pool_kernel(node, x.rank() - 2), ceil_mode);
}

std::vector<TensorInfo> infer_pool(const InferContext& ctx, bool max_pool) {
  const TensorInfo& x = ctx.input(0);
  const auto dims = pool_setup(ctx.node, x, max_pool);
  std::vector<int64_t> shape{x.shape[0], x.shape[1]};
  for (const Window& d : dims) shape.push_back(d.out);
  std::vector<TensorInfo> outs{TensorInfo{x.dtype, shape, true}};
  if (ctx.node.outputs.size() > 1) outs.push_back(TensorInfo{DataType::kINT64, shape, true});
  return outs;
}

std::vector<HostTensor> eval_max_pool(const EvalContext& ctx) {
  const Node& node = ctx.node;
  const HostTensor& x = ctx.input(0);
  const TensorInfo xi{x.dtype(), x.shape(), true};
  const auto dims = pool_setup(node, xi, true);
  const bool want_indices = node.outputs.size() > 1;
  const bool column_major = node.attr_int("storage_order", 0) == 1;
  const int64_t nc = x.shape()[0] * x.shape()[1];
  const auto in_shape = in_extents(dims), out_shape = out_extents(dims);
  const int64_t p_in = product(in_shape), p_out = product(out_shape);
  const auto in_strides = strides_of(in_shape);
  // Column-major strides of the spatial dims (storage_order = 1): the first spatial dim is fastest.
  std::vector<int64_t> col_strides(in_shape.size(), 1);
  for (size_t i = 1; i < in_shape.size(); ++i)
    col_strides[i] = col_strides[i - 1] * in_shape[i - 1];
  const auto tables = tap_tables(dims, false);
  const auto taps = kernel_taps(dims);
  const auto xd = x.to_doubles();

  std::vector<double> y(u(nc * p_out));
  std::vector<int64_t> idx(u(nc * p_out));
  // Per output: the best non-NaN value so far (state 2), else the first NaN seen (state 1), else
  // nothing (state 0: the window lies wholly in padding).
  std::vector<uint8_t> state(u(p_out));
  std::vector<int64_t> best_off(u(p_out));
  std::vector<const int64_t*> coords(dims.size());
  for (int64_t plane = 0; plane < nc; ++plane) {
    const double* xp = xd.data() + plane * p_in;
    std::fill(state.begin(), state.end(), uint8_t{0});
    for (const auto& tap : taps) {
      for (size_t i = 0; i < dims.size(); ++i) coords[i] = tables[i].data() + tap[i] * dims[i].out;
      walk_mapped(out_shape, coords, in_shape, in_strides, [&](int64_t pos, int64_t off) {
        if (off < 0) return;
        const double v = xp[off];
        const size_t p = u(pos);
        if (std::isnan(v)) {
          if (state[p] == 0) {
            state[p] = 1;
            best_off[p] = off;
          }
        } else if (state[p] < 2 || v > xp[best_off[p]]) {  // strict: the first maximum wins
          state[p] = 2;
          best_off[p] = off;
        }
      });
    }
    for (int64_t p = 0; p < p_out; ++p) {
      const size_t o = u(plane * p_out + p);
      if (state[u(p)] == 0) {
        y[o] = -std::numeric_limits<double>::infinity();
        idx[o] = -1;
        continue;
      }
      const int64_t off = best_off[u(p)];
      y[o] = xp[off];
      int64_t spatial = off;
      if (column_major) {
        spatial = 0;
        int64_t rest = off;
        for (size_t i = 0; i < in_shape.size(); ++i) {
          spatial += (rest / in_strides[i]) * col_strides[i];
          rest %= in_strides[i];
        }
      }
      idx[o] = plane * p_in + spatial;
    }
  }
  std::vector<HostTensor> outs{HostTensor::from_doubles(x.dtype(), ctx.outputs[0].shape, y)};
  if (want_indices) {
    HostTensor t(DataType::kINT64, ctx.outputs[1].shape);
    for (size_t i = 0; i < idx.size(); ++i) t.set_int(static_cast<int64_t>(i), idx[i]);
    outs.push_back(std::move(t));
  }
  return outs;
}

// Taps of one window dim that land in [lo, hi) (input coordinates), for every output position.
std::vector<int64_t> taps_within(const Window& w, int64_t lo, int64_t hi) {
  std::vector<int64_t> count(u(w.out), 0);
  for (int64_t o = 0; o < w.out; ++o)
    for (int64_t k = 0; k < w.kernel; ++k) {
      const int64_t c = o * w.stride - w.pad_begin + k * w.dilation;
      if (c >= lo && c < hi) ++count[u(o)];
    }
  return count;
}

std::vector<HostTensor> eval_average_pool(const EvalContext& ctx) {
  const Node& node = ctx.node;
  const HostTensor& x = ctx.input(0);
  const TensorInfo xi{x.dtype(), x.shape(), true};
  const auto dims = pool_setup(node, xi, false);
  const bool include_pad = node.attr_int("count_include_pad", 0) == 1;
  const int64_t nc = x.shape()[0] * x.shape()[1];
  const auto in_shape = in_extents(dims), out_shape = out_extents(dims);
  const int64_t p_in = product(in_shape), p_out = product(out_shape);
  const auto in_strides = strides_of(in_shape);
  const auto tables = tap_tables(dims, false);
  const auto taps = kernel_taps(dims);
  const auto xd = x.to_doubles();

  // The divisor is separable: per dim, count the taps inside the input, or (count_include_pad)
  // inside the padded extent [-pad_begin, in + pad_end). Taps that ceil_mode pushes past the end
  // padding never count (as PyTorch and ONNX Runtime do).
  std::vector<std::vector<int64_t>> counts;
  for (const Window& w : dims)
    counts.push_back(include_pad ? taps_within(w, -w.pad_begin, w.in + w.pad_end)
                                 : taps_within(w, 0, w.in));
  std::vector<double> divisor(u(p_out));
  for_each_index(out_shape, [&](int64_t flat, std::span<const int64_t> o) {
    int64_t d = 1;
    for (size_t i = 0; i < o.size(); ++i) d *= counts[i][u(o[i])];
    divisor[u(flat)] = static_cast<double>(d);
  });

  std::vector<double> y(u(nc * p_out), 0.0);
  std::vector<const int64_t*> coords(dims.size());
  for (int64_t plane = 0; plane < nc; ++plane) {
    const double* xp = xd.data() + plane * p_in;
    double* yp = y.data() + plane * p_out;
    for (const auto& tap : taps) {
      for (size_t i = 0; i < dims.size(); ++i) coords[i] = tables[i].data() + tap[i] * dims[i].out;
      walk_mapped(out_shape, coords, in_shape, in_strides, [&](int64_t pos, int64_t off) {
        if (off >= 0) yp[pos] += xp[off];
      });
    }
    // A window wholly in padding averages nothing: 0/0 = NaN, as in the ONNX reference.
    for (int64_t p = 0; p < p_out; ++p) yp[p] /= divisor[u(p)];
  }
  return {HostTensor::from_doubles(x.dtype(), ctx.outputs[0].shape, y)};
}

// ---- GlobalAveragePool -----------------------------------------------------------------------

std::vector<TensorInfo> infer_global_average_pool(const InferContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  require_dtype(ctx.node, x, is_conv_float(x.dtype), "input X", kFloatTypes);
  require(x.rank() >= 2, ctx.node, "rtx.ir.502",
          "input X is " + describe(x) + "; it needs rank >= 2 (N, C, spatial...)");
  std::vector<int64_t> shape{x.shape[0], x.shape[1]};
  shape.resize(x.shape.size(), 1);
  return {TensorInfo{x.dtype, shape, true}};
}

std::vector<HostTensor> eval_global_average_pool(const EvalContext& ctx) {
  const HostTensor& x = ctx.input(0);
  const int64_t nc = x.shape()[0] * x.shape()[1];
  const int64_t p = product(std::span<const int64_t>(x.shape()).subspan(2));
  const auto xd = x.to_doubles();
  std::vector<double> y(u(nc));
  for (int64_t i = 0; i < nc; ++i) {
    double s = 0;
    for (int64_t j = 0; j < p; ++j) s += xd[u(i * p + j)];
    y[u(i)] = s / static_cast<double>(p);  // an empty plane gives 0/0 = NaN, like numpy's mean
  }
  return {HostTensor::from_doubles(x.dtype(), ctx.outputs[0].shape, y)};
}

// ---- Resize ----------------------------------------------------------------------------------

enum class ResizeMode { kNearest, kLinear, kCubic };
enum class CoordMode {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfCropAndResize,
  kTfHalfPixelForNn,  // opset 11-12 only; kept so older models import unchanged
};
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };
enum class AspectPolicy { kStretch, kNotLarger, kNotSmaller };

struct ResizeAttrs {
  ResizeMode mode = ResizeMode::kNearest;
  CoordMode coord = CoordMode::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  AspectPolicy policy = AspectPolicy::kStretch;
  std::vector<int64_t> axes;  ///< normalized, in attribute order; all dims when absent
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation = 0.0;
  double cubic_a = -0.75;
};

ResizeAttrs read_resize_attrs(const Node& node, int64_t rank) {
  ResizeAttrs a;
  const std::string mode = node.attr_string("mode", "nearest");
  if (mode == "nearest")
    a.mode = ResizeMode::kNearest;
  else if (mode == "linear")
    a.mode = ResizeMode::kLinear;
  else if (mode == "cubic")
    a.mode = ResizeMode::kCubic;
  else
    fail(node, "rtx.ir.520", "attribute mode is '" + mode + "'; expected nearest, linear or cubic");

  const std::string coord = node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel")
    a.coord = CoordMode::kHalfPixel;
  else if (coord == "half_pixel_symmetric")
    a.coord = CoordMode::kHalfPixelSymmetric;
  else if (coord == "pytorch_half_pixel")
    a.coord = CoordMode::kPytorchHalfPixel;
  else if (coord == "align_corners")
    a.coord = CoordMode::kAlignCorners;
  else if (coord == "asymmetric")
    a.coord = CoordMode::kAsymmetric;
  else if (coord == "tf_crop_and_resize")
    a.coord = CoordMode::kTfCropAndResize;
  else if (coord == "tf_half_pixel_for_nn")
    a.coord = CoordMode::kTfHalfPixelForNn;
  else
    fail(node, "rtx.ir.522",
         "attribute coordinate_transformation_mode is '" + coord +
             "'; expected half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, "
             "asymmetric or tf_crop_and_resize");

  const std::string nearest = node.attr_string("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor")
    a.nearest = NearestMode::kRoundPreferFloor;
  else if (nearest == "round_prefer_ceil")
    a.nearest = NearestMode::kRoundPreferCeil;
  else if (nearest == "floor")
    a.nearest = NearestMode::kFloor;
  else if (nearest == "ceil")
    a.nearest = NearestMode::kCeil;
  else
    fail(node, "rtx.ir.523",
         "attribute nearest_mode is '" + nearest +
             "'; expected round_prefer_floor, round_prefer_ceil, floor or ceil");

  const std::string policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
  if (policy == "stretch")
    a.policy = AspectPolicy::kStretch;
  else if (policy == "not_larger")
    a.policy = AspectPolicy::kNotLarger;
  else if (policy == "not_smaller")
    a.policy = AspectPolicy::kNotSmaller;
  else
    fail(node, "rtx.ir.524",
         "attribute keep_aspect_ratio_policy is '" + policy +
             "'; expected stretch, not_larger or not_smaller");

  const int64_t antialias = node.attr_int("antialias", 0);
  require(antialias == 0 || antialias == 1, node, "rtx.ir.521",
          "antialias=" + std::to_string(antialias) + " must be 0 or 1");
  // ONNX's reference refuses an antialiased nearest resize: the filter needs weights.
  require(antialias == 0 || a.mode != ResizeMode::kNearest, node, "rtx.ir.521",
          "antialias=1 applies to the linear and cubic modes, not nearest");
  a.antialias = antialias == 1;
  a.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
  a.extrapolation = node.attr_float("extrapolation_value", 0.0);
  a.cubic_a = node.attr_float("cubic_coeff_a", -0.75);

  if (auto axes = node.find_ints("axes"); axes && !axes->empty()) {
    std::vector<bool> seen(u(rank), false);
    for (int64_t ax : *axes) {
      const int64_t d = normalize_axis(ax, rank, node);
      require(!seen[u(d)], node, "rtx.ir.527",
              "attribute axes " + ints_to_string(*axes) + " repeats an axis");
      seen[u(d)] = true;
      a.axes.push_back(d);
    }
  } else {
    for (int64_t d = 0; d < rank; ++d) a.axes.push_back(d);
  }
  return a;
}

// What the interpolation needs per dim: output extent, scale (output / input) and the roi.
struct ResizePlan {
  std::vector<int64_t> out;
  std::vector<double> scale;
  std::vector<bool> resized;  ///< the dim is one of `axes` (others are copied through)
  std::vector<double> roi_start, roi_end;
};

struct ResizeInputs {
  const TensorInfo* roi = nullptr;  ///< nullptr when absent or empty
  const TensorInfo* scales = nullptr;
  const TensorInfo* sizes = nullptr;
  const HostTensor* roi_data = nullptr;
  const HostTensor* scales_data = nullptr;
  const HostTensor* sizes_data = nullptr;
};

// An optional input that is given and not empty (opsets 11-13 passed empty tensors for "absent";
// a dynamic length counts as given).
bool given(const InferContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return false;
  const TensorInfo& t = ctx.inputs[i];
  return t.element_count() != 0;
}

ResizePlan plan_resize(const Node& node, const ResizeAttrs& a, std::span<const int64_t> x,
                       const ResizeInputs& in) {
  const int64_t rank = static_cast<int64_t>(x.size());
  const size_t naxes = a.axes.size();
  ResizePlan plan;
  plan.out.assign(x.begin(), x.end());
  plan.scale.assign(u(rank), 1.0);
  plan.resized.assign(u(rank), false);
  plan.roi_start.assign(u(rank), 0.0);
  plan.roi_end.assign(u(rank), 1.0);
  for (int64_t d : a.axes) plan.resized[u(d)] = true;

  auto check_length = [&](const TensorInfo* t, const char* name, size_t want) {
    require(t->rank() == 1, node, "rtx.ir.526",
            std::string(name) + " is " + describe(*t) + "; it must be 1-D");
    require(t->shape[0] == kDynamic || t->shape[0] == static_cast<int64_t>(want), node,
            "rtx.ir.526",
            std::string(name) + " is " + describe(*t) + "; expected " + std::to_string(want) +
                " values (one per resized axis)");
  };
  // Only tf_crop_and_resize reads roi; ONNX ignores it in every other mode.
  if (a.coord == CoordMode::kTfCropAndResize) {
    require(in.roi != nullptr, node, "rtx.ir.529",
            "coordinate_transformation_mode tf_crop_and_resize needs the roi input");
    require(is_floating(in.roi->dtype), node, "rtx.ir.530",
            "roi is " + describe(*in.roi) + "; it must be a float tensor");
    check_length(in.roi, "roi", 2 * naxes);
    if (in.roi_data) {
      const auto r = in.roi_data->to_doubles();
      for (size_t j = 0; j < naxes; ++j) {
        plan.roi_start[u(a.axes[j])] = r[j];
        plan.roi_end[u(a.axes[j])] = r[naxes + j];
      }
    }
  }

  const bool use_scales = in.scales != nullptr, use_sizes = in.sizes != nullptr;
  require(use_scales || use_sizes, node, "rtx.ir.525",
          "needs either scales or sizes (neither is given)");
  if (use_scales && use_sizes) {
    // Both present with lengths unknown until run time: one of them must be empty then.
    const bool ambiguous =
        in.scales->element_count() == kDynamic || in.sizes->element_count() == kDynamic;
    require(ambiguous, node, "rtx.ir.525", "takes scales or sizes, not both");
    for (int64_t d : a.axes) plan.out[u(d)] = kDynamic;
    return plan;
  }
  if (use_scales) {
    require(is_floating(in.scales->dtype), node, "rtx.ir.530",
            "scales is " + describe(*in.scales) + "; it must be a float tensor");
    check_length(in.scales, "scales", naxes);
    if (!in.scales_data) {
      for (int64_t d : a.axes) plan.out[u(d)] = kDynamic;
      return plan;
    }
    const auto s = in.scales_data->to_doubles();
    for (size_t j = 0; j < naxes; ++j) {
      require(s[j] > 0, node, "rtx.ir.528",
              "scales must be > 0; scale " + std::to_string(j) + " is " + std::to_string(s[j]));
      const int64_t d = a.axes[j];
      plan.scale[u(d)] = s[j];
      // floor(in * scale), as ONNX computes the output extent from scales
      plan.out[u(d)] = x[u(d)] == kDynamic
                           ? kDynamic
                           : static_cast<int64_t>(std::floor(static_cast<double>(x[u(d)]) * s[j]));
    }
    return plan;
  }
  require(is_integer(in.sizes->dtype), node, "rtx.ir.530",
          "sizes is " + describe(*in.sizes) + "; it must be an integer tensor");
  check_length(in.sizes, "sizes", naxes);
  if (!in.sizes_data) {
    for (int64_t d : a.axes) plan.out[u(d)] = kDynamic;
    return plan;
  }
  const auto sz = in.sizes_data->to_ints();
  for (size_t j = 0; j < naxes; ++j)
    require(sz[j] >= 0, node, "rtx.ir.528",
            "sizes must be >= 0; size " + std::to_string(j) + " is " + std::to_string(sz[j]));
  if (a.policy == AspectPolicy::kStretch) {
    for (size_t j = 0; j < naxes; ++j) {
      const int64_t d = a.axes[j];
      plan.out[u(d)] = sz[j];
      if (x[u(d)] > 0) plan.scale[u(d)] = static_cast<double>(sz[j]) / static_cast<double>(x[u(d)]);
    }
    return plan;
  }
  // not_larger / not_smaller: one scale for every resized axis (the min or max of the per-axis
  // ratios); the output extent is round_half_up(scale * in).
  for (int64_t d : a.axes) {
    if (x[u(d)] == kDynamic) {
      for (int64_t e : a.axes) plan.out[u(e)] = kDynamic;
      return plan;
    }
    require(
        x[u(d)] > 0, node, "rtx.ir.531",
        "keep_aspect_ratio_policy cannot scale input dim " + std::to_string(d) + " of extent 0");
  }
  double scale =
      a.policy == AspectPolicy::kNotLarger ? std::numeric_limits<double>::infinity() : 0.0;
  for (size_t j = 0; j < naxes; ++j) {
    const double r = static_cast<double>(sz[j]) / static_cast<double>(x[u(a.axes[j])]);
    scale = a.policy == AspectPolicy::kNotLarger ? std::min(scale, r) : std::max(scale, r);
  }
  for (int64_t d : a.axes) {
    plan.scale[u(d)] = scale;
    plan.out[u(d)] = static_cast<int64_t>(std::floor(scale * static_cast<double>(x[u(d)]) + 0.5));
  }
  return plan;
}

ResizeInputs resize_inputs(const InferContext& ctx) {
  ResizeInputs in;
  if (given(ctx, 1)) in.roi = &ctx.inputs[1], in.roi_data = ctx.constant(1);
  if (given(ctx, 2)) in.scales = &ctx.inputs[2], in.scales_data = ctx.constant(2);
  if (given(ctx, 3)) in.sizes = &ctx.inputs[3], in.sizes_data = ctx.constant(3);
  return in;
}

std::vector<TensorInfo> infer_resize(const InferContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  require(x.rank() >= 1, ctx.node, "rtx.ir.502",
          "input X is " + describe(x) + "; it needs rank >= 1");
  const ResizeAttrs a = read_resize_attrs(ctx.node, x.rank());
  if (a.mode != ResizeMode::kNearest)
    require_dtype(ctx.node, x, x.dtype != DataType::kBOOL, "input X",
                  "any numeric dtype for linear and cubic modes (bool only with nearest)");
  const ResizePlan plan = plan_resize(ctx.node, a, x.shape, resize_inputs(ctx));
  return {TensorInfo{x.dtype, plan.out, true}};
}

// One source element and its weight.
struct Tap {
  int64_t index;
  double weight;
};

// How one output axis reads its input axis: taps per output position (zero weights dropped),
// and for tf_crop_and_resize whether the position falls outside the input (extrapolated).
struct AxisMap {
  std::vector<std::vector<Tap>> taps;
  std::vector<bool> outside;
  bool identity = true;
};

// ONNX's coordinate transform from an output position to a (fractional) input position.
double original_coordinate(const ResizeAttrs& a, int64_t x, double scale, int64_t in_len,
                           int64_t out_len, double roi_start, double roi_end) {
  const double xr = static_cast<double>(x);
  const double in = static_cast<double>(in_len);
  // The reference implementation measures the resized length as scale * in (not the rounded
  // output extent) in align_corners and tf_crop_and_resize; the node tests' data follow it.
  const double out_w = scale * in;
  switch (a.coord) {
    case CoordMode::kHalfPixel:
      return (xr + 0.5) / scale - 0.5;
    case CoordMode::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(out_len) / out_w;
      const double offset = in / 2 * (1 - adjustment);
      return offset + (xr + 0.5) / scale - 0.5;
    }
    case CoordMode::kPytorchHalfPixel:
      return out_len > 1 ? (xr + 0.5) / scale - 0.5 : 0.0;
    case CoordMode::kAlignCorners:
      return out_w == 1 ? 0.0 : xr * (in - 1) / (out_w - 1);
    case CoordMode::kAsymmetric:
      return xr / scale;
    case CoordMode::kTfHalfPixelForNn:
      return (xr + 0.5) / scale;
    case CoordMode::kTfCropAndResize:
      return (out_w == 1 ? (roi_end - roi_start) * (in - 1) / 2
                         : xr * (roi_end - roi_start) * (in - 1) / (out_w - 1)) +
             roi_start * (in - 1);
  }
  return 0.0;
}

// Keys' cubic convolution weights for the 4 neighbours of a point at `ratio` (in (0, 1]) past
// the second one, exactly as ONNX writes them.
std::array<double, 4> cubic_weights(double r, double A) {
  const double s = 1 - r;
  return {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
          ((A + 2) * r - (A + 3)) * r * r + 1, ((A + 2) * s - (A + 3)) * s * s + 1,
          ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A};
}

AxisMap map_axis(const ResizeAttrs& a, const ResizePlan& plan, size_t d, int64_t in_len) {
  const int64_t out_len = plan.out[d];
  AxisMap m;
  m.taps.resize(u(out_len));
  m.outside.assign(u(out_len), false);
  if (!plan.resized[d]) {
    for (int64_t o = 0; o < out_len; ++o) m.taps[u(o)] = {Tap{o, 1.0}};
    return m;
  }
  auto clamp = [&](int64_t i) { return std::clamp<int64_t>(i, 0, in_len - 1); };
  for (int64_t o = 0; o < out_len; ++o) {
    const double xo = original_coordinate(a, o, plan.scale[d], in_len, out_len, plan.roi_start[d],
                                          plan.roi_end[d]);
    auto& taps = m.taps[u(o)];
    if (a.coord == CoordMode::kTfCropAndResize &&
        (xo < 0 || xo > static_cast<double>(in_len - 1))) {
      m.outside[u(o)] = true;
      m.identity = false;
      continue;
    }
    // Neighbours are `base` and `base + 1` with the point at ratio r in (0, 1] past `base`: an
    // integral coordinate is the right neighbour (ratio 1), as in the ONNX reference. Indices
    // past either edge read the edge element.
    const int64_t base = static_cast<int64_t>(std::ceil(xo)) - 1;
    const double r = xo - static_cast<double>(base);
    if (a.mode == ResizeMode::kNearest) {
      bool right = true;
      if (r < 1) {
        switch (a.nearest) {
          case NearestMode::kRoundPreferFloor:
            right = r > 0.5;
            break;
          case NearestMode::kRoundPreferCeil:
            right = r >= 0.5;
            break;
          case NearestMode::kFloor:
            right = false;
            break;
          case NearestMode::kCeil:
            right = true;
            break;
        }
      }
      taps.push_back(Tap{clamp(right ? base + 1 : base), 1.0});
    } else {
      std::vector<Tap> raw;
      const double scale = plan.scale[d];
      if (a.antialias && scale < 1) {
        // Downsampling with antialias stretches the filter by 1 / scale (ONNX's reference,
        // _linear_coeffs_antialias / _cubic_coeffs_antialias): taps base + i for i in
        // [start, 2 - start), weight = kernel((i - r) * scale), normalised to sum 1.
        const double reach = a.mode == ResizeMode::kLinear ? 1.0 : 2.0;
        const auto start = static_cast<int64_t>(std::floor(-reach / scale)) + 1;
        double sum = 0;
        for (int64_t i = start; i < 2 - start; ++i) {
          const double t = std::fabs((static_cast<double>(i) - r) * scale);
          double w;
          if (a.mode == ResizeMode::kLinear) {
            w = std::clamp(1 - t, 0.0, 1.0);
          } else {
            const double A = a.cubic_a;
            w = t <= 1  ? ((A + 2) * t - (A + 3)) * t * t + 1
                : t < 2 ? ((A * t - 5 * A) * t + 8 * A) * t - 4 * A
                        : 0.0;
          }
          raw.push_back(Tap{base + i, w});
          sum += w;
        }
        for (Tap& t : raw) t.weight /= sum;
      } else if (a.mode == ResizeMode::kLinear) {
        raw = {Tap{base, 1 - r}, Tap{base + 1, r}};
      } else {
        const auto w = cubic_weights(r, a.cubic_a);
        for (int64_t j = 0; j < 4; ++j) raw.push_back(Tap{base - 1 + j, w[u(j)]});
      }
      if (a.exclude_outside) {
        double sum = 0;
        for (Tap& t : raw) {
          if (t.index < 0 || t.index >= in_len) t.weight = 0;
          sum += t.weight;
        }
        for (Tap& t : raw) t.weight /= sum;
      }
      for (const Tap& t : raw)
        if (t.weight != 0) taps.push_back(Tap{clamp(t.index), t.weight});
    }
    if (taps.size() != 1 || taps[0].index != o || taps[0].weight != 1.0 || out_len != in_len)
      m.identity = false;
  }
  if (out_len != in_len) m.identity = false;
  return m;
}

std::vector<HostTensor> eval_resize(const EvalContext& ctx) {
  const Node& node = ctx.node;
  const HostTensor& x = ctx.input(0);
  const auto& xs = x.shape();
  const ResizeAttrs a = read_resize_attrs(node, x.rank());
  // Re-plan from the concrete inputs (same rules as inference, now with every value known).
  std::vector<TensorInfo> infos;
  for (size_t i = 0; i < ctx.inputs.size(); ++i)
    infos.push_back(ctx.has_input(i)
                        ? TensorInfo{ctx.inputs[i].dtype(), ctx.inputs[i].shape(), true}
                        : TensorInfo{DataType::kF32, {}, false});
  ResizeInputs in;
  auto pick = [&](size_t i, const TensorInfo*& info, const HostTensor*& data) {
    if (i < infos.size() && infos[i].present && infos[i].element_count() != 0)
      info = &infos[i], data = &ctx.inputs[i];
  };
  pick(1, in.roi, in.roi_data);
  pick(2, in.scales, in.scales_data);
  pick(3, in.sizes, in.sizes_data);
  const ResizePlan plan = plan_resize(node, a, xs, in);
  const std::vector<int64_t>& out_shape = ctx.outputs[0].shape;
  HostTensor y(x.dtype(), out_shape);
  if (y.element_count() == 0) return {y};
  for (size_t d = 0; d < xs.size(); ++d)
    require(xs[d] > 0, node, "rtx.ir.531",
            "input X " + x.describe() + " is empty but the output " + y.describe() +
                " is not: nothing to interpolate");

  std::vector<AxisMap> maps;
  for (size_t d = 0; d < xs.size(); ++d) maps.push_back(map_axis(a, plan, d, xs[d]));
  const auto in_strides = strides_of(xs);

  if (a.mode == ResizeMode::kNearest) {
    // A gather: exact for every dtype (int64 beyond 2^53, NaN payloads, packed 4-bit types).
    const int bits = bit_width(x.dtype());
    const size_t bytes = u(bits / 8);
    for_each_index(out_shape, [&](int64_t flat, std::span<const int64_t> o) {
      int64_t src = 0;
      for (size_t d = 0; d < o.size(); ++d) {
        if (maps[d].outside[u(o[d])]) {
          y.set_double(flat, a.extrapolation);
          return;
        }
        src += maps[d].taps[u(o[d])][0].index * in_strides[d];
      }
      if (bits < 8)
        y.set_double(flat, x.get_double(src));
      else
        std::memcpy(y.mutable_data() + u(flat) * bytes, x.data() + u(src) * bytes, bytes);
    });
    return {y};
  }

  // Linear and cubic weights are separable: interpolate one axis at a time in double.
  std::vector<double> buf = x.to_doubles();
  std::vector<int64_t> cur(xs.begin(), xs.end());
  for (size_t d = 0; d < xs.size(); ++d) {
    if (maps[d].identity) continue;
    const int64_t outer = product(std::span<const int64_t>(cur).first(d));
    const int64_t inner = product(std::span<const int64_t>(cur).subspan(d + 1));
    const int64_t in_len = cur[d], out_len = out_shape[d];
    std::vector<double> next(u(outer * out_len * inner), 0.0);
    for (int64_t p = 0; p < outer; ++p)
      for (int64_t o = 0; o < out_len; ++o) {
        double* dst = next.data() + (p * out_len + o) * inner;
        for (const Tap& t : maps[d].taps[u(o)]) {
          const double* src = buf.data() + (p * in_len + t.index) * inner;
          for (int64_t i = 0; i < inner; ++i) dst[i] += t.weight * src[i];
        }
      }
    buf = std::move(next);
    cur[d] = out_len;
  }
  if (a.coord == CoordMode::kTfCropAndResize) {
    // Any coordinate outside the input gives extrapolation_value (the reference returns it for
    // the outer axis directly and, for inner axes, mixes copies of it with weights summing to 1).
    for_each_index(out_shape, [&](int64_t flat, std::span<const int64_t> o) {
      for (size_t d = 0; d < o.size(); ++d)
        if (maps[d].outside[u(o[d])]) {
          buf[u(flat)] = a.extrapolation;
          return;
        }
    });
  }
  return {HostTensor::from_doubles(x.dtype(), out_shape, buf)};
}

}  // namespace

void register_conv_ops(OpRegistry& r) {
  r.add(OpSchema{OpKind::kConv, 2, 3, 1, 1, infer_conv, eval_conv});
  r.add(OpSchema{OpKind::kConvTranspose, 2, 3, 1, 1, infer_conv_transpose, eval_conv_transpose});
  r.add(OpSchema{OpKind::kMaxPool, 1, 1, 1, 2,
                 [](const InferContext& c) { return infer_pool(c, true); }, eval_max_pool});
  r.add(OpSchema{OpKind::kAveragePool, 1, 1, 1, 1,
                 [](const InferContext& c) { return infer_pool(c, false); }, eval_average_pool});
  r.add(OpSchema{OpKind::kGlobalAveragePool, 1, 1, 1, 1, infer_global_average_pool,
                 eval_global_average_pool});
  r.add(OpSchema{OpKind::kResize, 1, 4, 1, 1, infer_resize, eval_resize});
}

}  // namespace rtx::ir
