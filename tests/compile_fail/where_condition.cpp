// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: where with a condition that is not boolean. As written it compiles; with
// -DRTX_MISUSE it must fail with "rtx: where's condition must be an rtx::boolean tensor" (see
// check.py and meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
  auto x = net.input<rtx::f32>("x", {4});
#ifdef RTX_MISUSE
  net.output(rtx::where(x, x, -x), "y");
#else
  net.output(rtx::where(rtx::greater(x, -x), x, -x), "y");
#endif
}
