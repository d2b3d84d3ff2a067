// SPDX-License-Identifier: Apache-2.0
// GPU tests of the pointwise family against the reference evaluator: every supported op as a
// one-node kernel over odd, tiny, large, empty and 0-d shapes; numpy broadcasting in many
// patterns; inputs and outputs at unaligned addresses (strided path) and aligned ones (16-byte
// vector path with scalar tails); integer semantics (wrap-around, truncating division, Python
// and C modulo, integer powers); the cast matrix (fp8 saturating and not, float -> int
// truncation and saturation, int -> bool); per-tensor Q/DQ; and fused chains compared with the
// reference evaluation of the unfused graph. Inputs are fresh random values (the seed is in the
// failure message), outputs are poisoned with NaN / -1 bytes before every launch.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ir/onnx_dtype.hpp"
#include "ir/reference.hpp"
#include "jit/kernels/pointwise.hpp"
#include "test_kernels_util.hpp"

using namespace rtx;
using namespace rtx::jit::kernels;
using namespace rtx::test::gpu;
using ir::OpKind;

namespace {

/// Random values in [lo, hi); integers (and `integral` floats) are whole numbers; zeros are
/// replaced by 1 when `no_zero`.
HostTensor random_values(DataType t, std::vector<int64_t> shape, double lo, double hi, uint64_t seed,
                         bool integral = false, bool no_zero = false) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  HostTensor tmp(t, shape);
  std::vector<double> v(static_cast<size_t>(tmp.element_count()));
  for (double& x : v) {
    x = u(rng);
    if (integral || is_integer(t) || t == DataType::kBOOL) x = std::floor(x);
    if (no_zero && x == 0) x = 1;
  }
  return HostTensor::from_doubles(t, shape, v);
}

/// One single-node case.
struct Case {
  std::string what;
  ir::Node node;
  std::vector<HostTensor> inputs;
  bool exact = false;       ///< compare bit for bit (integers, casts, selections)
  double bound = -1;        ///< relative-error bound; -1: the dtype's default
  size_t misalign = 0;      ///< byte offset of every buffer (0: 256-byte aligned)
};

/// Runs `spec` on `inputs` and returns the output (shape `out_shape`).
HostTensor run_spec(const PointwiseSpec& spec, const std::vector<HostTensor>& inputs,
                    const std::vector<int64_t>& out_shape, size_t misalign, const std::string& what) {
  std::vector<OffsetBuffer> in;
  for (const auto& t : inputs) in.emplace_back(t, misalign);
  HostTensor probe(spec.output, out_shape);
  OffsetBuffer out(probe.byte_size(), misalign);
  out.poison();
  PointwiseArgs args;
  args.out_shape = out_shape;
  args.out = out.get();
  for (size_t k = 0; k < inputs.size(); ++k) {
    args.in_shapes.push_back(inputs[k].shape());
    args.in.push_back(in[k].get());
  }
  auto params = make_params(spec, args);
  REQUIRE_MESSAGE(params, what << ": " << (params ? std::string() : params.error().to_string()));
  const auto& program = ProgramSet::instance().get(spec.name_expression());
  check_ran(run(spec, args, program, nullptr), what);
  return out.download(spec.output, out_shape);
}

void run_cases(std::vector<Case>& cases) {
  std::vector<PointwiseSpec> specs;
  std::vector<jit::Program> programs;
  for (auto& c : cases) {
    auto spec = plan_pointwise(c.node, infos_of(c.inputs));
    REQUIRE_MESSAGE(spec, c.what << ": plan_pointwise refused the node");
    specs.push_back(*spec);
    programs.push_back(spec->program());
  }
  ProgramSet::instance().prepare(programs);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const HostTensor want = ir::evaluate_node(c.node, c.inputs).at(0);
    const HostTensor got = run_spec(specs[i], c.inputs, want.shape(), c.misalign, c.what);
    if (c.exact)
      check_exact(got, want, c.what);
    else
      check_close(got, want, c.bound, c.what);
  }
}

std::string shape_str(const std::vector<int64_t>& s) {
  return shape_to_string(s);
}

