// SPDX-License-Identifier: Apache-2.0
// The typed front end's non-template half: Network (a graph plus recorded build errors) and
// add_layer, the one function every layer template goes through. A layer's node is built, its
// output inferred at once (so dims errors surface at the call that caused them), and checked
// against the dtype and rank its C++ type promised. Failures become recorded errors naming the
// layer and its operands; nothing throws out of here.
#define RTX_INTERNAL 1
#include "rtx/network.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "ir/graph.hpp"
#include "ir/onnx_dtype.hpp"
#include "ir/op_kind.hpp"
#include "ir/reference.hpp"
#include "rtx/reference.hpp"

namespace rtx {

namespace detail {

struct NetworkImpl {
  ir::Graph graph;
  std::vector<Error> errors;
  std::map<std::string, int, std::less<>> layer_counts;  // naming: "<layer>_<k>"
  ErrorRecorder* recorder = nullptr;

  void record(Error e) {
    if (recorder != nullptr) recorder->report(Severity::kERROR, e);
    errors.push_back(std::move(e));
  }
  bool has(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < graph.values().size(); }
};

struct NetworkAccess {
  static NetworkImpl* impl(const Network& n) { return n.impl_.get(); }
  static Network from_impl(std::unique_ptr<NetworkImpl> impl) {
    Network n;
    n.impl_ = std::move(impl);
    return n;
  }
};

namespace {

std::string describe_value(const ir::Graph& g, int32_t id) {
  const ir::Value& v = g.value(id);
  return "'" + v.name + "' " + ir::describe(v.info);
}

/// "rtx::linear (node 'linear_1'; inputs 'x' f32[?,784], 'w1' f32[10,700])".
std::string layer_context(const ir::Graph& g, const LayerSpec& spec, const std::string& node,
                          const std::vector<ir::ValueId>& inputs) {
  std::string s = std::string("rtx::") + spec.layer + " (node '" + node + "'";
  bool first = true;
  for (ir::ValueId v : inputs) {
    if (v == ir::kNoValue) continue;
    s += first ? "; inputs " : ", ";
    s += describe_value(g, v);
    first = false;
  }
  return s + ")";
}

ir::AttrValue to_ir(const AttrPayload& a) {
  return std::visit(
      [](const auto& v) -> ir::AttrValue {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, DataType>) {
          return ir::onnx_from_data_type(v);
        } else {
          return v;
        }
      },
      a);
}

}  // namespace

/// Runs `f`, turning anything it throws into a recorded error; returns `fallback` then.
template <class R, class F>
R guarded(NetworkImpl* net, R fallback, F&& f) {
  try {
    return f();
  } catch (const Exception& e) {
    net->record(e.error());
  } catch (const std::bad_alloc&) {
    net->record({"rtx.frontend.199", "out of host memory while building the network"});
  } catch (const std::exception& e) {
    net->record({"rtx.frontend.199", std::string("internal error: ") + e.what()});
  }
  return fallback;
}

std::string next_layer_name(NetworkImpl* net, const char* layer) {
  if (net == nullptr) return layer;
  const int k = ++net->layer_counts[layer];
  return std::string(layer) + "_" + std::to_string(k);
}

void record_error(NetworkImpl* net, Error error) {
  if (net != nullptr) net->record(std::move(error));
}

int32_t add_layer(NetworkImpl* net, LayerSpec spec) {
  if (net == nullptr) return -1;  // every operand is a default-constructed Tensor
  // Operands first: an operand from a failed layer means the error is already recorded.
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const Operand& o = spec.inputs[i];
    if (!o.is_tensor) continue;
    if (o.net == nullptr) {
      net->record({"rtx.frontend.101", std::string("rtx::") + spec.layer + ": operand " +
                                           std::to_string(i) +
                                           " was never built (a default-constructed rtx::Tensor)"});
      return -1;
    }
    if (o.net != net) {
      net->record({"rtx.frontend.101", std::string("rtx::") + spec.layer + ": operand " +
                                           std::to_string(i) + " belongs to another Network"});
      return -1;
    }
    if (!net->has(o.id)) return -1;
  }
  return guarded(net, int32_t{-1}, [&]() -> int32_t {
    ir::Graph& g = net->graph;
    const std::string node_name = spec.name.empty() ? next_layer_name(net, spec.layer) : spec.name;
    std::vector<ir::ValueId> inputs;
    for (Operand& o : spec.inputs) {
      if (o.is_tensor) {
        inputs.push_back(o.id);
      } else if (o.constant.valid()) {
        inputs.push_back(
            g.add_constant(std::move(o.constant), g.unique_name(node_name + "/" + o.label)));
      } else {
        inputs.push_back(ir::kNoValue);
      }
    }
    const std::string where = layer_context(g, spec, node_name, inputs);
    // Axes count toward the C++ result rank, so they must be valid and distinct.
    if (!spec.axes.empty()) {
      std::vector<int64_t> seen;
      for (int64_t a : spec.axes) {
        if (a < -spec.axes_rank || a >= spec.axes_rank)
          throw Exception("rtx.frontend.120", where + ": axis " + std::to_string(a) +
                                                  " is out of range for rank " +
                                                  std::to_string(spec.axes_rank));
        const int64_t n = a < 0 ? a + spec.axes_rank : a;
        if (std::find(seen.begin(), seen.end(), n) != seen.end())
          throw Exception("rtx.frontend.120",
                          where + ": axis " + std::to_string(a) + " is repeated");
        seen.push_back(n);
      }
    }
    const auto kind = ir::op_from_name(spec.op);
    if (!kind) throw Exception("rtx.frontend.199", where + ": unknown op type '" + spec.op + "'");
    std::map<std::string, ir::AttrValue, std::less<>> attrs;
    for (const LayerAttr& a : spec.attrs) attrs.insert_or_assign(a.key, to_ir(a.value));
    const ir::NodeId node = g.add_node(*kind, node_name, std::move(inputs), 1, std::move(attrs));
    try {
      g.infer_node(node);
    } catch (const Exception& e) {
      // The node stays in the graph, dead, so value ids already handed out stay valid.
      g.node(node).dead = true;
      throw Exception(e.error().id, where + ": " + e.error().message);
    }
    const ir::ValueId out = g.node(node).outputs.at(0);
    const ir::TensorInfo& info = g.value(out).info;
    if (info.dtype != spec.out_dtype || info.rank() != spec.out_rank) {
      g.node(node).dead = true;
      throw Exception("rtx.frontend.190",
                      where + ": the IR infers " + ir::describe(info) + " but the C++ type is " +
                          std::string(to_string(spec.out_dtype)) + " of rank " +
                          std::to_string(spec.out_rank) + " (a front-end bug: please report it)");
    }
    return out;
  });
}

