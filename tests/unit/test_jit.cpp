// SPDX-License-Identifier: Apache-2.0
// Unit tests of the JIT area on a machine with no GPU: embedded templates, NVRTC compilation of
// the smoke template to cubins and PTX, option canonicalisation, compile errors, the kernel cache
// (memory, disk, corruption, RTX_ASSERT_NO_JIT, concurrent dedupe) and the no-driver error paths
// of module loading and device queries. On a GPU machine the device tests check the real thing.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "jit/cache.hpp"
#include "jit/compiler.hpp"
#include "jit/device.hpp"
#include "jit/hash.hpp"
#include "jit/module.hpp"
#include "jit/template_registry.hpp"
#include "jit/thread_pool.hpp"

namespace fs = std::filesystem;
using namespace rtx::jit;

namespace {

constexpr const char* kSmokeFloat = "rtx::kernels::smoke_scale<float, 2>";
constexpr const char* kSmokeInt = "rtx::kernels::smoke_scale<int, 3>";
// Itanium mangling of smoke_scale<float, 2>(const float*, float*, long long) and <int, 3>
// (cuda::std::int64_t is long long under NVRTC).
constexpr const char* kSmokeFloatLowered = "_ZN3rtx7kernels11smoke_scaleIfLi2EEEvPKT_PS2_x";
constexpr const char* kSmokeIntLowered = "_ZN3rtx7kernels11smoke_scaleIiLi3EEEvPKT_PS2_x";

Program smoke_program(std::string extra_source = {}) {
  Program p;
  p.name = "smoke";
  p.source = "#include \"common/smoke.cuh\"\n" + extra_source;
  p.name_expressions = {kSmokeInt, kSmokeFloat};
  return p;
}

/// Sets (or unsets, with nullptr) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

/// A fresh folder under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("rtx_test_jit_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

bool contains(const std::vector<uint8_t>& bytes, std::string_view needle) {
  return std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end()) != bytes.end();
}

std::string as_text(const std::vector<uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

std::vector<char> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::vector<char>& data) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(data.data(), std::streamsize(data.size()));
}

}  // namespace

TEST_CASE("sha256 matches FIPS 180-4 test vectors, also when fed in pieces") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha256_hex(two_blocks) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  Sha256 pieces;
  for (size_t i = 0; i < million.size(); i += 997) {
    pieces.update(std::string_view(million).substr(i, 997));
  }
  CHECK(pieces.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // FNV-1a 64 reference values ("" is the offset basis; "a" from the FNV reference code).
  CHECK(fnv1a64({}) == 0xcbf29ce484222325ull);
  const uint8_t a = 'a';
  CHECK(fnv1a64(std::span(&a, 1)) == 0xaf63dc4c8601ec8cull);
}

TEST_CASE("embedded templates: smoke template and rtx/config.hpp, sorted, hashes verified") {
  const auto table = embedded_templates();
  REQUIRE(table.size() >= 2);
  for (size_t i = 1; i < table.size(); ++i) CHECK(table[i - 1].path < table[i].path);

  const EmbeddedTemplate* smoke = find_template("common/smoke.cuh");
  REQUIRE(smoke != nullptr);
  CHECK(smoke->contents.find("__global__ void smoke_scale") != std::string_view::npos);
  CHECK(smoke->contents.data()[smoke->contents.size()] == '\0');
  const EmbeddedTemplate* config = find_template("rtx/config.hpp");
  REQUIRE(config != nullptr);
  CHECK(config->contents.find("__CUDACC_RTC__") != std::string_view::npos);
  CHECK(find_template("common/missing.cuh") == nullptr);
  CHECK(find_template("") == nullptr);

  // The generator's sha256 (Python hashlib) and digest agree with ours.
  Sha256 digest;
  for (const auto& t : table) {
    CHECK(sha256_hex(t.contents) == t.sha256);
    digest.field(t.path).field(t.contents);
  }
  CHECK(digest.hex_digest() == embedded_templates_digest());
}

