// SPDX-License-Identifier: Apache-2.0
// QuantizeLinear / DequantizeLinear (opset 23): every output type, per-tensor, per-axis and
// block-wise scales, zero points, round-half-to-even ties, saturation, 4-bit packing with odd
// element counts, precision of the division, inference with dynamic dims, one error per check.
#include <doctest/doctest.h>

#include <cstring>
#include <limits>

#include "tests/unit/op_test_util.hpp"

namespace rtx::test {
namespace {

using ir::OpKind;
using ir::TensorInfo;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kDyn = ir::kDynamic;

TensorInfo info(DataType t, std::vector<int64_t> shape) {
  return TensorInfo{t, std::move(shape), true};
}

HostTensor q(std::vector<HostTensor> inputs, Attrs attrs = {}) {
  auto out = run_op(OpKind::kQuantizeLinear, std::move(inputs), std::move(attrs));
  REQUIRE(out.size() == 1);
  return out[0];
}
HostTensor dq(std::vector<HostTensor> inputs, Attrs attrs = {}) {
  auto out = run_op(OpKind::kDequantizeLinear, std::move(inputs), std::move(attrs));
  REQUIRE(out.size() == 1);
  return out[0];
}
std::vector<uint8_t> raw(const HostTensor& t) {
  const auto* p = reinterpret_cast<const uint8_t*>(t.data());
  return std::vector<uint8_t>(p, p + t.byte_size());
}
Attrs out_dtype(int64_t onnx) {
  return Attrs{{"output_dtype", onnx}};
}

// ---- QuantizeLinear: integer outputs -----------------------------------------------------------

TEST_CASE("QuantizeLinear per-tensor uint8: default type, ties to even, saturation") {
  // No zero point: uint8. 2.5 -> 2, 3.5 -> 4, -1 -> 0, 255.5 -> 256 -> 255.
  check_tensor(q({f32({7}, {0, 1, 2.5, 3.5, -1, 300, 255.5}), f32({}, {1})}), DataType::kUINT8, {7},
               {0, 1, 2, 4, 0, 255, 255});
  // scale 2, zero point 128: x/2 = [1, 1.5, 2.5, -128, 500] -> [1, 2, 2, -128, 500] + 128.
  check_tensor(
      q({f32({5}, {2, 3, 5, -256, 1000}), f32({}, {2}), tensor(DataType::kUINT8, {}, {128})}),
      DataType::kUINT8, {5}, {129, 130, 130, 0, 255});
  // A one-element 1-D scale is per-tensor too; NaN quantizes to the zero point, inf saturates.
  check_tensor(
      q({f32({3}, {kNaN, kInf, -kInf}), f32({1}, {1}), tensor(DataType::kUINT8, {1}, {7})}),
      DataType::kUINT8, {3}, {7, 255, 0});
  // 0-d and empty inputs.
  check_tensor(q({f32({}, {3.7}), f32({}, {0.5})}), DataType::kUINT8, {}, {7});  // 7.4 -> 7
  check_tensor(q({f32({0, 3}, {}), f32({3}, {1, 2, 3})}), DataType::kUINT8, {0, 3}, {});
}

TEST_CASE("QuantizeLinear int8 with a negative zero point") {
  // round(x) = [-130, 2, -2] (1.5 -> 2, -2.5 -> -2), + (-1) -> [-131 -> -128, 1, -3].
  check_tensor(q({f32({3}, {-130, 1.5, -2.5}), f32({}, {1}), tensor(DataType::kINT8, {}, {-1})}),
               DataType::kINT8, {3}, {-128, 1, -3});
  check_tensor(q({f32({2}, {-1, 1}), f32({}, {0.01})}, out_dtype(3)), DataType::kINT8, {2},
               {-100, 100});
}

TEST_CASE("QuantizeLinear per-axis") {
  // x [2,3], axis 1 (default): scale [1,2,4], zp [0,1,-1].
  // x/s = [[2,2,2],[-3,2.5,2.5]] -> [[2,2,2],[-3,2,2]] + zp.
  const auto x = f32({2, 3}, {2, 4, 8, -3, 5, 10});
  const auto s = f32({3}, {1, 2, 4});
  const auto zp = tensor(DataType::kINT8, {3}, {0, 1, -1});
  check_tensor(q({x, s, zp}), DataType::kINT8, {2, 3}, {2, 3, 1, -3, 3, 1});
  check_tensor(q({x, s, zp}, {{"axis", int64_t{-1}}}), DataType::kINT8, {2, 3},
               {2, 3, 1, -3, 3, 1});
  // axis 0: scale [1, 2]: row 1 = [4,5,6]/2 = [2, 2.5, 3] -> [2, 2, 3].
  check_tensor(q({f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 2})}, {{"axis", int64_t{0}}}),
               DataType::kUINT8, {2, 3}, {1, 2, 3, 2, 2, 3});
}

