// SPDX-License-Identifier: Apache-2.0
// Tests of the linear-algebra family (ir/ops/linalg.cpp): MatMul, Gemm and Attention. Expected
// values are worked out by hand in the comments, never by the code under test.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "op_test_util.hpp"

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

// ---- MatMul ------------------------------------------------------------------------------------

TEST_CASE("MatMul 2-D and 1-D operands") {
  const HostTensor a = f32({2, 2}, {1, 2, 3, 4});
  const HostTensor b = f32({2, 2}, {5, 6, 7, 8});
  // [[1*5+2*7, 1*6+2*8], [3*5+4*7, 3*6+4*8]]
  check_tensor(run1(OpKind::kMatMul, {a, b}), DataType::kF32, {2, 2}, {19, 22, 43, 50});
  // (K) x (K, N): the prepended 1 is removed -> (N).
  check_tensor(run1(OpKind::kMatMul, {f32({2}, {1, 2}), b}), DataType::kF32, {2}, {19, 22});
  // (M, K) x (K): the appended 1 is removed -> (M): [1*5+2*7, 3*5+4*7].
  check_tensor(run1(OpKind::kMatMul, {a, f32({2}, {5, 7})}), DataType::kF32, {2}, {19, 43});
  // (K) x (K): a 0-d dot product 4 + 10 + 18.
  check_tensor(run1(OpKind::kMatMul, {f32({3}, {1, 2, 3}), f32({3}, {4, 5, 6})}), DataType::kF32,
               {}, {32});
}

TEST_CASE("MatMul batched with broadcasting") {
  // A (2,1,1,2): A[i] = [i+1, 1]; B (3,2,1): B[j] = [j, 10]^T. Batch (2,1) x (3) -> (2,3).
  // out[i][j] = (i+1)*j + 10.
  const HostTensor a = f32({2, 1, 1, 2}, {1, 1, 2, 1});
  const HostTensor b = f32({3, 2, 1}, {0, 10, 1, 10, 2, 10});
  check_tensor(run1(OpKind::kMatMul, {a, b}), DataType::kF32, {2, 3, 1, 1},
               {10, 11, 12, 10, 12, 14});
  // (K) against a batch: a = [1,1], B[j] = [[j,1],[2,j]] -> [j+2, j+1] for j = 0..2.
  const HostTensor bb = f32({3, 2, 2}, {0, 1, 2, 0, 1, 1, 2, 1, 2, 1, 2, 2});
  check_tensor(run1(OpKind::kMatMul, {f32({2}, {1, 1}), bb}), DataType::kF32, {3, 2},
               {2, 1, 3, 2, 4, 3});
  // A rank-2 B broadcasts over A's batch: (2,1,2) x (2,1) -> (2,1,1): [1+2], [3+4].
  check_tensor(run1(OpKind::kMatMul, {f32({2, 1, 2}, {1, 2, 3, 4}), f32({2, 1}, {1, 1})}),
               DataType::kF32, {2, 1, 1}, {3, 7});
}

TEST_CASE("MatMul with empty dims") {
  // K = 0: an empty sum, all zeros.
  check_tensor(run1(OpKind::kMatMul, {f32({2, 0}, {}), f32({0, 3}, {})}), DataType::kF32, {2, 3},
               {0, 0, 0, 0, 0, 0});
  check_tensor(run1(OpKind::kMatMul, {f32({0, 2}, {}), f32({2, 3}, {1, 2, 3, 4, 5, 6})}),
               DataType::kF32, {0, 3}, {});
  check_tensor(run1(OpKind::kMatMul, {f32({0, 1, 2}, {}), f32({2, 3}, {1, 2, 3, 4, 5, 6})}),
               DataType::kF32, {0, 1, 3}, {});
}

