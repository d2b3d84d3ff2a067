// SPDX-License-Identifier: Apache-2.0
// The `rtx` command line: defaults, both TensorRT spellings of the timing switches, every value
// syntax (shapes, compute capabilities, byte sizes, weight-streaming budgets, input files), and
// the error for each kind of mistake (its id and that the message names the flag). Also checks
// that --help and docs/cli.md mention every flag of the table.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tools/rtx/options.hpp"

using namespace rtx::cli;

namespace {

rtx::Expected<Options> parse(std::vector<std::string> args) {
  return parse_options(args);
}

// The error of a command line that must fail; checks the id and that `needle` is in the message.
void expect_error(std::vector<std::string> args, const std::string& id, const std::string& needle) {
  auto r = parse(args);
  std::string joined;
  for (const auto& a : args) joined += a + " ";
  INFO("args: " << joined);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == id);
  INFO("message: " << r.error().message);
  CHECK(r.error().message.find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("defaults follow TensorRT 11 and tensorrt_rtx") {
  auto o = parse({"--onnx=m.onnx"});
  REQUIRE(o.has_value());
  CHECK(o->command == Command::kRun);
  CHECK(o->onnx == "m.onnx");
  CHECK(o->backend == Backend::kGpu);
  CHECK(o->iterations == 10);
  CHECK(o->duration_s == 3.0);
  CHECK(o->warm_up_ms == 200.0);
  CHECK(o->avg_runs == 10);
  CHECK(o->percentiles == std::vector<double>{90, 95, 99});
  CHECK(o->cuda_graph);
  CHECK(o->spin_wait);
  CHECK_FALSE(o->data_transfers);
  CHECK(o->device == 0);
  CHECK(o->seed == 1);
  CHECK(o->weight_streaming_budget.kind == WeightStreamingBudget::Kind::kDisabled);
  CHECK(o->compute_capabilities.empty());
  CHECK_FALSE(o->skip_inference);
}

TEST_CASE("TensorRT 10 and 11 spellings of the timing switches") {
  auto o = parse({"--loadEngine=e", "--useCudaGraph", "--useSpinWait", "--noDataTransfers"});
  REQUIRE(o.has_value());
  CHECK(o->cuda_graph);
  CHECK(o->spin_wait);
  CHECK_FALSE(o->data_transfers);
  o = parse({"--loadEngine=e", "--noCudaGraph", "--noSpinWait", "--includeDataTransfers"});
  REQUIRE(o.has_value());
  CHECK_FALSE(o->cuda_graph);
  CHECK_FALSE(o->spin_wait);
  CHECK(o->data_transfers);
  o = parse({"--loadEngine=e", "--rtxCudaGraphStrategy=disable"});
  REQUIRE(o.has_value());
  CHECK_FALSE(o->cuda_graph);
  o = parse({"--loadEngine=e", "--rtxCudaGraphStrategy=whole_graph_capture"});
  REQUIRE(o.has_value());
  CHECK(o->cuda_graph);
  expect_error({"--loadEngine=e", "--rtxCudaGraphStrategy=sometimes"}, "rtx.cli.003", "sometimes");
  // Contradictions name both flags.
  expect_error({"--loadEngine=e", "--useCudaGraph", "--noCudaGraph"}, "rtx.cli.005",
               "--useCudaGraph and --noCudaGraph");
  expect_error({"--loadEngine=e", "--noSpinWait", "--useSpinWait"}, "rtx.cli.005",
               "--noSpinWait and --useSpinWait");
  expect_error({"--loadEngine=e", "--includeDataTransfers", "--noDataTransfers"}, "rtx.cli.005",
               "--noDataTransfers");
  expect_error({"--loadEngine=e", "--noCudaGraph", "--rtxCudaGraphStrategy=disable"}, "rtx.cli.005",
               "--rtxCudaGraphStrategy");
}

TEST_CASE("values: --flag=value and --flag value") {
  auto o = parse({"--onnx", "m.onnx", "--iterations", "5", "--duration=-1", "--warmUp", "0",
                  "--percentile=50,99.9", "--device=1", "--seed=42", "--avgRuns=3"});
  REQUIRE(o.has_value());
  CHECK(o->onnx == "m.onnx");
  CHECK(o->iterations == 5);
  CHECK(o->duration_s == -1);
  CHECK(o->warm_up_ms == 0);
  CHECK(o->percentiles == std::vector<double>{50, 99.9});
  CHECK(o->device == 1);
  CHECK(o->seed == 42);
  CHECK(o->avg_runs == 3);
  // A negative number is a value, not a flag.
  o = parse({"--loadEngine=e", "--weightStreamingBudget", "-1"});
  REQUIRE(o.has_value());
  CHECK(o->weight_streaming_budget.kind == WeightStreamingBudget::Kind::kAutomatic);
}

TEST_CASE("unknown, refused, misspelled and malformed flags") {
  expect_error({"--onnx=m.onnx", "--iteration=5"}, "rtx.cli.001", "did you mean --iterations?");
  expect_error({"--onnx=m.onnx", "--frobnicate"}, "rtx.cli.001", "'--frobnicate'");
  expect_error({"--onnx=m.onnx", "-x"}, "rtx.cli.001", "'-x'");
  expect_error({"--onnx=m.onnx", "--fp16"}, "rtx.cli.008", "strongly typed");
  expect_error({"--onnx=m.onnx", "--int8"}, "rtx.cli.008", "--int8");
  expect_error({"--onnx=m.onnx", "--memPoolSize=workspace:1024"}, "rtx.cli.008",
               "activation memory");
  expect_error({"--onnx=m.onnx", "--dumpLayerInfo"}, "rtx.cli.008", "rtx inspect");
  expect_error({"--onnx"}, "rtx.cli.002", "--onnx needs a value");
  expect_error({"--onnx="}, "rtx.cli.002", "--onnx needs a value");
  expect_error({"--onnx", "--iterations=3"}, "rtx.cli.002", "--onnx needs a value");
  expect_error({"--onnx=m", "--useCudaGraph=1"}, "rtx.cli.002", "--useCudaGraph is a switch");
  expect_error({"--onnx=m", "--iterations=5", "--iterations=6"}, "rtx.cli.004",
               "--iterations is given twice");
  expect_error({"--onnx=m", "--iterations=abc"}, "rtx.cli.003", "'abc' is not an integer");
  expect_error({"--onnx=m", "--iterations=0"}, "rtx.cli.003", "out of range");
  expect_error({"--onnx=m", "--iterations=5x"}, "rtx.cli.003", "--iterations");
  expect_error({"--onnx=m", "--duration=-2"}, "rtx.cli.003", "-1 (until interrupted)");
  expect_error({"--onnx=m", "--duration=fast"}, "rtx.cli.003", "not a number");
  expect_error({"--onnx=m", "--warmUp=-5"}, "rtx.cli.003", "--warmUp");
  expect_error({"--onnx=m", "--percentile=50,101"}, "rtx.cli.003", "101");
  expect_error({"--onnx=m", "--device=-1"}, "rtx.cli.003", "--device");
  expect_error({"--onnx=m", "--backend=tpu"}, "rtx.cli.003", "gpu, reference or auto");
  CHECK(parse({"--onnx=m", "--backend=auto", "--check"})->backend == Backend::kAuto);
  CHECK(parse({"--onnx=m", "--backend=cpu"})->backend == Backend::kReference);
  expect_error({"--onnx=m", "--checkTolerance=-1"}, "rtx.cli.003", "--checkTolerance");
  expect_error({"m.onnx"}, "rtx.cli.007", "'m.onnx'");
}

TEST_CASE("shape lists") {
  auto s = parse_shape_list("--shapes", "x:1x3x224x224,'in:0':2x4,a:b:7");
  REQUIRE(s.has_value());
  REQUIRE(s->size() == 3);
  CHECK((*s)[0].first == "x");
  CHECK((*s)[0].second == std::vector<int64_t>{1, 3, 224, 224});
  CHECK((*s)[1].first == "in:0");
  CHECK((*s)[1].second == std::vector<int64_t>{2, 4});
  CHECK((*s)[2].first == "a:b");  // the last ':' separates the dims, as in trtexec
  CHECK((*s)[2].second == std::vector<int64_t>{7});
  s = parse_shape_list("--shapes", "x:0x5");
  REQUIRE(s.has_value());
  CHECK((*s)[0].second == std::vector<int64_t>{0, 5});

  const auto fails = [](const char* text, const char* id, const char* needle) {
    auto r = parse_shape_list("--shapes", text);
    INFO(text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().id == id);
    INFO(r.error().message);
    CHECK(r.error().message.find(needle) != std::string::npos);
    CHECK(r.error().message.find("--shapes") != std::string::npos);
  };
  fails("x:1xAx3", "rtx.cli.003", "dim 'A'");
  fails("x:1x-3", "rtx.cli.003", "dim '-3'");
  fails("x:", "rtx.cli.003", "no dims");
  fails("x1x3", "rtx.cli.003", "name:1x3x224x224");
  fails(":1x3", "rtx.cli.003", "empty tensor name");
  fails("'x:1x3", "rtx.cli.003", "unterminated quote");
  fails("x:1x2,x:3x4", "rtx.cli.004", "'x' given twice");
  fails("x:1x1x1x1x1x1x1x1x1", "rtx.cli.003", "more than 8 dims");
  CHECK(dims_to_string(std::vector<int64_t>{1, -1, 3}) == "1x?x3");
  CHECK(dims_to_string(std::vector<int64_t>{}) == "scalar");
}

TEST_CASE("compute capabilities") {
  auto cc = parse_compute_capabilities("--computeCapabilities", "80,8.6,sm_90,sm89, 120");
  REQUIRE(cc.has_value());
  CHECK(*cc == std::vector<int>{80, 86, 90, 89, 120});
  auto bad = parse_compute_capabilities("--computeCapabilities", "80,95");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().id == "rtx.cli.003");
  CHECK(bad.error().message.find("'95' is not a compute capability rtx builds for") !=
        std::string::npos);
  bad = parse_compute_capabilities("--computeCapabilities", "80,80");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("80 given twice") != std::string::npos);
  bad = parse_compute_capabilities("--computeCapabilities", "ampere");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("write 86, 8.6 or sm_86") != std::string::npos);
  auto o = parse({"--onnx=m", "--computeCapabilities=86,90", "--skipInference"});
  REQUIRE(o.has_value());
  CHECK(o->compute_capabilities == std::vector<int>{86, 90});
  expect_error({"--onnx=m", "--computeCapabilities=86", "--useGpu"}, "rtx.cli.005", "--useGpu");
}