TEST_CASE("QuantizeLinear block-wise to int4, odd element count") {
  // x [3,3], axis 0, block 2: scale [2,3] (ceil(3/2) = 2 blocks); rows 0-1 use scale row 0 (1),
  // row 2 uses scale row 1 (2): [7,8,9]/2 = [3.5, 4, 4.5] -> [4, 4, 4].
  auto y = q({f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), f32({2, 3}, {1, 1, 1, 2, 2, 2})},
             {{"axis", int64_t{0}}, {"block_size", int64_t{2}}, {"output_dtype", int64_t{22}}});
  check_tensor(y, DataType::kINT4, {3, 3}, {1, 2, 3, 4, 5, 6, 4, 4, 4});
  CHECK(raw(y) == std::vector<uint8_t>{0x21, 0x43, 0x65, 0x44, 0x04});  // 9 nibbles -> 5 bytes
  // axis 1, block 2 on [2,5]: scale [2,3], zero points per block (uint8).
  // row 0 scales [1,2,4]: [1,2 | 3,4 | 8] -> [1,2 | 1.5->2, 2 | 2]; zp [0,10,20].
  // row 1 scales [10,20,40]: [10,20 | 30,40 | 80] -> [1,2 | 1.5->2, 2 | 2]; zp [1,2,3].
  auto b = q({f32({2, 5}, {1, 2, 3, 4, 8, 10, 20, 30, 40, 80}), f32({2, 3}, {1, 2, 4, 10, 20, 40}),
              tensor(DataType::kUINT8, {2, 3}, {0, 10, 20, 1, 2, 3})},
             {{"block_size", int64_t{2}}});
  check_tensor(b, DataType::kUINT8, {2, 5}, {1, 2, 12, 12, 22, 2, 3, 4, 4, 5});
}

TEST_CASE("QuantizeLinear int4 and uint4 saturation and packing") {
  // int4: [-20, 20, -8.5, 7.5, 0.5] -> [-8, 7, -8 (tie to even), 8 -> 7, 0 (tie to even)].
  auto i4 = q({f32({5}, {-20, 20, -8.5, 7.5, 0.5}), f32({}, {1})}, out_dtype(22));
  check_tensor(i4, DataType::kINT4, {5}, {-8, 7, -8, 7, 0});
  CHECK(raw(i4) == std::vector<uint8_t>{0x78, 0x78, 0x00});
  // uint4, zp 8: round = [-9, -8 (tie), 0, 6 (tie), 100] + 8 -> [-1 -> 0, 0, 8, 14, 108 -> 15].
  auto u4 = q({f32({5}, {-9, -8.5, 0, 6.5, 100}), f32({}, {1}), tensor(DataType::kUINT4, {}, {8})});
  check_tensor(u4, DataType::kUINT4, {5}, {0, 0, 8, 14, 15});
  CHECK(raw(u4) == std::vector<uint8_t>{0x00, 0xE8, 0x0F});
}

// ---- QuantizeLinear: float outputs -------------------------------------------------------------

TEST_CASE("QuantizeLinear fp8 e4m3 / e5m2 with and without saturation") {
  const auto x = f32({5}, {1, 500, -500, 0.3, kNaN});
  const auto one = f32({}, {1});
  // 0.3 in e4m3: quantum 2^-5 in [0.25, 0.5): 9.6 quanta -> 10 -> 0.3125.
  check_tensor(q({x, one}, out_dtype(17)), DataType::kFP8E4M3, {5}, {1, 448, -448, 0.3125, kNaN});
  check_tensor(q({x, one}, {{"output_dtype", int64_t{17}}, {"saturate", int64_t{0}}}),
               DataType::kFP8E4M3, {5}, {1, kNaN, kNaN, 0.3125, kNaN});
  // A zero zero point selects the type; scale 2 halves.
  check_tensor(q({f32({2}, {1, 3}), f32({}, {2}), tensor(DataType::kFP8E4M3, {}, {0})}),
               DataType::kFP8E4M3, {2}, {0.5, 1.5});
  const auto y = f32({2}, {62000, 1.5});  // 62000 rounds to 65536 in e5m2
  check_tensor(q({y, one}, out_dtype(19)), DataType::kFP8E5M2, {2}, {57344, 1.5});
  check_tensor(q({y, one}, {{"output_dtype", int64_t{19}}, {"saturate", int64_t{0}}}),
               DataType::kFP8E5M2, {2}, {kInf, 1.5});
  check_error(
      [&] {
        q({x, one, tensor(DataType::kFP8E4M3, {}, {1})});
      },
      "rtx.ir.711", "zero point");
}

