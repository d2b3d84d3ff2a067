// SPDX-License-Identifier: Apache-2.0
// Format-level refit (see refitter.hpp). Values are checked against the weights table when they
// are set, so refit() can only fail for weights never set.
#include "serialization/refitter.hpp"

#include <cstring>

#include "serialization/checksum.hpp"
#include "serialization/errors.hpp"

namespace rtx::serialization {
namespace E = errors;

Refitter::Refitter(EngineModel model, ErrorRecorder* recorder)
    : model_(std::move(model)), recorder_(recorder) {
  for (size_t i = 0; i < model_.weights.size(); ++i) index_.emplace(model_.weights[i].name, i);
}

std::vector<std::string> Refitter::weight_names() const {
  std::vector<std::string> names;
  names.reserve(model_.weights.size());
  for (const auto& w : model_.weights) names.push_back(w.name);
  return names;
}

std::vector<std::string> Refitter::missing_weights() const {
  std::vector<std::string> names;
  for (size_t i = 0; i < model_.weights.size(); ++i) {
    if (!model_.weights[i].data.valid() && !values_.contains(i))
      names.push_back(model_.weights[i].name);
  }
  return names;
}

Expected<void> Refitter::accept(size_t index, HostTensor tensor) {
  const WeightEntry& w = model_.weights[index];
  const auto bytes = std::span(reinterpret_cast<const uint8_t*>(tensor.data()), tensor.byte_size());
  const uint64_t fingerprint = xxh64(bytes);
  if (fingerprint != w.fingerprint) {
    if (!model_.refittable) {
      return Error{
          E::kRefitFingerprintError,
          "weight '" + w.name +
              "' differs from the weights the engine was built with, and the engine is "
              "not refittable (built without kREFIT): only the original weights can be restored"};
    }
    Error warning{E::kRefitFingerprintWarning,
                  "weight '" + w.name +
                      "' differs from the weights the engine was built with "
                      "(fingerprint mismatch): new values are being refit"};
    if (recorder_ != nullptr) recorder_->report(Severity::kWARNING, warning);
    warnings_.push_back(std::move(warning));
  }
  values_[index] = {std::move(tensor), fingerprint};
  return {};
}

Expected<void> Refitter::set_named_weights(std::string_view name, DataType dtype, const void* data,
                                           int64_t count) {
  return rtx::detail::catch_errors(E::kInternal, [&]() -> Expected<void> {
    const auto it = index_.find(name);
    if (it == index_.end())
      return Error{E::kRefitUnknownName,
                   "the engine has no weight named '" + std::string(name) + "'"};
    const WeightEntry& w = model_.weights[it->second];
    if (dtype != w.dtype) {
      return Error{E::kRefitDtype, "weight '" + w.name + "' is " + std::string(to_string(w.dtype)) +
                                       ", not " + std::string(to_string(dtype))};
    }
    if (count < 0 || (data == nullptr && count > 0)) {
      return Error{E::kRefitNullData,
                   "weight '" + w.name + "': no data (pointer null or count negative)"};
    }
    uint64_t expected = 1;
    for (int64_t d : w.shape) {
      if (d < 0 || __builtin_mul_overflow(expected, static_cast<uint64_t>(d), &expected))
        expected = UINT64_MAX;
    }
    if (static_cast<uint64_t>(count) != expected) {
      return Error{E::kRefitCount, "weight '" + w.name + "' " + std::string(to_string(w.dtype)) +
                                       shape_to_string(w.shape) + " has " +
                                       std::to_string(expected) + " elements, not " +
                                       std::to_string(count)};
    }
    HostTensor copy(w.dtype, w.shape);
    if (copy.byte_size() > 0) std::memcpy(copy.mutable_data(), data, copy.byte_size());
    return accept(it->second, std::move(copy));
  });
}

Expected<void> Refitter::set_named_weights(std::string_view name, const HostTensor& tensor) {
  return rtx::detail::catch_errors(E::kInternal, [&]() -> Expected<void> {
    const auto it = index_.find(name);
    if (it == index_.end())
      return Error{E::kRefitUnknownName,
                   "the engine has no weight named '" + std::string(name) + "'"};
    const WeightEntry& w = model_.weights[it->second];
    if (!tensor.valid())
      return Error{E::kRefitNullData, "weight '" + w.name + "': the tensor has no data"};
    if (tensor.dtype() != w.dtype) {
      return Error{E::kRefitDtype, "weight '" + w.name + "' is " + std::string(to_string(w.dtype)) +
                                       ", not " + std::string(to_string(tensor.dtype()))};
    }
    if (tensor.shape() != w.shape) {
      return Error{E::kRefitShape, "weight '" + w.name + "' has shape " + shape_to_string(w.shape) +
                                       ", not " + shape_to_string(tensor.shape())};
    }
    return accept(it->second, tensor);
  });
}

Expected<EngineModel> Refitter::refit() const {
  return rtx::detail::catch_errors(E::kInternal, [&]() -> Expected<EngineModel> {
    const auto missing = missing_weights();
    if (!missing.empty()) {
      std::string list;
      for (size_t i = 0; i < missing.size() && i < 10; ++i)
        list += (i ? ", '" : "'") + missing[i] + "'";
      if (missing.size() > 10) list += ", ... (" + std::to_string(missing.size()) + " in all)";
      return Error{E::kRefitMissing, "cannot refit: weights not set: " + list};
    }
    EngineModel out = model_;
    for (const auto& [index, value] : values_) {
      out.weights[index].data = value.first;
      out.weights[index].fingerprint = value.second;
    }
    out.weights_stripped = false;
    return out;
  });
}

}  // namespace rtx::serialization
