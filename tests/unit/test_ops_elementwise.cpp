// SPDX-License-Identifier: Apache-2.0
// Elementwise op family: inference and reference results against hand-computed values (unary
// math, Clip, Cast with every target class, broadcasting binary ops, variadic Max/Min, logic,
// Where), dtype classes, edge cases (NaN, overflow, wrap-around, empty and 0-d tensors, dynamic
// dims) and one error per check.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>

#include "ir/onnx_dtype.hpp"
#include "rtx/numeric.hpp"
#include "tests/unit/op_test_util.hpp"

namespace rtx::test {
namespace {

using ir::OpKind;
using ir::TensorInfo;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kDyn = ir::kDynamic;

HostTensor bools(std::vector<int64_t> shape, std::vector<double> v) {
  return tensor(DataType::kBOOL, std::move(shape), std::move(v));
}
HostTensor i64_exact(std::vector<int64_t> shape, const std::vector<int64_t>& v) {
  return HostTensor::from_vector(DataType::kINT64, std::move(shape), v);
}
TensorInfo info(DataType t, std::vector<int64_t> shape) {
  return TensorInfo{t, std::move(shape), true};
}

HostTensor run1(OpKind op, std::vector<HostTensor> inputs, Attrs attrs = {}) {
  auto out = run_op(op, std::move(inputs), std::move(attrs));
  REQUIRE(out.size() == 1);
  return out[0];
}

std::vector<uint8_t> raw(const HostTensor& t) {
  const auto* p = reinterpret_cast<const uint8_t*>(t.data());
  return std::vector<uint8_t>(p, p + t.byte_size());
}

// ---- unary -------------------------------------------------------------------------------------

TEST_CASE("Relu: floats, signed ints, dtype check, dynamic dims") {
  check_tensor(run1(OpKind::kRelu, {f32({4}, {-2, -0.5, 0, 1.5})}), DataType::kF32, {4},
               {0, 0, 0, 1.5});
  check_tensor(run1(OpKind::kRelu, {tensor(DataType::kF16, {2}, {-1, 2.5})}), DataType::kF16, {2},
               {0, 2.5});
  check_tensor(run1(OpKind::kRelu, {tensor(DataType::kINT32, {2}, {-3, 4})}), DataType::kINT32, {2},
               {0, 4});
  check_tensor(run1(OpKind::kRelu, {f32({}, {-7})}), DataType::kF32, {}, {0});       // 0-d
  check_tensor(run1(OpKind::kRelu, {f32({0, 3}, {})}), DataType::kF32, {0, 3}, {});  // empty
  check_tensor(run1(OpKind::kRelu, {f32({1}, {kNaN})}), DataType::kF32, {1}, {kNaN});
  auto inf = infer_op(OpKind::kRelu, {info(DataType::kBF16, {kDyn, 3})});
  CHECK(inf[0].dtype == DataType::kBF16);
  CHECK(inf[0].shape == std::vector<int64_t>{kDyn, 3});
  // ONNX Relu takes signed integers only.
  check_error([] { run1(OpKind::kRelu, {tensor(DataType::kUINT8, {1}, {1})}); }, "rtx.ir.201",
              "u8");
}

TEST_CASE("LeakyRelu: default and explicit alpha") {
  // The default alpha is ONNX's float32 0.01f (0.009999999776...): -2 * alpha is exact in f32.
  check_tensor(run1(OpKind::kLeakyRelu, {f32({3}, {-2, 3, 0})}), DataType::kF32, {3},
               {-2.0 * static_cast<double>(0.01f), 3, 0});
  check_tensor(run1(OpKind::kLeakyRelu, {f32({2}, {-1, 1})}, {{"alpha", 0.5}}), DataType::kF32, {2},
               {-0.5, 1});
  check_error([] { run1(OpKind::kLeakyRelu, {tensor(DataType::kINT32, {1}, {1})}); }, "rtx.ir.201");
  check_error(
      [] {
        run1(OpKind::kLeakyRelu, {f32({1}, {1})}, {{"alpha", std::string("x")}});
      },
      "rtx.ir.140");
}

TEST_CASE("Sigmoid, Tanh, Silu") {
  // sigmoid(ln 3) = 1 / (1 + 1/3) = 0.75; tanh(atanh(0.5)) = 0.5.
  check_tensor(
      run1(OpKind::kSigmoid, {tensor(DataType::kF64, {4}, {0, std::log(3.0), -1000, kInf})}),
      DataType::kF64, {4}, {0.5, 0.75, 0, 1}, 1e-15);
  check_tensor(run1(OpKind::kTanh, {tensor(DataType::kF64, {3}, {0, std::atanh(0.5), -kInf})}),
               DataType::kF64, {3}, {0, 0.5, -1}, 1e-15);
  // silu(x) = x * sigmoid(x): sigmoid(1) = 1 / (1 + e^-1) = 0.7310585786300049.
  check_tensor(run1(OpKind::kSilu, {f32({3}, {1, 0, -1})}), DataType::kF32, {3},
               {0.7310585786300049, 0, -0.2689414213699951}, 1e-7);
  check_error([] { run1(OpKind::kSigmoid, {tensor(DataType::kINT8, {1}, {1})}); }, "rtx.ir.201");
}

TEST_CASE("Erf: floats and integers (truncated like numpy astype)") {
  check_tensor(run1(OpKind::kErf, {tensor(DataType::kF64, {3}, {0, 0.5, -0.5})}), DataType::kF64,
               {3}, {0, 0.5204998778130465, -0.5204998778130465}, 1e-15);
  // erf(3) = 0.99997... truncates to 0; erf(7) is 1 in double.
  check_tensor(run1(OpKind::kErf, {tensor(DataType::kINT32, {4}, {0, 3, 7, -7})}), DataType::kINT32,
               {4}, {0, 0, 1, -1});
}

TEST_CASE("Gelu: exact and tanh approximation") {
  // 0.5 x (1 + erf(x / sqrt 2)) at 1, -1, 2.
  check_tensor(run1(OpKind::kGelu, {tensor(DataType::kF64, {4}, {1, -1, 2, 0})}), DataType::kF64,
               {4}, {0.8413447460685429, -0.15865525393145707, 1.9544997361036416, 0}, 1e-15);
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  check_tensor(run1(OpKind::kGelu, {tensor(DataType::kF64, {3}, {1, -1, 2})},
                    {{"approximate", std::string("tanh")}}),
               DataType::kF64, {3}, {0.8411919906082768, -0.15880800939172324, 1.954597694087775},
               1e-15);
  check_tensor(run1(OpKind::kGelu, {tensor(DataType::kF16, {1}, {1})}), DataType::kF16, {1},
               {0.84130859375});  // 0.841344... to f16 (spacing 2^-11 in [0.5, 1))
  check_error(
      [] {
        run1(OpKind::kGelu, {f32({1}, {1})}, {{"approximate", std::string("erf")}});
      },
      "rtx.ir.207", "approximate");
  check_error(
      [] {
        infer_op(OpKind::kGelu, {info(DataType::kF32, {2})}, {{"approximate", std::string("x")}});
      },
      "rtx.ir.207");
}

TEST_CASE("Exp, Log, Sqrt, Reciprocal: special values") {
  check_tensor(run1(OpKind::kExp, {tensor(DataType::kF64, {3}, {0, 1, -kInf})}), DataType::kF64,
               {3}, {1, std::numbers::e, 0}, 1e-15);
  check_tensor(run1(OpKind::kLog, {f32({4}, {1, 0, -1, kInf})}), DataType::kF32, {4},
               {0, -kInf, kNaN, kInf});
  check_tensor(run1(OpKind::kSqrt, {f32({3}, {4, 2, -1})}), DataType::kF32, {3},
               {2, 1.4142135381698608, kNaN});  // sqrt(2) rounded to f32
  check_tensor(run1(OpKind::kReciprocal, {tensor(DataType::kBF16, {4}, {2, -4, 0, 3})}),
               DataType::kBF16, {4}, {0.5, -0.25, kInf, 0.333984375});  // 1/3 in bf16: 0x3EAB
  check_error([] { run1(OpKind::kExp, {tensor(DataType::kINT64, {1}, {1})}); }, "rtx.ir.201");
}

TEST_CASE("Neg and Abs: floats and integers with two's complement wrap") {
  check_tensor(run1(OpKind::kNeg, {f32({2}, {1, -2})}), DataType::kF32, {2}, {-1, 2});
  check_tensor(run1(OpKind::kNeg, {tensor(DataType::kINT8, {2}, {-128, 5})}), DataType::kINT8, {2},
               {-128, -5});                    // -(-128) wraps in int8
  const int64_t big = (int64_t{1} << 62) + 1;  // not representable in double
  auto n = run1(OpKind::kNeg, {i64_exact({1}, {big})});
  CHECK(n.get_int(0) == -big);
  check_error([] { run1(OpKind::kNeg, {tensor(DataType::kUINT8, {1}, {1})}); }, "rtx.ir.201");
  check_tensor(run1(OpKind::kAbs, {f32({2}, {-1.5, 2})}), DataType::kF32, {2}, {1.5, 2});
  check_tensor(run1(OpKind::kAbs, {tensor(DataType::kUINT8, {1}, {200})}), DataType::kUINT8, {1},
               {200});
  check_tensor(run1(OpKind::kAbs, {tensor(DataType::kINT32, {2}, {-7, 7})}), DataType::kINT32, {2},
               {7, 7});
  check_error([] { run1(OpKind::kAbs, {bools({1}, {1})}); }, "rtx.ir.201");
}

TEST_CASE("Floor, Ceil, Sin, Cos") {
  check_tensor(run1(OpKind::kFloor, {f32({4}, {-1.5, 1.5, 2, -0.0})}), DataType::kF32, {4},
               {-2, 1, 2, 0});
  check_tensor(run1(OpKind::kCeil, {f32({3}, {-1.5, 1.5, 2})}), DataType::kF32, {3}, {-1, 2, 2});
  check_error([] { run1(OpKind::kFloor, {tensor(DataType::kINT32, {1}, {1})}); }, "rtx.ir.201");
  const double half_pi = std::numbers::pi / 2;
  check_tensor(run1(OpKind::kSin, {tensor(DataType::kF64, {2}, {0, half_pi})}), DataType::kF64, {2},
               {0, 1});
  check_tensor(run1(OpKind::kCos, {tensor(DataType::kF64, {2}, {0, std::numbers::pi})}),
               DataType::kF64, {2}, {1, -1});
}

TEST_CASE("float unary ops in f16, bf16 and f32 round once from the exact result") {
  const auto h = [](double v) { return tensor(DataType::kF16, {1}, {v}); };
  const auto b = [](double v) { return tensor(DataType::kBF16, {1}, {v}); };
  // f16 quanta: 2^-9 in [2,4), 2^-10 in [1,2), 2^-12 in [0.25,0.5), 2^-17 in [2^-7,2^-6).
  check_tensor(run1(OpKind::kExp, {h(1)}), DataType::kF16, {1}, {2.71875});     // e
  check_tensor(run1(OpKind::kSqrt, {h(2)}), DataType::kF16, {1}, {1.4140625});  // sqrt 2
  check_tensor(run1(OpKind::kReciprocal, {h(3)}), DataType::kF16, {1}, {0.333251953125});
  check_tensor(run1(OpKind::kLeakyRelu, {h(-1)}), DataType::kF16, {1}, {-0.01000213623046875});
  check_tensor(run1(OpKind::kLog, {h(1)}), DataType::kF16, {1}, {0});
  check_tensor(run1(OpKind::kSigmoid, {h(0)}), DataType::kF16, {1}, {0.5});
  check_tensor(run1(OpKind::kCos, {h(0)}), DataType::kF16, {1}, {1});
  check_tensor(run1(OpKind::kCeil, {h(-1.5)}), DataType::kF16, {1}, {-1});
  check_tensor(run1(OpKind::kAbs, {h(-2.5)}), DataType::kF16, {1}, {2.5});
  // bf16 quanta: 2^-7 in [1,2), 2^-8 in [0.5,1).
  check_tensor(run1(OpKind::kSqrt, {b(2)}), DataType::kBF16, {1}, {1.4140625});
  check_tensor(run1(OpKind::kSilu, {b(1)}), DataType::kBF16, {1}, {0.73046875});  // 0.7310...
  check_tensor(run1(OpKind::kGelu, {b(1)}), DataType::kBF16, {1}, {0.83984375});  // 0.8413...
  check_tensor(run1(OpKind::kTanh, {b(0)}), DataType::kBF16, {1}, {0});
  check_tensor(run1(OpKind::kFloor, {b(-1.5)}), DataType::kBF16, {1}, {-2});
  check_tensor(run1(OpKind::kNeg, {b(0.5)}), DataType::kBF16, {1}, {-0.5});
  // f32: erf(0.5) = 0.52049987781... -> 0.5204998850822449; sin(f32(pi/2)) -> 1.
  check_tensor(run1(OpKind::kErf, {f32({1}, {0.5})}), DataType::kF32, {1}, {0.5204998850822449});
  check_tensor(run1(OpKind::kSin, {f32({1}, {std::numbers::pi / 2})}), DataType::kF32, {1}, {1});
  check_tensor(run1(OpKind::kRelu, {tensor(DataType::kINT8, {2}, {-128, 127})}), DataType::kINT8,
               {2}, {0, 127});
}

TEST_CASE("Not, IsNaN, IsInf") {
  check_tensor(run1(OpKind::kNot, {bools({2}, {1, 0})}), DataType::kBOOL, {2}, {0, 1});
  check_error([] { run1(OpKind::kNot, {f32({1}, {1})}); }, "rtx.ir.201");
  check_tensor(run1(OpKind::kIsNaN, {f32({3}, {kNaN, 1, kInf})}), DataType::kBOOL, {3}, {1, 0, 0});
  check_tensor(run1(OpKind::kIsNaN, {tensor(DataType::kFP8E4M3, {2}, {kNaN, 1})}), DataType::kBOOL,
               {2}, {1, 0});
  check_error([] { run1(OpKind::kIsNaN, {tensor(DataType::kINT32, {1}, {1})}); }, "rtx.ir.201");
  const auto x = tensor(DataType::kF16, {4}, {kInf, -kInf, 1, kNaN});
  check_tensor(run1(OpKind::kIsInf, {x}), DataType::kBOOL, {4}, {1, 1, 0, 0});
  check_tensor(run1(OpKind::kIsInf, {x}, {{"detect_negative", int64_t{0}}}), DataType::kBOOL, {4},
               {1, 0, 0, 0});
  check_tensor(run1(OpKind::kIsInf, {x}, {{"detect_positive", int64_t{0}}}), DataType::kBOOL, {4},
               {0, 1, 0, 0});
  // e5m2 bits: 0x7C = +inf, 0x7B = 57344, 0xFC = -inf (from_doubles would saturate inf).
  const auto e5m2 =
      HostTensor::from_vector(DataType::kFP8E5M2, {3}, std::vector<uint8_t>{0x7C, 0x7B, 0xFC});
  check_tensor(run1(OpKind::kIsInf, {e5m2}, {{"detect_negative", int64_t{0}}}), DataType::kBOOL,
               {3}, {1, 0, 0});
}

TEST_CASE("Identity copies bits for every dtype") {
  const int64_t big = (int64_t{1} << 60) + 3;
  auto y = run1(OpKind::kIdentity, {i64_exact({2}, {big, -big})});
  CHECK(y.get_int(0) == big);
  CHECK(y.get_int(1) == -big);
  auto x4 = tensor(DataType::kINT4, {3}, {-8, 7, -1});
  auto y4 = run1(OpKind::kIdentity, {x4});
  CHECK(y4.dtype() == DataType::kINT4);
  CHECK(raw(y4) == raw(x4));
  CHECK(y4.data() != x4.data());  // a copy, not an alias
}

// ---- Clip --------------------------------------------------------------------------------------

TEST_CASE("Clip: optional bounds, min > max, NaN, integers") {
  const auto x = f32({3}, {-2, 0.5, 3});
  check_tensor(run1(OpKind::kClip, {x, f32({}, {0}), f32({}, {1})}), DataType::kF32, {3},
               {0, 0.5, 1});
  check_tensor(run1(OpKind::kClip, {x, HostTensor(), f32({1}, {1})}), DataType::kF32, {3},
               {-2, 0.5, 1});
  check_tensor(run1(OpKind::kClip, {x, f32({}, {0})}), DataType::kF32, {3}, {0, 0.5, 3});
  check_tensor(run1(OpKind::kClip, {x}), DataType::kF32, {3}, {-2, 0.5, 3});
  // min > max: every element is max (ONNX, numpy).
  check_tensor(run1(OpKind::kClip, {x, f32({}, {2}), f32({}, {1})}), DataType::kF32, {3},
               {1, 1, 1});
  check_tensor(run1(OpKind::kClip, {f32({2}, {kNaN, 5}), f32({}, {0}), f32({}, {1})}),
               DataType::kF32, {2}, {kNaN, 1});
  check_tensor(
      run1(OpKind::kClip, {tensor(DataType::kINT8, {3}, {-100, 50, 120}),
                           tensor(DataType::kINT8, {}, {-10}), tensor(DataType::kINT8, {}, {100})}),
      DataType::kINT8, {3}, {-10, 50, 100});
  const int64_t big = (int64_t{1} << 60) + 1;
  auto y = run1(OpKind::kClip, {i64_exact({2}, {big, -big}), i64_exact({}, {-big + 2})});
  CHECK(y.get_int(0) == big);
  CHECK(y.get_int(1) == -big + 2);
  check_error(
      [&] {
        run1(OpKind::kClip, {x, tensor(DataType::kF16, {}, {0})});
      },
      "rtx.ir.206", "min");
  check_error([&] { run1(OpKind::kClip, {x, f32({2}, {0, 1})}); }, "rtx.ir.205", "scalar");
  check_error([] { run1(OpKind::kClip, {bools({1}, {1})}); }, "rtx.ir.201");
  auto inf =
      infer_op(OpKind::kClip, {info(DataType::kF32, {kDyn, 2}), info(DataType::kF32, {kDyn})});
  CHECK(inf[0].shape == std::vector<int64_t>{kDyn, 2});
}

// ---- Cast --------------------------------------------------------------------------------------

Attrs to(int64_t onnx) {
  return Attrs{{"to", onnx}};
}

TEST_CASE("onnx dtype table round trips") {
  for (int i = 0; i < kDataTypeCount; ++i) {
    const auto t = static_cast<DataType>(i);
    CHECK(ir::data_type_from_onnx(ir::onnx_from_data_type(t)) == t);
  }
  CHECK(ir::onnx_from_data_type(DataType::kF32) == 1);
  CHECK(ir::onnx_from_data_type(DataType::kFP8E5M2) == 19);
  CHECK(ir::onnx_from_data_type(DataType::kFP4E2M1) == 23);
  CHECK(!ir::data_type_from_onnx(8).has_value());   // STRING
  CHECK(!ir::data_type_from_onnx(18).has_value());  // FLOAT8E4M3FNUZ
  CHECK(ir::onnx_type_name(5) == "INT16");
  CHECK(ir::onnx_type_name(99).find("99") != std::string::npos);
}

TEST_CASE("Cast float -> integer truncates toward zero and saturates") {
  check_tensor(run1(OpKind::kCast, {f32({4}, {1.9, -1.9, 2.5, -0.5})}, to(6)), DataType::kINT32,
               {4}, {1, -1, 2, 0});
  // Out of range (undefined in ONNX): saturate; NaN -> 0.
  check_tensor(run1(OpKind::kCast, {f32({4}, {300, -5, kNaN, kInf})}, to(2)), DataType::kUINT8, {4},
               {255, 0, 0, 255});
  check_tensor(run1(OpKind::kCast, {f32({3}, {-kInf, 127.9, -128.7})}, to(3)), DataType::kINT8, {3},
               {-128, 127, -128});
  auto big = run1(OpKind::kCast, {tensor(DataType::kF64, {2}, {9007199254740993.0, 1e300})}, to(7));
  CHECK(big.get_int(0) == 9007199254740992);  // the double nearest 2^53 + 1
  CHECK(big.get_int(1) == std::numeric_limits<int64_t>::max());
  // 4-bit: 5 elements (odd) pack into 3 bytes, low nibble first.
  auto y4 = run1(OpKind::kCast, {f32({5}, {7.9, -8.5, 100, -3.2, 1})}, to(22));
  check_tensor(y4, DataType::kINT4, {5}, {7, -8, 7, -3, 1});
  CHECK(raw(y4) == std::vector<uint8_t>{0x87, 0xD7, 0x01});
}

TEST_CASE("Cast integer -> integer wraps, integer -> float rounds once") {
  check_tensor(run1(OpKind::kCast, {tensor(DataType::kINT32, {3}, {200, -129, 127})}, to(3)),
               DataType::kINT8, {3}, {-56, 127, 127});
  check_tensor(run1(OpKind::kCast, {tensor(DataType::kINT32, {3}, {17, 3, -1})}, to(21)),
               DataType::kUINT4, {3}, {1, 3, 15});
  auto w = run1(OpKind::kCast, {i64_exact({1}, {(int64_t{1} << 33) + 5})}, to(6));
  CHECK(w.get_int(0) == 5);
  // f16: 65519 rounds down to 65504 (max), 65520 overflows to inf, 2049 ties to even 2048.
  check_tensor(run1(OpKind::kCast, {i64_exact({3}, {65519, 65520, 2049})}, to(10)), DataType::kF16,
               {3}, {65504, kInf, 2048});
  check_tensor(run1(OpKind::kCast, {tensor(DataType::kINT4, {3}, {-8, 7, -1})}, to(1)),
               DataType::kF32, {3}, {-8, 7, -1});
  check_tensor(run1(OpKind::kCast, {bools({2}, {1, 0})}, to(1)), DataType::kF32, {2}, {1, 0});
  check_tensor(run1(OpKind::kCast, {tensor(DataType::kINT32, {2}, {0, 5})}, to(9)), DataType::kBOOL,
               {2}, {0, 1});
  // int -> fp8 honours saturate: 1000 -> 448, or NaN without saturation.
  check_tensor(run1(OpKind::kCast, {tensor(DataType::kINT32, {1}, {1000})}, to(17)),
               DataType::kFP8E4M3, {1}, {448});
  check_tensor(run1(OpKind::kCast, {tensor(DataType::kINT32, {1}, {1000})},
                    {{"to", int64_t{17}}, {"saturate", int64_t{0}}}),
               DataType::kFP8E4M3, {1}, {kNaN});
}

TEST_CASE("Cast float -> float: rounding to nearest even, fp8 saturation, fp4") {
  // bf16 has 7 fraction bits: 1 + 2^-8 ties to 1; 1 + 3*2^-8 ties to 1 + 2^-6.
  check_tensor(run1(OpKind::kCast, {f32({2}, {1.00390625, 1.01171875})}, to(16)), DataType::kBF16,
               {2}, {1.0, 1.015625});
  check_tensor(
      run1(OpKind::kCast, {tensor(DataType::kF64, {1}, {1 + std::ldexp(1.0, -30)})}, to(1)),
      DataType::kF32, {1}, {1.0});
  check_tensor(run1(OpKind::kCast, {tensor(DataType::kF16, {2}, {0.5, -kInf})}, to(11)),
               DataType::kF64, {2}, {0.5, -kInf});
  const auto x = f32({5}, {500, -1000, kInf, kNaN, 0.3});
  // e4m3: 0.3 = 1.2 * 2^-2, quantum 2^-5 -> 10 * 2^-5 = 0.3125.
  auto sat = run1(OpKind::kCast, {x}, to(17));
  check_tensor(sat, DataType::kFP8E4M3, {5}, {448, -448, 448, kNaN, 0.3125});
  auto nosat = run1(OpKind::kCast, {x}, {{"to", int64_t{17}}, {"saturate", int64_t{0}}});
  check_tensor(nosat, DataType::kFP8E4M3, {5}, {kNaN, kNaN, kNaN, kNaN, 0.3125});
  CHECK(raw(nosat)[0] == 0x7F);
  CHECK(raw(nosat)[1] == 0xFF);
  // e5m2: 62000 rounds to 65536 > 57344.
  const auto y = f32({4}, {62000, kInf, -62000, 1});
  check_tensor(run1(OpKind::kCast, {y}, to(19)), DataType::kFP8E5M2, {4},
               {57344, 57344, -57344, 1});
  check_tensor(run1(OpKind::kCast, {y}, {{"to", int64_t{19}}, {"saturate", int64_t{0}}}),
               DataType::kFP8E5M2, {4}, {kInf, kInf, -kInf, 1});
  // fp4 e2m1 (codes 0..7 = 0, .5, 1, 1.5, 2, 3, 4, 6): nearest even, saturating, NaN -> +6.
  auto f4 =
      run1(OpKind::kCast, {f32({9}, {0.25, 0.75, 2.5, 5, 7, -100, kNaN, -0.0, 1.25})}, to(23));
  check_tensor(f4, DataType::kFP4E2M1, {9}, {0, 1, 2, 4, 6, -6, 6, 0, 1});
  CHECK(raw(f4) == std::vector<uint8_t>{0x20, 0x64, 0xF7, 0x87, 0x02});
  check_tensor(run1(OpKind::kCast, {tensor(DataType::kFP8E4M3, {2}, {448, -0.3125})}, to(1)),
               DataType::kF32, {2}, {448, -0.3125});
  check_tensor(run1(OpKind::kCast, {f32({4}, {0, -0.0, 0.1, kNaN})}, to(9)), DataType::kBOOL, {4},
               {0, 0, 1, 1});
}

TEST_CASE("Cast: same type copies; bad targets are clear errors") {
  const int64_t big = (int64_t{1} << 61) + 7;
  auto y = run1(OpKind::kCast, {i64_exact({1}, {big})}, to(7));
  CHECK(y.get_int(0) == big);
  auto inf = infer_op(OpKind::kCast, {info(DataType::kF32, {kDyn, 4})}, to(10));
  CHECK(inf[0].dtype == DataType::kF16);
  CHECK(inf[0].shape == std::vector<int64_t>{kDyn, 4});
  const auto x = f32({1}, {1});
  check_error([&] { run1(OpKind::kCast, {x}, to(8)); }, "rtx.ir.208", "STRING");
  check_error([&] { run1(OpKind::kCast, {x}, to(4)); }, "rtx.ir.208", "UINT16");
  check_error([&] { run1(OpKind::kCast, {x}, to(18)); }, "rtx.ir.208", "FLOAT8E4M3FNUZ");
  check_error([&] { run1(OpKind::kCast, {x}, to(14)); }, "rtx.ir.208", "COMPLEX64");
  check_error([&] { run1(OpKind::kCast, {x}, to(99)); }, "rtx.ir.209", "99");
  check_error([&] { run1(OpKind::kCast, {x}); }, "rtx.ir.141", "to");
}

// ---- binary arithmetic -------------------------------------------------------------------------

TEST_CASE("Add/Sub/Mul: broadcasting and dtype classes") {
  // [2,3] + [3]
  check_tensor(run1(OpKind::kAdd, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {10, 20, 30})}),
               DataType::kF32, {2, 3}, {11, 22, 33, 14, 25, 36});
  // [2,1] - [1,3]
  check_tensor(run1(OpKind::kSub, {f32({2, 1}, {1, 2}), f32({1, 3}, {1, 2, 3})}), DataType::kF32,
               {2, 3}, {0, -1, -2, 1, 0, -1});
  check_tensor(run1(OpKind::kAdd, {f32({}, {1}), f32({}, {2})}), DataType::kF32, {}, {3});
  check_tensor(run1(OpKind::kMul, {f32({}, {2}), f32({2}, {3, 4})}), DataType::kF32, {2}, {6, 8});
  check_tensor(run1(OpKind::kAdd, {f32({0, 3}, {}), f32({3}, {1, 2, 3})}), DataType::kF32, {0, 3},
               {});
  check_tensor(
      run1(OpKind::kMul, {tensor(DataType::kF16, {1}, {1.5}), tensor(DataType::kF16, {1}, {3})}),
      DataType::kF16, {1}, {4.5});
  // bf16: 1 + 2^-7 is representable, 1 + 2^-8 ties to 1.
  check_tensor(run1(OpKind::kAdd, {tensor(DataType::kBF16, {2}, {1, 1}),
                                   tensor(DataType::kBF16, {2}, {0.0078125, 0.00390625})}),
               DataType::kBF16, {2}, {1.0078125, 1});
  check_tensor(
      run1(OpKind::kAdd, {tensor(DataType::kF64, {1}, {0.1}), tensor(DataType::kF64, {1}, {0.2})}),
      DataType::kF64, {1}, {0.30000000000000004});
  // Integers wrap to their width.
  check_tensor(run1(OpKind::kAdd,
                    {tensor(DataType::kINT8, {1}, {100}), tensor(DataType::kINT8, {1}, {100})}),
               DataType::kINT8, {1}, {-56});
  check_tensor(
      run1(OpKind::kSub, {tensor(DataType::kUINT8, {1}, {3}), tensor(DataType::kUINT8, {1}, {5})}),
      DataType::kUINT8, {1}, {254});
  check_tensor(run1(OpKind::kMul, {tensor(DataType::kINT32, {1}, {65536}),
                                   tensor(DataType::kINT32, {1}, {65536})}),
               DataType::kINT32, {1}, {0});
  const int64_t p60 = int64_t{1} << 60;
  auto s = run1(OpKind::kAdd, {i64_exact({1}, {p60 + 1}), i64_exact({1}, {p60})});
  CHECK(s.get_int(0) == 2 * p60 + 1);
}

