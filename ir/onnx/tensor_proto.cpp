// SPDX-License-Identifier: Apache-2.0
// TensorProto conversion: dtype mapping, dim checks, raw / typed / external storage.
#include "ir/onnx/tensor_proto.hpp"

#include <bit>
#include <climits>
#include <cstring>
#include <limits>
#include <optional>

#include "ir/onnx/errors.hpp"
#include "ir/onnx_dtype.hpp"
#include "rtx/error.hpp"

namespace rtx::onnx {
namespace {

/// Largest dense tensor a sparse initializer may expand to.
constexpr uint64_t kMaxDensifiedBytes = uint64_t{1} << 30;

static_assert(std::endian::native == std::endian::little,
              "rtx: ONNX raw_data is little-endian; a big-endian host needs byte swapping here");

// Element count of `dims` with every dim checked; rejects counts whose byte size would overflow.
int64_t checked_count(const std::vector<int64_t>& dims, const std::string& who) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0)
      throw Exception(err::kDims, who + " has a negative dim " + std::to_string(d) + " in " +
                                      shape_to_string(dims));
    if (d != 0 && n > (std::numeric_limits<int64_t>::max() / 16) / d)
      throw Exception(err::kDims, who + " has dims " + shape_to_string(dims) +
                                      " whose element count overflows");
    n *= d;
  }
  return n;
}

std::string tensor_label(const pb::TensorProto& t, const std::string& what) {
  if (!t.name().empty()) return "tensor '" + t.name() + "'";
  return what.empty() ? std::string("an unnamed tensor") : what;
}

// Copies a typed repeated field into fresh storage, one element per entry (`narrow` keeps the low
// bits of an int32 entry: f16/bf16 bit patterns, 8-bit values, bools).
template <class Field>
HostTensor from_field(DataType dtype, const std::vector<int64_t>& dims, int64_t count,
                      const Field& field, const std::string& who, const char* field_name) {
  const int64_t entries =
      (dtype == DataType::kINT4 || dtype == DataType::kUINT4 || dtype == DataType::kFP4E2M1)
          ? (count + 1) / 2
          : count;
  if (static_cast<int64_t>(field.size()) != entries)
    throw Exception(err::kDataSize, who + " (" + std::string(to_string(dtype)) +
                                        shape_to_string(dims) + ") needs " +
                                        std::to_string(entries) + " entries in " + field_name +
                                        ", found " + std::to_string(field.size()));
  HostTensor out(dtype, dims);
  std::byte* dst = out.mutable_data();
  const int width = bit_width(dtype);
  for (int64_t i = 0; i < entries; ++i) {
    const auto v = field.Get(static_cast<int>(i));
    if constexpr (std::is_floating_point_v<decltype(v)>) {
      std::memcpy(dst + i * static_cast<int64_t>(sizeof v), &v, sizeof v);
    } else if (width == 64) {
      const int64_t x = static_cast<int64_t>(v);
      std::memcpy(dst + i * 8, &x, 8);
    } else if (width == 32) {
      const int32_t x = static_cast<int32_t>(v);
      std::memcpy(dst + i * 4, &x, 4);
    } else if (width == 16) {
      const uint16_t x = static_cast<uint16_t>(v);
      std::memcpy(dst + i * 2, &x, 2);
    } else {  // 8-bit types, bool (0/1) and packed 4-bit pairs: one byte per entry
      uint8_t x = static_cast<uint8_t>(v);
      if (dtype == DataType::kBOOL) x = x != 0;
      dst[i] = static_cast<std::byte>(x);
    }
  }
  return out;
}

}  // namespace

DataType data_type_or_throw(int64_t onnx_type, const std::string& what) {
  if (auto t = ir::data_type_from_onnx(onnx_type)) return *t;
  std::string hint;
  if (onnx_type == 8)
    hint = " (string tensors are not supported)";
  else if (onnx_type == 0)
    hint = " (the data type is missing)";
  throw Exception(err::kDataType, what + " has ONNX data type " + ir::onnx_type_name(onnx_type) +
                                      ", which rtx does not support" + hint);
}

