// SPDX-License-Identifier: Apache-2.0
// GPU tests of the pooling family against the reference evaluator: MaxPool (with the Indices
// output in both storage orders, NaN inputs, windows partly or wholly in padding, int8/uint8)
// and AveragePool (count_include_pad both ways, ceil_mode) over 1, 2 and 3 spatial dims with
// pads, strides, dilations and every auto_pad mode; GlobalAveragePool over small and large
// planes. Inputs are fresh random values; outputs are poisoned before each launch.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "jit/kernels/pool.hpp"
#include "test_kernels_util.hpp"

using namespace rtx;
using namespace rtx::jit::kernels;
using namespace rtx::test::gpu;
using ir::OpKind;

namespace {

struct Case {
  std::string what;
  ir::Node node;
  HostTensor x;
  bool indices = false;
  PoolSpec spec;
};

using V = std::vector<int64_t>;

Case make_case(OpKind op, DataType t, V shape, Attrs attrs, bool indices = false, bool with_nan = false) {
  const uint64_t seed = fresh_seed();
  Case c;
  c.x = random_tensor(t, shape, t == DataType::kUINT8 ? 0 : -50, 50, seed);
  if (with_nan) {
    for (int64_t i = 0; i < c.x.element_count(); i += 7) c.x.set_double(i, std::nan(""));
  }
  c.indices = indices;
  std::string desc;
  for (const auto& [k, v] : attrs) {
    desc += " " + k + "=";
    if (const auto* i = std::get_if<int64_t>(&v)) desc += std::to_string(*i);
    if (const auto* l = std::get_if<std::vector<int64_t>>(&v)) desc += shape_to_string(*l);
    if (const auto* s = std::get_if<std::string>(&v)) desc += *s;
  }
  c.node = make_node(op, 1, std::move(attrs), indices ? 2 : 1);
  c.what = std::string(ir::op_name(op)) + " " + std::string(to_string(t)) + shape_to_string(shape) + desc +
           (with_nan ? " with NaN" : "") + " seed " + std::to_string(seed);
  auto spec = plan_pool(c.node, infos_of({c.x}));
  REQUIRE_MESSAGE(spec, c.what << ": plan_pool refused the node");
  c.spec = *spec;
  return c;
}

void run_cases(const std::vector<Case>& cases) {
  std::vector<jit::Program> programs;
  for (const auto& c : cases) programs.push_back(c.spec.program());
  ProgramSet::instance().prepare(programs);
  for (const auto& c : cases) {
    const auto want = ir::evaluate_node(c.node, std::vector<HostTensor>{c.x});
    OffsetBuffer in(c.x, 0);
    OffsetBuffer out(want[0].byte_size(), 0);
    OffsetBuffer idx(c.indices ? want[1].byte_size() : 8, 0);
    out.poison();
    idx.poison();
    PoolArgs a;
    a.in_shape = c.x.shape();
    a.in = in.get();
    a.out = out.get();
    if (c.indices) a.indices = idx.get();
    auto l = make_launch(c.spec, a);
    REQUIRE_MESSAGE(l, c.what << ": " << (l ? std::string() : l.error().to_string()));
    REQUIRE_MESSAGE(l->out_shape == want[0].shape(), c.what << ": output shape " << shape_to_string(l->out_shape)
                                                            << ", reference " << want[0].describe());
    check_ran(run(c.spec, a, ProgramSet::instance().get(l->kernel), nullptr), c.what);
    const HostTensor got = out.download(want[0].dtype(), want[0].shape());
    if (c.node.op == OpKind::kMaxPool)
      check_exact(got, want[0], c.what);
    else
      check_close(got, want[0], -1, c.what);
    if (c.indices) check_exact(idx.download(DataType::kINT64, want[1].shape()), want[1], c.what + " Indices");
  }
}

}  // namespace

