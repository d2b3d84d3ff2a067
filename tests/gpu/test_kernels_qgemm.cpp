// SPDX-License-Identifier: Apache-2.0
// GPU tests of the quantized GEMM family against the reference evaluator with the same
// quantization. Each case builds the decomposed IR pattern (DQ -> MatMul/Gemm [-> Add] [-> act]
// [-> Q]), folds it (ir::fold_quantized_gemms), plans the kernel for this GPU
// (jit::kernels::plan_qgemm; on sm_90 both the wgmma and the mma.sync kernels where both
// apply), runs it on fresh random data with the output poisoned, and compares it with
// ir::evaluate of the same graph:
//   - 8-bit integer kernels with power-of-two scales: bit-exact (integer sums are exact, every
//     scale product is exact, each rounding matches the graph's); with arbitrary scales: int8
//     outputs within one quantization step, float outputs within the mid dtype's bound;
//   - fp8 and weight-only kernels: relative error within the dtype's bound (tensor-core sums);
//   - a quantized MLP (three int8 layers chained through int8 activations) end to end, bit-exact
//     with power-of-two scales, and an int4 weight-only MLP in f16.
// FP4 kernels run only on a Blackwell GPU (sm_100 / sm_120); elsewhere that case says so and
// checks nothing.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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
#include "ir/op_registry.hpp"
#include "ir/quant_passes.hpp"
#include "ir/reference.hpp"
#include "jit/kernels/qgemm.hpp"
#include "jit/thread_pool.hpp"

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;
using namespace rtx::test::gpu;
using rtx::ir::TensorMap;

namespace {

Target target_for(const QGemmSpec& spec) {
  if (spec.algorithm == QGemmAlgorithm::kWgmma) return Target{90, true, false};
  return Target{device_sm(), false, false};
}

SpecKernels<QGemmSpec>& kernel_set() {
  static SpecKernels<QGemmSpec> k(target_for);
  return k;
}

using Attrs = std::map<std::string, ir::AttrValue, std::less<>>;

/// How B reaches the GEMM.
enum class BForm { kKN, kTransposeAfterDq, kTransposeBeforeDq, kGemmTransB, kGemmKN, kBatched };
enum class Gran { kTensor, kColumn, kBlocked, kPerK };

/// One quantized layer as a graph.
struct Layer {
  DataType a = DataType::kINT8;       // int8/uint8/fp8, or f16/bf16 (weight-only)
  DataType b = DataType::kINT8;
  DataType mid = DataType::kF32;      // DQ output / MatMul dtype
  DataType scale = DataType::kF32;    // scale storage (== mid unless weight-only with f32 scales)
  std::vector<int64_t> a_shape{7, 64};
  int64_t n = 24;
  BForm form = BForm::kKN;
  Gran gran = Gran::kColumn;
  int64_t block = 32;
  bool zero = false;                  // weight-only integer zero point
  bool bias = false;
  ir::OpKind act = ir::OpKind::kIdentity;  // none
  bool q = false;
  DataType q_type = DataType::kINT8;
  bool saturate = true;
  bool pow2 = true;
  double alpha = 1.0, beta = 1.0;