HostTensor tensor_from_proto(const pb::TensorProto& t, const std::shared_ptr<const void>& owner,
                             ExternalDataStore* external, const std::string& what) {
  const std::string who = tensor_label(t, what);
  const DataType dtype = data_type_or_throw(t.data_type(), who);
  std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  const int64_t count = checked_count(dims, who);
  const uint64_t bytes = storage_bytes(dtype, static_cast<uint64_t>(count));
  if (t.has_segment())
    throw Exception(err::kSegment, who + " is segmented; segmented tensors are not supported");

  if (t.data_location() == pb::TensorProto_DataLocation_EXTERNAL) {
    std::optional<std::string> location;
    uint64_t offset = 0;
    std::optional<uint64_t> length;
    for (const auto& kv : t.external_data()) {
      const auto parse_u64 = [&](const std::string& s) -> uint64_t {
        uint64_t v = 0;
        if (s.empty() || s.size() > 20)
          throw Exception(err::kExtKey, who + ": external data '" + kv.key() + "' is '" + s +
                                            "', not a byte count");
        for (char c : s) {
          const auto digit = static_cast<uint64_t>(c - '0');
          if (c < '0' || c > '9' || v > (std::numeric_limits<uint64_t>::max() - digit) / 10)
            throw Exception(err::kExtKey, who + ": external data '" + kv.key() + "' is '" + s +
                                              "', not a byte count");
          v = v * 10 + digit;
        }
        return v;
      };
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = parse_u64(kv.value());
      else if (kv.key() == "length")
        length = parse_u64(kv.value());
      // "checksum" and unknown keys are informative only.
    }
    if (!location)
      throw Exception(err::kExtLocation, who + " has external data without a 'location'");
    if (length && *length != bytes)
      throw Exception(err::kExtLength,
                      who + " (" + std::string(to_string(dtype)) + shape_to_string(dims) +
                          ") needs " + std::to_string(bytes) +
                          " bytes but its external data length is " + std::to_string(*length));
    if (!external)
      throw Exception(err::kExtNoDir, who + " keeps its data in external file '" + *location +
                                          "', but no model folder is known");
    auto view = external->get(*location, offset, bytes, t.name().empty() ? what : t.name());
    if (count == 0) return HostTensor(dtype, dims);
    return HostTensor::borrow(dtype, std::move(dims), view.data, std::move(view.owner));
  }

  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (raw.size() != bytes)
      throw Exception(err::kDataSize, who + " (" + std::string(to_string(dtype)) +
                                          shape_to_string(dims) + ") needs " +
                                          std::to_string(bytes) + " bytes of raw_data, found " +
                                          std::to_string(raw.size()));
    if (count == 0) return HostTensor(dtype, dims);
    // Borrowed: the bytes stay inside the parsed message, which `owner` keeps alive.
    return HostTensor::borrow(dtype, std::move(dims), raw.data(), owner);
  }

  switch (dtype) {
    case DataType::kF32:
      return from_field(dtype, dims, count, t.float_data(), who, "float_data");
    case DataType::kF64:
      return from_field(dtype, dims, count, t.double_data(), who, "double_data");
    case DataType::kINT64:
      return from_field(dtype, dims, count, t.int64_data(), who, "int64_data");
    default:
      return from_field(dtype, dims, count, t.int32_data(), who, "int32_data");
  }
}

HostTensor tensor_from_sparse_proto(const pb::SparseTensorProto& s,
                                    const std::shared_ptr<const void>& owner,
                                    ExternalDataStore* external) {
  const std::string who = "sparse tensor '" + s.values().name() + "'";
  HostTensor values = tensor_from_proto(s.values(), owner, external, who + " values");
  HostTensor indices = tensor_from_proto(s.indices(), owner, external, who + " indices");
  std::vector<int64_t> dims(s.dims().begin(), s.dims().end());
  const int64_t count = checked_count(dims, who);
  const int64_t nnz = values.rank() == 1 ? values.shape()[0] : -1;
  if (nnz < 0)
    throw Exception(err::kSparse, who + ": values must be 1-D, got " + values.describe());
  if (indices.dtype() != DataType::kINT64)
    throw Exception(err::kSparse, who + ": indices must be int64, got " + indices.describe());
  const size_t rank = dims.size();
  const bool linear = indices.rank() == 1 && indices.shape()[0] == nnz;
  const bool coords = indices.rank() == 2 && indices.shape()[0] == nnz &&
                      indices.shape()[1] == static_cast<int64_t>(rank);
  if (!linear && !coords)
    throw Exception(err::kSparse, who + ": indices " + indices.describe() + " do not match " +
                                      std::to_string(nnz) + " values of a rank-" +
                                      std::to_string(rank) + " tensor");
  // A sparse tensor is small in the file but dense here: bound what a file can make us allocate.
  if (storage_bytes(values.dtype(), static_cast<uint64_t>(count)) > kMaxDensifiedBytes)
    throw Exception(err::kSparse, who + ": densified size " + shape_to_string(dims) + " exceeds " +
                                      std::to_string(kMaxDensifiedBytes >> 20) + " MiB");
  HostTensor out(values.dtype(), dims);
  const auto idx = indices.to_ints();
  const auto vals = values.to_doubles();
  for (int64_t k = 0; k < nnz; ++k) {
    int64_t flat = 0;
    if (linear) {
      flat = idx[static_cast<size_t>(k)];
    } else {
      for (size_t d = 0; d < rank; ++d) {
        const int64_t i = idx[static_cast<size_t>(k) * rank + d];
        if (i < 0 || i >= dims[d])
          throw Exception(err::kSparse, who + ": index " + std::to_string(i) + " out of range");
        flat = flat * dims[d] + i;
      }
    }
    if (flat < 0 || flat >= count)
      throw Exception(err::kSparse, who + ": index " + std::to_string(flat) + " out of range");
    // Integers go through set_int so int64 values keep every bit.
    if (is_floating(values.dtype()))
      out.set_double(flat, vals[static_cast<size_t>(k)]);
    else
      out.set_int(flat, values.get_int(k));
  }
  return out;
}

HostTensor tensor_from_bytes(const void* data, size_t size, const std::string& what) {
  if (size >= static_cast<size_t>(INT_MAX))
    throw Exception(err::kTooLarge, what + " is larger than 2 GiB");
  auto proto = std::make_shared<pb::TensorProto>();
  if (!proto->ParseFromArray(data, static_cast<int>(size)))
    throw Exception(err::kMalformed, what + " is not a valid TensorProto");
  // The result borrows from `proto` (kept alive by the tensor); clone to own plain storage.
  return tensor_from_proto(*proto, proto, nullptr, what).clone();
}

}  // namespace rtx::onnx
