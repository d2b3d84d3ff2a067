// SPDX-License-Identifier: Apache-2.0
// The state behind rtx::Engine and rtx::ExecutionContext (rtx/runtime.hpp keeps only opaque
// pointers, so no CUDA type reaches users). An EngineState owns the verified engine model, the
// plan, the loaded kernels and the device weights (or, under weight streaming, the resident part
// plus pinned host copies of the rest). A ContextState owns what one run needs: input shapes, I/O
// addresses, the resolution for those shapes, the activation arena, pinned staging for host
// steps, the copy stream and ring of weight-streaming slots, and the CUDA graph.
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>
#include <map>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "jit/device.hpp"
#include "jit/kernels/common.hpp"
#include "jit/module.hpp"
#include "jit/runtime/kernel_steps.hpp"
#include "jit/runtime/memory_plan.hpp"
#include "jit/runtime/plan.hpp"
#include "jit/runtime/resolve.hpp"
#include "rtx/runtime.hpp"
#include "serialization/engine_model.hpp"

namespace rtx::detail {

/// A device allocation freed on destruction.
struct DeviceMemory {
  void* ptr = nullptr;
  int64_t bytes = 0;
  DeviceMemory() = default;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  ~DeviceMemory() { reset(); }
  void reset() {
    if (ptr) cudaFree(ptr);
    ptr = nullptr;
    bytes = 0;
  }
  /// Makes sure at least `n` bytes are held (contents are not kept); rtx.runtime.107.
  Expected<void> reserve(int64_t n);
};

/// Pinned (page-locked) host memory freed on destruction.
struct PinnedMemory {
  void* ptr = nullptr;
  int64_t bytes = 0;
  PinnedMemory() = default;
  PinnedMemory(const PinnedMemory&) = delete;
  PinnedMemory& operator=(const PinnedMemory&) = delete;
  ~PinnedMemory() { reset(); }
  void reset() {
    if (ptr) cudaFreeHost(ptr);
    ptr = nullptr;
    bytes = 0;
  }
  Expected<void> reserve(int64_t n);
};

struct EngineState {
  serialization::EngineModel model;
  runtime::ExecutionPlan plan;
  int device = 0;
  jit::DeviceInfo info;
  std::string target;  ///< "sm_90", "compute_80"
  bool suboptimal = false;
  std::unique_ptr<jit::Module> module;
  std::vector<jit::Kernel> kernels;  ///< by kernels-table index
  std::map<std::string, int32_t, std::less<>> kernel_by_name;  ///< name expression -> index
  std::vector<int> smem_allowed;  ///< per kernel: dynamic shared memory allowed so far (bytes)
  std::mutex smem_mutex;
  std::vector<int32_t> io_values;    ///< inputs then outputs (value ids)
  size_t num_inputs = 0;
  std::vector<std::vector<std::string>> io_dim_names;  ///< per I/O tensor; empty when unnamed
  int64_t max_arena = 0;          ///< activation bytes at the profile's largest shapes
  std::vector<char> device_data;  ///< per value: a weight/constant the device reads

  // Weights on the device (resident) and, under streaming, in pinned host memory.
  std::mutex mutex;  ///< guards budget changes
  DeviceMemory weights;
  std::vector<int64_t> weight_offset;  ///< per value: offset in `weights`, -1 if not resident
  PinnedMemory pinned;
  std::vector<int64_t> pinned_offset;  ///< per value: offset in `pinned`, -1 if not streamed
  std::vector<char> streamed;          ///< per value: streams under the current budget
  int64_t streamable_total = 0;
  int64_t budget = 0;
  std::atomic<int64_t> generation{0};  ///< bumps when weight placement changes

