// SPDX-License-Identifier: Apache-2.0
// ONNX backend node-test conformance: for each test folder (model.onnx + test_data_set_N/
// input_K.pb, output_K.pb) parse the model with rtx's ONNX parser, run the reference evaluator on
// the inputs and compare with the expected outputs using the ONNX backend runner's tolerances
// (|got - want| <= atol + rtol * |want|, rtol 1e-3, atol 1e-7, NaN equals NaN; integers exact).
// Tests outside rtx's scope (training, random, sequence/map/optional, strings, data types rtx
// does not have, operators not in the IR) are skipped with the reason. Results are grouped by
// the op under test and its IR family; a family shard exits non-zero when an in-scope test
// fails that is not on the expected-failures list (known evaluator gaps, each with its reason),
// and says so when a family passes below the 99% goal. A skip list names tests whose data is
// wrong or that pin behaviour the ONNX spec leaves undefined, each with the reason.
//
// With --backend gpu (suite 'gpu'; exits 77 without a GPU) each model is instead built into an
// engine for this GPU (kCURRENT) and run there; a pass whose engine runs some node on the host
// (planned, or a kernel falling back) is listed as HOST and counted apart, so the summary says
// how many tests ran entirely on the GPU.
//
//   conformance_runner --root NAME=DIR [--root ...] [--family F|all] [--filter S]
//                      [--expected-failures FILE] [--skip-list FILE] [--markdown FILE]
//                      [--backend reference|gpu] [--verbose] [--dump]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "ir/onnx/model_io.hpp"
#include "ir/onnx/proto.hpp"
#include "ir/onnx/tensor_proto.hpp"
#include "ir/onnx_dtype.hpp"
#include "ir/reference.hpp"
#include "jit/device.hpp"
#include "jit/gating.hpp"
#include "rtx/builder.hpp"
#include "rtx/onnx.hpp"
#include "rtx/runtime.hpp"

namespace fs = std::filesystem;
using namespace rtx;

