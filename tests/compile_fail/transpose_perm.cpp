// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: a transpose permutation with the wrong number of entries. As written it
// compiles; with -DRTX_MISUSE it must fail with "rtx: transpose needs a permutation with one entry
// per dim" (see check.py and meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
  auto x = net.input<rtx::f32>("x", {2, 3, 4});
#ifdef RTX_MISUSE
  net.output(rtx::transpose(x, {1, 0}), "y");
#else
  net.output(rtx::transpose(x, {1, 0, 2}), "y");
#endif
}