TEST_CASE("byte sizes and weight-streaming budgets") {
  CHECK(parse_bytes("--x", "0").value() == 0);
  CHECK(parse_bytes("--x", "1073741824").value() == 1073741824ull);
  CHECK(parse_bytes("--x", "512M").value() == 512ull << 20);
  CHECK(parse_bytes("--x", "512MiB").value() == 512ull << 20);
  CHECK(parse_bytes("--x", "1.5G").value() == 3ull << 29);
  CHECK(parse_bytes("--x", "64KiB").value() == 65536);
  CHECK(parse_bytes("--x", "64k").value() == 65536);
  CHECK(parse_bytes("--x", "100B").value() == 100);
  CHECK(parse_bytes("--x", "1T").value() == 1ull << 40);
  CHECK(parse_bytes("--x", "10X").error().message.find("unknown size suffix 'X'") !=
        std::string::npos);
  CHECK(parse_bytes("--x", "G").error().id == "rtx.cli.003");
  CHECK(parse_bytes("--x", "99999999999T").error().message.find("too large") != std::string::npos);

  auto b = parse_weight_streaming_budget("--weightStreamingBudget", "-2");
  CHECK(b->kind == WeightStreamingBudget::Kind::kDisabled);
  b = parse_weight_streaming_budget("--weightStreamingBudget", "-1");
  CHECK(b->kind == WeightStreamingBudget::Kind::kAutomatic);
  b = parse_weight_streaming_budget("--weightStreamingBudget", "50%");
  CHECK(b->kind == WeightStreamingBudget::Kind::kPercent);
  CHECK(b->percent == 50.0);
  b = parse_weight_streaming_budget("--weightStreamingBudget", "0%");
  CHECK(b->percent == 0.0);
  b = parse_weight_streaming_budget("--weightStreamingBudget", "2G");
  CHECK(b->kind == WeightStreamingBudget::Kind::kBytes);
  CHECK(b->bytes == 2ull << 30);
  CHECK(parse_weight_streaming_budget("--weightStreamingBudget", "150%")
            .error()
            .message.find("[0%, 100%]") != std::string::npos);
  CHECK(parse_weight_streaming_budget("--weightStreamingBudget", "-3")
            .error()
            .message.find("negative") != std::string::npos);
  CHECK(parse_weight_streaming_budget("--weightStreamingBudget", "lots").error().id ==
        "rtx.cli.003");
}

