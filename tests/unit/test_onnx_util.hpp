// SPDX-License-Identifier: Apache-2.0
// Helpers for the ONNX importer tests: a tiny builder for ModelProtos (inputs, initializers,
// nodes with attributes, outputs), serialization, parsing through the public Parser and running
// the reference evaluator on the result.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "ir/onnx/proto.hpp"
#include "ir/onnx_dtype.hpp"
#include "ir/reference.hpp"
#include "rtx/onnx.hpp"

namespace rtx::test {

namespace pb = ::onnx;

/// dims for value infos: a number is a static dim, a string a symbolic one.
struct Dim {
  int64_t value = -1;
  std::string param;
  Dim(int64_t v) : value(v) {}      // NOLINT: implicit on purpose
  Dim(const char* p) : param(p) {}  // NOLINT
};

class ModelBuilder {
 public:
  explicit ModelBuilder(int64_t opset = 17) {
    model_.set_ir_version(8);
    model_.set_producer_name("rtx-test");
    auto* o = model_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
  }
  pb::ModelProto& proto() { return model_; }
  pb::GraphProto& graph() { return *model_.mutable_graph(); }

  ModelBuilder& input(const std::string& name, int32_t elem_type, std::vector<Dim> dims) {
    fill_value(graph().add_input(), name, elem_type, dims);
    return *this;
  }
  ModelBuilder& output(const std::string& name, int32_t elem_type = 0) {
    auto* v = graph().add_output();
    v->set_name(name);
    if (elem_type) v->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
    return *this;
  }
  ModelBuilder& output_with_shape(const std::string& name, int32_t elem_type,
                                  std::vector<Dim> dims) {
    fill_value(graph().add_output(), name, elem_type, dims);
    return *this;
  }
  /// A float initializer stored as raw_data.
  ModelBuilder& init_f32(const std::string& name, std::vector<int64_t> dims,
                         const std::vector<float>& v) {
    auto* t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(1);
    for (auto d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    return *this;
  }
  /// An int64 initializer stored in int64_data.
  ModelBuilder& init_i64(const std::string& name, std::vector<int64_t> dims,
                         const std::vector<int64_t>& v) {
    auto* t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(7);
    for (auto d : dims) t->add_dims(d);
    for (auto x : v) t->add_int64_data(x);
    return *this;
  }
  pb::TensorProto& init(const std::string& name, int32_t elem_type, std::vector<int64_t> dims) {
    auto* t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(elem_type);
    for (auto d : dims) t->add_dims(d);
    return *t;
  }
  pb::NodeProto& node(const std::string& op, std::vector<std::string> inputs,
                      std::vector<std::string> outputs, const std::string& name = {}) {
    auto* n = graph().add_node();
    n->set_op_type(op);
    if (!name.empty()) n->set_name(name);
    for (auto& i : inputs) n->add_input(i);
    for (auto& o : outputs) n->add_output(o);
    return *n;
  }
  std::string bytes() const { return model_.SerializeAsString(); }

 private:
  static void fill_value(pb::ValueInfoProto* v, const std::string& name, int32_t elem_type,
                         const std::vector<Dim>& dims) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem_type);
    auto* shape = tt->mutable_shape();
    for (const auto& d : dims) {
      auto* dim = shape->add_dim();
      if (!d.param.empty())
        dim->set_dim_param(d.param);
      else if (d.value >= 0)
        dim->set_dim_value(d.value);
    }
  }
  pb::ModelProto model_;
};

inline void attr_i(pb::NodeProto& n, const std::string& k, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(k);
  a->set_type(pb::AttributeProto::INT);
  a->set_i(v);
}
inline void attr_f(pb::NodeProto& n, const std::string& k, float v) {
  auto* a = n.add_attribute();
  a->set_name(k);
  a->set_type(pb::AttributeProto::FLOAT);
  a->set_f(v);
}
inline void attr_s(pb::NodeProto& n, const std::string& k, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(k);
  a->set_type(pb::AttributeProto::STRING);
  a->set_s(v);
}
inline void attr_ints(pb::NodeProto& n, const std::string& k, std::vector<int64_t> v) {
  auto* a = n.add_attribute();
  a->set_name(k);
  a->set_type(pb::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}
inline void attr_floats(pb::NodeProto& n, const std::string& k, std::vector<float> v) {
  auto* a = n.add_attribute();
  a->set_name(k);
  a->set_type(pb::AttributeProto::FLOATS);
  for (auto x : v) a->add_floats(x);
}

/// Parses `m` from memory; REQUIREs success and returns the network.
inline Network parse_ok(const ModelBuilder& m, onnx::ParserOptions options = {}) {
  onnx::Parser parser(nullptr, options);
  const std::string b = m.bytes();
  auto net = parser.parse(b.data(), b.size());
  if (!net) FAIL_CHECK(net.error().to_string());
  REQUIRE(net.has_value());
  return std::move(*net);
}

/// Parses `m` expecting failure; returns the error.
inline Error parse_error(const ModelBuilder& m, const std::string& dir = {}) {
  onnx::Parser parser;
  const std::string b = m.bytes();
  auto net = parser.parse(b.data(), b.size(), dir);
  REQUIRE_FALSE(net.has_value());
  return net.error();
}

/// Evaluates the network on `inputs` with the IR's reference evaluator.
inline ir::TensorMap run(const Network& net, const ir::TensorMap& inputs) {
  return ir::evaluate(detail::graph_of(net), inputs);
}

inline HostTensor f32t(std::vector<int64_t> shape, std::vector<double> v) {
  return HostTensor::from_doubles(DataType::kF32, std::move(shape), v);
}

/// Elements of `t` as doubles.
inline std::vector<double> values(const HostTensor& t) {
  return t.to_doubles();
}

/// Checks every element within an absolute tolerance.
inline void check_close(const HostTensor& got, const std::vector<int64_t>& shape,
                        const std::vector<double>& want, double tol = 1e-6) {
  REQUIRE(got.valid());
  REQUIRE(got.shape() == shape);
  const auto v = got.to_doubles();
  REQUIRE(v.size() == want.size());
  for (size_t i = 0; i < v.size(); ++i)
    CHECK_MESSAGE(std::abs(v[i] - want[i]) <= tol,
                  "element " << i << ": " << v[i] << " vs " << want[i]);
}

/// Number of live nodes of kind `op` in the network's graph.
inline int count_ops(const Network& net, ir::OpKind op) {
  int n = 0;
  for (const auto& node : detail::graph_of(net).nodes()) n += !node.dead && node.op == op;
  return n;
}

}  // namespace rtx::test
