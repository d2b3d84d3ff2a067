// SPDX-License-Identifier: Apache-2.0
// Helpers for op tests: build one node, run inference and the reference implementation, and
// compare results element by element with a tolerance (exact by default).
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "ir/op_registry.hpp"

namespace rtx::test {

using Attrs = std::map<std::string, ir::AttrValue, std::less<>>;

/// A tensor of `dtype` holding `values` (converted with the exact rounding rules).
inline HostTensor tensor(DataType dtype, std::vector<int64_t> shape, std::vector<double> values) {
  return HostTensor::from_doubles(dtype, std::move(shape), values);
}
inline HostTensor f32(std::vector<int64_t> shape, std::vector<double> values) {
  return tensor(DataType::kF32, std::move(shape), std::move(values));
}
inline HostTensor i64(std::vector<int64_t> shape, std::vector<double> values) {
  return tensor(DataType::kINT64, std::move(shape), std::move(values));
}

/// Runs one node of kind `op` on `inputs` (an invalid HostTensor = omitted optional input) and
/// returns its outputs. Also checks that build-time inference on the same inputs (with their data
/// treated as constants) agrees with the evaluated outputs' dtypes and shapes.
inline std::vector<HostTensor> run_op(ir::OpKind op, std::vector<HostTensor> inputs, Attrs attrs = {},
                                      int num_outputs = 1) {
  ir::Node node;
  node.op = op;
  node.name = std::string(ir::op_name(op)) + "_test";
  node.attrs = std::move(attrs);
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(inputs[i].valid() ? static_cast<ir::ValueId>(i) : ir::kNoValue);
  for (int i = 0; i < num_outputs; ++i) node.outputs.push_back(static_cast<ir::ValueId>(100 + i));
  return ir::evaluate_node(node, inputs);
}

/// Inference alone, for shape tests: `inputs` are infos, `constants` optional data per input.
inline std::vector<ir::TensorInfo> infer_op(ir::OpKind op, std::vector<ir::TensorInfo> inputs, Attrs attrs = {},
                                            int num_outputs = 1, std::vector<const HostTensor*> constants = {}) {
  ir::Node node;
  node.op = op;
  node.name = std::string(ir::op_name(op)) + "_test";
  node.attrs = std::move(attrs);
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(static_cast<ir::ValueId>(i));
  for (int i = 0; i < num_outputs; ++i) node.outputs.push_back(static_cast<ir::ValueId>(100 + i));
  constants.resize(inputs.size(), nullptr);
  return ir::infer(node, inputs, constants);
}

/// Checks dtype, shape and every element (NaN matches NaN; tolerance is |a-b| <= atol + rtol*|b|).
inline void check_tensor(const HostTensor& got, DataType dtype, const std::vector<int64_t>& shape,
                         const std::vector<double>& want, double rtol = 0, double atol = 0) {
  REQUIRE(got.valid());
  CHECK(got.dtype() == dtype);
  REQUIRE(got.shape() == shape);
  REQUIRE(got.element_count() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    const double g = got.get_double(static_cast<int64_t>(i));
    const double w = want[i];
    if (std::isnan(w)) {
      CHECK_MESSAGE(std::isnan(g), "element " << i << ": got " << g << ", want NaN");
    } else if (std::isinf(w)) {
      CHECK_MESSAGE(g == w, "element " << i << ": got " << g << ", want " << w);
    } else {
      CHECK_MESSAGE(std::fabs(g - w) <= atol + rtol * std::fabs(w), "element " << i << ": got " << g << ", want " << w);
    }
  }
}

/// Expects `f` to throw rtx::Exception whose id is `id` (and whose message contains `part`).
template <class F>
void check_error(F&& f, const std::string& id, const std::string& part = {}) {
  try {
    f();
    FAIL("expected error " << id);
  } catch (const Exception& e) {
    CHECK_MESSAGE(e.error().id == id, "got " << std::string(e.what()));
    if (!part.empty()) CHECK_MESSAGE(e.error().message.find(part) != std::string::npos, "got " << std::string(e.what()));
  }
}

}  // namespace rtx::test
