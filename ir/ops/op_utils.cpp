// SPDX-License-Identifier: Apache-2.0
// Shared helpers for op families: errors with node context, axes, broadcasting, strides.
#include "ir/ops/op_utils.hpp"

#include <algorithm>

namespace rtx::ir {

void fail(const Node& node, const char* id, const std::string& message) {
  throw Exception(id, node.describe() + ": " + message);
}

void require(bool cond, const Node& node, const char* id, const std::string& message) {
  if (!cond) fail(node, id, message);
}

int64_t normalize_axis(int64_t axis, int64_t rank, const Node& node) {
  if (axis < -rank || axis >= rank)
    fail(node, "rtx.ir.130", "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> broadcast_shapes(std::span<const int64_t> a, std::span<const int64_t> b, const Node& node) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db) out[i] = da;
    else if (da == 1) out[i] = db;
    else if (db == 1) out[i] = da;
    else if (da == kDynamic) out[i] = db;  // the runtime checks the dynamic dim equals db
    else if (db == kDynamic) out[i] = da;
    else
      fail(node, "rtx.ir.131", "cannot broadcast " + shape_to_string(a) + " with " + shape_to_string(b) +
                                   " (dim " + std::to_string(i) + ": " + std::to_string(da) + " vs " +
                                   std::to_string(db) + ")");
  }
  return out;
}

std::vector<int64_t> strides_of(std::span<const int64_t> shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    s[static_cast<size_t>(i)] = s[static_cast<size_t>(i + 1)] * shape[static_cast<size_t>(i + 1)];
  return s;
}

int64_t product(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<int64_t> broadcast_strides(std::span<const int64_t> in_shape, std::span<const int64_t> out_shape) {
  const auto in_strides = strides_of(in_shape);
  std::vector<int64_t> s(out_shape.size(), 0);
  const size_t shift = out_shape.size() - in_shape.size();
  for (size_t i = 0; i < in_shape.size(); ++i) s[i + shift] = in_shape[i] == 1 ? 0 : in_strides[i];
  return s;
}

std::vector<int64_t> constant_ints(const HostTensor& t) { return t.to_ints(); }

}  // namespace rtx::ir
