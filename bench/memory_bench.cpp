// SPDX-License-Identifier: Apache-2.0
// memory_bench: achieved bandwidth of rtx's memory-bound kernels against the GPU's own ceiling,
// device-to-device copy (cudaMemcpy, bytes read + written), measured in the same run:
//   pointwise: bias add + GELU (x[rows, 4096] + b[4096], f16, one fused kernel),
//              residual add + GELU (x + r, same shapes, f16)
//   softmax over rows of 4096 (f16); layer norm over rows of 4096 and 8192 (f16, scale + bias);
//   RMS norm over rows of 4096 (f16); ReduceSum over rows of 4096 (f16);
//   transpose of a [rows, 4096] f16 matrix (tiled through shared memory).
// Every tensor is --mib MiB (default 256, far beyond L2, so no rotation is needed). Bytes count
// each input read once and each output written once (per-row parameters, a few KiB, are
// included). Each result is checked before timing: sampled rows (first, last and random ones)
// are compared with the reference evaluator (f16 bound 2e-3, 4e-3 for the fused chains whose
// reference rounds after every node; the transpose bit for bit at sampled positions). Timing:
// CUDA events around each launch after --warmup launches; the table shows the median of --iters.
// Inputs are uniform random (never zeros). Exit status 1 if any check fails.
//
// Usage: memory_bench [--mib 256] [--iters 30] [--warmup 5]
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "ir/graph.hpp"
#include "ir/op_registry.hpp"
#include "jit/cache.hpp"
#include "jit/compiler.hpp"
#include "jit/device.hpp"
#include "jit/kernels/movement.hpp"
#include "jit/kernels/norm.hpp"
#include "jit/kernels/pointwise.hpp"
#include "jit/kernels/reduce.hpp"
#include "rtx/numeric.hpp"

using namespace rtx;
using namespace rtx::jit;
using namespace rtx::jit::kernels;