TEST_CASE("MatMul dtypes") {
  // int64 stays exact: 2^40 * (2^20 + 1) + 3 * 1 = 2^60 + 2^40 + 3, which needs 61 significant
  // bits (a double has 53), so a product through double would lose the + 3.
  const int64_t p40 = int64_t{1} << 40;
  const HostTensor a = HostTensor::from_vector<int64_t>(DataType::kINT64, {1, 2}, {p40, 3});
  const HostTensor b =
      HostTensor::from_vector<int64_t>(DataType::kINT64, {2, 1}, {(int64_t{1} << 20) + 1, 1});
  const HostTensor c = run1(OpKind::kMatMul, {a, b});
  CHECK(c.dtype() == DataType::kINT64);
  CHECK(c.get_int(0) == (int64_t{1} << 60) + p40 + 3);
  check_tensor(run1(OpKind::kMatMul, {i32({1, 2}, {-3, 4}), i32({2, 1}, {5, 6})}), DataType::kINT32,
               {1, 1}, {9});
  // f16: 0.5*2 + 0.25*4 = 2; bf16 and f64 too.
  check_tensor(run1(OpKind::kMatMul, {f16({1, 2}, {0.5, 0.25}), f16({2, 1}, {2, 4})}),
               DataType::kF16, {1, 1}, {2});
  check_tensor(run1(OpKind::kMatMul, {tensor(DataType::kBF16, {1, 2}, {1, 2}),
                                      tensor(DataType::kBF16, {2}, {3, 4})}),
               DataType::kBF16, {1}, {11});
  check_tensor(run1(OpKind::kMatMul, {tensor(DataType::kF64, {1, 2}, {0.1, 0.2}),
                                      tensor(DataType::kF64, {2, 1}, {1, 1})}),
               DataType::kF64, {1, 1}, {0.1 + 0.2});
  // f16 result rounds once: 1024 + 0.5 + 0.25 = 1024.75 -> 1025 (f16 spacing 1 there).
  check_tensor(run1(OpKind::kMatMul, {f16({1, 3}, {1024, 0.5, 0.25}), f16({3}, {1, 1, 1})}),
               DataType::kF16, {1}, {1025});
}

TEST_CASE("MatMul inference with dynamic dims, and errors") {
  auto out = infer_op(OpKind::kMatMul, {TensorInfo{DataType::kF32, {kDyn, 3, 4}, true},
                                        TensorInfo{DataType::kF32, {4, kDyn}, true}});
  CHECK(out[0].shape == std::vector<int64_t>{kDyn, 3, kDyn});
  out = infer_op(OpKind::kMatMul, {TensorInfo{DataType::kF16, {kDyn, 1, kDyn}, true},
                                   TensorInfo{DataType::kF16, {5, 7, 2}, true}});
  CHECK(out[0].shape == std::vector<int64_t>{5, 1, 2});  // batch (?) against (5) is 5
  out = infer_op(OpKind::kMatMul, {TensorInfo{DataType::kF32, {kDyn}, true},
                                   TensorInfo{DataType::kF32, {kDyn}, true}});
  CHECK(out[0].shape.empty());
  check_error(
      [] {
        run1(OpKind::kMatMul, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2, 3}, {1, 2, 3, 4, 5, 6})});
      },
      "rtx.ir.404", "K=3");
  check_error(
      [] {
        run1(OpKind::kMatMul, {f32({2}, {1, 2}), f16({2}, {1, 2})});
      },
      "rtx.ir.402", "f16");
  check_error(
      [] {
        run1(OpKind::kMatMul, {boolean({1}, {1}), boolean({1}, {1})});
      },
      "rtx.ir.401", "bool");
  check_error([] { run1(OpKind::kMatMul, {f32({}, {1}), f32({1}, {1})}); }, "rtx.ir.403", "rank");
  check_error(
      [] {
        run1(OpKind::kMatMul, {f32({2, 1, 1}, {1, 2}), f32({3, 1, 1}, {1, 2, 3})});
      },
      "rtx.ir.131");
}

// ---- Gemm --------------------------------------------------------------------------------------

// A = [[1,2,3],[4,5,6]], B = [[1,0],[0,1],[1,1]]: A B = [[4,5],[10,11]].
const std::vector<double> kA{1, 2, 3, 4, 5, 6}, kAt{1, 4, 2, 5, 3, 6};
const std::vector<double> kB{1, 0, 0, 1, 1, 1}, kBt{1, 0, 1, 0, 1, 1};