TEST_CASE("binary inference: dynamic dims, dtype and broadcast errors") {
  auto a = infer_op(OpKind::kAdd, {info(DataType::kF32, {kDyn, 3}), info(DataType::kF32, {1, 3})});
  CHECK(a[0].shape == std::vector<int64_t>{kDyn, 3});
  auto b = infer_op(OpKind::kMul, {info(DataType::kF32, {kDyn, 1}), info(DataType::kF32, {4})});
  CHECK(b[0].shape == std::vector<int64_t>{kDyn, 4});
  auto c = infer_op(OpKind::kSub, {info(DataType::kINT32, {kDyn}), info(DataType::kINT32, {5})});
  CHECK(c[0].shape == std::vector<int64_t>{5});
  auto d = infer_op(OpKind::kGreater, {info(DataType::kF16, {2, kDyn}), info(DataType::kF16, {})});
  CHECK(d[0].dtype == DataType::kBOOL);
  CHECK(d[0].shape == std::vector<int64_t>{2, kDyn});
  check_error(
      [] {
        infer_op(OpKind::kAdd, {info(DataType::kF32, {2}), info(DataType::kF16, {2})});
      },
      "rtx.ir.202", "f16");
  check_error(
      [] {
        infer_op(OpKind::kAdd, {info(DataType::kF32, {2, 3}), info(DataType::kF32, {2})});
      },
      "rtx.ir.131");
  check_error(
      [] {
        infer_op(OpKind::kAdd, {info(DataType::kBOOL, {2}), info(DataType::kBOOL, {2})});
      },
      "rtx.ir.201");
  check_error([] { infer_op(OpKind::kAdd, {info(DataType::kF32, {2})}); }, "rtx.ir.122");
}

