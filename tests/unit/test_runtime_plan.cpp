// SPDX-License-Identifier: Apache-2.0
// The host-side half of the runtime, with no GPU: the plan's JSON form (round trips, every
// attribute type, malformed plans refused with rtx.runtime.105), base64, the liveness memory
// planner (hand-computed cases and a randomized no-overlap property), shape resolution for every
// shape of a profile (errors outside it, folding of Shape -> Gather -> Concat -> Reshape chains on
// dynamic dims), and launch preparation: a new shape changes the launch, never the kernel.
#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <random>
#include <set>

#include "ir/graph.hpp"
#include "ir/quant_passes.hpp"
#include "ir/passes.hpp"
#include "jit/builder/planner.hpp"
#include "jit/runtime/host_exec.hpp"
#include "jit/runtime/kernel_steps.hpp"
#include "jit/runtime/memory_plan.hpp"
#include "jit/runtime/plan.hpp"
#include "jit/runtime/resolve.hpp"
#include "rtx/builder.hpp"
#include "templates/pointwise/params.cuh"
#include "rtx/reference.hpp"
#include "runtime_test_models.hpp"
#include "templates/gemm/params.cuh"
#include "templates/qconv/params.cuh"

namespace {

using namespace rtx;
using runtime::ExecutionPlan;
using nlohmann::json;

std::string b64(std::string_view s) {
  return runtime::base64_encode(reinterpret_cast<const std::byte*>(s.data()), s.size());
}

std::string unb64(std::string_view s) {
  auto v = runtime::base64_decode(s);
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

template <class F>
void check_error_id(F&& f, const std::string& id) {
  try {
    f();
    FAIL("no error; expected " << id);
  } catch (const Exception& e) {
    CHECK_MESSAGE(e.error().id == id, e.error().to_string());
  }
}

/// The plan of a network as the builder makes it, with weights attached (no compilation).
ExecutionPlan plan_network(const Network& net, std::vector<jit::Target> targets = {{80, false, false}}) {
  ir::Graph g = detail::graph_of(net);
  ir::run_passes(g, ir::default_pipeline());
  builder::PlannerOptions o;
  o.targets = std::move(targets);
  auto kp = builder::plan_kernels(g, o);
  runtime::validate_plan(kp.plan);
  return kp.plan;
}

}  // namespace

TEST_CASE("plan: base64 (RFC 4648 test vectors)") {
  CHECK(b64("") == "");
  CHECK(b64("f") == "Zg==");
  CHECK(b64("fo") == "Zm8=");
  CHECK(b64("foo") == "Zm9v");
  CHECK(b64("foob") == "Zm9vYg==");
  CHECK(b64("fooba") == "Zm9vYmE=");
  CHECK(b64("foobar") == "Zm9vYmFy");
  CHECK(unb64("Zm9vYmE=") == "fooba");
  CHECK(unb64("") == "");
  check_error_id([] { runtime::base64_decode("Zm9"); }, "rtx.runtime.105");
  check_error_id([] { runtime::base64_decode("Zm=v"); }, "rtx.runtime.105");
  check_error_id([] { runtime::base64_decode("Zm9*"); }, "rtx.runtime.105");
}

TEST_CASE("plan: JSON round trip keeps every attribute type, constants and profiles") {
  ir::Graph g;
  const auto x = g.add_input("x", DataType::kF32, {ir::kDynamic, 3});
  g.set_profile("x", {{1, 3}, {2, 3}, {7, 3}});
  const auto w = g.add_weight("w", HostTensor::from_doubles(DataType::kF32, {3}, std::vector<double>{1, 2, 3}));
  const auto c = g.add_constant(HostTensor::from_doubles(DataType::kF16, {2}, std::vector<double>{0.5, -1.25}), "c");
  std::map<std::string, ir::AttrValue, std::less<>> attrs;
  attrs["i"] = int64_t{-7};
  attrs["f"] = 0.1;
  attrs["inf"] = -INFINITY;
  attrs["nan"] = std::nan("");
  attrs["s"] = std::string("tanh");
  attrs["ints"] = std::vector<int64_t>{1, -1, 3};
  attrs["floats"] = std::vector<double>{1.5, INFINITY};
  attrs["strings"] = std::vector<std::string>{"a", ""};
  attrs["t"] = HostTensor::from_doubles(DataType::kINT32, {2, 1}, std::vector<double>{4, -5});
  const auto n = g.add_node(ir::OpKind::kAdd, "add", {x, w}, 1, attrs);
  g.mark_output(g.node(n).outputs[0], "y");
  (void)c;
  g.infer_shapes();
  ExecutionPlan plan = runtime::plan_from_graph(g);
  plan.steps.push_back(runtime::Step{runtime::StepKind::kHost, {0}, {x, w}, {g.node(n).outputs[0]}, {}, {}, -1, {}});
  const json j = runtime::plan_to_json(plan);
  const ExecutionPlan back = runtime::plan_from_json(json::parse(j.dump()));
  CHECK(runtime::plan_to_json(back) == j);
  REQUIRE(back.nodes.size() == 1);
  const ir::Node& bn = back.nodes[0];
  CHECK(bn.attr_int("i") == -7);
  CHECK(bn.attr_float("f", 0) == 0.1);
  CHECK(std::isinf(bn.attr_float("inf", 0)));
  CHECK(bn.attr_float("inf", 0) < 0);
  CHECK(std::isnan(bn.attr_float("nan", 0)));
  CHECK(bn.attr_string("s", "") == "tanh");
  CHECK(bn.attr_ints("ints") == std::vector<int64_t>{1, -1, 3});
  CHECK(std::isinf(bn.attr_floats("floats")[1]));
  CHECK(std::get<std::vector<std::string>>(bn.attrs.at("strings")) == std::vector<std::string>{"a", ""});
  const HostTensor* t = bn.attr_tensor("t");
  REQUIRE(t != nullptr);
  CHECK(t->shape() == std::vector<int64_t>{2, 1});
  CHECK(t->to_ints() == std::vector<int64_t>{4, -5});
  const int32_t cv = back.find_value("c");
  REQUIRE(cv >= 0);
  CHECK(back.values[static_cast<size_t>(cv)].data.to_doubles() == std::vector<double>{0.5, -1.25});
  CHECK_FALSE(back.values[static_cast<size_t>(back.find_value("w"))].data.valid());  // weights: by name
  CHECK(back.profiles.at("x").max == std::vector<int64_t>{7, 3});
}

TEST_CASE("plan: malformed plans are refused with rtx.runtime.105") {
  const ExecutionPlan plan = plan_network(test::make_mlp<f32>(8, 8, 4));
  const json good = runtime::plan_to_json(plan);
  CHECK_NOTHROW(runtime::plan_from_json(good));
  const auto broken = [&](auto&& edit) {
    json j = good;
    edit(j);
    check_error_id([&] { runtime::plan_from_json(j); }, "rtx.runtime.105");
  };
  broken([](json& j) { j.erase("values"); });
  broken([](json& j) { j["format"] = 99; });
  broken([](json& j) { j["nodes"][0]["op"] = "NoSuchOp"; });
  broken([](json& j) { j["nodes"][0]["inputs"][0] = 1000; });
  broken([](json& j) { j["nodes"][0]["inputs"][0] = "x"; });
  broken([](json& j) { j["steps"][0]["kind"] = "teleport"; });
  broken([](json& j) { j["steps"][0]["nodes"][0] = -1; });
  broken([](json& j) { j["values"][0]["dtype"] = "f33"; });
  broken([](json& j) { j["values"][0]["shape"] = {-2}; });
  broken([](json& j) { j["profiles"]["x"]["min"] = {100, 8}; });
  broken([](json& j) { j["inputs"] = {j["outputs"][0]}; });
  broken([](json& j) { j["nodes"][1]["outputs"] = j["nodes"][0]["outputs"]; });  // two producers
  // Structurally valid JSON that cannot execute: validate_plan refuses it.
  ExecutionPlan p = plan;
  std::swap(p.steps[0], p.steps[1]);
  check_error_id([&] { runtime::validate_plan(p); }, "rtx.runtime.105");
  p = plan;
  p.steps.pop_back();
  check_error_id([&] { runtime::validate_plan(p); }, "rtx.runtime.105");
}

TEST_CASE("memory plan: hand-computed placements") {
  using runtime::BufferLifetime;
  SUBCASE("a chain reuses the first buffer") {
    // A [0,1], B [1,2], C [2,3], 256 B each: A at 0; B overlaps A in time -> 256; C overlaps only
    // B -> back to 0. Peak 512 of a sum of 768.
    const BufferLifetime b[] = {{100, 0, 1}, {200, 1, 2}, {256, 2, 3}};
    const auto p = runtime::plan_memory(b);
    CHECK(p.offsets == std::vector<int64_t>{0, 256, 0});
    CHECK(p.peak == 512);
    CHECK(p.sum == 768);
  }
  SUBCASE("largest first, small buffers fill gaps") {
    // L 1024 [0,3] at 0; M 512 [0,1] at 1024; S 256 [2,3] overlaps L only -> 1024 (M's bytes are
    // free again at step 2). Peak 1536.
    const BufferLifetime b[] = {{256, 2, 3}, {1024, 0, 3}, {512, 0, 1}};
    const auto p = runtime::plan_memory(b);
    CHECK(p.offsets == std::vector<int64_t>{1024, 0, 1024});
    CHECK(p.peak == 1536);
    CHECK(p.sum == 1792);
  }
  SUBCASE("empty buffers take no bytes") {
    const BufferLifetime b[] = {{0, 0, 5}, {10, 0, 5}};
    const auto p = runtime::plan_memory(b);
    CHECK(p.offsets[1] == 0);
    CHECK(p.peak == 256);
  }
}

TEST_CASE("memory plan: random lifetimes never share bytes while both are live") {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<runtime::BufferLifetime> b(1 + rng() % 40);
    for (auto& x : b) {
      x.bytes = static_cast<int64_t>(rng() % 5000);
      x.first = static_cast<int32_t>(rng() % 30);
      x.last = x.first + static_cast<int32_t>(rng() % 10);
    }
    const auto p = runtime::plan_memory(b);
    int64_t live_max = 0;
    for (int32_t s = 0; s < 40; ++s) {
      int64_t live = 0;
      for (const auto& x : b)
        if (x.first <= s && s <= x.last) live += runtime::align_up(x.bytes, 256);
      live_max = std::max(live_max, live);
    }
    CHECK(p.peak >= live_max);  // no plan can beat the busiest step
    CHECK(p.peak <= p.sum);
    for (size_t i = 0; i < b.size(); ++i) {
      CHECK(p.offsets[i] % 256 == 0);
      for (size_t j = i + 1; j < b.size(); ++j) {
        const bool live_together = b[i].first <= b[j].last && b[j].first <= b[i].last;
        const int64_t ei = p.offsets[i] + runtime::align_up(b[i].bytes, 256);
        const int64_t ej = p.offsets[j] + runtime::align_up(b[j].bytes, 256);
        const bool share = p.offsets[i] < ej && p.offsets[j] < ei && b[i].bytes > 0 && b[j].bytes > 0;
        CHECK_FALSE((live_together && share));
      }
    }
  }
}

