// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: declaring an input whose dims list has the wrong length. As written it
// compiles; with -DRTX_MISUSE it must fail with "rtx: input dims must list exactly Rank extents"
// (see check.py and meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
#ifdef RTX_MISUSE
  auto x = net.input<rtx::f16, 2>("x", {rtx::dynamic, 3, 784});
#else
  auto x = net.input<rtx::f16, 3>("x", {rtx::dynamic, 3, 784});
#endif
  net.output(x, "y");
}
