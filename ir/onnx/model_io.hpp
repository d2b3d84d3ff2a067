// SPDX-License-Identifier: Apache-2.0
// Reading ONNX models: the ModelProto itself (parsed from a memory map of the file, so the file's
// bytes are not copied on the way in) and external data files (memory-mapped once each and
// shared by every tensor that points into them, so large weights are borrowed, not copied).
// Everything here treats file contents as untrusted: sizes, offsets and paths are checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "ir/onnx/proto.hpp"

namespace rtx::onnx {

/// A read-only memory map of a whole file (empty files map nothing). Unmapped on destruction.
class MappedFile {
 public:
  /// Maps `path`; throws rtx::Exception with `id` if it cannot be opened or mapped.
  MappedFile(const std::filesystem::path& path, const char* id);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
};

/// A parsed model plus where its external data lives.
struct LoadedModel {
  std::shared_ptr<const pb::ModelProto> proto;
  std::optional<std::filesystem::path> dir;  ///< folder of the model file, if known
};

/// Parses a serialized ModelProto (rtx.onnx.102 if malformed, .103 if >= 2 GiB).
std::shared_ptr<const pb::ModelProto> parse_model_bytes(const void* data, size_t size);
/// Maps and parses the model file at `path` (rtx.onnx.101 if it cannot be read).
LoadedModel load_model_file(const std::filesystem::path& path);

/// Resolves TensorProto external data (location/offset/length) against the model folder. Each
/// file is mapped once; views keep their mapping alive through the returned owner.
class ExternalDataStore {
 public:
  explicit ExternalDataStore(std::optional<std::filesystem::path> base_dir);

  struct View {
    const std::byte* data = nullptr;
    uint64_t size = 0;
    std::shared_ptr<const void> owner;
  };
  /// Bytes [offset, offset + length) of `location` (length: the rest of the file if absent).
  /// `tensor` names the tensor in messages. Throws rtx.onnx.205/206/207/209.
  View get(const std::string& location, uint64_t offset, std::optional<uint64_t> length,
           const std::string& tensor);

 private:
  std::optional<std::filesystem::path> base_dir_;
  std::optional<std::filesystem::path> canonical_base_;
  std::map<std::filesystem::path, std::shared_ptr<MappedFile>> files_;
};

}  // namespace rtx::onnx
