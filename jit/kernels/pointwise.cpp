// SPDX-License-Identifier: Apache-2.0
// Pointwise family: renders fusable elementwise chains as functors (see pointwise.hpp for the
// semantics) and prepares the driver's run-time parameters (merged dims, broadcast strides,
// vector path choice).
#include "jit/kernels/pointwise.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "ir/onnx_dtype.hpp"
#include "ir/op_registry.hpp"
#include "jit/hash.hpp"

namespace rtx::jit::kernels {
namespace {

using ir::OpKind;

Error cannot(const std::string& message) {
  return Error{errc::kCannotImplement, "pointwise: " + message};
}
Error bad_args(const std::string& message) {
  return Error{errc::kBadArguments, "pointwise: " + message};
}

bool is_narrow_float(DataType t) {
  return t == DataType::kF16 || t == DataType::kBF16 || t == DataType::kFP8E4M3 ||
         t == DataType::kFP8E5M2;
}
bool is_int_type(DataType t) {
  return t == DataType::kINT8 || t == DataType::kUINT8 || t == DataType::kINT32 ||
         t == DataType::kINT64;
}
bool is_packed4(DataType t) {
  return t == DataType::kINT4 || t == DataType::kUINT4;
}
/// Dtypes a rendered functor handles; int4/uint4 only as Q/DQ operands (expression() checks).
bool is_supported_dtype(DataType t) {
  return !cuda_type_name(t).empty() || is_packed4(t);
}

/// The C++ type of a `t` value in a functor: 4-bit values travel unpacked in a char.
std::string storage(DataType t) {
  if (t == DataType::kINT4) return "signed char";
  if (t == DataType::kUINT4) return "unsigned char";
  return std::string(cuda_type_name(t));
}

/// The type arithmetic on `t` happens in (common/convert.cuh's Compute<T>).
std::string compute_type(DataType t) {
  if (is_narrow_float(t) || t == DataType::kF32) return "float";
  return storage(t);
}
bool computes_in_double(DataType t) {
  return t == DataType::kF64;
}
/// The type the driver reads or writes in memory (pointwise/pointwise.cuh): packed for 4-bit.
std::string memory_type(DataType t) {
  if (t == DataType::kINT4) return "rtx::kernels::int4x2";
  if (t == DataType::kUINT4) return "rtx::kernels::uint4x2";
  return storage(t);
}

/// A floating literal that parses back to exactly `v` in float (or double).
std::string float_literal(double v, bool as_double) {
  if (std::isnan(v)) return as_double ? "__longlong_as_double(0x7ff8000000000000LL)"
                                      : "__int_as_float(0x7fc00000)";
  if (std::isinf(v)) {
    if (as_double)
      return v > 0 ? "__longlong_as_double(0x7ff0000000000000LL)"
                   : "__longlong_as_double(static_cast<long long>(0xfff0000000000000ULL))";
    return v > 0 ? "__int_as_float(0x7f800000)" : "__int_as_float(0xff800000)";
  }
  char buf[64];
  if (as_double)
    std::snprintf(buf, sizeof buf, "%.17g", v);
  else
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(static_cast<float>(v)));
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  if (!as_double) s += "f";
  return s;
}

std::string int_literal(DataType t, int64_t v) {
  switch (t) {
    case DataType::kBOOL: return v != 0 ? "true" : "false";
    case DataType::kINT8: return "static_cast<signed char>(" + std::to_string(v) + ")";
    case DataType::kUINT8: return "static_cast<unsigned char>(" + std::to_string(v) + ")";
    case DataType::kINT32:
      if (v == std::numeric_limits<int32_t>::min()) return "(-2147483647 - 1)";
      return std::to_string(v);
    default:
      if (v == std::numeric_limits<int64_t>::min()) return "(-9223372036854775807LL - 1)";
      return std::to_string(v) + "LL";
  }
}

/// The literal of value `v` in the compute type of dtype `t`.
std::string literal_of(DataType t, double v, int64_t iv) {
  if (is_floating(t)) return float_literal(v, computes_in_double(t));
  return int_literal(t, iv);
}

/// A rendered value: an expression in the compute type of `dtype`.
struct Operand {
  std::string expr;
  DataType dtype = DataType::kF32;
  bool exact = true;  ///< holds a value representable in `dtype` (no rounding pending)
};

/// `op` rounded to its dtype when it carries float precision beyond it.
std::string materialize(const Operand& op) {
  if (op.exact || !is_narrow_float(op.dtype)) return op.expr;
  return "rtx::kernels::round_as<" + storage(op.dtype) + ">(" + op.expr + ")";
}

/// Ops whose result jumps: their operands are rounded to their dtypes first.
bool needs_exact_operands(OpKind op) {
  switch (op) {
    case OpKind::kCast:
    case OpKind::kEqual:
    case OpKind::kLess:
    case OpKind::kLessOrEqual:
    case OpKind::kGreater:
    case OpKind::kGreaterOrEqual:
    case OpKind::kFloor:
    case OpKind::kCeil:
    case OpKind::kMod:
    case OpKind::kIsInf:
    case OpKind::kIsNaN:
    case OpKind::kQuantizeLinear: return true;
    default: return false;
  }
}

/// Ops whose result is one of the operands' values or an exactly representable function of it.
bool preserves_exactness(OpKind op) {
  switch (op) {
    case OpKind::kIdentity:
    case OpKind::kWhere:
    case OpKind::kRelu:
    case OpKind::kNeg:
    case OpKind::kAbs:
    case OpKind::kMax:
    case OpKind::kMin:
    case OpKind::kClip:
    case OpKind::kFloor:
    case OpKind::kCeil: return true;
    default: return false;
  }
}

/// float / double spellings of a unary math function.
struct UnaryFn {
  const char* f32;
  const char* f64;
};

std::optional<UnaryFn> unary_fn(OpKind op) {
  switch (op) {
    case OpKind::kSigmoid: return UnaryFn{"rtx::kernels::sigmoid", "rtx::kernels::sigmoid"};
    case OpKind::kTanh: return UnaryFn{"tanhf", "tanh"};
    case OpKind::kErf: return UnaryFn{"erff", "erf"};
    case OpKind::kSilu: return UnaryFn{"rtx::kernels::silu", "rtx::kernels::silu"};
    case OpKind::kExp: return UnaryFn{"expf", "exp"};
    case OpKind::kLog: return UnaryFn{"logf", "log"};
    case OpKind::kSqrt: return UnaryFn{"sqrtf", "sqrt"};
    case OpKind::kAbs: return UnaryFn{"fabsf", "fabs"};
    case OpKind::kFloor: return UnaryFn{"floorf", "floor"};
    case OpKind::kCeil: return UnaryFn{"ceilf", "ceil"};
    case OpKind::kSin: return UnaryFn{"sinf", "sin"};
    case OpKind::kCos: return UnaryFn{"cosf", "cos"};
    default: return std::nullopt;
  }
}

bool is_per_tensor(const ir::TensorInfo& info) {
  if (!info.present) return true;
  for (int64_t d : info.shape)
    if (d != 1) return false;  // also rejects dynamic dims: per-tensor cannot be proven
  return true;
}

/// What the renderer needs to know about one operand slot of a node.
struct Slot {
  std::optional<Operand> operand;  ///< nullopt: omitted optional input
  const ir::TensorInfo* info = nullptr;
  bool viewed = false;  ///< a per-axis or block-wise Q/DQ parameter loaded through an InputView
};

/// Renders one node into `lines` (pre-statements) and returns its result expression.
class NodeRenderer {
 public:
  NodeRenderer(const ir::Node& node, std::vector<Slot>& slots, DataType out,
               std::vector<std::string>& lines, int& temp)
      : node_(node), slots_(slots), out_(out), lines_(lines), temp_(temp) {}

