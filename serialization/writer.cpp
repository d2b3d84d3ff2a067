// SPDX-License-Identifier: Apache-2.0
// Engine writer (see writer.hpp). Writing is two passes over the model: plan (encode the small
// sections, place images and weights, compute every checksum), then emit to a sink. Large
// sections (kernel images, weight data) are described as pieces of the model's own buffers, so
// writing a file never holds a second copy of the weights.
#include "serialization/writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "serialization/byte_io.hpp"
#include "serialization/checksum.hpp"
#include "serialization/errors.hpp"
#include "serialization/validate.hpp"

namespace rtx::serialization {
namespace E = errors;
using detail::align_up;
using detail::ByteWriter;

namespace {

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(const uint8_t* p, size_t n) = 0;
  void zeros(uint64_t n) {
    static constexpr uint8_t kZeros[4096] = {};
    while (n > 0) {
      const size_t k = n < sizeof(kZeros) ? static_cast<size_t>(n) : sizeof(kZeros);
      write(kZeros, k);
      n -= k;
    }
  }
};

class VectorSink final : public Sink {
 public:
  explicit VectorSink(std::vector<uint8_t>& out) : out_(out) {}
  void write(const uint8_t* p, size_t n) override { out_.insert(out_.end(), p, p + n); }

 private:
  std::vector<uint8_t>& out_;
};

// Buffered writes to a file descriptor; errors throw with the path and errno text.
class FileSink final : public Sink {
 public:
  FileSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) { buffer_.reserve(kBuffer); }
  void write(const uint8_t* p, size_t n) override {
    if (buffer_.size() + n > kBuffer) flush();
    if (n >= kBuffer) {
      write_all(p, n);
    } else {
      buffer_.insert(buffer_.end(), p, p + n);
    }
  }
  void flush() {
    write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
  }

 private:
  static constexpr size_t kBuffer = 1 << 20;
  void write_all(const uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t k = ::write(fd_, p, n);
      if (k < 0) {
        if (errno == EINTR) continue;
        throw Exception(E::kWriteFailed, "cannot write '" + path_ + "': " + std::strerror(errno));
      }
      p += k;
      n -= static_cast<size_t>(k);
    }
  }
  int fd_;
  std::string path_;
  std::vector<uint8_t> buffer_;
};

// Bytes of a large section: model-owned buffers at offsets inside the section, zeros between.
struct Piece {
  std::span<const uint8_t> bytes;
  uint64_t offset;
};

struct SectionPlan {
  uint32_t tag = 0;
  uint64_t alignment = kSectionAlignment;
  uint64_t size = 0;
  uint32_t crc = 0;
  std::vector<uint8_t> owned{};  // small sections are encoded up front
  std::vector<Piece> pieces{};   // large ones are referenced (sorted by offset)
  bool pieced = false;
  uint64_t offset = 0;  // file offset, set by finalize()
};

void emit_section(const SectionPlan& s, Sink& sink) {
  if (!s.pieced) {
    sink.write(s.owned.data(), s.owned.size());
    return;
  }
  uint64_t pos = 0;
  for (const Piece& p : s.pieces) {
    sink.zeros(p.offset - pos);
    sink.write(p.bytes.data(), p.bytes.size());
    pos = p.offset + p.bytes.size();
  }
  sink.zeros(s.size - pos);
}

uint32_t section_crc(const SectionPlan& s) {
  if (!s.pieced) return crc32c(s.owned);
  uint32_t crc = 0;
  uint64_t pos = 0;
  for (const Piece& p : s.pieces) {
    crc = crc32c_zeros(p.offset - pos, crc);
    crc = crc32c(p.bytes, crc);
    pos = p.offset + p.bytes.size();
  }
  return crc32c_zeros(s.size - pos, crc);
}

struct Layout {
  EngineHeader header;
  std::vector<SectionPlan> sections;
  std::vector<uint8_t> table;
};

// Places sections in order after the header and table; fills the table and header checksums.
void finalize(Layout& layout) {
  EngineHeader& h = layout.header;
  h.section_count = static_cast<uint32_t>(layout.sections.size());
  uint64_t pos = kHeaderSize + kSectionEntrySize * layout.sections.size();
  layout.table.clear();
  ByteWriter w(layout.table);
  for (SectionPlan& s : layout.sections) {
    if (!s.pieced) s.size = s.owned.size();
    s.offset = align_up(pos, s.alignment);
    pos = s.offset + s.size;
    s.crc = section_crc(s);
    w.u32(s.tag);
    w.u32(0);  // reserved
    w.u64(s.offset);
    w.u64(s.size);
    w.u32(s.crc);
    w.u32(0);  // reserved
  }
  h.file_size = pos;
  h.section_table_crc = crc32c(layout.table);
}

