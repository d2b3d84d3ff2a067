// SPDX-License-Identifier: Apache-2.0
// Attention kernels on the GPU against the reference evaluator (ir::evaluate_node of the IR's
// Attention op): 4-D and 3-D layouts, GQA/MQA, sequence lengths 1, 7, 128, 1000 and odd ones,
// head sizes 64 and 128 (static flash kernels), padded (40, 96) and generic ones (12, 160),
// bool and additive masks with broadcasting and short last dims, fully masked rows (NaN, as the
// reference), is_causal, scale, softcap, empty tensors. Every planned flash problem also runs on
// the generic kernel and on other flash tiles. Fresh random inputs, outputs poisoned (NaN) before
// each launch, bounds per dtype (f16 2e-3, bf16 1.5e-2, f32 1e-5 relative); each flash result is also
// recomputed and must be bit-identical (a moving result is a race).
#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gpu_harness.hpp"
#include "ir/graph.hpp"
#include "ir/op_registry.hpp"
#include "jit/kernels/attention.hpp"

namespace {

using namespace rtx;
using namespace rtx::test::gpu;
using jit::kernels::AttentionAlgorithm;
using jit::kernels::AttentionBuffers;
using jit::kernels::AttentionProblem;
using jit::kernels::AttentionSpec;
using jit::kernels::AttentionTile;

enum class Mask { kNone, kBool, kAdditive };

/// One attention problem as the IR sees it.
struct Case {
  int64_t batch = 1, q_heads = 1, kv_heads = 1, q_seq = 1, kv_seq = 1, head = 64, v_head = 64;
  bool three_d = false;
  Mask mask = Mask::kNone;
  std::vector<int64_t> mask_shape = {};  ///< rank 1..4; the last dim may be shorter than kv_seq
  bool causal = false;
  std::optional<double> scale = std::nullopt;
  double softcap = 0.0;
  double range = 1.0;  ///< inputs uniform in [-range, range)
};

std::string describe(const Case& c, DataType t) {
  std::ostringstream os;
  os << to_string(t) << (c.three_d ? " 3-D" : " 4-D") << " B" << c.batch << " H" << c.q_heads << "/"
     << c.kv_heads << " S" << c.q_seq << "/" << c.kv_seq << " D" << c.head << "/" << c.v_head;
  if (c.mask != Mask::kNone) {
    os << (c.mask == Mask::kBool ? " bool" : " additive") << " mask [";
    for (size_t i = 0; i < c.mask_shape.size(); ++i) os << (i ? "," : "") << c.mask_shape[i];
    os << "]";
  }
  if (c.causal) os << " causal";
  if (c.scale) os << " scale=" << *c.scale;
  if (c.softcap > 0) os << " softcap=" << c.softcap;
  return os.str();
}

/// The flash tiles tried besides the planned one (each must give the same function).
std::vector<AttentionTile> extra_tiles(int head_dim) {
  if (head_dim == 64) return {{128, 64, 4}, {64, 64, 4}, {128, 128, 8}};
  return {{128, 32, 4}, {64, 32, 4}, {128, 64, 8}};
}

/// Every spec this test launches, compiled as one program for the GPU in use and loaded once.
const jit::Kernel& kernel_for(const AttentionSpec& spec) {
  struct Loaded {
    jit::Module module;
    std::map<std::string, jit::Kernel> kernels;
  };
  static std::unique_ptr<Loaded> loaded = [] {
    std::vector<AttentionSpec> specs = jit::kernels::plannable_attention_specs();
    for (DataType t : {DataType::kF16, DataType::kBF16})
      for (int d : {64, 128})
        for (AttentionTile tile : extra_tiles(d))
          specs.push_back(AttentionSpec{AttentionAlgorithm::kFlash, t, d, tile});
    const jit::Program program = jit::kernels::attention_program(specs);
    static jit::KernelCache cache{std::filesystem::path{}};
    jit::CompileOptions options;
    options.cache = &cache;
    const jit::Target target = device_target();
    auto images = jit::compile(program, std::span<const jit::Target>(&target, 1), options);
    REQUIRE_MESSAGE(images, (images ? std::string() : images.error().to_string()));
    auto module = jit::Module::load((*images)[0]);
    REQUIRE_MESSAGE(module, (module ? std::string() : module.error().to_string()));
    auto l = std::make_unique<Loaded>(Loaded{std::move(*module), {}});
    for (const AttentionSpec& s : specs) {
      const std::string* lowered = (*images)[0].lowered_name(s.name_expression());
      REQUIRE(lowered != nullptr);
      auto k = l->module.kernel(*lowered);
      REQUIRE_MESSAGE(k, (k ? std::string() : k.error().to_string()));
      l->kernels.emplace(s.name_expression(), *k);
    }
    return l;
  }();
  auto it = loaded->kernels.find(spec.name_expression());
  REQUIRE_MESSAGE(it != loaded->kernels.end(), spec.name_expression());
  return it->second;
}

HostTensor random_mask(const Case& c, DataType dtype, std::mt19937_64& rng) {
  int64_t n = 1;
  for (int64_t d : c.mask_shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (double& x : v) {
    const double r = u(rng);
    if (c.mask == Mask::kBool)
      x = r < 0.8 ? 1.0 : 0.0;  // 1 = attend
    else
      x = r < 0.1 ? -std::numeric_limits<double>::infinity() : -3.0 * u(rng);
  }
  return HostTensor::from_doubles(c.mask == Mask::kBool ? DataType::kBOOL : dtype, c.mask_shape, v);
}

/// Runs `spec` on the device buffers, poisoning Y first; returns Y.
HostTensor launch(const AttentionSpec& spec, const AttentionProblem& problem,
                  const AttentionBuffers& buffers, DeviceBuffer& y, const HostTensor& want) {
  y.poison();
  auto ok = jit::kernels::run(spec, kernel_for(spec), problem, buffers, nullptr);
  REQUIRE_MESSAGE(ok, (ok ? std::string() : ok.error().to_string()));
  RTX_CUDA_CHECK(cudaGetLastError());
  RTX_CUDA_CHECK(cudaDeviceSynchronize());
  return y.download(want.dtype(), want.shape());
}

bool same_bytes(const HostTensor& a, const HostTensor& b) {
  return a.byte_size() == b.byte_size() && std::memcmp(a.data(), b.data(), a.byte_size()) == 0;
}

void check_case(const Case& c, DataType dtype) {
  const std::string what = describe(c, dtype);
  INFO(what);
  static std::mt19937_64 rng(std::random_device{}());

  ir::Node node;
  node.op = ir::OpKind::kAttention;
  node.name = "attention";
  if (c.three_d) {
    node.attrs["q_num_heads"] = c.q_heads;
    node.attrs["kv_num_heads"] = c.kv_heads;
  }
  if (c.causal) node.attrs["is_causal"] = int64_t{1};
  if (c.scale) node.attrs["scale"] = *c.scale;
  if (c.softcap > 0) node.attrs["softcap"] = c.softcap;
  node.outputs = {100};

  const auto shape = [&](int64_t heads, int64_t seq, int64_t dim) {
    return c.three_d ? std::vector<int64_t>{c.batch, seq, heads * dim}
                     : std::vector<int64_t>{c.batch, heads, seq, dim};
  };
  std::vector<HostTensor> inputs = {
      random_tensor(dtype, shape(c.q_heads, c.q_seq, c.head), -c.range, c.range),
      random_tensor(dtype, shape(c.kv_heads, c.kv_seq, c.head), -c.range, c.range),
      random_tensor(dtype, shape(c.kv_heads, c.kv_seq, c.v_head), -c.range, c.range)};
  node.inputs = {0, 1, 2};
  if (c.mask != Mask::kNone) {
    inputs.push_back(random_mask(c, dtype, rng));
    node.inputs.push_back(3);
  }
  std::vector<ir::TensorInfo> infos;
  for (const HostTensor& t : inputs) infos.push_back(ir::TensorInfo{t.dtype(), t.shape(), true});

  const HostTensor want = ir::evaluate_node(node, inputs)[0];
  const auto planned = jit::kernels::plan_attention(node, infos);
  REQUIRE(planned);
  auto problem = jit::kernels::attention_problem(node, infos);
  REQUIRE_MESSAGE(problem, (problem ? std::string() : problem.error().to_string()));

  std::vector<AttentionSpec> specs = {*planned};
  if (planned->algorithm == AttentionAlgorithm::kFlash) {
    specs.push_back(AttentionSpec{AttentionAlgorithm::kGeneric, dtype, 0, {}});
    for (AttentionTile t : extra_tiles(planned->head_dim))
      specs.push_back(AttentionSpec{AttentionAlgorithm::kFlash, dtype, planned->head_dim, t});
  }

  DeviceBuffer q(inputs[0]), k(inputs[1]), v(inputs[2]);
  std::optional<DeviceBuffer> mask;
  if (c.mask != Mask::kNone) mask.emplace(inputs[3]);
  DeviceBuffer y(want.byte_size());
  const AttentionBuffers buffers{q.get(), k.get(), v.get(), mask ? mask->get() : nullptr, y.get()};

  for (const AttentionSpec& spec : specs) {
    INFO("spec " << spec.describe());
    REQUIRE(jit::kernels::can_implement(spec, *problem, buffers));
    if (want.element_count() == 0) {
      // Nothing to compute: the launch is skipped and must not fail.
      auto ok = jit::kernels::run(spec, kernel_for(spec), *problem, buffers, nullptr);
      CHECK(ok);
      continue;
    }
    const HostTensor got = launch(spec, *problem, buffers, y, want);
    check_close(got, want, -1, what + " [" + spec.describe() + "]");
    if (spec.algorithm == AttentionAlgorithm::kFlash) {
      const HostTensor again = launch(spec, *problem, buffers, y, want);
      CHECK_MESSAGE(same_bytes(got, again), "results differ between two identical launches");
    }
  }
}

// f16 and bf16 (flash or generic), and f32 (generic, CUDA cores).
void check_both(const Case& c) {
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) check_case(c, t);
}

}  // namespace

