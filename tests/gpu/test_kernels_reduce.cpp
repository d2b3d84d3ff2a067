// SPDX-License-Identifier: Apache-2.0
// GPU tests of the reduction family against the reference evaluator: ReduceSum/Mean/Max/Min/
// Prod and ArgMax/ArgMin over rows (short and long), middle axes (strided), non-adjacent axes,
// single huge reductions (split into partial and finishing passes, with workspace), few long
// columns (split through blockIdx.y), empty reductions, noop_with_empty_axes, keepdims both ways,
// NaN propagation, ties with select_last_index, and every accepted dtype family. Inputs are fresh
// random values; outputs and workspaces are poisoned before every launch.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "jit/kernels/reduce.hpp"
#include "test_kernels_util.hpp"

using namespace rtx;
using namespace rtx::jit::kernels;
using namespace rtx::test::gpu;
using ir::OpKind;

namespace {

struct Case {
  std::string what;
  ir::Node node;
  std::vector<HostTensor> inputs;  ///< data (+ axes for Reduce*)
  ReduceSpec spec;
};

HostTensor values(DataType t, const std::vector<int64_t>& shape, OpKind op, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const bool arg = op == OpKind::kArgMax || op == OpKind::kArgMin;
  // Small whole numbers make ties (arg reductions) and keep products and integer sums tame.
  const bool sum = op == OpKind::kReduceSum || op == OpKind::kReduceMean;
  // Float sums get a small positive mean: no catastrophic cancellation in long rows, and f16
  // results stay finite (2^20 elements sum to about 20000).
  const double lo = t == DataType::kUINT8 || t == DataType::kBOOL ? 0 : (sum && is_floating(t) ? -1 : -3);
  const double hi = t == DataType::kBOOL ? 2 : (sum && is_floating(t) ? 1.04 : 3);
  std::uniform_real_distribution<double> u(lo, hi);
  HostTensor x(t, shape);
  std::vector<double> v(static_cast<size_t>(x.element_count()));
  for (double& e : v) {
    e = u(rng);
    if (op == OpKind::kReduceProd && is_floating(t)) e = 0.9 + 0.2 * (e - lo) / (hi - lo);
    if (arg || !is_floating(t)) e = std::floor(e);
  }
  return HostTensor::from_doubles(t, shape, v);
}

Case make_case(OpKind op, DataType t, std::vector<int64_t> shape, std::vector<int64_t> axes, Attrs attrs,
               bool with_nan = false) {
  const uint64_t seed = fresh_seed();
  const bool arg = op == OpKind::kArgMax || op == OpKind::kArgMin;
  Case c;
  c.inputs.push_back(values(t, shape, op, seed));
  if (with_nan && c.inputs[0].element_count() > 5) {
    c.inputs[0].set_double(5, std::nan(""));
    c.inputs[0].set_double(c.inputs[0].element_count() - 1, std::nan(""));
  }
  std::vector<const HostTensor*> constants{nullptr};
  if (!arg) c.inputs.push_back(HostTensor::from_vector(DataType::kINT64, {static_cast<int64_t>(axes.size())}, axes));
  c.node = make_node(op, c.inputs.size(), std::move(attrs));
  if (!arg) constants.push_back(&c.inputs[1]);
  auto spec = plan_reduce(c.node, infos_of(c.inputs), constants);
  c.what = std::string(ir::op_name(op)) + " " + std::string(to_string(t)) + shape_to_string(shape) +
           " axes " + shape_to_string(axes) + (with_nan ? " with NaN" : "") + " seed " + std::to_string(seed);
  REQUIRE_MESSAGE(spec, c.what << ": plan_reduce refused the node");
  c.spec = *spec;
  return c;
}

void run_cases(std::vector<Case>& cases) {
  std::vector<jit::Program> programs;
  for (const auto& c : cases) programs.push_back(c.spec.program());
  ProgramSet::instance().prepare(programs);
  const int sms = jit::device_info(0)->multiprocessors;
  for (const auto& c : cases) {
    const HostTensor want = ir::evaluate_node(c.node, c.inputs).at(0);
    OffsetBuffer in(c.inputs[0], 0);
    OffsetBuffer out(want.byte_size(), 0);
    out.poison();
    ReduceArgs a;
    a.in_shape = c.inputs[0].shape();
    a.in = in.get();
    a.out = out.get();
    a.multiprocessors = sms;
    auto ws = workspace_size(c.spec, a.in_shape, sms);
    REQUIRE_MESSAGE(ws, c.what << ": " << (ws ? std::string() : ws.error().to_string()));
    OffsetBuffer work(*ws, 0);
    work.poison();
    a.workspace = *ws ? work.get() : nullptr;
    auto launches = make_launches(c.spec, a);
    REQUIRE_MESSAGE(launches, c.what << ": " << (launches ? std::string() : launches.error().to_string()));
    const std::string what = c.what + " (" + std::to_string(launches->size()) + " launches" +
                             (launches->empty() ? "" : ", " + launches->front().kernel) + ")";
    check_ran(run(c.spec, a, ProgramSet::instance().get(c.spec.name_expressions().front()), nullptr), what);
    const HostTensor got = out.download(want.dtype(), want.shape());
    const bool exact = !is_floating(want.dtype()) || c.node.op == OpKind::kReduceMax ||
                       c.node.op == OpKind::kReduceMin;
    if (exact)
      check_exact(got, want, what);
    else
      check_close(got, want, -1, what);
  }
}

}  // namespace

