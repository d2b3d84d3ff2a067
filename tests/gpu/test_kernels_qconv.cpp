// SPDX-License-Identifier: Apache-2.0
// GPU tests of the int8 convolution (templates/qconv, jit/kernels/qconv) against the reference
// evaluator with the same quantization. Each case builds the decomposed IR pattern
// (DQ(x) -> Conv <- DQ(W) [bias] [-> Relu] [-> Q]), folds it (ir::fold_quantized_gemms), plans
// the kernel for this GPU (jit::kernels::plan_qconv), runs it on fresh random data with the
// output poisoned, and compares it with ir::evaluate of the same graph:
//   - power-of-two scales and |sums| below 2^24 (the staged f32 value is exact): bit for bit,
//     int8 and float outputs alike (each rounding matches the graph's);
//   - arbitrary scales: int8 outputs within one quantization step (the kernel rounds
//     x_scale * w_scale once, the reference rounds every dequantized element), float outputs
//     within the mid dtype's bound.
// Shapes: 1x1, 3x3 stride 1 and 2 with padding, channels 64/128/256, batch 1 and 8, odd spatial
// sizes, groups, uint8 activations.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gpu_harness.hpp"
#include "gemm_family_util.hpp"
#include "ir/graph.hpp"
#include "ir/quant_passes.hpp"
#include "ir/reference.hpp"
#include "jit/kernels/qconv.hpp"
#include "jit/thread_pool.hpp"

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;
using namespace rtx::test::gpu;
using rtx::ir::TensorMap;

namespace {

SpecKernels<QConvSpec>& kernel_set() {
  static SpecKernels<QConvSpec> k;
  return k;
}

using Attrs = std::map<std::string, ir::AttrValue, std::less<>>;

/// One quantized convolution as a graph.
struct Layer {
  int64_t n = 1, c = 64, m = 64, h = 14, w = 14, k = 3, stride = 1, pad = 1, group = 1, dilation = 1;
  DataType x_type = DataType::kINT8;
  DataType mid = DataType::kF32;     // Conv dtype and scale storage
  bool per_channel = true;
  bool bias = true;
  bool relu = true;
  bool q = true;
  DataType q_type = DataType::kINT8;
  bool pow2 = true;

