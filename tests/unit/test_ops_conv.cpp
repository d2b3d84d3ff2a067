// SPDX-License-Identifier: Apache-2.0
// Tests of the conv family (Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool,
// Resize): shape/dtype inference with static and dynamic dims, reference results against values
// worked out by hand in the comments (or, for irregular shapes, against a naive direct loop
// written here), dtype coverage and one error case per check.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "op_test_util.hpp"

namespace {

using namespace rtx::test;  // f32(), i64(), tensor() (not rtx's dtype tags of the same names)
using rtx::DataType;
using rtx::HostTensor;
namespace ir = rtx::ir;
using ir::OpKind;
using ir::TensorInfo;
using Ints = std::vector<int64_t>;

constexpr int64_t kDyn = ir::kDynamic;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> iota(int64_t n, double start = 0) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = start + static_cast<double>(i);
  return v;
}

TensorInfo info(DataType t, Ints shape) {
  return TensorInfo{t, std::move(shape), true};
}

HostTensor run1(OpKind op, std::vector<HostTensor> inputs, Attrs attrs = {}) {
  return run_op(op, std::move(inputs), std::move(attrs)).at(0);
}

// Deterministic, irregular values in [-1, 1) (no two neighbours alike), for the oracle tests.
std::vector<double> wiggle(int64_t n, int seed) {
  std::vector<double> v(static_cast<size_t>(n));
  uint32_t s = 2654435761u * static_cast<uint32_t>(seed + 1);
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<double>(s >> 8) / static_cast<double>(1u << 24) * 2.0 - 1.0;
  }
  return v;
}

// ---- Conv ------------------------------------------------------------------------------------

TEST_CASE("Conv 2-D: no padding, bias, padding, strides, dilations") {
  const auto x = f32({1, 1, 3, 3}, iota(9));  // [[0,1,2],[3,4,5],[6,7,8]]
  // W = [[1,2],[3,4]]: y00 = 0*1+1*2+3*3+4*4 = 27, y01 = 1+4+12+20 = 37, y10 = 57, y11 = 67.
  const auto w = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  check_tensor(run1(OpKind::kConv, {x, w}), DataType::kF32, {1, 1, 2, 2}, {27, 37, 57, 67});
  check_tensor(run1(OpKind::kConv, {x, w, f32({1}, {10})}), DataType::kF32, {1, 1, 2, 2},
               {37, 47, 67, 77});

  // 3x3 ones with pads 1: each output is the sum of the 3x3 neighbourhood inside the image.
  const auto ones = f32({1, 1, 3, 3}, std::vector<double>(9, 1.0));
  check_tensor(run1(OpKind::kConv, {x, ones}, {{"pads", Ints{1, 1, 1, 1}}}), DataType::kF32,
               {1, 1, 3, 3}, {8, 15, 12, 21, 36, 27, 20, 33, 24});

  // 5x5 (0..24), ones 3x3, pads 1, strides 2: out = floor((5+2-3)/2)+1 = 3.
  // y00 = 0+1+5+6 = 12, y01 = 1+2+3+6+7+8 = 27, y11 = 6+7+8+11+12+13+16+17+18 = 108.
  check_tensor(run1(OpKind::kConv, {f32({1, 1, 5, 5}, iota(25)), ones},
                    {{"pads", Ints{1, 1, 1, 1}}, {"strides", Ints{2, 2}}}),
               DataType::kF32, {1, 1, 3, 3}, {12, 27, 24, 63, 108, 81, 72, 117, 84});

  // Asymmetric pads (top 1, left 0, bottom 0, right 1) with the 2x2 W: out (3, 3).
  // Row 0 sees only image row 0 through W's second row [3,4]: 0*3+1*4 = 4, 1*3+2*4 = 11, 2*3 = 6.
  // Column 2 sees only image column 2 through W's first column [1,3]: 2+5*3 = 17, 5+8*3 = 29.
  check_tensor(run1(OpKind::kConv, {x, w}, {{"pads", Ints{1, 0, 0, 1}}}), DataType::kF32,
               {1, 1, 3, 3}, {4, 11, 6, 27, 37, 17, 57, 67, 29});

  // Dilation 2: a 2x2 ones kernel spans 3x3 and sums the four corners of each 3x3 window of a
  // 4x4 (0..15) image: y00 = 0+2+8+10 = 20, y01 = 24, y10 = 36, y11 = 40.
  check_tensor(run1(OpKind::kConv, {f32({1, 1, 4, 4}, iota(16)), f32({1, 1, 2, 2}, {1, 1, 1, 1})},
                    {{"dilations", Ints{2, 2}}}),
               DataType::kF32, {1, 1, 2, 2}, {20, 24, 36, 40});

  // kernel_shape given explicitly (matching W) changes nothing.
  check_tensor(run1(OpKind::kConv, {x, w}, {{"kernel_shape", Ints{2, 2}}}), DataType::kF32,
               {1, 1, 2, 2}, {27, 37, 57, 67});
}

TEST_CASE("Conv batches and output channels") {
  // N=2 (second image = first + 1), M=2 (W0 = ones, W1 = [[1,0],[0,-1]]).
  std::vector<double> xs = iota(9);
  for (double v : iota(9, 1)) xs.push_back(v);
  const auto x = f32({2, 1, 3, 3}, xs);
  const auto w = f32({2, 1, 2, 2}, {1, 1, 1, 1, 1, 0, 0, -1});
  // image 0: sums 8,12,20,24; diagonal differences x[i][j]-x[i+1][j+1] = -4 everywhere.
  // image 1: every value +1 -> sums +4, differences unchanged.
  check_tensor(run1(OpKind::kConv, {x, w}), DataType::kF32, {2, 2, 2, 2},
               {8, 12, 20, 24, -4, -4, -4, -4, 12, 16, 24, 28, -4, -4, -4, -4});
}

