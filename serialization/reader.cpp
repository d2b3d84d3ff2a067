// SPDX-License-Identifier: Apache-2.0
// Engine reader (see reader.hpp). The order of checks is part of the contract, because it makes
// the error id of a given defect stable: header, file size, section table, section placement,
// padding, section checksums, then the contents of each section, then the model's rules, then
// header-versus-body agreement, then weight fingerprints. Contents are parsed only after their
// checksum matched, so random corruption is reported as a checksum error, not as whatever the
// corrupted bytes happen to look like.
#include "serialization/reader.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <optional>

#include "serialization/byte_io.hpp"
#include "serialization/checksum.hpp"
#include "serialization/errors.hpp"
#include "serialization/validate.hpp"

namespace rtx::serialization {
namespace E = errors;
using detail::checked_add;
using detail::Cursor;

namespace {

struct SectionRef {
  uint32_t tag = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t crc = 0;
};

std::string quoted(uint32_t tag) {
  return "section '" + tag_name(tag) + "'";
}

bool known_tag(uint32_t tag) {
  return tag == kTagMetadata || tag == kTagKernels || tag == kTagKernelImages ||
         tag == kTagWeightsTable || tag == kTagWeightData;
}

// Every byte of [begin, end) must be zero: padding carries no checksum, so it carries no data.
void check_zero(std::span<const uint8_t> file, uint64_t begin, uint64_t end) {
  for (uint64_t i = begin; i < end; ++i) {
    if (file[i] != 0) {
      throw Exception(E::kStrayBytes, "non-zero byte at offset " + std::to_string(i) +
                                          " outside every section (padding must be zero)");
    }
  }
}

std::map<uint32_t, SectionRef> read_section_table(std::span<const uint8_t> file,
                                                  const EngineHeader& h) {
  const uint64_t table_end = kHeaderSize + kSectionEntrySize * uint64_t(h.section_count);
  if (table_end > h.file_size) {
    throw Exception(E::kTablePastEnd, "section table of " + std::to_string(h.section_count) +
                                          " entries extends past the end of the " +
                                          std::to_string(h.file_size) + "-byte file");
  }
  const auto table = file.subspan(kHeaderSize, static_cast<size_t>(table_end - kHeaderSize));
  const uint32_t crc = crc32c(table);
  if (crc != h.section_table_crc)
    throw Exception(E::kTableChecksum, "section table checksum mismatch: the table is corrupt");

  Cursor c(table, E::kTablePastEnd, "section table");
  std::vector<SectionRef> all;
  std::map<uint32_t, SectionRef> known;
  for (uint32_t i = 0; i < h.section_count; ++i) {
    SectionRef s;
    s.tag = c.u32();
    const uint32_t reserved0 = c.u32();
    s.offset = c.u64();
    s.size = c.u64();
    s.crc = c.u32();
    const uint32_t reserved1 = c.u32();
    if (reserved0 != 0 || reserved1 != 0) {
      throw Exception(E::kSectionReserved, "section table entry " + std::to_string(i) + " (" +
                                               quoted(s.tag) + ") has non-zero reserved fields");
    }
    uint64_t end = 0;
    if (!checked_add(s.offset, s.size, &end) || end > h.file_size) {
      throw Exception(E::kSectionPastEnd, quoted(s.tag) + " (offset " + std::to_string(s.offset) +
                                              ", " + std::to_string(s.size) +
                                              " bytes) extends past end of file (" +
                                              std::to_string(h.file_size) + " bytes)");
    }
    const uint64_t alignment = s.tag == kTagWeightData ? kWeightAlignment : kSectionAlignment;
    if (s.offset % alignment != 0) {
      throw Exception(E::kSectionMisaligned, quoted(s.tag) + " offset " + std::to_string(s.offset) +
                                                 " is not a multiple of " +
                                                 std::to_string(alignment));
    }
    if (s.offset < table_end) {
      throw Exception(E::kSectionOverlap, quoted(s.tag) + " at offset " + std::to_string(s.offset) +
                                              " overlaps the header or the section table");
    }
    if (known_tag(s.tag) && !known.emplace(s.tag, s).second) {
      throw Exception(E::kSectionDuplicate, quoted(s.tag) + " appears twice in the section table");
    }
    all.push_back(s);
  }
  std::sort(all.begin(), all.end(), [](const SectionRef& a, const SectionRef& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.size < b.size;
  });
  uint64_t pos = table_end;
  for (const SectionRef& s : all) {
    if (s.offset < pos) {
      throw Exception(E::kSectionOverlap, quoted(s.tag) + " at offset " + std::to_string(s.offset) +
                                              " overlaps the section before it");
    }
    check_zero(file, pos, s.offset);
    pos = s.offset + s.size;
  }
  check_zero(file, pos, h.file_size);

  for (uint32_t tag : {kTagMetadata, kTagKernels, kTagWeightsTable, kTagKernelImages}) {
    if (!known.contains(tag))
      throw Exception(E::kSectionMissing, "required " + quoted(tag) + " is missing");
  }
  const bool stripped = h.has(EngineFlag::kWEIGHTS_STRIPPED);
  if (stripped == known.contains(kTagWeightData)) {
    throw Exception(
        E::kWeightDataPresence,
        stripped ? "the header says weights are stripped but a weight data section is present"
                 : "the weight data section is missing and the header does not say weights are "
                   "stripped");
  }
  // Checksums in table order (every section, unknown ones included).
  Cursor again(table, E::kTablePastEnd, "section table");
  for (uint32_t i = 0; i < h.section_count; ++i) {
    SectionRef s;
    s.tag = again.u32();
    again.u32();
    s.offset = again.u64();
    s.size = again.u64();
    s.crc = again.u32();
    again.u32();
    const uint32_t actual =
        crc32c(file.subspan(static_cast<size_t>(s.offset), static_cast<size_t>(s.size)));
    if (actual != s.crc) {
      throw Exception(E::kSectionChecksum,
                      quoted(s.tag) + " checksum mismatch: the section is corrupt");
    }
  }
  return known;
}

std::span<const uint8_t> section_bytes(std::span<const uint8_t> file, const SectionRef& s) {
  return file.subspan(static_cast<size_t>(s.offset), static_cast<size_t>(s.size));
}

void read_kernels(EngineModel& m, uint16_t format_version, std::span<const uint8_t> kern,
                  std::span<const uint8_t> kimg, const std::shared_ptr<const void>& owner) {
  Cursor c(kern, E::kKernelsTruncated, "kernels table");
  const uint32_t image_count = c.u32();
  const uint32_t kernel_count = c.u32();
  c.require_records(image_count, 24, "image entries");
  struct Placed {
    uint64_t offset, size;
    uint32_t index;
  };
  std::vector<Placed> placed;
  m.images.reserve(image_count);
  for (uint32_t i = 0; i < image_count; ++i) {
    const std::string where = "kernel image " + std::to_string(i);
    KernelImage img;
    const uint8_t kind = c.u8();
    const uint8_t flags = c.u8();
    img.cc = c.u16();
    const uint32_t raw_size = c.u32();  // version 1: reserved (zero)
    const uint64_t offset = c.u64();
    const uint64_t size = c.u64();
    if (kind != uint8_t(ImageKind::kCUBIN) && kind != uint8_t(ImageKind::kPTX)) {
      throw Exception(E::kImageKind, where + " has unknown kind " + std::to_string(kind));
    }
    // Flag bit 1 (compressed) and raw_size exist from version 2 on and come together.
    const uint8_t known_flags = format_version >= 2 ? 3 : 1;
    const bool compressed = (flags & 2u) != 0;
    if ((flags & ~known_flags) != 0 || compressed != (raw_size != 0))
      throw Exception(E::kImageKind, where + " has non-zero reserved bits");
    img.kind = static_cast<ImageKind>(kind);
    img.arch_specific = (flags & 1u) != 0;
    img.raw_size = raw_size;
    if (offset % kImageAlignment != 0) {
      throw Exception(E::kImageMisaligned, where + " offset " + std::to_string(offset) +
                                               " is not a multiple of " +
                                               std::to_string(kImageAlignment));
    }
    uint64_t end = 0;
    if (!checked_add(offset, size, &end) || end > kimg.size()) {
      throw Exception(E::kImagePastEnd,
                      where + " (offset " + std::to_string(offset) + ", " + std::to_string(size) +
                          " bytes) extends past the end of the kernel images section (" +
                          std::to_string(kimg.size()) + " bytes)");
    }
    img.bytes =
        Blob::borrow(kimg.subspan(static_cast<size_t>(offset), static_cast<size_t>(size)), owner);
    placed.push_back({offset, size, i});
    m.images.push_back(std::move(img));
  }
  std::sort(placed.begin(), placed.end(),
            [](const Placed& a, const Placed& b) { return a.offset < b.offset; });
  for (size_t i = 1; i < placed.size(); ++i) {
    if (placed[i].offset < placed[i - 1].offset + placed[i - 1].size) {
      throw Exception(E::kImageOverlap, "kernel images " + std::to_string(placed[i - 1].index) +
                                            " and " + std::to_string(placed[i].index) + " overlap");
    }
  }

  c.require_records(kernel_count, 20, "kernel entries");
  m.kernels.reserve(kernel_count);
  for (uint32_t k = 0; k < kernel_count; ++k) {
    KernelEntry ke;
    ke.name_expression = std::string(c.string("name expression"));
    ke.lowered_name = std::string(c.string("lowered name"));
    const std::string_view launch = c.string("launch contract");
    ke.dynamic_shared_memory_bytes = c.u32();
    const uint32_t refs = c.u32();
    c.require_records(refs, 4, "image references");
    ke.images.reserve(refs);
    for (uint32_t r = 0; r < refs; ++r) ke.images.push_back(c.u32());
    std::string error;
    auto parsed = detail::parse_json(launch, &error);
    if (!parsed) {
      throw Exception(E::kLaunchContract,
                      "kernel " + std::to_string(k) + " launch contract is not JSON: " + error);
    }
    ke.launch = std::move(*parsed);
    m.kernels.push_back(std::move(ke));
  }
  if (c.remaining() != 0) {
    throw Exception(E::kKernelsTrailing,
                    std::to_string(c.remaining()) + " unexpected bytes after the kernels table");
  }
}

void read_weights(EngineModel& m, std::span<const uint8_t> wtab,
                  std::optional<std::span<const uint8_t>> wdat,
                  const std::shared_ptr<const void>& owner) {
  Cursor c(wtab, E::kWeightsTruncated, "weights table");
  const uint32_t count = c.u32();
  if (c.u32() != 0)
    throw Exception(E::kWeightReserved, "weights table header has non-zero reserved bits");
  c.require_records(count, 36, "weight entries");
  struct Placed {
    uint64_t offset, size;
    uint32_t index;
  };
  std::vector<Placed> placed;
  m.weights.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    WeightEntry w;
    w.name = std::string(c.string("weight name"));
    const std::string named = "weight '" + w.name + "'";
    const uint8_t dtype = c.u8();
    const uint8_t flags = c.u8();
    const uint16_t reserved = c.u16();
    const uint32_t rank = c.u32();
    if (dtype >= kDataTypeCount)
      throw Exception(E::kWeightDtype,
                      named + " has unknown data type code " + std::to_string(dtype));
    if ((flags & ~1u) != 0 || reserved != 0)
      throw Exception(E::kWeightReserved, named + " has non-zero reserved bits");
    if (rank > kMaxWeightRank) {
      throw Exception(E::kWeightShape, named + " has rank " + std::to_string(rank) + " (at most " +
                                           std::to_string(kMaxWeightRank) + ")");
    }
    w.dtype = static_cast<DataType>(dtype);
    w.streamable = (flags & 1u) != 0;
    w.shape.reserve(rank);
    uint64_t elements = 1;
    for (uint32_t d = 0; d < rank; ++d) {
      const int64_t dim = c.i64();
      w.shape.push_back(dim);
      if (dim < 0) throw Exception(E::kWeightShape, named + " has a negative dim");
      if (!detail::checked_mul(elements, static_cast<uint64_t>(dim), &elements) ||
          elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 8)) {
        throw Exception(E::kWeightShape, named + " has too many elements");
      }
    }
    const uint64_t offset = c.u64();
    const uint64_t byte_size = c.u64();
    w.fingerprint = c.u64();
    if (byte_size != w.byte_size()) {
      throw Exception(E::kWeightByteSize, named + " is " + std::to_string(byte_size) +
                                              " bytes, but " + std::string(to_string(w.dtype)) +
                                              shape_to_string(w.shape) + " needs " +
                                              std::to_string(w.byte_size()));
    }
    if (offset % kWeightAlignment != 0) {
      throw Exception(E::kWeightMisaligned, named + " offset " + std::to_string(offset) +
                                                " is not a multiple of " +
                                                std::to_string(kWeightAlignment));
    }
    if (wdat) {
      uint64_t end = 0;
      if (!checked_add(offset, byte_size, &end) || end > wdat->size()) {
        throw Exception(E::kWeightPastEnd,
                        named + " (offset " + std::to_string(offset) + ", " +
                            std::to_string(byte_size) +
                            " bytes) extends past the end of the weight data section (" +
                            std::to_string(wdat->size()) + " bytes)");
      }
      w.data = HostTensor::borrow(w.dtype, w.shape, wdat->data() + offset, owner);
    }
    if (byte_size > 0) placed.push_back({offset, byte_size, i});
    m.weights.push_back(std::move(w));
  }
  if (c.remaining() != 0) {
    throw Exception(E::kWeightsTrailing,
                    std::to_string(c.remaining()) + " unexpected bytes after the weights table");
  }
  std::sort(placed.begin(), placed.end(),
            [](const Placed& a, const Placed& b) { return a.offset < b.offset; });
  for (size_t i = 1; i < placed.size(); ++i) {
    uint64_t prev_end = 0;
    if (!checked_add(placed[i - 1].offset, placed[i - 1].size, &prev_end) ||
        placed[i].offset < prev_end) {
      throw Exception(E::kWeightOverlap, "weights '" + m.weights[placed[i - 1].index].name +
                                             "' and '" + m.weights[placed[i].index].name +
                                             "' overlap");
    }
  }
}

