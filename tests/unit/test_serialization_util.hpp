// SPDX-License-Identifier: Apache-2.0
// Shared helpers of the serialization tests: a portable PRNG (the standard distributions differ
// between standard libraries, and golden files must not), deterministic and random engine models,
// field-by-field model comparison, and tools to patch an engine's bytes and fix its checksums so
// that a test breaks exactly one rule.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "serialization/byte_io.hpp"
#include "serialization/checksum.hpp"
#include "serialization/engine_model.hpp"
#include "serialization/reader.hpp"
#include "serialization/writer.hpp"

namespace rtx::serialization::testing {

/// SplitMix64: tiny, portable, deterministic.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n).
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool coin() { return (next() & 1) != 0; }
  void fill(uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(next() >> 56);
  }

 private:
  uint64_t s_;
};

/// A cubin-looking image: the ELF magic, then `size - 4` pseudo-random bytes.
inline Blob fake_cubin(Rng& rng, size_t size) {
  std::vector<uint8_t> b(std::max<size_t>(size, 4));
  rng.fill(b.data(), b.size());
  b[0] = 0x7F;
  b[1] = 'E';
  b[2] = 'L';
  b[3] = 'F';
  return Blob::own(std::move(b));
}

/// PTX-looking text of `size` bytes, NUL-terminated.
inline Blob fake_ptx(Rng& rng, size_t size) {
  std::vector<uint8_t> b(std::max<size_t>(size, 1));
  for (auto& c : b) c = static_cast<uint8_t>('a' + rng.below(26));
  b.back() = 0;
  return Blob::own(std::move(b));
}

/// A cubin-looking image that deflate shrinks (like a real cubin): the ELF magic, then words of
/// a four-letter alphabet.
inline Blob compressible_cubin(Rng& rng, size_t size) {
  std::vector<uint8_t> b(std::max<size_t>(size, 4));
  for (auto& c : b) c = static_cast<uint8_t>("ACGT"[rng.below(4)]);
  std::copy_n("\x7F" "ELF", 4, b.begin());
  return Blob::own(std::move(b));
}

/// Metadata with every required key.
inline nlohmann::json minimal_metadata() {
  return {
      {"rtx.version", "0.1.0"},
      {"network.inputs", {{{"name", "x"}, {"dtype", "f16"}, {"shape", {-1, 784}}}}},
      {"network.outputs", {{{"name", "y"}, {"dtype", "f16"}, {"shape", {-1, 10}}}}},
      {"profiles", {{{"x", {{"min", {1, 784}}, {"opt", {8, 784}}, {"max", {64, 784}}}}}}},
      {"plan", {{"steps", nlohmann::json::array()}}},
  };
}

inline HostTensor random_tensor(Rng& rng, DataType dtype, std::vector<int64_t> shape) {
  HostTensor t(dtype, std::move(shape));
  if (t.byte_size() > 0) rng.fill(reinterpret_cast<uint8_t*>(t.mutable_data()), t.byte_size());
  return t;
}

/// Adds a kernel covering every target (one image per (kind, cc)).
inline void add_kernel(EngineModel& m, const std::string& expr, const std::string& lowered,
                       uint32_t smem = 0) {
  KernelEntry k;
  k.name_expression = expr;
  k.lowered_name = lowered;
  k.launch = {{"grid", {"ceil_div(n, 256)", 1, 1}}, {"block", {256, 1, 1}}};
  k.dynamic_shared_memory_bytes = smem;
  for (uint32_t i = 0; i < m.images.size(); ++i) k.images.push_back(i);
  m.kernels.push_back(std::move(k));
}