TEST_CASE("resolve: every shape of the profile, and errors outside it") {
  const ExecutionPlan plan = plan_network(test::make_mlp<f16>(64, 128, 16));
  const int32_t y = plan.find_value("y");
  const auto at = [&](int64_t batch) {
    std::vector<std::vector<int64_t>> s = {{batch, 64}};
    return runtime::resolve(plan, s);
  };
  for (int64_t batch : {1, 7, 64}) {
    const auto r = at(batch);
    CHECK(r.infos[static_cast<size_t>(y)].shape == std::vector<int64_t>{batch, 16});
    CHECK(r.arena_bytes == runtime::align_up(batch * 128 * 2, 256));  // the hidden activation
    CHECK(r.storage[static_cast<size_t>(y)] == runtime::Storage::kUser);
  }
  check_error_id([&] { at(65); }, "rtx.runtime.111");
  check_error_id([&] { at(0); }, "rtx.runtime.111");
  check_error_id([&] { std::vector<std::vector<int64_t>> s = {{4, 63}}; runtime::resolve(plan, s); }, "rtx.runtime.111");
  check_error_id([&] { std::vector<std::vector<int64_t>> s = {{4, 64, 1}}; runtime::resolve(plan, s); }, "rtx.runtime.111");
  const auto max = runtime::profile_shapes(plan, 2);
  CHECK(max == std::vector<std::vector<int64_t>>{{64, 64}});
}

