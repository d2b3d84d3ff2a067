// SPDX-License-Identifier: Apache-2.0
// The import driver: opsets, model-local function expansion, the scan for unsupported operators
// (one error listing all of them), graph inputs and initializers, node conversion with immediate
// shape inference, declared-output checks, then folding and fusion.
#include "ir/onnx/importer.hpp"

#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>

#include "ir/fusion.hpp"
#include "ir/onnx/errors.hpp"
#include "ir/onnx/tensor_proto.hpp"
#include "ir/onnx_dtype.hpp"
#include "ir/op_registry.hpp"
#include "ir/passes.hpp"

namespace rtx::onnx {
namespace {

std::string normalize_domain(const std::string& d) {
  return d == "ai.onnx" ? std::string() : d;
}

std::string domain_label(const std::string& d) {
  return d.empty() ? std::string("ai.onnx") : d;
}

// FunctionProto.attribute_proto (field 11, attribute defaults) is newer than the ONNX release
// whose generated classes we link; it survives parsing as an unknown field, read here.
std::vector<pb::AttributeProto> function_attribute_defaults(const pb::FunctionProto& f) {
  std::vector<pb::AttributeProto> out;
  const auto& unknown = f.GetReflection()->GetUnknownFields(f);
  for (int i = 0; i < unknown.field_count(); ++i) {
    const auto& field = unknown.field(i);
    if (field.number() != 11 ||
        field.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED)
      continue;
    pb::AttributeProto a;
    if (a.ParseFromString(field.length_delimited())) out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

std::string OnnxNode::describe() const {
  std::string s = op_type + " node '" + name + "'";
  if (unnamed) s += " (unnamed, #" + std::to_string(index) + ")";
  if (!domain.empty()) s += " of domain '" + domain + "'";
  return s;
}

std::optional<ir::AttrValue> convert_attribute(const pb::AttributeProto& a,
                                               const std::shared_ptr<const void>& owner,
                                               ExternalDataStore* external,
                                               const std::string& where) {
  auto type = a.type();
  if (type == pb::AttributeProto::UNDEFINED) {
    // Very old writers left the type out; the field that is set tells it.
    if (a.has_f())
      type = pb::AttributeProto::FLOAT;
    else if (a.has_i())
      type = pb::AttributeProto::INT;
    else if (a.has_s())
      type = pb::AttributeProto::STRING;
    else if (a.has_t())
      type = pb::AttributeProto::TENSOR;
    else if (a.floats_size())
      type = pb::AttributeProto::FLOATS;
    else if (a.ints_size())
      type = pb::AttributeProto::INTS;
    else if (a.strings_size())
      type = pb::AttributeProto::STRINGS;
    else
      return std::nullopt;
  }
  switch (type) {
    case pb::AttributeProto::FLOAT:
      return ir::AttrValue(static_cast<double>(a.f()));
    case pb::AttributeProto::INT:
      return ir::AttrValue(static_cast<int64_t>(a.i()));
    case pb::AttributeProto::STRING:
      return ir::AttrValue(a.s());
    case pb::AttributeProto::TENSOR:
      return ir::AttrValue(
          tensor_from_proto(a.t(), owner, external, "attribute '" + a.name() + "' of " + where));
    case pb::AttributeProto::SPARSE_TENSOR:
      return ir::AttrValue(tensor_from_sparse_proto(a.sparse_tensor(), owner, external));
    case pb::AttributeProto::FLOATS: {
      std::vector<double> v(a.floats().begin(), a.floats().end());
      return ir::AttrValue(std::move(v));
    }
    case pb::AttributeProto::INTS: {
      std::vector<int64_t> v(a.ints().begin(), a.ints().end());
      return ir::AttrValue(std::move(v));
    }
    case pb::AttributeProto::STRINGS: {
      std::vector<std::string> v(a.strings().begin(), a.strings().end());
      return ir::AttrValue(std::move(v));
    }
    default:
      return std::nullopt;  // GRAPH(S), TENSORS, SPARSE_TENSORS, TYPE_PROTO(S)
  }
}

// ---- the importer ---------------------------------------------------------------------------

class Importer {
 public:
  Importer(const LoadedModel& model, const ImportOptions& options, ImportLog& log)
      : model_(*model.proto),
        options_(options),
        log_(log),
        external_(model.dir),
        owner_(model.proto) {}

  ir::Graph run();

  // ---- used by ConvertContext ----
  ir::Graph graph_;
  ImportLog& log() { return log_; }
  std::string fresh_name(std::string_view base);
  ir::ValueId lookup(const OnnxNode& node, size_t i);
  /// Adds, infers and (when its inputs are constant) folds an IR node; returns its outputs.
  std::vector<ir::ValueId> add_node(const OnnxNode& node, ir::OpKind op,
                                    const std::string& node_name, std::vector<ir::ValueId> inputs,
                                    Attrs attrs, std::vector<std::string> output_names);
  void define_constant(const OnnxNode& node, const std::string& name, HostTensor data);
  std::optional<SymValue> symbolic(ir::ValueId v) const;
  SymDim canonical_dim(ir::ValueId v, int64_t d) const;

 private:
  /// Integer initializers up to this many elements fold at import (shapes, axes, indices).
  static constexpr int64_t kFoldableIntWeight = 4096;
  static constexpr int64_t kFoldElementLimit = 1 << 20;
  /// Bytes of constants import-time folding may create in total (beyond it, nodes stay nodes).
  static constexpr uint64_t kFoldByteBudget = uint64_t{256} << 20;
  static constexpr size_t kMaxExpandedNodes = size_t{1} << 22;

  struct FunctionScope {
    std::unordered_map<std::string, std::string> rename;  // formal / internal name -> outer name
    std::string prefix;                                   // for names internal to the body
    const Attrs* attrs = nullptr;                         // caller's attributes (ref_attr_name)
    std::map<std::string, int64_t> opsets;                // the function's opset imports
  };
  void read_opsets();
  void expand(const google::protobuf::RepeatedPtrField<pb::NodeProto>& nodes,
              const FunctionScope* scope, int depth);
  void sort_nodes();
  void scan_unsupported();
  void add_initializers();
  void add_inputs();
  void convert_nodes();
  void add_outputs();
  void post_process();
  int64_t opset_of(const std::string& domain, const FunctionScope* scope) const;
  bool foldable_input(ir::ValueId v) const;
  void fold_if_constant(const OnnxNode& onnx_node, ir::NodeId id);
  void propagate_symbolic(ir::NodeId id);

  const pb::ModelProto& model_;
  const ImportOptions& options_;
  ImportLog& log_;
  ExternalDataStore external_;
  std::shared_ptr<const void> owner_;
  std::map<std::string, int64_t> opsets_;  // domain ("" default) -> version
  std::map<std::pair<std::string, std::string>, const pb::FunctionProto*> functions_;
  std::vector<OnnxNode> nodes_;
  std::set<std::string, std::less<>> reserved_;    // every ONNX value name
  std::unordered_map<ir::ValueId, SymValue> sym_;  // what is known of shape-like values
  uint64_t folded_bytes_ = 0;
  int64_t expansion_counter_ = 0;
};

int64_t Importer::opset_of(const std::string& domain, const FunctionScope* scope) const {
  if (scope) {
    auto it = scope->opsets.find(domain);
    if (it != scope->opsets.end()) return it->second;
  }
  auto it = opsets_.find(domain);
  return it == opsets_.end() ? 0 : it->second;
}

void Importer::read_opsets() {
  for (const auto& o : model_.opset_import()) {
    const std::string d = normalize_domain(o.domain());
    // Duplicate imports of a domain: the highest version wins (what onnxruntime does).
    opsets_[d] = std::max(opsets_[d], static_cast<int64_t>(o.version()));
  }
  if (!opsets_.count("")) {
    // IR version 1/2 models had no opset imports and meant opset 1.
    throw Exception(err::kOpset,
                    "the model imports no version of the default ONNX domain (opset_import has no "
                    "entry for domain '' / 'ai.onnx'); rtx reads opsets " +
                        std::to_string(kMinOpset) + " and later");
  }
  const int64_t v = opsets_[""];
  if (v < kMinOpset)
    throw Exception(err::kOpset, "the model uses opset " + std::to_string(v) +
                                     " of the default domain; rtx reads opsets " +
                                     std::to_string(kMinOpset) +
                                     " and later (upgrade the model with "
                                     "onnx.version_converter)");
  if (v > kMaxKnownOpset)
    log_.warnings.push_back(
        {err::kOpset,
         "the model uses opset " + std::to_string(v) +
             " of the default domain; this parser knows operator changes up to opset " +
             std::to_string(kMaxKnownOpset) + " and reads newer ones as that"});
  for (const auto& f : model_.functions())
    functions_[{normalize_domain(f.domain()), f.name()}] = &f;
}

void Importer::expand(const google::protobuf::RepeatedPtrField<pb::NodeProto>& nodes,
                      const FunctionScope* scope, int depth) {
  const auto outer = [&](const std::string& n) -> std::string {
    if (!scope || n.empty()) return n;
    auto it = scope->rename.find(n);
    return it != scope->rename.end() ? it->second : scope->prefix + n;
  };
  for (const auto& np : nodes) {
    // Functions calling functions can multiply the node count exponentially; a hostile model
    // must not expand into billions of nodes.
    if (nodes_.size() >= kMaxExpandedNodes)
      throw Exception(err::kFunction, "the model expands to more than " +
                                          std::to_string(kMaxExpandedNodes) +
                                          " nodes (through model-local functions)");
    OnnxNode on;
    on.op_type = np.op_type();
    on.domain = normalize_domain(np.domain());
    on.index = static_cast<int64_t>(nodes_.size());
    on.unnamed = np.name().empty();
    on.name = on.unnamed ? on.op_type + "_" + std::to_string(on.index)
                         : (scope ? scope->prefix : "") + np.name();
    on.opset = opset_of(on.domain, scope);
    for (const auto& s : np.input()) on.inputs.push_back(outer(s));
    for (const auto& s : np.output()) on.outputs.push_back(outer(s));
    for (const auto& a : np.attribute()) {
      if (!a.ref_attr_name().empty()) {
        // Inside a function body: the caller's attribute of that name, if it has one.
        if (scope && scope->attrs) {
          auto it = scope->attrs->find(a.ref_attr_name());
          if (it != scope->attrs->end()) on.attrs.insert_or_assign(a.name(), it->second);
        }
        continue;
      }
      try {
        auto v = convert_attribute(a, owner_, &external_, on.describe());
        if (v)
          on.attrs.insert_or_assign(a.name(), std::move(*v));
        else
          on.skipped_attrs.push_back(a.name());
      } catch (const Exception& e) {
        if (!on.attr_error) on.attr_error = e.error();
      }
    }

    auto fit = functions_.find({on.domain, on.op_type});
    if (fit == functions_.end()) {
      nodes_.push_back(std::move(on));
      continue;
    }
    // A model-local function: splice its body in, renaming its values into a private namespace.
    if (depth >= options_.max_function_depth)
      throw Exception(err::kFunction, "model-local function '" + on.op_type + "' (domain '" +
                                          domain_label(on.domain) + "') expands deeper than " +
                                          std::to_string(options_.max_function_depth) +
                                          " levels (is it recursive?)");
    const pb::FunctionProto& f = *fit->second;
    FunctionScope inner;
    inner.prefix = on.name + "/" + std::to_string(expansion_counter_++) + "/";
    for (int i = 0; i < f.input_size(); ++i)
      inner.rename[f.input(i)] =
          static_cast<size_t>(i) < on.inputs.size() ? on.inputs[static_cast<size_t>(i)] : "";
    for (int i = 0; i < f.output_size(); ++i) {
      const std::string actual =
          static_cast<size_t>(i) < on.outputs.size() ? on.outputs[static_cast<size_t>(i)] : "";
      // An output the caller does not use still needs a name inside the body.
      inner.rename[f.output(i)] = actual.empty() ? inner.prefix + f.output(i) : actual;
    }
    Attrs attrs = on.attrs;
    for (const auto& a : function_attribute_defaults(f))
      if (!attrs.count(a.name()))
        if (auto v = convert_attribute(a, owner_, &external_, "function '" + f.name() + "'"))
          attrs.emplace(a.name(), std::move(*v));
    inner.attrs = &attrs;
    for (const auto& o : f.opset_import()) inner.opsets[normalize_domain(o.domain())] = o.version();
    if (!inner.opsets.count("")) inner.opsets[""] = opset_of("", scope);
    expand(f.node(), &inner, depth + 1);
  }
}

void Importer::sort_nodes() {
  // ONNX requires nodes in topological order, but graph editing tools do not always keep it.
  // A stable Kahn sort keeps the model's order where it is valid and fixes it where it is not.
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (const auto& o : nodes_[i].outputs)
      if (!o.empty()) producer.emplace(o, i);
  std::vector<std::vector<size_t>> users(nodes_.size());
  std::vector<size_t> pending(nodes_.size(), 0);
  bool sorted = true;
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (const auto& in : nodes_[i].inputs) {
      auto it = in.empty() ? producer.end() : producer.find(in);
      if (it == producer.end() || it->second == i) continue;
      users[it->second].push_back(i);
      ++pending[i];
      sorted = sorted && it->second < i;
    }
  if (sorted) return;
  std::vector<size_t> order;
  std::set<size_t> ready;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!pending[i]) ready.insert(i);
  while (!ready.empty()) {
    const size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (size_t u : users[i])
      if (--pending[u] == 0) ready.insert(u);
  }
  if (order.size() != nodes_.size()) {
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (pending[i])
        throw Exception(err::kUnknownValue,
                        "the graph has a cycle through " + nodes_[i].describe());
  }
  std::vector<OnnxNode> out;
  out.reserve(nodes_.size());
  for (size_t i : order) out.push_back(std::move(nodes_[i]));
  nodes_ = std::move(out);
  log_.warnings.push_back(
      {err::kUnknownValue, "the model's nodes were not in topological order; rtx sorted them"});
}

void Importer::scan_unsupported() {
  for (const OnnxNode& n : nodes_) {
    const OpConverter* c = n.domain.empty() ? find_converter(n.op_type) : nullptr;
    if (c && n.opset >= c->min_opset) continue;
    UnsupportedNode u;
    u.op_type = n.op_type;
    u.domain = n.domain;
    u.opset = n.opset;
    u.node_name = n.unnamed ? std::string() : n.name;
    u.node_index = n.index;
    log_.unsupported.push_back(std::move(u));
  }
  if (log_.unsupported.empty()) return;
  std::ostringstream msg;
  std::set<std::string> kinds;
  for (const auto& u : log_.unsupported) kinds.insert(domain_label(u.domain) + "::" + u.op_type);
  msg << log_.unsupported.size() << " node" << (log_.unsupported.size() > 1 ? "s use" : " uses")
      << " " << kinds.size() << " unsupported operator" << (kinds.size() > 1 ? "s" : "") << ":";
  for (const auto& u : log_.unsupported) {
    msg << "\n  - " << u.op_type << " (domain '" << domain_label(u.domain) << "', opset " << u.opset
        << ") at node ";
    if (u.node_name.empty())
      msg << "#" << u.node_index << " (unnamed)";
    else
      msg << "'" << u.node_name << "'";
    if (u.domain.empty())
      if (const OpConverter* c = find_converter(u.op_type))
        msg << ": supported from opset " << c->min_opset;
  }
  throw Exception(err::kUnsupportedOps, msg.str());
}

std::string Importer::fresh_name(std::string_view base) {
  std::string b(base);
  for (size_t i = 0;; ++i) {
    std::string candidate = i == 0 ? b : b + "_" + std::to_string(i);
    if (!reserved_.count(candidate) && graph_.find_value(candidate) == ir::kNoValue) {
      reserved_.insert(candidate);
      return candidate;
    }
  }
}

ir::ValueId Importer::lookup(const OnnxNode& node, size_t i) {
  const std::string& name = node.inputs[i];
  if (name.empty()) return ir::kNoValue;
  const ir::ValueId v = graph_.find_value(name);
  if (v == ir::kNoValue)
    throw Exception(err::kUnknownValue,
                    node.describe() + " reads '" + name + "' (input " + std::to_string(i) +
                        "), which is no graph input, initializer or node output");
  return v;
}

std::vector<ir::ValueId> Importer::add_node(const OnnxNode& node, ir::OpKind op,
                                            const std::string& node_name,
                                            std::vector<ir::ValueId> inputs, Attrs attrs,
                                            std::vector<std::string> output_names) {
  for (const auto& n : output_names)
    if (graph_.find_value(n) != ir::kNoValue)
      throw Exception(err::kDuplicate,
                      node.describe() + " produces '" + n + "', which is already defined");
  const int num_outputs = static_cast<int>(output_names.size());
  const ir::NodeId id = graph_.add_node(op, node_name, std::move(inputs), num_outputs,
                                        std::move(attrs), std::move(output_names));
  try {
    graph_.infer_node(id);
  } catch (const Exception& e) {
    const ir::Node& n = graph_.node(id);
    std::string operands;
    for (ir::ValueId v : n.inputs)
      operands += v == ir::kNoValue
                      ? std::string(" <absent>")
                      : " '" + graph_.value(v).name + "' " + ir::describe(graph_.value(v).info);
    throw Exception(err::kInference, node.describe() + " (opset " + std::to_string(node.opset) +
                                         "): " + e.error().message + " [" + e.error().id +
                                         "]; inputs:" + operands);
  }
  std::vector<ir::ValueId> outs = graph_.node(id).outputs;
  fold_if_constant(node, id);
  if (!graph_.node(id).dead) propagate_symbolic(id);
  return outs;
}

std::optional<SymValue> Importer::symbolic(ir::ValueId v) const {
  if (v == ir::kNoValue) return std::nullopt;
  if (auto it = sym_.find(v); it != sym_.end()) return it->second;
  const HostTensor* t = graph_.constant_data(v);
  if (!t || t->rank() > 1 || (t->dtype() != DataType::kINT64 && t->dtype() != DataType::kINT32) ||
      t->element_count() > 64)
    return std::nullopt;
  SymValue s;
  s.scalar = t->rank() == 0;
  for (int64_t x : t->to_ints()) s.elems.push_back({x});
  return s;
}

SymDim Importer::canonical_dim(ir::ValueId v, int64_t d) const {
  // Walks back through ops whose output dim d is an input's dim (transposes, shape-preserving
  // unary ops, attention's batch/head/sequence dims), so "dim 1 of Transpose(x)" and "dim 2 of x"
  // compare equal.
  for (int guard = 0; guard < 1000; ++guard) {
    const ir::NodeId p = graph_.value(v).producer;
    if (p < 0) break;
    const ir::Node& n = graph_.node(p);
    if (n.dead || n.inputs.empty() || n.inputs[0] == ir::kNoValue || n.outputs.empty() ||
        n.outputs[0] != v)
      break;
    const ir::ValueId in = n.inputs[0];
    const int64_t in_rank = graph_.value(in).info.rank();
    if (n.op == ir::OpKind::kTranspose) {
      const auto perm = n.attr_ints("perm", {});
      if (perm.empty()) {
        d = in_rank - 1 - d;
      } else {
        if (d < 0 || d >= static_cast<int64_t>(perm.size())) break;
        d = perm[static_cast<size_t>(d)];
      }
      v = in;
      continue;
    }
    const bool same_shape =
        n.op == ir::OpKind::kRelu || n.op == ir::OpKind::kCast || n.op == ir::OpKind::kIdentity ||
        n.op == ir::OpKind::kSoftmax || n.op == ir::OpKind::kLogSoftmax ||
        n.op == ir::OpKind::kLayerNormalization || n.op == ir::OpKind::kRMSNormalization ||
        n.op == ir::OpKind::kGelu || n.op == ir::OpKind::kSilu || n.op == ir::OpKind::kSigmoid ||
        n.op == ir::OpKind::kTanh || n.op == ir::OpKind::kErf || n.op == ir::OpKind::kNeg;
    const bool attention_dim = n.op == ir::OpKind::kAttention && in_rank == 4 && d >= 0 && d < 3;
    if ((same_shape && in_rank == graph_.value(v).info.rank()) || attention_dim) {
      v = in;
      continue;
    }
    break;
  }
  return SymDim{0, v, d};
}

void Importer::propagate_symbolic(ir::NodeId id) {
  // Tracks the elements of small integer tensors through the ops exporters use to compute shapes,
  // so a Reshape whose target mixes dynamic dims of its own input with constants (x.view(b, s, h,
  // d)) gets a constant target, and a value that turns out fully known (Shape(q)[-1] with q's
  // last dim static) becomes a constant and folds onward.
  const ir::Node& n = graph_.node(id);
  if (n.outputs.size() != 1 || n.outputs[0] == ir::kNoValue) return;
  const ir::ValueId out = n.outputs[0];
  const ir::TensorInfo& oi = graph_.value(out).info;
  if ((oi.dtype != DataType::kINT64 && oi.dtype != DataType::kINT32) || oi.rank() > 1) return;
  std::optional<SymValue> r;
  const auto in_sym = [&](size_t i) {
    return i < n.inputs.size() ? symbolic(n.inputs[i]) : std::nullopt;
  };
  const auto const_ints = [&](size_t i) -> std::optional<std::vector<int64_t>> {
    if (i >= n.inputs.size() || n.inputs[i] == ir::kNoValue) return std::nullopt;
    const HostTensor* t = graph_.constant_data(n.inputs[i]);
    if (!t || t->rank() > 1 || is_floating(t->dtype())) return std::nullopt;
    return t->to_ints();
  };
  if (n.op == ir::OpKind::kShape) {
    const ir::ValueId x = n.inputs[0];
    const auto& shape = graph_.value(x).info.shape;
    const int64_t rank = static_cast<int64_t>(shape.size());
    const auto clamp = [rank](int64_t a) {
      return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank);
    };
    SymValue s;
    for (int64_t d = clamp(n.attr_int("start", 0)); d < clamp(n.attr_int("end", rank)); ++d)
      s.elems.push_back(shape[static_cast<size_t>(d)] >= 0 ? SymDim{shape[static_cast<size_t>(d)]}
                                                           : canonical_dim(x, d));
    r = s;
  } else if (n.op == ir::OpKind::kGather && n.attr_int("axis", 0) == 0) {
    auto data = in_sym(0);
    auto idx = const_ints(1);
    if (data && !data->scalar && idx) {
      const auto size = static_cast<int64_t>(data->elems.size());
      SymValue s;
      s.scalar = graph_.value(n.inputs[1]).info.rank() == 0;
      bool ok = true;
      for (int64_t i : *idx) {
        if (i < 0) i += size;
        if (i < 0 || i >= size)
          ok = false;
        else
          s.elems.push_back(data->elems[static_cast<size_t>(i)]);
      }
      if (ok) r = s;
    }
  } else if (n.op == ir::OpKind::kSlice) {
    auto data = in_sym(0);
    auto starts = const_ints(1), ends = const_ints(2);
    auto axes = n.has_input(3) ? const_ints(3)
                               : std::optional<std::vector<int64_t>>(std::vector<int64_t>{0});
    auto steps = n.has_input(4) ? const_ints(4)
                                : std::optional<std::vector<int64_t>>(std::vector<int64_t>{1});
    if (data && !data->scalar && starts && ends && axes && steps && starts->size() == 1 &&
        ends->size() == 1 && axes->size() == 1 && steps->size() == 1 &&
        ((*axes)[0] == 0 || (*axes)[0] == -1) && (*steps)[0] == 1) {
      const auto size = static_cast<int64_t>(data->elems.size());
      const auto clamp = [size](int64_t a) {
        return std::clamp<int64_t>(a < 0 ? a + size : a, 0, size);
      };
      SymValue s;
      for (int64_t i = clamp((*starts)[0]); i < clamp((*ends)[0]); ++i)
        s.elems.push_back(data->elems[static_cast<size_t>(i)]);
      r = s;
    }
  } else if (n.op == ir::OpKind::kUnsqueeze || n.op == ir::OpKind::kSqueeze ||
             n.op == ir::OpKind::kIdentity || n.op == ir::OpKind::kCast ||
             n.op == ir::OpKind::kReshape) {
    // Same elements, rank 0 <-> 1 (the output info tells which).
    if (auto data = in_sym(0); data && static_cast<int64_t>(data->elems.size()) ==
                                           std::max<int64_t>(oi.element_count(), 0)) {
      data->scalar = oi.rank() == 0;
      r = data;
    }
  } else if (n.op == ir::OpKind::kConcat) {
    SymValue s;
    bool ok = true;
    for (size_t i = 0; i < n.inputs.size() && ok; ++i) {
      auto part = in_sym(i);
      if (!part || part->scalar)
        ok = false;
      else
        s.elems.insert(s.elems.end(), part->elems.begin(), part->elems.end());
    }
    if (ok) r = s;
  }
  if (!r) return;
  if (!oi.shape.empty() && oi.shape[0] >= 0 && oi.shape[0] != static_cast<int64_t>(r->elems.size()))
    return;
  if (r->all_known()) {
    // Fully known: a constant, so later nodes fold and infer static dims.
    std::vector<int64_t> v;
    for (const auto& e : r->elems) v.push_back(e.value);
    std::vector<int64_t> shape;
    if (!r->scalar) shape.push_back(static_cast<int64_t>(v.size()));
    HostTensor t(oi.dtype, shape);
    for (size_t i = 0; i < v.size(); ++i) t.set_int(static_cast<int64_t>(i), v[i]);
    graph_.node(id).dead = true;
    graph_.make_constant(out, std::move(t));
    return;
  }
  sym_[out] = std::move(*r);
}

bool Importer::foldable_input(ir::ValueId v) const {
  if (v == ir::kNoValue) return true;
  const ir::Value& val = graph_.value(v);
  if (val.kind == ir::ValueKind::kConstant) return true;
  // Weights stay weights (refit, Q/DQ of weights) unless they are small integer tensors, which
  // exporters use for shapes, axes and indices.
  if (val.kind != ir::ValueKind::kWeight) return false;
  const DataType t = val.info.dtype;
  return (t == DataType::kINT64 || t == DataType::kINT32) &&
         val.info.element_count() <= kFoldableIntWeight;
}

void Importer::fold_if_constant(const OnnxNode& onnx_node, ir::NodeId id) {
  // Folding as nodes arrive lets later nodes see constant shapes (Shape -> Gather -> Concat ->
  // Reshape): their inference then yields static ranks and dims.
  if (!options_.fold_constants) return;
  ir::Node& n = graph_.node(id);
  if (n.op == ir::OpKind::kShape || n.op == ir::OpKind::kSize) {
    const ir::TensorInfo& in = graph_.value(n.inputs.at(0)).info;
    if (!in.is_static()) return;
    HostTensor out;
    if (n.op == ir::OpKind::kSize) {
      out = HostTensor::from_vector(DataType::kINT64, {}, std::vector<int64_t>{in.element_count()});
    } else {
      const int64_t r = in.rank();
      const auto clamp = [r](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + r : a, 0, r); };
      const int64_t start = clamp(n.attr_int("start", 0));
      const int64_t end = clamp(n.attr_int("end", r));
      std::vector<int64_t> dims;
      for (int64_t d = start; d < end; ++d) dims.push_back(in.shape[static_cast<size_t>(d)]);
      out = HostTensor::from_vector(DataType::kINT64, {static_cast<int64_t>(dims.size())}, dims);
    }
    const ir::ValueId o = n.outputs[0];
    n.dead = true;
    graph_.make_constant(o, std::move(out));
    return;
  }
  for (ir::ValueId v : n.inputs)
    if (!foldable_input(v)) return;
  for (ir::ValueId v : n.outputs) {
    const int64_t count = graph_.value(v).info.element_count();
    if (count < 0 || count > kFoldElementLimit) return;
  }
  uint64_t bytes = 0;
  for (ir::ValueId v : n.outputs) {
    const ir::TensorInfo& info = graph_.value(v).info;
    bytes += storage_bytes(info.dtype, static_cast<uint64_t>(info.element_count()));
  }
  if (folded_bytes_ + bytes > kFoldByteBudget) return;
  folded_bytes_ += bytes;
  std::vector<HostTensor> args;
  for (ir::ValueId v : n.inputs)
    args.push_back(v == ir::kNoValue ? HostTensor{} : *graph_.constant_data(v));
  std::vector<HostTensor> outs;
  try {
    outs = ir::evaluate_node(n, args);
  } catch (const Exception& e) {
    throw Exception(err::kInference,
                    onnx_node.describe() + " (opset " + std::to_string(onnx_node.opset) +
                        "): evaluating it on its constant inputs failed: " + e.error().message +
                        " [" + e.error().id + "]");
  }
  const std::vector<ir::ValueId> out_ids = n.outputs;
  n.dead = true;
  for (size_t k = 0; k < out_ids.size() && k < outs.size(); ++k)
    if (outs[k].valid()) graph_.make_constant(out_ids[k], std::move(outs[k]));
}

void Importer::define_constant(const OnnxNode& node, const std::string& name, HostTensor data) {
  if (graph_.find_value(name) != ir::kNoValue)
    throw Exception(err::kDuplicate,
                    node.describe() + " produces '" + name + "', which is already defined");
  graph_.add_constant(std::move(data), name);
}

void Importer::add_initializers() {
  const auto& g = model_.graph();
  for (const auto& t : g.initializer()) {
    if (t.name().empty())
      throw Exception(err::kUnknownValue, "the graph has an initializer without a name");
    if (graph_.find_value(t.name()) != ir::kNoValue)
      throw Exception(err::kDuplicate, "initializer '" + t.name() + "' is defined twice");
    graph_.add_weight(t.name(), tensor_from_proto(t, owner_, &external_));
  }
  for (const auto& s : g.sparse_initializer()) {
    const std::string& name = s.values().name();
    if (name.empty())
      throw Exception(err::kSparse, "the graph has a sparse initializer without a name");
    if (graph_.find_value(name) != ir::kNoValue)
      throw Exception(err::kDuplicate, "initializer '" + name + "' is defined twice");
    graph_.add_weight(name, tensor_from_sparse_proto(s, owner_, &external_));
  }
}

void Importer::add_inputs() {
  for (const auto& in : model_.graph().input()) {
    const std::string& name = in.name();
    const ir::ValueId existing = graph_.find_value(name);
    if (existing != ir::kNoValue && graph_.value(existing).kind == ir::ValueKind::kWeight)
      continue;  // an initializer listed among the inputs (IR < 4 style): it stays a weight
    if (existing != ir::kNoValue)
      throw Exception(err::kDuplicate, "graph input '" + name + "' is declared twice");
    const std::string who = "graph input '" + name + "'";
    if (!in.type().has_tensor_type()) {
      std::string kind = in.type().has_sequence_type()        ? "a sequence"
                         : in.type().has_map_type()           ? "a map"
                         : in.type().has_optional_type()      ? "an optional"
                         : in.type().has_sparse_tensor_type() ? "a sparse tensor"
                                                              : "not a tensor (or has no type)";
      throw Exception(err::kValueType,
                      who + " is " + kind + "; rtx takes dense tensor inputs only");
    }
    const auto& tt = in.type().tensor_type();
    const DataType dtype = data_type_or_throw(tt.elem_type(), who);
    if (!tt.has_shape())
      throw Exception(err::kNoShape,
                      who +
                          " has no shape; rtx needs the rank of every input (dims may be "
                          "symbolic: give it a shape with dim_param names)");
    std::vector<int64_t> dims;
    std::vector<std::string> dim_names;
    bool named = false;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0)
          throw Exception(err::kDims, who + " has a negative dim " + std::to_string(d.dim_value()));
        dims.push_back(d.dim_value());
        dim_names.emplace_back();
      } else {
        dims.push_back(ir::kDynamic);
        dim_names.push_back(d.dim_param());
        named = named || !d.dim_param().empty();
      }
    }
    if (!named) dim_names.clear();
    graph_.add_input(name, dtype, std::move(dims), std::move(dim_names));
  }
}

