// SPDX-License-Identifier: Apache-2.0
// Launch preparation of kernel steps per family; see kernel_steps.hpp. Each family turns the
// concrete shapes and addresses into its run-time arguments, asks the family whether it can run
// them (can_implement) and takes the launches the family computes (grid, block, shared memory,
// parameter bytes). Nothing here launches or allocates.
#include "jit/runtime/kernel_steps.hpp"

#include <algorithm>
#include <cstring>

#include "jit/kernels/attention.hpp"
#include "jit/kernels/conv.hpp"
#include "jit/kernels/gemm.hpp"
#include "jit/kernels/movement.hpp"
#include "jit/kernels/norm.hpp"
#include "jit/kernels/pointwise.hpp"
#include "jit/kernels/pool.hpp"
#include "jit/kernels/qconv.hpp"
#include "jit/kernels/qgemm.hpp"
#include "jit/kernels/reduce.hpp"
#include "jit/runtime/errors.hpp"

namespace rtx::runtime {
namespace {

namespace k = jit::kernels;
using Launches = std::vector<PreparedLaunch>;

template <class Params>
std::vector<std::byte> bytes_of(const Params& p) {
  static_assert(std::is_trivially_copyable_v<Params>);
  std::vector<std::byte> b(sizeof(Params));
  std::memcpy(b.data(), &p, sizeof(Params));
  return b;
}

std::vector<std::byte> bytes_of(const std::vector<uint8_t>& p) {
  std::vector<std::byte> b(p.size());
  if (!p.empty()) std::memcpy(b.data(), p.data(), p.size());
  return b;
}

int32_t operand(const Step& step, const std::string& role) {
  auto it = step.operands.find(role);
  return it == step.operands.end() ? -1 : it->second;
}

Error bad_step(const Step& step, const std::string& what) {
  return Error{errc::kBadPlan, "engine plan is malformed: " + step.family + " step: " + what};
}

/// A pointwise step's optional "input_views": per input, null, [rank, axis] (a per-axis Q/DQ
/// parameter) or [rank, axis, block] (a block-wise one; k::InputView); one entry per input when
/// present.
Expected<std::vector<k::InputView>> input_views(const Step& step, size_t inputs) {
  std::vector<k::InputView> views(inputs);
  const auto it = step.spec.find("input_views");
  if (it == step.spec.end()) return views;
  if (!it->is_array() || it->size() != inputs) return bad_step(step, "input_views must list one entry per input");
  for (size_t i = 0; i < inputs; ++i) {
    const auto& e = (*it)[i];
    if (e.is_null()) continue;
    if (!e.is_array() || (e.size() != 2 && e.size() != 3) ||
        !std::all_of(e.begin(), e.end(), [](const nlohmann::json& n) { return n.is_number_integer(); }))
      return bad_step(step, "input_views entries are null, [rank, axis] or [rank, axis, block]");
    const auto rank = e[0].get<int64_t>(), axis = e[1].get<int64_t>();
    const int64_t block = e.size() == 3 ? e[2].get<int64_t>() : 0;
    if (rank < 1 || rank > 64 || axis < 0 || axis >= rank || (e.size() == 3 && block < 1))
      return bad_step(step, "input_views entry " + e.dump() +
                                " is not a rank in 1..64 with an axis inside it (and a block of at least 1)");
    views[i] = k::InputView{static_cast<int>(rank), static_cast<int>(axis), block};
  }
  return views;
}

template <class Spec>
Expected<Spec> read_spec(const Step& step) {
  try {
    Spec spec;
    k::from_json(step.spec, spec);
    return spec;
  } catch (const Exception& e) {
    return bad_step(step, e.error().message);
  } catch (const std::exception& e) {
    return bad_step(step, std::string("spec: ") + e.what());
  }
}

/// The step's node of op `op` (the anchor of a fused group), or nullptr.
const ir::Node* find_node(const ExecutionPlan& plan, const Step& step, std::initializer_list<ir::OpKind> ops) {
  for (int32_t n : step.nodes) {
    const ir::Node& node = plan.nodes[static_cast<size_t>(n)];
    for (ir::OpKind op : ops)
      if (node.op == op) return &node;
  }
  return nullptr;
}

class Prepare {
 public:
  Prepare(const ExecutionPlan& plan, const Step& step, const StepArgs& args) : plan_(plan), step_(step), args_(args) {}

