// SPDX-License-Identifier: Apache-2.0
// PTX -> cubin through nvJitLink (dlopen), and the RuntimeCache blob; see ptx_cache.hpp.
#include "jit/runtime/ptx_cache.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "jit/hash.hpp"
#include "jit/runtime/errors.hpp"
#include "serialization/checksum.hpp"

namespace rtx::runtime {
namespace {

// The subset of nvJitLink's C API used here (types as in nvJitLink.h, which we do not include so
// that nothing requires the header either).
using Handle = void*;
using CreateFn = int (*)(Handle*, uint32_t, const char**);
using DestroyFn = int (*)(Handle*);
using AddDataFn = int (*)(Handle, int, const void*, size_t, const char*);
using CompleteFn = int (*)(Handle);
using SizeFn = int (*)(Handle, size_t*);
using GetFn = int (*)(Handle, void*);
using LogFn = int (*)(Handle, char*);
constexpr int kInputPtx = 2;  // NVJITLINK_INPUT_PTX

struct JitLink {
  CreateFn create = nullptr;
  DestroyFn destroy = nullptr;
  AddDataFn add_data = nullptr;
  CompleteFn complete = nullptr;
  SizeFn cubin_size = nullptr;
  GetFn cubin = nullptr;
  SizeFn log_size = nullptr;
  LogFn log = nullptr;
  std::string failure;
};

const JitLink& jitlink() {
  static JitLink lib = [] {
    JitLink l;
    std::vector<std::string> candidates = {"libnvJitLink.so.13", "libnvJitLink.so"};
    for (const char* env : {"CUDA_PATH", "CUDA_HOME"})
      if (const char* root = std::getenv(env)) candidates.push_back(std::string(root) + "/lib64/libnvJitLink.so.13");
    candidates.push_back("/usr/local/cuda/lib64/libnvJitLink.so.13");
    void* h = nullptr;
    for (const auto& c : candidates)
      if ((h = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
    if (h == nullptr) {
      l.failure = "nvJitLink (libnvJitLink.so.13) is not installed; it compiles an engine's PTX for GPUs the engine has no cubin for";
      return l;
    }
    const auto sym = [&](const char* name) { return dlsym(h, name); };
    l.create = reinterpret_cast<CreateFn>(sym("nvJitLinkCreate"));
    l.destroy = reinterpret_cast<DestroyFn>(sym("nvJitLinkDestroy"));
    l.add_data = reinterpret_cast<AddDataFn>(sym("nvJitLinkAddData"));
    l.complete = reinterpret_cast<CompleteFn>(sym("nvJitLinkComplete"));
    l.cubin_size = reinterpret_cast<SizeFn>(sym("nvJitLinkGetLinkedCubinSize"));
    l.cubin = reinterpret_cast<GetFn>(sym("nvJitLinkGetLinkedCubin"));
    l.log_size = reinterpret_cast<SizeFn>(sym("nvJitLinkGetErrorLogSize"));
    l.log = reinterpret_cast<LogFn>(sym("nvJitLinkGetErrorLog"));
    if (!l.create || !l.destroy || !l.add_data || !l.complete || !l.cubin_size || !l.cubin || !l.log_size || !l.log)
      l.failure = "libnvJitLink lacks the functions rtx needs";
    return l;
  }();
  return lib;
}

std::span<const uint8_t> trimmed(std::span<const uint8_t> ptx) {
  size_t n = ptx.size();
  while (n > 0 && ptx[n - 1] == 0) --n;
  return ptx.first(n);
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

bool assert_no_jit() {
  const char* v = std::getenv("RTX_ASSERT_NO_JIT");
  return v != nullptr && *v != 0 && std::string_view(v) != "0";
}

}  // namespace

bool ptx_compiler_available() { return jitlink().failure.empty(); }

std::string ptx_cache_key(std::span<const uint8_t> ptx, int sm) {
  const auto text = trimmed(ptx);
  return jit::sha256_hex(std::string_view(reinterpret_cast<const char*>(text.data()), text.size())) + ":sm_" +
         std::to_string(sm);
}

Expected<std::vector<uint8_t>> compile_ptx(std::span<const uint8_t> ptx, int sm) {
  const JitLink& l = jitlink();
  if (!l.failure.empty()) return Error{errc::kPtxCompile, l.failure};
  std::vector<uint8_t> text(trimmed(ptx).begin(), trimmed(ptx).end());
  text.push_back(0);
  const std::string arch = "-arch=sm_" + std::to_string(sm);
  const char* options[] = {arch.c_str()};
  Handle h = nullptr;
  if (int r = l.create(&h, 1, options); r != 0)
    return Error{errc::kPtxCompile, "nvJitLinkCreate(" + arch + ") failed with code " + std::to_string(r)};
  const auto fail = [&](const char* what, int code) {
    std::string log;
    size_t n = 0;
    if (l.log_size(h, &n) == 0 && n > 1) {
      log.resize(n);
      if (l.log(h, log.data()) == 0) log.resize(std::strlen(log.c_str()));
    }
    l.destroy(&h);
    return Error{errc::kPtxCompile, std::string(what) + " failed with code " + std::to_string(code) + " for " + arch +
                                        (log.empty() ? "" : ":\n" + log)};
  };
  if (int r = l.add_data(h, kInputPtx, text.data(), text.size(), "engine.ptx"); r != 0) return fail("nvJitLinkAddData", r);
  if (int r = l.complete(h); r != 0) return fail("nvJitLinkComplete", r);
  size_t size = 0;
  if (int r = l.cubin_size(h, &size); r != 0) return fail("nvJitLinkGetLinkedCubinSize", r);
  std::vector<uint8_t> cubin(size);
  if (int r = l.cubin(h, cubin.data()); r != 0) return fail("nvJitLinkGetLinkedCubin", r);
  l.destroy(&h);
  return cubin;
}

Expected<std::vector<uint8_t>> cubin_for_ptx(const RuntimeCache& cache, std::span<const uint8_t> ptx, int sm,
                                             bool* compiled) {
  if (compiled) *compiled = false;
  const std::string key = ptx_cache_key(ptx, sm);
  auto& state = cache.state();
  {
    std::lock_guard lock(state.mutex);
    if (auto it = state.entries.find(key); it != state.entries.end()) return it->second;
  }
  if (assert_no_jit())
    return Error{errc::kPtxCompile, "RTX_ASSERT_NO_JIT=1 and the PTX for sm_" + std::to_string(sm) +
                                        " is not in the runtime cache (load a saved RuntimeCache, or unset the variable)"};
  auto cubin = compile_ptx(ptx, sm);
  if (!cubin) return cubin.error();
  if (compiled) *compiled = true;
  std::lock_guard lock(state.mutex);
  state.entries.emplace(key, *cubin);
  return cubin;
}

}  // namespace rtx::runtime

namespace rtx {

std::vector<uint8_t> RuntimeCache::serialize() const {
  std::vector<uint8_t> out = {'R', 'T', 'X', 'C'};
  runtime::put_u32(out, 1);
  std::lock_guard lock(state_->mutex);
  runtime::put_u32(out, static_cast<uint32_t>(state_->entries.size()));
  for (const auto& [key, cubin] : state_->entries) {  // std::map: sorted, deterministic
    runtime::put_u32(out, static_cast<uint32_t>(key.size()));
    out.insert(out.end(), key.begin(), key.end());
    runtime::put_u64(out, cubin.size());
    out.insert(out.end(), cubin.begin(), cubin.end());
  }
  runtime::put_u32(out, serialization::crc32c(out));
  return out;
}

Expected<void> RuntimeCache::load(std::span<const uint8_t> blob) {
  const auto bad = [](const std::string& what) { return Error{runtime::errc::kBadCache, "runtime cache blob: " + what}; };
  if (blob.size() < 16 || std::memcmp(blob.data(), "RTXC", 4) != 0) return bad("not a runtime cache (bad magic or too short)");
  const auto body = blob.first(blob.size() - 4);
  uint32_t crc = 0;
  for (int i = 0; i < 4; ++i) crc |= uint32_t(blob[blob.size() - 4 + static_cast<size_t>(i)]) << (8 * i);
  if (serialization::crc32c(body) != crc) return bad("checksum mismatch (corrupt or truncated)");
  size_t pos = 4;
  const auto u32 = [&](uint32_t& v) {
    if (body.size() - pos < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(body[pos + static_cast<size_t>(i)]) << (8 * i);
    pos += 4;
    return true;
  };
  const auto u64 = [&](uint64_t& v) {
    if (body.size() - pos < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(body[pos + static_cast<size_t>(i)]) << (8 * i);
    pos += 8;
    return true;
  };
  uint32_t version = 0, count = 0;
  if (!u32(version) || version != 1) return bad("unsupported version " + std::to_string(version));
  if (!u32(count)) return bad("truncated");
  std::map<std::string, std::vector<uint8_t>, std::less<>> entries;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t key_len = 0;
    uint64_t size = 0;
    if (!u32(key_len) || body.size() - pos < key_len) return bad("truncated entry " + std::to_string(i));
    std::string key(reinterpret_cast<const char*>(body.data() + pos), key_len);
    pos += key_len;
    if (!u64(size) || body.size() - pos < size) return bad("truncated entry " + std::to_string(i));
    entries.emplace(std::move(key), std::vector<uint8_t>(body.begin() + static_cast<std::ptrdiff_t>(pos),
                                                         body.begin() + static_cast<std::ptrdiff_t>(pos + size)));
    pos += size;
  }
  if (pos != body.size()) return bad("bytes after the last entry");
  std::lock_guard lock(state_->mutex);
  for (auto& [k, v] : entries) state_->entries.insert_or_assign(k, std::move(v));
  return {};
}

}  // namespace rtx