TEST_CASE("--loadInputs lists") {
  auto f = parse_input_files("--loadInputs", "x:a.npy,'in:0':dir/b.bin");
  REQUIRE(f.has_value());
  REQUIRE(f->size() == 2);
  CHECK((*f)[0].name == "x");
  CHECK((*f)[0].path == "a.npy");
  CHECK((*f)[1].name == "in:0");
  CHECK((*f)[1].path == "dir/b.bin");
  CHECK(parse_input_files("--loadInputs", "x:").error().message.find("no file for input 'x'") !=
        std::string::npos);
  CHECK(parse_input_files("--loadInputs", "x.npy").error().message.find("name:file") !=
        std::string::npos);
  CHECK(parse_input_files("--loadInputs", "x:a,x:b").error().id == "rtx.cli.004");
  // Repeating the flag appends; the same input twice across flags is an error.
  auto o = parse({"--onnx=m", "--loadInputs=x:a.npy", "--loadInputs=y:b.npy"});
  REQUIRE(o.has_value());
  CHECK(o->load_inputs.size() == 2);
  expect_error({"--onnx=m", "--loadInputs=x:a.npy", "--loadInputs=x:b.npy"}, "rtx.cli.004",
               "'x' given twice");
}

TEST_CASE("optimization profiles") {
  auto o = parse({"--onnx=m", "--optShapes=x:4x8"});
  REQUIRE(o.has_value());
  CHECK(*find_shape(o->min_shapes, "x") == std::vector<int64_t>{4, 8});
  CHECK(*find_shape(o->max_shapes, "x") == std::vector<int64_t>{4, 8});
  o = parse({"--onnx=m", "--minShapes=x:1x8", "--optShapes=x:4x8", "--maxShapes=x:16x8",
             "--shapes=x:2x8"});
  REQUIRE(o.has_value());
  CHECK(*find_shape(o->min_shapes, "x") == std::vector<int64_t>{1, 8});
  expect_error({"--onnx=m", "--minShapes=x:1x8", "--optShapes=x:4x8"}, "rtx.cli.005",
               "all of --minShapes");
  expect_error({"--onnx=m", "--maxShapes=x:1x8"}, "rtx.cli.005", "only --optShapes");
  expect_error({"--onnx=m", "--minShapes=x:8x8", "--optShapes=x:4x8", "--maxShapes=x:16x8"},
               "rtx.cli.003", "min <= opt <= max");
  expect_error({"--onnx=m", "--minShapes=x:1", "--optShapes=x:4x8", "--maxShapes=x:16x8"},
               "rtx.cli.003", "different ranks");
  expect_error({"--onnx=m", "--minShapes=y:1x8", "--optShapes=x:4x8", "--maxShapes=x:16x8"},
               "rtx.cli.005", "'x' is in --optShapes but not in both");
  expect_error({"--onnx=m", "--minShapes=x:1x8,y:1", "--optShapes=x:4x8", "--maxShapes=x:16x8"},
               "rtx.cli.005", "'y' is in --minShapes but not in --optShapes");
  expect_error({"--onnx=m", "--minShapes=x:1x8", "--optShapes=x:4x8", "--maxShapes=x:16x8",
                "--shapes=x:32x8"},
               "rtx.cli.003", "outside its profile");
}