  Expected<Operand> render() {
    const OpKind op = node_.op;
    for (auto& s : slots_) {
      if (s.operand && needs_exact_operands(op)) {
        s.operand->expr = materialize(*s.operand);
        s.operand->exact = true;
      }
    }
    auto expr = expression();
    if (!expr) return expr.error();
    bool exact = !is_narrow_float(out_);
    if (op == OpKind::kCast || op == OpKind::kQuantizeLinear) exact = true;
    if (!exact && preserves_exactness(op)) {
      exact = true;
      for (const auto& s : slots_)
        if (s.operand && s.operand->dtype == out_ && !s.operand->exact) exact = false;
    }
    return Operand{*expr, out_, exact};
  }

 private:
  const Operand& arg(size_t i) const { return *slots_[i].operand; }
  bool has(size_t i) const { return i < slots_.size() && slots_[i].operand.has_value(); }
  std::string x(size_t i) const { return arg(i).expr; }
  DataType in_dtype(size_t i) const { return arg(i).dtype; }
  bool float_out() const { return is_floating(out_); }
  bool dbl() const { return computes_in_double(out_); }

  Error unsupported(const std::string& why) const {
    return cannot(node_.describe() + ": " + why);
  }

  std::string call(const std::string& fn, std::initializer_list<std::string> args) const {
    std::string s = fn + "(";
    bool first = true;
    for (const auto& a : args) {
      if (!first) s += ", ";
      s += a;
      first = false;
    }
    return s + ")";
  }

  Expected<std::string> expression() {
    const OpKind op = node_.op;
    for (size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].operand && !is_supported_dtype(slots_[i].operand->dtype))
        return unsupported("input " + std::to_string(i) + " has dtype " +
                           std::string(to_string(slots_[i].operand->dtype)) +
                           ", which pointwise kernels do not take (packed 4-bit)");
    if (!is_supported_dtype(out_))
      return unsupported("output dtype " + std::string(to_string(out_)) + " is not supported");
    if (!has(0)) return unsupported("input 0 is missing");
    // 4-bit values: only what DequantizeLinear reads (x, zero point) and QuantizeLinear writes
    // (its output and zero point).
    if (is_packed4(out_) && op != OpKind::kQuantizeLinear)
      return unsupported("4-bit output of " + std::string(ir::op_name(op)));
    for (size_t i = 0; i < slots_.size(); ++i) {
      const bool q_zero_point = op == OpKind::kQuantizeLinear && i == 2;
      if (slots_[i].operand && is_packed4(slots_[i].operand->dtype) && op != OpKind::kDequantizeLinear &&
          !q_zero_point)
        return unsupported("4-bit input of " + std::string(ir::op_name(op)));
    }

