// SPDX-License-Identifier: Apache-2.0
// EngineModel helpers and the 64-byte header codec (FORMAT.md "Header"). The header is encoded
// field by field in little-endian order, never by copying a struct, so the bytes do not depend on
// the compiler's padding or the host's byte order.
#include "serialization/engine_model.hpp"

#include <algorithm>

#include "rtx/error.hpp"
#include "serialization/byte_io.hpp"
#include "serialization/checksum.hpp"
#include "serialization/errors.hpp"
#include "serialization/image_compression.hpp"

namespace rtx::serialization {

namespace {
constexpr uint8_t kMagic[4] = {'R', 'T', 'X', 'E'};
constexpr uint16_t kByteOrderMark = 0xFEFF;

std::string hex32(uint32_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "0x";
  for (int i = 7; i >= 0; --i) s += kHex[(v >> (4 * i)) & 0xF];
  return s;
}
}  // namespace

std::string tag_name(uint32_t tag) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((tag >> (8 * i)) & 0xFF);
    s += (c >= 0x20 && c < 0x7F) ? c : '?';
  }
  return s;
}

std::string LibraryVersion::to_string() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

Blob Blob::copy(std::span<const uint8_t> bytes) {
  return own(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

Blob Blob::own(std::vector<uint8_t> bytes) {
  auto holder = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  Blob b;
  b.bytes_ = std::span<const uint8_t>(holder->data(), holder->size());
  b.owner_ = std::move(holder);
  return b;
}

Blob Blob::borrow(std::span<const uint8_t> bytes, std::shared_ptr<const void> owner) {
  Blob b;
  b.bytes_ = bytes;
  b.owner_ = std::move(owner);
  return b;
}

Blob KernelImage::contents() const {
  if (!compressed()) return bytes;
  return Blob::own(detail::inflate_image(bytes.bytes(), raw_size, "kernel image " + target_name()));
}

void KernelImage::compress() {
  if (compressed() || bytes.size() > UINT32_MAX) return;
  std::vector<uint8_t> stored = detail::deflate_image(bytes.bytes());
  if (stored.size() >= bytes.size()) return;
  raw_size = static_cast<uint32_t>(bytes.size());
  bytes = Blob::own(std::move(stored));
}

uint16_t EngineModel::format_version() const {
  for (const auto& img : images) {
    if (img.compressed()) return 2;
  }
  return 1;
}

std::string KernelImage::target_name() const {
  return (kind == ImageKind::kPTX ? "compute_" : "sm_") + std::to_string(cc) +
         (arch_specific ? "a" : "");
}

uint64_t WeightEntry::byte_size() const {
  uint64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || !detail::checked_mul(count, static_cast<uint64_t>(d), &count)) return UINT64_MAX;
  }
  if (count > UINT64_MAX / 64) return UINT64_MAX;
  return storage_bytes(dtype, count);
}

uint32_t EngineModel::cubin_cc_mask() const {
  uint32_t mask = 0;
  for (const auto& image : images) {
    const int bit = cubin_mask_bit(image.cc);
    if (image.kind == ImageKind::kCUBIN && bit >= 0) mask |= 1u << bit;
  }
  return mask;
}

uint16_t EngineModel::min_ptx_cc() const {
  uint16_t cc = 0;
  for (const auto& image : images) {
    if (image.kind == ImageKind::kPTX && (cc == 0 || image.cc < cc)) cc = image.cc;
  }
  return cc;
}

uint64_t EngineModel::streamable_weight_bytes() const {
  uint64_t total = 0;
  for (const auto& w : weights) {
    if (w.streamable) total += w.byte_size();
  }
  return total;
}

bool EngineModel::has_all_weight_data() const {
  return std::all_of(weights.begin(), weights.end(),
                     [](const WeightEntry& w) { return w.data.valid(); });
}

