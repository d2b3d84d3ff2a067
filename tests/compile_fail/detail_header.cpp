// SPDX-License-Identifier: Apache-2.0
// Compile-fail pair: including an internal rtx/detail header directly. Through the umbrella it
// compiles; alone (-DRTX_MISUSE) it must fail with "rtx: rtx/detail headers are internal".
#ifndef RTX_MISUSE
#include <rtx/rtx.hpp>
#endif
#include <rtx/detail/layer_builder.hpp>

int frontend_seam_size() {
  return static_cast<int>(sizeof(rtx::detail::LayerSpec));
}
