// SPDX-License-Identifier: Apache-2.0
// Engine format: checksums against published test vectors, the header's exact byte layout, random
// round trips (memory and file), determinism, atomic file writes, and the golden engines of
// format version 1 (tests/golden; regenerate only with RTX_UPDATE_GOLDEN=1).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "serialization/errors.hpp"
#include "test_serialization_util.hpp"

namespace fs = std::filesystem;
using namespace rtx;
using namespace rtx::serialization;
using namespace rtx::serialization::testing;
namespace E = rtx::serialization::errors;

namespace {

std::span<const uint8_t> text(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("rtx_ser_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("crc32c matches the RFC 3720 and common test vectors") {
  CHECK(crc32c(text("123456789")) == 0xE3069283u);
  CHECK(crc32c(text("")) == 0u);
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<uint8_t>(i);
    dec[i] = static_cast<uint8_t>(31 - i);
  }
  CHECK(crc32c(zeros) == 0x8A9136AAu);
  CHECK(crc32c(ones) == 0x62A8AB43u);
  CHECK(crc32c(inc) == 0x46DD794Eu);
  CHECK(crc32c(dec) == 0x113FDB5Cu);
  CHECK(crc32c_portable(text("123456789")) == 0xE3069283u);
}

TEST_CASE("crc32c: hardware and table paths agree; chaining and zero runs") {
  Rng rng(7);
  std::vector<uint8_t> buf(5000);
  rng.fill(buf.data(), buf.size());
  for (size_t start : {0, 1, 3, 7}) {
    for (size_t len : {0, 1, 7, 8, 9, 63, 64, 1000, 4993}) {
      const std::span<const uint8_t> s(buf.data() + start, len);
      CHECK(crc32c(s) == crc32c_portable(s));
      const size_t half = len / 3;
      CHECK(crc32c(s.subspan(half), crc32c(s.first(half))) == crc32c(s));
    }
  }
  std::vector<uint8_t> z(10000, 0);
  CHECK(crc32c_zeros(10000, 0x1234u) == crc32c(z, 0x1234u));
  CHECK(crc32c_zeros(0, 0x1234u) == 0x1234u);
}

TEST_CASE("xxh64 matches the reference implementation's vectors") {
  CHECK(xxh64(text("")) == 0xEF46DB3751D8E999ull);
  CHECK(xxh64(text("a")) == 0xD24EC4F1A98C6E5Bull);
  CHECK(xxh64(text("abc")) == 0x44BC2CF5AD770999ull);
  CHECK(xxh64(text("1234")) == 0xD8316E61D84F6BA4ull);
  CHECK(xxh64(text("12345678")) == 0xD2D02F08CF7CFD4Aull);
  CHECK(xxh64(text("123456789012345")) == 0xC377D78ADE001A3Cull);
  CHECK(xxh64(text("1234567890123456789012345678901")) == 0x8F367CB873A5376Eull);
  CHECK(xxh64(text("12345678901234567890123456789012")) == 0x40FD1AA52D98274Cull);
  CHECK(xxh64(text("The quick brown fox jumps over the lazy dog")) == 0x0B242D361FDA71BCull);
  CHECK(xxh64(text(""), 5381) == 0xAF382146D5C3CACFull);
  CHECK(xxh64(text("abc"), 5381) == 0x19D1C1B5C673451Full);
  CHECK(xxh64(text("12345678901234567890123456789012"), 5381) == 0x38EA26E7C55F8095ull);
}

TEST_CASE("header: every field at the offset FORMAT.md gives, little-endian") {
  EngineHeader h;
  h.library_version = {1, 2, 3};
  h.flags = 0x000B;
  h.min_ptx_cc = 75;
  h.cubin_cc_mask = 0x00000A42u;
  h.min_driver_version = 12080;
  h.min_runtime_version = 13000;
  h.section_count = 5;
  h.device_memory_bytes = 0x0102030405060708ull;
  h.streamable_weight_bytes = 0x1112131415161718ull;
  h.file_size = 0x2122232425262728ull;
  h.section_table_crc = 0xA1B2C3D4u;
  const auto b = encode_header(h);
  const std::vector<uint8_t> v(b.begin(), b.end());
  CHECK(std::string(v.begin(), v.begin() + 4) == "RTXE");
  CHECK(v[4] == 0xFF);
  CHECK(v[5] == 0xFE);
  CHECK(serialization::detail::load_le(&v[6], 2) == serialization::kFormatVersion);
  CHECK(serialization::detail::load_le(&v[8], 2) == 64);
  CHECK(serialization::detail::load_le(&v[10], 2) == 0x000B);
  CHECK(v[12] == 1);
  CHECK(v[13] == 2);
  CHECK(v[14] == 3);
  CHECK(v[15] == 75);
  CHECK(serialization::detail::load_le(&v[16], 4) == 0x00000A42u);
  CHECK(serialization::detail::load_le(&v[20], 4) == 12080);
  CHECK(serialization::detail::load_le(&v[24], 4) == 13000);
  CHECK(serialization::detail::load_le(&v[28], 4) == 5);
  CHECK(v[32] == 0x08);  // least significant byte first
  CHECK(serialization::detail::load_le(&v[32], 8) == 0x0102030405060708ull);
  CHECK(serialization::detail::load_le(&v[40], 8) == 0x1112131415161718ull);
  CHECK(serialization::detail::load_le(&v[48], 8) == 0x2122232425262728ull);
  CHECK(serialization::detail::load_le(&v[56], 4) == 0xA1B2C3D4u);
  CHECK(serialization::detail::load_le(&v[60], 4) ==
        crc32c(std::span<const uint8_t>(v.data(), 60)));
  const auto back = read_engine_header(v);
  REQUIRE(back.has_value());
  CHECK(back->library_version == LibraryVersion{1, 2, 3});
  CHECK(back->flags == 0x000B);
  CHECK(back->min_ptx_cc == 75);
  CHECK(back->cubin_cc_mask == 0x00000A42u);
  CHECK(back->device_memory_bytes == 0x0102030405060708ull);
  CHECK(back->file_size == 0x2122232425262728ull);
}

TEST_CASE("cubin mask bits follow the FORMAT.md table") {
  CHECK(cubin_mask_bit(75) == 0);
  CHECK(cubin_mask_bit(80) == 1);
  CHECK(cubin_mask_bit(86) == 2);
  CHECK(cubin_mask_bit(89) == 5);
  CHECK(cubin_mask_bit(90) == 6);
  CHECK(cubin_mask_bit(100) == 7);
  CHECK(cubin_mask_bit(120) == 10);
  CHECK(cubin_mask_bit(121) == 11);
  CHECK(cubin_mask_bit(70) == -1);
  CHECK(cubin_mask_bit(130) == -1);
  const EngineModel m = small_model();
  CHECK(m.cubin_cc_mask() == ((1u << 1) | (1u << 6)));
  CHECK(m.min_ptx_cc() == 75);
}

TEST_CASE("small engine: layout as specified") {
  const EngineModel m = small_model();
  const auto bytes = write_engine(m).value();
  const EngineHeader h = header_of(bytes);
  CHECK(h.file_size == bytes.size());
  CHECK(h.section_count == 5);
  CHECK(h.flags == (uint16_t(EngineFlag::kREFITTABLE) | uint16_t(EngineFlag::kPTX_PRESENT)));
  const auto secs = sections_of(bytes);
  REQUIRE(secs.size() == 5);
  CHECK(tag_name(secs[0].tag) == "META");
  CHECK(tag_name(secs[1].tag) == "KERN");
  CHECK(tag_name(secs[2].tag) == "WTAB");
  CHECK(tag_name(secs[3].tag) == "KIMG");
  CHECK(tag_name(secs[4].tag) == "WDAT");
  CHECK(secs[0].offset == 256);  // 64 + 5 * 32 = 224, aligned up to 64
  for (const auto& s : secs) CHECK(s.offset % 64 == 0);
  CHECK(secs[4].offset % 256 == 0);
  // Weight data: fc1.weight (512 B) at 0, fc1.bias (32 B) at 512, fc2.weight_q (8 B) at 768,
  // empty at 1024 (zero bytes).
  CHECK(secs[4].size == 1024);
  // META is the compact, key-sorted JSON of the metadata.
  const auto meta = section_copy(bytes, kTagMetadata);
  CHECK(std::string(meta.begin(), meta.end()) == m.metadata.dump());
  CHECK(bytes.size() < 4096);
}

TEST_CASE("round trip: the small engine, from memory and from a file") {
  const EngineModel m = small_model();
  const auto bytes = write_engine(m).value();
  const auto back = read_engine(bytes);
  REQUIRE_MESSAGE(back.has_value(), back.error().to_string());
  check_same_model(m, *back);
  CHECK_FALSE(back->weights_stripped);
  for (size_t i = 0; i < m.weights.size(); ++i)
    CHECK(back->weights[i].fingerprint == xxh64(bytes_of(m.weights[i].data)));
  // Borrowed, not copied: weights point into the input buffer, 256-byte aligned relative to it.
  const auto wdat = find_section(bytes, kTagWeightData);
  CHECK(reinterpret_cast<const uint8_t*>(back->weights[0].data.data()) ==
        bytes.data() + wdat.offset);
  CHECK(back->weights[0].data.is_borrowed());
  CHECK(reinterpret_cast<const uint8_t*>(back->weights[1].data.data()) ==
        bytes.data() + wdat.offset + 512);
  CHECK(write_engine(*back).value() == bytes);

  const fs::path dir = temp_dir("roundtrip");
  const fs::path path = dir / "small.rtxe";
  REQUIRE(write_engine_file(path, m).has_value());
  CHECK(read_file(path) == bytes);
  // Overwriting goes through a new temporary too; nothing is left behind.
  REQUIRE(write_engine_file(path, m).has_value());
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  auto from_file = read_engine_file(path);
  REQUIRE_MESSAGE(from_file.has_value(), from_file.error().to_string());
  check_same_model(m, *from_file);
  // The mapping stays alive as long as a weight does, even after the model and file are gone.
  HostTensor kept = from_file->weights[0].data;
  from_file = Error{"x", "released"};
  fs::remove_all(dir);
  CHECK(same_bytes(bytes_of(kept), bytes_of(m.weights[0].data)));
}

TEST_CASE("round trip: 200 random models, full and stripped, byte-stable") {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    CAPTURE(seed);
    const EngineModel m = random_model(seed);
    const auto full = write_engine(m);
    REQUIRE_MESSAGE(full.has_value(), full.error().to_string());
    CHECK(write_engine(m).value() == *full);  // deterministic
    const auto back = read_engine(*full);
    REQUIRE_MESSAGE(back.has_value(), back.error().to_string());
    check_same_model(m, *back);
    CHECK(write_engine(*back).value() == *full);

    const auto stripped = write_engine(m, {.exclude_weights = true});
    REQUIRE(stripped.has_value());
    CHECK(stripped->size() <= full->size());
    const auto sback = read_engine(*stripped);
    REQUIRE_MESSAGE(sback.has_value(), sback.error().to_string());
    CHECK(sback->weights_stripped);
    check_same_model(m, *sback);
    for (size_t i = 0; i < m.weights.size(); ++i) {
      CHECK_FALSE(sback->weights[i].data.valid());
      CHECK(sback->weights[i].fingerprint == back->weights[i].fingerprint);
    }
    CHECK(write_engine(*sback, {.exclude_weights = true}).value() == *stripped);
    // The weights table is the same in both: only flags, checksums and the data section differ.
    CHECK(section_copy(*stripped, kTagWeightsTable) == section_copy(*full, kTagWeightsTable));
    const auto sh = header_of(*stripped);
    CHECK(sh.has(EngineFlag::kWEIGHTS_STRIPPED));
    CHECK(sh.streamable_weight_bytes == m.streamable_weight_bytes());
  }
}

