// SPDX-License-Identifier: Apache-2.0
// HostTensor storage and exact element access (conversions in rtx/numeric.hpp).
#include "rtx/host_tensor.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "rtx/error.hpp"
#include "rtx/numeric.hpp"

namespace rtx {
namespace {

int64_t checked_count(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Exception("rtx.ir.110", "tensor shape " + shape_to_string(shape) + " has a negative dim");
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / 8 / d)
      throw Exception("rtx.ir.111", "tensor shape " + shape_to_string(shape) + " is too large");
    n *= d;
  }
  return n;
}

}  // namespace

std::string shape_to_string(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += shape[i] < 0 ? "?" : std::to_string(shape[i]);
  }
  return s + "]";
}

HostTensor::HostTensor(DataType dtype, std::vector<int64_t> shape) : dtype_(dtype), shape_(std::move(shape)) {
  const auto bytes = storage_bytes(dtype_, static_cast<uint64_t>(checked_count(shape_)));
  // At least one byte so that valid() holds for empty tensors too.
  auto storage = std::shared_ptr<std::byte[]>(new std::byte[std::max<uint64_t>(bytes, 1)]());
  data_ = storage.get();
  storage_ = std::move(storage);
  writable_ = true;
}

HostTensor HostTensor::borrow(DataType dtype, std::vector<int64_t> shape, const void* data,
                              std::shared_ptr<const void> owner) {
  checked_count(shape);
  HostTensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = static_cast<std::byte*>(const_cast<void*>(data));
  // Without an owner the caller keeps the bytes alive; a no-op deleter marks the tensor valid.
  t.storage_ = owner ? std::move(owner) : std::shared_ptr<const void>(data, [](const void*) {});
  t.writable_ = false;
  return t;
}

HostTensor HostTensor::from_doubles(DataType dtype, std::vector<int64_t> shape, std::span<const double> values) {
  HostTensor t(dtype, std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.element_count())
    throw Exception("rtx.ir.112", "from_doubles: " + std::to_string(values.size()) +
                                      " values for shape " + shape_to_string(t.shape_));
  for (size_t i = 0; i < values.size(); ++i) numeric::encode(dtype, t.data_, static_cast<int64_t>(i), values[i]);
  return t;
}

HostTensor HostTensor::scalar(DataType dtype, double value) {
  const double v[1] = {value};
  return from_doubles(dtype, {}, v);
}

int64_t HostTensor::element_count() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

std::byte* HostTensor::mutable_data() {
  if (!writable_) throw Exception("rtx.ir.113", "tensor " + describe() + " borrows its storage and is read-only");
  return data_;
}

void HostTensor::check_copy_size(size_t bytes) const {
  if (bytes != byte_size())
    throw Exception("rtx.ir.112", "from_vector: " + std::to_string(bytes) + " bytes for " + describe() +
                                      " which needs " + std::to_string(byte_size()));
}

double HostTensor::get_double(int64_t i) const { return numeric::decode(dtype_, data_, i); }
int64_t HostTensor::get_int(int64_t i) const { return numeric::decode_int(dtype_, data_, i); }
void HostTensor::set_double(int64_t i, double v) { numeric::encode(dtype_, mutable_data(), i, v); }
void HostTensor::set_int(int64_t i, int64_t v) { numeric::encode_int(dtype_, mutable_data(), i, v); }

std::vector<double> HostTensor::to_doubles() const {
  std::vector<double> out(static_cast<size_t>(element_count()));
  if (dtype_ == DataType::kF32) {
    const auto* p = reinterpret_cast<const float*>(data_);
    std::copy(p, p + out.size(), out.begin());
    return out;
  }
  if (dtype_ == DataType::kF64) {
    std::memcpy(out.data(), data_, out.size() * sizeof(double));
    return out;
  }
  for (size_t i = 0; i < out.size(); ++i) out[i] = numeric::decode(dtype_, data_, static_cast<int64_t>(i));
  return out;
}

std::vector<int64_t> HostTensor::to_ints() const {
  std::vector<int64_t> out(static_cast<size_t>(element_count()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = numeric::decode_int(dtype_, data_, static_cast<int64_t>(i));
  return out;
}

HostTensor HostTensor::reshaped(std::vector<int64_t> shape) const {
  if (checked_count(shape) != element_count())
    throw Exception("rtx.ir.114", "cannot reshape " + describe() + " to " + shape_to_string(shape));
  HostTensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

HostTensor HostTensor::clone() const {
  HostTensor t(dtype_, shape_);
  if (byte_size()) std::memcpy(t.data_, data_, byte_size());
  return t;
}

std::string HostTensor::describe() const { return std::string(to_string(dtype_)) + shape_to_string(shape_); }

}  // namespace rtx
