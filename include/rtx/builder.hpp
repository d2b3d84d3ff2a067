// SPDX-License-Identifier: Apache-2.0
// The builder: turns a Network (typed front end or ONNX import) into a serialized engine on a
// machine that needs no GPU. It runs the IR pass pipeline, plans one kernel (or a host step) per
// node or fused group of nodes, compiles every kernel with NVRTC for each configured GPU
// generation (cubins, plus PTX for newer GPUs), plans activation memory by liveness and writes the
// engine file (serialization/FORMAT.md). Names follow TensorRT-RTX: BuilderConfig, BuilderFlag,
// build_serialized_network.
//
// Error ids (stable): rtx.builder.101 bad compute-capability list (kCURRENT not alone, a
// duplicate, a capability the installed NVRTC cannot target); .102 kCURRENT without a usable GPU;
// .103 a dynamic input without an optimization profile; .104 a profile that does not fit its
// input (rank, static dims, min <= opt <= max); .105 a profile for an unknown input; .106 the
// network has no outputs; .107 a flag combination that cannot be honoured; .110 kernel
// compilation failed (carries the jit error); .111 writing the engine failed; .120 the plan
// cannot be executed (an op neither a kernel nor the host path can run); .130 an explicit target
// cannot run a data type the network uses (FP8 needs 8.9, FP4 10.0, BF16/INT4 8.0); .131
// (warning) default targets below what the types need were dropped; .132 no target can run the
// network's types; .199 internal error.
// Errors of the network itself keep their ids (rtx.frontend.NNN, rtx.ir.NNN).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtx/error.hpp"
#include "rtx/network.hpp"

namespace rtx {

/// A GPU generation to build for: compute capability major * 10 + minor.
enum class ComputeCapability : int32_t {
  kCURRENT = 0,  ///< the GPU of this machine only (needs a GPU; must be the only entry)
  kSM75 = 75,    ///< Turing; only on request (not in the default set)
  kSM80 = 80,    ///< Ampere A100
  kSM86 = 86,    ///< Ampere consumer
  kSM89 = 89,    ///< Ada
  kSM90 = 90,    ///< Hopper H100/H200
  kSM100 = 100,  ///< Blackwell B200
  kSM120 = 120,  ///< Blackwell consumer
};

/// Builder switches (TensorRT's names).
enum class BuilderFlag : uint32_t {
  /// Weights may stay in pinned host memory and stream to the GPU ahead of use
  /// (Engine::set_weight_streaming_budget).
  kWEIGHT_STREAMING = 0,
  /// Leave the weights out of the engine file; refit them before running (needs no GPU, any
  /// number of targets).
  kSTRIP_PLAN = 1,
  /// Kernels read weights as inputs, so any weight may later be refit with new values.
  kREFIT = 2,
};

/// Build stages reported to the progress callback, in order.
enum class BuildStage : uint8_t {
  kPASSES = 0,     ///< IR passes (folding, fusion, dead code)
  kPLANNING = 1,   ///< kernel choice per node, memory plan
  kCOMPILING = 2,  ///< NVRTC, one image per target (cache hits count as done)
  kWRITING = 3,    ///< engine assembly and serialization
  kDONE = 4,
};

/// "passes", "planning", "compiling", "writing", "done".
std::string_view to_string(BuildStage stage);

/// One progress report.
struct BuildProgress {
  BuildStage stage = BuildStage::kPASSES;
  int64_t completed = 0;   ///< kCOMPILING: images finished so far (else 0 or 1)
  int64_t total = 0;       ///< kCOMPILING: images to produce (one per target)
  int64_t kernels = 0;     ///< kernels in every image
  int64_t cache_hits = 0;  ///< images served from the kernel cache so far
  std::string message;     ///< e.g. "sm_90 compiled in 3.1 s"
};

/// Bounds of one input of an optimization profile: per dim min <= opt <= max; static dims repeat
/// their extent.
struct ProfileDims {
  std::vector<int64_t> min, opt, max;
};

/// How the builder works.
class BuilderConfig {
 public:
  /// The targets: each a cubin; PTX for the lowest is added unless set_ptx(false). Default (empty
  /// list): every generation from 8.0 the installed NVRTC supports (80, 86, 89, 90, 100, 120).
  void set_compute_capabilities(std::vector<ComputeCapability> targets) { targets_ = std::move(targets); }
  const std::vector<ComputeCapability>& compute_capabilities() const { return targets_; }
  /// Whether PTX of the lowest target is added (so newer, unknown GPUs can run the engine).
  void set_ptx(bool ptx) { ptx_ = ptx; }
  bool ptx() const { return ptx_; }