  const std::vector<int64_t>& shape(int32_t v) const { return args_.infos[static_cast<size_t>(v)].shape; }
  const void* addr(const char* role) const {
    const int32_t v = operand(step_, role);
    return v < 0 ? nullptr : args_.address(v);
  }
  void* out(const char* role) const { return const_cast<void*>(addr(role)); }
  bool has(const char* role) const { return operand(step_, role) >= 0; }
  int32_t value(const std::string& role) const { return operand(step_, role); }

  Expected<Launches> gemm() {
    auto spec = read_spec<k::GemmSpec>(step_);
    if (!spec) return spec.error();
    const ir::Node* anchor = find_node(plan_, step_, {ir::OpKind::kMatMul, ir::OpKind::kGemm});
    const int32_t a = value("a"), b = value("b"), d = value("d");
    if (anchor == nullptr || a < 0 || b < 0 || d < 0) return bad_step(step_, "no MatMul/Gemm node or operand");
    k::GemmProblem p;
    try {
      if (anchor->op == ir::OpKind::kMatMul) {
        if (anchor->inputs.size() > 1 && anchor->inputs[1] != b) {
          // An absorbed transpose: B is w stored (N, K), the problem is x * w^T read K-major.
          const auto& w = shape(b);
          if (w.size() != 2) return bad_step(step_, "an absorbed transpose needs a 2-D weight");
          const std::vector<int64_t> kn = {w[1], w[0]};
          p = k::matmul_problem(shape(a), kn);
          p.b_k_major = true;
          p.ldb = w[1];
        } else {
          p = k::matmul_problem(shape(a), shape(b));
        }
      } else {
        const int32_t c = value("c");
        const std::vector<int64_t> none;
        p = k::gemm_problem(shape(a), shape(b), anchor->attr_int("transA", 0) != 0, anchor->attr_int("transB", 0) != 0,
                            c >= 0, c >= 0 ? shape(c) : none, static_cast<float>(anchor->attr_float("alpha", 1.0)),
                            static_cast<float>(anchor->attr_float("beta", 1.0)));
      }
    } catch (const Exception& e) {
      return e.error();
    }
    // Epilogue operands must match the output exactly as planned (full residual, N-vector bias).
    const auto& o = shape(d);
    const int32_t bias = value("bias"), residual = value("residual");
    if (bias >= 0 && (shape(bias).size() != 1 || o.empty() || shape(bias)[0] != o.back()))
      return Error{"rtx.jit.402", "GEMM bias " + shape_to_string(shape(bias)) + " does not match the output " + shape_to_string(o)};
    if (residual >= 0 && shape(residual) != o)
      return Error{"rtx.jit.402", "GEMM residual " + shape_to_string(shape(residual)) + " is not of the output's shape " +
                                      shape_to_string(o)};
    k::GemmBuffers buf;
    buf.a = addr("a");
    buf.b = addr("b");
    buf.d = out("d");
    buf.bias = addr("bias");
    buf.c = addr("c");
    buf.residual = addr("residual");
    if (auto ok = k::can_implement(*spec, p, buf); !ok) return ok.error();
    PreparedLaunch launch{spec->name_expression(), -1, k::launch_config(*spec, p), bytes_of(k::make_params(*spec, p, buf)), {}};
    const auto& g = launch.config.grid;
    if (spec->algorithm == k::GemmAlgorithm::kWgmma && g.x > 0 && g.z > 0) {
      launch.tensor_maps.resize(2);
      if (auto ok = k::make_tma_maps(*spec, p, buf, launch.tensor_maps[0], launch.tensor_maps[1]); !ok) return ok.error();
    }
    return Launches{std::move(launch)};
  }

