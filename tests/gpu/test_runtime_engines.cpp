// SPDX-License-Identifier: Apache-2.0
// Engines on the GPU against the reference evaluator: an MLP (f16, f32), a CNN, a transformer
// block (typed front end) and two ONNX exports (ResNet-style CNN, BERT-style encoder), at several
// shapes of their profiles, with fresh random inputs and poisoned outputs each run. Also: loading
// a cubin engine compiles nothing (RTX_ASSERT_NO_JIT=1); a PTX-only engine runs (suboptimal) and
// its compiled cubin survives a runtime-cache round trip; several contexts on several threads and
// streams give bitwise identical results; activation memory planned by liveness and user-managed.
#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include <cstdlib>
#include <thread>

#include "runtime_gpu_util.hpp"

namespace {

using namespace rtx;
namespace gpu = rtx::test::gpu;
using test::check_outputs;
using test::load_engine;
using test::reference;

struct Tripwire {
  Tripwire() { setenv("RTX_ASSERT_NO_JIT", "1", 1); }
  ~Tripwire() { unsetenv("RTX_ASSERT_NO_JIT"); }
};

std::map<std::string, HostTensor> random_inputs(const Network& net, const std::vector<int64_t>& x_shape, DataType dt) {
  (void)net;
  return {{"x", gpu::random_tensor(dt, x_shape)}};
}

/// `all_on_gpu`: every kernel step must run as planned (no host fallback).
void check_model(const std::string& engine_name, const Network& net, DataType dt,
                 const std::vector<std::vector<int64_t>>& shapes, double bound, bool all_on_gpu = false) {
  Engine engine = load_engine(engine_name);
  MESSAGE(engine_name << ": image " << engine.image_target() << ", " << engine.num_kernels() << " kernels");
  auto ctx = engine.create_execution_context();
  REQUIRE_MESSAGE(ctx.has_value(), (ctx ? "" : ctx.error().to_string()));
  for (const auto& shape : shapes) {
    const auto inputs = random_inputs(net, shape, dt);
    const auto got = test::run(*ctx, inputs);
    check_outputs(got, reference(net, inputs), bound, engine_name + " at " + shape_to_string(shape));
    if (all_on_gpu) CHECK(ctx->host_fallbacks().empty());
  }
}

void check_onnx(const std::string& engine_name, const std::string& model, double bound, bool all_on_gpu = false) {
  const Network net = test::onnx_model(model);
  Engine engine = load_engine(engine_name);
  MESSAGE(engine_name << ": image " << engine.image_target() << ", " << engine.num_kernels() << " kernels");
  auto ctx = engine.create_execution_context();
  REQUIRE(ctx.has_value());
  for (int set = 0; set < 2; ++set) {
    const auto inputs = test::onnx_test_inputs(model, net, set);
    const auto got = test::run(*ctx, inputs);
    check_outputs(got, reference(net, inputs), bound, engine_name + " data set " + std::to_string(set));
    if (all_on_gpu) CHECK(ctx->host_fallbacks().empty());
  }
}

}  // namespace

TEST_CASE("engines: MLP f16 (fused GEMM + bias + relu) at batch 1, 7, 64") {
  check_model("mlp_f16", test::make_mlp<f16>(), DataType::kF16, {{1, 64}, {7, 64}, {64, 64}}, 3e-3);
}

TEST_CASE("engines: MLP f32 (tf32 tensor cores) at batch 1, 33, 64") {
  check_model("mlp_f32", test::make_mlp<f32>(96, 80, 24, 17), DataType::kF32, {{1, 96}, {33, 96}, {64, 96}}, 5e-3);
}

TEST_CASE("engines: CNN f32 (convolutions on the host, classifier GEMM) at batch 1, 3, 8") {
  check_model("cnn_f32", test::make_cnn<f32>(), DataType::kF32, {{1, 3, 16, 16}, {3, 3, 16, 16}, {8, 3, 16, 16}}, 5e-3);
}