TEST_CASE("sums, means, products: rows, strided, split, empty") {
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32, DataType::kF64, DataType::kINT32,
                     DataType::kINT64}) {
    cases.push_back(make_case(OpKind::kReduceSum, t, {8, 300}, {1}, {}));
    cases.push_back(make_case(OpKind::kReduceSum, t, {33, 3001}, {-1}, {{"keepdims", int64_t{0}}}));
    cases.push_back(make_case(OpKind::kReduceMean, t, {5, 37, 7}, {1}, {}));
    cases.push_back(make_case(OpKind::kReduceMean, t, {3, 4, 5, 6}, {0, 2}, {{"keepdims", int64_t{0}}}));
    cases.push_back(make_case(OpKind::kReduceSum, t, {1 << 20}, {0}, {}));          // split rows
    cases.push_back(make_case(OpKind::kReduceMean, t, {100003, 5}, {0}, {}));       // split columns
    cases.push_back(make_case(OpKind::kReduceSum, t, {2, 3, 4}, {}, {}));           // all axes
    cases.push_back(make_case(OpKind::kReduceProd, t, {6, 9}, {1}, {}));
    cases.push_back(make_case(OpKind::kReduceProd, t, {9, 6, 2}, {0}, {}));
    cases.push_back(make_case(OpKind::kReduceSum, t, {3, 0}, {1}, {}));             // empty reductions
    cases.push_back(make_case(OpKind::kReduceMean, t, {3, 0, 2}, {1}, {}));
    cases.push_back(make_case(OpKind::kReduceSum, t, {0, 4}, {1}, {}));             // empty output
    cases.push_back(make_case(OpKind::kReduceSum, t, {4, 7}, {}, {{"noop_with_empty_axes", int64_t{1}}}));
    cases.push_back(make_case(OpKind::kReduceMean, t, {64, 1, 1024}, {0, 1}, {}));
  }
  run_cases(cases);
}

TEST_CASE("max and min: NaN propagation, 8-bit and bool, long and split") {
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32, DataType::kF64, DataType::kINT32,
                     DataType::kINT64, DataType::kINT8, DataType::kUINT8, DataType::kBOOL}) {
    const bool fl = is_floating(t);
    cases.push_back(make_case(OpKind::kReduceMax, t, {3, 4, 5, 6}, {0, 2}, {}, fl));
    cases.push_back(make_case(OpKind::kReduceMin, t, {17, 2049}, {1}, {}, fl));
    cases.push_back(make_case(OpKind::kReduceMax, t, {70001}, {0}, {}, fl));
    cases.push_back(make_case(OpKind::kReduceMin, t, {5000, 3}, {0}, {}));
    cases.push_back(make_case(OpKind::kReduceMax, t, {4, 0}, {1}, {}));  // -inf / the type's minimum
  }
  run_cases(cases);
}

TEST_CASE("ArgMax and ArgMin: ties, select_last_index, NaN, rows and columns") {
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32, DataType::kF64, DataType::kINT32,
                     DataType::kINT64, DataType::kINT8, DataType::kUINT8}) {
    for (int64_t last : {0, 1}) {
      cases.push_back(make_case(OpKind::kArgMax, t, {6, 50}, {}, {{"axis", int64_t{1}}, {"select_last_index", last}}));
      cases.push_back(make_case(OpKind::kArgMin, t, {50, 6}, {}, {{"axis", int64_t{0}}, {"select_last_index", last}}));
      cases.push_back(make_case(OpKind::kArgMax, t, {3, 40, 7}, {}, {{"axis", int64_t{-2}}, {"select_last_index", last},
                                                                       {"keepdims", int64_t{0}}}));
      cases.push_back(make_case(OpKind::kArgMin, t, {100000}, {}, {{"axis", int64_t{0}}, {"select_last_index", last}},
                                is_floating(t)));
      cases.push_back(make_case(OpKind::kArgMax, t, {40000, 4}, {}, {{"axis", int64_t{0}}, {"select_last_index", last}}));
    }
    cases.push_back(make_case(OpKind::kArgMax, t, {4, 30}, {}, {{"axis", int64_t{1}}}, is_floating(t)));
  }
  run_cases(cases);
}
