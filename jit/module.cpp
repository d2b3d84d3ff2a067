// SPDX-License-Identifier: Apache-2.0
// Module loading and kernel launch through cudart's library management API; see module.hpp.
#include "jit/module.hpp"

#include <cuda_runtime_api.h>

#include "jit/device.hpp"
#include "jit/errors.hpp"

namespace rtx::jit {
namespace {

bool is_no_device(cudaError_t e) {
  return e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice ||
         e == cudaErrorInitializationError || e == cudaErrorStubLibrary ||
         e == cudaErrorDevicesUnavailable || e == cudaErrorCallRequiresNewerDriver;
}

Error cuda_error(const char* id, const std::string& what, cudaError_t e) {
  cudaGetLastError();  // do not leave the error behind for unrelated later calls
  return Error{is_no_device(e) ? errc::kNoDevice : id,
               (is_no_device(e) ? "no CUDA driver/device: " : "") + what + ": " +
                   cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")"};
}

}  // namespace

Expected<void> Kernel::launch(Dim3 grid, Dim3 block, size_t dynamic_shared_bytes, void* stream,
                              void** args) const {
  const cudaError_t e =
      cudaLaunchKernel(handle_, dim3(grid.x, grid.y, grid.z), dim3(block.x, block.y, block.z), args,
                       dynamic_shared_bytes, static_cast<cudaStream_t>(stream));
  if (e != cudaSuccess) {
    return cuda_error(errc::kLaunchFailed,
                      "launching kernel '" + name_ + "' (grid " + std::to_string(grid.x) + "x" +
                          std::to_string(grid.y) + "x" + std::to_string(grid.z) + ", block " +
                          std::to_string(block.x) + "x" + std::to_string(block.y) + "x" +
                          std::to_string(block.z) + ", " + std::to_string(dynamic_shared_bytes) +
                          " B dynamic shared memory)",
                      e);
  }
  return {};
}

Expected<void> Kernel::set_max_dynamic_shared_memory(int bytes) const {
  const cudaError_t e =
      cudaFuncSetAttribute(handle_, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e != cudaSuccess) {
    return cuda_error(
        errc::kLaunchFailed,
        "allowing " + std::to_string(bytes) + " B of dynamic shared memory for '" + name_ + "'", e);
  }
  return {};
}

Expected<Module> Module::load(std::span<const uint8_t> image, bool ptx) {
  if (image.empty()) return Error{errc::kBadImage, "cannot load an empty kernel image"};
  // Ask for the device first: with no driver this gives the clearest reason.
  if (auto n = device_count(); !n) return n.error();
  Module m;
  m.code_.assign(image.begin(), image.end());
  if (ptx) {
    while (!m.code_.empty() && m.code_.back() == 0) m.code_.pop_back();
    for (uint8_t b : m.code_) {
      if (b == 0) return Error{errc::kBadImage, "PTX image contains a NUL byte"};
    }
    m.code_.push_back(0);  // cudaLibraryLoadData reads PTX as a C string
  }
  cudaLibrary_t lib = nullptr;
  const cudaError_t e =
      cudaLibraryLoadData(&lib, m.code_.data(), nullptr, nullptr, 0, nullptr, nullptr, 0);
  if (e != cudaSuccess) {
    return cuda_error(errc::kModuleLoad,
                      std::string("loading a ") + (ptx ? "PTX" : "cubin") + " image of " +
                          std::to_string(image.size()) + " bytes",
                      e);
  }
  m.library_ = lib;
  return m;
}

Expected<Module> Module::load(const CompiledImage& image) {
  auto m = load(image.image, image.target.ptx);
  if (!m) {
    return Error{m.error().id, m.error().message + " (target " + image.target.to_string() + ")"};
  }
  return m;
}

Module::Module(Module&& other) noexcept
    : library_(std::exchange(other.library_, nullptr)), code_(std::move(other.code_)) {}

Module& Module::operator=(Module&& other) noexcept {
  if (this != &other) {
    if (library_) cudaLibraryUnload(static_cast<cudaLibrary_t>(library_));
    library_ = std::exchange(other.library_, nullptr);
    code_ = std::move(other.code_);
  }
  return *this;
}

Module::~Module() {
  if (library_) cudaLibraryUnload(static_cast<cudaLibrary_t>(library_));
}

Expected<Kernel> Module::kernel(std::string_view lowered_name) const {
  if (!library_) return Error{errc::kModuleLoad, "module is not loaded (moved from)"};
  const std::string name(lowered_name);
  cudaKernel_t k = nullptr;
  const cudaError_t e =
      cudaLibraryGetKernel(&k, static_cast<cudaLibrary_t>(library_), name.c_str());
  if (e != cudaSuccess) {
    return cuda_error(errc::kKernelNotFound, "looking up kernel '" + name + "' in module", e);
  }
  return Kernel(static_cast<void*>(k), name);
}

const CompiledImage* select_image(std::span<const CompiledImage> images, int sm) {
  const CompiledImage* best = nullptr;
  int best_rank = -1;
  int best_sm = -1;
  for (const auto& img : images) {
    const Target& t = img.target;
    int rank = -1;
    if (!t.ptx && t.arch_specific && t.sm == sm) {
      rank = 4;
    } else if (!t.ptx && !t.arch_specific && t.sm == sm) {
      rank = 3;
    } else if (!t.ptx && !t.arch_specific && t.sm / 10 == sm / 10 && t.sm < sm) {
      rank = 2;
    } else if (t.ptx && !t.arch_specific && t.sm <= sm) {
      rank = 1;
    } else if (t.ptx && t.arch_specific && t.sm == sm) {
      rank = 1;
    }
    if (rank > best_rank || (rank == best_rank && rank >= 0 && t.sm > best_sm)) {
      best = rank >= 0 ? &img : best;
      best_rank = rank;
      best_sm = t.sm;
    }
  }
  return best_rank >= 0 ? best : nullptr;
}

}  // namespace rtx::jit
