// SPDX-License-Identifier: Apache-2.0
// GPU tests of the GEMM family against the reference evaluator: MatMul and Gemm in f16, bf16
// and f32 (tf32) over odd and tile-straddling shapes, broadcast batches, transposes, C
// broadcasting, every epilogue (bias per column/row, each activation, residual, output casts),
// empty outputs and K = 0; on sm_90 both the wgmma kernel (sm_90a) and the mma.sync kernel run
// every case. References: ir::evaluate_node on the inputs widened to f64 (exact products), the
// epilogue applied in f64 (activations through evaluate_node too), rounded once to the output
// dtype. Outputs are poisoned (NaN) before every launch; inputs are fresh random values.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gpu_harness.hpp"
#include "gemm_family_util.hpp"
#include "ir/graph.hpp"
#include "ir/op_registry.hpp"
#include "jit/kernels/gemm.hpp"
#include "jit/thread_pool.hpp"

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;
using namespace rtx::test::gpu;

namespace {

Target target_for(const GemmSpec& spec) {
  if (spec.algorithm == GemmAlgorithm::kWgmma) return Target{90, true, false};
  return Target{device_sm(), false, false};
}

SpecKernels<GemmSpec>& kernel_set() {
  static SpecKernels<GemmSpec> k(target_for);
  return k;
}

HostTensor widen(const HostTensor& t) {
  return HostTensor::from_doubles(DataType::kF64, t.shape(), t.to_doubles());
}

/// Applies a unary IR op to an f64 tensor through the reference evaluator.
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

double bound_for(DataType in, DataType out) {
  if (in == DataType::kBF16 || out == DataType::kBF16) return 1.5e-2;
  if (out == DataType::kF16) return 2e-3;
  if (in == DataType::kF32) return 1e-3;  // tf32 inputs: ~3e-4 typical
  return 2e-5;                            // f16 products accumulated in f32, f32 output
}

/// One GEMM launch and its reference.
struct Case {
  std::string what;
  GemmSpec spec;
  GemmProblem problem;
  HostTensor a, b;               // as stored
  HostTensor c, bias, residual;  // optional
  HostTensor want;               // output dtype, D's memory order
};

/// Reference: `base` (f64, D's shape) + bias, activation, + residual, rounded to the output type.
HostTensor finish_reference(const Case& c, HostTensor base) {
  const auto& shape = base.shape();
  const int64_t n = shape.back();
  const int64_t m = shape.size() >= 2 ? shape[shape.size() - 2] : 1;
  std::vector<double> v = base.to_doubles();
  if (c.spec.epilogue.bias != GemmBiasMode::kNone) {
    const auto bias = c.bias.to_doubles();
    for (size_t i = 0; i < v.size(); ++i) {
      const int64_t col = static_cast<int64_t>(i) % n;
      const int64_t row = static_cast<int64_t>(i) / n % m;
      v[i] +=
          bias[static_cast<size_t>(c.spec.epilogue.bias == GemmBiasMode::kPerColumn ? col : row)];
    }
  }
  HostTensor pre = HostTensor::from_doubles(DataType::kF64, shape, v);
  std::vector<double> y = apply_activation(c.spec.epilogue.activation, pre).to_doubles();
  if (c.spec.epilogue.residual) {
    const auto r = c.residual.to_doubles();
    for (size_t i = 0; i < y.size(); ++i) y[i] += r[i];
  }
  return HostTensor::from_doubles(c.spec.output, shape, y);
}

/// A MatMul case: random A (a_shape) and B (b_shape) in `in`, reference through evaluate_node.
Case matmul_case(std::string what, DataType in, DataType out, std::vector<int64_t> a_shape,
                 std::vector<int64_t> b_shape, const GemmEpilogue& epi, bool force_mma) {
  Case c;
  c.what = std::move(what);
  c.a = random_tensor(in, a_shape);
  c.b = random_tensor(in, b_shape);
  c.problem = matmul_problem(a_shape, b_shape);
  GemmPlanOptions po;
  po.sm = device_sm();
  po.arch_specific = device_sm() == 90 && !force_mma;
  po.output = out;
  po.epilogue = epi;
  c.spec = choose_gemm_spec(in, c.problem, po);
  ir::Node node;
  node.op = ir::OpKind::kMatMul;
  node.inputs = {0, 1};
  node.outputs = {2};
  const HostTensor ins[] = {widen(c.a), widen(c.b)};
  HostTensor base = ir::evaluate_node(node, ins)[0];
  const int64_t m = c.problem.m, n = c.problem.n;
  if (epi.bias != GemmBiasMode::kNone)
    c.bias = random_tensor(in, {epi.bias == GemmBiasMode::kPerColumn ? n : m});
  if (epi.residual) c.residual = random_tensor(out, base.shape());
  if (epi.bias == GemmBiasMode::kPerRow && base.rank() >= 2 && c.problem.batch.empty() &&
      a_shape.size() > 2) {
    // Folded batches make M span several matrices: per-row bias follows the folded rows.
    base = base.reshaped({m, n});
    if (epi.residual) c.residual = c.residual.reshaped({m, n});
  }
  c.want = finish_reference(c, base);
  return c;
}

/// Uploads, poisons D, launches, downloads and compares.
void run_case(const Case& c) {
  INFO(c.what << " | " << c.spec.describe());
  REQUIRE_MESSAGE(can_implement(c.spec, c.problem), c.spec.describe());
  DeviceBuffer a(c.a), b(c.b);
  DeviceBuffer d(c.want.byte_size());
  DeviceBuffer bias = c.bias.valid() ? DeviceBuffer(c.bias) : DeviceBuffer();
  DeviceBuffer cc = c.c.valid() ? DeviceBuffer(c.c) : DeviceBuffer();
  DeviceBuffer res = c.residual.valid() ? DeviceBuffer(c.residual) : DeviceBuffer();
  d.poison();
  GemmBuffers buf{a.get(), b.get(), d.get(), bias.get(), cc.get(), res.get()};
  const Kernel& k = kernel_set().get(c.spec);
  auto ok = run(c.spec, k, c.problem, buf, nullptr);
  REQUIRE_MESSAGE(ok, (ok ? std::string() : ok.error().to_string()));
  RTX_CUDA_CHECK(cudaGetLastError());
  RTX_CUDA_CHECK(cudaDeviceSynchronize());
  const HostTensor got = d.download(c.spec.output, c.want.shape());
  check_close(got, c.want, bound_for(c.spec.input, c.spec.output), c.what);
}

void run_all(const std::vector<Case>& cases) {
  std::vector<GemmSpec> specs;
  for (const auto& c : cases) specs.push_back(c.spec);
  kernel_set().prepare(specs);
  for (const auto& c : cases) run_case(c);
}

/// Planner spec and, on sm_90, also the mma.sync spec for the same case.
void add_both(std::vector<Case>& cases, const std::string& what, DataType in, DataType out,
              const std::vector<int64_t>& a, const std::vector<int64_t>& b,
              const GemmEpilogue& epi = {}) {
  cases.push_back(matmul_case(what, in, out, a, b, epi, false));
  if (cases.back().spec.algorithm == GemmAlgorithm::kWgmma)
    cases.push_back(matmul_case(what + " (mma.sync)", in, out, a, b, epi, true));
}

}  // namespace