TEST_CASE("MaxPool: 1-3 spatial dims, pads, strides, dilations, ceil_mode, Indices") {
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32, DataType::kF64}) {
    cases.push_back(make_case(OpKind::kMaxPool, t, {2, 3, 10, 12},
                              {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}, {"pads", V{1, 1, 1, 1}}}, true));
    cases.push_back(make_case(OpKind::kMaxPool, t, {1, 2, 9, 9},
                              {{"kernel_shape", V{2, 3}}, {"dilations", V{2, 1}}, {"ceil_mode", int64_t{1}},
                               {"strides", V{2, 2}}, {"storage_order", int64_t{1}}},
                              true));
    cases.push_back(make_case(OpKind::kMaxPool, t, {1, 2, 5, 6, 7},
                              {{"kernel_shape", V{2, 3, 2}}, {"auto_pad", std::string("SAME_UPPER")}}, true));
    cases.push_back(make_case(OpKind::kMaxPool, t, {3, 4, 17},
                              {{"kernel_shape", V{4}}, {"pads", V{3, 3}}, {"strides", V{3}}}, true));
    cases.push_back(make_case(OpKind::kMaxPool, t, {2, 2, 8, 8},
                              {{"kernel_shape", V{3, 3}}, {"auto_pad", std::string("SAME_LOWER")},
                               {"strides", V{2, 2}}},
                              false, true));
    cases.push_back(make_case(OpKind::kMaxPool, t, {8, 64, 56, 56},
                              {{"kernel_shape", V{3, 3}}, {"strides", V{2, 2}}, {"pads", V{1, 1, 1, 1}}}));
  }
  for (DataType t : {DataType::kINT8, DataType::kUINT8}) {
    cases.push_back(make_case(OpKind::kMaxPool, t, {2, 3, 8, 8}, {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}}));
    cases.push_back(make_case(OpKind::kMaxPool, t, {2, 3, 8}, {{"kernel_shape", V{3}}, {"pads", V{2, 2}}}, true));
  }
  run_cases(cases);
}

TEST_CASE("AveragePool: count_include_pad, ceil_mode, auto_pad") {
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32, DataType::kF64}) {
    for (int64_t include : {0, 1}) {
      cases.push_back(make_case(OpKind::kAveragePool, t, {2, 3, 10, 12},
                                {{"kernel_shape", V{3, 2}}, {"pads", V{1, 0, 1, 1}}, {"count_include_pad", include}}));
      cases.push_back(make_case(OpKind::kAveragePool, t, {2, 3, 11},
                                {{"kernel_shape", V{4}}, {"pads", V{2, 2}}, {"strides", V{3}},
                                 {"ceil_mode", int64_t{1}}, {"count_include_pad", include}}));
      cases.push_back(make_case(OpKind::kAveragePool, t, {1, 2, 6, 7, 5},
                                {{"kernel_shape", V{3, 3, 3}}, {"auto_pad", std::string("SAME_UPPER")},
                                 {"count_include_pad", include}}));
    }
    cases.push_back(make_case(OpKind::kAveragePool, t, {8, 64, 28, 28},
                              {{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}}));
    cases.push_back(make_case(OpKind::kAveragePool, t, {1, 1, 7, 7},
                              {{"kernel_shape", V{3, 3}}, {"dilations", V{2, 2}}, {"auto_pad", std::string("VALID")}}));
  }
  run_cases(cases);
}

TEST_CASE("GlobalAveragePool: small and large planes") {
  std::vector<Case> cases;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32, DataType::kF64}) {
    cases.push_back(make_case(OpKind::kGlobalAveragePool, t, {2, 3, 7, 9}, {}));
    cases.push_back(make_case(OpKind::kGlobalAveragePool, t, {2, 2, 50, 50}, {}));
    cases.push_back(make_case(OpKind::kGlobalAveragePool, t, {32, 2048, 7, 7}, {}));
    cases.push_back(make_case(OpKind::kGlobalAveragePool, t, {3, 5, 100}, {}));
    cases.push_back(make_case(OpKind::kGlobalAveragePool, t, {0, 5, 3, 3}, {}));
  }
  run_cases(cases);
}