TEST_CASE("Gemm: every transA/transB combination with alpha, beta and a broadcast C") {
  // 2 * A B + 0.5 * [[10, 20]] = [[8+5, 10+10], [20+5, 22+10]].
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      CAPTURE(ta);
      CAPTURE(tb);
      const HostTensor a = ta ? f32({3, 2}, kAt) : f32({2, 3}, kA);
      const HostTensor b = tb ? f32({2, 3}, kBt) : f32({3, 2}, kB);
      check_tensor(
          run1(OpKind::kGemm, {a, b, f32({1, 2}, {10, 20})},
               {{"alpha", 2.0}, {"beta", 0.5}, {"transA", int64_t{ta}}, {"transB", int64_t{tb}}}),
          DataType::kF32, {2, 2}, {13, 20, 25, 32});
    }
}

TEST_CASE("Gemm: C shapes, no C, beta 0, empty K, dtypes") {
  const HostTensor a = f32({2, 3}, kA), b = f32({3, 2}, kB);
  check_tensor(run1(OpKind::kGemm, {a, b}), DataType::kF32, {2, 2}, {4, 5, 10, 11});
  check_tensor(run1(OpKind::kGemm, {a, b, f32({}, {3})}), DataType::kF32, {2, 2}, {7, 8, 13, 14});
  check_tensor(run1(OpKind::kGemm, {a, b, f32({2}, {1, 2})}), DataType::kF32, {2, 2},
               {5, 7, 11, 13});
  check_tensor(run1(OpKind::kGemm, {a, b, f32({2, 1}, {1, 2})}), DataType::kF32, {2, 2},
               {5, 6, 12, 13});
  check_tensor(run1(OpKind::kGemm, {a, b, f32({2, 2}, {1, 2, 3, 4})}), DataType::kF32, {2, 2},
               {5, 7, 13, 15});
  // beta = 0 ignores C entirely (inf * 0 would be NaN).
  check_tensor(run1(OpKind::kGemm, {a, b, f32({1}, {kInf})}, {{"beta", 0.0}}), DataType::kF32,
               {2, 2}, {4, 5, 10, 11});
  // K = 0: alpha * 0 + C.
  check_tensor(run1(OpKind::kGemm, {f32({2, 0}, {}), f32({0, 2}, {}), f32({1}, {1})}),
               DataType::kF32, {2, 2}, {1, 1, 1, 1});
  // Integers: exact with integral alpha/beta; otherwise via double, truncated toward zero.
  const HostTensor ia = i32({2, 3}, kA), ib = i32({3, 2}, kB);
  check_tensor(run1(OpKind::kGemm, {ia, ib, i32({1}, {-1})}, {{"alpha", 3.0}}), DataType::kINT32,
               {2, 2}, {11, 14, 29, 32});
  check_tensor(run1(OpKind::kGemm, {ia, ib}, {{"alpha", 0.5}}), DataType::kINT32, {2, 2},
               {2, 2, 5, 5});
  check_tensor(run1(OpKind::kGemm, {f16({1, 1}, {0.5}), f16({1, 1}, {3}), f16({1}, {0.25})}),
               DataType::kF16, {1, 1}, {1.75});
  check_tensor(run1(OpKind::kGemm,
                    {tensor(DataType::kF64, {1, 1}, {0.1}), tensor(DataType::kF64, {1, 1}, {1}),
                     tensor(DataType::kF64, {1}, {0.2})}),
               DataType::kF64, {1, 1}, {0.1 + 0.2});
}

TEST_CASE("Gemm inference and errors") {
  auto out =
      infer_op(OpKind::kGemm,
               {TensorInfo{DataType::kF32, {kDyn, 8}, true},
                TensorInfo{DataType::kF32, {16, 8}, true}, TensorInfo{DataType::kF32, {16}, true}},
               {{"transB", int64_t{1}}});
  CHECK(out[0].shape == std::vector<int64_t>{kDyn, 16});
  const HostTensor a = f32({2, 3}, kA), b = f32({3, 2}, kB);
  check_error([&] { run1(OpKind::kGemm, {f32({1, 2, 3}, kA), b}); }, "rtx.ir.403", "2-D");
  check_error(
      [&] {
        run1(OpKind::kGemm, {a, b}, {{"transB", int64_t{1}}});
      },
      "rtx.ir.404", "transB=1");
  check_error([&] { run1(OpKind::kGemm, {a, b, f32({3, 2}, kA)}); }, "rtx.ir.405", "'C'");
  check_error([&] { run1(OpKind::kGemm, {a, b, f32({1, 1, 1}, {1})}); }, "rtx.ir.405");
  check_error(
      [&] {
        run1(OpKind::kGemm, {a, b}, {{"transA", int64_t{2}}});
      },
      "rtx.ir.406", "transA");
  check_error([&] { run1(OpKind::kGemm, {a, b, i32({1}, {1})}); }, "rtx.ir.402", "'C'");
  check_error(
      [&] {
        run1(OpKind::kGemm, {boolean({1, 1}, {1}), boolean({1, 1}, {1})});
      },
      "rtx.ir.401");
}

