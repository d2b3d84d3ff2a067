// SPDX-License-Identifier: Apache-2.0
// The `rtx` program (see cli.hpp). A run goes through up to five stages, each optional and each
// reported as it happens, trtexec-style ("[I]" information, "[W]" warnings, "[E]" errors, and the
// "&&&& RUNNING / PASSED / FAILED" lines scripts grep for):
//   1. import   --onnx: the ONNX parser (warnings printed, errors with their ids);
//   2. build    the Builder with a progress display, then --saveEngine;
//   3. refit    --refitFromOnnx: fill a (stripped) engine's weights from ONNX initializers;
//   4. run      the engine on the GPU (gpu_run.hpp) or the network on the reference evaluator;
//   5. report   outputs (--saveOutputs, --exportOutput, --dumpOutput), times, --check.
#include "tools/rtx/cli.hpp"

#include <chrono>
#include <cstdio>
#include <optional>

#include "ir/graph.hpp"
#include "rtx/builder.hpp"
#include "rtx/config.hpp"
#include "rtx/network.hpp"
#include "rtx/onnx.hpp"
#include "rtx/reference.hpp"
#include "serialization/reader.hpp"
#include "serialization/refitter.hpp"
#include "serialization/validity.hpp"
#include "serialization/writer.hpp"
#include "tools/rtx/check.hpp"
#include "tools/rtx/engine_network.hpp"
#include "tools/rtx/errors.hpp"
#include "tools/rtx/gpu_run.hpp"
#include "tools/rtx/inspect.hpp"
#include "tools/rtx/npy.hpp"
#include "tools/rtx/options.hpp"
#include "tools/rtx/progress.hpp"
#include "tools/rtx/report.hpp"
#include "tools/rtx/tensor_io.hpp"

namespace rtx::cli {
namespace {

using Clock = std::chrono::steady_clock;
using OutputList = std::vector<std::pair<std::string, HostTensor>>;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string fixed(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof(b), "%.*f", digits, v);
  return b;
}

std::string tensor_line(const ir::Graph& g, ir::ValueId v) {
  const auto& val = g.value(v);
  return val.name + " " + std::string(to_string(val.info.dtype)) + " " +
         dims_to_string(val.info.shape);
}

// The inputs of a network as tensor_io sees them (dims, dim names, profile).
std::vector<TensorDesc> network_inputs(const Network& net) {
  const ir::Graph& g = detail::graph_of(net);
  std::vector<TensorDesc> out;
  for (auto v : g.inputs()) {
    const auto& val = g.value(v);
    TensorDesc d{val.name, val.info.dtype, val.info.shape, val.dim_names, {}, {}, {}};
    if (auto it = g.profiles().find(val.name); it != g.profiles().end()) {
      d.min = it->second.min;
      d.opt = it->second.opt;
      d.max = it->second.max;
    }
    out.push_back(std::move(d));
  }
  return out;
}

class PrintingRecorder : public ErrorRecorder {
 public:
  PrintingRecorder(std::ostream& out, bool verbose) : out_(out), verbose_(verbose) {}
  void report(Severity severity, const Error& error) override {
    ErrorRecorder::report(severity, error);
    if (severity == Severity::kWARNING) out_ << "[W] " << error.to_string() << "\n";
    if (severity == Severity::kINFO && verbose_) out_ << "[I] " << error.to_string() << "\n";
  }

 private:
  std::ostream& out_;
  bool verbose_;
};

class Run {
 public:
  Run(const Options& o, std::span<const std::string> args, std::ostream& out, std::ostream& err,
      const Environment& env)
      : o_(o), out_(out), err_(err), env_(env) {
    cmdline_ = "rtx";
    for (const auto& a : args) cmdline_ += " " + a;
  }

