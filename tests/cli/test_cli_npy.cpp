// SPDX-License-Identifier: Apache-2.0
// The .npy reader and writer: bytes exactly as numpy 2.x writes them, round trips of every dtype
// and shape kind, the exact widening of types numpy lacks, and one malformed file per error.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tools/rtx/npy.hpp"

using namespace rtx;
using namespace rtx::cli;

namespace {

// A .npy file with `header` (padded like numpy: spaces, then '\n', to a multiple of 64) and data.
std::vector<uint8_t> npy_bytes(const std::string& dict, const std::vector<uint8_t>& data,
                               int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  out.push_back(static_cast<uint8_t>(header.size()));
  out.push_back(static_cast<uint8_t>(header.size() >> 8));
  if (major != 1) {
    out.push_back(0);
    out.push_back(0);
  }
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> f32_bytes(std::vector<float> v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

void expect_error(const std::vector<uint8_t>& bytes, const char* id, const char* needle) {
  auto r = parse_npy(bytes, "t.npy");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == id);
  INFO(r.error().message);
  CHECK(r.error().message.find(needle) != std::string::npos);
  CHECK(r.error().message.find("t.npy") != std::string::npos);
}

}  // namespace

TEST_CASE("reads what numpy 2.x writes") {
  // np.save(f, np.arange(6, dtype='<f4').reshape(2, 3)): numpy pads the header to 128 bytes.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(117 - header.size(), ' ');
  header += '\n';
  std::vector<uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0};
  bytes.insert(bytes.end(), header.begin(), header.end());
  const auto data = f32_bytes({0, 1, 2, 3, 4, 5});
  bytes.insert(bytes.end(), data.begin(), data.end());
  REQUIRE(bytes.size() == 152);  // what numpy writes for this array
  auto t = parse_npy(bytes, "golden.npy");
  REQUIRE(t.has_value());
  CHECK(t->dtype() == DataType::kF32);
  CHECK(t->shape() == std::vector<int64_t>{2, 3});
  for (int i = 0; i < 6; ++i) CHECK(t->get_double(i) == i);
}

TEST_CASE("accepts the header variants numpy and other writers use") {
  // Keys in any order, double quotes, no trailing comma, format 2.0, a 1-tuple, a scalar.
  auto t = parse_npy(npy_bytes("{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<i8\"}",
                               std::vector<uint8_t>(24, 0)),
                     "a.npy");
  REQUIRE(t.has_value());
  CHECK(t->dtype() == DataType::kINT64);
  CHECK(t->shape() == std::vector<int64_t>{3});
  t = parse_npy(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                          std::vector<uint8_t>(8, 0), 2),
                "b.npy");
  REQUIRE(t.has_value());
  CHECK(t->shape().empty());
  t = parse_npy(npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (0, 4), }", {}),
                "c.npy");
  REQUIRE(t.has_value());
  CHECK(t->element_count() == 0);
  CHECK(t->dtype() == DataType::kBOOL);
  t = parse_npy(npy_bytes("{'descr': '<u1', 'fortran_order': False, 'shape': (2,), }", {7, 9}),
                "d.npy");
  REQUIRE(t.has_value());
  CHECK(t->dtype() == DataType::kUINT8);
  CHECK(t->get_int(1) == 9);
}

TEST_CASE("round trips of every dtype numpy holds") {
  const std::vector<std::vector<int64_t>> shapes = {{}, {0, 4}, {3}, {2, 3, 4}};
  const DataType types[] = {DataType::kF64,   DataType::kF32,   DataType::kF16,   DataType::kINT8,
                            DataType::kUINT8, DataType::kINT32, DataType::kINT64, DataType::kBOOL};
  for (DataType dt : types) {
    for (const auto& shape : shapes) {
      HostTensor t(dt, shape);
      for (int64_t i = 0; i < t.element_count(); ++i) {
        t.set_double(i, dt == DataType::kBOOL
                            ? double(i % 2)
                            : (dt == DataType::kUINT8 ? double(i) : double(i) - 3.5));
      }
      const auto bytes = encode_npy(t);
      INFO(to_string(dt) << " " << shape_to_string(shape));
      // Data starts at a multiple of 64 and the header ends with a newline.
      const size_t header_end = 10 + (bytes[8] | size_t(bytes[9]) << 8);
      CHECK(header_end % 64 == 0);
      CHECK(bytes[header_end - 1] == '\n');
      auto back = parse_npy(bytes, "rt.npy");
      REQUIRE(back.has_value());
      CHECK(back->dtype() == dt);
      CHECK(back->shape() == shape);
      REQUIRE(back->byte_size() == t.byte_size());
      CHECK(std::memcmp(back->data(), t.data(), t.byte_size()) == 0);
    }
  }
  // A 1-D shape is written as a Python 1-tuple.
  const auto bytes = encode_npy(HostTensor(DataType::kF32, {5}));
  const std::string header(bytes.begin() + 10, bytes.begin() + 10 + 60);
  CHECK(header.find("'shape': (5,)") != std::string::npos);
  CHECK(header.find("'descr': '<f4'") != std::string::npos);
}

