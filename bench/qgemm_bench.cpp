// SPDX-License-Identifier: Apache-2.0
// qgemm_bench: rtx's quantized GEMM kernels against cuBLASLt on the GPU in use, in one run.
// Both libraries compute the same row-major product D(M, N) = A(M, K) B(N, K)^T with both 8-bit
// operands stored K-major (the "TN" layout cuBLASLt's IMMA and FP8 kernels require):
//   int8: A, B int8, s32 accumulation, output requantized to int8 with one f32 factor
//         (rtx: a_scale * b_scale / y_scale, QuantizeLinear rounding; cuBLASLt: alpha);
//   fp8:  A, B e4m3, f32 accumulation, output f16 (rtx: scales 1, mid f16; cuBLASLt: f16 D).
// Before timing, rtx's output is checked against cuBLASLt's (int8: elements that differ and the
// largest difference; fp8: relative error). Timing: CUDA events around CUDA-graph replays of a
// chain of launches, warm-up first, the median of >= 20 samples, inputs rotated over several
// buffer sets larger than L2 together, random data (never zeros). One table row per (size, kind):
// TOP/s of each and the ratio rtx / cuBLASLt. On sm_90 the portable mma.sync kernels are timed
// next to the wgmma ones (sm_90a).
//
// Usage: qgemm_bench [--sizes 4096] [--kinds int8,fp8] [--reps 25] [--mma-only 0|1]
// Built without cuBLASLt (not found at configure time) it times rtx alone.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
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
#include "jit/cache.hpp"
#include "jit/compiler.hpp"
#include "jit/device.hpp"
#include "jit/kernels/qgemm.hpp"
#include "jit/module.hpp"
#include "jit/thread_pool.hpp"
#include "rtx/numeric.hpp"

#if defined(RTX_HAVE_CUBLASLT)
#include <cublasLt.h>
#endif

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;
using namespace rtx::bench;

