// SPDX-License-Identifier: Apache-2.0
// Shared by tests/gpu/test_kernels_<family>.cpp for the memory-bound families: compiles a batch
// of programs for the GPU in use (in parallel, NVRTC in worker processes), keeps them loaded,
// builds one-node IR nodes, runs the reference evaluator, and offers device buffers at a chosen
// byte offset (to exercise the unaligned paths). Every failure message names the case.
#pragma once

#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gpu_harness.hpp"
#include "ir/graph.hpp"
#include "ir/op_registry.hpp"
#include "jit/kernels/common.hpp"
#include "jit/thread_pool.hpp"

namespace rtx::test::gpu {

/// Programs compiled for the current GPU, looked up by any of their name expressions.
class ProgramSet {
 public:
  /// Compiles every name expression not compiled yet. Programs are merged into a few larger
  /// ones (their sources concatenated, identical sources once: includes are guarded and equal
  /// functors have equal names) so NVRTC parses the headers a few times, not once per kernel;
  /// the merged programs compile in parallel worker processes.
  void prepare(const std::vector<jit::Program>& programs) {
    std::vector<std::string> sources, expressions;
    for (const auto& p : programs) {
      bool fresh = false;
      for (const auto& e : p.name_expressions) {
        if (by_expr_.count(e) || std::find(expressions.begin(), expressions.end(), e) != expressions.end())
          continue;
        expressions.push_back(e);
        fresh = true;
      }
      if (fresh && std::find(sources.begin(), sources.end(), p.source) == sources.end())
        sources.push_back(p.source);
    }
    if (expressions.empty()) return;
    // Each expression goes to the chunk holding its program's source.
    constexpr size_t kSourcesPerChunk = 24;
    std::vector<jit::Program> chunks((sources.size() + kSourcesPerChunk - 1) / kSourcesPerChunk);
    for (size_t i = 0; i < sources.size(); ++i) {
      chunks[i / kSourcesPerChunk].name = "gpu_test_chunk_" + std::to_string(i / kSourcesPerChunk);
      chunks[i / kSourcesPerChunk].source += sources[i] + "\n";
    }
    for (const auto& p : programs) {
      const size_t at = static_cast<size_t>(std::find(sources.begin(), sources.end(), p.source) - sources.begin());
      if (at == sources.size()) continue;
      for (const auto& e : p.name_expressions) {
        auto& exprs = chunks[at / kSourcesPerChunk].name_expressions;
        if (std::find(expressions.begin(), expressions.end(), e) != expressions.end() &&
            std::find(exprs.begin(), exprs.end(), e) == exprs.end())
          exprs.push_back(e);
      }
    }
    const jit::Target target = device_target();
    std::vector<std::optional<Expected<std::vector<jit::CompiledImage>>>> results(chunks.size());
    jit::ThreadPool pool;
    pool.parallel_for(chunks.size(), [&](size_t i) {
      jit::CompileOptions options;
      options.cache = &cache_;
      options.isolation = jit::Isolation::kSubprocess;
      results[i].emplace(jit::compile(chunks[i], std::span<const jit::Target>(&target, 1), options));
    });
    for (size_t i = 0; i < chunks.size(); ++i) {
      auto& r = *results[i];
      REQUIRE_MESSAGE(r, "compiling " << chunks[i].name << ": "
                                      << (r ? std::string() : r.error().to_string()));
      auto loaded = jit::kernels::LoadedProgram::load((*r)[0]);
      REQUIRE_MESSAGE(loaded, (loaded ? std::string() : loaded.error().to_string()));
      auto shared = std::make_shared<jit::kernels::LoadedProgram>(std::move(*loaded));
      for (const auto& e : chunks[i].name_expressions) by_expr_[e] = shared;
    }
  }

  /// The loaded program holding `expression`.
  const jit::kernels::LoadedProgram& get(const std::string& expression) const {
    auto it = by_expr_.find(expression);
    REQUIRE_MESSAGE(it != by_expr_.end(), "no compiled program holds " << expression);
    return *it->second;
  }

  static ProgramSet& instance() {
    static ProgramSet set;
    return set;
  }