TEST_CASE("writer: the written header describes the model") {
  EngineModel m = small_model();
  m.weight_streaming = true;
  m.weights[0].streamable = true;
  m.images.push_back({ImageKind::kCUBIN, 130, false, m.images[0].bytes});  // a CC with no mask bit
  for (auto& k : m.kernels) k.images.push_back(3);
  const auto h = header_of(write_engine(m).value());
  CHECK(h.cubin_cc_mask == ((1u << 1) | (1u << 6)));
  CHECK(h.min_ptx_cc == 75);
  CHECK(h.streamable_weight_bytes == 512);
  CHECK(h.has(EngineFlag::kWEIGHT_STREAMING));
  CHECK(h.min_driver_version == 12080);
  CHECK(h.device_memory_bytes == (1u << 20));
  CHECK(read_engine(write_engine(m).value()).has_value());
}

TEST_CASE("writer: model rules are enforced before anything is written") {
  EngineModel m = small_model();
  m.metadata.erase("plan");
  auto r = write_engine(m);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == E::kMetadataKeyMissing);
  CHECK(r.error().message.find("plan") != std::string::npos);

  const fs::path dir = temp_dir("reject");
  CHECK(write_engine_file(dir / "bad.rtxe", m).error().id == E::kMetadataKeyMissing);
  CHECK(fs::is_empty(dir));  // no file, no temporary
  fs::remove_all(dir);
}