// Case tables: one problem per line group reads better than clang-format's one field per line.
// clang-format off
TEST_CASE("attention: 4-D, head sizes 64 and 128, sequence lengths 1, 7, 128, 1000") {
  for (int64_t d : {64, 128}) {
    check_both(Case{.batch = 2, .q_heads = 4, .kv_heads = 4, .q_seq = 128, .kv_seq = 128,
                    .head = d, .v_head = d});
    check_both(Case{.batch = 1, .q_heads = 2, .kv_heads = 2, .q_seq = 7, .kv_seq = 7, .head = d,
                    .v_head = d});
    check_both(Case{.batch = 3, .q_heads = 2, .kv_heads = 2, .q_seq = 1, .kv_seq = 1, .head = d,
                    .v_head = d});
    check_both(Case{.batch = 1, .q_heads = 2, .kv_heads = 2, .q_seq = 1000, .kv_seq = 1000,
                    .head = d, .v_head = d});
    check_both(Case{.batch = 2, .q_heads = 3, .kv_heads = 3, .q_seq = 65, .kv_seq = 191,
                    .head = d, .v_head = d, .range = 2.0});
  }
}

TEST_CASE("attention: GQA and MQA, decode-like and prefill-like") {
  check_both(Case{.batch = 2, .q_heads = 8, .kv_heads = 2, .q_seq = 1, .kv_seq = 1000,
                  .head = 128, .v_head = 128});
  check_both(Case{.batch = 1, .q_heads = 4, .kv_heads = 1, .q_seq = 1000, .kv_seq = 1000,
                  .head = 64, .v_head = 64, .causal = true});
  check_both(Case{.batch = 2, .q_heads = 6, .kv_heads = 3, .q_seq = 33, .kv_seq = 129,
                  .head = 128, .v_head = 128});
}