TEST_CASE("Div: IEEE for floats, truncation and errors for integers") {
  check_tensor(run1(OpKind::kDiv, {f32({4}, {1, -1, 0, 7}), f32({4}, {0, 0, 0, 2})}),
               DataType::kF32, {4}, {kInf, -kInf, kNaN, 3.5});
  check_tensor(run1(OpKind::kDiv, {tensor(DataType::kINT32, {4}, {7, -7, 7, -7}),
                                   tensor(DataType::kINT32, {4}, {2, 2, -2, -2})}),
               DataType::kINT32, {4}, {3, -3, -3, 3});
  check_tensor(run1(OpKind::kDiv,
                    {tensor(DataType::kINT8, {1}, {-128}), tensor(DataType::kINT8, {1}, {-1})}),
               DataType::kINT8, {1}, {-128});
  const int64_t lo = std::numeric_limits<int64_t>::min();
  auto m = run1(OpKind::kDiv, {i64_exact({1}, {lo}), i64_exact({1}, {-1})});
  CHECK(m.get_int(0) == lo);
  check_tensor(run1(OpKind::kDiv,
                    {tensor(DataType::kUINT8, {1}, {200}), tensor(DataType::kUINT8, {1}, {7})}),
               DataType::kUINT8, {1}, {28});
  check_error(
      [] {
        run1(OpKind::kDiv,
             {tensor(DataType::kINT32, {2}, {1, 2}), tensor(DataType::kINT32, {2}, {1, 0})});
      },
      "rtx.ir.212", "zero");
}

