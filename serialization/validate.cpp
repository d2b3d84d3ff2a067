// SPDX-License-Identifier: Apache-2.0
// Semantic rules of an engine model; see validate.hpp. Messages name the kernel, image or weight
// and the rule, so a user holding a rejected file knows what the builder got wrong.
#include "serialization/validate.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "rtx/error.hpp"
#include "serialization/byte_io.hpp"
#include "serialization/errors.hpp"
#include "serialization/image_compression.hpp"

namespace rtx::serialization::detail {
namespace E = errors;
using nlohmann::json;

std::optional<json> parse_json(std::string_view text, std::string* error) {
  bool too_deep = false;
  json::parser_callback_t limit = [&](int depth, json::parse_event_t, json&) {
    if (depth > kMaxJsonDepth) too_deep = true;
    return !too_deep;
  };
  json value = json::parse(text.begin(), text.end(), limit, /*allow_exceptions=*/false);
  if (too_deep) {
    *error = "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return std::nullopt;
  }
  if (value.is_discarded()) {
    // Re-parse with exceptions only to obtain the parser's message (position and reason).
    try {
      const json strict = json::parse(text.begin(), text.end());
      (void)strict;
      *error = "not valid JSON";
    } catch (const json::exception& e) {
      *error = e.what();
    }
    return std::nullopt;
  }
  return value;
}

namespace {

// Required top-level metadata keys and their JSON types (FORMAT.md "Metadata keys").
struct RequiredKey {
  const char* key;
  json::value_t type;
  const char* type_name;
};
constexpr RequiredKey kRequiredKeys[] = {
    {"rtx.version", json::value_t::string, "a string"},
    {"network.inputs", json::value_t::array, "an array"},
    {"network.outputs", json::value_t::array, "an array"},
    {"profiles", json::value_t::array, "an array"},
    {"plan", json::value_t::object, "an object"},
};

bool is_type(const json& v, json::value_t t) {
  if (t == json::value_t::array) return v.is_array();
  if (t == json::value_t::object) return v.is_object();
  if (t == json::value_t::string) return v.is_string();
  return v.type() == t;
}

void check_io_list(const json& list, const std::string& key) {
  for (size_t i = 0; i < list.size(); ++i) {
    const json& t = list[i];
    const std::string where = key + "[" + std::to_string(i) + "]";
    if (!t.is_object())
      throw Exception(E::kMetadataKeyType, "metadata " + where + " must be an object");
    if (!t.contains("name") || !t["name"].is_string()) {
      throw Exception(E::kMetadataKeyType, "metadata " + where + ".name must be a string");
    }
    if (!t.contains("dtype") || !t["dtype"].is_string() ||
        !data_type_from_string(t["dtype"].get<std::string>())) {
      throw Exception(E::kMetadataKeyType,
                      "metadata " + where + ".dtype must name a data type (\"f16\", ...)");
    }
    if (!t.contains("shape") || !t["shape"].is_array() ||
        !std::all_of(t["shape"].begin(), t["shape"].end(),
                     [](const json& d) { return d.is_number_integer(); })) {
      throw Exception(E::kMetadataKeyType,
                      "metadata " + where + ".shape must be an array of integers (-1 = dynamic)");
    }
    if (t.contains("dim_names") &&
        (!t["dim_names"].is_array() || t["dim_names"].size() != t["shape"].size() ||
         !std::all_of(t["dim_names"].begin(), t["dim_names"].end(), [](const json& d) { return d.is_string(); }))) {
      throw Exception(E::kMetadataKeyType,
                      "metadata " + where + ".dim_names must be an array of strings, one per dim");
    }
  }
}

void check_name(std::string_view name, const char* id, const std::string& what) {
  if (name.empty()) throw Exception(id, what + " is empty");
  if (name.find('\0') != std::string_view::npos) throw Exception(id, what + " contains a NUL byte");
  if (!is_valid_utf8(name)) throw Exception(id, what + " is not valid UTF-8");
}

void validate_images(const EngineModel& m) {
  for (size_t i = 0; i < m.images.size(); ++i) {
    const KernelImage& img = m.images[i];
    const std::string where = "kernel image " + std::to_string(i);
    if (img.kind != ImageKind::kCUBIN && img.kind != ImageKind::kPTX) {
      throw Exception(E::kImageKind, where + " has unknown kind " + std::to_string(int(img.kind)));
    }
    if (img.cc < 10 || img.cc > 255) {
      throw Exception(E::kImageTarget, where + " targets compute capability " +
                                           std::to_string(img.cc) +
                                           "; the format holds 10 (1.0) to 255");
    }
    // The first four and the last byte of the image itself decide its form; a compressed image is
    // inflated once to find them (and to prove that it inflates), keeping nothing.
    uint8_t head[4] = {};
    size_t head_size = 0;
    uint64_t size = 0;
    uint8_t last = 0;
    const auto look = [&](std::span<const uint8_t> c) {
      for (size_t j = 0; j < c.size() && head_size < 4; ++j) head[head_size++] = c[j];
      if (!c.empty()) last = c.back();
      size += c.size();
    };
    if (img.compressed()) {
      detail::inflate_image_chunks(img.bytes.bytes(), img.raw_size, where + " (" + img.target_name() + ")", look);
    } else {
      look(img.bytes.bytes());
    }
    if (img.kind == ImageKind::kCUBIN) {
      static constexpr uint8_t kElf[4] = {0x7F, 'E', 'L', 'F'};
      if (head_size < 4 || !std::equal(std::begin(kElf), std::end(kElf), head)) {
        throw Exception(E::kCubinNotElf,
                        where + " (" + img.target_name() + ") is not an ELF cubin");
      }
    } else if (size == 0 || last != 0) {
      throw Exception(E::kPtxNotTerminated,
                      where + " (" + img.target_name() + ") PTX does not end with a NUL byte");
    }
  }
}

void validate_kernels(const EngineModel& m) {
  // Targets of the engine: (kind, cc). Every kernel must be in exactly one image per target, so
  // that whichever target the runtime picks, every kernel is there.
  std::set<std::pair<ImageKind, uint16_t>> targets;
  for (const auto& img : m.images) targets.insert({img.kind, img.cc});
  std::set<std::string_view> lowered;
  for (size_t k = 0; k < m.kernels.size(); ++k) {
    const KernelEntry& ke = m.kernels[k];
    const std::string where = "kernel " + std::to_string(k);
    check_name(ke.name_expression, E::kKernelName, where + " name expression");
    check_name(ke.lowered_name, E::kKernelName, where + " lowered name");
    if (!lowered.insert(ke.lowered_name).second) {
      throw Exception(E::kKernelDuplicate,
                      "kernel '" + ke.lowered_name + "' appears twice in the kernels table");
    }
    const std::string named = "kernel '" + ke.name_expression + "'";
    if (!ke.launch.is_object() || !ke.launch.contains("grid") || !ke.launch.contains("block")) {
      throw Exception(E::kLaunchContract,
                      named + " launch contract must be a JSON object with \"grid\" and \"block\"");
    }
    std::map<std::pair<ImageKind, uint16_t>, uint32_t> seen;
    for (uint32_t ref : ke.images) {
      if (ref >= m.images.size()) {
        throw Exception(E::kImageIndex, named + " refers to image " + std::to_string(ref) + " of " +
                                            std::to_string(m.images.size()));
      }
      const KernelImage& img = m.images[ref];
      if (!seen.insert({{img.kind, img.cc}, ref}).second) {
        throw Exception(E::kKernelAmbiguousTarget,
                        named + " refers to two images for target " + img.target_name());
      }
    }
    if (ke.images.empty()) throw Exception(E::kKernelMissingTarget, named + " has no kernel image");
    for (const auto& target : targets) {
      if (!seen.contains(target)) {
        KernelImage probe;
        probe.kind = target.first;
        probe.cc = target.second;
        throw Exception(E::kKernelMissingTarget,
                        named + " has no image for target " + probe.target_name() +
                            " (every kernel must cover every target of the engine)");
      }
    }
  }
}

void validate_weights(const EngineModel& m) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < m.weights.size(); ++i) {
    const WeightEntry& w = m.weights[i];
    check_name(w.name, E::kWeightName, "weight " + std::to_string(i) + " name");
    if (!names.insert(w.name).second) {
      throw Exception(E::kWeightDuplicate,
                      "weight '" + w.name + "' appears twice in the weights table");
    }
    if (static_cast<int>(w.dtype) >= kDataTypeCount) {
      throw Exception(E::kWeightDtype, "weight '" + w.name + "' has unknown data type code " +
                                           std::to_string(static_cast<int>(w.dtype)));
    }
    if (w.shape.size() > kMaxWeightRank) {
      throw Exception(E::kWeightShape, "weight '" + w.name + "' has rank " +
                                           std::to_string(w.shape.size()) + " (at most " +
                                           std::to_string(kMaxWeightRank) + ")");
    }
    // Same bound as HostTensor: element count * 8 must fit in int64.
    uint64_t count = 1;
    for (int64_t d : w.shape) {
      if (d < 0)
        throw Exception(E::kWeightShape,
                        "weight '" + w.name + "' has negative dim in " + shape_to_string(w.shape));
      if (!checked_mul(count, static_cast<uint64_t>(d), &count) ||
          count > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 8)) {
        throw Exception(E::kWeightShape, "weight '" + w.name + "' shape " +
                                             shape_to_string(w.shape) + " is too large");
      }
    }
    if (w.streamable && !m.weight_streaming) {
      throw Exception(
          E::kStreamableFlag,
          "weight '" + w.name +
              "' is marked streamable but the engine is not built for weight streaming");
    }
    if (w.data.valid() && (w.data.dtype() != w.dtype || w.data.shape() != w.shape)) {
      throw Exception(E::kWeightDataMismatch,
                      "weight '" + w.name + "' is declared " + std::string(to_string(w.dtype)) +
                          shape_to_string(w.shape) + " but its data is " + w.data.describe());
    }
  }
}

}  // namespace

void validate_metadata(const json& metadata) {
  if (!metadata.is_object())
    throw Exception(E::kMetadataNotObject, "metadata must be a JSON object");
  for (const auto& rk : kRequiredKeys) {
    const auto it = metadata.find(rk.key);
    if (it == metadata.end())
      throw Exception(E::kMetadataKeyMissing,
                      std::string("metadata lacks required key '") + rk.key + "'");
    if (!is_type(*it, rk.type)) {
      throw Exception(E::kMetadataKeyType,
                      std::string("metadata key '") + rk.key + "' must be " + rk.type_name);
    }
  }
  check_io_list(metadata["network.inputs"], "network.inputs");
  check_io_list(metadata["network.outputs"], "network.outputs");
}

void validate_model(const EngineModel& model) {
  validate_metadata(model.metadata);
  validate_images(model);
  validate_kernels(model);
  validate_weights(model);
}

}  // namespace rtx::serialization::detail