    const bool fl = float_out();
    switch (op) {
      case OpKind::kIdentity: return x(0);
      case OpKind::kRelu: return call("rtx::kernels::relu", {x(0)});
      case OpKind::kLeakyRelu: {
        if (!fl) return unsupported("LeakyRelu needs a floating input");
        const double alpha = node_.attr_float("alpha", static_cast<double>(0.01f));
        return call("rtx::kernels::leaky_relu", {x(0), float_literal(alpha, dbl())});
      }
      case OpKind::kGelu: {
        if (!fl) return unsupported("Gelu needs a floating input");
        const std::string mode = node_.attr_string("approximate", "none");
        if (mode != "none" && mode != "tanh")
          return unsupported("attribute approximate='" + mode + "'");
        return call(mode == "none" ? "rtx::kernels::gelu_erf" : "rtx::kernels::gelu_tanh",
                    {x(0)});
      }
      case OpKind::kReciprocal:
        if (!fl) return unsupported("Reciprocal needs a floating input");
        return std::string(dbl() ? "1.0 / " : "1.0f / ") + "(" + x(0) + ")";
      case OpKind::kNeg:
        if (fl) return "-(" + x(0) + ")";
        return call("rtx::kernels::wrap_neg", {x(0)});
      case OpKind::kAbs:
        if (!fl) return call("rtx::kernels::wrap_abs", {x(0)});
        break;
      case OpKind::kErf:
        if (!fl) {
          // Integer Erf: computed in double and truncated toward zero, like the reference.
          return "static_cast<" + storage(out_) +
                 ">(rtx::kernels::truncate_to_int<long long>(erf(static_cast<double>(" + x(0) +
                 "))))";
        }
        break;
      case OpKind::kNot: return "!(" + x(0) + ")";
      case OpKind::kIsNaN: return call("rtx::kernels::is_nan", {x(0)});
      case OpKind::kIsInf: {
        const bool pos = node_.attr_int("detect_positive", 1) != 0;
        const bool neg = node_.attr_int("detect_negative", 1) != 0;
        return call("rtx::kernels::is_inf",
                    {x(0), pos ? "true" : "false", neg ? "true" : "false"});
      }
      case OpKind::kClip: return clip();
      case OpKind::kCast: {
        const bool saturate = node_.attr_int("saturate", 1) != 0;
        // Round to the target's storage type (ONNX Cast rules), then widen to its compute type.
        return "rtx::kernels::cast<" + compute_type(out_) + ">(rtx::kernels::cast<" +
               storage(out_) + ", " + (saturate ? "true" : "false") + ">(" + x(0) + "))";
      }
      case OpKind::kAdd:
      case OpKind::kSub:
      case OpKind::kMul:
      case OpKind::kDiv: return arithmetic();
      case OpKind::kPow: return power();
      case OpKind::kMax:
      case OpKind::kMin: {
        std::string acc = x(0);
        const char* fn = op == OpKind::kMax ? "rtx::kernels::nan_max" : "rtx::kernels::nan_min";
        for (size_t i = 1; i < slots_.size(); ++i) {
          if (!has(i)) return unsupported("variadic input " + std::to_string(i) + " is missing");
          acc = call(fn, {acc, x(i)});
        }
        return acc;
      }
      case OpKind::kMod: {
        if (!has(1)) return unsupported("needs two inputs");
        const bool c_fmod = node_.attr_int("fmod", 0) != 0;
        if (fl) {
          if (!c_fmod) return unsupported("fmod=0 with floating inputs");
          return call(dbl() ? "fmod" : "fmodf", {x(0), x(1)});
        }
        return call(std::string("rtx::kernels::int_mod<") + (c_fmod ? "true" : "false") + ">",
                    {x(0), x(1)});
      }
      case OpKind::kEqual:
      case OpKind::kLess:
      case OpKind::kLessOrEqual:
      case OpKind::kGreater:
      case OpKind::kGreaterOrEqual:
      case OpKind::kAnd:
      case OpKind::kOr:
      case OpKind::kXor: {
        if (!has(1)) return unsupported("needs two inputs");
        static const std::map<OpKind, const char*> kOps{
            {OpKind::kEqual, " == "},   {OpKind::kLess, " < "},
            {OpKind::kLessOrEqual, " <= "}, {OpKind::kGreater, " > "},
            {OpKind::kGreaterOrEqual, " >= "}, {OpKind::kAnd, " && "},
            {OpKind::kOr, " || "},      {OpKind::kXor, " != "}};
        return "(" + x(0) + kOps.at(op) + x(1) + ")";
      }
      case OpKind::kWhere:
        if (!has(1) || !has(2)) return unsupported("needs three inputs");
        return "(" + x(0) + " ? " + x(1) + " : " + x(2) + ")";
      case OpKind::kDequantizeLinear: return dequantize();
      case OpKind::kQuantizeLinear: return quantize();
      default: break;
    }
    if (auto fn = unary_fn(op)) {
      if (!fl) return unsupported("needs a floating input");
      return call(dbl() ? fn->f64 : fn->f32, {x(0)});
    }
    return unsupported("not an elementwise op the pointwise renderer knows");
  }

  Expected<std::string> clip() {
    std::string v = x(0);
    if (has(1)) v = call("rtx::kernels::nan_max", {v, x(1)});
    if (has(2)) v = call("rtx::kernels::nan_min", {v, x(2)});
    return v;
  }

  Expected<std::string> arithmetic() {
    if (!has(1)) return unsupported("needs two inputs");
    const OpKind op = node_.op;
    if (float_out()) {
      const char* sym = op == OpKind::kAdd ? " + " : op == OpKind::kSub ? " - "
                                                   : op == OpKind::kMul ? " * "
                                                                        : " / ";
      return "(" + x(0) + sym + x(1) + ")";
    }
    if (!is_int_type(out_)) return unsupported("arithmetic on bool");
    const char* fn = op == OpKind::kAdd   ? "rtx::kernels::wrap_add"
                     : op == OpKind::kSub ? "rtx::kernels::wrap_sub"
                     : op == OpKind::kMul ? "rtx::kernels::wrap_mul"
                                          : "rtx::kernels::int_div";
    return call(fn, {x(0), x(1)});
  }

