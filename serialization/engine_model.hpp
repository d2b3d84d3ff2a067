// SPDX-License-Identifier: Apache-2.0
// The in-memory form of an engine file (format version 1, see FORMAT.md): header facts, JSON
// metadata, kernels with their launch contracts and per-target images, and the weights table.
// The writer turns an EngineModel into bytes, the reader turns verified bytes back into one, and
// the refitter fills in the weights of a stripped one. Fields the header derives from the body
// (compute-capability mask, PTX minimum, streamable bytes) are computed, never stored twice, so a
// model cannot disagree with itself.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtx/config.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/types.hpp"

namespace rtx::serialization {

/// The newest format version this library reads and writes. The writer writes the oldest
/// version that can hold a model (1 unless an image is compressed), so engines without
/// compressed images stay readable by version-1 readers.
inline constexpr uint16_t kFormatVersion = 2;
/// The oldest format version this library reads.
inline constexpr uint16_t kOldestFormatVersion = 1;
/// Size of the fixed header, in every format version.
inline constexpr uint64_t kHeaderSize = 64;
/// Size of one section-table entry.
inline constexpr uint64_t kSectionEntrySize = 32;
/// Alignment of every section's file offset.
inline constexpr uint64_t kSectionAlignment = 64;
/// Alignment of the weight data section and of every weight inside it (file offsets).
inline constexpr uint64_t kWeightAlignment = 256;
/// Alignment of every image inside the kernel-images section.
inline constexpr uint64_t kImageAlignment = 64;
/// Largest tensor rank the weights table accepts.
inline constexpr uint32_t kMaxWeightRank = 32;
/// Deepest JSON nesting accepted in metadata and launch contracts.
inline constexpr int kMaxJsonDepth = 64;

/// Section tags: four ASCII characters read as a little-endian uint32 (readable in a hex dump).
constexpr uint32_t section_tag(const char (&s)[5]) {
  return uint32_t(uint8_t(s[0])) | uint32_t(uint8_t(s[1])) << 8 | uint32_t(uint8_t(s[2])) << 16 |
         uint32_t(uint8_t(s[3])) << 24;
}
inline constexpr uint32_t kTagMetadata = section_tag("META");
inline constexpr uint32_t kTagKernels = section_tag("KERN");
inline constexpr uint32_t kTagKernelImages = section_tag("KIMG");
inline constexpr uint32_t kTagWeightsTable = section_tag("WTAB");
inline constexpr uint32_t kTagWeightData = section_tag("WDAT");
/// "META" for messages; non-printable bytes as '?'.
std::string tag_name(uint32_t tag);

/// Header flag bits (uint16 at header offset 10).
enum class EngineFlag : uint16_t {
  kWEIGHTS_STRIPPED = 1u << 0,  ///< no weight data section; refit before running
  kREFITTABLE = 1u << 1,        ///< kernels take weights as inputs: any values may be refit
  kWEIGHT_STREAMING = 1u << 2,  ///< weights may stay in host memory and stream in
  kPTX_PRESENT = 1u << 3,       ///< PTX images exist (min PTX compute capability is set)
};
inline constexpr uint16_t kKnownFlagBits = 0x000F;

/// Compute capabilities (10*major + minor) with a bit in the header's cubin mask, bit i for entry
/// i. Append-only: a new GPU generation takes the next bit; readers ignore bits they do not know.
inline constexpr std::array<uint16_t, 12> kCubinMaskTargets = {75, 80,  86,  87,  88,  89,
                                                               90, 100, 103, 110, 120, 121};
/// The mask bit of `cc`, or -1 when `cc` has none (yet).
constexpr int cubin_mask_bit(uint32_t cc) {
  for (size_t i = 0; i < kCubinMaskTargets.size(); ++i) {
    if (kCubinMaskTargets[i] == cc) return static_cast<int>(i);
  }
  return -1;
}

/// Library version that wrote an engine (header bytes 12..14).
struct LibraryVersion {
  uint8_t major = RTX_VERSION_MAJOR;
  uint8_t minor = RTX_VERSION_MINOR;
  uint8_t patch = RTX_VERSION_PATCH;
  auto operator<=>(const LibraryVersion&) const = default;
  std::string to_string() const;
};

/// Bytes with shared ownership: owned by the blob, or borrowed from a buffer (an engine file's
/// memory mapping) that `owner` keeps alive. Copies share the bytes.
class Blob {
 public:
  Blob() = default;
  static Blob copy(std::span<const uint8_t> bytes);
  static Blob own(std::vector<uint8_t> bytes);
  static Blob borrow(std::span<const uint8_t> bytes, std::shared_ptr<const void> owner);
  std::span<const uint8_t> bytes() const { return bytes_; }
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }

 private:
  std::shared_ptr<const void> owner_;
  std::span<const uint8_t> bytes_;
};

/// What an image holds.
enum class ImageKind : uint8_t {
  kCUBIN = 1,  ///< an ELF cubin for exactly one compute capability
  kPTX = 2,    ///< NUL-terminated PTX text, JIT-compiled by the driver on `cc` and newer
};