void emit(const Layout& layout, Sink& sink) {
  const auto header = encode_header(layout.header);
  sink.write(header.data(), header.size());
  sink.write(layout.table.data(), layout.table.size());
  uint64_t pos = kHeaderSize + layout.table.size();
  for (const SectionPlan& s : layout.sections) {
    sink.zeros(s.offset - pos);
    emit_section(s, sink);
    pos = s.offset + s.size;
  }
}

uint32_t count32(size_t n, const char* what) {
  if (n > UINT32_MAX)
    throw Exception(E::kTooLarge,
                    std::to_string(n) + " " + what + " exceed the format's limit of 2^32-1");
  return static_cast<uint32_t>(n);
}

Layout plan(const EngineModel& m, const WriteOptions& options) {
  if (options.validate) detail::validate_model(m);
  if (!options.exclude_weights) {
    for (const auto& w : m.weights) {
      if (!w.data.valid()) {
        throw Exception(
            E::kWeightNoData,
            "weight '" + w.name +
                "' has no data (stripped engine): refit it before writing a full engine, "
                "or write with exclude_weights");
      }
    }
  }
  Layout layout;
  EngineHeader& h = layout.header;
  h.format_version = m.format_version();
  h.library_version = m.library_version;
  const uint16_t min_ptx = m.min_ptx_cc();
  h.flags = static_cast<uint16_t>(
      (options.exclude_weights ? uint16_t(EngineFlag::kWEIGHTS_STRIPPED) : 0) |
      (m.refittable ? uint16_t(EngineFlag::kREFITTABLE) : 0) |
      (m.weight_streaming ? uint16_t(EngineFlag::kWEIGHT_STREAMING) : 0) |
      (min_ptx != 0 ? uint16_t(EngineFlag::kPTX_PRESENT) : 0));
  h.min_ptx_cc = static_cast<uint8_t>(min_ptx);
  h.cubin_cc_mask = m.cubin_cc_mask();
  h.min_driver_version = m.min_driver_version;
  h.min_runtime_version = m.min_runtime_version;
  h.device_memory_bytes = m.device_memory_bytes;
  h.streamable_weight_bytes = m.streamable_weight_bytes();

  // META: compact JSON; nlohmann's objects are sorted maps, so the text is canonical.
  SectionPlan meta{.tag = kTagMetadata};
  try {
    const std::string text = m.metadata.dump();
    meta.owned.assign(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw Exception(E::kMetadataUnwritable,
                    std::string("metadata cannot be written as JSON: ") + e.what());
  }

  // KIMG: images back to back at 64-byte aligned offsets.
  SectionPlan kimg{.tag = kTagKernelImages, .pieced = true};
  std::vector<uint64_t> image_offsets;
  for (const auto& img : m.images) {
    const uint64_t at = align_up(kimg.size, kImageAlignment);
    image_offsets.push_back(at);
    kimg.pieces.push_back({img.bytes.bytes(), at});
    kimg.size = at + img.bytes.size();
  }

  // KERN: image entries, then kernel entries.
  SectionPlan kern{.tag = kTagKernels};
  {
    ByteWriter w(kern.owned);
    w.u32(count32(m.images.size(), "kernel images"));
    w.u32(count32(m.kernels.size(), "kernels"));
    for (size_t i = 0; i < m.images.size(); ++i) {
      const auto& img = m.images[i];
      w.u8(static_cast<uint8_t>(img.kind));
      w.u8(static_cast<uint8_t>((img.arch_specific ? 1 : 0) | (img.compressed() ? 2 : 0)));
      w.u16(img.cc);
      w.u32(img.raw_size);  // 0 when stored as it is (version 1: reserved)
      w.u64(image_offsets[i]);
      w.u64(img.bytes.size());
    }
    for (const auto& k : m.kernels) {
      w.string(k.name_expression);
      w.string(k.lowered_name);
      std::string launch;
      try {
        launch = k.launch.dump();
      } catch (const nlohmann::json::exception& e) {
        throw Exception(E::kLaunchContract,
                        "kernel '" + k.name_expression +
                            "' launch contract cannot be written as JSON: " + e.what());
      }
      w.string(launch);
      w.u32(k.dynamic_shared_memory_bytes);
      w.u32(count32(k.images.size(), "image references"));
      for (uint32_t ref : k.images) w.u32(ref);
    }
  }

  // WTAB and WDAT: weights at 256-byte aligned offsets in table order.
  SectionPlan wtab{.tag = kTagWeightsTable};
  SectionPlan wdat{.tag = kTagWeightData, .alignment = kWeightAlignment, .pieced = true};
  {
    ByteWriter w(wtab.owned);
    w.u32(count32(m.weights.size(), "weights"));
    w.u32(0);  // reserved
    uint64_t end = 0;
    for (const auto& wt : m.weights) {
      const uint64_t bytes = wt.byte_size();
      const uint64_t at = align_up(end, kWeightAlignment);
      if (bytes == UINT64_MAX || at + bytes < at) {
        throw Exception(E::kWeightShape, "weight '" + wt.name + "' shape " +
                                             shape_to_string(wt.shape) + " is too large");
      }
      end = at + bytes;
      std::span<const uint8_t> data;
      if (wt.data.valid()) {
        data = std::span(reinterpret_cast<const uint8_t*>(wt.data.data()),
                         std::min<uint64_t>(wt.data.byte_size(), bytes));
      }
      w.string(wt.name);
      w.u8(static_cast<uint8_t>(wt.dtype));
      w.u8(wt.streamable ? 1 : 0);
      w.u16(0);  // reserved
      w.u32(count32(wt.shape.size(), "dims"));
      for (int64_t d : wt.shape) w.i64(d);
      w.u64(at);
      w.u64(bytes);
      w.u64(wt.data.valid() ? xxh64(data) : wt.fingerprint);
      if (!options.exclude_weights) wdat.pieces.push_back({data, at});
    }
    wdat.size = end;
  }

  layout.sections.push_back(std::move(meta));
  layout.sections.push_back(std::move(kern));
  layout.sections.push_back(std::move(wtab));
  layout.sections.push_back(std::move(kimg));
  if (!options.exclude_weights) layout.sections.push_back(std::move(wdat));
  finalize(layout);
  return layout;
}

std::atomic<uint64_t> g_temp_counter{0};

}  // namespace

