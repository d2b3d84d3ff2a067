// SPDX-License-Identifier: Apache-2.0
// Weightless engines and format-level refit: a stripped engine refit with its weights serializes
// byte-identical to the full engine; name, dtype, count and shape checks; fingerprint policy; the
// size of a stripped ResNet-50-shaped engine; peak host memory when reading a file.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "serialization/errors.hpp"
#include "serialization/refitter.hpp"
#include "test_serialization_util.hpp"

namespace fs = std::filesystem;
using namespace rtx;
using namespace rtx::serialization;
using namespace rtx::serialization::testing;
namespace E = rtx::serialization::errors;

TEST_CASE("refit: stripped engine + original weights -> byte-identical full engine") {
  const EngineModel built = small_model();
  const auto full = write_engine(built).value();
  const auto stripped = write_engine(built, {.exclude_weights = true}).value();
  CHECK(stripped.size() < full.size());

  Refitter refitter(read_engine(stripped).value());
  CHECK(refitter.weight_names() ==
        std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight_q", "empty"});
  CHECK(refitter.missing_weights() == refitter.weight_names());
  // Writing the stripped model in full is refused until it is refit.
  CHECK(write_engine(refitter.model()).error().id == E::kWeightNoData);
  CHECK(refitter.refit().error().id == E::kRefitMissing);

  // Raw-pointer form for two weights (copied), tensor form for the others (shared).
  const auto& w0 = built.weights[0].data;
  REQUIRE(refitter.set_named_weights("fc1.weight", DataType::kF32, w0.data(), 128).has_value());
  REQUIRE(
      refitter.set_named_weights("fc2.weight_q", DataType::kINT4, built.weights[2].data.data(), 15)
          .has_value());
  CHECK(refitter.missing_weights() == std::vector<std::string>{"fc1.bias", "empty"});
  const auto missing = refitter.refit();
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("'fc1.bias', 'empty'") != std::string::npos);
  REQUIRE(refitter.set_named_weights("fc1.bias", built.weights[1].data).has_value());
  REQUIRE(refitter.set_named_weights("empty", DataType::kF32, nullptr, 0).has_value());
  CHECK(refitter.missing_weights().empty());
  CHECK(refitter.warnings().empty());  // the original weights match their fingerprints

  const auto refit = refitter.refit();
  REQUIRE(refit.has_value());
  CHECK_FALSE(refit->weights_stripped);
  CHECK(write_engine(*refit).value() == full);
  // And stripping the refit model again gives the stripped file back.
  CHECK(write_engine(*refit, {.exclude_weights = true}).value() == stripped);
}

TEST_CASE("refit: random models, stripped + refit == full, many targets, no GPU") {
  for (uint64_t seed = 300; seed < 340; ++seed) {
    CAPTURE(seed);
    const EngineModel built = random_model(seed);
    const auto full = write_engine(built).value();
    Refitter refitter(read_engine(write_engine(built, {.exclude_weights = true}).value()).value());
    for (const auto& w : built.weights)
      REQUIRE(refitter.set_named_weights(w.name, w.data).has_value());
    CHECK(write_engine(refitter.refit().value()).value() == full);
  }
}

TEST_CASE("refit: errors name the weight and the mismatch") {
  const EngineModel built = small_model();
  Refitter refitter(read_engine(write_engine(built, {.exclude_weights = true}).value()).value());
  const float values[128] = {};

  auto r = refitter.set_named_weights("fc9.weight", DataType::kF32, values, 128);
  CHECK(r.error().id == E::kRefitUnknownName);
  CHECK(r.error().message.find("fc9.weight") != std::string::npos);

  r = refitter.set_named_weights("fc1.weight", DataType::kF16, values, 128);
  CHECK(r.error().id == E::kRefitDtype);
  CHECK(r.error().message.find("f32") != std::string::npos);

  r = refitter.set_named_weights("fc1.weight", DataType::kF32, values, 127);
  CHECK(r.error().id == E::kRefitCount);
  CHECK(r.error().message.find("128") != std::string::npos);

  CHECK(refitter.set_named_weights("fc1.weight", DataType::kF32, nullptr, 128).error().id ==
        E::kRefitNullData);
  CHECK(refitter.set_named_weights("fc1.weight", DataType::kF32, values, -1).error().id ==
        E::kRefitNullData);
  CHECK(refitter.set_named_weights("fc1.weight", HostTensor()).error().id == E::kRefitNullData);

  r = refitter.set_named_weights("fc1.weight", HostTensor(DataType::kF32, {8, 16}));
  CHECK(r.error().id == E::kRefitShape);
  CHECK(r.error().message.find("[16,8]") != std::string::npos);
  CHECK(refitter.set_named_weights("fc1.weight", HostTensor(DataType::kF16, {16, 8})).error().id ==
        E::kRefitDtype);
  // Nothing was accepted.
  CHECK(refitter.missing_weights().size() == 4);
}

