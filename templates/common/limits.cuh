// SPDX-License-Identifier: Apache-2.0
// Limits shared by every kernel family's Params struct, host (g++) and device (NVRTC) alike: the
// largest tensor rank a kernel takes at run time. Host code reads the same constant through
// jit/kernels/common.hpp, so the fixed-size arrays in Params agree on both sides.
#pragma once

#include "rtx/config.hpp"

namespace rtx::kernels {

/// Largest rank of any tensor a kernel Params struct describes (shape/stride arrays are this big).
inline constexpr int kMaxRank = 8;

}  // namespace rtx::kernels