  int operator()() {
    out_ << "&&&& RUNNING rtx # " << cmdline_ << "\n";
    for (const auto& n : o_.notes) out_ << "[I] Note: " << n << "\n";
    const int code = stages();
    out_ << (code == kExitOk ? "&&&& PASSED" : "&&&& FAILED") << " rtx # " << cmdline_ << "\n";
    return code;
  }

 private:
  int fail(const Error& e) {
    err_ << "[E] " << e.to_string() << "\n";
    return kExitFailure;
  }

  int stages() {
    backend_ = o_.backend;
    check_ = o_.check;
    if (backend_ == Backend::kAuto) {
      auto gpu = gpu_description(o_.device);
      if (gpu) {
        backend_ = Backend::kGpu;
      } else {
        backend_ = Backend::kReference;
        out_ << "[I] --backend=auto: " << gpu.error().message
             << "; the network runs on the CPU reference evaluator instead\n";
        if (check_) out_ << "[I] --check: nothing to compare without a GPU\n";
        check_ = false;
        if (o_.dump_profile || !o_.export_profile.empty()) {
          out_ << "[I] --dumpProfile/--exportProfile: no GPU kernels to time\n";
        }
      }
    }
    // Fail before a long build when its only purpose, running here, cannot happen.
    if (backend_ == Backend::kGpu && !o_.skip_inference && o_.save_engine.empty()) {
      if (auto gpu = gpu_description(o_.device); !gpu) return no_gpu(gpu.error());
    }
    if (!o_.onnx.empty()) {
      if (int code = import(); code != kExitOk) return code;
      // --backend=auto builds even when it then runs on the CPU: the build is half the point.
      const bool build =
          backend_ == Backend::kGpu || o_.backend == Backend::kAuto || !o_.save_engine.empty();
      if (build) {
        if (int code = build_engine(); code != kExitOk) return code;
      }
    } else if (!o_.refit_from_onnx.empty()) {
      if (int code = refit_from_onnx(); code != kExitOk) return code;
    } else {
      engine_.path = o_.load_engine;
    }
    if (o_.skip_inference) {
      out_ << "[I] --skipInference: nothing is run\n";
      return kExitOk;
    }
    return backend_ == Backend::kReference ? run_reference() : run_gpu();
  }

  // ---- 1. import ----
  int import() {
    const auto t = Clock::now();
    PrintingRecorder recorder(out_, o_.verbose);
    onnx::Parser parser(&recorder);
    auto net = parser.parse_from_file(o_.onnx);
    if (!net) return fail(net.error());
    network_ = std::move(*net);
    const ir::Graph& g = detail::graph_of(*network_);
    out_ << "[I] Parsed " << o_.onnx << " in " << fixed(ms_since(t), 1)
         << " ms: " << network_->num_layers() << " layers\n";
    for (auto v : g.inputs()) out_ << "[I]   input  " << tensor_line(g, v) << "\n";
    for (auto v : g.outputs()) out_ << "[I]   output " << tensor_line(g, v) << "\n";
    if (o_.verbose) out_ << network_->to_text();
    // The command line's profile also bounds reference runs of the network.
    for (const auto& [name, opt] : o_.opt_shapes) {
      network_->set_profile(name, *find_shape(o_.min_shapes, name), opt,
                            *find_shape(o_.max_shapes, name));
    }
    if (!network_->ok()) return fail(network_->status().error());
    return kExitOk;
  }