bool check_linear(NetworkImpl* net, const Operand& x, const Operand& w, const Operand& b) {
  if (net == nullptr) return true;
  const auto usable = [&](const Operand& o) {
    return o.is_tensor && o.net == net && net->has(o.id);
  };
  // Anything unusable is left to add_layer, which reports it (or stays silent for a failed input).
  if (!usable(x) || !usable(w)) return true;
  const ir::Graph& g = net->graph;
  const auto& xs = g.value(x.id).info.shape;
  const auto& ws = g.value(w.id).info.shape;
  if (xs.empty() || ws.size() != 2) return true;
  const int64_t k = xs.back();
  if (k >= 0 && ws[1] >= 0 && k != ws[1]) {
    net->record({"rtx.frontend.110",
                 "rtx::linear: x " + describe_value(g, x.id) + " has " + std::to_string(k) +
                     " input features but weight " + describe_value(g, w.id) + " expects " +
                     std::to_string(ws[1]) +
                     " (the weight is (out_features, in_features), like torch.nn.Linear)"});
    return false;
  }
  if (usable(b)) {
    const auto& bs = g.value(b.id).info.shape;
    if (bs.size() == 1 && bs[0] >= 0 && ws[0] >= 0 && bs[0] != ws[0]) {
      net->record({"rtx.frontend.111", "rtx::linear: bias " + describe_value(g, b.id) + " has " +
                                           std::to_string(bs[0]) + " entries but weight " +
                                           describe_value(g, w.id) + " has " +
                                           std::to_string(ws[0]) + " output features"});
      return false;
    }
  }
  return true;
}

int32_t add_input(NetworkImpl* net, std::string name, DataType dtype, const int64_t* dims,
                  size_t rank) {
  if (net == nullptr) return -1;
  return guarded(net, int32_t{-1}, [&] {
    std::vector<int64_t> shape(dims, dims + rank);
    for (size_t i = 0; i < rank; ++i)
      if (shape[i] < 0 && shape[i] != ir::kDynamic)
        throw Exception("rtx.ir.103", "input '" + name + "' dim " + std::to_string(i) + " is " +
                                          std::to_string(shape[i]) +
                                          "; use an extent >= 0 or rtx::dynamic");
    return net->graph.add_input(std::move(name), dtype, std::move(shape));
  });
}

int32_t add_data(NetworkImpl* net, std::string name, HostTensor data, DataType dtype, int rank,
                 bool named) {
  if (net == nullptr) return -1;
  return guarded(net, int32_t{-1}, [&] {
    const char* what = named ? "weight" : "constant";
    const std::string label =
        name.empty() ? std::string(what) : std::string(what) + " '" + name + "'";
    if (!data.valid())
      throw Exception("rtx.frontend.103",
                      label + " has no data (a default-constructed HostTensor)");
    if (data.dtype() != dtype || data.rank() != rank)
      throw Exception("rtx.frontend.102",
                      label + " holds " + data.describe() + " but was declared as " +
                          std::string(to_string(dtype)) + " of rank " + std::to_string(rank));
    if (named) {
      if (name.empty())
        throw Exception("rtx.frontend.103", "a weight needs a name (it is refittable by name)");
      return net->graph.add_weight(std::move(name), std::move(data));
    }
    return net->graph.add_constant(std::move(data), std::move(name));
  });
}

