// SPDX-License-Identifier: Apache-2.0
// rtx_make_test_engines DIR: builds every engine of the GPU suite's zoo (tests/gpu/engine_zoo.hpp)
// on this machine, which needs no GPU, and writes DIR/<name>.rtxe. Carry DIR to the GPU machine
// and run the GPU suite with RTX_TEST_ENGINES=DIR: it then runs these very files.
#include <cstdio>
#include <filesystem>

#include "engine_zoo.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  int failures = 0;
  for (const auto& entry : rtx::test::engine_zoo()) {
    rtx::BuildReport report;
    rtx::Expected<rtx::HostMemory> blob = rtx::Error{"", ""};
    try {
      blob = rtx::test::build_zoo_engine(entry.name, &report);
    } catch (const rtx::Exception& e) {
      blob = e.error();
    }
    if (!blob) {
      std::fprintf(stderr, "%s: %s\n", entry.name.c_str(), blob.error().to_string().c_str());
      ++failures;
      continue;
    }
    const auto path = dir / (entry.name + ".rtxe");
    if (auto ok = blob->save(path); !ok) {
      std::fprintf(stderr, "%s: %s\n", entry.name.c_str(), ok.error().to_string().c_str());
      ++failures;
      continue;
    }
    std::printf("%-26s %10zu bytes  %2lld kernel steps  %2lld host steps  %lld kernels x %lld images  %.1f s\n",
                entry.name.c_str(), blob->size(), static_cast<long long>(report.kernel_steps),
                static_cast<long long>(report.host_steps), static_cast<long long>(report.kernels),
                static_cast<long long>(report.images), report.seconds);
    for (const auto& op : report.host_ops) std::printf("    on the host: %s\n", op.c_str());
  }
  return failures == 0 ? 0 : 1;
}