TEST_CASE("Conv groups and depthwise") {
  // group 2, one in and one out channel per group: y0 = 2*x0, y1 = 3*x1.
  const auto x = f32({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  check_tensor(run1(OpKind::kConv, {x, f32({2, 1, 1, 1}, {2, 3})}, {{"group", int64_t{2}}}),
               DataType::kF32, {1, 2, 2, 2}, {2, 4, 6, 8, 15, 18, 21, 24});
  // group 2 with two out channels per group: channels 0,1 read x0; channels 2,3 read x1.
  check_tensor(run1(OpKind::kConv, {x, f32({4, 1, 1, 1}, {1, 2, 3, 4})}, {{"group", int64_t{2}}}),
               DataType::kF32, {1, 4, 2, 2},
               {1, 2, 3, 4, 2, 4, 6, 8, 15, 18, 21, 24, 20, 24, 28, 32});
  // group 2 with two in channels per group: y0 = x0 + x1, y1 = x2 - x3.
  check_tensor(
      run1(OpKind::kConv, {f32({1, 4, 1, 1}, {1, 2, 3, 4}), f32({2, 2, 1, 1}, {1, 1, 1, -1})},
           {{"group", int64_t{2}}}),
      DataType::kF32, {1, 2, 1, 1}, {3, -1});
  // Depthwise (group == C == 2), 2x2 kernels on 3x3 planes: channel 0 (0..8) with ones gives
  // 8,12,20,24; channel 1 (all ones) with [1,2,3,4] gives 10 everywhere.
  std::vector<double> xs = iota(9);
  xs.insert(xs.end(), 9, 1.0);
  check_tensor(
      run1(OpKind::kConv, {f32({1, 2, 3, 3}, xs), f32({2, 1, 2, 2}, {1, 1, 1, 1, 1, 2, 3, 4})},
           {{"group", int64_t{2}}}),
      DataType::kF32, {1, 2, 2, 2}, {8, 12, 20, 24, 10, 10, 10, 10});
}

TEST_CASE("Conv 1-D and 3-D") {
  // y[i] = x[i-1] - x[i+1] with zero padding: [0-2, 1-3, 2-4, 3-5, 4-0].
  const auto x = f32({1, 1, 5}, {1, 2, 3, 4, 5});
  const auto w = f32({1, 1, 3}, {1, 0, -1});
  check_tensor(run1(OpKind::kConv, {x, w}, {{"pads", Ints{1, 1}}}), DataType::kF32, {1, 1, 5},
               {-2, -2, -2, -2, 4});
  check_tensor(run1(OpKind::kConv, {x, w}, {{"pads", Ints{1, 1}}, {"strides", Ints{2}}}),
               DataType::kF32, {1, 1, 3}, {-2, -2, 4});

  // 3-D: 2x2x2 (1..8) with a 2x2x2 ones kernel is the total 36; with pads 1 the output is 3x3x3
  // and each output sums the input voxels its window overlaps: corner (0,0,0) sees x000 = 1,
  // (0,0,1) sees x000 + x001 = 3, the centre sees all 36, (2,2,2) sees x111 = 8.
  const auto x3 = f32({1, 1, 2, 2, 2}, iota(8, 1));
  const auto w3 = f32({1, 1, 2, 2, 2}, std::vector<double>(8, 1.0));
  check_tensor(run1(OpKind::kConv, {x3, w3}), DataType::kF32, {1, 1, 1, 1, 1}, {36});
  const auto y = run1(OpKind::kConv, {x3, w3}, {{"pads", Ints{1, 1, 1, 1, 1, 1}}});
  REQUIRE(y.shape() == Ints{1, 1, 3, 3, 3});
  CHECK(y.get_double(0) == 1);
  CHECK(y.get_double(1) == 3);    // x000 + x001
  CHECK(y.get_double(4) == 10);   // (0,1,1): x000+x001+x010+x011 = 1+2+3+4
  CHECK(y.get_double(13) == 36);  // centre
  CHECK(y.get_double(26) == 8);   // (2,2,2)
}

TEST_CASE("Conv auto_pad SAME_UPPER, SAME_LOWER, VALID") {
  // k=2 on 4 values: total pad 1; SAME_UPPER pads the end: [1+2, 2+3, 3+4, 4+0];
  // SAME_LOWER pads the start: [0+1, 1+2, 2+3, 3+4].
  const auto x = f32({1, 1, 4}, {1, 2, 3, 4});
  const auto w = f32({1, 1, 2}, {1, 1});
  check_tensor(run1(OpKind::kConv, {x, w}, {{"auto_pad", std::string("SAME_UPPER")}}),
               DataType::kF32, {1, 1, 4}, {3, 5, 7, 4});
  check_tensor(run1(OpKind::kConv, {x, w}, {{"auto_pad", std::string("SAME_LOWER")}}),
               DataType::kF32, {1, 1, 4}, {1, 3, 5, 7});
  // k=3, stride 2 on 5 values: out = ceil(5/2) = 3, total pad (3-1)*2+3-5 = 2 -> 1 each side:
  // windows [-1..1], [1..3], [3..5] -> 1+2, 2+3+4, 4+5. VALID: floor((5-3)/2)+1 = 2 -> 6, 12.
  const auto x5 = f32({1, 1, 5}, {1, 2, 3, 4, 5});
  const auto w3 = f32({1, 1, 3}, {1, 1, 1});
  check_tensor(run1(OpKind::kConv, {x5, w3},
                    {{"auto_pad", std::string("SAME_UPPER")}, {"strides", Ints{2}}}),
               DataType::kF32, {1, 1, 3}, {3, 9, 9});
  // VALID ignores pads (exporters sometimes write both).
  check_tensor(
      run1(OpKind::kConv, {x5, w3},
           {{"auto_pad", std::string("VALID")}, {"strides", Ints{2}}, {"pads", Ints{1, 1}}}),
      DataType::kF32, {1, 1, 2}, {6, 12});
}

TEST_CASE("Conv f16, bf16 and f64") {
  // y00 = 0*0.5 + 1*0.25 + 3*0.125 + 4*1 = 4.625 (exact in f16).
  const auto x = tensor(DataType::kF16, {1, 1, 3, 3}, iota(9));
  const auto w = tensor(DataType::kF16, {1, 1, 2, 2}, {0.5, 0.25, 0.125, 1});
  // y01 = 0.5 + 0.5 + 0.5 + 5 = 6.5, y10 = 1.5 + 1 + 0.75 + 7 = 10.25, y11 = 2 + 1.25 + 0.875 + 8.
  check_tensor(run1(OpKind::kConv, {x, w}), DataType::kF16, {1, 1, 2, 2},
               {4.625, 6.5, 10.25, 12.125});
  // 3 * (1/3 in f16 = 0.333251953125) = 0.999755859375 = 1 - 2^-12, a tie between the f16
  // neighbours 1 - 2^-11 and 1: round-half-even gives 1.
  const auto third = tensor(DataType::kF16, {1, 1, 3}, {1.0 / 3, 1.0 / 3, 1.0 / 3});
  check_tensor(run1(OpKind::kConv, {third, tensor(DataType::kF16, {1, 1, 3}, {1, 1, 1})}),
               DataType::kF16, {1, 1, 1}, {1.0});
  check_tensor(run1(OpKind::kConv, {tensor(DataType::kBF16, {1, 1, 2}, {1, 2}),
                                    tensor(DataType::kBF16, {1, 1, 1}, {3})}),
               DataType::kBF16, {1, 1, 2}, {3, 6});
  check_tensor(run1(OpKind::kConv, {tensor(DataType::kF64, {1, 1, 2}, {0.1, 0.2}),
                                    tensor(DataType::kF64, {1, 1, 2}, {1, 1})}),
               DataType::kF64, {1, 1, 1}, {0.1 + 0.2});
}

// A naive direct convolution (7 nested loops), independent of the im2col/GEMM code under test.
std::vector<double> naive_conv_2d(const std::vector<double>& x, Ints xs,
                                  const std::vector<double>& w, Ints ws, int64_t group,
                                  Ints strides, Ints dil, Ints pads, Ints& ys) {
  const int64_t n = xs[0], c = xs[1], h = xs[2], wd = xs[3], m = ws[0], kh = ws[2], kw = ws[3];
  const int64_t oh = (h + pads[0] + pads[2] - ((kh - 1) * dil[0] + 1)) / strides[0] + 1;
  const int64_t ow = (wd + pads[1] + pads[3] - ((kw - 1) * dil[1] + 1)) / strides[1] + 1;
  ys = {n, m, oh, ow};
  std::vector<double> y(static_cast<size_t>(n * m * oh * ow), 0.0);
  const int64_t cg = c / group, mg = m / group;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o = 0; o < m; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double s = 0;
          const int64_t g = o / mg;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t bb = 0; bb < kw; ++bb) {
                const int64_t r = i * strides[0] - pads[0] + a * dil[0];
                const int64_t q = j * strides[1] - pads[1] + bb * dil[1];
                if (r < 0 || r >= h || q < 0 || q >= wd) continue;
                s += x[static_cast<size_t>(((b * c + g * cg + ci) * h + r) * wd + q)] *
                     w[static_cast<size_t>(((o * cg + ci) * kh + a) * kw + bb)];
              }
          y[static_cast<size_t>(((b * m + o) * oh + i) * ow + j)] = s;
        }
  return y;
}

TEST_CASE("Conv matches a naive loop on irregular shapes") {
  // N=2, C=6, 7x5 input, M=4, group 2, 3x2 kernel, strides (2,1), dilations (1,2),
  // asymmetric pads (1,0,2,1): every index path of im2col is exercised.
  const Ints xs{2, 6, 7, 5}, ws{4, 3, 3, 2};
  const auto xv = wiggle(2 * 6 * 7 * 5, 1), wv = wiggle(4 * 3 * 3 * 2, 2);
  Ints ys;
  const auto want = naive_conv_2d(xv, xs, wv, ws, 2, {2, 1}, {1, 2}, {1, 0, 2, 1}, ys);
  check_tensor(run1(OpKind::kConv, {f32(xs, xv), f32(ws, wv)},
                    {{"group", int64_t{2}},
                     {"strides", Ints{2, 1}},
                     {"dilations", Ints{1, 2}},
                     {"pads", Ints{1, 0, 2, 1}}}),
               DataType::kF32, ys, want, 1e-6, 1e-6);
}

TEST_CASE("Conv at ResNet size (1x64x56x56, 3x3, 64->64)") {
  // All ones with pads 1: interior outputs sum 64*9 = 576, edges 64*6 = 384, corners 64*4 = 256.
  const auto x = f32({1, 64, 56, 56}, std::vector<double>(64 * 56 * 56, 1.0));
  const auto w = f32({64, 64, 3, 3}, std::vector<double>(64 * 64 * 9, 1.0));
  const auto y = run1(OpKind::kConv, {x, w}, {{"pads", Ints{1, 1, 1, 1}}});
  REQUIRE(y.shape() == Ints{1, 64, 56, 56});
  CHECK(y.get_double(0) == 256);                    // channel 0, corner
  CHECK(y.get_double(1) == 384);                    // top edge
  CHECK(y.get_double(57) == 576);                   // (1, 1)
  CHECK(y.get_double(63 * 3136 + 3135) == 256);     // last channel, bottom-right corner
  CHECK(y.get_double(40 * 3136 + 30 * 56) == 384);  // left edge
}

TEST_CASE("Conv inference with dynamic dims") {
  // (?, 3, ?, 32) with an 8x3x3x3 kernel, pads 1, strides 2: (?, 8, ?, 16).
  auto out =
      infer_op(OpKind::kConv,
               {info(DataType::kF32, {kDyn, 3, kDyn, 32}), info(DataType::kF32, {8, 3, 3, 3})},
               {{"pads", Ints{1, 1, 1, 1}}, {"strides", Ints{2, 2}}});
  REQUIRE(out.size() == 1);
  CHECK(out[0].dtype == DataType::kF32);
  CHECK(out[0].shape == Ints{kDyn, 8, kDyn, 16});
  // Dynamic channels skip the channel checks; SAME keeps ceil(in/stride).
  out = infer_op(OpKind::kConv,
                 {info(DataType::kF16, {1, kDyn, 15}), info(DataType::kF16, {4, 2, 3})},
                 {{"auto_pad", std::string("SAME_LOWER")}, {"strides", Ints{4}}});
  CHECK(out[0].shape == Ints{1, 4, 4});
  // A dynamic kernel dim (and no kernel_shape) makes that output dim dynamic.
  out = infer_op(OpKind::kConv,
                 {info(DataType::kF32, {1, 2, 9, 9}), info(DataType::kF32, {4, 2, kDyn, 3})});
  CHECK(out[0].shape == Ints{1, 4, kDyn, 7});
}