  void set_flag(BuilderFlag flag) { flags_ |= bit(flag); }
  void clear_flag(BuilderFlag flag) { flags_ &= ~bit(flag); }
  bool get_flag(BuilderFlag flag) const { return (flags_ & bit(flag)) != 0; }

  /// The optimization profile of input `name` (overrides the network's). One profile per engine.
  void set_profile(std::string name, ProfileDims dims) { profiles_[std::move(name)] = std::move(dims); }
  const std::map<std::string, ProfileDims, std::less<>>& profiles() const { return profiles_; }

  /// Also report errors (and warnings) here; not owned, may be null.
  void set_error_recorder(ErrorRecorder* recorder) { recorder_ = recorder; }
  ErrorRecorder* error_recorder() const { return recorder_; }

  /// Called from the building thread (and, while compiling, from worker threads one at a time).
  void set_progress_callback(std::function<void(const BuildProgress&)> callback) {
    progress_ = std::move(callback);
  }
  const std::function<void(const BuildProgress&)>& progress_callback() const { return progress_; }

  /// Folder of the on-disk kernel cache; empty (default) uses $RTX_CACHE_DIR / the user cache
  /// folder, or memory only when none is set.
  void set_kernel_cache_directory(std::filesystem::path dir) { cache_dir_ = std::move(dir); }
  const std::filesystem::path& kernel_cache_directory() const { return cache_dir_; }

 private:
  static uint32_t bit(BuilderFlag f) { return 1u << static_cast<uint32_t>(f); }
  std::vector<ComputeCapability> targets_;
  bool ptx_ = true;
  uint32_t flags_ = 0;
  std::map<std::string, ProfileDims, std::less<>> profiles_;
  ErrorRecorder* recorder_ = nullptr;
  std::function<void(const BuildProgress&)> progress_;
  std::filesystem::path cache_dir_;
};

/// Bytes of a serialized engine.
class HostMemory {
 public:
  HostMemory() = default;
  explicit HostMemory(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  std::span<const uint8_t> bytes() const { return bytes_; }
  /// Gives the bytes away (the object is empty afterwards).
  std::vector<uint8_t> release() { return std::move(bytes_); }
  /// Writes the bytes to `path` atomically (temporary file + rename); rtx.builder.111.
  Expected<void> save(const std::filesystem::path& path) const;

 private:
  std::vector<uint8_t> bytes_;
};

/// What a build produced besides the bytes (for logs, the CLI and tests).
struct BuildReport {
  int64_t kernel_steps = 0;      ///< plan steps run by JIT kernels
  int64_t host_steps = 0;        ///< plan steps run on the host (no GPU kernel for those ops yet)
  int64_t alias_steps = 0;       ///< reshapes that cost nothing
  int64_t kernels = 0;           ///< distinct kernels compiled
  int64_t images = 0;            ///< images (one per target)
  int64_t cache_hits = 0;        ///< images served by the kernel cache
  int64_t weight_bytes = 0;      ///< bytes of weights
  int64_t activation_peak_bytes = 0;  ///< activation memory at the largest profile shapes
  int64_t activation_sum_bytes = 0;   ///< the sum of all activations (what no reuse would need)
  std::vector<std::string> host_ops;  ///< ops that run on the host, e.g. "Conv 'conv_1'"
  std::vector<std::string> warnings;  ///< also sent to the ErrorRecorder (e.g. rtx.builder.131:
                                      ///< default targets cut by a type's hardware gate)
  double seconds = 0.0;
};

/// Builds engines. Needs no GPU (except for ComputeCapability::kCURRENT).
class Builder {
 public:
  Builder() = default;
  /// Builds `network` into engine bytes. `report` (may be null) receives statistics. Errors are
  /// also reported to config.error_recorder().
  Expected<HostMemory> build_serialized_network(const Network& network, const BuilderConfig& config,
                                                BuildReport* report = nullptr) const;
};

}  // namespace rtx
