// SPDX-License-Identifier: Apache-2.0
// Content-addressed kernel cache, in memory and on disk. The key is a sha256 over everything that
// changes the binary: the digest of all embedded headers (a program may include any of them), the
// program name and rendered source, its sorted name expressions, its canonical options, the target
// and the NVRTC version. Identical requests compile once, also when they arrive concurrently from
// several threads (later requests wait for the first). Disk entries are written to a temporary
// file in the cache folder and renamed into place, and carry a header (magic, length, checksum):
// a torn, truncated or foreign file is ignored and recompiled, never trusted or fatal.
#pragma once

#include <cstdint>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "jit/compiler.hpp"
#include "rtx/error.hpp"

namespace rtx::jit {

/// Counters of one KernelCache.
struct CacheStats {
  uint64_t memory_hits = 0;  ///< served from memory, incl. waits on an identical compile in flight
  uint64_t disk_hits = 0;    ///< loaded from a valid disk entry
  uint64_t misses = 0;       ///< NVRTC ran (or was refused by RTX_ASSERT_NO_JIT)
  uint64_t failures = 0;     ///< misses that ended in an error (not cached)
  uint64_t disk_writes = 0;  ///< entries written to disk
  uint64_t disk_errors = 0;  ///< unreadable/corrupt files ignored, or writes that failed
  double compile_seconds = 0.0;  ///< NVRTC wall time summed over misses
};

/// Memory + disk kernel cache. Thread-safe.
class KernelCache {
 public:
  /// Disk folder from the environment (see default_directory()); memory only when none.
  KernelCache();
  /// Disk folder `directory`, created on first write; an empty path means memory only.
  explicit KernelCache(std::filesystem::path directory);
  KernelCache(const KernelCache&) = delete;
  KernelCache& operator=(const KernelCache&) = delete;

  /// The process-wide cache the builder uses (default directory).
  static KernelCache& global();

  /// $RTX_CACHE_DIR, else $XDG_CACHE_HOME/rtx, else $HOME/.cache/rtx; empty if none is set.
  static std::filesystem::path default_directory();

  /// The disk folder; empty when this cache is memory only.
  const std::filesystem::path& directory() const { return directory_; }

  /// 64 hex characters naming the entry for `canonical` (see canonicalize()) and `target`.
  static std::string key(const Program& canonical, const Target& target);

  /// The disk file of `key` (whether or not it exists); empty path when memory only.
  std::filesystem::path file_for(std::string_view key) const;

  /// The cached image for (canonical, target), compiling it with compile_uncached() on a miss.
  /// Failed compiles are not cached: a later request tries again.
  Expected<CompiledImage> get_or_compile(const Program& canonical, const Target& target,
                                         Isolation isolation = Isolation::kAuto);

  /// A snapshot of the counters.
  CacheStats stats() const;

  /// Forgets the in-memory entries (the disk stays); compiles in flight finish normally.
  void clear_memory();

 private:
  using Slot = std::shared_future<Expected<CompiledImage>>;
  std::optional<CompiledImage> read_disk(const std::string& key, const Target& target);
  void write_disk(const std::string& key, const CompiledImage& image);

  std::filesystem::path directory_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Slot> entries_;
  CacheStats stats_;
};

}  // namespace rtx::jit
