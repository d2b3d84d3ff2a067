// SPDX-License-Identifier: Apache-2.0
// rtx runtime: loads engines and runs them (names follow TensorRT-RTX). `Runtime::engine_validity`
// answers from the 64-byte header alone whether an engine can run here. `Runtime::deserialize`
// verifies the whole file, picks the cubin for this GPU (else the PTX, compiled once on this
// machine and kept in a RuntimeCache the user can save; the engine then reports itself
// suboptimal) and uploads the weights. An `ExecutionContext` holds per-run state: input shapes
// (checked against the optimization profile; output shapes are inferred), tensor addresses,
// activation memory planned by liveness, an optional CUDA graph per shape, and the copy stream of
// weight streaming. Several contexts of one engine may run on different threads and streams.
// CUDA types stay out of this header: streams and device pointers are `void*`.
//
// Error ids (stable): rtx.runtime.101 no usable GPU (no driver, no device); .102 the engine has no
// image for this GPU; .103 loading an image or a kernel failed; .104 PTX compilation failed or was
// forbidden (RTX_ASSERT_NO_JIT=1); .105 the engine's plan is malformed; .106 the engine has no
// weights (stripped: refit first); .107 out of device or pinned host memory; .110 unknown tensor
// name; .111 a shape outside the profile or of the wrong rank; .112 a tensor address missing or
// misaligned; .113 input shapes not all set; .114 user device memory too small; .115 a weight
// streaming budget out of range; .116 the engine was not built with weight streaming; .120 a
// CUDA call failed during enqueue; .121 a host step failed (reported by the next enqueue); .122
// CUDA graph capture or launch failed; .130 a bad runtime cache blob; .199 internal error.
// Errors of the engine file keep their ids (rtx.serialization.NNN).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/types.hpp"

namespace rtx {

/// Verdict of `Runtime::engine_validity`.
enum class EngineValidity : int32_t {
  kVALID = 0,       ///< a cubin for this GPU's compute capability is in the engine
  kSUBOPTIMAL = 1,  ///< no cubin for this GPU, but PTX that the driver can JIT for it
  kINVALID = 2,     ///< cannot run here; the diagnostics say why
};

/// Reasons for kINVALID (or notes on kSUBOPTIMAL), as bits of the `diagnostics` mask.
enum class EngineDiagnostics : uint64_t {
  kVERSION_MISMATCH = 1ull << 0,         ///< engine format version not readable by this library
  kUNSUPPORTED_CC = 1ull << 1,           ///< neither a cubin nor PTX runs on this GPU
  kOLD_CUDA_DRIVER = 1ull << 2,          ///< driver older than the engine's minimum
  kOLD_CUDA_RUNTIME = 1ull << 3,         ///< CUDA runtime older than the engine's minimum
  kINSUFFICIENT_GPU_MEMORY = 1ull << 4,  ///< engine needs more memory than the GPU has (and was
                                         ///< not built for weight streaming)
  kMALFORMED_ENGINE = 1ull << 5,         ///< not an engine, or a corrupt header
  kCUDA_ERROR = 1ull << 6,               ///< no CUDA driver or no device: the GPU cannot be asked
};

/// The bit of `d` in a diagnostics mask.
constexpr uint64_t diagnostic_bit(EngineDiagnostics d) {
  return static_cast<uint64_t>(d);
}
/// True when `mask` has `d`.
constexpr bool has_diagnostic(uint64_t mask, EngineDiagnostics d) {
  return (mask & diagnostic_bit(d)) != 0;
}
/// "valid", "suboptimal", "invalid".
std::string_view to_string(EngineValidity v);
/// Comma-separated names of the bits in `mask` ("unsupported compute capability, old CUDA driver"),
/// "none" for 0.
std::string describe_diagnostics(uint64_t mask);

namespace detail {
struct EngineState;
struct ContextState;
/// The entries of a RuntimeCache: key (PTX hash + compute capability) -> cubin.
struct RuntimeCacheState {
  mutable std::mutex mutex;
  std::map<std::string, std::vector<uint8_t>, std::less<>> entries;
};
}  // namespace detail

/// Cubins this machine compiled from engines' PTX (for GPUs an engine has no cubin for), keyed by
/// the PTX's hash and the GPU's compute capability. Save it after a run and load it next time so
/// the PTX is compiled only once per machine. Thread-safe; copies share the entries.
class RuntimeCache {
 public:
  RuntimeCache() : state_(std::make_shared<detail::RuntimeCacheState>()) {}
  /// Merges the entries of a blob written by serialize(); rtx.runtime.130 for a bad blob.
  Expected<void> load(std::span<const uint8_t> blob);
  /// All entries as bytes (checksummed; deterministic order).
  std::vector<uint8_t> serialize() const;
  /// Number of cubins held.
  size_t size() const {
    std::lock_guard lock(state_->mutex);
    return state_->entries.size();
  }
  /// Internals (the runtime uses them).
  detail::RuntimeCacheState& state() const { return *state_; }

