// SPDX-License-Identifier: Apache-2.0
// Model and external-data file access: memory maps, protobuf parsing limits, path containment.
#include "ir/onnx/model_io.hpp"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "ir/onnx/errors.hpp"
#include "rtx/error.hpp"

namespace rtx::onnx {
namespace fs = std::filesystem;

MappedFile::MappedFile(const fs::path& path, const char* id) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Exception(id, "cannot open '" + path.string() + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Exception(id, "'" + path.string() + "' is not a readable regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      throw Exception(id, "cannot map '" + path.string() + "': " + std::strerror(e));
    }
    data_ = static_cast<const std::byte*>(p);
  }
  ::close(fd);  // the mapping stays valid without the descriptor
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
}

std::shared_ptr<const pb::ModelProto> parse_model_bytes(const void* data, size_t size) {
  // Protobuf messages are limited to 2 GiB; larger models must keep weights as external data.
  if (size >= static_cast<size_t>(INT_MAX))
    throw Exception(err::kTooLarge, "the model is " + std::to_string(size) +
                                        " bytes; a ModelProto must be smaller than 2 GiB (store "
                                        "weights as external data)");
  auto model = std::make_shared<pb::ModelProto>();
  google::protobuf::io::CodedInputStream in(static_cast<const uint8_t*>(data),
                                            static_cast<int>(size));
  in.SetTotalBytesLimit(INT_MAX);
  // Nested graphs (If/Loop bodies) recurse; a hostile file must not exhaust the stack.
  in.SetRecursionLimit(64);
  if (!model->ParseFromCodedStream(&in) || !in.ConsumedEntireMessage())
    throw Exception(err::kMalformed,
                    "the data is not a valid ONNX ModelProto (protobuf parsing failed after " +
                        std::to_string(in.CurrentPosition()) + " of " + std::to_string(size) +
                        " bytes)");
  return model;
}

LoadedModel load_model_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Exception(err::kFileOpen, "model file '" + path.string() + "' does not exist");
  MappedFile file(path, err::kFileOpen);
  LoadedModel m;
  m.proto =
      parse_model_bytes(file.data() ? static_cast<const void*>(file.data()) : "", file.size());
  m.dir = fs::absolute(path, ec).parent_path();
  if (ec) m.dir = path.parent_path();
  return m;
}

ExternalDataStore::ExternalDataStore(std::optional<fs::path> base_dir)
    : base_dir_(std::move(base_dir)) {}

ExternalDataStore::View ExternalDataStore::get(const std::string& location, uint64_t offset,
                                               std::optional<uint64_t> length,
                                               const std::string& tensor) {
  const std::string who = "tensor '" + tensor + "'";
  if (!base_dir_)
    throw Exception(err::kExtNoDir,
                    who + " keeps its data in external file '" + location +
                        "', but the model was parsed from memory without a model folder");
  if (location.empty())
    throw Exception(err::kExtLocation, who + " has external data with an empty location");
  if (location.find('\0') != std::string::npos)
    throw Exception(err::kExtPath, who + ": external data location contains a NUL byte");
  const fs::path rel(location);
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory())
    throw Exception(err::kExtPath, who + ": external data location '" + location +
                                       "' must be relative to the model's folder");
  for (const auto& part : rel)
    if (part == "..")
      throw Exception(err::kExtPath, who + ": external data location '" + location +
                                         "' must not leave the model's folder ('..')");
  const fs::path full = *base_dir_ / rel;
  std::error_code ec;
  if (!fs::exists(full, ec))
    throw Exception(err::kExtFile,
                    who + ": external data file '" + full.string() + "' does not exist");
  // Symbolic links could still point outside: compare canonical paths.
  if (!canonical_base_) canonical_base_ = fs::canonical(*base_dir_, ec);
  const fs::path canon = fs::canonical(full, ec);
  if (ec)
    throw Exception(err::kExtFile,
                    who + ": cannot resolve external data file '" + full.string() + "'");
  const auto [base_end, canon_it] =
      std::mismatch(canonical_base_->begin(), canonical_base_->end(), canon.begin(), canon.end());
  if (base_end != canonical_base_->end())
    throw Exception(err::kExtPath, who + ": external data file '" + location + "' resolves to '" +
                                       canon.string() + "', outside the model's folder");
  auto& mapped = files_[canon];
  if (!mapped) mapped = std::make_shared<MappedFile>(canon, err::kExtFile);
  const uint64_t size = mapped->size();
  if (offset > size)
    throw Exception(err::kExtRange, who + ": external data offset " + std::to_string(offset) +
                                        " is past the end of '" + location + "' (" +
                                        std::to_string(size) + " bytes)");
  const uint64_t len = length ? *length : size - offset;
  if (len > size - offset)
    throw Exception(err::kExtRange, who + ": external data [" + std::to_string(offset) + ", " +
                                        std::to_string(offset) + " + " + std::to_string(len) +
                                        ") extends past the end of '" + location + "' (" +
                                        std::to_string(size) + " bytes)");
  View v;
  v.data = mapped->data() ? mapped->data() + offset : nullptr;
  v.size = len;
  v.owner = mapped;
  return v;
}

}  // namespace rtx::onnx