  Expected<std::string> power() {
    if (!has(1)) return unsupported("needs two inputs");
    const DataType e = in_dtype(1);
    if (float_out()) {
      const std::string ct = compute_type(out_);
      return call(dbl() ? "pow" : "powf",
                  {x(0), "rtx::kernels::cast<" + ct + ">(" + x(1) + ")"});
    }
    if (!is_int_type(out_)) return unsupported("Pow on bool");
    if (is_floating(e)) {
      return "static_cast<" + storage(out_) + ">(rtx::kernels::int_base_pow(static_cast<long long>(" + x(0) +
             "), rtx::kernels::cast<double>(" + x(1) + ")))";
    }
    return call("rtx::kernels::int_pow", {x(0), "static_cast<long long>(" + x(1) + ")"});
  }

  /// Scales and zero points must be per tensor, or per axis / block-wise (loaded through an
  /// InputView).
  Expected<void> check_quant_params() const {
    for (size_t i = 1; i < slots_.size(); ++i)
      if (slots_[i].info && !is_per_tensor(*slots_[i].info) && !slots_[i].viewed)
        return unsupported("input " + std::to_string(i) +
                           " is not per-tensor, per-axis or block-wise along the quantized axis");
    return {};
  }

  Expected<std::string> dequantize() {
    if (!has(1)) return unsupported("needs a scale");
    if (auto ok = check_quant_params(); !ok) return ok.error();
    const DataType xt = in_dtype(0);
    const std::string scale = "rtx::kernels::cast<float>(" + x(1) + ")";
    const std::string zp = has(2) ? x(2) : std::string("0");
    if (xt == DataType::kINT8 || xt == DataType::kUINT8 || is_packed4(xt)) {
      // x - zp has at most 9 bits: exact in float; one rounding in the product.
      return "(static_cast<float>(static_cast<int>(" + x(0) + ") - static_cast<int>(" + zp +
             ")) * " + scale + ")";
    }
    if (xt == DataType::kINT32) {
      // x - zp needs up to 33 bits: exact in double, and so is the product with a float scale
      // up to 2^29; then one rounding to float.
      return "static_cast<float>(static_cast<double>(static_cast<long long>(" + x(0) +
             ") - static_cast<long long>(" + zp + ")) * static_cast<double>(" + scale + "))";
    }
    if (xt == DataType::kFP8E4M3 || xt == DataType::kFP8E5M2) {
      // fp8 zero points must be 0 (the reference rejects others): the scale alone applies.
      return "(" + x(0) + " * " + scale + ")";
    }
    return unsupported("input x has dtype " + std::string(to_string(xt)));
  }

  Expected<std::string> quantize() {
    if (!has(1)) return unsupported("needs a scale");
    if (auto ok = check_quant_params(); !ok) return ok.error();
    const DataType st = in_dtype(1);
    DataType precision = st == DataType::kINT32 ? DataType::kF64 : st;
    if (const int64_t code = node_.attr_int("precision", 0); code != 0) {
      const auto p = ir::data_type_from_onnx(code);
      if (!p || !(*p == DataType::kF32 || *p == DataType::kF16 || *p == DataType::kBF16 ||
                  *p == DataType::kF64))
        return unsupported("attribute precision=" + std::to_string(code));
      precision = *p;
    }
    const std::string q = "q" + std::to_string(temp_++);
    lines_.push_back("    const double " + q + " = rtx::kernels::quantize_divide<" +
                     storage(precision) + ">(" + x(0) + ", " + x(1) + ");");
    if (out_ == DataType::kINT8 || out_ == DataType::kUINT8 || is_packed4(out_)) {
      const std::string zp = has(2) ? "static_cast<long long>(" + x(2) + ")" : "0LL";
      return "rtx::kernels::quantize_int<" + storage(out_) + (is_packed4(out_) ? ", 4" : "") + ">(" + q + ", " +
             zp + ")";
    }
    if (out_ == DataType::kFP8E4M3 || out_ == DataType::kFP8E5M2) {
      const bool saturate = node_.attr_int("saturate", 1) != 0;
      return "rtx::kernels::cast<float>(rtx::kernels::cast<" + storage(out_) + ", " +
             (saturate ? "true" : "false") + ">(" + q + "))";
    }
    return unsupported("output dtype " + std::string(to_string(out_)));
  }

  const ir::Node& node_;
  std::vector<Slot>& slots_;
  DataType out_;
  std::vector<std::string>& lines_;
  int& temp_;
};

/// Builds the functor of a chain. Operands are resolved through `resolve` (graph mode: chain
/// values, literals for scalar constants, kernel inputs for the rest).
class ChainRenderer {
 public:
  /// Kernel input for graph value `v` of dtype `dtype` (deduplicated by value id).
  Operand input(ir::ValueId v, DataType dtype, InputView view = {}) {
    for (size_t k = 0; k < input_values_.size(); ++k)
      if (input_values_[k] == v && input_views_[k] == view) return Operand{"a" + std::to_string(k), dtype, true};
    const size_t k = input_values_.size();
    input_values_.push_back(v);
    input_dtypes_.push_back(dtype);
    input_views_.push_back(view);
    const std::string ks = std::to_string(k);
    load_lines_.push_back("    const " + compute_type(dtype) + " a" + ks +
                          " = rtx::kernels::load_compute(x" + ks + ");");
    return Operand{"a" + ks, dtype, true};
  }

  /// Renders `node` whose operand slots are filled; stores the result as a named value.
  Expected<Operand> node(const ir::Node& node, std::vector<Slot>& slots, DataType out) {
    std::vector<std::string> pre;
    NodeRenderer r(node, slots, out, pre, temp_);
    auto result = r.render();
    if (!result) return result.error();
    for (auto& l : pre) body_lines_.push_back(std::move(l));
    const std::string name = "v" + std::to_string(next_++);
    // No node names in the source: equal chains of different layers must render (and hash) the
    // same, so they share one kernel (the plan names the layers of each step).
    body_lines_.push_back("    const " + compute_type(out) + " " + name + " = " + result->expr + ";");
    return Operand{name, out, result->exact};
  }