TEST_CASE("Conv errors") {
  const auto x = info(DataType::kF32, {1, 3, 8, 8});
  auto conv = [](std::vector<TensorInfo> in, Attrs a = {}) {
    return infer_op(OpKind::kConv, std::move(in), std::move(a));
  };
  // channel mismatch: X has 3 channels, W expects 2 per group
  check_error([&] { conv({x, info(DataType::kF32, {4, 2, 3, 3})}); }, "rtx.ir.507", "3 channels");
  // group must divide C, and M
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 1, 3, 3})}, {{"group", int64_t{2}}});
      },
      "rtx.ir.506", "group=2");
  check_error(
      [&] {
        conv({info(DataType::kF32, {1, 4, 8, 8}), info(DataType::kF32, {3, 2, 3, 3})},
             {{"group", int64_t{2}}});
      },
      "rtx.ir.506", "output channels");
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3})}, {{"group", int64_t{0}}});
      },
      "rtx.ir.506");
  // bad kernel rank: W must have the rank of X
  check_error([&] { conv({x, info(DataType::kF32, {4, 3, 3})}); }, "rtx.ir.508", "rank of X");
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3})}, {{"kernel_shape", Ints{5, 5}}});
      },
      "rtx.ir.508");
  check_error([&] { conv({x, info(DataType::kF32, {4, 3, 0, 3})}); }, "rtx.ir.508", "empty kernel");
  // X rank, dtypes
  check_error(
      [&] {
        conv({info(DataType::kF32, {3, 8}), info(DataType::kF32, {4, 3})});
      },
      "rtx.ir.502");
  check_error(
      [&] {
        conv({info(DataType::kINT32, {1, 3, 8, 8}), info(DataType::kINT32, {4, 3, 3, 3})});
      },
      "rtx.ir.500", "i32");
  check_error([&] { conv({x, info(DataType::kF16, {4, 3, 3, 3})}); }, "rtx.ir.501");
  // bias
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3}), info(DataType::kF32, {5})});
      },
      "rtx.ir.509");
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3}), info(DataType::kF16, {4})});
      },
      "rtx.ir.501");
  // attributes
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3})}, {{"strides", Ints{1}}});
      },
      "rtx.ir.503", "strides");
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3})}, {{"pads", Ints{1, 1}}});
      },
      "rtx.ir.503", "pads");
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3})}, {{"kernel_shape", Ints{3}}});
      },
      "rtx.ir.503");
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3})}, {{"pads", Ints{-1, 0, 0, 0}}});
      },
      "rtx.ir.504");
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3})}, {{"strides", Ints{0, 1}}});
      },
      "rtx.ir.504");
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3})}, {{"dilations", Ints{1, 0}}});
      },
      "rtx.ir.504");
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3})}, {{"auto_pad", std::string("SAME")}});
      },
      "rtx.ir.505");
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 3, 3})}, {{"strides", 2.0}});
      },
      "rtx.ir.140");
  // kernel larger than the padded input
  check_error(
      [&] {
        conv({x, info(DataType::kF32, {4, 3, 9, 3})});
      },
      "rtx.ir.510", "larger than the padded input");
  // arity
  check_error([&] { conv({x}); }, "rtx.ir.122");
}

// ---- ConvTranspose ---------------------------------------------------------------------------

TEST_CASE("ConvTranspose 2-D basic and 1-D strides, output_padding, pads, bias") {
  // [[1,2],[3,4]] scattered through a 2x2 ones kernel: out(i,j) = sum x(a,b) over the taps that
  // reach (i,j): [[1,3,2],[4,10,6],[3,7,4]].
  check_tensor(run1(OpKind::kConvTranspose,
                    {f32({1, 1, 2, 2}, {1, 2, 3, 4}), f32({1, 1, 2, 2}, {1, 1, 1, 1})}),
               DataType::kF32, {1, 1, 3, 3}, {1, 3, 2, 4, 10, 6, 3, 7, 4});
  // 1-D [1,2] with kernel [1,1,1], stride 2: out = 2*(2-1)+3 = 5; 1 lands on 0..2, 2 on 2..4.
  const auto x = f32({1, 1, 2}, {1, 2});
  const auto w = f32({1, 1, 3}, {1, 1, 1});
  check_tensor(run1(OpKind::kConvTranspose, {x, w}, {{"strides", Ints{2}}}), DataType::kF32,
               {1, 1, 5}, {1, 1, 3, 2, 2});
  // output_padding 1 adds one position at the end; the bias reaches it too.
  check_tensor(run1(OpKind::kConvTranspose, {x, w, f32({1}, {1})},
                    {{"strides", Ints{2}}, {"output_padding", Ints{1}}}),
               DataType::kF32, {1, 1, 6}, {2, 2, 4, 3, 3, 1});
  // pads crop the full output: [1,1,3,2,2] -> [1,3,2].
  check_tensor(run1(OpKind::kConvTranspose, {x, w}, {{"strides", Ints{2}}, {"pads", Ints{1, 1}}}),
               DataType::kF32, {1, 1, 3}, {1, 3, 2});
  // dilation 2 with kernel [1,1]: taps 0 and 2 -> 1 lands on 0,2 and 2 on 1,3: [1,2,1,2].
  check_tensor(run1(OpKind::kConvTranspose, {x, f32({1, 1, 2}, {1, 1})}, {{"dilations", Ints{2}}}),
               DataType::kF32, {1, 1, 4}, {1, 2, 1, 2});
  // a single pixel times a 1x2x2x2 kernel is the scaled kernel: 2 * W.
  check_tensor(
      run1(OpKind::kConvTranspose, {f32({1, 1, 1, 1}, {2}), f32({1, 2, 2, 2}, iota(8, 1))}),
      DataType::kF32, {1, 2, 2, 2}, {2, 4, 6, 8, 10, 12, 14, 16});
}

TEST_CASE("ConvTranspose output_shape and auto_pad") {
  const auto x = f32({1, 1, 2}, {1, 2});
  const auto w = f32({1, 1, 3}, {1, 1, 1});
  const Attrs s2{{"strides", Ints{2}}};
  auto with = [&](Attrs extra) {
    Attrs a = s2;
    for (auto& [k, v] : extra) a[k] = v;
    return run1(OpKind::kConvTranspose, {x, w}, a);
  };
  // full output [1,1,3,2,2] (5). total_padding = 5 - output_shape.
  // output_shape 6: total -1 -> begin = -1 - floor(-1/2) = 0, end = -1: one extra zero at the end.
  check_tensor(with({{"output_shape", Ints{6}}}), DataType::kF32, {1, 1, 6}, {1, 1, 3, 2, 2, 0});
  // output_shape 4: total 1 -> NOTSET puts the odd unit at the beginning: [1,3,2,2].
  check_tensor(with({{"output_shape", Ints{4}}}), DataType::kF32, {1, 1, 4}, {1, 3, 2, 2});
  // ... and SAME_UPPER at the end: [1,1,3,2].
  check_tensor(with({{"output_shape", Ints{4}}, {"auto_pad", std::string("SAME_UPPER")}}),
               DataType::kF32, {1, 1, 4}, {1, 1, 3, 2});
  // output_shape may also be written with N and C; pads are then ignored.
  check_tensor(with({{"output_shape", Ints{1, 1, 4}}, {"pads", Ints{2, 2}}}), DataType::kF32,
               {1, 1, 4}, {1, 3, 2, 2});
  // auto_pad SAME: out = in * stride = 4, total 1: SAME_UPPER crops the end, SAME_LOWER the start.
  check_tensor(with({{"auto_pad", std::string("SAME_UPPER")}}), DataType::kF32, {1, 1, 4},
               {1, 1, 3, 2});
  check_tensor(with({{"auto_pad", std::string("SAME_LOWER")}}), DataType::kF32, {1, 1, 4},
               {1, 3, 2, 2});
  check_tensor(with({{"auto_pad", std::string("VALID")}}), DataType::kF32, {1, 1, 5},
               {1, 1, 3, 2, 2});
}

TEST_CASE("ConvTranspose groups, channels and f16") {
  // W is (C, M/group, k...). group 1, C=2, M=1: 1*3 + 2*5 = 13.
  const auto x = f32({1, 2, 1, 1}, {1, 2});
  check_tensor(run1(OpKind::kConvTranspose, {x, f32({2, 1, 1, 1}, {3, 5})}), DataType::kF32,
               {1, 1, 1, 1}, {13});
  // group 2, one out channel per group: [1*3, 2*5].
  check_tensor(
      run1(OpKind::kConvTranspose, {x, f32({2, 1, 1, 1}, {3, 5})}, {{"group", int64_t{2}}}),
      DataType::kF32, {1, 2, 1, 1}, {3, 10});
  // group 2, two out channels per group: M = 4: [1*1, 1*2, 2*3, 2*4].
  check_tensor(
      run1(OpKind::kConvTranspose, {x, f32({2, 2, 1, 1}, {1, 2, 3, 4})}, {{"group", int64_t{2}}}),
      DataType::kF32, {1, 4, 1, 1}, {1, 2, 6, 8});
  check_tensor(run1(OpKind::kConvTranspose, {tensor(DataType::kF16, {1, 1, 2}, {0.5, 1.5}),
                                             tensor(DataType::kF16, {1, 1, 2}, {2, 4})}),
               DataType::kF16, {1, 1, 3}, {1, 2 + 3, 6});
}

