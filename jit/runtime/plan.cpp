// SPDX-License-Identifier: Apache-2.0
// The execution plan's JSON form and its conversion from an optimized IR graph; see plan.hpp.
// Reading checks every index, kind and shape, so a plan that passed plan_from_json can be executed
// without further bounds checks.
#include "jit/runtime/plan.hpp"

#include <cmath>
#include <cstring>

#include "jit/runtime/errors.hpp"

namespace rtx::runtime {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& what) {
  throw Exception(errc::kBadPlan, "engine plan is malformed: " + what);
}

const char* kind_name(ir::ValueKind k) {
  switch (k) {
    case ir::ValueKind::kInput: return "input";
    case ir::ValueKind::kWeight: return "weight";
    case ir::ValueKind::kConstant: return "constant";
    case ir::ValueKind::kIntermediate: return "intermediate";
  }
  return "?";
}

ir::ValueKind kind_from(const std::string& s) {
  if (s == "input") return ir::ValueKind::kInput;
  if (s == "weight") return ir::ValueKind::kWeight;
  if (s == "constant") return ir::ValueKind::kConstant;
  if (s == "intermediate") return ir::ValueKind::kIntermediate;
  bad("unknown value kind '" + s + "'");
}

// Doubles: JSON has no NaN or infinity, so those are strings. Finite values print with enough
// digits to read back exactly (nlohmann writes the shortest round-trip form).
json encode_double(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  return d;
}

double decode_double(const json& j, const std::string& where) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "nan") return std::nan("");
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
  }
  bad(where + ": not a number");
}

json encode_tensor(const HostTensor& t) {
  return json{{"dtype", std::string(to_string(t.dtype()))},
              {"shape", t.shape()},
              {"data", base64_encode(t.data(), t.byte_size())}};
}

const json& member(const json& j, const char* key, const std::string& where) {
  if (!j.is_object()) bad(where + " is not an object");
  auto it = j.find(key);
  if (it == j.end()) bad(where + " has no '" + key + "'");
  return *it;
}

std::vector<int64_t> read_ints(const json& j, const std::string& where) {
  if (!j.is_array()) bad(where + " is not an array");
  std::vector<int64_t> v;
  v.reserve(j.size());
  for (const auto& x : j) {
    if (!x.is_number_integer()) bad(where + " holds a non-integer");
    v.push_back(x.get<int64_t>());
  }
  return v;
}

std::string read_string(const json& j, const std::string& where) {
  if (!j.is_string()) bad(where + " is not a string");
  return j.get<std::string>();
}

DataType read_dtype(const json& j, const std::string& where) {
  auto d = data_type_from_string(read_string(j, where));
  if (!d) bad(where + ": unknown dtype");
  return *d;
}

std::vector<int64_t> read_shape(const json& j, const std::string& where, bool allow_dynamic) {
  auto shape = read_ints(j, where);
  if (shape.size() > 32) bad(where + ": rank above 32");
  for (int64_t d : shape)
    if (d < (allow_dynamic ? ir::kDynamic : 0)) bad(where + ": bad dim " + std::to_string(d));
  return shape;
}

HostTensor decode_tensor(const json& j, const std::string& where) {
  const DataType dtype = read_dtype(member(j, "dtype", where), where + ".dtype");
  auto shape = read_shape(member(j, "shape", where), where + ".shape", false);
  HostTensor t(dtype, std::move(shape));  // throws rtx::Exception on an overflowing size
  const auto bytes = base64_decode(read_string(member(j, "data", where), where + ".data"));
  if (bytes.size() != t.byte_size())
    bad(where + ": " + std::to_string(bytes.size()) + " data bytes for " + t.describe());
  if (!bytes.empty()) std::memcpy(t.mutable_data(), bytes.data(), bytes.size());
  return t;
}

json encode_attr(const ir::AttrValue& a) {
  return std::visit(
      [](const auto& v) -> json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          return json{{"i", v}};
        } else if constexpr (std::is_same_v<T, double>) {
          return json{{"f", encode_double(v)}};
        } else if constexpr (std::is_same_v<T, std::string>) {
          return json{{"s", v}};
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          return json{{"ints", v}};
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          json arr = json::array();
          for (double d : v) arr.push_back(encode_double(d));
          return json{{"floats", arr}};
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          return json{{"strings", v}};
        } else {
          return json{{"tensor", encode_tensor(v)}};
        }
      },
      a);
}