const WeightEntry* EngineModel::find_weight(std::string_view name) const {
  for (const auto& w : weights) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

std::array<uint8_t, kHeaderSize> encode_header(const EngineHeader& h) {
  using detail::store_le;
  std::array<uint8_t, kHeaderSize> b{};
  std::copy(std::begin(kMagic), std::end(kMagic), b.begin());
  store_le(&b[4], kByteOrderMark, 2);
  store_le(&b[6], h.format_version, 2);
  store_le(&b[8], kHeaderSize, 2);
  store_le(&b[10], h.flags, 2);
  b[12] = h.library_version.major;
  b[13] = h.library_version.minor;
  b[14] = h.library_version.patch;
  b[15] = h.min_ptx_cc;
  store_le(&b[16], h.cubin_cc_mask, 4);
  store_le(&b[20], h.min_driver_version, 4);
  store_le(&b[24], h.min_runtime_version, 4);
  store_le(&b[28], h.section_count, 4);
  store_le(&b[32], h.device_memory_bytes, 8);
  store_le(&b[40], h.streamable_weight_bytes, 8);
  store_le(&b[48], h.file_size, 8);
  store_le(&b[56], h.section_table_crc, 4);
  store_le(&b[60], crc32c(std::span<const uint8_t>(b.data(), 60)), 4);
  return b;
}

EngineHeader decode_header(std::span<const uint8_t> bytes) {
  using detail::load_le;
  namespace E = errors;
  if (bytes.size() < kHeaderSize) {
    throw Exception(E::kTooShort, "engine is " + std::to_string(bytes.size()) +
                                      " bytes, shorter than the 64-byte header");
  }
  const uint8_t* b = bytes.data();
  if (!std::equal(std::begin(kMagic), std::end(kMagic), b)) {
    throw Exception(E::kBadMagic, "not an rtx engine: the file does not start with \"RTXE\"");
  }
  const auto bom = static_cast<uint16_t>(load_le(b + 4, 2));
  if (bom != kByteOrderMark) {
    throw Exception(E::kByteOrder,
                    "byte order mark is " + hex32(bom) +
                        ", not 0x0000feff: the engine was not written little-endian");
  }
  const auto stored_crc = static_cast<uint32_t>(load_le(b + 60, 4));
  const uint32_t crc = crc32c(bytes.first(60));
  if (stored_crc != crc) {
    throw Exception(E::kHeaderChecksum, "header checksum mismatch (stored " + hex32(stored_crc) +
                                            ", computed " + hex32(crc) +
                                            "): the header is corrupt");
  }
  EngineHeader h;
  h.format_version = static_cast<uint16_t>(load_le(b + 6, 2));
  if (h.format_version < kOldestFormatVersion || h.format_version > kFormatVersion) {
    throw Exception(E::kFormatVersion, "engine format version " + std::to_string(h.format_version) +
                                           " is not supported by this library (it reads versions " +
                                           std::to_string(kOldestFormatVersion) + " to " +
                                           std::to_string(kFormatVersion) + "); rebuild the engine");
  }
  const auto header_size = load_le(b + 8, 2);
  if (header_size != kHeaderSize) {
    throw Exception(E::kHeaderSize, "header size field is " + std::to_string(header_size) +
                                        ", every format version requires 64");
  }
  h.flags = static_cast<uint16_t>(load_le(b + 10, 2));
  if ((h.flags & ~kKnownFlagBits) != 0) {
    throw Exception(E::kReservedFlags,
                    "reserved header flag bits are set (flags " + hex32(h.flags) + ")");
  }
  h.library_version = {b[12], b[13], b[14]};
  h.min_ptx_cc = b[15];
  h.cubin_cc_mask = static_cast<uint32_t>(load_le(b + 16, 4));
  h.min_driver_version = static_cast<uint32_t>(load_le(b + 20, 4));
  h.min_runtime_version = static_cast<uint32_t>(load_le(b + 24, 4));
  h.section_count = static_cast<uint32_t>(load_le(b + 28, 4));
  h.device_memory_bytes = load_le(b + 32, 8);
  h.streamable_weight_bytes = load_le(b + 40, 8);
  h.file_size = load_le(b + 48, 8);
  h.section_table_crc = static_cast<uint32_t>(load_le(b + 56, 4));
  if (h.has(EngineFlag::kPTX_PRESENT) != (h.min_ptx_cc != 0)) {
    throw Exception(
        E::kPtxFieldsDisagree,
        "header PTX flag is " + std::string(h.has(EngineFlag::kPTX_PRESENT) ? "set" : "clear") +
            " but the minimum PTX compute capability is " + std::to_string(h.min_ptx_cc));
  }
  return h;
}

namespace detail {

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace detail

}  // namespace rtx::serialization