TEST_CASE("engines: transformer block f16 (attention, fused residuals) at batch 1, 2, 4") {
  check_model("transformer_f16", test::make_transformer_block<f16>(), DataType::kF16,
              {{1, 32, 128}, {2, 32, 128}, {4, 32, 128}}, 1e-2);
}

TEST_CASE("engines: int8 MLP (Q/DQ folded into int8 GEMMs, requantized between layers) at batch 1, 7, 64") {
  const Network net = test::make_quantized_mlp<f16>();
  check_model("qmlp_f16", net, DataType::kF16, {{1, 64}, {7, 64}, {64, 64}}, 3e-2, true);
  // The int8 GEMMs are what ran: the profile names their kernels.
  Engine engine = load_engine("qmlp_f16");
  auto ctx = engine.create_execution_context();
  REQUIRE(ctx.has_value());
  test::Bindings b;
  test::bind(*ctx, random_inputs(net, {9, 64}, DataType::kF16), b);
  auto steps = ctx->profile(nullptr);
  REQUIRE_MESSAGE(steps.has_value(), (steps ? "" : steps.error().to_string()));
  int qgemm = 0;
  for (const auto& step : *steps) qgemm += step.kind == "kernel qgemm" ? 1 : 0;
  CHECK(qgemm == 2);
}

TEST_CASE("engines: int8 CNN (Q/DQ folded into int8 convolutions, requantized between layers) at batch 1, 3, 8") {
  const Network net = test::make_quantized_cnn<f16>();
  // One requantization step of an intermediate moves the logits a little (as for the int8 MLP).
  check_model("qcnn_f16", net, DataType::kF16, {{1, 16, 16, 16}, {3, 16, 16, 16}, {8, 16, 16, 16}}, 3e-2, true);
  // The int8 convolutions are what ran: the profile names their kernels.
  Engine engine = load_engine("qcnn_f16");
  auto ctx = engine.create_execution_context();
  REQUIRE(ctx.has_value());
  test::Bindings b;
  test::bind(*ctx, random_inputs(net, {2, 16, 16, 16}, DataType::kF16), b);
  auto steps = ctx->profile(nullptr);
  REQUIRE_MESSAGE(steps.has_value(), (steps ? "" : steps.error().to_string()));
  int qconv = 0;
  for (const auto& step : *steps) qconv += step.kind == "kernel qconv" ? 1 : 0;
  CHECK(qconv == 3);
}

TEST_CASE("engines: fp8 e4m3 MLP (Q/DQ folded into fp8 GEMMs) at batch 1, 7, 64") {
  check_model("qmlp_fp8_f16", test::make_quantized_mlp<f16, fp8e4m3>(), DataType::kF16, {{1, 64}, {7, 64}, {64, 64}},
              5e-2, true);
}

TEST_CASE("engines: int8 transformer block (six int8 projections, attention, norms) at batch 1, 2, 4") {
  check_model("qtransformer_f16", test::make_quantized_transformer_block<f16>(), DataType::kF16,
              {{1, 32, 128}, {2, 32, 128}, {4, 32, 128}}, 3e-2, true);
}

TEST_CASE("engines: ONNX ResNet-style CNN") { check_onnx("resnet_tiny_onnx", "resnet_tiny", 5e-3); }

TEST_CASE("engines: ONNX int8 Q/DQ MLP (two int8 GEMM kernels)") {
  check_onnx("qdq_mlp_onnx", "qdq_mlp", 3e-2, true);
}

TEST_CASE("engines: ONNX BERT-style encoder") { check_onnx("bert_tiny_onnx", "bert_tiny", 1e-2); }

