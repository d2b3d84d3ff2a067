// SPDX-License-Identifier: Apache-2.0
// Benchmark statistics and the trtexec-style report on synthetic timelines (hand-computed
// values), the JSON of --exportTimes / --exportProfile, --check's comparison, and the build
// progress display in both of its forms.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tools/rtx/check.hpp"
#include "tools/rtx/progress.hpp"
#include "tools/rtx/report.hpp"

using namespace rtx;
using namespace rtx::cli;

namespace {

// Back-to-back inferences with the given compute times (ms), each enqueued `enqueue` ms long,
// with optional copies of `h2d` / `d2h` ms around it.
std::vector<InferenceTrace> timeline(const std::vector<double>& compute, double enqueue,
                                     double h2d = 0, double d2h = 0) {
  std::vector<InferenceTrace> out;
  double t = 0;
  for (double c : compute) {
    InferenceTrace x;
    x.enq_start = t;
    x.enq_end = t + enqueue;
    x.h2d_start = t;
    x.h2d_end = t + h2d;
    x.compute_start = x.h2d_end;
    x.compute_end = x.compute_start + c;
    x.d2h_start = x.compute_end;
    x.d2h_end = x.compute_end + d2h;
    t = x.d2h_end;
    out.push_back(x);
  }
  return out;
}

}  // namespace

TEST_CASE("statistics follow trtexec's definitions") {
  const double p[] = {0, 50, 90, 99, 100};
  const Stats s = compute_stats({10, 1, 9, 2, 8, 3, 7, 4, 6, 5}, p);
  CHECK(s.min == 1);
  CHECK(s.max == 10);
  CHECK(s.mean == doctest::Approx(5.5));
  CHECK(s.median == doctest::Approx(5.5));  // mean of the two middle values
  // index = max(n - 1 - floor((1 - p/100) n), 0): p0 -> 0, p50 -> 4, p90 -> 8, p99 -> 9, p100 -> 9
  REQUIRE(s.percentiles.size() == 5);
  CHECK(s.percentiles[0].second == 1);
  CHECK(s.percentiles[1].second == 5);
  CHECK(s.percentiles[2].second == 9);
  CHECK(s.percentiles[3].second == 10);
  CHECK(s.percentiles[4].second == 10);
  // population standard deviation sqrt(8.25) over the mean 5.5
  CHECK(s.coefficient_of_variation == doctest::Approx(std::sqrt(8.25) / 5.5 * 100));
  const Stats odd = compute_stats({3, 1, 2}, p);
  CHECK(odd.median == 2);
  const Stats none = compute_stats({}, p);
  CHECK(none.median == 0);
  CHECK(none.percentiles.size() == 5);
}

TEST_CASE("throughput, latency and no warnings for a steady GPU-bound run") {
  const double p[] = {90, 95, 99};
  const auto trace = timeline({1, 1, 1, 1}, 0.1);
  const auto r = summarize_performance(trace, p, RunSettings{});
  CHECK(r.iterations == 4);
  CHECK(r.total_host_walltime_ms == doctest::Approx(4.0));
  CHECK(r.throughput_qps == doctest::Approx(1000.0));
  CHECK(r.latency.median == doctest::Approx(1.0));
  CHECK(r.compute.mean == doctest::Approx(1.0));
  CHECK(r.enqueue.max == doctest::Approx(0.1));
  CHECK(r.h2d.max == 0);
  CHECK(r.total_gpu_compute_ms == doctest::Approx(4.0));
  CHECK(r.warnings.empty());
  std::ostringstream os;
  print_performance(os, r);
  const std::string text = os.str();
  CHECK(text.find("[I] === Performance summary ===") != std::string::npos);
  CHECK(text.find("[I] Throughput: 1000 qps") != std::string::npos);
  CHECK(text.find("[I] Latency: min = 1 ms, max = 1 ms, mean = 1 ms, median = 1 ms, "
                  "percentile(90%) = 1 ms, "
                  "percentile(95%) = 1 ms, percentile(99%) = 1 ms") != std::string::npos);
  for (const char* line : {"Enqueue Time: min = 0.1 ms", "H2D Latency: min = 0 ms",
                           "GPU Compute Time: min = 1 ms", "D2H Latency: min = 0 ms",
                           "Total Host Walltime: 0.004 s", "Total GPU Compute Time: 0.004 s"}) {
    INFO(line);
    CHECK(text.find(line) != std::string::npos);
  }
  CHECK(text.find("[W]") == std::string::npos);
}

