// SPDX-License-Identifier: Apache-2.0
// The flag table of `rtx` and its strict parser. One table drives parsing, --help and the check
// that docs/cli.md documents every flag, so the three cannot drift apart. Flags take their value
// as `--flag=value` (trtexec's form) or `--flag value`; switches take none. Flags of trtexec that
// rtx deliberately does not have are recognised and refused with the reason and what to do
// instead (rtx.cli.008), rather than as merely "unknown".
#include "tools/rtx/options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

#include "tools/rtx/errors.hpp"

namespace rtx::cli {
namespace {

[[noreturn]] void fail(const char* id, std::string message) {
  throw Exception(id, std::move(message));
}

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    parts.push_back(
        s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int64_t parse_int(std::string_view flag, std::string_view text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) {
    fail(errors::kBadValue, std::string(flag) + ": " + in_quotes(text) + " is not an integer");
  }
  if (v < lo || v > hi) {
    fail(errors::kBadValue, std::string(flag) + ": " + std::to_string(v) + " is out of range [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v;
}

double parse_double(std::string_view flag, std::string_view text) {
  double v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(v)) {
    fail(errors::kBadValue, std::string(flag) + ": " + in_quotes(text) + " is not a number");
  }
  return v;
}

// Splits "name:value" at the last ':' (trtexec's rule: names may contain ':'); a name in single
// quotes may contain anything but a quote.
std::pair<std::string, std::string_view> split_name_value(std::string_view flag,
                                                          std::string_view item, const char* what) {
  std::string name;
  std::string_view rest;
  if (!item.empty() && item.front() == '\'') {
    const size_t close = item.find('\'', 1);
    if (close == std::string_view::npos) {
      fail(errors::kBadValue, std::string(flag) + ": unterminated quote in " + in_quotes(item));
    }
    name = std::string(item.substr(1, close - 1));
    rest = item.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      fail(errors::kBadValue,
           std::string(flag) + ": expected ':' after the quoted name in " + in_quotes(item));
    }
    rest.remove_prefix(1);
  } else {
    const size_t colon = item.rfind(':');
    if (colon == std::string_view::npos) {
      fail(errors::kBadValue,
           std::string(flag) + ": " + in_quotes(item) + " is not of the form name:" + what);
    }
    name = std::string(item.substr(0, colon));
    rest = item.substr(colon + 1);
  }
  if (name.empty())
    fail(errors::kBadValue, std::string(flag) + ": empty tensor name in " + in_quotes(item));
  return {std::move(name), rest};
}

std::vector<int64_t> parse_dims(std::string_view flag, std::string_view name,
                                std::string_view text) {
  if (text.empty()) {
    fail(errors::kBadValue, std::string(flag) + ": no dims for " + in_quotes(name) +
                                " (write them like 1x3x224x224; a scalar input needs no entry)");
  }
  std::vector<int64_t> dims;
  for (auto d : split(text, 'x')) {
    int64_t v = 0;
    const auto* end = d.data() + d.size();
    const auto [ptr, ec] = std::from_chars(d.data(), end, v);
    if (d.empty() || ec != std::errc() || ptr != end || v < 0) {
      fail(errors::kBadValue, std::string(flag) + ": dim " + in_quotes(d) + " of " +
                                  in_quotes(name) +
                                  " is not an integer >= 0 (write dims like 1x3x224x224)");
    }
    dims.push_back(v);
  }
  if (dims.size() > 8)
    fail(errors::kBadValue, std::string(flag) + ": " + in_quotes(name) + " has more than 8 dims");
  return dims;
}

void parse_percentiles(std::string_view flag, std::string_view text, std::vector<double>& out) {
  out.clear();
  for (auto p : split(text, ',')) {
    const double v = parse_double(flag, trim(p));
    if (v < 0 || v > 100)
      fail(errors::kBadValue,
           std::string(flag) + ": percentile " + std::string(p) + " is not in [0, 100]");
    out.push_back(v);
  }
}

// ---- the flag table -----------------------------------------------------------------------------

using Apply = void (*)(Options&, std::string_view flag, std::string_view value);

struct Flag {
  std::string_view name;
  std::string_view group;
  std::string_view meta;  // empty: a switch
  std::string_view help;
  Apply apply;
  std::string_view exclusive = {};  // flags sharing this key contradict each other
  bool repeatable = false;          // list flags: repeats append
  std::string_view alias_of = {};   // documented as another spelling of this flag
};

void append_shapes(ShapeMap& map, std::string_view flag, std::string_view text) {
  const ShapeMap parsed = parse_shape_list(flag, text).value();
  for (const auto& [name, dims] : parsed) {
    if (find_shape(map, name))
      fail(errors::kRepeatedFlag, std::string(flag) + ": " + in_quotes(name) + " given twice");
    map.emplace_back(name, dims);
  }
}

const std::vector<Flag>& flag_table() {
  static const std::vector<Flag> table = {
      // ---- Model ----
      {"--onnx", "Model", "<file>",
       "ONNX model to build (or, with --backend=reference, to run on the CPU).",
       [](Options& o, std::string_view, std::string_view v) { o.onnx = v; }, "model"},
      {"--loadEngine", "Model", "<file>", "Engine file to load and run.",
       [](Options& o, std::string_view, std::string_view v) { o.load_engine = v; }, "model"},
      {"--saveEngine", "Model", "<file>", "Write the built (or refit) engine to this file.",
       [](Options& o, std::string_view, std::string_view v) { o.save_engine = v; }},
      // ---- Build ----
      {"--minShapes",
       "Build",
       "<spec>",
       "Smallest shapes of the optimization profile: name:1x3x224x224[,name2:...]. Give only "
       "--optShapes, or all three of --minShapes/--optShapes/--maxShapes.",
       [](Options& o, std::string_view f, std::string_view v) {
         append_shapes(o.min_shapes, f, v);
       },
       {},
       true},
      {"--optShapes",
       "Build",
       "<spec>",
       "Shapes the engine is tuned for (same form).",
       [](Options& o, std::string_view f, std::string_view v) {
         append_shapes(o.opt_shapes, f, v);
       },
       {},
       true},
      {"--maxShapes",
       "Build",
       "<spec>",
       "Largest shapes of the optimization profile (same form).",
       [](Options& o, std::string_view f, std::string_view v) {
         append_shapes(o.max_shapes, f, v);
       },
       {},
       true},
      {"--computeCapabilities", "Build", "<list>",
       "Target GPUs: 80,86,89,90,100,120 (8.6 and sm_86 also work). Default: every compute "
       "capability from 8.0 up that rtx builds for. Builds need no GPU.",
       [](Options& o, std::string_view f, std::string_view v) {
         o.compute_capabilities = parse_compute_capabilities(f, v).value();
       },
       "target"},
      {"--useGpu",
       "Build",
       {},
       "Build for the GPU of this machine only (needs a GPU).",
       [](Options& o, std::string_view, std::string_view) { o.use_gpu_target = true; },
       "target"},
      {"--stripWeights",
       "Build",
       {},
       "Save the engine without its weights (a weightless engine: refit it before running, e.g. "
       "with --refitFromOnnx).",
       [](Options& o, std::string_view, std::string_view) { o.strip_weights = true; }},
      {"--stripAllWeights",
       "Build",
       {},
       "Same as --stripWeights (rtx always strips every weight).",
       [](Options& o, std::string_view, std::string_view) { o.strip_weights = true; },
       {},
       false,
       "--stripWeights"},
      {"--weightless",
       "Build",
       {},
       "Same as --stripWeights (TensorRT 9 spelling).",
       [](Options& o, std::string_view, std::string_view) { o.strip_weights = true; },
       {},
       false,
       "--stripWeights"},
      {"--refit",
       "Build",
       {},
       "Build a refittable engine: any weight may be replaced later.",
       [](Options& o, std::string_view, std::string_view) { o.refit = true; }},
      {"--refitFromOnnx", "Build", "<file>",
       "Fill the weights of the engine given with --loadEngine from this ONNX model's "
       "initializers (matched by name); save the result with --saveEngine.",
       [](Options& o, std::string_view, std::string_view v) { o.refit_from_onnx = v; }},
      {"--allowWeightStreaming",
       "Build",
       {},
       "Build for weight streaming: weights may stay in host memory under a device-memory budget "
       "(--weightStreamingBudget).",
       [](Options& o, std::string_view, std::string_view) { o.allow_weight_streaming = true; }},
      {"--skipInference",
       "Build",
       {},
       "Build (and save) only; run nothing. Needs no GPU.",
       [](Options& o, std::string_view, std::string_view) { o.skip_inference = true; }},
      // ---- Inference ----
      {"--backend", "Inference", "gpu|reference|auto",
       "Where to run: the engine on the GPU (default), the network on the CPU reference "
       "evaluator (exact, slow, needs no GPU), or auto: the GPU when there is one, else the "
       "reference evaluator (saying so).",
       [](Options& o, std::string_view f, std::string_view v) {
         if (v == "gpu")
           o.backend = Backend::kGpu;
         else if (v == "reference" || v == "cpu")
           o.backend = Backend::kReference;
         else if (v == "auto")
           o.backend = Backend::kAuto;
         else
           fail(errors::kBadValue, std::string(f) + ": " + in_quotes(v) +
                                       " is not a backend (gpu, reference or auto)");
       }},
      {"--shapes",
       "Inference",
       "<spec>",
       "Shapes of dynamic inputs for this run: name:1x3x224x224[,...]. When building without "
       "--minShapes/--optShapes/--maxShapes, also the (single-shape) profile.",
       [](Options& o, std::string_view f, std::string_view v) { append_shapes(o.shapes, f, v); },
       {},
       true},
      {"--loadInputs",
       "Inference",
       "<spec>",
       "Input values: name:file[,name2:file2]. A .npy file (or a .pb ONNX TensorProto, as in "
       "ONNX test data sets) carries its own dtype and shape; any other file is raw "
       "little-endian bytes of the input's dtype and shape (as trtexec). Default: random values "
       "from --seed.",
       [](Options& o, std::string_view f, std::string_view v) {
         std::vector<InputFile> parsed = parse_input_files(f, v).value();
         for (auto& in : parsed) {
           for (const auto& have : o.load_inputs) {
             if (have.name == in.name)
               fail(errors::kRepeatedFlag,
                    std::string(f) + ": input " + in_quotes(in.name) + " given twice");
           }
           o.load_inputs.push_back(std::move(in));
         }
       },
       {},
       true},
      {"--seed", "Inference", "<N>",
       "Seed of the random inputs (default 1; printed with each run).",
       [](Options& o, std::string_view f, std::string_view v) {
         o.seed = static_cast<uint64_t>(parse_int(f, v, 0, INT64_MAX));
       }},
      {"--iterations", "Inference", "<N>", "Run at least N timed inferences (default 10).",
       [](Options& o, std::string_view f, std::string_view v) {
         o.iterations = parse_int(f, v, 1, INT64_MAX);
       }},
      {"--duration", "Inference", "<s>",
       "Run timed inferences for at least this many seconds (default 3; 0: iterations only; -1: "
       "until interrupted with Ctrl-C).",
       [](Options& o, std::string_view f, std::string_view v) {
         o.duration_s = parse_double(f, v);
         if (o.duration_s < 0 && o.duration_s != -1)
           fail(errors::kBadValue, std::string(f) + ": must be >= 0, or -1 (until interrupted)");
       }},
      {"--warmUp", "Inference", "<ms>",
       "Run untimed inferences for this many milliseconds first (default 200).",
       [](Options& o, std::string_view f, std::string_view v) {
         o.warm_up_ms = parse_double(f, v);
         if (o.warm_up_ms < 0) fail(errors::kBadValue, std::string(f) + ": must be >= 0");
       }},
      {"--avgRuns", "Inference", "<N>",
       "With --verbose, print progress every 100 x N inferences (default 10).",
       [](Options& o, std::string_view f, std::string_view v) {
         o.avg_runs = static_cast<int>(parse_int(f, v, 1, 1 << 20));
       }},
      {"--percentile", "Inference", "<list>",
       "Latency percentiles to report, each in [0, 100] (default 90,95,99).",
       [](Options& o, std::string_view f, std::string_view v) {
         parse_percentiles(f, v, o.percentiles);
       }},
      {"--useCudaGraph",
       "Inference",
       {},
       "Replay inferences as a CUDA graph (the default; TensorRT 10 spelling).",
       [](Options& o, std::string_view, std::string_view) { o.cuda_graph = true; },
       "cudagraph"},
      {"--noCudaGraph",
       "Inference",
       {},
       "Enqueue kernels one by one instead of replaying a CUDA graph.",
       [](Options& o, std::string_view, std::string_view) { o.cuda_graph = false; },
       "cudagraph"},
      {"--rtxCudaGraphStrategy", "Inference", "disable|whole_graph_capture",
       "TensorRT-RTX spelling of --noCudaGraph / --useCudaGraph.",
       [](Options& o, std::string_view f, std::string_view v) {
         if (v == "disable")
           o.cuda_graph = false;
         else if (v == "whole_graph_capture")
           o.cuda_graph = true;
         else
           fail(errors::kBadValue,
                std::string(f) + ": " + in_quotes(v) + " is not disable or whole_graph_capture");
       },
       "cudagraph"},
      {"--useSpinWait",
       "Inference",
       {},
       "Wait for the GPU by spinning (the default; TensorRT 10 spelling).",
       [](Options& o, std::string_view, std::string_view) { o.spin_wait = true; },
       "spinwait"},
      {"--noSpinWait",
       "Inference",
       {},
       "Wait for the GPU with blocking synchronization (less CPU, more jitter).",
       [](Options& o, std::string_view, std::string_view) { o.spin_wait = false; },
       "spinwait"},
      {"--noDataTransfers",
       "Inference",
       {},
       "Time the engine alone, without host<->device copies (the default; TensorRT 10 spelling).",
       [](Options& o, std::string_view, std::string_view) { o.data_transfers = false; },
       "transfers"},
      {"--includeDataTransfers",
       "Inference",
       {},
       "Copy inputs to and outputs from the GPU around every inference and time them (H2D and "
       "D2H latency).",
       [](Options& o, std::string_view, std::string_view) { o.data_transfers = true; },
       "transfers"},
      {"--weightStreamingBudget", "Inference", "<budget>",
       "Device memory for streamable weights: bytes with an optional suffix (512M, 1.5G, 64KiB; "
       "powers of 1024), N% of the streamable weights, -1 automatic, -2 disabled (default: every "
       "weight on the device).",
       [](Options& o, std::string_view f, std::string_view v) {
         o.weight_streaming_budget = parse_weight_streaming_budget(f, v).value();
       }},
      {"--runtimeCacheFile", "Inference", "<file>",
       "Keep the driver's PTX compilations here (read if it exists, written after the run), so an "
       "engine without a cubin for this GPU compiles once.",
       [](Options& o, std::string_view, std::string_view v) { o.runtime_cache_file = v; }},
      {"--device", "Inference", "<N>", "CUDA device ordinal (default 0).",
       [](Options& o, std::string_view f, std::string_view v) {
         o.device = static_cast<int>(parse_int(f, v, 0, 1023));
       }},
      // ---- Reporting ----
      {"--check",
       "Reporting",
       {},
       "Also run the same inputs through the CPU reference evaluator and report, per output, the "
       "max absolute and relative error and pass/fail against the dtype's tolerance (exit 1 on a "
       "failure).",
       [](Options& o, std::string_view, std::string_view) { o.check = true; }},
      {"--checkTolerance", "Reporting", "<x>",
       "Bound on --check's relative error ||got-ref||/||ref|| instead of the dtype's default.",
       [](Options& o, std::string_view f, std::string_view v) {
         const double t = parse_double(f, v);
         if (t < 0) fail(errors::kBadValue, std::string(f) + ": must be >= 0");
         o.check_tolerance = t;
       }},
      {"--saveOutputs", "Reporting", "<dir>",
       "Write each output to <dir>/<output name>.npy (the folder is created).",
       [](Options& o, std::string_view, std::string_view v) { o.save_outputs = v; }},
      {"--exportOutput", "Reporting", "<file>", "Write the outputs as JSON in trtexec's format.",
       [](Options& o, std::string_view, std::string_view v) { o.export_output = v; }},
      {"--dumpOutput",
       "Reporting",
       {},
       "Print every output value.",
       [](Options& o, std::string_view, std::string_view) { o.dump_output = true; }},
      {"--exportTimes", "Reporting", "<file>",
       "Write every timed inference's timestamps as JSON (trtexec's format).",
       [](Options& o, std::string_view, std::string_view v) { o.export_times = v; }},
      {"--exportProfile", "Reporting", "<file>",
       "Write per-step (fused layer) times as JSON (trtexec's format), measured in a separate run.",
       [](Options& o, std::string_view, std::string_view v) { o.export_profile = v; }},
      {"--dumpProfile",
       "Reporting",
       {},
       "Print per-step (fused layer) times, measured in a separate run without a CUDA graph.",
       [](Options& o, std::string_view, std::string_view) { o.dump_profile = true; }},
      {"--separateProfileRun",
       "Reporting",
       {},
       "Accepted for trtexec command lines: rtx always profiles in a separate run.",
       [](Options& o, std::string_view, std::string_view) {
         o.notes.push_back("--separateProfileRun: rtx always profiles in a separate run");
       }},
      {"--json",
       "Reporting",
       {},
       "With `rtx inspect`: print JSON instead of text.",
       [](Options& o, std::string_view, std::string_view) { o.json = true; }},
      {"--verbose",
       "Reporting",
       {},
       "Print more: the parsed network, per-stage build times, all warnings.",
       [](Options& o, std::string_view, std::string_view) { o.verbose = true; }},
      {"--stronglyTyped",
       "Reporting",
       {},
       "Accepted for trtexec command lines: rtx networks are always strongly typed.",
       [](Options& o, std::string_view, std::string_view) {
         o.notes.push_back("--stronglyTyped: rtx networks are always strongly typed");
       }},
      {"--profilingVerbosity", "Reporting", "<mode>",
       "Accepted for trtexec command lines: engines always keep kernel names.",
       [](Options& o, std::string_view, std::string_view) {
         o.notes.push_back("--profilingVerbosity: rtx engines always keep their kernel names");
       }},
      {"--help",
       "System",
       {},
       "Print this help (also -h).",
       [](Options& o, std::string_view, std::string_view) { o.command = Command::kHelp; }},
      {"--version",
       "System",
       {},
       "Print the version of rtx.",
       [](Options& o, std::string_view, std::string_view) { o.command = Command::kVersion; }},
  };
  return table;
}

// Flags of trtexec that rtx refuses on purpose, with what to do instead.
struct Refused {
  std::string_view names;  // space-separated
  std::string_view reason;
};

const std::vector<Refused>& refused_flags() {
  static const std::vector<Refused> table = {
      {"--fp16 --bf16 --int8 --fp8 --int4 --best --noTF32",
       "rtx networks are strongly typed, as in TensorRT 11: the model's own types decide the "
       "precision. Export the model in the precision you want (e.g. model.half() before "
       "torch.onnx.export) or quantize it with Q/DQ nodes"},
      {"--calib --calibProfile",
       "there is no implicit INT8 calibration: quantize the model with Q/DQ nodes before building"},
      {"--memPoolSize --workspace",
       "rtx plans activation memory exactly when it builds; there is no workspace pool to size"},
      {"--builderOptimizationLevel --maxTactics --timingCacheFile --avgTiming --minTiming "
       "--tilingOptimizationLevel --l2LimitForTiling --noCompilationCache",
       "rtx builds without a GPU, so it times no tactics; kernels are chosen by rule and compiled "
       "kernels are cached automatically"},
      {"--infStreams --streams --threads", "rtx benchmarks one inference stream"},
      {"--useDLACore --allowGPUFallback --buildDLAStandalone --safe --consistency",
       "rtx has no DLA or safety runtime"},
      {"--plugins --staticPlugins --dynamicPlugins --setPluginsToSerialize "
       "--ignoreParsedPluginLibs",
       "rtx has no plugins: an operator the parser lacks is reported by name"},
      {"--sparsity", "rtx has no structured-sparsity kernels"},
      {"--versionCompatible --vc --excludeLeanRuntime --useRuntime --leanDLLPath "
       "--hardwareCompatibilityLevel --runtimePlatform",
       "rtx engines are portable by construction: pick the target GPUs with --computeCapabilities"},
      {"--inputIOFormats --outputIOFormats --directIO --layerPrecisions --layerOutputTypes "
       "--precisionConstraints --layerDeviceTypes",
       "input and output tensors keep the model's dtypes and a linear layout"},
      {"--dumpLayerInfo --exportLayerInfo", "use `rtx inspect ENGINE` (add --json for machines)"},
      {"--uff --uffInput --uffNHWC --model --deploy --batch --maxBatch --output",
       "rtx reads ONNX models (--onnx)"},
      {"--useManagedMemory --exposeDMA --sleepTime --idleTime --timeDeserialize --timeRefit "
       "--persistentCacheRatio --optProfileIndex --allocationStrategy --saveDebugTensors "
       "--markDebug --dumpRefit --dumpRawBindingsToFile --tempdir --tempfileControls",
       "not supported by rtx"},
  };
  return table;
}

const Flag* find_flag(std::string_view name) {
  for (const auto& f : flag_table()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const Refused* find_refused(std::string_view name) {
  for (const auto& r : refused_flags()) {
    for (auto n : split(r.names, ' ')) {
      if (n == name) return &r;
    }
  }
  return nullptr;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggestion(std::string_view name) {
  std::string best;
  size_t best_d = 4;  // suggest only close misspellings
  for (const auto& f : flag_table()) {
    const size_t d = edit_distance(name, f.name);
    if (d < best_d) {
      best_d = d;
      best = std::string(f.name);
    }
  }
  return best.empty() ? std::string() : "; did you mean " + best + "?";
}

// Cross-flag rules, checked once every flag is known.
void validate(Options& o) {
  if (o.command == Command::kInspect) {
    if (o.inspect_file.empty())
      fail(errors::kMissing, "rtx inspect needs a file: rtx inspect ENGINE_OR_ONNX [--json]");
    return;
  }
  if (o.command != Command::kRun) return;
  if (o.json) fail(errors::kConflict, "--json is for `rtx inspect FILE --json`");
  if (o.onnx.empty() && o.load_engine.empty()) {
    fail(errors::kMissing,
         "no model: give --onnx=<model.onnx> or --loadEngine=<engine> (or `rtx inspect FILE`); "
         "see rtx --help");
  }
  if (!o.refit_from_onnx.empty() && o.load_engine.empty()) {
    fail(errors::kConflict, "--refitFromOnnx refits an engine: give it with --loadEngine");
  }
  if (!o.load_engine.empty() && !o.save_engine.empty() && o.refit_from_onnx.empty()) {
    fail(
        errors::kConflict,
        "--saveEngine writes a built or refit engine: with --loadEngine, give --refitFromOnnx too");
  }
  if (!o.load_engine.empty()) {
    for (const char* f : {"--minShapes", "--optShapes", "--maxShapes", "--computeCapabilities",
                          "--useGpu", "--stripWeights", "--refit", "--allowWeightStreaming"}) {
      const bool given =
          (std::string_view(f) == "--minShapes" && !o.min_shapes.empty()) ||
          (std::string_view(f) == "--optShapes" && !o.opt_shapes.empty()) ||
          (std::string_view(f) == "--maxShapes" && !o.max_shapes.empty()) ||
          (std::string_view(f) == "--computeCapabilities" && !o.compute_capabilities.empty()) ||
          (std::string_view(f) == "--useGpu" && o.use_gpu_target) ||
          (std::string_view(f) == "--stripWeights" && o.strip_weights) ||
          (std::string_view(f) == "--refit" && o.refit) ||
          (std::string_view(f) == "--allowWeightStreaming" && o.allow_weight_streaming);
      if (given)
        fail(errors::kConflict,
             std::string(f) + " is a build flag: it needs --onnx, not --loadEngine");
    }
  }
  // Profiles: only --optShapes, or all three (trtexec's rule).
  const bool has_min = !o.min_shapes.empty(), has_opt = !o.opt_shapes.empty(),
             has_max = !o.max_shapes.empty();
  if ((has_min || has_max) && !(has_min && has_opt && has_max)) {
    fail(errors::kConflict,
         "give only --optShapes, or all of --minShapes, --optShapes and --maxShapes");
  }
  if (has_opt && !has_min) {
    o.min_shapes = o.opt_shapes;
    o.max_shapes = o.opt_shapes;
  }
  for (const auto& [name, opt] : o.opt_shapes) {
    const auto* lo = find_shape(o.min_shapes, name);
    const auto* hi = find_shape(o.max_shapes, name);
    if (!lo || !hi)
      fail(errors::kConflict, "input " + in_quotes(name) +
                                  " is in --optShapes but not in both --minShapes and --maxShapes");
    if (lo->size() != opt.size() || hi->size() != opt.size()) {
      fail(errors::kBadValue,
           "input " + in_quotes(name) +
               ": --minShapes, --optShapes and --maxShapes have different ranks");
    }
    for (size_t i = 0; i < opt.size(); ++i) {
      if ((*lo)[i] > opt[i] || opt[i] > (*hi)[i]) {
        fail(errors::kBadValue, "input " + in_quotes(name) + ": dim " + std::to_string(i) +
                                    " needs min <= opt <= max, got " + std::to_string((*lo)[i]) +
                                    ", " + std::to_string(opt[i]) + ", " +
                                    std::to_string((*hi)[i]));
      }
    }
  }
  for (const auto& [name, lo] : o.min_shapes) {
    if (!find_shape(o.opt_shapes, name))
      fail(errors::kConflict,
           "input " + in_quotes(name) + " is in --minShapes but not in --optShapes");
  }
  for (const auto& [name, hi] : o.max_shapes) {
    if (!find_shape(o.opt_shapes, name))
      fail(errors::kConflict,
           "input " + in_quotes(name) + " is in --maxShapes but not in --optShapes");
  }
  for (const auto& [name, dims] : o.shapes) {
    const auto* lo = find_shape(o.min_shapes, name);
    const auto* hi = find_shape(o.max_shapes, name);
    if (!lo) continue;
    bool inside = lo->size() == dims.size();
    for (size_t i = 0; inside && i < dims.size(); ++i)
      inside = (*lo)[i] <= dims[i] && dims[i] <= (*hi)[i];
    if (!inside) {
      fail(errors::kBadValue, "--shapes: " + in_quotes(name) + " " + dims_to_string(dims) +
                                  " lies outside its profile [" + dims_to_string(*lo) + ", " +
                                  dims_to_string(*hi) + "]");
    }
  }
  if (o.use_gpu_target && !o.compute_capabilities.empty()) {
    fail(errors::kConflict,
         "--useGpu builds for this GPU only and cannot be combined with --computeCapabilities");
  }
  if (o.check && o.backend == Backend::kReference) {
    fail(errors::kConflict,
         "--check compares the GPU with the reference evaluator; with --backend=reference there is "
         "nothing to compare");
  }
  if (o.backend == Backend::kReference && (o.dump_profile || !o.export_profile.empty())) {
    fail(errors::kConflict,
         "--dumpProfile and --exportProfile time GPU kernels; they need --backend=gpu");
  }
  if (o.skip_inference) {
    if (o.check || !o.load_inputs.empty() || !o.export_output.empty() || !o.save_outputs.empty() ||
        !o.export_times.empty() || !o.export_profile.empty() || o.dump_profile || o.dump_output) {
      fail(errors::kConflict,
           "--skipInference runs nothing, so --check, --loadInputs, --saveOutputs, --exportOutput, "
           "--dumpOutput, --exportTimes, --exportProfile and --dumpProfile cannot apply");
    }
    if (o.save_engine.empty() && !o.onnx.empty()) {
      o.notes.push_back(
          "--skipInference without --saveEngine: the engine is built and then discarded");
    }
  }
  if (o.strip_weights && o.save_engine.empty()) {
    o.notes.push_back("--stripWeights without --saveEngine: no engine file is written");
  }
}

std::string wrap(std::string_view text, size_t indent, size_t width) {
  std::string out;
  size_t col = indent;
  for (auto word : split(text, ' ')) {
    if (word.empty()) continue;
    if (col > indent && col + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      col = indent;
    } else if (col > indent) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
  }
  return out;
}

}  // namespace

// ---- public helpers
// -------------------------------------------------------------------------------

std::string WeightStreamingBudget::describe() const {
  switch (kind) {
    case Kind::kDisabled:
      return "disabled (every weight on the device)";
    case Kind::kAutomatic:
      return "automatic";
    case Kind::kPercent: {
      std::ostringstream s;
      s << percent << "% of the streamable weights";
      return s.str();
    }
    case Kind::kBytes:
      return std::to_string(bytes) + " bytes";
  }
  return {};
}

std::string dims_to_string(std::span<const int64_t> dims) {
  if (dims.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += dims[i] < 0 ? "?" : std::to_string(dims[i]);
  }
  return s;
}

const std::vector<int64_t>* find_shape(const ShapeMap& map, std::string_view name) {
  for (const auto& [n, dims] : map) {
    if (n == name) return &dims;
  }
  return nullptr;
}

Expected<ShapeMap> parse_shape_list(std::string_view flag, std::string_view text) {
  return detail::catch_errors(errors::kBadValue, [&]() -> Expected<ShapeMap> {
    ShapeMap out;
    if (text.empty())
      fail(errors::kFlagValue, std::string(flag) + " needs a value: name:1x3x224x224[,name2:...]");
    for (auto item : split(text, ',')) {
      item = trim(item);
      auto [name, dims_text] = split_name_value(flag, item, "1x3x224x224");
      auto dims = parse_dims(flag, name, dims_text);
      for (const auto& [n, d] : out) {
        if (n == name)
          fail(errors::kRepeatedFlag, std::string(flag) + ": " + in_quotes(name) + " given twice");
      }
      out.emplace_back(std::move(name), std::move(dims));
    }
    return out;
  });
}

Expected<std::vector<int>> parse_compute_capabilities(std::string_view flag,
                                                      std::string_view text) {
  static constexpr int kKnown[] = {75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121};
  return detail::catch_errors(errors::kBadValue, [&]() -> Expected<std::vector<int>> {
    std::vector<int> out;
    if (text.empty())
      fail(errors::kFlagValue, std::string(flag) + " needs a value such as 80,86,89,90");
    for (auto item : split(text, ',')) {
      std::string_view s = trim(item);
      const std::string_view original = s;
      if (s.starts_with("sm_"))
        s.remove_prefix(3);
      else if (s.starts_with("sm"))
        s.remove_prefix(2);
      int cc = 0;
      const size_t dot = s.find('.');
      if (dot != std::string_view::npos) {
        const auto major = parse_int(flag, s.substr(0, dot), 1, 99);
        const auto minor = parse_int(flag, s.substr(dot + 1), 0, 9);
        cc = static_cast<int>(major * 10 + minor);
      } else {
        int64_t v = 0;
        const auto* end = s.data() + s.size();
        const auto [ptr, ec] = std::from_chars(s.data(), end, v);
        if (s.empty() || ec != std::errc() || ptr != end) {
          fail(errors::kBadValue, std::string(flag) + ": " + in_quotes(original) +
                                      " is not a compute capability (write 86, 8.6 or sm_86)");
        }
        cc = static_cast<int>(std::clamp<int64_t>(v, 0, 100000));
      }
      if (std::find(std::begin(kKnown), std::end(kKnown), cc) == std::end(kKnown)) {
        std::string known;
        for (int k : kKnown) known += (known.empty() ? "" : ", ") + std::to_string(k);
        fail(errors::kBadValue, std::string(flag) + ": " + in_quotes(original) +
                                    " is not a compute capability rtx builds for (known: " + known +
                                    ")");
      }
      if (std::find(out.begin(), out.end(), cc) != out.end()) {
        fail(errors::kBadValue, std::string(flag) + ": " + std::to_string(cc) + " given twice");
      }
      out.push_back(cc);
    }
    return out;
  });
}

Expected<uint64_t> parse_bytes(std::string_view flag, std::string_view text) {
  return detail::catch_errors(errors::kBadValue, [&]() -> Expected<uint64_t> {
    size_t n = 0;
    while (n < text.size() && (std::isdigit(static_cast<unsigned char>(text[n])) || text[n] == '.'))
      ++n;
    const std::string_view number = text.substr(0, n);
    std::string suffix(text.substr(n));
    for (auto& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (number.empty())
      fail(errors::kBadValue, std::string(flag) + ": " + in_quotes(text) +
                                  " is not a byte count (e.g. 512M, 1.5G, 1073741824)");
    const double v = parse_double(flag, number);
    double scale = 1;
    if (suffix.empty() || suffix == "B")
      scale = 1;
    else if (suffix == "K" || suffix == "KB" || suffix == "KIB")
      scale = 1024.0;
    else if (suffix == "M" || suffix == "MB" || suffix == "MIB")
      scale = 1024.0 * 1024;
    else if (suffix == "G" || suffix == "GB" || suffix == "GIB")
      scale = 1024.0 * 1024 * 1024;
    else if (suffix == "T" || suffix == "TB" || suffix == "TIB")
      scale = 1024.0 * 1024 * 1024 * 1024;
    else
      fail(errors::kBadValue, std::string(flag) + ": unknown size suffix " +
                                  in_quotes(text.substr(n)) + " (use B, K, M, G or T)");
    const double bytes = std::floor(v * scale);
    if (!(bytes < 18446744073709551616.0))
      fail(errors::kBadValue, std::string(flag) + ": " + in_quotes(text) + " is too large");
    return static_cast<uint64_t>(bytes);
  });
}

Expected<WeightStreamingBudget> parse_weight_streaming_budget(std::string_view flag,
                                                              std::string_view text) {
  return detail::catch_errors(errors::kBadValue, [&]() -> Expected<WeightStreamingBudget> {
    WeightStreamingBudget b;
    if (text == "-2") return b;
    if (text == "-1") {
      b.kind = WeightStreamingBudget::Kind::kAutomatic;
      return b;
    }
    if (!text.empty() && text.front() == '-') {
      fail(errors::kBadValue, std::string(flag) + ": " + in_quotes(text) +
                                  " is negative (use -1 for automatic, -2 to disable)");
    }
    if (!text.empty() && text.back() == '%') {
      b.kind = WeightStreamingBudget::Kind::kPercent;
      b.percent = parse_double(flag, text.substr(0, text.size() - 1));
      if (b.percent < 0 || b.percent > 100)
        fail(errors::kBadValue,
             std::string(flag) + ": " + in_quotes(text) + " is not in [0%, 100%]");
      return b;
    }
    b.kind = WeightStreamingBudget::Kind::kBytes;
    b.bytes = parse_bytes(flag, text).value();
    return b;
  });
}

Expected<std::vector<InputFile>> parse_input_files(std::string_view flag, std::string_view text) {
  return detail::catch_errors(errors::kBadValue, [&]() -> Expected<std::vector<InputFile>> {
    std::vector<InputFile> out;
    if (text.empty())
      fail(errors::kFlagValue, std::string(flag) + " needs a value: name:file[,name2:file2]");
    for (auto item : split(text, ',')) {
      item = trim(item);
      auto [name, path] = split_name_value(flag, item, "file");
      if (path.empty())
        fail(errors::kBadValue, std::string(flag) + ": no file for input " + in_quotes(name));
      for (const auto& have : out) {
        if (have.name == name)
          fail(errors::kRepeatedFlag,
               std::string(flag) + ": input " + in_quotes(name) + " given twice");
      }
      out.push_back({std::move(name), std::string(path)});
    }
    return out;
  });
}

std::vector<std::string> known_flags() {
  std::vector<std::string> out;
  for (const auto& f : flag_table()) out.emplace_back(f.name);
  return out;
}

std::string help_text() {
  std::ostringstream s;
  s << "rtx: build, run, benchmark, check and inspect rtx engines.\n\n"
       "Usage:\n"
       "  rtx --onnx=model.onnx [--saveEngine=model.rtxe] [build flags] [inference flags]\n"
       "  rtx --loadEngine=model.rtxe [inference flags]\n"
       "  rtx --onnx=model.onnx --backend=reference [--loadInputs=...] [--saveOutputs=dir]\n"
       "  rtx inspect FILE [--json]\n\n"
       "Flags take values as --flag=value (or --flag value). Exit status: 0 success, 1 failure\n"
       "(including a failed --check), 2 a wrong command line.\n";
  std::string_view group;
  for (const auto& f : flag_table()) {
    if (f.group != group) {
      group = f.group;
      s << "\n" << group << ":\n";
    }
    std::string head = "  " + std::string(f.name);
    if (!f.meta.empty()) head += "=" + std::string(f.meta);
    constexpr size_t kHelpColumn = 34;
    if (head.size() + 2 > kHelpColumn) {
      s << head << "\n" << std::string(kHelpColumn, ' ');
    } else {
      s << head << std::string(kHelpColumn - head.size(), ' ');
    }
    s << wrap(f.help, kHelpColumn, 100) << "\n";
  }
  s << "\nDefaults follow TensorRT 11 and tensorrt_rtx: CUDA graph on, spin wait on, no data\n"
       "transfers in the timed loop. The TensorRT 10 switches (--useCudaGraph, --useSpinWait,\n"
       "--noDataTransfers) are accepted and select those same defaults.\n";
  return s.str();
}

Expected<Options> parse_options(std::span<const std::string> args) {
  return detail::catch_errors(errors::kBadValue, [&]() -> Expected<Options> {
    Options o;
    std::set<std::string_view> seen;
    std::map<std::string_view, std::string_view> exclusive_seen;
    bool positional_done = false;
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& arg = args[i];
      if (arg == "-h") {
        o.command = Command::kHelp;
        continue;
      }
      if (!arg.starts_with("--")) {
        if (!positional_done && i == 0 && arg == "inspect") {
          o.command = Command::kInspect;
          continue;
        }
        if (o.command == Command::kInspect && o.inspect_file.empty() && !positional_done) {
          o.inspect_file = arg;
          positional_done = true;
          continue;
        }
        if (arg.starts_with("-") && arg.size() > 1) {
          fail(errors::kUnknownFlag,
               "unknown flag " + in_quotes(arg) + ": rtx flags start with -- (see rtx --help)");
        }
        fail(errors::kPositional,
             "unexpected argument " + in_quotes(arg) +
                 ": flags start with -- and take values as --flag=value; `rtx inspect FILE` "
                 "is the only command with a plain argument");
      }
      const size_t eq = arg.find('=');
      const std::string_view name = std::string_view(arg).substr(0, eq);
      const Flag* flag = find_flag(name);
      if (!flag) {
        if (const Refused* r = find_refused(name)) {
          fail(errors::kUnsupportedFlag,
               std::string(name) +
                   " is a trtexec flag that rtx does not take: " + std::string(r->reason));
        }
        fail(errors::kUnknownFlag,
             "unknown flag " + in_quotes(name) + suggestion(name) + " (see rtx --help)");
      }
      std::string_view value;
      if (flag->meta.empty()) {
        if (eq != std::string::npos) {
          fail(errors::kFlagValue, std::string(name) + " is a switch and takes no value (got " +
                                       in_quotes(arg.substr(eq)) + ")");
        }
      } else if (eq != std::string::npos) {
        value = std::string_view(arg).substr(eq + 1);
        if (value.empty())
          fail(errors::kFlagValue, std::string(name) + " needs a value: " + std::string(name) +
                                       "=" + std::string(flag->meta));
      } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
        value = args[++i];
      } else {
        fail(errors::kFlagValue, std::string(name) + " needs a value: " + std::string(name) + "=" +
                                     std::string(flag->meta));
      }
      if (!flag->repeatable && !seen.insert(flag->name).second) {
        fail(errors::kRepeatedFlag, std::string(name) + " is given twice");
      }
      if (!flag->exclusive.empty()) {
        auto [it, fresh] = exclusive_seen.emplace(flag->exclusive, flag->name);
        if (!fresh && it->second != flag->name) {
          fail(errors::kConflict, std::string(it->second) + " and " + std::string(name) +
                                      " contradict each other: give one");
        }
      }
      flag->apply(o, name, value);
    }
    if (o.command == Command::kInspect) {
      for (auto f : seen) {
        if (f != "--json" && f != "--verbose") {
          fail(errors::kConflict,
               "rtx inspect takes only --json and --verbose, not " + std::string(f));
        }
      }
    }
    validate(o);
    return o;
  });
}

}  // namespace rtx::cli
