// SPDX-License-Identifier: Apache-2.0
// rtx::ExecutionContext: shapes -> resolution -> binding (addresses, arena, staging, launches) ->
// issue on a stream, optionally captured once per binding as a CUDA graph and replayed. Host
// steps run as stream-ordered host functions between pinned-memory copies, so they are captured
// into graphs like everything else. Weight streaming: streamed weights are copied on the
// context's copy stream into two alternating slots, each copy waiting until the step that used its
// slot two streamed steps earlier has finished, and each streamed step waiting for its copy; the
// copies therefore overlap the compute of the previous step (and graph capture keeps the same
// fork/join structure).
#include <cstring>

#include "jit/runtime/engine_state.hpp"
#include "jit/runtime/errors.hpp"
#include "jit/runtime/host_exec.hpp"

namespace rtx {
namespace detail {
namespace {

namespace errc = runtime::errc;

Error cuda_error(const char* id, const std::string& what, cudaError_t e) {
  cudaGetLastError();
  return Error{id, what + ": " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")"};
}

void CUDART_CB host_trampoline(void* user) {
  auto* call = static_cast<HostCall*>(user);
  call->ctx->run_host(*call);
}

/// The layers a step runs, "conv_1 + relu_1" (profiles and fallback warnings name steps so).
std::string step_layers(const runtime::ExecutionPlan& plan, const runtime::Step& step) {
  std::string layers;
  for (int32_t node : step.nodes) layers += (layers.empty() ? "" : " + ") + plan.nodes[static_cast<size_t>(node)].name;
  return layers;
}

int32_t io_index(const EngineState& s, std::string_view name) {
  for (size_t i = 0; i < s.io_values.size(); ++i)
    if (s.plan.values[static_cast<size_t>(s.io_values[i])].name == name) return static_cast<int32_t>(i);
  return -1;
}

Error unknown(const EngineState& s, std::string_view name) {
  std::string names;
  for (int32_t v : s.io_values) names += (names.empty() ? "" : ", ") + s.plan.values[static_cast<size_t>(v)].name;
  return Error{errc::kUnknownTensor, "the engine has no input or output '" + std::string(name) + "' (it has " + names + ")"};
}

}  // namespace

ContextState::~ContextState() {
  if (copy_stream) cudaStreamSynchronize(copy_stream);
  cudaDeviceSynchronize();  // host steps in flight read this state
  if (graph_exec) cudaGraphExecDestroy(graph_exec);
  for (cudaEvent_t e : {ev_start, ev_join, ev_done, ev_loaded[0], ev_loaded[1], ev_free[0], ev_free[1]})
    if (e) cudaEventDestroy(e);
  if (copy_stream) cudaStreamDestroy(copy_stream);
}

void ContextState::run_host(HostCall& call) noexcept {
  try {
    const runtime::ExecutionPlan& plan = engine->plan;
    const runtime::Resolution& r = *call.resolution;
    std::vector<HostTensor> local(plan.values.size());
    for (int32_t v : call.inputs) {
      const auto sv = static_cast<size_t>(v);
      const auto kind = plan.values[sv].kind;
      if (r.known[sv].valid()) {
        local[sv] = r.known[sv];
      } else if (kind == ir::ValueKind::kWeight || kind == ir::ValueKind::kConstant) {
        local[sv] = plan.values[sv].data;
      } else if (host_values[sv].valid()) {
        local[sv] = host_values[sv];
      }
    }
    for (const auto& [v, ptr] : call.staged_inputs) {
      const auto& info = r.infos[static_cast<size_t>(v)];
      local[static_cast<size_t>(v)] = HostTensor::borrow(info.dtype, info.shape, ptr);
    }
    runtime::evaluate_nodes(plan, r, call.nodes, local);
    for (int32_t v : call.keep) host_values[static_cast<size_t>(v)] = local[static_cast<size_t>(v)];
    for (const auto& [v, ptr] : call.staged_outputs) {
      const HostTensor& t = local[static_cast<size_t>(v)];
      const auto bytes = static_cast<size_t>(r.bytes[static_cast<size_t>(v)]);
      if (!t.valid() || t.byte_size() != bytes)
        throw Exception(errc::kHostStep, "host step produced no value of the planned size for '" +
                                             plan.values[static_cast<size_t>(v)].name + "'");
      if (bytes) std::memcpy(ptr, t.data(), bytes);
    }
  } catch (const std::exception& e) {
    // Unwritten outputs become NaN/-1 bytes, and the next enqueue reports the error.
    for (const auto& [v, ptr] : call.staged_outputs)
      std::memset(ptr, 0xFF, static_cast<size_t>(call.resolution->bytes[static_cast<size_t>(v)]));
    std::lock_guard lock(error_mutex);
    if (!deferred) {
      const auto* rtx_error = dynamic_cast<const Exception*>(&e);
      deferred = Error{errc::kHostStep, "a host step (" + std::to_string(call.nodes.size()) + " nodes) failed: " +
                                            (rtx_error ? rtx_error->error().to_string() : std::string(e.what()))};
    }
  }
}

Expected<void> ContextState::bind() {
  const EngineState& e = *engine;
  const runtime::ExecutionPlan& plan = e.plan;
  std::string missing;
  for (size_t i = 0; i < shape_set.size(); ++i)
    if (!shape_set[i]) missing += (missing.empty() ? "'" : ", '") + plan.values[static_cast<size_t>(plan.inputs[i])].name + "'";
  if (!missing.empty()) return Error{errc::kShapesMissing, "input shapes not set: " + missing + " (set_input_shape)"};
  if (shapes_changed || !resolution) {
    resolution = std::make_shared<const runtime::Resolution>(runtime::resolve(plan, shapes));
    shapes_changed = false;
  }
  const runtime::Resolution& r = *resolution;
  const size_t n = plan.values.size();

  // ---- I/O addresses ----
  std::vector<int32_t> io_of(n, -1);
  for (size_t i = 0; i < e.io_values.size(); ++i) {
    const auto v = static_cast<size_t>(e.io_values[i]);
    io_of[v] = static_cast<int32_t>(i);
    const int64_t elem = std::max(bit_width(r.infos[v].dtype) / 8, 1);
    if (r.bytes[v] > 0 && addresses[i] == nullptr)
      return Error{errc::kBadAddress, "no address set for '" + plan.values[v].name + "' (set_tensor_address)"};
    if (reinterpret_cast<uintptr_t>(addresses[i]) % static_cast<uintptr_t>(elem) != 0)
      return Error{errc::kBadAddress, "the address of '" + plan.values[v].name + "' is not aligned to its " +
                                          std::to_string(elem) + "-byte elements"};
  }

  // ---- activation memory ----
  if (user_memory) {
    if (arena_capacity < r.arena_bytes)
      return Error{errc::kMemoryTooSmall, "the context's device memory holds " + std::to_string(arena_capacity) +
                                              " bytes; these shapes need " + std::to_string(r.arena_bytes) +
                                              " (ExecutionContext::device_memory_size)"};
  } else if (arena_owned.bytes < r.arena_bytes) {
    cudaDeviceSynchronize();
    if (auto ok = arena_owned.reserve(r.arena_bytes); !ok) return ok;
    arena = arena_owned.ptr;
    arena_capacity = arena_owned.bytes;
  }

  // ---- addresses of values ----
  const auto base_address = [&](int32_t v) -> void* {
    const auto root = static_cast<size_t>(r.root[static_cast<size_t>(v)]);
    switch (r.storage[root]) {
      case runtime::Storage::kUser: return addresses[static_cast<size_t>(io_of[root])];
      case runtime::Storage::kEngine: return const_cast<void*>(e.resident(static_cast<int32_t>(root)));
      case runtime::Storage::kArena: return static_cast<char*>(arena) + r.offset[root];
      default: return nullptr;
    }
  };

  // ---- weight streaming: which steps stream what, and the slot layout ----
  std::vector<int32_t> streamed_index(plan.steps.size(), -1);
  std::vector<std::vector<std::pair<int32_t, int64_t>>> slot_layout;  // per streamed step: (root, offset)
  int64_t slot_need = 0;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const auto& step = plan.steps[s];
    if (r.step_folded[s] || (step.kind != runtime::StepKind::kKernel && step.kind != runtime::StepKind::kCopy)) continue;
    std::vector<std::pair<int32_t, int64_t>> layout;
    int64_t off = 0;
    for (int32_t v : step.inputs) {
      const int32_t root = r.root[static_cast<size_t>(v)];
      if (!e.streamed.empty() && e.streamed[static_cast<size_t>(root)]) {
        bool seen = false;
        for (const auto& [x, o] : layout) seen = seen || x == root;
        if (seen) continue;
        layout.emplace_back(root, off);
        off += runtime::align_up(r.bytes[static_cast<size_t>(root)], 256);
      }
    }
    if (layout.empty()) continue;
    streamed_index[s] = static_cast<int32_t>(slot_layout.size());
    slot_layout.push_back(std::move(layout));
    slot_need = std::max(slot_need, off);
  }
  if (slot_need > slot_bytes) {
    cudaDeviceSynchronize();
    if (auto ok = slots.reserve(2 * slot_need); !ok) return ok;
    slot_bytes = slot_need;
  }
  stream_copies.assign(slot_layout.size(), {});
  for (size_t j = 0; j < slot_layout.size(); ++j)
    for (const auto& [root, off] : slot_layout[j])
      stream_copies[j].push_back(StreamCopy{static_cast<char*>(slots.ptr) + static_cast<int64_t>(j % 2) * slot_bytes + off,
                                            static_cast<const char*>(e.pinned.ptr) + e.pinned_offset[static_cast<size_t>(root)],
                                            r.bytes[static_cast<size_t>(root)]});