// Naive ConvTranspose straight from the definition: every input pixel scatters x * W.
std::vector<double> naive_conv_transpose_2d(const std::vector<double>& x, Ints xs,
                                            const std::vector<double>& w, Ints ws, int64_t group,
                                            Ints strides, Ints dil, Ints pads, Ints out_pad,
                                            Ints& ys) {
  const int64_t n = xs[0], c = xs[1], h = xs[2], wd = xs[3], mg = ws[1], kh = ws[2], kw = ws[3];
  const int64_t m = mg * group, cg = c / group;
  const int64_t oh = strides[0] * (h - 1) + out_pad[0] + (kh - 1) * dil[0] + 1 - pads[0] - pads[2];
  const int64_t ow = strides[1] * (wd - 1) + out_pad[1] + (kw - 1) * dil[1] + 1 - pads[1] - pads[3];
  ys = {n, m, oh, ow};
  std::vector<double> y(static_cast<size_t>(n * m * oh * ow), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < wd; ++j)
          for (int64_t mo = 0; mo < mg; ++mo)
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t bb = 0; bb < kw; ++bb) {
                const int64_t r = i * strides[0] - pads[0] + a * dil[0];
                const int64_t q = j * strides[1] - pads[1] + bb * dil[1];
                if (r < 0 || r >= oh || q < 0 || q >= ow) continue;
                const int64_t o = (ci / cg) * mg + mo;
                y[static_cast<size_t>(((b * m + o) * oh + r) * ow + q)] +=
                    x[static_cast<size_t>(((b * c + ci) * h + i) * wd + j)] *
                    w[static_cast<size_t>(((ci * mg + mo) * kh + a) * kw + bb)];
              }
  return y;
}

TEST_CASE("ConvTranspose matches a naive loop on irregular shapes") {
  const Ints xs{2, 4, 3, 5}, ws{4, 3, 3, 2};
  const auto xv = wiggle(2 * 4 * 3 * 5, 3), wv = wiggle(4 * 3 * 3 * 2, 4);
  Ints ys;
  const auto want =
      naive_conv_transpose_2d(xv, xs, wv, ws, 2, {2, 3}, {2, 1}, {1, 0, 0, 2}, {1, 2}, ys);
  check_tensor(run1(OpKind::kConvTranspose, {f32(xs, xv), f32(ws, wv)},
                    {{"group", int64_t{2}},
                     {"strides", Ints{2, 3}},
                     {"dilations", Ints{2, 1}},
                     {"pads", Ints{1, 0, 0, 2}},
                     {"output_padding", Ints{1, 2}}}),
               DataType::kF32, ys, want, 1e-6, 1e-6);
}

TEST_CASE("ConvTranspose inference and errors") {
  // (?, 4, ?, 8) with W (4, 2, 3, 3), strides 2: (?, 2, ?, 2*7+3 = 17).
  auto out =
      infer_op(OpKind::kConvTranspose,
               {info(DataType::kF32, {kDyn, 4, kDyn, 8}), info(DataType::kF32, {4, 2, 3, 3})},
               {{"strides", Ints{2, 2}}});
  CHECK(out[0].shape == Ints{kDyn, 2, kDyn, 17});
  // output_shape fixes the spatial dims even when the input's are dynamic.
  out = infer_op(OpKind::kConvTranspose,
                 {info(DataType::kF32, {kDyn, 4, kDyn}), info(DataType::kF32, {4, 1, 3})},
                 {{"output_shape", Ints{20}}, {"group", int64_t{2}}});
  CHECK(out[0].shape == Ints{kDyn, 2, 20});

  const auto x = info(DataType::kF32, {1, 2, 4});
  auto ct = [](std::vector<TensorInfo> in, Attrs a = {}) {
    return infer_op(OpKind::kConvTranspose, std::move(in), std::move(a));
  };
  check_error([&] { ct({x, info(DataType::kF32, {3, 1, 3})}); }, "rtx.ir.507", "dim 0");
  check_error(
      [&] {
        ct({info(DataType::kF32, {1, 3, 4}), info(DataType::kF32, {3, 1, 3})},
           {{"group", int64_t{2}}});
      },
      "rtx.ir.506");
  check_error(
      [&] {
        ct({x, info(DataType::kF32, {2, 1, 3})}, {{"output_shape", Ints{1, 2}}});
      },
      "rtx.ir.503");
  check_error(
      [&] {
        ct({x, info(DataType::kF32, {2, 1, 3})}, {{"output_padding", Ints{-1}}});
      },
      "rtx.ir.504");
  check_error(
      [&] {
        ct({x, info(DataType::kF32, {2, 1, 3})}, {{"pads", Ints{4, 3}}});
      },
      "rtx.ir.510");
  check_error(
      [&] {
        ct({x, info(DataType::kF32, {2, 1, 3}), info(DataType::kF32, {2})});
      },
      "rtx.ir.509");
  check_error(
      [&] {
        ct({info(DataType::kINT8, {1, 2, 4}), info(DataType::kINT8, {2, 1, 3})});
      },
      "rtx.ir.500");
}

// ---- MaxPool ---------------------------------------------------------------------------------

TEST_CASE("MaxPool 2-D with Indices in both storage orders") {
  // channel 0:            channel 1 (offset 16): zeros with 5 at (3,3)
  //  1  9  2  3
  //  4  5  8  7
  //  0 -1  6  6
  //  3  2  1  0
  // 2x2 windows, stride 2: ch0 maxima 9 @(0,1), 8 @(1,2), 3 @(3,0), 6 @(2,2) (first of a tie);
  // ch1 maxima 0 @(0,0), 0 @(0,2), 0 @(2,0), 5 @(3,3).
  std::vector<double> xs{1, 9, 2, 3, 4, 5, 8, 7, 0, -1, 6, 6, 3, 2, 1, 0};
  std::vector<double> ch1(16, 0.0);
  ch1[15] = 5;
  xs.insert(xs.end(), ch1.begin(), ch1.end());
  const auto x = f32({1, 2, 4, 4}, xs);
  const Attrs a{{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}};
  auto out = run_op(OpKind::kMaxPool, {x}, a, 2);
  check_tensor(out[0], DataType::kF32, {1, 2, 2, 2}, {9, 8, 3, 6, 0, 0, 0, 5});
  // row-major flat indices: h*4 + w (+16 for channel 1)
  check_tensor(out[1], DataType::kINT64, {1, 2, 2, 2}, {1, 6, 12, 10, 16, 18, 24, 31});
  // storage_order 1 (column major spatial): h + w*4 (+16 for channel 1)
  Attrs col = a;
  col["storage_order"] = int64_t{1};
  out = run_op(OpKind::kMaxPool, {x}, col, 2);
  check_tensor(out[1], DataType::kINT64, {1, 2, 2, 2}, {4, 9, 3, 10, 16, 24, 18, 31});
  // one output only
  check_tensor(run1(OpKind::kMaxPool, {x}, a), DataType::kF32, {1, 2, 2, 2},
               {9, 8, 3, 6, 0, 0, 0, 5});
}

