// SPDX-License-Identifier: Apache-2.0
// GPU tests of the normalisation family against the reference evaluator: Softmax and LogSoftmax
// along the last axis (row lengths from 1 to 40000, i.e. every threads-per-row variant, the
// register-cached one-read path and the two-read path for long rows) and along middle axes
// (strided); LayerNormalization with and without bias, with the Mean/InvStdDev outputs, over
// several trailing dims; RMSNormalization with the scale in X's dtype or f32; f16, bf16 and f32;
// aligned buffers (16-byte path) and misaligned ones; empty inputs. Each case runs with the
// planner's thread variant and with the smallest and largest variants, so every kernel meets
// every row length. Inputs are fresh random values; outputs are poisoned before each launch.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "jit/kernels/norm.hpp"
#include "test_kernels_util.hpp"

using namespace rtx;
using namespace rtx::jit::kernels;
using namespace rtx::test::gpu;
using ir::OpKind;

namespace {

struct Case {
  std::string what;
  ir::Node node;
  std::vector<HostTensor> inputs;
  std::vector<int64_t> param_shape;
  NormSpec spec;
  bool stats = false;
  size_t misalign = 0;
};

Case make_case(OpKind op, DataType t, DataType scale_type, std::vector<int64_t> shape, int64_t axis, bool bias,
               bool stats, size_t misalign = 0, double spread = 4) {
  const uint64_t seed = fresh_seed();
  const bool softmax = op == OpKind::kSoftmax || op == OpKind::kLogSoftmax;
  const auto a = static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(shape.size()) : axis);
  Case c;
  c.param_shape.assign(shape.begin() + static_cast<std::ptrdiff_t>(a), shape.end());
  c.inputs.push_back(random_tensor(t, shape, -spread, spread, seed));
  if (!softmax) {
    c.inputs.push_back(random_tensor(scale_type, c.param_shape, -2, 2, seed + 1));
    if (bias) c.inputs.push_back(random_tensor(scale_type, c.param_shape, -1, 1, seed + 2));
  }
  c.stats = stats;
  c.misalign = misalign;
  c.node = make_node(op, c.inputs.size(), {{"axis", axis}, {"epsilon", 1e-5}}, stats ? 3 : 1);
  c.what = std::string(ir::op_name(op)) + " " + std::string(to_string(t)) + shape_to_string(shape) +
           " axis " + std::to_string(axis) + (bias ? " +bias" : "") + (stats ? " +stats" : "") +
           (softmax ? "" : " scale " + std::string(to_string(scale_type))) + " misalign " +
           std::to_string(misalign) + " seed " + std::to_string(seed);
  auto spec = plan_norm(c.node, infos_of(c.inputs));
  REQUIRE_MESSAGE(spec, c.what << ": plan_norm refused the node");
  c.spec = *spec;
  return c;
}

void run_cases(const std::vector<Case>& cases) {
  // Every threads-per-row variant of each spec is compiled, so the forced variants below exist.
  std::vector<jit::Program> programs;
  for (const auto& c : cases) {
    NormSpec all = c.spec;
    all.threads.assign(std::begin(kNormThreadVariants), std::end(kNormThreadVariants));
    programs.push_back(all.program());
  }
  ProgramSet::instance().prepare(programs);
  for (const auto& c : cases) {
    const auto want = ir::evaluate_node(c.node, c.inputs);
    std::vector<std::vector<int>> variants{c.spec.threads};
    if (!c.spec.strided()) variants.insert(variants.end(), {{32}, {1024}});
    for (const auto& threads : variants) {
      NormSpec spec = c.spec;
      spec.threads = threads;
      const std::string what = c.what + (spec.strided() ? "" : " threads " + std::to_string(threads[0]));
      OffsetBuffer in(c.inputs[0], c.misalign);
      OffsetBuffer out(want[0].byte_size(), c.misalign);
      out.poison();
      NormArgs a;
      a.in_shape = c.inputs[0].shape();
      a.in = in.get();
      a.out = out.get();
      std::vector<std::unique_ptr<OffsetBuffer>> params;
      if (c.inputs.size() > 1) {
        params.push_back(std::make_unique<OffsetBuffer>(c.inputs[1], c.misalign));
        a.scale = params.back()->get();
        a.scale_shape = c.param_shape;
      }
      if (c.inputs.size() > 2) {
        params.push_back(std::make_unique<OffsetBuffer>(c.inputs[2], c.misalign));
        a.bias = params.back()->get();
        a.bias_shape = c.param_shape;
      }
      const int64_t rows = c.stats ? want[1].element_count() : 0;
      OffsetBuffer mean(static_cast<size_t>(rows) * 4, 0), inv(static_cast<size_t>(rows) * 4, 0);
      if (c.stats) {
        mean.poison();
        inv.poison();
        a.mean = mean.get();
        a.inv_std = inv.get();
      }
      auto l = make_launch(spec, a);
      REQUIRE_MESSAGE(l, what << ": " << (l ? std::string() : l.error().to_string()));
      check_ran(run(spec, a, ProgramSet::instance().get(l->kernel), nullptr), what + " (" + l->kernel + ")");
      check_close(out.download(want[0].dtype(), want[0].shape()), want[0], -1, what);
      if (c.stats) {
        // The mean of zero-centred data is small: its float rounding error, relative to it, is
        // larger than that of the other outputs.
        check_close(mean.download(DataType::kF32, want[1].shape()), want[1], 1e-4, what + " Mean");
        check_close(inv.download(DataType::kF32, want[2].shape()), want[2], 1e-5, what + " InvStdDev");
      }
    }
  }
}

