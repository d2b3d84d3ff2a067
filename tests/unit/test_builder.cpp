// SPDX-License-Identifier: Apache-2.0
// The builder on a machine without a GPU: configuration errors, the kernel plan (family choice,
// GEMM epilogue fusion, transposed weights, attention, host steps, aliases), real NVRTC
// compilation into engines that the engine reader accepts, determinism, the kernel cache, progress
// reports, stripped engines that refit to the very bytes of the full one, weight streaming flags,
// and plans that compute what the network computes (run step by step on the host).
#include <doctest/doctest.h>

#include <algorithm>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <set>
#include <unistd.h>

#include "ir/graph.hpp"
#include "jit/device.hpp"
#include "jit/runtime/host_exec.hpp"
#include "jit/runtime/plan.hpp"
#include "jit/runtime/resolve.hpp"
#include "rtx/builder.hpp"
#include "rtx/onnx.hpp"
#include "rtx/reference.hpp"
#include "runtime_test_models.hpp"
#include "serialization/reader.hpp"
#include "serialization/refitter.hpp"
#include "serialization/validity.hpp"
#include "serialization/writer.hpp"

namespace {

using namespace rtx;
namespace fs = std::filesystem;

/// A kernel cache folder shared by the tests of this process (compiles happen once).
const fs::path& cache_dir() {
  // Removed when the process ends: every run compiles cold, as a fresh machine would.
  struct Dir {
    fs::path path = fs::temp_directory_path() / ("rtx_test_builder_" + std::to_string(::getpid()));
    Dir() { fs::create_directories(path); }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

BuilderConfig config_for(std::vector<ComputeCapability> ccs) {
  BuilderConfig c;
  c.set_compute_capabilities(std::move(ccs));
  c.set_kernel_cache_directory(cache_dir());
  return c;
}

serialization::EngineModel read(const HostMemory& blob) {
  auto model = serialization::read_engine(std::vector<uint8_t>(blob.bytes().begin(), blob.bytes().end()));
  REQUIRE_MESSAGE(model.has_value(), (model ? "" : model.error().to_string()));
  return std::move(*model);
}

/// The engine's plan with the weights taken from the engine's weights table.
runtime::ExecutionPlan plan_of(const serialization::EngineModel& model) {
  runtime::ExecutionPlan plan = runtime::plan_from_json(model.metadata.at("plan"));
  for (auto& v : plan.values) {
    if (v.kind != ir::ValueKind::kWeight) continue;
    const auto* w = model.find_weight(v.name);
    REQUIRE(w != nullptr);
    v.data = w->data;
  }
  return plan;
}

/// The plan run step by step on the host must equal the network on the reference evaluator,
/// bit for bit: both run the same op implementations, so any difference is a wiring bug.
void check_plan_computes_network(const serialization::EngineModel& model, const Network& net,
                                 const std::map<std::string, HostTensor>& inputs) {
  const runtime::ExecutionPlan plan = plan_of(model);
  runtime::validate_plan(plan);
  std::map<std::string, HostTensor, std::less<>> in(inputs.begin(), inputs.end());
  const auto got = runtime::execute_plan_on_host(plan, in);
  auto want = evaluate_reference(net, inputs);
  REQUIRE(want.has_value());
  REQUIRE(got.size() == want->size());
  for (const auto& [name, t] : *want) {
    const HostTensor& g = got.at(name);
    REQUIRE(g.shape() == t.shape());
    REQUIRE(g.dtype() == t.dtype());
    CHECK_MESSAGE(std::memcmp(g.data(), t.data(), t.byte_size()) == 0, name << " differs");
  }
}

std::vector<std::string> step_kinds(const runtime::ExecutionPlan& plan) {
  std::vector<std::string> k;
  for (const auto& s : plan.steps) k.push_back(runtime::to_string(s.kind));
  return k;
}

/// Per step: the kernel family, or the step kind for steps that are not kernels.
std::vector<std::string> step_families(const runtime::ExecutionPlan& plan) {
  std::vector<std::string> f;
  for (const auto& s : plan.steps) f.push_back(s.kind == runtime::StepKind::kKernel ? s.family : runtime::to_string(s.kind));
  return f;
}

/// Builds `net` for `cc` alone, checks that no op was planned on the host, and reads the engine.
serialization::EngineModel build_on_gpu_only(const Network& net, ComputeCapability cc) {
  BuildReport report;
  auto blob = Builder().build_serialized_network(net, config_for({cc}), &report);
  REQUIRE_MESSAGE(blob.has_value(), (blob ? "" : blob.error().to_string()));
  CHECK(report.host_ops.empty());
  return read(*blob);
}

}  // namespace

TEST_CASE("builder: compute capability lists are checked") {
  Network net = test::make_mlp<f16>();
  Builder builder;
  SUBCASE("kCURRENT must be alone") {
    auto r = builder.build_serialized_network(net, config_for({ComputeCapability::kCURRENT, ComputeCapability::kSM80}));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().id == "rtx.builder.101");
    CHECK(r.error().message.find("only") != std::string::npos);
  }
  SUBCASE("kCURRENT needs a GPU") {
    ErrorRecorder recorder;
    BuilderConfig c = config_for({ComputeCapability::kCURRENT});
    c.set_error_recorder(&recorder);
    auto r = builder.build_serialized_network(net, c);
    if (jit::device_count()) {
      CHECK(r.has_value());
    } else {
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().id == "rtx.builder.102");
      CHECK(recorder.error_count() == 1);
    }
  }
  SUBCASE("a duplicate") {
    auto r = builder.build_serialized_network(net, config_for({ComputeCapability::kSM90, ComputeCapability::kSM90}));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().id == "rtx.builder.101");
  }
}

