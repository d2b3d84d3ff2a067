// SPDX-License-Identifier: Apache-2.0
// Runtime features on the GPU: CUDA graphs (captured once per shapes and addresses, replayed with
// new data, recaptured when either changes; host steps inside the graph), dynamic shapes (a sweep
// of the profile with RTX_ASSERT_NO_JIT=1: nothing recompiles), weight streaming (bitwise
// identical results at budgets 100%, 50%, 10%, 0% and automatic, with and without CUDA graphs).
#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include <cstdlib>

#include "runtime_gpu_util.hpp"

namespace {

using namespace rtx;
namespace gpu = rtx::test::gpu;

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess); }
  ~Stream() { cudaStreamDestroy(s); }
};

void enqueue(ExecutionContext& ctx, cudaStream_t stream) {
  auto ok = ctx.enqueue(stream);
  REQUIRE_MESSAGE(ok.has_value(), (ok ? "" : ok.error().to_string()));
  REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
}

}  // namespace

TEST_CASE("CUDA graphs: one capture per (shapes, addresses), replayed with new data") {
  for (const char* name : {"mlp_f16", "transformer_f16"}) {
    const bool transformer = std::string(name) == "transformer_f16";
    const Network net = transformer ? test::make_transformer_block<f16>() : test::make_mlp<f16>();
    const auto shape = [&](int64_t batch) {
      return transformer ? std::vector<int64_t>{batch, 32, 128} : std::vector<int64_t>{batch, 64};
    };
    const double bound = transformer ? 1e-2 : 3e-3;
    Engine engine = test::load_engine(name);
    auto ctx = engine.create_execution_context();
    REQUIRE(ctx.has_value());
    ctx->set_use_cuda_graph(true);
    Stream stream;
    test::Bindings b;
    std::map<std::string, HostTensor> in = {{"x", gpu::random_tensor(DataType::kF16, shape(2))}};
    test::bind(*ctx, in, b);
    enqueue(*ctx, stream.s);
    CHECK(ctx->cuda_graph_captures() == 1);
    test::check_outputs(test::outputs(b), test::reference(net, in), bound, std::string(name) + " first capture");
    // Same shapes and addresses, new data: replayed, not recaptured.
    for (int rep = 0; rep < 3; ++rep) {
      in["x"] = gpu::random_tensor(DataType::kF16, shape(2));
      b.buffers.at("x").upload(in["x"]);
      b.buffers.at("y").poison();
      enqueue(*ctx, stream.s);
      CHECK(ctx->cuda_graph_captures() == 1);
      test::check_outputs(test::outputs(b), test::reference(net, in), bound, std::string(name) + " replay");
    }
    // A new shape recaptures.
    in["x"] = gpu::random_tensor(DataType::kF16, shape(3));
    test::bind(*ctx, in, b);
    enqueue(*ctx, stream.s);
    CHECK(ctx->cuda_graph_captures() == 2);
    test::check_outputs(test::outputs(b), test::reference(net, in), bound, std::string(name) + " new shape");
    // A new output address recaptures.
    gpu::DeviceBuffer other(b.buffers.at("y").bytes());
    other.poison();
    REQUIRE(ctx->set_tensor_address("y", other.get()).has_value());
    enqueue(*ctx, stream.s);
    CHECK(ctx->cuda_graph_captures() == 3);
    const HostTensor y = other.download(DataType::kF16, b.output_shapes.at("y"));
    gpu::check_close(y, test::reference(net, in).at("y"), bound, std::string(name) + " new address");
  }
}