TEST_CASE("Pow: mixed base and exponent dtypes; output is the base's") {
  check_tensor(run1(OpKind::kPow, {f32({3}, {2, 4, -2}), f32({3}, {3, 0.5, 3})}), DataType::kF32,
               {3}, {8, 2, -8});
  check_tensor(run1(OpKind::kPow, {f32({2}, {2, 3}), tensor(DataType::kINT64, {2}, {2, -1})}),
               DataType::kF32, {2}, {4, 0.3333333432674408});  // 1/3 rounded to f32
  // integer base, float exponent: computed in double, truncated (sqrt 2 -> 1).
  check_tensor(run1(OpKind::kPow, {tensor(DataType::kINT32, {2}, {2, 3}), f32({2}, {0.5, 2})}),
               DataType::kINT32, {2}, {1, 9});
  auto p = run1(OpKind::kPow,
                {i64_exact({6}, {3, -2, 2, 1, -1, 5}), i64_exact({6}, {4, 3, 62, -5, -3, -2})});
  CHECK(p.to_ints() == std::vector<int64_t>{81, -8, int64_t{1} << 62, 1, -1, 0});
  check_tensor(run1(OpKind::kPow, {f32({2, 2}, {1, 2, 3, 4}), f32({}, {2})}), DataType::kF32,
               {2, 2}, {1, 4, 9, 16});
  check_error(
      [] {
        run1(OpKind::kPow,
             {tensor(DataType::kINT32, {1}, {0}), tensor(DataType::kINT32, {1}, {-1})});
      },
      "rtx.ir.214");
  check_error(
      [] {
        run1(OpKind::kPow,
             {tensor(DataType::kUINT8, {1}, {2}), tensor(DataType::kUINT8, {1}, {2})});
      },
      "rtx.ir.201", "base");
  check_error(
      [] {
        run1(OpKind::kPow, {f32({1}, {2}), bools({1}, {1})});
      },
      "rtx.ir.201", "exponent");
}

