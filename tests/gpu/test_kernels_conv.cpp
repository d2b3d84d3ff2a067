// SPDX-License-Identifier: Apache-2.0
// GPU tests of the convolution family against the reference evaluator: implicit GEMM in NCHW and
// NHWC, 1x1 NCHW through the GEMM kernel, depthwise (with channel multiplier), 1-D/2-D/3-D,
// stride, pad, dilation, groups, odd channel counts, every dtype (f16, bf16, f32 through tf32),
// fused bias + activation + residual and an output cast. The reference is ir::evaluate_node's Conv
// on the inputs widened to f64, with the epilogue applied in f64 and one rounding to the output
// dtype; NHWC runs get the same tensors permuted (weights reordered to OHWI).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gpu_harness.hpp"
#include "gemm_family_util.hpp"
#include "ir/graph.hpp"
#include "ir/op_registry.hpp"
#include "jit/kernels/conv.hpp"
#include "jit/thread_pool.hpp"

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;
using namespace rtx::test::gpu;

namespace {

SpecKernels<ConvSpec>& kernel_set() {
  static SpecKernels<ConvSpec> k;
  return k;
}

HostTensor widen(const HostTensor& t) {
  return HostTensor::from_doubles(DataType::kF64, t.shape(), t.to_doubles());
}

/// (N, C, spatial...) <-> (N, spatial..., C).
HostTensor move_channels(const HostTensor& t, bool to_last) {
  const auto& s = t.shape();
  const int64_t n = s[0];
  const int64_t c = to_last ? s[1] : s.back();
  int64_t pixels = 1;
  for (size_t i = to_last ? 2 : 1; i < (to_last ? s.size() : s.size() - 1); ++i) pixels *= s[i];
  std::vector<int64_t> shape{n};
  if (to_last) {
    shape.insert(shape.end(), s.begin() + 2, s.end());
    shape.push_back(c);
  } else {
    shape.push_back(c);
    shape.insert(shape.end(), s.begin() + 1, s.end() - 1);
  }
  const auto v = t.to_doubles();
  std::vector<double> out(v.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < pixels; ++p) {
        const int64_t first = (b * c + ch) * pixels + p;  // channels-first index
        const int64_t last = (b * pixels + p) * c + ch;   // channels-last index
        out[static_cast<size_t>(to_last ? last : first)] =
            v[static_cast<size_t>(to_last ? first : last)];
      }
  return HostTensor::from_doubles(t.dtype(), shape, out);
}

HostTensor apply_activation(GemmActivation act, const HostTensor& x) {
  ir::Node node;
  switch (act) {
    case GemmActivation::kNone:
    case GemmActivation::kFloor:  // only in name expressions; a spec never holds it
      return x;
    case GemmActivation::kRelu:
      node.op = ir::OpKind::kRelu;
      break;
    case GemmActivation::kGelu:
      node.op = ir::OpKind::kGelu;
      break;
    case GemmActivation::kGeluTanh:
      node.op = ir::OpKind::kGelu;
      node.attrs["approximate"] = std::string("tanh");
      break;
    case GemmActivation::kSilu:
      node.op = ir::OpKind::kSilu;
      break;
    case GemmActivation::kSigmoid:
      node.op = ir::OpKind::kSigmoid;
      break;
    case GemmActivation::kTanh:
      node.op = ir::OpKind::kTanh;
      break;
  }
  node.inputs = {0};
  node.outputs = {1};
  const HostTensor in[] = {x};
  return ir::evaluate_node(node, in)[0];
}

struct ConvCase {
  std::string what;
  ConvSpec spec;
  ConvProblem problem;
  HostTensor x, w, bias, residual;  // kernel layouts
  HostTensor want;                  // kernel layout, output dtype
  double bound = 0;
};

struct Geometry {
  std::vector<int64_t> x, w, strides, pads, dilations;
  int64_t groups = 1;
};

ConvCase make_case(const std::string& what, DataType in, DataType out, ConvLayout layout,
                   const Geometry& g, GemmActivation act, bool bias, bool residual) {
  ConvCase c;
  c.what = what + (layout == ConvLayout::kNHWC ? " nhwc " : " nchw ") + std::string(to_string(in)) +
           "->" + std::string(to_string(out));
  const HostTensor x = random_tensor(in, g.x);
  const HostTensor w = random_tensor(in, g.w);
  c.problem = conv_problem(g.x, g.w, g.strides, g.pads, g.dilations, g.groups);
  ConvPlanOptions po;
  po.sm = device_sm();
  po.layout = layout;
  po.output = out;
  po.activation = act;
  po.residual = residual;
  c.spec = choose_conv_spec(in, c.problem, bias, po);
  ir::Node node;
  node.op = ir::OpKind::kConv;
  node.inputs = bias ? std::vector<ir::ValueId>{0, 1, 2} : std::vector<ir::ValueId>{0, 1};
  node.outputs = {3};
  if (!g.strides.empty()) node.attrs["strides"] = g.strides;
  if (!g.pads.empty()) node.attrs["pads"] = g.pads;
  if (!g.dilations.empty()) node.attrs["dilations"] = g.dilations;
  node.attrs["group"] = g.groups;
  std::vector<HostTensor> ins = {widen(x), widen(w)};
  if (bias) {
    c.bias = random_tensor(in, {c.problem.m});
    ins.push_back(widen(c.bias));
  }
  const HostTensor y = apply_activation(act, ir::evaluate_node(node, ins)[0]);
  std::vector<double> v = y.to_doubles();
  HostTensor res_nchw;
  if (residual) {
    res_nchw = random_tensor(out, y.shape());
    const auto r = res_nchw.to_doubles();
    for (size_t i = 0; i < v.size(); ++i) v[i] += r[i];
  }
  const HostTensor want = HostTensor::from_doubles(out, y.shape(), v);
  const bool nhwc = layout == ConvLayout::kNHWC;
  c.x = nhwc ? move_channels(x, true) : x;
  c.w = nhwc && c.spec.algorithm == ConvAlgorithm::kImplicitGemm ? ohwi_weights(w) : w;
  if (residual) c.residual = nhwc ? move_channels(res_nchw, true) : res_nchw;
  c.want = nhwc ? move_channels(want, true) : want;
  const bool tf32 = in == DataType::kF32 && c.spec.algorithm != ConvAlgorithm::kDepthwise;
  c.bound = (in == DataType::kBF16 || out == DataType::kBF16) ? 1.5e-2
            : out == DataType::kF16                           ? 2e-3
            : tf32                                            ? 1e-3
                                                              : 1e-5;
  return c;
}

void run_case(const ConvCase& c) {
  INFO(c.what << " | " << c.spec.describe());
  REQUIRE_MESSAGE(can_implement(c.spec, c.problem), c.spec.describe());
  DeviceBuffer x(c.x), w(c.w), y(c.want.byte_size());
  DeviceBuffer bias = c.bias.valid() ? DeviceBuffer(c.bias) : DeviceBuffer();
  DeviceBuffer res = c.residual.valid() ? DeviceBuffer(c.residual) : DeviceBuffer();
  y.poison();
  const ConvBuffers b{x.get(), w.get(), y.get(), bias.get(), res.get()};
  auto ok = run(c.spec, kernel_set().get(c.spec), c.problem, b, nullptr);
  REQUIRE_MESSAGE(ok, (ok ? std::string() : ok.error().to_string()));
  RTX_CUDA_CHECK(cudaGetLastError());
  RTX_CUDA_CHECK(cudaDeviceSynchronize());
  check_close(y.download(c.spec.output, c.want.shape()), c.want, c.bound, c.what);
}

void run_all(const std::vector<ConvCase>& cases) {
  std::vector<ConvSpec> specs;
  for (const auto& c : cases) specs.push_back(c.spec);
  kernel_set().prepare(specs);
  for (const auto& c : cases) run_case(c);
}

}  // namespace

