// SPDX-License-Identifier: Apache-2.0
// Format-level refit: fill the weights of an engine model (typically a stripped one read from a
// file) by name, then get back a model that serializes byte-identical to the engine built with
// those weights. The runtime's Refitter (refit on the GPU) and onnx::ParserRefitter build on this.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "serialization/engine_model.hpp"

namespace rtx::serialization {

/// Sets named weights of an EngineModel.
///
/// Fingerprints: each weight's table entry carries the XXH64 of the weights the engine was built
/// with. New values differ from it by design when the engine is refittable (that is what refit
/// is for), so a mismatch is then a warning (rtx.serialization.706, in `warnings()` and the
/// recorder): it tells a user who meant to restore the original weights that they did not. An
/// engine that is not refittable (stripped with kSTRIP_PLAN alone) may have folded its weights
/// into kernels, so only the original weights are accepted there: a mismatch is an error
/// (rtx.serialization.707).
class Refitter {
 public:
  /// Takes the model (stripped or full). `recorder` (optional, not owned) also receives warnings.
  explicit Refitter(EngineModel model, ErrorRecorder* recorder = nullptr);

  /// Every weight name, in weights-table order.
  std::vector<std::string> weight_names() const;
  /// Names of weights that have neither data in the model nor a value set here.
  std::vector<std::string> missing_weights() const;

  /// Sets weight `name` from `count` elements of `dtype` at `data` (copied; 4-bit types packed
  /// two per byte). Errors: 701 unknown name, 702 dtype differs, 703 count differs, 707
  /// fingerprint differs on a non-refittable engine, 708 null data or negative count.
  Expected<void> set_named_weights(std::string_view name, DataType dtype, const void* data,
                                   int64_t count);
  /// Sets weight `name` from a tensor (shared, not copied). Also checks the shape (704).
  Expected<void> set_named_weights(std::string_view name, const HostTensor& tensor);

  /// Warnings so far (fingerprint mismatches).
  const std::vector<Error>& warnings() const { return warnings_; }

  /// The model with every weight filled and weights_stripped cleared; error 705 lists the
  /// missing weights. The refitter keeps its state: more weights may be set and refit() called
  /// again.
  Expected<EngineModel> refit() const;

  /// The model being refit (weights set so far are not applied to it).
  const EngineModel& model() const { return model_; }

 private:
  Expected<void> accept(size_t index, HostTensor tensor);
  EngineModel model_;
  ErrorRecorder* recorder_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<size_t, std::pair<HostTensor, uint64_t>> values_;  // value, its fingerprint
  std::vector<Error> warnings_;
};

}  // namespace rtx::serialization