TEST_CASE("dynamic shapes: a sweep of the profile with compilation forbidden") {
  setenv("RTX_ASSERT_NO_JIT", "1", 1);
  {
    const auto& bytes = test::zoo_engine("mlp_f16");  // built (or read) before the tripwire matters
    Runtime runtime;
    auto engine = runtime.deserialize(bytes);
    REQUIRE_MESSAGE(engine.has_value(), (engine ? "" : engine.error().to_string()));
    const Network net = test::make_mlp<f16>();
    auto ctx = engine->create_execution_context();
    REQUIRE(ctx.has_value());
    for (int64_t batch : {1, 2, 3, 5, 8, 13, 21, 34, 55, 64, 1}) {
      const std::map<std::string, HostTensor> in = {{"x", gpu::random_tensor(DataType::kF16, {batch, 64})}};
      test::check_outputs(test::run(*ctx, in), test::reference(net, in), 3e-3, "mlp_f16 batch " + std::to_string(batch));
    }
    auto out_of_profile = ctx->set_input_shape("x", {65, 64});
    REQUIRE_FALSE(out_of_profile.has_value());
    CHECK(out_of_profile.error().id == "rtx.runtime.111");
  }
  unsetenv("RTX_ASSERT_NO_JIT");
}

TEST_CASE("weight streaming: identical results at every budget, with and without CUDA graphs") {
  for (const char* name : {"mlp_f16_streaming", "transformer_f16_streaming"}) {
    const bool transformer = std::string(name) == "transformer_f16_streaming";
    Engine engine = test::load_engine(name);
    const int64_t total = engine.streamable_weights_size();
    REQUIRE(total > 0);
    const std::vector<int64_t> shape = transformer ? std::vector<int64_t>{2, 32, 128} : std::vector<int64_t>{16, 256};
    const std::map<std::string, HostTensor> in = {{"x", gpu::random_tensor(DataType::kF16, shape)}};
    auto ctx = engine.create_execution_context();
    REQUIRE(ctx.has_value());
    const auto want = test::run(*ctx, in);
    const Network net = transformer ? test::make_transformer_block<f16>() : test::make_mlp<f16>(256, 512, 64, 31);
    test::check_outputs(want, test::reference(net, in), transformer ? 1e-2 : 3e-3, std::string(name) + " full budget");
    for (bool graph : {false, true}) {
      ctx->set_use_cuda_graph(graph);
      Stream stream;
      for (int64_t budget : {total / 2, total / 10, int64_t{0}, int64_t{-1}, total}) {
        REQUIRE(engine.set_weight_streaming_budget(budget).has_value());
        if (budget >= 0 && budget < total) CHECK(engine.streamed_weight_bytes() > 0);
        if (budget == total) CHECK(engine.streamed_weight_bytes() == 0);
        test::Bindings b;
        test::bind(*ctx, in, b);
        enqueue(*ctx, stream.s);
        enqueue(*ctx, stream.s);  // a second run (a replay with graphs) must agree too
        CHECK_MESSAGE(test::identical(test::outputs(b), want),
                      name << " budget " << budget << " of " << total << (graph ? " with" : " without") << " CUDA graph");
        MESSAGE(name << " budget " << budget << ": " << engine.streamed_weight_bytes() << " B streamed, "
                     << engine.weight_device_bytes() << " B resident, staging " << ctx->memory_report().staging_bytes);
      }
    }
  }
  Engine plain = test::load_engine("mlp_f16");
  auto r = plain.set_weight_streaming_budget(0);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == "rtx.runtime.116");
  Engine streaming = test::load_engine("mlp_f16_streaming");
  r = streaming.set_weight_streaming_budget(streaming.streamable_weights_size() + 1);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == "rtx.runtime.115");
}

