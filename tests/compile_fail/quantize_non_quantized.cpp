// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: quantizing to a type that is not a quantized type. As written it compiles;
// with -DRTX_MISUSE it must fail with "rtx: quantize produces a quantized type" (see check.py and
// meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
  auto x = net.input<rtx::f32>("x", {4, 4});
#ifdef RTX_MISUSE
  net.output(rtx::quantize<rtx::f16>(x, 0.1), "q");
#else
  net.output(rtx::quantize<rtx::fp8e4m3>(x, 0.1), "q");
#endif
}
