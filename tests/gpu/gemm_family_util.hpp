// SPDX-License-Identifier: Apache-2.0
// Shared by the GPU tests of the GEMM-shaped families (gemm, conv, qgemm, qconv): the GPU's
// compute capability and multiprocessor count; a set of kernels compiled from kernel specs
// (any spec type with program(), name_expression() and describe()), keyed by name expression,
// compiled in parallel batches (NVRTC in worker processes) and loaded once each; random
// quantized operands; and the device copies of a folded quantized group's operands.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gpu_harness.hpp"
#include "ir/graph.hpp"
#include "ir/reference.hpp"
#include "jit/kernels/common.hpp"
#include "jit/thread_pool.hpp"

namespace rtx::test::gpu {

inline int device_sm() {
  static const int sm = device_target().sm;
  return sm;
}

inline int device_sms() {
  static const int n = [] {
    auto info = jit::device_info(0);
    REQUIRE(info);
    return info->multiprocessors;
  }();
  return n;
}

/// Kernels compiled from specs of type Spec. `target_for` picks each spec's compile target
/// (default: the GPU in use; sm_90a kernels need the arch-specific target).
template <class Spec>
class SpecKernels {
 public:
  using TargetFor = jit::Target (*)(const Spec&);

  explicit SpecKernels(TargetFor target_for = nullptr) : target_for_(target_for) {}

  /// Compiles and loads every spec whose kernel is not loaded yet, in parallel.
  void prepare(const std::vector<Spec>& specs) {
    std::vector<const Spec*> todo;
    for (const auto& s : specs) {
      const std::string name = s.name_expression();
      if (!entries_.count(name) &&
          std::none_of(todo.begin(), todo.end(), [&](const Spec* t) { return t->name_expression() == name; }))
        todo.push_back(&s);
    }
    std::vector<std::optional<Expected<std::vector<jit::CompiledImage>>>> results(todo.size());
    std::vector<jit::Target> targets;
    for (const Spec* s : todo) targets.push_back(target_for_ ? target_for_(*s) : device_target());
    jit::ThreadPool pool;
    pool.parallel_for(todo.size(), [&](size_t i) {
      jit::CompileOptions options;
      options.cache = &cache_;
      options.isolation = jit::Isolation::kSubprocess;
      results[i].emplace(jit::compile(todo[i]->program(), std::span<const jit::Target>(&targets[i], 1), options));
    });
    for (size_t i = 0; i < todo.size(); ++i) {
      auto& r = *results[i];
      REQUIRE_MESSAGE(r, todo[i]->describe() << ": " << (r ? std::string() : r.error().to_string()));
      auto module = jit::Module::load((*r)[0]);
      REQUIRE_MESSAGE(module, (module ? std::string() : module.error().to_string()));
      const std::string name = todo[i]->name_expression();
      const std::string* lowered = (*r)[0].lowered_name(name);
      REQUIRE_MESSAGE(lowered != nullptr, "no lowered name for " << name);
      auto kernel = module->kernel(*lowered);
      REQUIRE_MESSAGE(kernel, (kernel ? std::string() : kernel.error().to_string()));
      entries_.emplace(name, std::make_unique<Entry>(Entry{std::move(*module), *kernel}));
    }
  }

  /// The loaded kernel of `spec`, compiled now if no batch held it.
  const jit::Kernel& get(const Spec& spec) {
    const std::string name = spec.name_expression();
    if (!entries_.count(name)) prepare({spec});
    return entries_.at(name)->kernel;
  }

 private:
  struct Entry {
    jit::Module module;
    jit::Kernel kernel;
  };
  TargetFor target_for_;
  jit::KernelCache cache_{std::filesystem::path{}};
  std::map<std::string, std::unique_ptr<Entry>> entries_;
};

/// The tests' random source, freshly seeded per process.
inline std::mt19937_64& rng() {
  static std::mt19937_64 r(std::random_device{}());
  return r;
}

/// Integers uniform in [lo, hi], stored as dtype.
inline HostTensor random_ints(DataType dtype, std::vector<int64_t> shape, int lo, int hi) {
  std::uniform_int_distribution<int> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(jit::kernels::element_count(shape)));
  for (auto& x : v) x = u(rng());
  return HostTensor::from_doubles(dtype, std::move(shape), v);
}

/// Reals uniform in [lo, hi), rounded to dtype.
inline HostTensor random_reals(DataType dtype, std::vector<int64_t> shape, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(jit::kernels::element_count(shape)));
  for (auto& x : v) x = u(rng());
  return HostTensor::from_doubles(dtype, std::move(shape), v);
}

/// Scales: powers of two 2^[lo, hi] (exact products) or uniform in [2^lo, 2^hi].
inline HostTensor scales(DataType dtype, std::vector<int64_t> shape, int lo, int hi, bool pow2) {
  if (!pow2) return random_reals(dtype, std::move(shape), std::ldexp(1.0, lo), std::ldexp(1.0, hi));
  std::uniform_int_distribution<int> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(jit::kernels::element_count(shape)));
  for (auto& x : v) x = std::ldexp(1.0, u(rng()));
  return HostTensor::from_doubles(dtype, std::move(shape), v);
}

/// A folded quantized group's operands (roles as QuantGemmGroup/QuantConvGroup::operands()
/// names them), on the host and on the device; the output role is left out.
struct GroupOperands {
  std::map<std::string, HostTensor> host;
  std::map<std::string, DeviceBuffer> dev;

  GroupOperands(const ir::Graph& g, const std::map<std::string, ir::ValueId>& roles,
                const ir::TensorMap& inputs, const std::string& output_role) {
    for (const auto& [role, v] : roles) {
      if (role == output_role) continue;
      if (const HostTensor* c = g.constant_data(v)) {
        host[role] = *c;
      } else {
        const auto it = inputs.find(g.value(v).name);
        REQUIRE_MESSAGE(it != inputs.end(), "no value for " << g.value(v).name);
        host[role] = it->second;
      }
      dev.emplace(role, DeviceBuffer(host[role]));
    }
  }
  /// The role's device pointer; null for a role the group does not have.
  const void* ptr(const char* role) const {
    const auto it = dev.find(role);
    return it == dev.end() ? nullptr : it->second.get();
  }
};

}  // namespace rtx::test::gpu