const std::vector<std::vector<int64_t>> kShapes{
    {}, {1}, {7}, {3, 5}, {2, 3, 4, 5}, {1000}, {1 << 20}, {(1 << 20) + 3}, {0, 5}, {17, 0}};

}  // namespace

TEST_CASE("unary float ops over many shapes and dtypes") {
  struct Op {
    OpKind op;
    double lo, hi;
    Attrs attrs;
  };
  const std::vector<Op> ops{
      {OpKind::kRelu, -2, 2, {}},        {OpKind::kLeakyRelu, -2, 2, {{"alpha", 0.2}}},
      {OpKind::kSigmoid, -8, 8, {}},     {OpKind::kTanh, -4, 4, {}},
      {OpKind::kErf, -3, 3, {}},         {OpKind::kGelu, -4, 4, {}},
      {OpKind::kGelu, -4, 4, {{"approximate", std::string("tanh")}}},
      {OpKind::kSilu, -6, 6, {}},        {OpKind::kExp, -5, 5, {}},
      {OpKind::kLog, 0.05, 20, {}},      {OpKind::kSqrt, 0, 50, {}},
      {OpKind::kReciprocal, 0.25, 8, {}}, {OpKind::kNeg, -3, 3, {}},
      {OpKind::kAbs, -3, 3, {}},         {OpKind::kFloor, -9, 9, {}},
      {OpKind::kCeil, -9, 9, {}},        {OpKind::kSin, -4, 4, {}},
      {OpKind::kCos, -4, 4, {}},         {OpKind::kIdentity, -3, 3, {}}};
  std::vector<Case> cases;
  size_t shape_index = 0;
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32, DataType::kF64}) {
    for (const Op& op : ops) {
      // Each op sees a few shapes (rotating through the list) and one unaligned run.
      for (int rep = 0; rep < 3; ++rep) {
        const auto& shape = kShapes[shape_index++ % kShapes.size()];
        const uint64_t seed = fresh_seed();
        Case c;
        c.node = make_node(op.op, 1, op.attrs);
        c.inputs = {random_values(t, shape, op.lo, op.hi, seed)};
        c.misalign = rep == 2 ? static_cast<size_t>(bit_width(t) / 8) : 0;
        // Floor/Ceil/Neg/Abs/Relu/Identity are exact in every dtype.
        c.exact = op.op == OpKind::kFloor || op.op == OpKind::kCeil || op.op == OpKind::kNeg ||
                  op.op == OpKind::kAbs || op.op == OpKind::kRelu || op.op == OpKind::kIdentity;
        c.what = std::string(ir::op_name(op.op)) + " " + std::string(to_string(t)) + shape_str(shape) +
                 " misalign " + std::to_string(c.misalign) + " seed " + std::to_string(seed);
        cases.push_back(std::move(c));
      }
    }
  }
  run_cases(cases);
}