void Importer::convert_nodes() {
  for (const OnnxNode& n : nodes_) {
    if (n.attr_error) throw Exception(*n.attr_error);
    const OpConverter* c = find_converter(n.op_type);
    ConvertContext ctx(*this, n);
    c->fn(ctx);
    for (size_t i = 0; i < n.outputs.size(); ++i)
      if (!n.outputs[i].empty() && graph_.find_value(n.outputs[i]) == ir::kNoValue)
        throw Exception(err::kUnsupportedUse, n.describe() + ": output " + std::to_string(i) +
                                                  " ('" + n.outputs[i] +
                                                  "') is not produced by rtx's form of this op");
  }
}

void Importer::add_outputs() {
  for (const auto& out : model_.graph().output()) {
    const ir::ValueId v = graph_.find_value(out.name());
    if (v == ir::kNoValue)
      throw Exception(err::kNoOutput, "graph output '" + out.name() +
                                          "' is not produced by any node, input or initializer");
    if (std::find(graph_.outputs().begin(), graph_.outputs().end(), v) != graph_.outputs().end())
      throw Exception(err::kDuplicate, "graph output '" + out.name() + "' is listed twice");
    const ir::TensorInfo& info = graph_.value(v).info;
    if (out.type().has_tensor_type()) {
      const auto& tt = out.type().tensor_type();
      if (tt.elem_type() != 0) {
        auto want = ir::data_type_from_onnx(tt.elem_type());
        if (!want || *want != info.dtype)
          throw Exception(err::kOutputMismatch, "graph output '" + out.name() + "' is declared " +
                                                    ir::onnx_type_name(tt.elem_type()) +
                                                    " but computes as " + ir::describe(info));
      }
      if (tt.has_shape()) {
        const auto& dims = tt.shape().dim();
        bool ok = dims.size() == static_cast<int>(info.shape.size());
        for (int d = 0; ok && d < dims.size(); ++d)
          if (dims[d].has_dim_value() && info.shape[static_cast<size_t>(d)] != ir::kDynamic)
            ok = dims[d].dim_value() == info.shape[static_cast<size_t>(d)];
        if (!ok) {
          std::vector<int64_t> declared;
          for (const auto& d : dims)
            declared.push_back(d.has_dim_value() ? d.dim_value() : ir::kDynamic);
          throw Exception(err::kOutputMismatch,
                          "graph output '" + out.name() + "' is declared with shape " +
                              shape_to_string(declared) + " but computes as " + ir::describe(info));
        }
      }
    } else if (out.type().value_case() != pb::TypeProto::VALUE_NOT_SET) {
      throw Exception(err::kValueType, "graph output '" + out.name() +
                                           "' is not a tensor; rtx produces tensors only");
    }
    graph_.mark_output(v);
  }
  if (graph_.outputs().empty()) throw Exception(err::kNoOutput, "the graph has no outputs");
}