TEST_CASE("file errors: 001 missing, 002 unreadable, 003 no directory, 004 cannot rename") {
  const fs::path dir = temp_dir("io");
  auto r = read_engine_file(dir / "missing.rtxe");
  CHECK(r.error().id == E::kOpenFailed);
  CHECK(r.error().message.find("missing.rtxe") != std::string::npos);
  CHECK(read_engine_file(dir).error().id == E::kReadFailed);
  CHECK(write_engine_file(dir / "no" / "such" / "dir.rtxe", small_model()).error().id ==
        E::kWriteFailed);
  fs::create_directories(dir / "occupied" / "child");
  CHECK(write_engine_file(dir / "occupied", small_model()).error().id == E::kRenameFailed);
  // A failed rename leaves no temporary behind.
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  // An empty file is read (not mapped) and rejected as too short.
  std::ofstream(dir / "empty.rtxe").close();
  CHECK(read_engine_file(dir / "empty.rtxe").error().id == E::kTooShort);
  fs::remove_all(dir);
}

// ---- golden engines -----------------------------------------------------------------------------

namespace {

void check_golden(const std::string& name, const WriteOptions& options,
                  EngineModel (*make)() = small_model) {
  const fs::path path = fs::path(RTX_GOLDEN_DIR) / name;
  const auto expected = write_engine(make(), options).value();
  if (const char* update = std::getenv("RTX_UPDATE_GOLDEN");
      update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(expected.data()),
               static_cast<std::streamsize>(expected.size()));
    MESSAGE("RTX_UPDATE_GOLDEN=1: rewrote " << path.string());
  }
  REQUIRE_MESSAGE(fs::exists(path),
                  "missing golden file " << path.string() << " (RTX_UPDATE_GOLDEN=1 writes it)");
  const auto golden = read_file(path);
  // Reading the golden file gives the model; writing the model gives the golden file.
  const auto model = read_engine_file(path);
  REQUIRE_MESSAGE(model.has_value(), model.error().to_string());
  check_same_model(make(), *model);
  CHECK(model->weights_stripped == options.exclude_weights);
  CHECK_MESSAGE(expected == golden, "the writer no longer reproduces "
                                        << path.string()
                                        << " byte for byte: a format change needs a new "
                                           "format version and a new golden file");
}

}  // namespace