TEST_CASE("model and mode rules") {
  expect_error({"--iterations=3"}, "rtx.cli.006", "--onnx=<model.onnx> or --loadEngine=<engine>");
  expect_error({"--onnx=m", "--loadEngine=e"}, "rtx.cli.005", "--onnx and --loadEngine");
  expect_error({"--onnx=m", "--refitFromOnnx=w.onnx"}, "rtx.cli.005", "--loadEngine");
  expect_error({"--loadEngine=e", "--saveEngine=f"}, "rtx.cli.005", "--refitFromOnnx");
  expect_error({"--loadEngine=e", "--stripWeights"}, "rtx.cli.005",
               "--stripWeights is a build flag");
  expect_error({"--loadEngine=e", "--optShapes=x:1"}, "rtx.cli.005", "--optShapes is a build flag");
  expect_error({"--onnx=m", "--backend=reference", "--check"}, "rtx.cli.005", "--check");
  expect_error({"--onnx=m", "--backend=reference", "--dumpProfile"}, "rtx.cli.005",
               "--backend=gpu");
  expect_error({"--onnx=m", "--skipInference", "--check"}, "rtx.cli.005", "--skipInference");
  expect_error({"--onnx=m", "--skipInference", "--saveOutputs=d"}, "rtx.cli.005",
               "--skipInference");
  expect_error({"--onnx=m", "--json"}, "rtx.cli.005", "rtx inspect");
  auto o = parse({"--loadEngine=e", "--refitFromOnnx=w.onnx", "--saveEngine=f"});
  REQUIRE(o.has_value());
  CHECK(o->refit_from_onnx == "w.onnx");
  o = parse({"--onnx=m", "--stripWeights", "--refit", "--allowWeightStreaming", "--saveEngine=f",
             "--skipInference"});
  REQUIRE(o.has_value());
  CHECK(o->strip_weights);
  CHECK(o->refit);
  CHECK(o->allow_weight_streaming);
  // Notes for flags that are accepted but change nothing, and for pointless combinations.
  o = parse({"--onnx=m", "--stronglyTyped", "--stripWeights", "--skipInference"});
  REQUIRE(o.has_value());
  REQUIRE(o->notes.size() == 3);
  CHECK(o->notes[0].find("strongly typed") != std::string::npos);
  // Aliases.
  o = parse({"--onnx=m", "--stripAllWeights", "--saveEngine=f"});
  REQUIRE(o.has_value());
  CHECK(o->strip_weights);
}