  // ---- pinned staging for host steps and uploads ----
  // Lay out first (sizes), allocate, then build the ops with real pointers.
  struct HostPlan {
    size_t step;
    std::vector<int32_t> nodes, inputs, staged_in, staged_out;
  };
  std::vector<std::optional<std::vector<runtime::PreparedLaunch>>> launches(plan.steps.size());
  int64_t workspace_need = 0;
  for (size_t s = 0; s < plan.steps.size(); ++s)
    if (!r.step_folded[s] && plan.steps[s].kind == runtime::StepKind::kKernel)
      workspace_need = std::max(workspace_need, runtime::kernel_step_workspace(plan, plan.steps[s], r.infos, e.info.multiprocessors));
  if (workspace_need > workspace.bytes) {
    cudaDeviceSynchronize();
    if (auto ok = workspace.reserve(workspace_need); !ok) return ok;
  }
  std::vector<HostPlan> host_plans;
  std::vector<std::string> fallbacks;
  std::vector<int32_t> host_plan_of(plan.steps.size(), -1);
  int64_t staging_need = 0;
  for (int32_t v : r.uploads) staging_need += runtime::align_up(r.bytes[static_cast<size_t>(v)], 256);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const auto& step = plan.steps[s];
    if (r.step_folded[s] || step.kind == runtime::StepKind::kAlias || step.kind == runtime::StepKind::kCopy) continue;
    if (step.kind == runtime::StepKind::kKernel) {
      const int32_t j = streamed_index[s];
      const auto address = [&](int32_t v) -> const void* {
        const int32_t root = r.root[static_cast<size_t>(v)];
        if (j >= 0)
          for (size_t c = 0; c < slot_layout[static_cast<size_t>(j)].size(); ++c)
            if (slot_layout[static_cast<size_t>(j)][c].first == root) return stream_copies[static_cast<size_t>(j)][c].dst;
        return base_address(v);
      };
      runtime::StepArgs args{r.infos, address, workspace.ptr, e.info.multiprocessors};
      auto launch = runtime::prepare_kernel_step(plan, step, args);
      if (launch) {
        for (auto& l : *launch) {
          auto it = e.kernel_by_name.find(l.kernel);
          if (it == e.kernel_by_name.end())
            return Error{errc::kBadPlan, "engine plan is malformed: kernel '" + l.kernel + "' is not in the engine"};
          l.index = it->second;
          // Above 48 KiB a kernel must opt in; done here, never inside a graph capture.
          EngineState& e_mut = *engine;
          std::lock_guard lock(e_mut.smem_mutex);
          int& allowed = e_mut.smem_allowed[static_cast<size_t>(l.index)];
          if (static_cast<int>(l.config.shared_bytes) > allowed) {
            auto ok = e.kernels[static_cast<size_t>(l.index)].set_max_dynamic_shared_memory(static_cast<int>(l.config.shared_bytes));
            if (!ok) return Error{errc::kCuda, ok.error().message};
            allowed = static_cast<int>(l.config.shared_bytes);
          }
        }
        launches[s] = std::move(*launch);
        continue;
      }
      if (launch.error().id == errc::kBadPlan) return launch.error();
      // The family cannot run these shapes or addresses: the step's nodes run on the host.
      fallbacks.push_back("'" + step_layers(plan, step) + "' (" + step.family + "): " + launch.error().to_string());
    }
    HostPlan hp;
    hp.step = s;
    hp.nodes = step.nodes;
    hp.inputs = step.inputs;
    for (int32_t v : step.inputs)
      if (!r.host_resident[static_cast<size_t>(v)]) {
        hp.staged_in.push_back(v);
        staging_need += runtime::align_up(r.bytes[static_cast<size_t>(v)], 256);
      }
    for (int32_t v : step.outputs)
      if (r.need_device[static_cast<size_t>(v)]) {
        hp.staged_out.push_back(v);
        staging_need += runtime::align_up(r.bytes[static_cast<size_t>(v)], 256);
      }
    host_plan_of[s] = static_cast<int32_t>(host_plans.size());
    host_plans.push_back(std::move(hp));
  }
  if (staging_need > staging.bytes) {
    cudaDeviceSynchronize();
    if (auto ok = staging.reserve(staging_need); !ok) return ok;
  }