namespace {

/// Random 8-bit codes: int8 uniform over [-128, 127]; e4m3 values uniform in [-2, 2) rounded.
std::vector<uint8_t> random_codes(bool fp8, size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(count);
  if (fp8) {
    std::uniform_real_distribution<double> u(-2.0, 2.0);
    for (auto& c : out) c = numeric::fp8e4m3_from_double(u(rng));
  } else {
    std::uniform_int_distribution<int> u(-128, 127);
    for (auto& c : out) c = static_cast<uint8_t>(static_cast<int8_t>(u(rng)));
  }
  return out;
}

/// A device scalar.
void* device_f32(float v) {
  void* p = nullptr;
  CHECK_CUDA(cudaMalloc(&p, 4));
  CHECK_CUDA(cudaMemcpy(p, &v, 4, cudaMemcpyHostToDevice));
  return p;
}

struct Job {
  int64_t size;
  std::string kind;  // "int8", "fp8" (+ " mma.sync")
  bool fp8;
  QGemmSpec spec;
  QGemmProblem problem;
  std::optional<Module> module;
  std::optional<Kernel> kernel;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {4096};
  std::vector<std::string> kinds = {"int8", "fp8"};
  int reps = 25;
  bool mma_only = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--sizes") {
      sizes.clear();
      for (const auto& s : split(argv[i + 1])) sizes.push_back(std::stoll(s));
    } else if (a == "--kinds") {
      kinds = split(argv[i + 1]);
    } else if (a == "--reps") {
      reps = std::max(20, std::atoi(argv[i + 1]));
    } else if (a == "--mma-only") {
      mma_only = std::atoi(argv[i + 1]) != 0;
    } else {
      std::fprintf(stderr, "usage: qgemm_bench [--sizes a,b] [--kinds int8,fp8] [--reps n] [--mma-only 0|1]\n");
      return 2;
    }
  }
  auto info = device_info(0);
  if (!info) {
    std::printf("SKIP: no usable GPU (%s)\n", info.error().to_string().c_str());
    return 77;
  }
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  const int sm = info->sm();
  std::printf("GPU: %s, sm_%d, %d SMs, L2 %d MiB, driver %d, runtime %d\n", info->name.c_str(), sm,
              info->multiprocessors, prop.l2CacheSize >> 20, info->driver_version, info->runtime_version);

  // Kernels: the planner's choice for this GPU (wgmma on sm_90), and mma.sync next to it there.
  std::vector<Job> jobs;
  for (const auto& k : kinds) {
    const bool fp8 = k == "fp8";
    if (!fp8 && k != "int8") continue;
    if (fp8 && sm < 89) {
      std::printf("fp8 needs sm_89 or newer: skipped on sm_%d\n", sm);
      continue;
    }
    for (int64_t n : sizes) {
      QGemmSpec base;
      base.a = base.b = fp8 ? DataType::kFP8E4M3 : DataType::kINT8;
      base.scale = DataType::kF32;
      base.mid = fp8 ? DataType::kF16 : DataType::kF32;
      base.output = fp8 ? DataType::kF16 : DataType::kINT8;
      base.epilogue.quantize = !fp8;
      base.b_k_major = true;
      base.b_scale = QScaleMode::kPerTensor;
      auto problem = qgemm_problem(base, std::vector<int64_t>{n, n}, std::vector<int64_t>{n, n},
                                   std::vector<int64_t>{});
      if (!problem) {
        std::fprintf(stderr, "%s\n", problem.error().to_string().c_str());
        return 1;
      }
      for (bool arch : {true, false}) {
        if (arch && (sm != 90 || mma_only)) continue;
        QGemmPlanOptions po{sm, arch, info->multiprocessors};
        auto spec = choose_qgemm_spec(base, *problem, po);
        if (!spec) {
          std::fprintf(stderr, "no %s kernel for %lld^3\n", k.c_str(), static_cast<long long>(n));
          return 1;
        }
        const bool mma = spec->algorithm == QGemmAlgorithm::kMmaSync;
        jobs.push_back(Job{n, k + (mma && sm == 90 && !mma_only ? " mma.sync" : ""), fp8, *spec,
                           *problem, std::nullopt, std::nullopt});
      }
    }
  }

  KernelCache cache{std::filesystem::path{}};
  {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::optional<Expected<std::vector<CompiledImage>>>> images(jobs.size());
    ThreadPool pool;
    pool.parallel_for(jobs.size(), [&](size_t i) {
      const Target t = jobs[i].spec.algorithm == QGemmAlgorithm::kWgmma ? Target{90, true, false}
                                                                        : Target{sm, false, false};
      CompileOptions o;
      o.cache = &cache;
      o.isolation = Isolation::kSubprocess;
      images[i].emplace(compile(jobs[i].spec.program(), std::span<const Target>(&t, 1), o));
    });
    for (size_t i = 0; i < jobs.size(); ++i) {
      auto& r = *images[i];
      if (!r) {
        std::fprintf(stderr, "compile failed: %s\n", r.error().to_string().c_str());
        return 1;
      }
      auto m = Module::load((*r)[0]);
      if (!m) {
        std::fprintf(stderr, "load failed: %s\n", m.error().to_string().c_str());
        return 1;
      }
      auto kernel = m->kernel(*(*r)[0].lowered_name(jobs[i].spec.name_expression()));
      if (!kernel) {
        std::fprintf(stderr, "lookup failed: %s\n", kernel.error().to_string().c_str());
        return 1;
      }
      jobs[i].kernel = *kernel;
      jobs[i].module.emplace(std::move(*m));
    }
    std::printf("compiled %zu kernels in %.1f s\n", jobs.size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
#if defined(RTX_HAVE_CUBLASLT)
  cublasLtHandle_t lt;
  CHECK_LT(cublasLtCreate(&lt));
  const size_t workspace_bytes = 64ull << 20;
  void* workspace = nullptr;
  CHECK_CUDA(cudaMalloc(&workspace, workspace_bytes));
#endif
  // Scales: int8 D = round(acc * 2^-6 * 2^-6 / 2^2) keeps most outputs in range; fp8 scales 1.
  const float sa = 1.0f / 64, sb = 1.0f / 64, sy = 4.0f;
  void* d_sa = device_f32(sa);
  void* d_sb = device_f32(sb);
  void* d_sy = device_f32(sy);
  void* d_one = device_f32(1.0f);

  struct Row {
    int64_t size;
    std::string kind;
    double rtx_tops, lt_tops;
    std::string check;
    std::string kernel;
  };
  std::vector<Row> rows;
  for (auto& job : jobs) {
    const int64_t n = job.size;
    const size_t mat_bytes = static_cast<size_t>(n * n);
    const size_t out_bytes = mat_bytes * (job.fp8 ? 2 : 1);
    const size_t l2 = static_cast<size_t>(std::max(prop.l2CacheSize, 1 << 20));
    const int sets = static_cast<int>(std::clamp<size_t>((3 * l2) / (2 * mat_bytes) + 1, 2, 16));
    std::vector<void*> a(static_cast<size_t>(sets)), b(static_cast<size_t>(sets));
    const auto ha = random_codes(job.fp8, mat_bytes, 11 + static_cast<uint64_t>(n));
    const auto hb = random_codes(job.fp8, mat_bytes, 12 + static_cast<uint64_t>(n));
    for (int s = 0; s < sets; ++s) {
      CHECK_CUDA(cudaMalloc(&a[static_cast<size_t>(s)], mat_bytes));
      CHECK_CUDA(cudaMalloc(&b[static_cast<size_t>(s)], mat_bytes));
      CHECK_CUDA(cudaMemcpy(a[static_cast<size_t>(s)], ha.data(), mat_bytes, cudaMemcpyHostToDevice));
      CHECK_CUDA(cudaMemcpy(b[static_cast<size_t>(s)], hb.data(), mat_bytes, cudaMemcpyHostToDevice));
    }
    void* d_rtx = nullptr;
    void* d_lt = nullptr;
    CHECK_CUDA(cudaMalloc(&d_rtx, out_bytes));
    CHECK_CUDA(cudaMalloc(&d_lt, out_bytes));
    const auto rtx_launch = [&](int i) {
      const size_t s = static_cast<size_t>(i % sets);
      QGemmBuffers buf{a[s], b[s], d_rtx, job.fp8 ? d_one : d_sa, job.fp8 ? d_one : d_sb, nullptr,
                       nullptr, job.fp8 ? nullptr : d_sy, nullptr};
      auto ok = run(job.spec, *job.kernel, job.problem, buf, stream);
      if (!ok) {
        std::fprintf(stderr, "rtx launch failed: %s\n", ok.error().to_string().c_str());
        std::exit(1);
      }
    };
    CHECK_CUDA(cudaMemsetAsync(d_rtx, 0xFF, out_bytes, stream));  // poison
    rtx_launch(0);
    CHECK_CUDA(cudaGetLastError());
    CHECK_CUDA(cudaStreamSynchronize(stream));

    double lt_ms = 0;
    std::string check = "-";
#if defined(RTX_HAVE_CUBLASLT)
    // Row-major D (n x n) = A B^T is column-major D^T = B A^T: cuBLASLt's first operand is our B
    // (stored K-major: column-major (K x N), op T), its second our A (column-major (K x M), op N).
    const cudaDataType_t in_t = job.fp8 ? CUDA_R_8F_E4M3 : CUDA_R_8I;
    const cudaDataType_t out_t = job.fp8 ? CUDA_R_16F : CUDA_R_8I;
    cublasLtMatmulDesc_t op;
    CHECK_LT(cublasLtMatmulDescCreate(&op, job.fp8 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32I, CUDA_R_32F));
    const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
    CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof(trans_a)));
    CHECK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof(trans_b)));
    cublasLtMatrixLayout_t la, lb, lc;
    const auto un = static_cast<uint64_t>(n);
    CHECK_LT(cublasLtMatrixLayoutCreate(&la, in_t, un, un, n));
    CHECK_LT(cublasLtMatrixLayoutCreate(&lb, in_t, un, un, n));
    CHECK_LT(cublasLtMatrixLayoutCreate(&lc, out_t, un, un, n));
    cublasLtMatmulPreference_t pref;
    CHECK_LT(cublasLtMatmulPreferenceCreate(&pref));
    CHECK_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                  &workspace_bytes, sizeof(workspace_bytes)));
    cublasLtMatmulHeuristicResult_t heuristic{};
    int found = 0;
    CHECK_LT(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, 1, &heuristic, &found));
    if (found == 0) {
      std::fprintf(stderr, "cuBLASLt found no %s algorithm\n", job.kind.c_str());
      return 1;
    }
    const float alpha = job.fp8 ? 1.0f : sa * sb / sy, beta = 0.0f;
    const auto lt_launch = [&](int i) {
      const size_t s = static_cast<size_t>(i % sets);
      CHECK_LT(cublasLtMatmul(lt, op, &alpha, b[s], la, a[s], lb, &beta, d_lt, lc, d_lt, lc,
                              &heuristic.algo, workspace, workspace_bytes, stream));
    };
    lt_launch(0);
    CHECK_CUDA(cudaStreamSynchronize(stream));
    {
      std::vector<uint8_t> hr(out_bytes), hl(out_bytes);
      CHECK_CUDA(cudaMemcpy(hr.data(), d_rtx, out_bytes, cudaMemcpyDeviceToHost));
      CHECK_CUDA(cudaMemcpy(hl.data(), d_lt, out_bytes, cudaMemcpyDeviceToHost));
      char text[128];
      if (job.fp8) {
        double num = 0, den = 0;
        bool finite = true;
        for (size_t i = 0; i < mat_bytes; ++i) {
          uint16_t xr, xl;
          std::memcpy(&xr, hr.data() + 2 * i, 2);
          std::memcpy(&xl, hl.data() + 2 * i, 2);
          const double x = numeric::f16_to_double(xr), y = numeric::f16_to_double(xl);
          finite = finite && std::isfinite(x);
          num += (x - y) * (x - y);
          den += y * y;
        }
        std::snprintf(text, sizeof text, "rel.err %.1e", finite ? std::sqrt(num / std::max(den, 1e-300)) : INFINITY);
      } else {
        int64_t off = 0;
        int worst = 0;
        for (size_t i = 0; i < mat_bytes; ++i) {
          const int d = std::abs(static_cast<int>(static_cast<int8_t>(hr[i])) - static_cast<int>(static_cast<int8_t>(hl[i])));
          off += d != 0;
          worst = std::max(worst, d);
        }
        std::snprintf(text, sizeof text, "%lld differ (max %d)", static_cast<long long>(off), worst);
      }
      check = text;
    }
