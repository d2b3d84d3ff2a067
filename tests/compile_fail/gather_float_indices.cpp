// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: gathering with floating-point indices. As written it compiles; with
// -DRTX_MISUSE it must fail with "rtx: gather indices must be rtx::i32 or rtx::i64" (see check.py
// and meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
  auto table = net.input<rtx::f32>("table", {10, 4});
#ifdef RTX_MISUSE
  auto ids = net.input<rtx::f32>("ids", {3});
#else
  auto ids = net.input<rtx::i64>("ids", {3});
#endif
  net.output(rtx::gather(table, ids), "y");
}
