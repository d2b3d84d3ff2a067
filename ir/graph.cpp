// SPDX-License-Identifier: Apache-2.0
// Graph construction, attribute access, topological order, inference driver, verifier, dumps.
#include "ir/graph.hpp"

#include <algorithm>
#include <sstream>
#include <unordered_set>

#include "ir/op_registry.hpp"

namespace rtx::ir {
namespace {

[[noreturn]] void attr_error(const Node& n, std::string_view key, const char* want) {
  throw Exception("rtx.ir.140", n.describe() + ": attribute '" + std::string(key) + "' is not " + want);
}

template <class T>
const T* find_attr(const Node& n, std::string_view key, const char* want) {
  auto it = n.attrs.find(key);
  if (it == n.attrs.end()) return nullptr;
  if (const T* p = std::get_if<T>(&it->second)) return p;
  attr_error(n, key, want);
}

std::string join_ints(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

std::string attr_to_string(const AttrValue& a) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t>) return std::to_string(v);
        else if constexpr (std::is_same_v<T, double>) {
          std::ostringstream o;
          o << v;
          return o.str();
        } else if constexpr (std::is_same_v<T, std::string>) return "\"" + v + "\"";
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return join_ints(v);
        else if constexpr (std::is_same_v<T, std::vector<double>>) {
          std::ostringstream o;
          o << "[";
          for (size_t i = 0; i < v.size(); ++i) o << (i ? "," : "") << v[i];
          o << "]";
          return o.str();
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::string s = "[";
          for (size_t i = 0; i < v.size(); ++i) s += (i ? ",\"" : "\"") + v[i] + "\"";
          return s + "]";
        } else return "tensor " + v.describe();
      },
      a);
}

}  // namespace

bool TensorInfo::is_static() const {
  return std::all_of(shape.begin(), shape.end(), [](int64_t d) { return d >= 0; });
}

int64_t TensorInfo::element_count() const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return kDynamic;
    n *= d;
  }
  return n;
}

std::string describe(const TensorInfo& info) {
  if (!info.present) return "<absent>";
  return std::string(to_string(info.dtype)) + shape_to_string(info.shape);
}

// ---- Node --------------------------------------------------------------------------------------

std::string Node::describe() const {
  return std::string(op_name(op)) + " '" + name + "'";
}

int64_t Node::attr_int(std::string_view key, int64_t fallback) const {
  const auto* p = find_attr<int64_t>(*this, key, "an integer");
  return p ? *p : fallback;
}

int64_t Node::attr_int(std::string_view key) const {
  const auto* p = find_attr<int64_t>(*this, key, "an integer");
  if (!p) throw Exception("rtx.ir.141", describe() + ": required attribute '" + std::string(key) + "' is missing");
  return *p;
}

double Node::attr_float(std::string_view key, double fallback) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (const auto* d = std::get_if<double>(&it->second)) return *d;
  if (const auto* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  attr_error(*this, key, "a float");
}

std::string Node::attr_string(std::string_view key, std::string fallback) const {
  const auto* p = find_attr<std::string>(*this, key, "a string");
  return p ? *p : fallback;
}

std::vector<int64_t> Node::attr_ints(std::string_view key, std::vector<int64_t> fallback) const {
  const auto* p = find_attr<std::vector<int64_t>>(*this, key, "a list of integers");
  return p ? *p : fallback;
}

std::optional<std::vector<int64_t>> Node::find_ints(std::string_view key) const {
  const auto* p = find_attr<std::vector<int64_t>>(*this, key, "a list of integers");
  if (!p) return std::nullopt;
  return *p;
}

std::vector<double> Node::attr_floats(std::string_view key, std::vector<double> fallback) const {
  const auto* p = find_attr<std::vector<double>>(*this, key, "a list of floats");
  return p ? *p : fallback;
}

const HostTensor* Node::attr_tensor(std::string_view key) const {
  return find_attr<HostTensor>(*this, key, "a tensor");
}