#endif
    const double ops = 2.0 * static_cast<double>(n) * n * n;
    const double est_ms = ops / 800e12 * 1e3;
    const int chain = static_cast<int>(std::clamp(2.0 / std::max(est_ms, 1e-3), 2.0, 64.0));
    const double rtx_ms = time_graph(stream, chain, reps, rtx_launch).median_ms;
#if defined(RTX_HAVE_CUBLASLT)
    lt_ms = time_graph(stream, chain, reps, lt_launch).median_ms;
    CHECK_LT(cublasLtMatmulPreferenceDestroy(pref));
    CHECK_LT(cublasLtMatrixLayoutDestroy(la));
    CHECK_LT(cublasLtMatrixLayoutDestroy(lb));
    CHECK_LT(cublasLtMatrixLayoutDestroy(lc));
    CHECK_LT(cublasLtMatmulDescDestroy(op));
#endif
    rows.push_back({n, job.kind, ops / (rtx_ms * 1e-3) / 1e12, lt_ms > 0 ? ops / (lt_ms * 1e-3) / 1e12 : 0.0,
                    check, job.spec.describe()});
    std::printf("  %5lld %-14s rtx %7.1f TOP/s  cuBLASLt %7.1f TOP/s  %s  [%s]\n", static_cast<long long>(n),
                job.kind.c_str(), rows.back().rtx_tops, rows.back().lt_tops, check.c_str(),
                job.spec.describe().c_str());
    std::fflush(stdout);
    for (int s = 0; s < sets; ++s) {
      CHECK_CUDA(cudaFree(a[static_cast<size_t>(s)]));
      CHECK_CUDA(cudaFree(b[static_cast<size_t>(s)]));
    }
    CHECK_CUDA(cudaFree(d_rtx));
    CHECK_CUDA(cudaFree(d_lt));
  }

  std::printf("\n| size | kind | rtx TOP/s | cuBLASLt TOP/s | ratio | rtx vs cuBLASLt | rtx kernel |\n");
  std::printf("|---:|---|---:|---:|---:|---|---|\n");
  for (const auto& r : rows) {
    std::printf("| %lld | %s | %.1f | %.1f | %.2f | %s | %s |\n", static_cast<long long>(r.size),
                r.kind.c_str(), r.rtx_tops, r.lt_tops, r.lt_tops > 0 ? r.rtx_tops / r.lt_tops : 0.0,
                r.check.c_str(), r.kernel.c_str());
  }
  for (void* p : {d_sa, d_sb, d_sy, d_one}) CHECK_CUDA(cudaFree(p));
#if defined(RTX_HAVE_CUBLASLT)
  CHECK_CUDA(cudaFree(workspace));
  CHECK_LT(cublasLtDestroy(lt));
#endif
  CHECK_CUDA(cudaStreamDestroy(stream));
  return 0;
}