  // ---- ops ----
  ops.clear();
  host_calls.clear();
  host_fallbacks = std::move(fallbacks);
  host_values.assign(n, HostTensor{});
  char* stage = static_cast<char*>(staging.ptr);
  const auto take = [&](int64_t bytes) {
    char* p = stage;
    stage += runtime::align_up(bytes, 256);
    return p;
  };
  for (int32_t v : r.uploads) {
    const HostTensor& t = r.known[static_cast<size_t>(v)];
    char* p = take(r.bytes[static_cast<size_t>(v)]);
    if (t.byte_size()) std::memcpy(p, t.data(), t.byte_size());
    Op op;
    op.kind = Op::Kind::kCopy;
    op.dst = base_address(v);
    op.src = p;
    op.bytes = static_cast<int64_t>(t.byte_size());
    op.direction = cudaMemcpyHostToDevice;
    if (op.bytes > 0) ops.push_back(op);
  }
  // Host steps keep on the host every output a later host step reads.
  std::vector<char> read_by_host(n, 0);
  for (const auto& hp : host_plans)
    for (int32_t v : hp.inputs) read_by_host[static_cast<size_t>(v)] = 1;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const auto& step = plan.steps[s];
    if (r.step_folded[s] || step.kind == runtime::StepKind::kAlias) continue;
    const size_t first_op = ops.size();
    const int32_t j = streamed_index[s];
    if (j >= 0) {
      Op w;
      w.kind = Op::Kind::kStreamWait;
      w.streamed = static_cast<size_t>(j);
      ops.push_back(w);
    }
    if (launches[s]) {
      for (auto& l : *launches[s]) {
        Op op;
        op.kind = Op::Kind::kLaunch;
        op.launch = std::move(l);
        ops.push_back(std::move(op));
      }
    } else if (step.kind == runtime::StepKind::kCopy) {
      Op op;
      op.kind = Op::Kind::kCopy;
      op.dst = base_address(step.outputs[0]);
      op.src = base_address(step.inputs[0]);
      if (j >= 0) op.src = stream_copies[static_cast<size_t>(j)][0].dst;
      op.bytes = r.bytes[static_cast<size_t>(step.outputs[0])];
      op.direction = cudaMemcpyDeviceToDevice;
      if (op.bytes > 0) ops.push_back(op);
    } else if (host_plan_of[s] >= 0) {
      const HostPlan& hp = host_plans[static_cast<size_t>(host_plan_of[s])];
      auto call = std::make_unique<HostCall>();
      call->ctx = this;
      call->resolution = resolution;
      call->nodes = hp.nodes;
      call->inputs = hp.inputs;
      for (int32_t v : hp.staged_in) {
        char* p = take(r.bytes[static_cast<size_t>(v)]);
        call->staged_inputs.emplace_back(v, p);
        Op op;
        op.kind = Op::Kind::kCopy;
        op.dst = p;
        op.src = base_address(v);
        op.bytes = r.bytes[static_cast<size_t>(v)];
        op.direction = cudaMemcpyDeviceToHost;
        if (op.bytes > 0) ops.push_back(op);
      }
      for (int32_t node_id : hp.nodes)
        for (int32_t v : plan.nodes[static_cast<size_t>(node_id)].outputs)
          if (v != ir::kNoValue && read_by_host[static_cast<size_t>(v)]) call->keep.push_back(v);
      std::vector<Op> after;
      for (int32_t v : hp.staged_out) {
        char* p = take(r.bytes[static_cast<size_t>(v)]);
        call->staged_outputs.emplace_back(v, p);
        Op op;
        op.kind = Op::Kind::kCopy;
        op.dst = base_address(v);
        op.src = p;
        op.bytes = r.bytes[static_cast<size_t>(v)];
        op.direction = cudaMemcpyHostToDevice;
        if (op.bytes > 0) after.push_back(op);
      }
      Op h;
      h.kind = Op::Kind::kHost;
      h.host = host_calls.size();
      host_calls.push_back(std::move(call));
      ops.push_back(h);
      ops.insert(ops.end(), after.begin(), after.end());
    }
    if (j >= 0) {
      Op d;
      d.kind = Op::Kind::kStreamDone;
      d.streamed = static_cast<size_t>(j);
      ops.push_back(d);
    }
    for (size_t i = first_op; i < ops.size(); ++i) ops[i].step = static_cast<int32_t>(s);
  }
  // Host values produced by host steps are host-resident for later host steps: make sure the
  // resolution agrees (a host output read by a later host step is never staged in again).
  bound_generation = e.generation.load();
  dirty = false;
  ++binds;
  return {};
}