TEST_CASE("binary ops with numpy broadcasting, aligned and not") {
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes{
      {{4, 5}, {5}},           {{2, 3, 4}, {3, 1}},     {{1}, {37}},
      {{8, 1, 6}, {1, 7, 1}},  {{}, {3, 3}},            {{129, 1031}, {129, 1031}},
      {{64, 3, 32, 32}, {3, 1, 1}}, {{1000003}, {}},   {{33, 128}, {128}},    {{5, 0, 3}, {3}},
      {{2, 3, 1, 5}, {4, 1}}};
  std::vector<Case> cases;
  size_t k = 0;
  for (OpKind op : {OpKind::kAdd, OpKind::kSub, OpKind::kMul, OpKind::kDiv, OpKind::kPow,
                    OpKind::kMax, OpKind::kMin}) {
    for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
      for (int rep = 0; rep < 4; ++rep) {
        const auto& [a, b] = shapes[k++ % shapes.size()];
        const uint64_t seed = fresh_seed();
        const bool positive = op == OpKind::kDiv || op == OpKind::kPow;
        Case c;
        c.node = make_node(op, 2);
        c.inputs = {random_values(t, a, positive ? 0.5 : -3, 3, seed),
                    random_values(t, b, op == OpKind::kPow ? -2 : (positive ? 0.5 : -3), 3, seed + 1)};
        if (rep % 2) std::swap(c.inputs[0], c.inputs[1]);
        if (op == OpKind::kPow && rep % 2) std::swap(c.inputs[0], c.inputs[1]);  // keep base > 0
        c.misalign = rep == 3 ? static_cast<size_t>(bit_width(t) / 8) : 0;  // one element off 16 bytes
        c.exact = op == OpKind::kMax || op == OpKind::kMin;
        c.what = std::string(ir::op_name(op)) + " " + std::string(to_string(t)) +
                 shape_str(c.inputs[0].shape()) + " x " + shape_str(c.inputs[1].shape()) + " seed " +
                 std::to_string(seed);
        cases.push_back(std::move(c));
      }
    }
  }
  // Max/Min variadic with NaN propagation; Clip with and without bounds.
  {
    Case c;
    const uint64_t seed = fresh_seed();
    c.node = make_node(OpKind::kMax, 3);
    HostTensor x = random_values(DataType::kF32, {300}, -3, 3, seed);
    x.set_double(17, std::nan(""));
    c.inputs = {x, random_values(DataType::kF32, {1}, -3, 3, seed + 1),
                random_values(DataType::kF32, {300}, -3, 3, seed + 2)};
    c.exact = true;
    c.what = "Max of three with a NaN, seed " + std::to_string(seed);
    cases.push_back(std::move(c));
  }
  for (DataType t : {DataType::kF16, DataType::kINT32, DataType::kUINT8}) {
    const uint64_t seed = fresh_seed();
    Case c;
    c.node = make_node(OpKind::kClip, 3);
    c.inputs = {random_values(t, {33, 7}, 0, 100, seed), HostTensor::scalar(t, 20),
                HostTensor::scalar(t, 70)};
    c.exact = true;
    c.what = "Clip " + std::string(to_string(t)) + " seed " + std::to_string(seed);
    Case d = c;
    d.node = make_node(OpKind::kClip, 2);
    d.inputs.pop_back();
    d.what += " (min only)";
    cases.push_back(std::move(c));
    cases.push_back(std::move(d));
  }
  run_cases(cases);
}

