// SPDX-License-Identifier: Apache-2.0
// A two-layer perceptron built with rtx's typed front end, compiled into a portable engine (no GPU
// needed: NVRTC writes kernels for every GPU generation from 8.0 plus PTX) and run on the GPU
// when there is one; on a machine without a GPU it runs on the reference evaluator (the exact CPU
// path) instead, and says so. Copy this to start: declare inputs, attach weights, chain layers,
// mark outputs, build, run. The tensors' C++ types carry dtype and rank, so mistakes such as
// adding an f16 tensor to an f32 one do not compile. Prints the outputs; exits 1 if they differ
// from values computed independently (numpy, float64), so this example doubles as a test.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <rtx/rtx.hpp>
#include <vector>

namespace {

// Deterministic stand-ins for trained weights: values in [-0.6, 0.6].
std::vector<float> pattern(size_t count, size_t seed) {
  std::vector<float> v(count);
  for (size_t i = 0; i < count; ++i) {
    const int k = static_cast<int>((i * 7 + seed * 3) % 13);  // 0 .. 12
    v[i] = static_cast<float>(k - 6) / 10.0f;
  }
  return v;
}

}  // namespace

int main() {
  constexpr int64_t kIn = 4, kHidden = 8, kOut = 3;
  const std::vector<float> w1 = pattern(kHidden * kIn, 1), b1 = pattern(kHidden, 2);
  const std::vector<float> w2 = pattern(kOut * kHidden, 3), b2 = pattern(kOut, 4);

  rtx::Network net;
  // The batch size is known only at run time; the profile bounds it (and tunes engines for 2).
  auto x = net.input<rtx::f32>("x", {rtx::dynamic, kIn});
  net.set_profile("x", {1, kIn}, {2, kIn}, {16, kIn});

  // Weights are borrowed, not copied: the vectors above must outlive the network. The names
  // are how a built engine's weights are refitted later.
  auto borrow = [](const std::vector<float>& v, std::vector<int64_t> shape) {
    return rtx::HostTensor::borrow(rtx::DataType::kF32, std::move(shape), v.data());
  };
  auto fc1_w = net.weight<rtx::f32, 2>("fc1.weight", borrow(w1, {kHidden, kIn}));
  auto fc1_b = net.weight<rtx::f32, 1>("fc1.bias", borrow(b1, {kHidden}));
  auto fc2_w = net.weight<rtx::f32, 2>("fc2.weight", borrow(w2, {kOut, kHidden}));
  auto fc2_b = net.weight<rtx::f32, 1>("fc2.bias", borrow(b2, {kOut}));

  auto h = rtx::relu(rtx::linear(x, fc1_w, fc1_b));  // (batch, 8)
  auto y = rtx::linear(h, fc2_w, fc2_b);             // (batch, 3)
  net.output(y, "y");

  // Dims mistakes (say, fc1.weight of shape (8, 5)) are recorded while building, not thrown.
  if (!net.ok()) {
    for (const rtx::Error& e : net.errors()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return 1;
  }

  const std::vector<float> batch = {1.0f, -2.0f, 0.5f,  3.0f,  //
                                    0.0f, 1.5f,  -1.0f, 2.0f};
  const std::map<std::string, rtx::HostTensor> inputs = {
      {"x", rtx::HostTensor::from_vector(rtx::DataType::kF32, {2, kIn}, batch)}};

  // Build the engine: kernels for every GPU generation the installed NVRTC knows (a cubin each,
  // plus PTX for newer GPUs), the plan and the weights, in one file. Needs no GPU. Compiled
  // kernels are cached ($RTX_CACHE_DIR or ~/.cache/rtx), so a second build takes a moment.
  rtx::BuilderConfig config;
  config.set_progress_callback([](const rtx::BuildProgress& p) {
    if (p.stage == rtx::BuildStage::kCOMPILING && p.total > 0 && p.completed > 0)
      std::printf("  [%lld/%lld] %s\n", static_cast<long long>(p.completed), static_cast<long long>(p.total),
                  p.message.c_str());
  });
  rtx::BuildReport report;
  auto engine_bytes = rtx::Builder().build_serialized_network(net, config, &report);
  if (!engine_bytes) {
    std::fprintf(stderr, "%s\n", engine_bytes.error().to_string().c_str());
    return 1;
  }
  const std::filesystem::path engine_path = std::filesystem::temp_directory_path() / "rtx_example_mlp.rtxe";
  if (auto saved = engine_bytes->save(engine_path); !saved) {
    std::fprintf(stderr, "%s\n", saved.error().to_string().c_str());
    return 1;
  }
  std::printf("engine %s: %zu bytes, %lld kernels for %lld targets, built in %.1f s\n", engine_path.c_str(),
              engine_bytes->size(), static_cast<long long>(report.kernels), static_cast<long long>(report.images),
              report.seconds);

  // Can it run here? The 64-byte header answers without reading the rest.
  rtx::Runtime runtime;
  uint64_t diagnostics = 0;
  const rtx::EngineValidity validity =
      runtime.engine_validity(engine_bytes->data(), engine_bytes->size(), &diagnostics);
  std::map<std::string, rtx::HostTensor> outputs;
  double tolerance = 1e-5;
  if (validity == rtx::EngineValidity::kINVALID) {
    std::printf("no GPU can run it here (%s): running the network on the reference evaluator instead\n",
                rtx::describe_diagnostics(diagnostics).c_str());
    auto result = rtx::evaluate_reference(net, inputs);
    if (!result) {
      std::fprintf(stderr, "%s\n", result.error().to_string().c_str());
      return 1;
    }
    outputs = std::move(*result);
  } else {
    auto engine = runtime.deserialize(engine_bytes->bytes());
    if (!engine) {
      std::fprintf(stderr, "%s\n", engine.error().to_string().c_str());
      return 1;
    }
    auto context = engine->create_execution_context();
    if (!context) {
      std::fprintf(stderr, "%s\n", context.error().to_string().c_str());
      return 1;
    }
    std::printf("running on the GPU (%s image%s)\n", engine->image_target().c_str(),
                engine->is_suboptimal() ? ", compiled from PTX here" : "");
    auto result = context->infer(inputs);
    if (!result) {
      std::fprintf(stderr, "%s\n", result.error().to_string().c_str());
      return 1;
    }
    outputs = std::move(*result);
    tolerance = 5e-3;  // f32 GEMMs run on tensor cores in tf32 (10-bit mantissa), accumulating in f32
  }
  const rtx::HostTensor& out = outputs.at("y");
  std::printf("y %s\n", out.describe().c_str());

  // Expected values: the same network in numpy with float64.
  const double expected[2][3] = {{1.54, -0.715, -0.76}, {2.185, -0.74, -2.04}};
  int mismatches = 0;
  for (int64_t row = 0; row < 2; ++row) {
    std::printf("  [");
    for (int64_t col = 0; col < kOut; ++col) {
      const double got = out.get_double(row * kOut + col);
      std::printf("%s%9.5f", col ? ", " : "", got);
      if (std::fabs(got - expected[row][col]) > tolerance) ++mismatches;
    }
    std::printf("]\n");
  }
  if (mismatches) std::fprintf(stderr, "%d values differ from the expected ones\n", mismatches);
  return mismatches ? 1 : 0;
}
