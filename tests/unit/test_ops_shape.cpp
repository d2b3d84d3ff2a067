// SPDX-License-Identifier: Apache-2.0
// Shape and data-movement ops: inference (static, dynamic dims, unknown value inputs), the
// reference implementation with hand-computed expected values, bit-exact moves for every dtype
// (NaN payloads, -0, packed 4-bit nibbles at odd positions) and one case per error id.
#include <doctest/doctest.h>

#include <cstring>
#include <limits>

#include "op_test_util.hpp"
#include "rtx/numeric.hpp"

// Not `using namespace rtx`: its dtype tags (rtx::f32) would clash with test::f32().
using namespace rtx::test;
using rtx::bit_width;
using rtx::DataType;
using rtx::HostTensor;
namespace numeric = rtx::numeric;
using rtx::ir::kDynamic;
using rtx::ir::OpKind;
using rtx::ir::TensorInfo;
using Shape = std::vector<int64_t>;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kDyn = kDynamic;

/// Exact int64 tensor (from_doubles cannot hold INT64_MAX/MIN exactly).
HostTensor ints(Shape shape, std::vector<int64_t> v) {
  return HostTensor::from_vector(DataType::kINT64, std::move(shape), v);
}
HostTensor ints(std::vector<int64_t> v) {
  const auto n = static_cast<int64_t>(v.size());
  return ints({n}, std::move(v));
}
HostTensor i32(Shape shape, std::vector<double> v) {
  return tensor(DataType::kINT32, std::move(shape), std::move(v));
}
HostTensor none() {
  return HostTensor();
}
TensorInfo info(DataType t, Shape s) {
  return TensorInfo{t, std::move(s)};
}
TensorInfo f32i(Shape s) {
  return info(DataType::kF32, std::move(s));
}
TensorInfo i64i(Shape s) {
  return info(DataType::kINT64, std::move(s));
}

/// Raw bits of element i (nibble for 4-bit types).
uint64_t elem_bits(const HostTensor& t, int64_t i) {
  if (bit_width(t.dtype()) == 4)
    return numeric::get_nibble(reinterpret_cast<const uint8_t*>(t.data()), i);
  const int bytes = bit_width(t.dtype()) / 8;
  uint64_t v = 0;
  std::memcpy(&v, t.data() + i * bytes, static_cast<size_t>(bytes));
  return v;
}

HostTensor from_bits(DataType dt, Shape shape, const std::vector<uint64_t>& bits) {
  HostTensor t(dt, std::move(shape));
  REQUIRE(t.element_count() == static_cast<int64_t>(bits.size()));
  const int w = bit_width(dt);
  for (size_t i = 0; i < bits.size(); ++i) {
    if (w == 4) {
      numeric::set_nibble(reinterpret_cast<uint8_t*>(t.mutable_data()), static_cast<int64_t>(i),
                          static_cast<uint8_t>(bits[i]));
    } else {
      std::memcpy(t.mutable_data() + i * static_cast<size_t>(w / 8), &bits[i],
                  static_cast<size_t>(w / 8));
    }
  }
  return t;
}

std::vector<uint64_t> all_bits(const HostTensor& t) {
  std::vector<uint64_t> v;
  for (int64_t i = 0; i < t.element_count(); ++i) v.push_back(elem_bits(t, i));
  return v;
}

/// Distinct, width-masked bit patterns; element 0 is a NaN with a payload for float types where
/// the width allows, element 1 is -0 (sign bit only).
std::vector<uint64_t> patterns(DataType dt, size_t n) {
  const int w = bit_width(dt);
  const uint64_t mask = w == 64 ? ~uint64_t{0} : (uint64_t{1} << w) - 1;
  std::vector<uint64_t> v;
  for (size_t i = 0; i < n; ++i) v.push_back((0x9E3779B97F4A7C15ull * (i + 1) >> 7) & mask);
  if (dt == DataType::kF32) v[0] = 0x7FA00001;          // signalling NaN with a payload
  if (dt == DataType::kF16) v[0] = 0x7D01;              // NaN with a payload
  if (dt == DataType::kBF16) v[0] = 0xFF81;             // negative NaN with a payload
  if (dt == DataType::kF64) v[0] = 0x7FF0000000000123;  // signalling NaN with a payload
  if (w > 1 && n > 1) v[1] = uint64_t{1} << (w - 1);    // -0 for the float types
  if (dt == DataType::kBOOL)
    for (size_t i = 0; i < n; ++i) v[i] = (i * 7 + 1) % 3 == 0 ? 1 : 0;
  return v;
}

constexpr DataType kAllTypes[] = {
    DataType::kF32,     DataType::kF16,   DataType::kBF16,  DataType::kFP8E4M3, DataType::kFP8E5M2,
    DataType::kFP4E2M1, DataType::kINT4,  DataType::kUINT4, DataType::kINT8,    DataType::kUINT8,
    DataType::kINT32,   DataType::kINT64, DataType::kBOOL,  DataType::kF64};

}  // namespace

// ---- Reshape --------------------------------------------------------------------------------

TEST_CASE("Reshape: values, 0 copies, -1, allowzero, scalar") {
  const auto x = f32({2, 3}, {0, 1, 2, 3, 4, 5});
  check_tensor(run_op(OpKind::kReshape, {x, ints({3, 2})})[0], DataType::kF32, {3, 2},
               {0, 1, 2, 3, 4, 5});
  check_tensor(run_op(OpKind::kReshape, {x, ints({-1})})[0], DataType::kF32, {6},
               {0, 1, 2, 3, 4, 5});
  check_tensor(run_op(OpKind::kReshape, {x, ints({0, -1, 1})})[0], DataType::kF32, {2, 3, 1},
               {0, 1, 2, 3, 4, 5});
  // [2,3,4]: 24 elements; 0 copies dim 1 (3), so [4,0,2] is [4,3,2].
  const auto big = HostTensor(DataType::kINT8, {2, 3, 4});
  CHECK(run_op(OpKind::kReshape, {big, ints({4, 0, 2})})[0].shape() == Shape{4, 3, 2});
  CHECK(run_op(OpKind::kReshape, {big, ints({0, -1})})[0].shape() == Shape{2, 12});
  // allowzero: 0 is a real zero dim. [0,3] -> [3,0] works only with allowzero=1.
  const auto empty = HostTensor(DataType::kF32, {0, 3});
  CHECK(run_op(OpKind::kReshape, {empty, ints({3, 0})}, {{"allowzero", int64_t{1}}})[0].shape() ==
        Shape{3, 0});
  check_error(
      [&] {
        run_op(OpKind::kReshape, {empty, ints({3, 0})});
      },
      "rtx.ir.604");  // [3,3]: 9 != 0
  // Empty shape: a 0-d scalar, and back.
  const auto one = f32({1, 1}, {7});
  auto s = run_op(OpKind::kReshape, {one, ints({0}, {})})[0];
  check_tensor(s, DataType::kF32, {}, {7});
  check_tensor(run_op(OpKind::kReshape, {s, ints({1})})[0], DataType::kF32, {1}, {7});
  // Output is a copy: the input is untouched by writes to it.
  auto out = run_op(OpKind::kReshape, {x, ints({6})})[0];
  out.set_double(0, 42);
  CHECK(x.get_double(0) == 0);
}