TEST_CASE("Max/Min: variadic broadcasting, NaN propagation, integers") {
  // [2] , [] , [2,1] -> [2,2]
  check_tensor(run1(OpKind::kMax, {f32({2}, {1, 5}), f32({}, {3}), f32({2, 1}, {0, 10})}),
               DataType::kF32, {2, 2}, {3, 5, 10, 10});
  check_tensor(run1(OpKind::kMin, {f32({2}, {1, 5}), f32({}, {3}), f32({2, 1}, {0, 10})}),
               DataType::kF32, {2, 2}, {0, 0, 1, 3});
  check_tensor(run1(OpKind::kMax, {f32({3}, {kNaN, 1, 2}), f32({3}, {0, kNaN, 1})}), DataType::kF32,
               {3}, {kNaN, kNaN, 2});
  check_tensor(run1(OpKind::kMin, {tensor(DataType::kF16, {2}, {-1, 4})}), DataType::kF16, {2},
               {-1, 4});
  const int64_t big = (int64_t{1} << 60) + 1;
  auto m = run1(OpKind::kMax, {i64_exact({1}, {big}), i64_exact({1}, {big - 1})});
  CHECK(m.get_int(0) == big);
  check_tensor(run1(OpKind::kMin, {tensor(DataType::kUINT8, {2}, {200, 3}),
                                   tensor(DataType::kUINT8, {2}, {100, 4})}),
               DataType::kUINT8, {2}, {100, 3});
  check_error([] { run1(OpKind::kMax, {}); }, "rtx.ir.122");
  check_error(
      [] {
        run1(OpKind::kMax, {f32({1}, {1}), f32({1}, {1}), tensor(DataType::kINT32, {1}, {1})});
      },
      "rtx.ir.202", "input 2");
}

