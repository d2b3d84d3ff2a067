// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the GPU benchmarks in bench/ (conv, qgemm, gemm, attention, memory): the
// CUDA / cuBLASLt error checks, comma-list parsing of command-line options, and the CUDA-graph
// timer, so that every benchmark reports its numbers measured the same way.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

/// Prints file:line, the call and CUDA's message, and exits with 1 when `call` fails.
#define CHECK_CUDA(call)                                                                          \
  do {                                                                                            \
    const cudaError_t e_ = (call);                                                                \
    if (e_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)

/// The same for a cuBLASLt call (the user includes <cublasLt.h>); prints the status number.
#define CHECK_LT(call)                                                                    \
  do {                                                                                    \
    const cublasStatus_t s_ = (call);                                                     \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                    \
      std::fprintf(stderr, "%s:%d: %s: status %d\n", __FILE__, __LINE__, #call, int(s_)); \
      std::exit(1);                                                                       \
    }                                                                                     \
  } while (0)

namespace rtx::bench {

/// The comma-separated pieces of `s`, empty ones included ("" gives one empty piece).
inline std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> v;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = s.find(',', pos);
    v.push_back(s.substr(pos, comma - pos));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return v;
}

/// Comma-separated integers; "" gives none and a trailing comma is ignored.
inline std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> v;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t comma = s.find(',', pos);
    v.push_back(std::stoll(s.substr(pos, comma - pos)));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return v;
}

/// Per-launch milliseconds of a timed graph: the median of the samples, and their extremes.
struct GraphTime {
  double median_ms = 0, min_ms = 0, max_ms = 0;
};

/// Captures `launch(0) .. launch(chain - 1)` on `stream` into a CUDA graph, replays it 3 times as
/// warm-up (then waits for them), and times `reps` (>= 1) replays with one event pair each; every
/// sample is the replay's time / `chain`. The median is the upper middle sample.
template <class Launch>
GraphTime time_graph(cudaStream_t stream, int chain, int reps, Launch&& launch) {
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
  for (int i = 0; i < chain; ++i) launch(i);
  CHECK_CUDA(cudaStreamEndCapture(stream, &graph));
  CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  for (int w = 0; w < 3; ++w) CHECK_CUDA(cudaGraphLaunch(exec, stream));  // warm-up
  CHECK_CUDA(cudaStreamSynchronize(stream));
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) {
    CHECK_CUDA(cudaEventRecord(start, stream));
    CHECK_CUDA(cudaGraphLaunch(exec, stream));
    CHECK_CUDA(cudaEventRecord(stop, stream));
    CHECK_CUDA(cudaEventSynchronize(stop));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
    samples.push_back(static_cast<double>(ms) / chain);
  }
  CHECK_CUDA(cudaEventDestroy(start));
  CHECK_CUDA(cudaEventDestroy(stop));
  CHECK_CUDA(cudaGraphExecDestroy(exec));
  CHECK_CUDA(cudaGraphDestroy(graph));
  std::sort(samples.begin(), samples.end());
  return GraphTime{samples[samples.size() / 2], samples.front(), samples.back()};
}

}  // namespace rtx::bench