TEST_CASE("Reshape: inference with dynamic dims and unknown shape") {
  const auto shape = ints({0, -1});
  // A dynamic dim copied by 0 cancels against itself: [?,3,4] -> [?,12].
  auto r = infer_op(OpKind::kReshape, {f32i({kDyn, 3, 4}), i64i({2})}, {}, 1, {nullptr, &shape});
  CHECK(r[0].shape == Shape{kDyn, 12});
  // A dynamic dim not copied leaves -1 unknown.
  const auto s2 = ints({-1, 4});
  r = infer_op(OpKind::kReshape, {f32i({kDyn, 3, 4}), i64i({2})}, {}, 1, {nullptr, &s2});
  CHECK(r[0].shape == Shape{kDyn, 4});
  // 0 copies a dynamic dim as dynamic.
  const auto s3 = ints({0, 12});
  r = infer_op(OpKind::kReshape, {f32i({kDyn, 3, 4}), i64i({2})}, {}, 1, {nullptr, &s3});
  CHECK(r[0].shape == Shape{kDyn, 12});
  // Unknown shape values of static length 3: rank 3, all dynamic.
  r = infer_op(OpKind::kReshape, {f32i({2, 3}), i64i({3})});
  CHECK(r[0].shape == Shape{kDyn, kDyn, kDyn});
  CHECK(r[0].dtype == DataType::kF32);
  check_error([&] { infer_op(OpKind::kReshape, {f32i({2, 3}), i64i({kDyn})}); }, "rtx.ir.617");
}

TEST_CASE("Reshape: errors") {
  const auto x = f32({2, 3}, {0, 1, 2, 3, 4, 5});
  check_error([&] { run_op(OpKind::kReshape, {x, ints({4, 2})}); }, "rtx.ir.604", "cannot reshape");
  check_error([&] { run_op(OpKind::kReshape, {x, ints({-1, 4})}); }, "rtx.ir.604");
  check_error(
      [&] {
        run_op(OpKind::kReshape, {x, ints({-1, -1})});
      },
      "rtx.ir.602", "more than one -1");
  check_error([&] { run_op(OpKind::kReshape, {x, ints({-2, 3})}); }, "rtx.ir.603");
  check_error([&] { run_op(OpKind::kReshape, {x, ints({1, 1, 0})}); }, "rtx.ir.605", "no dim 2");
  check_error(
      [&] {
        run_op(OpKind::kReshape, {x, ints({0, -1})}, {{"allowzero", int64_t{1}}});
      },
      "rtx.ir.605");
  check_error(
      [&] {
        run_op(OpKind::kReshape, {HostTensor(DataType::kF32, {0, 3}), ints({0, -1})});
      },
      "rtx.ir.606");
  check_error([&] { run_op(OpKind::kReshape, {x, i32({2}, {3, 2})}); }, "rtx.ir.600", "int64");
  check_error([&] { run_op(OpKind::kReshape, {x, ints({1, 2}, {3, 2})}); }, "rtx.ir.601");
  check_error([&] { run_op(OpKind::kReshape, {x}); }, "rtx.ir.122");
}

// ---- Transpose ------------------------------------------------------------------------------

TEST_CASE("Transpose: default reverse, explicit perm, scalar and empty") {
  const auto x = f32({2, 3}, {0, 1, 2, 3, 4, 5});
  check_tensor(run_op(OpKind::kTranspose, {x})[0], DataType::kF32, {3, 2}, {0, 3, 1, 4, 2, 5});
  // [2,3,2] with perm [1,0,2]: out[j][i][k] = in[i][j][k] = 6i + 2j + k.
  std::vector<double> v(12);
  for (int i = 0; i < 12; ++i) v[static_cast<size_t>(i)] = i;
  check_tensor(run_op(OpKind::kTranspose, {tensor(DataType::kINT32, {2, 3, 2}, v)},
                      {{"perm", Shape{1, 0, 2}}})[0],
               DataType::kINT32, {3, 2, 2}, {0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11});
  // [2,1,3] with perm [2,0,1]: out[k][i][0] = in[i][0][k] = 3i + k.
  check_tensor(run_op(OpKind::kTranspose, {f32({2, 1, 3}, {0, 1, 2, 3, 4, 5})},
                      {{"perm", Shape{2, 0, 1}}})[0],
               DataType::kF32, {3, 2, 1}, {0, 3, 1, 4, 2, 5});
  check_tensor(run_op(OpKind::kTranspose, {f32({}, {5})})[0], DataType::kF32, {}, {5});
  CHECK(run_op(OpKind::kTranspose, {HostTensor(DataType::kF16, {0, 2})})[0].shape() == Shape{2, 0});
  auto r = infer_op(OpKind::kTranspose, {f32i({kDyn, 3, 4})}, {{"perm", Shape{2, 0, 1}}});
  CHECK(r[0].shape == Shape{4, kDyn, 3});
  check_error([&] { run_op(OpKind::kTranspose, {x}, {{"perm", Shape{0, 0}}}); }, "rtx.ir.610");
  check_error([&] { run_op(OpKind::kTranspose, {x}, {{"perm", Shape{0, 2}}}); }, "rtx.ir.610");
  check_error([&] { run_op(OpKind::kTranspose, {x}, {{"perm", Shape{1, 0, 2}}}); }, "rtx.ir.610");
}

// ---- Flatten --------------------------------------------------------------------------------

TEST_CASE("Flatten: axes incl. negative and r, dynamic dims") {
  const auto x = HostTensor(DataType::kBF16, {2, 3, 2});
  CHECK(run_op(OpKind::kFlatten, {x})[0].shape() == Shape{2, 6});
  CHECK(run_op(OpKind::kFlatten, {x}, {{"axis", int64_t{0}}})[0].shape() == Shape{1, 12});
  CHECK(run_op(OpKind::kFlatten, {x}, {{"axis", int64_t{-1}}})[0].shape() == Shape{6, 2});
  CHECK(run_op(OpKind::kFlatten, {x}, {{"axis", int64_t{3}}})[0].shape() == Shape{12, 1});
  CHECK(run_op(OpKind::kFlatten, {x}, {{"axis", int64_t{-3}}})[0].shape() == Shape{1, 12});
  check_tensor(run_op(OpKind::kFlatten, {f32({2, 1, 2}, {1, 2, 3, 4})})[0], DataType::kF32, {2, 2},
               {1, 2, 3, 4});
  CHECK(infer_op(OpKind::kFlatten, {f32i({kDyn, 3, 4})})[0].shape == Shape{kDyn, 12});
  CHECK(infer_op(OpKind::kFlatten, {f32i({2, 3, kDyn})}, {{"axis", int64_t{2}}})[0].shape ==
        Shape{6, kDyn});
  check_error([&] { run_op(OpKind::kFlatten, {x}, {{"axis", int64_t{4}}}); }, "rtx.ir.130");
  check_error([&] { run_op(OpKind::kFlatten, {x}, {{"axis", int64_t{-4}}}); }, "rtx.ir.130");
}

// ---- Squeeze / Unsqueeze --------------------------------------------------------------------

TEST_CASE("Squeeze: with and without axes, dynamic dims, errors") {
  const auto x = f32({1, 3, 1, 2}, {1, 2, 3, 4, 5, 6});
  check_tensor(run_op(OpKind::kSqueeze, {x})[0], DataType::kF32, {3, 2}, {1, 2, 3, 4, 5, 6});
  CHECK(run_op(OpKind::kSqueeze, {x, ints({0})})[0].shape() == Shape{3, 1, 2});
  CHECK(run_op(OpKind::kSqueeze, {x, ints({-2, 0})})[0].shape() == Shape{3, 2});
  CHECK(run_op(OpKind::kSqueeze, {f32({1}, {4})})[0].shape() == Shape{});
  // With axes, a dynamic dim is assumed to be 1; without, the rank would be unknown.
  const auto ax = ints({0});
  CHECK(infer_op(OpKind::kSqueeze, {f32i({kDyn, 3}), i64i({1})}, {}, 1, {nullptr, &ax})[0].shape ==
        Shape{3});
  check_error([&] { infer_op(OpKind::kSqueeze, {f32i({kDyn, 3})}); }, "rtx.ir.615", "dynamic");
  CHECK(infer_op(OpKind::kSqueeze, {f32i({1, 3, 1, 2}), i64i({2})})[0].shape == Shape{kDyn, kDyn});
  check_error([&] { run_op(OpKind::kSqueeze, {x, ints({1})}); }, "rtx.ir.615", "not 1");
  check_error([&] { run_op(OpKind::kSqueeze, {x, ints({0, -4})}); }, "rtx.ir.616", "repeated");
  check_error([&] { run_op(OpKind::kSqueeze, {x, ints({4})}); }, "rtx.ir.130");
}

