// SPDX-License-Identifier: Apache-2.0
// Engine writer: EngineModel -> bytes, in memory or to a file (atomically: temp file + rename).
// Output is deterministic: the same model gives the same bytes (no timestamps, sorted JSON keys,
// canonical layout, zero padding), which is what lets a refitted stripped engine serialize
// byte-identical to the engine built with its weights.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "rtx/error.hpp"
#include "serialization/engine_model.hpp"

namespace rtx::serialization {

/// How to write an engine.
struct WriteOptions {
  /// Leave the weight data out (SerializationFlag kEXCLUDE_WEIGHTS / BuilderFlag kSTRIP_PLAN):
  /// the header says weights-stripped, the weights table keeps names, dtypes, shapes and
  /// fingerprints, and there is no weight data section.
  bool exclude_weights = false;
  /// Check the model against the format's rules first. Only tests turn this off, to produce
  /// files that break exactly one rule.
  bool validate = true;
};

/// The engine's bytes. Errors: 305, 4xx/5xx rules (the model breaks a rule of FORMAT.md), 601
/// (a weight has no data and exclude_weights is false), 602, 603.
Expected<std::vector<uint8_t>> write_engine(const EngineModel& model,
                                            const WriteOptions& options = {});

/// Writes the engine to `path` through a temporary file in the same directory, renamed into place
/// only once complete and flushed: readers never see a partial engine. Streams the weights from
/// the model without building the file in memory. Extra errors: 003 (create/write), 004 (rename).
Expected<void> write_engine_file(const std::filesystem::path& path, const EngineModel& model,
                                 const WriteOptions& options = {});

/// One section for `assemble_engine`.
struct RawSection {
  uint32_t tag = 0;
  std::vector<uint8_t> bytes;
  uint64_t alignment = kSectionAlignment;
};

/// Lays out `sections` in the given order after the header and section table (aligned, zero
/// padded) and fills in section_count, file_size and every checksum of `header`. The writer's
/// own layout; tests and the fuzzer's seed corpus use it to handcraft files.
std::vector<uint8_t> assemble_engine(EngineHeader header, const std::vector<RawSection>& sections);

}  // namespace rtx::serialization
