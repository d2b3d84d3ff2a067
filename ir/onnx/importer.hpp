// SPDX-License-Identifier: Apache-2.0
// The ONNX importer's internals: the node view the converters work on (attributes already turned
// into IR attribute values, model-local functions already expanded), the conversion context
// through which converters build IR nodes, and the import driver. Converters (converters.cpp)
// are one small function per ONNX op type; they upgrade older opset forms to the IR's forms.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.hpp"
#include "ir/onnx/model_io.hpp"
#include "ir/onnx/proto.hpp"
#include "rtx/error.hpp"
#include "rtx/onnx.hpp"

namespace rtx::onnx {

using Attrs = std::map<std::string, ir::AttrValue, std::less<>>;

/// One element of a shape-like integer tensor as far as the importer knows it: a number, or
/// "dim `index` of value `source`" (a dynamic dim read through Shape).
struct SymDim {
  int64_t value = 0;
  ir::ValueId source = ir::kNoValue;
  int64_t index = -1;
  bool known() const { return source == ir::kNoValue; }
  bool operator==(const SymDim&) const = default;
};
/// The symbolic value of a 0-d or 1-d integer tensor (Shape -> Gather -> Concat chains).
struct SymValue {
  bool scalar = false;
  std::vector<SymDim> elems;
  bool all_known() const {
    for (const auto& e : elems)
      if (!e.known()) return false;
    return true;
  }
};

/// One ONNX node after function expansion, with its attributes converted to IR values.
struct OnnxNode {
  std::string op_type;
  std::string domain;  ///< "" for the default domain ("ai.onnx" is normalised to "")
  std::string name;    ///< the model's node name, or "<op_type>_<index>" when it has none
  bool unnamed = false;
  int64_t opset = 0;                 ///< version of `domain` in effect for this node
  int64_t index = 0;                 ///< position in the expanded node list
  std::vector<std::string> inputs;   ///< "" for an omitted optional input
  std::vector<std::string> outputs;  ///< "" for an output the model does not use
  Attrs attrs;
  /// Attributes that were not converted (graph-valued ones: If/Loop bodies...).
  std::vector<std::string> skipped_attrs;
  /// The first attribute conversion error (a bad TENSOR attribute...), raised when the node is
  /// converted, so the scan for unsupported operators still sees every node first.
  std::optional<Error> attr_error;
  /// "Conv node 'conv1' (opset 13)" for messages.
  std::string describe() const;
};

/// Converts one AttributeProto (TENSOR attributes borrow from `owner`). Graph-valued and type
/// attributes return nullopt.
std::optional<ir::AttrValue> convert_attribute(const pb::AttributeProto& a,
                                               const std::shared_ptr<const void>& owner,
                                               ExternalDataStore* external,
                                               const std::string& where);

class Importer;

/// What a converter sees of one ONNX node, and how it adds IR nodes. Every IR node it adds is
/// inferred at once, so later steps of the same converter can look at ranks and dtypes.
class ConvertContext {
 public:
  ConvertContext(Importer& importer, const OnnxNode& node) : imp_(importer), node_(node) {}

  const OnnxNode& node() const { return node_; }
  int64_t opset() const { return node_.opset; }

  // ---- inputs ----
  size_t num_inputs() const { return node_.inputs.size(); }
  bool has_input(size_t i) const { return i < node_.inputs.size() && !node_.inputs[i].empty(); }
  /// Value of ONNX input i, or ir::kNoValue when omitted.
  ir::ValueId input(size_t i) const;
  /// Value of ONNX input i; rtx.onnx.313 when omitted.
  ir::ValueId required_input(size_t i) const;
  /// All inputs (kNoValue for omitted ones), trailing omitted ones dropped.
  std::vector<ir::ValueId> inputs() const;
  const ir::TensorInfo& info(ir::ValueId v) const;
  /// Data of a weight or constant value, else nullptr.
  const HostTensor* constant(ir::ValueId v) const;
  /// ints of a constant integer value (1-D or scalar), nullopt if not constant.
  std::optional<std::vector<int64_t>> constant_ints(ir::ValueId v) const;
  /// What the importer knows of the elements of a shape-like integer value (nullopt: nothing).
  std::optional<SymValue> symbolic(ir::ValueId v) const;
  /// Dim `d` of `v` traced back through ops that pass it through unchanged (the form SymDims use).
  SymDim canonical_dim(ir::ValueId v, int64_t d) const;