TEST_CASE("integer and bool ops: wrap-around, division, modulo, powers, logic") {
  std::vector<Case> cases;
  const auto add = [&](OpKind op, std::vector<HostTensor> inputs, Attrs attrs, const std::string& what) {
    Case c;
    c.node = make_node(op, inputs.size(), std::move(attrs));
    c.inputs = std::move(inputs);
    c.exact = true;
    c.what = what;
    cases.push_back(std::move(c));
  };
  for (DataType t : {DataType::kINT8, DataType::kUINT8, DataType::kINT32, DataType::kINT64}) {
    const std::string ts(to_string(t));
    const double lo = t == DataType::kUINT8 ? 0 : -120, hi = 127;
    for (OpKind op : {OpKind::kAdd, OpKind::kSub, OpKind::kMul, OpKind::kMax, OpKind::kMin}) {
      const uint64_t s = fresh_seed();
      add(op, {random_values(t, {513, 3}, lo, hi, s), random_values(t, {3}, lo, hi, s + 1)}, {},
          std::string(ir::op_name(op)) + " " + ts + " seed " + std::to_string(s));
    }
    const uint64_t s = fresh_seed();
    add(OpKind::kDiv, {random_values(t, {1001}, lo, hi, s), random_values(t, {1001}, lo, 20, s + 1, true, true)},
        {}, "Div " + ts + " seed " + std::to_string(s));
    add(OpKind::kMod, {random_values(t, {1001}, lo, hi, s), random_values(t, {1001}, lo, 20, s + 2, true, true)},
        {}, "Mod (Python) " + ts + " seed " + std::to_string(s));
    add(OpKind::kMod, {random_values(t, {1001}, lo, hi, s), random_values(t, {1001}, lo, 20, s + 3, true, true)},
        {{"fmod", int64_t{1}}}, "Mod (C) " + ts + " seed " + std::to_string(s));
    if (t != DataType::kUINT8) {
      add(OpKind::kNeg, {random_values(t, {77}, lo, hi, s)}, {}, "Neg " + ts);
      add(OpKind::kAbs, {random_values(t, {77}, lo, hi, s)}, {}, "Abs " + ts);
      add(OpKind::kRelu, {random_values(t, {77}, lo, hi, s)}, {}, "Relu " + ts);
    }
    for (OpKind op : {OpKind::kEqual, OpKind::kLess, OpKind::kGreaterOrEqual})
      add(op, {random_values(t, {40, 9}, lo / 20, hi / 20, s), random_values(t, {9}, lo / 20, hi / 20, s + 4)},
          {}, std::string(ir::op_name(op)) + " " + ts + " seed " + std::to_string(s));
  }
  {
    const uint64_t s = fresh_seed();
    add(OpKind::kPow, {random_values(DataType::kINT32, {500}, -6, 6, s, true, true),
                       random_values(DataType::kINT32, {500}, -3, 12, s + 1)},
        {}, "Pow i32^i32 seed " + std::to_string(s));
    add(OpKind::kPow, {random_values(DataType::kINT64, {500}, -6, 6, s + 2, true, true),
                       random_values(DataType::kF32, {500}, 0, 4, s + 3, true)},
        {}, "Pow i64^f32 seed " + std::to_string(s));
    add(OpKind::kErf, {random_values(DataType::kINT32, {100}, -5, 5, s)}, {}, "Erf i32");
  }
  // Wrap-around at the edges: INT8 127 + 1, INT32 MIN / -1.
  add(OpKind::kAdd, {HostTensor::from_vector(DataType::kINT8, {2}, std::vector<int8_t>{127, -128}),
                     HostTensor::from_vector(DataType::kINT8, {2}, std::vector<int8_t>{1, -1})},
      {}, "Add int8 wrap");
  add(OpKind::kDiv, {HostTensor::from_vector(DataType::kINT32, {2}, std::vector<int32_t>{INT32_MIN, 7}),
                     HostTensor::from_vector(DataType::kINT32, {2}, std::vector<int32_t>{-1, -2})},
      {}, "Div int32 MIN / -1");
  // Bool logic and Where over every dtype class.
  for (OpKind op : {OpKind::kAnd, OpKind::kOr, OpKind::kXor, OpKind::kEqual}) {
    const uint64_t s = fresh_seed();
    add(op, {random_values(DataType::kBOOL, {97, 5}, 0, 2, s), random_values(DataType::kBOOL, {5}, 0, 2, s + 1)},
        {}, std::string(ir::op_name(op)) + " bool seed " + std::to_string(s));
  }
  add(OpKind::kNot, {random_values(DataType::kBOOL, {1025}, 0, 2, fresh_seed())}, {}, "Not bool");
  for (DataType t : {DataType::kF16, DataType::kINT64, DataType::kFP8E4M3, DataType::kBOOL, DataType::kF64}) {
    const uint64_t s = fresh_seed();
    add(OpKind::kWhere, {random_values(DataType::kBOOL, {6, 1, 7}, 0, 2, s), random_values(t, {5, 7}, -3, 3, s + 1),
                         random_values(t, {6, 5, 1}, -3, 3, s + 2)},
        {}, "Where " + std::string(to_string(t)) + " seed " + std::to_string(s));
  }
  // Comparisons, IsNaN, IsInf on floats with ties, NaN and infinities.
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
    const uint64_t s = fresh_seed();
    HostTensor a = random_values(t, {200}, -3, 3, s, true), b = random_values(t, {200}, -3, 3, s + 1, true);
    a.set_double(3, std::nan(""));
    a.set_double(4, INFINITY);
    b.set_double(5, -INFINITY);
    for (OpKind op : {OpKind::kEqual, OpKind::kLess, OpKind::kLessOrEqual, OpKind::kGreater, OpKind::kGreaterOrEqual})
      add(op, {a, b}, {}, std::string(ir::op_name(op)) + " " + std::string(to_string(t)) + " seed " + std::to_string(s));
    add(OpKind::kIsNaN, {a}, {}, "IsNaN " + std::string(to_string(t)));
    add(OpKind::kIsInf, {b}, {{"detect_positive", int64_t{0}}}, "IsInf(-) " + std::string(to_string(t)));
  }
  run_cases(cases);
}

