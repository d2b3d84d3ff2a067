// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: conv whose weights have another rank than the input. As written it compiles;
// with -DRTX_MISUSE it must fail with "rtx: conv weights need the input's rank" (see check.py and
// meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net, rtx::HostTensor data) {
  auto x = net.input<rtx::f32>("x", {1, 3, 32, 32});
#ifdef RTX_MISUSE
  auto w = net.weight<rtx::f32, 3>("w", data);  // (M, C, k): a 1-d kernel for a 2-d input
#else
  auto w = net.weight<rtx::f32, 4>("w", data);
#endif
  net.output(rtx::conv(x, w), "y");
}
