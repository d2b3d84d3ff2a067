// SPDX-License-Identifier: Apache-2.0
// main() of every GPU test executable: with no usable GPU it prints why and exits 77, which
// Meson reports as SKIP; otherwise it runs the doctest cases.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "jit/device.hpp"

int main(int argc, char** argv) {
  auto info = rtx::jit::device_info(0);
  if (!info) {
    std::printf("SKIP: no usable GPU here (%s)\n", info.error().to_string().c_str());
    return 77;
  }
  std::printf("GPU 0: %s, compute capability %d.%d, %d SMs, driver %d, runtime %d\n", info->name.c_str(),
              info->cc_major, info->cc_minor, info->multiprocessors, info->driver_version, info->runtime_version);
  doctest::Context context(argc, argv);
  return context.run();
}
