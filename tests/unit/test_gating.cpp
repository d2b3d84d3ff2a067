// SPDX-License-Identifier: Apache-2.0
// Hardware gating (jit/gating): each rule (FP8 >= 8.9, FP4 >= 10.0, BF16 / INT4 / UINT4 >= 8.0)
// with an explicit target list (an error through the ErrorRecorder naming the layer, the type
// and the target) and with the default list (the minimum compute capability rises, targets
// below it are dropped, PTX moves up, one warning per raising type), plus the cases with
// nothing to gate.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "jit/compiler.hpp"
#include "jit/gating.hpp"
#include "rtx/error.hpp"

using namespace rtx;
using namespace rtx::jit;

namespace {

/// The builder's default list on this NVRTC (cubins 80..120 and PTX for 8.0), spelled out so
/// the test does not depend on the installed NVRTC.
std::vector<Target> defaults() {
  return {Target{80}, Target{86}, Target{89}, Target{90}, Target{100}, Target{120},
          Target{80, false, true}};
}

std::vector<std::string> names(const std::vector<Target>& targets) {
  std::vector<std::string> r;
  for (const auto& t : targets) r.push_back(t.to_string());
  return r;
}

/// y = MatMul(x, DequantizeLinear(w)) with w of `wtype` (a weight of shape (8, 4)) and x of
/// `xtype`; DQ output (and x) in `xtype`.
ir::Graph weight_graph(DataType wtype, DataType xtype, int layers = 1) {
  ir::Graph g;
  ir::ValueId cur = g.add_input("x", xtype, {2, 8});
  for (int i = 0; i < layers; ++i) {
    const std::string s = std::to_string(i);
    const ir::ValueId w = g.add_weight("w" + s, HostTensor(wtype, {8, 8}));
    const ir::ValueId scale = g.add_weight("s" + s, HostTensor::scalar(xtype, 0.5));
    const ir::NodeId dq = g.add_node(ir::OpKind::kDequantizeLinear, "dq_w" + s, {w, scale});
    const ir::NodeId mm = g.add_node(ir::OpKind::kMatMul, "fc" + s, {cur, g.node(dq).outputs[0]});
    cur = g.node(mm).outputs[0];
  }
  g.mark_output(cur, "y");
  g.infer_shapes();
  return g;
}

}  // namespace

TEST_CASE("FP8 with sm_80 in an explicit list: an error naming the layer, the type and the target") {
  const ir::Graph g = weight_graph(DataType::kFP8E4M3, DataType::kF16);
  const std::vector<Target> targets = {Target{80}, Target{90}};
  ErrorRecorder recorder;
  const GatingResult r = check_hardware_support(g, targets, true, &recorder);
  CHECK_FALSE(r.ok);
  CHECK(r.min_sm == 89);
  CHECK(names(r.targets) == names(targets));  // unchanged: the build stops
  REQUIRE(r.errors.size() == 1);
  CHECK(r.warnings.empty());
  const Error& e = r.errors[0];
  CHECK(e.id == "rtx.builder.130");
  CHECK(e.message.find("DequantizeLinear 'dq_w0'") != std::string::npos);
  CHECK(e.message.find("fp8e4m3") != std::string::npos);
  CHECK(e.message.find("sm_80") != std::string::npos);
  CHECK(e.message.find("8.9") != std::string::npos);
  CHECK(e.message.find("sm_90") == std::string::npos);  // sm_90 can run it
  REQUIRE(recorder.error_count() == 1);
  CHECK(recorder.warning_count() == 0);
  CHECK(recorder.entries()[0].severity == Severity::kERROR);
  CHECK(recorder.entries()[0].error.message == e.message);
}

TEST_CASE("FP8 with no target list: the minimum rises to 8.9 with a warning") {
  const ir::Graph g = weight_graph(DataType::kFP8E5M2, DataType::kF16, 3);
  ErrorRecorder recorder;
  const auto targets = defaults();
  const GatingResult r = check_hardware_support(g, targets, false, &recorder);
  CHECK(r.ok);
  CHECK(r.min_sm == 89);
  CHECK(names(r.targets) == std::vector<std::string>{"sm_89", "sm_90", "sm_100", "sm_120", "compute_89"});
  CHECK(r.errors.empty());
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].id == "rtx.builder.131");
  CHECK(r.warnings[0].message.find("fp8e5m2") != std::string::npos);
  CHECK(r.warnings[0].message.find("DequantizeLinear 'dq_w0' (and 2 more)") != std::string::npos);
  CHECK(r.warnings[0].message.find("sm_80, sm_86, compute_80 (now compute_89)") != std::string::npos);
  CHECK(recorder.warning_count() == 1);
  CHECK(recorder.error_count() == 0);
  CHECK(recorder.entries()[0].severity == Severity::kWARNING);
  REQUIRE(r.types.size() == 1);
  CHECK(r.types[0].dtype == DataType::kFP8E5M2);
  CHECK(r.types[0].layers == 3);  // the DQs read fp8; the MatMuls see f16
}