Expected<std::vector<uint8_t>> write_engine(const EngineModel& model, const WriteOptions& options) {
  return rtx::detail::catch_errors(E::kInternal, [&]() -> Expected<std::vector<uint8_t>> {
    const Layout layout = plan(model, options);
    std::vector<uint8_t> out;
    out.reserve(layout.header.file_size);
    VectorSink sink(out);
    emit(layout, sink);
    return out;
  });
}

Expected<void> write_engine_file(const std::filesystem::path& path, const EngineModel& model,
                                 const WriteOptions& options) {
  return rtx::detail::catch_errors(E::kInternal, [&]() -> Expected<void> {
    const Layout layout = plan(model, options);
    // The temporary lives next to the target so that rename() is atomic (same file system).
    const std::filesystem::path dir =
        path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    std::random_device rd;
    std::filesystem::path temp;
    int fd = -1;
    for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
      temp = dir / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                    std::to_string(g_temp_counter++) + "." + std::to_string(rd()));
      fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
      return Error{E::kWriteFailed, "cannot create a temporary file next to '" + path.string() +
                                        "': " + std::strerror(errno)};
    }
    try {
      FileSink sink(fd, temp.string());
      emit(layout, sink);
      sink.flush();
      if (::fsync(fd) != 0)
        throw Exception(E::kWriteFailed,
                        "cannot flush '" + temp.string() + "': " + std::strerror(errno));
      if (::close(fd) != 0) {
        fd = -1;
        throw Exception(E::kWriteFailed,
                        "cannot close '" + temp.string() + "': " + std::strerror(errno));
      }
      fd = -1;
      if (::rename(temp.c_str(), path.c_str()) != 0) {
        throw Exception(E::kRenameFailed, "cannot rename '" + temp.string() + "' to '" +
                                              path.string() + "': " + std::strerror(errno));
      }
    } catch (...) {
      if (fd >= 0) ::close(fd);
      ::unlink(temp.c_str());
      throw;
    }
    return {};
  });
}

std::vector<uint8_t> assemble_engine(EngineHeader header, const std::vector<RawSection>& sections) {
  Layout layout;
  layout.header = header;
  for (const auto& s : sections) {
    SectionPlan p{.tag = s.tag, .alignment = s.alignment};
    p.owned = s.bytes;
    p.size = s.bytes.size();
    layout.sections.push_back(std::move(p));
  }
  finalize(layout);
  std::vector<uint8_t> out;
  out.reserve(layout.header.file_size);
  VectorSink sink(out);
  emit(layout, sink);
  return out;
}

}  // namespace rtx::serialization
