// SPDX-License-Identifier: Apache-2.0
// Benchmark statistics and reports (see report.hpp).
#include "tools/rtx/report.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

namespace rtx::cli {
namespace {

// trtexec's thresholds: enqueue-bound when the median enqueue time exceeds 80% of the median GPU
// compute time; transfer-bound when a median copy takes at least as long as the median compute.
// The stability bound (2.5%) is the one the rtx issue asks for (trtexec uses 1%).
constexpr double kEnqueueBoundRatio = 0.8;
constexpr double kUnstableCoefficientPercent = 2.5;

std::string number(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

std::string percent_label(double p) {
  std::ostringstream s;
  s << p;
  return s.str();
}

}  // namespace

Stats compute_stats(std::vector<double> values, std::span<const double> percentiles) {
  Stats s;
  if (values.empty()) {
    for (double p : percentiles) s.percentiles.emplace_back(p, 0.0);
    return s;
  }
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  s.min = values.front();
  s.max = values.back();
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(n);
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  double var = 0;
  for (double v : values) var += (v - s.mean) * (v - s.mean);
  var /= static_cast<double>(n);
  s.coefficient_of_variation = s.mean > 0 ? std::sqrt(var) / s.mean * 100.0 : 0.0;
  for (double p : percentiles) {
    // The small slack keeps (1 - 0.9) * 10 from flooring to 0: trtexec's float arithmetic
    // happens to round that product up, and p90 of 10 values is the 9th.
    const auto exclude = static_cast<int64_t>((1.0 - p / 100.0) * static_cast<double>(n) + 1e-9);
    const int64_t index = std::max<int64_t>(static_cast<int64_t>(n) - 1 - exclude, 0);
    s.percentiles.emplace_back(p, values[static_cast<size_t>(index)]);
  }
  return s;
}

PerformanceSummary summarize_performance(std::span<const InferenceTrace> traces,
                                         std::span<const double> percentiles,
                                         const RunSettings& settings) {
  PerformanceSummary r;
  r.iterations = traces.size();
  std::vector<double> latency, enqueue, h2d, compute, d2h;
  double first = INFINITY, last = -INFINITY;
  for (const auto& t : traces) {
    const double h = t.h2d_end - t.h2d_start, c = t.compute_end - t.compute_start,
                 d = t.d2h_end - t.d2h_start;
    h2d.push_back(h);
    compute.push_back(c);
    d2h.push_back(d);
    latency.push_back(h + c + d);
    enqueue.push_back(t.enq_end - t.enq_start);
    first = std::min({first, t.enq_start, t.h2d_start});
    last = std::max({last, t.compute_end, t.d2h_end});
    r.total_gpu_compute_ms += c;
  }
  r.latency = compute_stats(latency, percentiles);
  r.enqueue = compute_stats(enqueue, percentiles);
  r.h2d = compute_stats(h2d, percentiles);
  r.compute = compute_stats(compute, percentiles);
  r.d2h = compute_stats(d2h, percentiles);
  if (!traces.empty()) {
    r.total_host_walltime_ms = last - first;
    r.throughput_qps = r.total_host_walltime_ms > 0
                           ? static_cast<double>(traces.size()) / r.total_host_walltime_ms * 1000.0
                           : 0;
  }
  if (traces.empty()) return r;
  if (r.enqueue.median > kEnqueueBoundRatio * r.compute.median) {
    r.warnings.push_back(
        "Throughput may be bound by Enqueue Time rather than GPU Compute and the GPU may be "
        "under-utilized. " +
        std::string(
            settings.cuda_graph
                ? "CUDA graphs are already in use: larger batches give the GPU more work per "
                  "enqueue."
                : "Replaying a CUDA graph (drop --noCudaGraph) may increase the throughput."));
  }
  if (settings.data_transfers && r.h2d.median >= r.compute.median) {
    r.warnings.push_back(
        "Throughput may be bound by host-to-device transfers for the inputs rather than GPU "
        "Compute and the GPU may "
        "be under-utilized. Drop --includeDataTransfers to time the engine alone.");
  }
  if (settings.data_transfers && r.d2h.median >= r.compute.median) {
    r.warnings.push_back(
        "Throughput may be bound by device-to-host transfers for the outputs rather than GPU "
        "Compute and the GPU may "
        "be under-utilized. Drop --includeDataTransfers to time the engine alone.");
  }
  if (r.compute.coefficient_of_variation > kUnstableCoefficientPercent) {
    r.warnings.push_back(
        "GPU compute time is unstable, with coefficient of variation = " +
        number(r.compute.coefficient_of_variation) + "%. " +
        (settings.spin_wait
             ? "Locking the GPU clock frequency may improve the stability."
             : "Locking the GPU clock frequency or spin wait (drop --noSpinWait) may "
               "improve the stability."));
  }
  return r;
}

std::string stats_line(const Stats& s) {
  std::string line = "min = " + number(s.min) + " ms, max = " + number(s.max) +
                     " ms, mean = " + number(s.mean) + " ms, median = " + number(s.median) + " ms";
  for (const auto& [p, v] : s.percentiles)
    line += ", percentile(" + percent_label(p) + "%) = " + number(v) + " ms";
  return line;
}

void print_performance(std::ostream& out, const PerformanceSummary& r) {
  out << "[I] === Performance summary ===\n"
      << "[I] Throughput: " << number(r.throughput_qps) << " qps\n"
      << "[I] Latency: " << stats_line(r.latency) << "\n"
      << "[I] Enqueue Time: " << stats_line(r.enqueue) << "\n"
      << "[I] H2D Latency: " << stats_line(r.h2d) << "\n"
      << "[I] GPU Compute Time: " << stats_line(r.compute) << "\n"
      << "[I] D2H Latency: " << stats_line(r.d2h) << "\n"
      << "[I] Total Host Walltime: " << number(r.total_host_walltime_ms / 1000.0) << " s\n"
      << "[I] Total GPU Compute Time: " << number(r.total_gpu_compute_ms / 1000.0) << " s\n"
      << "[I] Timed inferences: " << r.iterations << "\n";
  for (const auto& w : r.warnings) out << "[W] * " << w << "\n";
}

std::string times_json(std::span<const InferenceTrace> traces) {
  std::ostringstream os;
  os.precision(9);
  os << "[\n";
  const char* sep = "  ";
  for (const auto& t : traces) {
    const double h = t.h2d_end - t.h2d_start, c = t.compute_end - t.compute_start,
                 d = t.d2h_end - t.d2h_start;
    const double start = std::min(t.enq_start, t.h2d_start),
                 end = std::max(t.compute_end, t.d2h_end);
    os << sep << "{ \"startEnqMs\" : " << t.enq_start << ", \"endEnqMs\" : " << t.enq_end
       << ", \"startH2dMs\" : " << t.h2d_start << ", \"endH2dMs\" : " << t.h2d_end
       << ", \"startComputeMs\" : " << t.compute_start << ", \"endComputeMs\" : " << t.compute_end
       << ", \"startD2hMs\" : " << t.d2h_start << ", \"endD2hMs\" : " << t.d2h_end
       << ", \"h2dMs\" : " << h << ", \"computeMs\" : " << c << ", \"d2hMs\" : " << d
       << ", \"latencyMs\" : " << h + c + d << ", \"endToEndMs\" : " << end - start << " }\n";
    sep = ", ";
  }
  os << "]\n";
  return os.str();
}

namespace {
double layer_total(const LayerProfile& l) {
  return std::accumulate(l.times_ms.begin(), l.times_ms.end(), 0.0);
}
double layer_median(const LayerProfile& l) {
  const double none[] = {0.0};
  return l.times_ms.empty() ? 0.0
                            : compute_stats(l.times_ms, std::span<const double>(none, 0)).median;
}
}  // namespace

std::string profile_json(std::span<const LayerProfile> layers, size_t runs) {
  double total = 0;
  for (const auto& l : layers) total += layer_total(l);
  std::ostringstream os;
  os.precision(9);
  os << "[\n  { \"count\" : " << runs << " }\n";
  for (const auto& l : layers) {
    // Layer names come from the model: JSON-escape them (quotes, backslashes, control bytes).
    const std::string name = nlohmann::json(l.name).dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace);
    const double t = layer_total(l);
    os << ", { \"name\" : " << name << ", \"timeMs\" : " << t
       << ", \"averageMs\" : " << (runs ? t / static_cast<double>(runs) : 0.0)
       << ", \"medianMs\" : " << layer_median(l)
       << ", \"percentage\" : " << (total > 0 ? t / total * 100.0 : 0.0) << " }\n";
  }
  os << "]\n";
  return os.str();
}

void print_profile(std::ostream& out, std::span<const LayerProfile> layers, size_t runs) {
  double total = 0, total_median = 0;
  for (const auto& l : layers) {
    total += layer_total(l);
    total_median += layer_median(l);
  }
  out << "[I] === Profile (" << runs << " iterations) ===\n";
  char line[512];
  std::snprintf(line, sizeof(line), "[I] %12s %12s %12s %9s   %s\n", "Time(ms)", "Avg.(ms)",
                "Median(ms)", "Time(%)", "Layer");
  out << line;
  const auto row = [&](double t, double med, const std::string& name) {
    std::snprintf(line, sizeof(line), "[I] %12.2f %12.4f %12.4f %9.1f   %s\n", t,
                  runs ? t / static_cast<double>(runs) : 0.0, med,
                  total > 0 ? t / total * 100.0 : 0.0, name.c_str());
    out << line;
  };
  for (const auto& l : layers) row(layer_total(l), layer_median(l), l.name);
  row(total, total_median, "Total");
}

}  // namespace rtx::cli
