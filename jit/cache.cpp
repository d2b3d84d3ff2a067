// SPDX-License-Identifier: Apache-2.0
// KernelCache; see cache.hpp. Disk entry layout (all integers little-endian):
//
//   offset  size  field
//   0       8     magic "RTXJITK1" (the last byte is the format version)
//   8       8     payload length in bytes; the file is exactly 24 + length bytes
//   16      8     FNV-1a 64 of the payload
//   24      ...   payload: a sequence of fields, each an 8-byte length then its bytes:
//                 key, then the image as jit/image_codec.hpp writes it (target string, image
//                 bytes, log, compile seconds, lowered-name count, then expression and lowered
//                 name per entry; numbers as decimal text)
//
// The key is stored again inside so a file renamed by hand (or a hash collision of the file
// name, impossible in practice) is never served for the wrong request.
#include "jit/cache.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <system_error>

#include "jit/errors.hpp"
#include "jit/hash.hpp"
#include "jit/image_codec.hpp"
#include "jit/template_registry.hpp"

namespace rtx::jit {
namespace {

namespace fs = std::filesystem;
using codec::FieldReader;
using codec::get_u64;
using codec::put_field;
using codec::put_u64;

constexpr char kMagic[8] = {'R', 'T', 'X', 'J', 'I', 'T', 'K', '1'};
constexpr size_t kHeaderBytes = 24;
// Sanity bound before allocating: no kernel image is near this; a larger file is not ours.
constexpr uint64_t kMaxFileBytes = uint64_t(1) << 31;

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

KernelCache::KernelCache() : KernelCache(default_directory()) {}

KernelCache::KernelCache(fs::path directory) : directory_(std::move(directory)) {}

KernelCache& KernelCache::global() {
  static KernelCache cache;
  return cache;
}

fs::path KernelCache::default_directory() {
  if (std::string d = env_or_empty("RTX_CACHE_DIR"); !d.empty()) return d;
  if (std::string d = env_or_empty("XDG_CACHE_HOME"); !d.empty()) return fs::path(d) / "rtx";
  if (std::string d = env_or_empty("HOME"); !d.empty()) return fs::path(d) / ".cache" / "rtx";
  return {};
}

std::string KernelCache::key(const Program& canonical, const Target& target) {
  Sha256 h;
  h.field("rtx.jit.cache.v1");
  h.field(embedded_templates_digest());
  h.field(nvrtc_version());
  h.field(target.to_string());
  h.field(canonical.name);
  h.field(canonical.source);
  h.field(std::to_string(canonical.options.size()));
  for (const auto& o : canonical.options) h.field(o);
  h.field(std::to_string(canonical.name_expressions.size()));
  for (const auto& e : canonical.name_expressions) h.field(e);
  return h.hex_digest();
}

fs::path KernelCache::file_for(std::string_view key) const {
  if (directory_.empty()) return {};
  return directory_ / (std::string(key) + ".rtxk");
}

std::optional<CompiledImage> KernelCache::read_disk(const std::string& key, const Target& target) {
  if (directory_.empty()) return std::nullopt;
  const fs::path path = file_for(key);
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) return std::nullopt;  // absent (or unreadable: same outcome, recompile)
  auto corrupt = [&]() -> std::optional<CompiledImage> {
    std::lock_guard lock(mutex_);
    ++stats_.disk_errors;
    return std::nullopt;
  };
  if (size < kHeaderBytes || size > kMaxFileBytes) return corrupt();
  std::string data(size_t(size), '\0');
  {
    std::ifstream f(path, std::ios::binary);
    if (!f.read(data.data(), std::streamsize(data.size()))) return corrupt();
  }
  if (std::string_view(data.data(), 8) != std::string_view(kMagic, 8)) return corrupt();
  const uint64_t length = get_u64(data.data() + 8);
  const uint64_t checksum = get_u64(data.data() + 16);
  if (length != size - kHeaderBytes) return corrupt();
  const std::string_view payload(data.data() + kHeaderBytes, size_t(length));
  if (fnv1a64(std::span(reinterpret_cast<const uint8_t*>(payload.data()), payload.size())) !=
      checksum) {
    return corrupt();
  }
  FieldReader r(payload);
  CompiledImage out;
  if (r.next() != key || !codec::get_image(r, out) || !r.at_end() || !(out.target == target)) {
    return corrupt();
  }
  out.seconds = 0.0;  // served from disk: no compile time
  return out;
}

void KernelCache::write_disk(const std::string& key, const CompiledImage& image) {
  if (directory_.empty()) return;
  std::string payload;
  put_field(payload, key);
  codec::put_image(payload, image, /*keep_seconds=*/false);
  std::string file(kMagic, 8);
  put_u64(file, payload.size());
  put_u64(file,
          fnv1a64(std::span(reinterpret_cast<const uint8_t*>(payload.data()), payload.size())));
  file += payload;

  // Same folder as the target, so rename() is atomic: readers see the old file or the new one,
  // never a partial one. The name is unique per process and write.
  static std::atomic<uint64_t> counter{0};
  const fs::path final_path = file_for(key);
  const fs::path temp_path = directory_ / ("." + key + "." + std::to_string(::getpid()) + "." +
                                           std::to_string(counter.fetch_add(1)) + ".tmp");
  std::error_code ec;
  bool ok = true;
  fs::create_directories(directory_, ec);
  {
    std::ofstream f(temp_path, std::ios::binary | std::ios::trunc);
    f.write(file.data(), std::streamsize(file.size()));
    f.close();
    ok = !f.fail();
  }
  if (ok) {
    fs::rename(temp_path, final_path, ec);
    ok = !ec;
  }
  if (!ok) fs::remove(temp_path, ec);
  std::lock_guard lock(mutex_);
  ++(ok ? stats_.disk_writes : stats_.disk_errors);
}

Expected<CompiledImage> KernelCache::get_or_compile(const Program& canonical, const Target& target,
                                                    Isolation isolation) {
  const std::string k = key(canonical, target);
  std::promise<Expected<CompiledImage>> promise;
  Slot slot;
  bool owner = false;
  {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(k); it != entries_.end()) {
      slot = it->second;
      ++stats_.memory_hits;
    } else {
      slot = promise.get_future().share();
      entries_.emplace(k, slot);
      owner = true;
    }
  }
  if (!owner) {
    Expected<CompiledImage> hit = slot.get();  // waits while an identical compile is in flight
    if (hit) hit->seconds = 0.0;
    return hit;
  }

  // This thread owns the entry: it must fulfil the promise whatever happens, or waiters hang.
  Expected<CompiledImage> result =
      detail::catch_errors(errc::kInternal, [&]() -> Expected<CompiledImage> {
        if (auto disk = read_disk(k, target)) {
          std::lock_guard lock(mutex_);
          ++stats_.disk_hits;
          return std::move(*disk);
        }
        Expected<CompiledImage> compiled = compile_uncached(canonical, target, isolation);
        {
          std::lock_guard lock(mutex_);
          ++stats_.misses;
          if (compiled) {
            stats_.compile_seconds += compiled->seconds;
          } else {
            ++stats_.failures;
          }
        }
        if (compiled) write_disk(k, *compiled);
        return compiled;
      });
  promise.set_value(result);
  if (!result) {
    // Failures are not remembered: drop our slot (unless clear_memory() already replaced it).
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(k);
        it != entries_.end() && it->second.valid() &&
        it->second.wait_for(std::chrono::seconds(0)) == std::future_status::ready &&
        !it->second.get()) {
      entries_.erase(it);
    }
  }
  return result;
}

CacheStats KernelCache::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void KernelCache::clear_memory() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

}  // namespace rtx::jit