/// One compiled module: all kernels of an engine for one target, as NVRTC produced them.
struct KernelImage {
  ImageKind kind = ImageKind::kCUBIN;
  uint16_t cc = 0;             ///< 10*major + minor: 90 is sm_90 (cubin) or compute_90 (PTX)
  bool arch_specific = false;  ///< the "a" targets (sm_90a): only run on exactly `cc`
  /// The bytes as stored in the file: the image itself, or its zlib stream when raw_size != 0.
  Blob bytes;
  /// Size of the image after inflating `bytes` (format version 2); 0: `bytes` is not compressed.
  uint32_t raw_size = 0;
  bool compressed() const { return raw_size != 0; }
  /// The image itself (inflated when compressed). Throws rtx::Exception on a corrupt stream,
  /// which the reader has already ruled out for every image it returns.
  Blob contents() const;
  /// Stores the image as a zlib stream when that is smaller; no-op when already compressed.
  void compress();
  /// "sm_90a", "compute_75".
  std::string target_name() const;
};

/// One kernel entry point and how to launch it.
struct KernelEntry {
  std::string name_expression;  ///< NVRTC name expression, e.g. "rtx::gemm<half, 128, 64>"
  std::string lowered_name;     ///< mangled name for cuModuleGetFunction
  /// Launch contract: a JSON object with at least "grid" and "block" (the rule language is the
  /// builder's; the format stores it verbatim and checks only its shape).
  nlohmann::json launch = nlohmann::json::object();
  uint32_t dynamic_shared_memory_bytes = 0;
  /// Indices into EngineModel::images of the modules holding this kernel: exactly one per
  /// target of the engine (see FORMAT.md "Target coverage").
  std::vector<uint32_t> images;
};

/// One named weight. In a stripped engine `data` is empty (`!data.valid()`); name, dtype, shape
/// and fingerprint are always present.
struct WeightEntry {
  std::string name;
  DataType dtype = DataType::kF32;
  std::vector<int64_t> shape;
  bool streamable = false;  ///< may stay in host memory under weight streaming
  /// XXH64 (seed 0) of the weight's bytes as built. The writer recomputes it from `data` when
  /// data is present; a stripped engine carries the builder's value.
  uint64_t fingerprint = 0;
  HostTensor data;
  /// Bytes of the weight (from dtype and shape; independent of `data`).
  uint64_t byte_size() const;
};

/// Everything an engine file holds.
struct EngineModel {
  LibraryVersion library_version;  ///< the writing library; the current one by default
  bool refittable = false;
  bool weight_streaming = false;
  /// Set by the reader when the file had no weight data. The writer ignores it: WriteOptions
  /// decides whether weights are written.
  bool weights_stripped = false;
  uint32_t min_driver_version = 0;   ///< CUDA version encoding: 1000*major + 10*minor (12080)
  uint32_t min_runtime_version = 0;  ///< same encoding
  uint64_t device_memory_bytes = 0;  ///< weights + activations at the largest profile shape
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<KernelImage> images;
  std::vector<KernelEntry> kernels;
  std::vector<WeightEntry> weights;

  /// Header cubin mask: a bit (kCubinMaskTargets) per compute capability with a cubin.
  uint32_t cubin_cc_mask() const;
  /// Smallest compute capability of a PTX image, 0 when there is none.
  uint16_t min_ptx_cc() const;
  /// Sum of byte_size() of the streamable weights.
  uint64_t streamable_weight_bytes() const;
  /// True when every weight has data.
  bool has_all_weight_data() const;
  /// The format version the writer uses: 2 when an image is compressed, else 1.
  uint16_t format_version() const;
  const WeightEntry* find_weight(std::string_view name) const;
};

/// The decoded 64-byte header (FORMAT.md "Header").
struct EngineHeader {
  uint16_t format_version = kFormatVersion;
  LibraryVersion library_version;
  uint16_t flags = 0;
  uint8_t min_ptx_cc = 0;
  uint32_t cubin_cc_mask = 0;
  uint32_t min_driver_version = 0;
  uint32_t min_runtime_version = 0;
  uint32_t section_count = 0;
  uint64_t device_memory_bytes = 0;
  uint64_t streamable_weight_bytes = 0;
  uint64_t file_size = 0;
  uint32_t section_table_crc = 0;

  bool has(EngineFlag f) const { return (flags & static_cast<uint16_t>(f)) != 0; }
};

/// The header's 64 bytes; the header checksum is computed here.
std::array<uint8_t, kHeaderSize> encode_header(const EngineHeader& header);

/// Decodes and checks the first 64 bytes alone (ids 101-107 and 110): magic, checksum, byte
/// order, format version, header size, reserved flags, PTX fields. Does not compare file_size
/// with anything. Throws rtx::Exception.
EngineHeader decode_header(std::span<const uint8_t> bytes);

}  // namespace rtx::serialization
