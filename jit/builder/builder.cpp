// SPDX-License-Identifier: Apache-2.0
// rtx::Builder: network -> passes -> kernel plan -> NVRTC per target -> memory plan -> engine file.
// Nothing here needs a GPU (except ComputeCapability::kCURRENT, which asks the GPU what it is).
// The engine depends only on the network's structure and the configuration, never on weight
// values: weights are never folded into constants or kernels, which is what makes a stripped engine
// refit to the very bytes of the engine built with its weights.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "ir/fusion.hpp"
#include "ir/graph.hpp"
#include "ir/op_registry.hpp"
#include "ir/passes.hpp"
#include "ir/quant_passes.hpp"
#include "jit/builder/planner.hpp"
#include "jit/cache.hpp"
#include "jit/compiler.hpp"
#include "jit/device.hpp"
#include "jit/gating.hpp"
#include "jit/runtime/errors.hpp"
#include "jit/runtime/memory_plan.hpp"
#include "jit/runtime/resolve.hpp"
#include "jit/thread_pool.hpp"
#include "rtx/builder.hpp"
#include "serialization/writer.hpp"

namespace rtx {

std::string_view to_string(BuildStage stage) {
  switch (stage) {
    case BuildStage::kPASSES: return "passes";
    case BuildStage::kPLANNING: return "planning";
    case BuildStage::kCOMPILING: return "compiling";
    case BuildStage::kWRITING: return "writing";
    case BuildStage::kDONE: return "done";
  }
  return "?";
}

Expected<void> HostMemory::save(const std::filesystem::path& path) const {
  return detail::catch_errors(builder::errc::kWrite, [&]() -> Expected<void> {
    const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    const auto tmp = dir / ("." + path.filename().string() + ".tmp");
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) return Error{builder::errc::kWrite, "cannot create '" + tmp.string() + "'"};
      out.write(reinterpret_cast<const char*>(bytes_.data()), static_cast<std::streamsize>(bytes_.size()));
      out.flush();
      if (!out) return Error{builder::errc::kWrite, "cannot write '" + tmp.string() + "'"};
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      std::filesystem::remove(tmp, ec);
      return Error{builder::errc::kWrite, "cannot rename the engine into '" + path.string() + "'"};
    }
    return {};
  });
}

namespace builder {
namespace {

using ir::ValueId;

/// Constant folding that never folds weights: a weight-dependent result would make the engine
/// depend on weight values (breaking refit and stripped engines). Otherwise as ir::fold_constants.
void fold_constants_keep_weights(ir::Graph& graph, const ir::PassOptions& options) {
  ir::PassOptions keep = options;
  keep.keep_weights = true;
  ir::fold_constants(graph, keep);
}

/// All-zero zero points of QuantizeLinear / DequantizeLinear that are weights become constants:
/// symmetric quantization is what lets a Q/DQ pattern run as an integer or fp8 GEMM (those kernels
/// have no zero points), so the engine's kernels depend on it and a refit must not change it.
/// A weight also read as anything else stays a weight.
void freeze_zero_points(ir::Graph& graph, const ir::PassOptions&) {
  std::map<ValueId, bool> only_zero_point;  // weight -> every reader takes it as a zero point
  for (const ir::Node& n : graph.nodes()) {
    if (n.dead) continue;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const ValueId v = n.inputs[i];
      if (v == ir::kNoValue || graph.value(v).kind != ir::ValueKind::kWeight) continue;
      const bool zero_point = i == 2 && (n.op == ir::OpKind::kQuantizeLinear || n.op == ir::OpKind::kDequantizeLinear);
      auto [it, fresh] = only_zero_point.emplace(v, zero_point);
      if (!fresh) it->second = it->second && zero_point;
    }
  }
  for (ValueId v : graph.outputs())
    if (auto it = only_zero_point.find(v); it != only_zero_point.end()) it->second = false;
  for (const auto& [v, zero_point] : only_zero_point) {
    const HostTensor* data = graph.constant_data(v);
    if (!zero_point || data == nullptr) continue;
    bool zero = true;
    for (int64_t i = 0; zero && i < data->element_count(); ++i) zero = data->get_double(i) == 0.0;
    if (zero) graph.make_constant(v, HostTensor(*data));
  }
}

/// A graph output that is an input, weight or constant (after folding) gets an Identity node, so
/// every output is written by a step of the plan (into the user's buffer).
void materialize_outputs(ir::Graph& graph, const ir::PassOptions&) {
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    const ValueId v = graph.outputs()[i];
    if (graph.value(v).kind == ir::ValueKind::kIntermediate) continue;
    const std::string name = graph.value(v).name;
    const bool also_input = graph.value(v).kind == ir::ValueKind::kInput;
    if (also_input)
      throw Exception(errc::kUnplannable, "'" + name + "' is both an input and an output of the network; "
                                       "give the output its own name (rtx::identity)");
    graph.rename_value(v, graph.unique_name(name + ".data"));
    const ir::NodeId n = graph.add_node(ir::OpKind::kIdentity, graph.unique_name(name + ".copy"), {v}, 1, {}, {name});
    graph.infer_node(n);
    graph.outputs()[i] = graph.node(n).outputs[0];
  }
}

}  // namespace

