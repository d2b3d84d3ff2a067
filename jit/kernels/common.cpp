// SPDX-License-Identifier: Apache-2.0
// Host helpers shared by the kernel families: shape arithmetic, name-expression spelling and
// launching a kernel of a loaded program by its name expression.
#include "jit/kernels/common.hpp"

#include "jit/errors.hpp"

namespace rtx::jit::kernels {

int64_t element_count(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<int64_t> contiguous_strides(std::span<const int64_t> shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

std::string name_expression(std::string_view name, std::initializer_list<std::string_view> args) {
  std::string s(name);
  s += '<';
  bool first = true;
  for (std::string_view a : args) {
    if (!first) s += ", ";
    s += a;
    first = false;
  }
  s += '>';
  return s;
}

std::string name_expression(std::string_view name, std::span<const std::string> args) {
  std::string s(name);
  s += '<';
  for (size_t i = 0; i < args.size(); ++i) {
    if (i) s += ", ";
    s += args[i];
  }
  s += '>';
  return s;
}

Expected<LoadedProgram> LoadedProgram::load(const CompiledImage& image) {
  auto module = Module::load(image);
  if (!module) return module.error();
  return LoadedProgram(std::move(*module), image.lowered_names);
}

Expected<Kernel> LoadedProgram::kernel(std::string_view expression) const {
  for (const auto& [expr, lowered] : names_)
    if (expr == expression) return module_.kernel(lowered);
  return Error{rtx::jit::errc::kKernelNotFound,
               "name expression '" + std::string(expression) + "' is not part of this program"};
}

Expected<void> launch(const LoadedProgram& program, std::string_view expression,
                      const LaunchConfig& config, void* params, void* stream) {
  if (config.grid.x == 0 || config.grid.y == 0 || config.grid.z == 0) return {};
  auto kernel = program.kernel(expression);
  if (!kernel) return kernel.error();
  void* args[] = {params};
  return kernel->launch(config.grid, config.block, config.shared_bytes, stream, args);
}

}  // namespace rtx::jit::kernels
