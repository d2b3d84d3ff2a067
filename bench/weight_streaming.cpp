// SPDX-License-Identifier: Apache-2.0
// Weight-streaming benchmark: an f16 MLP of `layers` square linear layers (8 x 8192^2 by default:
// 1 GiB of weights) built for this GPU with kWEIGHT_STREAMING, run at weight-streaming budgets of
// 100%, 50%, 10% and 0% of its streamable weights, without and with a CUDA graph. Prints a
// markdown table (median time per inference, throughput, bytes streamed per run and the copy
// bandwidth that implies) and checks that every budget gives bitwise the same output.
//
//   rtx_bench_weight_streaming [--layers N] [--dim D] [--batch B] [--iterations N] [--out FILE]
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "rtx/rtx.hpp"

namespace {

struct Options {
  int layers = 8;
  int64_t dim = 8192;
  int64_t batch = 64;
  int iterations = 20;
  std::string out;
};

#define CHECK_CUDA(call)                                                                        \
  do {                                                                                          \
    cudaError_t e_ = (call);                                                                    \
    if (e_ != cudaSuccess) {                                                                    \
      std::fprintf(stderr, "%s failed: %s\n", #call, cudaGetErrorString(e_));                   \
      std::exit(1);                                                                             \
    }                                                                                           \
  } while (0)

template <class T>
T value_or_die(rtx::Expected<T> e, const char* what) {
  if (!e) {
    std::fprintf(stderr, "%s: %s\n", what, e.error().to_string().c_str());
    std::exit(1);
  }
  return std::move(*e);
}

void ok_or_die(const rtx::Expected<void>& e, const char* what) {
  if (!e) {
    std::fprintf(stderr, "%s: %s\n", what, e.error().to_string().c_str());
    std::exit(1);
  }
}

/// Weights of scale ~1/sqrt(dim) as f16 bits, from a table filled once (fast for 1 GiB).
rtx::HostTensor random_f16(std::vector<int64_t> shape, double scale, uint64_t seed) {
  std::vector<double> table(4096);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& v : table) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v = (static_cast<double>(s >> 11) / 9007199254740992.0 * 2 - 1) * scale;
  }
  const rtx::HostTensor lut = rtx::HostTensor::from_doubles(rtx::DataType::kF16, {4096}, table);
  const auto* bits = reinterpret_cast<const uint16_t*>(lut.data());
  rtx::HostTensor t(rtx::DataType::kF16, std::move(shape));
  auto* out = reinterpret_cast<uint16_t*>(t.mutable_data());
  const int64_t n = t.element_count();
  for (int64_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    out[i] = bits[s >> 52];
  }
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--layers") o.layers = std::atoi(argv[i + 1]);
    else if (a == "--dim") o.dim = std::atoll(argv[i + 1]);
    else if (a == "--batch") o.batch = std::atoll(argv[i + 1]);
    else if (a == "--iterations") o.iterations = std::atoi(argv[i + 1]);
    else if (a == "--out") o.out = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  int device = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    std::printf("SKIP: no GPU here\n");
    return 77;
  }

  // ---- network and engine ----
  const auto t0 = std::chrono::steady_clock::now();
  rtx::Network net;
  auto x = net.input<rtx::f16>("x", {o.batch, o.dim});
  auto h = x;
  for (int l = 0; l < o.layers; ++l) {
    auto w = net.weight<rtx::f16, 2>("layer" + std::to_string(l) + ".weight",
                                     random_f16({o.dim, o.dim}, 1.0 / std::sqrt(double(o.dim)), static_cast<uint64_t>(l + 1)));
    h = l + 1 < o.layers ? rtx::relu(rtx::linear(h, w)) : rtx::linear(h, w);
  }
  net.output(h, "y");
  rtx::BuilderConfig config;
  config.set_compute_capabilities({rtx::ComputeCapability::kCURRENT});
  config.set_flag(rtx::BuilderFlag::kWEIGHT_STREAMING);
  rtx::BuildReport report;
  rtx::HostMemory blob = value_or_die(rtx::Builder().build_serialized_network(net, config, &report), "build");
  const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rtx::Runtime runtime;
  rtx::Engine engine = value_or_die(runtime.deserialize(blob.release()), "deserialize");
  const int64_t total = engine.streamable_weights_size();

  // ---- buffers ----
  const size_t in_bytes = static_cast<size_t>(o.batch * o.dim * 2);
  void *d_x = nullptr, *d_y = nullptr;
  CHECK_CUDA(cudaMalloc(&d_x, in_bytes));
  CHECK_CUDA(cudaMalloc(&d_y, in_bytes));
  const rtx::HostTensor input = random_f16({o.batch, o.dim}, 1.0, 99);
  CHECK_CUDA(cudaMemcpy(d_x, input.data(), in_bytes, cudaMemcpyHostToDevice));
  cudaStream_t stream = nullptr;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));

  // Host-to-device copy bandwidth from pinned memory, the ceiling of streaming.
  double h2d_gbs = 0;
  {
    const size_t bytes = 256ull << 20;
    void *h = nullptr, *d = nullptr;
    CHECK_CUDA(cudaHostAlloc(&h, bytes, cudaHostAllocDefault));
    CHECK_CUDA(cudaMalloc(&d, bytes));
    std::vector<double> ms;
    for (int i = 0; i < 5; ++i) {
      CHECK_CUDA(cudaEventRecord(start, stream));
      CHECK_CUDA(cudaMemcpyAsync(d, h, bytes, cudaMemcpyHostToDevice, stream));
      CHECK_CUDA(cudaEventRecord(stop, stream));
      CHECK_CUDA(cudaEventSynchronize(stop));
      float t = 0;
      CHECK_CUDA(cudaEventElapsedTime(&t, start, stop));
      ms.push_back(t);
    }
    h2d_gbs = static_cast<double>(bytes) / (median(ms) * 1e-3) / 1e9;
    cudaFreeHost(h);
    cudaFree(d);
  }

  std::ostringstream table;
  table << "| budget | graph | median ms | inferences/s | streamed MiB/run | streamed GB/s | identical |\n"
        << "|---|---|---|---|---|---|---|\n";
  std::vector<uint8_t> reference_out(in_bytes), out(in_bytes);
  bool have_reference = false, all_identical = true;
  for (bool graph : {false, true}) {
    for (double fraction : {1.0, 0.5, 0.1, 0.0}) {
      const int64_t budget = static_cast<int64_t>(static_cast<double>(total) * fraction);
      ok_or_die(engine.set_weight_streaming_budget(budget), "set_weight_streaming_budget");
      rtx::ExecutionContext ctx = value_or_die(engine.create_execution_context(), "context");
      ctx.set_use_cuda_graph(graph);
      ok_or_die(ctx.set_tensor_address("x", d_x), "x");
      ok_or_die(ctx.set_tensor_address("y", d_y), "y");
      for (int i = 0; i < 3; ++i) ok_or_die(ctx.enqueue(stream), "enqueue");
      CHECK_CUDA(cudaStreamSynchronize(stream));
      std::vector<double> ms;
      for (int i = 0; i < o.iterations; ++i) {
        CHECK_CUDA(cudaEventRecord(start, stream));
        ok_or_die(ctx.enqueue(stream), "enqueue");
        CHECK_CUDA(cudaEventRecord(stop, stream));
        CHECK_CUDA(cudaEventSynchronize(stop));
        float t = 0;
        CHECK_CUDA(cudaEventElapsedTime(&t, start, stop));
        ms.push_back(t);
      }
      CHECK_CUDA(cudaMemcpy(out.data(), d_y, in_bytes, cudaMemcpyDeviceToHost));
      if (!have_reference) {
        reference_out = out;
        have_reference = true;
      }
      const bool same = out == reference_out;
      all_identical = all_identical && same;
      const double m = median(ms);
      const double streamed = static_cast<double>(engine.streamed_weight_bytes());
      char row[256];
      std::snprintf(row, sizeof row, "| %3.0f%% | %s | %.3f | %.1f | %.0f | %.1f | %s |\n", fraction * 100,
                    graph ? "yes" : "no", m, 1e3 / m, streamed / (1 << 20), streamed / (m * 1e-3) / 1e9,
                    same ? "yes" : "NO");
      table << row;
    }
  }
  std::ostringstream head;
  head << "GPU: " << prop.name << " (sm_" << prop.major << prop.minor << "), host-to-device copy " << h2d_gbs
       << " GB/s from pinned memory\n"
       << "Network: f16 MLP, " << o.layers << " linear layers of " << o.dim << " x " << o.dim << ", batch " << o.batch
       << "; streamable weights " << total / (1 << 20) << " MiB; " << report.kernels << " kernels; build "
       << build_s << " s\n\n";
  const std::string text = head.str() + table.str();
  std::printf("%s", text.c_str());
  if (!o.out.empty()) std::ofstream(o.out) << text;
  cudaFree(d_x);
  cudaFree(d_y);
  return all_identical ? 0 : 1;
}
