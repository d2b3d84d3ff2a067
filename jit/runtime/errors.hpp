// SPDX-License-Identifier: Apache-2.0
// Stable error ids of the runtime and builder areas, in one place so they stay unique; the public
// headers (rtx/runtime.hpp, rtx/builder.hpp) list what each means.
#pragma once

namespace rtx::runtime::errc {

inline constexpr const char* kNoDevice = "rtx.runtime.101";        ///< no driver / no GPU
inline constexpr const char* kNoImage = "rtx.runtime.102";         ///< no image for this GPU
inline constexpr const char* kLoad = "rtx.runtime.103";            ///< module or kernel load failed
inline constexpr const char* kPtxCompile = "rtx.runtime.104";      ///< PTX compile failed/forbidden
inline constexpr const char* kBadPlan = "rtx.runtime.105";         ///< malformed plan
inline constexpr const char* kNoWeights = "rtx.runtime.106";       ///< stripped engine
inline constexpr const char* kOutOfMemory = "rtx.runtime.107";     ///< device or pinned memory
inline constexpr const char* kUnknownTensor = "rtx.runtime.110";   ///< no I/O tensor of that name
inline constexpr const char* kBadShape = "rtx.runtime.111";        ///< outside profile / rank
inline constexpr const char* kBadAddress = "rtx.runtime.112";      ///< address missing/misaligned
inline constexpr const char* kShapesMissing = "rtx.runtime.113";   ///< input shapes not all set
inline constexpr const char* kMemoryTooSmall = "rtx.runtime.114";  ///< user memory too small
inline constexpr const char* kBadBudget = "rtx.runtime.115";       ///< streaming budget range
inline constexpr const char* kNoStreaming = "rtx.runtime.116";     ///< not built for streaming
inline constexpr const char* kCuda = "rtx.runtime.120";            ///< CUDA call failed in enqueue
inline constexpr const char* kHostStep = "rtx.runtime.121";        ///< a host step failed
inline constexpr const char* kGraph = "rtx.runtime.122";           ///< CUDA graph capture/launch
inline constexpr const char* kBadCache = "rtx.runtime.130";        ///< bad runtime cache blob
inline constexpr const char* kInternal = "rtx.runtime.199";        ///< unexpected exception

}  // namespace rtx::runtime::errc

namespace rtx::builder::errc {

inline constexpr const char* kBadTargets = "rtx.builder.101";     ///< compute capability list
inline constexpr const char* kNoGpu = "rtx.builder.102";          ///< kCURRENT without a GPU
inline constexpr const char* kNoProfile = "rtx.builder.103";      ///< dynamic input, no profile
inline constexpr const char* kBadProfile = "rtx.builder.104";     ///< profile does not fit
inline constexpr const char* kUnknownProfile = "rtx.builder.105"; ///< profile of no input
inline constexpr const char* kNoOutputs = "rtx.builder.106";      ///< network without outputs
inline constexpr const char* kBadFlags = "rtx.builder.107";       ///< flags cannot be honoured
inline constexpr const char* kCompile = "rtx.builder.110";        ///< kernel compilation failed
inline constexpr const char* kWrite = "rtx.builder.111";          ///< writing the engine failed
inline constexpr const char* kUnplannable = "rtx.builder.120";    ///< no way to run an op
inline constexpr const char* kInternal = "rtx.builder.199";       ///< unexpected exception

}  // namespace rtx::builder::errc