TEST_CASE("latency adds the copies; transfer-bound and enqueue-bound warnings") {
  const double p[] = {50};
  RunSettings transfers;
  transfers.data_transfers = true;
  auto r = summarize_performance(timeline({1, 1}, 0.1, 2.0, 0.5), p, transfers);
  CHECK(r.latency.median == doctest::Approx(3.5));
  CHECK(r.h2d.median == doctest::Approx(2.0));
  CHECK(r.d2h.median == doctest::Approx(0.5));
  CHECK(r.throughput_qps == doctest::Approx(2 / 7.0 * 1000));
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].find("host-to-device") != std::string::npos);
  r = summarize_performance(timeline({1, 1}, 0.1, 0.2, 1.5), p, transfers);
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].find("device-to-host") != std::string::npos);
  // Without timed copies, the copy intervals are empty and never warn.
  r = summarize_performance(timeline({1, 1}, 0.9), p, RunSettings{});
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].find("Enqueue Time") != std::string::npos);
  r = summarize_performance(timeline({1, 1}, 0.79), p, RunSettings{});
  CHECK(r.warnings.empty());
}

TEST_CASE("the stability warning fires above a 2.5% coefficient of variation") {
  const double p[] = {50};
  auto r = summarize_performance(timeline({1, 1.1, 0.9, 1}, 0.01), p, RunSettings{});
  CHECK(r.compute.coefficient_of_variation == doctest::Approx(std::sqrt(0.005) * 100));  // 7.07%
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].find("coefficient of variation = 7.07") != std::string::npos);
  r = summarize_performance(timeline({1, 1.01, 0.99, 1}, 0.01), p, RunSettings{});
  CHECK(r.compute.coefficient_of_variation == doctest::Approx(std::sqrt(0.00005) * 100));  // 0.71%
  CHECK(r.warnings.empty());
}

TEST_CASE("--exportTimes and --exportProfile JSON") {
  const auto trace = timeline({1, 2}, 0.25, 0.5, 0.125);
  const auto times = nlohmann::json::parse(times_json(trace));
  REQUIRE(times.size() == 2);
  CHECK(times[1]["startEnqMs"].get<double>() == doctest::Approx(1.625));
  CHECK(times[1]["h2dMs"].get<double>() == doctest::Approx(0.5));
  CHECK(times[1]["computeMs"].get<double>() == doctest::Approx(2.0));
  CHECK(times[1]["d2hMs"].get<double>() == doctest::Approx(0.125));
  CHECK(times[1]["latencyMs"].get<double>() == doctest::Approx(2.625));
  CHECK(times[1]["endToEndMs"].get<double>() == doctest::Approx(2.625));
  for (const char* key : {"endEnqMs", "startH2dMs", "endH2dMs", "startComputeMs", "endComputeMs",
                          "startD2hMs", "endD2hMs"}) {
    CHECK(times[0].contains(key));
  }
  const std::vector<LayerProfile> layers = {{"gemm_1", {1.0, 3.0, 2.0}},
                                            {"relu \"2\"", {1.0, 1.0, 1.0}}};
  const auto prof = nlohmann::json::parse(profile_json(layers, 3));
  REQUIRE(prof.size() == 3);
  CHECK(prof[0]["count"] == 3);
  CHECK(prof[1]["name"] == "gemm_1");
  CHECK(prof[1]["timeMs"].get<double>() == doctest::Approx(6.0));
  CHECK(prof[1]["averageMs"].get<double>() == doctest::Approx(2.0));
  CHECK(prof[1]["medianMs"].get<double>() == doctest::Approx(2.0));
  CHECK(prof[1]["percentage"].get<double>() == doctest::Approx(66.6666667));
  CHECK(prof[2]["name"] == "relu \"2\"");
  std::ostringstream os;
  print_profile(os, layers, 3);
  CHECK(os.str().find("=== Profile (3 iterations) ===") != std::string::npos);
  CHECK(os.str().find("9.00       3.0000       3.0000     100.0   Total") != std::string::npos);
}