 private:
  std::shared_ptr<detail::RuntimeCacheState> state_;
};

/// Whether an I/O tensor is read or written by the engine.
enum class TensorIOMode : uint8_t { kINPUT = 0, kOUTPUT = 1 };

/// Which bound of the optimization profile.
enum class OptProfileSelector : uint8_t { kMIN = 0, kOPT = 1, kMAX = 2 };

/// Device memory of an execution context (bytes).
struct ContextMemoryReport {
  int64_t activation_bytes = 0;      ///< planned activation memory for the current shapes
  int64_t activation_sum_bytes = 0;  ///< sum of every activation (no reuse): what liveness saves
  int64_t arena_bytes = 0;           ///< memory the context holds or was given for activations
  int64_t staging_bytes = 0;         ///< weight-streaming staging slots of this context
};

/// Device time of one step of a profiled run (ExecutionContext::profile).
struct StepTime {
  std::string name;  ///< the layers the step runs ("conv_1 + relu_1"); "(input uploads)" for data
                     ///< the run uploads before its first step
  std::string kind;  ///< "kernel <family>" ("kernel gemm"), "copy" or "host"
  double ms = 0.0;   ///< between CUDA events recorded around the step on the run's stream
};

class ExecutionContext;

/// A deserialized engine: kernels loaded for this GPU, weights uploaded (or streaming). Cheap to
/// copy (copies share the engine). Read-only while contexts run, except
/// set_weight_streaming_budget.
class Engine {
 public:
  /// Number of inputs plus outputs.
  int32_t num_io_tensors() const;
  /// Name of I/O tensor `index` (inputs first, in declaration order); empty when out of range.
  std::string io_tensor_name(int32_t index) const;
  /// Whether `name` is an input or output; rtx.runtime.110 for an unknown name.
  Expected<TensorIOMode> tensor_io_mode(std::string_view name) const;
  Expected<DataType> tensor_dtype(std::string_view name) const;
  /// Declared shape: -1 for dims that vary within the profile.
  Expected<std::vector<int64_t>> tensor_shape(std::string_view name) const;
  /// Symbolic names of the dims of `name` as the model declared them (ONNX `dim_param`; "" for
  /// an unnamed dim); empty when the model named none. Inputs sharing a name share the extent.
  Expected<std::vector<std::string>> tensor_dim_names(std::string_view name) const;
  /// The profile bound of input `name` (static inputs: their shape).
  Expected<std::vector<int64_t>> profile_shape(std::string_view name,
                                               OptProfileSelector which) const;

  /// True when no cubin matched this GPU and the PTX was compiled here instead.
  bool is_suboptimal() const;
  /// The image in use: "sm_90" or "compute_80".
  std::string image_target() const;
  /// Number of kernels loaded.
  int64_t num_kernels() const;
  /// Device memory of activations at the profile's largest shapes (what a context needs).
  int64_t device_memory_size() const;
  /// Device memory the weights use now (shrinks with a weight-streaming budget).
  int64_t weight_device_bytes() const;

  /// Bytes of weights that may stream (0 unless built with BuilderFlag::kWEIGHT_STREAMING).
  int64_t streamable_weights_size() const;
  /// Device memory for streamable weights: 0 up to streamable_weights_size(); -1 chooses
  /// automatically from free device memory. Weights beyond it stay in pinned host memory and are
  /// copied ahead of use. Not while a context of this engine is enqueuing. rtx.runtime.115/116.
  Expected<void> set_weight_streaming_budget(int64_t bytes);
  /// The budget in effect (streamable_weights_size() when streaming is off or unlimited).
  int64_t weight_streaming_budget() const;
  /// What set_weight_streaming_budget(-1) would choose now.
  int64_t weight_streaming_automatic_budget() const;
  /// Bytes of streamable weights that stream with the current budget.
  int64_t streamed_weight_bytes() const;

  /// A new context. With `user_managed_memory`, the context allocates no activation memory: give
  /// it with ExecutionContext::set_device_memory before enqueuing.
  Expected<ExecutionContext> create_execution_context(bool user_managed_memory = false) const;

  /// Internals.
  explicit Engine(std::shared_ptr<detail::EngineState> state) : state_(std::move(state)) {}
  const std::shared_ptr<detail::EngineState>& state() const { return state_; }

 private:
  std::shared_ptr<detail::EngineState> state_;
};

/// Per-run state of an engine. Move-only; use one context per thread/stream at a time.
class ExecutionContext {
 public:
  ExecutionContext(ExecutionContext&&) noexcept;
  ExecutionContext& operator=(ExecutionContext&&) noexcept;
  ExecutionContext(const ExecutionContext&) = delete;
  ExecutionContext& operator=(const ExecutionContext&) = delete;
  ~ExecutionContext();

  /// Sets the shape of input `name` (within the profile; static dims must match). Needs no
  /// compilation: kernels take run-time dims. rtx.runtime.110/111.
  Expected<void> set_input_shape(std::string_view name, std::span<const int64_t> dims);
  Expected<void> set_input_shape(std::string_view name, std::initializer_list<int64_t> dims) {
    return set_input_shape(name, std::span<const int64_t>(dims.begin(), dims.size()));
  }
  /// Current shape of a tensor: inputs as set, outputs inferred once every dynamic input has a
  /// shape (-1 dims before that). rtx.runtime.110.
  Expected<std::vector<int64_t>> tensor_shape(std::string_view name) const;
  /// Whether every input has a shape (static inputs always do).
  bool all_input_shapes_specified() const;