TEST_CASE(
    "refit: new values on a refittable engine warn (706); on a non-refittable one they fail "
    "(707)") {
  EngineModel built = small_model();
  REQUIRE(built.refittable);
  ErrorRecorder recorder;
  Refitter refitter(read_engine(write_engine(built, {.exclude_weights = true}).value()).value(),
                    &recorder);
  HostTensor fresh(DataType::kF32, {16, 8});  // zeros: not the built weights
  REQUIRE(refitter.set_named_weights("fc1.weight", fresh).has_value());
  REQUIRE(refitter.warnings().size() == 1);
  CHECK(refitter.warnings()[0].id == E::kRefitFingerprintWarning);
  CHECK(refitter.warnings()[0].message.find("fc1.weight") != std::string::npos);
  CHECK(recorder.warning_count() == 1);
  for (size_t i = 1; i < built.weights.size(); ++i) {
    REQUIRE(refitter.set_named_weights(built.weights[i].name, built.weights[i].data).has_value());
  }
  // The refit engine is the engine built with the new weights: new fingerprint included.
  EngineModel rebuilt = built;
  rebuilt.weights[0].data = fresh;
  const auto refit = refitter.refit().value();
  CHECK(refit.weights[0].fingerprint == xxh64(bytes_of(fresh)));
  CHECK(write_engine(refit).value() == write_engine(rebuilt).value());

  built.refittable = false;  // kSTRIP_PLAN without kREFIT
  Refitter strict(read_engine(write_engine(built, {.exclude_weights = true}).value()).value());
  CHECK(strict.set_named_weights("fc1.weight", fresh).error().id == E::kRefitFingerprintError);
  CHECK(strict.set_named_weights("fc1.weight", built.weights[0].data).has_value());
  CHECK(strict.warnings().empty());
}

TEST_CASE("refit: a full engine can be refit too (replace some weights)") {
  const EngineModel built = small_model();
  Refitter refitter(read_engine(write_engine(built).value()).value());
  CHECK(refitter.missing_weights().empty());
  HostTensor bias(DataType::kF16, {16});
  REQUIRE(refitter.set_named_weights("fc1.bias", bias).has_value());
  EngineModel expected = built;
  expected.weights[1].data = bias;
  CHECK(write_engine(refitter.refit().value()).value() == write_engine(expected).value());
}

// ---- ResNet-50-shaped engine ------------------------------------------------------------------

