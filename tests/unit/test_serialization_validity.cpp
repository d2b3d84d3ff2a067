// SPDX-License-Identifier: Apache-2.0
// Runtime::engine_validity and its injectable core: every verdict and diagnostic bit from the
// 64-byte header, with the device facts supplied by the test; the public entry point on this
// machine (no driver) must answer kINVALID + kCUDA_ERROR without crashing.
#include <doctest/doctest.h>

#include "rtx/runtime.hpp"
#include "serialization/errors.hpp"
#include "serialization/validity.hpp"
#include "test_serialization_util.hpp"

using namespace rtx;
using namespace rtx::serialization;
using namespace rtx::serialization::testing;
namespace E = rtx::serialization::errors;

namespace {

constexpr uint64_t kGiB = 1ull << 30;

DeviceFacts h100() {
  return {90, 80 * kGiB, 13000, 13000};
}

struct Verdict {
  EngineValidity validity;
  uint64_t diagnostics;
};

Verdict check(const std::vector<uint8_t>& engine, const Expected<DeviceFacts>& facts,
              size_t bytes = 64) {
  uint64_t diag = ~0ull;
  const auto v = engine_validity(
      std::span(engine.data(), std::min(bytes, engine.size())), [&]() { return facts; }, &diag);
  return {v, diag};
}

uint64_t bits(std::initializer_list<EngineDiagnostics> ds) {
  uint64_t m = 0;
  for (auto d : ds) m |= diagnostic_bit(d);
  return m;
}

// small_model: cubins sm_80 and sm_90, PTX from compute_75, driver/runtime >= 12.8, 1 MiB.
std::vector<uint8_t> engine(const std::function<void(EngineModel&)>& edit = {}) {
  EngineModel m = small_model();
  if (edit) edit(m);
  return write_engine(m).value();
}

}  // namespace

TEST_CASE("engine header size is 64") {
  static_assert(Runtime::engine_header_size() == 64);
  Runtime runtime;
  CHECK(runtime.engine_header_size() == 64);
  CHECK(kHeaderSize == 64);
}

TEST_CASE("validity: compute capability rules") {
  const auto e = engine();
  // Exact cubin.
  auto v = check(e, h100());
  CHECK(v.validity == EngineValidity::kVALID);
  CHECK(v.diagnostics == 0);
  v = check(e, DeviceFacts{80, 40 * kGiB, 13000, 13000});
  CHECK(v.validity == EngineValidity::kVALID);
  // No cubin for 8.6 (no minor-version binary compatibility is assumed), PTX from 7.5 runs.
  v = check(e, DeviceFacts{86, 24 * kGiB, 13000, 13000});
  CHECK(v.validity == EngineValidity::kSUBOPTIMAL);
  CHECK(v.diagnostics == 0);
  // A newer GPU than any cubin: PTX.
  v = check(e, DeviceFacts{120, 32 * kGiB, 13000, 13000});
  CHECK(v.validity == EngineValidity::kSUBOPTIMAL);
  // A GPU older than the PTX: nothing runs.
  v = check(e, DeviceFacts{70, 32 * kGiB, 13000, 13000});
  CHECK(v.validity == EngineValidity::kINVALID);
  CHECK(v.diagnostics == bits({EngineDiagnostics::kUNSUPPORTED_CC}));
  // Without PTX, only the cubin targets run.
  const auto no_ptx = engine([](EngineModel& m) {
    m.images.pop_back();
    for (auto& k : m.kernels) k.images = {0, 1};
  });
  CHECK(check(no_ptx, h100()).validity == EngineValidity::kVALID);
  v = check(no_ptx, DeviceFacts{86, 24 * kGiB, 13000, 13000});
  CHECK(v.validity == EngineValidity::kINVALID);
  CHECK(v.diagnostics == bits({EngineDiagnostics::kUNSUPPORTED_CC}));
  // PTX minimum equal to the device's CC is enough.
  const auto ptx_only = engine([](EngineModel& m) {
    m.images = {m.images[2]};
    m.images[0].cc = 86;
    for (auto& k : m.kernels) k.images = {0};
  });
  CHECK(check(ptx_only, DeviceFacts{86, 24 * kGiB, 13000, 13000}).validity ==
        EngineValidity::kSUBOPTIMAL);
  CHECK(check(ptx_only, DeviceFacts{80, 24 * kGiB, 13000, 13000}).validity ==
        EngineValidity::kINVALID);
  // An engine without kernels runs on anything.
  const auto no_kernels = engine([](EngineModel& m) {
    m.images.clear();
    m.kernels.clear();
  });
  CHECK(check(no_kernels, DeviceFacts{70, kGiB, 13000, 13000}).validity == EngineValidity::kVALID);
}

