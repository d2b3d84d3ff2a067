// SPDX-License-Identifier: Apache-2.0
// The typed front end's two vocabulary types. `Network` owns a graph under construction;
// `Tensor<T, Rank>` is a light handle to one value of it whose element type and rank are part of
// the C++ type, so the layers in <rtx/layers.hpp> reject at compile time what a type can show to
// be wrong (mixed dtypes, a rank-1 matmul...). What only the dims can show (a linear layer whose
// in_features differ from x's last dim) is found when the layer is called: the Network records
// the error, the returned Tensor is invalid, and nothing throws.
//
// Error ids (stable): rtx.frontend.101 an operand that was never built or belongs to another
// network; .102 weight/constant dtype or rank differs from its declared type; .103 weight or
// constant without data; .104 output of a tensor that was never built; .110 linear
// in_features mismatch; .111 linear bias size mismatch; .120 axes out of range or repeated;
// .130 the network has no outputs; .190 the IR and the C++ type disagree (a bug: please
// report); .199 internal error. Errors found by an op's own inference keep the op's id
// (rtx.ir.NNN) and name the layer; graph-level ones too (rtx.ir.102 duplicate name...).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#ifndef RTX_DETAIL_ALLOWED
#define RTX_DETAIL_ALLOWED 1
#endif
#include "rtx/detail/dtype_traits.hpp"
#include "rtx/detail/layer_builder.hpp"
#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/types.hpp"

namespace rtx {

/// A dim known only at run time (bounded by the input's optimization profile).
inline constexpr int64_t dynamic = -1;

/// A handle to one value of a Network: element type `T` (a tag such as rtx::f16) and `Rank` are
/// compile-time; dims are run-time (`rtx::dynamic` where unknown). Cheap to copy. A Tensor
/// returned by a layer that failed is invalid (`valid()` false); layers given an invalid tensor
/// return an invalid tensor and record nothing more. Handles stay usable when their Network is
/// moved, not after it is destroyed.
template <DTypeTagType T, int Rank>
class Tensor {
  static_assert(Rank >= 0 && Rank <= 8, "rtx: tensor ranks go from 0 to 8");

 public:
  using dtype_tag = T;
  static constexpr int rank = Rank;

  /// An invalid handle (belongs to no network).
  Tensor() = default;
  /// Used by Network and the layers; not for users.
  Tensor(detail::InternalTag, detail::NetworkImpl* net, int32_t id) noexcept : net_(net), id_(id) {}

  /// False for a default-constructed handle or the result of a layer that failed.
  bool valid() const noexcept { return net_ != nullptr && id_ >= 0; }
  /// The element type (T::value).
  static constexpr DataType dtype() noexcept { return T::value; }
  /// Dims as inferred when the layer was built; rtx::dynamic (-1) where known only at run time.
  std::array<int64_t, Rank> shape() const {
    std::array<int64_t, Rank> dims{};
    dims.fill(dynamic);
    detail::value_shape(net_, id_, dims.data(), Rank);
    return dims;
  }
  /// The value's name in the graph ("x", "linear_1:out"); empty when invalid.
  std::string name() const { return detail::value_name(net_, id_); }

  /// Front-end internals (the layer templates pass these to detail::add_layer).
  detail::NetworkImpl* network_impl() const noexcept { return net_; }
  int32_t value_id() const noexcept { return id_; }

 private:
  detail::NetworkImpl* net_ = nullptr;
  int32_t id_ = -1;
};

/// A network under construction: named inputs (with optional dynamic dims and profiles), named
/// refittable weights, constants, layers (free functions in <rtx/layers.hpp>) and named outputs.
/// Move-only. Build errors are recorded, not thrown: check `ok()` / `errors()`, and the builder
/// and the reference evaluator refuse a network with errors, returning its first one.
class Network {
 public:
  Network();
  ~Network();
  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  /// Declares input `name` of element type T with one extent per dim (rtx::dynamic for dims
  /// known only at run time). `Rank` may be given or left to the number of dims:
  /// `net.input<rtx::f16, 2>("x", {rtx::dynamic, 784})` or `net.input<rtx::f16>("x", {8, 784})`.
  template <DTypeTagType T, int Rank = -1, size_t N>
  Tensor<T, (Rank < 0 ? static_cast<int>(N) : Rank)> input(std::string name,
                                                           const int64_t (&dims)[N]) {
    static_assert(Rank < 0 || static_cast<size_t>(Rank) == N,
                  "rtx: input dims must list exactly Rank extents; use rtx::dynamic for dims "
                  "known only at run time");
    return {detail::InternalTag{}, impl_.get(),
            detail::add_input(impl_.get(), std::move(name), T::value, dims, N)};
  }
  /// Same, with the dims in a std::array (rank 0 and dims computed at run time).
  template <DTypeTagType T, int Rank>
  Tensor<T, Rank> input(std::string name, const std::array<int64_t, Rank>& dims) {
    return {detail::InternalTag{}, impl_.get(),
            detail::add_input(impl_.get(), std::move(name), T::value, dims.data(), Rank)};
  }

  /// Declares a named, refittable weight holding `data`, which is shared, not copied: keep
  /// borrowed storage (HostTensor::borrow) alive as long as the network and its engines need
  /// it. Its dtype and rank must be T and Rank (else rtx.frontend.102 is recorded).
  template <DTypeTagType T, int Rank>
  Tensor<T, Rank> weight(std::string name, HostTensor data) {
    return {detail::InternalTag{}, impl_.get(),
            detail::add_data(impl_.get(), std::move(name), std::move(data), T::value, Rank, true)};
  }

  /// An unnamed (or named) constant: folded freely, not refittable. Data is shared, not copied.
  template <DTypeTagType T, int Rank>
  Tensor<T, Rank> constant(HostTensor data, std::string name = {}) {
    return {detail::InternalTag{}, impl_.get(),
            detail::add_data(impl_.get(), std::move(name), std::move(data), T::value, Rank, false)};
  }

  /// A 0-d constant of type T holding `value` (rounded to T once).
  template <DTypeTagType T>
  Tensor<T, 0> scalar(double value) {
    return constant<T, 0>(HostTensor::scalar(T::value, value));
  }

  /// Marks `t` as a network output, renamed to `name` when given.
  template <DTypeTagType T, int Rank>
  void output(const Tensor<T, Rank>& t, std::string name = {}) {
    detail::mark_output(impl_.get(), t.network_impl(), t.value_id(), std::move(name));
  }

  /// Optimization profile of input `input_name`: per dim min <= opt <= max; static dims repeat
  /// their extent. The engine accepts any shape within [min, max] and is tuned for opt.
  void set_profile(std::string_view input_name, std::vector<int64_t> min, std::vector<int64_t> opt,
                   std::vector<int64_t> max);

  /// Also forward every recorded error to `recorder` (not owned; nullptr to stop).
  void set_error_recorder(ErrorRecorder* recorder);

  /// True when no error was recorded.
  bool ok() const;
  /// Every recorded error, oldest first.
  const std::vector<Error>& errors() const;
  /// Success, or the first recorded error.
  Expected<void> status() const;

  /// Names of the inputs and outputs, in declaration order.
  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;
  /// Number of layers (IR nodes) built so far.
  size_t num_layers() const;
  /// The graph as text, one node per line (for logs and debugging).
  std::string to_text() const;

 private:
  friend struct detail::NetworkAccess;
  std::unique_ptr<detail::NetworkImpl> impl_;
};

}  // namespace rtx