  /// A folded quantized GEMM (ir::match_quant_gemm): operands by the group's roles.
  Expected<Launches> qgemm() {
    auto spec = read_spec<k::QGemmSpec>(step_);
    if (!spec) return spec.error();
    const int32_t a = value("a"), b = value("b"), b_scale = value("b_scale");
    if (a < 0 || b < 0 || b_scale < 0 || !has("d")) return bad_step(step_, "no a, b, b_scale or d operand");
    auto problem = k::qgemm_problem(*spec, shape(a), shape(b), shape(b_scale));
    if (!problem) return problem.error();
    const k::QGemmBuffers buf{addr("a"),     addr("b"),    out("d"),       addr("a_scale"), addr("b_scale"),
                              addr("b_zero"), addr("bias"), addr("y_scale"), addr("y_zero")};
    if (auto ok = k::can_implement(*spec, *problem, buf); !ok) return ok.error();
    PreparedLaunch launch{spec->name_expression(), -1, k::launch_config(*spec, *problem),
                          bytes_of(k::make_params(*spec, *problem, buf)), {}};
    const auto& g = launch.config.grid;
    if (spec->algorithm == k::QGemmAlgorithm::kWgmma && g.x > 0 && g.z > 0) {
      launch.tensor_maps.resize(2);
      if (auto ok = k::make_tma_maps(*spec, *problem, buf, launch.tensor_maps[0], launch.tensor_maps[1]); !ok)
        return ok.error();
    }
    return Launches{std::move(launch)};
  }

  /// A folded int8 convolution (ir::match_quant_conv): geometry from the Conv node and the
  /// shapes of x and w, as the float convolution; operands by the group's roles.
  Expected<Launches> qconv() {
    auto spec = read_spec<k::QConvSpec>(step_);
    if (!spec) return spec.error();
    const ir::Node* node = find_node(plan_, step_, {ir::OpKind::kConv});
    const int32_t x = value("x"), w = value("w"), w_scale = value("w_scale");
    if (node == nullptr || x < 0 || w < 0 || w_scale < 0 || !has("x_scale") || !has("y"))
      return bad_step(step_, "no Conv node or no x, x_scale, w, w_scale or y operand");
    if (spec->bias != has("bias") || spec->quantize != has("y_scale"))
      return bad_step(step_, "the bias and y_scale operands do not match the spec");
    k::ConvProblem p;
    try {
      p = k::conv_problem(*node, shape(x), shape(w));
    } catch (const Exception& e) {
      return e.error();
    }
    if (spec->bias && shape(value("bias")) != std::vector<int64_t>{p.m})
      return Error{k::qconv_errc::kNotImplementable, "quantized conv bias " + shape_to_string(shape(value("bias"))) +
                                                         " is not one value per output channel (" + std::to_string(p.m) + ")"};
    const k::QConvBuffers buf{addr("x"),    addr("w"),       out("y"),      addr("x_scale"),
                              addr("w_scale"), addr("bias"), addr("y_scale"), addr("y_zero")};
    if (auto ok = k::can_implement(*spec, p, buf, k::element_count(shape(w_scale))); !ok) return ok.error();
    return Launches{{spec->name_expression(), -1, k::launch_config(*spec, p), bytes_of(k::make_params(*spec, p, buf))}};
  }

  Expected<Launches> attention() {
    auto spec = read_spec<k::AttentionSpec>(step_);
    if (!spec) return spec.error();
    const ir::Node& node = plan_.nodes[static_cast<size_t>(step_.nodes.at(0))];
    std::vector<ir::TensorInfo> in;
    for (int32_t v : node.inputs)
      in.push_back(v == ir::kNoValue ? ir::TensorInfo{DataType::kF32, {}, false} : args_.infos[static_cast<size_t>(v)]);
    auto problem = k::attention_problem(node, in);
    if (!problem) return problem.error();
    k::AttentionBuffers buf;
    buf.q = addr("q");
    buf.k = addr("k");
    buf.v = addr("v");
    buf.mask = addr("mask");
    buf.y = out("y");
    if (auto ok = k::can_implement(*spec, *problem, buf); !ok) return ok.error();
    return Launches{{spec->name_expression(), -1, k::launch_config(*spec, *problem),
                     bytes_of(k::make_params(*spec, *problem, buf))}};
  }

