// SPDX-License-Identifier: Apache-2.0
// gemm_bench: rtx's GEMM kernels against cuBLASLt on the GPU in use, in one run. For M = N = K in
// {1024, 2048, 4096, 8192} and f16, bf16 (f32 accumulation) and tf32 (f32 data): both libraries
// compute the same row-major MatMul D = A B; rtx's result is checked against cuBLASLt's
// (relative error, printed) before timing. Timing: CUDA events around CUDA-graph replays of a
// chain of launches (so host launch overhead stays out), warm-up first, the median of >= 20
// samples, inputs rotated over several buffer sets larger than L2 together. Prints one table row
// per (size, dtype): TFLOP/s of each and the ratio rtx / cuBLASLt. On sm_90 it also times rtx's
// portable mma.sync kernel next to the wgmma one.
//
// Usage: gemm_bench [--sizes 1024,4096] [--dtypes f16,bf16,tf32] [--reps 25] [--mma-only 1]
//                   [--dump DIR] [--sweep 1]
// --mma-only 1 times only the portable mma.sync kernels; --dump writes each kernel's cubin to DIR
// (for cuobjdump -sass); --sweep 1 adds rows for alternative tiles (sm_90: mma.sync f16 and tf32
// at 4096^3, wgmma widths at 1024^3 and 2048^3) to guide the planner. Built without cuBLASLt (not
// found at configure time) it times rtx alone.
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
#include "jit/kernels/gemm.hpp"
#include "jit/module.hpp"
#include "jit/thread_pool.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/numeric.hpp"

#if defined(RTX_HAVE_CUBLASLT)
#include <cublasLt.h>
#endif

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;
using namespace rtx::bench;