TEST_CASE("builder: profiles and outputs are checked") {
  Builder builder;
  const BuilderConfig base = config_for({ComputeCapability::kSM80});
  SUBCASE("dynamic input without a profile") {
    Network net;
    auto x = net.input<f32>("x", {dynamic, 4});
    net.output(relu(x), "y");
    auto r = builder.build_serialized_network(net, base);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().id == "rtx.builder.103");
    CHECK(r.error().message.find("'x'") != std::string::npos);
  }
  SUBCASE("a profile of the wrong rank, or min > max, or varying a fixed dim") {
    Network net;
    auto x = net.input<f32>("x", {dynamic, 4});
    net.output(relu(x), "y");
    BuilderConfig c = base;
    c.set_profile("x", {{1}, {2}, {3}});
    auto r = builder.build_serialized_network(net, c);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().id == "rtx.builder.104");
    c.set_profile("x", {{4, 4}, {2, 4}, {8, 4}});
    r = builder.build_serialized_network(net, c);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().id == "rtx.builder.104");
    c.set_profile("x", {{1, 4}, {2, 5}, {8, 6}});
    r = builder.build_serialized_network(net, c);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().id == "rtx.builder.104");
  }
  SUBCASE("a profile for no input") {
    Network net;
    auto x = net.input<f32>("x", {2, 4});
    net.output(relu(x), "y");
    BuilderConfig c = base;
    c.set_profile("z", {{1}, {1}, {1}});
    auto r = builder.build_serialized_network(net, c);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().id == "rtx.builder.105");
  }
  SUBCASE("no outputs") {
    Network net;
    (void)net.input<f32>("x", {2, 4});
    auto r = builder.build_serialized_network(net, base);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().id == "rtx.builder.106");
  }
  SUBCASE("a network with recorded errors") {
    Network net;
    auto x = net.input<f32>("x", {2, 4});
    auto w = net.weight<f32, 2>("w", HostTensor(DataType::kF32, {3, 5}));  // in_features 5 != 4
    net.output(linear(x, w), "y");
    auto r = builder.build_serialized_network(net, base);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().id == "rtx.frontend.110");
  }
}