TEST_CASE("Cast matrix: rounding, saturation, truncation") {
  const DataType types[] = {DataType::kF32,     DataType::kF16,   DataType::kBF16, DataType::kF64,
                            DataType::kFP8E4M3, DataType::kFP8E5M2, DataType::kINT8, DataType::kUINT8,
                            DataType::kINT32,   DataType::kINT64, DataType::kBOOL};
  std::vector<Case> cases;
  for (DataType from : types) {
    for (DataType to : types) {
      if (from == to) continue;
      // Wide ranges reach fp8 saturation (448 / 57344) and integer saturation (int8, uint8).
      const double range = is_integer(from) || from == DataType::kBOOL ? 300
                           : from == DataType::kFP8E4M3               ? 400
                                                                        : 70000;
      for (int64_t saturate : {1, 0}) {
        if (saturate == 0 && to != DataType::kFP8E4M3 && to != DataType::kFP8E5M2) continue;
        const uint64_t s = fresh_seed();
        HostTensor x = random_values(from, {4099}, -range, range, s);
        if (is_floating(from) && from != DataType::kFP8E4M3) {
          x.set_double(0, std::nan(""));
          if (from != DataType::kFP8E5M2) x.set_double(1, -INFINITY);
        }
        Case c;
        c.node = make_node(OpKind::kCast, 1, {{"to", ir::onnx_from_data_type(to)}, {"saturate", saturate}});
        c.inputs = {x};
        c.exact = true;
        c.what = "Cast " + std::string(to_string(from)) + " -> " + std::string(to_string(to)) +
                 " saturate " + std::to_string(saturate) + " seed " + std::to_string(s);
        cases.push_back(std::move(c));
      }
    }
  }
  run_cases(cases);
}

TEST_CASE("per-tensor QuantizeLinear and DequantizeLinear") {
  std::vector<Case> cases;
  const auto scalar = [](DataType t, double v) { return HostTensor::scalar(t, v); };
  for (DataType q : {DataType::kINT8, DataType::kUINT8}) {
    for (DataType f : {DataType::kF32, DataType::kF16, DataType::kBF16}) {
      const uint64_t s = fresh_seed();
      Case c;
      c.node = make_node(OpKind::kQuantizeLinear, 3);
      c.inputs = {random_values(f, {37, 101}, -60, 60, s), scalar(f, 0.37), scalar(q, q == DataType::kINT8 ? -5 : 130)};
      c.exact = true;
      c.what = "Quantize " + std::string(to_string(f)) + " -> " + std::string(to_string(q)) + " seed " + std::to_string(s);
      cases.push_back(std::move(c));
      Case d;
      d.node = make_node(OpKind::kDequantizeLinear, 3);
      d.inputs = {random_values(q, {37, 101}, q == DataType::kINT8 ? -128 : 0, q == DataType::kINT8 ? 128 : 256, s),
                  scalar(f, 0.037), scalar(q, q == DataType::kINT8 ? 3 : 128)};
      d.exact = f == DataType::kF32;  // one rounding of an exact product
      d.what = "Dequantize " + std::string(to_string(q)) + " -> " + std::string(to_string(f)) + " seed " + std::to_string(s);
      cases.push_back(std::move(d));
    }
  }
  for (DataType q : {DataType::kFP8E4M3, DataType::kFP8E5M2}) {
    const uint64_t s = fresh_seed();
    Case c;
    c.node = make_node(OpKind::kQuantizeLinear, 2, {{"output_dtype", ir::onnx_from_data_type(q)}});
    c.inputs = {random_values(DataType::kF32, {2000}, -900, 900, s), scalar(DataType::kF32, 0.5)};
    c.exact = true;
    c.what = "Quantize f32 -> " + std::string(to_string(q)) + " seed " + std::to_string(s);
    cases.push_back(std::move(c));
    Case d;
    d.node = make_node(OpKind::kDequantizeLinear, 2);
    d.inputs = {random_values(q, {2000}, -400, 400, s), scalar(DataType::kF32, 0.5)};
    d.exact = true;
    d.what = "Dequantize " + std::string(to_string(q)) + " seed " + std::to_string(s);
    cases.push_back(std::move(d));
  }
  {
    const uint64_t s = fresh_seed();
    Case c;
    c.node = make_node(OpKind::kDequantizeLinear, 3);
    c.inputs = {random_values(DataType::kINT32, {999}, -1e6, 1e6, s), scalar(DataType::kF32, 1e-3),
                scalar(DataType::kINT32, 17)};
    c.exact = true;
    c.what = "Dequantize i32 seed " + std::to_string(s);
    cases.push_back(std::move(c));
  }
  run_cases(cases);
}

