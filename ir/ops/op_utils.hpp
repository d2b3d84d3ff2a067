// SPDX-License-Identifier: Apache-2.0
// Small helpers shared by the op families: error reporting with node context, axis
// normalisation, numpy broadcasting (static and dynamic dims), strides and index walking.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "ir/op_registry.hpp"

namespace rtx::ir {

/// Throws rtx::Exception{id, "<node>: <message>"} when `cond` is false.
void require(bool cond, const Node& node, const char* id, const std::string& message);
[[noreturn]] void fail(const Node& node, const char* id, const std::string& message);

/// Maps axis in [-rank, rank) to [0, rank); error rtx.ir.130 otherwise.
int64_t normalize_axis(int64_t axis, int64_t rank, const Node& node);

/// Numpy/ONNX multidirectional broadcast of two shapes. A dynamic dim against 1 stays dynamic,
/// against n > 1 becomes n. Error rtx.ir.131 for incompatible static dims.
std::vector<int64_t> broadcast_shapes(std::span<const int64_t> a, std::span<const int64_t> b,
                                      const Node& node);

/// Row-major strides of a static shape.
std::vector<int64_t> strides_of(std::span<const int64_t> shape);
/// Product of dims (static shapes only).
int64_t product(std::span<const int64_t> shape);

/// Strides to read `in_shape` broadcast to `out_shape` (0 stride on broadcast dims), aligned
/// right as numpy does. out_shape.size() >= in_shape.size().
std::vector<int64_t> broadcast_strides(std::span<const int64_t> in_shape,
                                       std::span<const int64_t> out_shape);

/// Walks every index of `shape` in row-major order, calling f(flat_out_index, multi_index).
template <class F>
void for_each_index(std::span<const int64_t> shape, F&& f) {
  const int64_t total = product(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t flat = 0; flat < total; ++flat) {
    f(flat, std::span<const int64_t>(idx));
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++idx[static_cast<size_t>(d)] < shape[static_cast<size_t>(d)]) break;
      idx[static_cast<size_t>(d)] = 0;
    }
  }
}

/// Offset of a multi-index with the given strides.
inline int64_t offset_of(std::span<const int64_t> idx, std::span<const int64_t> strides) {
  int64_t o = 0;
  for (size_t i = 0; i < idx.size(); ++i) o += idx[i] * strides[i];
  return o;
}

/// Reads a constant 1-D (or scalar) integer input as int64s (axes, shape, pads...).
std::vector<int64_t> constant_ints(const HostTensor& t);

}  // namespace rtx::ir