TEST_CASE("Target spelling and parsing") {
  CHECK(Target{90, false, false}.to_string() == "sm_90");
  CHECK(Target{90, true, false}.to_string() == "sm_90a");
  CHECK(Target{80, false, true}.to_string() == "compute_80");
  CHECK(Target{100, true, true}.to_string() == "compute_100a");
  for (const char* s : {"sm_80", "sm_90a", "compute_80", "sm_120", "compute_100a"}) {
    auto t = Target::parse(s);
    REQUIRE(t);
    CHECK(t->to_string() == s);
  }
  CHECK(Target::parse("sm_90a")->arch_specific);
  CHECK(Target::parse("compute_86")->ptx);
  for (const char* s : {"", "sm_", "sm_8", "sm_8x", "sm_1000", "80", "compute_", "sm_90b"}) {
    auto t = Target::parse(s);
    REQUIRE_FALSE(t);
    CHECK(t.error().id == "rtx.jit.103");
  }
}

TEST_CASE("supported archs and default targets follow the installed NVRTC") {
  const auto& archs = supported_archs();
  REQUIRE_FALSE(archs.empty());
  CHECK(std::is_sorted(archs.begin(), archs.end()));
  const auto targets = default_targets();
  REQUIRE(targets.size() >= 2);
  // Cubins of the released set, ascending, then PTX for the lowest.
  std::vector<int> expected;
  for (int sm : {80, 86, 89, 90, 100, 120}) {
    if (std::binary_search(archs.begin(), archs.end(), sm)) expected.push_back(sm);
  }
  REQUIRE(targets.size() == expected.size() + 1);
  for (size_t i = 0; i < expected.size(); ++i) {
    CHECK(targets[i] == Target{expected[i], false, false});
  }
  CHECK(targets.back() == Target{expected.front(), false, true});
  if (nvrtc_version().rfind("13.", 0) == 0) {  // the toolkit of this project's machines
    CHECK(expected == std::vector<int>{80, 86, 89, 90, 100, 120});
  }
  CHECK(check_target(Target{90, true, false}));
  CHECK(check_target(Target{80, true, false}).error().id == "rtx.jit.103");
  CHECK(check_target(Target{10, false, false}).error().id == "rtx.jit.103");
}

TEST_CASE("options are canonical: sorted, deduplicated, fixed defaults added") {
  ScopedEnv cuda("CUDA_PATH", "/opt/cuda-x/");
  CHECK(cuda_root() == "/opt/cuda-x");
  const std::vector<std::string> in = {"-DB=1", "-DA", "-DB=1", "-default-device", "-lineinfo"};
  auto out = canonical_options(in);
  REQUIRE(out);
  CHECK(*out == std::vector<std::string>{"-DA", "-DB=1", "-I/opt/cuda-x/include",
                                         "-I/opt/cuda-x/include/cccl", "-default-device",
                                         "-lineinfo", "-std=c++17"});
  // A caller's standard replaces the default; both spellings are one option.
  auto cxx20 = canonical_options(std::vector<std::string>{"--std=c++20", "-std=c++20"});
  REQUIRE(cxx20);
  CHECK(std::count(cxx20->begin(), cxx20->end(), "-std=c++20") == 1);
  CHECK(std::count(cxx20->begin(), cxx20->end(), "-std=c++17") == 0);

  for (const auto& bad : std::vector<std::vector<std::string>>{{"-arch=sm_80"},
                                                               {"--gpu-architecture=sm_90"},
                                                               {"lineinfo"},
                                                               {"-"},
                                                               {""},
                                                               {"-std=c++17", "-std=c++20"}}) {
    auto r = canonical_options(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().id == "rtx.jit.104");
  }

  Program p = smoke_program();
  p.name_expressions = {kSmokeFloat, kSmokeInt, kSmokeFloat};
  p.options = {"-DZ", "-DA"};
  auto c = canonicalize(p);
  REQUIRE(c);
  CHECK(c->name_expressions == std::vector<std::string>{kSmokeFloat, kSmokeInt});
  CHECK(c->options.front() == "-DA");
}

TEST_CASE("cache keys: equal for equivalent requests, different for anything that matters") {
  auto canon = [](Program p) { return canonicalize(p).value(); };
  const Program base = smoke_program();
  const Target sm80{80, false, false};
  const std::string k = KernelCache::key(canon(base), sm80);
  CHECK(k.size() == 64);

  Program reordered = base;
  std::reverse(reordered.name_expressions.begin(), reordered.name_expressions.end());
  reordered.options = {"-std=c++17"};  // the default spelled out
  CHECK(KernelCache::key(canon(reordered), sm80) == k);

  Program other_source = base;
  other_source.source += "\n";
  Program other_option = base;
  other_option.options = {"-DX"};
  Program other_names = base;
  other_names.name_expressions.pop_back();
  Program other_name = base;
  other_name.name = "smoke2";
  CHECK(KernelCache::key(canon(other_source), sm80) != k);
  CHECK(KernelCache::key(canon(other_option), sm80) != k);
  CHECK(KernelCache::key(canon(other_names), sm80) != k);
  CHECK(KernelCache::key(canon(other_name), sm80) != k);
  CHECK(KernelCache::key(canon(base), Target{80, false, true}) != k);
  CHECK(KernelCache::key(canon(base), Target{90, false, false}) != k);
}