namespace {

template <class T>
T require(Expected<T> e, const char* what) {
  if (!e) {
    std::fprintf(stderr, "%s: %s\n", what, e.error().to_string().c_str());
    std::exit(1);
  }
  return std::move(*e);
}
void require(const Expected<void>& e, const char* what) {
  if (!e) {
    std::fprintf(stderr, "%s: %s\n", what, e.error().to_string().c_str());
    std::exit(1);
  }
}

/// Device buffer (freed at exit of scope).
struct Dev {
  void* p = nullptr;
  size_t bytes = 0;
  explicit Dev(size_t n) : bytes(n) { CHECK_CUDA(cudaMalloc(&p, n ? n : 1)); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  ~Dev() { cudaFree(p); }
  void upload(const void* src, size_t n, size_t offset = 0) {
    CHECK_CUDA(cudaMemcpy(static_cast<char*>(p) + offset, src, n, cudaMemcpyHostToDevice));
  }
  void download(void* dst, size_t n, size_t offset = 0) const {
    CHECK_CUDA(cudaMemcpy(dst, static_cast<const char*>(p) + offset, n, cudaMemcpyDeviceToHost));
  }
  void poison() { CHECK_CUDA(cudaMemset(p, 0xFF, bytes)); }
};

/// Random f16 bits, uniform in [lo, hi).
std::vector<uint16_t> random_f16(size_t n, double lo, double hi, uint64_t seed) {
  std::vector<uint16_t> v(n);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  for (auto& x : v) x = numeric::f16_from_double(u(rng));
  return v;
}

HostTensor f16_tensor(std::vector<int64_t> shape, const uint16_t* bits) {
  HostTensor t(DataType::kF16, std::move(shape));
  std::memcpy(t.mutable_data(), bits, t.byte_size());
  return t;
}

double relative_error(const HostTensor& got, const HostTensor& want) {
  const auto g = got.to_doubles(), w = want.to_doubles();
  if (g.size() != w.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (!std::isfinite(g[i])) return INFINITY;
    num += (g[i] - w[i]) * (g[i] - w[i]);
    den += w[i] * w[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

ir::Node node_of(ir::OpKind op, size_t inputs, std::map<std::string, ir::AttrValue, std::less<>> attrs = {}) {
  ir::Node n;
  n.op = op;
  n.name = std::string(ir::op_name(op));
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back(static_cast<ir::ValueId>(i));
  n.outputs.push_back(static_cast<ir::ValueId>(inputs));
  n.attrs = std::move(attrs);
  return n;
}

/// Compiles and loads `program` for the GPU in use.
LoadedProgram load(const Program& program, const Target& target) {
  static KernelCache cache{std::filesystem::path{}};
  CompileOptions options;
  options.cache = &cache;
  auto images = require(compile(program, std::span<const Target>(&target, 1), options), program.name.c_str());
  return require(LoadedProgram::load(images[0]), "loading the module");
}

/// Median milliseconds of `launch` over `iters` launches after `warmup`, one event pair each.
double time_ms(const std::function<void()>& launch, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) launch();
  CHECK_CUDA(cudaDeviceSynchronize());
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    CHECK_CUDA(cudaEventRecord(start, nullptr));
    launch();
    CHECK_CUDA(cudaEventRecord(stop, nullptr));
    CHECK_CUDA(cudaEventSynchronize(stop));
    float t = 0;
    CHECK_CUDA(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  CHECK_CUDA(cudaGetLastError());
  CHECK_CUDA(cudaEventDestroy(start));
  CHECK_CUDA(cudaEventDestroy(stop));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

struct Row {
  std::string name, shape, kernel;
  double bytes = 0, ms = 0;
  double error = 0;
  bool ok = true;
};

/// Rows to verify: the first two, the last, and a few random ones.
std::vector<int64_t> sample_rows(int64_t rows) {
  std::vector<int64_t> r{0, 1, rows - 1};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5; ++i) r.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(rows)));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  double mib = 256;
  int iters = 30, warmup = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--mib") mib = std::atof(argv[i + 1]);
    else if (k == "--iters") iters = std::atoi(argv[i + 1]);
    else if (k == "--warmup") warmup = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: memory_bench [--mib 256] [--iters 30] [--warmup 5]\n");
      return 2;
    }
  }
  auto info = device_info(0);
  if (!info) {
    std::fprintf(stderr, "memory_bench: no usable GPU (%s)\n", info.error().to_string().c_str());
    return 77;  // skipped, as the other benchmarks do without a GPU
  }
  const Target target{info->sm(), false, false};
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  std::printf("memory_bench on %s (sm_%d, %d SMs), driver %d, runtime %d, %s\n", info->name.c_str(),
              info->sm(), info->multiprocessors, info->driver_version, info->runtime_version, date);