Expected<void> ContextState::prepare() {
  {
    std::lock_guard lock(error_mutex);
    if (deferred) {
      Error e = *deferred;
      deferred.reset();
      return e;
    }
  }
  cudaSetDevice(engine->device);
  if (dirty || bound_generation != engine->generation.load()) {
    // Host steps of a previous run may still read the old binding's buffers. (An event, not the
    // stream: the user may have destroyed that stream since.)
    if (ran)
      if (cudaError_t e = cudaEventSynchronize(ev_done); e != cudaSuccess)
        return cuda_error(errc::kCuda, "waiting for the previous run", e);
    if (auto ok = bind(); !ok) return ok;
  }
  return {};
}

Expected<void> ContextState::issue(cudaStream_t stream, ProfileMarks* marks) {
  const auto check = [](cudaError_t err, const char* what) -> Expected<void> {
    if (err != cudaSuccess) return cuda_error(errc::kCuda, what, err);
    return {};
  };
  // Profiling: an event opens each step's segment (and one closes the last).
  int32_t open_step = -3;
  const auto mark = [&](int32_t step) -> Expected<void> {
    cudaEvent_t ev = nullptr;
    if (auto ok = check(cudaEventCreate(&ev), "creating a profiling event"); !ok) return ok;
    marks->events.push_back(ev);
    marks->segment_step.push_back(step);
    marks->segment_on_host.push_back(0);
    return check(cudaEventRecord(ev, stream), "recording a profiling event");
  };
  const size_t streamed = stream_copies.size();
  const auto prefetch = [&](size_t j) -> Expected<void> {
    if (j >= streamed) return {};
    const size_t slot = j % 2;
    if (j >= 2)
      if (auto ok = check(cudaStreamWaitEvent(copy_stream, ev_free[slot], 0), "waiting for a free streaming slot"); !ok) return ok;
    for (const StreamCopy& c : stream_copies[j])
      if (auto ok = check(cudaMemcpyAsync(c.dst, c.src, static_cast<size_t>(c.bytes), cudaMemcpyHostToDevice, copy_stream),
                          "streaming weights");
          !ok)
        return ok;
    return check(cudaEventRecord(ev_loaded[slot], copy_stream), "recording a streaming event");
  };
  if (streamed > 0) {
    if (auto ok = check(cudaEventRecord(ev_start, stream), "recording the start event"); !ok) return ok;
    if (auto ok = check(cudaStreamWaitEvent(copy_stream, ev_start, 0), "joining the copy stream"); !ok) return ok;
    if (auto ok = prefetch(0); !ok) return ok;
    if (auto ok = prefetch(1); !ok) return ok;
  }
  for (const Op& op : ops) {
    if (marks && op.step != open_step) {
      if (auto ok = mark(op.step); !ok) return ok;
      open_step = op.step;
    }
    if (marks && op.kind == Op::Kind::kHost) marks->segment_on_host.back() = 1;
    switch (op.kind) {
      case Op::Kind::kLaunch: {
        const auto& c = op.launch.config;
        if (c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0) break;
        void* args[3] = {const_cast<std::byte*>(op.launch.params.data()), nullptr, nullptr};
        for (size_t i = 0; i < op.launch.tensor_maps.size() && i < 2; ++i)
          args[i + 1] = const_cast<kernels::gemm::TmaDescriptor*>(&op.launch.tensor_maps[i]);
        const jit::Kernel& k = engine->kernels[static_cast<size_t>(op.launch.index)];
        if (auto ok = k.launch(c.grid, c.block, c.shared_bytes, stream, args); !ok)
          return Error{errc::kCuda, ok.error().message};
        break;
      }
      case Op::Kind::kCopy:
        if (auto ok = check(cudaMemcpyAsync(op.dst, op.src, static_cast<size_t>(op.bytes), op.direction, stream), "copying");
            !ok)
          return ok;
        break;
      case Op::Kind::kHost:
        if (auto ok = check(cudaLaunchHostFunc(stream, host_trampoline, host_calls[op.host].get()), "launching a host step");
            !ok)
          return ok;
        break;
      case Op::Kind::kStreamWait:
        if (auto ok = check(cudaStreamWaitEvent(stream, ev_loaded[op.streamed % 2], 0), "waiting for streamed weights"); !ok)
          return ok;
        break;
      case Op::Kind::kStreamDone:
        if (auto ok = check(cudaEventRecord(ev_free[op.streamed % 2], stream), "releasing a streaming slot"); !ok) return ok;
        if (auto ok = prefetch(op.streamed + 2); !ok) return ok;
        break;
    }
  }
  if (marks && !marks->events.empty()) {
    if (auto ok = mark(-2); !ok) return ok;  // closes the last segment
    marks->segment_step.pop_back();
    marks->segment_on_host.pop_back();
  }
  if (streamed > 0) {
    if (auto ok = check(cudaEventRecord(ev_join, copy_stream), "recording the join event"); !ok) return ok;
    if (auto ok = check(cudaStreamWaitEvent(stream, ev_join, 0), "joining the copy stream"); !ok) return ok;
  }
  return {};
}

}  // namespace detail