TEST_CASE("attention: 3-D (B, S, H * D) layout") {
  check_both(Case{.batch = 2, .q_heads = 6, .kv_heads = 3, .q_seq = 100, .kv_seq = 77,
                  .head = 64, .v_head = 64, .three_d = true});
  check_both(Case{.batch = 1, .q_heads = 4, .kv_heads = 4, .q_seq = 128, .kv_seq = 128,
                  .head = 128, .v_head = 128, .three_d = true, .causal = true});
  check_both(Case{.batch = 2, .q_heads = 2, .kv_heads = 1, .q_seq = 7, .kv_seq = 9, .head = 12,
                  .v_head = 20, .three_d = true});
}

TEST_CASE("attention: padded and generic head sizes") {
  // 96 and 40 run padded in the 128 and 64 flash kernels; V may differ from Q/K.
  check_both(Case{.batch = 1, .q_heads = 3, .kv_heads = 3, .q_seq = 77, .kv_seq = 130,
                  .head = 96, .v_head = 96});
  check_both(Case{.batch = 2, .q_heads = 2, .kv_heads = 2, .q_seq = 50, .kv_seq = 61, .head = 40,
                  .v_head = 24});
  check_both(Case{.batch = 1, .q_heads = 2, .kv_heads = 2, .q_seq = 20, .kv_seq = 70,
                  .head = 128, .v_head = 64});
  // Not multiples of 8, or above 128: the generic kernel.
  check_both(Case{.batch = 2, .q_heads = 2, .kv_heads = 2, .q_seq = 7, .kv_seq = 128, .head = 12,
                  .v_head = 20});
  check_both(Case{.batch = 1, .q_heads = 2, .kv_heads = 1, .q_seq = 129, .kv_seq = 33,
                  .head = 160, .v_head = 160, .causal = true});
  check_both(Case{.batch = 1, .q_heads = 1, .kv_heads = 1, .q_seq = 5, .kv_seq = 1000, .head = 1,
                  .v_head = 3});
}