TEST_CASE("resolve: Shape -> Gather -> Concat -> Reshape on a dynamic dim folds per shape") {
  // y = relu(reshape(x, concat(shape(x)[0], [32]))): the reshape target is known only once the
  // batch is, so it is computed at resolution (on the host) and the Reshape is a free alias.
  ir::Graph g;
  const auto x = g.add_input("x", DataType::kF32, {ir::kDynamic, 4, 8});
  g.set_profile("x", {{1, 4, 8}, {2, 4, 8}, {9, 4, 8}});
  const auto shape = g.node(g.add_node(ir::OpKind::kShape, "shape", {x})).outputs[0];
  const auto zero = g.add_constant(HostTensor::from_doubles(DataType::kINT64, {1}, std::vector<double>{0}));
  const auto batch = g.node(g.add_node(ir::OpKind::kGather, "batch", {shape, zero}, 1, {{"axis", int64_t{0}}})).outputs[0];
  const auto rest = g.add_constant(HostTensor::from_doubles(DataType::kINT64, {1}, std::vector<double>{32}));
  const auto target = g.node(g.add_node(ir::OpKind::kConcat, "target", {batch, rest}, 1, {{"axis", int64_t{0}}})).outputs[0];
  const auto reshaped = g.node(g.add_node(ir::OpKind::kReshape, "reshape", {x, target})).outputs[0];
  g.mark_output(g.node(g.add_node(ir::OpKind::kRelu, "relu", {reshaped})).outputs[0], "y");
  g.infer_shapes();
  ir::run_passes(g, ir::default_pipeline());
  builder::PlannerOptions o;
  o.targets = {{80, false, false}};
  auto kp = builder::plan_kernels(g, o);
  // Through the engine's JSON form, as the runtime reads it.
  const ExecutionPlan plan = runtime::plan_from_json(nlohmann::json::parse(runtime::plan_to_json(kp.plan).dump()));
  runtime::validate_plan(plan);
  const int32_t y = plan.find_value("y");
  int32_t r_id = -1;
  for (const auto& n : plan.nodes)
    if (n.name == "reshape") r_id = n.outputs[0];
  REQUIRE(r_id >= 0);
  for (int64_t b : {1, 5, 9}) {
    std::vector<std::vector<int64_t>> s = {{b, 4, 8}};
    const auto r = runtime::resolve(plan, s);
    CHECK(r.infos[static_cast<size_t>(y)].shape == std::vector<int64_t>{b, 32});
    // The reshape aliases x (a user buffer): it needs no bytes of its own.
    CHECK(r.root[static_cast<size_t>(r_id)] == plan.inputs[0]);
    CHECK(r.storage[static_cast<size_t>(r_id)] == runtime::Storage::kAlias);
    test::Pseudo rng(static_cast<uint64_t>(b));
    const HostTensor in = rng.tensor(DataType::kF32, {b, 4, 8});
    const auto out = runtime::execute_plan_on_host(plan, {{"x", in}});
    std::vector<double> want = in.to_doubles();
    for (auto& v : want) v = std::max(v, 0.0);
    CHECK(out.at("y").to_doubles() == want);
  }
}

