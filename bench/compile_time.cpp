// SPDX-License-Identifier: Apache-2.0
// compile_time: how long the builder takes to compile the kernel set of a ResNet-50-sized network
// with NVRTC, cold (empty kernel cache folder) and warm (the same folder again, a new cache
// object: every image comes from disk). Needs no GPU. The network is ResNet-50 v1.5 in f16 as an
// exporter leaves it after folding batch norm into the convolutions (53 convolutions with bias,
// ReLU, residual adds, max pool, global average pool, the classifier), batch 1..32 at 224x224,
// random weights. It also prints the size of the engine with and without its weights
// (BuilderFlag::kSTRIP_PLAN + kREFIT).
//
//   compile_time [--targets 80,86,89,90,100,120] [--no-ptx] [--cache DIR] [--runs N]
//                [--save-weightless FILE]   (also writes the weightless engine, for `rtx inspect`)
//
// Default targets: the builder's default set (every generation from 8.0 the installed NVRTC
// supports) plus PTX of the lowest. --runs N repeats the cold build N times (each with a fresh
// folder) and prints the median. Exits 1 if a build fails or the warm build compiled anything.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <rtx/rtx.hpp>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

using F16 = rtx::Tensor<rtx::f16, 4>;

struct ResNetBuilder {
  rtx::Network& net;
  std::mt19937 rng{1234};
  int counter = 0;

  // f16 bit patterns of magnitude 2^-7 .. 2^-3 with a random sign: valid, finite, varied.
  rtx::HostTensor random_f16(std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<uint16_t> bits(static_cast<size_t>(n));
    for (auto& b : bits) {
      const uint32_t r = rng();
      b = static_cast<uint16_t>(((r & 1u) << 15) | (0x2000u + ((r >> 1) & 0xFFFu)));
    }
    return rtx::HostTensor::from_vector(rtx::DataType::kF16, std::move(shape), bits);
  }

  // Convolution with folded batch norm (bias), optionally followed by ReLU.
  F16 conv(const F16& x, int64_t in, int64_t out, int64_t k, int64_t stride, bool relu = true) {
    const std::string name = "conv" + std::to_string(counter++);
    auto w = net.weight<rtx::f16, 4>(name + ".weight", random_f16({out, in, k, k}));
    auto b = net.weight<rtx::f16, 1>(name + ".bias", random_f16({out}));
    const int64_t p = k / 2;
    auto y = rtx::conv2d(x, w, b, {.strides = {stride, stride}, .pads = {p, p, p, p}});
    return relu ? rtx::relu(y) : y;
  }

  // Bottleneck block: 1x1 reduce, 3x3 (stride here, as in v1.5), 1x1 expand, residual, ReLU.
  F16 bottleneck(const F16& x, int64_t in, int64_t width, int64_t stride) {
    const int64_t out = width * 4;
    auto h = conv(x, in, width, 1, 1);
    h = conv(h, width, width, 3, stride);
    h = conv(h, width, out, 1, 1, false);
    const F16 shortcut = (stride != 1 || in != out) ? conv(x, in, out, 1, stride, false) : x;
    return rtx::relu(h + shortcut);
  }
};

void build_resnet50(rtx::Network& net) {
  ResNetBuilder b{net};
  auto image = net.input<rtx::f16>("image", {rtx::dynamic, 3, 224, 224});
  net.set_profile("image", {1, 3, 224, 224}, {8, 3, 224, 224}, {32, 3, 224, 224});
  auto x = b.conv(image, 3, 64, 7, 2);
  x = rtx::max_pool(x, {.kernel = {3, 3}, .strides = {2, 2}, .pads = {1, 1, 1, 1}});
  int64_t in = 64;
  const int64_t widths[4] = {64, 128, 256, 512};
  const int blocks[4] = {3, 4, 6, 3};
  for (int s = 0; s < 4; ++s) {
    for (int i = 0; i < blocks[s]; ++i) {
      x = b.bottleneck(x, in, widths[s], (i == 0 && s > 0) ? 2 : 1);
      in = widths[s] * 4;
    }
  }
  auto features = rtx::flatten(rtx::global_avg_pool(x));  // (N, 2048)
  auto fw = net.weight<rtx::f16, 2>("fc.weight", b.random_f16({1000, 2048}));
  auto fb = net.weight<rtx::f16, 1>("fc.bias", b.random_f16({1000}));
  net.output(rtx::linear(features, fw, fb), "logits");
}

struct Timed {
  double seconds = 0.0;
  rtx::BuildReport report;
  size_t bytes = 0;  ///< of the engine
};

bool g_ptx = true;  // --no-ptx: cubins only
fs::path g_save_weightless;  // --save-weightless: where the weightless engine goes (for `rtx inspect`)