void Importer::post_process() {
  ir::PassOptions po;
  po.keep_weights = true;  // initializers stay refittable weights (and Q/DQ of weights stays Q/DQ)
  if (options_.fold_constants) {
    ir::fold_constants(graph_, po);
    ir::remove_dead_nodes(graph_, po);
  }
  if (options_.fuse_patterns) {
    ir::fuse_patterns(graph_, po);
    ir::remove_dead_nodes(graph_, po);
  }
  graph_.infer_shapes();
}

ir::Graph Importer::run() {
  if (!model_.has_graph()) throw Exception(err::kNoGraph, "the model has no graph");
  read_opsets();
  expand(model_.graph().node(), nullptr, 0);
  sort_nodes();
  scan_unsupported();
  const auto& g = model_.graph();
  for (const auto& v : g.input()) reserved_.insert(v.name());
  for (const auto& v : g.output()) reserved_.insert(v.name());
  for (const auto& t : g.initializer()) reserved_.insert(t.name());
  for (const auto& n : nodes_) {
    for (const auto& s : n.inputs) reserved_.insert(s);
    for (const auto& s : n.outputs) reserved_.insert(s);
  }
  add_initializers();
  add_inputs();
  convert_nodes();
  add_outputs();
  post_process();
  return std::move(graph_);
}