// ---- ExecutionContext::profile -------------------------------------------------------------------

Expected<std::vector<StepTime>> ExecutionContext::profile(void* stream_ptr) {
  return detail::catch_errors(runtime::errc::kInternal, [&]() -> Expected<std::vector<StepTime>> {
    auto& s = *state_;
    if (auto ok = s.prepare(); !ok) return ok.error();
    auto stream = static_cast<cudaStream_t>(stream_ptr);
    detail::ProfileMarks marks;
    if (auto ok = s.issue(stream, &marks); !ok) return ok.error();
    if (cudaError_t e = cudaEventRecord(s.ev_done, stream); e != cudaSuccess)
      return detail::cuda_error(runtime::errc::kCuda, "recording the end of the run", e);
    s.ran = true;
    if (cudaError_t e = cudaEventSynchronize(s.ev_done); e != cudaSuccess)
      return detail::cuda_error(runtime::errc::kCuda, "waiting for the profiled run", e);
    {
      std::lock_guard lock(s.error_mutex);
      if (s.deferred) {
        Error e = *s.deferred;
        s.deferred.reset();
        return e;
      }
    }
    const runtime::ExecutionPlan& plan = s.engine->plan;
    std::vector<StepTime> times;
    for (size_t i = 0; i + 1 < marks.events.size(); ++i) {
      float ms = 0.0f;
      if (cudaError_t e = cudaEventElapsedTime(&ms, marks.events[i], marks.events[i + 1]); e != cudaSuccess)
        return detail::cuda_error(runtime::errc::kCuda, "reading a profiling event", e);
      StepTime t;
      t.ms = static_cast<double>(ms);
      const int32_t step = marks.segment_step[i];
      if (step < 0) {
        t.name = "(input uploads)";
        t.kind = "copy";
      } else {
        const runtime::Step& st = plan.steps[static_cast<size_t>(step)];
        t.name = detail::step_layers(plan, st);
        // A kernel step whose family could not take these shapes ran on the host.
        t.kind = marks.segment_on_host[i]                   ? std::string("host")
                 : st.kind == runtime::StepKind::kKernel ? "kernel " + st.family
                 : st.kind == runtime::StepKind::kCopy   ? std::string("copy")
                                                         : std::string("host");
        if (t.name.empty()) t.name = "(" + t.kind + " " + std::to_string(step) + ")";
      }
      times.push_back(std::move(t));
    }
    return times;
  });
}