TEST_CASE("smoke template compiles to sm_80/sm_90 cubins and compute_80 PTX") {
  const std::vector<Target> targets = {{80, false, false}, {90, false, false}, {80, false, true}};
  auto images = compile(smoke_program(), targets);
  REQUIRE_MESSAGE(images, (images ? "" : images.error().to_string()));
  REQUIRE(images->size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    const CompiledImage& img = (*images)[i];
    CHECK(img.target == targets[i]);
    CHECK(img.seconds > 0.0);
    REQUIRE(img.lowered_names.size() == 2);
    // Sorted by expression: "<float, 2>" < "<int, 3>".
    CHECK(img.lowered_names[0].first == kSmokeFloat);
    CHECK(img.lowered_names[1].first == kSmokeInt);
    REQUIRE(img.lowered_name(kSmokeFloat) != nullptr);
    CHECK(*img.lowered_name(kSmokeFloat) == kSmokeFloatLowered);
    CHECK(*img.lowered_name(kSmokeInt) == kSmokeIntLowered);
    CHECK(img.lowered_name("rtx::kernels::smoke_scale<double, 1>") == nullptr);
    // Both kernels are really in the image under their lowered names.
    CHECK(contains(img.image, kSmokeFloatLowered));
    CHECK(contains(img.image, kSmokeIntLowered));
  }
  for (size_t i : {0u, 1u}) {
    const auto& cubin = (*images)[i].image;
    REQUIRE(cubin.size() > 64);
    CHECK(cubin[0] == 0x7f);
    CHECK(cubin[1] == 'E');
    CHECK(cubin[2] == 'L');
    CHECK(cubin[3] == 'F');
    CHECK((cubin[18] | cubin[19] << 8) == 190);  // e_machine = EM_CUDA
  }
  CHECK((*images)[0].image != (*images)[1].image);
  const std::string ptx = as_text((*images)[2].image);
  CHECK(ptx.find(".target sm_80") != std::string::npos);
  CHECK(ptx.find(".entry") != std::string::npos);
  CHECK(ptx.find('\0') == std::string::npos);
}

TEST_CASE("compile errors carry the NVRTC log, options, name expressions and program name") {
  TempDir dump;
  ScopedEnv env("RTX_JIT_DUMP_DIR", dump.path().c_str());
  Program p;
  p.name = "broken_prog";
  p.source = "#include \"common/smoke.cuh\"\n__global__ void broken() { int x = ; }\n";
  p.name_expressions = {"broken"};
  p.options = {"-DMARKER=1"};
  auto r = compile(p, std::vector<Target>{{80, false, false}});
  REQUIRE_FALSE(r);
  const std::string& msg = r.error().message;
  CHECK(r.error().id == "rtx.jit.101");
  CHECK(msg.find("broken_prog(2): error") != std::string::npos);  // NVRTC's log line
  CHECK(msg.find("expected an expression") != std::string::npos);
  CHECK(msg.find("-DMARKER=1") != std::string::npos);
  CHECK(msg.find("-std=c++17") != std::string::npos);
  CHECK(msg.find("'broken'") != std::string::npos);
  CHECK(msg.find("sm_80") != std::string::npos);
  // RTX_JIT_DUMP_DIR has the program and the log.
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dump.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() == 2);
  CHECK(files[0].extension() == ".cu");
  CHECK(files[1].extension() == ".log");
  const auto source = read_file(files[0]);
  CHECK(std::string(source.begin(), source.end()) == p.source);
  const auto log = read_file(files[1]);
  CHECK(std::string(log.begin(), log.end()).find("expected an expression") != std::string::npos);
  CHECK(msg.find(files[0].string()) != std::string::npos);
}

