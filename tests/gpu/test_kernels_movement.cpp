// SPDX-License-Identifier: Apache-2.0
// GPU tests of the data-movement family against the reference evaluator, bit for bit:
// Transpose (tiled batched transposes such as NCHW <-> NHWC, permutations keeping the last dim
// moved as 16-byte units, small and high-rank generic permutations), Slice (positive and
// negative steps, clamped bounds), Expand, Concat (widened units, more than 8 inputs, empty
// inputs), Gather (int32/int64 indices, negative indices, any axis) and Pad (constant, reflect,
// edge, wrap, negative pads), for 1-, 2-, 4- and 8-byte dtypes, aligned and misaligned buffers.
// Inputs are fresh random values; outputs are poisoned before each launch.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "jit/kernels/movement.hpp"
#include "test_kernels_util.hpp"

using namespace rtx;
using namespace rtx::jit::kernels;
using namespace rtx::test::gpu;
using ir::OpKind;

namespace {

struct Case {
  std::string what;
  ir::Node node;
  std::vector<HostTensor> inputs;        ///< every node input (value inputs first)
  std::vector<int> constant_inputs;      ///< indices of inputs that are plan-time constants
  size_t value_inputs = 1;               ///< inputs the kernel reads
  size_t misalign = 0;
  MovementSpec spec;
};

HostTensor ints(std::vector<int64_t> v) {
  return HostTensor::from_vector(DataType::kINT64, {static_cast<int64_t>(v.size())}, v);
}

void plan(Case& c) {
  std::vector<const HostTensor*> constants(c.inputs.size(), nullptr);
  for (int i : c.constant_inputs) constants[static_cast<size_t>(i)] = &c.inputs[static_cast<size_t>(i)];
  auto spec = plan_movement(c.node, infos_of(c.inputs), constants);
  REQUIRE_MESSAGE(spec, c.what << ": plan_movement refused the node");
  c.spec = *spec;
}

void run_cases(std::vector<Case>& cases) {
  std::vector<jit::Program> programs;
  for (auto& c : cases) {
    plan(c);
    programs.push_back(c.spec.program());
  }
  ProgramSet::instance().prepare(programs);
  for (const auto& c : cases) {
    const HostTensor want = ir::evaluate_node(c.node, c.inputs).at(0);
    std::vector<std::unique_ptr<OffsetBuffer>> in;
    MovementArgs a;
    for (size_t i = 0; i < c.value_inputs; ++i) {
      // Gather's indices stay aligned; data buffers take the case's offset.
      const size_t off = c.spec.kind == MovementKind::kGather && i == 1 ? 0 : c.misalign;
      in.push_back(std::make_unique<OffsetBuffer>(c.inputs[i], off));
      a.in.push_back(in.back()->get());
      a.in_shapes.push_back(c.inputs[i].shape());
    }
    OffsetBuffer out(want.byte_size(), c.misalign);
    out.poison();
    a.out = out.get();
    a.out_shape = want.shape();
    auto launches = make_launches(c.spec, a);
    REQUIRE_MESSAGE(launches, c.what << ": " << (launches ? std::string() : launches.error().to_string()));
    std::string what = c.what + " (";
    for (const auto& l : *launches) what += l.kernel + " ";
    what += ")";
    check_ran(run(c.spec, a, ProgramSet::instance().get(c.spec.name_expressions().front()), nullptr), what);
    check_exact(out.download(want.dtype(), want.shape()), want, what);
  }
}

const DataType kTypes[] = {DataType::kINT8, DataType::kF16, DataType::kF32, DataType::kINT64};

size_t elem(DataType t) {
  return static_cast<size_t>(bit_width(t) / 8);
}

}  // namespace