  // ---- 2. build ----
  int build_engine() {
    const ir::Graph& g = detail::graph_of(*network_);
    BuilderConfig config;
    if (o_.use_gpu_target) {
      config.set_compute_capabilities({ComputeCapability::kCURRENT});
    } else if (!o_.compute_capabilities.empty()) {
      std::vector<ComputeCapability> targets;
      for (int cc : o_.compute_capabilities) targets.push_back(static_cast<ComputeCapability>(cc));
      config.set_compute_capabilities(std::move(targets));
    }
    if (o_.strip_weights) config.set_flag(BuilderFlag::kSTRIP_PLAN);
    if (o_.refit) config.set_flag(BuilderFlag::kREFIT);
    if (o_.allow_weight_streaming) config.set_flag(BuilderFlag::kWEIGHT_STREAMING);
    for (const auto& [name, opt] : o_.opt_shapes) {
      config.set_profile(name,
                         {*find_shape(o_.min_shapes, name), opt, *find_shape(o_.max_shapes, name)});
    }
    // Without min/opt/max, --shapes makes a single-shape profile (trtexec's rule).
    std::vector<ir::ValueId> unbounded;
    for (auto v : g.inputs()) {
      const auto& val = g.value(v);
      const bool dynamic = std::any_of(val.info.shape.begin(), val.info.shape.end(),
                                       [](int64_t d) { return d < 0; });
      if (!dynamic || config.profiles().count(val.name) || g.profiles().count(val.name)) continue;
      if (const auto* s = find_shape(o_.shapes, val.name)) {
        config.set_profile(val.name, {*s, *s, *s});
        continue;
      }
      unbounded.push_back(v);
    }
    // An input whose dynamic dims all carry symbolic names (ONNX dim_param) that a bounded input
    // also carries takes those extents at each bound: --shapes=input_ids:2x16 fixes the
    // attention mask of a BERT export too.
    for (auto v : unbounded) {
      const auto& val = g.value(v);
      std::vector<int64_t> bound[3];
      bool named = val.dim_names.size() == val.info.shape.size();
      for (int b = 0; b < 3 && named; ++b) {
        bound[b] = val.info.shape;
        for (size_t d = 0; d < bound[b].size() && named; ++d) {
          if (bound[b][d] >= 0) continue;
          named = false;
          for (auto u : g.inputs()) {
            const auto& other = g.value(u);
            const auto p = config.profiles().find(other.name);
            if (p == config.profiles().end() || other.dim_names.size() != other.info.shape.size()) continue;
            const auto& dims = b == 0 ? p->second.min : b == 1 ? p->second.opt : p->second.max;
            for (size_t e = 0; e < other.dim_names.size() && e < dims.size() && !named; ++e)
              if (!val.dim_names[d].empty() && other.dim_names[e] == val.dim_names[d]) {
                bound[b][d] = dims[e];
                named = true;
              }
            if (named) break;
          }
        }
      }
      if (named) {
        config.set_profile(val.name, {bound[0], bound[1], bound[2]});
        continue;
      }
      std::string example;
      for (int64_t d : val.info.shape)
        example += (example.empty() ? "" : "x") + std::to_string(d < 0 ? 1 : d);
      return fail(Error{errors::kShapeNeeded,
                        "input '" + val.name + "' has dynamic dims " +
                            dims_to_string(val.info.shape) +
                            ": building needs its range, e.g. --minShapes=" + val.name + ":" +
                            example + " --optShapes=... --maxShapes=..., or --shapes=" + val.name +
                            ":" + example + " for one shape"});
    }
    PrintingRecorder recorder(out_, o_.verbose);
    config.set_error_recorder(&recorder);
    ProgressDisplay progress(out_, env_.terminal, o_.verbose);
    config.set_progress_callback([&](const BuildProgress& p) {
      progress.update({std::string(to_string(p.stage)), p.completed, p.total, p.kernels,
                       p.cache_hits, p.message});
    });
    std::string targets;
    for (int cc : o_.compute_capabilities)
      targets += (targets.empty() ? "sm_" : ", sm_") + std::to_string(cc);
    out_ << "[I] Building for "
         << (o_.use_gpu_target ? "this GPU"
             : targets.empty() ? "every default target"
                               : targets)
         << (o_.strip_weights ? ", weights stripped" : "") << (o_.refit ? ", refittable" : "")
         << (o_.allow_weight_streaming ? ", weight streaming" : "") << "\n";
    Builder builder;
    BuildReport report;
    auto engine = builder.build_serialized_network(*network_, config, &report);
    progress.finish();
    if (!engine) return fail(engine.error());
    out_ << "[I] Engine built in " << fixed(report.seconds, 2) << " s: " << report.kernels
         << " kernels x " << report.images << " images (" << report.cache_hits
         << " from the kernel cache); " << report.kernel_steps << " kernel, " << report.host_steps
         << " host and " << report.alias_steps << " alias steps; weights "
         << human_bytes(static_cast<uint64_t>(report.weight_bytes)) << "; activations "
         << human_bytes(static_cast<uint64_t>(report.activation_peak_bytes)) << " peak (sum "
         << human_bytes(static_cast<uint64_t>(report.activation_sum_bytes)) << "); engine "
         << human_bytes(engine->size()) << "\n";
    if (!report.host_ops.empty()) {
      std::string ops;
      for (size_t i = 0; i < report.host_ops.size() && i < 8; ++i)
        ops += (i ? ", " : "") + report.host_ops[i];
      if (report.host_ops.size() > 8) ops += ", ...";
      out_ << "[W] " << report.host_ops.size()
           << " op(s) run on the host (no GPU kernel yet): " << ops << "\n";
    }
    if (!o_.save_engine.empty()) {
      if (auto saved = engine->save(o_.save_engine); !saved) return fail(saved.error());
      out_ << "[I] Engine saved to " << o_.save_engine << "\n";
    }
    engine_.bytes = engine->release();
    if (o_.strip_weights && !o_.skip_inference && backend_ == Backend::kGpu) {
      // The saved engine stays weightless; the one run here gets the model's weights back.
      auto model = serialization::read_engine(std::vector<uint8_t>(engine_.bytes));
      if (!model) return fail(model.error());
      auto refit = refit_model(*model, [&](const std::string& name) -> const HostTensor* {
        const ir::ValueId v = g.find_value(name);
        return v == ir::kNoValue ? nullptr : g.constant_data(v);
      });
      if (!refit) return fail(refit.error());
      engine_.bytes = std::move(*refit);
      out_ << "[I] The engine runs here with the model's weights refit into it\n";
    }
    return kExitOk;
  }

