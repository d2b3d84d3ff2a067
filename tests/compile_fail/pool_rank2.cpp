// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: pooling a rank-2 tensor. As written it compiles; with -DRTX_MISUSE it must
// fail with "rtx: pooling needs an (N, C, spatial...) tensor of rank >= 3" (see check.py and
// meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
#ifdef RTX_MISUSE
  auto x = net.input<rtx::f32>("x", {8, 8});
#else
  auto x = net.input<rtx::f32>("x", {1, 1, 8, 8});
#endif
  net.output(rtx::max_pool(x, {.kernel = {2, 2}}), "y");
}
