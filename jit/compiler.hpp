// SPDX-License-Identifier: Apache-2.0
// The NVRTC compile service: one kernel program (rendered source + name expressions + options)
// compiled for a list of targets, in parallel, with no GPU. A cubin per `sm_XX` target and PTX
// per `compute_XX` target. Options are canonical (sorted, deduplicated, with the fixed defaults
// added) so equal requests are byte-equal and hash to the same cache key. Every embedded header
// (jit/template_registry.hpp) is visible to the program by its include name. Errors carry the
// NVRTC log, the options, the name expressions and the program name; with RTX_JIT_DUMP_DIR set
// the failing program and log are also written there.
//
// Environment: CUDA_PATH (toolkit whose headers programs see), RTX_JIT_DUMP_DIR (write failing
// programs and logs there), RTX_ASSERT_NO_JIT=1 (any NVRTC run is an error, rtx.jit.102; cache
// hits still work), RTX_JIT_SUBPROCESS=0 (compile in-process), RTX_JIT_THREADS=N (at most N
// compiles at once), RTX_CACHE_DIR (see cache.hpp). Nothing is printed or timed unless asked.
#pragma once

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rtx/error.hpp"

namespace rtx::jit {

class KernelCache;
class ThreadPool;

/// One compilation target: `sm_XX` (cubin), `sm_XXa` (cubin using arch-specific instructions,
/// runs only on exactly that architecture) or `compute_XX` (PTX, JIT-compiled by the driver on
/// that architecture and every newer one).
struct Target {
  int sm = 80;                 ///< compute capability * 10: 80, 86, 89, 90, 100, 120, ...
  bool arch_specific = false;  ///< the `a` suffix (sm_90a); only for sm >= 90
  bool ptx = false;            ///< compute_XX: PTX text instead of a cubin

  /// "sm_90", "sm_90a", "compute_80" (the NVRTC -arch value).
  std::string to_string() const;
  /// Parses what to_string() writes; error rtx.jit.103 otherwise.
  static Expected<Target> parse(std::string_view text);
  friend auto operator<=>(const Target&, const Target&) = default;
};

/// A kernel program as the builder renders it.
struct Program {
  std::string name;    ///< NVRTC program name: appears in logs ("name(12): error ...") and dumps
  std::string source;  ///< e.g. `#include "common/smoke.cuh"` plus rendered functors
  std::vector<std::string> name_expressions;  ///< "rtx::kernels::smoke_scale<float, 2>", ...
  std::vector<std::string> options;           ///< extra NVRTC options, one token each ("-DX=1")
};

/// The result of compiling one Program for one Target.
struct CompiledImage {
  Target target;
  std::vector<uint8_t> image;  ///< cubin (ELF) bytes, or PTX text without a trailing NUL
  /// (name expression, lowered/mangled name) for every name expression, sorted by expression.
  std::vector<std::pair<std::string, std::string>> lowered_names;
  std::string log;       ///< NVRTC log (warnings); usually empty
  double seconds = 0.0;  ///< NVRTC wall time of this compile; 0 when served from a cache

  /// The lowered name of `expression`, or nullptr when it was not a name expression.
  const std::string* lowered_name(std::string_view expression) const;
};

/// Where NVRTC runs. NVRTC 13 serialises compiles inside one process (threads take turns: two
/// threads compiling finish no sooner than one), so parallel compiles need processes.
enum class Isolation : uint8_t {
  /// kSubprocess where fork() exists, the machine has more than one core and RTX_JIT_SUBPROCESS
  /// is not "0"; else kInProcess.
  kAuto,
  /// NVRTC in this process (one compile at a time).
  kInProcess,
  /// Each compile in a forked worker process that returns its result through a pipe. The workers
  /// of a parallel compile really run in parallel, and an NVRTC crash is an error, not the end
  /// of the caller's process.
  kSubprocess,
};

/// How compile() runs.
struct CompileOptions {
  /// Look up and store each (program, target) here; nullptr always runs NVRTC.
  KernelCache* cache = nullptr;
  /// Pool for the per-target compiles; nullptr uses ThreadPool::shared().
  ThreadPool* pool = nullptr;
  /// Where each NVRTC compile runs.
  Isolation isolation = Isolation::kAuto;
};

/// Compiles `program` for every target, in parallel; images are returned in `targets` order.
/// Errors: rtx.jit.101 (NVRTC rejected the program; carries log, options, name expressions),
/// 102 (RTX_ASSERT_NO_JIT=1 and a compile was needed), 103 (target unsupported by the installed
/// NVRTC), 104 (bad option), 105 (NVRTC API failure), 106 (no targets / a target listed twice).
/// With several failing targets, the error of the first in `targets` order is returned.
Expected<std::vector<CompiledImage>> compile(const Program& program,
                                             std::span<const Target> targets,
                                             const CompileOptions& options = {});

/// Runs NVRTC once: `program` must already be canonical (see canonicalize). No cache; honours
/// RTX_ASSERT_NO_JIT and RTX_JIT_DUMP_DIR. The building block of compile() and KernelCache.
/// Thread-safe; with kSubprocess, calls from several threads compile in parallel.
Expected<CompiledImage> compile_uncached(const Program& canonical, const Target& target,
                                         Isolation isolation = Isolation::kAuto);

/// What kAuto means on this machine and environment: kSubprocess or kInProcess.
Isolation resolve(Isolation isolation);

/// `program` with canonical options (see canonical_options) and its name expressions sorted and
/// deduplicated (the order NVRTC sees them in, and the order of CompiledImage::lowered_names).
Expected<Program> canonicalize(const Program& program);

/// Sorted, deduplicated options plus the fixed ones: -std=c++17 (unless the caller gave a -std),
/// -default-device, -I<cuda>/include and -I<cuda>/include/cccl. Every option must be one token
/// starting with '-'; -arch/--gpu-architecture is refused (targets choose it), as are two
/// different -std values (rtx.jit.104). Options form a set: "-DX -UX" order is not kept.
Expected<std::vector<std::string>> canonical_options(std::span<const std::string> options);

/// Root of the CUDA toolkit whose headers NVRTC programs see: $CUDA_PATH if set, else the
/// toolkit the library was built against (RTX_CUDA_ROOT), else /usr/local/cuda.
std::string cuda_root();

/// "13.0": the version of the NVRTC library loaded at run time (part of every cache key).
std::string nvrtc_version();

/// Architectures (sm * 10 values) the installed NVRTC can compile for, ascending.
const std::vector<int>& supported_archs();

/// rtx.jit.103 unless `target` is well-formed and supported by the installed NVRTC.
Expected<void> check_target(const Target& target);

/// Every released architecture from 8.0 in {80, 86, 89, 90, 100, 120} that the installed NVRTC
/// supports, as cubins, then PTX for the lowest of them (so newer GPUs can run the engine).
std::vector<Target> default_targets();

}  // namespace rtx::jit