  std::string describe() const {
    std::string s = "x " + shape_to_string(std::vector<int64_t>{n, c, h, w}) + " " + std::string(to_string(x_type)) +
                    " -> " + std::to_string(m) + " k" + std::to_string(k) + " s" + std::to_string(stride) + " p" +
                    std::to_string(pad) + " d" + std::to_string(dilation) + " g" + std::to_string(group) + " mid " + std::string(to_string(mid));
    s += per_channel ? " per-channel" : " per-tensor";
    if (bias) s += " bias";
    if (relu) s += " relu";
    if (q) s += " Q->" + std::string(to_string(q_type));
    return s + (pow2 ? " pow2" : " any-scale");
  }
};

struct Built {
  ir::Graph graph;
  TensorMap inputs;
};

Built build(const Layer& l) {
  Built r;
  ir::Graph& g = r.graph;
  const std::vector<int64_t> xs = {l.n, l.c, l.h, l.w};
  const ir::ValueId x = g.add_input("x", l.x_type, xs);
  r.inputs["x"] = l.x_type == DataType::kUINT8 ? random_ints(l.x_type, xs, 0, 255) : random_ints(l.x_type, xs, -128, 127);
  const ir::ValueId sx = g.add_weight("sx", scales(l.mid, {}, -6, -4, l.pow2));
  const ir::ValueId w = g.add_weight("w", random_ints(DataType::kINT8, {l.m, l.c / l.group, l.k, l.k}, -127, 127));
  const ir::ValueId sw = g.add_weight("sw", scales(l.mid, l.per_channel ? std::vector<int64_t>{l.m} : std::vector<int64_t>{},
                                                   -10, -7, l.pow2));
  const ir::NodeId dx = g.add_node(ir::OpKind::kDequantizeLinear, "dq_x", {x, sx});
  Attrs wa;
  if (l.per_channel) wa["axis"] = int64_t{0};
  const ir::NodeId dw = g.add_node(ir::OpKind::kDequantizeLinear, "dq_w", {w, sw}, 1, wa);
  std::vector<ir::ValueId> in = {g.node(dx).outputs[0], g.node(dw).outputs[0]};
  if (l.bias) in.push_back(g.add_weight("b", random_reals(l.mid, {l.m}, -2, 2)));
  ir::ValueId y = g.node(g.add_node(ir::OpKind::kConv, "conv", in, 1,
                                    {{"pads", std::vector<int64_t>{l.pad, l.pad, l.pad, l.pad}},
                                     {"strides", std::vector<int64_t>{l.stride, l.stride}},
                                     {"dilations", std::vector<int64_t>{l.dilation, l.dilation}},
                                     {"group", l.group}}))
                      .outputs[0];
  if (l.relu) y = g.node(g.add_node(ir::OpKind::kRelu, "relu", {y})).outputs[0];
  if (l.q) {
    const ir::ValueId sy = g.add_weight("sy", scales(l.mid, {}, -3, -1, l.pow2));
    const ir::ValueId zy = g.add_weight("zy", random_ints(l.q_type, {}, l.q_type == DataType::kUINT8 ? 120 : -5,
                                                          l.q_type == DataType::kUINT8 ? 136 : 5));
    y = g.node(g.add_node(ir::OpKind::kQuantizeLinear, "q_y", {y, sy, zy})).outputs[0];
  }
  g.mark_output(y, "y");
  g.infer_shapes();
  ir::fold_quantized_gemms(g, {});
  return r;
}

/// Runs the group's kernel `spec` on the device; the output's shape is `out_shape`.
HostTensor run_group(const ir::Graph& g, const ir::QuantConvGroup& grp, const QConvSpec& spec, const TensorMap& inputs,
                     const std::vector<int64_t>& out_shape) {
  const GroupOperands ops(g, grp.operands(), inputs, "y");
  const auto& host = ops.host;
  const ConvProblem problem = conv_problem(g.node(grp.anchor), host.at("x").shape(), host.at("w").shape());
  HostTensor out(spec.output, out_shape);
  DeviceBuffer d(std::max<size_t>(out.byte_size(), 16));
  d.poison();
  const auto ptr = [&](const char* role) { return ops.ptr(role); };
  const QConvBuffers buf{ptr("x"), ptr("w"), d.get(), ptr("x_scale"), ptr("w_scale"), ptr("bias"), ptr("y_scale"), ptr("y_zero")};
  auto ok = run(spec, kernel_set().get(spec), problem, buf, host.at("w_scale").element_count(), nullptr);
  REQUIRE_MESSAGE(ok, (ok ? std::string() : ok.error().to_string()));
  RTX_CUDA_CHECK(cudaGetLastError());
  RTX_CUDA_CHECK(cudaDeviceSynchronize());
  return d.download(spec.output, out_shape);
}

double float_bound(DataType mid) {
  if (mid == DataType::kBF16) return 1.5e-2;
  if (mid == DataType::kF16) return 2e-3;
  return 1e-5;
}

void compare(const Layer& l, const QConvSpec& spec, const HostTensor& got, const HostTensor& want) {
  INFO(l.describe() << " | " << spec.describe());
  REQUIRE(got.dtype() == want.dtype());
  REQUIRE(got.shape() == want.shape());
  const auto g = got.to_doubles(), w = want.to_doubles();
  for (double v : g) REQUIRE_FALSE(std::isnan(v));  // poisoned bytes left behind read as NaN for floats
  // |sum| < 2^24 keeps float(acc) exact: K * 128 * 128 (int8) or * 255 (uint8 x) bounds it.
  const int64_t k = l.c / l.group * l.k * l.k;
  const bool exact_sums = k * (l.x_type == DataType::kUINT8 ? 255 : 128) * 127 < (int64_t{1} << 24);
  if (l.pow2 && exact_sums) {
    int64_t mismatches = 0;
    for (size_t i = 0; i < g.size(); ++i) mismatches += g[i] != w[i];
    CHECK_MESSAGE(mismatches == 0, mismatches << " of " << g.size() << " elements differ");
    return;
  }
  if (spec.quantize) {
    int64_t off = 0, worst = 0;
    for (size_t i = 0; i < g.size(); ++i) {
      const auto diff = static_cast<int64_t>(std::abs(g[i] - w[i]));
      off += diff != 0;
      worst = std::max(worst, diff);
    }
    CHECK(worst <= 1);
    CHECK_MESSAGE(off * 50 <= static_cast<int64_t>(g.size()) + 50, off << " of " << g.size() << " off");
    return;
  }
  check_close(got, want, float_bound(l.mid), l.describe());
}

/// Plans, runs and compares every layer; returns the planned specs.
std::vector<QConvSpec> check_layers(const std::vector<Layer>& layers) {
  std::vector<Built> built;
  std::vector<QConvSpec> specs;
  for (const Layer& l : layers) {
    built.push_back(build(l));
    const auto groups = ir::find_quant_convs(built.back().graph);
    REQUIRE_MESSAGE(groups.size() == 1, l.describe());
    auto spec = plan_qconv(built.back().graph, groups[0], QConvPlanOptions{device_sm(), device_sms()});
    REQUIRE_MESSAGE(spec, "no kernel planned for " << l.describe());
    specs.push_back(*spec);
  }
  kernel_set().prepare(specs);
  for (size_t i = 0; i < layers.size(); ++i) {
    const Built& b = built[i];
    const HostTensor want = ir::evaluate(b.graph, b.inputs).at("y");
    const auto grp = ir::find_quant_convs(b.graph)[0];
    const HostTensor got = run_group(b.graph, grp, specs[i], b.inputs, want.shape());
    compare(layers[i], specs[i], got, want);
  }
  return specs;
}

struct Geometry {
  int64_t n, c, m, hw, k, stride;
};

// 1x1, 3x3 stride 1 and 2 (padding 1), channels 64/128/256, batch 1 and 8, odd spatial sizes.
const std::vector<Geometry> kGeometries = {
    {1, 64, 64, 56, 1, 1},   {8, 64, 128, 15, 1, 1},  {1, 64, 64, 17, 3, 1},  {8, 128, 128, 14, 3, 1},
    {1, 128, 256, 15, 3, 2}, {8, 256, 256, 7, 3, 1},  {8, 64, 128, 28, 3, 2}, {1, 256, 64, 9, 1, 2},
    {8, 256, 512, 7, 1, 1},  {1, 16, 24, 11, 3, 1},
};

}  // namespace