  std::string describe() const {
    std::string s = std::string(to_string(a)) + "x" + std::string(to_string(b)) + " mid " +
                    std::string(to_string(mid)) + " scale " + std::string(to_string(scale)) + " A " +
                    shape_to_string(a_shape) + " N " + std::to_string(n) + " form " +
                    std::to_string(static_cast<int>(form)) + " gran " + std::to_string(static_cast<int>(gran));
    if (gran == Gran::kBlocked) s += " block " + std::to_string(block);
    if (zero) s += " zero";
    if (bias) s += " bias";
    if (act != ir::OpKind::kIdentity) s += " " + std::string(ir::op_name(act));
    if (q) s += " Q->" + std::string(to_string(q_type)) + (saturate ? "" : "(nosat)");
    s += pow2 ? " pow2" : " any-scale";
    return s;
  }
};

bool is_8bit_int(DataType t) { return t == DataType::kINT8 || t == DataType::kUINT8; }
bool is_fp8(DataType t) { return t == DataType::kFP8E4M3 || t == DataType::kFP8E5M2; }

/// Random stored values of a quantized type.
HostTensor quantized(DataType t, std::vector<int64_t> shape) {
  switch (t) {
    case DataType::kINT8: return random_ints(t, std::move(shape), -128, 127);
    case DataType::kUINT8: return random_ints(t, std::move(shape), 0, 255);
    case DataType::kINT4: return random_ints(t, std::move(shape), -8, 7);
    case DataType::kUINT4: return random_ints(t, std::move(shape), 0, 15);
    case DataType::kFP4E2M1: return random_reals(t, std::move(shape), -6, 6);
    default: return random_reals(t, std::move(shape), -8, 8);  // fp8
  }
}

struct Built {
  ir::Graph graph;
  TensorMap inputs;
};

/// Builds `l` with random weights and inputs. K is a_shape.back().
Built build(const Layer& l) {
  Built r;
  ir::Graph& g = r.graph;
  const int64_t k = l.a_shape.back(), n = l.n;
  const bool weight_only = l.a == DataType::kF16 || l.a == DataType::kBF16;
  const ir::ValueId x = g.add_input("x", l.a, l.a_shape);
  r.inputs["x"] = weight_only ? random_reals(l.a, l.a_shape, -1, 1) : quantized(l.a, l.a_shape);
  ir::ValueId a_val = x;
  if (!weight_only) {
    const ir::ValueId sx = g.add_weight("sx", scales(l.scale, {}, -6, -3, l.pow2));
    a_val = g.node(g.add_node(ir::OpKind::kDequantizeLinear, "dq_x", {x, sx})).outputs[0];
  }
  // B as stored, and the DQ input's layout.
  const bool stored_nk = l.form == BForm::kTransposeAfterDq || l.form == BForm::kTransposeBeforeDq ||
                         l.form == BForm::kGemmTransB;
  std::vector<int64_t> b_shape = stored_nk ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n};
  if (l.form == BForm::kBatched) b_shape = {l.a_shape[0], k, n};
  ir::ValueId w;
  if (l.form == BForm::kBatched) {
    w = g.add_input("w", l.b, b_shape);
    r.inputs["w"] = quantized(l.b, b_shape);
  } else {
    w = g.add_weight("w", quantized(l.b, b_shape));
  }
  ir::ValueId dq_in = w;
  if (l.form == BForm::kTransposeBeforeDq)
    dq_in = g.node(g.add_node(ir::OpKind::kTranspose, "w_t", {w}, 1, {{"perm", std::vector<int64_t>{1, 0}}})).outputs[0];
  // (Output infos are unknown until inference: spell the DQ input's shape out.)
  const std::vector<int64_t> dq_shape = l.form == BForm::kTransposeBeforeDq ? std::vector<int64_t>{k, n} : b_shape;
  const bool dq_kn = !(l.form == BForm::kTransposeAfterDq || l.form == BForm::kGemmTransB);
  const int64_t k_axis = dq_kn ? 0 : 1, n_axis = 1 - k_axis;
  Attrs dq_attrs;
  std::vector<int64_t> s_shape;
  switch (l.gran) {
    case Gran::kTensor: break;
    case Gran::kColumn:
      s_shape = {n};
      dq_attrs["axis"] = n_axis;
      break;
    case Gran::kPerK:
      s_shape = {k};
      dq_attrs["axis"] = k_axis;
      break;
    case Gran::kBlocked:
      s_shape = dq_shape;
      s_shape[static_cast<size_t>(k_axis)] = (k + l.block - 1) / l.block;
      dq_attrs["axis"] = k_axis;
      dq_attrs["block_size"] = l.block;
      break;
  }
  if (weight_only && l.scale != l.mid)
    dq_attrs["output_dtype"] = int64_t{l.mid == DataType::kF16 ? 10 : 16};
  // Weight-only scales keep dequantized values O(1); 8-bit scales keep products moderate.
  const ir::ValueId sw = g.add_weight("sw", weight_only ? scales(l.scale, s_shape, -4, -1, l.pow2)
                                                        : scales(l.scale, s_shape, -8, -5, l.pow2));
  std::vector<ir::ValueId> dq_inputs = {dq_in, sw};
  if (l.zero) {
    const int lo = l.b == DataType::kUINT4 ? 5 : (l.b == DataType::kUINT8 ? 100 : -3);
    const int hi = l.b == DataType::kUINT4 ? 10 : (l.b == DataType::kUINT8 ? 150 : 3);
    dq_inputs.push_back(g.add_weight("zw", random_ints(l.b, s_shape, lo, hi)));
  }
  ir::ValueId b_val = g.node(g.add_node(ir::OpKind::kDequantizeLinear, "dq_w", dq_inputs, 1, dq_attrs)).outputs[0];
  if (l.form == BForm::kTransposeAfterDq)
    b_val = g.node(g.add_node(ir::OpKind::kTranspose, "w_t", {b_val}, 1, {{"perm", std::vector<int64_t>{1, 0}}})).outputs[0];
  ir::ValueId y;
  if (l.form == BForm::kGemmTransB || l.form == BForm::kGemmKN) {
    std::vector<ir::ValueId> ins = {a_val, b_val};
    if (l.bias) ins.push_back(g.add_weight("c", random_reals(l.mid, {n}, -2, 2)));
    Attrs attrs = {{"alpha", l.alpha}, {"beta", l.beta}};
    if (l.form == BForm::kGemmTransB) attrs["transB"] = int64_t{1};
    y = g.node(g.add_node(ir::OpKind::kGemm, "fc", ins, 1, attrs)).outputs[0];
  } else {
    y = g.node(g.add_node(ir::OpKind::kMatMul, "fc", {a_val, b_val})).outputs[0];
    if (l.bias) y = g.node(g.add_node(ir::OpKind::kAdd, "fc_bias", {y, g.add_weight("bias", random_reals(l.mid, {n}, -2, 2))})).outputs[0];
  }
  if (l.act != ir::OpKind::kIdentity) y = g.node(g.add_node(l.act, "act", {y})).outputs[0];
  if (l.q) {
    const ir::ValueId sy = g.add_weight("sy", scales(l.scale, {}, -3, -1, l.pow2));
    std::vector<ir::ValueId> ins = {y, sy};
    if (is_8bit_int(l.q_type))
      ins.push_back(g.add_weight("zy", random_ints(l.q_type, {}, l.q_type == DataType::kUINT8 ? 120 : -5,
                                                   l.q_type == DataType::kUINT8 ? 136 : 5)));
    Attrs attrs;
    if (!is_8bit_int(l.q_type)) attrs["output_dtype"] = int64_t{l.q_type == DataType::kFP8E4M3 ? 17 : 19};
    attrs["saturate"] = int64_t{l.saturate ? 1 : 0};
    y = g.node(g.add_node(ir::OpKind::kQuantizeLinear, "q_y", ins, 1, attrs)).outputs[0];
  }
  g.mark_output(y, "y");
  g.infer_shapes();
  ir::fold_quantized_gemms(g, {});
  return r;
}

