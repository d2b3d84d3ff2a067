// SPDX-License-Identifier: Apache-2.0
// `rtx inspect` on engines written with the serialization library (the small engine of the
// format tests: 2 cubins, PTX, 2 kernels, 4 weights) under simulated devices, on stripped and on
// damaged engines, on an ONNX model, and on files that are neither.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/unit/test_serialization_util.hpp"
#include "tools/rtx/inspect.hpp"

using namespace rtx;
using namespace rtx::cli;
namespace ser = rtx::serialization;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path =
        std::filesystem::temp_directory_path() / ("rtx_cli_inspect_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string write(const TempDir& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  const auto p = (dir.path / name).string();
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  return p;
}

DeviceQuery fake_device(uint32_t cc) {
  return [cc]() -> Expected<ser::DeviceFacts> {
    return ser::DeviceFacts{cc, 80ull << 30, 13000, 13000};
  };
}

DeviceQuery no_device() {
  return []() -> Expected<ser::DeviceFacts> {
    return Error{"rtx.serialization.005",
                 "no CUDA device (CUDA driver version is insufficient for CUDA runtime version)"};
  };
}

}  // namespace

TEST_CASE("an engine on a GPU it has a cubin for: header, validity, targets, kernels, weights") {
  TempDir dir;
  const auto path = write(dir, "mlp.rtxe", ser::write_engine(ser::testing::small_model()).value());
  const auto d = describe_engine(path, fake_device(90));
  INFO(d.dump(2));
  REQUIRE(d["ok"].get<bool>());
  CHECK(d["kind"] == "engine");
  const auto& h = d["header"];
  CHECK(h["format_version"] == 1);
  CHECK(h["library_version"] == "0.1.0");
  CHECK(h["flags"] == nlohmann::json({"refittable", "PTX present"}));
  CHECK(h["cubin_compute_capabilities"] == nlohmann::json({80, 90}));
  CHECK(h["min_ptx_compute_capability"] == 75);
  CHECK(h["min_driver_version"] == "12.8");
  CHECK(h["device_memory_bytes"] == 1 << 20);
  CHECK(h["file_size"] == d["file_size"]);
  CHECK(d["validity"]["verdict"] == "valid");
  CHECK(d["validity"]["diagnostics"].empty());
  CHECK(d["validity"]["device"]["compute_capability"] == 90);
  CHECK(d["network"]["name"] == "mlp");
  CHECK(d["network"]["inputs"][0]["name"] == "x");
  CHECK(d["network"]["inputs"][0]["shape"] == nlohmann::json({-1, 784}));
  REQUIRE(d["targets"].size() == 3);
  CHECK(d["targets"][0]["target"] == "sm_80");
  CHECK(d["targets"][1]["target"] == "sm_90");
  CHECK(d["targets"][2]["target"] == "compute_75");
  CHECK(d["targets"][2]["kind"] == "ptx");
  REQUIRE(d["kernels"].size() == 2);
  CHECK(d["kernels"][0]["name_expression"] == "rtx::gemm<half, 128, 64>");
  CHECK(d["kernels"][0]["dynamic_shared_memory_bytes"] == 16384);
  CHECK(d["kernels"][0]["targets"] == nlohmann::json({"sm_80", "sm_90", "compute_75"}));
  CHECK(d["kernels"][0]["launch"]["block"] == nlohmann::json({256, 1, 1}));
  const auto& w = d["weights"];
  CHECK(w["count"] == 4);
  CHECK(w["stripped"] == false);
  // f32 16x8 (512 B) + f16 16 (32 B) + int4 5x3 (8 B) + f32 0x4 (0 B)
  CHECK(w["total_bytes"] == 552);
  CHECK(w["entries"][2]["name"] == "fc2.weight_q");
  CHECK(w["entries"][2]["dtype"] == "i4");
  CHECK(w["entries"][2]["bytes"] == 8);
  CHECK(w["entries"][0]["fingerprint"].get<std::string>().size() == 18);
  REQUIRE(d["sections"].size() == 5);
  CHECK(d["sections"][0]["tag"] == "META");
  CHECK(d["sections"][4]["tag"] == "WDAT");

  const std::string text = render_text(d, false);
  for (const char* line :
       {"Engine: ", "  format version       1", "  flags                refittable, PTX present",
        "  cubins               sm_80, sm_90",
        "  PTX                  compute_75 (JIT on newer GPUs)",
        "Validity on this machine: valid\n", "Body: verified", "Network 'mlp'", "    x  f16  ?x784",
        "    #0 x: min 1x784, opt 8x784, max 64x784", "Targets (3)", "  compute_75  ptx",
        "Kernels (2)",
        "  rtx::gemm<half, 128, 64>  grid [\"ceil_div(n, 256)\",1,1] block [256,1,1]  smem 16.00 "
        "KiB",
        "Weights (4, 552 B)", "  fc1.weight  f32  16x8  512 B"}) {
    INFO(line);
    CHECK(text.find(line) != std::string::npos);
  }
  CHECK(text.find("Sections") == std::string::npos);  // verbose only
  const std::string verbose = render_text(d, true);
  CHECK(verbose.find("Sections\n  META") != std::string::npos);
  CHECK(verbose.find("lowered _ZN3rtx4gemmI6__halfLi128ELi64EEEvv") != std::string::npos);
  CHECK(verbose.find("fingerprint 0x") != std::string::npos);
}