TEST_CASE("MaxPool padding is never the maximum") {
  // All-negative 2x2 with pads 1: each window's max is over its in-image elements only.
  const auto x = f32({1, 1, 2, 2}, {-1, -2, -3, -4});
  auto out =
      run_op(OpKind::kMaxPool, {x}, {{"kernel_shape", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}, 2);
  check_tensor(out[0], DataType::kF32, {1, 1, 3, 3}, {-1, -1, -2, -1, -1, -2, -3, -3, -4});
  check_tensor(out[1], DataType::kINT64, {1, 1, 3, 3}, {0, 0, 1, 0, 0, 1, 2, 2, 3});
}

TEST_CASE("MaxPool ceil_mode, dilations, auto_pad, 1-D and 3-D") {
  const auto x5 = f32({1, 1, 5}, {1, 2, 3, 4, 5});
  const Attrs k2s2{{"kernel_shape", Ints{2}}, {"strides", Ints{2}}};
  // floor: windows [1,2],[3,4]; ceil adds the partial window [5].
  check_tensor(run1(OpKind::kMaxPool, {x5}, k2s2), DataType::kF32, {1, 1, 2}, {2, 4});
  Attrs ceil = k2s2;
  ceil["ceil_mode"] = int64_t{1};
  check_tensor(run1(OpKind::kMaxPool, {x5}, ceil), DataType::kF32, {1, 1, 3}, {2, 4, 5});
  // in 4, pads [0,1], ceil: ceil((4+1-2)/2)+1 = 3, but the third window would start at 4, in
  // the right padding, so ONNX (onnx#5741, like PyTorch) drops it: 2 outputs.
  Attrs ceil_pad = ceil;
  ceil_pad["pads"] = Ints{0, 1};
  check_tensor(run1(OpKind::kMaxPool, {f32({1, 1, 4}, {1, 2, 3, 4})}, ceil_pad), DataType::kF32,
               {1, 1, 2}, {2, 4});
  // dilation 2: windows {x0,x2}, {x1,x3}, {x2,x4} of [1,5,2,4,3] -> 2 @2, 5 @1, 3 @4.
  auto out = run_op(OpKind::kMaxPool, {f32({1, 1, 5}, {1, 5, 2, 4, 3})},
                    {{"kernel_shape", Ints{2}}, {"dilations", Ints{2}}}, 2);
  check_tensor(out[0], DataType::kF32, {1, 1, 3}, {2, 5, 3});
  check_tensor(out[1], DataType::kINT64, {1, 1, 3}, {2, 1, 4});
  // SAME_UPPER pads the end: [1,3], [3,2], [2,pad]; SAME_LOWER the start: [pad,1], [1,3], [3,2].
  const auto x3 = f32({1, 1, 3}, {1, 3, 2});
  check_tensor(run1(OpKind::kMaxPool, {x3},
                    {{"kernel_shape", Ints{2}}, {"auto_pad", std::string("SAME_UPPER")}}),
               DataType::kF32, {1, 1, 3}, {3, 3, 2});
  check_tensor(run1(OpKind::kMaxPool, {x3},
                    {{"kernel_shape", Ints{2}}, {"auto_pad", std::string("SAME_LOWER")}}),
               DataType::kF32, {1, 1, 3}, {1, 3, 3});
  // 3-D: the max of 1..8 is 8 at flat index 7.
  out = run_op(OpKind::kMaxPool, {f32({1, 1, 2, 2, 2}, iota(8, 1))},
               {{"kernel_shape", Ints{2, 2, 2}}}, 2);
  check_tensor(out[0], DataType::kF32, {1, 1, 1, 1, 1}, {8});
  check_tensor(out[1], DataType::kINT64, {1, 1, 1, 1, 1}, {7});
}

TEST_CASE("MaxPool dtypes and NaN") {
  check_tensor(run1(OpKind::kMaxPool, {tensor(DataType::kUINT8, {1, 1, 4}, {200, 10, 255, 3})},
                    {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}}),
               DataType::kUINT8, {1, 1, 2}, {200, 255});
  check_tensor(run1(OpKind::kMaxPool, {tensor(DataType::kINT8, {1, 1, 3}, {-128, -5, -7})},
                    {{"kernel_shape", Ints{2}}}),
               DataType::kINT8, {1, 1, 2}, {-5, -5});
  check_tensor(run1(OpKind::kMaxPool, {tensor(DataType::kF16, {1, 1, 3}, {0.5, -65504, 1.5})},
                    {{"kernel_shape", Ints{2}}}),
               DataType::kF16, {1, 1, 2}, {0.5, 1.5});
  // NaN is skipped like padding (as ONNX's reference and ONNX Runtime do); all-NaN gives NaN.
  auto out = run_op(OpKind::kMaxPool, {f32({1, 1, 4}, {kNaN, 1, kNaN, kNaN})},
                    {{"kernel_shape", Ints{2}}, {"strides", Ints{2}}}, 2);
  check_tensor(out[0], DataType::kF32, {1, 1, 2}, {1, kNaN});
  check_tensor(out[1], DataType::kINT64, {1, 1, 2}, {1, 2});
}

TEST_CASE("MaxPool inference and errors") {
  // (?, 3, ?, 10), kernel 3, stride 2, ceil: ceil((10-3)/2)+1 = 5; floor would give 4.
  auto out = infer_op(
      OpKind::kMaxPool, {info(DataType::kF32, {kDyn, 3, kDyn, 10})},
      {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}, 2);
  REQUIRE(out.size() == 2);
  CHECK(out[0].shape == Ints{kDyn, 3, kDyn, 5});
  CHECK(out[1].dtype == DataType::kINT64);
  CHECK(out[1].shape == Ints{kDyn, 3, kDyn, 5});

  const auto x = info(DataType::kF32, {1, 1, 4, 4});
  auto mp = [](std::vector<TensorInfo> in, Attrs a) {
    return infer_op(OpKind::kMaxPool, std::move(in), std::move(a));
  };
  check_error([&] { mp({x}, {}); }, "rtx.ir.141", "kernel_shape");
  check_error([&] { mp({x}, {{"kernel_shape", Ints{2}}}); }, "rtx.ir.503");
  check_error([&] { mp({x}, {{"kernel_shape", Ints{2, 0}}}); }, "rtx.ir.504");
  check_error(
      [&] {
        mp({x}, {{"kernel_shape", Ints{2, 2}}, {"storage_order", int64_t{2}}});
      },
      "rtx.ir.512");
  check_error(
      [&] {
        mp({x}, {{"kernel_shape", Ints{2, 2}}, {"ceil_mode", int64_t{2}}});
      },
      "rtx.ir.511");
  check_error(
      [&] {
        mp({info(DataType::kINT32, {1, 1, 4, 4})}, {{"kernel_shape", Ints{2, 2}}});
      },
      "rtx.ir.500", "i8 or u8");
  check_error(
      [&] {
        mp({info(DataType::kF32, {1, 4})}, {{"kernel_shape", Ints{}}});
      },
      "rtx.ir.502");
  check_error([&] { mp({x}, {{"kernel_shape", Ints{5, 5}}}); }, "rtx.ir.510");
  check_error(
      [&] {
        infer_op(OpKind::kMaxPool, {x}, {{"kernel_shape", Ints{2, 2}}}, 3);
      },
      "rtx.ir.123");
}

// ---- AveragePool -----------------------------------------------------------------------------

TEST_CASE("AveragePool basic, pads and count_include_pad") {
  // 2x2 windows of [[0,1,2],[3,4,5],[6,7,8]]: (0+1+3+4)/4 = 2, 3, 5, 6.
  check_tensor(
      run1(OpKind::kAveragePool, {f32({1, 1, 3, 3}, iota(9))}, {{"kernel_shape", Ints{2, 2}}}),
      DataType::kF32, {1, 1, 2, 2}, {2, 3, 5, 6});
  // 1-D [1,2,3], kernel 3, pads 1: windows [p,1,2], [1,2,3], [2,3,p].
  const auto x = f32({1, 1, 3}, {1, 2, 3});
  const Attrs a{{"kernel_shape", Ints{3}}, {"pads", Ints{1, 1}}};
  check_tensor(run1(OpKind::kAveragePool, {x}, a), DataType::kF32, {1, 1, 3}, {1.5, 2, 2.5});
  Attrs inc = a;
  inc["count_include_pad"] = int64_t{1};
  check_tensor(run1(OpKind::kAveragePool, {x}, inc), DataType::kF32, {1, 1, 3}, {1, 2, 5.0 / 3},
               1e-6);
}

TEST_CASE("AveragePool ceil_mode with count_include_pad") {
  // in 6 ([1..6]), kernel 3, stride 2, pads 1, ceil: ceil((6+2-3)/2)+1 = 4 windows starting at
  // -1, 1, 3, 5: [p,1,2], [2,3,4], [4,5,6], [6,p,beyond]. The last window reaches one position
  // past the end padding; that position never counts (PyTorch / ONNX Runtime).
  const auto x = f32({1, 1, 6}, iota(6, 1));
  const Attrs a{{"kernel_shape", Ints{3}},
                {"strides", Ints{2}},
                {"pads", Ints{1, 1}},
                {"ceil_mode", int64_t{1}}};
  check_tensor(run1(OpKind::kAveragePool, {x}, a), DataType::kF32, {1, 1, 4}, {1.5, 3, 5, 6});
  Attrs inc = a;
  inc["count_include_pad"] = int64_t{1};
  // divisors 3, 3, 3, 2 (the 6 and one pad)
  check_tensor(run1(OpKind::kAveragePool, {x}, inc), DataType::kF32, {1, 1, 4}, {1, 3, 5, 3});
  inc["ceil_mode"] = int64_t{0};
  check_tensor(run1(OpKind::kAveragePool, {x}, inc), DataType::kF32, {1, 1, 3}, {1, 3, 5});
}