TEST_CASE("launch preparation: a new batch changes the launch, never the kernel") {
  const ExecutionPlan plan = plan_network(test::make_mlp<f16>(64, 128, 16));
  REQUIRE(plan.steps.size() == 2);
  const runtime::Step& first = plan.steps[0];
  REQUIRE(first.family == "gemm");
  REQUIRE(runtime::check_kernel_step(plan, first).has_value());
  const auto address = [](int32_t v) -> const void* {
    return reinterpret_cast<const void*>(static_cast<uintptr_t>(0x100000) * static_cast<uintptr_t>(v + 1));
  };
  std::string kernel;
  for (int64_t batch : {1, 13, 64}) {
    std::vector<std::vector<int64_t>> s = {{batch, 64}};
    const auto r = runtime::resolve(plan, s);
    auto launches = runtime::prepare_kernel_step(plan, first, runtime::StepArgs{r.infos, address});
    REQUIRE_MESSAGE(launches.has_value(), (launches ? "" : launches.error().to_string()));
    REQUIRE(launches->size() == 1);
    const runtime::PreparedLaunch* launch = &launches->front();
    if (kernel.empty()) kernel = launch->kernel;
    CHECK(launch->kernel == kernel);
    CHECK(kernel.find("gemm_mma") != std::string::npos);
    REQUIRE(launch->params.size() == sizeof(kernels::gemm::GemmParams));
    kernels::gemm::GemmParams p;
    std::memcpy(&p, launch->params.data(), sizeof p);
    CHECK(p.m == batch);
    CHECK(p.n == 128);
    CHECK(p.k == 64);
    CHECK(p.a == address(first.operands.at("a")));
    CHECK(p.d == address(first.operands.at("d")));
    CHECK(launch->config.grid.x == static_cast<unsigned>(p.tiles_m * p.tiles_n));
    CHECK(p.activation_floor == 0.0f);  // the first layer's ReLU
  }
  // The second layer (no activation) launches the same kernel with floor -inf.
  {
    std::vector<std::vector<int64_t>> s = {{8, 64}};
    const auto r = runtime::resolve(plan, s);
    auto launches = runtime::prepare_kernel_step(plan, plan.steps[1], runtime::StepArgs{r.infos, address});
    REQUIRE_MESSAGE(launches.has_value(), (launches ? "" : launches.error().to_string()));
    REQUIRE(launches->size() == 1);
    CHECK(launches->front().kernel == kernel);
    kernels::gemm::GemmParams p;
    std::memcpy(&p, launches->front().params.data(), sizeof p);
    CHECK(p.activation_floor == -std::numeric_limits<float>::infinity());
  }
  // A misaligned input is not the kernel's: the runtime then runs the step on the host.
  std::vector<std::vector<int64_t>> s = {{4, 64}};
  const auto r = runtime::resolve(plan, s);
  auto misaligned = runtime::prepare_kernel_step(
      plan, first, runtime::StepArgs{r.infos, [&](int32_t v) -> const void* {
                                       return static_cast<const char*>(address(v)) + (v == first.operands.at("a") ? 2 : 0);
                                     }});
  REQUIRE_FALSE(misaligned.has_value());
  CHECK(misaligned.error().id.rfind("rtx.jit.", 0) == 0);
}