/// Runs the group's kernel `spec` on the device; the output's shape is `out_shape`.
HostTensor run_group(const ir::Graph& g, const ir::QuantGemmGroup& grp, const QGemmSpec& spec,
                     const TensorMap& inputs, const std::vector<int64_t>& out_shape) {
  const GroupOperands ops(g, grp.operands(), inputs, "d");
  const auto& host = ops.host;
  auto problem = qgemm_problem(spec, host.at("a").shape(), host.at("b").shape(), host.at("b_scale").shape());
  REQUIRE_MESSAGE(problem, problem.error().to_string());
  HostTensor out(spec.output, out_shape);
  DeviceBuffer d(std::max<size_t>(out.byte_size(), 16));
  d.poison();
  const auto ptr = [&](const char* role) { return ops.ptr(role); };
  QGemmBuffers buf{ptr("a"), ptr("b"), d.get(), ptr("a_scale"), ptr("b_scale"), ptr("b_zero"),
                   ptr("bias"), ptr("y_scale"), ptr("y_zero")};
  const Kernel& kernel = kernel_set().get(spec);
  auto ok = run(spec, kernel, *problem, buf, nullptr);
  REQUIRE_MESSAGE(ok, (ok ? std::string() : ok.error().to_string()));
  RTX_CUDA_CHECK(cudaGetLastError());
  RTX_CUDA_CHECK(cudaDeviceSynchronize());
  return d.download(spec.output, out_shape);
}

/// Bound on the relative error of a float result of this layer.
double float_bound(const Layer& l, const QGemmSpec& spec) {
  const DataType out = spec.output;
  if (out == DataType::kBF16 || l.mid == DataType::kBF16) return 1.5e-2;
  if (is_fp8(out)) return 7e-2;
  if (out == DataType::kF16 || l.mid == DataType::kF16) return 2e-3;
  return 1e-5;
}