  Expected<Launches> conv() {
    auto spec = read_spec<k::ConvSpec>(step_);
    if (!spec) return spec.error();
    const ir::Node* node = find_node(plan_, step_, {ir::OpKind::kConv});
    if (node == nullptr || !has("x") || !has("w") || !has("y")) return bad_step(step_, "no Conv node or operand");
    k::ConvProblem p;
    try {
      p = k::conv_problem(*node, shape(value("x")), shape(value("w")));
    } catch (const Exception& e) {
      return e.error();
    }
    k::ConvBuffers buf;
    buf.x = addr("x");
    buf.w = addr("w");
    buf.y = out("y");
    buf.bias = addr("bias");
    buf.residual = addr("residual");
    if (auto ok = k::can_implement(*spec, p, buf); !ok) return ok.error();
    if (spec->algorithm == k::ConvAlgorithm::kGemm) {
      // A 1x1 NCHW convolution is the dense GEMM W (M, C) x X (C, positions) per image.
      const k::GemmSpec g = spec->gemm_spec();
      const k::GemmProblem gp = k::conv_gemm_problem(p);
      k::GemmBuffers gb;
      gb.a = buf.w;
      gb.b = buf.x;
      gb.d = buf.y;
      gb.bias = buf.bias;
      gb.residual = buf.residual;
      if (auto ok = k::can_implement(g, gp, gb); !ok) return ok.error();
      return Launches{{g.name_expression(), -1, k::launch_config(g, gp), bytes_of(k::make_params(g, gp, gb))}};
    }
    return Launches{{spec->name_expression(), -1, k::launch_config(*spec, p), bytes_of(k::make_params(*spec, p, buf))}};
  }

  Expected<Launches> pointwise() {
    auto spec = read_spec<k::PointwiseSpec>(step_);
    if (!spec) return spec.error();
    k::PointwiseArgs a;
    if (!has("y")) return bad_step(step_, "no output operand");
    a.out_shape = shape(value("y"));
    a.out = out("y");
    auto views = input_views(step_, spec->inputs.size());
    if (!views) return views.error();
    for (size_t i = 0; i < spec->inputs.size(); ++i) {
      const int32_t v = value("in" + std::to_string(i));
      if (v < 0) return bad_step(step_, "missing input operand " + std::to_string(i));
      a.in_shapes.push_back(shape(v));
      a.in.push_back(args_.address(v));
    }
    if (auto ok = k::apply_views(a, *views); !ok) return ok.error();
    if (auto ok = k::can_implement(*spec, a); !ok) return ok.error();
    auto params = k::make_params(*spec, a);
    if (!params) return params.error();
    return Launches{{spec->name_expression(), -1, k::launch_config(*spec, *params, args_.multiprocessors), bytes_of(*params)}};
  }

  Expected<Launches> norm() {
    auto spec = read_spec<k::NormSpec>(step_);
    if (!spec) return spec.error();
    k::NormArgs a;
    a.in_shape = shape(value("x"));
    a.in = addr("x");
    a.out = out("y");
    if (has("scale")) {
      a.scale_shape = shape(value("scale"));
      a.scale = addr("scale");
    }
    if (has("bias")) {
      a.bias_shape = shape(value("bias"));
      a.bias = addr("bias");
    }
    a.mean = out("mean");
    a.inv_std = out("inv_std");
    if (auto ok = k::can_implement(*spec, a); !ok) return ok.error();
    auto l = k::make_launch(*spec, a);
    if (!l) return l.error();
    return Launches{{l->kernel, -1, l->config, bytes_of(l->params)}};
  }

  Expected<Launches> reduce() {
    auto spec = read_spec<k::ReduceSpec>(step_);
    if (!spec) return spec.error();
    k::ReduceArgs a;
    a.in_shape = shape(value("x"));
    a.in = addr("x");
    a.out = out("y");
    a.workspace = args_.workspace;
    a.multiprocessors = args_.multiprocessors;
    if (auto ok = k::can_implement(*spec, a); !ok) return ok.error();
    auto ls = k::make_launches(*spec, a);
    if (!ls) return ls.error();
    Launches out;
    for (auto& l : *ls) out.push_back({l.kernel, -1, l.config, bytes_of(l.params)});
    return out;
  }