ir::AttrValue decode_attr(const json& j, const std::string& where) {
  if (!j.is_object() || j.size() != 1) bad(where + " is not a one-key attribute object");
  const auto first = j.begin();
  const std::string& key = first.key();
  const json& v = first.value();
  if (key == "i") {
    if (!v.is_number_integer()) bad(where + ".i is not an integer");
    return v.get<int64_t>();
  }
  if (key == "f") return decode_double(v, where + ".f");
  if (key == "s") return read_string(v, where + ".s");
  if (key == "ints") return read_ints(v, where + ".ints");
  if (key == "floats") {
    if (!v.is_array()) bad(where + ".floats is not an array");
    std::vector<double> out;
    for (const auto& x : v) out.push_back(decode_double(x, where + ".floats"));
    return out;
  }
  if (key == "strings") {
    if (!v.is_array()) bad(where + ".strings is not an array");
    std::vector<std::string> out;
    for (const auto& x : v) out.push_back(read_string(x, where + ".strings"));
    return out;
  }
  if (key == "tensor") return decode_tensor(v, where + ".tensor");
  bad(where + ": unknown attribute type '" + key + "'");
}

json encode_profile(const ir::InputProfile& p) {
  return json{{"min", p.min}, {"opt", p.opt}, {"max", p.max}};
}

}  // namespace

const char* to_string(StepKind kind) {
  switch (kind) {
    case StepKind::kKernel: return "kernel";
    case StepKind::kHost: return "host";
    case StepKind::kAlias: return "alias";
    case StepKind::kCopy: return "copy";
  }
  return "?";
}

int32_t ExecutionPlan::find_value(std::string_view name) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == name) return static_cast<int32_t>(i);
  return -1;
}

// ---- base64 --------------------------------------------------------------------------------------