TEST_CASE("MatMul over odd and tile-straddling shapes, f16 / bf16 / tf32") {
  struct Mkn {
    int64_t m, k, n;
  };
  const Mkn shapes[] = {{1, 1, 1},      {7, 13, 5},         {1, 64, 1000},  {129, 67, 255},
                        {333, 7, 129},  {256, 8, 512},      {2, 2048, 3},   {130, 200, 136},
                        {64, 1032, 72}, {1000, 1000, 1000}, {257, 520, 384}};
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
    for (const auto& s : shapes) {
      const std::string what = std::string(to_string(t)) + " " + std::to_string(s.m) + "x" +
                               std::to_string(s.k) + "x" + std::to_string(s.n);
      add_both(cases, what, t, t, {s.m, s.k}, {s.k, s.n});
    }
  }
  run_all(cases);
}

TEST_CASE("batched MatMul with broadcasting and 1-D operands") {
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kF32}) {
    const std::string p = std::string(to_string(t)) + " ";
    add_both(cases, p + "(2,3,33,40)x(3,40,48)", t, t, {2, 3, 33, 40}, {3, 40, 48});
    add_both(cases, p + "(5,17,64)x(64,24) folded", t, t, {5, 17, 64}, {64, 24});
    add_both(cases, p + "(33,40)x(4,40,56) A shared", t, t, {33, 40}, {4, 40, 56});
    add_both(cases, p + "(2,1,9,16)x(1,3,16,8)", t, t, {2, 1, 9, 16}, {1, 3, 16, 8});
    add_both(cases, p + "(3,130,64)x(3,64,136)", t, t, {3, 130, 64}, {3, 64, 136});
    add_both(cases, p + "(6,40)x(40) vector B", t, t, {6, 40}, {40});
    add_both(cases, p + "(40)x(2,40,24) vector A", t, t, {40}, {2, 40, 24});
    add_both(cases, p + "(2,5,3)x(2,3,7) odd", t, t, {2, 5, 3}, {2, 3, 7});
  }
  run_all(cases);
}

