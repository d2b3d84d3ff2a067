// SPDX-License-Identifier: Apache-2.0
// The `rtx` command line: every flag, its value syntax and its default, parsed into one Options
// value. The vocabulary is trtexec's and tensorrt_rtx's, in both the TensorRT 10 spellings
// (--useCudaGraph, --useSpinWait, --noDataTransfers) and the TensorRT 11 / TensorRT-RTX ones
// (--noCudaGraph, --noSpinWait, --includeDataTransfers), so command lines users already have keep
// working. The defaults are TensorRT 11's (CUDA graph on, spin wait on, no data transfers), which
// measure the engine rather than the PCIe link. Parsing is strict: an unknown flag, a value that
// does not parse, a flag given twice or two flags that contradict each other is an error
// (rtx.cli.0NN) that names the flag and says what was expected, never a silent default.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtx/error.hpp"

namespace rtx::cli {

/// Process exit codes of `rtx`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  ///< the model, the engine, a file or --check failed
inline constexpr int kExitUsage = 2;    ///< the command line is wrong

/// What the command line asks for.
enum class Command {
  kRun,      ///< build and/or run a model (the trtexec workflow)
  kInspect,  ///< `rtx inspect FILE`: describe an engine (or an ONNX model) without running it
  kHelp,     ///< --help
  kVersion,  ///< --version
};

/// Where inference runs.
enum class Backend {
  kGpu,        ///< the engine on the GPU (default)
  kReference,  ///< the network on the CPU reference evaluator (no GPU needed)
  kAuto,       ///< the GPU when one is usable, else the reference evaluator (saying so)
};

/// --weightStreamingBudget.
struct WeightStreamingBudget {
  enum class Kind {
    kDisabled,   ///< -2 (the default): every weight stays on the device
    kAutomatic,  ///< -1: rtx picks the budget from free device memory
    kBytes,      ///< a byte count (suffixes B, K, M, G, T in powers of 1024)
    kPercent,    ///< N%: that share of the streamable weights stays on the device
  };
  Kind kind = Kind::kDisabled;
  uint64_t bytes = 0;  ///< kBytes
  double percent = 0;  ///< kPercent, in [0, 100]
  /// "disabled", "automatic", "512 MiB", "50%".
  std::string describe() const;
};

/// Shapes by input name, in command-line order.
using ShapeMap = std::vector<std::pair<std::string, std::vector<int64_t>>>;

/// One --loadInputs entry.
struct InputFile {
  std::string name;
  std::string path;
};

/// Everything the command line says. Defaults are those documented in docs/cli.md and --help.
struct Options {
  Command command = Command::kRun;

  // ---- model ----
  std::string onnx;          ///< --onnx
  std::string load_engine;   ///< --loadEngine
  std::string save_engine;   ///< --saveEngine
  std::string inspect_file;  ///< `rtx inspect FILE`
  bool json = false;         ///< --json (inspect)

  // ---- build ----
  ShapeMap min_shapes, opt_shapes, max_shapes;  ///< --minShapes / --optShapes / --maxShapes
  std::vector<int> compute_capabilities;        ///< --computeCapabilities (10*major+minor)
  bool use_gpu_target = false;                  ///< --useGpu: build for this GPU only (kCURRENT)
  bool strip_weights = false;                   ///< --stripWeights
  bool refit = false;                           ///< --refit
  std::string refit_from_onnx;                  ///< --refitFromOnnx
  bool allow_weight_streaming = false;          ///< --allowWeightStreaming
  bool skip_inference = false;                  ///< --skipInference

  // ---- inference ----
  Backend backend = Backend::kGpu;                ///< --backend
  ShapeMap shapes;                                ///< --shapes
  std::vector<InputFile> load_inputs;             ///< --loadInputs
  int64_t iterations = 10;                        ///< --iterations
  double duration_s = 3.0;                        ///< --duration (-1: until interrupted)
  double warm_up_ms = 200.0;                      ///< --warmUp
  int avg_runs = 10;                              ///< --avgRuns
  std::vector<double> percentiles{90, 95, 99};    ///< --percentile
  bool cuda_graph = true;                         ///< --useCudaGraph / --noCudaGraph
  bool spin_wait = true;                          ///< --useSpinWait / --noSpinWait
  bool data_transfers = false;                    ///< --includeDataTransfers / --noDataTransfers
  int device = 0;                                 ///< --device
  WeightStreamingBudget weight_streaming_budget;  ///< --weightStreamingBudget
  std::string runtime_cache_file;                 ///< --runtimeCacheFile
  uint64_t seed = 1;                              ///< --seed (random inputs)

  // ---- reporting ----
  std::string export_output;              ///< --exportOutput (trtexec's JSON)
  std::string save_outputs;               ///< --saveOutputs (a folder of <name>.npy)
  std::string export_times;               ///< --exportTimes
  std::string export_profile;             ///< --exportProfile
  bool dump_profile = false;              ///< --dumpProfile
  bool dump_output = false;               ///< --dumpOutput
  bool check = false;                     ///< --check
  std::optional<double> check_tolerance;  ///< --checkTolerance (default: per dtype)
  bool verbose = false;                   ///< --verbose

  /// Notes for the user about flags accepted but without effect here (printed before running).
  std::vector<std::string> notes;
};

/// Parses `args` (without the program name). Usage errors are rtx.cli.0NN with a message that
/// names the flag.
Expected<Options> parse_options(std::span<const std::string> args);

/// The --help text (generated from the flag table, so it cannot forget a flag).
std::string help_text();

/// Every flag `rtx` accepts (with the leading "--"), aliases included, in table order.
std::vector<std::string> known_flags();

// ---- value parsers, exposed for tests -----------------------------------------------------------

/// "name:1x3x224x224,other:8x128". Names may be quoted ('in:0':1x3) and may contain ':' (the last
/// ':' separates the dims, as in trtexec). Dims are integers >= 0.
Expected<ShapeMap> parse_shape_list(std::string_view flag, std::string_view text);

/// "80,86,8.9,sm_90,sm_120" -> {80, 86, 89, 90, 120}. Only compute capabilities rtx can build
/// for are accepted; duplicates are an error.
Expected<std::vector<int>> parse_compute_capabilities(std::string_view flag, std::string_view text);

/// "-2", "-1", "50%", "1073741824", "512M", "1.5G", "64KiB".
Expected<WeightStreamingBudget> parse_weight_streaming_budget(std::string_view flag,
                                                              std::string_view text);

/// "x:input.npy,mask:mask.bin".
Expected<std::vector<InputFile>> parse_input_files(std::string_view flag, std::string_view text);

/// Byte count with an optional binary suffix (B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB).
Expected<uint64_t> parse_bytes(std::string_view flag, std::string_view text);

/// "1x3x224x224" rendered back, "scalar" for rank 0.
std::string dims_to_string(std::span<const int64_t> dims);

/// Looks up `name` in `map`; nullptr when absent.
const std::vector<int64_t>* find_shape(const ShapeMap& map, std::string_view name);

}  // namespace rtx::cli