// ---- Attention ---------------------------------------------------------------------------------
//
// The tiny case used throughout: one query q, keys k0 = [1,0], k1 = [0,1], values v0 = [1,2],
// v1 = [3,4]. With scale 1 and q = [1,0] the scores are [1, 0]: p1 = 1/(1+e) = 0.2689414214,
// p0 = 1 - p1, Y = p0 v0 + p1 v1 = v0 + 2 p1 [1,1] = [1.5378828427, 2.5378828427].
// With q = [0,1] the scores are [0, 1]: Y = v1 - 2 p1 [1,1] = [2.4621171573, 3.4621171573].

const double kP1 = 0.2689414213699951;
const HostTensor kK = f32({1, 1, 2, 2}, {1, 0, 0, 1});
const HostTensor kV = f32({1, 1, 2, 2}, {1, 2, 3, 4});
const Attrs kScale1{{"scale", 1.0}};

TEST_CASE("Attention: tiny hand-checked case, default scale") {
  check_tensor(run1(OpKind::kAttention, {f32({1, 1, 1, 2}, {1, 0}), kK, kV}, kScale1),
               DataType::kF32, {1, 1, 1, 2}, {1 + 2 * kP1, 2 + 2 * kP1}, 1e-6);
  // Default scale 1/sqrt(2): scores [0.7071, 0]; p0 = e^0.7071 / (e^0.7071 + 1) = 0.6697615493,
  // Y = p0 [1,2] + (1 - p0) [3,4] = [1.6604769013, 2.6604769013].
  check_tensor(run1(OpKind::kAttention, {f32({1, 1, 1, 2}, {1, 0}), kK, kV}), DataType::kF32,
               {1, 1, 1, 2}, {1.6604769013466862, 2.6604769013466862}, 1e-6);
  // f16 inputs: the same values rounded once to f16.
  check_tensor(run1(OpKind::kAttention,
                    {f16({1, 1, 1, 2}, {1, 0}), f16({1, 1, 2, 2}, {1, 0, 0, 1}),
                     f16({1, 1, 2, 2}, {1, 2, 3, 4})},
                    kScale1),
               DataType::kF16, {1, 1, 1, 2}, {1 + 2 * kP1, 2 + 2 * kP1}, 1e-3);
  // Value head size may differ from the query/key head size: V (1,1,2,1).
  check_tensor(
      run1(OpKind::kAttention, {f32({1, 1, 1, 2}, {1, 0}), kK, f32({1, 1, 2, 1}, {0, 1})}, kScale1),
      DataType::kF32, {1, 1, 1, 1}, {kP1}, 1e-6);
}