TEST_CASE("engines: the header says VALID, and loading a cubin engine compiles nothing") {
  const auto& bytes = test::zoo_engine("mlp_f16");
  Runtime runtime;
  uint64_t diagnostics = 0;
  CHECK(runtime.engine_validity(bytes.data(), 64, &diagnostics) == EngineValidity::kVALID);
  CHECK(diagnostics == 0);
  Tripwire tripwire;  // any NVRTC or PTX compile is now an error
  auto engine = runtime.deserialize(bytes);
  REQUIRE_MESSAGE(engine.has_value(), (engine ? "" : engine.error().to_string()));
  CHECK_FALSE(engine->is_suboptimal());
  CHECK(engine->image_target().rfind("sm_", 0) == 0);
  CHECK(runtime.runtime_cache().size() == 0);
  auto ctx = engine->create_execution_context();
  REQUIRE(ctx.has_value());
  const Network net = test::make_mlp<f16>();
  const auto inputs = random_inputs(net, {5, 64}, DataType::kF16);
  check_outputs(test::run(*ctx, inputs), reference(net, inputs), 3e-3, "mlp_f16 under RTX_ASSERT_NO_JIT");
}

TEST_CASE("engines: a PTX-only engine runs suboptimal; its cubin is cached and reloaded") {
  const auto info = jit::device_info(0);
  REQUIRE(info.has_value());
  if (info->sm() == 80) {
    MESSAGE("this GPU is sm_80: the engine has its cubin; nothing to test");
    return;
  }
  const auto& bytes = test::zoo_engine("mlp_f16_ptx");
  Runtime first;
  uint64_t diagnostics = 0;
  CHECK(first.engine_validity(bytes.data(), bytes.size(), &diagnostics) == EngineValidity::kSUBOPTIMAL);
  auto engine = first.deserialize(bytes);
  REQUIRE_MESSAGE(engine.has_value(), (engine ? "" : engine.error().to_string()));
  CHECK(engine->is_suboptimal());
  CHECK(engine->image_target() == "compute_80");
  const Network net = test::make_mlp<f16>();
  auto ctx = engine->create_execution_context();
  REQUIRE(ctx.has_value());
  const auto inputs = random_inputs(net, {9, 64}, DataType::kF16);
  check_outputs(test::run(*ctx, inputs), reference(net, inputs), 3e-3, "mlp_f16 from PTX");
  if (first.runtime_cache().size() == 0) {
    MESSAGE("nvJitLink is not installed: the driver compiled the PTX (no runtime cache entry)");
    return;
  }
  const std::vector<uint8_t> saved = first.runtime_cache().serialize();
  Runtime second;
  RuntimeCache cache;
  REQUIRE(cache.load(saved).has_value());
  second.set_runtime_cache(cache);
  Tripwire tripwire;
  auto again = second.deserialize(bytes);
  REQUIRE_MESSAGE(again.has_value(), (again ? "" : again.error().to_string()));
  CHECK(again->is_suboptimal());
}

TEST_CASE("engines: several contexts on several threads and streams give identical results") {
  for (const char* name : {"mlp_f16", "transformer_f16"}) {
    Engine engine = load_engine(name);
    const bool transformer = std::string(name) == "transformer_f16";
    const HostTensor x = gpu::random_tensor(DataType::kF16, transformer ? std::vector<int64_t>{3, 32, 128}
                                                                        : std::vector<int64_t>{17, 64});
    const std::map<std::string, HostTensor> inputs = {{"x", x}};
    auto ctx0 = engine.create_execution_context();
    REQUIRE(ctx0.has_value());
    const auto want = test::run(*ctx0, inputs);
    constexpr int kThreads = 4;
    std::vector<std::map<std::string, HostTensor>> got(kThreads);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    // Contexts and buffers are made on this thread (doctest asserts are not thread-safe); the
    // threads only enqueue and copy back.
    std::vector<ExecutionContext> contexts;
    std::vector<test::Bindings> bindings(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      auto c = engine.create_execution_context();
      REQUIRE(c.has_value());
      contexts.push_back(std::move(*c));
      test::bind(contexts.back(), inputs, bindings[static_cast<size_t>(t)]);
    }
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        cudaStream_t stream = nullptr;
        cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
        for (int rep = 0; rep < 5 && errors[static_cast<size_t>(t)].empty(); ++rep) {
          auto ok = contexts[static_cast<size_t>(t)].enqueue(stream);
          if (!ok) errors[static_cast<size_t>(t)] = ok.error().to_string();
        }
        if (cudaStreamSynchronize(stream) != cudaSuccess) errors[static_cast<size_t>(t)] = "stream failed";
        cudaStreamDestroy(stream);
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
      CHECK_MESSAGE(errors[static_cast<size_t>(t)].empty(), errors[static_cast<size_t>(t)]);
      CHECK_MESSAGE(test::identical(test::outputs(bindings[static_cast<size_t>(t)]), want), name << " thread " << t);
    }
  }
}

