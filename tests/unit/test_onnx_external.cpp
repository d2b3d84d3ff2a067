// SPDX-License-Identifier: Apache-2.0
// ONNX external data: location/offset/length relative to the model's folder, memory-mapped and
// borrowed (not copied), paths that would escape the folder refused, missing files and
// out-of-range offsets reported; tensors and offsets beyond 2 GiB (sparse files, so the test
// uses almost no disk); initializer-only reads for refit.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "test_onnx_util.hpp"

namespace rtx::test {
namespace {

namespace fs = std::filesystem;

/// A fresh folder under the temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("rtx_onnx_ext_" + std::to_string(rd()) + "_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string floats_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

/// Makes initializer `name` (f32, dims) external: location / offset / length as given.
void make_external(pb::TensorProto& t, const std::string& location, const std::string& offset,
                   const std::string& length) {
  t.set_data_location(pb::TensorProto_DataLocation_EXTERNAL);
  const auto kv = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    auto* e = t.add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  kv("location", location);
  kv("offset", offset);
  kv("length", length);
}

/// y = x * w where w (f32[4]) lives in an external file.
ModelBuilder mul_model(const std::string& location, const std::string& offset,
                       const std::string& length) {
  ModelBuilder m(17);
  m.input("x", 1, {4});
  make_external(m.init("w", 1, {4}), location, offset, length);
  m.node("Mul", {"x", "w"}, {"y"});
  m.output("y");
  return m;
}

Error file_error(const TempDir& d, const ModelBuilder& m) {
  write_file(d.path / "model.onnx", m.bytes());
  onnx::Parser parser;
  auto r = parser.parse_from_file((d.path / "model.onnx").string());
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

TEST_CASE(
    "onnx external data: location, offset and length; the weight is borrowed from the mapping") {
  TempDir d;
  fs::create_directories(d.path / "weights");
  // 8 junk bytes, then the 4 floats.
  write_file(d.path / "weights" / "w.bin", std::string(8, 'J') + floats_bytes({1, 2, 3, 4}));
  write_file(d.path / "model.onnx", mul_model("weights/w.bin", "8", "16").bytes());
  onnx::Parser parser;
  auto net = parser.parse_from_file((d.path / "model.onnx").string());
  REQUIRE(net.has_value());
  const ir::Graph& g = detail::graph_of(*net);
  const HostTensor* w = g.constant_data(g.find_value("w"));
  REQUIRE(w);
  CHECK(w->is_borrowed());
  CHECK(values(*w) == std::vector<double>{1, 2, 3, 4});
  // The mapping outlives the file's name: remove it and the network still computes.
  fs::remove(d.path / "weights" / "w.bin");
  auto out = run(*net, {{"x", f32t({4}, {1, 1, 2, 2})}});
  check_close(out.at("y"), {4}, {1, 2, 6, 8});

  // Parsing from memory with the folder given works the same way.
  write_file(d.path / "w2.bin", floats_bytes({5, 6, 7, 8}));
  const std::string b = mul_model("w2.bin", "", "").bytes();
  auto mem = parser.parse(b.data(), b.size(), d.path.string());
  REQUIRE(mem.has_value());
  const ir::Graph& g2 = detail::graph_of(*mem);
  CHECK(values(*g2.constant_data(g2.find_value("w"))) == std::vector<double>{5, 6, 7, 8});
}

TEST_CASE("onnx external data: errors") {
  TempDir d;
  write_file(d.path / "w.bin", floats_bytes({1, 2, 3, 4}));
  SUBCASE("missing file") {
    Error e = file_error(d, mul_model("nothere.bin", "", ""));
    CHECK(e.id == "rtx.onnx.206");
    CHECK(e.message.find("nothere.bin") != std::string::npos);
    CHECK(e.message.find("'w'") != std::string::npos);
  }
  SUBCASE("paths escaping the model folder") {
    CHECK(file_error(d, mul_model("../w.bin", "", "")).id == "rtx.onnx.205");
    CHECK(file_error(d, mul_model("sub/../../w.bin", "", "")).id == "rtx.onnx.205");
    CHECK(file_error(d, mul_model((d.path / "w.bin").string(), "", "")).id == "rtx.onnx.205");
    // A symbolic link inside the folder that points outside it.
    TempDir outside;
    write_file(outside.path / "secret.bin", floats_bytes({9, 9, 9, 9}));
    fs::create_symlink(outside.path / "secret.bin", d.path / "link.bin");
    Error e = file_error(d, mul_model("link.bin", "", ""));
    CHECK(e.id == "rtx.onnx.205");
    CHECK(e.message.find("outside the model's folder") != std::string::npos);
  }
  SUBCASE("offset and length out of the file") {
    Error e = file_error(d, mul_model("w.bin", "4", ""));  // 12 bytes left, 16 needed
    CHECK(e.id == "rtx.onnx.207");
    CHECK(file_error(d, mul_model("w.bin", "17", "")).id == "rtx.onnx.207");
    CHECK(file_error(d, mul_model("w.bin", "18446744073709551615", "16")).id == "rtx.onnx.207");
  }
  SUBCASE("length that disagrees with the dims, unparsable numbers, no location") {
    CHECK(file_error(d, mul_model("w.bin", "0", "12")).id == "rtx.onnx.208");
    CHECK(file_error(d, mul_model("w.bin", "-4", "")).id == "rtx.onnx.211");
    CHECK(file_error(d, mul_model("w.bin", "99999999999999999999999", "")).id == "rtx.onnx.211");
    CHECK(file_error(d, mul_model("", "0", "16")).id == "rtx.onnx.204");
  }
  SUBCASE("external data in a model parsed from memory without a folder") {
    CHECK(parse_error(mul_model("w.bin", "", "")).id == "rtx.onnx.209");
  }
}

TEST_CASE("onnx external data: tensors and offsets beyond 2 GiB") {
  // A sparse 5 GiB file: a 2.5 GiB uint8 tensor at offset 2.5 GiB. Nothing is read but the
  // gathered elements, so the test needs neither the disk space nor the memory.
  TempDir d;
  const uint64_t offset = (uint64_t{5} << 29);  // 2.5 GiB
  const uint64_t count = (uint64_t{5} << 29);   // 2.5 GiB elements of uint8
  const fs::path bin = d.path / "big.bin";
  {
    const int fd = ::open(bin.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(offset + count)) == 0);
    const uint8_t first = 17, last = 42;
    REQUIRE(::pwrite(fd, &first, 1, static_cast<off_t>(offset)) == 1);
    REQUIRE(::pwrite(fd, &last, 1, static_cast<off_t>(offset + count - 1)) == 1);
    ::close(fd);
  }
  ModelBuilder m(17);
  m.input("idx", 7, {3});
  make_external(m.init("big", 2, {static_cast<int64_t>(count)}), "big.bin", std::to_string(offset),
                std::to_string(count));
  attr_i(m.node("Gather", {"big", "idx"}, {"y"}), "axis", 0);
  m.output("y");
  write_file(d.path / "model.onnx", m.bytes());
  onnx::Parser parser;
  auto net = parser.parse_from_file((d.path / "model.onnx").string());
  REQUIRE(net.has_value());
  const ir::Graph& g = detail::graph_of(*net);
  const HostTensor* big = g.constant_data(g.find_value("big"));
  REQUIRE(big);
  CHECK(big->is_borrowed());
  CHECK(big->byte_size() == count);
  const auto idx = HostTensor::from_vector(
      DataType::kINT64, {3}, std::vector<int64_t>{0, static_cast<int64_t>(count) - 1, 12345});
  auto out = run(*net, {{"idx", idx}});
  CHECK(out.at("y").to_ints() == std::vector<int64_t>{17, 42, 0});

  // read_initializers sees the same bytes without building a network.
  auto inits = onnx::read_initializers((d.path / "model.onnx").string(), {"big"});
  REQUIRE(inits.has_value());
  CHECK(inits->at("big").get_int(static_cast<int64_t>(count) - 1) == 42);
}

TEST_CASE("onnx: read_initializers for refit") {
  TempDir d;
  write_file(d.path / "w.bin", floats_bytes({1, 2, 3, 4}));
  ModelBuilder m = mul_model("w.bin", "", "");
  m.init_f32("bias", {2}, {0.5f, -0.5f}).init_i64("shape", {2}, {2, 2});
  write_file(d.path / "model.onnx", m.bytes());
  const std::string path = (d.path / "model.onnx").string();

  auto all = onnx::read_initializers(path);
  REQUIRE(all.has_value());
  CHECK(all->size() == 3);
  CHECK(values(all->at("w")) == std::vector<double>{1, 2, 3, 4});
  CHECK(all->at("w").is_borrowed());
  CHECK(values(all->at("bias")) == std::vector<double>{0.5, -0.5});
  CHECK(all->at("shape").to_ints() == std::vector<int64_t>{2, 2});

  auto some = onnx::read_initializers(path, {"bias"});
  REQUIRE(some.has_value());
  CHECK(some->size() == 1);

  auto missing = onnx::read_initializers(path, {"bias", "nope", "gone"});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().id == "rtx.onnx.401");
  CHECK(missing.error().message.find("'gone', 'nope'") != std::string::npos);

