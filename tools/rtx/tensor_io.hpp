// SPDX-License-Identifier: Apache-2.0
// Inputs and outputs of `rtx` runs: choosing each input's shape (from its .npy file, --shapes,
// its static dims, the profile's opt shape, or a dim name another input already fixed), loading
// --loadInputs files (.npy, ONNX TensorProto .pb, or raw bytes as trtexec reads them), portable
// random inputs from a printed seed, and writing outputs (--saveOutputs as .npy, --exportOutput as
// trtexec's JSON,
// --dumpOutput and the short summary printed after a run).
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/types.hpp"
#include "tools/rtx/options.hpp"

namespace rtx::cli {

/// What a model says about one of its inputs (from the network, or an engine's metadata).
struct TensorDesc {
  std::string name;
  DataType dtype = DataType::kF32;
  std::vector<int64_t> dims;           ///< -1 for dynamic dims
  std::vector<std::string> dim_names;  ///< symbolic names of dims (may be empty)
  std::vector<int64_t> min, opt, max;  ///< profile bounds; empty when there is no profile
};

/// Where an input's values came from, for the run's printout.
struct InputChoice {
  HostTensor tensor;
  std::string source;  ///< "x.npy", "raw file x.bin", "random (seed 1)"
};

/// Portable SplitMix64 stream: the same seed gives the same inputs on every machine.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next();
  /// Uniform in [0, 1).
  double uniform();

 private:
  uint64_t s_;
};

/// Random values for an input: floating types uniform in [-1, 1) (then rounded to the dtype),
/// integers and bools 0 or 1 (valid as indices, token types and masks).
HostTensor random_tensor(DataType dtype, const std::vector<int64_t>& shape, Rng& rng);

/// Builds every input of `inputs` (model order): shapes from the rules in this file's comment,
/// values from --loadInputs or random from `options.seed` (one stream, inputs in order). Errors:
/// rtx.cli.201 (a --shapes/--loadInputs name that is not an input), 202, 203, 204, 205, 207 and
/// the .npy ids.
Expected<std::vector<std::pair<std::string, InputChoice>>> prepare_inputs(
    const std::vector<TensorDesc>& inputs, const Options& options);

/// A file-name-safe version of a tensor name ('/', '\\', ':' and the like become '_'; "." and ".."
/// cannot escape the folder).
std::string safe_file_name(const std::string& tensor_name);

/// --saveOutputs: writes <dir>/<safe name>.npy per output (creating dir). Returns the written
/// paths. rtx.cli.206 on a write failure.
Expected<std::vector<std::string>> save_outputs_npy(
    const std::string& dir, const std::vector<std::pair<std::string, HostTensor>>& outputs);

/// --exportOutput: trtexec's JSON (an array of {"name", "dimensions", "values"}). Floating values
/// are written with the fewest digits that read back to the same value of their dtype; NaN and
/// infinities as NaN / Infinity / -Infinity (what Python's json module reads).
std::string output_json(const std::vector<std::pair<std::string, HostTensor>>& outputs);
Expected<void> write_text_file(const std::string& path, const std::string& text,
                               const char* error_id);

/// One element as text, with the fewest digits that identify it within its dtype.
std::string format_value(const HostTensor& t, int64_t i);

/// "f32 2x3: min -1.5, max 4, mean 0.25; [0.5, -1.5, 4, ...]" (at most `head` leading values).
std::string summarize(const HostTensor& t, int head = 8);

/// --dumpOutput: every value, rows of the last dim on separate lines.
void dump_values(std::ostream& out, const HostTensor& t);

}  // namespace rtx::cli
