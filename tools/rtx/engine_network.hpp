// SPDX-License-Identifier: Apache-2.0
// The network inside an engine. Every engine stores the optimized IR graph it was built from in
// its `plan` metadata (jit/runtime/plan.hpp), with weights in the weights table. Rebuilding an
// rtx::Network from the two lets `rtx --loadEngine=... --backend=reference` run an engine on the
// CPU, and `--check` compare an engine loaded from a file with the reference evaluator, without
// the original model.
#pragma once

#include "rtx/error.hpp"
#include "rtx/network.hpp"
#include "serialization/engine_model.hpp"

namespace rtx::cli {

/// The engine's network (inputs, weights, constants, nodes, outputs and the profile). Errors:
/// rtx.cli.303 when the engine has no plan or no weight data (a stripped engine: refit it first);
/// the plan reader's id (rtx.runtime.105) for a plan it rejects.
Expected<Network> network_from_engine(const serialization::EngineModel& model);

}  // namespace rtx::cli