void mark_output(NetworkImpl* net, NetworkImpl* tensor_net, int32_t id, std::string name) {
  if (net == nullptr) return;
  if (tensor_net == nullptr) {
    net->record({"rtx.frontend.104", "output '" + name +
                                         "' is a tensor that was never built (a "
                                         "default-constructed rtx::Tensor)"});
    return;
  }
  if (tensor_net != net) {
    net->record({"rtx.frontend.101", "output '" + name + "' is a tensor of another Network"});
    return;
  }
  if (!net->has(id)) return;  // its layer failed: that error is already recorded
  guarded(net, 0, [&] {
    ir::Graph& g = net->graph;
    const ir::Value& v = g.value(id);
    const bool already_output =
        std::find(g.outputs().begin(), g.outputs().end(), id) != g.outputs().end();
    // Renaming an input, weight or constant (or an output already named) would change a name
    // the user relies on: give the output a name of its own through an Identity node instead.
    if (!name.empty() && name != v.name &&
        (v.kind != ir::ValueKind::kIntermediate || already_output)) {
      const ir::NodeId n = g.add_node(ir::OpKind::kIdentity, next_layer_name(net, "output"), {id},
                                      1, {}, {std::move(name)});
      g.infer_node(n);
      g.mark_output(g.node(n).outputs[0]);
    } else {
      g.mark_output(id, std::move(name));
    }
    return 0;
  });
}

void value_shape(const NetworkImpl* net, int32_t id, int64_t* out, size_t rank) {
  if (net == nullptr || !net->has(id)) return;
  const auto& shape = net->graph.value(id).info.shape;
  std::copy_n(shape.begin(), std::min(rank, shape.size()), out);
}

std::string value_name(const NetworkImpl* net, int32_t id) {
  if (net == nullptr || !net->has(id)) return {};
  return net->graph.value(id).name;
}

ir::Graph& graph_of(Network& net) {
  return NetworkAccess::impl(net)->graph;
}
const ir::Graph& graph_of(const Network& net) {
  return NetworkAccess::impl(net)->graph;
}

Network wrap_graph(ir::Graph graph) {
  auto impl = std::make_unique<NetworkImpl>();
  impl->graph = std::move(graph);
  return NetworkAccess::from_impl(std::move(impl));
}

}  // namespace detail

// ---- Network ------------------------------------------------------------------------------------

Network::Network() : impl_(std::make_unique<detail::NetworkImpl>()) {}
Network::~Network() = default;
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;

void Network::set_profile(std::string_view input_name, std::vector<int64_t> min,
                          std::vector<int64_t> opt, std::vector<int64_t> max) {
  if (!impl_) return;
  detail::guarded(impl_.get(), 0, [&] {
    impl_->graph.set_profile(input_name,
                             ir::InputProfile{std::move(min), std::move(opt), std::move(max)});
    return 0;
  });
}

void Network::set_error_recorder(ErrorRecorder* recorder) {
  if (impl_) impl_->recorder = recorder;
}

bool Network::ok() const {
  return impl_ && impl_->errors.empty();
}

const std::vector<Error>& Network::errors() const {
  static const std::vector<Error> kNone;
  return impl_ ? impl_->errors : kNone;
}

Expected<void> Network::status() const {
  if (!impl_) return Error{"rtx.frontend.199", "this Network was moved from"};
  if (!impl_->errors.empty()) return impl_->errors.front();
  return {};
}

std::vector<std::string> Network::input_names() const {
  std::vector<std::string> names;
  if (impl_)
    for (ir::ValueId v : impl_->graph.inputs()) names.push_back(impl_->graph.value(v).name);
  return names;
}

std::vector<std::string> Network::output_names() const {
  std::vector<std::string> names;
  if (impl_)
    for (ir::ValueId v : impl_->graph.outputs()) names.push_back(impl_->graph.value(v).name);
  return names;
}

size_t Network::num_layers() const {
  if (!impl_) return 0;
  return static_cast<size_t>(std::count_if(impl_->graph.nodes().begin(), impl_->graph.nodes().end(),
                                           [](const ir::Node& n) { return !n.dead; }));
}

std::string Network::to_text() const {
  return impl_ ? impl_->graph.to_text() : std::string();
}

// ---- reference entry point ----------------------------------------------------------------------

Expected<std::map<std::string, HostTensor>> evaluate_reference(
    const Network& network, const std::map<std::string, HostTensor>& inputs) {
  using Result = Expected<std::map<std::string, HostTensor>>;
  return detail::catch_errors("rtx.reference.100", [&]() -> Result {
    if (auto s = network.status(); !s) return s.error();
    const ir::Graph& g = detail::graph_of(network);
    if (g.outputs().empty())
      return Error{"rtx.frontend.130", "the network has no outputs; mark one with Network::output"};
    g.verify();
    const ir::TensorMap in(inputs.begin(), inputs.end());
    ir::TensorMap out = ir::evaluate(g, in);
    return std::map<std::string, HostTensor>(std::make_move_iterator(out.begin()),
                                             std::make_move_iterator(out.end()));
  });
}

}  // namespace rtx