TEST_CASE("int8 conv: shapes, strides, epilogues; bit-exact with 2^k scales") {
  std::vector<Layer> layers;
  size_t i = 0;
  for (const Geometry& geo : kGeometries) {
    for (bool q : {true, false}) {
      Layer l;
      l.n = geo.n;
      l.c = geo.c;
      l.m = geo.m;
      l.h = l.w = geo.hw;
      l.k = geo.k;
      l.stride = geo.stride;
      l.pad = geo.k / 2;
      l.mid = i % 3 == 0 ? DataType::kF32 : (i % 3 == 1 ? DataType::kF16 : DataType::kBF16);
      l.per_channel = i % 4 != 3;
      l.bias = i % 5 != 4;
      l.relu = i % 2 == 0;
      l.q = q;
      l.q_type = i % 7 == 0 ? DataType::kUINT8 : DataType::kINT8;
      l.x_type = i % 6 == 5 ? DataType::kUINT8 : DataType::kINT8;
      layers.push_back(l);
      ++i;
    }
  }
  check_layers(layers);
}

TEST_CASE("int8 conv with arbitrary scales: one step for int8, dtype bounds for floats") {
  std::vector<Layer> layers;
  for (const Geometry& geo : {kGeometries[1], kGeometries[3], kGeometries[4], kGeometries[6]}) {
    for (bool q : {true, false}) {
      Layer l;
      l.n = geo.n;
      l.c = geo.c;
      l.m = geo.m;
      l.h = l.w = geo.hw;
      l.k = geo.k;
      l.stride = geo.stride;
      l.pad = geo.k / 2;
      l.pow2 = false;
      l.q = q;
      l.mid = q ? DataType::kF32 : DataType::kF16;
      layers.push_back(l);
    }
  }
  check_layers(layers);
}