std::span<const ir::Pass> builder_pipeline() {
  static constexpr std::array<ir::Pass, 9> kPasses = {{
      {"fold_constants", fold_constants_keep_weights},
      {"fuse_patterns", ir::fuse_patterns},
      {"fold_constants_again", fold_constants_keep_weights},
      {"remove_identities", ir::remove_identities},
      {"remove_dead_nodes", ir::remove_dead_nodes},
      {"freeze_zero_points", freeze_zero_points},
      {"fold_quantized_gemms", ir::fold_quantized_gemms},
      {"materialize_outputs", materialize_outputs},
      {"infer_shapes", [](ir::Graph& g, const ir::PassOptions&) { g.infer_shapes(); }},
  }};
  return kPasses;
}

namespace {

std::vector<jit::Target> resolve_targets(const BuilderConfig& config) {
  const auto& ccs = config.compute_capabilities();
  std::vector<jit::Target> targets;
  if (ccs.empty()) {
    targets = jit::default_targets();
    if (!config.ptx()) std::erase_if(targets, [](const jit::Target& t) { return t.ptx; });
    if (targets.empty()) throw Exception(errc::kBadTargets, "the installed NVRTC supports none of the default targets");
    return targets;
  }
  const bool current = std::find(ccs.begin(), ccs.end(), ComputeCapability::kCURRENT) != ccs.end();
  if (current) {
    if (ccs.size() != 1)
      throw Exception(errc::kBadTargets, "ComputeCapability::kCURRENT must be the only compute capability");
    auto info = jit::device_info(0);
    if (!info)
      throw Exception(errc::kNoGpu, "ComputeCapability::kCURRENT needs a GPU on this machine: " + info.error().message +
                                        "; list the target compute capabilities instead");
    // The engine runs on this GPU alone, so on Hopper it may use the arch-specific sm_90a
    // instructions (wgmma, TMA): the GEMM planner then picks the wgmma kernel.
    const jit::Target t{info->sm(), info->sm() == 90, false};
    if (auto ok = jit::check_target(t); !ok)
      throw Exception(errc::kBadTargets, "this GPU (sm_" + std::to_string(t.sm) + ") is not a target of the installed NVRTC: " +
                                             ok.error().message);
    return {t};
  }
  std::set<int> seen;
  for (ComputeCapability cc : ccs) {
    const int sm = static_cast<int>(cc);
    if (!seen.insert(sm).second)
      throw Exception(errc::kBadTargets, "compute capability " + std::to_string(sm / 10) + "." +
                                             std::to_string(sm % 10) + " is listed twice");
    const jit::Target t{sm, false, false};
    if (auto ok = jit::check_target(t); !ok)
      throw Exception(errc::kBadTargets, "cannot build for sm_" + std::to_string(sm) + ": " + ok.error().message);
    targets.push_back(t);
  }
  std::sort(targets.begin(), targets.end());
  if (config.ptx()) targets.push_back(jit::Target{targets.front().sm, false, true});
  return targets;
}

void apply_profiles(ir::Graph& graph, const BuilderConfig& config) {
  for (const auto& [name, dims] : config.profiles()) {
    const ValueId v = graph.find_value(name);
    if (v == ir::kNoValue || graph.value(v).kind != ir::ValueKind::kInput)
      throw Exception(errc::kUnknownProfile, "optimization profile for '" + name + "', which is not an input of the network");
  }
  for (ValueId v : graph.inputs()) {
    const ir::Value& in = graph.value(v);
    ir::InputProfile p;
    if (auto c = config.profiles().find(in.name); c != config.profiles().end()) {
      p = ir::InputProfile{c->second.min, c->second.opt, c->second.max};
    } else if (auto it = graph.profiles().find(in.name); it != graph.profiles().end()) {
      p = it->second;
    } else {
      if (!in.info.is_static())
        throw Exception(errc::kNoProfile, "input '" + in.name + "' " + ir::describe(in.info) +
                                              " has dynamic dims but no optimization profile; set one with "
                                              "Network::set_profile or BuilderConfig::set_profile");
      continue;
    }
    const size_t rank = in.info.shape.size();
    const auto bad = [&](const std::string& what) {
      throw Exception(errc::kBadProfile, "optimization profile of input '" + in.name + "' " + ir::describe(in.info) +
                                             ": " + what);
    };
    if (p.min.size() != rank || p.opt.size() != rank || p.max.size() != rank)
      bad("min/opt/max need " + std::to_string(rank) + " dims each");
    for (size_t d = 0; d < rank; ++d) {
      if (p.min[d] < 0) bad("dim " + std::to_string(d) + " has a negative minimum");
      if (!(p.min[d] <= p.opt[d] && p.opt[d] <= p.max[d]))
        bad("dim " + std::to_string(d) + ": min <= opt <= max does not hold (" + std::to_string(p.min[d]) + ", " +
            std::to_string(p.opt[d]) + ", " + std::to_string(p.max[d]) + ")");
      const int64_t fixed = in.info.shape[d];
      if (fixed != ir::kDynamic && (p.min[d] != fixed || p.max[d] != fixed))
        bad("dim " + std::to_string(d) + " is fixed at " + std::to_string(fixed) + " but the profile varies it");
    }
    graph.set_profile(in.name, p);
  }
}

nlohmann::json io_entry(const runtime::PlanValue& v, const ir::Graph& graph) {
  nlohmann::json e = {{"name", v.name}, {"dtype", std::string(to_string(v.info.dtype))}, {"shape", v.info.shape}};
  // Symbolic dim names let tools give inputs that share a dim one extent (FORMAT.md).
  const ir::ValueId id = graph.find_value(v.name);
  if (id != ir::kNoValue && !graph.value(id).dim_names.empty()) e["dim_names"] = graph.value(id).dim_names;
  return e;
}

struct CompileOutcome {
  std::vector<jit::CompiledImage> images;
  int64_t cache_hits = 0;
};

CompileOutcome compile_engine(const jit::Program& program, const std::vector<jit::Target>& targets,
                              const BuilderConfig& config, int64_t kernels) {
  CompileOutcome out;
  auto canonical = jit::canonicalize(program);
  if (!canonical) throw Exception(errc::kCompile, canonical.error().to_string());
  std::unique_ptr<jit::KernelCache> own_cache;
  jit::KernelCache* cache = &jit::KernelCache::global();
  if (!config.kernel_cache_directory().empty()) {
    own_cache = std::make_unique<jit::KernelCache>(config.kernel_cache_directory());
    cache = own_cache.get();
  }
  std::vector<std::optional<Expected<jit::CompiledImage>>> results(targets.size());
  std::mutex mutex;
  int64_t done = 0;
  const auto& progress = config.progress_callback();
  jit::ThreadPool::shared().parallel_for(targets.size(), [&](size_t i) {
    auto image = cache->get_or_compile(*canonical, targets[i]);
    std::lock_guard lock(mutex);
    ++done;
    const bool hit = image && image->seconds == 0.0;
    out.cache_hits += hit ? 1 : 0;
    if (progress) {
      char msg[128];
      if (!image) {
        std::snprintf(msg, sizeof msg, "%s failed", targets[i].to_string().c_str());
      } else if (hit) {
        std::snprintf(msg, sizeof msg, "%s from the kernel cache", targets[i].to_string().c_str());
      } else {
        std::snprintf(msg, sizeof msg, "%s compiled in %.1f s", targets[i].to_string().c_str(), image->seconds);
      }
      progress(BuildProgress{BuildStage::kCOMPILING, done, static_cast<int64_t>(targets.size()), kernels,
                             out.cache_hits, msg});
    }
    results[i] = std::move(image);
  });
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!*results[i])
      throw Exception(errc::kCompile, "compiling the engine's kernels for " + targets[i].to_string() + " failed: " +
                                          results[i]->error().to_string());
    out.images.push_back(std::move(results[i]->value()));
  }
  return out;
}

}  // namespace
}  // namespace builder