  Expected<Launches> movement() {
    auto spec = read_spec<k::MovementSpec>(step_);
    if (!spec) return spec.error();
    k::MovementArgs a;
    for (size_t i = 0;; ++i) {
      const int32_t v = value("in" + std::to_string(i));
      if (v < 0) break;
      a.in_shapes.push_back(shape(v));
      a.in.push_back(args_.address(v));
    }
    a.out_shape = shape(value("y"));
    a.out = out("y");
    if (auto ok = k::can_implement(*spec, a); !ok) return ok.error();
    auto ls = k::make_launches(*spec, a);
    if (!ls) return ls.error();
    Launches out;
    for (auto& l : *ls) out.push_back({l.kernel, -1, l.config, bytes_of(l.params)});
    return out;
  }

  Expected<Launches> pool() {
    auto spec = read_spec<k::PoolSpec>(step_);
    if (!spec) return spec.error();
    k::PoolArgs a;
    a.in_shape = shape(value("x"));
    a.in = addr("x");
    a.out = out("y");
    a.indices = out("indices");
    if (auto ok = k::can_implement(*spec, a); !ok) return ok.error();
    auto l = k::make_launch(*spec, a);
    if (!l) return l.error();
    return Launches{{l->kernel, -1, l->config, bytes_of(l->params)}};
  }

 private:
  const ExecutionPlan& plan_;
  const Step& step_;
  const StepArgs& args_;
};

template <class Spec>
Expected<void> check_spec(const Step& step) {
  auto s = read_spec<Spec>(step);
  if (!s) return s.error();
  return {};
}

/// Parses the spec and runs its structural checks (the families whose templates have static
/// requirements).
template <class Spec>
Expected<void> check_validated_spec(const Step& step) {
  auto s = read_spec<Spec>(step);
  if (!s) return s.error();
  if (auto ok = s->validate(); !ok) return bad_step(step, ok.error().message);
  return {};
}

}  // namespace

Expected<void> check_kernel_step(const ExecutionPlan&, const Step& step) {
  if (step.family == "gemm") return check_validated_spec<k::GemmSpec>(step);
  if (step.family == "qgemm") return check_validated_spec<k::QGemmSpec>(step);
  if (step.family == "qconv") return check_validated_spec<k::QConvSpec>(step);
  if (step.family == "attention") return check_validated_spec<k::AttentionSpec>(step);
  if (step.family == "conv") return check_validated_spec<k::ConvSpec>(step);
  if (step.family == "pointwise") {
    auto s = read_spec<k::PointwiseSpec>(step);
    if (!s) return s.error();
    if (auto views = input_views(step, s->inputs.size()); !views) return views.error();
    return {};
  }
  if (step.family == "norm") return check_spec<k::NormSpec>(step);
  if (step.family == "reduce") return check_spec<k::ReduceSpec>(step);
  if (step.family == "movement") return check_spec<k::MovementSpec>(step);
  if (step.family == "pool") return check_spec<k::PoolSpec>(step);
  return bad_step(step, "unknown kernel family '" + step.family + "' (an engine from a newer rtx?)");
}

int64_t kernel_step_workspace(const ExecutionPlan&, const Step& step, std::span<const ir::TensorInfo> infos,
                              int multiprocessors) {
  if (step.family != "reduce") return 0;
  auto spec = read_spec<k::ReduceSpec>(step);
  const int32_t x = operand(step, "x");
  if (!spec || x < 0) return 0;
  auto bytes = k::workspace_size(*spec, infos[static_cast<size_t>(x)].shape, multiprocessors);
  return bytes ? static_cast<int64_t>(*bytes) : 0;
}

Expected<std::vector<PreparedLaunch>> prepare_kernel_step(const ExecutionPlan& plan, const Step& step,
                                                          const StepArgs& args) {
  try {
    Prepare p(plan, step, args);
    if (step.family == "gemm") return p.gemm();
    if (step.family == "qgemm") return p.qgemm();
    if (step.family == "qconv") return p.qconv();
    if (step.family == "attention") return p.attention();
    if (step.family == "conv") return p.conv();
    if (step.family == "pointwise") return p.pointwise();
    if (step.family == "norm") return p.norm();
    if (step.family == "reduce") return p.reduce();
    if (step.family == "movement") return p.movement();
    if (step.family == "pool") return p.pool();
    return bad_step(step, "unknown kernel family '" + step.family + "'");
  } catch (const Exception& e) {
    return e.error();
  }
}

}  // namespace rtx::runtime
