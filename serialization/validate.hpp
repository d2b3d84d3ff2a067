// SPDX-License-Identifier: Apache-2.0
// Semantic rules of an engine (FORMAT.md "Rules"), shared by the writer and the reader so that
// the writer never produces a file the reader rejects, and every rule has one error id whichever
// side finds the violation.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "serialization/engine_model.hpp"

namespace rtx::serialization::detail {

/// Every model rule: metadata keys, kernel names and launch contracts, image kinds and targets,
/// target coverage of each kernel, weight names, dtypes, shapes and data. Throws rtx::Exception.
void validate_model(const EngineModel& model);

/// The metadata rules alone (ids 302-304).
void validate_metadata(const nlohmann::json& metadata);

/// Parses JSON text with the nesting limit kMaxJsonDepth; nullopt and `*error` on failure.
std::optional<nlohmann::json> parse_json(std::string_view text, std::string* error);

}  // namespace rtx::serialization::detail