TEST_CASE("worker processes and in-process NVRTC give identical results") {
  {
    ScopedEnv off("RTX_JIT_SUBPROCESS", "0");
    CHECK(resolve(Isolation::kAuto) == Isolation::kInProcess);
    CHECK(resolve(Isolation::kSubprocess) == Isolation::kSubprocess);
  }
  CHECK(resolve(Isolation::kInProcess) == Isolation::kInProcess);
  const auto canonical = canonicalize(smoke_program()).value();
  const Target sm80{80, false, false};
  auto local = compile_uncached(canonical, sm80, Isolation::kInProcess);
  auto worker = compile_uncached(canonical, sm80, Isolation::kSubprocess);
  REQUIRE_MESSAGE(local, (local ? "" : local.error().to_string()));
  REQUIRE_MESSAGE(worker, (worker ? "" : worker.error().to_string()));
  CHECK(local->image == worker->image);
  CHECK(local->lowered_names == worker->lowered_names);
  CHECK(worker->target == sm80);
  CHECK(worker->seconds > 0.0);

  // Errors cross the process boundary intact.
  Program broken = smoke_program("__global__ void broken() { undeclared(); }\n");
  broken.name = "broken_in_worker";
  const auto broken_canonical = canonicalize(broken).value();
  auto e_local = compile_uncached(broken_canonical, sm80, Isolation::kInProcess);
  auto e_worker = compile_uncached(broken_canonical, sm80, Isolation::kSubprocess);
  REQUIRE_FALSE(e_local);
  REQUIRE_FALSE(e_worker);
  CHECK(e_worker.error().id == "rtx.jit.101");
  CHECK(e_worker.error().message == e_local.error().message);
  CHECK(e_worker.error().message.find("identifier \"undeclared\" is undefined") !=
        std::string::npos);
}

TEST_CASE("bad requests are errors before NVRTC runs") {
  const Program p = smoke_program();
  auto none = compile(p, {});
  REQUIRE_FALSE(none);
  CHECK(none.error().id == "rtx.jit.106");
  auto twice = compile(p, std::vector<Target>{{80, false, false}, {80, false, false}});
  REQUIRE_FALSE(twice);
  CHECK(twice.error().id == "rtx.jit.106");
  auto old = compile(p, std::vector<Target>{{80, false, false}, {20, false, false}});
  REQUIRE_FALSE(old);
  CHECK(old.error().id == "rtx.jit.103");
  Program arch = p;
  arch.options = {"-arch=sm_90"};
  auto bad_option = compile(arch, std::vector<Target>{{80, false, false}});
  REQUIRE_FALSE(bad_option);
  CHECK(bad_option.error().id == "rtx.jit.104");
  Program unknown = p;
  unknown.options = {"--no-such-nvrtc-option"};
  auto rejected = compile(unknown, std::vector<Target>{{80, false, false}});
  REQUIRE_FALSE(rejected);
  CHECK(rejected.error().id == "rtx.jit.104");
}