TEST_CASE("engines: activation memory is planned by liveness; user-managed memory works") {
  Engine engine = load_engine("transformer_f16");
  const std::map<std::string, HostTensor> inputs = {{"x", gpu::random_tensor(DataType::kF16, {4, 32, 128})}};
  auto ctx = engine.create_execution_context();
  REQUIRE(ctx.has_value());
  const auto want = test::run(*ctx, inputs);
  const ContextMemoryReport m = ctx->memory_report();
  MESSAGE("transformer at batch 4: activations " << m.activation_bytes << " B planned, " << m.activation_sum_bytes
                                                 << " B summed, engine maximum " << engine.device_memory_size());
  CHECK(m.activation_bytes > 0);
  CHECK(m.activation_bytes < m.activation_sum_bytes);
  CHECK(m.activation_bytes <= engine.device_memory_size());

  auto user = engine.create_execution_context(true);
  REQUIRE(user.has_value());
  test::Bindings b;
  test::bind(*user, inputs, b);
  auto refused = user->enqueue(nullptr);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().id == "rtx.runtime.114");
  gpu::DeviceBuffer scratch(static_cast<size_t>(user->device_memory_size()));
  REQUIRE(user->set_device_memory(scratch.get(), user->device_memory_size()).has_value());
  REQUIRE(user->enqueue(nullptr).has_value());
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  CHECK(test::identical(test::outputs(b), want));
}

TEST_CASE("engines: errors name the tensor") {
  Engine engine = load_engine("mlp_f16");
  auto ctx = engine.create_execution_context();
  REQUIRE(ctx.has_value());
  auto r = ctx->set_input_shape("nope", {1, 64});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == "rtx.runtime.110");
  r = ctx->set_input_shape("x", {65, 64});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == "rtx.runtime.111");
  auto e = ctx->enqueue(nullptr);
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().id == "rtx.runtime.113");
  REQUIRE(ctx->set_input_shape("x", {2, 64}).has_value());
  e = ctx->enqueue(nullptr);
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().id == "rtx.runtime.112");
  CHECK(engine.num_io_tensors() == 2);
  CHECK(engine.io_tensor_name(0) == "x");
  CHECK(*engine.tensor_io_mode("y") == TensorIOMode::kOUTPUT);
  CHECK(*engine.profile_shape("x", OptProfileSelector::kMAX) == std::vector<int64_t>{64, 64});
  CHECK(*engine.tensor_shape("x") == std::vector<int64_t>{-1, 64});
}

TEST_CASE("engines: infer() runs host tensors through an engine") {
  Engine engine = load_engine("cnn_f32");
  auto ctx = engine.create_execution_context();
  REQUIRE(ctx.has_value());
  const Network net = test::make_cnn<f32>();
  for (int64_t batch : {2, 5}) {
    const std::map<std::string, HostTensor> inputs = {{"x", gpu::random_tensor(DataType::kF32, {batch, 3, 16, 16})}};
    auto got = ctx->infer(inputs);
    REQUIRE_MESSAGE(got.has_value(), (got ? "" : got.error().to_string()));
    check_outputs(*got, reference(net, inputs), 5e-3, "cnn_f32 infer() batch " + std::to_string(batch));
  }
  auto wrong = ctx->infer({{"x", gpu::random_tensor(DataType::kF16, {2, 3, 16, 16})}});
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().id == "rtx.runtime.111");
}
