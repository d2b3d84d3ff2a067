// SPDX-License-Identifier: Apache-2.0
// The pass pipeline: one flat, named list. Each pass rewrites the graph in place. With
// RTX_IR_VERIFY=1 the verifier runs after every pass and names the pass that broke the graph;
// with RTX_IR_DUMP=<dir> each pass writes the graph as text to <dir>/<NN>_<pass>.txt.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.hpp"

namespace rtx::ir {

struct PassOptions {
  bool verify_each = false;  ///< also enabled by RTX_IR_VERIFY=1
  std::string dump_dir;      ///< also taken from RTX_IR_DUMP
  /// Constant folding evaluates nodes whose outputs hold at most this many elements (large
  /// constant subgraphs stay in the graph and run as kernels; their results would bloat engines).
  int64_t fold_element_limit = 1 << 20;
  /// fold_constants leaves every node that reads a weight alone: a weight-dependent result would
  /// tie the graph to the weights' values (refit, weightless engines) and hide Q/DQ of weights
  /// from the quantized-kernel passes. The builder and the ONNX importer set it.
  bool keep_weights = false;
};

struct Pass {
  std::string_view name;
  void (*run)(Graph&, const PassOptions&);
};

/// Evaluates nodes whose inputs are all constants (weights too, unless options.keep_weights; and
/// Shape/Size of static shapes) with the reference evaluator and replaces their outputs by
/// constants. Re-infers shapes as it goes, so
/// Reshape/Expand/... fed by folded shape subgraphs get static dims.
void fold_constants(Graph& graph, const PassOptions& options);
/// Removes Identity nodes (rewiring their users) except where the input is a graph input that
/// is also needed under the output's name.
void remove_identities(Graph& graph, const PassOptions& options);
/// Removes nodes none of whose outputs reach a graph output, then compacts the graph.
void remove_dead_nodes(Graph& graph, const PassOptions& options);

/// The default pipeline, in order.
std::span<const Pass> default_pipeline();

/// Runs `passes` in order (see the file comment for verification and dumps).
void run_passes(Graph& graph, std::span<const Pass> passes, PassOptions options = {});

}  // namespace rtx::ir
