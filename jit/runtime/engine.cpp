// SPDX-License-Identifier: Apache-2.0
// Runtime::deserialize and rtx::Engine: verify the engine, read its plan, pick the image for this
// GPU (the exact cubin, else the PTX compiled here through the runtime cache: "suboptimal"), load
// the kernels, upload the weights (or place them for weight streaming).
#include <algorithm>
#include <cstring>

#include "jit/runtime/engine_state.hpp"
#include "jit/runtime/errors.hpp"
#include "jit/runtime/kernel_steps.hpp"
#include "jit/runtime/ptx_cache.hpp"
#include "serialization/reader.hpp"

namespace rtx {
namespace detail {
namespace {

namespace errc = runtime::errc;

Error cuda_error(const char* id, const std::string& what, cudaError_t e) {
  cudaGetLastError();
  return Error{id, what + ": " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")"};
}

bool assert_no_jit() {
  const char* v = std::getenv("RTX_ASSERT_NO_JIT");
  return v != nullptr && *v != 0 && std::string_view(v) != "0";
}

/// Bytes of the streamable weights one step reads (their roots), 256-aligned each.
int64_t step_streamable_bytes(const EngineState& s, const runtime::Step& step, const std::vector<char>& streamable) {
  int64_t total = 0;
  std::vector<int32_t> seen;
  for (int32_t v : step.inputs) {
    if (!streamable[static_cast<size_t>(v)] || std::find(seen.begin(), seen.end(), v) != seen.end()) continue;
    seen.push_back(v);
    total += runtime::align_up(static_cast<int64_t>(s.plan.values[static_cast<size_t>(v)].data.byte_size()), 256);
  }
  return total;
}

Expected<Engine> load(serialization::EngineModel model, const RuntimeCache& cache, ErrorRecorder* recorder) {
  auto st = std::make_shared<EngineState>();
  st->model = std::move(model);
  serialization::EngineModel& m = st->model;
  if (m.weights_stripped)
    return Error{errc::kNoWeights, "the engine has no weights (built with kSTRIP_PLAN): refit it with its weights "
                                   "(serialization Refitter, or the CLI's --refit) before running it"};
  st->plan = runtime::plan_from_json(m.metadata.at("plan"));
  runtime::ExecutionPlan& plan = st->plan;
  runtime::validate_plan(plan);
  for (const auto& step : plan.steps) {
    if (step.kind != runtime::StepKind::kKernel) continue;
    if (step.kernel < 0 || static_cast<size_t>(step.kernel) >= m.kernels.size())
      return Error{errc::kBadPlan, "engine plan is malformed: a step uses kernel " + std::to_string(step.kernel) +
                                       " of " + std::to_string(m.kernels.size())};
    if (auto ok = runtime::check_kernel_step(plan, step); !ok) return ok.error();
  }
  for (auto& v : plan.values) {
    if (v.kind != ir::ValueKind::kWeight) continue;
    const auto* w = m.find_weight(v.name);
    if (w == nullptr || w->dtype != v.info.dtype || w->shape != v.info.shape)
      return Error{errc::kBadPlan, "engine plan is malformed: weight '" + v.name + "' is not in the weights table as planned"};
    v.data = w->data;
  }

  // ---- the GPU ----
  int device = 0;
  if (cudaError_t e = cudaGetDevice(&device); e != cudaSuccess)
    return cuda_error(errc::kNoDevice, "no usable GPU (cudaGetDevice)", e);
  auto info = jit::device_info(device);
  if (!info) return Error{errc::kNoDevice, "no usable GPU: " + info.error().message};
  st->device = device;
  st->info = *info;
  const int sm = info->sm();

  // ---- image: the exact cubin, else the newest PTX not newer than this GPU (FORMAT.md) ----
  if (!m.kernels.empty()) {
    const serialization::KernelImage* chosen = nullptr;
    size_t chosen_index = 0;
    for (size_t i = 0; i < m.images.size(); ++i) {
      const auto& img = m.images[i];
      if (img.kind == serialization::ImageKind::kCUBIN && img.cc == sm) {
        if (chosen == nullptr || chosen->kind != serialization::ImageKind::kCUBIN || img.arch_specific) {
          chosen = &img;
          chosen_index = i;
        }
      }
    }
    if (chosen == nullptr) {
      for (size_t i = 0; i < m.images.size(); ++i) {
        const auto& img = m.images[i];
        if (img.kind == serialization::ImageKind::kPTX && img.cc <= sm && !img.arch_specific &&
            (chosen == nullptr || img.cc > chosen->cc)) {
          chosen = &img;
          chosen_index = i;
        }
      }
    }
    if (chosen == nullptr) {
      std::string have;
      for (const auto& img : m.images) have += (have.empty() ? "" : ", ") + img.target_name();
      return Error{errc::kNoImage, "the engine has no image for this GPU (" + info->name + ", sm_" + std::to_string(sm) +
                                       "); it holds " + have + ": rebuild it for compute capability " +
                                       std::to_string(sm / 10) + "." + std::to_string(sm % 10)};
    }
    (void)chosen_index;
    st->target = chosen->target_name();
    // Only the chosen image is inflated; the reader has checked that it inflates.
    const serialization::Blob image = chosen->contents();
    Expected<jit::Module> module = Error{errc::kLoad, "not loaded"};
    if (chosen->kind == serialization::ImageKind::kCUBIN) {
      module = jit::Module::load(image.bytes(), false);
    } else {
      st->suboptimal = true;
      if (runtime::ptx_compiler_available() || assert_no_jit()) {
        auto cubin = runtime::cubin_for_ptx(cache, image.bytes(), sm);
        if (!cubin) return cubin.error();
        module = jit::Module::load(*cubin, false);
      } else {
        // No nvJitLink here: the driver JIT-compiles the PTX (its own disk cache keeps it).
        module = jit::Module::load(image.bytes(), true);
      }
      if (recorder)
        recorder->report(Severity::kWARNING,
                         Error{errc::kNoImage, "no cubin for sm_" + std::to_string(sm) + " in the engine: running its " +
                                                   st->target + " PTX compiled on this machine (suboptimal)"});
    }
    if (!module) {
      const bool no_device = module.error().id == "rtx.jit.201";
      return Error{no_device ? errc::kNoDevice : errc::kLoad, "loading the " + st->target + " image: " + module.error().message};
    }
    st->module = std::make_unique<jit::Module>(std::move(*module));
    int optin = 0;
    cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    for (const auto& entry : m.kernels) {
      auto k = st->module->kernel(entry.lowered_name);
      if (!k) return Error{errc::kLoad, "kernel '" + entry.name_expression + "': " + k.error().message};
      // Touch each kernel now (lazy loading would otherwise load it inside a CUDA graph capture)
      // and allow all the dynamic shared memory the GPU has: launches decide how much they use.
      int allowed = 48 * 1024;
      cudaFuncAttributes attr{};
      if (cudaFuncGetAttributes(&attr, k->handle()) == cudaSuccess) {
        const int dynamic = optin - static_cast<int>(attr.sharedSizeBytes);
        if (dynamic > allowed && k->set_max_dynamic_shared_memory(dynamic)) allowed = dynamic;
      }
      cudaGetLastError();  // a failure here is retried per launch size at binding
      st->kernel_by_name.emplace(entry.name_expression, static_cast<int32_t>(st->kernels.size()));
      st->kernels.push_back(*k);
      st->smem_allowed.push_back(allowed);
    }
  }

  // ---- I/O, memory at the profile bounds, weights ----
  st->io_values = plan.inputs;
  st->num_inputs = plan.inputs.size();
  st->io_values.insert(st->io_values.end(), plan.outputs.begin(), plan.outputs.end());
  // Symbolic dim names (ONNX dim_param), optional in the metadata: inputs, then outputs.
  for (const char* key : {"network.inputs", "network.outputs"}) {
    const auto& list = m.metadata.at(key);
    for (size_t i = 0; i < list.size(); ++i) {
      std::vector<std::string> names;
      if (list[i].contains("dim_names") && list[i]["dim_names"].is_array())
        for (const auto& d : list[i]["dim_names"]) names.push_back(d.is_string() ? d.get<std::string>() : std::string());
      st->io_dim_names.push_back(std::move(names));
    }
  }
  st->io_dim_names.resize(st->io_values.size());
  const size_t n = plan.values.size();
  st->device_data.assign(n, 0);
  for (int which = 0; which < 3; ++which) {
    const runtime::Resolution r = runtime::resolve(plan, runtime::profile_shapes(plan, which));
    st->max_arena = std::max(st->max_arena, r.arena_bytes);
    for (size_t v = 0; v < n; ++v) st->device_data[v] = st->device_data[v] || r.storage[v] == runtime::Storage::kEngine;
  }
  // A kernel step that falls back to the host at some shape reads its weights on the host, but a
  // step that does not must find them on the device: keep every weight a kernel step reads.
  for (const auto& step : plan.steps)
    if (step.kind == runtime::StepKind::kKernel || step.kind == runtime::StepKind::kCopy)
      for (int32_t v : step.inputs) {
        const auto kind = plan.values[static_cast<size_t>(v)].kind;
        if (kind == ir::ValueKind::kWeight || kind == ir::ValueKind::kConstant) st->device_data[static_cast<size_t>(v)] = 1;
      }
  for (int32_t v : plan.streamable)
    if (st->device_data[static_cast<size_t>(v)])
      st->streamable_total += runtime::align_up(static_cast<int64_t>(plan.values[static_cast<size_t>(v)].data.byte_size()), 256);
  if (!m.weight_streaming) st->streamable_total = 0;
  if (auto ok = st->place_weights(st->streamable_total); !ok) return ok.error();
  return Engine(std::move(st));
}

}  // namespace

Expected<void> DeviceMemory::reserve(int64_t n) {
  if (n <= bytes && ptr != nullptr) return {};
  reset();
  if (n <= 0) return {};
  if (cudaError_t e = cudaMalloc(&ptr, static_cast<size_t>(n)); e != cudaSuccess) {
    ptr = nullptr;
    return cuda_error(errc::kOutOfMemory, "allocating " + std::to_string(n) + " bytes of device memory", e);
  }
  bytes = n;
  return {};
}

Expected<void> PinnedMemory::reserve(int64_t n) {
  if (n <= bytes && ptr != nullptr) return {};
  reset();
  if (n <= 0) return {};
  if (cudaError_t e = cudaHostAlloc(&ptr, static_cast<size_t>(n), cudaHostAllocDefault); e != cudaSuccess) {
    ptr = nullptr;
    return cuda_error(errc::kOutOfMemory, "allocating " + std::to_string(n) + " bytes of pinned host memory", e);
  }
  bytes = n;
  return {};
}

EngineState::~EngineState() {
  if (weights.ptr || pinned.ptr) cudaDeviceSynchronize();
}

Expected<void> EngineState::place_weights(int64_t new_budget) {
  std::lock_guard lock(mutex);
  const size_t n = plan.values.size();
  std::vector<char> streamable(n, 0);
  if (model.weight_streaming)
    for (int32_t v : plan.streamable) streamable[static_cast<size_t>(v)] = device_data[static_cast<size_t>(v)];
  const auto bytes_of = [&](size_t v) { return runtime::align_up(static_cast<int64_t>(plan.values[v].data.byte_size()), 256); };

  // Which streamable weights stay resident: all within a full budget; otherwise the budget pays
  // first for the two staging slots (at most twice the largest step's streamable weights), and
  // the rest goes to the largest weights that fit (fewest bytes to move per run).
  std::vector<char> resident(n, 0), stream(n, 0);
  if (new_budget >= streamable_total) {
    for (size_t v = 0; v < n; ++v) resident[v] = device_data[v];
  } else {
    int64_t staging = 0;
    for (const auto& step : plan.steps)
      if (step.kind == runtime::StepKind::kKernel || step.kind == runtime::StepKind::kCopy)
        staging = std::max(staging, step_streamable_bytes(*this, step, streamable));
    int64_t left = std::max<int64_t>(0, new_budget - 2 * staging);
    std::vector<size_t> order;
    for (size_t v = 0; v < n; ++v) {
      if (!device_data[v]) continue;
      if (!streamable[v]) {
        resident[v] = 1;
        continue;
      }
      order.push_back(v);
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return bytes_of(a) > bytes_of(b); });
    for (size_t v : order) {
      if (bytes_of(v) <= left) {
        resident[v] = 1;
        left -= bytes_of(v);
      } else {
        stream[v] = 1;
      }
    }
  }
  cudaSetDevice(device);
  cudaDeviceSynchronize();  // the old placement may still be read by a run in flight
  int64_t device_bytes = 0, host_bytes = 0;
  weight_offset.assign(n, -1);
  pinned_offset.assign(n, -1);
  for (size_t v = 0; v < n; ++v) {
    if (resident[v]) {
      weight_offset[v] = device_bytes;
      device_bytes += bytes_of(v);
    } else if (stream[v]) {
      pinned_offset[v] = host_bytes;
      host_bytes += bytes_of(v);
    }
  }
  weights.reset();
  pinned.reset();
  if (auto ok = weights.reserve(device_bytes); !ok) return ok;
  if (auto ok = pinned.reserve(host_bytes); !ok) return ok;
  for (size_t v = 0; v < n; ++v) {
    const HostTensor& data = plan.values[v].data;
    const auto size = data.byte_size();
    if (size == 0) continue;
    if (weight_offset[v] >= 0) {
      if (cudaError_t e = cudaMemcpy(static_cast<char*>(weights.ptr) + weight_offset[v], data.data(), size, cudaMemcpyHostToDevice);
          e != cudaSuccess)
        return cuda_error(errc::kOutOfMemory, "uploading weight '" + plan.values[v].name + "'", e);
    } else if (pinned_offset[v] >= 0) {
      std::memcpy(static_cast<char*>(pinned.ptr) + pinned_offset[v], data.data(), size);
    }
  }
  streamed = std::move(stream);
  budget = std::min(new_budget, streamable_total);
  generation.fetch_add(1);
  return {};
}

}  // namespace detail