// ---- Engine::create_execution_context ---------------------------------------------------------------

Expected<ExecutionContext> Engine::create_execution_context(bool user_managed_memory) const {
  return detail::catch_errors(runtime::errc::kInternal, [&]() -> Expected<ExecutionContext> {
    auto ctx = std::make_unique<detail::ContextState>();
    ctx->engine = state_;
    ctx->engine_handle = *this;
    ctx->user_memory = user_managed_memory;
    const auto& plan = state_->plan;
    for (int32_t v : plan.inputs) {
      const auto& info = plan.values[static_cast<size_t>(v)].info;
      ctx->shapes.push_back(info.is_static() ? info.shape : std::vector<int64_t>{});
      ctx->shape_set.push_back(info.is_static() ? 1 : 0);
    }
    ctx->addresses.assign(state_->io_values.size(), nullptr);
    cudaSetDevice(state_->device);
    const auto check = [](cudaError_t e, const char* what) -> Expected<void> {
      if (e != cudaSuccess) return detail::cuda_error(runtime::errc::kCuda, what, e);
      return {};
    };
    if (auto ok = check(cudaStreamCreateWithFlags(&ctx->copy_stream, cudaStreamNonBlocking), "creating the copy stream"); !ok)
      return ok.error();
    for (cudaEvent_t* ev : {&ctx->ev_start, &ctx->ev_join, &ctx->ev_done, &ctx->ev_loaded[0], &ctx->ev_loaded[1],
                            &ctx->ev_free[0], &ctx->ev_free[1]})
      if (auto ok = check(cudaEventCreateWithFlags(ev, cudaEventDisableTiming), "creating an event"); !ok) return ok.error();
    if (!user_managed_memory) {
      if (auto ok = ctx->arena_owned.reserve(state_->max_arena); !ok) return ok.error();
      ctx->arena = ctx->arena_owned.ptr;
      ctx->arena_capacity = ctx->arena_owned.bytes;
    }
    return ExecutionContext(std::move(ctx));
  });
}

// ---- ExecutionContext -----------------------------------------------------------------------------

ExecutionContext::ExecutionContext(std::unique_ptr<detail::ContextState> state) : state_(std::move(state)) {}
ExecutionContext::ExecutionContext(ExecutionContext&&) noexcept = default;
ExecutionContext& ExecutionContext::operator=(ExecutionContext&&) noexcept = default;
ExecutionContext::~ExecutionContext() = default;

const Engine& ExecutionContext::engine() const { return *state_->engine_handle; }

Expected<void> ExecutionContext::set_input_shape(std::string_view name, std::span<const int64_t> dims) {
  return detail::catch_errors(runtime::errc::kInternal, [&]() -> Expected<void> {
    const auto& e = *state_->engine;
    const int32_t i = detail::io_index(e, name);
    if (i < 0) return detail::unknown(e, name);
    if (static_cast<size_t>(i) >= e.num_inputs)
      return Error{runtime::errc::kUnknownTensor, "'" + std::string(name) + "' is an output: its shape is inferred"};
    runtime::check_input_shape(e.plan, static_cast<size_t>(i), dims);
    std::vector<int64_t> shape(dims.begin(), dims.end());
    if (state_->shape_set[static_cast<size_t>(i)] && state_->shapes[static_cast<size_t>(i)] == shape) return {};
    state_->shapes[static_cast<size_t>(i)] = std::move(shape);
    state_->shape_set[static_cast<size_t>(i)] = 1;
    state_->shapes_changed = true;
    state_->dirty = true;
    return {};
  });
}

