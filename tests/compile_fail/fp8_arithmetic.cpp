// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: arithmetic on an fp8 tensor without dequantizing. As written it compiles; with
// -DRTX_MISUSE it must fail with "rtx: fp8, fp4 and 4-bit integer tensors are storage formats" (see
// check.py and meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
  auto q = net.input<rtx::fp8e4m3>("q", {4});
#ifdef RTX_MISUSE
  net.output(q * q, "y");
#else
  auto x = rtx::dequantize(q, 0.5);
  net.output(x * x, "y");
#endif
}