TEST_CASE("Unsqueeze: axes in output rank, negative, scalar, errors") {
  const auto x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  check_tensor(run_op(OpKind::kUnsqueeze, {x, ints({0, -1})})[0], DataType::kF32, {1, 2, 3, 1},
               {1, 2, 3, 4, 5, 6});
  CHECK(run_op(OpKind::kUnsqueeze, {x, ints({1})})[0].shape() == Shape{2, 1, 3});
  CHECK(run_op(OpKind::kUnsqueeze, {x, ints({3, 1})})[0].shape() == Shape{2, 1, 3, 1});
  check_tensor(run_op(OpKind::kUnsqueeze, {f32({}, {9}), ints({0})})[0], DataType::kF32, {1}, {9});
  const auto ax = ints({0});
  CHECK(
      infer_op(OpKind::kUnsqueeze, {f32i({kDyn, 3}), i64i({1})}, {}, 1, {nullptr, &ax})[0].shape ==
      Shape{1, kDyn, 3});
  CHECK(infer_op(OpKind::kUnsqueeze, {f32i({2, 3}), i64i({2})})[0].shape ==
        Shape{kDyn, kDyn, kDyn, kDyn});
  check_error([&] { infer_op(OpKind::kUnsqueeze, {f32i({2, 3}), i64i({kDyn})}); }, "rtx.ir.617");
  check_error([&] { run_op(OpKind::kUnsqueeze, {x, ints({1, -3})}); }, "rtx.ir.616");
  check_error([&] { run_op(OpKind::kUnsqueeze, {x, ints({3})}); }, "rtx.ir.130");
}

// ---- Concat ---------------------------------------------------------------------------------

TEST_CASE("Concat: axes, empty inputs, dtypes, dynamic inference, errors") {
  const auto a = f32({2, 2}, {1, 2, 3, 4});
  check_tensor(run_op(OpKind::kConcat, {a, f32({1, 2}, {5, 6})}, {{"axis", int64_t{0}}})[0],
               DataType::kF32, {3, 2}, {1, 2, 3, 4, 5, 6});
  check_tensor(run_op(OpKind::kConcat, {a, f32({2, 1}, {5, 6})}, {{"axis", int64_t{-1}}})[0],
               DataType::kF32, {2, 3}, {1, 2, 5, 3, 4, 6});
  check_tensor(
      run_op(OpKind::kConcat, {f32({2, 0}, {}), f32({2, 1}, {5, 6}), a}, {{"axis", int64_t{1}}})[0],
      DataType::kF32, {2, 3}, {5, 1, 2, 6, 3, 4});
  check_tensor(run_op(OpKind::kConcat, {a}, {{"axis", int64_t{1}}})[0], DataType::kF32, {2, 2},
               {1, 2, 3, 4});
  // Packed int4: odd counts put the second input's first element in a high nibble.
  check_tensor(
      run_op(OpKind::kConcat,
             {tensor(DataType::kINT4, {3}, {1, -2, 3}), tensor(DataType::kINT4, {2}, {-8, 7})},
             {{"axis", int64_t{0}}})[0],
      DataType::kINT4, {5}, {1, -2, 3, -8, 7});
  check_tensor(run_op(OpKind::kConcat,
                      {tensor(DataType::kBOOL, {1}, {1}), tensor(DataType::kBOOL, {2}, {0, 1})},
                      {{"axis", int64_t{0}}})[0],
               DataType::kBOOL, {3}, {1, 0, 1});
  auto r = infer_op(OpKind::kConcat, {f32i({kDyn, 3}), f32i({2, kDyn}), f32i({4, 3})},
                    {{"axis", int64_t{0}}});
  CHECK(r[0].shape == Shape{kDyn, 3});
  r = infer_op(OpKind::kConcat, {f32i({kDyn, 3}), f32i({2, 5})}, {{"axis", int64_t{1}}});
  CHECK(r[0].shape == Shape{2, 8});
  check_error(
      [&] {
        run_op(OpKind::kConcat, {a, i32({1, 2}, {5, 6})}, {{"axis", int64_t{0}}});
      },
      "rtx.ir.620", "i32");
  check_error(
      [&] {
        run_op(OpKind::kConcat, {a, f32({2}, {5, 6})}, {{"axis", int64_t{0}}});
      },
      "rtx.ir.621");
  check_error(
      [&] {
        run_op(OpKind::kConcat, {a, f32({1, 3}, {5, 6, 7})}, {{"axis", int64_t{0}}});
      },
      "rtx.ir.622");
  check_error([&] { run_op(OpKind::kConcat, {a, a}); }, "rtx.ir.141");
  check_error([&] { run_op(OpKind::kConcat, {a, a}, {{"axis", int64_t{2}}}); }, "rtx.ir.130");
}

// ---- Split ----------------------------------------------------------------------------------

TEST_CASE("Split: split input, equal, num_outputs uneven, negative axis, errors") {
  const auto x = f32({6}, {1, 2, 3, 4, 5, 6});
  auto o = run_op(OpKind::kSplit, {x, ints({2, 4})}, {}, 2);
  check_tensor(o[0], DataType::kF32, {2}, {1, 2});
  check_tensor(o[1], DataType::kF32, {4}, {3, 4, 5, 6});
  o = run_op(OpKind::kSplit, {x, ints({0, 6})}, {}, 2);
  CHECK(o[0].shape() == Shape{0});
  check_tensor(o[1], DataType::kF32, {6}, {1, 2, 3, 4, 5, 6});
  // No split, no num_outputs: equal parts, one per output.
  o = run_op(OpKind::kSplit, {f32({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})}, {{"axis", int64_t{-1}}}, 2);
  check_tensor(o[0], DataType::kF32, {2, 2}, {1, 2, 5, 6});
  check_tensor(o[1], DataType::kF32, {2, 2}, {3, 4, 7, 8});
  // num_outputs=3 over 7: chunks of ceil(7/3) = 3, the last gets 1.
  o = run_op(OpKind::kSplit, {f32({7}, {1, 2, 3, 4, 5, 6, 7})}, {{"num_outputs", int64_t{3}}}, 3);
  check_tensor(o[0], DataType::kF32, {3}, {1, 2, 3});
  check_tensor(o[1], DataType::kF32, {3}, {4, 5, 6});
  check_tensor(o[2], DataType::kF32, {1}, {7});
  // uint4, odd offsets.
  o = run_op(OpKind::kSplit, {tensor(DataType::kUINT4, {5}, {1, 2, 3, 14, 15}), ints({3, 2})}, {},
             2);
  check_tensor(o[0], DataType::kUINT4, {3}, {1, 2, 3});
  check_tensor(o[1], DataType::kUINT4, {2}, {14, 15});
  auto r = infer_op(OpKind::kSplit, {f32i({4, kDyn}), i64i({2})}, {{"axis", int64_t{1}}}, 2);
  CHECK(r[0].shape == Shape{4, kDyn});
  CHECK(r[1].shape == Shape{4, kDyn});
  const auto sp = ints({1, 3});
  r = infer_op(OpKind::kSplit, {f32i({kDyn, 4}), i64i({2})}, {{"axis", int64_t{1}}}, 2,
               {nullptr, &sp});
  CHECK(r[0].shape == Shape{kDyn, 1});
  CHECK(r[1].shape == Shape{kDyn, 3});
  check_error(
      [&] {
        run_op(OpKind::kSplit, {x, ints({2, 3})}, {}, 2);
      },
      "rtx.ir.625", "adds up to 5");
  check_error([&] { run_op(OpKind::kSplit, {x, ints({-1, 7})}, {}, 2); }, "rtx.ir.625");
  check_error([&] { run_op(OpKind::kSplit, {x, ints({2, 2, 2})}, {}, 2); }, "rtx.ir.626");
  check_error([&] { run_op(OpKind::kSplit, {x}, {{"num_outputs", int64_t{3}}}, 2); }, "rtx.ir.626");
  check_error(
      [&] {
        run_op(OpKind::kSplit, {x, ints({3, 3})}, {{"num_outputs", int64_t{2}}}, 2);
      },
      "rtx.ir.626");
  // 5 into 4: chunks of 2 leave -1 for the last.
  check_error(
      [&] {
        run_op(OpKind::kSplit, {f32({5}, {1, 2, 3, 4, 5})}, {{"num_outputs", int64_t{4}}}, 4);
      },
      "rtx.ir.625");
}