  size_t input_count() const { return input_values_.size(); }

  Expected<PointwiseChain> finish(const Operand& result) {
    if (input_values_.empty())
      return cannot("the chain reads no tensor input (fold it as a constant instead)");
    if (input_values_.size() > static_cast<size_t>(rtx::kernels::kMaxPointwiseInputs))
      return cannot("the chain reads " + std::to_string(input_values_.size()) +
                    " tensors; at most " + std::to_string(rtx::kernels::kMaxPointwiseInputs) +
                    " fit one kernel");
    std::string params;
    for (size_t k = 0; k < input_dtypes_.size(); ++k) {
      if (k) params += ", ";
      params += storage(input_dtypes_[k]) + " x" + std::to_string(k);
    }
    std::string body;
    for (const auto& l : load_lines_) body += l + "\n";
    for (const auto& l : body_lines_) body += l + "\n";
    body += "    return rtx::kernels::cast<" + storage(result.dtype) + ", false>(" + result.expr +
            ");\n";
    const std::string signature = "  __device__ " + storage(result.dtype) + " operator()(" +
                                  params + ") const {\n";
    // The name is a hash of everything else, so equal chains share one kernel.
    const std::string hash = sha256_hex(signature + body).substr(0, 12);
    PointwiseChain chain;
    chain.spec.functor_name = "rtx::generated::pw_" + hash;
    chain.spec.functor_source = "namespace rtx::generated {\nstruct pw_" + hash + " {\n" +
                                signature + body + "  }\n};\n}  // namespace rtx::generated\n";
    chain.spec.output = result.dtype;
    chain.spec.inputs = input_dtypes_;
    chain.inputs = input_values_;
    chain.views = input_views_;
    return chain;
  }

 private:
  std::vector<ir::ValueId> input_values_;
  std::vector<DataType> input_dtypes_;
  std::vector<InputView> input_views_;
  std::vector<std::string> load_lines_;
  std::vector<std::string> body_lines_;
  int next_ = 0;
  int temp_ = 0;
};

int dtype_bytes(DataType t) {
  return std::max(1, bit_width(t) / 8);
}

}  // namespace

// ---- spec ----------------------------------------------------------------------------------------

std::string PointwiseSpec::name_expression() const {
  std::vector<std::string> args{functor_name, memory_type(output)};
  for (DataType t : inputs) args.push_back(memory_type(t));
  return kernels::name_expression("rtx::kernels::pointwise", args);
}

Program PointwiseSpec::program() const {
  return pointwise_program(std::span<const PointwiseSpec>(this, 1),
                           "pointwise_" + functor_name.substr(functor_name.rfind('_') + 1));
}

Program pointwise_program(std::span<const PointwiseSpec> specs, std::string name) {
  Program p;
  p.name = std::move(name);
  p.source = "#include \"pointwise/pointwise.cuh\"\n";
  std::vector<std::string> seen;
  for (const auto& s : specs) {
    if (std::find(seen.begin(), seen.end(), s.functor_name) == seen.end()) {
      seen.push_back(s.functor_name);
      p.source += "\n" + s.functor_source;
    }
    const std::string expr = s.name_expression();
    if (std::find(p.name_expressions.begin(), p.name_expressions.end(), expr) ==
        p.name_expressions.end())
      p.name_expressions.push_back(expr);
  }
  return p;
}

void to_json(nlohmann::json& j, const PointwiseSpec& spec) {
  nlohmann::json inputs = nlohmann::json::array();
  for (DataType t : spec.inputs) inputs.push_back(std::string(to_string(t)));
  j = nlohmann::json{{"functor_name", spec.functor_name},
                     {"functor_source", spec.functor_source},
                     {"output", std::string(to_string(spec.output))},
                     {"inputs", inputs}};
}