TEST_CASE("launch preparation: every kernel step of the test models prepares at several shapes") {
  struct Model {
    const char* name;
    Network net;
    std::vector<std::vector<int64_t>> shapes;
    bool fold_quantized = false;  ///< run the builder's Q/DQ folding (qgemm steps)
  };
  std::vector<Model> models;
  models.push_back({"mlp f16", test::make_mlp<f16>(), {{1, 64}, {37, 64}}});
  models.push_back({"cnn f32", test::make_cnn<f32>(), {{1, 3, 16, 16}, {8, 3, 16, 16}}});
  models.push_back({"transformer f16", test::make_transformer_block<f16>(), {{1, 32, 128}, {4, 32, 128}}});
  // Unfolded: the per-output-channel weight DequantizeLinear is a pointwise step whose (N) scale
  // is viewed along axis 0 of the (N, K) weight (numpy broadcasting would line it up with K).
  models.push_back({"int8 mlp, Q/DQ as pointwise", test::make_quantized_mlp<f16>(), {{1, 64}, {9, 64}}});
  models.push_back({"int8 mlp, folded", test::make_quantized_mlp<f16>(), {{1, 64}, {9, 64}}, true});
  models.push_back({"int8 transformer, folded", test::make_quantized_transformer_block<f16>(), {{2, 32, 128}}, true});
  models.push_back({"int8 cnn, folded", test::make_quantized_cnn<f16>(), {{1, 16, 16, 16}, {8, 16, 16, 16}}, true});
  for (const Model& m : models) {
    ir::Graph g = detail::graph_of(m.net);
    // The builder's passes (weights are never folded; Q/DQ fold into quantized GEMMs), or for
    // the unfolded case those same passes without the Q/DQ folding.
    for (const ir::Pass& pass : builder::builder_pipeline())
      if (m.fold_quantized || std::string_view(pass.name) != "fold_quantized_gemms") pass.run(g, {});
    builder::PlannerOptions o;
    o.targets = {{80, false, false}, {90, false, false}};
    const auto kp = builder::plan_kernels(g, o);
    std::set<std::string> compiled;
    for (const auto& k : kp.kernels) compiled.insert(k.name_expression);
    int viewed = 0, qgemm = 0;
    for (const auto& step : kp.plan.steps) {
      viewed += step.spec.contains("input_views") ? 1 : 0;
      qgemm += step.family == "qgemm" || step.family == "qconv" ? 1 : 0;
    }
    if (std::string(m.name) == "int8 mlp, Q/DQ as pointwise") CHECK(viewed == 2);  // the two weights
    if (m.fold_quantized) CHECK(qgemm > 0);
    for (const auto& shape : m.shapes) {
      std::vector<std::vector<int64_t>> s = {shape};
      const auto r = runtime::resolve(kp.plan, s);
      const auto address = [](int32_t v) -> const void* {
        return reinterpret_cast<const void*>(static_cast<uintptr_t>(0x10000000) + static_cast<uintptr_t>(v) * 0x100000);
      };
      for (const auto& step : kp.plan.steps) {
        if (step.kind != runtime::StepKind::kKernel) continue;
        const int64_t ws = runtime::kernel_step_workspace(kp.plan, step, r.infos, 132);
        CHECK(ws >= 0);
        auto launches = runtime::prepare_kernel_step(kp.plan, step,
                                                     runtime::StepArgs{r.infos, address, reinterpret_cast<void*>(0x7000000), 132});
        REQUIRE_MESSAGE(launches.has_value(), m.name << " " << step.family << " at " << shape_to_string(shape) << ": "
                                                    << (launches ? "" : launches.error().to_string()));
        CHECK_FALSE(launches->empty());
        for (const auto& l : *launches) {
          CHECK_MESSAGE(compiled.count(l.kernel) == 1, m.name << ": launch of a kernel the engine lacks: " << l.kernel);
          CHECK(l.config.block.x * l.config.block.y * l.config.block.z > 0);
          CHECK_FALSE(l.params.empty());
        }
      }
    }
  }
}

