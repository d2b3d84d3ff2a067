// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: a linear layer whose weight is not a matrix. As written it compiles; with
// -DRTX_MISUSE it must fail with "rtx: linear weights must be rank 2" (see check.py and
// meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net, rtx::HostTensor data) {
  auto x = net.input<rtx::f32>("x", {rtx::dynamic, 16});
#ifdef RTX_MISUSE
  auto w = net.weight<rtx::f32, 1>("w", data);
#else
  auto w = net.weight<rtx::f32, 2>("w", data);
#endif
  net.output(rtx::linear(x, w), "y");
}