void from_json(const nlohmann::json& j, PointwiseSpec& spec) {
  const auto fail = [](const std::string& m) {
    throw Exception(errc::kBadSpec, "pointwise spec JSON: " + m);
  };
  if (!j.is_object()) fail("not an object");
  for (const char* key : {"functor_name", "functor_source", "output"})
    if (!j.contains(key) || !j.at(key).is_string()) fail(std::string("missing string '") + key + "'");
  if (!j.contains("inputs") || !j.at("inputs").is_array()) fail("missing array 'inputs'");
  const auto dtype = [&](const nlohmann::json& v) {
    if (!v.is_string()) fail("dtype is not a string");
    const auto t = data_type_from_string(v.get<std::string>());
    if (!t || !is_supported_dtype(*t)) fail("unsupported dtype '" + v.dump() + "'");
    return *t;
  };
  PointwiseSpec s;
  s.functor_name = j.at("functor_name").get<std::string>();
  s.functor_source = j.at("functor_source").get<std::string>();
  const std::string prefix = "rtx::generated::pw_";
  if (s.functor_name.rfind(prefix, 0) != 0 || s.functor_name.size() == prefix.size() ||
      !std::all_of(s.functor_name.begin() + static_cast<std::ptrdiff_t>(prefix.size()),
                   s.functor_name.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
    fail("functor_name '" + s.functor_name + "' is not rtx::generated::pw_<hex>");
  s.output = dtype(j.at("output"));
  for (const auto& v : j.at("inputs")) s.inputs.push_back(dtype(v));
  if (s.inputs.empty() || s.inputs.size() > static_cast<size_t>(rtx::kernels::kMaxPointwiseInputs))
    fail("'inputs' must hold 1 to " + std::to_string(rtx::kernels::kMaxPointwiseInputs) + " dtypes");
  spec = std::move(s);
}

// ---- rendering -----------------------------------------------------------------------------------

bool is_pointwise_op(ir::OpKind op) {
  switch (op) {
    case OpKind::kRelu: case OpKind::kLeakyRelu: case OpKind::kSigmoid: case OpKind::kTanh:
    case OpKind::kErf: case OpKind::kGelu: case OpKind::kSilu: case OpKind::kExp:
    case OpKind::kLog: case OpKind::kSqrt: case OpKind::kReciprocal: case OpKind::kNeg:
    case OpKind::kAbs: case OpKind::kFloor: case OpKind::kCeil: case OpKind::kSin:
    case OpKind::kCos: case OpKind::kClip: case OpKind::kNot: case OpKind::kIsNaN:
    case OpKind::kIsInf: case OpKind::kIdentity: case OpKind::kCast: case OpKind::kAdd:
    case OpKind::kSub: case OpKind::kMul: case OpKind::kDiv: case OpKind::kPow:
    case OpKind::kMax: case OpKind::kMin: case OpKind::kMod: case OpKind::kEqual:
    case OpKind::kLess: case OpKind::kLessOrEqual: case OpKind::kGreater:
    case OpKind::kGreaterOrEqual: case OpKind::kAnd: case OpKind::kOr: case OpKind::kXor:
    case OpKind::kWhere: case OpKind::kQuantizeLinear: case OpKind::kDequantizeLinear:
      return true;
    default: return false;
  }
}

/// Input `i` (scale or zero point) of Q/DQ node `n` when it needs a view: per-axis (a 1-D
/// tensor of the quantized axis' extent) or block-wise (x's rank, ceil(D / block_size) at the
/// quantized axis, x's extents elsewhere). Dims unknown here are checked when the step runs.
static std::optional<InputView> quant_param_view(const ir::Graph& graph, const ir::Node& n, size_t i) {
  if ((n.op != OpKind::kQuantizeLinear && n.op != OpKind::kDequantizeLinear) || i < 1 || i > 2) return std::nullopt;
  if (n.inputs.empty() || n.inputs[0] == ir::kNoValue) return std::nullopt;
  const auto& x = graph.value(n.inputs[0]).info.shape;
  const auto& p = graph.value(n.inputs[i]).info.shape;
  const auto rank = static_cast<int64_t>(x.size());
  int64_t axis = n.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return std::nullopt;
  const auto ax = static_cast<size_t>(axis);
  const int64_t block = n.attr_int("block_size", 0);
  if (block < 0) return std::nullopt;
  if (block == 0) {
    if (p.size() != 1 || p[0] == ir::kDynamic || p[0] != x[ax]) return std::nullopt;
    return InputView{static_cast<int>(rank), static_cast<int>(axis)};
  }
  if (p.size() != x.size()) return std::nullopt;
  for (size_t d = 0; d < x.size(); ++d) {
    const bool known = x[d] != ir::kDynamic && p[d] != ir::kDynamic;
    if (d == ax ? known && p[d] != (x[d] + block - 1) / block : p[d] != x[d]) return std::nullopt;
  }
  return InputView{static_cast<int>(rank), static_cast<int>(axis), block};
}

Expected<std::vector<int64_t>> view_shape(const std::vector<int64_t>& shape, const InputView& view) {
  if (view.rank == 0 || view.block > 0) return shape;  // block-wise: see apply_views()
  if (shape.size() != 1 || view.axis < 0 || view.axis >= view.rank || view.rank > 64)
    return Error{"rtx.jit.302", "a per-axis input of shape " + shape_to_string(shape) + " cannot be viewed along axis " +
                                    std::to_string(view.axis) + " of rank " + std::to_string(view.rank)};
  std::vector<int64_t> v(static_cast<size_t>(view.rank), 1);
  v[static_cast<size_t>(view.axis)] = shape[0];
  return v;
}

Expected<void> apply_views(PointwiseArgs& args, std::span<const InputView> views) {
  if (views.size() != args.in_shapes.size())
    return bad_args(std::to_string(views.size()) + " input views for " + std::to_string(args.in_shapes.size()) + " inputs");
  for (size_t k = 0; k < views.size(); ++k) {
    auto s = view_shape(args.in_shapes[k], views[k]);
    if (!s) return s.error();
    args.in_shapes[k] = std::move(*s);
  }
  // Block-wise views: one split (output axis, block) that every such view must agree on.
  const size_t rank = args.out_shape.size();
  std::optional<std::pair<size_t, int64_t>> split;
  for (size_t k = 0; k < views.size(); ++k) {
    const InputView& v = views[k];
    if (v.block <= 0) continue;
    if (v.rank < 1 || static_cast<size_t>(v.rank) > rank || v.axis < 0 || v.axis >= v.rank ||
        args.in_shapes[k].size() != static_cast<size_t>(v.rank))
      return bad_args("block-wise input " + std::to_string(k) + " of shape " + shape_to_string(args.in_shapes[k]) +
                      " does not fit its view (rank " + std::to_string(v.rank) + ", axis " + std::to_string(v.axis) +
                      ") under the output shape " + shape_to_string(args.out_shape));
    const std::pair<size_t, int64_t> mine{rank - static_cast<size_t>(v.rank) + static_cast<size_t>(v.axis), v.block};
    if (split && *split != mine) return bad_args("block-wise inputs disagree on the quantized axis or the block size");
    split = mine;
  }
  if (!split) return {};
  const size_t axis = split->first;  // (no structured binding: lambdas below capture these)
  const int64_t block = split->second;
  const int64_t extent = args.out_shape[axis];
  if (extent % block != 0)
    return bad_args("the quantized axis has " + std::to_string(extent) + " elements, not a multiple of the block size " +
                    std::to_string(block) + " (a partial last block runs on the host)");
  const int64_t blocks = extent / block;
  const auto split_shape = [&](std::vector<int64_t> s, bool blockwise) -> Expected<std::vector<int64_t>> {
    if (s.size() > rank)
      return bad_args("shape " + shape_to_string(s) + " has a higher rank than the output " +
                      shape_to_string(args.out_shape));
    s.insert(s.begin(), rank - s.size(), 1);  // right-aligned, as numpy broadcasts
    int64_t outer = 0, inner = 0;
    if (blockwise && s[axis] == blocks) {
      outer = blocks, inner = 1;
    } else if (!blockwise && s[axis] == extent) {
      outer = blocks, inner = block;
    } else if (!blockwise && s[axis] == 1) {
      outer = 1, inner = 1;
    } else {
      return bad_args("shape " + shape_to_string(s) + " does not line up with " + std::to_string(blocks) +
                      " blocks of " + std::to_string(block) + " along axis " + std::to_string(axis));
    }
    s[axis] = outer;
    s.insert(s.begin() + static_cast<std::ptrdiff_t>(axis) + 1, inner);
    return s;
  };
  auto out = split_shape(args.out_shape, false);
  if (!out) return out.error();
  args.out_shape = std::move(*out);
  for (size_t k = 0; k < views.size(); ++k) {
    auto s = split_shape(args.in_shapes[k], views[k].block > 0);
    if (!s) return s.error();
    args.in_shapes[k] = std::move(*s);
  }
  return {};
}

Expected<PointwiseChain> render_pointwise(const ir::Graph& graph, std::span<const ir::NodeId> nodes,
                                          ir::ValueId output) {
  if (nodes.empty()) return cannot("empty chain");
  ChainRenderer r;
  std::map<ir::ValueId, Operand> values;
  for (ir::NodeId id : nodes) {
    const ir::Node& n = graph.node(id);
    if (!is_pointwise_op(n.op)) return cannot(n.describe() + " is not an elementwise op");
    if (n.outputs.size() != 1) return cannot(n.describe() + " has more than one output");
    std::vector<Slot> slots(n.inputs.size());
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const ir::ValueId v = n.inputs[i];
      if (v == ir::kNoValue) continue;
      const ir::TensorInfo& info = graph.value(v).info;
      slots[i].info = &info;
      if (auto it = values.find(v); it != values.end()) {
        slots[i].operand = it->second;
      } else if (const HostTensor* c = graph.constant_data(v); c && c->element_count() == 1 &&
                                                               is_supported_dtype(c->dtype())) {
        const double d = is_floating(c->dtype()) ? c->get_double(0) : 0.0;
        const int64_t iv = is_floating(c->dtype()) ? 0 : c->get_int(0);
        slots[i].operand = Operand{literal_of(c->dtype(), d, iv), c->dtype(), true};
      } else if (const auto view = quant_param_view(graph, n, i)) {
        slots[i].operand = r.input(v, info.dtype, *view);
        slots[i].viewed = true;
      } else {
        slots[i].operand = r.input(v, info.dtype);
      }
    }
    auto result = r.node(n, slots, graph.value(n.outputs[0]).info.dtype);
    if (!result) return result.error();
    values[n.outputs[0]] = *result;
  }
  auto it = values.find(output);
  if (it == values.end())
    return cannot("value '" + graph.value(output).name + "' is not produced by the chain");
  return r.finish(it->second);
}

std::optional<PointwiseSpec> plan_pointwise(const ir::Node& node,
                                            std::span<const ir::TensorInfo> inputs) {
  if (!is_pointwise_op(node.op) || node.outputs.size() != 1) return std::nullopt;
  std::vector<ir::TensorInfo> outs;
  try {
    std::vector<const HostTensor*> constants(inputs.size(), nullptr);
    outs = ir::infer(node, inputs, constants);
  } catch (const Exception&) {
    return std::nullopt;
  }
  if (outs.size() != 1) return std::nullopt;
  ChainRenderer r;
  std::vector<Slot> slots(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].present) continue;
    slots[i].info = &inputs[i];
    slots[i].operand = r.input(static_cast<ir::ValueId>(i), inputs[i].dtype);
  }
  auto result = r.node(node, slots, outs[0].dtype);
  if (!result) return std::nullopt;
  auto chain = r.finish(*result);
  if (!chain) return std::nullopt;
  return chain->spec;
}