namespace {

constexpr double kRtol = 1e-3;
bool g_dump = false;  // --dump: print each imported graph
bool g_gpu = false;   // --backend gpu: run engines on the GPU instead of the reference evaluator
constexpr double kAtol = 1e-7;

enum class Outcome { kPass, kFail, kSkip };

struct Result {
  std::string root;
  std::string name;
  std::string op;
  std::string family;
  Outcome outcome = Outcome::kSkip;
  std::string reason;
  bool expected_failure = false;
  std::string host;  ///< --backend gpu: what ran on the host (empty: everything on the GPU)
};

// ---- families ---------------------------------------------------------------------------------

const std::map<std::string, std::string>& family_table() {
  static const std::map<std::string, std::string> t = [] {
    std::map<std::string, std::string> m;
    const auto put = [&](const char* fam, std::initializer_list<const char*> ops) {
      for (const char* o : ops) m[o] = fam;
    };
    put("elementwise",
        {"Relu", "LeakyRelu", "Sigmoid",    "Tanh", "Erf",         "Gelu",    "Exp",
         "Log",  "Sqrt",      "Reciprocal", "Neg",  "Abs",         "Floor",   "Ceil",
         "Sin",  "Cos",       "Clip",       "Not",  "IsNaN",       "IsInf",   "Identity",
         "Cast", "Add",       "Sub",        "Mul",  "Div",         "Pow",     "Max",
         "Min",  "Mod",       "Equal",      "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
         "And",  "Or",        "Xor",        "Where"});
    put("linalg", {"MatMul", "Gemm", "Attention"});
    put("conv", {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "Resize"});
    put("reduction", {"BatchNormalization", "LayerNormalization", "RMSNormalization", "Softmax",
                      "LogSoftmax", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                      "ReduceProd", "ArgMax", "ArgMin", "CumSum"});
    put("shape", {"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Concat", "Split",
                  "Slice", "Gather", "GatherElements", "Expand", "Tile", "Pad", "Shape", "Size",
                  "ConstantOfShape", "Range", "Constant", "Trilu"});
    put("quantization", {"QuantizeLinear", "DequantizeLinear"});
    // Ops outside the IR that the parser imports as exact compositions of IR ops.
    put("composite", {"CastLike",
                      "Sum",
                      "Mean",
                      "Swish",
                      "PRelu",
                      "Elu",
                      "Selu",
                      "HardSigmoid",
                      "HardSwish",
                      "Softsign",
                      "Softplus",
                      "ThresholdedRelu",
                      "Sign",
                      "GlobalMaxPool",
                      "Upsample",
                      "Dropout",
                      "ReduceL1",
                      "ReduceL2",
                      "ReduceSumSquare",
                      "ReduceLogSum",
                      "ReduceLogSumExp"});
    return m;
  }();
  return t;
}

std::string family_of(const std::string& op) {
  auto it = family_table().find(op);
  return it == family_table().end() ? "other" : it->second;
}

std::string normalize(const std::string& s) {
  std::string o;
  for (char c : s)
    if (c != '_') o += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

// ---- test inspection --------------------------------------------------------------------------

struct ModelInfo {
  std::vector<std::string> ops;  // op types of top-level nodes, in order
  std::string skip;              // non-empty: out of scope, with the reason
};

bool is_tensor_type(const rtx::onnx::pb::TypeProto& t) {
  return t.has_tensor_type();
}

ModelInfo inspect(const rtx::onnx::pb::ModelProto& m, const std::string& test_name) {
  ModelInfo info;
  const auto& g = m.graph();
  std::set<std::string> unsupported, domains;
  static const std::set<std::string> kRandom = {"RandomNormal",     "RandomUniform",
                                                "RandomNormalLike", "RandomUniformLike",
                                                "Multinomial",      "Bernoulli"};
  static const std::set<std::string> kTraining = {"Adagrad", "Adam", "Momentum", "Gradient"};
  std::set<std::string> local_functions;
  for (const auto& f : m.functions()) local_functions.insert(f.domain() + ":" + f.name());
  bool random = false, training = test_name.find("training") != std::string::npos, sequence = false;
  for (const auto& n : g.node()) {
    info.ops.push_back(n.op_type());
    const std::string domain = n.domain() == "ai.onnx" ? "" : n.domain();
    if (kRandom.count(n.op_type())) random = true;
    if (kTraining.count(n.op_type()) || domain == "ai.onnx.preview.training") training = true;
    if (n.op_type().find("Sequence") != std::string::npos ||
        n.op_type().find("Optional") != std::string::npos)
      sequence = true;
    for (const auto& a : n.attribute())
      if (a.name() == "training_mode" && a.i() != 0) training = true;
    if (local_functions.count(n.domain() + ":" + n.op_type())) continue;
    if (!domain.empty()) {
      domains.insert(domain);
      continue;
    }
    int64_t opset = 0;
    for (const auto& o : m.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
    if (!rtx::onnx::Parser::supports_operator(n.op_type(), opset)) unsupported.insert(n.op_type());
  }
  std::set<std::string> bad_types;
  bool strings = false, non_tensor = false;
  const auto check_value = [&](const rtx::onnx::pb::ValueInfoProto& v) {
    if (!is_tensor_type(v.type())) {
      non_tensor = true;
      return;
    }
    const int64_t t = v.type().tensor_type().elem_type();
    if (t == 8)
      strings = true;
    else if (!ir::data_type_from_onnx(t))
      bad_types.insert(ir::onnx_type_name(t));
  };
  for (const auto& v : g.input()) check_value(v);
  for (const auto& v : g.output()) check_value(v);
  if (training)
    info.skip = "training";
  else if (random)
    info.skip = "random";
  else if (non_tensor || sequence)
    info.skip = "sequence/map/optional types";
  else if (strings)
    info.skip = "string tensors";
  else if (!domains.empty())
    info.skip = "domain " + *domains.begin();
  else if (!bad_types.empty()) {
    std::string s;
    for (const auto& t : bad_types) s += (s.empty() ? "" : ", ") + t;
    info.skip = "data type not in rtx: " + s;
  } else if (!unsupported.empty()) {
    std::string s;
    for (const auto& t : unsupported) s += (s.empty() ? "" : ", ") + t;
    info.skip = "op not in the IR: " + s;
  }
  return info;
}

std::string strip_expanded(const std::string& name) {
  const auto p = name.find("_expanded");
  return p == std::string::npos ? name : name.substr(0, p);
}

std::string primary_op(const std::string& test, const std::vector<std::string>& ops) {
  std::vector<std::string> distinct;
  for (const auto& o : ops)
    if (std::find(distinct.begin(), distinct.end(), o) == distinct.end()) distinct.push_back(o);
  std::vector<std::string> non_const;
  for (const auto& o : distinct)
    if (o != "Constant") non_const.push_back(o);
  if (non_const.size() == 1) return non_const[0];
  if (non_const.empty()) return distinct.empty() ? "?" : distinct[0];
  const std::string t = normalize(test.substr(5));
  std::string best;
  for (const auto& o : non_const) {
    const std::string n = normalize(o);
    if (t.rfind(n, 0) == 0 && n.size() > best.size()) best = o;
  }
  return best.empty() ? non_const[0] : best;
}

// ---- running one test -------------------------------------------------------------------------

/// The network built into an engine for this GPU and run on `inputs` (static profiles at their
/// shapes); `host` collects the nodes the engine ran on the host.
ir::TensorMap run_on_gpu(Network& net, const ir::TensorMap& inputs, std::string& host) {
  for (const auto& [name, t] : inputs) net.set_profile(name, t.shape(), t.shape(), t.shape());
  BuilderConfig config;
  config.set_compute_capabilities({ComputeCapability::kCURRENT});
  const auto note = [&](const std::string& what) { host += (host.empty() ? "" : ", ") + what; };
  BuildReport report;
  auto blob = Builder().build_serialized_network(net, config, &report);
  if (!blob) throw Exception(blob.error());
  for (const auto& op : report.host_ops) note(op + " planned on the host");
  auto engine = Runtime().deserialize(blob->bytes());
  if (!engine) throw Exception(engine.error());
  auto ctx = engine->create_execution_context();
  if (!ctx) throw Exception(ctx.error());
  auto outs = ctx->infer(std::map<std::string, HostTensor>(inputs.begin(), inputs.end()));
  if (!outs) throw Exception(outs.error());
  for (const auto& why : ctx->host_fallbacks()) note(why);
  return ir::TensorMap(outs->begin(), outs->end());
}

std::vector<uint8_t> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
}

/// Reads a TensorProto file. ONNX releases before bfloat16 had a numpy type stored bfloat16 test
/// data as UINT16 bit patterns: with `declared` bf16, such data is read as bf16.
HostTensor read_tensor(const fs::path& p, int64_t declared) {
  auto bytes = read_file(p);
  auto proto = std::make_shared<rtx::onnx::pb::TensorProto>();
  if (!proto->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw Exception("rtx.onnx.102", p.filename().string() + " is not a valid TensorProto");
  if (proto->data_type() == 4 && declared == 16) proto->set_data_type(16);
  return rtx::onnx::tensor_from_proto(*proto, proto, nullptr, p.filename().string()).clone();
}

/// Empty string when equal within tolerance, else what differs.
std::string compare(const HostTensor& got, const HostTensor& want) {
  if (got.dtype() != want.dtype())
    return "dtype " + std::string(to_string(got.dtype())) + ", want " +
           std::string(to_string(want.dtype()));
  if (got.shape() != want.shape())
    return "shape " + shape_to_string(got.shape()) + ", want " + shape_to_string(want.shape());
  const int64_t n = want.element_count();
  int64_t bad = 0, first = -1;
  double worst = 0;
  const bool ints = !is_floating(want.dtype());
  for (int64_t i = 0; i < n; ++i) {
    bool ok;
    if (ints) {
      ok = got.get_int(i) == want.get_int(i);
    } else {
      const double g = got.get_double(i), w = want.get_double(i);
      if (std::isnan(w) || std::isnan(g))
        ok = std::isnan(w) && std::isnan(g);
      else if (std::isinf(w) || std::isinf(g))
        ok = g == w;
      else {
        const double err = std::fabs(g - w);
        ok = err <= kAtol + kRtol * std::fabs(w);
        if (!ok) worst = std::max(worst, err / (kAtol + kRtol * std::fabs(w)));
      }
    }
    if (!ok) {
      ++bad;
      if (first < 0) first = i;
    }
  }
  if (!bad) return {};
  std::ostringstream o;
  o << bad << " of " << n << " elements differ; first at " << first << ": got "
    << got.get_double(first) << ", want " << want.get_double(first);
  if (worst > 0) o << " (worst error " << worst << "x the tolerance)";
  return o.str();
}

void run_test(const fs::path& dir, Result& r) {
  rtx::onnx::LoadedModel m;
  try {
    m = rtx::onnx::load_model_file(dir / "model.onnx");
  } catch (const Exception& e) {
    r.outcome = Outcome::kFail;
    r.reason = "cannot read model: " + e.error().to_string();
    return;
  }
  const ModelInfo info = inspect(*m.proto, r.name);
  if (!info.skip.empty()) {
    r.outcome = Outcome::kSkip;
    r.reason = info.skip;
    return;
  }
  rtx::onnx::Parser parser;
  auto net = parser.parse_from_file((dir / "model.onnx").string());
  if (!net) {
    r.outcome = Outcome::kFail;
    r.reason = "parse: " + net.error().to_string();
    return;
  }
  const ir::Graph& g = detail::graph_of(*net);
  if (g_dump) std::cout << "---- " << r.root << "/" << r.name << "\n" << g.to_text();
  // Inputs and outputs pair with the model's declared ones by position (initializers excluded).
  std::vector<std::string> in_names, out_names;
  std::vector<int64_t> in_types, out_types;
  std::set<std::string> inits;
  for (const auto& t : m.proto->graph().initializer()) inits.insert(t.name());
  for (const auto& v : m.proto->graph().input())
    if (!inits.count(v.name())) {
      in_names.push_back(v.name());
      in_types.push_back(v.type().tensor_type().elem_type());
    }
  for (const auto& v : m.proto->graph().output()) {
    out_names.push_back(v.name());
    out_types.push_back(v.type().tensor_type().elem_type());
  }

  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) {
    r.outcome = Outcome::kSkip;
    r.reason = "no test data";
    return;
  }
  for (const auto& set : sets) {
    ir::TensorMap inputs;
    for (size_t k = 0; k < in_names.size(); ++k) {
      const fs::path p = set / ("input_" + std::to_string(k) + ".pb");
      if (!fs::exists(p)) continue;  // an omitted optional input
      try {
        inputs[in_names[k]] = read_tensor(p, in_types[k]);
      } catch (const Exception& e) {
        r.outcome = Outcome::kSkip;
        r.reason = "input data: " + e.error().message;
        return;
      }
    }
    // An input declared by the model but never read by the graph is not a graph input in rtx.
    for (auto it = inputs.begin(); it != inputs.end();) {
      const ir::ValueId v = g.find_value(it->first);
      it = (v == ir::kNoValue || g.value(v).kind != ir::ValueKind::kInput) ? inputs.erase(it)
                                                                           : std::next(it);
    }
    ir::TensorMap outs;
    try {
      outs = g_gpu ? run_on_gpu(*net, inputs, r.host) : ir::evaluate(g, inputs);
    } catch (const Exception& e) {
      // A type this GPU cannot run (FP4 before Blackwell) is the gating rule working: not in scope here.
      if (g_gpu && e.error().id == jit::gating_errc::kUnsupportedTarget) {
        r.outcome = Outcome::kSkip;
        r.reason = "this GPU cannot run the test's types (" + e.error().message.substr(0, 120) + ")";
        return;
      }
      r.outcome = Outcome::kFail;
      r.reason = set.filename().string() + (g_gpu ? ": engine: " : ": evaluate: ") + e.error().to_string();
      return;
    }
    for (size_t k = 0; k < out_names.size(); ++k) {
      const fs::path p = set / ("output_" + std::to_string(k) + ".pb");
      if (!fs::exists(p)) continue;
      HostTensor want;
      try {
        want = read_tensor(p, out_types[k]);
      } catch (const Exception& e) {
        r.outcome = Outcome::kSkip;
        r.reason = "output data: " + e.error().message;
        return;
      }
      auto it = outs.find(out_names[k]);
      if (it == outs.end()) {
        r.outcome = Outcome::kFail;
        r.reason = "output '" + out_names[k] + "' missing";
        return;
      }
      const std::string diff = compare(it->second, want);
      if (!diff.empty()) {
        r.outcome = Outcome::kFail;
        r.reason = set.filename().string() + " output '" + out_names[k] + "': " + diff;
        return;
      }
    }
  }
  r.outcome = Outcome::kPass;
}

// ---- reporting --------------------------------------------------------------------------------

struct Counts {
  int pass = 0, fail = 0, skip = 0;
  std::set<std::string> skip_reasons;
  double rate() const { return pass + fail ? 100.0 * pass / (pass + fail) : 100.0; }
};

std::string short_reason(const std::string& r) {
  // Group "op not in the IR: X" reasons as such in tables.
  return r.size() > 80 ? r.substr(0, 77) + "..." : r;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::pair<std::string, fs::path>> roots;
  std::string family = "all", filter, markdown, expected_path, skip_path;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value after " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--root") {
      const std::string v = next();
      const auto eq = v.find('=');
      if (eq == std::string::npos)
        roots.emplace_back(fs::path(v).filename().string(), v);
      else
        roots.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (a == "--family")
      family = next();
    else if (a == "--filter")
      filter = next();
    else if (a == "--markdown")
      markdown = next();
    else if (a == "--expected-failures")
      expected_path = next();
    else if (a == "--skip-list")
      skip_path = next();
    else if (a == "--verbose")
      verbose = true;
    else if (a == "--dump")
      g_dump = true;
    else if (a == "--backend") {
      const std::string b = next();
      if (b != "reference" && b != "gpu") {
        std::cerr << "--backend takes reference or gpu, not '" << b << "'\n";
        return 2;
      }
      g_gpu = b == "gpu";
    }
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  // "root/test  # reason" lines; '#' at the start of a line is a comment.
  const auto read_list = [](const std::string& path) {
    std::map<std::string, std::string> out;
    if (path.empty()) return out;
    std::ifstream f(path);
    if (!f) {
      std::cerr << "cannot read " << path << "\n";
      std::exit(2);
    }
    std::string line;
    while (std::getline(f, line)) {
      if (line.empty() || line[0] == '#') continue;
      const auto hash = line.find('#');
      std::string name = line.substr(0, line.find_first_of(" \t#"));
      std::string reason = hash == std::string::npos ? std::string() : line.substr(hash + 1);
      while (!reason.empty() && reason.front() == ' ') reason.erase(reason.begin());
      if (!name.empty()) out[name] = reason;
    }
    return out;
  };
  std::map<std::string, std::string> expected = read_list(expected_path);
  const std::map<std::string, std::string> skipped = read_list(skip_path);

  if (g_gpu) {
    auto dev = jit::device_info(0);
    if (!dev) {
      std::printf("SKIP: no usable GPU here (%s)\n", dev.error().to_string().c_str());
      return 77;
    }
    std::printf("backend: engines for GPU 0, %s (compute capability %d.%d)\n", dev->name.c_str(), dev->cc_major,
                dev->cc_minor);
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Result> results;
  int roots_found = 0;
  for (const auto& [label, dir] : roots) {
    if (dir.empty() || !fs::is_directory(dir)) {
      std::cout << "SKIP root " << label << ": "
                << (dir.empty() ? std::string("not configured")
                                : "'" + dir.string() + "' not found")
                << " (newer-opset node tests come with the PyPI onnx package: pip install "
                   "onnx==1.22.0)\n";
      continue;
    }
    ++roots_found;
    std::vector<fs::path> tests;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && fs::exists(e.path() / "model.onnx")) tests.push_back(e.path());
    std::sort(tests.begin(), tests.end());
    // First pass: the op under test of every model (expanded tests take their sibling's op).
    std::map<std::string, std::string> op_of;
    std::map<std::string, std::vector<std::string>> ops_of;
    for (const auto& t : tests) {
      const std::string name = t.filename().string();
      try {
        auto m = rtx::onnx::load_model_file(t / "model.onnx");
        for (const auto& n : m.proto->graph().node()) ops_of[name].push_back(n.op_type());
      } catch (const Exception&) {
      }
      op_of[name] = primary_op(name, ops_of[name]);
    }
    for (const auto& t : tests) {
      const std::string name = t.filename().string();
      if (!filter.empty() && name.find(filter) == std::string::npos) continue;
      Result r;
      r.root = label;
      r.name = name;
      const std::string base = strip_expanded(name);
      r.op = (base != name && op_of.count(base)) ? op_of[base] : op_of[name];
      r.family = family_of(r.op);
      if (family != "all" && r.family != family) continue;
      const std::string key = label + "/" + name;
      if (auto sk = skipped.find(key); sk != skipped.end()) {
        r.outcome = Outcome::kSkip;
        r.reason = sk->second;
        results.push_back(r);
        continue;
      }
      try {
        run_test(t, r);
      } catch (const std::exception& e) {
        r.outcome = Outcome::kFail;
        r.reason = std::string("exception: ") + e.what();
      }
      if (r.outcome == Outcome::kFail && expected.count(key)) r.expected_failure = true;
      if (r.outcome == Outcome::kPass && expected.count(key))
        std::cout << "XPASS " << key
                  << " (listed as an expected failure: remove it from the list)\n";
      results.push_back(r);
    }
  }
  if (!roots_found) {
    std::cout << "SKIP: no node-test folder found\n";
    return 77;
  }

  // Per-op and per-family counts.
  std::map<std::string, Counts> by_op, by_family;
  Counts total;
  for (const auto& r : results) {
    for (Counts* c : {&by_op[r.op], &by_family[r.family], &total}) {
      if (r.outcome == Outcome::kPass)
        ++c->pass;
      else if (r.outcome == Outcome::kFail)
        ++c->fail;
      else {
        ++c->skip;
        c->skip_reasons.insert(r.reason);
      }
    }
  }
  int unexpected = 0;
  for (const auto& r : results) {
    if (r.outcome == Outcome::kFail) {
      std::cout << (r.expected_failure ? "XFAIL " : "FAIL  ") << r.root << "/" << r.name << " ["
                << r.op << "]: " << r.reason;
      if (r.expected_failure) std::cout << "  (expected:" << expected[r.root + "/" + r.name] << ")";
      std::cout << "\n";
      unexpected += !r.expected_failure;
    } else if (r.outcome == Outcome::kPass && !r.host.empty()) {
      std::cout << "HOST  " << r.root << "/" << r.name << " [" << r.op << "]: passes, but ran on the host: " << r.host
                << "\n";
    } else if (verbose) {
      std::cout << (r.outcome == Outcome::kPass ? "PASS  " : "SKIP  ") << r.root << "/" << r.name
                << " [" << r.op << "]" << (r.reason.empty() ? "" : ": " + r.reason) << "\n";
    }
  }
  std::printf("\n%-22s %-13s %5s %5s %5s %7s\n", "op", "family", "pass", "fail", "skip", "pass%");
  for (const auto& [op, c] : by_op) {
    std::printf("%-22s %-13s %5d %5d %5d %6.1f%%", op.c_str(), family_of(op).c_str(), c.pass,
                c.fail, c.skip, c.rate());
    if (c.pass + c.fail == 0 && !c.skip_reasons.empty())
      std::printf("  skipped: %s", short_reason(*c.skip_reasons.begin()).c_str());
    std::printf("\n");
  }
  std::printf("\n%-13s %5s %5s %5s %7s\n", "family", "pass", "fail", "skip", "pass%");
  for (const auto& [f, c] : by_family)
    std::printf("%-13s %5d %5d %5d %6.1f%%\n", f.c_str(), c.pass, c.fail, c.skip, c.rate());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%-13s %5d %5d %5d %6.1f%%   (%.1f s)\n", "total", total.pass, total.fail, total.skip,
              total.rate(), secs);

  if (!markdown.empty()) {
    std::ofstream md(markdown);
    md << "| op | family | pass | fail | skipped | pass % | skip reason "
          "|\n|---|---|---:|---:|---:|---:|---|\n";
    for (const auto& [op, c] : by_op) {
      // Reasons by category ("data type not in rtx: UINT16" -> "data type not in rtx").
      std::set<std::string> kinds;
      for (const auto& r : c.skip_reasons) kinds.insert(r.substr(0, r.find(':')));
      std::string reasons;
      for (const auto& k : kinds) reasons += (reasons.empty() ? "" : "; ") + k;
      char rate[16];
      std::snprintf(rate, sizeof rate, "%.1f", c.rate());
      md << "| " << op << " | " << family_of(op) << " | " << c.pass << " | " << c.fail << " | "
         << c.skip << " | " << (c.pass + c.fail ? rate : "-") << " | " << reasons << " |\n";
    }
    md << "\n| family | pass | fail | skipped | pass % |\n|---|---:|---:|---:|---:|\n";
    for (const auto& [f, c] : by_family) {
      char rate[16];
      std::snprintf(rate, sizeof rate, "%.1f", c.rate());
      md << "| " << f << " | " << c.pass << " | " << c.fail << " | " << c.skip << " | " << rate
         << " |\n";
    }
    char rate[16];
    std::snprintf(rate, sizeof rate, "%.1f", total.rate());
    md << "| **total** | " << total.pass << " | " << total.fail << " | " << total.skip << " | "
       << rate << " |\n";
  }

  // The shard fails on any failure not on the expected-failures list (each entry there names the
  // evaluator gap behind it); a family below the 99% goal is reported loudly either way.
  for (const auto& [f, c] : by_family)
    if (f != "other" && c.rate() < 99.0)
      std::printf("NOTE: family %s passes %.1f%% of its in-scope tests, below the 99%% goal\n",
                  f.c_str(), c.rate());
  if (g_gpu) {
    int on_gpu = 0;
    for (const auto& r : results) on_gpu += r.outcome == Outcome::kPass && r.host.empty();
    std::printf("GPU: %d of %d passing tests ran every node on the GPU (HOST lines: the others)\n", on_gpu, total.pass);
  }
  if (unexpected) std::printf("%d unexpected failure(s)\n", unexpected);
  return unexpected == 0 ? 0 : 1;
}