TEST_CASE("transpose: tiled, widened, generic") {
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> perms{
      {{64, 48}, {1, 0}},           {{33, 70}, {1, 0}},          {{1000, 999}, {1, 0}},
      {{2, 32, 7, 9}, {0, 2, 3, 1}}, {{2, 7, 9, 32}, {0, 3, 1, 2}}, {{8, 64, 56, 56}, {0, 2, 3, 1}},
      {{3, 5, 64}, {1, 0, 2}},      {{4, 3}, {1, 0}},            {{3, 4, 5}, {2, 1, 0}},
      {{2, 3, 4, 5, 6}, {4, 0, 3, 1, 2}}, {{1, 1, 17}, {2, 0, 1}}, {{0, 5}, {1, 0}},
      {{2, 2, 2, 2, 2, 2, 2, 2}, {7, 6, 5, 4, 3, 2, 1, 0}}};
  std::vector<Case> cases;
  for (DataType t : kTypes)
    for (const auto& [shape, perm] : perms)
      for (size_t misalign : {size_t{0}, elem(t)}) {
        const uint64_t seed = fresh_seed();
        Case c;
        c.node = make_node(OpKind::kTranspose, 1, {{"perm", perm}});
        c.inputs = {random_tensor(t, shape, -100, 100, seed)};
        c.misalign = misalign;
        c.what = "Transpose " + std::string(to_string(t)) + shape_to_string(shape) + " perm " +
                 shape_to_string(perm) + " misalign " + std::to_string(misalign) + " seed " + std::to_string(seed);
        cases.push_back(std::move(c));
      }
  run_cases(cases);
}

TEST_CASE("slice, expand") {
  std::vector<Case> cases;
  for (DataType t : kTypes) {
    const std::string ts(to_string(t));
    struct S {
      std::vector<int64_t> shape, starts, ends, axes, steps;
    };
    const std::vector<S> slices{{{2, 7, 11}, {-1, 1}, {INT64_MIN, 100}, {1, 2}, {-2, 3}},
                                {{3, 48}, {0, 8}, {2, 40}, {0, 1}, {1, 1}},
                                {{100000}, {5}, {-5}, {0}, {1}},
                                {{4, 9, 16}, {3}, {-100}, {-1}, {-1}},
                                {{5, 6}, {7}, {9}, {0}, {1}}};
    for (const auto& s : slices) {
      const uint64_t seed = fresh_seed();
      Case c;
      c.node = make_node(OpKind::kSlice, 5);
      c.inputs = {random_tensor(t, s.shape, -100, 100, seed), ints(s.starts), ints(s.ends), ints(s.axes),
                  ints(s.steps)};
      c.constant_inputs = {1, 2, 3, 4};
      c.what = "Slice " + ts + shape_to_string(s.shape) + " starts " + shape_to_string(s.starts) + " steps " +
               shape_to_string(s.steps) + " seed " + std::to_string(seed);
      cases.push_back(std::move(c));
    }
    const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> expands{
        {{3, 1}, {2, 3, 4}}, {{64}, {5, 64}}, {{}, {7, 9}}, {{1, 1}, {1000, 33}}, {{2, 1, 3}, {2, 8, 3}}, {{4}, {0, 4}}};
    for (const auto& [from, to] : expands)
      for (size_t misalign : {size_t{0}, elem(t)}) {
        const uint64_t seed = fresh_seed();
        Case c;
        c.node = make_node(OpKind::kExpand, 2);
        c.inputs = {random_tensor(t, from, -100, 100, seed), ints(to)};
        c.constant_inputs = {1};
        c.misalign = misalign;
        c.what = "Expand " + ts + shape_to_string(from) + " -> " + shape_to_string(to) + " misalign " +
                 std::to_string(misalign);
        cases.push_back(std::move(c));
      }
  }
  run_cases(cases);
}

TEST_CASE("concat: widened units, many inputs, empty inputs") {
  std::vector<Case> cases;
  for (DataType t : kTypes) {
    const std::string ts(to_string(t));
    for (size_t misalign : {size_t{0}, elem(t)}) {
      Case c;
      c.node = make_node(OpKind::kConcat, 3, {{"axis", int64_t{1}}});
      c.inputs = {random_tensor(t, {2, 8, 4}, -9, 9), random_tensor(t, {2, 16, 4}, -9, 9),
                  random_tensor(t, {2, 8, 4}, -9, 9)};
      c.value_inputs = 3;
      c.misalign = misalign;
      c.what = "Concat " + ts + " axis 1 misalign " + std::to_string(misalign);
      cases.push_back(std::move(c));
    }
    {
      Case c;
      c.node = make_node(OpKind::kConcat, 10, {{"axis", int64_t{0}}});
      for (int i = 0; i < 10; ++i) c.inputs.push_back(random_tensor(t, {i == 4 ? 0 : 3, 5}, -9, 9));
      c.value_inputs = 10;
      c.what = "Concat " + ts + " 10 inputs, one empty";
      cases.push_back(std::move(c));
    }
    {
      Case c;
      c.node = make_node(OpKind::kConcat, 2, {{"axis", int64_t{-1}}});
      c.inputs = {random_tensor(t, {1000, 3}, -9, 9), random_tensor(t, {1000, 61}, -9, 9)};
      c.value_inputs = 2;
      c.what = "Concat " + ts + " last axis";
      cases.push_back(std::move(c));
    }
  }
  run_cases(cases);
}