/// The small engine of the corruption tests and the golden file: 2 cubins (sm_80, sm_90), PTX
/// (compute_75), 2 kernels, 4 weights (f32, f16, int4 with an odd count, an empty one), about
/// 2.5 KB. Fully deterministic.
inline EngineModel small_model() {
  Rng rng(20240501);
  EngineModel m;
  m.library_version = {0, 1, 0};
  m.refittable = true;
  m.min_driver_version = 12080;
  m.min_runtime_version = 12080;
  m.device_memory_bytes = 1 << 20;
  m.metadata = minimal_metadata();
  m.metadata["network.name"] = "mlp";
  m.images.push_back({ImageKind::kCUBIN, 80, false, fake_cubin(rng, 300)});
  m.images.push_back({ImageKind::kCUBIN, 90, false, fake_cubin(rng, 260)});
  m.images.push_back({ImageKind::kPTX, 75, false, fake_ptx(rng, 200)});
  add_kernel(m, "rtx::gemm<half, 128, 64>", "_ZN3rtx4gemmI6__halfLi128ELi64EEEvv", 16384);
  add_kernel(m, "rtx::pointwise<rtx::Relu>", "_ZN3rtx9pointwiseINS_4ReluEEEvv");
  const auto add = [&](std::string name, DataType dt, std::vector<int64_t> shape) {
    WeightEntry w;
    w.name = std::move(name);
    w.dtype = dt;
    w.shape = shape;
    w.data = random_tensor(rng, dt, shape);
    m.weights.push_back(std::move(w));
  };
  add("fc1.weight", DataType::kF32, {16, 8});
  add("fc1.bias", DataType::kF16, {16});
  add("fc2.weight_q", DataType::kINT4, {5, 3});
  add("empty", DataType::kF32, {0, 4});
  return m;
}

/// small_model() with compressible cubins stored as zlib streams (what format version 2 adds);
/// the PTX stays raw, so raw and compressed images mix.
inline EngineModel small_compressed_model() {
  EngineModel m = small_model();
  Rng rng(20261206);
  for (auto& img : m.images) {
    if (img.kind != ImageKind::kCUBIN) continue;
    img.bytes = compressible_cubin(rng, img.bytes.size() * 4);
    img.compress();
  }
  return m;
}

/// A random valid model; `seed` decides everything.
inline EngineModel random_model(uint64_t seed) {
  Rng rng(seed);
  EngineModel m;
  m.refittable = rng.coin();
  m.weight_streaming = rng.coin();
  m.min_driver_version = static_cast<uint32_t>(rng.below(14000));
  m.min_runtime_version = static_cast<uint32_t>(rng.below(14000));
  m.device_memory_bytes = rng.next() >> 20;
  m.metadata = minimal_metadata();
  for (uint64_t i = 0, n = rng.below(5); i < n; ++i) {
    const std::string key = "extra.key_" + std::to_string(rng.below(1000));
    switch (rng.below(5)) {
      case 0:
        m.metadata[key] = static_cast<int64_t>(rng.next());
        break;
      case 1:
        m.metadata[key] = static_cast<double>(rng.next() % 100000) / 7.0;
        break;
      case 2:
        m.metadata[key] = "caf\xC3\xA9 \xE2\x82\xAC " + std::to_string(rng.next());
        break;
      case 3:
        m.metadata[key] = {{"nested", {1, 2, {{"deep", true}}}}};
        break;
      default:
        m.metadata[key] = nullptr;
        break;
    }
  }
  static constexpr uint16_t kTargets[] = {75, 80, 86, 87, 89, 90, 100, 103, 120, 121, 130};
  for (uint16_t cc : kTargets) {
    if (rng.below(3) == 0)
      m.images.push_back(
          {ImageKind::kCUBIN, cc, cc == 90 && rng.coin(), fake_cubin(rng, 4 + rng.below(400))});
  }
  if (rng.coin())
    m.images.push_back({ImageKind::kPTX, static_cast<uint16_t>(rng.coin() ? 75 : 80), false,
                        fake_ptx(rng, 1 + rng.below(300))});
  for (auto& img : m.images) {
    if (img.kind == ImageKind::kCUBIN && rng.coin()) {
      img.bytes = compressible_cubin(rng, 4 + rng.below(2000));
      img.compress();
    }
  }
  if (!m.images.empty()) {
    for (uint64_t k = 0, n = 1 + rng.below(5); k < n; ++k) {
      add_kernel(m, "rtx::kernel<" + std::to_string(k) + ">",
                 "_Z6kernelILi" + std::to_string(k) + "EEvv",
                 static_cast<uint32_t>(rng.below(100000)));
    }
  }
  for (uint64_t i = 0, n = rng.below(12); i < n; ++i) {
    WeightEntry w;
    w.name = "layer" + std::to_string(i) +
             (rng.coin() ? ".weight"
                         : ".b\xC3\xAF"
                           "as");
    w.dtype = static_cast<DataType>(rng.below(kDataTypeCount));
    for (uint64_t r = 0, rank = rng.below(5); r < rank; ++r)
      w.shape.push_back(static_cast<int64_t>(rng.below(9)));
    w.streamable = m.weight_streaming && rng.coin();
    w.data = random_tensor(rng, w.dtype, w.shape);
    m.weights.push_back(std::move(w));
  }
  return m;
}