EngineModel read_impl(std::span<const uint8_t> file, const std::shared_ptr<const void>& owner) {
  const EngineHeader h = decode_header(file);
  if (file.size() < h.file_size) {
    throw Exception(E::kTruncated, "engine is truncated: " + std::to_string(file.size()) +
                                       " bytes of " + std::to_string(h.file_size));
  }
  if (file.size() > h.file_size) {
    throw Exception(E::kTrailingBytes, "engine has " + std::to_string(file.size() - h.file_size) +
                                           " bytes after its end (" + std::to_string(h.file_size) +
                                           " bytes)");
  }
  const auto sections = read_section_table(file, h);

  EngineModel m;
  m.library_version = h.library_version;
  m.refittable = h.has(EngineFlag::kREFITTABLE);
  m.weight_streaming = h.has(EngineFlag::kWEIGHT_STREAMING);
  m.weights_stripped = h.has(EngineFlag::kWEIGHTS_STRIPPED);
  m.min_driver_version = h.min_driver_version;
  m.min_runtime_version = h.min_runtime_version;
  m.device_memory_bytes = h.device_memory_bytes;

  const auto meta = section_bytes(file, sections.at(kTagMetadata));
  std::string error;
  auto metadata = detail::parse_json(
      std::string_view(reinterpret_cast<const char*>(meta.data()), meta.size()), &error);
  if (!metadata) throw Exception(E::kMetadataJson, "metadata is not valid JSON: " + error);
  m.metadata = std::move(*metadata);

  read_kernels(m, h.format_version, section_bytes(file, sections.at(kTagKernels)),
               section_bytes(file, sections.at(kTagKernelImages)), owner);
  std::optional<std::span<const uint8_t>> wdat;
  if (const auto it = sections.find(kTagWeightData); it != sections.end())
    wdat = section_bytes(file, it->second);
  read_weights(m, section_bytes(file, sections.at(kTagWeightsTable)), wdat, owner);

  detail::validate_model(m);

  constexpr uint32_t kKnownMaskBits = (1u << kCubinMaskTargets.size()) - 1;
  if ((h.cubin_cc_mask & kKnownMaskBits) != m.cubin_cc_mask() || h.min_ptx_cc != m.min_ptx_cc()) {
    throw Exception(E::kHeaderTargetsDisagree,
                    "header targets (cubin mask " + std::to_string(h.cubin_cc_mask) +
                        ", PTX from " + std::to_string(h.min_ptx_cc) +
                        ") disagree with the kernel images (cubin mask " +
                        std::to_string(m.cubin_cc_mask()) + ", PTX from " +
                        std::to_string(m.min_ptx_cc()) + ")");
  }
  if (h.streamable_weight_bytes != m.streamable_weight_bytes()) {
    throw Exception(E::kStreamableBytes, "header says " +
                                             std::to_string(h.streamable_weight_bytes) +
                                             " streamable weight bytes, the weights table " +
                                             std::to_string(m.streamable_weight_bytes()));
  }
  for (const WeightEntry& w : m.weights) {
    if (!w.data.valid()) continue;
    const auto bytes =
        std::span(reinterpret_cast<const uint8_t*>(w.data.data()), w.data.byte_size());
    if (xxh64(bytes) != w.fingerprint) {
      throw Exception(E::kWeightFingerprint,
                      "weight '" + w.name + "' data disagrees with its fingerprint");
    }
  }
  return m;
}