ir::Graph import_model(const LoadedModel& model, const ImportOptions& options, ImportLog& log) {
  Importer imp(model, options, log);
  return imp.run();
}

// ---- ConvertContext ---------------------------------------------------------------------------

ir::ValueId ConvertContext::input(size_t i) const {
  if (i >= node_.inputs.size()) return ir::kNoValue;
  return imp_.lookup(node_, i);
}

ir::ValueId ConvertContext::required_input(size_t i) const {
  const ir::ValueId v = input(i);
  if (v == ir::kNoValue) fail(err::kArity, "input " + std::to_string(i) + " is required");
  return v;
}

std::vector<ir::ValueId> ConvertContext::inputs() const {
  std::vector<ir::ValueId> out;
  for (size_t i = 0; i < node_.inputs.size(); ++i) out.push_back(input(i));
  while (!out.empty() && out.back() == ir::kNoValue) out.pop_back();
  return out;
}

const ir::TensorInfo& ConvertContext::info(ir::ValueId v) const {
  return imp_.graph_.value(v).info;
}

const HostTensor* ConvertContext::constant(ir::ValueId v) const {
  return v == ir::kNoValue ? nullptr : imp_.graph_.constant_data(v);
}

std::optional<SymValue> ConvertContext::symbolic(ir::ValueId v) const {
  return imp_.symbolic(v);
}

