// SPDX-License-Identifier: Apache-2.0
// HostTensor: a dtype, a shape and bytes in host memory. Used for weights, constants, inputs and
// outputs of the reference evaluator. Copies share storage (like shared_ptr); large weights from
// a user buffer or a memory-mapped file are borrowed, never copied.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rtx/types.hpp"

namespace rtx {

class HostTensor {
 public:
  /// An empty f32 scalar placeholder with no storage; `valid()` is false.
  HostTensor() = default;
  /// Fresh zero-filled, writable storage. Throws rtx::Exception on a negative dim or a byte size
  /// that overflows.
  HostTensor(DataType dtype, std::vector<int64_t> shape);
  /// Wraps bytes the caller keeps alive: nothing is copied. `owner` (optional) is held for as long
  /// as any copy of the tensor lives (an mmap region, a protobuf message, a user vector...).
  /// `bytes` must be storage_bytes(dtype, element_count(shape)).
  static HostTensor borrow(DataType dtype, std::vector<int64_t> shape, const void* data,
                           std::shared_ptr<const void> owner = {});
  /// Copies `values` (host C++ type matching dtype: float, double, int8_t, int32_t, int64_t,
  /// uint8_t; 16-bit floats and fp8 take their bit patterns as uint16_t/uint8_t).
  template <class T>
  static HostTensor from_vector(DataType dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
    HostTensor t(dtype, std::move(shape));
    t.check_copy_size(values.size() * sizeof(T));
    std::copy_n(reinterpret_cast<const std::byte*>(values.data()), values.size() * sizeof(T), t.mutable_data());
    return t;
  }
  /// Converts each double to dtype with the exact rounding rules (round to nearest even,
  /// saturating for fp8 e4m3/fp4 like the OCP specs' saturating mode; integers round half to even
  /// and saturate). Packs 4-bit types.
  static HostTensor from_doubles(DataType dtype, std::vector<int64_t> shape, std::span<const double> values);
  /// A 0-d scalar.
  static HostTensor scalar(DataType dtype, double value);

  bool valid() const { return static_cast<bool>(storage_); }
  DataType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t element_count() const;
  size_t byte_size() const { return storage_bytes(dtype_, static_cast<uint64_t>(element_count())); }
  const std::byte* data() const { return data_; }
  /// Writable bytes; throws rtx::Exception for borrowed storage.
  std::byte* mutable_data();
  bool is_borrowed() const { return !writable_; }

  /// Element `i` (row-major flat index) decoded exactly to double (integers and bool too).
  double get_double(int64_t i) const;
  /// Element `i` as int64 (floats truncated toward zero; used for shape and index tensors).
  int64_t get_int(int64_t i) const;
  /// Stores `v` at `i` with the rounding of from_doubles.
  void set_double(int64_t i, double v);
  /// Stores an integer exactly (wrapping to the dtype's width, like a C cast) at `i`.
  void set_int(int64_t i, int64_t v);
  /// All elements as doubles / int64.
  std::vector<double> to_doubles() const;
  std::vector<int64_t> to_ints() const;
  /// Same bytes, new shape with the same element count (no copy).
  HostTensor reshaped(std::vector<int64_t> shape) const;
  /// A deep, writable copy.
  HostTensor clone() const;
  /// "f16[2,3]" for messages.
  std::string describe() const;

 private:
  void check_copy_size(size_t bytes) const;
  DataType dtype_ = DataType::kF32;
  std::vector<int64_t> shape_;
  std::shared_ptr<const void> storage_;
  std::byte* data_ = nullptr;
  bool writable_ = false;
};

/// "[2,3,?]" style rendering of a shape (negative dims print as '?').
std::string shape_to_string(std::span<const int64_t> shape);

}  // namespace rtx