TEST_CASE("kernel cache: memory hit, disk hit, corrupt files, RTX_ASSERT_NO_JIT") {
  TempDir dir;
  ScopedEnv no_jit_off("RTX_ASSERT_NO_JIT", nullptr);
  const Program p = smoke_program();
  const std::vector<Target> sm86 = {{86, false, false}};
  const std::string key = KernelCache::key(canonicalize(p).value(), sm86[0]);

  std::vector<uint8_t> cold_image;
  {
    KernelCache cache(dir.path());
    CHECK(cache.directory() == dir.path());
    auto cold = compile(p, sm86, {&cache});
    REQUIRE_MESSAGE(cold, (cold ? "" : cold.error().to_string()));
    CHECK((*cold)[0].seconds > 0.0);
    CacheStats s = cache.stats();
    CHECK(s.misses == 1);
    CHECK(s.memory_hits == 0);
    CHECK(s.disk_hits == 0);
    CHECK(s.disk_writes == 1);
    CHECK(s.compile_seconds > 0.0);
    CHECK(fs::exists(cache.file_for(key)));
    cold_image = (*cold)[0].image;

    auto warm = compile(p, sm86, {&cache});
    REQUIRE(warm);
    CHECK((*warm)[0].image == cold_image);
    CHECK((*warm)[0].seconds == 0.0);
    CHECK(*(*warm)[0].lowered_name(kSmokeInt) == kSmokeIntLowered);
    s = cache.stats();
    CHECK(s.misses == 1);
    CHECK(s.memory_hits == 1);
  }
  // No temporary files are left behind: only the entry.
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);

  {
    KernelCache fresh(dir.path());  // a new process, in effect
    auto disk = compile(p, sm86, {&fresh});
    REQUIRE(disk);
    CHECK((*disk)[0].image == cold_image);
    CHECK(*(*disk)[0].lowered_name(kSmokeFloat) == kSmokeFloatLowered);
    CHECK(fresh.stats().disk_hits == 1);
    CHECK(fresh.stats().misses == 0);
  }

  const fs::path file = KernelCache(dir.path()).file_for(key);
  const std::vector<char> good = read_file(file);
  {
    // With the tripwire set, a valid disk entry still serves; a missing one is an error.
    ScopedEnv no_jit("RTX_ASSERT_NO_JIT", "1");
    KernelCache tripwire(dir.path());
    auto hit = compile(p, sm86, {&tripwire});
    REQUIRE(hit);
    CHECK((*hit)[0].image == cold_image);
    auto miss = compile(smoke_program("// another program\n"), sm86, {&tripwire});
    REQUIRE_FALSE(miss);
    CHECK(miss.error().id == "rtx.jit.102");
    CHECK(miss.error().message.find("RTX_ASSERT_NO_JIT") != std::string::npos);
    CHECK(miss.error().message.find("smoke") != std::string::npos);
    CHECK(tripwire.stats().failures == 1);
    // Failures are not cached: asking again tries (and fails) again.
    CHECK_FALSE(compile(smoke_program("// another program\n"), sm86, {&tripwire}));
    CHECK(tripwire.stats().misses == 2);

    // A flipped payload byte fails the checksum: the entry is ignored (here: the tripwire fires
    // instead of a corrupt image being served), not trusted and not fatal.
    std::vector<char> flipped = good;
    flipped[flipped.size() / 2] ^= 0x40;
    write_file(file, flipped);
    KernelCache corrupt(dir.path());
    auto r = compile(p, sm86, {&corrupt});
    REQUIRE_FALSE(r);
    CHECK(r.error().id == "rtx.jit.102");
    CHECK(corrupt.stats().disk_errors == 1);
    // Garbage and an empty file likewise.
    for (const std::vector<char>& bad :
         {std::vector<char>(), std::vector<char>(good.begin(), good.begin() + 30),
          std::vector<char>(100, 'x')}) {
      write_file(file, bad);
      KernelCache c(dir.path());
      CHECK(compile(p, sm86, {&c}).error().id == "rtx.jit.102");
      CHECK(c.stats().disk_errors == 1);
    }
  }
  {
    // A truncated entry is recompiled and rewritten.
    write_file(file, std::vector<char>(good.begin(), good.begin() + long(good.size() / 2)));
    KernelCache c(dir.path());
    auto r = compile(p, sm86, {&c});
    REQUIRE(r);
    CHECK((*r)[0].image == cold_image);
    CHECK(c.stats().disk_errors == 1);
    CHECK(c.stats().misses == 1);
    CHECK(read_file(file) ==
          good);  // files hold no compile time: a recompile rewrites them exactly
  }
}

TEST_CASE("concurrent identical requests compile once") {
  KernelCache cache{fs::path()};  // memory only
  CHECK(cache.directory().empty());
  const Program p = smoke_program("// concurrent\n");
  const std::vector<Target> sm89 = {{89, false, false}};
  constexpr int kThreads = 4;
  std::vector<std::optional<rtx::Expected<std::vector<CompiledImage>>>> results(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      results[size_t(i)].emplace(compile(p, sm89, {&cache}));
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    REQUIRE(r.has_value());
    REQUIRE(*r);
    CHECK((**r)[0].image == (**results[0])[0].image);
    CHECK(*(**r)[0].lowered_name(kSmokeFloat) == kSmokeFloatLowered);
  }
  const CacheStats s = cache.stats();
  CHECK(s.misses == 1);
  CHECK(s.memory_hits == kThreads - 1);
  cache.clear_memory();
  REQUIRE(compile(p, sm89, {&cache}));
  CHECK(cache.stats().misses == 2);  // memory-only cache forgot it
}