  auto no_file = onnx::read_initializers((d.path / "none.onnx").string());
  REQUIRE_FALSE(no_file.has_value());
  CHECK(no_file.error().id == "rtx.onnx.101");
}

TEST_CASE("onnx: sparse initializers are densified") {
  ModelBuilder m(17);
  m.input("x", 1, {2, 3});
  auto* s = m.graph().add_sparse_initializer();
  s->add_dims(2);
  s->add_dims(3);
  auto* vals = s->mutable_values();
  vals->set_name("w");
  vals->set_data_type(1);
  vals->add_dims(2);
  vals->add_float_data(5.0f);
  vals->add_float_data(-1.0f);
  auto* idx = s->mutable_indices();
  idx->set_data_type(7);
  idx->add_dims(2);
  idx->add_int64_data(1);  // flat index 1 -> (0,1)
  idx->add_int64_data(5);  // flat index 5 -> (1,2)
  m.node("Add", {"x", "w"}, {"y"});
  m.output("y");
  Network net = parse_ok(m);
  auto out = run(net, {{"x", f32t({2, 3}, {0, 0, 0, 0, 0, 0})}});
  check_close(out.at("y"), {2, 3}, {0, 5, 0, 0, 0, -1});

  idx->set_int64_data(1, 6);  // out of range
  CHECK(parse_error(m).id == "rtx.onnx.212");
}

}  // namespace
}  // namespace rtx::test
