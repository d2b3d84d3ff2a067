// SPDX-License-Identifier: Apache-2.0
// The reference evaluator: runs any verified graph on the CPU, node by node, with each op's
// reference implementation (ir/ops/*). Floating types are computed in double and rounded once to
// the output dtype (round to nearest even); integers in int64. It is the test oracle, the
// constant folder and the CLI's --backend=reference.
#pragma once

#include <map>
#include <string>

#include "ir/graph.hpp"

namespace rtx::ir {

using TensorMap = std::map<std::string, HostTensor, std::less<>>;

struct ReferenceOptions {
  /// Also return every intermediate value by name (debugging, per-layer comparisons).
  bool keep_intermediates = false;
};

/// Evaluates `graph` on `inputs` (by input name). Checks that every input is given with the
/// declared dtype and a shape matching static dims (and the profile, if any). Returns the graph
/// outputs by name. Throws rtx::Exception (rtx.reference.NNN, or the failing op's id) on error.
TensorMap evaluate(const Graph& graph, const TensorMap& inputs, const ReferenceOptions& options = {});

}  // namespace rtx::ir