std::string base64_encode(const std::byte* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const uint32_t v = uint32_t(p[i]) << 16 | uint32_t(p[i + 1]) << 8 | p[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size - i == 1) {
    const uint32_t v = uint32_t(p[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (size - i == 2) {
    const uint32_t v = uint32_t(p[i]) << 16 | uint32_t(p[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::vector<std::byte> base64_decode(std::string_view text) {
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) bad("base64 text length is not a multiple of 4");
  std::vector<std::byte> out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<size_t>(k)];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0 || (v[k] = value(c)) < 0) bad("invalid base64 text");
    }
    const uint32_t w = uint32_t(v[0]) << 18 | uint32_t(v[1]) << 12 | uint32_t(v[2]) << 6 | uint32_t(v[3]);
    out.push_back(std::byte(w >> 16));
    if (pad < 2) out.push_back(std::byte((w >> 8) & 0xFF));
    if (pad < 1) out.push_back(std::byte(w & 0xFF));
  }
  return out;
}

// ---- graph -> plan -------------------------------------------------------------------------------

ExecutionPlan plan_from_graph(const ir::Graph& graph) {
  ExecutionPlan plan;
  plan.values.reserve(graph.values().size());
  for (size_t i = 0; i < graph.values().size(); ++i) {
    const ir::Value& v = graph.value(static_cast<ir::ValueId>(i));
    PlanValue pv;
    pv.name = v.name;
    pv.info = v.info;
    pv.kind = v.kind;
    if (v.kind == ir::ValueKind::kConstant || v.kind == ir::ValueKind::kWeight) {
      const HostTensor* data = graph.constant_data(static_cast<ir::ValueId>(i));
      if (data != nullptr) pv.data = *data;
    }
    plan.values.push_back(std::move(pv));
  }
  for (const ir::Node& n : graph.nodes()) {
    if (n.dead) throw Exception(errc::kInternal, "plan_from_graph needs a compacted graph");
    plan.nodes.push_back(n);
  }
  plan.inputs.assign(graph.inputs().begin(), graph.inputs().end());
  plan.outputs.assign(graph.outputs().begin(), graph.outputs().end());
  for (const auto& [name, p] : graph.profiles()) plan.profiles.emplace(name, p);
  return plan;
}

// ---- JSON ----------------------------------------------------------------------------------------

json plan_to_json(const ExecutionPlan& plan) {
  json values = json::array();
  for (const PlanValue& v : plan.values) {
    json jv{{"name", v.name},
            {"dtype", std::string(to_string(v.info.dtype))},
            {"shape", v.info.shape},
            {"kind", kind_name(v.kind)}};
    if (v.kind == ir::ValueKind::kConstant) jv["data"] = encode_tensor(v.data)["data"];
    values.push_back(std::move(jv));
  }
  json nodes = json::array();
  for (const ir::Node& n : plan.nodes) {
    json attrs = json::object();
    for (const auto& [key, a] : n.attrs) attrs[key] = encode_attr(a);
    nodes.push_back(json{{"op", std::string(ir::op_name(n.op))},
                         {"name", n.name},
                         {"inputs", n.inputs},
                         {"outputs", n.outputs},
                         {"attrs", attrs}});
  }
  json steps = json::array();
  for (const Step& s : plan.steps) {
    json js{{"kind", to_string(s.kind)}, {"nodes", s.nodes}, {"inputs", s.inputs}, {"outputs", s.outputs}};
    if (s.kind == StepKind::kKernel) {
      js["family"] = s.family;
      js["spec"] = s.spec;
      js["kernel"] = s.kernel;
      js["operands"] = s.operands;
    }
    steps.push_back(std::move(js));
  }
  json profiles = json::object();
  for (const auto& [name, p] : plan.profiles) profiles[name] = encode_profile(p);
  return json{{"format", kPlanFormat},
              {"values", values},
              {"nodes", nodes},
              {"inputs", plan.inputs},
              {"outputs", plan.outputs},
              {"profiles", profiles},
              {"steps", steps},
              {"streamable", plan.streamable}};
}

ExecutionPlan plan_from_json(const json& j) {
  if (!j.is_object()) bad("'plan' is not an object");
  const json& format = member(j, "format", "plan");
  if (!format.is_number_integer() || format.get<int64_t>() < 1)
    bad("plan.format is not a positive integer");
  if (format.get<int64_t>() > kPlanFormat)
    bad("plan format " + std::to_string(format.get<int64_t>()) + " is newer than this library's (" +
        std::to_string(kPlanFormat) + ")");
  ExecutionPlan plan;
  const json& values = member(j, "values", "plan");
  if (!values.is_array()) bad("plan.values is not an array");
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string where = "plan.values[" + std::to_string(i) + "]";
    const json& jv = values[i];
    PlanValue v;
    v.name = read_string(member(jv, "name", where), where + ".name");
    v.info.dtype = read_dtype(member(jv, "dtype", where), where + ".dtype");
    v.info.shape = read_shape(member(jv, "shape", where), where + ".shape", true);
    v.kind = kind_from(read_string(member(jv, "kind", where), where + ".kind"));
    if (v.kind == ir::ValueKind::kConstant) {
      if (!v.info.is_static()) bad(where + ": a constant with dynamic dims");
      json t{{"dtype", jv["dtype"]}, {"shape", jv["shape"]}, {"data", member(jv, "data", where)}};
      v.data = decode_tensor(t, where);
    }
    plan.values.push_back(std::move(v));
  }
  const auto n_values = static_cast<int64_t>(plan.values.size());
  const auto check_value = [&](int64_t id, const std::string& where, bool allow_absent) {
    if (allow_absent && id == ir::kNoValue) return;
    if (id < 0 || id >= n_values) bad(where + ": value id " + std::to_string(id) + " out of range");
  };
  const json& nodes = member(j, "nodes", "plan");
  if (!nodes.is_array()) bad("plan.nodes is not an array");
  std::vector<int32_t> producer(plan.values.size(), -1);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string where = "plan.nodes[" + std::to_string(i) + "]";
    const json& jn = nodes[i];
    ir::Node n;
    const std::string op = read_string(member(jn, "op", where), where + ".op");
    auto kind = ir::op_from_name(op);
    if (!kind) bad(where + ": unknown op '" + op + "'");
    n.op = *kind;
    n.name = read_string(member(jn, "name", where), where + ".name");
    for (int64_t v : read_ints(member(jn, "inputs", where), where + ".inputs")) {
      check_value(v, where + ".inputs", true);
      n.inputs.push_back(static_cast<ir::ValueId>(v));
    }
    for (int64_t v : read_ints(member(jn, "outputs", where), where + ".outputs")) {
      check_value(v, where + ".outputs", true);
      if (v == ir::kNoValue) {
        n.outputs.push_back(ir::kNoValue);
        continue;
      }
      if (producer[static_cast<size_t>(v)] >= 0) bad(where + ": value " + std::to_string(v) + " has two producers");
      if (plan.values[static_cast<size_t>(v)].kind != ir::ValueKind::kIntermediate)
        bad(where + ": writes a value that is not an intermediate");
      producer[static_cast<size_t>(v)] = static_cast<int32_t>(i);
      n.outputs.push_back(static_cast<ir::ValueId>(v));
    }
    const json& attrs = member(jn, "attrs", where);
    if (!attrs.is_object()) bad(where + ".attrs is not an object");
    for (const auto& [key, a] : attrs.items()) n.attrs.emplace(key, decode_attr(a, where + ".attrs." + key));
    plan.nodes.push_back(std::move(n));
  }
  for (size_t v = 0; v < plan.values.size(); ++v)
    if (plan.values[v].kind == ir::ValueKind::kIntermediate && producer[v] < 0)
      bad("plan.values[" + std::to_string(v) + "] is an intermediate no node produces");
  for (const char* key : {"inputs", "outputs"}) {
    auto& list = std::string_view(key) == "inputs" ? plan.inputs : plan.outputs;
    for (int64_t v : read_ints(member(j, key, "plan"), std::string("plan.") + key)) {
      check_value(v, std::string("plan.") + key, false);
      list.push_back(static_cast<int32_t>(v));
    }
  }
  for (int32_t v : plan.inputs)
    if (plan.values[static_cast<size_t>(v)].kind != ir::ValueKind::kInput)
      bad("plan.inputs names a value that is not an input");
  const json& profiles = member(j, "profiles", "plan");
  if (!profiles.is_object()) bad("plan.profiles is not an object");
  for (const auto& [name, p] : profiles.items()) {
    const std::string where = "plan.profiles." + name;
    ir::InputProfile ip;
    ip.min = read_shape(member(p, "min", where), where + ".min", false);
    ip.opt = read_shape(member(p, "opt", where), where + ".opt", false);
    ip.max = read_shape(member(p, "max", where), where + ".max", false);
    const int32_t v = plan.find_value(name);
    if (v < 0 || plan.values[static_cast<size_t>(v)].kind != ir::ValueKind::kInput) bad(where + ": not an input");
    const auto& shape = plan.values[static_cast<size_t>(v)].info.shape;
    if (ip.min.size() != shape.size() || ip.opt.size() != shape.size() || ip.max.size() != shape.size())
      bad(where + ": rank differs from the input's");
    for (size_t d = 0; d < shape.size(); ++d)
      if (ip.min[d] > ip.opt[d] || ip.opt[d] > ip.max[d]) bad(where + ": min <= opt <= max does not hold");
    plan.profiles.emplace(name, std::move(ip));
  }
  const json& steps = member(j, "steps", "plan");
  if (!steps.is_array()) bad("plan.steps is not an array");
  const auto n_nodes = static_cast<int64_t>(plan.nodes.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string where = "plan.steps[" + std::to_string(i) + "]";
    const json& js = steps[i];
    Step s;
    const std::string kind = read_string(member(js, "kind", where), where + ".kind");
    if (kind == "kernel") s.kind = StepKind::kKernel;
    else if (kind == "host") s.kind = StepKind::kHost;
    else if (kind == "alias") s.kind = StepKind::kAlias;
    else if (kind == "copy") s.kind = StepKind::kCopy;
    else bad(where + ": unknown step kind '" + kind + "'");
    for (int64_t n : read_ints(member(js, "nodes", where), where + ".nodes")) {
      if (n < 0 || n >= n_nodes) bad(where + ".nodes: node id " + std::to_string(n) + " out of range");
      s.nodes.push_back(static_cast<int32_t>(n));
    }
    for (int64_t v : read_ints(member(js, "inputs", where), where + ".inputs")) {
      check_value(v, where + ".inputs", false);
      s.inputs.push_back(static_cast<int32_t>(v));
    }
    for (int64_t v : read_ints(member(js, "outputs", where), where + ".outputs")) {
      check_value(v, where + ".outputs", false);
      s.outputs.push_back(static_cast<int32_t>(v));
    }
    if ((s.kind == StepKind::kAlias || s.kind == StepKind::kCopy) && (s.inputs.size() != 1 || s.outputs.size() != 1))
      bad(where + ": an alias or copy step has exactly one input (the data) and one output");
    if (s.kind != StepKind::kCopy && s.nodes.empty()) bad(where + " covers no node");
    if (s.kind == StepKind::kKernel) {
      s.family = read_string(member(js, "family", where), where + ".family");
      s.spec = member(js, "spec", where);
      const json& k = member(js, "kernel", where);
      if (!k.is_number_integer() || k.get<int64_t>() < 0) bad(where + ".kernel is not an index");
      s.kernel = static_cast<int32_t>(k.get<int64_t>());
      const json& ops = member(js, "operands", where);
      if (!ops.is_object()) bad(where + ".operands is not an object");
      for (const auto& [role, v] : ops.items()) {
        if (!v.is_number_integer()) bad(where + ".operands." + role + " is not a value id");
        check_value(v.get<int64_t>(), where + ".operands." + role, false);
        s.operands.emplace(role, static_cast<int32_t>(v.get<int64_t>()));
      }
    }
    plan.steps.push_back(std::move(s));
  }
  if (auto it = j.find("streamable"); it != j.end()) {
    for (int64_t v : read_ints(*it, "plan.streamable")) {
      check_value(v, "plan.streamable", false);
      if (plan.values[static_cast<size_t>(v)].kind != ir::ValueKind::kWeight)
        bad("plan.streamable names a value that is not a weight");
      plan.streamable.push_back(static_cast<int32_t>(v));
    }
  }
  return plan;
}

}  // namespace rtx::runtime