TEST_CASE("gather: index types, negative indices, every axis") {
  std::vector<Case> cases;
  for (DataType t : kTypes) {
    const std::string ts(to_string(t));
    for (DataType it : {DataType::kINT32, DataType::kINT64}) {
      for (int64_t axis : {0, 1, -1}) {
        const uint64_t seed = fresh_seed();
        const std::vector<int64_t> shape{5, 10, 8};
        const int64_t dim = shape[static_cast<size_t>(axis < 0 ? axis + 3 : axis)];
        Case c;
        c.node = make_node(OpKind::kGather, 2, {{"axis", axis}});
        c.inputs = {random_tensor(t, shape, -100, 100, seed),
                    random_tensor(it, {2, 3}, static_cast<double>(-dim), static_cast<double>(dim), seed + 1)};
        c.value_inputs = 2;
        c.misalign = axis == 1 ? elem(t) : 0;
        c.what = "Gather " + ts + " indices " + std::string(to_string(it)) + " axis " + std::to_string(axis) +
                 " seed " + std::to_string(seed);
        cases.push_back(std::move(c));
      }
    }
    Case big;  // embedding lookup: rows of 1024 elements
    big.node = make_node(OpKind::kGather, 2);
    big.inputs = {random_tensor(t, {300, 1024}, -100, 100), random_tensor(DataType::kINT64, {77}, -300, 300)};
    big.value_inputs = 2;
    big.what = "Gather " + ts + " embedding rows";
    cases.push_back(std::move(big));
    Case scalar;  // 0-d indices drop the axis
    scalar.node = make_node(OpKind::kGather, 2, {{"axis", int64_t{1}}});
    scalar.inputs = {random_tensor(t, {4, 6}, -100, 100), HostTensor::scalar(DataType::kINT64, -2)};
    scalar.value_inputs = 2;
    scalar.what = "Gather " + ts + " scalar index";
    cases.push_back(std::move(scalar));
  }
  run_cases(cases);
}

TEST_CASE("pad: modes, negative pads, axes") {
  std::vector<Case> cases;
  for (DataType t : kTypes) {
    const std::string ts(to_string(t));
    for (const char* mode : {"constant", "reflect", "edge", "wrap"}) {
      for (const auto& pads : std::vector<std::vector<int64_t>>{{1, -1, 2, 3}, {0, 4, 0, 4}, {3, 3, 3, 3}}) {
        const uint64_t seed = fresh_seed();
        Case c;
        const bool constant = std::string(mode) == "constant";
        c.node = make_node(OpKind::kPad, constant ? 3 : 2, {{"mode", std::string(mode)}});
        c.inputs = {random_tensor(t, {4, 5}, -100, 100, seed), ints(pads)};
        c.constant_inputs = {1};
        if (constant) {
          c.inputs.push_back(HostTensor::scalar(t, 7));
          c.constant_inputs.push_back(2);
        }
        c.what = std::string("Pad ") + mode + " " + ts + " pads " + shape_to_string(pads);
        cases.push_back(std::move(c));
      }
    }
    Case axes;  // pads on selected axes of a 4-D tensor, default zero fill
    axes.node = make_node(OpKind::kPad, 4);
    axes.inputs = {random_tensor(t, {2, 3, 6, 7}, -100, 100), ints({1, 2, 1, 0}), HostTensor(), ints({2, -1})};
    axes.constant_inputs = {1, 3};
    axes.what = "Pad constant " + ts + " axes [2,-1]";
    cases.push_back(std::move(axes));
  }
  run_cases(cases);
}
