// SPDX-License-Identifier: Apache-2.0
// Shared by tests/unit/test_templates_<family>.cpp: compiles one kernel program for every default
// target with a memory-only cache and checks what NVRTC returns (non-empty ELF cubins and PTX
// text, every name expression lowered to a mangled name), plus small IR-building helpers.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "jit/cache.hpp"
#include "jit/compiler.hpp"

namespace rtx::test {

/// Fake, suitably aligned device addresses for parameter tests (never dereferenced).
inline void* fake_ptr(uintptr_t address) {
  return reinterpret_cast<void*>(address);
}

/// Compiles `program` for `targets` (default: jit::default_targets()) and checks the images.
inline std::vector<jit::CompiledImage> compile_and_check(const jit::Program& program,
                                                         std::vector<jit::Target> targets = {}) {
  if (targets.empty()) targets = jit::default_targets();
  static jit::KernelCache cache{std::filesystem::path{}};
  jit::CompileOptions options;
  options.cache = &cache;
  const auto start = std::chrono::steady_clock::now();
  auto images = jit::compile(program, targets, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE_MESSAGE(images.has_value(), (images ? std::string() : images.error().to_string()));
  std::printf("compiled '%s': %zu name expressions for %zu targets in %.1f s\n",
              program.name.c_str(), program.name_expressions.size(), targets.size(), seconds);
  REQUIRE(images->size() == targets.size());
  for (const auto& image : *images) {
    INFO("target " << image.target.to_string());
    REQUIRE(!image.image.empty());
    if (image.target.ptx) {
      const std::string text(image.image.begin(), image.image.end());
      CHECK(text.find(".version") != std::string::npos);
      CHECK(text.find(".target") != std::string::npos);
    } else {
      REQUIRE(image.image.size() > 4);
      CHECK(image.image[0] == 0x7f);
      CHECK(image.image[1] == 'E');
      CHECK(image.image[2] == 'L');
      CHECK(image.image[3] == 'F');
    }
    for (const auto& expr : program.name_expressions) {
      const std::string* lowered = image.lowered_name(expr);
      REQUIRE_MESSAGE(lowered != nullptr, "no lowered name for " << expr);
      CHECK(lowered->rfind("_Z", 0) == 0);
    }
  }
  return std::move(*images);
}

/// PTX text of `images` (the compute_XX image), or empty.
inline std::string ptx_of(const std::vector<jit::CompiledImage>& images) {
  for (const auto& i : images)
    if (i.target.ptx) return std::string(i.image.begin(), i.image.end());
  return {};
}

/// The PTX body of the kernel whose mangled name is `lowered` (from ".entry name(" to the next
/// ".entry" or the end).
inline std::string ptx_entry(const std::string& ptx, const std::string& lowered) {
  const size_t at = ptx.find(".entry " + lowered + "(");
  if (at == std::string::npos) return {};
  const size_t next = ptx.find(".entry ", at + 7);
  return ptx.substr(at, next == std::string::npos ? std::string::npos : next - at);
}

/// Output value of node `n`.
inline ir::ValueId out_of(const ir::Graph& g, ir::NodeId n, size_t i = 0) {
  return g.node(n).outputs.at(i);
}

}  // namespace rtx::test