Timed build_once(const rtx::Network& net, const std::vector<rtx::ComputeCapability>& targets,
                 const fs::path& cache, bool stripped = false) {
  rtx::BuilderConfig cfg;
  cfg.set_compute_capabilities(targets);
  cfg.set_ptx(g_ptx);
  cfg.set_kernel_cache_directory(cache);
  if (stripped) {  // a weightless engine, refittable later
    cfg.set_flag(rtx::BuilderFlag::kSTRIP_PLAN);
    cfg.set_flag(rtx::BuilderFlag::kREFIT);
  }
  Timed t;
  const auto start = std::chrono::steady_clock::now();
  auto blob = rtx::Builder().build_serialized_network(net, cfg, &t.report);
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!blob) {
    std::fprintf(stderr, "compile_time: build failed: %s\n", blob.error().to_string().c_str());
    std::exit(1);
  }
  t.bytes = blob->size();
  if (stripped && !g_save_weightless.empty()) {
    if (auto saved = blob->save(g_save_weightless); !saved) {
      std::fprintf(stderr, "compile_time: %s\n", saved.error().to_string().c_str());
      std::exit(1);
    }
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<rtx::ComputeCapability> targets;
  fs::path cache_root;
  int runs = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--targets" && i + 1 < argc) {
      std::string list = argv[++i];
      for (size_t pos = 0; pos < list.size();) {
        const size_t comma = std::min(list.find(',', pos), list.size());
        targets.push_back(static_cast<rtx::ComputeCapability>(std::stoi(list.substr(pos, comma - pos))));
        pos = comma + 1;
      }
    } else if (arg == "--cache" && i + 1 < argc) {
      cache_root = argv[++i];
    } else if (arg == "--save-weightless" && i + 1 < argc) {
      g_save_weightless = argv[++i];
    } else if (arg == "--no-ptx") {
      g_ptx = false;
    } else if (arg == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: compile_time [--targets 80,86,...] [--no-ptx] [--cache DIR] [--runs N] [--save-weightless FILE]\n");
      return 2;
    }
  }
  if (cache_root.empty()) cache_root = fs::temp_directory_path() / "rtx_compile_time";

  rtx::Network net;
  build_resnet50(net);
  if (!net.ok()) {
    std::fprintf(stderr, "compile_time: %s\n", net.errors().front().to_string().c_str());
    return 1;
  }

  std::vector<double> cold;
  Timed first_cold, warm, stripped;
  for (int r = 0; r < runs; ++r) {
    const fs::path dir = cache_root / ("run" + std::to_string(r));
    fs::remove_all(dir);
    Timed t = build_once(net, targets, dir);
    cold.push_back(t.seconds);
    if (r == 0) {
      first_cold = t;
      warm = build_once(net, targets, dir);  // same folder, new cache object: disk hits only
      stripped = build_once(net, targets, dir, true);
    }
    fs::remove_all(dir);
  }
  std::sort(cold.begin(), cold.end());
  const auto& rep = first_cold.report;
  std::printf("ResNet-50 (f16, batch 1..32, 224x224): %lld kernel steps, %lld host steps, "
              "%lld aliases, %lld distinct kernels, %lld images (targets + PTX), %.1f MiB of weights\n",
              static_cast<long long>(rep.kernel_steps), static_cast<long long>(rep.host_steps),
              static_cast<long long>(rep.alias_steps), static_cast<long long>(rep.kernels),
              static_cast<long long>(rep.images), static_cast<double>(rep.weight_bytes) / (1 << 20));
  std::printf("| build | seconds | images from cache |\n|---|---:|---:|\n");
  std::printf("| cold (empty cache folder), median of %d | %.2f | %lld of %lld |\n", runs,
              cold[cold.size() / 2], static_cast<long long>(rep.cache_hits),
              static_cast<long long>(rep.images));
  std::printf("| warm (same folder, disk hits) | %.2f | %lld of %lld |\n", warm.seconds,
              static_cast<long long>(warm.report.cache_hits),
              static_cast<long long>(warm.report.images));
  std::printf("engine: full %.2f MiB, weightless (kSTRIP_PLAN + kREFIT) %.3f MiB = %.2f%% of the full one\n",
              static_cast<double>(warm.bytes) / (1 << 20), static_cast<double>(stripped.bytes) / (1 << 20),
              100.0 * static_cast<double>(stripped.bytes) / static_cast<double>(warm.bytes));
  if (warm.report.cache_hits != warm.report.images) {
    std::fprintf(stderr, "compile_time: the warm build compiled %lld images\n",
                 static_cast<long long>(warm.report.images - warm.report.cache_hits));
    return 1;
  }
  return 0;
}
