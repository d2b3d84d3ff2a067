// SPDX-License-Identifier: Apache-2.0
// Kernel steps for concrete shapes: turns a plan step of a kernel family ("gemm", "attention")
// plus the resolved shapes and device addresses into a ready launch (grid, block, dynamic shared
// memory, the parameter block's bytes). Host-only and side-effect free, so the unit suite checks
// that a new shape inside the profile changes only the launch (never the kernel). When the family
// cannot run the concrete problem (a dynamic dim that broke alignment, a residual that turned out
// to broadcast), it says so and the runtime runs the step's nodes on the host instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "jit/kernels/common.hpp"
#include "jit/runtime/plan.hpp"
#include "rtx/error.hpp"
#include "templates/gemm/params.cuh"

namespace rtx::runtime {

/// One launch, ready to go.
struct PreparedLaunch {
  std::string kernel;                  ///< name expression (the engine maps it to a loaded kernel)
  int32_t index = -1;                  ///< the kernel's index, filled in by the runtime
  jit::kernels::LaunchConfig config;   ///< grid 0 in some extent: nothing to launch (empty output)
  std::vector<std::byte> params;       ///< the by-value parameter block
  /// TMA maps passed by value after the block, in order (the wgmma GEMM's A and B maps); built
  /// from the launch's addresses, so they change when the addresses do.
  std::vector<kernels::gemm::TmaDescriptor> tensor_maps = {};
};

/// The device address of a value (nullptr when it has none).
using AddressOf = std::function<const void*(int32_t value)>;

/// What a kernel step needs at run time besides the plan.
struct StepArgs {
  std::span<const ir::TensorInfo> infos;  ///< concrete, per value
  AddressOf address;
  void* workspace = nullptr;  ///< kernel_step_workspace() bytes
  int multiprocessors = 132;  ///< SMs of the GPU (grid sizing)
};

/// Prepares kernel step `step` of `plan` (one or more launches, in order). Errors: the family
/// cannot run these shapes or addresses (rtx.jit.*: the caller falls back to the host), or the
/// step is malformed (rtx.runtime.105).
Expected<std::vector<PreparedLaunch>> prepare_kernel_step(const ExecutionPlan& plan, const Step& step,
                                                          const StepArgs& args);

/// Device workspace a kernel step needs for these shapes (bytes; 0 for most families).
int64_t kernel_step_workspace(const ExecutionPlan& plan, const Step& step, std::span<const ir::TensorInfo> infos,
                              int multiprocessors);

/// Checks, without shapes, that a kernel step's family and spec are known (rtx.runtime.105).
Expected<void> check_kernel_step(const ExecutionPlan& plan, const Step& step);

}  // namespace rtx::runtime