/// Compares; exact / one-step rules for 8-bit integer paths, bounds otherwise.
void compare(const Layer& l, const QGemmSpec& spec, const HostTensor& got, const HostTensor& want) {
  INFO(l.describe() << " | " << spec.describe());
  REQUIRE(got.dtype() == want.dtype());
  REQUIRE(got.shape() == want.shape());
  const bool int_path = is_8bit_int(l.a) && is_8bit_int(l.b);
  // The staged f32 accumulator is exact while |sum| <= 2^24; beyond that (uint8 x uint8 with a
  // long K) a 16-bit mid type may see a second rounding.
  const int64_t k = l.a_shape.back();
  const int64_t max_a = l.a == DataType::kUINT8 ? 255 : 128, max_b = l.b == DataType::kUINT8 ? 255 : 128;
  const bool exact_sums = k * max_a * max_b <= (int64_t{1} << 24) || l.mid == DataType::kF32;
  if (int_path && l.pow2 && exact_sums) {
    // Every rounding matches the unfused graph's: bit for bit.
    int64_t mismatches = 0;
    const auto g = got.to_doubles(), w = want.to_doubles();
    for (size_t i = 0; i < g.size(); ++i) mismatches += !(g[i] == w[i] || (std::isnan(g[i]) && std::isnan(w[i])));
    CHECK_MESSAGE(mismatches == 0, mismatches << " of " << g.size() << " elements differ");
    return;
  }
  if (is_8bit_int(spec.output)) {
    // One rounding of a_scale * b_scale against per-element DQ roundings: at most one step,
    // and rarely.
    const auto g = got.to_ints(), w = want.to_ints();
    int64_t off = 0, worst = 0;
    for (size_t i = 0; i < g.size(); ++i) {
      const int64_t diff = std::abs(g[i] - w[i]);
      off += diff != 0;
      worst = std::max(worst, diff);
    }
    CHECK(worst <= (int_path ? 1 : 2));
    CHECK_MESSAGE(off * 50 <= static_cast<int64_t>(g.size()) + 50, off << " of " << g.size() << " off");
    return;
  }
  check_close(got, want, float_bound(l, spec), l.describe());
}

/// Plans, runs and compares one layer with every algorithm that applies on this GPU.
void check_layer(const Layer& l) {
  Built b = build(l);
  const auto groups = ir::find_quant_gemms(b.graph);
  REQUIRE_MESSAGE(groups.size() == 1, l.describe());
  const auto& grp = groups[0];
  const HostTensor want = ir::evaluate(b.graph, b.inputs).at("y");
  std::vector<QGemmSpec> specs;
  for (bool arch : {true, false}) {
    if (arch && device_sm() != 90) continue;
    auto spec = plan_qgemm(b.graph, grp, QGemmPlanOptions{device_sm(), arch, device_sms()});
    REQUIRE_MESSAGE(spec, "no kernel planned for " << l.describe());
    if (std::none_of(specs.begin(), specs.end(), [&](const QGemmSpec& s) { return s == *spec; }))
      specs.push_back(*spec);
  }
  for (const QGemmSpec& spec : specs) {
    const HostTensor got = run_group(b.graph, grp, spec, b.inputs, want.shape());
    compare(l, spec, got, want);
  }
}

/// Compiles every kernel the layers need first, in parallel.
void check_layers(const std::vector<Layer>& layers) {
  std::vector<QGemmSpec> all;
  for (const Layer& l : layers) {
    Built b = build(l);
    const auto groups = ir::find_quant_gemms(b.graph);
    if (groups.size() != 1) continue;
    for (bool arch : {true, false}) {
      if (arch && device_sm() != 90) continue;
      if (auto s = plan_qgemm(b.graph, groups[0], QGemmPlanOptions{device_sm(), arch, device_sms()}))
        all.push_back(*s);
    }
  }
  kernel_set().prepare(all);
  for (const Layer& l : layers) check_layer(l);
}

struct Shape {
  std::vector<int64_t> a;
  int64_t n;
};

const std::vector<Shape> kShapes = {{{1, 32}, 8},      {{7, 64}, 24},         {{33, 96}, 200},
                                    {{130, 256}, 136}, {{2, 129, 128}, 264},  {{257, 512}, 384},
                                    {{64, 1024}, 72},  {{300, 160}, 1000}};

}  // namespace

