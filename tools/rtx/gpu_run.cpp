// SPDX-License-Identifier: Apache-2.0
// GPU runs and the timed benchmark loop (see gpu_run.hpp). The loop keeps two inferences in
// flight, like trtexec: inference i+1 is enqueued before the host waits for inference i, so the
// GPU never idles on the host's bookkeeping. Each slot of the two has its own events; GPU
// timestamps are event times relative to a "zero" event, host timestamps are steady-clock times
// relative to the moment that event completed, so both lie on one timeline (milliseconds).
#include "tools/rtx/gpu_run.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <memory>

#include "jit/device.hpp"
#include "rtx/runtime.hpp"
#include "tools/rtx/errors.hpp"
#include "tools/rtx/inspect.hpp"

namespace rtx::cli {
namespace {

using Clock = std::chrono::steady_clock;

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw Exception(errors::kCuda, std::string(what) + ": " + cudaGetErrorString(e));
}
#define RTX_CLI_CUDA(call) cuda_check((call), #call)

template <class T>
T take(Expected<T> e) {
  if (!e) throw Exception(e.error());
  return std::move(*e);
}
void take(Expected<void> e) {
  if (!e) throw Exception(e.error());
}

struct DeviceMemory {
  void* ptr = nullptr;
  size_t bytes = 0;
  explicit DeviceMemory(size_t n) : bytes(n) { RTX_CLI_CUDA(cudaMalloc(&ptr, n ? n : 1)); }
  ~DeviceMemory() {
    if (ptr) cudaFree(ptr);
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
};

struct PinnedMemory {
  void* ptr = nullptr;
  explicit PinnedMemory(size_t n) { RTX_CLI_CUDA(cudaMallocHost(&ptr, n ? n : 1)); }
  ~PinnedMemory() {
    if (ptr) cudaFreeHost(ptr);
  }
  PinnedMemory(const PinnedMemory&) = delete;
  PinnedMemory& operator=(const PinnedMemory&) = delete;
};

struct Event {
  cudaEvent_t e = nullptr;
  explicit Event(bool blocking) {
    RTX_CLI_CUDA(cudaEventCreateWithFlags(&e, blocking ? cudaEventBlockingSync : cudaEventDefault));
  }
  ~Event() {
    if (e) cudaEventDestroy(e);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
};

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { RTX_CLI_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); }
  ~Stream() {
    if (s) cudaStreamDestroy(s);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
};

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
  g_interrupted.store(true);
}

// One in-flight inference's events and host times.
struct Slot {
  std::unique_ptr<Event> h2d_start, h2d_end, compute_start, compute_end, d2h_end;
  double enq_start = 0, enq_end = 0;
  bool busy = false;
};

double elapsed_ms(const Event& zero, const Event& e) {
  float ms = 0;
  RTX_CLI_CUDA(cudaEventElapsedTime(&ms, zero.e, e.e));
  return ms;
}

void wait_for(const Event& e, bool spin) {
  if (!spin) {
    RTX_CLI_CUDA(cudaEventSynchronize(e.e));
    return;
  }
  while (true) {
    const cudaError_t r = cudaEventQuery(e.e);
    if (r == cudaSuccess) return;
    if (r != cudaErrorNotReady) cuda_check(r, "cudaEventQuery");
  }
}

int64_t budget_bytes(const WeightStreamingBudget& b, int64_t streamable) {
  switch (b.kind) {
    case WeightStreamingBudget::Kind::kAutomatic:
      return -1;
    case WeightStreamingBudget::Kind::kPercent:
      return static_cast<int64_t>(static_cast<double>(streamable) * b.percent / 100.0);
    case WeightStreamingBudget::Kind::kBytes:
      return static_cast<int64_t>(std::min<uint64_t>(b.bytes, static_cast<uint64_t>(INT64_MAX)));
    case WeightStreamingBudget::Kind::kDisabled:
      return streamable;
  }
  return streamable;
}

// Prints the runtime's warnings as they arrive.
class PrintingRecorder : public ErrorRecorder {
 public:
  explicit PrintingRecorder(std::ostream& out) : out_(out) {}
  void report(Severity severity, const Error& error) override {
    ErrorRecorder::report(severity, error);
    if (severity != Severity::kERROR)
      out_ << (severity == Severity::kWARNING ? "[W] " : "[I] ") << error.to_string() << "\n";
  }