// ---- Graph construction ------------------------------------------------------------------------

ValueId Graph::new_value(std::string name, ValueKind kind) {
  if (name.empty()) name = unique_name("v");
  if (by_name_.count(name)) throw Exception("rtx.ir.102", "duplicate value name '" + name + "'");
  const auto id = static_cast<ValueId>(values_.size());
  Value v;
  v.name = name;
  v.kind = kind;
  values_.push_back(std::move(v));
  by_name_.emplace(std::move(name), id);
  return id;
}

ValueId Graph::add_input(std::string name, DataType dtype, std::vector<int64_t> shape,
                         std::vector<std::string> dim_names) {
  for (int64_t d : shape)
    if (d < 0 && d != kDynamic)
      throw Exception("rtx.ir.103", "input '" + name + "' has invalid dim " + std::to_string(d));
  if (!dim_names.empty() && dim_names.size() != shape.size())
    throw Exception("rtx.ir.103", "input '" + name + "': dim_names and shape differ in rank");
  const ValueId id = new_value(std::move(name), ValueKind::kInput);
  values_[static_cast<size_t>(id)].info = {dtype, std::move(shape), true};
  values_[static_cast<size_t>(id)].dim_names = std::move(dim_names);
  inputs_.push_back(id);
  return id;
}

ValueId Graph::add_weight(std::string name, HostTensor data) {
  if (!data.valid()) throw Exception("rtx.ir.104", "weight '" + name + "' has no data");
  const ValueId id = new_value(std::move(name), ValueKind::kWeight);
  values_[static_cast<size_t>(id)].info = {data.dtype(), data.shape(), true};
  constants_.emplace(id, std::move(data));
  return id;
}

ValueId Graph::add_constant(HostTensor data, std::string name) {
  if (!data.valid()) throw Exception("rtx.ir.104", "constant '" + name + "' has no data");
  const ValueId id = new_value(name.empty() ? unique_name("const") : std::move(name), ValueKind::kConstant);
  values_[static_cast<size_t>(id)].info = {data.dtype(), data.shape(), true};
  constants_.emplace(id, std::move(data));
  return id;
}

NodeId Graph::add_node(OpKind op, std::string name, std::vector<ValueId> inputs, int num_outputs,
                       std::map<std::string, AttrValue, std::less<>> attrs,
                       std::vector<std::string> output_names) {
  if (name.empty()) name = std::string(op_name(op)) + "_" + std::to_string(nodes_.size());
  for (ValueId v : inputs)
    if (v != kNoValue && (v < 0 || static_cast<size_t>(v) >= values_.size()))
      throw Exception("rtx.ir.105", "node '" + name + "' refers to unknown value id " + std::to_string(v));
  const auto id = static_cast<NodeId>(nodes_.size());
  Node n;
  n.op = op;
  n.name = std::move(name);
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  for (int i = 0; i < num_outputs; ++i) {
    std::string out_name;
    if (static_cast<size_t>(i) < output_names.size() && !output_names[static_cast<size_t>(i)].empty())
      out_name = output_names[static_cast<size_t>(i)];
    else
      out_name = unique_name(n.name + (num_outputs > 1 ? ":" + std::to_string(i) : std::string(":out")));
    const ValueId v = new_value(std::move(out_name), ValueKind::kIntermediate);
    values_[static_cast<size_t>(v)].producer = id;
    n.outputs.push_back(v);
  }
  nodes_.push_back(std::move(n));
  return id;
}

void Graph::mark_output(ValueId v, std::string name) {
  if (v < 0 || static_cast<size_t>(v) >= values_.size())
    throw Exception("rtx.ir.105", "mark_output: unknown value id " + std::to_string(v));
  if (!name.empty() && name != values_[static_cast<size_t>(v)].name) rename_value(v, std::move(name));
  outputs_.push_back(v);
}