TEST_CASE("QuantizeLinear fp4 e2m1, odd count, always saturating") {
  // x / 0.5 = [0.5, 1.5, 14, -200, 5] -> [0.5, 1.5, 6, -6, 4] (5 ties to even 4).
  auto y = q({f32({5}, {0.25, 0.75, 7, -100, 2.5}), f32({}, {0.5})}, out_dtype(23));
  check_tensor(y, DataType::kFP4E2M1, {5}, {0.5, 1.5, 6, -6, 4});
  // codes: 0.5 -> 1, 1.5 -> 3, 6 -> 7, -6 -> 0xF, 4 -> 6.
  CHECK(raw(y) == std::vector<uint8_t>{0x31, 0xF7, 0x06});
}

TEST_CASE("QuantizeLinear division precision") {
  // f32 x = 2.5002 with an f16 scale: the default precision is the scale's (f16), where
  // 2.5002 is 2.5 (quantum 2^-9), a tie that rounds to 2; in f32 it stays above 2.5 -> 3.
  const auto x = f32({1}, {2.5002});
  const auto s = tensor(DataType::kF16, {}, {1});
  check_tensor(q({x, s}), DataType::kUINT8, {1}, {2});
  check_tensor(q({x, s}, {{"precision", int64_t{1}}}), DataType::kUINT8, {1}, {3});
  // f16 / bf16 inputs.
  check_tensor(
      q({tensor(DataType::kF16, {2}, {1000, -6}), tensor(DataType::kF16, {}, {4})}, out_dtype(3)),
      DataType::kINT8, {2}, {127, -2});  // 250 -> 127, -1.5 -> -2
  check_tensor(q({tensor(DataType::kBF16, {1}, {10}), tensor(DataType::kBF16, {}, {4})}),
               DataType::kUINT8, {1}, {2});  // 2.5 -> 2
  // int32 x and scale: the quotient is exact (double).
  check_tensor(q({tensor(DataType::kINT32, {2}, {7, 9}), tensor(DataType::kINT32, {}, {2})}),
               DataType::kUINT8, {2}, {4, 4});  // 3.5 -> 4, 4.5 -> 4
  check_error([&] { q({x, s}, {{"precision", int64_t{7}}}); }, "rtx.ir.714", "precision");
}

TEST_CASE("QuantizeLinear inference and errors") {
  auto a = infer_op(OpKind::kQuantizeLinear,
                    {info(DataType::kF32, {kDyn, 4}), info(DataType::kF32, {4})});
  CHECK(a[0].dtype == DataType::kUINT8);
  CHECK(a[0].shape == std::vector<int64_t>{kDyn, 4});
  auto b = infer_op(OpKind::kQuantizeLinear,
                    {info(DataType::kF16, {kDyn, 6}), info(DataType::kF16, {kDyn, 2}),
                     info(DataType::kINT4, {kDyn, 2})},
                    {{"block_size", int64_t{3}}});
  CHECK(b[0].dtype == DataType::kINT4);
  CHECK(b[0].shape == std::vector<int64_t>{kDyn, 6});
  auto c = infer_op(OpKind::kQuantizeLinear,
                    {info(DataType::kF32, {2, 3}), info(DataType::kF32, {})}, out_dtype(19));
  CHECK(c[0].dtype == DataType::kFP8E5M2);

  const auto x = info(DataType::kF32, {2, 4});
  const auto s = info(DataType::kF32, {});
  auto infer = [](std::vector<TensorInfo> in, Attrs attrs = {}) {
    return infer_op(OpKind::kQuantizeLinear, std::move(in), std::move(attrs));
  };
  check_error([&] { infer({info(DataType::kINT8, {2}), s}); }, "rtx.ir.701", "x");
  check_error([&] { infer({x, info(DataType::kF64, {})}); }, "rtx.ir.702", "scale");
  check_error([&] { infer({x, s}, out_dtype(4)); }, "rtx.ir.703", "16-bit");
  check_error([&] { infer({x, s}, out_dtype(5)); }, "rtx.ir.703", "16-bit");
  check_error([&] { infer({x, s}, out_dtype(1)); }, "rtx.ir.703", "quantized");
  check_error([&] { infer({x, s, info(DataType::kINT32, {})}); }, "rtx.ir.703");
  check_error([&] { infer({x, s, info(DataType::kINT8, {})}, out_dtype(2)); }, "rtx.ir.704");
  check_error([&] { infer({x, s}, out_dtype(99)); }, "rtx.ir.715", "99");
  check_error(
      [&] {
        infer({x, info(DataType::kF32, {4}), info(DataType::kUINT8, {3})});
      },
      "rtx.ir.705");
  check_error([&] { infer({x, info(DataType::kF32, {3})}); }, "rtx.ir.706", "4");
  check_error([&] { infer({x, info(DataType::kF32, {2, 4})}); }, "rtx.ir.707", "block_size");
  check_error([&] { infer({x, s}, {{"block_size", int64_t{-1}}}); }, "rtx.ir.708");
  check_error(
      [&] {
        infer({x, info(DataType::kF32, {2})}, {{"block_size", int64_t{2}}});
      },
      "rtx.ir.709");
  check_error(
      [&] {
        infer({x, info(DataType::kF32, {2, 3})}, {{"block_size", int64_t{2}}});
      },
      "rtx.ir.710", "should be 2");
  check_error([&] { infer({x, info(DataType::kF32, {4})}, {{"axis", int64_t{2}}}); }, "rtx.ir.130");
  check_error([&] { infer({x}); }, "rtx.ir.122");
}

