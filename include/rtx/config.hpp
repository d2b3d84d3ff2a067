// SPDX-License-Identifier: Apache-2.0
// Every difference between the host compiler, nvcc and NVRTC lives here, so headers shared by
// host code and kernel templates (parameter structs, dtype traits) compile in all three.
#pragma once

#if defined(__CUDACC_RTC__)
// NVRTC: no host standard library; libcu++ provides the pieces we use.
#include <cuda/std/cstdint>
#include <cuda/std/type_traits>
#define RTX_STD cuda::std
#else
#include <cstdint>
#include <type_traits>
#define RTX_STD std
#endif

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define RTX_HOST_DEVICE __host__ __device__
#define RTX_DEVICE __device__
#else
#define RTX_HOST_DEVICE
#define RTX_DEVICE
#endif

/// Library version, also written into engine headers.
#define RTX_VERSION_MAJOR 0
#define RTX_VERSION_MINOR 1
#define RTX_VERSION_PATCH 0