  ~EngineState();
  /// The device address of resident weight/constant `v`, or nullptr.
  const void* resident(int32_t v) const {
    const int64_t off = weight_offset[static_cast<size_t>(v)];
    return off < 0 ? nullptr : static_cast<const char*>(weights.ptr) + off;
  }
  /// Places weights for `budget` bytes of streamable weights on the device (uploads them).
  Expected<void> place_weights(int64_t budget);
};

/// One operation of a bound run, issued in order on the context's stream.
struct Op {
  enum class Kind : uint8_t { kLaunch, kCopy, kHost, kStreamWait, kStreamDone };
  Kind kind = Kind::kLaunch;
  runtime::PreparedLaunch launch;  ///< kLaunch
  // kCopy: cudaMemcpyAsync(dst, src, bytes, direction)
  void* dst = nullptr;
  const void* src = nullptr;
  int64_t bytes = 0;
  cudaMemcpyKind direction = cudaMemcpyDefault;
  size_t host = 0;     ///< kHost: index into ContextState::host_calls
  size_t streamed = 0; ///< kStreamWait/kStreamDone: index into the streamed-step list
  int32_t step = -1;   ///< the plan step this op belongs to (-1: the uploads before the first)
};

/// Timing events of a profiled run: events[i] opens segment i, which runs the ops of plan step
/// segment_step[i]; the last event closes the last segment.
struct ProfileMarks {
  std::vector<cudaEvent_t> events;
  std::vector<int32_t> segment_step;
  std::vector<char> segment_on_host;  ///< the segment ran a host step (a kernel step can fall back)
  ProfileMarks() = default;
  ProfileMarks(const ProfileMarks&) = delete;
  ProfileMarks& operator=(const ProfileMarks&) = delete;
  ~ProfileMarks() {
    for (cudaEvent_t e : events) cudaEventDestroy(e);
  }
};

struct ContextState;

/// A host step bound to staging buffers.
struct HostCall {
  ContextState* ctx = nullptr;
  std::shared_ptr<const runtime::Resolution> resolution;  ///< of the binding (shapes may change meanwhile)
  std::vector<int32_t> nodes;
  std::vector<int32_t> inputs;
  std::vector<std::pair<int32_t, void*>> staged_inputs;   ///< value, pinned bytes (copied from the device)
  std::vector<std::pair<int32_t, void*>> staged_outputs;  ///< value, pinned bytes (copied to the device)
  std::vector<int32_t> keep;                              ///< outputs later host steps read on the host
};

/// One copy of streamed weights for a step: from pinned host memory into a slot.
struct StreamCopy {
  void* dst;
  const void* src;
  int64_t bytes;
};

struct ContextState {
  std::shared_ptr<EngineState> engine;
  std::optional<Engine> engine_handle;  ///< what ExecutionContext::engine() returns
  bool user_memory = false;
  std::vector<std::vector<int64_t>> shapes;  ///< per input
  std::vector<char> shape_set;
  std::vector<void*> addresses;  ///< per I/O tensor

  // Binding (rebuilt when shapes, addresses, memory or weight placement change).
  bool dirty = true;
  bool shapes_changed = true;
  std::shared_ptr<const runtime::Resolution> resolution;
  bool ran = false;  ///< ev_done was recorded (after the latest run)
  int64_t bound_generation = -1;
  int64_t binds = 0;
  std::vector<Op> ops;
  std::vector<std::unique_ptr<HostCall>> host_calls;
  std::vector<std::vector<StreamCopy>> stream_copies;  ///< per streamed step
  std::vector<HostTensor> host_values;                 ///< outputs of host steps, on the host
  std::vector<std::string> host_fallbacks;             ///< kernel steps the binding runs on the host, why

  // Memory.
  DeviceMemory arena_owned;
  void* arena = nullptr;
  int64_t arena_capacity = 0;
  PinnedMemory staging;  ///< host-step inputs/outputs and uploads
  DeviceMemory slots;    ///< weight streaming: two slots
  DeviceMemory workspace;  ///< scratch of kernel steps that need some (split reductions)
  int64_t slot_bytes = 0;

  // Streams, events and the CUDA graph.
  cudaStream_t copy_stream = nullptr;
  cudaEvent_t ev_start = nullptr, ev_join = nullptr;
  cudaEvent_t ev_done = nullptr;  ///< recorded after each run: a rebinding waits for it
  cudaEvent_t ev_loaded[2] = {nullptr, nullptr};
  cudaEvent_t ev_free[2] = {nullptr, nullptr};
  bool use_graph = false;
  cudaGraphExec_t graph_exec = nullptr;
  int64_t graph_binds = -1;  ///< `binds` the graph was captured for
  int64_t captures = 0;

  // Errors of host steps (they run on CUDA's callback thread).
  std::mutex error_mutex;
  std::optional<Error> deferred;

  ~ContextState();
  Expected<void> bind();
  /// Reports a host step's deferred error, and binds when shapes, addresses or weights changed.
  Expected<void> prepare();
  /// Issues the bound ops on `stream`; with `marks`, records a timing event at each step boundary.
  Expected<void> issue(cudaStream_t stream, ProfileMarks* marks = nullptr);
  void run_host(HostCall& call) noexcept;
};

}  // namespace rtx::detail