TEST_CASE("int8 x int8: layouts, scales, epilogues and odd shapes (bit-exact with 2^k scales)") {
  std::vector<Layer> layers;
  const std::pair<DataType, DataType> types[] = {{DataType::kINT8, DataType::kINT8},
                                                 {DataType::kUINT8, DataType::kINT8},
                                                 {DataType::kINT8, DataType::kUINT8},
                                                 {DataType::kUINT8, DataType::kUINT8}};
  size_t i = 0;
  for (const Shape& s : kShapes) {
    for (const BForm form : {BForm::kKN, BForm::kTransposeAfterDq, BForm::kTransposeBeforeDq}) {
      Layer l;
      l.a = types[i % 4].first;
      l.b = types[i % 4].second;
      l.mid = l.scale = (i % 3 == 0) ? DataType::kF32 : (i % 3 == 1 ? DataType::kF16 : DataType::kBF16);
      l.a_shape = s.a;
      l.n = s.n;
      l.form = form;
      l.gran = i % 2 ? Gran::kColumn : Gran::kTensor;
      l.bias = i % 2 == 0;
      l.act = i % 4 == 1 ? ir::OpKind::kRelu : ir::OpKind::kIdentity;
      l.q = i % 3 != 2;
      l.q_type = i % 5 == 0 ? DataType::kUINT8 : DataType::kINT8;
      layers.push_back(l);
      ++i;
    }
  }
  check_layers(layers);
}

TEST_CASE("int8 x int8 with arbitrary scales: one step for int8, dtype bounds for floats") {
  std::vector<Layer> layers;
  for (const Shape& s : kShapes) {
    for (bool q : {true, false}) {
      Layer l;
      l.pow2 = false;
      l.a_shape = s.a;
      l.n = s.n;
      l.form = BForm::kTransposeAfterDq;
      l.gran = Gran::kColumn;
      l.bias = true;
      l.act = q ? ir::OpKind::kRelu : ir::OpKind::kGelu;
      l.q = q;
      layers.push_back(l);
    }
  }
  check_layers(layers);
}

TEST_CASE("int8 Gemm: transB, C as bias, alpha and beta; batched MatMul of two activations") {
  std::vector<Layer> layers;
  for (BForm form : {BForm::kGemmTransB, BForm::kGemmKN}) {
    for (const Shape& s : {Shape{{5, 64}, 40}, Shape{{200, 320}, 136}}) {
      Layer l;
      l.form = form;
      l.a_shape = s.a;
      l.n = s.n;
      l.bias = true;
      l.alpha = 0.5;
      l.beta = 2.0;  // powers of two: still exact
      l.q = true;
      layers.push_back(l);
    }
  }
  for (const Shape& s : {Shape{{3, 17, 64}, 24}, Shape{{2, 130, 256}, 72}}) {
    Layer l;
    l.form = BForm::kBatched;
    l.gran = Gran::kTensor;
    l.a_shape = s.a;
    l.n = s.n;
    l.mid = l.scale = DataType::kF16;
    layers.push_back(l);
  }
  check_layers(layers);
}

TEST_CASE("fp8 x fp8 (sm_89 and newer)") {
  if (device_sm() < 89) {
    MESSAGE("this GPU (sm_" << device_sm() << ") cannot run fp8: skipped");
    return;
  }
  std::vector<Layer> layers;
  size_t i = 0;
  for (const Shape& s : kShapes) {
    Layer l;
    l.a = i % 3 == 2 ? DataType::kFP8E5M2 : DataType::kFP8E4M3;
    l.b = i % 4 == 3 ? DataType::kFP8E5M2 : DataType::kFP8E4M3;
    l.mid = l.scale = i % 2 ? DataType::kF16 : DataType::kF32;
    l.a_shape = s.a;
    l.n = s.n;
    l.form = i % 2 ? BForm::kTransposeAfterDq : BForm::kKN;
    l.gran = i % 3 ? Gran::kColumn : Gran::kTensor;
    l.bias = i % 2 == 0;
    l.q = i % 2 == 1;
    l.q_type = i % 4 == 1 ? DataType::kFP8E4M3 : DataType::kINT8;
    l.saturate = i != 5;
    layers.push_back(l);
    ++i;
  }
  check_layers(layers);
}