TEST_CASE("validity: driver, runtime and memory") {
  const auto e = engine();
  auto v = check(e, DeviceFacts{90, 80 * kGiB, 12070, 13000});
  CHECK(v.validity == EngineValidity::kINVALID);
  CHECK(v.diagnostics == bits({EngineDiagnostics::kOLD_CUDA_DRIVER}));
  v = check(e, DeviceFacts{90, 80 * kGiB, 12080, 12000});
  CHECK(v.validity == EngineValidity::kINVALID);
  CHECK(v.diagnostics == bits({EngineDiagnostics::kOLD_CUDA_RUNTIME}));
  // Exactly the minimum versions are fine.
  CHECK(check(e, DeviceFacts{90, 80 * kGiB, 12080, 12080}).validity == EngineValidity::kVALID);

  // Memory: the engine needs 1 MiB.
  CHECK(check(e, DeviceFacts{90, 1 << 20, 13000, 13000}).validity == EngineValidity::kVALID);
  v = check(e, DeviceFacts{90, (1 << 20) - 1, 13000, 13000});
  CHECK(v.validity == EngineValidity::kINVALID);
  CHECK(v.diagnostics == bits({EngineDiagnostics::kINSUFFICIENT_GPU_MEMORY}));

  // Weight streaming: only the non-streamable part must fit. fc1.weight (512 B) streams.
  const auto streaming = engine([](EngineModel& m) {
    m.weight_streaming = true;
    m.weights[0].streamable = true;
  });
  CHECK(check(streaming, DeviceFacts{90, (1 << 20) - 512, 13000, 13000}).validity ==
        EngineValidity::kVALID);
  v = check(streaming, DeviceFacts{90, (1 << 20) - 513, 13000, 13000});
  CHECK(v.validity == EngineValidity::kINVALID);
  CHECK(v.diagnostics == bits({EngineDiagnostics::kINSUFFICIENT_GPU_MEMORY}));

  // Several reasons at once, and a suboptimal CC does not hide them.
  v = check(e, DeviceFacts{86, 1000, 11000, 11000});
  CHECK(v.validity == EngineValidity::kINVALID);
  CHECK(v.diagnostics ==
        bits({EngineDiagnostics::kOLD_CUDA_DRIVER, EngineDiagnostics::kOLD_CUDA_RUNTIME,
              EngineDiagnostics::kINSUFFICIENT_GPU_MEMORY}));
  CHECK(describe_diagnostics(v.diagnostics) ==
        "CUDA driver too old, CUDA runtime too old, insufficient GPU memory");
}

TEST_CASE("validity: malformed and version mismatch need no device") {
  const auto e = engine();
  bool asked = false;
  const auto ask = [&]() -> Expected<DeviceFacts> {
    asked = true;
    return h100();
  };
  const auto verdict = [&](const std::vector<uint8_t>& bytes, size_t n) {
    uint64_t diag = 0;
    const auto v = engine_validity(std::span(bytes.data(), std::min(n, bytes.size())), ask, &diag);
    return Verdict{v, diag};
  };
  const uint64_t malformed = bits({EngineDiagnostics::kMALFORMED_ENGINE});

  auto v = verdict(e, 63);  // too short
  CHECK(v.validity == EngineValidity::kINVALID);
  CHECK(v.diagnostics == malformed);
  auto bad = e;
  bad[1] = 'x';  // magic
  CHECK(verdict(bad, 64).diagnostics == malformed);
  bad = e;
  bad[33] ^= 1;  // checksum
  CHECK(verdict(bad, 64).diagnostics == malformed);
  bad = e;
  put(bad, 6, 7, 2);  // format version 7
  fix_header_crc(bad);
  v = verdict(bad, 64);
  CHECK(v.validity == EngineValidity::kINVALID);
  CHECK(v.diagnostics == bits({EngineDiagnostics::kVERSION_MISMATCH}));
  bad = e;
  put(bad, 48, 100, 8);  // file size smaller than header + section table
  fix_header_crc(bad);
  CHECK(verdict(bad, 64).diagnostics == malformed);
  CHECK_FALSE(asked);
  // Only the first 64 bytes are read: the rest may be garbage or absent.
  bad = e;
  for (size_t i = 64; i < bad.size(); ++i) bad[i] = 0xAB;
  CHECK(verdict(bad, bad.size()).validity == EngineValidity::kVALID);
  CHECK(verdict(e, 64).validity == EngineValidity::kVALID);
  CHECK(asked);
}

TEST_CASE("validity: no driver or no device gives kCUDA_ERROR") {
  const auto e = engine();
  const auto v = check(e, Error{E::kDeviceQuery, "CUDA driver version is insufficient"});
  CHECK(v.validity == EngineValidity::kINVALID);
  CHECK(v.diagnostics == bits({EngineDiagnostics::kCUDA_ERROR}));
  uint64_t diag = 0;
  CHECK(engine_validity(
            std::span(e.data(), 64),
            []() -> Expected<DeviceFacts> { throw std::runtime_error("boom"); },
            &diag) == EngineValidity::kINVALID);
  CHECK(diag == bits({EngineDiagnostics::kCUDA_ERROR}));
}

TEST_CASE("Runtime::engine_validity on this machine") {
  const auto e = engine();
  Runtime runtime;
  uint64_t diag = 0;
  const auto device = query_device_facts();
  const auto v = runtime.engine_validity(e.data(), e.size(), &diag);
  if (!device) {
    MESSAGE("no CUDA device here (" << device.error().to_string() << "): expecting kCUDA_ERROR");
    CHECK(device.error().id == E::kDeviceQuery);
    CHECK(v == EngineValidity::kINVALID);
    CHECK(diag == bits({EngineDiagnostics::kCUDA_ERROR}));
  } else {
    MESSAGE("device sm_" << device->cc << ": " << to_string(v) << " (" << describe_diagnostics(diag)
                         << ")");
    CHECK(v == check(e, *device).validity);
  }
  // Null and short inputs are malformed, never a crash; diagnostics may be null.
  CHECK(runtime.engine_validity(nullptr, 64, &diag) == EngineValidity::kINVALID);
  CHECK(diag == bits({EngineDiagnostics::kMALFORMED_ENGINE}));
  CHECK(runtime.engine_validity(e.data(), 10, nullptr) == EngineValidity::kINVALID);
  CHECK(runtime.engine_validity(std::as_bytes(std::span(e)), &diag) == v);
  CHECK(to_string(EngineValidity::kSUBOPTIMAL) == "suboptimal");
  CHECK(describe_diagnostics(0) == "none");
}
