// SPDX-License-Identifier: Apache-2.0
// attention_bench: achieved TFLOP/s of rtx's fused attention kernels on the GPU in use, for
// BERT/LLM-like shapes (f16 and bf16, B = 8, H = 16, S = 512 / 2048, D = 64 / 128, with and
// without is_causal; an LLM decode step with GQA), every flash tile variant side by side so the
// planner's default tile can be chosen from measurements. No peer library is timed (PyTorch's
// SDPA is not reachable from C++ without PyTorch).
//
// FLOPs count the two products only: 4 * B * Hq * D * (visible (query, key) pairs), where a causal
// square problem sees S (S + 1) / 2 pairs per head. Bytes count Q, K, V read once and Y written
// once (the decode row is memory-bound; its GB/s is the number to watch). Timing: CUDA events
// around a CUDA graph of `chain` back-to-back launches, warm-up first, the median of `reps`
// samples; inputs are uniform random in [-1, 1), never zeros. Each kernel's first output is
// checked for NaN (a launch that wrote nothing would leave the 0xFF poison = NaN).
//
// Usage: attention_bench [--reps 15] [--chain 10] [--shapes 0,1,2] [--default-only 1]
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "ir/graph.hpp"
#include "jit/cache.hpp"
#include "jit/compiler.hpp"
#include "jit/device.hpp"
#include "jit/kernels/attention.hpp"
#include "jit/module.hpp"
#include "rtx/numeric.hpp"

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;
using namespace rtx::bench;