TEST_CASE("Mod: Python and C remainders") {
  const auto a = tensor(DataType::kINT32, {4}, {5, -5, 5, -5});
  const auto b = tensor(DataType::kINT32, {4}, {3, 3, -3, -3});
  check_tensor(run1(OpKind::kMod, {a, b}), DataType::kINT32, {4},
               {2, 1, -1, -2});  // sign of divisor
  check_tensor(run1(OpKind::kMod, {a, b}, {{"fmod", int64_t{1}}}), DataType::kINT32, {4},
               {2, -2, 2, -2});
  check_tensor(
      run1(OpKind::kMod, {f32({3}, {5.5, -5.5, 1}), f32({3}, {2, 2, 0})}, {{"fmod", int64_t{1}}}),
      DataType::kF32, {3}, {1.5, -1.5, kNaN});
  check_tensor(run1(OpKind::kMod,
                    {tensor(DataType::kUINT8, {2}, {250, 7}), tensor(DataType::kUINT8, {}, {7})}),
               DataType::kUINT8, {2}, {5, 0});
  const int64_t lo = std::numeric_limits<int64_t>::min();
  auto m = run1(OpKind::kMod, {i64_exact({1}, {lo}), i64_exact({1}, {-1})});
  CHECK(m.get_int(0) == 0);
  check_error([] { run1(OpKind::kMod, {f32({1}, {1}), f32({1}, {1})}); }, "rtx.ir.210", "fmod");
  check_error([&] { run1(OpKind::kMod, {a, b}, {{"fmod", int64_t{2}}}); }, "rtx.ir.211");
  check_error(
      [] {
        run1(OpKind::kMod, {tensor(DataType::kINT8, {1}, {3}), tensor(DataType::kINT8, {1}, {0})});
      },
      "rtx.ir.213");
}