TEST_CASE("convolutions: layouts, dtypes, strides, pads, dilations, groups, 1-D/3-D") {
  using A = GemmActivation;
  struct Named {
    const char* what;
    Geometry g;
    A act;
    bool bias, residual;
    ConvAlgorithm expect_nchw;
  };
  const Named geometries[] = {
      {"3x3 s1 p1",
       {{2, 16, 9, 9}, {32, 16, 3, 3}, {1, 1}, {1, 1, 1, 1}, {}, 1},
       A::kRelu,
       true,
       false,
       ConvAlgorithm::kImplicitGemm},
      {"3x3 s2 p1",
       {{2, 16, 11, 11}, {24, 16, 3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 1},
       A::kNone,
       false,
       false,
       ConvAlgorithm::kImplicitGemm},
      {"3x3 dilation 2, uneven pads",
       {{1, 8, 12, 10}, {16, 8, 3, 3}, {}, {2, 1, 2, 3}, {2, 2}, 1},
       A::kNone,
       true,
       false,
       ConvAlgorithm::kImplicitGemm},
      {"groups 4",
       {{2, 16, 9, 9}, {32, 4, 3, 3}, {}, {1, 1, 1, 1}, {}, 4},
       A::kSilu,
       true,
       true,
       ConvAlgorithm::kImplicitGemm},
      {"1x1",
       {{2, 64, 7, 7}, {128, 64, 1, 1}, {}, {}, {}, 1},
       A::kNone,
       true,
       true,
       ConvAlgorithm::kGemm},
      {"1x1 padded at the far ends only (not a GEMM)",
       {{2, 32, 6, 7}, {48, 32, 1, 1}, {}, {0, 0, 1, 2}, {}, 1},
       A::kNone,
       true,
       false,
       ConvAlgorithm::kImplicitGemm},
      {"7x7 s2 p3, C=3",
       {{1, 3, 32, 32}, {64, 3, 7, 7}, {2, 2}, {3, 3, 3, 3}, {}, 1},
       A::kRelu,
       true,
       false,
       ConvAlgorithm::kImplicitGemm},
      {"1-D k5 s2 p2",
       {{2, 8, 50}, {12, 8, 5}, {2}, {2, 2}, {}, 1},
       A::kGelu,
       true,
       false,
       ConvAlgorithm::kImplicitGemm},
      {"3-D k3 p1",
       {{1, 4, 6, 7, 8}, {8, 4, 3, 3, 3}, {}, {1, 1, 1, 1, 1, 1}, {}, 1},
       A::kNone,
       false,
       true,
       ConvAlgorithm::kImplicitGemm},
      {"depthwise 3x3",
       {{2, 32, 10, 10}, {32, 1, 3, 3}, {}, {1, 1, 1, 1}, {}, 32},
       A::kRelu,
       true,
       true,
       ConvAlgorithm::kDepthwise},
      {"depthwise x2 s2",
       {{1, 16, 9, 9}, {32, 1, 3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 16},
       A::kNone,
       true,
       false,
       ConvAlgorithm::kDepthwise},
      {"odd channels 5->7",
       {{3, 5, 6, 6}, {7, 5, 2, 2}, {}, {}, {}, 1},
       A::kTanh,
       true,
       false,
       ConvAlgorithm::kImplicitGemm},
  };
  std::vector<ConvCase> cases;
  for (ConvLayout layout : {ConvLayout::kNCHW, ConvLayout::kNHWC}) {
    for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
      for (const auto& n : geometries) {
        cases.push_back(make_case(n.what, t, t, layout, n.g, n.act, n.bias, n.residual));
        if (layout == ConvLayout::kNCHW) CHECK(cases.back().spec.algorithm == n.expect_nchw);
      }
    }
  }
  run_all(cases);
}

TEST_CASE("a ResNet-sized layer, an output cast, and an empty batch") {
  std::vector<ConvCase> cases;
  const Geometry big{{4, 64, 28, 28}, {128, 64, 3, 3}, {}, {1, 1, 1, 1}, {}, 1};
  for (ConvLayout layout : {ConvLayout::kNCHW, ConvLayout::kNHWC}) {
    cases.push_back(make_case("resnet 3x3", DataType::kF16, DataType::kF16, layout, big,
                              GemmActivation::kRelu, true, true));
    cases.push_back(make_case("resnet 3x3 cast", DataType::kF16, DataType::kF32, layout, big,
                              GemmActivation::kNone, true, false));
  }
  run_all(cases);

  const ConvProblem empty = conv_problem(std::vector<int64_t>{0, 8, 5, 5},
                                         std::vector<int64_t>{8, 8, 3, 3}, {}, {}, {}, 1);
  ConvPlanOptions po;
  po.sm = device_sm();
  const ConvSpec s = choose_conv_spec(DataType::kF16, empty, false, po);
  CHECK(launch_config(s, empty).grid.x == 0);
  auto ok = run(s, kernel_set().get(s), empty, ConvBuffers{}, nullptr);
  CHECK(ok);
}