inline std::span<const uint8_t> bytes_of(const HostTensor& t) {
  return {reinterpret_cast<const uint8_t*>(t.data()), t.byte_size()};
}

inline bool same_bytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

/// Field-by-field equality (weights' data only where both have it).
inline void check_same_model(const EngineModel& a, const EngineModel& b) {
  CHECK(a.library_version == b.library_version);
  CHECK(a.refittable == b.refittable);
  CHECK(a.weight_streaming == b.weight_streaming);
  CHECK(a.min_driver_version == b.min_driver_version);
  CHECK(a.min_runtime_version == b.min_runtime_version);
  CHECK(a.device_memory_bytes == b.device_memory_bytes);
  CHECK(a.metadata == b.metadata);
  REQUIRE(a.images.size() == b.images.size());
  for (size_t i = 0; i < a.images.size(); ++i) {
    CHECK(a.images[i].kind == b.images[i].kind);
    CHECK(a.images[i].cc == b.images[i].cc);
    CHECK(a.images[i].arch_specific == b.images[i].arch_specific);
    CHECK(a.images[i].raw_size == b.images[i].raw_size);
    CHECK(same_bytes(a.images[i].bytes.bytes(), b.images[i].bytes.bytes()));
  }
  REQUIRE(a.kernels.size() == b.kernels.size());
  for (size_t i = 0; i < a.kernels.size(); ++i) {
    CHECK(a.kernels[i].name_expression == b.kernels[i].name_expression);
    CHECK(a.kernels[i].lowered_name == b.kernels[i].lowered_name);
    CHECK(a.kernels[i].launch == b.kernels[i].launch);
    CHECK(a.kernels[i].dynamic_shared_memory_bytes == b.kernels[i].dynamic_shared_memory_bytes);
    CHECK(a.kernels[i].images == b.kernels[i].images);
  }
  REQUIRE(a.weights.size() == b.weights.size());
  for (size_t i = 0; i < a.weights.size(); ++i) {
    CHECK(a.weights[i].name == b.weights[i].name);
    CHECK(a.weights[i].dtype == b.weights[i].dtype);
    CHECK(a.weights[i].shape == b.weights[i].shape);
    CHECK(a.weights[i].streamable == b.weights[i].streamable);
    if (a.weights[i].data.valid() && b.weights[i].data.valid()) {
      CHECK(same_bytes(bytes_of(a.weights[i].data), bytes_of(b.weights[i].data)));
    }
  }
}

// ---- byte surgery -------------------------------------------------------------------------------

struct SectionLoc {
  uint32_t tag = 0;
  uint64_t entry_offset = 0;  // of the table entry
  uint64_t offset = 0;
  uint64_t size = 0;
};