TEST_CASE("Gemm: transposes, C broadcast, alpha and beta") {
  std::vector<Case> cases;
  struct Mkn {
    int64_t m, k, n;
    int c_variants;
  };
  // 70 rows: odd leading dims for transposed A (narrow copies, mma.sync); 72: TMA-friendly, so
  // on sm_90 the wgmma kernel reads A M-major and B K-major.
  const Mkn sizes[] = {{70, 48, 136, 5}, {72, 56, 200, 3}};
  for (const Mkn& sz : sizes) {
    const int64_t m = sz.m, k = sz.k, n = sz.n;
    for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
      for (int ta = 0; ta < 2; ++ta) {
        for (int tb = 0; tb < 2; ++tb) {
          for (int cs = 0; cs < sz.c_variants; ++cs) {
            for (int force = 0; force < 2; ++force) {
              const std::vector<int64_t> a_shape =
                  ta ? std::vector<int64_t>{k, m} : std::vector<int64_t>{m, k};
              const std::vector<int64_t> b_shape =
                  tb ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n};
              const std::vector<std::vector<int64_t>> c_shapes = {{}, {n}, {m, n}, {m, 1}, {}};
              const bool has_c = cs > 0;
              const float alpha = 0.5f, beta = has_c ? 2.0f : 0.0f;
              Case c;
              c.what = std::string(to_string(t)) + " Gemm " + std::to_string(m) + "x" +
                       std::to_string(k) + "x" + std::to_string(n) + " tA=" + std::to_string(ta) +
                       " tB=" + std::to_string(tb) + " C" + std::to_string(cs);
              c.a = random_tensor(t, a_shape);
              c.b = random_tensor(t, b_shape);
              if (has_c) c.c = random_tensor(t, c_shapes[static_cast<size_t>(cs)]);
              c.problem = gemm_problem(a_shape, b_shape, ta != 0, tb != 0, has_c,
                                       c_shapes[static_cast<size_t>(cs)], alpha, beta);
              GemmPlanOptions po;
              po.sm = device_sm();
              po.arch_specific = device_sm() == 90 && force == 0;
              po.epilogue.c = has_c;
              c.spec = choose_gemm_spec(t, c.problem, po);
              if (force == 1 && !cases.empty() && cases.back().spec == c.spec)
                continue;  // the planner chose mma.sync already
              ir::Node node;
              node.op = ir::OpKind::kGemm;
              node.inputs =
                  has_c ? std::vector<ir::ValueId>{0, 1, 2} : std::vector<ir::ValueId>{0, 1};
              node.outputs = {3};
              node.attrs["transA"] = int64_t{ta};
              node.attrs["transB"] = int64_t{tb};
              node.attrs["alpha"] = static_cast<double>(alpha);
              node.attrs["beta"] = static_cast<double>(beta);
              std::vector<HostTensor> ins = {widen(c.a), widen(c.b)};
              if (has_c) ins.push_back(widen(c.c));
              c.want = finish_reference(c, ir::evaluate_node(node, ins)[0]);
              cases.push_back(std::move(c));
            }
          }
        }
      }
    }
  }
  if (device_sm() == 90) {
    // The transposed-A wgmma path must have run.
    CHECK(std::any_of(cases.begin(), cases.end(), [](const Case& c) {
      return c.spec.algorithm == GemmAlgorithm::kWgmma && !c.spec.a_k_major;
    }));
  }
  run_all(cases);
}