// ---- DequantizeLinear --------------------------------------------------------------------------

TEST_CASE("DequantizeLinear integer inputs") {
  // (x - (-1)) * 0.5
  check_tensor(dq({tensor(DataType::kINT8, {3}, {-128, 0, 127}), f32({}, {0.5}),
                   tensor(DataType::kINT8, {}, {-1})}),
               DataType::kF32, {3}, {-63.5, 0.5, 64});
  // per-axis uint8, axis 1: scale [1, 0.5], zp [128, 0].
  check_tensor(dq({tensor(DataType::kUINT8, {2, 2}, {128, 4, 0, 255}), f32({2}, {1, 0.5}),
                   tensor(DataType::kUINT8, {2}, {128, 0})}),
               DataType::kF32, {2, 2}, {0, 2, -128, 127.5});
  // int32 (no zero point in practice): exact for 2^30.
  check_tensor(dq({tensor(DataType::kINT32, {2}, {1 << 30, -5}), f32({}, {0.5})}), DataType::kF32,
               {2}, {536870912, -2.5});
  // int4, odd count: [-8, 7, -1] * 2.
  check_tensor(dq({tensor(DataType::kINT4, {3}, {-8, 7, -1}), f32({}, {2})}), DataType::kF32, {3},
               {-16, 14, -2});
  // uint4 with zp 8.
  check_tensor(dq({tensor(DataType::kUINT4, {3}, {0, 15, 8}), f32({}, {0.25}),
                   tensor(DataType::kUINT4, {}, {8})}),
               DataType::kF32, {3}, {-2, 1.75, 0});
  check_tensor(dq({tensor(DataType::kINT8, {0}, {}), f32({}, {1})}), DataType::kF32, {0}, {});
  check_tensor(dq({tensor(DataType::kINT8, {}, {-3}), f32({}, {1.5})}), DataType::kF32, {}, {-4.5});
}

TEST_CASE("DequantizeLinear float-quantized inputs") {
  check_tensor(dq({tensor(DataType::kFP8E4M3, {2}, {448, -0.3125}), f32({}, {2})}), DataType::kF32,
               {2}, {896, -0.625});
  // e5m2 bits 0x7B = 57344, 0x7C = inf, 0x7E = NaN (from_doubles would saturate inf).
  const auto e5m2 =
      HostTensor::from_vector(DataType::kFP8E5M2, {3}, std::vector<uint8_t>{0x7B, 0x7C, 0x7E});
  check_tensor(dq({e5m2, f32({}, {0.5}), tensor(DataType::kFP8E5M2, {}, {0})}), DataType::kF32, {3},
               {28672, kInf, kNaN});
  check_tensor(dq({tensor(DataType::kFP4E2M1, {3}, {6, -0.5, 1.5}), f32({}, {4})}), DataType::kF32,
               {3}, {24, -2, 6});
  check_error(
      [] {
        dq({tensor(DataType::kFP8E4M3, {1}, {1}), f32({}, {1}),
            tensor(DataType::kFP8E4M3, {}, {2})});
      },
      "rtx.ir.711");
  check_error(
      [] {
        dq({tensor(DataType::kFP4E2M1, {1}, {1}), f32({}, {1}),
            tensor(DataType::kFP4E2M1, {}, {0.5})});
      },
      "rtx.ir.711");
}

