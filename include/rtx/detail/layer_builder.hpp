// SPDX-License-Identifier: Apache-2.0
// The narrow, non-template seam between the typed front end (header templates) and the graph IR
// (ir/network.cpp). Every layer template describes its node as a LayerSpec (ONNX op type, operands,
// attributes, and the dtype/rank its C++ return type promises) and hands it to one function,
// add_layer, which builds, infers and checks the node. Keeping the IR behind this seam means the
// public headers pull neither the IR nor Eigen, and a layer's template body stays a few lines.
// Internal: reached through <rtx/rtx.hpp>, <rtx/network.hpp> or <rtx/layers.hpp>.
#pragma once

#if !defined(RTX_INTERNAL) && !defined(RTX_DETAIL_ALLOWED)
#error "rtx: rtx/detail headers are internal; include <rtx/rtx.hpp> instead"
#endif

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/types.hpp"

namespace rtx {
class Network;
namespace ir {
class Graph;
}  // namespace ir
}  // namespace rtx

namespace rtx::detail {

/// The state behind a Network (graph, recorded errors, naming counters). Tensors point at it, so
/// they stay valid when the Network object itself is moved.
struct NetworkImpl;
/// Friend of Network that reaches its NetworkImpl (defined in ir/network.cpp).
struct NetworkAccess;

/// Tag for the Tensor constructor that only the front end uses.
struct InternalTag {
  explicit InternalTag() = default;
};

/// One input of a layer: a tensor of the network, a constant made for this layer (a reshape's
/// shape, a clip bound...), or an omitted optional input.
struct Operand {
  NetworkImpl* net = nullptr;
  int32_t id = -1;      ///< value id when the operand is a tensor
  HostTensor constant;  ///< valid() when the operand is a constant
  std::string label;    ///< constant's name, appended to the node name ("shape")
  bool is_tensor = false;

  static Operand tensor(NetworkImpl* net, int32_t id) {
    Operand o;
    o.net = net;
    o.id = id;
    o.is_tensor = true;
    return o;
  }
  static Operand make_constant(HostTensor data, std::string label) {
    Operand o;
    o.constant = std::move(data);
    o.label = std::move(label);
    return o;
  }
  static Operand absent() { return {}; }
};

/// Attribute values a layer may set (ONNX attribute kinds; a DataType becomes ONNX's type number).
using AttrPayload =
    std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>, DataType>;

struct LayerAttr {
  std::string key;
  AttrPayload value;
};

/// Everything add_layer needs to build one IR node.
struct LayerSpec {
  const char* layer = "";  ///< front-end function ("linear"): node names and messages use it
  const char* op = "";     ///< ONNX op type of the node ("Gemm")
  std::vector<Operand> inputs;
  std::vector<LayerAttr> attrs;
  std::string name;  ///< node name; empty: "<layer>_<k>"
  /// Axes the layer takes (reduce, squeeze, unsqueeze): checked to lie in [-axes_rank, axes_rank)
  /// and be distinct before the node is built, because the C++ result rank counts them.
  std::vector<int64_t> axes;
  int64_t axes_rank = 0;
  DataType out_dtype = DataType::kF32;  ///< what the C++ return type promises
  int out_rank = 0;
};

/// Builds the node described by `spec` in `net`, infers its output and checks it against the
/// promised dtype and rank. Returns the output value id, or -1 when the layer cannot be built:
/// the error is then recorded in the network (nothing is recorded when an operand is already
/// invalid, so one mistake gives one error). Never throws.
int32_t add_layer(NetworkImpl* net, LayerSpec spec);

/// A fresh node name "<layer>_<k>" (layers made of several nodes share one base name).
std::string next_layer_name(NetworkImpl* net, const char* layer);

/// Records a front-end error (Network::errors) unless `net` is null.
void record_error(NetworkImpl* net, Error error);

/// Checks rtx::linear's operands before any node exists: x (..., K), w (N, K), b (N). Records
/// rtx.frontend.110/111 and returns false on a mismatch of known dims.
bool check_linear(NetworkImpl* net, const Operand& x, const Operand& w, const Operand& b);

// ---- Network members that are not templates ---------------------------------------------------
int32_t add_input(NetworkImpl* net, std::string name, DataType dtype, const int64_t* dims,
                  size_t rank);
/// A named weight (`named` true) or constant; checks dtype and rank against the declared type.
int32_t add_data(NetworkImpl* net, std::string name, HostTensor data, DataType dtype, int rank,
                 bool named);
void mark_output(NetworkImpl* net, NetworkImpl* tensor_net, int32_t id, std::string name);
/// Shape of value `id` written to out[0..rank) (kept as -1 for dynamic dims or an invalid id).
void value_shape(const NetworkImpl* net, int32_t id, int64_t* out, size_t rank);
std::string value_name(const NetworkImpl* net, int32_t id);

/// Internal access for the builder, the ONNX parser and tests (they include ir/graph.hpp).
ir::Graph& graph_of(Network& net);
const ir::Graph& graph_of(const Network& net);
/// Wraps a graph made elsewhere (the ONNX parser) into a Network; its errors list starts empty.
Network wrap_graph(ir::Graph graph);

}  // namespace rtx::detail