TEST_CASE("AveragePool dilations, auto_pad, 3-D, dtypes") {
  // dilation 2: {x0,x2}, {x1,x3}, {x2,x4} of [1..5] -> 2, 3, 4.
  check_tensor(run1(OpKind::kAveragePool, {f32({1, 1, 5}, iota(5, 1))},
                    {{"kernel_shape", Ints{2}}, {"dilations", Ints{2}}}),
               DataType::kF32, {1, 1, 3}, {2, 3, 4});
  // SAME_UPPER on [1,2,3] with kernel 2: [1,2], [2,3], [3,pad] -> 1.5, 2.5, 3 (or 1.5 counting
  // pad).
  const auto x = f32({1, 1, 3}, {1, 2, 3});
  check_tensor(run1(OpKind::kAveragePool, {x},
                    {{"kernel_shape", Ints{2}}, {"auto_pad", std::string("SAME_UPPER")}}),
               DataType::kF32, {1, 1, 3}, {1.5, 2.5, 3});
  check_tensor(run1(OpKind::kAveragePool, {x},
                    {{"kernel_shape", Ints{2}},
                     {"auto_pad", std::string("SAME_UPPER")},
                     {"count_include_pad", int64_t{1}}}),
               DataType::kF32, {1, 1, 3}, {1.5, 2.5, 1.5});
  check_tensor(run1(OpKind::kAveragePool, {f32({1, 1, 2, 2, 2}, iota(8, 1))},
                    {{"kernel_shape", Ints{2, 2, 2}}}),
               DataType::kF32, {1, 1, 1, 1, 1}, {4.5});
  // f16: (0.1 + 0.2 + 0.3) in f16 values, averaged in double, rounded once.
  const auto h = tensor(DataType::kF16, {1, 1, 2}, {1, 2});
  check_tensor(run1(OpKind::kAveragePool, {h}, {{"kernel_shape", Ints{2}}}), DataType::kF16,
               {1, 1, 1}, {1.5});
  check_tensor(run1(OpKind::kAveragePool, {tensor(DataType::kBF16, {1, 1, 2}, {1, 4})},
                    {{"kernel_shape", Ints{2}}}),
               DataType::kBF16, {1, 1, 1}, {2.5});
  // A window wholly in padding averages nothing: NaN (0/0, as in the ONNX reference), or 0
  // when the pads count.
  check_tensor(run1(OpKind::kAveragePool, {f32({1, 1, 1}, {4})},
                    {{"kernel_shape", Ints{1}}, {"pads", Ints{1, 1}}}),
               DataType::kF32, {1, 1, 3}, {kNaN, 4, kNaN});
  check_tensor(
      run1(OpKind::kAveragePool, {f32({1, 1, 1}, {4})},
           {{"kernel_shape", Ints{1}}, {"pads", Ints{1, 1}}, {"count_include_pad", int64_t{1}}}),
      DataType::kF32, {1, 1, 3}, {0, 4, 0});
  // empty batch
  check_tensor(run1(OpKind::kAveragePool, {f32({0, 2, 4}, {})}, {{"kernel_shape", Ints{2}}}),
               DataType::kF32, {0, 2, 3}, {});
}

TEST_CASE("AveragePool inference and errors") {
  auto out = infer_op(OpKind::kAveragePool, {info(DataType::kF16, {kDyn, 8, 7, kDyn})},
                      {{"kernel_shape", Ints{3, 3}},
                       {"auto_pad", std::string("SAME_LOWER")},
                       {"strides", Ints{2, 2}}});
  CHECK(out[0].dtype == DataType::kF16);
  CHECK(out[0].shape == Ints{kDyn, 8, 4, kDyn});
  const auto x = info(DataType::kF32, {1, 1, 4});
  check_error(
      [&] {
        infer_op(OpKind::kAveragePool, {info(DataType::kINT8, {1, 1, 4})},
                 {{"kernel_shape", Ints{2}}});
      },
      "rtx.ir.500");
  check_error(
      [&] {
        infer_op(OpKind::kAveragePool, {x},
                 {{"kernel_shape", Ints{2}}, {"count_include_pad", int64_t{2}}});
      },
      "rtx.ir.513");
  check_error(
      [&] {
        infer_op(OpKind::kAveragePool, {x}, {{"kernel_shape", Ints{2}}, {"pads", Ints{1}}});
      },
      "rtx.ir.503");
  check_error(
      [&] {
        infer_op(OpKind::kAveragePool, {x}, {{"kernel_shape", Ints{2}}}, 2);
      },
      "rtx.ir.123");
}

// ---- GlobalAveragePool -----------------------------------------------------------------------

TEST_CASE("GlobalAveragePool") {
  check_tensor(run1(OpKind::kGlobalAveragePool, {f32({1, 2, 2, 2}, iota(8, 1))}), DataType::kF32,
               {1, 2, 1, 1}, {2.5, 6.5});
  check_tensor(run1(OpKind::kGlobalAveragePool, {f32({1, 1, 3}, {1, 2, 6})}), DataType::kF32,
               {1, 1, 1}, {3});
  check_tensor(run1(OpKind::kGlobalAveragePool, {tensor(DataType::kF16, {2, 1, 2}, {1, 2, 3, 5})}),
               DataType::kF16, {2, 1, 1}, {1.5, 4});
  auto out = infer_op(OpKind::kGlobalAveragePool, {info(DataType::kF32, {kDyn, 3, kDyn, kDyn})});
  CHECK(out[0].shape == Ints{kDyn, 3, 1, 1});
  check_error(
      [&] {
        infer_op(OpKind::kGlobalAveragePool, {info(DataType::kINT32, {1, 3, 4, 4})});
      },
      "rtx.ir.500");
  check_error([&] { infer_op(OpKind::kGlobalAveragePool, {info(DataType::kF32, {3})}); },
              "rtx.ir.502");
}

// ---- Resize ----------------------------------------------------------------------------------

const HostTensor kNone;  // an omitted optional input

HostTensor resize(const HostTensor& x, const HostTensor& scales, const HostTensor& sizes,
                  Attrs a = {}, const HostTensor& roi = kNone) {
  return run1(OpKind::kResize, {x, roi, scales, sizes}, std::move(a));
}
HostTensor scales_of(std::vector<double> v) {
  const auto n = static_cast<int64_t>(v.size());
  return f32({n}, std::move(v));
}
HostTensor sizes_of(std::vector<double> v) {
  const auto n = static_cast<int64_t>(v.size());
  return i64({n}, std::move(v));
}
Attrs mode(const char* m, const char* coord = "half_pixel") {
  return {{"mode", std::string(m)}, {"coordinate_transformation_mode", std::string(coord)}};
}

TEST_CASE("Resize nearest, default modes, scales") {
  // 2x2 -> 4x6 (half_pixel, round_prefer_floor). Rows: (y+0.5)/2-0.5 = -0.25, 0.25, 0.75, 1.25
  // -> 0, 0, 1, 1. Cols: (x+0.5)/3-0.5 = -1/3, 0, 1/3, 2/3, 1, 4/3 -> 0, 0, 0, 1, 1, 1.
  const auto x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  check_tensor(resize(x, scales_of({1, 1, 2, 3}), kNone), DataType::kF32, {1, 1, 4, 6},
               {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});
  // the same output from sizes
  check_tensor(resize(x, kNone, sizes_of({1, 1, 4, 6})), DataType::kF32, {1, 1, 4, 6},
               {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});
}

TEST_CASE("Resize nearest_mode variants") {
  // [10,20,30,40] -> 7 (scale 1.75): x_orig = (x+0.5)/1.75-0.5 = -0.214, 0.357, 0.929, 1.5,
  // 2.071, 2.643, 3.214. Indices past an edge read the edge element.
  const auto x = f32({4}, {10, 20, 30, 40});
  const auto sz = sizes_of({7});
  auto nm = [](const char* m) { return Attrs{{"nearest_mode", std::string(m)}}; };
  check_tensor(resize(x, kNone, sz, nm("round_prefer_floor")), DataType::kF32, {7},
               {10, 10, 20, 20, 30, 40, 40});
  check_tensor(resize(x, kNone, sz, nm("round_prefer_ceil")), DataType::kF32, {7},
               {10, 10, 20, 30, 30, 40, 40});
  check_tensor(resize(x, kNone, sz, nm("floor")), DataType::kF32, {7},
               {10, 10, 10, 20, 30, 30, 40});
  check_tensor(resize(x, kNone, sz, nm("ceil")), DataType::kF32, {7}, {10, 20, 20, 30, 40, 40, 40});
  // asymmetric, scale 0.5: x_orig = 2x -> 0, 2.
  check_tensor(resize(x, scales_of({0.5}), kNone, mode("nearest", "asymmetric")), DataType::kF32,
               {2}, {10, 30});
  // align_corners to 3: x_orig = x * 3/2 = 0, 1.5, 3 -> 0, 1 (round_prefer_floor), 3.
  check_tensor(resize(x, kNone, sizes_of({3}), mode("nearest", "align_corners")), DataType::kF32,
               {3}, {10, 20, 40});
  // tf_half_pixel_for_nn (opset 11): x_orig = (x+0.5)/scale; scale 0.5 -> 1, 3.
  check_tensor(resize(x, scales_of({0.5}), kNone, mode("nearest", "tf_half_pixel_for_nn")),
               DataType::kF32, {2}, {20, 40});
}