  // Every tensor holds `elements` f16 values: rows of 4096 (8192 for the wide layer norm).
  const int64_t cols = 4096;
  const int64_t rows = std::max<int64_t>(2, static_cast<int64_t>(mib * 1024 * 1024 / 2) / cols);
  const int64_t n = rows * cols;
  const size_t bytes = static_cast<size_t>(n) * 2;
  std::printf("tensors: %lld x %lld f16 = %.0f MiB; %d warm-up launches, median of %d\n",
              static_cast<long long>(rows), static_cast<long long>(cols), bytes / 1048576.0, warmup, iters);

  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<uint16_t> hx = random_f16(static_cast<size_t>(n), -4, 4, 1);
  const std::vector<uint16_t> hr = random_f16(static_cast<size_t>(n), -1, 1, 2);
  const std::vector<uint16_t> hb = random_f16(8192, -1, 1, 3), hs = random_f16(8192, 0.5, 1.5, 4);
  Dev x(bytes), r(bytes), y(bytes), b(8192 * 2), s(8192 * 2), red(static_cast<size_t>(rows) * 2);
  x.upload(hx.data(), bytes);
  r.upload(hr.data(), bytes);
  b.upload(hb.data(), 8192 * 2);
  s.upload(hs.data(), 8192 * 2);
  std::printf("inputs generated and uploaded in %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  std::vector<Row> table;
  // ---- the ceiling: device-to-device copy --------------------------------------------------------
  {
    Row row{"copy (cudaMemcpy D2D)", "256 MiB", "-", 2.0 * static_cast<double>(bytes)};
    row.ms = time_ms([&] { CHECK_CUDA(cudaMemcpyAsync(y.p, x.p, bytes, cudaMemcpyDeviceToDevice, nullptr)); },
                     warmup, iters);
    row.shape = std::to_string(bytes >> 20) + " MiB";
    table.push_back(row);
  }

  const auto sampled = sample_rows(rows);
  const auto check_rows = [&](Row& row, int64_t width, const std::function<HostTensor(const HostTensor&, const HostTensor&)>& ref,
                              const std::vector<uint16_t>* second, double bound) {
    // Reference over the sampled rows of x (and of `second` when given), against y's rows.
    for (int64_t i : sample_rows(n / width)) {
      const HostTensor xi = f16_tensor({1, width}, hx.data() + i * width);
      const HostTensor si = second ? f16_tensor({1, width}, second->data() + i * width) : HostTensor();
      const HostTensor want = ref(xi, si);
      HostTensor got(want.dtype(), want.shape());
      y.download(got.mutable_data(), got.byte_size(), static_cast<size_t>(i * width) * 2);
      row.error = std::max(row.error, relative_error(got, want));
    }
    row.ok = row.error <= bound;
  };
  const HostTensor bias = f16_tensor({cols}, hb.data());

  // ---- pointwise: bias add + GELU; residual add + GELU ----------------------------------------
  for (bool residual : {false, true}) {
    ir::Graph g;
    const auto gx = g.add_input("x", DataType::kF16, {rows, cols});
    const auto gb = g.add_input("b", DataType::kF16, residual ? std::vector<int64_t>{rows, cols} : std::vector<int64_t>{cols});
    const auto add = g.add_node(ir::OpKind::kAdd, "add", {gx, gb});
    const auto gelu = g.add_node(ir::OpKind::kGelu, "gelu", {g.node(add).outputs[0]});
    g.infer_shapes();
    const std::vector<ir::NodeId> nodes{add, gelu};
    const auto chain = require(render_pointwise(g, nodes, g.node(gelu).outputs[0]), "rendering add+gelu");
    const LoadedProgram program = load(chain.spec.program(), target);
    PointwiseArgs args;
    args.out_shape = {rows, cols};
    args.in_shapes = {{rows, cols}, residual ? std::vector<int64_t>{rows, cols} : std::vector<int64_t>{cols}};
    args.in = {x.p, residual ? r.p : b.p};
    args.out = y.p;
    const auto params = require(make_params(chain.spec, args), "pointwise params");
    Row row{residual ? "pointwise: x + r, GELU (fused)" : "pointwise: x + bias, GELU (fused)",
            "[" + std::to_string(rows) + ", 4096]", params.vectorized ? "16-byte vector path" : "strided path",
            static_cast<double>(bytes) * (residual ? 3 : 2) + (residual ? 0 : cols * 2.0)};
    y.poison();
    require(run(chain.spec, args, program, nullptr, info->multiprocessors), "pointwise launch");
    CHECK_CUDA(cudaDeviceSynchronize());
    check_rows(row, cols, [&](const HostTensor& xi, const HostTensor& ri) {
      const HostTensor sum = ir::evaluate_node(node_of(ir::OpKind::kAdd, 2), std::vector<HostTensor>{xi, residual ? ri : bias}).at(0);
      return ir::evaluate_node(node_of(ir::OpKind::kGelu, 1), std::vector<HostTensor>{sum}).at(0);
    }, residual ? &hr : nullptr, 4e-3);
    row.ms = time_ms([&] { require(run(chain.spec, args, program, nullptr, info->multiprocessors), "pointwise"); },
                     warmup, iters);
    table.push_back(row);
  }

  // ---- softmax, layer norm (4096, 8192), RMS norm ----------------------------------------------
  struct NormCase {
    const char* name;
    ir::OpKind op;
    int64_t width;
  };
  for (const NormCase& nc : {NormCase{"softmax", ir::OpKind::kSoftmax, 4096},
                             NormCase{"layer norm (scale, bias)", ir::OpKind::kLayerNormalization, 4096},
                             NormCase{"layer norm (scale, bias)", ir::OpKind::kLayerNormalization, 8192},
                             NormCase{"RMS norm (scale)", ir::OpKind::kRMSNormalization, 4096}}) {
    const int64_t nrows = n / nc.width;
    const bool ln = nc.op == ir::OpKind::kLayerNormalization, rms = nc.op == ir::OpKind::kRMSNormalization;
    const size_t inputs = ln ? 3 : rms ? 2 : 1;
    const ir::Node node = node_of(nc.op, inputs, {{"axis", int64_t{-1}}});
    std::vector<ir::TensorInfo> infos{{DataType::kF16, {nrows, nc.width}, true}};
    for (size_t i = 1; i < inputs; ++i) infos.push_back({DataType::kF16, {nc.width}, true});
    const NormSpec spec = [&] {
      auto sp = plan_norm(node, infos);
      if (!sp) {
        std::fprintf(stderr, "plan_norm refused %s\n", nc.name);
        std::exit(1);
      }
      return *sp;
    }();
    const LoadedProgram program = load(spec.program(), target);
    NormArgs args;
    args.in_shape = {nrows, nc.width};
    args.in = x.p;
    args.out = y.p;
    if (inputs > 1) {
      args.scale = s.p;
      args.scale_shape = {nc.width};
    }
    if (inputs > 2) {
      args.bias = b.p;
      args.bias_shape = {nc.width};
    }
    const auto l = require(make_launch(spec, args), "norm launch");
    Row row{nc.name, "rows of " + std::to_string(nc.width), l.kernel.substr(l.kernel.find("::", 5) + 2),
            2.0 * static_cast<double>(bytes) + 2.0 * 2 * static_cast<double>(nc.width)};
    y.poison();
    require(run(spec, args, program, nullptr), "norm launch");
    CHECK_CUDA(cudaDeviceSynchronize());
    const HostTensor scale = f16_tensor({nc.width}, hs.data()), nb = f16_tensor({nc.width}, hb.data());
    check_rows(row, nc.width, [&](const HostTensor& xi, const HostTensor&) {
      std::vector<HostTensor> in{xi};
      if (inputs > 1) in.push_back(scale);
      if (inputs > 2) in.push_back(nb);
      return ir::evaluate_node(node, in).at(0);
    }, nullptr, 2e-3);
    row.ms = time_ms([&] { require(run(spec, args, program, nullptr), "norm"); }, warmup, iters);
    table.push_back(row);
  }

  // ---- ReduceSum over rows of 4096 -----------------------------------------------------------------
  {
    const HostTensor axes = HostTensor::from_vector(DataType::kINT64, {1}, std::vector<int64_t>{1});
    const ir::Node node = node_of(ir::OpKind::kReduceSum, 2, {{"keepdims", int64_t{0}}});
    const std::vector<ir::TensorInfo> infos{{DataType::kF16, {rows, cols}, true}, {DataType::kINT64, {1}, true}};
    const std::vector<const HostTensor*> constants{nullptr, &axes};
    const auto spec = plan_reduce(node, infos, constants).value();
    const LoadedProgram program = load(spec.program(), target);
    ReduceArgs args;
    args.in_shape = {rows, cols};
    args.in = x.p;
    args.out = red.p;
    args.multiprocessors = info->multiprocessors;
    const auto launches = require(make_launches(spec, args), "reduce launches");
    Row row{"ReduceSum over the last axis", "rows of 4096", launches.at(0).kernel.substr(14),
            static_cast<double>(bytes) + 2.0 * static_cast<double>(rows)};
    red.poison();
    require(run(spec, args, program, nullptr), "reduce launch");
    CHECK_CUDA(cudaDeviceSynchronize());
    for (int64_t i : sampled) {
      const HostTensor xi = f16_tensor({1, cols}, hx.data() + i * cols);
      const HostTensor want = ir::evaluate_node(node, std::vector<HostTensor>{xi, axes}).at(0);
      HostTensor got(DataType::kF16, want.shape());
      red.download(got.mutable_data(), 2, static_cast<size_t>(i) * 2);
      // Sums of 4096 values in [-4, 4) can be small: compare against the row's scale instead.
      const double err = std::fabs(got.get_double(0) - want.get_double(0)) / 64.0;
      row.error = std::max(row.error, err);
    }
    row.ok = row.error <= 2e-3;
    row.ms = time_ms([&] { require(run(spec, args, program, nullptr), "reduce"); }, warmup, iters);
    table.push_back(row);
  }

  // ---- transpose ---------------------------------------------------------------------------------
  {
    const ir::Node node = node_of(ir::OpKind::kTranspose, 1);
    const std::vector<ir::TensorInfo> infos{{DataType::kF16, {rows, cols}, true}};
    const auto spec = plan_movement(node, infos).value();
    const LoadedProgram program = load(spec.program(), target);
    MovementArgs args;
    args.in_shapes = {{rows, cols}};
    args.in = {x.p};
    args.out = y.p;
    args.out_shape = {cols, rows};
    const auto launches = require(make_launches(spec, args), "transpose launches");
    Row row{"transpose (2-D)", "[" + std::to_string(rows) + ", 4096]", launches.at(0).kernel.substr(14),
            2.0 * static_cast<double>(bytes)};
    y.poison();
    require(run(spec, args, program, nullptr), "transpose launch");
    CHECK_CUDA(cudaDeviceSynchronize());
    std::mt19937_64 rng(11);
    for (int k = 0; k < 4096 && row.ok; ++k) {
      const int64_t i = static_cast<int64_t>(rng() % static_cast<uint64_t>(rows));
      const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(cols));
      uint16_t got = 0;
      y.download(&got, 2, static_cast<size_t>(j * rows + i) * 2);
      row.ok = got == hx[static_cast<size_t>(i * cols + j)];
    }
    row.error = row.ok ? 0 : 1;
    row.ms = time_ms([&] { require(run(spec, args, program, nullptr), "transpose"); }, warmup, iters);
    table.push_back(row);
  }

  // ---- the table ---------------------------------------------------------------------------------
  const double copy_gbs = table[0].bytes / (table[0].ms * 1e-3) / 1e9;
  std::printf("\n| kernel | shape (f16) | GB moved | median us | GB/s | vs copy | check | variant |\n");
  std::printf("|---|---|---:|---:|---:|---:|---|---|\n");
  bool all_ok = true;
  for (const Row& row : table) {
    const double gbs = row.bytes / (row.ms * 1e-3) / 1e9;
    char check[48];
    if (row.name.rfind("copy", 0) == 0)
      std::snprintf(check, sizeof check, "-");
    else
      std::snprintf(check, sizeof check, "%s %.1e", row.ok ? "ok" : "FAILED", row.error);
    std::printf("| %s | %s | %.3f | %.1f | %.0f | %.2f | %s | %s |\n", row.name.c_str(), row.shape.c_str(),
                row.bytes / 1e9, row.ms * 1e3, gbs, gbs / copy_gbs, check, row.kernel.c_str());
    all_ok = all_ok && row.ok;
  }
  if (!all_ok) std::printf("\nSOME RESULTS WERE WRONG: the numbers above for those rows mean nothing.\n");
  return all_ok ? 0 : 1;
}