TEST_CASE("fused chains against the unfused graph") {
  struct Chain {
    std::string what;
    ir::Graph graph;
    std::vector<ir::NodeId> nodes;
    ir::ValueId output;
    ir::TensorMap inputs;
    double bound;
  };
  std::vector<Chain> chains;
  const auto finish = [&](Chain& c, ir::NodeId last) {
    c.graph.infer_shapes();
    c.output = c.graph.node(last).outputs[0];
    c.graph.mark_output(c.output, "y");
  };
  for (DataType t : {DataType::kF16, DataType::kBF16, DataType::kF32}) {
    for (const auto& [xs, bs] : std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>>{
             {{256, 4096}, {4096}}, {{3, 7, 11}, {11}}, {{1 << 16}, {1 << 16}}, {{5, 3}, {}}}) {
      // Bias add + GELU (the bench's chain) + scale by a constant.
      Chain c;
      const uint64_t s = fresh_seed();
      auto& g = c.graph;
      const auto x = g.add_input("x", t, xs), b = g.add_input("b", t, bs);
      const auto half = g.add_constant(HostTensor::scalar(t, 0.5));
      const auto add = g.add_node(OpKind::kAdd, "add", {x, b});
      const auto gelu = g.add_node(OpKind::kGelu, "gelu", {g.node(add).outputs[0]});
      const auto mul = g.add_node(OpKind::kMul, "mul", {g.node(gelu).outputs[0], half});
      c.nodes = {add, gelu, mul};
      finish(c, mul);
      c.inputs["x"] = random_values(t, xs, -4, 4, s);
      c.inputs["b"] = random_values(t, bs, -1, 1, s + 1);
      // The fused kernel rounds once where the graph rounds after each node.
      c.bound = 2 * tolerance(t);
      c.what = "Add+Gelu+Mul " + std::string(to_string(t)) + shape_str(xs) + " + " + shape_str(bs) +
               " seed " + std::to_string(s);
      chains.push_back(std::move(c));
    }
  }
  {
    // Q/DQ around an activation, constant scales and zero points.
    Chain c;
    const uint64_t s = fresh_seed();
    auto& g = c.graph;
    const auto q = g.add_input("q", DataType::kINT8, {3001});
    const auto dq = g.add_node(OpKind::kDequantizeLinear, "dq",
                               {q, g.add_constant(HostTensor::scalar(DataType::kF32, 0.05)),
                                g.add_constant(HostTensor::scalar(DataType::kINT8, -3))});
    const auto act = g.add_node(OpKind::kSilu, "silu", {g.node(dq).outputs[0]});
    const auto qn = g.add_node(OpKind::kQuantizeLinear, "q",
                               {g.node(act).outputs[0], g.add_constant(HostTensor::scalar(DataType::kF32, 0.04)),
                                g.add_constant(HostTensor::scalar(DataType::kUINT8, 100))});
    c.nodes = {dq, act, qn};
    finish(c, qn);
    c.inputs["q"] = random_values(DataType::kINT8, {3001}, -128, 128, s);
    c.bound = 0.01;  // an f32 Silu may move a value across a rounding boundary of the quantizer
    c.what = "DQ+Silu+Q seed " + std::to_string(s);
    chains.push_back(std::move(c));
  }
  {
    // Packed 4-bit in and out: int4 -> DQ -> Mul -> Q -> uint4, an odd count (the last byte has
    // one nibble). Every value is exact in float, so the result is bit for bit.
    Chain c;
    const uint64_t s = fresh_seed();
    auto& g = c.graph;
    const auto q = g.add_input("q", DataType::kINT4, {3001});
    const auto dq = g.add_node(OpKind::kDequantizeLinear, "dq",
                               {q, g.add_constant(HostTensor::scalar(DataType::kF32, 0.25)),
                                g.add_constant(HostTensor::scalar(DataType::kINT4, -2))});
    const auto mul = g.add_node(OpKind::kMul, "mul",
                                {g.node(dq).outputs[0], g.add_constant(HostTensor::scalar(DataType::kF32, 1.5))});
    const auto qn = g.add_node(OpKind::kQuantizeLinear, "q",
                               {g.node(mul).outputs[0], g.add_constant(HostTensor::scalar(DataType::kF32, 0.5)),
                                g.add_constant(HostTensor::scalar(DataType::kUINT4, 7))});
    c.nodes = {dq, mul, qn};
    finish(c, qn);
    c.inputs["q"] = random_values(DataType::kINT4, {3001}, -8, 8, s);
    c.bound = 0;
    c.what = "int4 DQ+Mul+Q uint4 seed " + std::to_string(s);
    chains.push_back(std::move(c));
  }
  {
    // A comparison feeding Where with a Cast in between: the discontinuous paths.
    Chain c;
    const uint64_t s = fresh_seed();
    auto& g = c.graph;
    const auto a = g.add_input("a", DataType::kF16, {64, 33});
    const auto b = g.add_input("b", DataType::kF16, {33});
    const auto gt = g.add_node(OpKind::kGreater, "gt", {a, b});
    const auto sq = g.add_node(OpKind::kSqrt, "sqrt", {g.node(g.add_node(OpKind::kAbs, "abs", {b})).outputs[0]});
    const auto abs_node = static_cast<ir::NodeId>(g.nodes().size() - 2);
    const auto wh = g.add_node(OpKind::kWhere, "where", {g.node(gt).outputs[0], a, g.node(sq).outputs[0]});
    const auto cast = g.add_node(OpKind::kCast, "cast", {g.node(wh).outputs[0]}, 1, {{"to", int64_t{1}}});
    c.nodes = {gt, abs_node, sq, wh, cast};
    finish(c, cast);
    c.inputs["a"] = random_values(DataType::kF16, {64, 33}, -3, 3, s);
    c.inputs["b"] = random_values(DataType::kF16, {33}, -3, 3, s + 1);
    c.bound = 1e-3;  // sqrt rounds to f16 only in the unfused graph
    c.what = "Greater/Abs/Sqrt/Where/Cast seed " + std::to_string(s);
    chains.push_back(std::move(c));
  }

  std::vector<PointwiseChain> rendered;
  std::vector<jit::Program> programs;
  for (auto& c : chains) {
    auto r = render_pointwise(c.graph, c.nodes, c.output);
    REQUIRE_MESSAGE(r, c.what << ": " << (r ? std::string() : r.error().to_string()));
    programs.push_back(r->spec.program());
    rendered.push_back(std::move(*r));
  }
  ProgramSet::instance().prepare(programs);
  for (size_t i = 0; i < chains.size(); ++i) {
    auto& c = chains[i];
    const HostTensor want = ir::evaluate(c.graph, c.inputs).at("y");
    std::vector<HostTensor> inputs;
    for (ir::ValueId v : rendered[i].inputs) inputs.push_back(c.inputs.at(c.graph.value(v).name));
    for (size_t misalign : {size_t{0}, size_t{4}}) {  // 4: every element type's alignment, no 16-byte vectors
      const HostTensor got = run_spec(rendered[i].spec, inputs, want.shape(), misalign,
                                      c.what + " misalign " + std::to_string(misalign));
      check_close(got, want, c.bound, c.what + " misalign " + std::to_string(misalign));
    }
  }
}