TEST_CASE("inspect, help and version") {
  auto o = parse({"inspect", "model.rtxe", "--json"});
  REQUIRE(o.has_value());
  CHECK(o->command == Command::kInspect);
  CHECK(o->inspect_file == "model.rtxe");
  CHECK(o->json);
  expect_error({"inspect"}, "rtx.cli.006", "rtx inspect needs a file");
  expect_error({"inspect", "a", "b"}, "rtx.cli.007", "'b'");
  expect_error({"inspect", "a", "--iterations=3"}, "rtx.cli.005", "--iterations");
  CHECK(parse({"--help"})->command == Command::kHelp);
  CHECK(parse({"-h"})->command == Command::kHelp);
  CHECK(parse({"--version"})->command == Command::kVersion);
}

TEST_CASE("--help and docs/cli.md mention every flag") {
  const std::string help = help_text();
  std::ifstream doc(std::string(RTX_SOURCE_DIR) + "/docs/cli.md");
  REQUIRE_MESSAGE(doc.good(), "docs/cli.md is missing");
  std::stringstream ss;
  ss << doc.rdbuf();
  const std::string docs = ss.str();
  const auto flags = known_flags();
  CHECK(flags.size() > 40);
  for (const auto& f : flags) {
    INFO(f);
    CHECK(help.find(f) != std::string::npos);
    CHECK(docs.find("`" + f) != std::string::npos);
  }
}