TEST_CASE("profile: per-step device times of a run that still writes correct outputs") {
  for (const char* name : {"transformer_f16", "transformer_f16_streaming"}) {
    const Network net = test::make_transformer_block<f16>();
    Engine engine = test::load_engine(name);
    if (engine.streamable_weights_size() > 0)
      REQUIRE(engine.set_weight_streaming_budget(0).has_value());  // every weight streams
    auto ctx = engine.create_execution_context();
    REQUIRE(ctx.has_value());
    ctx->set_use_cuda_graph(true);  // profile() never captures, whatever the context's setting
    Stream stream;
    test::Bindings b;
    const std::map<std::string, HostTensor> in = {{"x", gpu::random_tensor(DataType::kF16, {2, 32, 128})}};
    test::bind(*ctx, in, b);
    auto steps = ctx->profile(stream.s);
    REQUIRE_MESSAGE(steps.has_value(), (steps ? "" : steps.error().to_string()));
    CHECK(ctx->cuda_graph_captures() == 0);
    test::check_outputs(test::outputs(b), test::reference(net, in), 1e-2, std::string(name) + " profiled run");
    REQUIRE(steps->size() >= 5);
    double total = 0;
    int kernels = 0;
    for (const StepTime& st : *steps) {
      CHECK_MESSAGE(st.ms >= 0.0, st.name);
      CHECK_FALSE(st.name.empty());
      total += st.ms;
      kernels += st.kind.rfind("kernel ", 0) == 0 ? 1 : 0;
    }
    CHECK(total > 0.0);
    CHECK(kernels >= 3);
    MESSAGE(name << ": " << steps->size() << " steps, " << kernels << " kernel steps, " << total << " ms");
    // The same steps every run, and a normal enqueue afterwards still captures and matches.
    auto again = ctx->profile(stream.s);
    REQUIRE(again.has_value());
    CHECK(again->size() == steps->size());
    b.buffers.at("y").poison();
    enqueue(*ctx, stream.s);
    CHECK(ctx->cuda_graph_captures() == 1);
    test::check_outputs(test::outputs(b), test::reference(net, in), 1e-2, std::string(name) + " enqueue after profile");
  }
}

TEST_CASE("kCURRENT: an engine for this GPU alone (wgmma GEMMs on Hopper), with graphs and weight streaming") {
  int device = 0;
  cudaDeviceProp prop{};
  REQUIRE(cudaGetDevice(&device) == cudaSuccess);
  REQUIRE(cudaGetDeviceProperties(&prop, device) == cudaSuccess);
  const Network net = test::make_transformer_block<f16>();
  for (bool streaming : {false, true}) {
    BuilderConfig config;
    config.set_compute_capabilities({ComputeCapability::kCURRENT});
    if (streaming) config.set_flag(BuilderFlag::kWEIGHT_STREAMING);
    auto blob = Builder().build_serialized_network(net, config);
    REQUIRE_MESSAGE(blob.has_value(), (blob ? "" : blob.error().to_string()));
    const std::string text(reinterpret_cast<const char*>(blob->data()), blob->size());
    if (prop.major == 9 && prop.minor == 0) CHECK_MESSAGE(text.find("gemm_wgmma") != std::string::npos, "no wgmma kernel on sm_90");
    Runtime runtime;
    auto engine = runtime.deserialize(blob->bytes());
    REQUIRE_MESSAGE(engine.has_value(), (engine ? "" : engine.error().to_string()));
    if (streaming) REQUIRE(engine->set_weight_streaming_budget(engine->streamable_weights_size() / 3).has_value());
    auto ctx = engine->create_execution_context();
    REQUIRE(ctx.has_value());
    ctx->set_use_cuda_graph(true);
    for (int64_t batch : {1, 3, 4, 3}) {
      const std::map<std::string, HostTensor> in = {{"x", gpu::random_tensor(DataType::kF16, {batch, 32, 128})}};
      test::check_outputs(test::run(*ctx, in), test::reference(net, in), 1e-2,
                          std::string("kCURRENT transformer batch ") + std::to_string(batch) + (streaming ? " streaming" : ""));
    }
    // Every step ran as a kernel: a launch the runtime could not prepare would fall back to the
    // host silently (right results, far slower).
    Stream stream;
    test::Bindings b;
    test::bind(*ctx, {{"x", gpu::random_tensor(DataType::kF16, {2, 32, 128})}}, b);
    auto steps = ctx->profile(stream.s);
    REQUIRE_MESSAGE(steps.has_value(), (steps ? "" : steps.error().to_string()));
    for (const StepTime& st : *steps) CHECK_MESSAGE(st.kind != "host", "step '" << st.name << "' ran on the host");
    for (const std::string& why : ctx->host_fallbacks()) FAIL_CHECK("host fallback: " << why);
  }
}
