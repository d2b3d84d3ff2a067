// SPDX-License-Identifier: Apache-2.0
// Benchmark statistics and the trtexec-style performance summary: Throughput (qps), then Latency,
// Enqueue Time, H2D Latency, GPU Compute Time and D2H Latency with min/max/mean/median and the
// asked percentiles, the total host wall time and GPU compute time, and trtexec's warnings
// (throughput bound by enqueue time or by transfers, unstable GPU compute time with a
// coefficient of variation above 2.5%). Also the JSON files --exportTimes and --exportProfile
// write, in trtexec's formats, and the --dumpProfile table. Everything here is arithmetic on
// recorded timestamps, so it is tested without a GPU.
#pragma once

#include <ostream>
#include <span>
#include <string>
#include <vector>

namespace rtx::cli {

/// Timestamps of one timed inference, in milliseconds from a common origin (trtexec's
/// InferenceTrace). Without data transfers the H2D and D2H intervals are empty (start == end).
struct InferenceTrace {
  double enq_start = 0, enq_end = 0;
  double h2d_start = 0, h2d_end = 0;
  double compute_start = 0, compute_end = 0;
  double d2h_start = 0, d2h_end = 0;
};

/// Summary statistics of one metric.
struct Stats {
  double min = 0, max = 0, mean = 0, median = 0;
  double coefficient_of_variation = 0;  ///< population standard deviation / mean, in percent
  std::vector<std::pair<double, double>> percentiles;  ///< (percentile, value)
};

/// Statistics of `values` (any order). Percentiles follow trtexec: the value at sorted index
/// max(n - 1 - floor((1 - p/100) * n), 0); the median averages the two middle values.
Stats compute_stats(std::vector<double> values, std::span<const double> percentiles);

/// The analysed benchmark.
struct PerformanceSummary {
  size_t iterations = 0;
  double throughput_qps = 0;
  Stats latency, enqueue, h2d, compute, d2h;
  double total_host_walltime_ms = 0;
  double total_gpu_compute_ms = 0;
  std::vector<std::string> warnings;  ///< trtexec's advice, one string per warning
};

/// What the run did, for the warnings' advice.
struct RunSettings {
  bool data_transfers = false;
  bool cuda_graph = true;
  bool spin_wait = true;
};

/// Analyses the timed inferences (warm-up excluded).
PerformanceSummary summarize_performance(std::span<const InferenceTrace> traces,
                                         std::span<const double> percentiles,
                                         const RunSettings& settings);

/// Writes the summary with trtexec's line prefixes ("[I] ", "[W] ").
void print_performance(std::ostream& out, const PerformanceSummary& summary);

/// "min = 0.1 ms, max = ..., percentile(99%) = ... ms".
std::string stats_line(const Stats& s);

/// --exportTimes: one object per timed inference, trtexec's keys (startEnqMs, endEnqMs,
/// startH2dMs, ..., h2dMs, computeMs, d2hMs, latencyMs, endToEndMs).
std::string times_json(std::span<const InferenceTrace> traces);

/// Per-kernel (or per-layer) times over several profiled runs.
struct LayerProfile {
  std::string name;
  std::vector<double> times_ms;  ///< one per profiled run
};

/// --exportProfile: [{"count": runs}, {"name", "timeMs", "averageMs", "medianMs", "percentage"}...]
std::string profile_json(std::span<const LayerProfile> layers, size_t runs);

/// --dumpProfile: trtexec's table (Time, Avg., Median, Time %, Layer) with a Total row.
void print_profile(std::ostream& out, std::span<const LayerProfile> layers, size_t runs);

}  // namespace rtx::cli
