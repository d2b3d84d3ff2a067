// SPDX-License-Identifier: Apache-2.0
// The `rtx` program end to end, in-process (run_cli with string streams): help and usage errors,
// reference runs of an ONNX model with hand-computed outputs (.npy in, .npy and trtexec JSON
// out), random inputs, a bundled BERT model against onnxruntime's outputs, build-only runs with
// the progress display, running an engine's stored network on the reference evaluator, the
// stripped-engine refit round trip (byte-identical to the engine built with weights), and the
// clear refusal to run on a GPU this machine does not have.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "ir/onnx/tensor_proto.hpp"
#include "tests/unit/test_onnx_util.hpp"
#include "tools/rtx/cli.hpp"
#include "tools/rtx/gpu_run.hpp"
#include "tools/rtx/npy.hpp"

using namespace rtx;
using namespace rtx::cli;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("rtx_cli_run_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

struct Result {
  int code = 0;
  std::string out, err;
};

Result rtx_cli(std::vector<std::string> args) {
  std::ostringstream out, err;
  Result r;
  r.code = run_cli(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// y = Relu(x @ W + b) with x f32 [batch, 3], W = [[1, -1], [2, 0], [0, 1]], b = [0.5, -0.5].
std::string write_mlp(const TempDir& dir, const std::string& name = "mlp.onnx",
                      std::vector<float> w = {1, -1, 2, 0, 0, 1}) {
  test::ModelBuilder m(17);
  m.input("x", 1, {"batch", 3});
  m.init_f32("W", {3, 2}, w);
  m.init_f32("b", {2}, {0.5f, -0.5f});
  m.node("MatMul", {"x", "W"}, {"xw"});
  m.node("Add", {"xw", "b"}, {"z"});
  m.node("Relu", {"z"}, {"y"});
  m.output("y", 1);
  const auto path = dir.file(name);
  std::ofstream(path, std::ios::binary) << m.bytes();
  return path;
}

std::string write_x(const TempDir& dir) {
  const auto path = dir.file("x.npy");
  REQUIRE(write_npy(path, HostTensor::from_doubles(DataType::kF32, {2, 3},
                                                   std::vector<double>{1, 2, 3, -1, 0, 1}))
              .has_value());
  return path;
}

const std::vector<double> kExpected = {5.5, 1.5, 0, 1.5};

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("help, version and usage errors") {
  auto r = rtx_cli({"--help"});
  CHECK(r.code == 0);
  CHECK(has(r.out, "--weightStreamingBudget"));
  CHECK(has(r.out, "rtx inspect FILE [--json]"));
  r = rtx_cli({"--version"});
  CHECK(r.code == 0);
  CHECK(has(r.out, "rtx 0.1.0 (engine format 2)"));
  r = rtx_cli({"--onnx=m.onnx", "--bogus"});
  CHECK(r.code == 2);
  CHECK(has(r.err, "[E] rtx.cli.001: unknown flag '--bogus'"));
  CHECK(r.out.empty());
  r = rtx_cli({});
  CHECK(r.code == 2);
  CHECK(has(r.err, "rtx.cli.006"));
}

TEST_CASE("reference run: .npy in, .npy and trtexec JSON out, hand-computed values") {
  TempDir dir;
  const auto model = write_mlp(dir);
  const auto x = write_x(dir);
  auto r = rtx_cli({"--onnx=" + model, "--backend=reference", "--loadInputs=x:" + x,
                    "--saveOutputs=" + dir.file("out"), "--exportOutput=" + dir.file("out.json"),
                    "--dumpOutput"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(has(r.out, "&&&& RUNNING rtx # rtx --onnx="));
  CHECK(has(r.out, "[I]   input  x f32 ?x3"));
  CHECK(has(r.out, "[I] Input 'x': f32 2x3 from " + x));
  CHECK(has(r.out, "[I] Output 'y': f32 2x2: min 0, max 5.5"));
  CHECK(has(r.out, "5.5 1.5\n0 1.5\n"));  // --dumpOutput
  CHECK(has(r.out, "&&&& PASSED rtx #"));
  auto y = read_npy(dir.file("out/y.npy"));
  REQUIRE(y.has_value());
  CHECK(y->shape() == std::vector<int64_t>{2, 2});
  CHECK(y->to_doubles() == kExpected);
  std::ifstream jf(dir.file("out.json"));
  const auto j = nlohmann::json::parse(jf);
  REQUIRE(j.size() == 1);
  CHECK(j[0]["name"] == "y");
  CHECK(j[0]["dimensions"] == "2x2");
  CHECK(j[0]["values"] == nlohmann::json({5.5, 1.5, 0, 1.5}));
}

TEST_CASE("reference run: random inputs from a printed seed; shape errors") {
  TempDir dir;
  const auto model = write_mlp(dir);
  auto a = rtx_cli({"--onnx=" + model, "--backend=reference", "--shapes=x:4x3", "--seed=7"});
  auto b = rtx_cli({"--onnx=" + model, "--backend=reference", "--shapes=x:4x3", "--seed=7"});
  REQUIRE(a.code == 0);
  CHECK(has(a.out, "[I] Input 'x': f32 4x3 from random (seed 7)"));
  CHECK(has(a.out, "[I] Output 'y': f32 4x2"));
  const auto line = [](const std::string& s) { return s.substr(s.find("[I] Output 'y'")); };
  CHECK(line(a.out).substr(0, 120) == line(b.out).substr(0, 120));
  auto r = rtx_cli({"--onnx=" + model, "--backend=reference"});
  CHECK(r.code == 1);
  CHECK(
      has(r.err,
          "[E] rtx.cli.203: input 'x' has dynamic dims ?x3: give its shape, e.g. --shapes=x:1x3"));
  CHECK(has(r.out, "&&&& FAILED rtx #"));
  r = rtx_cli({"--onnx=" + model, "--backend=reference", "--shapes=x:2x4"});
  CHECK(r.code == 1);
  CHECK(has(r.err, "rtx.cli.204"));
  r = rtx_cli({"--onnx=" + dir.file("missing.onnx"), "--backend=reference"});
  CHECK(r.code == 1);
  CHECK(has(r.err, "[E] rtx.onnx."));
}

TEST_CASE("reference run of the bundled BERT model matches onnxruntime") {
  const std::string root = std::string(RTX_SOURCE_DIR) + "/tests/models/bert_tiny/";
  rtx::onnx::Parser parser;
  auto net = parser.parse_from_file(root + "model.onnx");
  REQUIRE(net.has_value());
  const auto inputs = net->input_names();
  const auto outputs = net->output_names();
  for (int set = 0; set < 2; ++set) {
    const std::string data = root + "test_data_set_" + std::to_string(set) + "/";
    std::string load;
    for (size_t k = 0; k < inputs.size(); ++k)
      load += (k ? "," : "") + inputs[k] + ":" + data + "input_" + std::to_string(k) + ".pb";
    TempDir dir;
    auto r = rtx_cli({"--onnx=" + root + "model.onnx", "--backend=reference",
                      "--loadInputs=" + load, "--saveOutputs=" + dir.file("out")});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK(has(r.out, "(ONNX TensorProto)"));
    for (size_t k = 0; k < outputs.size(); ++k) {
      const auto want_bytes = read_bytes(data + "output_" + std::to_string(k) + ".pb");
      const HostTensor want =
          rtx::onnx::tensor_from_bytes(want_bytes.data(), want_bytes.size(), "expected");
      auto got = read_npy(dir.file("out/" + safe_file_name(outputs[k]) + ".npy"));
      REQUIRE(got.has_value());
      REQUIRE(got->shape() == want.shape());
      const auto g = got->to_doubles();
      const auto w = want.to_doubles();
      double num = 0, den = 0;
      for (size_t i = 0; i < g.size(); ++i) {
        num += (g[i] - w[i]) * (g[i] - w[i]);
        den += w[i] * w[i];
      }
      INFO("output " << outputs[k] << " set " << set);
      CHECK(std::sqrt(num / std::max(den, 1e-30)) <
            1e-5);  // onnxruntime computes in f32, rtx exactly
    }
  }
}

TEST_CASE("no GPU: run modes say so and fail; --backend=reference and --skipInference work") {
  if (gpu_description(0).has_value()) {
    MESSAGE("this machine has a GPU: the no-GPU message is tested where there is none");
    return;
  }
  TempDir dir;
  const auto model = write_mlp(dir);
  auto r = rtx_cli({"--onnx=" + model, "--shapes=x:2x3", "--computeCapabilities=80"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(has(r.err, "[E] rtx.cli.301: no usable GPU"));
  CHECK(has(r.err, "Use --backend=reference"));
  CHECK(has(r.err, "--skipInference"));
  r = rtx_cli({"--loadEngine=" + dir.file("whatever.rtxe")});
  CHECK(r.code == 1);
  CHECK(has(r.err, "rtx.cli.301"));
  // --backend=auto: builds, says there is no GPU, runs on the reference evaluator.
  const auto x = write_x(dir);
  r = rtx_cli({"--onnx=" + model, "--shapes=x:2x3", "--computeCapabilities=80", "--backend=auto",
               "--check", "--loadInputs=x:" + x, "--saveOutputs=" + dir.file("auto")});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(has(r.out, "[I] --backend=auto: no usable GPU"));
  CHECK(has(r.out, "the network runs on the CPU reference evaluator instead"));
  CHECK(has(r.out, "[I] --check: nothing to compare without a GPU"));
  CHECK(has(r.out, "[I] Engine built in "));
  auto y = read_npy(dir.file("auto/y.npy"));
  REQUIRE(y.has_value());
  CHECK(y->to_doubles() == kExpected);
}

TEST_CASE(
    "build only: progress, targets, the saved engine, its network on the reference evaluator") {
  TempDir dir;
  const auto model = write_mlp(dir);
  const auto x = write_x(dir);
  const auto engine = dir.file("mlp.rtxe");
  auto r =
      rtx_cli({"--onnx=" + model, "--minShapes=x:1x3", "--optShapes=x:2x3", "--maxShapes=x:8x3",
               "--computeCapabilities=80,90", "--saveEngine=" + engine, "--skipInference"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(has(r.out, "[I] Building for sm_80, sm_90"));
  CHECK(has(r.out, "[I] Building: compiling"));  // plain progress lines (not a terminal)
  CHECK(has(r.out, "[I] Engine built in "));
  CHECK(has(r.out, "[I] Engine saved to " + engine));
  CHECK(has(r.out, "[I] --skipInference: nothing is run"));
  CHECK(r.out.find('\r') == std::string::npos);
  // inspect shows what was asked for.
  auto i = rtx_cli({"inspect", engine, "--json"});
  REQUIRE(i.code == 0);
  const auto d = nlohmann::json::parse(i.out);
  CHECK(d["header"]["cubin_compute_capabilities"] == nlohmann::json({80, 90}));
  CHECK(d["network"]["inputs"][0]["name"] == "x");
  CHECK(d["network"]["profiles"][0]["x"]["max"] == nlohmann::json({8, 3}));
  // The engine's stored network runs on the reference evaluator and gives the model's outputs.
  r = rtx_cli({"--loadEngine=" + engine, "--backend=reference", "--loadInputs=x:" + x,
               "--saveOutputs=" + dir.file("out")});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(has(r.out, "[I] Using the network stored in the engine"));
  auto y = read_npy(dir.file("out/y.npy"));
  REQUIRE(y.has_value());
  CHECK(y->to_doubles() == kExpected);
  // Outside the engine's profile.
  r = rtx_cli({"--loadEngine=" + engine, "--backend=reference", "--shapes=x:9x3"});
  CHECK(r.code == 1);
  CHECK(has(r.err, "outside the profile"));
  // A dynamic model needs its shape range to build.
  r = rtx_cli({"--onnx=" + model, "--skipInference"});
  CHECK(r.code == 1);
  CHECK(has(r.err, "rtx.cli.203: input 'x' has dynamic dims ?x3: building needs its range"));
}

namespace {

/// Builds `args` twice without running: DIR/full.rtxe with the weights, DIR/stripped.rtxe without.
void build_full_and_stripped(const TempDir& dir, std::vector<std::string> args) {
  args.push_back("--skipInference");
  auto full = args;
  full.push_back("--saveEngine=" + dir.file("full.rtxe"));
  args.push_back("--saveEngine=" + dir.file("stripped.rtxe"));
  args.push_back("--stripWeights");
  REQUIRE(rtx_cli(full).code == 0);
  REQUIRE(rtx_cli(args).code == 0);
}

}  // namespace

TEST_CASE("stripped engine + --refitFromOnnx gives the engine built with weights, byte for byte") {
  TempDir dir;
  const auto model = write_mlp(dir);
  build_full_and_stripped(dir, {"--onnx=" + model, "--shapes=x:2x3", "--computeCapabilities=80"});
  auto i = rtx_cli({"inspect", dir.file("stripped.rtxe")});
  CHECK(has(i.out, "stripped: refit before running"));
  // The stripped engine cannot run on the reference evaluator: its weights are missing.
  auto r = rtx_cli({"--loadEngine=" + dir.file("stripped.rtxe"), "--backend=reference"});
  CHECK(r.code == 1);
  CHECK(has(r.err, "rtx.cli.303"));
  r = rtx_cli({"--loadEngine=" + dir.file("stripped.rtxe"), "--refitFromOnnx=" + model,
               "--saveEngine=" + dir.file("refit.rtxe"), "--skipInference"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(has(r.out, "[I] Refit 2 weight(s) of "));
  CHECK(read_bytes(dir.file("refit.rtxe")) == read_bytes(dir.file("full.rtxe")));
  // Refit with a model whose weights have another shape is refused with the refitter's id.
  TempDir other;
  test::ModelBuilder m(17);
  m.input("x", 1, {"batch", 3});
  m.init_f32("W", {3, 1}, {1, 2, 3});
  m.init_f32("b", {2}, {0.5f, -0.5f});
  m.node("MatMul", {"x", "W"}, {"y"});
  m.output("y", 1);
  std::ofstream(other.file("w31.onnx"), std::ios::binary) << m.bytes();
  r = rtx_cli({"--loadEngine=" + dir.file("stripped.rtxe"),
               "--refitFromOnnx=" + other.file("w31.onnx"), "--skipInference"});
  CHECK(r.code == 1);
  CHECK(has(r.err, "rtx.serialization.70"));
}

TEST_CASE("shared dim names: one input's --shapes sizes the others, at build and from a loaded engine") {
  const std::string model = std::string(RTX_SOURCE_DIR) + "/tests/models/bert_tiny/model.onnx";
  TempDir dir;
  // --shapes for input_ids alone: attention_mask and token_type_ids share (batch, sequence).
  auto built = rtx_cli({"--onnx=" + model, "--shapes=input_ids:2x16", "--computeCapabilities=80", "--saveEngine=" + dir.file("one.rtxe"),
                        "--skipInference"});
  INFO(built.out << built.err);
  REQUIRE(built.code == 0);
  auto profile = rtx_cli({"inspect", dir.file("one.rtxe"), "--json"});
  REQUIRE(profile.code == 0);
  const auto j = nlohmann::json::parse(profile.out);
  CHECK(j["metadata"]["profiles"][0]["attention_mask"]["max"] == nlohmann::json::array({2, 16}));
  CHECK(j["metadata"]["network.inputs"][1]["dim_names"] == nlohmann::json::array({"batch", "sequence"}));
  // A dynamic engine: --shapes for one input sets the shape of all three.
  auto dynamic = rtx_cli({"--onnx=" + model, "--minShapes=input_ids:1x1,attention_mask:1x1,token_type_ids:1x1",
                          "--optShapes=input_ids:2x16,attention_mask:2x16,token_type_ids:2x16",
                          "--maxShapes=input_ids:8x128,attention_mask:8x128,token_type_ids:8x128", "--computeCapabilities=80",
                          "--saveEngine=" + dir.file("dyn.rtxe"), "--skipInference"});
  REQUIRE(dynamic.code == 0);
  auto run = rtx_cli({"--loadEngine=" + dir.file("dyn.rtxe"), "--shapes=input_ids:3x40", "--backend=reference"});
  INFO(run.out << run.err);
  CHECK(run.code == 0);
  CHECK(has(run.out, "Input 'token_type_ids': i64 3x40"));
  CHECK(has(run.out, "Input 'attention_mask': i64 3x40"));
  // A name no bounded input carries still needs its own range.
  auto missing = rtx_cli({"--onnx=" + model, "--shapes=attention_mask:2x16,token_type_ids:2x16", "--computeCapabilities=80",
                          "--saveEngine=" + dir.file("x.rtxe"), "--skipInference"});
  CHECK(missing.code == 0);  // input_ids shares both names with the mask: sized too
}

namespace {

/// x (batch, 16) f32 -> QuantizeLinear/DequantizeLinear (per tensor) -> MatMul with a quantized
/// (16, 8) weight dequantized per output column (axis 1) -> + bias. `q_type` is the ONNX type of
/// the quantized values: 3 (int8) or 17 (float8e4m3fn); `w_byte` fills the weight.
std::string write_qdq_mlp(const TempDir& dir, const std::string& name, int32_t q_type, uint8_t w_byte) {
  test::ModelBuilder m(21);
  m.input("x", 1, {"batch", 16});
  m.init_f32("x_scale", {}, {1.0f / 32});
  m.init(name + "_x_zero", q_type, {}).set_raw_data(std::string(1, '\0'));
  m.init("W", q_type, {16, 8}).set_raw_data(std::string(16 * 8, static_cast<char>(w_byte)));
  m.init_f32("W_scale", {8}, {0.5f, 0.25f, 0.125f, 1.0f, 0.5f, 0.25f, 0.125f, 1.0f});
  m.init_f32("b", {8}, {0, 1, 2, 3, 4, 5, 6, 7});
  m.node("QuantizeLinear", {"x", "x_scale", name + "_x_zero"}, {"xq"});
  m.node("DequantizeLinear", {"xq", "x_scale", name + "_x_zero"}, {"xd"});
  test::attr_i(m.node("DequantizeLinear", {"W", "W_scale"}, {"Wd"}), "axis", 1);
  m.node("MatMul", {"xd", "Wd"}, {"xw"});
  m.node("Add", {"xw", "b"}, {"y"});
  m.output("y", 1);
  const auto path = dir.file(name + ".onnx");
  std::ofstream(path, std::ios::binary) << m.bytes();
  return path;
}

}  // namespace

TEST_CASE("ONNX Q/DQ: an int8 MatMul builds into one int8 GEMM kernel; fp8 on sm_80 is a gating error") {
  TempDir dir;
  const auto int8_model = write_qdq_mlp(dir, "qdq_int8", 3, 3);
  const auto engine = dir.file("qdq_int8.rtxe");
  auto r = rtx_cli({"--onnx=" + int8_model, "--minShapes=x:1x16", "--optShapes=x:4x16", "--maxShapes=x:8x16",
                    "--computeCapabilities=80", "--saveEngine=" + engine, "--skipInference"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto i = rtx_cli({"inspect", engine, "--json"});
  REQUIRE(i.code == 0);
  const auto d = nlohmann::json::parse(i.out);
  int qgemm = 0, other = 0;
  for (const auto& k : d["kernels"]) {
    const std::string name = k["name_expression"].get<std::string>();
    (name.find("qgemm") != std::string::npos ? qgemm : other) += 1;
  }
  CHECK(qgemm == 1);  // Q/DQ of x, DQ of W, MatMul and the bias in one kernel ...
  CHECK(other == 1);  // ... after x's QuantizeLinear (a pointwise kernel)
  // The stored network computes the model: x = 1 everywhere quantizes to 32, W = 3, so
  // y[n] = 16 * (32 / 32) * 3 * W_scale[n] + b[n].
  const auto x = dir.file("ones.npy");
  REQUIRE(write_npy(x, HostTensor::from_doubles(DataType::kF32, {2, 16}, std::vector<double>(32, 1.0))).has_value());
  r = rtx_cli({"--loadEngine=" + engine, "--backend=reference", "--loadInputs=x:" + x, "--saveOutputs=" + dir.file("out")});
  REQUIRE(r.code == 0);
  auto y = read_npy(dir.file("out/y.npy"));
  REQUIRE(y.has_value());
  const std::vector<double> row = {24, 13, 8, 51, 28, 17, 12, 55};
  std::vector<double> want = row;
  want.insert(want.end(), row.begin(), row.end());
  CHECK(y->to_doubles() == want);

  // fp8 e4m3 (0x38 = 1.0) needs compute capability 8.9: naming sm_80 is an error before any
  // kernel is compiled, and it names the layer, the type and the target.
  const auto fp8_model = write_qdq_mlp(dir, "qdq_fp8", 17, 0x38);
  r = rtx_cli({"--onnx=" + fp8_model, "--shapes=x:2x16", "--computeCapabilities=80,90", "--skipInference"});
  CHECK(r.code == 1);
  CHECK(has(r.err, "rtx.builder.130"));
  CHECK(has(r.err, "FP8"));
  CHECK(has(r.err, "target sm_80"));
}

TEST_CASE("a stripped int8 Q/DQ engine refits from its ONNX model to the full engine, byte for byte") {
  // tests/models/qdq_mlp: int8 weights and their scales are refittable weights; the all-zero
  // zero points are built in (not in the weights table).
  TempDir dir;
  const std::string model = std::string(RTX_SOURCE_DIR) + "/tests/models/qdq_mlp/model.onnx";
  build_full_and_stripped(dir, {"--onnx=" + model, "--shapes=x:4x64", "--computeCapabilities=80"});
  auto i = rtx_cli({"inspect", dir.file("full.rtxe"), "--json"});
  REQUIRE(i.code == 0);
  const auto d = nlohmann::json::parse(i.out);
  std::set<std::string> weights;
  for (const auto& w : d["weights"]["entries"]) weights.insert(w["name"].get<std::string>());
  CHECK(weights.count("fc1.weight") == 1);
  CHECK(weights.count("fc2.weight_scale") == 1);
  CHECK(weights.count("fc1.x_zero") == 0);
  auto r = rtx_cli({"--loadEngine=" + dir.file("stripped.rtxe"), "--refitFromOnnx=" + model,
                    "--saveEngine=" + dir.file("refit.rtxe"), "--skipInference"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(read_bytes(dir.file("refit.rtxe")) == read_bytes(dir.file("full.rtxe")));
}
