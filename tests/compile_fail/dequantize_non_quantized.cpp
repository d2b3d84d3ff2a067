// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: dequantizing a tensor that is not quantized. As written it compiles; with
// -DRTX_MISUSE it must fail with "rtx: dequantize needs a quantized tensor" (see check.py and
// meson.build).
#include <rtx/rtx.hpp>

void build(rtx::Network& net) {
#ifdef RTX_MISUSE
  auto q = net.input<rtx::f16>("q", {4, 4});
#else
  auto q = net.input<rtx::i8>("q", {4, 4});
#endif
  auto scale = net.weight<rtx::f32, 1>("scale", rtx::HostTensor(rtx::DataType::kF32, {4}));
  net.output(rtx::dequantize(q, scale, {.axis = 1}), "x");
}