  // Fills every weight of `model` from `lookup` and returns the full engine's bytes.
  template <class Lookup>
  Expected<std::vector<uint8_t>> refit_model(const serialization::EngineModel& model,
                                             Lookup lookup) {
    PrintingRecorder recorder(out_, o_.verbose);
    serialization::Refitter refitter(model, &recorder);
    for (const auto& name : refitter.weight_names()) {
      const HostTensor* t = lookup(name);
      if (!t) continue;  // refit() lists every weight left without a value
      if (auto r = refitter.set_named_weights(name, *t); !r) return r.error();
    }
    auto full = refitter.refit();
    if (!full) return full.error();
    return serialization::write_engine(*full);
  }

  // ---- 3. refit ----
  int refit_from_onnx() {
    const auto t = Clock::now();
    auto model = serialization::read_engine_file(o_.load_engine);
    if (!model) return fail(model.error());
    auto initializers = onnx::read_initializers(o_.refit_from_onnx);
    if (!initializers) return fail(initializers.error());
    size_t used = 0;
    auto bytes = refit_model(*model, [&](const std::string& name) -> const HostTensor* {
      auto it = initializers->find(name);
      if (it == initializers->end()) return nullptr;
      ++used;
      return &it->second;
    });
    if (!bytes) return fail(bytes.error());
    out_ << "[I] Refit " << used << " weight(s) of " << o_.load_engine << " from "
         << o_.refit_from_onnx << " in " << fixed(ms_since(t), 1) << " ms\n";
    if (!o_.save_engine.empty()) {
      HostMemory memory(*bytes);
      if (auto saved = memory.save(o_.save_engine); !saved) return fail(saved.error());
      out_ << "[I] Engine saved to " << o_.save_engine << "\n";
    }
    engine_.bytes = std::move(*bytes);
    return kExitOk;
  }

