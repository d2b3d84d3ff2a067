// SPDX-License-Identifier: Apache-2.0
// Tests of the reduction family (ir/ops/reduction.cpp): Reduce*, ArgMax/ArgMin, CumSum, Softmax,
// LogSoftmax, LayerNormalization, RMSNormalization, BatchNormalization. Expected values are worked
// out by hand in the comments (or are exact by construction), never by the code under test.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "tests/unit/op_test_util.hpp"

namespace rtx::test {
namespace {

using ir::OpKind;
using ir::TensorInfo;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kDyn = ir::kDynamic;

HostTensor i32(std::vector<int64_t> shape, std::vector<double> v) {
  return tensor(DataType::kINT32, std::move(shape), std::move(v));
}
HostTensor f16(std::vector<int64_t> shape, std::vector<double> v) {
  return tensor(DataType::kF16, std::move(shape), std::move(v));
}
HostTensor boolean(std::vector<int64_t> shape, std::vector<double> v) {
  return tensor(DataType::kBOOL, std::move(shape), std::move(v));
}
HostTensor axes(std::vector<double> v) {
  const auto n = static_cast<int64_t>(v.size());
  return i64({n}, std::move(v));
}

HostTensor run1(OpKind op, std::vector<HostTensor> in, Attrs attrs = {}) {
  return run_op(op, std::move(in), std::move(attrs)).at(0);
}

/// Runs one node whose outputs are present or omitted (kNoValue) as `present` says.
std::vector<HostTensor> run_outputs(OpKind op, std::vector<HostTensor> inputs, Attrs attrs,
                                    std::vector<bool> present) {
  ir::Node node;
  node.op = op;
  node.name = "partial";
  node.attrs = std::move(attrs);
  for (size_t i = 0; i < inputs.size(); ++i)
    node.inputs.push_back(inputs[i].valid() ? static_cast<ir::ValueId>(i) : ir::kNoValue);
  for (size_t i = 0; i < present.size(); ++i)
    node.outputs.push_back(present[i] ? static_cast<ir::ValueId>(100 + i) : ir::kNoValue);
  return ir::evaluate_node(node, inputs);
}

const HostTensor kX23 = f32({2, 3}, {1, 2, 3, 4, 5, 6});

// ---- Reduce* -----------------------------------------------------------------------------------

TEST_CASE("ReduceSum over one axis, keepdims 0/1 and negative axes") {
  check_tensor(run1(OpKind::kReduceSum, {kX23, axes({1})}), DataType::kF32, {2, 1}, {6, 15});
  check_tensor(run1(OpKind::kReduceSum, {kX23, axes({1})}, {{"keepdims", int64_t{0}}}),
               DataType::kF32, {2}, {6, 15});
  check_tensor(run1(OpKind::kReduceSum, {kX23, axes({-2})}), DataType::kF32, {1, 3}, {5, 7, 9});
  check_tensor(run1(OpKind::kReduceSum, {kX23, axes({-1})}, {{"keepdims", int64_t{0}}}),
               DataType::kF32, {2}, {6, 15});
}

TEST_CASE("ReduceSum over several axes and over all axes") {
  // x[i][j][k] = 1..8; axes {0, 2}: j=0 -> 1+2+5+6 = 14, j=1 -> 3+4+7+8 = 22.
  const HostTensor x = f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  check_tensor(run1(OpKind::kReduceSum, {x, axes({0, 2})}, {{"keepdims", int64_t{0}}}),
               DataType::kF32, {2}, {14, 22});
  check_tensor(run1(OpKind::kReduceSum, {x, axes({2, -3})}), DataType::kF32, {1, 2, 1}, {14, 22});
  // No axes input: reduce everything (1+..+6 = 21).
  check_tensor(run1(OpKind::kReduceSum, {kX23}), DataType::kF32, {1, 1}, {21});
  check_tensor(run1(OpKind::kReduceSum, {kX23}, {{"keepdims", int64_t{0}}}), DataType::kF32, {},
               {21});
  // An empty axes input also means all, unless noop_with_empty_axes=1 (identity).
  check_tensor(run1(OpKind::kReduceSum, {kX23, i64({0}, {})}, {{"keepdims", int64_t{0}}}),
               DataType::kF32, {}, {21});
  check_tensor(
      run1(OpKind::kReduceSum, {kX23, i64({0}, {})}, {{"noop_with_empty_axes", int64_t{1}}}),
      DataType::kF32, {2, 3}, {1, 2, 3, 4, 5, 6});
  check_tensor(run1(OpKind::kReduceSum, {kX23}, {{"noop_with_empty_axes", int64_t{1}}}),
               DataType::kF32, {2, 3}, {1, 2, 3, 4, 5, 6});
  // A 0-d scalar reduces to itself.
  check_tensor(run1(OpKind::kReduceSum, {f32({}, {7})}), DataType::kF32, {}, {7});
}

TEST_CASE("ReduceMean, ReduceProd, ReduceMax, ReduceMin on floats") {
  check_tensor(run1(OpKind::kReduceMean, {f32({2, 2}, {1, 2, 3, 5}), axes({1})}), DataType::kF32,
               {2, 1}, {1.5, 4});
  check_tensor(run1(OpKind::kReduceProd, {kX23, axes({0})}, {{"keepdims", int64_t{0}}}),
               DataType::kF32, {3}, {4, 10, 18});
  check_tensor(run1(OpKind::kReduceMax, {f32({2, 3}, {1, 7, -3, -4, -5, -6}), axes({1})}),
               DataType::kF32, {2, 1}, {7, -4});
  check_tensor(run1(OpKind::kReduceMin, {f32({2, 3}, {1, 7, -3, -4, -5, -6}), axes({0})}),
               DataType::kF32, {1, 3}, {-4, -5, -6});
  // NaN propagates through max/min (numpy maximum.reduce).
  check_tensor(run1(OpKind::kReduceMax, {f32({3}, {1, kNaN, 3})}), DataType::kF32, {1}, {kNaN});
  check_tensor(run1(OpKind::kReduceMin, {f32({3}, {1, 3, kNaN})}), DataType::kF32, {1}, {kNaN});
}

TEST_CASE("Reduce over an empty set gives the identity of each reduction") {
  const HostTensor x = f32({2, 0, 4}, {});
  const std::vector<double> zeros(8, 0.0), ones(8, 1.0), ninf(8, -kInf), pinf(8, kInf),
      nan(8, kNaN);
  check_tensor(run1(OpKind::kReduceSum, {x, axes({1})}), DataType::kF32, {2, 1, 4}, zeros);
  check_tensor(run1(OpKind::kReduceProd, {x, axes({1})}), DataType::kF32, {2, 1, 4}, ones);
  check_tensor(run1(OpKind::kReduceMax, {x, axes({1})}), DataType::kF32, {2, 1, 4}, ninf);
  check_tensor(run1(OpKind::kReduceMin, {x, axes({1})}), DataType::kF32, {2, 1, 4}, pinf);
  check_tensor(run1(OpKind::kReduceMean, {x, axes({1})}), DataType::kF32, {2, 1, 4}, nan);
  // Reducing along a non-empty axis of an empty tensor gives an empty result.
  check_tensor(run1(OpKind::kReduceSum, {x, axes({2})}, {{"keepdims", int64_t{0}}}), DataType::kF32,
               {2, 0}, {});
  // Integers have no infinities: the extreme values of the dtype.
  check_tensor(run1(OpKind::kReduceMax, {i32({0}, {})}), DataType::kINT32, {1}, {-2147483648.0});
  check_tensor(run1(OpKind::kReduceMin, {i32({0}, {})}), DataType::kINT32, {1}, {2147483647.0});
  check_tensor(run1(OpKind::kReduceMax, {tensor(DataType::kINT8, {0}, {})}), DataType::kINT8, {1},
               {-128});
  check_tensor(run1(OpKind::kReduceMin, {tensor(DataType::kUINT8, {0}, {})}), DataType::kUINT8, {1},
               {255});
  check_tensor(run1(OpKind::kReduceMax, {boolean({0}, {})}), DataType::kBOOL, {1}, {0});
  check_tensor(run1(OpKind::kReduceMin, {boolean({0}, {})}), DataType::kBOOL, {1}, {1});
  check_tensor(run1(OpKind::kReduceSum, {i32({0, 2}, {}), axes({0})}), DataType::kINT32, {1, 2},
               {0, 0});
  check_tensor(run1(OpKind::kReduceProd, {i32({0, 2}, {}), axes({0})}), DataType::kINT32, {1, 2},
               {1, 1});
}

TEST_CASE("Reduce on integer, bool and half dtypes") {
  // int64 sums stay exact beyond 2^53 (2^53 + 1 is not a double).
  const int64_t big = (int64_t{1} << 53) + 1;
  const HostTensor x = HostTensor::from_vector<int64_t>(DataType::kINT64, {2}, {big, 1});
  const HostTensor s = run1(OpKind::kReduceSum, {x}, {{"keepdims", int64_t{0}}});
  CHECK(s.dtype() == DataType::kINT64);
  CHECK(s.get_int(0) == big + 1);
  // int32 mean truncates toward zero like numpy's cast: [1,2] -> 1, [-3,-6] -> -4 (-4.5).
  check_tensor(run1(OpKind::kReduceMean, {i32({2, 2}, {1, 2, -3, -6}), axes({1})}),
               DataType::kINT32, {2, 1}, {1, -4});
  check_tensor(run1(OpKind::kReduceProd, {i32({3}, {-2, 3, 4})}), DataType::kINT32, {1}, {-24});
  check_tensor(run1(OpKind::kReduceMax, {boolean({2, 2}, {0, 1, 0, 0}), axes({1})},
                    {{"keepdims", int64_t{0}}}),
               DataType::kBOOL, {2}, {1, 0});
  check_tensor(run1(OpKind::kReduceMin, {tensor(DataType::kINT8, {3}, {5, -7, 2})}),
               DataType::kINT8, {1}, {-7});
  // f16: 0.5 + 0.25 + 1024 = 1024.75, rounded once to f16 (spacing 1 at 1024) -> 1025.
  check_tensor(run1(OpKind::kReduceSum, {f16({3}, {0.5, 0.25, 1024})}), DataType::kF16, {1},
               {1025});
  check_tensor(run1(OpKind::kReduceMean, {tensor(DataType::kBF16, {2}, {1, 2})}), DataType::kBF16,
               {1}, {1.5});
  check_tensor(run1(OpKind::kReduceSum, {tensor(DataType::kF64, {2}, {0.1, 0.2})}), DataType::kF64,
               {1}, {0.1 + 0.2});
}

TEST_CASE("Reduce inference with dynamic dims and non-constant axes") {
  const TensorInfo x{DataType::kF32, {kDyn, 3, 4}, true};
  const HostTensor ax = axes({1});
  auto out = infer_op(OpKind::kReduceSum, {x, TensorInfo{DataType::kINT64, {1}, true}},
                      {{"keepdims", int64_t{0}}}, 1, {nullptr, &ax});
  CHECK(out[0].shape == std::vector<int64_t>{kDyn, 4});
  // Non-constant axes: the rank is known, which dims shrink is not.
  out = infer_op(OpKind::kReduceMax, {TensorInfo{DataType::kF32, {kDyn, 1, 4}, true},
                                      TensorInfo{DataType::kINT64, {1}, true}});
  CHECK(out[0].shape == std::vector<int64_t>{kDyn, 1, kDyn});
  out = infer_op(OpKind::kReduceMax, {x, TensorInfo{DataType::kINT64, {2}, true}},
                 {{"keepdims", int64_t{0}}});
  CHECK(out[0].shape == std::vector<int64_t>{kDyn});
  check_error(
      [&] {
        infer_op(OpKind::kReduceSum, {x, TensorInfo{DataType::kINT64, {kDyn}, true}},
                 {{"keepdims", int64_t{0}}});
      },
      "rtx.ir.306", "rank is unknown");
  check_error(
      [&] {
        infer_op(OpKind::kReduceSum, {x, TensorInfo{DataType::kINT64, {4}, true}},
                 {{"keepdims", int64_t{0}}});
      },
      "rtx.ir.306", "4 entries");
}

TEST_CASE("Reduce errors") {
  check_error([] { run1(OpKind::kReduceSum, {boolean({2}, {0, 1})}); }, "rtx.ir.301", "bool");
  check_error(
      [] {
        run1(OpKind::kReduceProd, {tensor(DataType::kINT8, {2}, {1, 2})});
      },
      "rtx.ir.301", "i8");
  check_error([] { run1(OpKind::kReduceSum, {kX23, f32({1}, {1})}); }, "rtx.ir.302", "axes");
  check_error([] { run1(OpKind::kReduceSum, {kX23, i64({1, 1}, {1})}); }, "rtx.ir.302", "1-D");
  check_error(
      [] {
        run1(OpKind::kReduceSum, {kX23, axes({1, -1})});
      },
      "rtx.ir.303", "more than once");
  check_error([] { run1(OpKind::kReduceMean, {kX23, axes({2})}); }, "rtx.ir.130", "axis 2");
  check_error(
      [] {
        run1(OpKind::kReduceSum, {kX23}, {{"keepdims", int64_t{2}}});
      },
      "rtx.ir.304", "keepdims");
  check_error(
      [] {
        run1(OpKind::kReduceSum, {kX23}, {{"axes", std::vector<int64_t>{1}}});
      },
      "rtx.ir.305", "input 1");
  check_error([] { run_op(OpKind::kReduceSum, {kX23, axes({0}), axes({0})}); }, "rtx.ir.122");
}

// ---- ArgMax / ArgMin ---------------------------------------------------------------------------

TEST_CASE("ArgMax and ArgMin with axes, keepdims and ties") {
  const HostTensor x = f32({2, 2}, {2, 1, 3, 10});
  check_tensor(run1(OpKind::kArgMax, {x}), DataType::kINT64, {1, 2}, {1, 1});
  check_tensor(run1(OpKind::kArgMax, {x}, {{"axis", int64_t{1}}}), DataType::kINT64, {2, 1},
               {0, 1});
  check_tensor(run1(OpKind::kArgMax, {x}, {{"axis", int64_t{-1}}, {"keepdims", int64_t{0}}}),
               DataType::kINT64, {2}, {0, 1});
  check_tensor(run1(OpKind::kArgMin, {x}, {{"axis", int64_t{1}}, {"keepdims", int64_t{0}}}),
               DataType::kINT64, {2}, {1, 0});
  // Ties: the first index by default, the last with select_last_index=1.
  const HostTensor t = f32({2, 3}, {2, 2, 1, 1, 3, 3});
  const Attrs last{
      {"axis", int64_t{1}}, {"keepdims", int64_t{0}}, {"select_last_index", int64_t{1}}};
  check_tensor(run1(OpKind::kArgMax, {t}, {{"axis", int64_t{1}}, {"keepdims", int64_t{0}}}),
               DataType::kINT64, {2}, {0, 1});
  check_tensor(run1(OpKind::kArgMax, {t}, last), DataType::kINT64, {2}, {1, 2});
  const HostTensor u = i32({2, 3}, {1, 1, 2, 3, 0, 0});
  check_tensor(run1(OpKind::kArgMin, {u}, {{"axis", int64_t{1}}, {"keepdims", int64_t{0}}}),
               DataType::kINT64, {2}, {0, 1});
  check_tensor(run1(OpKind::kArgMin, {u}, last), DataType::kINT64, {2}, {1, 2});
  // f16 and int64 inputs; NaN counts as the extremum (numpy's rule).
  check_tensor(run1(OpKind::kArgMax, {f16({3}, {0.5, 2, 1})}), DataType::kINT64, {1}, {1});
  check_tensor(run1(OpKind::kArgMin, {i64({3}, {5, -9, 7})}, {{"keepdims", int64_t{0}}}),
               DataType::kINT64, {}, {1});
  check_tensor(run1(OpKind::kArgMax, {f32({4}, {1, kNaN, 3, kNaN})}), DataType::kINT64, {1}, {1});
  check_tensor(
      run1(OpKind::kArgMin, {f32({4}, {1, kNaN, 3, kNaN})}, {{"select_last_index", int64_t{1}}}),
      DataType::kINT64, {1}, {3});
  // Empty outer dims give an empty result.
  check_tensor(run1(OpKind::kArgMax, {f32({0, 3}, {})}, {{"axis", int64_t{1}}}), DataType::kINT64,
               {0, 1}, {});
}

TEST_CASE("ArgMax inference and errors") {
  auto out = infer_op(OpKind::kArgMax, {TensorInfo{DataType::kF16, {kDyn, 5, 2}, true}},
                      {{"axis", int64_t{1}}, {"keepdims", int64_t{0}}});
  CHECK(out[0].dtype == DataType::kINT64);
  CHECK(out[0].shape == std::vector<int64_t>{kDyn, 2});
  check_error(
      [] {
        run1(OpKind::kArgMax, {f32({2, 0}, {})}, {{"axis", int64_t{1}}});
      },
      "rtx.ir.308", "empty");
  check_error([] { run1(OpKind::kArgMax, {f32({}, {1})}); }, "rtx.ir.307", "0-d");
  check_error([] { run1(OpKind::kArgMin, {boolean({2}, {0, 1})}); }, "rtx.ir.301", "bool");
  check_error([] { run1(OpKind::kArgMin, {kX23}, {{"axis", int64_t{2}}}); }, "rtx.ir.130");
  check_error(
      [] {
        run1(OpKind::kArgMin, {kX23}, {{"select_last_index", int64_t{3}}});
      },
      "rtx.ir.304");
}

// ---- CumSum ------------------------------------------------------------------------------------

TEST_CASE("CumSum: exclusive, reverse, axes, dtypes") {
  const HostTensor x = f32({5}, {1, 2, 3, 4, 5});
  const HostTensor a0 = i64({}, {0});
  check_tensor(run1(OpKind::kCumSum, {x, a0}), DataType::kF32, {5}, {1, 3, 6, 10, 15});
  check_tensor(run1(OpKind::kCumSum, {x, a0}, {{"exclusive", int64_t{1}}}), DataType::kF32, {5},
               {0, 1, 3, 6, 10});
  check_tensor(run1(OpKind::kCumSum, {x, a0}, {{"reverse", int64_t{1}}}), DataType::kF32, {5},
               {15, 14, 12, 9, 5});
  check_tensor(run1(OpKind::kCumSum, {x, a0}, {{"reverse", int64_t{1}}, {"exclusive", int64_t{1}}}),
               DataType::kF32, {5}, {14, 12, 9, 5, 0});
  check_tensor(run1(OpKind::kCumSum, {kX23, i32({1}, {1})}), DataType::kF32, {2, 3},
               {1, 3, 6, 4, 9, 15});
  check_tensor(run1(OpKind::kCumSum, {kX23, i32({}, {-2})}), DataType::kF32, {2, 3},
               {1, 2, 3, 5, 7, 9});
  check_tensor(run1(OpKind::kCumSum, {i32({4}, {1, -2, 3, 100}), a0}), DataType::kINT32, {4},
               {1, -1, 2, 102});
  // f16: 1 + 2048 = 2049 is a tie between 2048 and 2050 (spacing 2): to even -> 2048.
  check_tensor(run1(OpKind::kCumSum, {f16({3}, {0.5, 0.5, 2048}), a0}), DataType::kF16, {3},
               {0.5, 1, 2048});
  check_tensor(run1(OpKind::kCumSum, {f32({0, 2}, {}), a0}), DataType::kF32, {0, 2}, {});
}

TEST_CASE("CumSum inference with a non-constant axis") {
  const auto out = infer_op(OpKind::kCumSum, {TensorInfo{DataType::kINT64, {kDyn, 3}, true},
                                              TensorInfo{DataType::kINT32, {1}, true}});
  CHECK(out[0].dtype == DataType::kINT64);
  CHECK(out[0].shape == std::vector<int64_t>{kDyn, 3});
}

TEST_CASE("CumSum errors") {
  check_error([] { run1(OpKind::kCumSum, {kX23, i64({2}, {0, 1})}); }, "rtx.ir.309", "axis");
  check_error([] { run1(OpKind::kCumSum, {kX23, f32({}, {0})}); }, "rtx.ir.309", "i32 or i64");
  check_error([] { run1(OpKind::kCumSum, {kX23, i64({}, {2})}); }, "rtx.ir.130");
  check_error([] { run1(OpKind::kCumSum, {boolean({2}, {1, 0}), i64({}, {0})}); }, "rtx.ir.301");
  check_error([] { run1(OpKind::kCumSum, {f32({}, {1}), i64({}, {0})}); }, "rtx.ir.307");
  check_error(
      [] {
        run1(OpKind::kCumSum, {kX23, i64({}, {0})}, {{"reverse", int64_t{5}}});
      },
      "rtx.ir.304");
}

// ---- Softmax / LogSoftmax ----------------------------------------------------------------------

TEST_CASE("Softmax and LogSoftmax values, axes and stability") {
  // softmax([1,2,3]) = e^k / (e + e^2 + e^3) = [0.0900305732, 0.2447284711, 0.6652409558];
  // logsoftmax = x - 3 - log(e^-2 + e^-1 + 1) = x - 3 - 0.4076059644.
  const std::vector<double> sm{0.09003057317038046, 0.24472847105479767, 0.6652409557748219};
  const std::vector<double> lsm{-2.40760596444438, -1.4076059644443801, -0.40760596444438013};
  check_tensor(run1(OpKind::kSoftmax, {f32({3}, {1, 2, 3})}), DataType::kF32, {3}, sm, 1e-6);
  check_tensor(run1(OpKind::kLogSoftmax, {f32({3}, {1, 2, 3})}), DataType::kF32, {3}, lsm, 1e-6);
  // Large values: a naive exp() overflows to inf; subtracting the max gives the same as above.
  check_tensor(run1(OpKind::kSoftmax, {f32({3}, {1000, 1001, 1002})}), DataType::kF32, {3}, sm,
               1e-6);
  check_tensor(run1(OpKind::kLogSoftmax, {f32({3}, {1000, 1001, 1002})}), DataType::kF32, {3}, lsm,
               1e-6);
  check_tensor(run1(OpKind::kSoftmax, {f32({2}, {-10000, -10000})}), DataType::kF32, {2},
               {0.5, 0.5});
  // axis 0 of [[1,1],[1,3]]: column 0 -> [0.5, 0.5]; column 1 -> [1/(1+e^2), e^2/(1+e^2)].
  check_tensor(run1(OpKind::kSoftmax, {f32({2, 2}, {1, 1, 1, 3})}, {{"axis", int64_t{0}}}),
               DataType::kF32, {2, 2}, {0.5, 0.11920292202211755, 0.5, 0.8807970779778823}, 1e-6);
  // Default axis is -1 (opset 13): rows of [[1,1],[1,3]].
  check_tensor(run1(OpKind::kSoftmax, {f32({2, 2}, {1, 1, 1, 3})}), DataType::kF32, {2, 2},
               {0.5, 0.5, 0.11920292202211755, 0.8807970779778823}, 1e-6);
  check_tensor(run1(OpKind::kSoftmax, {f16({1, 2}, {5, 5})}), DataType::kF16, {1, 2}, {0.5, 0.5});
  check_tensor(run1(OpKind::kSoftmax, {f32({0, 3}, {})}), DataType::kF32, {0, 3}, {});
  // -inf entries get probability 0 (log: -inf).
  check_tensor(run1(OpKind::kSoftmax, {f32({2}, {-kInf, 0})}), DataType::kF32, {2}, {0, 1});
  check_tensor(run1(OpKind::kLogSoftmax, {f32({2}, {-kInf, 0})}), DataType::kF32, {2}, {-kInf, 0});
}

TEST_CASE("Softmax inference and errors") {
  auto out = infer_op(OpKind::kLogSoftmax, {TensorInfo{DataType::kBF16, {kDyn, 7}, true}});
  CHECK(out[0].dtype == DataType::kBF16);
  CHECK(out[0].shape == std::vector<int64_t>{kDyn, 7});
  check_error([] { run1(OpKind::kSoftmax, {i32({2}, {1, 2})}); }, "rtx.ir.301", "i32");
  check_error([] { run1(OpKind::kSoftmax, {kX23}, {{"axis", int64_t{2}}}); }, "rtx.ir.130");
  check_error([] { run1(OpKind::kLogSoftmax, {f32({}, {1})}); }, "rtx.ir.307");
}

// ---- LayerNormalization ------------------------------------------------------------------------

TEST_CASE("LayerNormalization over the last axis with all outputs") {
  // Row [1,2,3]: mean 2, var 2/3, 1/std = sqrt(1.5) = 1.2247448714. Row [2,4,6]: mean 4,
  // var 8/3, 1/std = sqrt(3/8) = 0.6123724357. Both normalise to [-1.2247, 0, 1.2247].
  // Scale [2,1,0.5], B [1,0,-1]: [-2.4495 + 1, 0, 0.6124 - 1].
  const HostTensor x = f32({2, 3}, {1, 2, 3, 2, 4, 6});
  const auto outs = run_op(OpKind::kLayerNormalization,
                           {x, f32({3}, {2, 1, 0.5}), f32({3}, {1, 0, -1})}, {{"epsilon", 0.0}}, 3);
  const double n = 1.224744871391589;
  check_tensor(outs[0], DataType::kF32, {2, 3},
               {1 - 2 * n, 0, 0.5 * n - 1, 1 - 2 * n, 0, 0.5 * n - 1}, 1e-6);
  check_tensor(outs[1], DataType::kF32, {2, 1}, {2, 4});
  check_tensor(outs[2], DataType::kF32, {2, 1}, {n, 0.6123724356957945}, 1e-6);
}

TEST_CASE("LayerNormalization: default epsilon, axis 0, broadcast scale, optional outputs") {
  // [0, 2]: mean 1, var 1, 1/sqrt(1 + 1e-5) = 0.9999950000375.
  check_tensor(run1(OpKind::kLayerNormalization, {f32({1, 2}, {0, 2}), f32({2}, {1, 1})}),
               DataType::kF32, {1, 2}, {-0.9999950000374997, 0.9999950000374997}, 1e-6);
  // axis 0 normalises everything: mean 2.5, var 1.25, 1/std = 0.894427191; scale [[1],[2]].
  const double s = 0.8944271909999159;
  const auto outs =
      run_op(OpKind::kLayerNormalization, {f32({2, 2}, {1, 2, 3, 4}), f32({2, 1}, {1, 2})},
             {{"axis", int64_t{0}}, {"epsilon", 0.0}}, 2);
  check_tensor(outs[0], DataType::kF32, {2, 2}, {-1.5 * s, -0.5 * s, 2 * 0.5 * s, 2 * 1.5 * s},
               1e-6);
  check_tensor(outs[1], DataType::kF32, {1, 1}, {2.5});
  // Only InvStdDev requested (Mean omitted); f16 X keeps f32 statistics (stash_type 1).
  const auto part =
      run_outputs(OpKind::kLayerNormalization, {f16({1, 2}, {0, 2}), f16({2}, {1, 1})},
                  {{"epsilon", 0.0}}, {true, false, true});
  check_tensor(part[0], DataType::kF16, {1, 2}, {-1, 1});
  CHECK_FALSE(part[1].valid());
  check_tensor(part[2], DataType::kF32, {1, 1}, {1});
  // f64 with a 3-D input and a negative axis: each [2,2] slab normalised.
  check_tensor(run1(OpKind::kLayerNormalization,
                    {tensor(DataType::kF64, {2, 1, 2}, {1, 3, 5, 5}),
                     tensor(DataType::kF64, {1, 2}, {1, 1})},
                    {{"axis", int64_t{-2}}, {"epsilon", 0.0}}),
               DataType::kF64, {2, 1, 2}, {-1, 1, kNaN, kNaN});
}

TEST_CASE("LayerNormalization inference and errors") {
  auto out =
      infer_op(OpKind::kLayerNormalization,
               {TensorInfo{DataType::kF16, {kDyn, 4}, true}, TensorInfo{DataType::kF16, {4}, true}},
               {{"stash_type", int64_t{16}}}, 3);
  CHECK(out[0].shape == std::vector<int64_t>{kDyn, 4});
  CHECK(out[1].dtype == DataType::kBF16);
  CHECK(out[1].shape == std::vector<int64_t>{kDyn, 1});
  CHECK(out[2].shape == std::vector<int64_t>{kDyn, 1});
  const HostTensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  check_error(
      [&] {
        run1(OpKind::kLayerNormalization, {x, f16({3}, {1, 1, 1})});
      },
      "rtx.ir.312", "Scale");
  check_error(
      [&] {
        run1(OpKind::kLayerNormalization, {x, f32({2}, {1, 1})});
      },
      "rtx.ir.310", "broadcast");
  check_error(
      [&] {
        run1(OpKind::kLayerNormalization, {x, f32({3}, {1, 1, 1}), f32({4}, {0, 0, 0, 0})});
      },
      "rtx.ir.310", "'B'");
  check_error(
      [&] {
        run1(OpKind::kLayerNormalization, {x, f32({3}, {1, 1, 1})}, {{"stash_type", int64_t{7}}});
      },
      "rtx.ir.311");
  check_error(
      [&] {
        run1(OpKind::kLayerNormalization, {i32({2}, {1, 2}), i32({2}, {1, 1})});
      },
      "rtx.ir.301");
  check_error(
      [&] {
        run1(OpKind::kLayerNormalization, {x, f32({3}, {1, 1, 1})}, {{"axis", int64_t{2}}});
      },
      "rtx.ir.130");
}

// ---- RMSNormalization --------------------------------------------------------------------------

TEST_CASE("RMSNormalization values, axes and dtypes") {
  // [3,4]: mean square 12.5, rms 3.5355339059; [3,4]/rms = [0.8485281374, 1.1313708499]; scale
  // [1,2].
  check_tensor(
      run1(OpKind::kRMSNormalization, {f32({1, 2}, {3, 4}), f32({2}, {1, 2})}, {{"epsilon", 0.0}}),
      DataType::kF32, {1, 2}, {0.848528137423857, 2.262741699796952}, 1e-6);
  // Default epsilon 1e-5: 3 / sqrt(12.50001) = 0.8485277980.
  check_tensor(run1(OpKind::kRMSNormalization, {f32({2}, {3, 4}), f32({}, {1})}), DataType::kF32,
               {2}, {0.8485277980128058, 0.8485277980128058 * 4 / 3}, 1e-6);
  // axis 0 over [[2,2],[2,2]]: rms 2 -> ones, times scale [[1,2],[3,4]].
  check_tensor(
      run1(OpKind::kRMSNormalization, {f32({2, 2}, {2, 2, 2, -2}), f32({2, 2}, {1, 2, 3, 4})},
           {{"axis", int64_t{0}}, {"epsilon", 0.0}}),
      DataType::kF32, {2, 2}, {1, 2, 3, -4});
  // Y takes scale's dtype (ONNX type constraint V).
  check_tensor(
      run1(OpKind::kRMSNormalization, {f32({2}, {2, -2}), f16({2}, {1, 0.5})}, {{"epsilon", 0.0}}),
      DataType::kF16, {2}, {1, -0.5});
}

TEST_CASE("RMSNormalization inference") {
  const auto out = infer_op(
      OpKind::kRMSNormalization,
      {TensorInfo{DataType::kBF16, {kDyn, kDyn, 8}, true}, TensorInfo{DataType::kF32, {8}, true}});
  CHECK(out[0].dtype == DataType::kF32);
  CHECK(out[0].shape == std::vector<int64_t>{kDyn, kDyn, 8});
}

TEST_CASE("RMSNormalization errors") {
  check_error(
      [] {
        run1(OpKind::kRMSNormalization, {kX23, f32({2}, {1, 1})});
      },
      "rtx.ir.310", "scale");
  check_error(
      [] {
        run1(OpKind::kRMSNormalization, {kX23, i32({3}, {1, 1, 1})});
      },
      "rtx.ir.301", "scale");
  check_error(
      [] {
        run1(OpKind::kRMSNormalization, {kX23, f32({3}, {1, 1, 1})}, {{"stash_type", int64_t{2}}});
      },
      "rtx.ir.311");
  check_error(
      [] {
        run1(OpKind::kRMSNormalization, {kX23, f32({3}, {1, 1, 1})}, {{"axis", int64_t{-3}}});
      },
      "rtx.ir.130");
}

// ---- BatchNormalization ------------------------------------------------------------------------

TEST_CASE("BatchNormalization in inference mode") {
  // X (1,2,1,2): channel 0 = [1,3], channel 1 = [2,4]; eps 0.
  // c0: (x - 2) / 1 * 1 + 0 = [-1, 1]; c1: (x - 3) / 2 * 2 + 1 = [0, 2].
  const auto y = run1(OpKind::kBatchNormalization,
                      {f32({1, 2, 1, 2}, {1, 3, 2, 4}), f32({2}, {1, 2}), f32({2}, {0, 1}),
                       f32({2}, {2, 3}), f32({2}, {1, 4})},
                      {{"epsilon", 0.0}, {"momentum", 0.5}});
  check_tensor(y, DataType::kF32, {1, 2, 1, 2}, {-1, 1, 0, 2});
  // (N, C) input, default epsilon: (3 - 1) / sqrt(1 + 1e-5) = 1.999990000075.
  check_tensor(run1(OpKind::kBatchNormalization,
                    {f16({1, 1}, {3}), f32({1}, {1}), f32({1}, {0}), f32({1}, {1}), f32({1}, {1})}),
               DataType::kF16, {1, 1}, {2});
  check_tensor(run1(OpKind::kBatchNormalization,
                    {f32({1, 1}, {3}), f32({1}, {1}), f32({1}, {0}), f32({1}, {1}), f32({1}, {1})}),
               DataType::kF32, {1, 1}, {1.999990000075}, 1e-7);
}

TEST_CASE("BatchNormalization inference and errors") {
  const TensorInfo c{DataType::kF32, {3}, true};
  auto out = infer_op(OpKind::kBatchNormalization,
                      {TensorInfo{DataType::kF32, {kDyn, 3, kDyn}, true}, c, c, c, c});
  CHECK(out[0].shape == std::vector<int64_t>{kDyn, 3, kDyn});
  const HostTensor x = f32({1, 2}, {1, 2});
  const HostTensor p = f32({2}, {1, 1});
  check_error(
      [&] {
        run1(OpKind::kBatchNormalization, {x, p, p, p, p}, {{"training_mode", int64_t{1}}});
      },
      "rtx.ir.313", "inference mode only");
  check_error(
      [&] {
        run_op(OpKind::kBatchNormalization, {x, p, p, p, p}, {}, 3);
      },
      "rtx.ir.313", "training mode");
  check_error(
      [&] {
        run1(OpKind::kBatchNormalization, {x, f32({3}, {1, 1, 1}), p, p, p});
      },
      "rtx.ir.314", "scale");
  check_error(
      [&] {
        run1(OpKind::kBatchNormalization, {f32({2}, {1, 2}), p, p, p, p});
      },
      "rtx.ir.315");
  check_error(
      [&] {
        run1(OpKind::kBatchNormalization, {i32({1, 2}, {1, 2}), p, p, p, p});
      },
      "rtx.ir.301");
}

TEST_CASE("every op of the family is registered") {
  for (OpKind k : {OpKind::kReduceSum, OpKind::kReduceMean, OpKind::kReduceMax, OpKind::kReduceMin,
                   OpKind::kReduceProd, OpKind::kArgMax, OpKind::kArgMin, OpKind::kCumSum,
                   OpKind::kSoftmax, OpKind::kLogSoftmax, OpKind::kLayerNormalization,
                   OpKind::kRMSNormalization, OpKind::kBatchNormalization})
    CHECK_MESSAGE(ir::has_schema(k), ir::op_name(k));
}

}  // namespace
}  // namespace rtx::test