SymDim ConvertContext::canonical_dim(ir::ValueId v, int64_t d) const {
  return imp_.canonical_dim(v, d);
}

std::optional<std::vector<int64_t>> ConvertContext::constant_ints(ir::ValueId v) const {
  const HostTensor* t = constant(v);
  if (!t || is_floating(t->dtype()) || t->rank() > 1) return std::nullopt;
  return t->to_ints();
}

namespace {
template <class T>
const T* get_attr(const OnnxNode& n, std::string_view key, const char* want,
                  const ConvertContext& ctx) {
  auto it = n.attrs.find(key);
  if (it == n.attrs.end()) return nullptr;
  if (const T* p = std::get_if<T>(&it->second)) return p;
  ctx.fail(err::kAttribute, "attribute '" + std::string(key) + "' is not " + want);
}
}  // namespace

int64_t ConvertContext::attr_int(std::string_view key, int64_t fallback) const {
  const auto* p = get_attr<int64_t>(node_, key, "an integer", *this);
  return p ? *p : fallback;
}

double ConvertContext::attr_float(std::string_view key, double fallback) const {
  auto it = node_.attrs.find(key);
  if (it == node_.attrs.end()) return fallback;
  if (const auto* d = std::get_if<double>(&it->second)) return *d;
  if (const auto* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  fail(err::kAttribute, "attribute '" + std::string(key) + "' is not a float");
}

std::string ConvertContext::attr_string(std::string_view key, std::string fallback) const {
  const auto* p = get_attr<std::string>(node_, key, "a string", *this);
  return p ? *p : fallback;
}

std::optional<std::vector<int64_t>> ConvertContext::attr_ints(std::string_view key) const {
  const auto* p = get_attr<std::vector<int64_t>>(node_, key, "a list of integers", *this);
  if (!p) return std::nullopt;
  return *p;
}

std::optional<std::vector<double>> ConvertContext::attr_floats(std::string_view key) const {
  const auto* p = get_attr<std::vector<double>>(node_, key, "a list of floats", *this);
  if (!p) return std::nullopt;
  return *p;
}

const HostTensor* ConvertContext::attr_tensor(std::string_view key) const {
  return get_attr<HostTensor>(node_, key, "a tensor", *this);
}

Attrs ConvertContext::attrs_except(std::initializer_list<std::string_view> drop) const {
  Attrs out;
  for (const auto& [k, v] : node_.attrs)
    if (std::find(drop.begin(), drop.end(), std::string_view(k)) == drop.end()) out.emplace(k, v);
  return out;
}

ir::ValueId ConvertContext::const_ints(const std::vector<int64_t>& values) {
  return const_tensor(
      HostTensor::from_vector(DataType::kINT64, {static_cast<int64_t>(values.size())}, values));
}

ir::ValueId ConvertContext::const_scalar(DataType dtype, double value) {
  return const_tensor(HostTensor::scalar(dtype, value));
}

ir::ValueId ConvertContext::const_tensor(HostTensor data) {
  return imp_.graph_.add_constant(std::move(data), imp_.fresh_name(node_.name + "/const"));
}

ir::ValueId ConvertContext::add(ir::OpKind op, std::vector<ir::ValueId> inputs, Attrs attrs) {
  return add_multi(op, std::move(inputs), std::move(attrs), 1)[0];
}

std::vector<ir::ValueId> ConvertContext::add_multi(ir::OpKind op, std::vector<ir::ValueId> inputs,
                                                   Attrs attrs, int num_outputs) {
  const std::string base =
      node_.name + "/" + std::string(ir::op_name(op)) + "_" + std::to_string(step_++);
  std::vector<std::string> names;
  for (int i = 0; i < num_outputs; ++i)
    names.push_back(imp_.fresh_name(base + (num_outputs > 1 ? ":" + std::to_string(i) : ":out")));
  return imp_.add_node(node_, op, base, std::move(inputs), std::move(attrs), std::move(names));
}

void ConvertContext::emit(ir::OpKind op, std::vector<ir::ValueId> inputs, Attrs attrs,
                          int num_ir_outputs) {
  const size_t n = num_ir_outputs < 0 ? node_.outputs.size() : static_cast<size_t>(num_ir_outputs);
  std::vector<std::string> names;
  for (size_t i = 0; i < n; ++i) {
    if (i < node_.outputs.size() && !node_.outputs[i].empty())
      names.push_back(node_.outputs[i]);
    else
      names.push_back(imp_.fresh_name(node_.name + ":unused" + std::to_string(i)));
  }
  imp_.add_node(node_, op, node_.name, std::move(inputs), std::move(attrs), std::move(names));
}

void ConvertContext::emit_output(size_t out_index, ir::OpKind op, std::vector<ir::ValueId> inputs,
                                 Attrs attrs) {
  if (!wants_output(out_index)) return;
  imp_.add_node(node_, op,
                node_.name + (out_index ? "/out" + std::to_string(out_index) : std::string()),
                std::move(inputs), std::move(attrs), {node_.outputs[out_index]});
}

void ConvertContext::bind_constant(size_t out_index, HostTensor data) {
  if (!wants_output(out_index)) return;
  imp_.define_constant(node_, node_.outputs[out_index], std::move(data));
}

void ConvertContext::fail(const char* id, const std::string& message) const {
  throw Exception(id,
                  node_.describe() + " (opset " + std::to_string(node_.opset) + "): " + message);
}

void ConvertContext::warn(const char* id, const std::string& message) const {
  imp_.log().warnings.push_back({id, node_.describe() + ": " + message});
}

}  // namespace rtx::onnx