TEST_CASE("DequantizeLinear output dtype and single rounding") {
  // f16 scale: 0.1 in f16 is 0.0999755859375; * 3 = 0.2999267578125, a tie in f16 (quantum
  // 2^-12) that rounds to even 0.2998046875.
  check_tensor(dq({tensor(DataType::kINT8, {1}, {3}), tensor(DataType::kF16, {}, {0.1})}),
               DataType::kF16, {1}, {0.2998046875});
  // output_dtype bf16 from an f32 scale of 1 + 2^-8: one rounding, a tie to 1.0.
  check_tensor(dq({tensor(DataType::kUINT8, {2}, {1, 3}), f32({}, {1.00390625})}, out_dtype(16)),
               DataType::kBF16, {2}, {1.0, 3.015625});  // 3.01171875 = 192.75 quanta of 2^-6 -> 193
  check_tensor(dq({tensor(DataType::kINT8, {1}, {5}), tensor(DataType::kBF16, {}, {0.5})}),
               DataType::kBF16, {1}, {2.5});
  check_error(
      [] {
        dq({tensor(DataType::kINT8, {1}, {5}), f32({}, {1})}, out_dtype(6));
      },
      "rtx.ir.713");
}

TEST_CASE("DequantizeLinear block-wise and round trip with QuantizeLinear") {
  // x [2,3], axis 1, block 2: scale [2,2] -> cols 0-1 use scale[:,0], col 2 scale[:,1].
  check_tensor(dq({tensor(DataType::kINT8, {2, 3}, {1, 2, 3, 4, 5, 6}),
                   f32({2, 2}, {1, 10, 0.5, 100}), tensor(DataType::kINT8, {2, 2}, {0, 1, 1, 0})},
                  {{"block_size", int64_t{2}}}),
               DataType::kF32, {2, 3}, {1, 2, 20, 1.5, 2, 600});
  // Per-axis (axis 0) round trip of values already on the grid.
  const auto x = f32({2, 3}, {-1, 0, 1.5, 10, 20, -30});
  const auto s = f32({2}, {0.5, 10});
  const auto zp = tensor(DataType::kINT8, {2}, {3, -2});
  const Attrs axis0{{"axis", int64_t{0}}};
  auto y = q({x, s, zp}, axis0);
  check_tensor(y, DataType::kINT8, {2, 3}, {1, 3, 6, -1, 0, -5});
  check_tensor(dq({y, s, zp}, axis0), DataType::kF32, {2, 3}, {-1, 0, 1.5, 10, 20, -30});
}

TEST_CASE("DequantizeLinear inference and errors") {
  auto a = infer_op(OpKind::kDequantizeLinear,
                    {info(DataType::kINT4, {kDyn, 8}), info(DataType::kF16, {kDyn, 2})},
                    {{"block_size", int64_t{4}}});
  CHECK(a[0].dtype == DataType::kF16);
  CHECK(a[0].shape == std::vector<int64_t>{kDyn, 8});
  const auto x = info(DataType::kINT8, {2, 4});
  const auto s = info(DataType::kF32, {});
  auto infer = [](std::vector<TensorInfo> in, Attrs attrs = {}) {
    return infer_op(OpKind::kDequantizeLinear, std::move(in), std::move(attrs));
  };
  check_error([&] { infer({info(DataType::kF32, {2}), s}); }, "rtx.ir.701");
  check_error([&] { infer({info(DataType::kINT64, {2}), s}); }, "rtx.ir.701");
  check_error([&] { infer({x, info(DataType::kINT32, {})}); }, "rtx.ir.702");
  check_error([&] { infer({x, s, info(DataType::kUINT8, {})}); }, "rtx.ir.712");
  check_error([&] { infer({x, s}, out_dtype(7)); }, "rtx.ir.713");
  check_error([&] { infer({x, s}, out_dtype(4)); }, "rtx.ir.713", "UINT16");
  check_error([&] { infer({x, info(DataType::kF32, {2})}); }, "rtx.ir.706");
  check_error(
      [&] {
        infer({x, info(DataType::kF32, {4}), info(DataType::kINT8, {})});
      },
      "rtx.ir.705");
  check_error(
      [&] {
        infer({x, info(DataType::kF32, {2, 3})}, {{"block_size", int64_t{2}}});
      },
      "rtx.ir.710");
  CHECK(ir::has_schema(OpKind::kQuantizeLinear));
  CHECK(ir::has_schema(OpKind::kDequantizeLinear));
}

}  // namespace
}  // namespace rtx::test