void Graph::set_profile(std::string_view input_name, InputProfile profile) {
  const ValueId v = find_value(input_name);
  if (v == kNoValue || values_[static_cast<size_t>(v)].kind != ValueKind::kInput)
    throw Exception("rtx.ir.106", "profile names '" + std::string(input_name) + "', which is not a graph input");
  const auto& shape = values_[static_cast<size_t>(v)].info.shape;
  const auto bad = [&](const std::string& why) {
    throw Exception("rtx.ir.107", "profile of input '" + std::string(input_name) + "': " + why);
  };
  if (profile.min.size() != shape.size() || profile.opt.size() != shape.size() || profile.max.size() != shape.size())
    bad("min/opt/max must have rank " + std::to_string(shape.size()));
  for (size_t i = 0; i < shape.size(); ++i) {
    if (profile.min[i] < 0 || profile.min[i] > profile.opt[i] || profile.opt[i] > profile.max[i])
      bad("dim " + std::to_string(i) + " needs 0 <= min <= opt <= max");
    if (shape[i] >= 0 && (profile.min[i] != shape[i] || profile.max[i] != shape[i]))
      bad("dim " + std::to_string(i) + " is static (" + std::to_string(shape[i]) + ") but the profile differs");
  }
  profiles_.insert_or_assign(std::string(input_name), std::move(profile));
}

ValueId Graph::find_value(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? kNoValue : it->second;
}

const HostTensor* Graph::constant_data(ValueId v) const {
  auto it = constants_.find(v);
  return it == constants_.end() ? nullptr : &it->second;
}

void Graph::set_constant_data(ValueId v, HostTensor data) {
  auto it = constants_.find(v);
  if (it == constants_.end()) throw Exception("rtx.ir.108", "value '" + value(v).name + "' is not a weight or constant");
  if (data.dtype() != it->second.dtype() || data.shape() != it->second.shape())
    throw Exception("rtx.ir.109", "value '" + value(v).name + "' is " + it->second.describe() +
                                      ", new data is " + data.describe());
  it->second = std::move(data);
}

void Graph::make_constant(ValueId v, HostTensor data) {
  Value& val = value(v);
  val.kind = ValueKind::kConstant;
  val.info = {data.dtype(), data.shape(), true};
  if (val.producer >= 0) {
    auto& outs = node(val.producer).outputs;
    std::replace(outs.begin(), outs.end(), v, kNoValue);
  }
  val.producer = -1;
  constants_.insert_or_assign(v, std::move(data));
}

void Graph::rename_value(ValueId v, std::string name) {
  auto& val = value(v);
  if (by_name_.count(name)) throw Exception("rtx.ir.102", "duplicate value name '" + name + "'");
  by_name_.erase(val.name);
  by_name_.emplace(name, v);
  val.name = std::move(name);
}

std::string Graph::unique_name(std::string_view base) const {
  std::string b(base);
  if (!by_name_.count(b)) return b;
  for (size_t i = 1;; ++i) {
    std::string candidate = b + "_" + std::to_string(i);
    if (!by_name_.count(candidate)) return candidate;
  }
}

void Graph::replace_uses(ValueId from, ValueId to) {
  for (auto& n : nodes_) {
    if (n.dead) continue;
    std::replace(n.inputs.begin(), n.inputs.end(), from, to);
  }
  std::replace(outputs_.begin(), outputs_.end(), from, to);
}

std::vector<NodeId> Graph::consumers(ValueId v) const {
  std::vector<NodeId> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const auto& n = nodes_[i];
    if (!n.dead && std::find(n.inputs.begin(), n.inputs.end(), v) != n.inputs.end())
      out.push_back(static_cast<NodeId>(i));
  }
  return out;
}

// ---- Order, inference, verification ------------------------------------------------------------