namespace {

// The convolutions of ResNet-50 (each followed by batch-norm scale and bias) and the classifier:
// 161 tensors, 25,557,032 parameters.
EngineModel resnet50_model() {
  EngineModel m;
  m.refittable = true;
  m.metadata = minimal_metadata();
  Rng rng(50);
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  const auto conv = [&](const std::string& name, int64_t out, int64_t in, int64_t k) {
    shapes.push_back({name + ".weight", {out, in, k, k}});
    shapes.push_back({name + ".bn.scale", {out}});
    shapes.push_back({name + ".bn.bias", {out}});
  };
  conv("conv1", 64, 3, 7);
  int64_t in = 64;
  const int64_t blocks[4] = {3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t width = 64 << stage, out = width * 4;
    for (int64_t b = 0; b < blocks[stage]; ++b) {
      const std::string p = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
      conv(p + ".conv1", width, in, 1);
      conv(p + ".conv2", width, width, 3);
      conv(p + ".conv3", out, width, 1);
      if (b == 0) conv(p + ".downsample", out, in, 1);
      in = out;
    }
  }
  shapes.push_back({"fc.weight", {1000, 2048}});
  shapes.push_back({"fc.bias", {1000}});
  for (auto& [name, shape] : shapes) {
    WeightEntry w;
    w.name = name;
    w.dtype = DataType::kF32;
    w.shape = shape;
    w.data = random_tensor(rng, DataType::kF32, shape);
    m.weights.push_back(std::move(w));
  }
  // Kernel images: one module per target for sm_80, 86, 89, 90, 100, 120 plus compute_75 PTX,
  // 160 KiB each (a few dozen conv/GEMM/pointwise kernels), 24 kernels.
  for (uint16_t cc : {80, 86, 89, 90, 100, 120})
    m.images.push_back({ImageKind::kCUBIN, cc, false, fake_cubin(rng, 160 << 10)});
  m.images.push_back({ImageKind::kPTX, 75, false, fake_ptx(rng, 160 << 10)});
  for (int k = 0; k < 24; ++k)
    add_kernel(m, "rtx::conv<" + std::to_string(k) + ">",
               "_Z4convILi" + std::to_string(k) + "EEvv");
  m.device_memory_bytes = 200ull << 20;
  return m;
}

#if !defined(__SANITIZE_ADDRESS__)
// Peak and current resident memory of this process (kB), from /proc/self/status.
std::pair<long, long> hwm_rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  long hwm = -1, rss = -1;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::stol(line.substr(6));
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stol(line.substr(6));
  }
  return {hwm, rss};
}
#endif

}  // namespace

TEST_CASE(
    "stripped ResNet-50-shaped engine is under 2% of the full engine; peak memory of a file read") {
  const fs::path dir = fs::temp_directory_path() / ("rtx_ser_resnet_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path path = dir / "resnet50.rtxe";
  uint64_t full_size = 0;
  {
    const EngineModel m = resnet50_model();
    CHECK(m.weights.size() == 161);
    uint64_t params = 0;
    for (const auto& w : m.weights) params += static_cast<uint64_t>(w.data.element_count());
    CHECK(params == 25557032);
    const auto stripped = write_engine(m, {.exclude_weights = true}).value();
    REQUIRE(write_engine_file(path, m).has_value());
    full_size = fs::file_size(path);
    const double ratio = double(stripped.size()) / double(full_size);
    MESSAGE("ResNet-50 shape: full " << full_size << " bytes, stripped " << stripped.size()
                                     << " bytes (" << ratio * 100 << "%)");
    CHECK(ratio < 0.02);
    // The stripped engine refit from the full engine's weights is the full engine.
    Refitter refitter(read_engine(stripped).value());
    for (const auto& w : m.weights) REQUIRE(refitter.set_named_weights(w.name, w.data).has_value());
    const auto refit = write_engine(refitter.refit().value()).value();
    CHECK(refit.size() == full_size);
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> on_disk(full_size);
    in.read(reinterpret_cast<char*>(on_disk.data()), static_cast<std::streamsize>(full_size));
    CHECK(refit == on_disk);
  }

#if defined(__SANITIZE_ADDRESS__)
  MESSAGE("peak-memory check skipped under AddressSanitizer (shadow memory inflates RSS)");
#else
  // Reset the peak-RSS mark (Linux: "5" > /proc/self/clear_refs), then read the file.
  bool reset = false;
  {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.flush();
    reset = static_cast<bool>(clear);
  }
  if (!reset) {
    MESSAGE("peak-memory check skipped: /proc/self/clear_refs is not writable here");
  } else {
    const auto [hwm0, rss0] = hwm_rss_kb();
    CHECK(hwm0 - rss0 < 1024);  // the reset worked
    {
      const auto model = read_engine_file(path);
      REQUIRE(model.has_value());
      CHECK(model->weights.size() == 161);
    }
    const auto [hwm1, rss1] = hwm_rss_kb();
    const double peak = double(hwm1 - rss0) * 1024.0;
    MESSAGE("reading a " << full_size << "-byte engine raised peak RSS by " << peak << " bytes ("
                         << peak / double(full_size) << "x)");
    CHECK(peak <= 1.1 * double(full_size));
    CHECK(rss1 <= rss0 + 4096);  // the mapping is released with the model
  }
#endif
  fs::remove_all(dir);
}