TEST_CASE("every epilogue: bias, activations, residual, output casts") {
  std::vector<Case> cases;
  using A = GemmActivation;
  using B = GemmBiasMode;
  const A acts[] = {A::kNone, A::kRelu, A::kGelu, A::kGeluTanh, A::kSilu, A::kSigmoid, A::kTanh};
  for (DataType in : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
    for (DataType out : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
      for (size_t i = 0; i < std::size(acts); ++i) {
        const B bias = i % 3 == 0 ? B::kNone : (i % 3 == 1 ? B::kPerColumn : B::kPerRow);
        const bool residual = i % 2 == 1;
        const GemmEpilogue epi{acts[i], bias, false, residual};
        const std::string what = std::string(to_string(in)) + "->" + std::string(to_string(out)) +
                                 " act" + std::to_string(i);
        add_both(cases, what, in, out, {150, 96}, {96, 264}, epi);
      }
    }
  }
  // Bias and residual with broadcast batches (residual follows D's strides).
  add_both(cases, "batched bias+residual", DataType::kF16, DataType::kF16, {3, 40, 64}, {3, 64, 72},
           {A::kRelu, B::kPerColumn, false, true});
  run_all(cases);
}

TEST_CASE("empty outputs launch nothing; K = 0 gives the epilogue of zero") {
  GemmPlanOptions po;
  po.sm = device_sm();
  po.arch_specific = device_sm() == 90;
  {
    const auto p = matmul_problem(std::vector<int64_t>{0, 16}, std::vector<int64_t>{16, 8});
    const GemmSpec s = choose_gemm_spec(DataType::kF16, p, po);
    GemmBuffers b{};
    auto ok = run(s, kernel_set().get(s), p, b, nullptr);
    CHECK(ok);
  }
  {
    const auto p = matmul_problem(std::vector<int64_t>{5, 0}, std::vector<int64_t>{0, 12});
    GemmPlanOptions bias_po = po;
    bias_po.epilogue = {GemmActivation::kRelu, GemmBiasMode::kPerColumn, false, false};
    const GemmSpec s = choose_gemm_spec(DataType::kF16, p, bias_po);
    CHECK(s.algorithm == GemmAlgorithm::kMmaSync);  // TMA needs K > 0
    const HostTensor bias = random_tensor(DataType::kF16, {12});
    DeviceBuffer db(bias);
    DeviceBuffer d(5 * 12 * 2);
    d.poison();
    GemmBuffers b{nullptr, nullptr, d.get(), db.get(), nullptr, nullptr};
    auto ok = run(s, kernel_set().get(s), p, b, nullptr);
    REQUIRE_MESSAGE(ok, (ok ? std::string() : ok.error().to_string()));
    const HostTensor got = d.download(DataType::kF16, {5, 12});
    std::vector<double> want(60);
    const auto bv = bias.to_doubles();
    for (size_t i = 0; i < 60; ++i) want[i] = std::max(0.0, bv[i % 12]);
    check_close(got, HostTensor::from_doubles(DataType::kF16, {5, 12}, want), 0.0, "K = 0");
  }
}

TEST_CASE("every mma.sync tile the planner uses, with tails and a full epilogue") {
  std::vector<Case> cases;
  struct T {
    int bm, bn, stages, wm, wn;
  };
  const T tiles[] = {{256, 128, 3, 4, 2},
                     {128, 256, 3, 2, 4},
                     {128, 128, 4, 2, 4},
                     {128, 128, 3, 2, 4},
                     {64, 128, 4, 2, 4}};
  const GemmEpilogue epi{GemmActivation::kRelu, GemmBiasMode::kPerColumn, false, true};
  for (const T& t : tiles) {
    for (DataType in : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
      const DataType out = in == DataType::kBF16 ? DataType::kF32 : in;
      Case c = matmul_case("", in, out, {300, 200}, {200, 520}, epi, true);
      c.spec.tile = GemmTile{t.bm, t.bn, in == DataType::kF32 ? 32 : 64, t.stages, t.wm, t.wn};
      c.what = "explicit " + c.spec.describe();
      REQUIRE_MESSAGE(c.spec.validate(), c.spec.describe());
      cases.push_back(std::move(c));
    }
  }
  run_all(cases);
}

TEST_CASE("large square GEMM, f16") {
  std::vector<Case> cases;
  add_both(cases, "f16 1536^3", DataType::kF16, DataType::kF16, {1536, 1536}, {1536, 1536});
  add_both(cases, "f16 1024^3", DataType::kF16, DataType::kF16, {1024, 1024}, {1024, 1024});
  add_both(cases, "bf16 1024x2048x1536", DataType::kBF16, DataType::kBF16, {1024, 2048},
           {2048, 1536});
  run_all(cases);
}
