// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: reducing over more axes than the tensor has. As written it compiles; with
// -DRTX_MISUSE it must fail with "rtx: more reduction axes than the tensor has dims" (see check.py
// and meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
  auto x = net.input<rtx::f32>("x", {2, 3});
#ifdef RTX_MISUSE
  net.output(rtx::reduce_sum(x, {0, 1, 2}), "y");
#else
  net.output(rtx::reduce_sum(x, {0, 1}), "y");
#endif
}