std::vector<NodeId> Graph::topological_order() const {
  // Kahn's algorithm over live nodes; ties keep insertion order so dumps are stable.
  const size_t n = nodes_.size();
  std::vector<int> pending(n, 0);
  std::vector<std::vector<NodeId>> users(n);
  for (size_t i = 0; i < n; ++i) {
    if (nodes_[i].dead) continue;
    for (ValueId v : nodes_[i].inputs) {
      if (v == kNoValue) continue;
      const NodeId p = values_[static_cast<size_t>(v)].producer;
      if (p >= 0 && !nodes_[static_cast<size_t>(p)].dead) {
        ++pending[i];
        users[static_cast<size_t>(p)].push_back(static_cast<NodeId>(i));
      }
    }
  }
  std::vector<NodeId> order, ready;
  for (size_t i = 0; i < n; ++i)
    if (!nodes_[i].dead && pending[i] == 0) ready.push_back(static_cast<NodeId>(i));
  std::reverse(ready.begin(), ready.end());
  while (!ready.empty()) {
    const NodeId id = ready.back();
    ready.pop_back();
    order.push_back(id);
    std::vector<NodeId> next;
    for (NodeId u : users[static_cast<size_t>(id)])
      if (--pending[static_cast<size_t>(u)] == 0) next.push_back(u);
    ready.insert(ready.end(), next.rbegin(), next.rend());
  }
  size_t live = 0;
  for (const auto& node : nodes_) live += !node.dead;
  if (order.size() != live) {
    for (size_t i = 0; i < n; ++i)
      if (!nodes_[i].dead && pending[i] > 0)
        throw Exception("rtx.ir.101", "the graph has a cycle through " + nodes_[i].describe());
  }
  return order;
}

void Graph::infer_node(NodeId id) {
  Node& n = node(id);
  std::vector<TensorInfo> infos;
  std::vector<const HostTensor*> consts;
  for (ValueId v : n.inputs) {
    if (v == kNoValue) {
      infos.push_back(TensorInfo{DataType::kF32, {}, false});
      consts.push_back(nullptr);
    } else {
      infos.push_back(value(v).info);
      consts.push_back(constant_data(v));
    }
  }
  auto outs = infer(n, infos, consts);
  if (outs.size() != n.outputs.size())
    throw Exception("rtx.ir.121", n.describe() + ": inference gave " + std::to_string(outs.size()) +
                                      " outputs, the node has " + std::to_string(n.outputs.size()));
  for (size_t i = 0; i < outs.size(); ++i)
    if (n.outputs[i] != kNoValue) value(n.outputs[i]).info = std::move(outs[i]);
}

void Graph::infer_shapes() {
  for (NodeId id : topological_order()) infer_node(id);
}