 private:
  jit::KernelCache cache_{std::filesystem::path{}};
  std::map<std::string, std::shared_ptr<jit::kernels::LoadedProgram>> by_expr_;
};

/// Device memory whose usable region starts `offset` bytes past a 256-byte aligned allocation.
class OffsetBuffer {
 public:
  OffsetBuffer(size_t bytes, size_t offset) : buffer_(bytes + offset + 16), offset_(offset), bytes_(bytes) {}
  explicit OffsetBuffer(const HostTensor& t, size_t offset = 0) : OffsetBuffer(t.byte_size(), offset) {
    upload(t);
  }
  void* get() const { return static_cast<char*>(buffer_.get()) + offset_; }
  void upload(const HostTensor& t) {
    REQUIRE(t.byte_size() <= bytes_);
    if (t.byte_size())
      RTX_CUDA_CHECK(cudaMemcpy(get(), t.data(), t.byte_size(), cudaMemcpyHostToDevice));
  }
  /// 0xFF bytes everywhere: NaN in every float format, -1 in integers, true in bool.
  void poison() { buffer_.poison(); }
  HostTensor download(DataType dtype, std::vector<int64_t> shape) const {
    HostTensor t(dtype, std::move(shape));
    REQUIRE(t.byte_size() <= bytes_);
    RTX_CUDA_CHECK(cudaDeviceSynchronize());
    if (t.byte_size())
      RTX_CUDA_CHECK(cudaMemcpy(t.mutable_data(), get(), t.byte_size(), cudaMemcpyDeviceToHost));
    return t;
  }

 private:
  DeviceBuffer buffer_;
  size_t offset_;
  size_t bytes_;
};

using Attrs = std::map<std::string, ir::AttrValue, std::less<>>;

/// A node with inputs 0..inputs-1 and `outputs` outputs numbered after them.
inline ir::Node make_node(ir::OpKind op, size_t inputs, Attrs attrs = {}, size_t outputs = 1) {
  ir::Node n;
  n.op = op;
  n.name = std::string(ir::op_name(op)) + "_under_test";
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back(static_cast<ir::ValueId>(i));
  for (size_t i = 0; i < outputs; ++i) n.outputs.push_back(static_cast<ir::ValueId>(inputs + i));
  n.attrs = std::move(attrs);
  return n;
}

/// TensorInfos of concrete tensors (absent ones for invalid tensors).
inline std::vector<ir::TensorInfo> infos_of(const std::vector<HostTensor>& ts) {
  std::vector<ir::TensorInfo> v;
  for (const auto& t : ts) v.push_back(ir::TensorInfo{t.dtype(), t.shape(), t.valid()});
  return v;
}

/// Checks the launch status and the kernel's completion, naming the case.
inline void check_ran(const Expected<void>& r, const std::string& what) {
  REQUIRE_MESSAGE(r.has_value(), what << ": launch failed: " << (r ? std::string() : r.error().to_string()));
  const cudaError_t sync = cudaDeviceSynchronize();
  REQUIRE_MESSAGE(sync == cudaSuccess, what << ": kernel failed: " << cudaGetErrorString(sync));
  const cudaError_t last = cudaGetLastError();
  REQUIRE_MESSAGE(last == cudaSuccess, what << ": " << cudaGetErrorString(last));
}

/// Exact comparison (bit patterns, except that any NaN equals any NaN), naming the first
/// mismatching element.
inline void check_exact(const HostTensor& got, const HostTensor& want, const std::string& what) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), what << ": shape " << got.describe() << " vs "
                                                    << want.describe());
  REQUIRE(got.dtype() == want.dtype());
  const int64_t n = want.element_count();
  for (int64_t i = 0; i < n; ++i) {
    const double g = got.get_double(i), w = want.get_double(i);
    const bool same = is_integer(want.dtype()) || want.dtype() == DataType::kBOOL
                          ? got.get_int(i) == want.get_int(i)
                          : (g == w && std::signbit(g) == std::signbit(w)) || (std::isnan(g) && std::isnan(w));
    if (!same) {
      FAIL_CHECK(what << " " << want.describe() << ": element " << i << " is " << g << ", want " << w);
      return;
    }
  }
}

/// A fresh seed source for a case, printed on failure so the case can be replayed.
inline uint64_t fresh_seed() {
  static std::mt19937_64 rng(std::random_device{}());
  return rng() | 1;
}

}  // namespace rtx::test::gpu