TEST_CASE("plan: an engine for sm_90a alone takes the wgmma GEMM; any portable target keeps mma.sync") {
  const Network net = test::make_mlp<f16>(64, 128, 16);
  const auto gemm_kernels = [&](std::vector<jit::Target> targets) {
    ir::Graph g = detail::graph_of(net);
    ir::run_passes(g, ir::default_pipeline());
    builder::PlannerOptions o;
    o.targets = std::move(targets);
    std::string names;
    for (const auto& k : builder::plan_kernels(g, o).kernels) names += k.name_expression + "\n";
    return names;
  };
  const std::string hopper = gemm_kernels({{90, true, false}});
  CHECK(hopper.find("gemm_wgmma") != std::string::npos);
  CHECK(hopper.find("gemm_mma") == std::string::npos);
  {  // the transformer block's projections read their (N, K) weights K-major through TMA
    ir::Graph g = detail::graph_of(test::make_transformer_block<f16>());
    ir::run_passes(g, ir::default_pipeline());
    builder::PlannerOptions o;
    o.targets = {{90, true, false}};
    const auto kp = builder::plan_kernels(g, o);
    int wgmma = 0;
    for (const auto& k : kp.kernels) wgmma += k.name_expression.find("gemm_wgmma") != std::string::npos;
    CHECK(wgmma > 0);
    std::vector<std::vector<int64_t>> s = {{4, 32, 128}};
    CHECK_NOTHROW((void)runtime::resolve(kp.plan, s));
  }
  for (auto targets : {std::vector<jit::Target>{{90, false, false}},
                       std::vector<jit::Target>{{80, false, false}, {90, true, false}},
                       std::vector<jit::Target>{{90, true, false}, {90, false, true}}}) {
    const std::string portable = gemm_kernels(targets);
    CHECK(portable.find("gemm_mma") != std::string::npos);
    CHECK(portable.find("gemm_wgmma") == std::string::npos);
  }
  // f32 has no wgmma path: tf32 mma.sync even on sm_90a.
  ir::Graph g = detail::graph_of(test::make_mlp<f32>(64, 128, 16));
  ir::run_passes(g, ir::default_pipeline());
  builder::PlannerOptions o;
  o.targets = {{90, true, false}};
  for (const auto& k : builder::plan_kernels(g, o).kernels) CHECK(k.name_expression.find("gemm_wgmma") == std::string::npos);
}

TEST_CASE("plan: per-axis input views of pointwise steps are checked when the engine loads") {
  ir::Graph g = detail::graph_of(test::make_quantized_mlp<f16>());
  for (const ir::Pass& pass : builder::builder_pipeline())
    if (std::string_view(pass.name) != "fold_quantized_gemms") pass.run(g, {});
  builder::PlannerOptions o;
  o.targets = {{80, false, false}};
  const auto kp = builder::plan_kernels(g, o);
  const runtime::Step* viewed = nullptr;
  for (const auto& step : kp.plan.steps)
    if (step.spec.contains("input_views")) viewed = &step;
  REQUIRE(viewed != nullptr);
  CHECK(runtime::check_kernel_step(kp.plan, *viewed).has_value());
  const size_t inputs = viewed->spec.at("inputs").size();
  for (const json& bad : {json(7), json::array(), json(std::vector<json>(inputs, json{3, 3})),
                          json(std::vector<json>(inputs, json{-1, 0})), json(std::vector<json>(inputs, json{"2", 0})),
                          json(std::vector<json>(inputs, json{2})), json(std::vector<json>(inputs, json{3, 1, 0})),
                          json(std::vector<json>(inputs, json{3, 1, 2, 4}))}) {
    runtime::Step step = *viewed;
    step.spec["input_views"] = bad;
    auto ok = runtime::check_kernel_step(kp.plan, step);
    CHECK_MESSAGE(!ok.has_value(), bad.dump());
    if (!ok) CHECK(ok.error().id == "rtx.runtime.105");
  }
}

