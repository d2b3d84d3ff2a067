// SPDX-License-Identifier: Apache-2.0
// Inputs and outputs of `rtx` runs: how each input's shape is chosen, loading .npy / raw / .pb
// files with their errors, portable random inputs, and writing --saveOutputs / --exportOutput.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tools/rtx/npy.hpp"
#include "tools/rtx/tensor_io.hpp"

using namespace rtx;
using namespace rtx::cli;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("rtx_cli_io_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

TensorDesc desc(std::string name, DataType dt, std::vector<int64_t> dims,
                std::vector<std::string> names = {}) {
  TensorDesc d;
  d.name = std::move(name);
  d.dtype = dt;
  d.dims = std::move(dims);
  d.dim_names = std::move(names);
  return d;
}

Options options_with(std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {},
                     std::vector<InputFile> files = {}) {
  Options o;
  o.shapes = std::move(shapes);
  o.load_inputs = std::move(files);
  return o;
}

void expect_error(const std::vector<TensorDesc>& inputs, const Options& o, const char* id,
                  const char* needle) {
  auto r = prepare_inputs(inputs, o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == id);
  INFO(r.error().message);
  CHECK(r.error().message.find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("shapes: static dims, --shapes, shared dim names, the profile's opt shape") {
  std::vector<TensorDesc> in = {desc("ids", DataType::kINT64, {-1, -1}, {"batch", "seq"}),
                                desc("mask", DataType::kINT64, {-1, -1}, {"batch", "seq"}),
                                desc("scale", DataType::kF32, {1})};
  auto r = prepare_inputs(in, options_with({{"ids", {2, 7}}}));
  REQUIRE(r.has_value());
  CHECK((*r)[0].second.tensor.shape() == std::vector<int64_t>{2, 7});
  CHECK((*r)[1].second.tensor.shape() == std::vector<int64_t>{2, 7});  // from the dim names
  CHECK((*r)[2].second.tensor.shape() == std::vector<int64_t>{1});
  CHECK((*r)[0].second.source == "random (seed 1)");
  // Integer inputs are 0 or 1: safe as indices, token types and masks.
  for (int64_t v : (*r)[0].second.tensor.to_ints()) CHECK((v == 0 || v == 1));
  // Without names or --shapes, the profile's opt shape.
  std::vector<TensorDesc> p = {desc("x", DataType::kF32, {-1, 4})};
  p[0].min = {1, 4};
  p[0].opt = {3, 4};
  p[0].max = {8, 4};
  r = prepare_inputs(p, Options{});
  REQUIRE(r.has_value());
  CHECK((*r)[0].second.tensor.shape() == std::vector<int64_t>{3, 4});
  Options opt;
  opt.opt_shapes = {{"x", {5, 4}}};
  r = prepare_inputs(p, opt);
  REQUIRE(r.has_value());
  CHECK((*r)[0].second.tensor.shape() == std::vector<int64_t>{5, 4});
}

TEST_CASE("shape errors name the input and what to do") {
  const std::vector<TensorDesc> in = {desc("x", DataType::kF32, {-1, 784})};
  expect_error(in, Options{}, "rtx.cli.203", "--shapes=x:1x784");
  expect_error(in, options_with({{"x", {2, 3, 4}}}), "rtx.cli.204", "has rank 2");
  expect_error(in, options_with({{"x", {2, 783}}}), "rtx.cli.204", "dim 1 is fixed at 784");
  expect_error(in, options_with({{"y", {2, 784}}}), "rtx.cli.201",
               "'y' is not an input of the model (inputs: x)");
  expect_error(in, options_with({}, {{"z", "z.npy"}}), "rtx.cli.201", "--loadInputs: 'z'");
  std::vector<TensorDesc> p = {desc("x", DataType::kF32, {-1, 4})};
  p[0].min = {1, 4};
  p[0].opt = {3, 4};
  p[0].max = {8, 4};
  expect_error(p, options_with({{"x", {9, 4}}}), "rtx.cli.204", "outside the profile [1x4, 8x4]");
}

TEST_CASE("random inputs are portable and follow the seed") {
  const std::vector<TensorDesc> in = {desc("x", DataType::kF32, {1000}),
                                      desc("h", DataType::kF16, {10})};
  Options o;
  auto a = prepare_inputs(in, o);
  auto b = prepare_inputs(in, o);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(std::memcmp((*a)[0].second.tensor.data(), (*b)[0].second.tensor.data(), 4000) == 0);
  const auto v = (*a)[0].second.tensor.to_doubles();
  double lo = 1, hi = -1;
  for (double x : v) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  CHECK(lo >= -1);
  CHECK(hi < 1);
  CHECK(lo < -0.9);  // 1000 uniform draws cover the range
  CHECK(hi > 0.9);
  // SplitMix64 from seed 1: the first draw is fixed for every machine.
  Rng rng(1);
  CHECK(rng.next() == 0x910A2DEC89025CC1ull);
  o.seed = 2;
  auto c = prepare_inputs(in, o);
  CHECK(std::memcmp((*a)[0].second.tensor.data(), (*c)[0].second.tensor.data(), 4000) != 0);
  CHECK((*c)[0].second.source == "random (seed 2)");
}

TEST_CASE("--loadInputs: .npy, raw bytes, and their errors") {
  TempDir dir;
  const HostTensor x =
      HostTensor::from_doubles(DataType::kF32, {2, 2}, std::vector<double>{1, -2, 3.5, 4});
  REQUIRE(write_npy(dir.file("x.npy"), x).has_value());
  {
    std::ofstream raw(dir.file("x.bin"), std::ios::binary);
    raw.write(reinterpret_cast<const char*>(x.data()), 16);
  }
  const std::vector<TensorDesc> in = {desc("x", DataType::kF32, {-1, 2})};
  auto r = prepare_inputs(in, options_with({}, {{"x", dir.file("x.npy")}}));
  REQUIRE(r.has_value());
  CHECK((*r)[0].second.tensor.to_doubles() == std::vector<double>{1, -2, 3.5, 4});
  CHECK((*r)[0].second.source == dir.file("x.npy"));
  // Raw files need the shape from --shapes (or static dims) and must have exactly its size.
  r = prepare_inputs(in, options_with({{"x", {2, 2}}}, {{"x", dir.file("x.bin")}}));
  REQUIRE(r.has_value());
  CHECK((*r)[0].second.tensor.to_doubles() == std::vector<double>{1, -2, 3.5, 4});
  CHECK((*r)[0].second.source == "raw file " + dir.file("x.bin"));
  expect_error(in, options_with({{"x", {3, 2}}}, {{"x", dir.file("x.bin")}}), "rtx.cli.202",
               "has 16 bytes but input 'x'");
  expect_error(in, options_with({}, {{"x", dir.file("x.bin")}}), "rtx.cli.203", "dynamic dims");
  expect_error(in, options_with({{"x", {2, 2}}}, {{"x", dir.file("missing.bin")}}), "rtx.cli.207",
               "cannot read");
  expect_error(in, options_with({{"x", {1, 2}}}, {{"x", dir.file("x.npy")}}), "rtx.cli.204",
               "holds 2x2");
  // dtype must match, with a hint; types numpy lacks take float32 values, rounded.
  const std::vector<TensorDesc> half = {desc("x", DataType::kF16, {2, 2})};
  expect_error(half, options_with({}, {{"x", dir.file("x.npy")}}), "rtx.cli.205",
               "a.astype('<f2')");
  const std::vector<TensorDesc> bf = {desc("x", DataType::kBF16, {2, 2})};
  r = prepare_inputs(bf, options_with({}, {{"x", dir.file("x.npy")}}));
  REQUIRE(r.has_value());
  CHECK((*r)[0].second.tensor.dtype() == DataType::kBF16);
  CHECK((*r)[0].second.tensor.to_doubles() == std::vector<double>{1, -2, 3.5, 4});
  CHECK((*r)[0].second.source.find("(f32 rounded to bf16)") != std::string::npos);
  const std::vector<TensorDesc> i64 = {desc("x", DataType::kINT64, {2, 2})};
  expect_error(i64, options_with({}, {{"x", dir.file("x.npy")}}), "rtx.cli.205", "holds f32");
  // A malformed .npy keeps the .npy reader's id.
  {
    std::ofstream bad(dir.file("bad.npy"), std::ios::binary);
    bad << "not numpy";
  }
  expect_error(in, options_with({}, {{"x", dir.file("bad.npy")}}), "rtx.cli.102", "bad.npy");
  // An ONNX TensorProto file that is not one.
  {
    std::ofstream bad(dir.file("bad.pb"), std::ios::binary);
    bad << "not numpy";
  }
  expect_error(in, options_with({}, {{"x", dir.file("bad.pb")}}), "rtx.cli.207",
               "not a readable ONNX TensorProto");
}

TEST_CASE("outputs: .npy files, trtexec JSON, values as text") {
  TempDir dir;
  const std::vector<std::pair<std::string, HostTensor>> outputs = {
      {"logits/dense:0",
       HostTensor::from_doubles(DataType::kF32, {2, 2}, std::vector<double>{0.1, -2, 3, 1e-8})},
      {"flag", HostTensor::from_doubles(DataType::kBOOL, {2}, std::vector<double>{1, 0})},
  };
  auto written = save_outputs_npy(dir.file("out/nested"), outputs);
  REQUIRE(written.has_value());
  CHECK((*written)[0] == dir.file("out/nested/logits_dense_0.npy"));
  auto back = read_npy((*written)[0]);
  REQUIRE(back.has_value());
  CHECK(std::memcmp(back->data(), outputs[0].second.data(), 16) == 0);
  // Two names that map to one file are refused rather than overwritten.
  const std::vector<std::pair<std::string, HostTensor>> clash = {
      {"a/b", HostTensor(DataType::kF32, {1})}, {"a:b", HostTensor(DataType::kF32, {1})}};
  auto bad = save_outputs_npy(dir.file("clash"), clash);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().id == "rtx.cli.206");
  CHECK(safe_file_name("..") == "_..");
  CHECK(safe_file_name("../etc/passwd") == ".._etc_passwd");
  CHECK(safe_file_name("") == "_");

  const auto json = nlohmann::json::parse(output_json(outputs));
  REQUIRE(json.size() == 2);
  CHECK(json[0]["name"] == "logits/dense:0");
  CHECK(json[0]["dimensions"] == "2x2");
  CHECK(json[0]["values"][0].get<double>() == doctest::Approx(0.1));
  CHECK(json[0]["values"][3].get<double>() == doctest::Approx(1e-8));
  CHECK(json[1]["values"] == nlohmann::json({1, 0}));
  // Floats print with the fewest digits that read back to the same f32; NaN as Python reads it.
  CHECK(format_value(outputs[0].second, 0) == "0.1");
  const auto nan = HostTensor::from_doubles(DataType::kF16, {3},
                                            std::vector<double>{NAN, -INFINITY, 0.333251953125});
  CHECK(format_value(nan, 0) == "NaN");
  CHECK(format_value(nan, 1) == "-Infinity");
  CHECK(format_value(nan, 2) == "0.33325195");
  CHECK(summarize(outputs[0].second).find("f32 2x2: min -2, max 3") != std::string::npos);
  CHECK(summarize(nan).find("1 NaN") != std::string::npos);
  std::ostringstream dump;
  dump_values(dump, outputs[0].second);
  CHECK(dump.str() == "0.1 -2\n3 1e-08\n");
}
