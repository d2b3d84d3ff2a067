// SPDX-License-Identifier: Apache-2.0
// Stable error ids of the jit area, in one place so they stay unique and documented. 1xx: compile
// service and cache (no GPU involved); 2xx: run-time module loading, kernel lookup, launch and
// device queries (these are the errors a machine without a driver or GPU reports).
#pragma once

namespace rtx::jit::errc {

inline constexpr const char* kCompileFailed = "rtx.jit.101";  ///< NVRTC rejected the program
inline constexpr const char* kJitForbidden = "rtx.jit.102";   ///< RTX_ASSERT_NO_JIT=1 tripwire
inline constexpr const char* kBadTarget = "rtx.jit.103";      ///< unknown/unsupported target
inline constexpr const char* kBadOption = "rtx.jit.104";      ///< option not allowed/not a token
inline constexpr const char* kNvrtcFailure = "rtx.jit.105";   ///< NVRTC API failed (not the code)
inline constexpr const char* kBadRequest = "rtx.jit.106";     ///< empty/duplicate targets, ...
inline constexpr const char* kInternal = "rtx.jit.107";       ///< unexpected exception

inline constexpr const char* kNoDevice = "rtx.jit.201";        ///< no driver or no GPU
inline constexpr const char* kModuleLoad = "rtx.jit.202";      ///< image rejected by the driver
inline constexpr const char* kKernelNotFound = "rtx.jit.203";  ///< lowered name not in module
inline constexpr const char* kLaunchFailed = "rtx.jit.204";    ///< launch or attribute call failed
inline constexpr const char* kBadDevice = "rtx.jit.205";       ///< device ordinal out of range
inline constexpr const char* kBadImage = "rtx.jit.206";        ///< empty image, PTX with NUL, ...

// Kernel families define their ids next to their code (jit/kernels/*.cpp), in these ranges:
// 3xx shared kernel helpers, 4xx GEMM (401-404) and conv (411-413), 7xx/8xx the other families
// (801-804 the quantized GEMM, 811-813 the quantized convolution).

}  // namespace rtx::jit::errc