TEST_CASE("plan: a block-wise DequantizeLinear is a pointwise kernel step; a partial last block runs on the host") {
  ir::Graph g;
  const auto x = g.add_input("x", DataType::kINT8, {ir::kDynamic, 8});
  const auto s = g.add_input("s", DataType::kF32, {ir::kDynamic, 2});
  const auto z = g.add_input("z", DataType::kINT8, {ir::kDynamic, 2});
  const auto dq = g.add_node(ir::OpKind::kDequantizeLinear, "dq", {x, s, z}, 1,
                             {{"axis", int64_t{1}}, {"block_size", int64_t{4}}});
  g.infer_shapes();
  g.mark_output(g.node(dq).outputs[0], "y");
  builder::PlannerOptions o;
  o.targets = {{80, false, false}};
  const auto kp = builder::plan_kernels(g, o);
  REQUIRE(kp.plan.steps.size() == 1);
  const runtime::Step& step = kp.plan.steps[0];
  REQUIRE(step.family == "pointwise");
  CHECK(step.spec.at("input_views") == json{nullptr, json{2, 1, 4}, json{2, 1, 4}});
  REQUIRE(runtime::check_kernel_step(kp.plan, step).has_value());
  const auto address = [](int32_t v) -> const void* {
    return reinterpret_cast<const void*>(static_cast<uintptr_t>(0x100000) * static_cast<uintptr_t>(v + 1));
  };
  for (int64_t rows : {1, 5}) {
    std::vector<std::vector<int64_t>> shapes = {{rows, 8}, {rows, 2}, {rows, 2}};
    const auto r = runtime::resolve(kp.plan, shapes);
    auto launches = runtime::prepare_kernel_step(kp.plan, step, runtime::StepArgs{r.infos, address});
    REQUIRE_MESSAGE(launches.has_value(), (launches ? "" : launches.error().to_string()));
    REQUIRE(launches->size() == 1);
    rtx::kernels::PointwiseParams p;
    std::memcpy(&p, launches->front().params.data(), sizeof p);
    CHECK(p.n == rows * 8);
    // Innermost kernel dim: the 4 elements of a block; the scale does not move along it.
    CHECK(p.shape[p.rank - 1] == 4);
    CHECK(p.strides[1][p.rank - 1] == 0);
    CHECK(p.strides[0][p.rank - 1] == 1);
  }
}

TEST_CASE("plan: 4-bit Q/DQ are pointwise kernel steps that pass the checks made when an engine loads") {
  ir::Graph g;
  const auto x = g.add_input("x", DataType::kINT4, {ir::kDynamic, 7});
  const auto dq = g.add_node(ir::OpKind::kDequantizeLinear, "dq",
                             {x, g.add_constant(HostTensor::scalar(DataType::kF32, 0.5)),
                              g.add_constant(HostTensor::scalar(DataType::kINT4, -1))});
  const auto q = g.add_node(ir::OpKind::kQuantizeLinear, "q",
                            {g.node(dq).outputs[0], g.add_constant(HostTensor::scalar(DataType::kF32, 0.25)),
                             g.add_constant(HostTensor::scalar(DataType::kUINT4, 3))});
  g.infer_shapes();
  g.mark_output(g.node(q).outputs[0], "y");
  builder::PlannerOptions o;
  o.targets = {{80, false, false}};
  const auto kp = builder::plan_kernels(g, o);
  REQUIRE(kp.plan.steps.size() == 1);
  const runtime::Step& step = kp.plan.steps[0];
  CHECK(step.family == "pointwise");
  const auto ok = runtime::check_kernel_step(kp.plan, step);  // reads the spec back from JSON
  CHECK_MESSAGE(ok.has_value(), (ok ? "" : ok.error().to_string()));
  CHECK(kp.kernels.at(0).name_expression.find("rtx::kernels::uint4x2, rtx::kernels::int4x2>") != std::string::npos);
}