TEST_CASE("weight-only int8 / uint8 / int4 / uint4 / fp8: granularities, zero points, layouts") {
  std::vector<Layer> layers;
  const DataType wtypes[] = {DataType::kINT4, DataType::kUINT4, DataType::kINT8, DataType::kUINT8,
                             DataType::kFP8E4M3, DataType::kFP8E5M2};
  size_t i = 0;
  for (const Shape& s : kShapes) {
    for (DataType wt : wtypes) {
      if (is_fp8(wt) && device_sm() < 89) continue;
      Layer l;
      l.a = l.mid = i % 2 ? DataType::kBF16 : DataType::kF16;
      l.b = wt;
      l.scale = i % 5 == 0 ? DataType::kF32 : l.mid;
      l.a_shape = s.a;
      l.n = s.n + (s.n % 2);  // packed rows start on whole bytes
      l.form = i % 3 == 0 ? BForm::kKN : (i % 3 == 1 ? BForm::kTransposeAfterDq : BForm::kTransposeBeforeDq);
      const Gran grans[] = {Gran::kBlocked, Gran::kColumn, Gran::kTensor, Gran::kPerK};
      l.gran = grans[i % 4];
      l.block = (i % 3 + 1) * 32;
      l.zero = !is_fp8(wt) && i % 2 == 0;
      l.bias = i % 3 == 0;
      l.act = i % 4 == 2 ? ir::OpKind::kSilu : ir::OpKind::kIdentity;
      l.pow2 = false;
      if (l.a_shape.back() % 2 == 1) l.a_shape.back() += 1;
      layers.push_back(l);
      ++i;
    }
  }
  check_layers(layers);
}

TEST_CASE("fp4 weight-only (Blackwell only)") {
  if (device_sm() < 100) {
    MESSAGE("this GPU (sm_" << device_sm() << ") is not a Blackwell GPU: the fp4 kernels were "
            "compiled and checked with NVRTC (unit suite) but cannot run here");
    return;
  }
  std::vector<Layer> layers;
  for (const Shape& s : kShapes) {
    Layer l;
    l.a = l.mid = l.scale = DataType::kF16;
    l.b = DataType::kFP4E2M1;
    l.a_shape = s.a;
    l.n = s.n + (s.n % 2);
    l.form = BForm::kTransposeAfterDq;
    l.gran = Gran::kBlocked;
    l.block = 32;
    l.pow2 = false;
    layers.push_back(l);
  }
  check_layers(layers);
}

TEST_CASE("empty outputs launch nothing") {
  Layer l;
  l.a_shape = {0, 64};
  Built b = build(l);
  const auto groups = ir::find_quant_gemms(b.graph);
  REQUIRE(groups.size() == 1);
  auto spec = plan_qgemm(b.graph, groups[0], QGemmPlanOptions{device_sm(), false, device_sms()});
  REQUIRE(spec);
  const HostTensor got = run_group(b.graph, groups[0], *spec, b.inputs, {0, l.n});
  CHECK(got.element_count() == 0);
}

namespace {

/// Runs every folded group of `g` in order on the device, keeping intermediates on the host,
/// and returns the graph output "y".
HostTensor run_chain(const ir::Graph& g, TensorMap values) {
  const auto groups = ir::find_quant_gemms(g);
  REQUIRE(!groups.empty());
  for (const auto& grp : groups) {
    auto spec = plan_qgemm(g, grp, QGemmPlanOptions{device_sm(), device_sm() == 90, device_sms()});
    REQUIRE_MESSAGE(spec, grp.describe(g));
    // The output's shape from the reference inference of the concrete inputs.
    // (The chain's A operands are activations, never weights.)
    std::vector<int64_t> out_shape = values.at(g.value(grp.a).name).shape();
    out_shape.back() = g.value(grp.output).info.shape.back();
    values[g.value(grp.output).name] = run_group(g, grp, *spec, values, out_shape);
  }
  return values.at("y");
}

}  // namespace