Expected<HostMemory> Builder::build_serialized_network(const Network& network, const BuilderConfig& config,
                                                       BuildReport* report) const {
  namespace be = builder::errc;
  auto result = detail::catch_errors(be::kInternal, [&]() -> Expected<HostMemory> {
    const auto start = std::chrono::steady_clock::now();
    if (auto ok = network.status(); !ok) return ok.error();
    if (network.output_names().empty())
      return Error{be::kNoOutputs, "the network has no outputs; mark at least one with Network::output"};
    const auto& progress = config.progress_callback();
    const auto stage = [&](BuildStage s, std::string message) {
      if (progress) progress(BuildProgress{s, 0, 0, 0, 0, std::move(message)});
    };
    const bool stream = config.get_flag(BuilderFlag::kWEIGHT_STREAMING);
    const bool strip = config.get_flag(BuilderFlag::kSTRIP_PLAN);
    const bool refit = config.get_flag(BuilderFlag::kREFIT);
    std::vector<jit::Target> targets = builder::resolve_targets(config);

    // ---- passes ----
    stage(BuildStage::kPASSES, "running IR passes");
    ir::Graph graph = detail::graph_of(network);  // a copy: the user's network stays as it is
    builder::apply_profiles(graph, config);
    ir::run_passes(graph, builder::builder_pipeline());
    graph.verify();

    // ---- hardware gating: types a target cannot run (FP8 < 8.9, FP4 < 10.0, ...) ----
    std::vector<Error> gating_warnings;
    {
      auto gate = jit::check_hardware_support(graph, targets, !config.compute_capabilities().empty(), nullptr);
      ErrorRecorder* recorder = config.error_recorder();
      if (!gate.ok) {  // the first error is returned (and recorded below), the others recorded here
        for (size_t i = 1; recorder != nullptr && i < gate.errors.size(); ++i)
          recorder->report(Severity::kERROR, gate.errors[i]);
        return gate.errors.front();
      }
      for (const Error& w : gate.warnings)
        if (recorder != nullptr) recorder->report(Severity::kWARNING, w);
      gating_warnings = std::move(gate.warnings);
      targets = std::move(gate.targets);
    }

    // ---- plan ----
    stage(BuildStage::kPLANNING, "choosing kernels");
    builder::PlannerOptions popts;
    popts.targets = targets;
    builder::KernelPlan kp = builder::plan_kernels(graph, popts);
    runtime::ExecutionPlan& plan = kp.plan;
    runtime::validate_plan(plan);
    // Memory at the largest shapes (what the header promises), and a resolution at the smallest
    // and optimal ones too, so a profile the graph cannot run is an error now, not at run time.
    runtime::Resolution at_max = runtime::resolve(plan, runtime::profile_shapes(plan, 2));
    (void)runtime::resolve(plan, runtime::profile_shapes(plan, 0));
    (void)runtime::resolve(plan, runtime::profile_shapes(plan, 1));
    int64_t device_weight_bytes = 0, weight_bytes = 0;
    for (size_t v = 0; v < plan.values.size(); ++v) {
      const auto kind = plan.values[v].kind;
      if (kind != ir::ValueKind::kWeight && kind != ir::ValueKind::kConstant) continue;
      if (kind == ir::ValueKind::kWeight) weight_bytes += at_max.bytes[v];
      if (at_max.need_device[v]) device_weight_bytes += runtime::align_up(at_max.bytes[v], 256);
    }
    if (stream) {
      // Weights that only kernels read may stay in host memory and stream in.
      std::vector<char> host_read(plan.values.size(), 0), kernel_read(plan.values.size(), 0);
      for (const auto& s : plan.steps)
        for (int32_t v : s.inputs) (s.kind == runtime::StepKind::kKernel ? kernel_read : host_read)[static_cast<size_t>(v)] = 1;
      for (size_t v = 0; v < plan.values.size(); ++v)
        if (plan.values[v].kind == ir::ValueKind::kWeight && kernel_read[v] && !host_read[v] && at_max.bytes[v] > 0)
          plan.streamable.push_back(static_cast<int32_t>(v));
    }

    // ---- compile ----
    const jit::Program program = builder::engine_program(kp.kernels);
    builder::CompileOutcome compiled;
    if (!kp.kernels.empty()) {
      if (progress)
        progress(BuildProgress{BuildStage::kCOMPILING, 0, static_cast<int64_t>(targets.size()),
                               static_cast<int64_t>(kp.kernels.size()), 0, "compiling"});
      compiled = builder::compile_engine(program, targets, config, static_cast<int64_t>(kp.kernels.size()));
    }

    // ---- engine ----
    stage(BuildStage::kWRITING, "writing the engine");
    serialization::EngineModel model;
    model.refittable = refit;
    model.weight_streaming = stream;
    const std::string nvrtc = jit::nvrtc_version();
    const auto dot = nvrtc.find('.');
    const uint32_t nv_major = static_cast<uint32_t>(std::stoul(nvrtc.substr(0, dot)));
    const uint32_t nv_minor = dot == std::string::npos ? 0 : static_cast<uint32_t>(std::stoul(nvrtc.substr(dot + 1)));
    // Cubins and PTX from this NVRTC need a driver of its CUDA version.
    model.min_driver_version = kp.kernels.empty() ? 0 : nv_major * 1000 + nv_minor * 10;
    model.min_runtime_version = 0;
    model.device_memory_bytes = static_cast<uint64_t>(device_weight_bytes + at_max.arena_bytes);
    nlohmann::json inputs = nlohmann::json::array(), outputs = nlohmann::json::array();
    for (int32_t v : plan.inputs) inputs.push_back(builder::io_entry(plan.values[static_cast<size_t>(v)], graph));
    for (int32_t v : plan.outputs) outputs.push_back(builder::io_entry(plan.values[static_cast<size_t>(v)], graph));
    nlohmann::json profile = nlohmann::json::object();
    for (const auto& [name, p] : plan.profiles)
      profile[name] = {{"min", p.min}, {"opt", p.opt}, {"max", p.max}};
    nlohmann::json ccs = nlohmann::json::array();
    for (const auto& t : targets)
      if (!t.ptx) ccs.push_back(t.sm);
    nlohmann::json flags = nlohmann::json::array();
    if (stream) flags.push_back("kWEIGHT_STREAMING");
    // kSTRIP_PLAN is not recorded: the header says whether weights are present, and a refit
    // stripped engine must serialize to the bytes of the engine built with its weights.
    if (refit) flags.push_back("kREFIT");
    model.metadata = {
        {"rtx.version", std::to_string(RTX_VERSION_MAJOR) + "." + std::to_string(RTX_VERSION_MINOR) + "." +
                            std::to_string(RTX_VERSION_PATCH)},
        {"network.inputs", inputs},
        {"network.outputs", outputs},
        {"profiles", plan.profiles.empty() ? nlohmann::json::array() : nlohmann::json::array({profile})},
        {"plan", runtime::plan_to_json(plan)},
        {"builder.compute_capabilities", ccs},
        {"builder.flags", flags},
        {"builder.nvrtc_version", nvrtc},
        {"plan.activation_peak_bytes", at_max.arena_bytes},
        {"plan.activation_sum_bytes", at_max.activation_sum},
    };
    for (const auto& img : compiled.images) {
      serialization::KernelImage ki;
      ki.kind = img.target.ptx ? serialization::ImageKind::kPTX : serialization::ImageKind::kCUBIN;
      ki.cc = static_cast<uint16_t>(img.target.sm);
      ki.arch_specific = img.target.arch_specific;
      std::vector<uint8_t> bytes = img.image;
      if (img.target.ptx) bytes.push_back(0);  // the format stores PTX NUL-terminated
      ki.bytes = serialization::Blob::own(std::move(bytes));
      ki.compress();  // 4-5x smaller: what keeps a weightless engine small (FORMAT.md, version 2)
      model.images.push_back(std::move(ki));
    }
    for (const auto& k : kp.kernels) {
      serialization::KernelEntry e;
      e.name_expression = k.name_expression;
      for (size_t i = 0; i < compiled.images.size(); ++i) {
        const std::string* lowered = compiled.images[i].lowered_name(k.name_expression);
        if (lowered == nullptr)
          throw Exception(be::kCompile, "NVRTC gave no lowered name for '" + k.name_expression + "'");
        if (i == 0) e.lowered_name = *lowered;
        else if (*lowered != e.lowered_name)
          throw Exception(be::kCompile, "'" + k.name_expression + "' lowers to different names per target");
        e.images.push_back(static_cast<uint32_t>(i));
      }
      // Grid, block and dynamic shared memory depend on the run-time shapes: the family's launch
      // function computes them from the spec (docs/runtime.md, "Launch contracts").
      e.launch = {{"grid", "family"}, {"block", "family"}, {"family", k.family}, {"spec", k.spec}};
      e.dynamic_shared_memory_bytes = 0;
      model.kernels.push_back(std::move(e));
    }
    std::set<int32_t> streamable(plan.streamable.begin(), plan.streamable.end());
    for (size_t v = 0; v < plan.values.size(); ++v) {
      const runtime::PlanValue& pv = plan.values[v];
      if (pv.kind != ir::ValueKind::kWeight) continue;
      serialization::WeightEntry w;
      w.name = pv.name;
      w.dtype = pv.info.dtype;
      w.shape = pv.info.shape;
      w.streamable = streamable.count(static_cast<int32_t>(v)) > 0;
      w.data = pv.data;
      model.weights.push_back(std::move(w));
    }
    serialization::WriteOptions wopts;
    wopts.exclude_weights = strip;
    auto bytes = serialization::write_engine(model, wopts);
    if (!bytes) return Error{be::kWrite, "writing the engine failed: " + bytes.error().to_string()};

    if (report) {
      *report = BuildReport{};
      for (const auto& s : plan.steps) {
        report->kernel_steps += s.kind == runtime::StepKind::kKernel;
        report->host_steps += s.kind == runtime::StepKind::kHost;
        report->alias_steps += s.kind == runtime::StepKind::kAlias || s.kind == runtime::StepKind::kCopy;
      }
      report->kernels = static_cast<int64_t>(kp.kernels.size());
      report->images = static_cast<int64_t>(compiled.images.size());
      report->cache_hits = compiled.cache_hits;
      report->weight_bytes = weight_bytes;
      report->activation_peak_bytes = at_max.arena_bytes;
      report->activation_sum_bytes = at_max.activation_sum;
      report->host_ops = kp.host_ops;
      for (const Error& w : gating_warnings) report->warnings.push_back(w.to_string());
      report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    stage(BuildStage::kDONE, "engine of " + std::to_string(bytes->size()) + " bytes");
    return HostMemory(std::move(*bytes));
  });
  if (!result && config.error_recorder() != nullptr) config.error_recorder()->report(Severity::kERROR, result.error());
  return result;
}

}  // namespace rtx