inline uint32_t section_count(const std::vector<uint8_t>& f) {
  return static_cast<uint32_t>(detail::load_le(&f[28], 4));
}

inline std::vector<SectionLoc> sections_of(const std::vector<uint8_t>& f) {
  std::vector<SectionLoc> out;
  for (uint32_t i = 0; i < section_count(f); ++i) {
    const uint64_t e = kHeaderSize + kSectionEntrySize * i;
    out.push_back({static_cast<uint32_t>(detail::load_le(&f[e], 4)), e,
                   detail::load_le(&f[e + 8], 8), detail::load_le(&f[e + 16], 8)});
  }
  return out;
}

inline SectionLoc find_section(const std::vector<uint8_t>& f, uint32_t tag) {
  for (const auto& s : sections_of(f)) {
    if (s.tag == tag) return s;
  }
  FAIL("no section " << tag_name(tag));
  return {};
}

inline void put(std::vector<uint8_t>& f, uint64_t at, uint64_t v, int bytes) {
  detail::store_le(&f[at], v, bytes);
}

inline void fix_header_crc(std::vector<uint8_t>& f) {
  put(f, 60, crc32c(std::span<const uint8_t>(f.data(), 60)), 4);
}
inline void fix_table_crc(std::vector<uint8_t>& f) {
  put(f, 56,
      crc32c(
          std::span<const uint8_t>(f.data() + kHeaderSize, kSectionEntrySize * section_count(f))),
      4);
  fix_header_crc(f);
}
inline void fix_section_crcs(std::vector<uint8_t>& f) {
  for (const auto& s : sections_of(f)) {
    put(f, s.entry_offset + 24, crc32c(std::span<const uint8_t>(f.data() + s.offset, s.size)), 4);
  }
  fix_table_crc(f);
}

/// The header fields of `f` (which must have a valid header).
inline EngineHeader header_of(const std::vector<uint8_t>& f) {
  return read_engine_header(f).value();
}

/// Re-assembles `f` with section `tag` replaced by `bytes` (all checksums recomputed).
inline std::vector<uint8_t> replace_section(const std::vector<uint8_t>& f, uint32_t tag,
                                            std::vector<uint8_t> bytes) {
  std::vector<RawSection> raw;
  for (const auto& s : sections_of(f)) {
    RawSection r;
    r.tag = s.tag;
    r.alignment = s.tag == kTagWeightData ? kWeightAlignment : kSectionAlignment;
    r.bytes = s.tag == tag
                  ? bytes
                  : std::vector<uint8_t>(f.begin() + static_cast<ptrdiff_t>(s.offset),
                                         f.begin() + static_cast<ptrdiff_t>(s.offset + s.size));
    raw.push_back(std::move(r));
  }
  return assemble_engine(header_of(f), raw);
}

/// Bytes of section `tag`.
inline std::vector<uint8_t> section_copy(const std::vector<uint8_t>& f, uint32_t tag) {
  const auto s = find_section(f, tag);
  return {f.begin() + static_cast<ptrdiff_t>(s.offset),
          f.begin() + static_cast<ptrdiff_t>(s.offset + s.size)};
}

/// Offset (inside WTAB) of weight entry `index`'s fields after its name: dtype at +0, flags +1,
/// reserved +2, rank +4, dims +8, then offset, byte_size, fingerprint.
inline uint64_t weight_fields_at(const std::vector<uint8_t>& wtab, uint32_t index) {
  uint64_t p = 8;
  for (uint32_t i = 0;; ++i) {
    const uint64_t name_len = detail::load_le(&wtab[p], 4);
    const uint64_t fields = p + 4 + name_len;
    if (i == index) return fields;
    const uint64_t rank = detail::load_le(&wtab[fields + 4], 4);
    p = fields + 8 + 8 * rank + 24;
  }
}

}  // namespace rtx::serialization::testing
