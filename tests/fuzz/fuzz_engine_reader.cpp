// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the engine reader. Each input is read twice: as given (which exercises the
// header and checksum checks) and "resealed", with file size and every checksum recomputed, so
// that mutated bytes reach the section parsers and the model rules instead of stopping at a
// checksum. Properties checked besides "no crash, no sanitizer report":
//   - every rejection carries an id listed in serialization/errors.hpp (and never 099);
//   - every engine the reader accepts is accepted by the writer, reads back, and writes back to
//     the same bytes (the reader and the writer agree on the rules; output is deterministic);
//   - engine_validity never fails on any prefix.
// Build: CXX=clang++ meson setup build-fuzz -Dfuzz=true; ninja -C build-fuzz
// tests/fuzz/fuzz_engine_reader Run:   build-fuzz/tests/fuzz/fuzz_engine_reader
// -dict=tests/fuzz/engine.dict corpus/ tests/fuzz/corpus/
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "serialization/byte_io.hpp"
#include "serialization/checksum.hpp"
#include "serialization/errors.hpp"
#include "serialization/reader.hpp"
#include "serialization/validity.hpp"
#include "serialization/writer.hpp"

namespace {
using namespace rtx::serialization;

[[noreturn]] void fail() {
  __builtin_trap();
}

void check_error_id(const rtx::Error& e) {
  if (e.id == errors::kInternal) fail();
  if (std::find(errors::kAllErrorIds.begin(), errors::kAllErrorIds.end(), e.id) ==
      errors::kAllErrorIds.end())
    fail();
}

// Recomputes file size, section checksums, table checksum and header checksum, tolerating any
// garbage in the table (entries out of bounds are left alone).
void reseal(std::vector<uint8_t>& f) {
  using detail::load_le;
  using detail::store_le;
  if (f.size() < kHeaderSize) return;
  store_le(&f[48], f.size(), 8);
  const uint64_t count = load_le(&f[28], 4);
  const uint64_t table_end = kHeaderSize + kSectionEntrySize * count;
  if (table_end <= f.size()) {
    for (uint64_t i = 0; i < count; ++i) {
      uint8_t* e = &f[kHeaderSize + kSectionEntrySize * i];
      const uint64_t offset = load_le(e + 8, 8), size = load_le(e + 16, 8);
      if (offset <= f.size() && size <= f.size() - offset) {
        store_le(e + 24, crc32c(std::span<const uint8_t>(f.data() + offset, size)), 4);
      }
    }
    store_le(&f[56],
             crc32c(std::span<const uint8_t>(f.data() + kHeaderSize, table_end - kHeaderSize)), 4);
  }
  store_le(&f[60], crc32c(std::span<const uint8_t>(f.data(), 60)), 4);
}

void exercise(std::span<const uint8_t> bytes) {
  uint64_t diagnostics = 0;
  const auto facts = []() -> rtx::Expected<DeviceFacts> {
    return DeviceFacts{90, 80ull << 30, 13000, 13000};
  };
  (void)engine_validity(bytes, facts, &diagnostics);

  auto model = read_engine(bytes);
  if (!model) {
    check_error_id(model.error());
    return;
  }
  // Touch every borrowed byte (ASan checks they are inside the input).
  volatile uint8_t sink = 0;
  for (const auto& w : model->weights) {
    if (!w.data.valid()) continue;
    const auto* p = reinterpret_cast<const uint8_t*>(w.data.data());
    for (size_t i = 0; i < w.data.byte_size(); ++i) sink = static_cast<uint8_t>(sink ^ p[i]);
  }
  for (const auto& img : model->images) {
    for (uint8_t b : img.bytes.bytes()) sink = static_cast<uint8_t>(sink ^ b);
    // What the runtime loads: an accepted engine's compressed images must inflate.
    try {
      if (img.compressed() && img.contents().size() != img.raw_size) fail();
    } catch (...) {
      fail();
    }
  }
  const WriteOptions options{.exclude_weights = model->weights_stripped};
  auto written = write_engine(*model, options);
  if (!written) fail();
  auto back = read_engine(*written);
  if (!back) fail();
  auto again = write_engine(*back, options);
  if (!again || *again != *written) fail();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  exercise(std::span<const uint8_t>(data, size));
  if (size >= kHeaderSize) {
    std::vector<uint8_t> sealed(data, data + size);
    reseal(sealed);
    exercise(sealed);
  }
  return 0;
}
