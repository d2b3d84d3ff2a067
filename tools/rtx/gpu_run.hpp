// SPDX-License-Identifier: Apache-2.0
// Running an engine on the GPU the way trtexec does: deserialize (with the runtime cache), apply
// the weight-streaming budget, set input shapes, upload inputs, run one checked inference with
// the outputs poisoned first (0xFF bytes: NaN in every float type, so an element a kernel forgot
// to write cannot pass --check), warm up, then time inferences with CUDA events while the next
// one is already enqueued (two in flight), optionally with host<->device copies around each,
// spin-waiting or blocking, with or without CUDA graph replay. The timestamps feed report.hpp.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "tools/rtx/options.hpp"
#include "tools/rtx/report.hpp"
#include "tools/rtx/tensor_io.hpp"

namespace rtx::cli {

/// The engine to run: a file, or bytes built or refit in this invocation.
struct EngineSource {
  std::string path;            ///< used when `bytes` is empty
  std::vector<uint8_t> bytes;  ///< engine bytes
};

/// What a GPU run produced.
struct GpuRunResult {
  std::vector<std::pair<std::string, InputChoice>> inputs;  ///< as prepared (for --check)
  std::vector<std::pair<std::string, HostTensor>> outputs;  ///< of the checked inference
  std::vector<InferenceTrace> traces;                       ///< timed inferences
  PerformanceSummary summary;
  std::vector<LayerProfile> profile;  ///< --dumpProfile/--exportProfile: per step, per run
  size_t profile_runs = 0;
};

/// Whether a usable GPU exists; the reason when not ("rtx.jit.201: CUDA driver version is
/// insufficient for CUDA runtime version").
Expected<std::string> gpu_description(int device);

/// Runs `engine` on GPU `options.device` and prints the engine facts, the inputs and the
/// performance summary to `out`. Errors: rtx.cli.301 (no GPU), 305 (a CUDA call failed), the
/// runtime's ids, the input ids of tensor_io.hpp.
Expected<GpuRunResult> run_on_gpu(const EngineSource& engine, const Options& options,
                                  std::ostream& out);

}  // namespace rtx::cli