// Owner of a read-only file mapping.
struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  Mapping(void* a, size_t s) : addr(a), size(s) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (addr != nullptr) ::munmap(addr, size);
  }
};

}  // namespace

Expected<EngineModel> read_engine(std::span<const uint8_t> bytes,
                                  std::shared_ptr<const void> owner) {
  return rtx::detail::catch_errors(
      E::kInternal, [&]() -> Expected<EngineModel> { return read_impl(bytes, owner); });
}

Expected<EngineModel> read_engine(std::vector<uint8_t>&& bytes) {
  return rtx::detail::catch_errors(E::kInternal, [&]() -> Expected<EngineModel> {
    auto owned = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
    return read_impl(*owned, owned);
  });
}

Expected<EngineHeader> read_engine_header(std::span<const uint8_t> bytes) {
  return rtx::detail::catch_errors(
      E::kInternal, [&]() -> Expected<EngineHeader> { return decode_header(bytes); });
}

Expected<EngineModel> read_engine_file(const std::filesystem::path& path) {
  return rtx::detail::catch_errors(E::kInternal, [&]() -> Expected<EngineModel> {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return Error{E::kOpenFailed,
                   "cannot open engine '" + path.string() + "': " + std::strerror(errno)};
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0)
      return Error{E::kReadFailed, "cannot stat '" + path.string() + "': " + std::strerror(errno)};
    if (S_ISDIR(st.st_mode)) return Error{E::kReadFailed, "'" + path.string() + "' is a directory"};
    const auto size = static_cast<size_t>(st.st_size);
    if (S_ISREG(st.st_mode) && size > 0) {
      void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (addr != MAP_FAILED) {
        auto mapping = std::make_shared<const Mapping>(addr, size);
        const std::span<const uint8_t> bytes(static_cast<const uint8_t*>(addr), size);
        return read_impl(bytes, mapping);
      }
    }
    // Not mappable (a pipe, an empty file, a file system without mmap): read it.
    auto buffer = std::make_shared<std::vector<uint8_t>>();
    uint8_t chunk[1 << 16];
    for (;;) {
      const ssize_t k = ::read(fd, chunk, sizeof(chunk));
      if (k < 0) {
        if (errno == EINTR) continue;
        return Error{E::kReadFailed,
                     "cannot read '" + path.string() + "': " + std::strerror(errno)};
      }
      if (k == 0) break;
      buffer->insert(buffer->end(), chunk, chunk + k);
    }
    return read_impl(*buffer, buffer);
  });
}

}  // namespace rtx::serialization