  // The network to run on the reference evaluator: the imported one, or the engine's own.
  int ensure_network() {
    if (network_) return kExitOk;
    auto model = engine_.bytes.empty()
                     ? serialization::read_engine_file(engine_.path)
                     : serialization::read_engine(std::vector<uint8_t>(engine_.bytes));
    if (!model) return fail(model.error());
    auto net = network_from_engine(*model);
    if (!net) return fail(net.error());
    network_ = std::move(*net);
    out_ << "[I] Using the network stored in the engine (" << network_->num_layers()
         << " layers)\n";
    return kExitOk;
  }

  Expected<OutputList> evaluate(const std::vector<std::pair<std::string, InputChoice>>& inputs,
                                double* ms) {
    std::map<std::string, HostTensor> feed;
    for (const auto& [name, in] : inputs) feed.emplace(name, in.tensor);
    const auto t = Clock::now();
    auto outputs = evaluate_reference(*network_, feed);
    *ms = ms_since(t);
    if (!outputs) return outputs.error();
    OutputList ordered;
    for (const auto& name : network_->output_names()) ordered.emplace_back(name, outputs->at(name));
    return ordered;
  }

  // ---- 4a. the reference evaluator ----
  int run_reference() {
    if (int code = ensure_network(); code != kExitOk) return code;
    out_ << "[I] Backend: reference evaluator (CPU, exact rounding; no GPU timing)\n";
    auto inputs = prepare_inputs(network_inputs(*network_), o_);
    if (!inputs) return fail(inputs.error());
    for (const auto& [name, in] : *inputs) {
      out_ << "[I] Input '" << name << "': " << to_string(in.tensor.dtype()) << " "
           << dims_to_string(in.tensor.shape()) << " from " << in.source << "\n";
    }
    double ms = 0;
    auto outputs = evaluate(*inputs, &ms);
    if (!outputs) return fail(outputs.error());
    out_ << "[I] Reference run: 1 inference in " << fixed(ms, 2) << " ms\n";
    return emit_outputs(*outputs);
  }

  // ---- 4b. the GPU ----
  int no_gpu(const Error& why) {
    return fail(Error{errors::kNoGpu,
                      why.message +
                          ": running an engine needs a GPU. Use --backend=reference to run the "
                          "network on the CPU reference evaluator, or --skipInference (with "
                          "--saveEngine) to build only"});
  }

  int run_gpu() {
    if (auto gpu = gpu_description(o_.device); !gpu) return no_gpu(gpu.error());
    auto run = run_on_gpu(engine_, o_, out_);
    if (!run) return fail(run.error());
    if (!o_.export_times.empty()) {
      if (auto w = write_text_file(o_.export_times, times_json(run->traces), errors::kOutputWrite);
          !w)
        return fail(w.error());
      out_ << "[I] Times of " << run->traces.size() << " inferences written to " << o_.export_times
           << "\n";
    }
    if (o_.dump_profile) print_profile(out_, run->profile, run->profile_runs);
    if (!o_.export_profile.empty()) {
      if (auto w = write_text_file(o_.export_profile, profile_json(run->profile, run->profile_runs),
                                   errors::kOutputWrite);
          !w)
        return fail(w.error());
      out_ << "[I] Profile of " << run->profile.size() << " steps over " << run->profile_runs
           << " runs written to " << o_.export_profile << "\n";
    }
    if (int code = emit_outputs(run->outputs); code != kExitOk) return code;
    if (check_) return check(run->inputs, run->outputs);
    return kExitOk;
  }

