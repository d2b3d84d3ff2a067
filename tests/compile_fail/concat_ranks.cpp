// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: concatenating tensors of different ranks. As written it compiles; with
// -DRTX_MISUSE it must fail with "rtx: concat needs tensors of the same rank" (see check.py and
// meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
  auto a = net.input<rtx::f32>("a", {2, 3});
#ifdef RTX_MISUSE
  auto b = net.input<rtx::f32>("b", {3});
#else
  auto b = net.input<rtx::f32>("b", {1, 3});
#endif
  net.output(rtx::concat<0>(a, b), "y");
}