TEST_CASE("Resize linear coordinate modes") {
  // 2x2 -> 4x4 half_pixel: x_orig = -0.25, 0.25, 0.75, 1.25 (edges clamp), so each row is
  // [a, .75a+.25b, .25a+.75b, b].
  check_tensor(
      resize(f32({1, 1, 2, 2}, {1, 2, 3, 4}), scales_of({1, 1, 2, 2}), kNone, mode("linear")),
      DataType::kF32, {1, 1, 4, 4},
      {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4});
  const auto x = f32({4}, {10, 20, 30, 40});
  // half_pixel to 2: x_orig = (x+0.5)*2-0.5 = 0.5, 2.5 -> 15, 35.
  check_tensor(resize(x, kNone, sizes_of({2}), mode("linear")), DataType::kF32, {2}, {15, 35});
  // align_corners to 3: 0, 1.5, 3 -> 10, 25, 40.
  check_tensor(resize(x, kNone, sizes_of({3}), mode("linear", "align_corners")), DataType::kF32,
               {3}, {10, 25, 40});
  // asymmetric, scale 1.5 -> 6 outputs at x/1.5; the last (3.33) clamps to 40.
  check_tensor(resize(x, scales_of({1.5}), kNone, mode("linear", "asymmetric")), DataType::kF32,
               {6}, {10, 10 + 20.0 / 3, 10 + 40.0 / 3, 30, 30 + 20.0 / 3, 40}, 1e-6);
  // one output: pytorch_half_pixel samples 0 (10); half_pixel samples 0.5/0.25-0.5 = 1.5 (25).
  check_tensor(resize(x, kNone, sizes_of({1}), mode("linear", "pytorch_half_pixel")),
               DataType::kF32, {1}, {10});
  check_tensor(resize(x, kNone, sizes_of({1}), mode("linear")), DataType::kF32, {1}, {25});
  // scale 0.6: out floor(2.4) = 2. half_pixel: (x+0.5)/0.6-0.5 = 1/3, 2 -> 13.33, 30.
  // half_pixel_symmetric shifts by in/2 * (1 - 2/2.4) = 1/3: 2/3, 7/3 -> 16.67, 33.33.
  check_tensor(resize(x, scales_of({0.6}), kNone, mode("linear")), DataType::kF32, {2},
               {10 + 10.0 / 3, 30}, 1e-5);
  check_tensor(resize(x, scales_of({0.6}), kNone, mode("linear", "half_pixel_symmetric")),
               DataType::kF32, {2}, {10 + 20.0 / 3, 30 + 10.0 / 3}, 1e-5);
}

TEST_CASE("Resize tf_crop_and_resize with extrapolation") {
  // roi [0.5, 1.5] of [10,20,30,40] to 3: x_orig = 0.5*3 + x*(1.0)*3/2 = 1.5, 3, 4.5; the last is
  // past the input and takes extrapolation_value.
  Attrs a = mode("linear", "tf_crop_and_resize");
  a["extrapolation_value"] = 99.0;
  check_tensor(resize(f32({4}, {10, 20, 30, 40}), kNone, sizes_of({3}), a, f32({2}, {0.5, 1.5})),
               DataType::kF32, {3}, {25, 40, 99});
  // 2-D: an outside coordinate on either axis extrapolates. roi rows [0,1], cols [0.5,1.5].
  check_tensor(
      resize(f32({2, 2}, {1, 2, 3, 4}), kNone, sizes_of({2, 2}), a, f32({4}, {0, 0.5, 1, 1.5})),
      DataType::kF32, {2, 2}, {1.5, 99, 3.5, 99});
  a["mode"] = std::string("nearest");
  check_tensor(resize(f32({4}, {10, 20, 30, 40}), kNone, sizes_of({3}), a, f32({2}, {0.5, 1.5})),
               DataType::kF32, {3}, {20, 40, 99});
}

TEST_CASE("Resize cubic") {
  // asymmetric x2 of [10,20,30,40]: x_orig = 0, .5, 1, ..., 3.5. At ratio 0.5 the A=-0.75 weights
  // are (-0.09375, 0.59375, 0.59375, -0.09375) on base-1..base+2 (indices clamp to the edges):
  // 0.5 -> -0.9375 + 5.9375 + 11.875 - 2.8125 = 14.0625, 1.5 -> 25 (a ramp is reproduced),
  // 2.5 -> -1.875 + 17.8125 + 23.75 - 3.75 = 35.9375, 3.5 -> 40.9375.
  const auto x = f32({4}, {10, 20, 30, 40});
  check_tensor(resize(x, scales_of({2}), kNone, mode("cubic", "asymmetric")), DataType::kF32, {8},
               {10, 14.0625, 20, 25, 30, 35.9375, 40, 40.9375});
  // exclude_outside drops the tap at -1 and renormalises: (5.9375 + 11.875 - 2.8125) / 1.09375.
  Attrs ex = mode("cubic", "asymmetric");
  ex["exclude_outside"] = int64_t{1};
  const auto y = resize(x, scales_of({2}), kNone, ex);
  CHECK(y.get_double(1) == doctest::Approx(15 / 1.09375).epsilon(1e-6));
  // cubic_coeff_a = -0.5: weights (-0.0625, 0.5625, 0.5625, -0.0625) -> 14.375 at 0.5.
  Attrs a5 = mode("cubic", "asymmetric");
  a5["cubic_coeff_a"] = -0.5;
  CHECK(resize(x, scales_of({2}), kNone, a5).get_double(1) == doctest::Approx(14.375));
}

TEST_CASE("Resize antialias (linear, downsampling)") {
  // [1, 2, 3, 4] scaled by 0.5, half_pixel: x_in = 2 o + 0.5, so base 0 / 2 and r = 0.5. The
  // filter stretches to taps base-1 .. base+2 with weights 1 - |(i - 0.5) * 0.5| = .25 .75 .75
  // .25, normalised to .125 .375 .375 .125, edges clamped: o=0 reads 1 1 2 3 -> 1.625, o=1 reads
  // 2 3 4 4 -> 3.375 (ONNX's reference gives the same).
  const auto x = f32({1, 4}, {1, 2, 3, 4});
  Attrs a = mode("linear");
  a["antialias"] = int64_t{1};
  check_tensor(resize(x, scales_of({1, 0.5}), kNone, a), DataType::kF32, {1, 2}, {1.625, 3.375},
               1e-6);
  // Upsampling is unaffected: antialias only widens the filter when scale < 1.
  check_tensor(resize(x, scales_of({1, 2}), kNone, a),
               resize(x, scales_of({1, 2}), kNone, mode("linear")).dtype(), {1, 8},
               resize(x, scales_of({1, 2}), kNone, mode("linear")).to_doubles(), 0);
}

TEST_CASE("Resize axes, scales vs sizes, keep_aspect_ratio_policy") {
  const auto x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  // only the last axis, to 4: cols -0.25, 0.25, 0.75, 1.25 -> 0, 0, 1, 1.
  check_tensor(resize(x, kNone, sizes_of({4}), {{"axes", Ints{3}}}), DataType::kF32, {1, 1, 2, 4},
               {1, 1, 2, 2, 3, 3, 4, 4});
  check_tensor(resize(x, scales_of({2}), kNone, {{"axes", Ints{-1}}}), DataType::kF32, {1, 1, 2, 4},
               {1, 1, 2, 2, 3, 3, 4, 4});
  // scales give floor(in * scale): 4 * 0.7 = 2.8 -> 2.
  CHECK(resize(f32({4}, {1, 2, 3, 4}), scales_of({0.7}), kNone).shape() == Ints{2});
  // sizes [7, 8] on axes [2, 3]: not_larger keeps scale min(3.5, 4) = 3.5 -> 7x7; not_smaller
  // keeps 4 -> 8x8. Rows/cols (x+0.5)/s-0.5 pick index 0 for the first half, 1 after.
  Attrs nl{{"axes", Ints{2, 3}}, {"keep_aspect_ratio_policy", std::string("not_larger")}};
  auto y = resize(x, kNone, sizes_of({7, 8}), nl);
  REQUIRE(y.shape() == Ints{1, 1, 7, 7});
  for (int64_t j = 0; j < 7; ++j) CHECK(y.get_double(j) == (j < 4 ? 1 : 2));  // 3.5 -> 0 at x=3
  Attrs ns{{"axes", Ints{2, 3}}, {"keep_aspect_ratio_policy", std::string("not_smaller")}};
  y = resize(x, kNone, sizes_of({7, 8}), ns);
  REQUIRE(y.shape() == Ints{1, 1, 8, 8});
  for (int64_t j = 0; j < 8; ++j) CHECK(y.get_double(j) == (j < 4 ? 1 : 2));
  CHECK(y.get_double(63) == 4);
  // Without axes the policy covers every dim (as ONNX's reference does): min(1,1,3.5,4) = 1.
  CHECK(resize(x, kNone, sizes_of({1, 1, 7, 8}),
               {{"keep_aspect_ratio_policy", std::string("not_larger")}})
            .shape() == Ints{1, 1, 2, 2});
  // Empty scales/sizes/roi tensors mean "absent" (opsets 11-13).
  check_tensor(run1(OpKind::kResize, {f32({2}, {1, 2}), f32({0}, {}), f32({0}, {}), sizes_of({4})}),
               DataType::kF32, {4}, {1, 1, 2, 2});
}