TEST_CASE("comparisons: bool output, NaN, exact int64") {
  check_tensor(run1(OpKind::kEqual, {f32({3}, {1, kNaN, 2}), f32({3}, {1, kNaN, 3})}),
               DataType::kBOOL, {3}, {1, 0, 0});
  check_tensor(run1(OpKind::kEqual, {bools({2}, {1, 0}), bools({2}, {1, 1})}), DataType::kBOOL, {2},
               {1, 0});
  const int64_t p53 = int64_t{1} << 53;
  check_tensor(run1(OpKind::kEqual, {i64_exact({1}, {p53}), i64_exact({1}, {p53 + 1})}),
               DataType::kBOOL, {1}, {0});
  const auto x = tensor(DataType::kINT32, {3}, {1, 2, 3});
  const auto two = tensor(DataType::kINT32, {}, {2});
  check_tensor(run1(OpKind::kLess, {x, two}), DataType::kBOOL, {3}, {1, 0, 0});
  check_tensor(run1(OpKind::kLessOrEqual, {x, two}), DataType::kBOOL, {3}, {1, 1, 0});
  check_tensor(run1(OpKind::kGreater, {x, two}), DataType::kBOOL, {3}, {0, 0, 1});
  check_tensor(run1(OpKind::kGreaterOrEqual, {x, two}), DataType::kBOOL, {3}, {0, 1, 1});
  check_tensor(run1(OpKind::kGreater, {f32({2}, {kNaN, 1}), f32({2}, {0, 0})}), DataType::kBOOL,
               {2}, {0, 1});
  check_tensor(run1(OpKind::kLess,
                    {tensor(DataType::kF16, {2, 1}, {1, 3}), tensor(DataType::kF16, {2}, {2, 4})}),
               DataType::kBOOL, {2, 2}, {1, 1, 0, 1});
  check_error([] { run1(OpKind::kLess, {bools({1}, {1}), bools({1}, {0})}); }, "rtx.ir.201");
  check_error([&] { run1(OpKind::kEqual, {x, f32({3}, {1, 2, 3})}); }, "rtx.ir.202");
}