// ---- run time ------------------------------------------------------------------------------------

Expected<void> can_implement(const PointwiseSpec& spec, const PointwiseArgs& args) {
  auto p = make_params(spec, args);
  if (!p) return p.error();
  return {};
}

int pointwise_vector_width(const PointwiseSpec& spec) {
  int widest = dtype_bytes(spec.output);
  for (DataType t : spec.inputs) widest = std::max(widest, dtype_bytes(t));
  return 16 / widest;
}

Expected<rtx::kernels::PointwiseParams> make_params(const PointwiseSpec& spec,
                                                    const PointwiseArgs& args) {
  const size_t n_in = spec.inputs.size();
  if (args.in_shapes.size() != n_in || args.in.size() != n_in)
    return bad_args("the kernel takes " + std::to_string(n_in) + " inputs; got " +
                    std::to_string(args.in_shapes.size()) + " shapes and " +
                    std::to_string(args.in.size()) + " buffers");
  const auto& out = args.out_shape;
  for (int64_t d : out)
    if (d < 0) return bad_args("output shape " + shape_to_string(out) + " has a negative dim");
  const int64_t n = element_count(out);
  rtx::kernels::PointwiseParams p{};
  p.out = args.out;
  p.n = n;
  for (size_t k = 0; k < n_in; ++k) p.in[k] = args.in[k];
  if (n == 0) return p;
  if (!args.out) return bad_args("output buffer is null");
  // Every access is at least one element wide: a pointer off its element size would fault.
  if (!is_aligned(args.out, static_cast<size_t>(dtype_bytes(spec.output))))
    return bad_args("output buffer is not aligned to its element size");
  for (size_t k = 0; k < n_in; ++k)
    if (args.in[k] && !is_aligned(args.in[k], static_cast<size_t>(dtype_bytes(spec.inputs[k]))))
      return bad_args("input " + std::to_string(k) + " buffer is not aligned to its element size");

  // Broadcast strides of every input against the output (right-aligned, numpy rules).
  const size_t rank = out.size();
  std::vector<std::vector<int64_t>> strides(n_in, std::vector<int64_t>(rank, 0));
  for (size_t k = 0; k < n_in; ++k) {
    const auto& s = args.in_shapes[k];
    if (!args.in[k]) return bad_args("input " + std::to_string(k) + " buffer is null");
    if (s.size() > rank)
      return bad_args("input " + std::to_string(k) + " shape " + shape_to_string(s) +
                      " has a higher rank than the output " + shape_to_string(out));
    const auto cs = contiguous_strides(s);
    const size_t shift = rank - s.size();
    for (size_t d = 0; d < s.size(); ++d) {
      const int64_t od = out[d + shift];
      if (s[d] == od) {
        strides[k][d + shift] = s[d] == 1 ? 0 : cs[d];
      } else if (s[d] == 1) {
        strides[k][d + shift] = 0;
      } else {
        return bad_args("input " + std::to_string(k) + " shape " + shape_to_string(s) +
                        " does not broadcast to the output shape " + shape_to_string(out));
      }
    }
  }
  // Merge dims: drop extent-1 dims, then join neighbours that every input walks as one.
  std::vector<int64_t> shape;
  std::vector<std::vector<int64_t>> merged(n_in);
  for (size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;
    bool join = !shape.empty();
    for (size_t k = 0; join && k < n_in; ++k)
      join = merged[k].back() == strides[k][d] * out[d];
    if (join) {
      shape.back() *= out[d];
      for (size_t k = 0; k < n_in; ++k) merged[k].back() = strides[k][d];
    } else {
      shape.push_back(out[d]);
      for (size_t k = 0; k < n_in; ++k) merged[k].push_back(strides[k][d]);
    }
  }
  if (shape.size() > static_cast<size_t>(kMaxRank))
    return bad_args("output shape " + shape_to_string(out) + " needs " +
                    std::to_string(shape.size()) + " dims after merging; at most " +
                    std::to_string(kMaxRank) + " are supported");
  p.rank = static_cast<int32_t>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) p.shape[d] = shape[d];
  // Packed 4-bit tensors take the strided path (the vector path moves whole elements).
  bool vectorized = is_aligned(args.out, 16) && !is_packed4(spec.output) &&
                    std::none_of(spec.inputs.begin(), spec.inputs.end(), is_packed4);
  const int vec = pointwise_vector_width(spec);
  uint32_t scalar_mask = 0, periodic_mask = 0;
  for (size_t k = 0; k < n_in; ++k) {
    for (size_t d = 0; d < shape.size(); ++d) p.strides[k][d] = merged[k][d];
    // The longest suffix of dims the input walks contiguously; the rest must be broadcast.
    size_t j = shape.size();
    int64_t period = 1;
    while (j > 0 && merged[k][j - 1] == period) {
      period *= shape[j - 1];
      --j;
    }
    bool leading_broadcast = true;
    for (size_t d = 0; d < j; ++d) leading_broadcast = leading_broadcast && merged[k][d] == 0;
    const bool contiguous = j == 0;
    const bool scalar = leading_broadcast && period == 1;
    const bool periodic = leading_broadcast && !contiguous && !scalar && period % vec == 0;
    if (scalar) scalar_mask |= 1u << k;
    if (periodic) {
      periodic_mask |= 1u << k;
      p.period[k] = period;
    }
    vectorized = vectorized && (contiguous || scalar || periodic) && is_aligned(args.in[k], 16);
  }
  p.vectorized = vectorized ? 1 : 0;
  p.scalar_mask = vectorized ? scalar_mask : 0;
  p.periodic_mask = vectorized ? periodic_mask : 0;
  return p;
}