TEST_CASE("attention: causal masks with q_seq != kv_seq") {
  for (int64_t d : {64, 128}) {
    check_both(Case{.batch = 1, .q_heads = 2, .kv_heads = 2, .q_seq = 128, .kv_seq = 7,
                    .head = d, .v_head = d, .causal = true});
    check_both(Case{.batch = 1, .q_heads = 2, .kv_heads = 2, .q_seq = 7, .kv_seq = 128,
                    .head = d, .v_head = d, .causal = true});
    check_both(Case{.batch = 2, .q_heads = 2, .kv_heads = 1, .q_seq = 300, .kv_seq = 300,
                    .head = d, .v_head = d, .causal = true, .range = 2.0});
  }
}

TEST_CASE("attention: bool masks, broadcasting, fully masked rows") {
  // (q_seq, kv_seq) broadcast over batch and heads.
  check_both(Case{.batch = 2, .q_heads = 4, .kv_heads = 4, .q_seq = 128, .kv_seq = 128,
                  .head = 64, .v_head = 64, .mask = Mask::kBool, .mask_shape = {128, 128}});
  // Full (B, H, Sq, Skv) with one key: about a fifth of the rows see nothing (NaN, as the
  // reference gives).
  check_both(Case{.batch = 2, .q_heads = 2, .kv_heads = 2, .q_seq = 70, .kv_seq = 1, .head = 128,
                  .v_head = 128, .mask = Mask::kBool, .mask_shape = {2, 2, 70, 1}});
  // Per-batch key padding (B, 1, 1, Skv), with causal.
  check_both(Case{.batch = 3, .q_heads = 2, .kv_heads = 2, .q_seq = 100, .kv_seq = 100,
                  .head = 128, .v_head = 128, .mask = Mask::kBool, .mask_shape = {3, 1, 1, 100},
                  .causal = true});
  // A 1-D mask shorter than the key sequence: keys past it are masked out.
  check_both(Case{.batch = 1, .q_heads = 2, .kv_heads = 2, .q_seq = 9, .kv_seq = 150, .head = 64,
                  .v_head = 64, .mask = Mask::kBool, .mask_shape = {90}});
  // Generic kernel with a mask.
  check_both(Case{.batch = 1, .q_heads = 2, .kv_heads = 2, .q_seq = 9, .kv_seq = 50, .head = 20,
                  .v_head = 20, .mask = Mask::kBool, .mask_shape = {1, 2, 9, 50}});
}

TEST_CASE("attention: additive masks (with -inf entries), scale and softcap") {
  check_both(Case{.batch = 2, .q_heads = 4, .kv_heads = 2, .q_seq = 128, .kv_seq = 128,
                  .head = 128, .v_head = 128, .mask = Mask::kAdditive,
                  .mask_shape = {2, 1, 1, 128}});
  check_both(Case{.batch = 1, .q_heads = 2, .kv_heads = 2, .q_seq = 1000, .kv_seq = 1000,
                  .head = 64, .v_head = 64, .mask = Mask::kAdditive, .mask_shape = {1000, 995}});
  check_both(Case{.batch = 2, .q_heads = 2, .kv_heads = 2, .q_seq = 7, .kv_seq = 7, .head = 64,
                  .v_head = 64, .mask = Mask::kAdditive, .mask_shape = {2, 2, 7, 7},
                  .causal = true, .scale = 0.3, .softcap = 5.0, .range = 2.0});
  check_both(Case{.batch = 1, .q_heads = 4, .kv_heads = 4, .q_seq = 200, .kv_seq = 200,
                  .head = 128, .v_head = 128, .causal = true, .scale = 0.5, .softcap = 2.0});
  check_both(Case{.batch = 1, .q_heads = 2, .kv_heads = 2, .q_seq = 64, .kv_seq = 64, .head = 64,
                  .v_head = 64, .scale = 1.0, .range = 1.5});  // sharp softmax
  check_both(Case{.batch = 1, .q_heads = 2, .kv_heads = 1, .q_seq = 31, .kv_seq = 47, .head = 24,
                  .v_head = 8, .mask = Mask::kAdditive, .mask_shape = {31, 47}, .causal = true,
                  .softcap = 3.0});
}

TEST_CASE("attention: empty tensors and empty key sequences") {
  check_both(Case{.batch = 0, .q_heads = 2, .kv_heads = 2, .q_seq = 16, .kv_seq = 16, .head = 64,
                  .v_head = 64});
  check_both(Case{.batch = 2, .q_heads = 2, .kv_heads = 2, .q_seq = 0, .kv_seq = 16, .head = 64,
                  .v_head = 64});
  // No keys: the reference gives zeros; so must the kernels.
  check_both(Case{.batch = 2, .q_heads = 2, .kv_heads = 2, .q_seq = 5, .kv_seq = 0, .head = 64,
                  .v_head = 64});
  check_both(Case{.batch = 1, .q_heads = 1, .kv_heads = 1, .q_seq = 3, .kv_seq = 0, .head = 12,
                  .v_head = 12});
}
// clang-format on