// ---- Runtime --------------------------------------------------------------------------------------

Expected<Engine> Runtime::deserialize(std::span<const uint8_t> bytes) const {
  return deserialize(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

Expected<Engine> Runtime::deserialize(std::vector<uint8_t>&& bytes) const {
  return detail::catch_errors(runtime::errc::kInternal, [&]() -> Expected<Engine> {
    auto model = serialization::read_engine(std::move(bytes));
    if (!model) return model.error();
    return detail::load(std::move(*model), cache_, recorder_);
  });
}

Expected<Engine> Runtime::deserialize_file(const std::filesystem::path& path) const {
  return detail::catch_errors(runtime::errc::kInternal, [&]() -> Expected<Engine> {
    auto model = serialization::read_engine_file(path);
    if (!model) return model.error();
    return detail::load(std::move(*model), cache_, recorder_);
  });
}

// ---- Engine ---------------------------------------------------------------------------------------

namespace {

int32_t io_index(const detail::EngineState& s, std::string_view name) {
  for (size_t i = 0; i < s.io_values.size(); ++i)
    if (s.plan.values[static_cast<size_t>(s.io_values[i])].name == name) return static_cast<int32_t>(i);
  return -1;
}

Error unknown(const detail::EngineState& s, std::string_view name) {
  std::string names;
  for (int32_t v : s.io_values) names += (names.empty() ? "" : ", ") + s.plan.values[static_cast<size_t>(v)].name;
  return Error{runtime::errc::kUnknownTensor, "the engine has no input or output '" + std::string(name) + "' (it has " + names + ")"};
}

}  // namespace

int32_t Engine::num_io_tensors() const { return static_cast<int32_t>(state_->io_values.size()); }

std::string Engine::io_tensor_name(int32_t index) const {
  if (index < 0 || static_cast<size_t>(index) >= state_->io_values.size()) return {};
  return state_->plan.values[static_cast<size_t>(state_->io_values[static_cast<size_t>(index)])].name;
}

Expected<TensorIOMode> Engine::tensor_io_mode(std::string_view name) const {
  const int32_t i = io_index(*state_, name);
  if (i < 0) return unknown(*state_, name);
  return static_cast<size_t>(i) < state_->num_inputs ? TensorIOMode::kINPUT : TensorIOMode::kOUTPUT;
}

Expected<DataType> Engine::tensor_dtype(std::string_view name) const {
  const int32_t i = io_index(*state_, name);
  if (i < 0) return unknown(*state_, name);
  return state_->plan.values[static_cast<size_t>(state_->io_values[static_cast<size_t>(i)])].info.dtype;
}

Expected<std::vector<int64_t>> Engine::tensor_shape(std::string_view name) const {
  const int32_t i = io_index(*state_, name);
  if (i < 0) return unknown(*state_, name);
  return state_->plan.values[static_cast<size_t>(state_->io_values[static_cast<size_t>(i)])].info.shape;
}

Expected<std::vector<std::string>> Engine::tensor_dim_names(std::string_view name) const {
  const int32_t i = io_index(*state_, name);
  if (i < 0) return unknown(*state_, name);
  return state_->io_dim_names[static_cast<size_t>(i)];
}

Expected<std::vector<int64_t>> Engine::profile_shape(std::string_view name, OptProfileSelector which) const {
  const int32_t i = io_index(*state_, name);
  if (i < 0 || static_cast<size_t>(i) >= state_->num_inputs) {
    if (i >= 0) return Error{runtime::errc::kUnknownTensor, "'" + std::string(name) + "' is an output; profiles bound inputs"};
    return unknown(*state_, name);
  }
  const auto& v = state_->plan.values[static_cast<size_t>(state_->io_values[static_cast<size_t>(i)])];
  auto it = state_->plan.profiles.find(v.name);
  if (it == state_->plan.profiles.end()) return v.info.shape;
  return which == OptProfileSelector::kMIN ? it->second.min : which == OptProfileSelector::kOPT ? it->second.opt : it->second.max;
}

bool Engine::is_suboptimal() const { return state_->suboptimal; }
std::string Engine::image_target() const { return state_->target; }
int64_t Engine::num_kernels() const { return static_cast<int64_t>(state_->kernels.size()); }
int64_t Engine::device_memory_size() const { return state_->max_arena; }
int64_t Engine::weight_device_bytes() const { return state_->weights.bytes; }
int64_t Engine::streamable_weights_size() const { return state_->streamable_total; }
int64_t Engine::weight_streaming_budget() const { return state_->budget; }

int64_t Engine::streamed_weight_bytes() const { return state_->pinned.bytes; }

int64_t Engine::weight_streaming_automatic_budget() const {
  size_t free = 0, total = 0;
  cudaSetDevice(state_->device);
  if (cudaMemGetInfo(&free, &total) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  // What is free now plus what the streamable weights already hold, less room for two contexts'
  // activations and a 10% margin for everything else on the GPU.
  const int64_t resident_streamable = state_->weights.bytes;  // upper bound of what a new budget frees
  const int64_t usable = static_cast<int64_t>(static_cast<double>(free) * 0.9) + resident_streamable - 2 * state_->max_arena;
  return std::clamp<int64_t>(usable, 0, state_->streamable_total);
}

Expected<void> Engine::set_weight_streaming_budget(int64_t bytes) {
  return detail::catch_errors(runtime::errc::kInternal, [&]() -> Expected<void> {
    if (!state_->model.weight_streaming)
      return Error{runtime::errc::kNoStreaming, "the engine was not built with BuilderFlag::kWEIGHT_STREAMING"};
    if (bytes == -1) bytes = weight_streaming_automatic_budget();
    if (bytes < 0 || bytes > state_->streamable_total)
      return Error{runtime::errc::kBadBudget, "weight streaming budget " + std::to_string(bytes) + " is outside [0, " +
                                                  std::to_string(state_->streamable_total) + "] (or -1 for automatic)"};
    return state_->place_weights(bytes);
  });
}

}  // namespace rtx