LaunchConfig launch_config(const PointwiseSpec& spec, const rtx::kernels::PointwiseParams& params,
                           int multiprocessors) {
  LaunchConfig c;
  c.block = Dim3{static_cast<unsigned>(rtx::kernels::kPointwiseBlock), 1, 1};
  if (params.n <= 0) {
    c.grid = Dim3{0, 1, 1};
    return c;
  }
  const int64_t work = params.vectorized
                           ? std::max<int64_t>(1, params.n / pointwise_vector_width(spec))
                           : params.n;
  const int64_t block = rtx::kernels::kPointwiseBlock;
  int64_t blocks = (work + block - 1) / block;
  const int64_t cap = multiprocessors > 0 ? int64_t{multiprocessors} * 32 : 8192;
  blocks = std::clamp<int64_t>(blocks, 1, cap);
  c.grid = Dim3{static_cast<unsigned>(blocks), 1, 1};
  return c;
}

Expected<void> run(const PointwiseSpec& spec, const PointwiseArgs& args,
                   const LoadedProgram& program, void* stream, int multiprocessors) {
  auto p = make_params(spec, args);
  if (!p) return p.error();
  const LaunchConfig c = launch_config(spec, *p, multiprocessors);
  return launch(program, spec.name_expression(), c, &*p, stream);
}

}  // namespace rtx::jit::kernels