TEST_CASE("Attention: causal mask, alone and after past keys") {
  // Two queries [1,0]: row 0 sees only k0 -> v0; row 1 sees both -> the tiny case.
  check_tensor(run1(OpKind::kAttention, {f32({1, 1, 2, 2}, {1, 0, 1, 0}), kK, kV},
                    {{"scale", 1.0}, {"is_causal", int64_t{1}}}),
               DataType::kF32, {1, 1, 2, 2}, {1, 2, 1 + 2 * kP1, 2 + 2 * kP1}, 1e-6);
  // past_key [[0,0]], past_value [[10,20]], new k = [1,0], v = [1,2], q = [1,0], causal: the one
  // query (position 1 of 2) sees both keys. Scores [0, 1]: Y = p1 [10,20] + (1-p1) [1,2].
  const auto outs =
      run_op(OpKind::kAttention,
             {f32({1, 1, 1, 2}, {1, 0}), f32({1, 1, 1, 2}, {1, 0}), f32({1, 1, 1, 2}, {1, 2}),
              HostTensor{}, f32({1, 1, 1, 2}, {0, 0}), f32({1, 1, 1, 2}, {10, 20})},
             {{"scale", 1.0}, {"is_causal", int64_t{1}}}, 3);
  check_tensor(outs[0], DataType::kF32, {1, 1, 1, 2}, {3.420472792329956, 6.840945584659912}, 1e-6);
  check_tensor(outs[1], DataType::kF32, {1, 1, 2, 2}, {0, 0, 1, 0});
  check_tensor(outs[2], DataType::kF32, {1, 1, 2, 2}, {10, 20, 1, 2});
  // Without past, present_key/value equal K and V.
  const auto pres = run_outputs(OpKind::kAttention, {f32({1, 1, 1, 2}, {1, 0}), kK, kV}, kScale1,
                                {true, false, true});
  CHECK_FALSE(pres[1].valid());
  check_tensor(pres[2], DataType::kF32, {1, 1, 2, 2}, {1, 2, 3, 4});
}

TEST_CASE("Attention: bool and float masks with broadcasting") {
  const HostTensor q = f32({1, 1, 1, 2}, {1, 0});
  // Bool: false masks out. Only k1 -> v1.
  check_tensor(run1(OpKind::kAttention, {q, kK, kV, boolean({1, 2}, {0, 1})}, kScale1),
               DataType::kF32, {1, 1, 1, 2}, {3, 4});
  // Float mask is added: scores [1+0, 0+1] are equal -> the mean of v0 and v1.
  check_tensor(run1(OpKind::kAttention, {q, kK, kV, f32({2}, {0, 1})}, kScale1), DataType::kF32,
               {1, 1, 1, 2}, {2, 3});
  check_tensor(run1(OpKind::kAttention, {q, kK, kV, f32({1, 1, 1, 2}, {0, -kInf})}, kScale1),
               DataType::kF32, {1, 1, 1, 2}, {1, 2});
  // A short last dim is padded with masked positions (ONNX reference): mask [true] for 2 keys.
  check_tensor(run1(OpKind::kAttention, {q, kK, kV, boolean({1}, {1})}, kScale1), DataType::kF32,
               {1, 1, 1, 2}, {1, 2});
  // Per-batch mask (2,1,1,2) broadcast over 2 heads: batch 0 keeps k0, batch 1 keeps k1.
  const HostTensor q2 = f32({2, 2, 1, 2}, {1, 0, 1, 0, 1, 0, 1, 0});
  const HostTensor k2 = f32({2, 2, 2, 2}, {1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1});
  const HostTensor v2 = f32({2, 2, 2, 2}, {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4});
  check_tensor(run1(OpKind::kAttention, {q2, k2, v2, boolean({2, 1, 1, 2}, {1, 0, 0, 1})}, kScale1),
               DataType::kF32, {2, 2, 1, 2}, {1, 2, 1, 2, 3, 4, 3, 4});
  // Causal and a mask combine: row 0 loses k1 (causal) and k0 (mask) -> fully masked -> NaN.
  check_tensor(
      run1(OpKind::kAttention, {f32({1, 1, 2, 2}, {1, 0, 1, 0}), kK, kV, boolean({2}, {0, 1})},
           {{"scale", 1.0}, {"is_causal", int64_t{1}}}),
      DataType::kF32, {1, 1, 2, 2}, {kNaN, kNaN, 3, 4});
}

