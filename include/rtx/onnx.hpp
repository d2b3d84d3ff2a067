// SPDX-License-Identifier: Apache-2.0
// The ONNX parser: turns an ONNX model (a file or bytes in memory) into an rtx::Network, the same
// graph the typed front end builds. Opsets 7 to 27 of the default domain are read; older forms of
// an op (attributes that later opsets moved to inputs, Softmax's 2-D coercion, Upsample...) are
// upgraded to the IR's opset-23 forms. Initializers become named, refittable weights that borrow
// their bytes from the parsed model or from a memory map of the external data file, so large
// weights are never copied twice. Shape-computing subgraphs are folded and the decomposed forms
// exporters emit (LayerNorm, GELU, RMSNorm, SiLU, scaled-dot-product attention) become fused ops.
//
// No protobuf type appears here. Error ids are rtx.onnx.NNN (listed in docs/onnx.md); a model
// that uses unsupported operators gets ONE error (rtx.onnx.301) naming every such node with its
// op type, node name, domain and opset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/network.hpp"

namespace rtx::onnx {

/// Knobs of the parser. The defaults are what a user importing an export wants.
struct ParserOptions {
  /// Fold constant subgraphs (Shape -> Gather -> Concat -> Reshape chains and the like) with the
  /// reference evaluator after import.
  bool fold_constants = true;
  /// Turn decomposed LayerNorm / GELU / RMSNorm / SiLU / attention subgraphs into fused IR ops.
  bool fuse_patterns = true;
  /// Depth limit of model-local function expansion (guards against recursive functions).
  int max_function_depth = 16;
};

/// One operator of a model that the parser cannot import.
struct UnsupportedNode {
  std::string op_type;
  std::string domain;      ///< "" for the default ONNX domain
  int64_t opset = 0;       ///< version of `domain` the model imports (0 if none)
  std::string node_name;   ///< may be empty in the model; then the node is named by index
  int64_t node_index = 0;  ///< position in the (function-expanded) node list
};

/// Parses ONNX models into Networks (TensorRT's IParser, reshaped for Expected). Not thread-safe:
/// use one Parser per thread. Errors and warnings also go to the ErrorRecorder when one is set.
class Parser {
 public:
  /// `recorder` (optional, not owned) receives every error and warning as it is found.
  explicit Parser(ErrorRecorder* recorder = nullptr, ParserOptions options = {});

  /// Reads and parses `path`. External data files are found relative to the model's folder.
  Expected<Network> parse_from_file(const std::string& path);
  /// Parses a serialized ModelProto. `model_dir` is where external data files live; leave it
  /// empty for a model without external data (a model that needs some then fails, rtx.onnx.209).
  Expected<Network> parse(std::span<const std::byte> model, const std::string& model_dir = {});
  /// Same, from a raw pointer and size.
  Expected<Network> parse(const void* data, size_t size, const std::string& model_dir = {});

  /// Errors of the last parse (empty after a success).
  const std::vector<Error>& errors() const { return errors_; }
  /// Warnings of the last parse (ignored attributes, newer opsets...).
  const std::vector<Error>& warnings() const { return warnings_; }
  /// The unsupported operators found by the last parse (what rtx.onnx.301 lists).
  const std::vector<UnsupportedNode>& unsupported_nodes() const { return unsupported_; }

  /// Whether op `op_type` of `domain` ("" or "ai.onnx" for the default domain) at opset `opset`
  /// can be imported (attributes permitting).
  static bool supports_operator(std::string_view op_type, int64_t opset = 23,
                                std::string_view domain = "");
  /// Every default-domain op type the parser imports, sorted.
  static std::vector<std::string> supported_operators();

 private:
  Expected<Network> finish(Expected<Network> result);
  ErrorRecorder* recorder_;
  ParserOptions options_;
  std::vector<Error> errors_;
  std::vector<Error> warnings_;
  std::vector<UnsupportedNode> unsupported_;
};

/// Reads the initializers of the model at `path` without building a network (refit from ONNX):
/// every initializer, or only those named in `names` (a name that is not an initializer is an
/// error, rtx.onnx.401). Tensors borrow from the parsed model / mapped external data.
Expected<std::map<std::string, HostTensor>> read_initializers(
    const std::string& path, const std::vector<std::string>& names = {});

}  // namespace rtx::onnx
