// SPDX-License-Identifier: Apache-2.0
// The attention family in one include: the flash kernel on tensor cores (attention/flash_sm80.cuh,
// head sizes up to 128, aligned layouts) and the generic CUDA-core kernel (attention/generic.cuh,
// everything else). Programs built by jit/kernels/attention.cpp include only this header.
#pragma once

#include "attention/flash_sm80.cuh"
#include "attention/generic.cuh"
#include "attention/params.cuh"
