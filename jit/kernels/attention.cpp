// SPDX-License-Identifier: Apache-2.0
// Host side of the attention family: spec rendering, JSON, problem construction from an IR
// Attention node, can_implement, launch configuration, parameters, launching and planning.
// See attention.hpp for the split and what is covered.
#include "jit/kernels/attention.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <utility>

#include "ir/graph.hpp"

namespace rtx::jit::kernels {
namespace {

constexpr const char* kSpecInvalid = "rtx.jit.701";
constexpr const char* kNotImplementable = "rtx.jit.702";
constexpr const char* kBadBuffer = "rtx.jit.703";

constexpr double kLog2e = 1.4426950408889634;
/// The generic kernel keeps the query row, the output row and 32 scores in f32 shared memory
/// within the default 48 KiB.
constexpr int64_t kGenericMaxSharedFloats = 48 * 1024 / 4;
constexpr int kGenericThreads = 128;
constexpr int kGenericChunk = 32;
constexpr int64_t kMaxGrid = std::numeric_limits<int32_t>::max();

Error spec_error(const AttentionSpec& spec, const std::string& what) {
  return Error{kSpecInvalid, "attention spec '" + spec.describe() + "': " + what};
}
Error problem_error(const std::string& what) {
  return Error{kNotImplementable, "attention problem: " + what};
}

std::string_view algorithm_name(AttentionAlgorithm a) {
  return a == AttentionAlgorithm::kFlash ? "flash" : "generic";
}
/// Element types of the attention kernels: the flash kernel (tensor cores) takes f16 and bf16,
/// the generic one those and f32.
bool is_attention_dtype(DataType t) {
  return t == DataType::kF16 || t == DataType::kBF16 || t == DataType::kF32;
}
bool is_flash_dtype(DataType t) { return t == DataType::kF16 || t == DataType::kBF16; }

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

bool wanted_output(const ir::Node& node, size_t i) {
  return i < node.outputs.size() && node.outputs[i] != ir::kNoValue;
}
bool has_input(const ir::Node& node, std::span<const ir::TensorInfo> inputs, size_t i) {
  return node.has_input(i) && i < inputs.size() && inputs[i].present;
}

/// What the planner and attention_problem() agree the family covers, read off one node. Dims may
/// be ir::kDynamic here.
struct NodeShape {
  bool three_d = false;
  DataType dtype = DataType::kF16;
  AttentionMask mask = AttentionMask::kNone;
  int64_t q_heads = ir::kDynamic, kv_heads = ir::kDynamic;
  int64_t head_dim = ir::kDynamic, v_head_dim = ir::kDynamic;
};

/// The node's covered shape, or the reason it is not covered.
Expected<NodeShape> read_node(const ir::Node& node, std::span<const ir::TensorInfo> inputs) {
  if (node.op != ir::OpKind::kAttention)
    return problem_error(node.describe() + " is not an Attention node");
  if (inputs.size() < 3 || !has_input(node, inputs, 0) || !has_input(node, inputs, 1) ||
      !has_input(node, inputs, 2))
    return problem_error(node.describe() + " needs Q, K and V");
  if (has_input(node, inputs, 4) || has_input(node, inputs, 5))
    return problem_error(node.describe() + ": past_key/past_value are not covered");
  for (size_t i = 1; i < node.outputs.size(); ++i)
    if (wanted_output(node, i))
      return problem_error(node.describe() +
                           ": the present_key/present_value/qk outputs are not covered");
  const ir::TensorInfo &q = inputs[0], &k = inputs[1], &v = inputs[2];
  NodeShape s;
  s.dtype = q.dtype;
  if (!is_attention_dtype(q.dtype) || k.dtype != q.dtype || v.dtype != q.dtype)
    return problem_error(node.describe() + ": Q, K and V must all be f16, all bf16 or all f32");
  if ((q.rank() != 3 && q.rank() != 4) || k.rank() != q.rank() || v.rank() != q.rank())
    return problem_error(node.describe() + ": Q, K and V must all be 3-D or all 4-D");
  s.three_d = q.rank() == 3;
  if (s.three_d) {
    s.q_heads = node.attr_int("q_num_heads", 0);
    s.kv_heads = node.attr_int("kv_num_heads", 0);
    if (s.q_heads <= 0 || s.kv_heads <= 0)
      return problem_error(node.describe() + ": 3-D inputs need q_num_heads and kv_num_heads");
    const auto per_head = [](int64_t hidden, int64_t heads) {
      return hidden == ir::kDynamic ? ir::kDynamic : hidden / heads;
    };
    s.head_dim = per_head(q.shape[2], s.q_heads);
    s.v_head_dim = per_head(v.shape[2], s.kv_heads);
  } else {
    s.q_heads = q.shape[1];
    s.kv_heads = k.shape[1];
    s.head_dim = q.shape[3];
    s.v_head_dim = v.shape[3];
  }
  if (has_input(node, inputs, 3)) {
    const ir::TensorInfo& m = inputs[3];
    if (m.dtype == DataType::kBOOL)
      s.mask = AttentionMask::kBool;
    else if (m.dtype == q.dtype)
      s.mask = AttentionMask::kAdditive;
    else
      return problem_error(node.describe() + ": attn_mask must be bool or Q's dtype");
    if (m.rank() < 1 || m.rank() > 4)
      return problem_error(node.describe() + ": attn_mask must have rank 1 to 4");
  }
  return s;
}

}  // namespace

// ---- spec ---------------------------------------------------------------------------------------

std::string AttentionSpec::name_expression() const {
  std::ostringstream os;
  const std::string_view type = cuda_type_name(dtype);
  if (algorithm == AttentionAlgorithm::kFlash)
    os << "rtx::kernels::attention::flash_attention<" << type << ", " << head_dim << ", "
       << tile.block_m << ", " << tile.block_n << ", " << tile.warps << ">";
  else
    os << "rtx::kernels::attention::attention_generic<" << type << ">";
  return os.str();
}

std::string AttentionSpec::source() const {
  return "#include \"attention/attention.cuh\"\n";
}

Program AttentionSpec::program() const {
  return attention_program(std::span<const AttentionSpec>(this, 1));
}

int AttentionSpec::threads() const {
  return algorithm == AttentionAlgorithm::kFlash ? tile.warps * 32 : kGenericThreads;
}

Expected<void> AttentionSpec::validate() const {
  if (!is_attention_dtype(dtype)) return spec_error(*this, "dtype must be f16, bf16 or f32");
  if (algorithm == AttentionAlgorithm::kGeneric) {
    if (head_dim != 0 || tile != AttentionTile{})
      return spec_error(*this, "the generic kernel has no static head size or tile");
    return {};
  }
  if (algorithm != AttentionAlgorithm::kFlash)
    return spec_error(*this, "unknown algorithm " + std::to_string(static_cast<int>(algorithm)));
  if (!is_flash_dtype(dtype)) return spec_error(*this, "the flash kernel takes f16 or bf16");
  if (head_dim != 64 && head_dim != 128)
    return spec_error(*this, "the flash kernel's static head size is 64 or 128");
  const AttentionTile& t = tile;
  if (t.warps != 1 && t.warps != 2 && t.warps != 4 && t.warps != 8)
    return spec_error(*this, "warps must be 1, 2, 4 or 8");
  if (t.block_m <= 0 || t.block_m % (16 * t.warps) != 0 || t.block_m / (16 * t.warps) > 2)
    return spec_error(*this, "block_m must be 16 or 32 rows per warp");
  if (t.block_n < 16 || t.block_n > 128 || t.block_n % 16 != 0)
    return spec_error(*this, "block_n must be a multiple of 16 in [16, 128]");
  const int chunks = head_dim / 8;
  if ((t.block_m * chunks) % threads() != 0 || (t.block_n * chunks) % threads() != 0)
    return spec_error(*this, "tile copies must divide evenly among the threads");
  return {};
}

std::string AttentionSpec::describe() const {
  std::ostringstream os;
  os << algorithm_name(algorithm) << ' ' << to_string(dtype);
  if (algorithm == AttentionAlgorithm::kFlash)
    os << " d" << head_dim << ' ' << tile.block_m << 'x' << tile.block_n << " w" << tile.warps;
  return os.str();
}

Program attention_program(std::span<const AttentionSpec> specs, std::string name) {
  Program p;
  p.name = std::move(name);
  p.source = AttentionSpec{}.source();
  for (const AttentionSpec& s : specs) p.name_expressions.push_back(s.name_expression());
  return p;
}

AttentionTile default_attention_tile(int head_dim) {
  // One 16-row MMA tile per warp keeps O + S + Q fragments clear of spills with every target's
  // ptxas (nvcc 13.0 -Xptxas -v, sm_80/90/120): d64 128x64 w8 uses ~180 registers, d128 64x64 w4
  // ~230-250. Two row tiles per warp (d64 128x64 w4) spill on sm_80/sm_90. To be revisited with
  // bench/attention_bench, which times every tile variant side by side.
  return head_dim <= 64 ? AttentionTile{128, 64, 8} : AttentionTile{64, 64, 4};
}

std::vector<AttentionSpec> plannable_attention_specs() {
  std::vector<AttentionSpec> specs;
  for (DataType t : {DataType::kF16, DataType::kBF16}) {
    for (int d : {64, 128})
      specs.push_back(AttentionSpec{AttentionAlgorithm::kFlash, t, d, default_attention_tile(d)});
    specs.push_back(AttentionSpec{AttentionAlgorithm::kGeneric, t, 0, AttentionTile{}});
  }
  specs.push_back(AttentionSpec{AttentionAlgorithm::kGeneric, DataType::kF32, 0, AttentionTile{}});
  return specs;
}

void to_json(nlohmann::json& j, const AttentionSpec& spec) {
  j = nlohmann::json{{"algorithm", algorithm_name(spec.algorithm)},
                     {"dtype", to_string(spec.dtype)},
                     {"head_dim", spec.head_dim},
                     {"tile",
                      {{"block_m", spec.tile.block_m},
                       {"block_n", spec.tile.block_n},
                       {"warps", spec.tile.warps}}}};
}

void from_json(const nlohmann::json& j, AttentionSpec& spec) {
  const auto fail = [](const std::string& what) {
    throw Exception(kSpecInvalid, "attention spec JSON: " + what);
  };
  try {
    AttentionSpec s;
    const std::string algorithm = j.at("algorithm").get<std::string>();
    if (algorithm == "flash")
      s.algorithm = AttentionAlgorithm::kFlash;
    else if (algorithm == "generic")
      s.algorithm = AttentionAlgorithm::kGeneric;
    else
      fail("unknown algorithm '" + algorithm + "'");
    const std::string dtype = j.at("dtype").get<std::string>();
    const auto t = data_type_from_string(dtype);
    if (!t) fail("unknown dtype '" + dtype + "'");
    s.dtype = *t;
    s.head_dim = j.at("head_dim").get<int>();
    const nlohmann::json& tile = j.at("tile");
    s.tile.block_m = tile.at("block_m").get<int>();
    s.tile.block_n = tile.at("block_n").get<int>();
    s.tile.warps = tile.at("warps").get<int>();
    if (auto ok = s.validate(); !ok) throw Exception(ok.error());
    spec = s;
  } catch (const nlohmann::json::exception& e) {
    fail(e.what());
  }
}

// ---- problem ------------------------------------------------------------------------------------

namespace {

Expected<AttentionProblem> problem_from_node(const ir::Node& node,
                                             std::span<const ir::TensorInfo> inputs) {
  auto shape = read_node(node, inputs);
  if (!shape) return shape.error();
  for (size_t i = 0; i < inputs.size() && i < 4; ++i)
    if (has_input(node, inputs, i) && !inputs[i].is_static())
      return problem_error(node.describe() + ": input " + std::to_string(i) + " " +
                           ir::describe(inputs[i]) + " has dynamic dims");
  const NodeShape& s = *shape;
  const ir::TensorInfo &q = inputs[0], &k = inputs[1];
  AttentionProblem p;
  p.dtype = s.dtype;
  p.batch = q.shape[0];
  p.q_heads = s.q_heads;
  p.kv_heads = s.kv_heads;
  p.head_dim = s.head_dim;
  p.v_head_dim = s.v_head_dim;
  if (s.three_d) {
    // (B, S, H * D): heads are D apart, rows H * D apart.
    p.q_seq = q.shape[1];
    p.kv_seq = k.shape[1];
    p.q_stride = {p.q_seq * p.q_heads * p.head_dim, p.head_dim, p.q_heads * p.head_dim};
    p.k_stride = {p.kv_seq * p.kv_heads * p.head_dim, p.head_dim, p.kv_heads * p.head_dim};
    p.v_stride = {p.kv_seq * p.kv_heads * p.v_head_dim, p.v_head_dim, p.kv_heads * p.v_head_dim};
    p.y_stride = {p.q_seq * p.q_heads * p.v_head_dim, p.v_head_dim, p.q_heads * p.v_head_dim};
  } else {
    p.q_seq = q.shape[2];
    p.kv_seq = k.shape[2];
    p.q_stride = {p.q_heads * p.q_seq * p.head_dim, p.q_seq * p.head_dim, p.head_dim};
    p.k_stride = {p.kv_heads * p.kv_seq * p.head_dim, p.kv_seq * p.head_dim, p.head_dim};
    p.v_stride = {p.kv_heads * p.kv_seq * p.v_head_dim, p.kv_seq * p.v_head_dim, p.v_head_dim};
    p.y_stride = {p.q_heads * p.q_seq * p.v_head_dim, p.q_seq * p.v_head_dim, p.v_head_dim};
  }
  p.mask = s.mask;
  if (s.mask != AttentionMask::kNone) {
    // Right-aligned to (batch, heads, q_seq, total); size-1 dims broadcast (stride 0). Keys past
    // the last dim are masked out, as ONNX pads a short mask.
    std::vector<int64_t> m4(4 - inputs[3].shape.size(), 1);
    m4.insert(m4.end(), inputs[3].shape.begin(), inputs[3].shape.end());
    const std::vector<int64_t> st = contiguous_strides(m4);  // jit/kernels/common.hpp
    for (size_t i = 0; i < 4; ++i) p.mask_stride[i] = m4[i] == 1 ? 0 : st[i];
    p.mask_len = m4[3];
  }
  p.causal = node.attr_int("is_causal", 0) == 1;
  p.causal_offset = 0;  // past_sequence_length; past inputs are not covered
  if (node.has_attr("scale"))
    p.scale = node.attr_float("scale", 1.0);
  else
    p.scale = p.head_dim > 0 ? 1.0 / std::sqrt(static_cast<double>(p.head_dim)) : 1.0;
  p.softcap = node.attr_float("softcap", 0.0);
  return p;
}

}  // namespace

Expected<AttentionProblem> attention_problem(const ir::Node& node,
                                             std::span<const ir::TensorInfo> inputs) {
  try {
    return problem_from_node(node, inputs);
  } catch (const Exception& e) {
    return e.error();
  }
}

Expected<void> can_implement(const AttentionSpec& spec, const AttentionProblem& p) {
  if (auto ok = spec.validate(); !ok) return ok;
  if (p.dtype != spec.dtype)
    return problem_error("dtype " + std::string(to_string(p.dtype)) + " but the spec is '" +
                         spec.describe() + "'");
  const int mask_kind = static_cast<int>(p.mask);
  if (mask_kind < 0 || mask_kind > 2)
    return problem_error("unknown mask kind " + std::to_string(mask_kind));
  if (p.batch < 0 || p.q_seq < 0 || p.kv_seq < 0 || p.head_dim < 0 || p.v_head_dim < 0 ||
      p.q_heads <= 0 || p.kv_heads <= 0 || p.q_heads % p.kv_heads != 0)
    return problem_error("bad dims: batch " + std::to_string(p.batch) + ", heads " +
                         std::to_string(p.q_heads) + "/" + std::to_string(p.kv_heads) +
                         " (q heads must be a positive multiple of kv heads), seq " +
                         std::to_string(p.q_seq) + "/" + std::to_string(p.kv_seq) + ", head " +
                         std::to_string(p.head_dim) + "/" + std::to_string(p.v_head_dim));
  if (p.mask != AttentionMask::kNone && p.mask_len < 0)
    return problem_error("negative mask length");
  // The kernels index sequence positions with 32-bit integers.
  constexpr int64_t kMaxSeq = int64_t{1} << 30;
  if (p.q_seq >= kMaxSeq || p.kv_seq >= kMaxSeq || std::abs(p.causal_offset) >= kMaxSeq)
    return problem_error("sequence lengths must be below 2^30");
  if (!std::isfinite(p.scale) || !std::isfinite(p.softcap) || p.softcap < 0)
    return problem_error("scale and softcap must be finite (softcap >= 0)");
  if (spec.algorithm == AttentionAlgorithm::kFlash) {
    if (p.head_dim > spec.head_dim || p.v_head_dim > spec.head_dim || p.head_dim % 8 != 0 ||
        p.v_head_dim % 8 != 0)
      return problem_error("head sizes " + std::to_string(p.head_dim) + "/" +
                           std::to_string(p.v_head_dim) + " need multiples of 8 up to " +
                           std::to_string(spec.head_dim) + " for '" + spec.describe() + "'");
    for (const auto* st : {&p.q_stride, &p.k_stride, &p.v_stride, &p.y_stride})
      for (int64_t x : *st)
        if (x % 8 != 0)
          return problem_error("the flash kernel needs strides that are multiples of 8 elements");
    if (p.batch * p.q_heads * ceil_div(p.q_seq, spec.tile.block_m) > kMaxGrid)
      return problem_error("too many query tiles for one launch");
  } else {
    if (p.head_dim + p.v_head_dim + kGenericChunk > kGenericMaxSharedFloats)
      return problem_error("head sizes " + std::to_string(p.head_dim) + "/" +
                           std::to_string(p.v_head_dim) + " exceed the generic kernel's 48 KiB");
    if (p.batch * p.q_heads * p.q_seq > kMaxGrid)
      return problem_error("too many query rows for one launch");
  }
  return {};
}

Expected<void> can_implement(const AttentionSpec& spec, const AttentionProblem& p,
                             const AttentionBuffers& b) {
  if (auto ok = can_implement(spec, p); !ok) return ok;
  if (p.output_elements() == 0) return {};
  const size_t align = spec.algorithm == AttentionAlgorithm::kFlash ? 16 : 2;
  const auto check = [&](const void* ptr, bool needed, const char* name) -> Expected<void> {
    if (!needed) return {};
    if (ptr == nullptr)
      return Error{kBadBuffer, std::string("attention: buffer '") + name + "' is missing"};
    if (!is_aligned(ptr, align))
      return Error{kBadBuffer, std::string("attention: buffer '") + name + "' is not " +
                                   std::to_string(align) + "-byte aligned for '" + spec.describe() +
                                   "'"};
    return {};
  };
  const bool keys = p.kv_seq > 0;
  for (auto r : {check(b.q, p.head_dim > 0, "q"), check(b.k, keys && p.head_dim > 0, "k"),
                 check(b.v, keys, "v"), check(b.y, true, "y")})
    if (!r) return r;
  if (p.mask != AttentionMask::kNone && keys && p.mask_len > 0 && b.mask == nullptr)
    return Error{kBadBuffer, "attention: buffer 'mask' is missing"};
  return {};
}

// ---- launch -------------------------------------------------------------------------------------

size_t shared_bytes(const AttentionSpec& spec, const AttentionProblem& p) {
  if (spec.algorithm == AttentionAlgorithm::kFlash)
    return static_cast<size_t>(spec.tile.block_m + 2 * spec.tile.block_n) *
           static_cast<size_t>(spec.head_dim) * 2;
  return static_cast<size_t>(p.head_dim + p.v_head_dim + kGenericChunk) * sizeof(float);
}

LaunchConfig launch_config(const AttentionSpec& spec, const AttentionProblem& p) {
  LaunchConfig c;
  c.block = Dim3{static_cast<unsigned>(spec.threads()), 1, 1};
  c.shared_bytes = shared_bytes(spec, p);
  int64_t blocks = 0;
  if (p.output_elements() > 0)
    blocks = spec.algorithm == AttentionAlgorithm::kFlash
                 ? p.batch * p.q_heads * ceil_div(p.q_seq, spec.tile.block_m)
                 : p.batch * p.q_heads * p.q_seq;
  c.grid = Dim3{static_cast<unsigned>(blocks), 1, 1};
  return c;
}

AttentionParams make_params(const AttentionSpec& spec, const AttentionProblem& p,
                            const AttentionBuffers& b) {
  AttentionParams r{};
  r.q = b.q;
  r.k = b.k;
  r.v = b.v;
  r.mask = p.mask == AttentionMask::kNone ? nullptr : b.mask;
  r.y = b.y;
  r.batch = p.batch;
  r.q_heads = p.q_heads;
  r.kv_heads = p.kv_heads;
  r.group = p.kv_heads > 0 ? p.q_heads / p.kv_heads : 1;
  r.q_seq = p.q_seq;
  r.kv_seq = p.kv_seq;
  r.head_dim = p.head_dim;
  r.v_head_dim = p.v_head_dim;
  for (size_t i = 0; i < 3; ++i) {
    r.q_stride[i] = p.q_stride[i];
    r.k_stride[i] = p.k_stride[i];
    r.v_stride[i] = p.v_stride[i];
    r.y_stride[i] = p.y_stride[i];
  }
  for (size_t i = 0; i < 4; ++i) r.mask_stride[i] = p.mask_stride[i];
  r.mask_len = p.mask == AttentionMask::kNone ? 0 : p.mask_len;
  r.causal_offset = p.causal_offset;
  r.m_blocks = spec.algorithm == AttentionAlgorithm::kFlash
                   ? std::max<int64_t>(ceil_div(p.q_seq, spec.tile.block_m), 1)
                   : 1;
  r.causal = p.causal ? 1 : 0;
  r.mask_kind = static_cast<int32_t>(p.mask);
  r.scale = static_cast<float>(p.scale);
  r.scale_log2 = static_cast<float>(p.scale * kLog2e);
  r.softcap = static_cast<float>(p.softcap);
  r.softcap_log2 = static_cast<float>(p.softcap * kLog2e);
  r.scale_over_softcap = p.softcap > 0.0 ? static_cast<float>(p.scale / p.softcap) : 0.0f;
  return r;
}

Expected<void> run(const AttentionSpec& spec, const Kernel& kernel, const AttentionProblem& p,
                   const AttentionBuffers& buffers, void* stream) {
  if (auto ok = can_implement(spec, p, buffers); !ok) return ok;
  const LaunchConfig cfg = launch_config(spec, p);
  if (cfg.grid.x == 0) return {};
  if (cfg.shared_bytes > 48 * 1024)
    if (auto ok = kernel.set_max_dynamic_shared_memory(static_cast<int>(cfg.shared_bytes)); !ok)
      return ok;
  AttentionParams params = make_params(spec, p, buffers);
  void* args[] = {&params};
  return kernel.launch(cfg.grid, cfg.block, cfg.shared_bytes, stream, args);
}

// ---- planning -----------------------------------------------------------------------------------

std::optional<AttentionSpec> plan_attention(const ir::Node& node,
                                            std::span<const ir::TensorInfo> inputs,
                                            const AttentionPlanOptions& options) {
  if (options.sm < 80) return std::nullopt;  // mma.sync m16n8k16 bf16, cp.async, ldmatrix
  std::optional<NodeShape> shape;
  try {
    if (auto r = read_node(node, inputs)) shape = *r;
  } catch (const Exception&) {  // an attribute of the wrong type: not ours to report
  }
  if (!shape) return std::nullopt;
  const NodeShape& s = *shape;
  const int64_t d = s.head_dim, dv = s.v_head_dim;
  AttentionSpec spec;
  spec.dtype = s.dtype;
  const bool known = d != ir::kDynamic && dv != ir::kDynamic;
  if (is_flash_dtype(s.dtype) && known && d > 0 && dv > 0 && d <= 128 && dv <= 128 && d % 8 == 0 &&
      dv % 8 == 0) {
    spec.algorithm = AttentionAlgorithm::kFlash;
    spec.head_dim = std::max(d, dv) <= 64 ? 64 : 128;
    spec.tile = default_attention_tile(spec.head_dim);
    return spec;
  }
  if (known && d + dv + kGenericChunk > kGenericMaxSharedFloats) return std::nullopt;
  spec.algorithm = AttentionAlgorithm::kGeneric;
  spec.head_dim = 0;
  spec.tile = AttentionTile{};
  return spec;
}

}  // namespace rtx::jit::kernels