TEST_CASE("builder: an f16 MLP becomes two fused GEMM kernels, compiled for two GPUs plus PTX") {
  Network net = test::make_mlp<f16>();
  std::vector<BuildProgress> reports;
  BuilderConfig c = config_for({ComputeCapability::kSM90, ComputeCapability::kSM80});
  c.set_progress_callback([&](const BuildProgress& p) { reports.push_back(p); });
  BuildReport report;
  auto blob = Builder().build_serialized_network(net, c, &report);
  REQUIRE_MESSAGE(blob.has_value(), (blob ? "" : blob.error().to_string()));

  auto header = serialization::read_engine_header(blob->bytes());
  REQUIRE(header.has_value());
  CHECK(header->cubin_cc_mask == ((1u << serialization::cubin_mask_bit(80)) | (1u << serialization::cubin_mask_bit(90))));
  CHECK(header->min_ptx_cc == 80);
  CHECK(header->min_driver_version >= 12000);

  const auto model = read(*blob);
  REQUIRE(model.images.size() == 3);  // sm_80, sm_90, compute_80
  CHECK(model.images[0].target_name() == "sm_80");
  CHECK(model.images[1].target_name() == "sm_90");
  CHECK(model.images[2].target_name() == "compute_80");
  // Two Gemm layers, the first with C (bias) and relu fused, the second with C only: one kernel
  // (ReLU and no activation share it, the floor is a launch parameter), two steps whose specs
  // keep their activations.
  REQUIRE(model.kernels.size() == 1);
  const auto& k = model.kernels[0];
  CHECK(k.name_expression.find("rtx::kernels::gemm::gemm_mma<__half, __half") == 0);
  CHECK(k.images.size() == 3);
  CHECK(k.launch.at("family") == "gemm");

  const runtime::ExecutionPlan plan = plan_of(model);
  CHECK(step_kinds(plan) == std::vector<std::string>{"kernel", "kernel"});
  CHECK(plan.steps[0].kernel == plan.steps[1].kernel);
  CHECK(plan.steps[0].spec.at("epilogue").at("activation") == "relu");
  CHECK(plan.steps[0].spec.at("epilogue").at("c") == true);
  CHECK(plan.steps[1].spec.at("epilogue").at("activation") == "none");
  CHECK(plan.steps[0].nodes.size() == 2);  // Gemm + Relu
  CHECK(plan.steps[1].nodes.size() == 1);
  std::set<std::string> weights;
  for (const auto& w : model.weights) weights.insert(w.name);
  CHECK(weights == std::set<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  CHECK(model.metadata.at("profiles").at(0).at("x").at("max") == std::vector<int64_t>{64, 64});

  // Memory: at batch 64 the f16 hidden layer (64 x 128 x 2 B = 16 KiB) is the only activation.
  CHECK(report.kernel_steps == 2);
  CHECK(report.host_steps == 0);
  CHECK(report.kernels == 1);
  CHECK(report.images == 3);
  CHECK(report.activation_peak_bytes == 64 * 128 * 2);
  CHECK(report.activation_sum_bytes == 64 * 128 * 2);
  CHECK(report.weight_bytes == (128 * 64 + 128 + 16 * 128 + 16) * 2);
  CHECK(header->device_memory_bytes >= static_cast<uint64_t>(report.weight_bytes + report.activation_peak_bytes));

  // Progress: every stage in order, compile counts up to the number of images.
  std::vector<BuildStage> stages;
  for (const auto& p : reports)
    if (stages.empty() || stages.back() != p.stage) stages.push_back(p.stage);
  CHECK(stages == std::vector<BuildStage>{BuildStage::kPASSES, BuildStage::kPLANNING, BuildStage::kCOMPILING,
                                          BuildStage::kWRITING, BuildStage::kDONE});
  int64_t last_done = 0;
  for (const auto& p : reports)
    if (p.stage == BuildStage::kCOMPILING) {
      CHECK(p.total == 3);
      CHECK(p.kernels == 1);
      last_done = std::max(last_done, p.completed);
    }
  CHECK(last_done == 3);

  test::Pseudo rng(7);
  check_plan_computes_network(model, net, {{"x", rng.tensor(DataType::kF16, {5, 64})}});

  SUBCASE("a second build is served by the kernel cache and gives the same bytes") {
    BuildReport again;
    auto blob2 = Builder().build_serialized_network(net, config_for({ComputeCapability::kSM80, ComputeCapability::kSM90}), &again);
    REQUIRE(blob2.has_value());
    CHECK(again.cache_hits == 3);
    CHECK(blob2->size() == blob->size());
    CHECK(std::equal(blob2->bytes().begin(), blob2->bytes().end(), blob->bytes().begin()));
  }
}

TEST_CASE("builder: a stripped engine refits to the bytes of the full engine") {
  Network net = test::make_mlp<f16>(32, 48, 8, 11);
  BuilderConfig full_cfg = config_for({ComputeCapability::kSM86});
  full_cfg.set_flag(BuilderFlag::kREFIT);
  BuilderConfig strip_cfg = full_cfg;
  strip_cfg.set_flag(BuilderFlag::kSTRIP_PLAN);
  auto full = Builder().build_serialized_network(net, full_cfg);
  auto stripped = Builder().build_serialized_network(net, strip_cfg);
  REQUIRE(full.has_value());
  REQUIRE(stripped.has_value());
  CHECK(stripped->size() < full->size());
  auto model = read(*stripped);
  CHECK(model.weights_stripped);
  CHECK(model.refittable);
  serialization::Refitter refitter(std::move(model));
  CHECK(refitter.missing_weights().size() == 4);
  // The weights exactly as the network holds them.
  const auto& graph = detail::graph_of(net);
  for (const std::string& name : refitter.weight_names()) {
    const HostTensor* data = graph.constant_data(graph.find_value(name));
    REQUIRE(data != nullptr);
    REQUIRE(refitter.set_named_weights(name, *data).has_value());
  }
  CHECK(refitter.warnings().empty());  // the original values: no fingerprint mismatch
  auto refit = refitter.refit();
  REQUIRE(refit.has_value());
  auto bytes = serialization::write_engine(*refit);
  REQUIRE(bytes.has_value());
  CHECK(bytes->size() == full->size());
  CHECK(std::equal(bytes->begin(), bytes->end(), full->bytes().begin()));
}

TEST_CASE("builder: weight streaming marks every weight only kernels read") {
  Network net = test::make_mlp<f16>(32, 48, 8, 5);
  BuilderConfig c = config_for({ComputeCapability::kSM80});
  c.set_flag(BuilderFlag::kWEIGHT_STREAMING);
  auto blob = Builder().build_serialized_network(net, c);
  REQUIRE(blob.has_value());
  const auto model = read(*blob);
  CHECK(model.weight_streaming);
  uint64_t total = 0;
  for (const auto& w : model.weights) {
    CHECK_MESSAGE(w.streamable, w.name);
    total += w.byte_size();
  }
  CHECK(model.streamable_weight_bytes() == total);
  CHECK(total == (48 * 32 + 48 + 8 * 48 + 8) * 2);
  auto header = serialization::read_engine_header(blob->bytes());
  CHECK(header->streamable_weight_bytes == total);
  CHECK(plan_of(model).streamable.size() == 4);
}

TEST_CASE("builder: a CNN becomes conv (+relu), pool and GEMM kernels with a free flatten") {
  Network net = test::make_cnn<f32>();
  BuildReport report;
  auto blob = Builder().build_serialized_network(net, config_for({ComputeCapability::kSM80}), &report);
  REQUIRE_MESSAGE(blob.has_value(), (blob ? "" : blob.error().to_string()));
  const auto model = read(*blob);
  const auto plan = plan_of(model);
  // conv+relu, max pool, conv+relu, global average pool, flatten (an alias), linear.
  CHECK(step_families(plan) == std::vector<std::string>{"conv", "pool", "conv", "pool", "alias", "gemm"});
  CHECK(plan.steps[0].nodes.size() == 2);  // Conv + Relu
  CHECK(report.host_ops.empty());
  test::Pseudo rng(8);
  check_plan_computes_network(model, net, {{"x", rng.tensor(DataType::kF32, {3, 3, 16, 16})}});
}

TEST_CASE("builder: ops no kernel family implements run on the host, consecutive ones in one step") {
  // CumSum and Trilu have no GPU kernels: they share one host step between two GEMMs.
  test::Pseudo rng(12);
  Network net;
  auto x = net.input<f32>("x", {4, 8});
  auto w = net.weight<f32, 2>("w", rng.tensor(DataType::kF32, {8, 8}));
  auto h = linear(x, w);
  ir::Graph& g = detail::graph_of(net);
  const auto axis = g.add_constant(HostTensor::from_doubles(DataType::kINT64, {}, std::vector<double>{1}));
  const auto c = g.node(g.add_node(ir::OpKind::kCumSum, "cumsum", {g.find_value(h.name()), axis})).outputs[0];
  const auto t = g.node(g.add_node(ir::OpKind::kTrilu, "trilu", {c})).outputs[0];
  const auto w2 = g.find_value("w");
  const auto y = g.node(g.add_node(ir::OpKind::kMatMul, "mm", {t, w2})).outputs[0];
  g.infer_shapes();
  g.mark_output(y, "y");
  BuildReport report;
  auto blob = Builder().build_serialized_network(net, config_for({ComputeCapability::kSM80}), &report);
  REQUIRE_MESSAGE(blob.has_value(), (blob ? "" : blob.error().to_string()));
  const auto model = read(*blob);
  CHECK(step_kinds(plan_of(model)) == std::vector<std::string>{"kernel", "host", "kernel"});
  CHECK(report.host_ops == std::vector<std::string>{"CumSum 'cumsum'", "Trilu 'trilu'"});
  check_plan_computes_network(model, net, {{"x", rng.tensor(DataType::kF32, {4, 8})}});
}

TEST_CASE("builder: a transformer block fuses projections, attention and residuals") {
  Network net = test::make_transformer_block<f16>();
  BuildReport report;
  auto blob = Builder().build_serialized_network(net, config_for({ComputeCapability::kSM90}), &report);
  REQUIRE_MESSAGE(blob.has_value(), (blob ? "" : blob.error().to_string()));
  const auto model = read(*blob);
  const auto plan = plan_of(model);
  // The weight transposes of rank-3 linear layers are absorbed (K-major B); layer norms are
  // norm kernels: nothing runs on the host.
  CHECK(report.host_ops.empty());
  int gemms = 0, attention = 0, residual = 0, gelu = 0, norms = 0;
  for (const auto& s : plan.steps) {
    if (s.kind != runtime::StepKind::kKernel) continue;
    if (s.family == "gemm") {
      ++gemms;
      CHECK(s.spec.at("b_k_major") == true);
      residual += s.operands.count("residual") ? 1 : 0;
      gelu += s.spec.at("epilogue").at("activation") == "gelu" ? 1 : 0;
    }
    if (s.family == "norm") ++norms;
    if (s.family == "attention") {
      ++attention;
      CHECK(s.spec.at("algorithm") == "flash");
    }
  }
  CHECK(gemms == 6);  // q, k, v, out (+bias +residual), fc1 (+bias +gelu), fc2 (+bias +residual)
  CHECK(attention == 1);
  CHECK(residual == 2);
  CHECK(gelu == 1);
  CHECK(norms == 2);
  test::Pseudo rng(9);
  check_plan_computes_network(model, net, {{"x", rng.tensor(DataType::kF16, {3, 32, 128})}});
}

TEST_CASE("builder: explicit int8 Q/DQ layers become int8 GEMM kernels") {
  SUBCASE("MLP: the second layer's input quantization is the first kernel's epilogue") {
    Network net = test::make_quantized_mlp<f16>();
    const auto model = build_on_gpu_only(net, ComputeCapability::kSM80);
    const auto plan = plan_of(model);
    // x's QuantizeLinear (pointwise), fc1 (+bias, relu, the next QuantizeLinear), fc2 (+bias).
    CHECK(step_families(plan) == std::vector<std::string>{"pointwise", "qgemm", "qgemm"});
    CHECK(plan.steps[1].spec.at("epilogue").at("quantize") == true);
    CHECK(plan.steps[1].spec.at("output") == "i8");
    CHECK(plan.steps[2].spec.at("output") == "f16");
    // All-zero zero points are build-time constants; the int8 weights and scales stay weights.
    std::set<std::string> weights;
    for (const auto& w : model.weights) weights.insert(w.name);
    CHECK(weights == std::set<std::string>{"fc1.weight", "fc1.weight_scale", "fc1.bias", "fc2.weight",
                                           "fc2.weight_scale", "fc2.bias"});
    test::Pseudo rng(21);
    check_plan_computes_network(model, net, {{"x", rng.tensor(DataType::kF16, {5, 64})}});
  }
  SUBCASE("ONNX: an exported int8 Q/DQ MLP (tests/models/qdq_mlp)") {
    onnx::Parser parser;
    auto net = parser.parse_from_file(std::string(RTX_SOURCE_DIR) + "/tests/models/qdq_mlp/model.onnx");
    REQUIRE_MESSAGE(net.has_value(), (net ? "" : net.error().to_string()));
    net->set_profile("x", {1, 64}, {4, 64}, {12, 64});
    const auto model = build_on_gpu_only(*net, ComputeCapability::kSM80);
    CHECK(step_families(plan_of(model)) == std::vector<std::string>{"pointwise", "qgemm", "qgemm"});
    for (const auto& w : model.weights)
      if (w.name.find(".weight") != std::string::npos && w.name.find("scale") == std::string::npos)
        CHECK_MESSAGE(w.dtype == DataType::kINT8, w.name);  // the weights stay int8 (not folded)
    test::Pseudo rng(24);
    check_plan_computes_network(model, *net, {{"x", rng.tensor(DataType::kF32, {5, 64})}});
  }
  SUBCASE("fp8 e4m3 MLP on sm_89: fp8 GEMM kernels") {
    Network net = test::make_quantized_mlp<f16, fp8e4m3>();
    auto blob = Builder().build_serialized_network(net, config_for({ComputeCapability::kSM89}));
    REQUIRE_MESSAGE(blob.has_value(), (blob ? "" : blob.error().to_string()));
    const auto plan = plan_of(read(*blob));
    int qgemms = 0;
    for (const auto& s : plan.steps)
      if (s.family == "qgemm") {
        ++qgemms;
        CHECK(s.spec.at("a") == "fp8e4m3");
      }
    CHECK(qgemms == 2);
    test::Pseudo rng(23);
    check_plan_computes_network(read(*blob), net, {{"x", rng.tensor(DataType::kF16, {3, 64})}});
  }
  SUBCASE("CNN: three int8 convolutions become qconv steps, requantized between layers") {
    Network net = test::make_quantized_cnn<f16>();
    const auto model = build_on_gpu_only(net, ComputeCapability::kSM80);
    const auto plan = plan_of(model);
    // x's QuantizeLinear (pointwise); conv1 and conv2 (+bias, relu, the next QuantizeLinear);
    // conv3 (+bias, f16 out); global average pool, flatten, linear.
    CHECK(step_families(plan) ==
          std::vector<std::string>{"pointwise", "qconv", "qconv", "qconv", "pool", "alias", "gemm"});
    int quantized = 0;
    for (const auto& s : plan.steps) {
      if (s.family != "qconv") continue;
      CHECK(s.spec.at("x") == "i8");
      CHECK(s.spec.at("per_channel") == true);
      CHECK(s.spec.at("bias") == true);
      quantized += s.spec.at("quantize").get<bool>() ? 1 : 0;
    }
    CHECK(quantized == 2);
    for (const auto& w : model.weights)
      if (w.name.find(".weight") != std::string::npos && w.name.find("scale") == std::string::npos &&
          w.name.rfind("conv", 0) == 0)
        CHECK_MESSAGE(w.dtype == DataType::kINT8, w.name);  // the weights stay int8
    test::Pseudo rng(25);
    for (int64_t batch : {1, 3})
      check_plan_computes_network(model, net, {{"x", rng.tensor(DataType::kF16, {batch, 16, 16, 16})}});
  }
  SUBCASE("an RGB stem (K = 3 * 9 = 27 bytes per weight row) stays DequantizeLinear + float conv") {
    test::Pseudo wrng(8);
    Network net;
    auto x = net.input<f16>("x", {dynamic, 3, 16, 16});
    net.set_profile("x", {1, 3, 16, 16}, {2, 3, 16, 16}, {4, 3, 16, 16});
    ConvOptions same;
    same.pads = {1, 1, 1, 1};
    net.output(relu(test::quantized_conv<f16>(net, wrng, x, "stem", 3, 8, 3, same, 1.0 / 64)), "y");
    const auto model = build_on_gpu_only(net, ComputeCapability::kSM80);
    const auto families = step_families(plan_of(model));
    CHECK(std::count(families.begin(), families.end(), "qconv") == 0);
    CHECK(std::count(families.begin(), families.end(), "conv") == 1);
    test::Pseudo rng(26);
    check_plan_computes_network(model, net, {{"x", rng.tensor(DataType::kF16, {2, 3, 16, 16})}});
  }
  SUBCASE("transformer block: six int8 projections") {
    Network net = test::make_quantized_transformer_block<f16>();
    const auto model = build_on_gpu_only(net, ComputeCapability::kSM90);
    const auto plan = plan_of(model);
    int qgemms = 0, gemms = 0;
    for (const auto& s : plan.steps) {
      qgemms += s.family == "qgemm" ? 1 : 0;
      gemms += s.family == "gemm" ? 1 : 0;
    }
    CHECK(qgemms == 6);
    CHECK(gemms == 0);
    test::Pseudo rng(22);
    check_plan_computes_network(model, net, {{"x", rng.tensor(DataType::kF16, {2, 32, 128})}});
  }
}

TEST_CASE("builder: hardware gating of an fp8 network") {
  Network net = test::make_quantized_mlp<f16, fp8e4m3>();
  SUBCASE("default targets: the minimum rises to 8.9, with a warning; an 8.0 GPU finds it invalid") {
    ErrorRecorder recorder;
    BuilderConfig config;
    config.set_error_recorder(&recorder);
    BuildReport report;
    auto blob = Builder().build_serialized_network(net, config, &report);
    REQUIRE_MESSAGE(blob.has_value(), (blob ? "" : blob.error().to_string()));
    REQUIRE(report.warnings.size() == 1);
    CHECK(report.warnings[0].find("rtx.builder.131") != std::string::npos);
    CHECK(recorder.warning_count() == 1);
    const auto model = read(*blob);
    std::set<std::string> images;
    for (const auto& im : model.images) images.insert(im.target_name());
    CHECK(images.count("sm_80") == 0);
    CHECK(images.count("sm_86") == 0);
    CHECK(images.count("sm_89") == 1);
    CHECK(images.count("compute_89") == 1);  // the PTX moves up to the new minimum
    int qgemms = 0;
    for (const auto& st : plan_of(model).steps) qgemms += st.family == "qgemm" ? 1 : 0;
    CHECK(qgemms == 2);  // every remaining target runs the fp8 GEMM kernels
    const auto facts = [](uint32_t cc) {
      return [cc]() -> Expected<serialization::DeviceFacts> {
        return serialization::DeviceFacts{cc, 80ull << 30, 13000, 13000};
      };
    };
    uint64_t diag = 0;
    CHECK(serialization::engine_validity(blob->bytes(), facts(80), &diag) == EngineValidity::kINVALID);
    CHECK((diag & diagnostic_bit(EngineDiagnostics::kUNSUPPORTED_CC)) != 0);
    CHECK(serialization::engine_validity(blob->bytes(), facts(90), &diag) == EngineValidity::kVALID);
  }
  SUBCASE("an explicit 8.0 target is an error naming the layer, the type and the target") {
    ErrorRecorder recorder;
    BuilderConfig config = config_for({ComputeCapability::kSM80, ComputeCapability::kSM90});
    config.set_error_recorder(&recorder);
    auto blob = Builder().build_serialized_network(net, config);
    REQUIRE_FALSE(blob.has_value());
    CHECK(blob.error().id == "rtx.builder.130");
    CHECK(blob.error().message.find("sm_80") != std::string::npos);
    CHECK(blob.error().message.find("FP8") != std::string::npos);
    CHECK(recorder.error_count() >= 1);
  }
}

TEST_CASE("builder: sm_75 has no GEMM kernel, so GEMMs run on the host there") {
  Network net = test::make_mlp<f32>(16, 16, 4);
  BuildReport report;
  auto blob = Builder().build_serialized_network(net, config_for({ComputeCapability::kSM75}), &report);
  REQUIRE_MESSAGE(blob.has_value(), (blob ? "" : blob.error().to_string()));
  // Both Gemms on the host; the relu between them is still a pointwise kernel.
  CHECK(report.host_ops.size() == 2);
  for (const auto& op : report.host_ops) CHECK(op.find("Gemm") == 0);
  CHECK(report.host_steps == 2);
  CHECK(report.kernels == 1);
  const auto model = read(*blob);
  REQUIRE(model.images.size() == 2);
  CHECK(model.images[0].target_name() == "sm_75");
  CHECK(model.images[1].target_name() == "compute_75");
  test::Pseudo rng(13);
  check_plan_computes_network(model, net, {{"x", rng.tensor(DataType::kF32, {3, 16})}});
}

TEST_CASE("builder: the default targets (every generation from 8.0 plus PTX)") {
  Network net = test::make_mlp<f16>(64, 64, 64, 4);
  BuildReport report;
  const auto start = std::chrono::steady_clock::now();
  BuilderConfig c;
  c.set_kernel_cache_directory(cache_dir());
  auto blob = Builder().build_serialized_network(net, c, &report);
  REQUIRE(blob.has_value());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("default-target MLP build: " << seconds << " s, " << report.images << " images, "
                                       << report.cache_hits << " cache hits");
  const auto model = read(*blob);
  std::vector<std::string> targets;
  for (const auto& img : model.images) targets.push_back(img.target_name());
  CHECK(targets == std::vector<std::string>{"sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120", "compute_80"});
}

TEST_CASE("builder: HostMemory::save writes the file atomically") {
  HostMemory m(std::vector<uint8_t>{1, 2, 3});
  const fs::path p = cache_dir() / "saved.rtxe";
  REQUIRE(m.save(p).has_value());
  CHECK(fs::file_size(p) == 3);
  CHECK_FALSE(fs::exists(cache_dir() / ".saved.rtxe.tmp"));
  auto bad = m.save(cache_dir() / "no" / "such" / "dir" / "x.rtxe");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().id == "rtx.builder.111");
}