namespace {

struct Variant {
  std::string name;  // "f16", "bf16", "tf32", "f16 mma.sync"
  DataType dtype;
  bool force_mma;
};

/// Random values in [-1, 1) stored as `dtype` (bit patterns for 16-bit types).
std::vector<uint8_t> random_bytes(DataType dtype, size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const size_t e = dtype == DataType::kF32 ? 4 : 2;
  std::vector<uint8_t> out(count * e);
  for (size_t i = 0; i < count; ++i) {
    const float f = u(rng);
    if (dtype == DataType::kF32) {
      std::memcpy(out.data() + 4 * i, &f, 4);
    } else {
      const uint16_t bits =
          dtype == DataType::kF16 ? numeric::f16_from_double(f) : numeric::bf16_from_double(f);
      std::memcpy(out.data() + 2 * i, &bits, 2);
    }
  }
  return out;
}

double to_double(DataType dtype, const uint8_t* p) {
  if (dtype == DataType::kF32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return dtype == DataType::kF16 ? numeric::f16_to_double(bits) : numeric::bf16_to_double(bits);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {1024, 2048, 4096, 8192};
  std::vector<std::string> dtypes = {"f16", "bf16", "tf32"};
  int reps = 25;
  bool mma_only = false;
  bool sweep = false;
  std::string dump_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--sizes") {
      sizes = parse_list(argv[i + 1]);
    } else if (a == "--dtypes") {
      dtypes = split(argv[i + 1]);
    } else if (a == "--reps") {
      reps = std::max(20, std::atoi(argv[i + 1]));
    } else if (a == "--mma-only") {
      mma_only = std::atoi(argv[i + 1]) != 0;
    } else if (a == "--sweep") {
      sweep = std::atoi(argv[i + 1]) != 0;
    } else if (a == "--dump") {
      dump_dir = argv[i + 1];
    } else {
      std::fprintf(stderr,
                   "usage: gemm_bench [--sizes a,b] [--dtypes f16,bf16,tf32] [--reps n] "
                   "[--mma-only 0|1] [--dump dir] [--sweep 0|1]\n");
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
              info->multiprocessors, prop.l2CacheSize >> 20, info->driver_version,
              info->runtime_version);

  std::vector<Variant> variants;
  for (const auto& d : dtypes) {
    if (d == "f16") variants.push_back({"f16", DataType::kF16, false});
    if (d == "bf16") variants.push_back({"bf16", DataType::kBF16, false});
    if (d == "tf32") variants.push_back({"tf32", DataType::kF32, false});
  }
  if (sm == 90 && !mma_only) {
    for (const auto& d : dtypes) {
      if (d == "f16") variants.push_back({"f16 mma.sync", DataType::kF16, true});
    }
  }

  // Compile every kernel the table needs up front, in parallel worker processes.
  KernelCache cache{std::filesystem::path{}};
  struct Job {
    int64_t size;
    Variant v;
    GemmProblem problem;
    GemmSpec spec;
    std::optional<Module> module;
    std::optional<Kernel> kernel;
  };
  std::vector<Job> jobs;
  for (const auto& v : variants) {
    for (int64_t s : sizes) {
      Job j{s,
            v,
            matmul_problem(std::vector<int64_t>{s, s}, std::vector<int64_t>{s, s}),
            {},
            std::nullopt,
            std::nullopt};
      GemmPlanOptions po;
      po.sm = sm;
      po.arch_specific = sm == 90 && !v.force_mma && !mma_only;
      po.multiprocessors = info->multiprocessors;
      j.spec = choose_gemm_spec(v.dtype, j.problem, po);
      jobs.push_back(std::move(j));
    }
  }
  if (sweep && sm == 90) {
    // Alternative tiles: same problems, explicit specs (each verified against cuBLASLt too).
    const auto add = [&](const char* name, DataType dt, int64_t size, GemmAlgorithm algo,
                         GemmTile tile) {
      Job j{size,
            Variant{name, dt, true},
            matmul_problem(std::vector<int64_t>{size, size}, std::vector<int64_t>{size, size}),
            {},
            std::nullopt,
            std::nullopt};
      GemmPlanOptions po;
      po.sm = sm;
      po.arch_specific = algo == GemmAlgorithm::kWgmma;
      j.spec = choose_gemm_spec(dt, j.problem, po);
      j.spec.algorithm = algo;
      j.spec.tile = tile;
      if (!can_implement(j.spec, j.problem)) return;
      jobs.push_back(std::move(j));
    };
    using G = GemmAlgorithm;
    add("f16 sweep", DataType::kF16, 4096, G::kMmaSync, {128, 256, 64, 4, 2, 4});
    add("f16 sweep", DataType::kF16, 4096, G::kMmaSync, {256, 128, 64, 3, 4, 2});
    add("f16 sweep", DataType::kF16, 4096, G::kMmaSync, {128, 128, 64, 5, 2, 4});
    add("f16 sweep", DataType::kF16, 4096, G::kMmaSync, {128, 128, 64, 3, 2, 2});
    add("tf32 sweep", DataType::kF32, 4096, G::kMmaSync, {128, 128, 32, 4, 2, 4});
    add("tf32 sweep", DataType::kF32, 4096, G::kMmaSync, {256, 128, 32, 3, 4, 2});
    add("tf32 sweep", DataType::kF32, 4096, G::kMmaSync, {128, 256, 32, 4, 2, 4});
    add("tf32 sweep", DataType::kF32, 4096, G::kMmaSync, {128, 128, 32, 3, 2, 2});
    add("f16 sweep", DataType::kF16, 1024, G::kWgmma, {128, 128, 64, 6, 1, 1});
    add("f16 sweep", DataType::kF16, 1024, G::kWgmma, {128, 64, 64, 6, 1, 1});
    add("f16 sweep", DataType::kF16, 2048, G::kWgmma, {128, 128, 64, 6, 1, 1});
    add("f16 sweep", DataType::kF16, 4096, G::kWgmma, {128, 256, 64, 3, 1, 1});
  }
  {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::optional<Expected<std::vector<CompiledImage>>>> images(jobs.size());
    ThreadPool pool;
    pool.parallel_for(jobs.size(), [&](size_t i) {
      const Target t = jobs[i].spec.algorithm == GemmAlgorithm::kWgmma ? Target{90, true, false}
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
      auto k = m->kernel(*(*r)[0].lowered_name(jobs[i].spec.name_expression()));
      if (!k) {
        std::fprintf(stderr, "lookup failed: %s\n", k.error().to_string().c_str());
        return 1;
      }
      jobs[i].kernel = *k;
      jobs[i].module.emplace(std::move(*m));
      if (!dump_dir.empty()) {
        const std::string path =
            dump_dir + "/gemm_" + std::to_string(i) + "_" + (*r)[0].target.to_string() + ".cubin";
        if (FILE* f = std::fopen(path.c_str(), "wb")) {
          std::fwrite((*r)[0].image.data(), 1, (*r)[0].image.size(), f);
          std::fclose(f);
          std::printf("  %s: %s\n", path.c_str(), jobs[i].spec.describe().c_str());
        }
      }
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

  struct Row {
    int64_t size;
    std::string dtype;
    double rtx_tflops, lt_tflops, rel_err;
    std::string kernel;
  };
  std::vector<Row> rows;
  for (auto& job : jobs) {
    const int64_t n = job.size;
    const DataType dt = job.v.dtype;
    const size_t e = dt == DataType::kF32 ? 4 : 2;
    const size_t mat_bytes = static_cast<size_t>(n * n) * e;
    // Enough (A, B) sets that one pass over them is at least 3x L2.
    const size_t l2 = static_cast<size_t>(std::max(prop.l2CacheSize, 1 << 20));
    const int sets = static_cast<int>(std::clamp<size_t>((3 * l2) / (2 * mat_bytes) + 1, 2, 16));
    std::vector<void*> a(static_cast<size_t>(sets)), b(static_cast<size_t>(sets));
    void* d_rtx = nullptr;
    void* d_lt = nullptr;
    {
      const auto ha = random_bytes(dt, static_cast<size_t>(n * n), 1 + static_cast<uint64_t>(n));
      const auto hb = random_bytes(dt, static_cast<size_t>(n * n), 2 + static_cast<uint64_t>(n));
      for (int s = 0; s < sets; ++s) {
        CHECK_CUDA(cudaMalloc(&a[static_cast<size_t>(s)], mat_bytes));
        CHECK_CUDA(cudaMalloc(&b[static_cast<size_t>(s)], mat_bytes));
        CHECK_CUDA(
            cudaMemcpy(a[static_cast<size_t>(s)], ha.data(), mat_bytes, cudaMemcpyHostToDevice));
        CHECK_CUDA(
            cudaMemcpy(b[static_cast<size_t>(s)], hb.data(), mat_bytes, cudaMemcpyHostToDevice));
      }
      CHECK_CUDA(cudaMalloc(&d_rtx, mat_bytes));
      CHECK_CUDA(cudaMalloc(&d_lt, mat_bytes));
    }
    const auto rtx_launch = [&](int i) {
      const size_t s = static_cast<size_t>(i % sets);
      GemmBuffers buf{a[s], b[s], d_rtx, nullptr, nullptr, nullptr};
      auto ok = run(job.spec, *job.kernel, job.problem, buf, stream);
      if (!ok) {
        std::fprintf(stderr, "rtx launch failed: %s\n", ok.error().to_string().c_str());
        std::exit(1);
      }
    };
    CHECK_CUDA(cudaMemsetAsync(d_rtx, 0xFF, mat_bytes, stream));
    rtx_launch(0);
    CHECK_CUDA(cudaGetLastError());
    CHECK_CUDA(cudaStreamSynchronize(stream));

    double lt_ms = 0, err = -1;
#if defined(RTX_HAVE_CUBLASLT)
    // Row-major D (n x n) = A B is column-major D^T = B^T A^T: cuBLASLt's A is our B.
    const cudaDataType_t ct = dt == DataType::kF16    ? CUDA_R_16F
                              : dt == DataType::kBF16 ? CUDA_R_16BF
                                                      : CUDA_R_32F;
    const cublasComputeType_t compute =
        dt == DataType::kF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    cublasLtMatmulDesc_t op;
    CHECK_LT(cublasLtMatmulDescCreate(&op, compute, CUDA_R_32F));
    cublasLtMatrixLayout_t la, lb, lc;
    CHECK_LT(
        cublasLtMatrixLayoutCreate(&la, ct, static_cast<uint64_t>(n), static_cast<uint64_t>(n), n));
    CHECK_LT(
        cublasLtMatrixLayoutCreate(&lb, ct, static_cast<uint64_t>(n), static_cast<uint64_t>(n), n));
    CHECK_LT(
        cublasLtMatrixLayoutCreate(&lc, ct, static_cast<uint64_t>(n), static_cast<uint64_t>(n), n));
    cublasLtMatmulPreference_t pref;
    CHECK_LT(cublasLtMatmulPreferenceCreate(&pref));
    CHECK_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                  &workspace_bytes, sizeof(workspace_bytes)));
    cublasLtMatmulHeuristicResult_t heuristic{};
    int found = 0;
    CHECK_LT(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, 1, &heuristic, &found));
    if (found == 0) {
      std::fprintf(stderr, "cuBLASLt found no algorithm\n");
      return 1;
    }
    const float alpha = 1.0f, beta = 0.0f;
    const auto lt_launch = [&](int i) {
      const size_t s = static_cast<size_t>(i % sets);
      CHECK_LT(cublasLtMatmul(lt, op, &alpha, b[s], la, a[s], lb, &beta, d_lt, lc, d_lt, lc,
                              &heuristic.algo, workspace, workspace_bytes, stream));
    };
    lt_launch(0);
    CHECK_CUDA(cudaStreamSynchronize(stream));
    {
      std::vector<uint8_t> hr(mat_bytes), hl(mat_bytes);
      CHECK_CUDA(cudaMemcpy(hr.data(), d_rtx, mat_bytes, cudaMemcpyDeviceToHost));
      CHECK_CUDA(cudaMemcpy(hl.data(), d_lt, mat_bytes, cudaMemcpyDeviceToHost));
      double num = 0, den = 0;
      bool finite = true;
      for (size_t i = 0; i < static_cast<size_t>(n * n); ++i) {
        const double x = to_double(dt, hr.data() + i * e), y = to_double(dt, hl.data() + i * e);
        if (!std::isfinite(x)) finite = false;
        num += (x - y) * (x - y);
        den += y * y;
      }
      err = finite ? std::sqrt(num / std::max(den, 1e-300)) : INFINITY;
    }
#endif
    const double flops = 2.0 * static_cast<double>(n) * n * n;
    const double est_ms = flops / 400e12 * 1e3;
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
    rows.push_back({n, job.v.name, flops / (rtx_ms * 1e-3) / 1e12,
                    lt_ms > 0 ? flops / (lt_ms * 1e-3) / 1e12 : 0.0, err, job.spec.describe()});
    std::printf("  %5lld %-13s rtx %7.1f TFLOP/s  cuBLASLt %7.1f TFLOP/s  rel.err %.2e  [%s]\n",
                static_cast<long long>(n), job.v.name.c_str(), rows.back().rtx_tflops,
                rows.back().lt_tflops, err, job.spec.describe().c_str());
    std::fflush(stdout);
    for (int s = 0; s < sets; ++s) {
      CHECK_CUDA(cudaFree(a[static_cast<size_t>(s)]));
      CHECK_CUDA(cudaFree(b[static_cast<size_t>(s)]));
    }
    CHECK_CUDA(cudaFree(d_rtx));
    CHECK_CUDA(cudaFree(d_lt));
  }

  std::printf(
      "\n| size | dtype | rtx TFLOP/s | cuBLASLt TFLOP/s | ratio | rel. error vs cuBLASLt | rtx "
      "kernel "
      "|\n");
  std::printf("|---:|---|---:|---:|---:|---:|---|\n");
  for (const auto& r : rows) {
    std::printf("| %lld | %s | %.1f | %.1f | %.2f | %.1e | %s |\n", static_cast<long long>(r.size),
                r.dtype.c_str(), r.rtx_tflops, r.lt_tflops,
                r.lt_tflops > 0 ? r.rtx_tflops / r.lt_tflops : 0.0, r.rel_err, r.kernel.c_str());
  }
#if defined(RTX_HAVE_CUBLASLT)
  CHECK_CUDA(cudaFree(workspace));
  CHECK_LT(cublasLtDestroy(lt));
#endif
  CHECK_CUDA(cudaStreamDestroy(stream));
  return 0;
}
