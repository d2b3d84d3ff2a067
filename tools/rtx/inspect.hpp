// SPDX-License-Identifier: Apache-2.0
// `rtx inspect FILE [--json]`: what an engine holds and whether it can run here, without loading
// a kernel or touching the GPU beyond a device query: the 64-byte header, the validity verdict
// with its diagnostics in words, the section table, the network's inputs, outputs and profiles,
// the targets (cubins and PTX), the kernels with their launch contracts and the weights table.
// A damaged engine still shows what can be read (its header, when that is intact) next to the
// reader's error. An ONNX model is described too (inputs, outputs, layers by op type, weights).
// The text view is rendered from the JSON view, so the two always agree.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <span>
#include <string>

#include "rtx/error.hpp"
#include "serialization/validity.hpp"

namespace rtx::cli {

/// How inspect asks about the GPU (tests pass a fake device).
using DeviceQuery = std::function<Expected<serialization::DeviceFacts>()>;

/// The JSON description of the engine file at `path`. It reads the header and section table
/// itself and the body through the engine reader (a read-only mapping). `description["ok"]` is
/// false when the body fails verification (the reader's error is in "error").
nlohmann::json describe_engine(const std::string& path, const DeviceQuery& device);

/// The JSON description of an ONNX model file.
nlohmann::json describe_onnx(const std::string& path);

/// The human-readable view of a description made by describe_engine or describe_onnx.
std::string render_text(const nlohmann::json& description, bool verbose);

/// Runs `rtx inspect`: prints the text or JSON view to `out` and errors to `err`; returns the
/// exit code (1 when the file cannot be read or fails verification).
int run_inspect(const std::string& path, bool json, bool verbose, std::ostream& out,
                std::ostream& err, const DeviceQuery& device);

/// "1.50 MiB" style sizes (exact bytes below 1 KiB).
std::string human_bytes(uint64_t bytes);

/// 12080 -> "12.8", 13000 -> "13.0", 0 -> "any".
std::string cuda_version_string(uint32_t v);

}  // namespace rtx::cli