const int64_t kRowLengths[] = {1, 7, 64, 100, 1024, 1025, 4096, 5000, 8192, 40000};

}  // namespace

TEST_CASE("softmax and log-softmax along the last axis, every row length class") {
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
    for (int64_t cols : kRowLengths) {
      cases.push_back(make_case(OpKind::kSoftmax, t, t, {3, cols}, -1, false, false));
      cases.push_back(make_case(OpKind::kLogSoftmax, t, t, {5, cols}, 1, false, false, 4));
    }
    cases.push_back(make_case(OpKind::kSoftmax, t, t, {1000, 256}, -1, false, false));  // many rows
    cases.push_back(make_case(OpKind::kSoftmax, t, t, {2, 3, 77}, 2, false, false, 0, 30));  // wide range
    cases.push_back(make_case(OpKind::kSoftmax, t, t, {0, 16}, -1, false, false));
  }
  run_cases(cases);
}

TEST_CASE("softmax along middle axes (strided)") {
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
    cases.push_back(make_case(OpKind::kSoftmax, t, t, {2, 10, 3, 5}, 1, false, false));
    cases.push_back(make_case(OpKind::kLogSoftmax, t, t, {2, 10, 3, 5}, 0, false, false));
    cases.push_back(make_case(OpKind::kSoftmax, t, t, {4, 1000, 33}, -2, false, false));
  }
  run_cases(cases);
}

TEST_CASE("layer norm: bias, statistics outputs, trailing dims, misaligned buffers") {
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
    for (int64_t cols : kRowLengths)
      cases.push_back(make_case(OpKind::kLayerNormalization, t, t, {3, cols}, -1, cols % 2 == 0,
                                cols == 64 || cols == 1025 || cols == 40000));
    cases.push_back(make_case(OpKind::kLayerNormalization, t, t, {2, 3, 16, 8}, 2, true, true));
    cases.push_back(make_case(OpKind::kLayerNormalization, t, t, {512, 768}, -1, true, false));
    cases.push_back(make_case(OpKind::kLayerNormalization, t, t, {7, 1024}, -1, true, true, 4));
    // A large offset relative to the spread: the two-pass variance must not cancel.
    Case shifted = make_case(OpKind::kLayerNormalization, t, t, {4, 2048}, -1, true, true);
    std::vector<double> v = shifted.inputs[0].to_doubles();
    for (double& e : v) e = 100 + e / 8;
    shifted.inputs[0] = HostTensor::from_doubles(t, shifted.inputs[0].shape(), v);
    shifted.what += " (offset 100)";
    cases.push_back(std::move(shifted));
  }
  run_cases(cases);
}

TEST_CASE("RMS norm: scale in X's dtype or f32") {
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
    for (int64_t cols : kRowLengths) cases.push_back(make_case(OpKind::kRMSNormalization, t, t, {2, cols}, 1, false, false));
    cases.push_back(make_case(OpKind::kRMSNormalization, t, DataType::kF32, {6, 4096}, -1, false, false));
    cases.push_back(make_case(OpKind::kRMSNormalization, DataType::kF32, t, {6, 4096}, -1, false, false, 4));
    cases.push_back(make_case(OpKind::kRMSNormalization, t, t, {3, 4, 32}, 1, false, false));
  }
  run_cases(cases);
}