TEST_CASE("golden engine, format version 1") {
  check_golden("engine_v1.rtxe", {});
}
TEST_CASE("golden engine, format version 1, weights stripped") {
  check_golden("engine_v1_stripped.rtxe", {.exclude_weights = true});
}
// Version 2 adds compressed images. Its bytes depend on zlib's deflate, which is stable within a
// zlib version (Debian 12: 1.2.13); another zlib may choose other (equally valid) streams.
TEST_CASE("golden engine, format version 2 (compressed images), weights stripped") {
  check_golden("engine_v2_stripped.rtxe", {.exclude_weights = true}, small_compressed_model);
}

TEST_CASE("compressed images: version 2 only when needed, contents inflate to the image") {
  const EngineModel plain = small_model();
  CHECK(plain.format_version() == 1);
  CHECK(header_of(write_engine(plain).value()).format_version == 1);
  const EngineModel packed = small_compressed_model();
  CHECK(packed.format_version() == 2);
  const auto bytes = write_engine(packed).value();
  CHECK(header_of(bytes).format_version == 2);
  CHECK(bytes.size() < write_engine(plain).value().size() + 1024);  // 4x larger cubins, stored smaller
  const auto back = read_engine(bytes);
  REQUIRE(back.has_value());
  for (size_t i = 0; i < back->images.size(); ++i) {
    const KernelImage& img = back->images[i];
    if (img.kind != ImageKind::kCUBIN) continue;
    CAPTURE(i);
    REQUIRE(img.compressed());
    CHECK(img.bytes.size() * 2 < img.raw_size);
    const Blob raw = img.contents();
    CHECK(raw.size() == img.raw_size);
    CHECK(std::equal(raw.bytes().begin(), raw.bytes().begin() + 4, "\x7F" "ELF"));
  }
  // Random bytes do not shrink: compress() leaves such an image as it is.
  KernelImage random = small_model().images[0];
  random.compress();
  CHECK_FALSE(random.compressed());
}

// Seed corpus of the fuzz target (tests/fuzz/corpus): written only when RTX_FUZZ_SEED_DIR names a
// directory, never by a plain test run.
TEST_CASE("fuzz seed corpus (only with RTX_FUZZ_SEED_DIR)") {
  const char* dir = std::getenv("RTX_FUZZ_SEED_DIR");
  if (dir == nullptr) return;
  const auto save = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream(fs::path(dir) / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  };
  save("small.rtxe", write_engine(small_model()).value());
  save("small_compressed.rtxe", write_engine(small_compressed_model()).value());
  save("small_stripped.rtxe", write_engine(small_model(), {.exclude_weights = true}).value());
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    const EngineModel m = random_model(seed * 7919);
    save("random_" + std::to_string(seed) + ".rtxe", write_engine(m).value());
    if (seed % 3 == 0)
      save("random_" + std::to_string(seed) + "_stripped.rtxe",
           write_engine(m, {.exclude_weights = true}).value());
  }
  MESSAGE("wrote the fuzz seed corpus to " << std::string(dir));
}