TEST_CASE("validity in words: PTX fallback, no device") {
  TempDir dir;
  const auto path = write(dir, "mlp.rtxe", ser::write_engine(ser::testing::small_model()).value());
  auto d = describe_engine(path, fake_device(86));
  CHECK(d["validity"]["verdict"] == "suboptimal");
  d = describe_engine(path, no_device());
  CHECK(d["validity"]["verdict"] == "invalid");
  CHECK(d["validity"]["diagnostics"] == nlohmann::json({"CUDA error (no driver or no device)"}));
  CHECK(d["validity"]["device_error"].get<std::string>().find("rtx.serialization.005") !=
        std::string::npos);
  CHECK(d["ok"].get<bool>());  // the body is fine: only this machine cannot run it
  const std::string text = render_text(d, false);
  CHECK(text.find("Validity on this machine: invalid (CUDA error (no driver or no device))") !=
        std::string::npos);
  CHECK(text.find("  device: rtx.serialization.005") != std::string::npos);
}

TEST_CASE("a stripped engine") {
  TempDir dir;
  ser::WriteOptions strip;
  strip.exclude_weights = true;
  const auto path =
      write(dir, "s.rtxe", ser::write_engine(ser::testing::small_model(), strip).value());
  const auto d = describe_engine(path, fake_device(90));
  REQUIRE(d["ok"].get<bool>());
  CHECK(d["weights"]["stripped"] == true);
  CHECK(d["weights"]["count"] == 4);
  CHECK(d["header"]["flags"][0] == "weights stripped");
  CHECK(d["sections"].size() == 4);
  CHECK(render_text(d, false).find("Weights (4, 552 B, stripped: refit before running)") !=
        std::string::npos);
}

TEST_CASE("a damaged engine shows its header and the reader's error") {
  TempDir dir;
  auto bytes = ser::write_engine(ser::testing::small_model()).value();
  bytes[bytes.size() - 300] ^= 0x01;  // inside the weight data: a section checksum fails
  const auto path = write(dir, "bad.rtxe", bytes);
  const auto d = describe_engine(path, fake_device(90));
  CHECK_FALSE(d["ok"].get<bool>());
  CHECK(d["error"]["id"] == "rtx.serialization.208");
  CHECK(d.contains("header"));
  std::ostringstream out, err;
  CHECK(run_inspect(path, false, false, out, err, fake_device(90)) == 1);
  CHECK(out.str().find("Body: DAMAGED: rtx.serialization.208") != std::string::npos);
  CHECK(err.str().find("[E] rtx.serialization.208") != std::string::npos);
  // A broken header: only the error.
  bytes = ser::write_engine(ser::testing::small_model()).value();
  bytes[20] ^= 0xFF;
  const auto bad_header = write(dir, "badhdr.rtxe", bytes);
  const auto h = describe_engine(bad_header, fake_device(90));
  CHECK(h["error"]["id"] == "rtx.serialization.103");
  CHECK(h["validity"]["diagnostics"] == nlohmann::json({"malformed engine"}));
}

TEST_CASE("run_inspect: JSON view, missing files, neither engine nor ONNX") {
  TempDir dir;
  const auto path = write(dir, "mlp.rtxe", ser::write_engine(ser::testing::small_model()).value());
  std::ostringstream out, err;
  REQUIRE(run_inspect(path, true, false, out, err, fake_device(90)) == 0);
  const auto j = nlohmann::json::parse(out.str());
  CHECK(j["network"]["name"] == "mlp");
  CHECK(err.str().empty());
  std::ostringstream o2, e2;
  CHECK(run_inspect((dir.path / "nope.rtxe").string(), false, false, o2, e2, fake_device(90)) == 1);
  CHECK(e2.str().find("rtx.cli.401: cannot open") != std::string::npos);
  std::ostringstream o3, e3;
  CHECK(run_inspect(dir.path.string(), false, false, o3, e3, fake_device(90)) == 1);
  CHECK(e3.str().find("is a folder") != std::string::npos);
  const auto junk = write(dir, "junk.bin", {1, 2, 3, 4, 5, 6, 7, 8});
  std::ostringstream o4, e4;
  CHECK(run_inspect(junk, false, false, o4, e4, fake_device(90)) == 1);
  CHECK(e4.str().find("rtx.cli.401") != std::string::npos);
  CHECK(e4.str().find("neither an rtx engine") != std::string::npos);
}

TEST_CASE("an ONNX model") {
  const std::string model = std::string(RTX_SOURCE_DIR) + "/tests/models/bert_tiny/model.onnx";
  std::ostringstream out, err;
  REQUIRE(run_inspect(model, false, false, out, err, fake_device(90)) == 0);
  const std::string text = out.str();
  INFO(text);
  CHECK(text.find("ONNX model: ") != std::string::npos);
  CHECK(text.find("    input_ids  i64  ?x?  dims (batch,sequence)") != std::string::npos);
  CHECK(text.find("  layers: ") != std::string::npos);
  const auto d = describe_onnx(model);
  REQUIRE(d["ok"].get<bool>());
  CHECK(d["network"]["inputs"].size() == 3);
  CHECK(d["layers"]["count"].get<int>() > 10);
  CHECK(d["weights"]["count"].get<int>() > 10);
}

TEST_CASE("sizes and CUDA versions") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(1024) == "1.00 KiB");
  CHECK(human_bytes(3ull << 29) == "1.50 GiB");
  CHECK(cuda_version_string(12080) == "12.8");
  CHECK(cuda_version_string(13000) == "13.0");
  CHECK(cuda_version_string(0) == "any");
}
