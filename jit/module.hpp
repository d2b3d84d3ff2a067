// SPDX-License-Identifier: Apache-2.0
// Run-time side of the JIT: load a cubin or PTX image into the current CUDA context and look
// kernels up by lowered name, through cudart's library management API (cudaLibraryLoadData,
// cudaLibraryGetKernel, cudaLaunchKernel with a cudaKernel_t). rtx links cudart statically and
// cudart dlopens libcuda, so there is no link-time driver dependency: with no driver every call
// returns rtx.jit.201. Handles are opaque here so users of this header need no CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "jit/compiler.hpp"
#include "rtx/error.hpp"

namespace rtx::jit {

/// Grid or block extent.
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

/// A kernel of a loaded Module. Valid while its Module lives; cheap to copy.
class Kernel {
 public:
  /// Launches on `stream` (a cudaStream_t; nullptr = legacy default stream). `args` points to
  /// one pointer per kernel parameter, as for cudaLaunchKernel. rtx.jit.204 on failure.
  Expected<void> launch(Dim3 grid, Dim3 block, size_t dynamic_shared_bytes, void* stream,
                        void** args) const;
  /// Allows up to `bytes` of dynamic shared memory (needed above 48 KiB). rtx.jit.204 on failure.
  Expected<void> set_max_dynamic_shared_memory(int bytes) const;
  /// The lowered name it was looked up by.
  const std::string& name() const { return name_; }
  /// The cudaKernel_t.
  void* handle() const { return handle_; }

 private:
  friend class Module;
  Kernel(void* handle, std::string name) : handle_(handle), name_(std::move(name)) {}
  void* handle_ = nullptr;
  std::string name_;
};

/// A loaded image (cudaLibrary_t). Move-only; unloads on destruction.
class Module {
 public:
  /// Loads a cubin (ptx = false) or PTX text (ptx = true; a trailing NUL is optional).
  /// rtx.jit.201 with no driver/device, 206 for an empty image, 202 if the driver rejects it.
  static Expected<Module> load(std::span<const uint8_t> image, bool ptx);
  /// Loads a compiled image.
  static Expected<Module> load(const CompiledImage& image);

  Module(Module&& other) noexcept;
  Module& operator=(Module&& other) noexcept;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module();

  /// The kernel called `lowered_name` (CompiledImage::lowered_name() gives it); rtx.jit.203.
  Expected<Kernel> kernel(std::string_view lowered_name) const;

 private:
  Module() = default;
  void* library_ = nullptr;    // cudaLibrary_t
  std::vector<uint8_t> code_;  // kept alive while loaded (lazy loading may read it later)
};

/// The best image in `images` for a GPU of compute capability `sm` (major * 10 + minor), or
/// nullptr: an arch-specific cubin for exactly `sm`, else a cubin for exactly `sm`, else the
/// newest cubin of the same major version not newer than `sm` (binary compatible), else the
/// newest PTX not newer than `sm` (the driver JIT-compiles it: runs, possibly slower).
const CompiledImage* select_image(std::span<const CompiledImage> images, int sm);

}  // namespace rtx::jit
