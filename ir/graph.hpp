// SPDX-License-Identifier: Apache-2.0
// The graph IR: values (dtype + shape, dims may be dynamic), nodes (op kind + typed attributes),
// and a graph with named inputs, outputs and weights. Weights are HostTensors, kept by reference
// (shared storage), never copied needlessly. Both front ends (typed C++ and ONNX) produce this.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "ir/op_kind.hpp"
#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/types.hpp"

namespace rtx::ir {

using ValueId = int32_t;
using NodeId = int32_t;
inline constexpr ValueId kNoValue = -1;
/// A dim whose extent is known only at run time.
inline constexpr int64_t kDynamic = -1;

/// An attribute value (ONNX attribute types we use). Floats are stored as double.
using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>,
                               std::vector<double>, std::vector<std::string>, HostTensor>;

/// dtype + shape of a value; `present` is false for an omitted optional input.
struct TensorInfo {
  DataType dtype = DataType::kF32;
  std::vector<int64_t> shape;  ///< kDynamic for dims known only at run time
  bool present = true;
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  bool is_static() const;
  /// Element count, or kDynamic if any dim is dynamic.
  int64_t element_count() const;
};

/// Profile bounds of one graph input: per dim min <= opt <= max (static dims repeat their value).
struct InputProfile {
  std::vector<int64_t> min, opt, max;
};

enum class ValueKind : uint8_t {
  kInput,         ///< a named graph input
  kWeight,        ///< a named weight (initializer): refittable, stored in the engine
  kConstant,      ///< a constant made by a front end or a pass (folded values, shape constants)
  kIntermediate,  ///< produced by a node
};

struct Value {
  std::string name;  ///< unique in the graph
  TensorInfo info;
  std::vector<std::string> dim_names;  ///< optional symbolic names (inputs); empty or rank-sized
  ValueKind kind = ValueKind::kIntermediate;
  NodeId producer = -1;  ///< node producing it, -1 for inputs, weights, constants
};

struct Node {
  OpKind op = OpKind::kIdentity;
  std::string name;
  std::vector<ValueId> inputs;  ///< kNoValue for an omitted optional input
  std::vector<ValueId> outputs;
  std::map<std::string, AttrValue, std::less<>> attrs;
  bool dead = false;  ///< removed by a pass; skipped everywhere, dropped by Graph::compact()

  bool has_attr(std::string_view key) const { return attrs.find(key) != attrs.end(); }
  // Typed accessors: a present attribute of the wrong type is an error naming node and key.
  int64_t attr_int(std::string_view key, int64_t fallback) const;
  int64_t attr_int(std::string_view key) const;  ///< required
  double attr_float(std::string_view key, double fallback) const;
  std::string attr_string(std::string_view key, std::string fallback) const;
  std::vector<int64_t> attr_ints(std::string_view key, std::vector<int64_t> fallback = {}) const;
  std::optional<std::vector<int64_t>> find_ints(std::string_view key) const;
  std::vector<double> attr_floats(std::string_view key, std::vector<double> fallback = {}) const;
  const HostTensor* attr_tensor(std::string_view key) const;  ///< nullptr if absent
  /// "Conv 'conv1'" for messages.
  std::string describe() const;
  /// Number of present (not kNoValue) inputs... and whether input i is present.
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != kNoValue; }
};

class Graph {
 public:
  /// Adds a named graph input. Throws on a duplicate name.
  ValueId add_input(std::string name, DataType dtype, std::vector<int64_t> shape,
                    std::vector<std::string> dim_names = {});
  /// Adds a named weight (refittable). Data is shared, not copied.
  ValueId add_weight(std::string name, HostTensor data);
  /// Adds a constant; an empty name gets a generated unique one.
  ValueId add_constant(HostTensor data, std::string name = {});
  /// Adds a node with `num_outputs` fresh outputs (named after the node, or `output_names`).
  /// Output infos are unknown until infer_node()/infer_shapes().
  NodeId add_node(OpKind op, std::string name, std::vector<ValueId> inputs, int num_outputs = 1,
                  std::map<std::string, AttrValue, std::less<>> attrs = {},
                  std::vector<std::string> output_names = {});
  /// Marks a value as a graph output. Renames it to `name` if given (throws on a clash).
  void mark_output(ValueId v, std::string name = {});
  void set_profile(std::string_view input_name, InputProfile profile);

  const Value& value(ValueId v) const { return values_.at(static_cast<size_t>(v)); }
  Value& value(ValueId v) { return values_.at(static_cast<size_t>(v)); }
  const Node& node(NodeId n) const { return nodes_.at(static_cast<size_t>(n)); }
  Node& node(NodeId n) { return nodes_.at(static_cast<size_t>(n)); }
  const std::vector<Value>& values() const { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& nodes() { return nodes_; }
  const std::vector<ValueId>& inputs() const { return inputs_; }
  const std::vector<ValueId>& outputs() const { return outputs_; }
  std::vector<ValueId>& outputs() { return outputs_; }
  const std::map<std::string, InputProfile, std::less<>>& profiles() const { return profiles_; }
  /// Value id by name, or kNoValue.
  ValueId find_value(std::string_view name) const;
  /// Data of a weight or constant, else nullptr.
  const HostTensor* constant_data(ValueId v) const;
  /// Replaces the data of a weight or constant (same dtype and shape; refit, folding).
  void set_constant_data(ValueId v, HostTensor data);
  /// Turns an intermediate value into a constant holding `data` (constant folding); its producer
  /// loses that output.
  void make_constant(ValueId v, HostTensor data);
  /// Renames a value (throws on a clash).
  void rename_value(ValueId v, std::string name);
  /// A fresh name built from `base` that no value uses yet.
  std::string unique_name(std::string_view base) const;
  /// Replaces every use of `from` (node inputs and graph outputs) by `to`.
  void replace_uses(ValueId from, ValueId to);
  /// Nodes consuming `v` (live ones).
  std::vector<NodeId> consumers(ValueId v) const;
  /// Live nodes in a topological order. Throws rtx.ir.101 (cycle) naming a node on the cycle.
  std::vector<NodeId> topological_order() const;
  /// Infers dtype and shape of node `n`'s outputs from its inputs (throws with node context).
  void infer_node(NodeId n);
  /// Infers every live node in topological order.
  void infer_shapes();
  /// Checks structure: ids in range, single producer, no cycles, no dangling inputs, graph
  /// outputs produced, names unique, arity per op, and that stored infos match re-inference.
  /// Throws rtx::Exception (rtx.ir.1xx) naming the node and its operands.
  void verify() const;
  /// Drops dead nodes and values nothing refers to (ids change; names don't).
  void compact();
  /// Human-readable listing, one node per line.
  std::string to_text() const;
  /// Graphviz DOT.
  std::string to_dot() const;

 private:
  ValueId new_value(std::string name, ValueKind kind);
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> inputs_;
  std::vector<ValueId> outputs_;
  std::unordered_map<ValueId, HostTensor> constants_;
  std::unordered_map<std::string, ValueId> by_name_;
  std::map<std::string, InputProfile, std::less<>> profiles_;
};

/// Describes a TensorInfo: "f16[?,784]".
std::string describe(const TensorInfo& info);

}  // namespace rtx::ir