TEST_CASE("types numpy lacks are widened exactly") {
  std::vector<double> values = {1.5, -2.25, 448, 0.0078125};
  auto fp8 = HostTensor::from_doubles(DataType::kFP8E4M3, {4}, values);
  auto back = parse_npy(encode_npy(fp8), "w.npy");
  REQUIRE(back.has_value());
  CHECK(back->dtype() == DataType::kF32);
  CHECK(back->to_doubles() == fp8.to_doubles());
  auto bf = HostTensor::from_doubles(DataType::kBF16, {2, 2},
                                     std::vector<double>{1.0, 3.140625, -0.5, 65536});
  back = parse_npy(encode_npy(bf), "w.npy");
  REQUIRE(back.has_value());
  CHECK(back->dtype() == DataType::kF32);
  CHECK(back->to_doubles() == bf.to_doubles());
  auto i4 = HostTensor::from_doubles(DataType::kINT4, {3}, std::vector<double>{-8, 7, -1});
  back = parse_npy(encode_npy(i4), "w.npy");
  REQUIRE(back.has_value());
  CHECK(back->dtype() == DataType::kINT8);
  CHECK(back->to_ints() == std::vector<int64_t>{-8, 7, -1});
  CHECK(npy_storage_type(DataType::kUINT4) == DataType::kUINT8);
  CHECK(npy_storage_type(DataType::kFP4E2M1) == DataType::kF32);
  CHECK(npy_storage_type(DataType::kF16) == DataType::kF16);
  CHECK(*npy_descr(DataType::kF16) == "<f2");
  CHECK_FALSE(npy_descr(DataType::kBF16).has_value());
}

TEST_CASE("malformed files: one error each") {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const auto data = f32_bytes({1, 2});
  expect_error({1, 2, 3}, "rtx.cli.102", "not a .npy file");
  auto wrong_magic = npy_bytes(ok, data);
  wrong_magic[1] = 'X';
  expect_error(wrong_magic, "rtx.cli.102", "magic");
  auto version = npy_bytes(ok, data);
  version[6] = 4;
  expect_error(version, "rtx.cli.102", "version 4.0");
  auto long_header = npy_bytes(ok, data);
  long_header[9] = 0x7F;
  expect_error(long_header, "rtx.cli.103", "the file has only");
  auto no_newline = npy_bytes(ok, data);
  no_newline[no_newline.size() - data.size() - 1] = ' ';
  expect_error(no_newline, "rtx.cli.103", "newline");
  expect_error(
      npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", data),
      "rtx.cli.103", "unexpected key 'extra'");
  expect_error(npy_bytes("{'descr': '<f4', 'shape': (2,)}", data), "rtx.cli.103",
               "'fortran_order' is missing");
  expect_error(
      npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", data),
      "rtx.cli.103", "appears twice");
  expect_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", data),
               "rtx.cli.103", "(n,)");
  expect_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", data),
               "rtx.cli.103", "non-negative");
  expect_error(npy_bytes("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", data),
               "rtx.cli.103", "True or False");
  expect_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", data),
               "rtx.cli.103", "newline");
  expect_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) 'x'}", data),
               "rtx.cli.103", "expected ','");
  expect_error(npy_bytes("{'descr': '<f4\xc3\xa9', 'fortran_order': False, 'shape': (2,)}", data),
               "rtx.cli.103", "non-ASCII");
  expect_error(npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", data),
               "rtx.cli.106", "np.ascontiguousarray");
  expect_error(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data),
               "rtx.cli.104", "big-endian");
  expect_error(npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", data),
               "rtx.cli.104", "'<c8'");
  expect_error(npy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data),
               "rtx.cli.104", "not supported");
  expect_error(npy_bytes("{'descr': '<V2', 'fortran_order': False, 'shape': (2,), }", data),
               "rtx.cli.104", "float32");
  expect_error(npy_bytes(ok, f32_bytes({1})), "rtx.cli.105", "(truncated)");
  expect_error(npy_bytes(ok, f32_bytes({1, 2, 3})), "rtx.cli.105", "(trailing bytes)");
  expect_error(
      npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 4), }",
                data),
      "rtx.cli.105", "overflows");
  expect_error(
      npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
                data),
      "rtx.cli.103", "overflows int64");
  expect_error(npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", {1, 2}),
               "rtx.cli.104", "bool element 1 is 2");
  expect_error(
      npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", data),
      "rtx.cli.103", "at most 8");
}

TEST_CASE("file errors") {
  const auto dir = std::filesystem::temp_directory_path() / "rtx_cli_npy_test";
  std::filesystem::create_directories(dir);
  auto r = read_npy(dir / "missing.npy");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == "rtx.cli.101");
  r = read_npy(dir);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == "rtx.cli.101");
  auto w = write_npy(dir / "no" / "such" / "folder.npy", HostTensor(DataType::kF32, {1}));
  REQUIRE_FALSE(w.has_value());
  CHECK(w.error().id == "rtx.cli.107");
  const HostTensor t = HostTensor::from_doubles(DataType::kF16, {2}, std::vector<double>{0.5, -1});
  REQUIRE(write_npy(dir / "ok.npy", t).has_value());
  auto back = read_npy(dir / "ok.npy");
  REQUIRE(back.has_value());
  CHECK(back->to_doubles() == std::vector<double>{0.5, -1});
  std::filesystem::remove_all(dir);
}