TEST_CASE("default cache directory follows RTX_CACHE_DIR, XDG_CACHE_HOME, HOME") {
  ScopedEnv home("HOME", "/home/u");
  {
    ScopedEnv rtx("RTX_CACHE_DIR", "/tmp/rtx-cache");
    CHECK(KernelCache::default_directory() == fs::path("/tmp/rtx-cache"));
  }
  ScopedEnv rtx("RTX_CACHE_DIR", nullptr);
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    CHECK(KernelCache::default_directory() == fs::path("/xdg/rtx"));
  }
  ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
  CHECK(KernelCache::default_directory() == fs::path("/home/u/.cache/rtx"));
  ScopedEnv no_home("HOME", nullptr);
  CHECK(KernelCache::default_directory().empty());
}

TEST_CASE("thread pool: every index once, exceptions propagate, nesting does not deadlock") {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(hits.size(), [&](size_t i) { hits[i].fetch_add(1); });
  CHECK(std::all_of(hits.begin(), hits.end(), [](const auto& h) { return h.load() == 1; }));

  CHECK_THROWS_AS(pool.parallel_for(10,
                                    [](size_t i) {
                                      if (i == 7) throw std::runtime_error("boom");
                                    }),
                  std::runtime_error);

  std::atomic<int> inner{0};
  pool.parallel_for(4, [&](size_t) { pool.parallel_for(4, [&](size_t) { inner.fetch_add(1); }); });
  CHECK(inner.load() == 16);

  ThreadPool caller_only(0);
  int sum = 0;  // no other thread: a plain int is safe
  caller_only.parallel_for(5, [&](size_t i) { sum += int(i); });
  CHECK(sum == 10);
}

TEST_CASE("select_image picks the exact cubin, then a compatible one, then PTX") {
  auto img = [](int sm, bool a, bool ptx) {
    CompiledImage c;
    c.target = Target{sm, a, ptx};
    return c;
  };
  const std::vector<CompiledImage> set = {img(80, false, false),  img(86, false, false),
                                          img(90, false, false),  img(90, true, false),
                                          img(120, false, false), img(80, false, true)};
  auto pick = [&](int sm) {
    const CompiledImage* c = select_image(set, sm);
    return c ? c->target.to_string() : std::string("none");
  };
  CHECK(pick(80) == "sm_80");
  CHECK(pick(86) == "sm_86");
  CHECK(pick(89) == "sm_86");  // same major, older minor: binary compatible
  CHECK(pick(87) == "sm_86");
  CHECK(pick(90) == "sm_90a");       // arch-specific beats generic on exactly sm_90
  CHECK(pick(100) == "compute_80");  // sm_90 cubins do not run on Blackwell
  CHECK(pick(121) == "sm_120");
  CHECK(pick(75) == "none");
  const std::vector<CompiledImage> only_a = {img(90, true, false)};
  CHECK(select_image(only_a, 90) != nullptr);
  CHECK(select_image(only_a, 100) == nullptr);
}

TEST_CASE("device queries and module loading: clean errors without a driver, real on a GPU") {
  auto n = device_count();
  CHECK(runtime_version() >= 12000);
  auto images = compile(smoke_program(), std::vector<Target>{{80, false, true}});
  REQUIRE(images);
  auto module = Module::load((*images)[0]);
  if (!n) {
    MESSAGE("no GPU here: " << n.error().to_string());
    CHECK(n.error().id == "rtx.jit.201");
    CHECK(n.error().message.find("no CUDA driver/device") != std::string::npos);
    auto info = device_info(0);
    REQUIRE_FALSE(info);
    CHECK(info.error().id == "rtx.jit.201");
    REQUIRE_FALSE(module);
    CHECK(module.error().id == "rtx.jit.201");
    CHECK(module.error().message.find("compute_80") != std::string::npos);
  } else {
    CHECK(*n >= 1);
    auto info = device_info(0);
    REQUIRE(info);
    CHECK(info->sm() >= 80);
    CHECK(!info->name.empty());
    CHECK(info->total_memory > 0);
    CHECK(info->driver_version >= 12000);
    CHECK(device_info(*n).error().id == "rtx.jit.205");
    REQUIRE_MESSAGE(module, (module ? "" : module.error().to_string()));
    auto kernel = module->kernel(*(*images)[0].lowered_name(kSmokeFloat));
    REQUIRE_MESSAGE(kernel, (kernel ? "" : kernel.error().to_string()));
    CHECK(kernel->name() == kSmokeFloatLowered);
    auto missing = module->kernel("_Z9no_kernelv");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().id == "rtx.jit.203");
  }
  auto empty = Module::load(std::span<const uint8_t>(), false);
  REQUIRE_FALSE(empty);
  CHECK(empty.error().id == "rtx.jit.206");
}