bool ExecutionContext::all_input_shapes_specified() const {
  for (char s : state_->shape_set)
    if (!s) return false;
  return true;
}

Expected<std::vector<int64_t>> ExecutionContext::tensor_shape(std::string_view name) const {
  return detail::catch_errors(runtime::errc::kInternal, [&]() -> Expected<std::vector<int64_t>> {
    auto& s = *state_;
    const auto& e = *s.engine;
    const int32_t i = detail::io_index(e, name);
    if (i < 0) return detail::unknown(e, name);
    const auto v = static_cast<size_t>(e.io_values[static_cast<size_t>(i)]);
    if (static_cast<size_t>(i) < e.num_inputs)
      return s.shape_set[static_cast<size_t>(i)] ? s.shapes[static_cast<size_t>(i)] : e.plan.values[v].info.shape;
    if (!all_input_shapes_specified()) return e.plan.values[v].info.shape;
    if (s.shapes_changed || !s.resolution) {
      s.resolution = std::make_shared<const runtime::Resolution>(runtime::resolve(e.plan, s.shapes));
      s.shapes_changed = false;
      s.dirty = true;
    }
    return s.resolution->infos[v].shape;
  });
}

Expected<void> ExecutionContext::set_tensor_address(std::string_view name, void* address) {
  const auto& e = *state_->engine;
  const int32_t i = detail::io_index(e, name);
  if (i < 0) return detail::unknown(e, name);
  if (state_->addresses[static_cast<size_t>(i)] != address) {
    state_->addresses[static_cast<size_t>(i)] = address;
    state_->dirty = true;
  }
  return {};
}

void* ExecutionContext::tensor_address(std::string_view name) const {
  const int32_t i = detail::io_index(*state_->engine, name);
  return i < 0 ? nullptr : state_->addresses[static_cast<size_t>(i)];
}

void ExecutionContext::set_use_cuda_graph(bool on) { state_->use_graph = on; }
bool ExecutionContext::use_cuda_graph() const { return state_->use_graph; }
int64_t ExecutionContext::cuda_graph_captures() const { return state_->captures; }
std::vector<std::string> ExecutionContext::host_fallbacks() const { return state_->host_fallbacks; }

int64_t ExecutionContext::device_memory_size() const {
  auto& s = *state_;
  if (!all_input_shapes_specified()) return s.engine->max_arena;
  try {
    if (s.shapes_changed || !s.resolution) {
      s.resolution = std::make_shared<const runtime::Resolution>(runtime::resolve(s.engine->plan, s.shapes));
      s.shapes_changed = false;
      s.dirty = true;
    }
  } catch (const Exception&) {
    return s.engine->max_arena;
  }
  return s.resolution->arena_bytes;
}

Expected<void> ExecutionContext::set_device_memory(void* address, int64_t bytes) {
  if (!state_->user_memory)
    return Error{runtime::errc::kMemoryTooSmall, "the context manages its own memory; create it with user_managed_memory = true"};
  if (bytes < 0 || (bytes > 0 && address == nullptr) || reinterpret_cast<uintptr_t>(address) % 256 != 0)
    return Error{runtime::errc::kBadAddress, "device memory must be 256-byte aligned and non-null"};
  state_->arena = address;
  state_->arena_capacity = bytes;
  state_->dirty = true;
  return {};
}

ContextMemoryReport ExecutionContext::memory_report() const {
  ContextMemoryReport m;
  const auto& s = *state_;
  if (s.resolution) {
    m.activation_bytes = s.resolution->arena_bytes;
    m.activation_sum_bytes = s.resolution->activation_sum;
  }
  m.arena_bytes = s.arena_capacity;
  m.staging_bytes = s.slots.bytes;
  return m;
}