TEST_CASE("launch preparation: qconv steps at several batches; malformed specs and operands are refused") {
  ir::Graph g = detail::graph_of(test::make_quantized_cnn<f16>());
  for (const ir::Pass& pass : builder::builder_pipeline()) pass.run(g, {});
  builder::PlannerOptions o;
  o.targets = {{80, false, false}, {86, false, false}, {89, false, false}, {90, false, false}};
  const auto kp = builder::plan_kernels(g, o);
  std::vector<const runtime::Step*> qconvs;
  for (const auto& step : kp.plan.steps)
    if (step.family == "qconv") qconvs.push_back(&step);
  REQUIRE(qconvs.size() == 3);
  const auto address = [](int32_t v) -> const void* {
    return reinterpret_cast<const void*>(static_cast<uintptr_t>(0x10000000) + static_cast<uintptr_t>(v) * 0x100000);
  };
  // conv1 16 -> 32 at 16x16; conv2 32 -> 32 stride 2 (8x8); conv3 1x1 32 -> 64.
  const int64_t channels[] = {32, 32, 64}, positions[] = {256, 64, 64}, k[] = {144, 288, 32};
  for (int64_t batch : {1, 3, 8}) {
    std::vector<std::vector<int64_t>> s = {{batch, 16, 16, 16}};
    const auto r = runtime::resolve(kp.plan, s);
    std::string kernels;
    for (size_t i = 0; i < qconvs.size(); ++i) {
      const runtime::Step& step = *qconvs[i];
      CAPTURE(i);
      REQUIRE(runtime::check_kernel_step(kp.plan, step).has_value());
      auto launches = runtime::prepare_kernel_step(kp.plan, step, runtime::StepArgs{r.infos, address});
      REQUIRE_MESSAGE(launches.has_value(), (launches ? "" : launches.error().to_string()));
      REQUIRE(launches->size() == 1);
      const auto& l = launches->front();
      CHECK(l.kernel.find("qconv_mma") != std::string::npos);
      REQUIRE(l.params.size() == sizeof(kernels::qconv::QConvParams));
      kernels::qconv::QConvParams p;
      std::memcpy(&p, l.params.data(), sizeof p);
      CHECK(p.conv.gemm.m == channels[i]);
      CHECK(p.conv.gemm.n == positions[i]);
      CHECK(p.conv.gemm.k == k[i]);
      CHECK(p.conv.gemm.batch_count == batch);
      CHECK(p.conv.x == address(step.operands.at("x")));
      CHECK(p.conv.w == address(step.operands.at("w")));
      CHECK(p.conv.gemm.d == address(step.operands.at("y")));
      CHECK(p.w_scale == address(step.operands.at("w_scale")));
      CHECK(p.w_scale_stride == 1);
      CHECK(p.bias == address(step.operands.at("bias")));
      CHECK(l.config.grid.z == static_cast<unsigned>(batch));
      CHECK(l.config.grid.x == static_cast<unsigned>(p.conv.gemm.tiles_m * p.conv.gemm.tiles_n));
      // conv1 and conv2 requantize (relu -> the next layer's Q); conv3 writes f16.
      CHECK((p.y_scale != nullptr) == (i < 2));
    }
  }

  // Malformed specs: rtx.runtime.105 when the engine loads.
  const runtime::Step& first = *qconvs[0];
  const auto refused = [&](const runtime::Step& step, const char* what) {
    INFO(what);
    auto ok = runtime::check_kernel_step(kp.plan, step);
    REQUIRE_FALSE(ok.has_value());
    CHECK(ok.error().id == "rtx.runtime.105");
  };
  runtime::Step bad = first;
  bad.spec["tile"] = json{128, 128, 64, 4, 2, 4};
  refused(bad, "BK 64");
  bad = first;
  bad.spec["x"] = "fp8e4m3";
  refused(bad, "fp8 activations");
  bad = first;
  bad.spec["vec_w"] = 3;
  refused(bad, "3-byte copies");
  bad = first;
  bad.spec.erase("per_channel");
  refused(bad, "missing key");
  bad = first;
  bad.spec["activation"] = "swish";
  refused(bad, "unknown activation");

  // Missing or inconsistent operands: refused when the launch is prepared.
  std::vector<std::vector<int64_t>> s = {{2, 16, 16, 16}};
  const auto r = runtime::resolve(kp.plan, s);
  bad = first;
  bad.operands.erase("w_scale");
  auto missing = runtime::prepare_kernel_step(kp.plan, bad, runtime::StepArgs{r.infos, address});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().id == "rtx.runtime.105");
  bad = first;
  bad.spec["bias"] = false;  // the step still names a bias
  auto mismatch = runtime::prepare_kernel_step(kp.plan, bad, runtime::StepArgs{r.infos, address});
  REQUIRE_FALSE(mismatch.has_value());
  CHECK(mismatch.error().id == "rtx.runtime.105");
  bad = first;
  bad.spec["per_channel"] = false;  // 32 scales for a per-tensor kernel
  auto scales = runtime::prepare_kernel_step(kp.plan, bad, runtime::StepArgs{r.infos, address});
  REQUIRE_FALSE(scales.has_value());
  CHECK(scales.error().id == "rtx.jit.812");
  // Misaligned weights: not the kernel's (the runtime then runs the step on the host).
  auto misaligned = runtime::prepare_kernel_step(
      kp.plan, first, runtime::StepArgs{r.infos, [&](int32_t v) -> const void* {
                                          return static_cast<const char*>(address(v)) + (v == first.operands.at("w") ? 4 : 0);
                                        }});
  REQUIRE_FALSE(misaligned.has_value());
  CHECK(misaligned.error().id == "rtx.jit.813");
}