TEST_CASE("FP4: 10.0 or later") {
  const ir::Graph g = weight_graph(DataType::kFP4E2M1, DataType::kBF16);
  SUBCASE("explicit sm_90") {
    ErrorRecorder recorder;
    const std::vector<Target> targets = {Target{90}, Target{100}};
    const GatingResult r = check_hardware_support(g, targets, true, &recorder);
    CHECK_FALSE(r.ok);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message.find("fp4e2m1") != std::string::npos);
    CHECK(r.errors[0].message.find("sm_90") != std::string::npos);
    CHECK(r.errors[0].message.find("10.0") != std::string::npos);
  }
  SUBCASE("default list") {
    ErrorRecorder recorder;
    const auto targets = defaults();
    const GatingResult r = check_hardware_support(g, targets, false, &recorder);
    CHECK(r.ok);
    CHECK(r.min_sm == 100);
    CHECK(names(r.targets) == std::vector<std::string>{"sm_100", "sm_120", "compute_100"});
    // FP4 raised the minimum; BF16 (8.0) did not, so it warns for FP4 only.
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].message.find("fp4e2m1") != std::string::npos);
    CHECK(r.types.size() == 2);
  }
  SUBCASE("a default list without Blackwell cubins keeps only PTX, raised to compute_100") {
    ErrorRecorder recorder;
    const std::vector<Target> targets = {Target{80}, Target{90}, Target{80, false, true}};
    const GatingResult r = check_hardware_support(g, targets, false, &recorder);
    CHECK(r.ok);
    CHECK(names(r.targets) == std::vector<std::string>{"compute_100"});
    CHECK(recorder.warning_count() == 1);
  }
  SUBCASE("... and without PTX nothing can run it") {
    ErrorRecorder recorder;
    const std::vector<Target> targets = {Target{80}, Target{90}};
    const GatingResult r = check_hardware_support(g, targets, false, &recorder);
    CHECK_FALSE(r.ok);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].id == "rtx.builder.132");
    CHECK(recorder.error_count() == 1);
    CHECK(recorder.warning_count() == 1);
  }
}

TEST_CASE("BF16, INT4 and UINT4: 8.0 or later") {
  for (DataType wt : {DataType::kINT4, DataType::kUINT4}) {
    CAPTURE(to_string(wt));
    const ir::Graph g = weight_graph(wt, DataType::kBF16);
    ErrorRecorder recorder;
    const std::vector<Target> old = {Target{75}, Target{80}};
    const GatingResult r = check_hardware_support(g, old, true, &recorder);
    CHECK_FALSE(r.ok);
    REQUIRE(r.errors.size() == 2);  // the 4-bit weight and the bf16 activations, both on sm_75
    bool saw_bf16 = false, saw_int4 = false;
    for (const auto& e : r.errors) {
      CHECK(e.message.find("sm_75") != std::string::npos);
      saw_bf16 = saw_bf16 || e.message.find("BF16 (bf16)") != std::string::npos;
      saw_int4 = saw_int4 || e.message.find("INT4 (" + std::string(to_string(wt)) + ")") != std::string::npos;
    }
    CHECK(saw_bf16);
    CHECK(saw_int4);

    // Every default target runs them: nothing to raise, nothing to say.
    ErrorRecorder quiet;
    const auto targets = defaults();
    const GatingResult d = check_hardware_support(g, targets, false, &quiet);
    CHECK(d.ok);
    CHECK(d.min_sm == 80);
    CHECK(names(d.targets) == names(targets));
    CHECK(quiet.entries().empty());
  }
}

TEST_CASE("several gated types and targets: one error per (type, target)") {
  ir::Graph g = weight_graph(DataType::kFP8E4M3, DataType::kBF16);
  ErrorRecorder recorder;
  const std::vector<Target> targets = {Target{75}, Target{86}, Target{89}};
  const GatingResult r = check_hardware_support(g, targets, true, &recorder);
  CHECK_FALSE(r.ok);
  // bf16 on sm_75; fp8 on sm_75 and sm_86.
  CHECK(r.errors.size() == 3);
  CHECK(recorder.error_count() == 3);
  CHECK(r.min_sm == 89);
}

TEST_CASE("an explicit PTX target is checked like a cubin") {
  const ir::Graph g = weight_graph(DataType::kFP8E4M3, DataType::kF16);
  const std::vector<Target> targets = {Target{90}, Target{80, false, true}};
  const GatingResult r = check_hardware_support(g, targets, true, nullptr);  // no recorder
  CHECK_FALSE(r.ok);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].message.find("compute_80") != std::string::npos);
}

TEST_CASE("nothing gated: int8 and f16 run everywhere") {
  const ir::Graph g = weight_graph(DataType::kINT8, DataType::kF16);
  ErrorRecorder recorder;
  const auto targets = defaults();
  for (bool explicit_list : {false, true}) {
    const GatingResult r = check_hardware_support(g, targets, explicit_list, &recorder);
    CHECK(r.ok);
    CHECK(r.min_sm == 0);
    CHECK(r.types.empty());
    CHECK(names(r.targets) == names(targets));
  }
  CHECK(recorder.entries().empty());
  CHECK(min_compute_capability(DataType::kINT8) == 0);
  CHECK(min_compute_capability(DataType::kF32) == 0);
  CHECK(min_compute_capability(DataType::kFP8E4M3) == 89);
  CHECK(min_compute_capability(DataType::kFP8E5M2) == 89);
  CHECK(min_compute_capability(DataType::kFP4E2M1) == 100);
  CHECK(min_compute_capability(DataType::kBF16) == 80);
  CHECK(min_compute_capability(DataType::kINT4) == 80);
  CHECK(min_compute_capability(DataType::kUINT4) == 80);
}

TEST_CASE("a gated graph input that no layer reads is still gated") {
  ir::Graph g;
  const ir::ValueId x = g.add_input("x", DataType::kF16, {4});
  const ir::ValueId y = g.add_input("fp8_side", DataType::kFP8E4M3, {4});
  const ir::NodeId n = g.add_node(ir::OpKind::kRelu, "relu", {x});
  g.mark_output(g.node(n).outputs[0], "y");
  (void)y;
  g.infer_shapes();
  const std::vector<Target> targets = {Target{80}};
  const GatingResult r = check_hardware_support(g, targets, true, nullptr);
  CHECK_FALSE(r.ok);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].message.find("tensor 'fp8_side'") != std::string::npos);
}