 private:
  std::ostream& out_;
};

}  // namespace

Expected<std::string> gpu_description(int device) {
  auto count = jit::device_count();
  if (!count) return Error{errors::kNoGpu, "no usable GPU (" + count.error().to_string() + ")"};
  if (device >= *count) {
    return Error{errors::kNoGpu, "--device=" + std::to_string(device) + " but this machine has " +
                                     std::to_string(*count) + " GPU" + (*count == 1 ? "" : "s")};
  }
  auto info = jit::device_info(device);
  if (!info)
    return Error{errors::kNoGpu, "GPU " + std::to_string(device) + " cannot be queried (" +
                                     info.error().to_string() + ")"};
  return info->name + ", compute capability " + std::to_string(info->cc_major) + "." +
         std::to_string(info->cc_minor) + ", " + human_bytes(info->total_memory) + ", " +
         std::to_string(info->multiprocessors) + " SMs, driver " +
         cuda_version_string(static_cast<uint32_t>(info->driver_version));
}

Expected<GpuRunResult> run_on_gpu(const EngineSource& source, const Options& options,
                                  std::ostream& out) {
  auto device = gpu_description(options.device);
  if (!device) return device.error();
  return detail::catch_errors(errors::kCuda, [&]() -> Expected<GpuRunResult> {
    GpuRunResult result;
    RTX_CLI_CUDA(cudaSetDevice(options.device));
    out << "[I] GPU " << options.device << ": " << *device << "\n";

    // ---- engine ----
    PrintingRecorder recorder(out);
    Runtime runtime;
    runtime.set_error_recorder(&recorder);
    if (!options.runtime_cache_file.empty()) {
      std::ifstream in(options.runtime_cache_file, std::ios::binary);
      if (in) {
        std::vector<uint8_t> blob((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
        RuntimeCache cache;
        take(cache.load(blob));
        out << "[I] Runtime cache: " << cache.size() << " compiled image(s) from "
            << options.runtime_cache_file << "\n";
        runtime.set_runtime_cache(cache);
      } else {
        out << "[I] Runtime cache: " << options.runtime_cache_file
            << " does not exist yet; it is written after the run\n";
      }
    }
    const auto t_load = Clock::now();
    Engine engine = source.bytes.empty() ? take(runtime.deserialize_file(source.path))
                                         : take(runtime.deserialize(source.bytes));
    const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_load).count();
    out << "[I] Engine loaded in " << load_ms << " ms: image " << engine.image_target()
        << (engine.is_suboptimal() ? " (suboptimal: no cubin for this GPU, PTX compiled here)" : "")
        << ", " << engine.num_kernels() << " kernels, weights "
        << human_bytes(static_cast<uint64_t>(engine.weight_device_bytes()))
        << " on the device, activations up to "
        << human_bytes(static_cast<uint64_t>(engine.device_memory_size())) << "\n";

    const int64_t streamable = engine.streamable_weights_size();
    if (options.weight_streaming_budget.kind != WeightStreamingBudget::Kind::kDisabled) {
      if (streamable == 0) {
        out << "[W] --weightStreamingBudget: the engine was not built with --allowWeightStreaming; "
               "the budget is ignored\n";
      } else {
        take(engine.set_weight_streaming_budget(
            budget_bytes(options.weight_streaming_budget, streamable)));
        out << "[I] Weight streaming: budget "
            << human_bytes(static_cast<uint64_t>(engine.weight_streaming_budget())) << " of "
            << human_bytes(static_cast<uint64_t>(streamable)) << " streamable; "
            << human_bytes(static_cast<uint64_t>(engine.streamed_weight_bytes()))
            << " stream from host memory\n";
      }
    }

    ExecutionContext context = take(engine.create_execution_context());

    // ---- inputs and outputs ----
    std::vector<TensorDesc> inputs;
    std::vector<std::string> output_names;
    for (int32_t i = 0; i < engine.num_io_tensors(); ++i) {
      const std::string name = engine.io_tensor_name(i);
      if (take(engine.tensor_io_mode(name)) == TensorIOMode::kOUTPUT) {
        output_names.push_back(name);
        continue;
      }
      TensorDesc d;
      d.name = name;
      d.dtype = take(engine.tensor_dtype(name));
      d.dims = take(engine.tensor_shape(name));
      d.dim_names = take(engine.tensor_dim_names(name));
      if (std::any_of(d.dims.begin(), d.dims.end(), [](int64_t v) { return v < 0; })) {
        d.min = take(engine.profile_shape(name, OptProfileSelector::kMIN));
        d.opt = take(engine.profile_shape(name, OptProfileSelector::kOPT));
        d.max = take(engine.profile_shape(name, OptProfileSelector::kMAX));
      }
      inputs.push_back(std::move(d));
    }
    result.inputs = take(prepare_inputs(inputs, options));
    for (const auto& [name, in] : result.inputs) {
      out << "[I] Input '" << name << "': " << to_string(in.tensor.dtype()) << " "
          << dims_to_string(in.tensor.shape()) << " from " << in.source << "\n";
      take(context.set_input_shape(name, in.tensor.shape()));
    }
    std::vector<std::unique_ptr<DeviceMemory>> device_inputs, device_outputs;
    std::vector<std::unique_ptr<PinnedMemory>> host_inputs, host_outputs;
    std::vector<HostTensor> output_templates;
    for (const auto& [name, in] : result.inputs) {
      device_inputs.push_back(std::make_unique<DeviceMemory>(in.tensor.byte_size()));
      RTX_CLI_CUDA(cudaMemcpy(device_inputs.back()->ptr, in.tensor.data(), in.tensor.byte_size(),
                              cudaMemcpyHostToDevice));
      take(context.set_tensor_address(name, device_inputs.back()->ptr));
      if (options.data_transfers) {
        host_inputs.push_back(std::make_unique<PinnedMemory>(in.tensor.byte_size()));
        std::memcpy(host_inputs.back()->ptr, in.tensor.data(), in.tensor.byte_size());
      }
    }
    for (const auto& name : output_names) {
      HostTensor t(take(engine.tensor_dtype(name)), take(context.tensor_shape(name)));
      device_outputs.push_back(std::make_unique<DeviceMemory>(t.byte_size()));
      take(context.set_tensor_address(name, device_outputs.back()->ptr));
      if (options.data_transfers)
        host_outputs.push_back(std::make_unique<PinnedMemory>(t.byte_size()));
      output_templates.push_back(std::move(t));
    }
    const auto memory = context.memory_report();
    out << "[I] Activation memory: " << human_bytes(static_cast<uint64_t>(memory.activation_bytes))
        << " planned (the sum of all "
        << "activations is " << human_bytes(static_cast<uint64_t>(memory.activation_sum_bytes))
        << ")\n";

    context.set_use_cuda_graph(options.cuda_graph);
    Stream stream;

    // ---- the checked inference: poisoned outputs, then the engine ----
    for (size_t k = 0; k < device_outputs.size(); ++k) {
      RTX_CLI_CUDA(
          cudaMemsetAsync(device_outputs[k]->ptr, 0xFF, device_outputs[k]->bytes, stream.s));
    }
    take(context.enqueue(stream.s));
    RTX_CLI_CUDA(cudaStreamSynchronize(stream.s));
    // Kernel steps that cannot take these shapes run on the reference evaluator: right, but slow.
    for (const std::string& why : context.host_fallbacks())
      out << "[W] A kernel step runs on the host for these shapes: " << why << "\n";
    for (size_t k = 0; k < output_names.size(); ++k) {
      HostTensor t = output_templates[k].clone();
      RTX_CLI_CUDA(cudaMemcpy(t.mutable_data(), device_outputs[k]->ptr, t.byte_size(),
                              cudaMemcpyDeviceToHost));
      result.outputs.emplace_back(output_names[k], std::move(t));
    }

    // One inference as the benchmark runs it.
    const auto issue = [&](Slot& slot, double host_zero_offset, Clock::time_point t0) {
      slot.enq_start =
          std::chrono::duration<double, std::milli>(Clock::now() - t0).count() + host_zero_offset;
      if (options.data_transfers) {
        RTX_CLI_CUDA(cudaEventRecord(slot.h2d_start->e, stream.s));
        for (size_t k = 0; k < device_inputs.size(); ++k) {
          RTX_CLI_CUDA(cudaMemcpyAsync(device_inputs[k]->ptr, host_inputs[k]->ptr,
                                       device_inputs[k]->bytes, cudaMemcpyHostToDevice, stream.s));
        }
        RTX_CLI_CUDA(cudaEventRecord(slot.h2d_end->e, stream.s));
      }
      RTX_CLI_CUDA(cudaEventRecord(slot.compute_start->e, stream.s));
      take(context.enqueue(stream.s));
      RTX_CLI_CUDA(cudaEventRecord(slot.compute_end->e, stream.s));
      if (options.data_transfers) {
        for (size_t k = 0; k < device_outputs.size(); ++k) {
          RTX_CLI_CUDA(cudaMemcpyAsync(host_outputs[k]->ptr, device_outputs[k]->ptr,
                                       device_outputs[k]->bytes, cudaMemcpyDeviceToHost, stream.s));
        }
        RTX_CLI_CUDA(cudaEventRecord(slot.d2h_end->e, stream.s));
      }
      slot.enq_end =
          std::chrono::duration<double, std::milli>(Clock::now() - t0).count() + host_zero_offset;
      slot.busy = true;
    };
    const bool blocking = !options.spin_wait;
    Slot slots[2];
    for (auto& s : slots) {
      s.h2d_start = std::make_unique<Event>(blocking);
      s.h2d_end = std::make_unique<Event>(blocking);
      s.compute_start = std::make_unique<Event>(blocking);
      s.compute_end = std::make_unique<Event>(blocking);
      s.d2h_end = std::make_unique<Event>(blocking);
    }
    const auto last_event = [&](const Slot& s) -> const Event& {
      return options.data_transfers ? *s.d2h_end : *s.compute_end;
    };

    // ---- warm-up ----
    const auto warm_start = Clock::now();
    int64_t warm_runs = 0;
    while (std::chrono::duration<double, std::milli>(Clock::now() - warm_start).count() <
           options.warm_up_ms) {
      issue(slots[0], 0, warm_start);
      wait_for(last_event(slots[0]), options.spin_wait);
      slots[0].busy = false;
      ++warm_runs;
    }
    out << "[I] Warm-up: " << warm_runs << " inferences in " << options.warm_up_ms << " ms\n";

    // ---- timed loop ----
    Event zero(blocking);
    RTX_CLI_CUDA(cudaEventRecord(zero.e, stream.s));
    RTX_CLI_CUDA(cudaEventSynchronize(zero.e));
    const auto t0 = Clock::now();
    const auto harvest = [&](Slot& s) {
      wait_for(last_event(s), options.spin_wait);
      InferenceTrace t;
      t.enq_start = s.enq_start;
      t.enq_end = s.enq_end;
      t.compute_start = elapsed_ms(zero, *s.compute_start);
      t.compute_end = elapsed_ms(zero, *s.compute_end);
      if (options.data_transfers) {
        t.h2d_start = elapsed_ms(zero, *s.h2d_start);
        t.h2d_end = elapsed_ms(zero, *s.h2d_end);
        t.d2h_start = t.compute_end;
        t.d2h_end = elapsed_ms(zero, *s.d2h_end);
      } else {
        t.h2d_start = t.h2d_end = t.compute_start;
        t.d2h_start = t.d2h_end = t.compute_end;
      }
      result.traces.push_back(t);
      s.busy = false;
    };
    g_interrupted.store(false);
    void (*previous)(int) = nullptr;
    if (options.duration_s < 0) {
      previous = std::signal(SIGINT, on_sigint);
      out << "[I] Running until interrupted (Ctrl-C)\n";
    }
    int64_t issued = 0;
    while (true) {
      Slot& slot = slots[issued % 2];
      if (slot.busy) harvest(slot);
      issue(slot, 0, t0);
      ++issued;
      const double elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
      const bool enough_iterations = issued >= options.iterations;
      const bool enough_time = options.duration_s >= 0 && elapsed_s >= options.duration_s;
      if (options.duration_s < 0 ? g_interrupted.load() : (enough_iterations && enough_time)) break;
      if (options.verbose && issued % (options.avg_runs * 100) == 0) {
        out << "[I] ... " << issued << " inferences, " << elapsed_s << " s\n";
      }
    }
    if (options.duration_s < 0) std::signal(SIGINT, previous ? previous : SIG_DFL);
    // Harvest the slot issued first, then the other, so traces stay in order.
    for (int64_t k = 0; k < 2; ++k) {
      Slot& s = slots[(issued + k) % 2];
      if (s.busy) harvest(s);
    }

    RunSettings settings{options.data_transfers, options.cuda_graph, options.spin_wait};
    result.summary = summarize_performance(result.traces, options.percentiles, settings);
    out << "[I] CUDA graph: " << (options.cuda_graph ? "on" : "off") << " ("
        << context.cuda_graph_captures() << " capture"
        << (context.cuda_graph_captures() == 1 ? "" : "s")
        << "), spin wait: " << (options.spin_wait ? "on" : "off")
        << ", data transfers: " << (options.data_transfers ? "timed" : "off") << "\n";
    print_performance(out, result.summary);

    // ---- per-step profile: a separate run without a CUDA graph (as trtexec's
    // --separateProfileRun), one timing event between steps, as many runs as were timed (at most
    // 1000), each step's time kept per run ----
    if (options.dump_profile || !options.export_profile.empty()) {
      const auto runs = static_cast<size_t>(
          std::clamp<int64_t>(static_cast<int64_t>(result.traces.size()), 1, 1000));
      for (size_t k = 0; k < runs; ++k) {
        const std::vector<StepTime> steps = take(context.profile(stream.s));
        if (k == 0) {
          for (const StepTime& st : steps) result.profile.push_back({st.name + " [" + st.kind + "]", {}});
        }
        if (steps.size() != result.profile.size())
          return Error{errors::kCuda, "the profiled runs differ in their steps"};
        for (size_t i = 0; i < steps.size(); ++i) result.profile[i].times_ms.push_back(steps[i].ms);
      }
      result.profile_runs = runs;
    }

    if (!options.runtime_cache_file.empty()) {
      const auto blob = runtime.runtime_cache().serialize();
      std::ofstream f(options.runtime_cache_file, std::ios::binary | std::ios::trunc);
      f.write(reinterpret_cast<const char*>(blob.data()),
              static_cast<std::streamsize>(blob.size()));
      if (!f)
        return Error{errors::kOutputWrite,
                     "cannot write the runtime cache " + options.runtime_cache_file};
      out << "[I] Runtime cache: " << runtime.runtime_cache().size() << " image(s) written to "
          << options.runtime_cache_file << "\n";
    }
    return result;
  });
}

}  // namespace rtx::cli