namespace {

struct Shape {
  const char* name;
  DataType dtype;
  int64_t batch, q_heads, kv_heads, q_seq, kv_seq, head;
  bool causal;
};

const std::vector<Shape> kShapes = {
    {"bert-base S512 D64", DataType::kF16, 8, 16, 16, 512, 512, 64, false},
    {"S512 D128", DataType::kF16, 8, 16, 16, 512, 512, 128, false},
    {"S2048 D64", DataType::kF16, 8, 16, 16, 2048, 2048, 64, false},
    {"S2048 D64 causal", DataType::kF16, 8, 16, 16, 2048, 2048, 64, true},
    {"S2048 D128", DataType::kF16, 8, 16, 16, 2048, 2048, 128, false},
    {"S2048 D128 causal", DataType::kF16, 8, 16, 16, 2048, 2048, 128, true},
    {"S2048 D128 causal bf16", DataType::kBF16, 8, 16, 16, 2048, 2048, 128, true},
    {"decode GQA 32/8 S1/4096 D128", DataType::kF16, 8, 32, 8, 1, 4096, 128, false},
};

/// Flash tiles timed per static head size (the planner's default first).
std::vector<AttentionTile> tiles_for(int head_dim) {
  std::vector<AttentionTile> t = {default_attention_tile(head_dim)};
  const std::vector<AttentionTile> more =
      head_dim == 64
          ? std::vector<AttentionTile>{{128, 64, 4}, {64, 64, 4}, {128, 32, 4}, {128, 128, 8}}
          : std::vector<AttentionTile>{{128, 32, 4}, {64, 32, 4}, {128, 64, 8}, {128, 128, 8}};
  for (const AttentionTile& m : more)
    if (!(m == t.front())) t.push_back(m);
  return t;
}

/// Device memory of `bytes` filled with uniform random values of `dtype` in [-1, 1).
void* random_device_buffer(DataType dtype, size_t elements, std::mt19937_64& rng) {
  std::vector<uint16_t> host(elements);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (uint16_t& x : host)
    x = dtype == DataType::kF16 ? numeric::f16_from_double(u(rng))
                                : numeric::bf16_from_double(u(rng));
  void* d = nullptr;
  CHECK_CUDA(cudaMalloc(&d, elements * 2));
  CHECK_CUDA(cudaMemcpy(d, host.data(), elements * 2, cudaMemcpyHostToDevice));
  return d;
}

/// The IR node and input infos of a shape (4-D layout), as the engine builder would plan them.
AttentionProblem problem_of(const Shape& s, std::optional<AttentionSpec>& planned) {
  ir::Node node;
  node.op = ir::OpKind::kAttention;
  node.name = "attention";
  node.inputs = {0, 1, 2};
  node.outputs = {100};
  if (s.causal) node.attrs["is_causal"] = int64_t{1};
  const std::vector<ir::TensorInfo> infos = {
      {s.dtype, {s.batch, s.q_heads, s.q_seq, s.head}, true},
      {s.dtype, {s.batch, s.kv_heads, s.kv_seq, s.head}, true},
      {s.dtype, {s.batch, s.kv_heads, s.kv_seq, s.head}, true}};
  planned = plan_attention(node, infos);
  auto p = attention_problem(node, infos);
  if (!p) {
    std::fprintf(stderr, "%s\n", p.error().to_string().c_str());
    std::exit(1);
  }
  return *p;
}

double visible_pairs(const Shape& s) {
  if (!s.causal) return static_cast<double>(s.q_seq) * static_cast<double>(s.kv_seq);
  double pairs = 0;  // query i sees keys j <= i (no past)
  for (int64_t i = 0; i < s.q_seq; ++i) pairs += static_cast<double>(std::min(i + 1, s.kv_seq));
  return pairs;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 15, chain = 10;
  bool default_only = false;
  std::vector<int64_t> shape_ids;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--reps")
      reps = std::max(3, std::atoi(argv[i + 1]));
    else if (a == "--chain")
      chain = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--shapes")
      shape_ids = parse_list(argv[i + 1]);
    else if (a == "--default-only")
      default_only = std::atoi(argv[i + 1]) != 0;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (shape_ids.empty())
    for (size_t i = 0; i < kShapes.size(); ++i) shape_ids.push_back(static_cast<int64_t>(i));

  auto info = device_info(0);
  if (!info) {
    std::printf("attention_bench: SKIP, no usable GPU (%s)\n", info.error().to_string().c_str());
    return 77;
  }
  std::printf("GPU: %s (sm_%d, %d SMs), reps %d, chain %d\n", info->name.c_str(), info->sm(),
              info->multiprocessors, reps, chain);

  // Every spec timed, compiled once as one program for this GPU.
  std::vector<AttentionSpec> specs;
  for (DataType t : {DataType::kF16, DataType::kBF16}) {
    for (int d : {64, 128})
      for (const AttentionTile& tile : tiles_for(d))
        specs.push_back(AttentionSpec{AttentionAlgorithm::kFlash, t, d, tile});
    specs.push_back(AttentionSpec{AttentionAlgorithm::kGeneric, t, 0, {}});
  }
  const Target target{info->sm(), false, false};
  KernelCache cache{std::filesystem::path{}};
  CompileOptions options;
  options.cache = &cache;
  auto images = compile(attention_program(specs), std::span<const Target>(&target, 1), options);
  if (!images) {
    std::fprintf(stderr, "%s\n", images.error().to_string().c_str());
    return 1;
  }
  std::printf("compiled %zu kernels for %s in %.1f s\n", specs.size(), target.to_string().c_str(),
              (*images)[0].seconds);
  auto module = Module::load((*images)[0]);
  if (!module) {
    std::fprintf(stderr, "%s\n", module.error().to_string().c_str());
    return 1;
  }

  // Buffers sized for the largest shape.
  size_t max_q = 0, max_kv = 0;
  for (int64_t id : shape_ids) {
    const Shape& s = kShapes.at(static_cast<size_t>(id));
    max_q = std::max(max_q, static_cast<size_t>(s.batch * s.q_heads * s.q_seq * s.head));
    max_kv = std::max(max_kv, static_cast<size_t>(s.batch * s.kv_heads * s.kv_seq * s.head));
  }
  std::mt19937_64 rng(std::random_device{}());
  void* buffers[2][3];  // [dtype][q, k, v]
  for (int t = 0; t < 2; ++t) {
    const DataType dt = t == 0 ? DataType::kF16 : DataType::kBF16;
    buffers[t][0] = random_device_buffer(dt, max_q, rng);
    buffers[t][1] = random_device_buffer(dt, max_kv, rng);
    buffers[t][2] = random_device_buffer(dt, max_kv, rng);
  }
  void* y = nullptr;
  CHECK_CUDA(cudaMalloc(&y, max_q * 2));
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  std::printf("\n%-30s %-26s %10s %9s %9s %6s\n", "shape", "kernel", "median ms", "TFLOP/s", "GB/s",
              "ok");
  for (int64_t id : shape_ids) {
    const Shape& s = kShapes.at(static_cast<size_t>(id));
    std::optional<AttentionSpec> planned;
    const AttentionProblem problem = problem_of(s, planned);
    const int t = s.dtype == DataType::kF16 ? 0 : 1;
    const AttentionBuffers bufs{buffers[t][0], buffers[t][1], buffers[t][2], nullptr, y};
    const double flops = 4.0 * static_cast<double>(s.batch * s.q_heads * s.head) * visible_pairs(s);
    const double bytes = 2.0 * static_cast<double>(2 * s.batch * s.q_heads * s.q_seq * s.head +
                                                   2 * s.batch * s.kv_heads * s.kv_seq * s.head);

    std::vector<AttentionSpec> candidates;
    if (planned) candidates.push_back(*planned);
    if (!default_only && planned && planned->algorithm == AttentionAlgorithm::kFlash)
      for (const AttentionTile& tile : tiles_for(planned->head_dim))
        if (!(tile == planned->tile))
          candidates.push_back(
              AttentionSpec{AttentionAlgorithm::kFlash, s.dtype, planned->head_dim, tile});
    // The CUDA-core fallback, where it finishes in reasonable time.
    if (!default_only && s.q_seq * s.kv_seq <= 512 * 512)
      candidates.push_back(AttentionSpec{AttentionAlgorithm::kGeneric, s.dtype, 0, {}});

    for (const AttentionSpec& spec : candidates) {
      const std::string* lowered = (*images)[0].lowered_name(spec.name_expression());
      auto kernel = module->kernel(lowered ? *lowered : std::string());
      if (!kernel) {
        std::fprintf(stderr, "%s\n", kernel.error().to_string().c_str());
        return 1;
      }
      if (auto ok = can_implement(spec, problem, bufs); !ok) {
        std::printf("%-30s %-26s %s\n", s.name, spec.describe().c_str(),
                    ok.error().to_string().c_str());
        continue;
      }
      // Poisoned output, one checked launch.
      CHECK_CUDA(cudaMemsetAsync(y, 0xFF, max_q * 2, stream));
      if (auto ok = run(spec, *kernel, problem, bufs, stream); !ok) {
        std::printf("%-30s %-26s %s\n", s.name, spec.describe().c_str(),
                    ok.error().to_string().c_str());
        continue;
      }
      CHECK_CUDA(cudaStreamSynchronize(stream));
      CHECK_CUDA(cudaGetLastError());
      std::vector<uint16_t> head(1024);
      const size_t n =
          std::min<size_t>(head.size(), static_cast<size_t>(problem.output_elements()));
      CHECK_CUDA(cudaMemcpy(head.data(), y, n * 2, cudaMemcpyDeviceToHost));
      bool finite = true;
      for (size_t i = 0; i < n; ++i) {
        const double v = s.dtype == DataType::kF16 ? numeric::f16_to_double(head[i])
                                                   : numeric::bf16_to_double(head[i]);
        finite = finite && std::isfinite(v);
      }

      // A graph of `chain` launches, replayed `reps` times after the warm-up.
      const GraphTime timing = time_graph(stream, chain, reps, [&](int) {
        if (auto ok = run(spec, *kernel, problem, bufs, stream); !ok) {
          std::fprintf(stderr, "%s\n", ok.error().to_string().c_str());
          std::exit(1);
        }
      });
      const double med = timing.median_ms;
      std::printf("%-30s %-26s %10.4f %9.1f %9.0f %6s   (min %.4f max %.4f)\n", s.name,
                  spec.describe().c_str(), med, flops / (med * 1e-3) / 1e12,
                  bytes / (med * 1e-3) / 1e9, finite ? "yes" : "NaN", timing.min_ms, timing.max_ms);
      std::fflush(stdout);
    }
  }
  CHECK_CUDA(cudaStreamDestroy(stream));
  for (auto& per : buffers)
    for (void* b : per) CHECK_CUDA(cudaFree(b));
  CHECK_CUDA(cudaFree(y));
  return 0;
}