  // ---- 5. outputs and --check ----
  int emit_outputs(const OutputList& outputs) {
    for (const auto& [name, t] : outputs) {
      out_ << "[I] Output '" << name << "': " << summarize(t) << "\n";
      if (o_.dump_output) dump_values(out_, t);
    }
    if (!o_.save_outputs.empty()) {
      auto written = save_outputs_npy(o_.save_outputs, outputs);
      if (!written) return fail(written.error());
      for (size_t k = 0; k < outputs.size(); ++k) {
        const DataType dt = outputs[k].second.dtype();
        out_ << "[I] Saved " << (*written)[k];
        if (npy_storage_type(dt) != dt)
          out_ << " (" << to_string(dt) << " widened to " << to_string(npy_storage_type(dt))
               << ", exactly)";
        out_ << "\n";
      }
    }
    if (!o_.export_output.empty()) {
      if (auto w = write_text_file(o_.export_output, output_json(outputs), errors::kOutputWrite);
          !w)
        return fail(w.error());
      out_ << "[I] Outputs written to " << o_.export_output << "\n";
    }
    return kExitOk;
  }

  int check(const std::vector<std::pair<std::string, InputChoice>>& inputs,
            const OutputList& outputs) {
    if (int code = ensure_network(); code != kExitOk) return code;
    double ms = 0;
    auto reference = evaluate(inputs, &ms);
    if (!reference) return fail(reference.error());
    out_ << "[I] === Check against the reference evaluator (" << fixed(ms, 1)
         << " ms on the CPU) ===\n";
    int failures = 0;
    for (const auto& [name, got] : outputs) {
      const HostTensor* ref = nullptr;
      for (const auto& [rname, r] : *reference) {
        if (rname == name) ref = &r;
      }
      if (!ref) {
        out_ << "[E] " << name << ": the reference has no such output\n";
        ++failures;
        continue;
      }
      const Comparison c = compare_outputs(got, *ref, o_.check_tolerance.value_or(-1));
      out_ << (c.pass ? "[I] " : "[E] ") << name << " (" << to_string(ref->dtype()) << " "
           << dims_to_string(ref->shape()) << "): " << describe(c) << "\n";
      if (!c.pass) {
        ++failures;
        if (c.worst_index >= 0) {
          out_ << "[E]   worst element #" << c.worst_index << ": got "
               << format_value(got, c.worst_index) << ", reference "
               << format_value(*ref, c.worst_index) << "\n";
        }
      }
    }
    if (failures) {
      return fail(Error{errors::kCheckFailed,
                        std::to_string(failures) + " of " + std::to_string(outputs.size()) +
                            " output(s) differ from the reference evaluator"});
    }
    out_ << "[I] Check passed: " << outputs.size() << " output(s) match the reference evaluator\n";
    return kExitOk;
  }

  const Options& o_;
  std::ostream& out_;
  std::ostream& err_;
  const Environment& env_;
  std::string cmdline_;
  std::optional<Network> network_;
  EngineSource engine_;
  Backend backend_ = Backend::kGpu;  // --backend=auto resolved
  bool check_ = false;
};

}  // namespace

int run_cli(std::span<const std::string> args, std::ostream& out, std::ostream& err,
            const Environment& env) {
  auto parsed = parse_options(args);
  if (!parsed) {
    err << "[E] " << parsed.error().to_string() << "\n";
    return kExitUsage;
  }
  const Options& o = *parsed;
  switch (o.command) {
    case Command::kHelp:
      out << help_text();
      return kExitOk;
    case Command::kVersion:
      out << "rtx " << RTX_VERSION_MAJOR << "." << RTX_VERSION_MINOR << "." << RTX_VERSION_PATCH
          << " (engine format " << serialization::kFormatVersion << ")\n";
      return kExitOk;
    case Command::kInspect:
      return run_inspect(o.inspect_file, o.json, o.verbose, out, err,
                         serialization::query_device_facts);
    case Command::kRun:
      break;
  }
  try {
    return Run(o, args, out, err, env)();
  } catch (const std::exception& e) {
    err << "[E] " << errors::kInternal << ": internal error: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace rtx::cli