Expected<std::map<std::string, HostTensor>> ExecutionContext::infer(const std::map<std::string, HostTensor>& inputs) {
  return detail::catch_errors(runtime::errc::kInternal, [&]() -> Expected<std::map<std::string, HostTensor>> {
    const auto& e = *state_->engine;
    std::vector<std::unique_ptr<detail::DeviceMemory>> buffers;
    const auto device_copy = [&](int64_t bytes) -> Expected<void*> {
      buffers.push_back(std::make_unique<detail::DeviceMemory>());
      if (auto ok = buffers.back()->reserve(std::max<int64_t>(bytes, 1)); !ok) return ok.error();
      return buffers.back()->ptr;
    };
    cudaSetDevice(e.device);
    for (const auto& [name, t] : inputs) {
      auto mode = engine().tensor_io_mode(name);
      if (!mode) return mode.error();
      if (*mode != TensorIOMode::kINPUT) return Error{runtime::errc::kUnknownTensor, "'" + name + "' is an output"};
      const auto dtype = *engine().tensor_dtype(name);
      if (t.dtype() != dtype)
        return Error{runtime::errc::kBadShape, "input '" + name + "' is " + std::string(to_string(dtype)) + ", given " +
                                                   t.describe()};
      if (auto ok = set_input_shape(name, t.shape()); !ok) return ok.error();
      auto ptr = device_copy(static_cast<int64_t>(t.byte_size()));
      if (!ptr) return ptr.error();
      if (t.byte_size() > 0)
        if (cudaError_t err = cudaMemcpy(*ptr, t.data(), t.byte_size(), cudaMemcpyHostToDevice); err != cudaSuccess)
          return detail::cuda_error(runtime::errc::kCuda, "copying input '" + name + "'", err);
      if (auto ok = set_tensor_address(name, *ptr); !ok) return ok.error();
    }
    std::map<std::string, HostTensor> out;
    for (size_t i = e.num_inputs; i < e.io_values.size(); ++i) {
      const std::string& name = e.plan.values[static_cast<size_t>(e.io_values[i])].name;
      auto shape = tensor_shape(name);
      if (!shape) return shape.error();
      HostTensor t(e.plan.values[static_cast<size_t>(e.io_values[i])].info.dtype, *shape);
      auto ptr = device_copy(static_cast<int64_t>(t.byte_size()));
      if (!ptr) return ptr.error();
      if (auto ok = set_tensor_address(name, *ptr); !ok) return ok.error();
      out.emplace(name, std::move(t));
    }
    cudaStream_t stream = nullptr;
    if (cudaError_t err = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking); err != cudaSuccess)
      return detail::cuda_error(runtime::errc::kCuda, "creating a stream", err);
    auto ok = enqueue(stream);
    const cudaError_t sync = cudaStreamSynchronize(stream);
    cudaStreamDestroy(stream);
    if (!ok) return ok.error();
    if (sync != cudaSuccess) return detail::cuda_error(runtime::errc::kCuda, "running the engine", sync);
    {
      std::lock_guard lock(state_->error_mutex);
      if (state_->deferred) {
        Error err = *state_->deferred;
        state_->deferred.reset();
        return err;
      }
    }
    for (auto& [name, t] : out) {
      void* src = tensor_address(name);
      if (t.byte_size() > 0)
        if (cudaError_t err = cudaMemcpy(t.mutable_data(), src, t.byte_size(), cudaMemcpyDeviceToHost); err != cudaSuccess)
          return detail::cuda_error(runtime::errc::kCuda, "copying output '" + name + "'", err);
    }
    // The buffers die with this call: forget their addresses.
    for (auto& a : state_->addresses) a = nullptr;
    state_->dirty = true;
    return out;
  });
}

Expected<void> ExecutionContext::enqueue(void* stream_ptr) {
  return detail::catch_errors(runtime::errc::kInternal, [&]() -> Expected<void> {
    auto& s = *state_;
    if (auto ok = s.prepare(); !ok) return ok;
    auto stream = static_cast<cudaStream_t>(stream_ptr);
    const auto done = [&]() -> Expected<void> {
      if (cudaError_t e = cudaEventRecord(s.ev_done, stream); e != cudaSuccess)
        return detail::cuda_error(runtime::errc::kCuda, "recording the end of the run", e);
      s.ran = true;
      return {};
    };
    // The legacy default stream cannot be captured: it runs without a graph.
    if (!s.use_graph || stream == nullptr) {
      if (auto ok = s.issue(stream); !ok) return ok;
      return done();
    }
    if (s.graph_exec == nullptr || s.graph_binds != s.binds) {
      if (s.graph_exec) {
        cudaGraphExecDestroy(s.graph_exec);
        s.graph_exec = nullptr;
      }
      if (cudaError_t e = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal); e != cudaSuccess)
        return detail::cuda_error(runtime::errc::kGraph, "beginning a CUDA graph capture", e);
      auto issued = s.issue(stream);
      cudaGraph_t graph = nullptr;
      const cudaError_t end = cudaStreamEndCapture(stream, &graph);
      if (!issued) {
        if (graph) cudaGraphDestroy(graph);
        return issued;
      }
      if (end != cudaSuccess) return detail::cuda_error(runtime::errc::kGraph, "ending the CUDA graph capture", end);
      const cudaError_t inst = cudaGraphInstantiate(&s.graph_exec, graph, 0);
      cudaGraphDestroy(graph);
      if (inst != cudaSuccess) {
        s.graph_exec = nullptr;
        return detail::cuda_error(runtime::errc::kGraph, "instantiating the CUDA graph", inst);
      }
      s.graph_binds = s.binds;
      ++s.captures;
    }
    if (cudaError_t e = cudaGraphLaunch(s.graph_exec, stream); e != cudaSuccess)
      return detail::cuda_error(runtime::errc::kGraph, "launching the CUDA graph", e);
    return done();
  });
}

}  // namespace rtx
