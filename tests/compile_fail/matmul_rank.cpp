// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: matmul of a rank-1 tensor. As written it compiles; with -DRTX_MISUSE it must
// fail with "rtx: matmul needs rank >= 2" (see check.py and meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
  auto a = net.input<rtx::f32>("a", {4, 8});
#ifdef RTX_MISUSE
  auto b = net.input<rtx::f32>("b", {8});  // rank 1: numpy would silently change the rank
#else
  auto b = net.input<rtx::f32>("b", {8, 1});
#endif
  net.output(rtx::matmul(a, b), "y");
}
