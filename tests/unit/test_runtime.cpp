// SPDX-License-Identifier: Apache-2.0
// What of the runtime works on a machine with no GPU: deserialize reports the missing GPU (and,
// before that, stripped or corrupt engines) with stable ids; the PTX path compiles an engine's PTX
// to a cubin with nvJitLink, keeps it in a RuntimeCache that round-trips through bytes, and with
// RTX_ASSERT_NO_JIT=1 refuses to compile but serves what the cache holds.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "jit/device.hpp"
#include "jit/runtime/ptx_cache.hpp"
#include "rtx/builder.hpp"
#include "rtx/runtime.hpp"
#include "runtime_test_models.hpp"
#include "serialization/reader.hpp"

namespace {

using namespace rtx;

const HostMemory& mlp_engine(bool strip = false) {
  static HostMemory full, stripped;
  HostMemory& m = strip ? stripped : full;
  if (m.size() == 0) {
    Network net = test::make_mlp<f16>(32, 32, 8, 21);
    BuilderConfig c;
    c.set_compute_capabilities({ComputeCapability::kSM80});
    // A private cache folder, removed when the process ends.
    struct Dir {
      std::filesystem::path path =
          std::filesystem::temp_directory_path() / ("rtx_test_runtime_" + std::to_string(::getpid()));
      ~Dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
      }
    };
    static const Dir dir;
    c.set_kernel_cache_directory(dir.path);
    if (strip) c.set_flag(BuilderFlag::kSTRIP_PLAN);
    auto blob = Builder().build_serialized_network(net, c);
    REQUIRE_MESSAGE(blob.has_value(), (blob ? "" : blob.error().to_string()));
    m = std::move(*blob);
  }
  return m;
}

struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }
  const char* name_;
};

}  // namespace

TEST_CASE("runtime: deserialize without a GPU is an error value, stripped and corrupt engines first") {
  Runtime runtime;
  auto engine = runtime.deserialize(mlp_engine().bytes());
  if (jit::device_count()) {
    CHECK(engine.has_value());
  } else {
    REQUIRE_FALSE(engine.has_value());
    CHECK(engine.error().id == "rtx.runtime.101");
  }
  auto stripped = runtime.deserialize(mlp_engine(true).bytes());
  REQUIRE_FALSE(stripped.has_value());
  CHECK(stripped.error().id == "rtx.runtime.106");
  std::vector<uint8_t> corrupt(mlp_engine().bytes().begin(), mlp_engine().bytes().end());
  corrupt[corrupt.size() / 2] ^= 0x10;
  auto bad = runtime.deserialize(corrupt);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().id.rfind("rtx.serialization.", 0) == 0);
  auto missing = runtime.deserialize_file("/nonexistent/engine.rtxe");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().id == "rtx.serialization.001");
}

TEST_CASE("runtime: the PTX of an engine compiles to a cubin through the runtime cache") {
  if (!runtime::ptx_compiler_available()) {
    MESSAGE("nvJitLink is not installed here: skipping");
    return;
  }
  auto model = serialization::read_engine(std::vector<uint8_t>(mlp_engine().bytes().begin(), mlp_engine().bytes().end()));
  REQUIRE(model.has_value());
  const serialization::KernelImage* ptx = nullptr;
  for (const auto& img : model->images)
    if (img.kind == serialization::ImageKind::kPTX) ptx = &img;
  REQUIRE(ptx != nullptr);
  CHECK(ptx->cc == 80);

  RuntimeCache cache;
  bool compiled = false;
  auto cubin = runtime::cubin_for_ptx(cache, ptx->contents().bytes(), 90, &compiled);
  REQUIRE_MESSAGE(cubin.has_value(), (cubin ? "" : cubin.error().to_string()));
  CHECK(compiled);
  REQUIRE(cubin->size() > 4);
  CHECK((*cubin)[0] == 0x7F);
  CHECK((*cubin)[1] == 'E');
  CHECK(cache.size() == 1);
  auto again = runtime::cubin_for_ptx(cache, ptx->contents().bytes(), 90, &compiled);
  REQUIRE(again.has_value());
  CHECK_FALSE(compiled);
  CHECK(*again == *cubin);

  // Saved and reloaded, the cache serves the cubin even where compiling is forbidden.
  const std::vector<uint8_t> blob = cache.serialize();
  RuntimeCache loaded;
  REQUIRE(loaded.load(blob).has_value());
  CHECK(loaded.size() == 1);
  CHECK(loaded.serialize() == blob);
  {
    ScopedEnv tripwire("RTX_ASSERT_NO_JIT", "1");
    auto served = runtime::cubin_for_ptx(loaded, ptx->contents().bytes(), 90, &compiled);
    REQUIRE(served.has_value());
    CHECK_FALSE(compiled);
    RuntimeCache empty;
    auto refused = runtime::cubin_for_ptx(empty, ptx->contents().bytes(), 89);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().id == "rtx.runtime.104");
  }
  // A corrupt blob is refused and leaves the cache as it was.
  std::vector<uint8_t> broken = blob;
  broken[20] ^= 1;
  RuntimeCache other;
  auto r = other.load(broken);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == "rtx.runtime.130");
  CHECK(other.size() == 0);
  CHECK_FALSE(other.load(std::vector<uint8_t>{'R', 'T', 'X'}).has_value());

  // PTX that is not PTX fails with the compiler's log.
  const std::string junk = "this is not ptx";
  auto failed = runtime::compile_ptx(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(junk.data()), junk.size()), 90);
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().id == "rtx.runtime.104");
}