TEST_CASE("a quantized MLP end to end: three int8 layers chained through int8 activations") {
  for (bool pow2 : {true, false}) {
    CAPTURE(pow2);
    ir::Graph g;
    const int64_t batch = 37;
    const std::vector<int64_t> widths = {256, 512, 384, 10};
    ir::ValueId cur = g.add_input("x", DataType::kINT8, {batch, widths[0]});
    ir::ValueId cur_scale = g.add_weight("s0", scales(DataType::kF32, {}, -5, -4, pow2));
    for (size_t i = 0; i + 1 < widths.size(); ++i) {
      const std::string s = std::to_string(i);
      const bool last = i + 2 == widths.size();
      const ir::ValueId w = g.add_weight("w" + s, random_ints(DataType::kINT8, {widths[i + 1], widths[i]}, -127, 127));
      const ir::ValueId sw = g.add_weight("sw" + s, scales(DataType::kF32, {widths[i + 1]}, -9, -7, pow2));
      const ir::ValueId bias = g.add_weight("b" + s, random_reals(DataType::kF32, {widths[i + 1]}, -1, 1));
      const ir::NodeId dx = g.add_node(ir::OpKind::kDequantizeLinear, "dq_x" + s, {cur, cur_scale});
      const ir::NodeId dw = g.add_node(ir::OpKind::kDequantizeLinear, "dq_w" + s, {w, sw}, 1, {{"axis", int64_t{0}}});
      const ir::NodeId wt = g.add_node(ir::OpKind::kTranspose, "w_t" + s, {g.node(dw).outputs[0]}, 1,
                                       {{"perm", std::vector<int64_t>{1, 0}}});
      ir::ValueId y = g.node(g.add_node(ir::OpKind::kMatMul, "fc" + s, {g.node(dx).outputs[0], g.node(wt).outputs[0]})).outputs[0];
      y = g.node(g.add_node(ir::OpKind::kAdd, "bias" + s, {y, bias})).outputs[0];
      if (!last) {
        y = g.node(g.add_node(ir::OpKind::kRelu, "relu" + s, {y})).outputs[0];
        cur_scale = g.add_weight("s" + std::to_string(i + 1), scales(DataType::kF32, {}, -3, -2, pow2));
        const ir::ValueId z = g.add_weight("z" + std::to_string(i + 1), HostTensor::from_doubles(DataType::kINT8, {}, std::vector<double>{-20}));
        y = g.node(g.add_node(ir::OpKind::kQuantizeLinear, "q" + s, {y, cur_scale, z})).outputs[0];
      }
      cur = y;
    }
    g.mark_output(cur, "y");
    g.infer_shapes();
    ir::fold_quantized_gemms(g, {});
    REQUIRE(ir::find_quant_gemms(g).size() == 3);
    TensorMap in{{"x", random_ints(DataType::kINT8, {batch, widths[0]}, -128, 127)}};
    const HostTensor want = ir::evaluate(g, in).at("y");
    const HostTensor got = run_chain(g, in);
    if (pow2) {
      CHECK(std::memcmp(got.data(), want.data(), want.byte_size()) == 0);
    } else {
      // An intermediate off by one quantization step moves the logits a little.
      check_close(got, want, 3e-2, "int8 MLP, arbitrary scales");
    }
  }
}

TEST_CASE("a weight-only int4 MLP in f16 end to end") {
  ir::Graph g;
  const int64_t batch = 9;
  const std::vector<int64_t> widths = {512, 1024, 256};
  ir::ValueId cur = g.add_input("x", DataType::kF16, {batch, widths[0]});
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    const std::string s = std::to_string(i);
    const int64_t k = widths[i], n = widths[i + 1], block = 64;
    const ir::ValueId w = g.add_weight("w" + s, random_ints(DataType::kINT4, {k, n}, -8, 7));
    const ir::ValueId sw = g.add_weight("sw" + s, random_reals(DataType::kF16, {k / block, n}, 0.005, 0.02));
    const ir::ValueId zw = g.add_weight("zw" + s, random_ints(DataType::kINT4, {k / block, n}, -1, 1));
    const ir::NodeId dw = g.add_node(ir::OpKind::kDequantizeLinear, "dq_w" + s, {w, sw, zw}, 1,
                                     {{"axis", int64_t{0}}, {"block_size", block}});
    ir::ValueId y = g.node(g.add_node(ir::OpKind::kMatMul, "fc" + s, {cur, g.node(dw).outputs[0]})).outputs[0];
    if (i == 0) y = g.node(g.add_node(ir::OpKind::kGelu, "gelu" + s, {y})).outputs[0];
    cur = y;
  }
  g.mark_output(cur, "y");
  g.infer_shapes();
  ir::fold_quantized_gemms(g, {});
  REQUIRE(ir::find_quant_gemms(g).size() == 2);
  TensorMap in{{"x", random_reals(DataType::kF16, {batch, widths[0]}, -1, 1)}};
  const HostTensor want = ir::evaluate(g, in).at("y");
  const HostTensor got = run_chain(g, in);
  check_close(got, want, 5e-3, "int4 weight-only MLP");
}
