// SPDX-License-Identifier: Apache-2.0
// Helpers of the runtime GPU tests: the engine bytes of a zoo entry (prebuilt on the build
// machine when RTX_TEST_ENGINES names their folder, else built here), and running a context on
// host tensors (upload, poisoned outputs, enqueue, download).
#pragma once

#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine_zoo.hpp"
#include "gpu_harness.hpp"
#include "rtx/reference.hpp"
#include "rtx/runtime.hpp"

namespace rtx::test {

/// Engine bytes of zoo entry `name`: DIR/<name>.rtxe when RTX_TEST_ENGINES=DIR (built on the
/// machine without a GPU; a missing file fails the test), else built here once per process.
inline const std::vector<uint8_t>& zoo_engine(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::vector<uint8_t>> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  std::vector<uint8_t> bytes;
  if (const char* dir = std::getenv("RTX_TEST_ENGINES"); dir != nullptr && *dir != 0) {
    const auto path = std::filesystem::path(dir) / (name + ".rtxe");
    std::ifstream f(path, std::ios::binary);
    REQUIRE_MESSAGE(f.good(), "prebuilt engine " << path.string() << " is missing (run rtx_make_test_engines)");
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    MESSAGE("engine " << name << ": prebuilt " << path.string() << " (" << bytes.size() << " bytes)");
  } else {
    auto blob = build_zoo_engine(name);
    REQUIRE_MESSAGE(blob.has_value(), (blob ? "" : blob.error().to_string()));
    bytes = blob->release();
  }
  return cache.emplace(name, std::move(bytes)).first->second;
}

inline Engine load_engine(const std::string& name, const Runtime& runtime = Runtime()) {
  auto engine = runtime.deserialize(zoo_engine(name));
  REQUIRE_MESSAGE(engine.has_value(), (engine ? "" : engine.error().to_string()));
  return std::move(*engine);
}

/// Device buffers of one run, kept so addresses stay the same across enqueues (CUDA graphs).
struct Bindings {
  std::map<std::string, gpu::DeviceBuffer> buffers;
  std::map<std::string, std::vector<int64_t>> output_shapes;
  std::map<std::string, DataType> output_dtypes;
};

/// Sets shapes and addresses of `ctx` for `inputs` (uploaded), allocates and poisons outputs.
inline void bind(ExecutionContext& ctx, const std::map<std::string, HostTensor>& inputs, Bindings& b) {
  const Engine& engine = ctx.engine();
  for (const auto& [name, t] : inputs) {
    REQUIRE(ctx.set_input_shape(name, t.shape()).has_value());
    auto& buf = b.buffers[name];
    if (buf.bytes() < t.byte_size() || buf.get() == nullptr) buf = gpu::DeviceBuffer(t.byte_size());
    buf.upload(t);
    REQUIRE(ctx.set_tensor_address(name, buf.get()).has_value());
  }
  for (int32_t i = 0; i < engine.num_io_tensors(); ++i) {
    const std::string name = engine.io_tensor_name(i);
    if (*engine.tensor_io_mode(name) != TensorIOMode::kOUTPUT) continue;
    auto shape = ctx.tensor_shape(name);
    REQUIRE_MESSAGE(shape.has_value(), (shape ? "" : shape.error().to_string()));
    const DataType dt = *engine.tensor_dtype(name);
    const HostTensor probe(dt, *shape);
    auto& buf = b.buffers[name];
    if (buf.bytes() < probe.byte_size() || buf.get() == nullptr) buf = gpu::DeviceBuffer(probe.byte_size());
    buf.poison();
    b.output_shapes[name] = *shape;
    b.output_dtypes[name] = dt;
    REQUIRE(ctx.set_tensor_address(name, buf.get()).has_value());
  }
}

/// Downloads every output of a bound run (after the stream finished).
inline std::map<std::string, HostTensor> outputs(const Bindings& b) {
  std::map<std::string, HostTensor> out;
  for (const auto& [name, shape] : b.output_shapes) out[name] = b.buffers.at(name).download(b.output_dtypes.at(name), shape);
  return out;
}

/// One complete run of `ctx` on `stream`.
inline std::map<std::string, HostTensor> run(ExecutionContext& ctx, const std::map<std::string, HostTensor>& inputs,
                                             cudaStream_t stream = nullptr) {
  Bindings b;
  bind(ctx, inputs, b);
  auto ok = ctx.enqueue(stream);
  REQUIRE_MESSAGE(ok.has_value(), (ok ? "" : ok.error().to_string()));
  REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
  for (const std::string& why : ctx.host_fallbacks()) MESSAGE("host fallback: " << why);  // right but slow: shown
  return outputs(b);
}

/// Reference outputs of `net` for `inputs`.
inline std::map<std::string, HostTensor> reference(const Network& net, const std::map<std::string, HostTensor>& inputs) {
  auto want = evaluate_reference(net, inputs);
  REQUIRE_MESSAGE(want.has_value(), (want ? "" : want.error().to_string()));
  return *want;
}

/// Every output within `bound` (relative error) of the reference.
inline void check_outputs(const std::map<std::string, HostTensor>& got, const std::map<std::string, HostTensor>& want,
                          double bound, const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (const auto& [name, t] : want) gpu::check_close(got.at(name), t, bound, what + " output '" + name + "'");
}

/// Bitwise equality of two runs' outputs.
inline bool identical(const std::map<std::string, HostTensor>& a, const std::map<std::string, HostTensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    const HostTensor& u = b.at(name);
    if (t.shape() != u.shape() || t.byte_size() != u.byte_size() || std::memcmp(t.data(), u.data(), t.byte_size()) != 0)
      return false;
  }
  return true;
}

}  // namespace rtx::test