  /// Device address of an I/O tensor (contiguous, row-major, at least element-aligned; 16-byte
  /// alignment lets more kernels use vector accesses). rtx.runtime.110/112.
  Expected<void> set_tensor_address(std::string_view name, void* address);
  /// The address set for `name`, or nullptr.
  void* tensor_address(std::string_view name) const;

  /// Runs the engine on `stream` (a cudaStream_t; nullptr = the legacy default stream),
  /// asynchronously. Reports errors of earlier host steps (rtx.runtime.121) first.
  Expected<void> enqueue(void* stream);

  /// Runs the engine once on `stream` like enqueue but never as a CUDA graph, with a timing event
  /// before and after every step, waits for the run, and returns each step's device time in
  /// execution order (TensorRT's per-layer profiler; the CLI's --dumpProfile/--exportProfile).
  /// Outputs are written as by enqueue. Events between steps add a little time of their own: sum
  /// the steps for a breakdown, time enqueue for the total.
  Expected<std::vector<StepTime>> profile(void* stream);

  /// Convenience for programs that hold host tensors: sets every input's shape, copies the
  /// inputs to the device, runs on an internal stream, waits, and returns every output (device
  /// buffers are allocated per call). Addresses set earlier are replaced.
  Expected<std::map<std::string, HostTensor>> infer(const std::map<std::string, HostTensor>& inputs);

  /// Capture the whole run as a CUDA graph per (shapes, addresses) and replay it; a change of
  /// either recaptures. Off by default.
  void set_use_cuda_graph(bool on);
  bool use_cuda_graph() const;
  /// Number of CUDA graph captures so far (a replay does not count).
  int64_t cuda_graph_captures() const;
  /// Kernel steps that the latest enqueue ran on the host because their kernel cannot take the
  /// current shapes or addresses (a dynamic dim that broke alignment): one line each, naming the
  /// layers and the reason. Right results, far slower: tools should warn.
  std::vector<std::string> host_fallbacks() const;

  /// Activation memory needed for the current shapes (bytes, 256-byte aligned).
  int64_t device_memory_size() const;
  /// User-managed activation memory (256-byte aligned, device memory of this GPU) of `bytes`;
  /// rtx.runtime.114 when too small for the current shapes at enqueue.
  Expected<void> set_device_memory(void* address, int64_t bytes);
  /// Planned and held memory for the current shapes.
  ContextMemoryReport memory_report() const;

  /// The engine this context runs.
  const Engine& engine() const;

  /// Internals.
  explicit ExecutionContext(std::unique_ptr<detail::ContextState> state);

 private:
  std::unique_ptr<detail::ContextState> state_;
};

/// Entry point of the runtime. Cheap to construct; holds no GPU resources until an engine is
/// deserialized.
class Runtime {
 public:
  Runtime() = default;

  /// Bytes of the engine header, the only bytes `engine_validity` reads: 64 in every format
  /// version, so a tool can read that much of a file and decide.
  static constexpr int64_t engine_header_size() noexcept { return 64; }

  /// Can an engine run on this machine's current CUDA device? Reads the first 64 bytes of
  /// `bytes` only (`size` may be 64 or the whole file) and asks the device for its compute
  /// capability, memory and driver version. Works without a GPU: no driver or no device gives
  /// kINVALID with kCUDA_ERROR. `diagnostics` (may be null) receives the reasons as a bit mask.
  /// Never throws.
  EngineValidity engine_validity(const void* bytes, size_t size,
                                 uint64_t* diagnostics) const noexcept;
  /// Same, for a span of the engine's first bytes.
  EngineValidity engine_validity(std::span<const std::byte> bytes,
                                 uint64_t* diagnostics) const noexcept {
    return engine_validity(bytes.data(), bytes.size(), diagnostics);
  }

  /// Loads an engine held in memory (copied: the bytes may be freed afterwards) on the current
  /// CUDA device.
  Expected<Engine> deserialize(std::span<const uint8_t> bytes) const;
  /// Loads an engine from a buffer it takes over (no copy).
  Expected<Engine> deserialize(std::vector<uint8_t>&& bytes) const;
  /// Loads an engine file (memory-mapped; weights are read from the mapping).
  Expected<Engine> deserialize_file(const std::filesystem::path& path) const;

  /// Where cubins compiled from PTX are kept (shared, not copied); a private cache by default.
  void set_runtime_cache(RuntimeCache cache) { cache_ = std::move(cache); }
  const RuntimeCache& runtime_cache() const { return cache_; }

  /// Also report warnings (suboptimal engine, ...) here; not owned, may be null.
  void set_error_recorder(ErrorRecorder* recorder) { recorder_ = recorder; }

 private:
  RuntimeCache cache_;
  ErrorRecorder* recorder_ = nullptr;
};

}  // namespace rtx