void Graph::verify() const {
  const auto bad = [](const char* id, const std::string& msg) { throw Exception(id, msg); };
  const auto operands = [&](const Node& n) {
    std::string s = " (inputs:";
    for (ValueId v : n.inputs)
      s += v == kNoValue ? " <absent>" : " '" + value(v).name + "' " + describe(value(v).info);
    return s + ")";
  };
  std::unordered_set<std::string> names;
  for (size_t i = 0; i < values_.size(); ++i) {
    const Value& v = values_[i];
    if (!names.insert(v.name).second) bad("rtx.ir.102", "duplicate value name '" + v.name + "'");
    const bool has_data = constants_.count(static_cast<ValueId>(i)) > 0;
    if ((v.kind == ValueKind::kWeight || v.kind == ValueKind::kConstant) != has_data)
      bad("rtx.ir.150", "value '" + v.name + "' kind and data disagree");
    if (v.producer >= 0) {
      if (static_cast<size_t>(v.producer) >= nodes_.size()) bad("rtx.ir.151", "value '" + v.name + "' has an unknown producer");
      const auto& outs = nodes_[static_cast<size_t>(v.producer)].outputs;
      if (std::find(outs.begin(), outs.end(), static_cast<ValueId>(i)) == outs.end())
        bad("rtx.ir.151", "value '" + v.name + "' names a producer that does not list it");
    }
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (n.dead) continue;
    const OpSchema& s = schema(n.op);
    const int nin = static_cast<int>(n.inputs.size());
    if (nin < s.min_inputs || (s.max_inputs >= 0 && nin > s.max_inputs))
      bad("rtx.ir.152", n.describe() + " has " + std::to_string(nin) + " inputs" + operands(n));
    for (ValueId v : n.inputs) {
      if (v == kNoValue) continue;
      if (v < 0 || static_cast<size_t>(v) >= values_.size()) bad("rtx.ir.105", n.describe() + " refers to an unknown value");
      const Value& val = values_[static_cast<size_t>(v)];
      if (val.kind == ValueKind::kIntermediate &&
          (val.producer < 0 || nodes_[static_cast<size_t>(val.producer)].dead))
        bad("rtx.ir.153", n.describe() + " reads '" + val.name + "', which nothing produces" + operands(n));
    }
    for (ValueId v : n.outputs)
      if (v != kNoValue && values_[static_cast<size_t>(v)].producer != static_cast<NodeId>(i))
        bad("rtx.ir.151", n.describe() + " output '" + values_[static_cast<size_t>(v)].name + "' has another producer");
  }
  for (ValueId v : outputs_) {
    const Value& val = values_.at(static_cast<size_t>(v));
    if (val.kind == ValueKind::kIntermediate && (val.producer < 0 || nodes_[static_cast<size_t>(val.producer)].dead))
      bad("rtx.ir.154", "graph output '" + val.name + "' is not produced by any node");
  }
  // Cycles, then dtype/shape consistency by re-running inference on the stored input infos.
  for (NodeId id : topological_order()) {
    const Node& n = nodes_[static_cast<size_t>(id)];
    std::vector<TensorInfo> infos;
    std::vector<const HostTensor*> consts;
    for (ValueId v : n.inputs) {
      infos.push_back(v == kNoValue ? TensorInfo{DataType::kF32, {}, false} : value(v).info);
      consts.push_back(v == kNoValue ? nullptr : constant_data(v));
    }
    std::vector<TensorInfo> outs;
    try {
      outs = infer(n, infos, consts);
    } catch (const Exception& e) {
      bad(e.error().id.c_str(), e.error().message + operands(n));
    }
    for (size_t k = 0; k < outs.size() && k < n.outputs.size(); ++k) {
      if (n.outputs[k] == kNoValue) continue;
      const TensorInfo& stored = value(n.outputs[k]).info;
      if (stored.dtype != outs[k].dtype || stored.shape != outs[k].shape)
        bad("rtx.ir.155", n.describe() + " output '" + value(n.outputs[k]).name + "' is recorded as " +
                              ir::describe(stored) + " but infers as " + ir::describe(outs[k]) + operands(n));
    }
  }
}

void Graph::compact() {
  // Keep live nodes and every value still referenced (inputs, outputs, live node operands).
  std::vector<char> keep(values_.size(), 0);
  for (ValueId v : inputs_) keep[static_cast<size_t>(v)] = 1;
  for (ValueId v : outputs_) keep[static_cast<size_t>(v)] = 1;
  for (const auto& n : nodes_) {
    if (n.dead) continue;
    for (ValueId v : n.inputs)
      if (v != kNoValue) keep[static_cast<size_t>(v)] = 1;
    for (ValueId v : n.outputs)
      if (v != kNoValue) keep[static_cast<size_t>(v)] = 1;
  }
  std::vector<ValueId> remap(values_.size(), kNoValue);
  std::vector<Value> values;
  std::unordered_map<ValueId, HostTensor> constants;
  for (size_t i = 0; i < values_.size(); ++i) {
    if (!keep[i]) continue;
    remap[i] = static_cast<ValueId>(values.size());
    if (auto it = constants_.find(static_cast<ValueId>(i)); it != constants_.end())
      constants.emplace(remap[i], std::move(it->second));
    values.push_back(std::move(values_[i]));
  }
  std::vector<NodeId> node_remap(nodes_.size(), -1);
  std::vector<Node> nodes;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].dead) continue;
    node_remap[i] = static_cast<NodeId>(nodes.size());
    nodes.push_back(std::move(nodes_[i]));
  }
  const auto map_value = [&](ValueId v) { return v == kNoValue ? kNoValue : remap[static_cast<size_t>(v)]; };
  for (auto& n : nodes) {
    for (auto& v : n.inputs) v = map_value(v);
    for (auto& v : n.outputs) v = map_value(v);
  }
  for (auto& v : values)
    if (v.producer >= 0) v.producer = node_remap[static_cast<size_t>(v.producer)];
  for (auto& v : inputs_) v = map_value(v);
  for (auto& v : outputs_) v = map_value(v);
  values_ = std::move(values);
  nodes_ = std::move(nodes);
  constants_ = std::move(constants);
  by_name_.clear();
  for (size_t i = 0; i < values_.size(); ++i) by_name_.emplace(values_[i].name, static_cast<ValueId>(i));
}