// ---- Slice ----------------------------------------------------------------------------------

TEST_CASE("Slice: ONNX examples, steps, negative axes") {
  const auto x = f32({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  check_tensor(
      run_op(OpKind::kSlice, {x, ints({1, 0}), ints({2, 3}), ints({0, 1}), ints({1, 2})})[0],
      DataType::kF32, {1, 2}, {5, 7});
  check_tensor(run_op(OpKind::kSlice, {x, ints({0, 1}), ints({-1, 1000})})[0], DataType::kF32,
               {1, 3}, {2, 3, 4});
  const auto y = f32({2, 3}, {0, 1, 2, 3, 4, 5});
  check_tensor(run_op(OpKind::kSlice, {y, ints({1}), ints({3}), ints({-1})})[0], DataType::kF32,
               {2, 2}, {1, 2, 4, 5});
  // int32 starts/ends.
  check_tensor(run_op(OpKind::kSlice, {y, i32({1}, {1}), i32({1}, {2}), i32({1}, {0})})[0],
               DataType::kF32, {1, 3}, {3, 4, 5});
}

TEST_CASE("Slice: negative steps, huge and clamped ends") {
  std::vector<double> v(10);
  for (int i = 0; i < 10; ++i) v[static_cast<size_t>(i)] = i;
  const auto x = tensor(DataType::kINT64, {10}, v);
  auto slice = [&](int64_t s, int64_t e, int64_t step) {
    return run_op(OpKind::kSlice, {x, ints({s}), ints({e}), ints({0}), ints({step})})[0];
  };
  check_tensor(slice(-1, kMin, -1), DataType::kINT64, {10}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  check_tensor(slice(2, kMax, 1), DataType::kINT64, {8}, {2, 3, 4, 5, 6, 7, 8, 9});
  check_tensor(slice(8, 1, -3), DataType::kINT64, {3}, {8, 5, 2});
  // start 100 clamps to 9, end -100 -> -90 clamps to -1: 9, 5, 1.
  check_tensor(slice(100, -100, -4), DataType::kINT64, {3}, {9, 5, 1});
  check_tensor(slice(kMax, kMin, -1), DataType::kINT64, {10}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  check_tensor(slice(5, kMin, kMin), DataType::kINT64, {1}, {5});
  check_tensor(slice(0, 10, kMax), DataType::kINT64, {1}, {0});
  check_tensor(slice(20, 30, 1), DataType::kINT64, {0}, {});
  check_tensor(slice(3, 3, 1), DataType::kINT64, {0}, {});
  check_tensor(slice(3, 5, -1), DataType::kINT64, {0}, {});
  check_tensor(slice(-3, -1, 1), DataType::kINT64, {2}, {7, 8});
  // Both axes reversed.
  check_tensor(run_op(OpKind::kSlice, {f32({2, 3}, {0, 1, 2, 3, 4, 5}), ints({-1, -1}),
                                       ints({kMin, kMin}), ints({0, 1}), ints({-1, -1})})[0],
               DataType::kF32, {2, 3}, {5, 4, 3, 2, 1, 0});
  // Negative step on an empty axis.
  CHECK(run_op(OpKind::kSlice, {HostTensor(DataType::kF32, {0, 2}), ints({-1}), ints({kMin}),
                                ints({0}), ints({-1})})[0]
            .shape() == Shape{0, 2});
  // int4 with a stride of 2 from an odd start: nibbles 1, 3 of [7,-1,2,-3,4].
  check_tensor(run_op(OpKind::kSlice, {tensor(DataType::kINT4, {5}, {7, -1, 2, -3, 4}), ints({1}),
                                       ints({5}), ints({0}), ints({2})})[0],
               DataType::kINT4, {2}, {-1, -3});
}

TEST_CASE("Slice: inference with unknown inputs and dynamic dims, errors") {
  // Unknown starts, known axes: only the sliced axis is dynamic.
  const auto axes = ints({1});
  auto r = infer_op(OpKind::kSlice, {f32i({4, 5, 6}), i64i({1}), i64i({1}), i64i({1})}, {}, 1,
                    {nullptr, nullptr, nullptr, &axes});
  CHECK(r[0].shape == Shape{4, kDyn, 6});
  // Unknown axes: all dims dynamic, rank kept.
  r = infer_op(OpKind::kSlice, {f32i({4, 5, 6}), i64i({1}), i64i({1}), i64i({1})});
  CHECK(r[0].shape == Shape{kDyn, kDyn, kDyn});
  // No axes: starts of length 1 slices axis 0 only.
  r = infer_op(OpKind::kSlice, {f32i({4, 5, 6}), i64i({1}), i64i({1})});
  CHECK(r[0].shape == Shape{kDyn, 5, 6});
  // Known values on a dynamic dim: dynamic; other dims static.
  const auto st = ints({1, 0}), en = ints({3, 2}), ax2 = ints({0, 1});
  r = infer_op(OpKind::kSlice, {f32i({kDyn, 5}), i64i({2}), i64i({2}), i64i({2})}, {}, 1,
               {nullptr, &st, &en, &ax2});
  CHECK(r[0].shape == Shape{kDyn, 2});
  const auto x = f32({4}, {1, 2, 3, 4});
  check_error(
      [&] {
        run_op(OpKind::kSlice, {x, ints({0}), ints({4}), ints({0}), ints({0})});
      },
      "rtx.ir.631");
  check_error([&] { run_op(OpKind::kSlice, {x, ints({0, 0}), ints({4})}); }, "rtx.ir.630");
  check_error(
      [&] {
        run_op(OpKind::kSlice, {x, ints({0}), ints({4}), ints({0, 0})});
      },
      "rtx.ir.630");
  check_error(
      [&] {
        run_op(OpKind::kSlice, {x, ints({0, 0}), ints({4, 4}), ints({0, -1})});
      },
      "rtx.ir.616");
  check_error([&] { run_op(OpKind::kSlice, {x, f32({1}, {0}), ints({4})}); }, "rtx.ir.600");
}

// ---- Gather / GatherElements ----------------------------------------------------------------

TEST_CASE("Gather: axes, negative and scalar indices, int32 indices, errors") {
  const auto d = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  check_tensor(run_op(OpKind::kGather, {d, ints({2, 2}, {0, 1, 1, 2})})[0], DataType::kF32,
               {2, 2, 2}, {1, 2, 3, 4, 3, 4, 5, 6});
  check_tensor(run_op(OpKind::kGather, {d, ints({-1})})[0], DataType::kF32, {1, 2}, {5, 6});
  const auto e = f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  check_tensor(run_op(OpKind::kGather, {e, i32({1, 2}, {0, 2})}, {{"axis", int64_t{1}}})[0],
               DataType::kF32, {3, 1, 2}, {1, 3, 4, 6, 7, 9});
  check_tensor(run_op(OpKind::kGather, {e, ints({}, {-2})}, {{"axis", int64_t{-1}}})[0],
               DataType::kF32, {3}, {2, 5, 8});
  check_tensor(run_op(OpKind::kGather, {e, ints({0}, {})})[0], DataType::kF32, {0, 3}, {});
  check_tensor(run_op(OpKind::kGather,
                      {tensor(DataType::kUINT4, {5}, {1, 2, 3, 4, 5}), ints({3}, {4, 0, 3})})[0],
               DataType::kUINT4, {3}, {5, 1, 4});
  CHECK(infer_op(OpKind::kGather, {f32i({kDyn, 8}), info(DataType::kINT32, {2, kDyn})},
                 {{"axis", int64_t{0}}})[0]
            .shape == Shape{2, kDyn, 8});
  check_error([&] { run_op(OpKind::kGather, {d, ints({3})}); }, "rtx.ir.635", "index 3");
  check_error([&] { run_op(OpKind::kGather, {d, ints({-4})}); }, "rtx.ir.635", "[-3, 2]");
  check_error([&] { run_op(OpKind::kGather, {d, f32({1}, {0})}); }, "rtx.ir.600");
  check_error(
      [&] {
        run_op(OpKind::kGather, {d, ints({0})}, {{"axis", int64_t{2}}});
      },
      "rtx.ir.130");
  check_error([&] { run_op(OpKind::kGather, {f32({}, {1}), ints({0})}); }, "rtx.ir.130");
}

TEST_CASE("GatherElements: ONNX examples, negative indices, errors") {
  check_tensor(
      run_op(OpKind::kGatherElements, {f32({2, 2}, {1, 2, 3, 4}), ints({2, 2}, {0, 0, 1, 0})},
             {{"axis", int64_t{1}}})[0],
      DataType::kF32, {2, 2}, {1, 1, 4, 3});
  check_tensor(run_op(OpKind::kGatherElements, {f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}),
                                                i32({2, 3}, {1, 2, 0, 2, 0, 0})})[0],
               DataType::kF32, {2, 3}, {4, 8, 3, 7, 2, 3});
  check_tensor(
      run_op(OpKind::kGatherElements, {f32({2, 2}, {1, 2, 3, 4}), ints({2, 2}, {-1, 0, 0, -2})},
             {{"axis", int64_t{-1}}})[0],
      DataType::kF32, {2, 2}, {2, 1, 3, 3});
  CHECK(infer_op(OpKind::kGatherElements, {f32i({kDyn, 4}), i64i({kDyn, 2})},
                 {{"axis", int64_t{1}}})[0]
            .shape == Shape{kDyn, 2});
  check_error(
      [&] {
        run_op(OpKind::kGatherElements, {f32({2, 2}, {1, 2, 3, 4}), ints({2}, {0, 0})});
      },
      "rtx.ir.637");
  check_error(
      [&] {
        run_op(OpKind::kGatherElements, {f32({2, 2}, {1, 2, 3, 4}), ints({1, 3}, {0, 0, 0})});
      },
      "rtx.ir.637");
  check_error(
      [&] {
        run_op(OpKind::kGatherElements, {f32({2, 2}, {1, 2, 3, 4}), ints({1, 2}, {0, 2})});
      },
      "rtx.ir.635");
}

// ---- Expand / Tile --------------------------------------------------------------------------

TEST_CASE("Expand: bidirectional broadcast, inference, errors") {
  check_tensor(run_op(OpKind::kExpand, {f32({3, 1}, {1, 2, 3}), ints({2, 1, 2})})[0],
               DataType::kF32, {2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  check_tensor(run_op(OpKind::kExpand, {f32({3}, {1, 2, 3}), ints({2, 1})})[0], DataType::kF32,
               {2, 3}, {1, 2, 3, 1, 2, 3});
  // A shape smaller than the input keeps the input's dims.
  check_tensor(run_op(OpKind::kExpand, {f32({2, 1}, {1, 2}), ints({1})})[0], DataType::kF32, {2, 1},
               {1, 2});
  check_tensor(run_op(OpKind::kExpand, {f32({}, {7}), ints({3})})[0], DataType::kF32, {3},
               {7, 7, 7});
  CHECK(run_op(OpKind::kExpand, {f32({1, 2}, {1, 2}), ints({0, 1})})[0].shape() == Shape{0, 2});
  CHECK(infer_op(OpKind::kExpand, {f32i({3, 1}), i64i({3})})[0].shape == Shape{kDyn, 3, kDyn});
  const auto s = ints({2, 1, 4});
  CHECK(infer_op(OpKind::kExpand, {f32i({kDyn, 1}), i64i({3})}, {}, 1, {nullptr, &s})[0].shape ==
        Shape{2, kDyn, 4});
  check_error([&] { run_op(OpKind::kExpand, {f32({3}, {1, 2, 3}), ints({2})}); }, "rtx.ir.131");
  check_error([&] { run_op(OpKind::kExpand, {f32({3}, {1, 2, 3}), ints({-1})}); }, "rtx.ir.601");
}

TEST_CASE("Tile: repeats per axis, zero repeats, packed types, errors") {
  const auto x = f32({2, 2}, {1, 2, 3, 4});
  check_tensor(run_op(OpKind::kTile, {x, ints({1, 2})})[0], DataType::kF32, {2, 4},
               {1, 2, 1, 2, 3, 4, 3, 4});
  check_tensor(run_op(OpKind::kTile, {x, ints({2, 1})})[0], DataType::kF32, {4, 2},
               {1, 2, 3, 4, 1, 2, 3, 4});
  check_tensor(run_op(OpKind::kTile, {x, ints({2, 2})})[0], DataType::kF32, {4, 4},
               {1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4});
  CHECK(run_op(OpKind::kTile, {x, ints({0, 3})})[0].shape() == Shape{0, 6});
  check_tensor(run_op(OpKind::kTile, {tensor(DataType::kINT4, {3}, {-1, 2, -3}), ints({3})})[0],
               DataType::kINT4, {9}, {-1, 2, -3, -1, 2, -3, -1, 2, -3});
  check_tensor(run_op(OpKind::kTile, {f32({}, {5}), ints({0}, {})})[0], DataType::kF32, {}, {5});
  const auto reps = ints({2, 3});
  CHECK(infer_op(OpKind::kTile, {f32i({kDyn, 2}), i64i({2})}, {}, 1, {nullptr, &reps})[0].shape ==
        Shape{kDyn, 6});
  CHECK(infer_op(OpKind::kTile, {f32i({0, 2}), i64i({2})})[0].shape == Shape{0, kDyn});
  check_error([&] { run_op(OpKind::kTile, {x, ints({2})}); }, "rtx.ir.645");
  check_error([&] { run_op(OpKind::kTile, {x, ints({2, -1})}); }, "rtx.ir.645");
}

// ---- Pad ------------------------------------------------------------------------------------

TEST_CASE("Pad: the four modes") {
  const auto x = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  const auto pads = ints({0, 2, 0, 0});  // two in front of axis 1
  const Attrs reflect{{"mode", std::string("reflect")}}, edge{{"mode", std::string("edge")}},
      wrap{{"mode", std::string("wrap")}};
  check_tensor(run_op(OpKind::kPad, {x, pads, f32({}, {9})})[0], DataType::kF32, {3, 4},
               {9, 9, 1, 2, 9, 9, 3, 4, 9, 9, 5, 6});
  check_tensor(run_op(OpKind::kPad, {x, pads})[0], DataType::kF32, {3, 4},
               {0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6});
  check_tensor(run_op(OpKind::kPad, {x, pads}, reflect)[0], DataType::kF32, {3, 4},
               {1, 2, 1, 2, 3, 4, 3, 4, 5, 6, 5, 6});
  check_tensor(run_op(OpKind::kPad, {x, pads}, edge)[0], DataType::kF32, {3, 4},
               {1, 1, 1, 2, 3, 3, 3, 4, 5, 5, 5, 6});
  const auto v = f32({3}, {1, 2, 3});
  const auto p23 = ints({2, 3});
  check_tensor(run_op(OpKind::kPad, {v, p23})[0], DataType::kF32, {8}, {0, 0, 1, 2, 3, 0, 0, 0});
  check_tensor(run_op(OpKind::kPad, {v, p23}, reflect)[0], DataType::kF32, {8},
               {3, 2, 1, 2, 3, 2, 1, 2});
  check_tensor(run_op(OpKind::kPad, {v, p23}, edge)[0], DataType::kF32, {8},
               {1, 1, 1, 2, 3, 3, 3, 3});
  check_tensor(run_op(OpKind::kPad, {v, p23}, wrap)[0], DataType::kF32, {8},
               {2, 3, 1, 2, 3, 1, 2, 3});
  // Pads wider than the axis: reflect keeps mirroring (numpy), period 2 * (3 - 1).
  check_tensor(run_op(OpKind::kPad, {v, ints({5, 0})}, reflect)[0], DataType::kF32, {8},
               {2, 1, 2, 3, 2, 1, 2, 3});
  check_tensor(run_op(OpKind::kPad, {f32({1}, {4}), ints({1, 2})}, reflect)[0], DataType::kF32, {4},
               {4, 4, 4, 4});
  // 2-D edge on both axes: one row in front, one column behind.
  check_tensor(run_op(OpKind::kPad, {f32({2, 2}, {1, 2, 3, 4}), ints({1, 0, 0, 1})}, edge)[0],
               DataType::kF32, {3, 3}, {1, 2, 2, 1, 2, 2, 3, 4, 4});
}

TEST_CASE("Pad: negative pads crop first, axes input, dtypes") {
  const auto v = f32({4}, {1, 2, 3, 4});
  check_tensor(run_op(OpKind::kPad, {v, ints({-1, 2})})[0], DataType::kF32, {5}, {2, 3, 4, 0, 0});
  check_tensor(run_op(OpKind::kPad, {v, ints({-1, -2})})[0], DataType::kF32, {1}, {2});
  check_tensor(run_op(OpKind::kPad, {v, ints({-2, -2})})[0], DataType::kF32, {0}, {});
  // Crop, then reflect the cropped [2,3,4]: 2,3,4 | 3,2.
  check_tensor(run_op(OpKind::kPad, {v, ints({-1, 2})}, {{"mode", std::string("reflect")}})[0],
               DataType::kF32, {5}, {2, 3, 4, 3, 2});
  // Crop the end to [1,2], then wrap one in front: 2 | 1,2.
  check_tensor(run_op(OpKind::kPad, {v, ints({1, -2})}, {{"mode", std::string("wrap")}})[0],
               DataType::kF32, {3}, {2, 1, 2});
  check_tensor(run_op(OpKind::kPad, {v, ints({-3, 1})}, {{"mode", std::string("edge")}})[0],
               DataType::kF32, {2}, {4, 4});
  // axes input (negative): pad only the last axis.
  const auto m = f32({2, 3}, {0, 1, 2, 3, 4, 5});
  check_tensor(run_op(OpKind::kPad, {m, ints({1, 1}), f32({}, {-1}), ints({-1})})[0],
               DataType::kF32, {2, 5}, {-1, 0, 1, 2, -1, -1, 3, 4, 5, -1});
  check_tensor(run_op(OpKind::kPad, {m, ints({1, 0}), none(), i32({1}, {0})})[0], DataType::kF32,
               {3, 3}, {0, 0, 0, 0, 1, 2, 3, 4, 5});
  // uint4 edge, odd output count.
  check_tensor(run_op(OpKind::kPad, {tensor(DataType::kUINT4, {3}, {1, 2, 15}), ints({1, 1})},
                      {{"mode", std::string("edge")}})[0],
               DataType::kUINT4, {5}, {1, 1, 2, 15, 15});
  // int4 constant value -3 into odd positions.
  check_tensor(run_op(OpKind::kPad, {tensor(DataType::kINT4, {2}, {5, -6}), ints({1, 2}),
                                     tensor(DataType::kINT4, {}, {-3})})[0],
               DataType::kINT4, {5}, {-3, 5, -6, -3, -3});
  // Constant mode on an empty axis is fine.
  check_tensor(run_op(OpKind::kPad, {f32({0}, {}), ints({1, 1}), f32({}, {2})})[0], DataType::kF32,
               {2}, {2, 2});
  // 0-d input: no axes to pad.
  check_tensor(run_op(OpKind::kPad, {f32({}, {3}), ints({0}, {})})[0], DataType::kF32, {}, {3});
}

TEST_CASE("Pad: inference with unknown pads, errors") {
  CHECK(infer_op(OpKind::kPad, {f32i({2, 3}), i64i({4})})[0].shape == Shape{kDyn, kDyn});
  const auto ax = ints({1});
  CHECK(infer_op(OpKind::kPad, {f32i({2, 3}), i64i({2}), f32i({}), i64i({1})}, {}, 1,
                 {nullptr, nullptr, nullptr, &ax})[0]
            .shape == Shape{2, kDyn});
  const auto p = ints({0, 1, 0, 1});
  CHECK(infer_op(OpKind::kPad, {f32i({kDyn, 3}), i64i({4})}, {}, 1, {nullptr, &p})[0].shape ==
        Shape{kDyn, 5});
  const auto v = f32({4}, {1, 2, 3, 4});
  check_error([&] { run_op(OpKind::kPad, {v, ints({1, 1, 1})}); }, "rtx.ir.650");
  check_error(
      [&] {
        run_op(OpKind::kPad, {v, ints({1, 1})}, {{"mode", std::string("circular")}});
      },
      "rtx.ir.651");
  check_error([&] { run_op(OpKind::kPad, {v, ints({-3, -2})}); }, "rtx.ir.652");
  check_error(
      [&] {
        run_op(OpKind::kPad, {f32({0}, {}), ints({1, 0})}, {{"mode", std::string("edge")}});
      },
      "rtx.ir.652");
  check_error([&] { run_op(OpKind::kPad, {v, ints({1, 1}), i32({}, {0})}); }, "rtx.ir.653");
  check_error([&] { run_op(OpKind::kPad, {v, ints({1, 1}), f32({2}, {0, 0})}); }, "rtx.ir.653");
  check_error([&] { run_op(OpKind::kPad, {v, ints({1, 1}), none(), ints({0, 0})}); }, "rtx.ir.616");
}

// ---- Shape / Size ---------------------------------------------------------------------------

TEST_CASE("Shape and Size") {
  const auto x = HostTensor(DataType::kF16, {2, 3, 4});
  check_tensor(run_op(OpKind::kShape, {x})[0], DataType::kINT64, {3}, {2, 3, 4});
  check_tensor(run_op(OpKind::kShape, {x}, {{"start", int64_t{1}}})[0], DataType::kINT64, {2},
               {3, 4});
  check_tensor(run_op(OpKind::kShape, {x}, {{"end", int64_t{-1}}})[0], DataType::kINT64, {2},
               {2, 3});
  check_tensor(run_op(OpKind::kShape, {x}, {{"start", int64_t{-2}}, {"end", int64_t{-1}}})[0],
               DataType::kINT64, {1}, {3});
  check_tensor(run_op(OpKind::kShape, {x}, {{"start", int64_t{2}}, {"end", int64_t{1}}})[0],
               DataType::kINT64, {0}, {});
  check_tensor(run_op(OpKind::kShape, {x}, {{"start", int64_t{-10}}, {"end", int64_t{10}}})[0],
               DataType::kINT64, {3}, {2, 3, 4});
  check_tensor(run_op(OpKind::kShape, {f32({}, {1})})[0], DataType::kINT64, {0}, {});
  auto r = infer_op(OpKind::kShape, {f32i({kDyn, 3, kDyn})}, {{"start", int64_t{1}}});
  CHECK(r[0].dtype == DataType::kINT64);
  CHECK(r[0].shape == Shape{2});
  check_tensor(run_op(OpKind::kSize, {x})[0], DataType::kINT64, {}, {24});
  check_tensor(run_op(OpKind::kSize, {f32({}, {1})})[0], DataType::kINT64, {}, {1});
  check_tensor(run_op(OpKind::kSize, {HostTensor(DataType::kBOOL, {3, 0})})[0], DataType::kINT64,
               {}, {0});
  CHECK(infer_op(OpKind::kSize, {f32i({kDyn})})[0].shape == Shape{});
}

// ---- ConstantOfShape ------------------------------------------------------------------------

TEST_CASE("ConstantOfShape: default, typed values, scalar, errors") {
  check_tensor(run_op(OpKind::kConstantOfShape, {ints({2, 3})})[0], DataType::kF32, {2, 3},
               {0, 0, 0, 0, 0, 0});
  check_tensor(run_op(OpKind::kConstantOfShape, {ints({3})}, {{"value", i32({1}, {7})}})[0],
               DataType::kINT32, {3}, {7, 7, 7});
  check_tensor(run_op(OpKind::kConstantOfShape, {ints({0}, {})}, {{"value", f32({1}, {2.5})}})[0],
               DataType::kF32, {}, {2.5});
  check_tensor(run_op(OpKind::kConstantOfShape, {ints({5})},
                      {{"value", tensor(DataType::kINT4, {1}, {-3})}})[0],
               DataType::kINT4, {5}, {-3, -3, -3, -3, -3});
  CHECK(run_op(OpKind::kConstantOfShape, {ints({2, 0})})[0].shape() == Shape{2, 0});
  // An f16 NaN payload is copied, not re-encoded.
  const auto nan = from_bits(DataType::kF16, {1}, {0x7D01});
  auto o = run_op(OpKind::kConstantOfShape, {ints({2})}, {{"value", nan}})[0];
  CHECK(all_bits(o) == std::vector<uint64_t>{0x7D01, 0x7D01});
  auto r = infer_op(OpKind::kConstantOfShape, {i64i({2})},
                    {{"value", tensor(DataType::kBOOL, {1}, {1})}});
  CHECK(r[0].dtype == DataType::kBOOL);
  CHECK(r[0].shape == Shape{kDyn, kDyn});
  check_error([&] { infer_op(OpKind::kConstantOfShape, {i64i({kDyn})}); }, "rtx.ir.617");
  check_error([&] { run_op(OpKind::kConstantOfShape, {ints({2, -1})}); }, "rtx.ir.666");
  check_error(
      [&] {
        run_op(OpKind::kConstantOfShape, {ints({2})}, {{"value", f32({2}, {1, 2})}});
      },
      "rtx.ir.665");
  check_error([&] { run_op(OpKind::kConstantOfShape, {i32({1}, {2})}); }, "rtx.ir.600");
}

// ---- Range ----------------------------------------------------------------------------------

TEST_CASE("Range: integers, floats, empty, inference, errors") {
  auto sc = [](DataType t, double v) { return tensor(t, {}, {v}); };
  const auto I64 = DataType::kINT64, I32 = DataType::kINT32, F32 = DataType::kF32;
  check_tensor(run_op(OpKind::kRange, {sc(I64, 1), sc(I64, 5), sc(I64, 2)})[0], I64, {2}, {1, 3});
  check_tensor(run_op(OpKind::kRange, {sc(I64, 3), sc(I64, 9), sc(I64, 3)})[0], I64, {2}, {3, 6});
  check_tensor(run_op(OpKind::kRange, {sc(I32, 10), sc(I32, 4), sc(I32, -3)})[0], I32, {2},
               {10, 7});
  check_tensor(run_op(OpKind::kRange, {sc(I32, 5), sc(I32, 1), sc(I32, 1)})[0], I32, {0}, {});
  // ceil((2 - 1) / 0.3) = 4: 1, 1.3, 1.6, 1.9 (each rounded once to f32).
  check_tensor(run_op(OpKind::kRange, {sc(F32, 1), sc(F32, 2), sc(F32, 0.3)})[0], F32, {4},
               {1, 1.3, 1.6, 1.9}, 1e-6);
  // The count is taken in f32: (0.3f - 0) / 0.1f rounds to exactly 3.0f (in double: 3.00000007).
  check_tensor(run_op(OpKind::kRange, {sc(F32, 0), sc(F32, 0.3), sc(F32, 0.1)})[0], F32, {3},
               {0, 0.1, 0.2}, 1e-6);
  check_tensor(run_op(OpKind::kRange,
                      {sc(DataType::kF64, 0), sc(DataType::kF64, 0.3), sc(DataType::kF64, 0.1)})[0],
               DataType::kF64, {3}, {0, 0.1, 0.2}, 1e-15);
  check_tensor(run_op(OpKind::kRange,
                      {sc(DataType::kF64, 0), sc(DataType::kF64, 1), sc(DataType::kF64, 0.25)})[0],
               DataType::kF64, {4}, {0, 0.25, 0.5, 0.75});
  check_tensor(run_op(OpKind::kRange,
                      {sc(DataType::kF16, 2), sc(DataType::kF16, -1), sc(DataType::kF16, -1.5)})[0],
               DataType::kF16, {2}, {2, 0.5});
  // Near the int64 limits: exact, no overflow.
  const auto lo = HostTensor::from_vector(I64, {}, std::vector<int64_t>{kMax - 2});
  const auto hi = HostTensor::from_vector(I64, {}, std::vector<int64_t>{kMax});
  auto big = run_op(OpKind::kRange, {lo, hi, sc(I64, 1)})[0];
  REQUIRE(big.shape() == Shape{2});
  CHECK(big.get_int(1) == kMax - 1);
  CHECK(infer_op(OpKind::kRange, {i64i({}), i64i({}), i64i({})})[0].shape == Shape{kDyn});
  check_error([&] { run_op(OpKind::kRange, {sc(I64, 1), sc(I64, 5), sc(I64, 0)}); }, "rtx.ir.671");
  check_error([&] { run_op(OpKind::kRange, {sc(F32, 1), sc(F32, 5), sc(F32, 0)}); }, "rtx.ir.671");
  check_error([&] { run_op(OpKind::kRange, {sc(I64, 1), sc(I32, 5), sc(I64, 1)}); }, "rtx.ir.670");
  check_error(
      [&] {
        run_op(OpKind::kRange, {ints({2}, {1, 2}), ints({2}, {1, 2}), ints({2}, {1, 2})});
      },
      "rtx.ir.670");
  check_error(
      [&] {
        run_op(OpKind::kRange,
               {sc(DataType::kBOOL, 0), sc(DataType::kBOOL, 1), sc(DataType::kBOOL, 1)});
      },
      "rtx.ir.670");
}

// ---- Constant -------------------------------------------------------------------------------

TEST_CASE("Constant: every value attribute form, errors") {
  check_tensor(run_op(OpKind::kConstant, {}, {{"value", i32({2}, {4, 5})}})[0], DataType::kINT32,
               {2}, {4, 5});
  check_tensor(run_op(OpKind::kConstant, {}, {{"value_float", 0.5}})[0], DataType::kF32, {}, {0.5});
  check_tensor(run_op(OpKind::kConstant, {}, {{"value_floats", std::vector<double>{1.5, -2}}})[0],
               DataType::kF32, {2}, {1.5, -2});
  check_tensor(run_op(OpKind::kConstant, {}, {{"value_int", int64_t{-7}}})[0], DataType::kINT64, {},
               {-7});
  auto o = run_op(OpKind::kConstant, {}, {{"value_ints", std::vector<int64_t>{kMax, 3}}})[0];
  REQUIRE(o.shape() == Shape{2});
  CHECK(o.get_int(0) == kMax);
  CHECK(o.get_int(1) == 3);
  auto r =
      infer_op(OpKind::kConstant, {}, {{"value", tensor(DataType::kBF16, {2, 2}, {1, 2, 3, 4})}});
  CHECK(r[0].dtype == DataType::kBF16);
  CHECK(r[0].shape == Shape{2, 2});
  check_error([&] { run_op(OpKind::kConstant, {}); }, "rtx.ir.675");
  check_error(
      [&] {
        run_op(OpKind::kConstant, {}, {{"value_int", int64_t{1}}, {"value_float", 1.0}});
      },
      "rtx.ir.675");
  check_error(
      [&] {
        run_op(OpKind::kConstant, {}, {{"value_string", std::string("x")}});
      },
      "rtx.ir.675");
  check_error(
      [&] {
        run_op(OpKind::kConstant, {f32({}, {1})}, {{"value_int", int64_t{1}}});
      },
      "rtx.ir.122");
}

// ---- Trilu ----------------------------------------------------------------------------------

TEST_CASE("Trilu: upper/lower, k, batch, errors") {
  std::vector<double> v(12);
  for (int i = 0; i < 12; ++i) v[static_cast<size_t>(i)] = i + 1;
  const auto x = f32({3, 4}, v);  // [[1,2,3,4],[5,6,7,8],[9,10,11,12]]
  const Attrs lower{{"upper", int64_t{0}}};
  check_tensor(run_op(OpKind::kTrilu, {x})[0], DataType::kF32, {3, 4},
               {1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12});
  check_tensor(run_op(OpKind::kTrilu, {x, ints({}, {1})})[0], DataType::kF32, {3, 4},
               {0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12});
  check_tensor(run_op(OpKind::kTrilu, {x, ints({}, {-1})})[0], DataType::kF32, {3, 4},
               {1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12});
  check_tensor(run_op(OpKind::kTrilu, {x}, lower)[0], DataType::kF32, {3, 4},
               {1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0});
  check_tensor(run_op(OpKind::kTrilu, {x, ints({}, {-1})}, lower)[0], DataType::kF32, {3, 4},
               {0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0});
  check_tensor(run_op(OpKind::kTrilu, {x, ints({}, {10})}, lower)[0], DataType::kF32, {3, 4}, v);
  check_tensor(run_op(OpKind::kTrilu, {x, ints({}, {10})})[0], DataType::kF32, {3, 4},
               std::vector<double>(12, 0));
  check_tensor(run_op(OpKind::kTrilu, {f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})}, lower)[0],
               DataType::kF32, {2, 2, 2}, {1, 0, 3, 4, 5, 0, 7, 8});
  check_tensor(run_op(OpKind::kTrilu, {tensor(DataType::kINT4, {1, 3}, {-1, 2, -3})}, lower)[0],
               DataType::kINT4, {1, 3}, {-1, 0, 0});
  CHECK(run_op(OpKind::kTrilu, {HostTensor(DataType::kF32, {0, 3, 3})})[0].shape() ==
        Shape{0, 3, 3});
  CHECK(infer_op(OpKind::kTrilu, {f32i({kDyn, 3, 3}), i64i({})})[0].shape == Shape{kDyn, 3, 3});
  check_error([&] { run_op(OpKind::kTrilu, {f32({3}, {1, 2, 3})}); }, "rtx.ir.680");
  check_error([&] { run_op(OpKind::kTrilu, {x, i32({}, {1})}); }, "rtx.ir.600");
  check_error([&] { run_op(OpKind::kTrilu, {x, ints({2}, {1, 1})}); }, "rtx.ir.601");
}

// ---- every dtype, bit for bit ---------------------------------------------------------------

TEST_CASE("data movement is bit-exact for every dtype") {
  for (DataType dt : kAllTypes) {
    CAPTURE(rtx::to_string(dt));
    // [2,3]: element (i, j) is bits[3i + j].
    const auto bits = patterns(dt, 6);
    const auto x = from_bits(dt, {2, 3}, bits);
    auto pick = [&](std::initializer_list<size_t> idx) {
      std::vector<uint64_t> v;
      for (size_t i : idx) v.push_back(bits[i]);
      return v;
    };
    CHECK(all_bits(run_op(OpKind::kTranspose, {x})[0]) == pick({0, 3, 1, 4, 2, 5}));
    CHECK(all_bits(run_op(OpKind::kReshape, {x, ints({3, 2})})[0]) == bits);
    CHECK(all_bits(run_op(OpKind::kFlatten, {x}, {{"axis", int64_t{0}}})[0]) == bits);
    CHECK(all_bits(run_op(OpKind::kUnsqueeze, {x, ints({0})})[0]) == bits);
    CHECK(all_bits(run_op(OpKind::kGather, {x, ints({2}, {2, 0})}, {{"axis", int64_t{1}}})[0]) ==
          pick({2, 0, 5, 3}));
    CHECK(all_bits(run_op(OpKind::kGatherElements, {x, ints({1, 3}, {1, 0, 1})})[0]) ==
          pick({3, 1, 5}));
    CHECK(all_bits(run_op(OpKind::kSlice, {x, ints({-1}), ints({kMin}), ints({1}),
                                           ints({-2})})[0]) == pick({2, 0, 5, 3}));
    CHECK(all_bits(run_op(OpKind::kConcat, {x, x}, {{"axis", int64_t{1}}})[0]) ==
          pick({0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}));
    auto parts = run_op(OpKind::kSplit, {x, ints({1, 2})}, {{"axis", int64_t{1}}}, 2);
    CHECK(all_bits(parts[0]) == pick({0, 3}));
    CHECK(all_bits(parts[1]) == pick({1, 2, 4, 5}));
    CHECK(all_bits(run_op(OpKind::kExpand, {x, ints({2, 1, 1})})[0]) ==
          pick({0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}));
    CHECK(all_bits(run_op(OpKind::kTile, {x, ints({1, 2})})[0]) ==
          pick({0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}));
    CHECK(all_bits(run_op(OpKind::kPad, {x, ints({0, 1, 0, 0})},
                          {{"mode", std::string("edge")}})[0]) == pick({0, 0, 1, 2, 3, 3, 4, 5}));
    CHECK(all_bits(run_op(OpKind::kPad, {x, ints({0, 1, 0, 0})},
                          {{"mode", std::string("wrap")}})[0]) == pick({2, 0, 1, 2, 5, 3, 4, 5}));
    // The pad value's bits (element 0's NaN payload) fill the pad.
    const auto value = from_bits(dt, {}, {bits[0]});
    CHECK(all_bits(run_op(OpKind::kPad, {x, ints({0, 0, 0, 1}), value})[0]) ==
          pick({0, 1, 2, 0, 3, 4, 5, 0}));
    const auto t = run_op(OpKind::kTrilu, {x}, {{"upper", int64_t{0}}})[0];
    CHECK(all_bits(t) == std::vector<uint64_t>{bits[0], 0, 0, bits[3], bits[4], 0});
    CHECK(all_bits(run_op(OpKind::kConstantOfShape, {ints({3})},
                          {{"value", from_bits(dt, {1}, {bits[1]})}})[0]) == pick({1, 1, 1}));
    CHECK(all_bits(run_op(OpKind::kConstant, {}, {{"value", x}})[0]) == bits);
    CHECK(run_op(OpKind::kShape, {x})[0].to_ints() == Shape{2, 3});
    // Odd counts of packed types: a 5-element source sliced from an odd start.
    const auto five_bits = patterns(dt, 5);
    const auto five = from_bits(dt, {5}, five_bits);
    CHECK(all_bits(run_op(OpKind::kSlice, {five, ints({1}), ints({4})})[0]) ==
          std::vector<uint64_t>(five_bits.begin() + 1, five_bits.begin() + 4));
  }
}

TEST_CASE("every shape op is registered") {
  for (OpKind k : {OpKind::kReshape, OpKind::kTranspose, OpKind::kFlatten, OpKind::kSqueeze,
                   OpKind::kUnsqueeze, OpKind::kConcat, OpKind::kSplit, OpKind::kSlice,
                   OpKind::kGather, OpKind::kGatherElements, OpKind::kExpand, OpKind::kTile,
                   OpKind::kPad, OpKind::kShape, OpKind::kSize, OpKind::kConstantOfShape,
                   OpKind::kRange, OpKind::kConstant, OpKind::kTrilu}) {
    CAPTURE(rtx::ir::op_name(k));
    CHECK(rtx::ir::has_schema(k));
  }
}