TEST_CASE("int8 conv: groups, no padding, non-square input") {
  std::vector<Layer> layers;
  Layer l;
  l.n = 2;
  l.c = 64;
  l.m = 128;
  l.group = 4;
  l.h = 13;
  l.w = 21;
  layers.push_back(l);
  l.group = 1;
  l.pad = 0;
  l.stride = 2;
  layers.push_back(l);
  check_layers(layers);
}

TEST_CASE("int8 conv: dilation, pointwise groups, unaligned rows") {
  // The im2col loader's one-load path (4 consecutive bytes at any alignment) against its byte
  // path: dilated taps, 1x1 convolutions over odd planes and groups, rows of odd width whose
  // position quads straddle rows.
  std::vector<Layer> layers;
  Layer l;
  l.n = 3;
  l.c = 64;
  l.m = 64;
  l.h = 9;
  l.w = 20;
  l.dilation = 2;
  l.pad = 2;
  layers.push_back(l);
  l.pad = 0;
  layers.push_back(l);
  l.dilation = 1;
  l.k = 1;
  l.group = 2;
  l.h = l.w = 15;
  layers.push_back(l);
  l.group = 1;
  l.h = 5;
  l.w = 31;
  l.k = 3;
  l.pad = 1;
  layers.push_back(l);
  check_layers(layers);
}

TEST_CASE("int8 pointwise conv: x rows by cp.async of 16, 8 and 4 bytes, groups, tails") {
  // 1x1 stride-1 unpadded layers take the pointwise kernel (vec_x != 0) when the plane is a
  // multiple of 4 bytes: planes of 16 x 16, 4 x 6 and 14 x 14; K and M with partial tiles;
  // groups; uint8 activations; float and int8 outputs.
  struct Pw {
    int64_t n, c, m, h, w, group;
    int vec_x;
  };
  const std::vector<Pw> cases = {{2, 64, 128, 16, 16, 1, 16}, {3, 96, 40, 4, 6, 1, 8},  {1, 256, 1024, 14, 14, 1, 4},
                                 {2, 64, 64, 16, 16, 2, 16},  {4, 520, 72, 8, 8, 1, 16}, {1, 32, 16, 2, 2, 1, 4}};
  std::vector<Layer> layers;
  size_t i = 0;
  for (const Pw& pw : cases) {
    Layer l;
    l.n = pw.n;
    l.c = pw.c;
    l.m = pw.m;
    l.h = pw.h;
    l.w = pw.w;
    l.group = pw.group;
    l.k = 1;
    l.pad = 0;
    l.q = i % 2 == 0;
    l.relu = i % 3 != 2;
    l.mid = i % 3 == 0 ? DataType::kF16 : (i % 3 == 1 ? DataType::kF32 : DataType::kBF16);
    l.x_type = i % 4 == 3 ? DataType::kUINT8 : DataType::kINT8;
    layers.push_back(l);
    ++i;
  }
  const auto specs = check_layers(layers);
  for (size_t j = 0; j < cases.size(); ++j) CHECK_MESSAGE(specs[j].vec_x == cases[j].vec_x, layers[j].describe());
}

TEST_CASE("empty batch launches nothing") {
  Layer l;
  l.n = 0;
  Built b = build(l);
  const auto groups = ir::find_quant_convs(b.graph);
  REQUIRE(groups.size() == 1);
  auto spec = plan_qconv(b.graph, groups[0], QConvPlanOptions{device_sm(), device_sms()});
  REQUIRE(spec);
  const HostTensor got = run_group(b.graph, groups[0], *spec, b.inputs, {0, l.m, l.h, l.w});
  CHECK(got.element_count() == 0);
}
