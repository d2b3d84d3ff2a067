// SPDX-License-Identifier: Apache-2.0
// Hardware gating of data types, as TensorRT-RTX documents it: some types need a minimum GPU
// generation (compute capability), so an engine that uses them cannot run on older GPUs.
//
//   FP8 (e4m3, e5m2)   8.9 or later (Ada, Hopper, Blackwell)
//   FP4 (e2m1)         10.0 or later (Blackwell)
//   BF16, INT4, UINT4  8.0 or later (Ampere)
//
// A layer (IR node) uses a type when one of its inputs or outputs has it. The builder calls
// check_hardware_support() once, after the passes, with the targets it resolved:
//   - no target list (the default targets): the engine's minimum compute capability rises to
//     what its types need. Targets below it are dropped (a PTX target is raised to the lowest
//     remaining cubin's architecture, so newer GPUs can still JIT it), and one warning per
//     raising type is recorded (rtx.builder.131). If no target remains: error rtx.builder.132.
//   - an explicit target list: every (type, target) pair where the target cannot run the type is
//     an error naming the first layer using the type, the type and the target (rtx.builder.130);
//     the targets are returned unchanged and the build must stop.
// Errors and warnings go to the ErrorRecorder (when given) and into the result. The builder
// records GatingResult::min_sm in the engine header: the runtime then reports an engine checked
// on an older GPU as kINVALID with kUNSUPPORTED_CC.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "jit/compiler.hpp"
#include "rtx/error.hpp"
#include "rtx/types.hpp"

namespace rtx::jit {

/// Error ids of the gating rules.
namespace gating_errc {
inline constexpr const char* kUnsupportedTarget = "rtx.builder.130";  ///< explicit target too old
inline constexpr const char* kMinimumRaised = "rtx.builder.131";      ///< warning: default targets cut
inline constexpr const char* kNoTargetLeft = "rtx.builder.132";       ///< nothing can run the engine
}  // namespace gating_errc

/// The oldest compute capability (major * 10 + minor) that runs `dtype`: 89 for FP8, 100 for
/// FP4, 80 for BF16, INT4 and UINT4, 0 for types every supported GPU runs.
int min_compute_capability(DataType dtype);

/// One gated type the graph uses.
struct GatedType {
  DataType dtype = DataType::kF32;
  int min_sm = 0;             ///< min_compute_capability(dtype)
  std::string first_layer;    ///< "DequantizeLinear 'dq_w'": the first layer (topological order)
  int layers = 0;             ///< how many layers use it
};

/// What check_hardware_support() decided.
struct GatingResult {
  bool ok = true;       ///< false when an error was recorded: the build must stop
  int min_sm = 0;       ///< the engine's minimum compute capability (0: no gated type used)
  std::vector<Target> targets;  ///< the targets to build (see the file comment)
  std::vector<GatedType> types; ///< gated types used, ascending by dtype
  std::vector<Error> errors;    ///< as reported to the recorder
  std::vector<Error> warnings;  ///< as reported to the recorder
};

/// Applies the gating rules to `graph` (an inferred IR graph) for `targets`. With
/// `targets_were_explicit` false (the builder's default target list) the minimum is raised with
/// a warning; with true every unable target is an error. Reports to `recorder` when non-null.
/// Never throws for gating outcomes; only a malformed graph throws (rtx::Exception).
GatingResult check_hardware_support(const ir::Graph& graph, std::span<const Target> targets,
                                    bool targets_were_explicit, ErrorRecorder* recorder);

}  // namespace rtx::jit
