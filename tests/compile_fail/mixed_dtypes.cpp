// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: adding an f16 and an f32 tensor without a cast. As written it compiles; with
// -DRTX_MISUSE it must fail with "rtx: operands have different dtypes; use rtx::cast<T>(x) first"
// (see check.py and meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
  auto a = net.input<rtx::f16>("a", {4});
  auto b = net.input<rtx::f32>("b", {4});
#ifdef RTX_MISUSE
  net.output(a + b, "y");
#else
  net.output(rtx::cast<rtx::f32>(a) + b, "y");
#endif
}