  // ---- outputs ----
  size_t num_outputs() const { return node_.outputs.size(); }
  bool wants_output(size_t i) const {
    return i < node_.outputs.size() && !node_.outputs[i].empty();
  }

  // ---- attributes (errors are rtx.onnx.308 naming the node) ----
  bool has_attr(std::string_view key) const { return node_.attrs.find(key) != node_.attrs.end(); }
  int64_t attr_int(std::string_view key, int64_t fallback) const;
  double attr_float(std::string_view key, double fallback) const;
  std::string attr_string(std::string_view key, std::string fallback) const;
  std::optional<std::vector<int64_t>> attr_ints(std::string_view key) const;
  std::optional<std::vector<double>> attr_floats(std::string_view key) const;
  const HostTensor* attr_tensor(std::string_view key) const;
  /// The node's attributes minus `drop` (for 1:1 conversions that move some to inputs).
  Attrs attrs_except(std::initializer_list<std::string_view> drop) const;

  // ---- building ----
  /// A 1-D int64 constant.
  ir::ValueId const_ints(const std::vector<int64_t>& values);
  /// A 0-d constant of `dtype`.
  ir::ValueId const_scalar(DataType dtype, double value);
  ir::ValueId const_tensor(HostTensor data);
  /// An intermediate node with one output; returns it.
  ir::ValueId add(ir::OpKind op, std::vector<ir::ValueId> inputs, Attrs attrs = {});
  /// An intermediate node with `num_outputs` outputs.
  std::vector<ir::ValueId> add_multi(ir::OpKind op, std::vector<ir::ValueId> inputs, Attrs attrs,
                                     int num_outputs);
  /// The node producing the ONNX node's outputs (named like them). `num_ir_outputs` < 0: as many
  /// as the ONNX node lists.
  void emit(ir::OpKind op, std::vector<ir::ValueId> inputs, Attrs attrs, int num_ir_outputs = -1);
  /// A node producing only ONNX output `out_index`.
  void emit_output(size_t out_index, ir::OpKind op, std::vector<ir::ValueId> inputs,
                   Attrs attrs = {});
  /// ONNX output `out_index` is the constant `data`.
  void bind_constant(size_t out_index, HostTensor data);

  [[noreturn]] void fail(const char* id, const std::string& message) const;
  void warn(const char* id, const std::string& message) const;

 private:
  Importer& imp_;
  const OnnxNode& node_;
  int step_ = 0;
};

using ConvertFn = void (*)(ConvertContext&);

/// The converter of default-domain op `op_type`, or nullptr. `min_opset` tells from which opset
/// on the converter knows the op's forms.
struct OpConverter {
  std::string_view op_type;
  int64_t min_opset;
  ConvertFn fn;
};
const OpConverter* find_converter(std::string_view op_type);
const std::vector<OpConverter>& all_converters();

/// The oldest default-domain opset a model may import (each op also has its own minimum: the
/// first version whose form its converter reads, OpConverter::min_opset).
inline constexpr int64_t kMinOpset = 1;
/// The newest default-domain opset whose operator changes were reviewed (later ones: warning).
inline constexpr int64_t kMaxKnownOpset = 27;

struct ImportOptions {
  bool fold_constants = true;
  bool fuse_patterns = true;
  int max_function_depth = 16;
};

/// Everything an import reports besides the graph.
struct ImportLog {
  std::vector<Error> warnings;
  std::vector<UnsupportedNode> unsupported;
};

/// Builds the IR graph of `model`. Throws rtx::Exception on any error.
ir::Graph import_model(const LoadedModel& model, const ImportOptions& options, ImportLog& log);

}  // namespace rtx::onnx
