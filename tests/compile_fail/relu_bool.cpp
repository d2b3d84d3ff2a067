// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: an activation on a boolean tensor. As written it compiles; with -DRTX_MISUSE
// it must fail with "rtx: arithmetic on a boolean tensor" (see check.py and meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
  auto x = net.input<rtx::f32>("x", {4});
  auto mask = rtx::greater(x, x);
#ifdef RTX_MISUSE
  net.output(rtx::relu(mask), "y");
#else
  net.output(rtx::relu(rtx::cast<rtx::f32>(mask)), "y");
#endif
}