TEST_CASE("Resize dtypes: f16, int, int64 exactness, bool") {
  check_tensor(resize(tensor(DataType::kF16, {2}, {1, 2}), kNone, sizes_of({4}), mode("linear")),
               DataType::kF16, {4}, {1, 1.25, 1.75, 2});
  // int32 linear rounds half to even once: align_corners to 3 samples 0, 0.5, 1 -> 10, 15.5 ->
  // 16, 21.
  check_tensor(resize(tensor(DataType::kINT32, {2}, {10, 21}), kNone, sizes_of({3}),
                      mode("linear", "align_corners")),
               DataType::kINT32, {3}, {10, 16, 21});
  // nearest is a gather: int64 values beyond 2^53 survive exactly.
  HostTensor big(DataType::kINT64, {2});
  big.set_int(0, (int64_t{1} << 60) + 1);
  big.set_int(1, 3);
  const auto y = resize(big, kNone, sizes_of({4}), mode("nearest", "asymmetric"));
  REQUIRE(y.shape() == Ints{4});
  CHECK(y.get_int(0) == (int64_t{1} << 60) + 1);
  CHECK(y.get_int(1) == (int64_t{1} << 60) + 1);
  CHECK(y.get_int(2) == 3);
  check_tensor(resize(tensor(DataType::kBOOL, {2}, {1, 0}), kNone, sizes_of({4})), DataType::kBOOL,
               {4}, {1, 1, 0, 0});
  check_tensor(resize(tensor(DataType::kUINT8, {1, 1, 2}, {0, 255}), kNone, sizes_of({1, 1, 4})),
               DataType::kUINT8, {1, 1, 4}, {0, 0, 255, 255});
}

TEST_CASE("Resize inference with dynamic dims and non-constant inputs") {
  const auto x = info(DataType::kF32, {kDyn, 3, kDyn, 32});
  const auto sc = scales_of({1, 1, 2, 2});
  auto out = infer_op(OpKind::kResize, {x, info(DataType::kF32, {0}), info(DataType::kF32, {4})},
                      {}, 1, {nullptr, nullptr, &sc});
  CHECK(out[0].shape == Ints{kDyn, 3, kDyn, 64});
  // stretch sizes fix every dim, dynamic or not
  const auto sz = sizes_of({1, 3, 64, 64});
  out = infer_op(
      OpKind::kResize,
      {x, info(DataType::kF32, {0}), info(DataType::kF32, {0}), info(DataType::kINT64, {4})}, {}, 1,
      {nullptr, nullptr, nullptr, &sz});
  CHECK(out[0].shape == Ints{1, 3, 64, 64});
  // unknown scales: every resized dim is dynamic, the rank stays known
  out = infer_op(OpKind::kResize, {info(DataType::kF32, {1, 3, 8, 8}), info(DataType::kF32, {0}),
                                   info(DataType::kF32, {4})});
  CHECK(out[0].shape == Ints{kDyn, kDyn, kDyn, kDyn});
  out = infer_op(OpKind::kResize,
                 {info(DataType::kF32, {kDyn, 3, 8, 8}), info(DataType::kF32, {0}),
                  info(DataType::kF32, {0}), info(DataType::kINT64, {2})},
                 {{"axes", Ints{2, 3}}});
  CHECK(out[0].shape == Ints{kDyn, 3, kDyn, kDyn});
  // not_larger needs the input extents
  const auto sz2 = sizes_of({16, 16});
  out = infer_op(
      OpKind::kResize,
      {x, info(DataType::kF32, {0}), info(DataType::kF32, {0}), info(DataType::kINT64, {2})},
      {{"axes", Ints{2, 3}}, {"keep_aspect_ratio_policy", std::string("not_larger")}}, 1,
      {nullptr, nullptr, nullptr, &sz2});
  CHECK(out[0].shape == Ints{kDyn, 3, kDyn, kDyn});
}

TEST_CASE("Resize errors") {
  const auto x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  const auto sc = scales_of({1, 1, 2, 2});
  check_error(
      [&] {
        resize(x, sc, kNone, {{"mode", std::string("bicubic")}});
      },
      "rtx.ir.520", "bicubic");
  check_error(
      [&] {
        resize(x, sc, kNone, {{"antialias", int64_t{1}}});  // nearest: the filter needs weights
      },
      "rtx.ir.521", "antialias");
  check_error(
      [&] {
        resize(x, sc, kNone, {{"antialias", int64_t{2}}, {"mode", std::string("linear")}});
      },
      "rtx.ir.521", "antialias");
  check_error(
      [&] {
        resize(x, sc, kNone, {{"coordinate_transformation_mode", std::string("corners")}});
      },
      "rtx.ir.522");
  check_error(
      [&] {
        resize(x, sc, kNone, {{"nearest_mode", std::string("round")}});
      },
      "rtx.ir.523");
  check_error(
      [&] {
        resize(x, sc, kNone, {{"keep_aspect_ratio_policy", std::string("fit")}});
      },
      "rtx.ir.524");
  check_error([&] { resize(x, sc, sizes_of({1, 1, 4, 4})); }, "rtx.ir.525", "not both");
  check_error([&] { resize(x, kNone, kNone); }, "rtx.ir.525", "neither");
  check_error([&] { resize(x, scales_of({2, 2}), kNone); }, "rtx.ir.526");
  check_error([&] { resize(x, scales_of({2, 2}), kNone, {{"axes", Ints{3, -1}}}); }, "rtx.ir.527");
  check_error([&] { resize(x, scales_of({2}), kNone, {{"axes", Ints{4}}}); }, "rtx.ir.130");
  check_error([&] { resize(x, scales_of({1, 1, 0, 2}), kNone); }, "rtx.ir.528");
  check_error([&] { resize(x, kNone, sizes_of({1, 1, -1, 2})); }, "rtx.ir.528");
  check_error(
      [&] {
        resize(x, kNone, sizes_of({1, 1, 3, 3}), mode("linear", "tf_crop_and_resize"));
      },
      "rtx.ir.529", "roi");
  check_error([&] { resize(x, kNone, f32({4}, {1, 1, 4, 4})); }, "rtx.ir.530", "integer");
  check_error([&] { resize(x, i64({4}, {1, 1, 2, 2}), kNone); }, "rtx.ir.530", "float");
  check_error(
      [&] {
        resize(tensor(DataType::kBOOL, {2}, {1, 0}), kNone, sizes_of({4}), mode("linear"));
      },
      "rtx.ir.500");
  check_error([&] { resize(f32({0, 2}, {}), kNone, sizes_of({1, 4})); }, "rtx.ir.531", "empty");
  // an empty output from an empty input is fine
  check_tensor(resize(f32({0, 2}, {}), kNone, sizes_of({0, 4})), DataType::kF32, {0, 4}, {});
}

TEST_CASE("empty tensors and ranks the family rejects") {
  // N = 0 flows through every op with the right shape.
  check_tensor(run1(OpKind::kConv, {f32({0, 2, 4}, {}), f32({3, 2, 2}, iota(12))}), DataType::kF32,
               {0, 3, 3}, {});
  check_tensor(run1(OpKind::kConvTranspose, {f32({0, 2, 4}, {}), f32({2, 3, 2}, iota(12))}),
               DataType::kF32, {0, 3, 5}, {});
  auto out = run_op(OpKind::kMaxPool, {f32({1, 0, 4}, {})}, {{"kernel_shape", Ints{2}}}, 2);
  check_tensor(out[0], DataType::kF32, {1, 0, 3}, {});
  check_tensor(out[1], DataType::kINT64, {1, 0, 3}, {});
  check_tensor(run1(OpKind::kGlobalAveragePool, {f32({0, 3, 2, 2}, {})}), DataType::kF32,
               {0, 3, 1, 1}, {});
  // Zero input channels: the sum over no channels is the bias alone.
  check_tensor(run1(OpKind::kConv, {f32({1, 0, 2}, {}), f32({1, 0, 1}, {}), f32({1}, {7})}),
               DataType::kF32, {1, 1, 2}, {7, 7});
  // 0-d inputs have no spatial dims to convolve, pool or resize.
  check_error(
      [&] {
        infer_op(OpKind::kConv, {info(DataType::kF32, {}), info(DataType::kF32, {})});
      },
      "rtx.ir.502");
  check_error([&] { infer_op(OpKind::kGlobalAveragePool, {info(DataType::kF32, {})}); },
              "rtx.ir.502");
  check_error([&] { resize(f32({}, {1}), kNone, sizes_of({})); }, "rtx.ir.502");
}

TEST_CASE("Resize ignores roi outside tf_crop_and_resize") {
  // A roi of any length (here 3 values for 1 axis) is not read by half_pixel.
  check_tensor(resize(f32({2}, {1, 2}), kNone, sizes_of({4}), {}, f32({3}, {9, 9, 9})),
               DataType::kF32, {4}, {1, 1, 2, 2});
  check_error(
      [&] {
        resize(f32({2}, {1, 2}), kNone, sizes_of({4}), mode("linear", "tf_crop_and_resize"),
               f32({3}, {0, 1, 1}));
      },
      "rtx.ir.526", "roi");
}

TEST_CASE("every op of the family is registered") {
  for (OpKind k : {OpKind::kConv, OpKind::kConvTranspose, OpKind::kMaxPool, OpKind::kAveragePool,
                   OpKind::kGlobalAveragePool, OpKind::kResize})
    CHECK(ir::has_schema(k));
}

}  // namespace
