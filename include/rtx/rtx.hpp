// SPDX-License-Identifier: Apache-2.0
// The umbrella header: everything a user of rtx needs. Internals under rtx/detail/ are reachable
// only through public headers (or with RTX_INTERNAL defined), like Eigen's src/ headers. Headers
// of areas still being written (builder, runtime, onnx) join as soon as they exist.
#pragma once

#ifndef RTX_DETAIL_ALLOWED
#define RTX_DETAIL_ALLOWED 1
#endif

#include "rtx/config.hpp"
#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/layers.hpp"
#include "rtx/network.hpp"
#include "rtx/numeric.hpp"
#include "rtx/reference.hpp"
#include "rtx/types.hpp"
#if __has_include("rtx/builder.hpp")
#include "rtx/builder.hpp"
#endif
#if __has_include("rtx/runtime.hpp")
#include "rtx/runtime.hpp"
#endif
#if __has_include("rtx/onnx.hpp")
#include "rtx/onnx.hpp"
#endif