// ---- Dumps -------------------------------------------------------------------------------------

std::string Graph::to_text() const {
  std::ostringstream o;
  o << "graph {\n";
  for (ValueId v : inputs_) o << "  input  " << value(v).name << ": " << describe(value(v).info) << "\n";
  for (size_t i = 0; i < values_.size(); ++i) {
    const Value& v = values_[i];
    if (v.kind == ValueKind::kWeight || v.kind == ValueKind::kConstant)
      o << "  " << (v.kind == ValueKind::kWeight ? "weight " : "const  ") << v.name << ": " << describe(v.info) << "\n";
  }
  for (NodeId id : topological_order()) {
    const Node& n = node(id);
    o << "  ";
    for (size_t k = 0; k < n.outputs.size(); ++k)
      o << (k ? ", " : "") << (n.outputs[k] == kNoValue ? "_" : value(n.outputs[k]).name + ": " + describe(value(n.outputs[k]).info));
    o << " = " << op_name(n.op) << "[" << n.name << "](";
    for (size_t k = 0; k < n.inputs.size(); ++k) o << (k ? ", " : "") << (n.inputs[k] == kNoValue ? "_" : value(n.inputs[k]).name);
    o << ")";
    if (!n.attrs.empty()) {
      o << " {";
      bool first = true;
      for (const auto& [key, a] : n.attrs) {
        o << (first ? "" : ", ") << key << "=" << attr_to_string(a);
        first = false;
      }
      o << "}";
    }
    o << "\n";
  }
  for (ValueId v : outputs_) o << "  output " << value(v).name << ": " << describe(value(v).info) << "\n";
  o << "}\n";
  return o.str();
}

std::string Graph::to_dot() const {
  const auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    return q + "\"";
  };
  std::ostringstream o;
  o << "digraph rtx {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n";
  for (size_t i = 0; i < values_.size(); ++i) {
    const Value& v = values_[i];
    if (v.kind == ValueKind::kIntermediate) continue;
    const char* shape = v.kind == ValueKind::kInput ? "ellipse" : "note";
    o << "  v" << i << " [shape=" << shape << ", label=" << quote(v.name + "\\n" + describe(v.info)) << "];\n";
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (n.dead) continue;
    o << "  n" << i << " [shape=box, label=" << quote(std::string(op_name(n.op)) + "\\n" + n.name) << "];\n";
    for (ValueId v : n.inputs) {
      if (v == kNoValue) continue;
      const Value& val = value(v);
      if (val.producer >= 0)
        o << "  n" << val.producer << " -> n" << i << " [label=" << quote(describe(val.info)) << "];\n";
      else
        o << "  v" << v << " -> n" << i << ";\n";
    }
  }
  for (ValueId v : outputs_) {
    o << "  out" << v << " [shape=ellipse, style=bold, label=" << quote(value(v).name + "\\n" + describe(value(v).info)) << "];\n";
    const Value& val = value(v);
    if (val.producer >= 0) o << "  n" << val.producer << " -> out" << v << ";\n";
    else o << "  v" << v << " -> out" << v << ";\n";
  }
  o << "}\n";
  return o.str();
}

}  // namespace rtx::ir