TEST_CASE("Attention: GQA maps query head h to KV head h / (Hq / Hkv)") {
  // One KV head, two query heads q = [1,0] and [0,1].
  check_tensor(run1(OpKind::kAttention, {f32({1, 2, 1, 2}, {1, 0, 0, 1}), kK, kV}, kScale1),
               DataType::kF32, {1, 2, 1, 2}, {1 + 2 * kP1, 2 + 2 * kP1, 3 - 2 * kP1, 4 - 2 * kP1},
               1e-6);
  // Four query heads, two KV heads (values v and v + 4): heads 0,1 read KV 0, heads 2,3 read KV 1
  // (interleaved repeat, not tiling).
  const HostTensor k = f32({1, 2, 2, 2}, {1, 0, 0, 1, 1, 0, 0, 1});
  const HostTensor v = f32({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  const double a = 2 * kP1;
  check_tensor(
      run1(OpKind::kAttention, {f32({1, 4, 1, 2}, {1, 0, 1, 0, 1, 0, 1, 0}), k, v}, kScale1),
      DataType::kF32, {1, 4, 1, 2}, {1 + a, 2 + a, 1 + a, 2 + a, 5 + a, 6 + a, 5 + a, 6 + a}, 1e-6);
}

TEST_CASE("Attention: 3-D inputs with q_num_heads/kv_num_heads") {
  // Q (1,1,4) = two heads [1,0] and [0,1]; K, V (1,2,2) with one KV head: same as the GQA case,
  // output packed back to (1,1,2*2).
  const Attrs attrs{{"scale", 1.0}, {"q_num_heads", int64_t{2}}, {"kv_num_heads", int64_t{1}}};
  check_tensor(run1(OpKind::kAttention,
                    {f32({1, 1, 4}, {1, 0, 0, 1}), f32({1, 2, 2}, {1, 0, 0, 1}),
                     f32({1, 2, 2}, {1, 2, 3, 4})},
                    attrs),
               DataType::kF32, {1, 1, 4}, {1 + 2 * kP1, 2 + 2 * kP1, 3 - 2 * kP1, 4 - 2 * kP1},
               1e-6);
  // 3-D with past: present_key stays 4-D (B, Hkv, T, D).
  const auto outs =
      run_op(OpKind::kAttention,
             {f32({1, 1, 2}, {1, 0}), f32({1, 1, 2}, {1, 0}), f32({1, 1, 2}, {1, 2}), HostTensor{},
              f32({1, 1, 1, 2}, {0, 0}), f32({1, 1, 1, 2}, {10, 20})},
             {{"scale", 1.0}, {"q_num_heads", int64_t{1}}, {"kv_num_heads", int64_t{1}}}, 2);
  check_tensor(outs[0], DataType::kF32, {1, 1, 2}, {3.420472792329956, 6.840945584659912}, 1e-6);
  check_tensor(outs[1], DataType::kF32, {1, 1, 2, 2}, {0, 0, 1, 0});
}

TEST_CASE("Attention: softcap and qk_matmul_output") {
  // softcap 2: scores [2 tanh(0.5), 0] = [0.9242343145, 0]; p1 = 1/(1+e^0.9242) = 0.2840959097.
  const HostTensor q = f32({1, 1, 1, 2}, {1, 0});
  const double p1 = 0.2840959097024519;
  check_tensor(run1(OpKind::kAttention, {q, kK, kV}, {{"scale", 1.0}, {"softcap", 2.0}}),
               DataType::kF32, {1, 1, 1, 2}, {1 + 2 * p1, 2 + 2 * p1}, 1e-6);
  // Softcap is applied before the mask, so masked positions stay at probability 0.
  check_tensor(run1(OpKind::kAttention, {q, kK, kV, boolean({2}, {1, 0})},
                    {{"scale", 1.0}, {"softcap", 2.0}}),
               DataType::kF32, {1, 1, 1, 2}, {1, 2});
  // Mode 0: the scaled Q K^T (scale 2: [2, 0]); mode 2: plus the mask; mode 3: the softmax.
  auto outs = run_op(OpKind::kAttention, {q, kK, kV, f32({2}, {0, 5})}, {{"scale", 2.0}}, 4);
  check_tensor(outs[3], DataType::kF32, {1, 1, 1, 2}, {2, 0});
  outs = run_op(OpKind::kAttention, {q, kK, kV, f32({2}, {0, 5})},
                {{"scale", 2.0}, {"qk_matmul_output_mode", int64_t{2}}}, 4);
  check_tensor(outs[3], DataType::kF32, {1, 1, 1, 2}, {2, 5});
  outs = run_op(OpKind::kAttention, {q, kK, kV},
                {{"scale", 1.0}, {"qk_matmul_output_mode", int64_t{3}}}, 4);
  check_tensor(outs[3], DataType::kF32, {1, 1, 1, 2}, {1 - kP1, kP1}, 1e-6);
  // Mode 1: after the softcap, before the mask: [2 tanh(1 / 2), 0] whatever the mask adds.
  outs = run_op(OpKind::kAttention, {q, kK, kV, f32({2}, {0, 5})},
                {{"scale", 1.0}, {"softcap", 2.0}, {"qk_matmul_output_mode", int64_t{1}}}, 4);
  check_tensor(outs[3], DataType::kF32, {1, 1, 1, 2}, {0.9242343145200195, 0}, 1e-6);
  // softmax_precision is accepted (double is at least that precise).
  check_tensor(
      run1(OpKind::kAttention, {q, kK, kV}, {{"scale", 1.0}, {"softmax_precision", int64_t{1}}}),
      DataType::kF32, {1, 1, 1, 2}, {1 + 2 * kP1, 2 + 2 * kP1}, 1e-6);
}

TEST_CASE("Attention: empty sequences") {
  // No keys: every row is fully masked -> softmax of nothing; Y is an empty sum (0), as P V with
  // T=0.
  check_tensor(run1(OpKind::kAttention, {f32({1, 1, 0, 2}, {}), kK, kV}), DataType::kF32,
               {1, 1, 0, 2}, {});
  check_tensor(run1(OpKind::kAttention,
                    {f32({1, 1, 1, 2}, {1, 0}), f32({1, 1, 0, 2}, {}), f32({1, 1, 0, 2}, {})}),
               DataType::kF32, {1, 1, 1, 2}, {0, 0});
}

TEST_CASE("Attention inference with dynamic dims") {
  const TensorInfo q{DataType::kF16, {kDyn, 4, kDyn, 8}, true};
  const TensorInfo k{DataType::kF16, {kDyn, 2, kDyn, 8}, true};
  const TensorInfo v{DataType::kF16, {kDyn, 2, kDyn, 16}, true};
  const TensorInfo absent{DataType::kF32, {}, false};
  const TensorInfo pk{DataType::kF16, {kDyn, 2, 5, 8}, true};
  const TensorInfo pv{DataType::kF16, {kDyn, 2, 5, 16}, true};
  ir::Node node;
  node.op = OpKind::kAttention;
  node.name = "attn";
  node.inputs = {0, 1, 2, ir::kNoValue, 4, 5};
  node.outputs = {10, 11, 12, 13};
  const std::vector<TensorInfo> infos{q, k, v, absent, pk, pv};
  const std::vector<const HostTensor*> consts(6, nullptr);
  const auto out = ir::infer(node, infos, consts);
  CHECK(out[0].shape == std::vector<int64_t>{kDyn, 4, kDyn, 16});
  CHECK(out[1].shape == std::vector<int64_t>{kDyn, 2, kDyn, 8});
  CHECK(out[2].shape == std::vector<int64_t>{kDyn, 2, kDyn, 16});
  CHECK(out[3].shape == std::vector<int64_t>{kDyn, 4, kDyn, kDyn});
  CHECK(out[3].dtype == DataType::kF16);
  // 3-D: hidden 16 over 4 heads -> head size 4; V hidden 10 over 2 KV heads -> 5; Y (B, S, 4*5).
  const auto o3 = infer_op(
      OpKind::kAttention,
      {TensorInfo{DataType::kF32, {2, kDyn, 16}, true}, TensorInfo{DataType::kF32, {2, 7, 8}, true},
       TensorInfo{DataType::kF32, {2, 7, 10}, true}},
      {{"q_num_heads", int64_t{4}}, {"kv_num_heads", int64_t{2}}});
  CHECK(o3[0].shape == std::vector<int64_t>{2, kDyn, 20});
}

TEST_CASE("Attention errors") {
  const HostTensor q = f32({1, 1, 1, 2}, {1, 0});
  check_error(
      [&] {
        run1(OpKind::kAttention, {q, f32({1, 2, 2}, {1, 0, 0, 1}), kV});
      },
      "rtx.ir.410", "3-D or all 4-D");
  check_error(
      [&] {
        run1(OpKind::kAttention,
             {f32({1, 1, 2}, {1, 0}), f32({1, 2, 2}, {1, 0, 0, 1}), f32({1, 2, 2}, {1, 0, 0, 1})});
      },
      "rtx.ir.411", "q_num_heads");
  check_error(
      [&] {
        run1(
            OpKind::kAttention,
            {f32({1, 1, 3}, {1, 0, 0}), f32({1, 2, 2}, {1, 0, 0, 1}), f32({1, 2, 2}, {1, 0, 0, 1})},
            {{"q_num_heads", int64_t{2}}, {"kv_num_heads", int64_t{1}}});
      },
      "rtx.ir.412", "divisible");
  check_error(
      [&] {
        run1(OpKind::kAttention,
             {f32({1, 3, 1, 2}, {1, 0, 1, 0, 1, 0}), f32({1, 2, 2, 2}, {1, 0, 0, 1, 1, 0, 0, 1}),
              f32({1, 2, 2, 2}, {1, 0, 0, 1, 1, 0, 0, 1})});
      },
      "rtx.ir.413", "multiple");
  check_error(
      [&] {
        run1(OpKind::kAttention, {f32({1, 1, 1, 3}, {1, 0, 0}), kK, kV});
      },
      "rtx.ir.414", "head size");
  check_error(
      [&] {
        run1(OpKind::kAttention, {q, kK, f32({1, 1, 3, 2}, {1, 2, 3, 4, 5, 6})});
      },
      "rtx.ir.415");
  check_error(
      [&] {
        run1(OpKind::kAttention, {q, kK, kV, f32({3}, {0, 0, 0})});
      },
      "rtx.ir.416", "attn_mask");
  check_error(
      [&] {
        run1(OpKind::kAttention, {q, kK, kV, f32({3, 1, 2}, {0, 0, 0, 0, 0, 0})});
      },
      "rtx.ir.416");
  check_error(
      [&] {
        run1(OpKind::kAttention, {q, kK, kV, HostTensor{}, f32({1, 1, 1, 2}, {0, 0})});
      },
      "rtx.ir.417", "together");
  check_error(
      [&] {
        run1(OpKind::kAttention,
             {q, kK, kV, HostTensor{}, f32({1, 1, 1, 3}, {0, 0, 0}), f32({1, 1, 1, 2}, {0, 0})});
      },
      "rtx.ir.417", "past_key");
  check_error(
      [&] {
        run_op(OpKind::kAttention, {q, kK, kV}, {{"softcap", 1.0}}, 4);
      },
      "rtx.ir.418", "softcap");
  check_error(
      [&] {
        run1(OpKind::kAttention, {q, kK, kV}, {{"qk_matmul_output_mode", int64_t{4}}});
      },
      "rtx.ir.418");
  check_error([&] { run1(OpKind::kAttention, {q, kK, kV}, {{"softcap", -1.0}}); }, "rtx.ir.419");
  check_error(
      [&] {
        run1(OpKind::kAttention, {q, kK, kV}, {{"softmax_precision", int64_t{6}}});
      },
      "rtx.ir.420");
  check_error(
      [&] {
        run1(OpKind::kAttention, {q, kK, kV, i32({2}, {0, 1})});
      },
      "rtx.ir.421", "bool");
  check_error(
      [&] {
        run1(OpKind::kAttention, {q, kK, kV, f16({2}, {0, 1})});
      },
      "rtx.ir.421", "f32");
  check_error(
      [&] {
        run1(OpKind::kAttention, {q, kK, kV}, {{"q_num_heads", int64_t{2}}});
      },
      "rtx.ir.422");
  check_error(
      [&] {
        run1(OpKind::kAttention, {q, kK, kV}, {{"is_causal", int64_t{2}}});
      },
      "rtx.ir.423");
  check_error(
      [&] {
        run1(OpKind::kAttention, {i32({1, 1, 1, 2}, {1, 0}), kK, kV});
      },
      "rtx.ir.401", "'Q'");
  check_error([&] { run1(OpKind::kAttention, {f16({1, 1, 1, 2}, {1, 0}), kK, kV}); }, "rtx.ir.402");
}

TEST_CASE("every op of the family is registered") {
  for (OpKind k : {OpKind::kMatMul, OpKind::kGemm, OpKind::kAttention})
    CHECK_MESSAGE(ir::has_schema(k), ir::op_name(k));
}

}  // namespace
}  // namespace rtx::test