TEST_CASE("And/Or/Xor on bool with broadcasting") {
  const auto a = bools({4}, {1, 1, 0, 0});
  const auto b = bools({4}, {1, 0, 1, 0});
  check_tensor(run1(OpKind::kAnd, {a, b}), DataType::kBOOL, {4}, {1, 0, 0, 0});
  check_tensor(run1(OpKind::kOr, {a, b}), DataType::kBOOL, {4}, {1, 1, 1, 0});
  check_tensor(run1(OpKind::kXor, {a, b}), DataType::kBOOL, {4}, {0, 1, 1, 0});
  check_tensor(run1(OpKind::kAnd, {bools({2, 1}, {1, 0}), bools({2}, {1, 0})}), DataType::kBOOL,
               {2, 2}, {1, 0, 0, 0});
  check_error(
      [] {
        run1(OpKind::kOr, {tensor(DataType::kINT32, {1}, {1}), tensor(DataType::kINT32, {1}, {1})});
      },
      "rtx.ir.201");
}

// ---- Where -------------------------------------------------------------------------------------

TEST_CASE("Where: 3-way broadcasting, bit-exact copies, errors") {
  // cond [2,1], X [3], Y [] -> [2,3]
  check_tensor(run1(OpKind::kWhere, {bools({2, 1}, {1, 0}), f32({3}, {1, 2, 3}), f32({}, {9})}),
               DataType::kF32, {2, 3}, {1, 2, 3, 9, 9, 9});
  const int64_t big = (int64_t{1} << 62) + 1;
  auto w =
      run1(OpKind::kWhere, {bools({2}, {0, 1}), i64_exact({2}, {big, big}), i64_exact({}, {-big})});
  CHECK(w.to_ints() == std::vector<int64_t>{-big, big});
  // uint4, odd element count: [1, 15, 2] chosen from X=[1,2,3], Y=[14,15,2] by [1,0,0].
  auto u4 = run1(OpKind::kWhere, {bools({3}, {1, 0, 0}), tensor(DataType::kUINT4, {3}, {1, 2, 3}),
                                  tensor(DataType::kUINT4, {3}, {14, 15, 2})});
  check_tensor(u4, DataType::kUINT4, {3}, {1, 15, 2});
  CHECK(raw(u4) == std::vector<uint8_t>{0xF1, 0x02});
  check_tensor(run1(OpKind::kWhere, {bools({0}, {}), f32({1}, {1}), f32({1}, {2})}), DataType::kF32,
               {0}, {});
  auto inf = infer_op(OpKind::kWhere, {info(DataType::kBOOL, {kDyn, 1}),
                                       info(DataType::kF16, {1, 4}), info(DataType::kF16, {})});
  CHECK(inf[0].dtype == DataType::kF16);
  CHECK(inf[0].shape == std::vector<int64_t>{kDyn, 4});
  check_error(
      [] {
        run1(OpKind::kWhere, {f32({1}, {1}), f32({1}, {1}), f32({1}, {2})});
      },
      "rtx.ir.203");
  check_error(
      [] {
        run1(OpKind::kWhere, {bools({1}, {1}), f32({1}, {1}), tensor(DataType::kF16, {1}, {2})});
      },
      "rtx.ir.202");
  check_error(
      [] {
        infer_op(OpKind::kWhere, {info(DataType::kBOOL, {2}), info(DataType::kF32, {3}),
                                  info(DataType::kF32, {3})});
      },
      "rtx.ir.131");
}

TEST_CASE("every elementwise op is registered") {
  for (OpKind k :
       {OpKind::kRelu,  OpKind::kLeakyRelu,   OpKind::kSigmoid,    OpKind::kTanh,
        OpKind::kErf,   OpKind::kGelu,        OpKind::kSilu,       OpKind::kExp,
        OpKind::kLog,   OpKind::kSqrt,        OpKind::kReciprocal, OpKind::kNeg,
        OpKind::kAbs,   OpKind::kFloor,       OpKind::kCeil,       OpKind::kSin,
        OpKind::kCos,   OpKind::kClip,        OpKind::kNot,        OpKind::kIsNaN,
        OpKind::kIsInf, OpKind::kIdentity,    OpKind::kCast,       OpKind::kAdd,
        OpKind::kSub,   OpKind::kMul,         OpKind::kDiv,        OpKind::kPow,
        OpKind::kMax,   OpKind::kMin,         OpKind::kMod,        OpKind::kEqual,
        OpKind::kLess,  OpKind::kLessOrEqual, OpKind::kGreater,    OpKind::kGreaterOrEqual,
        OpKind::kAnd,   OpKind::kOr,          OpKind::kXor,        OpKind::kWhere}) {
    CHECK_MESSAGE(ir::has_schema(k), ir::op_name(k));
  }
  check_error(
      [] {
        infer_op(OpKind::kRelu, {info(DataType::kF32, {1}), info(DataType::kF32, {1})});
      },
      "rtx.ir.122");
}

}  // namespace
}  // namespace rtx::test