TEST_CASE("--check comparisons") {
  const auto f32 = [](std::vector<double> v) {
    return HostTensor::from_doubles(DataType::kF32, {static_cast<int64_t>(v.size())}, v);
  };
  auto c = compare_outputs(f32({1, 2, 3, 4}), f32({1, 2, 3, 4}));
  CHECK(c.pass);
  CHECK(c.max_abs_error == 0);
  CHECK(c.tolerance == 1e-3);
  // One element off by 0.01: rel L2 = 0.01 / sqrt(30).
  c = compare_outputs(f32({1, 2, 3.01, 4}), f32({1, 2, 3, 4}));
  CHECK(c.rel_l2_error == doctest::Approx(0.01 / std::sqrt(30.0)).epsilon(1e-4));
  CHECK(c.max_abs_error == doctest::Approx(0.01).epsilon(1e-4));
  CHECK(c.max_rel_error == doctest::Approx(0.01 / 3).epsilon(1e-4));
  CHECK(c.worst_index == 2);
  CHECK_FALSE(c.pass);
  CHECK(c.reason.find("exceeds") != std::string::npos);
  CHECK(compare_outputs(f32({1, 2, 3.01, 4}), f32({1, 2, 3, 4}), 1e-2).pass);
  // Near-zero references do not blow up the elementwise relative error (floor 1e-3 * max |ref|).
  c = compare_outputs(f32({1e-9, 100}), f32({0, 100}));
  CHECK(c.max_rel_error == doctest::Approx(1e-9 / 0.1));
  // NaN where the reference is finite fails; matching NaN and infinities pass.
  c = compare_outputs(f32({NAN, 1}), f32({0, 1}));
  CHECK_FALSE(c.pass);
  CHECK(c.nonfinite_mismatches == 1);
  CHECK(compare_outputs(f32({NAN, INFINITY, 1}), f32({NAN, INFINITY, 1})).pass);
  CHECK_FALSE(compare_outputs(f32({-INFINITY, 1}), f32({INFINITY, 1})).pass);
  // Shapes and dtypes must agree; integers must match exactly.
  CHECK(compare_outputs(f32({1, 2}), f32({1, 2, 3})).reason.find("shape") != std::string::npos);
  const auto i32 = HostTensor::from_doubles(DataType::kINT32, {2}, std::vector<double>{1, 2});
  CHECK(compare_outputs(f32({1, 2}), i32).reason.find("dtype") != std::string::npos);
  CHECK_FALSE(compare_outputs(
                  HostTensor::from_doubles(DataType::kINT32, {2}, std::vector<double>{1, 3}), i32)
                  .pass);
  CHECK(compare_outputs(i32, i32).pass);
  CHECK(default_check_tolerance(DataType::kF16) == 1e-2);
  CHECK(default_check_tolerance(DataType::kBOOL) == 0);
  CHECK(describe(compare_outputs(f32({1}), f32({1}))).find("PASS") != std::string::npos);
}

TEST_CASE("progress: plain lines in a log, one live line on a terminal") {
  std::ostringstream log;
  {
    ProgressDisplay p(log, false, false);
    p.update({"passes", 0, 0, 0, 0, {}});
    p.update({"planning", 0, 0, 0, 0, {}});
    p.update({"compiling", 0, 3, 12, 0, {}});
    p.update({"compiling", 1, 3, 12, 1, "sm_80 from the cache"});
    p.update({"compiling", 1, 3, 12, 1, {}});  // no news: no line
    p.update({"compiling", 3, 3, 12, 1, {}});
    p.update({"done", 1, 1, 0, 0, {}});
  }
  CHECK(log.str() ==
        "[I] Building: passes\n"
        "[I] Building: planning\n"
        "[I] Building: compiling 0/3 images, 12 kernels each, 0 cache hits\n"
        "[I] Building: compiling 1/3 images, 12 kernels each, 1 cache hit (sm_80 from the cache)\n"
        "[I] Building: compiling 3/3 images, 12 kernels each, 1 cache hit\n"
        "[I] Building: done\n");
  std::ostringstream tty;
  {
    ProgressDisplay p(tty, true, false);
    p.update({"compiling", 0, 2, 5, 0, {}});
    p.update({"writing", 0, 0, 0, 0, {}});
  }
  const std::string t = tty.str();
  CHECK(t.find('\r') != std::string::npos);
  CHECK(t.find("\r[I] Building: writing") != std::string::npos);
  CHECK(t.back() == '\n');  // finish() ends the live line
  CHECK(std::count(t.begin(), t.end(), '\n') == 1);
}
