// SPDX-License-Identifier: Apache-2.0
// `rtx inspect` (see inspect.hpp).
#include "tools/rtx/inspect.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "ir/graph.hpp"
#include "rtx/network.hpp"
#include "rtx/onnx.hpp"
#include "rtx/runtime.hpp"
#include "serialization/byte_io.hpp"
#include "serialization/engine_model.hpp"
#include "serialization/reader.hpp"
#include "tools/rtx/errors.hpp"
#include "tools/rtx/options.hpp"

namespace rtx::cli {
namespace {

using nlohmann::json;
namespace ser = rtx::serialization;

std::vector<uint8_t> read_prefix(const std::string& path, size_t n, uint64_t* file_size) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  *file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  std::vector<uint8_t> bytes(std::min<uint64_t>(n, *file_size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!in) return {};
  return bytes;
}

std::string hex64(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof(b), "0x%016llx", static_cast<unsigned long long>(v));
  return b;
}
std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof(b), "0x%08x", v);
  return b;
}

json flag_names(uint16_t flags) {
  json a = json::array();
  if (flags & static_cast<uint16_t>(ser::EngineFlag::kWEIGHTS_STRIPPED))
    a.push_back("weights stripped");
  if (flags & static_cast<uint16_t>(ser::EngineFlag::kREFITTABLE)) a.push_back("refittable");
  if (flags & static_cast<uint16_t>(ser::EngineFlag::kWEIGHT_STREAMING))
    a.push_back("weight streaming");
  if (flags & static_cast<uint16_t>(ser::EngineFlag::kPTX_PRESENT)) a.push_back("PTX present");
  return a;
}

json header_json(const ser::EngineHeader& h) {
  json cubins = json::array();
  for (size_t i = 0; i < ser::kCubinMaskTargets.size(); ++i) {
    if (h.cubin_cc_mask & (1u << i)) cubins.push_back(ser::kCubinMaskTargets[i]);
  }
  return {
      {"format_version", h.format_version},
      {"library_version", h.library_version.to_string()},
      {"flags", flag_names(h.flags)},
      {"flags_raw", h.flags},
      {"cubin_compute_capabilities", cubins},
      {"cubin_cc_mask", hex32(h.cubin_cc_mask)},
      {"min_ptx_compute_capability", h.min_ptx_cc},
      {"min_driver_version", cuda_version_string(h.min_driver_version)},
      {"min_runtime_version", cuda_version_string(h.min_runtime_version)},
      {"device_memory_bytes", h.device_memory_bytes},
      {"streamable_weight_bytes", h.streamable_weight_bytes},
      {"section_count", h.section_count},
      {"file_size", h.file_size},
  };
}

json sections_json(std::span<const uint8_t> bytes, const ser::EngineHeader& h) {
  json a = json::array();
  for (uint32_t i = 0; i < h.section_count; ++i) {
    const uint64_t at = ser::kHeaderSize + uint64_t(i) * ser::kSectionEntrySize;
    if (at + ser::kSectionEntrySize > bytes.size()) break;
    const uint8_t* p = bytes.data() + at;
    a.push_back({{"tag", ser::tag_name(static_cast<uint32_t>(ser::detail::load_le(p, 4)))},
                 {"offset", ser::detail::load_le(p + 8, 8)},
                 {"size", ser::detail::load_le(p + 16, 8)},
                 {"crc32c", hex32(static_cast<uint32_t>(ser::detail::load_le(p + 24, 4)))}});
  }
  return a;
}

json diagnostics_list(uint64_t mask) {
  json a = json::array();
  if (mask == 0) return a;
  std::string s = describe_diagnostics(mask);
  size_t start = 0;
  while (true) {
    // Names contain ", " only as separators except inside parentheses.
    size_t pos = start;
    int depth = 0;
    for (; pos < s.size(); ++pos) {
      if (s[pos] == '(') ++depth;
      if (s[pos] == ')') --depth;
      if (depth == 0 && s.compare(pos, 2, ", ") == 0) break;
    }
    a.push_back(s.substr(start, pos - start));
    if (pos >= s.size()) break;
    start = pos + 2;
  }
  return a;
}

json validity_json(std::span<const uint8_t> bytes, const DeviceQuery& device) {
  json v;
  const auto facts = device();
  if (facts) {
    v["device"] = {{"compute_capability", facts->cc},
                   {"total_memory_bytes", facts->total_memory_bytes},
                   {"driver_version", cuda_version_string(facts->driver_version)},
                   {"runtime_version", cuda_version_string(facts->runtime_version)}};
  } else {
    v["device_error"] = facts.error().to_string();
  }
  uint64_t mask = 0;
  const auto verdict = ser::engine_validity(
      bytes, [&]() { return facts; }, &mask);
  v["verdict"] = std::string(to_string(verdict));
  v["diagnostics_mask"] = mask;
  v["diagnostics"] = diagnostics_list(mask);
  return v;
}

json tensors_json(const json& list) {
  return list.is_array() ? list : json::array();
}

json model_json(const ser::EngineModel& m, bool stripped) {
  json d;
  const auto& md = m.metadata;
  d["network"] = {{"name", md.value("network.name", std::string())},
                  {"inputs", tensors_json(md.value("network.inputs", json::array()))},
                  {"outputs", tensors_json(md.value("network.outputs", json::array()))},
                  {"profiles", md.value("profiles", json::array())}};
  json builder = json::object();
  for (const auto& [key, value] : md.items()) {
    if (key.starts_with("builder.")) builder[key.substr(8)] = value;
  }
  d["builder"] = builder;
  json targets = json::array();
  for (size_t i = 0; i < m.images.size(); ++i) {
    const auto& img = m.images[i];
    targets.push_back({{"index", i},
                       {"target", img.target_name()},
                       {"kind", img.kind == ser::ImageKind::kPTX ? "ptx" : "cubin"},
                       {"compute_capability", img.cc},
                       {"arch_specific", img.arch_specific},
                       {"bytes", img.compressed() ? uint64_t{img.raw_size} : uint64_t{img.bytes.size()}},
                       {"stored_bytes", img.bytes.size()},
                       {"compressed", img.compressed()}});
  }
  d["targets"] = targets;
  json kernels = json::array();
  for (const auto& k : m.kernels) {
    json images = json::array();
    for (uint32_t i : k.images)
      images.push_back(i < m.images.size() ? m.images[i].target_name() : std::to_string(i));
    kernels.push_back({{"name_expression", k.name_expression},
                       {"lowered_name", k.lowered_name},
                       {"dynamic_shared_memory_bytes", k.dynamic_shared_memory_bytes},
                       {"launch", k.launch},
                       {"targets", images}});
  }
  d["kernels"] = kernels;
  json weights = json::array();
  uint64_t total = 0, streamable = 0;
  for (const auto& w : m.weights) {
    total += w.byte_size();
    if (w.streamable) streamable += w.byte_size();
    weights.push_back({{"name", w.name},
                       {"dtype", std::string(to_string(w.dtype))},
                       {"shape", w.shape},
                       {"bytes", w.byte_size()},
                       {"streamable", w.streamable},
                       {"fingerprint", hex64(w.fingerprint)}});
  }
  d["weights"] = {{"count", m.weights.size()},
                  {"total_bytes", total},
                  {"streamable_bytes", streamable},
                  {"stripped", stripped},
                  {"entries", weights}};
  d["metadata"] = md;
  return d;
}

std::string shape_text(const json& shape) {
  std::vector<int64_t> dims;
  if (shape.is_array()) {
    for (const auto& v : shape) dims.push_back(v.is_number_integer() ? v.get<int64_t>() : -1);
  }
  return dims_to_string(dims);
}

void render_tensors(std::ostringstream& s, const char* title, const json& list) {
  s << "  " << title << ":\n";
  if (!list.is_array() || list.empty()) s << "    (none)\n";
  for (const auto& t : list) {
    s << "    " << t.value("name", std::string("?")) << "  " << t.value("dtype", std::string("?"))
      << "  " << shape_text(t.value("shape", json::array()));
    if (t.contains("dim_names")) {
      std::string names;
      for (const auto& n : t["dim_names"])
        names += (names.empty() ? "" : ",") +
                 (n.get<std::string>().empty() ? "-" : n.get<std::string>());
      if (!names.empty()) s << "  dims (" << names << ")";
    }
    s << "\n";
  }
}

}  // namespace

std::string human_bytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char b[32];
  std::snprintf(b, sizeof(b), "%.2f %s", v, kUnits[u]);
  return b;
}

std::string cuda_version_string(uint32_t v) {
  if (v == 0) return "any";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

nlohmann::json describe_engine(const std::string& path, const DeviceQuery& device) {
  json d;
  d["file"] = path;
  d["kind"] = "engine";
  uint64_t file_size = 0;
  const auto first = read_prefix(path, ser::kHeaderSize, &file_size);
  d["file_size"] = file_size;
  auto header = ser::read_engine_header(first);
  if (!header) {
    d["ok"] = false;
    d["error"] = {{"id", header.error().id}, {"message", header.error().message}};
    d["validity"] = validity_json(first, device);
    return d;
  }
  d["header"] = header_json(*header);
  d["validity"] = validity_json(first, device);
  const uint64_t table_bytes =
      ser::kHeaderSize + ser::kSectionEntrySize * uint64_t(header->section_count);
  const auto table = read_prefix(path, std::min<uint64_t>(table_bytes, 1u << 20), &file_size);
  d["sections"] = sections_json(table, *header);
  auto model = ser::read_engine_file(path);
  if (!model) {
    d["ok"] = false;
    d["error"] = {{"id", model.error().id}, {"message", model.error().message}};
    return d;
  }
  d["ok"] = true;
  d.update(model_json(*model, header->has(ser::EngineFlag::kWEIGHTS_STRIPPED)));
  return d;
}

nlohmann::json describe_onnx(const std::string& path) {
  json d;
  d["file"] = path;
  d["kind"] = "onnx";
  onnx::Parser parser;
  auto net = parser.parse_from_file(path);
  json warnings = json::array();
  for (const auto& w : parser.warnings()) warnings.push_back(w.to_string());
  d["warnings"] = warnings;
  if (!net) {
    d["ok"] = false;
    d["error"] = {{"id", net.error().id}, {"message", net.error().message}};
    return d;
  }
  d["ok"] = true;
  const ir::Graph& g = detail::graph_of(*net);
  const auto tensor = [&](ir::ValueId v) {
    const auto& val = g.value(v);
    json t = {{"name", val.name},
              {"dtype", std::string(to_string(val.info.dtype))},
              {"shape", val.info.shape}};
    if (!val.dim_names.empty()) t["dim_names"] = val.dim_names;
    return t;
  };
  json inputs = json::array(), outputs = json::array(), profiles = json::object();
  for (auto v : g.inputs()) inputs.push_back(tensor(v));
  for (auto v : g.outputs()) outputs.push_back(tensor(v));
  for (const auto& [name, p] : g.profiles())
    profiles[name] = {{"min", p.min}, {"opt", p.opt}, {"max", p.max}};
  std::map<std::string, int> ops;
  size_t layers = 0;
  for (const auto& n : g.nodes()) {
    if (n.dead) continue;
    ++layers;
    ++ops[std::string(ir::op_name(n.op))];
  }
  uint64_t weight_bytes = 0;
  size_t weight_count = 0;
  for (size_t v = 0; v < g.values().size(); ++v) {
    if (g.values()[v].kind != ir::ValueKind::kWeight) continue;
    ++weight_count;
    if (const auto* t = g.constant_data(static_cast<ir::ValueId>(v)))
      weight_bytes += t->byte_size();
  }
  d["network"] = {{"inputs", inputs}, {"outputs", outputs}, {"profiles", json::array({profiles})}};
  d["layers"] = {{"count", layers}, {"by_op", ops}};
  d["weights"] = {{"count", weight_count}, {"total_bytes", weight_bytes}};
  return d;
}

std::string render_text(const nlohmann::json& d, bool verbose) {
  std::ostringstream s;
  const std::string kind = d.value("kind", std::string());
  if (kind == "onnx") {
    s << "ONNX model: " << d.value("file", std::string()) << "\n";
    if (!d.value("ok", false)) {
      s << "  cannot import: " << d["error"].value("id", std::string()) << ": "
        << d["error"].value("message", std::string()) << "\n";
      return s.str();
    }
    render_tensors(s, "inputs", d["network"]["inputs"]);
    render_tensors(s, "outputs", d["network"]["outputs"]);
    s << "  layers: " << d["layers"]["count"].get<size_t>() << " (";
    bool first = true;
    for (const auto& [op, n] : d["layers"]["by_op"].items()) {
      s << (first ? "" : ", ") << op << " " << n.get<int>();
      first = false;
    }
    s << ")\n  weights: " << d["weights"]["count"].get<size_t>() << ", "
      << human_bytes(d["weights"]["total_bytes"].get<uint64_t>()) << "\n";
    for (const auto& w : d["warnings"]) s << "  warning: " << w.get<std::string>() << "\n";
    return s.str();
  }
  s << "Engine: " << d.value("file", std::string()) << " ("
    << human_bytes(d.value("file_size", uint64_t{0})) << ")\n";
  if (d.contains("header")) {
    const auto& h = d["header"];
    std::string flags;
    for (const auto& f : h["flags"]) flags += (flags.empty() ? "" : ", ") + f.get<std::string>();
    std::string cubins;
    for (const auto& c : h["cubin_compute_capabilities"])
      cubins += (cubins.empty() ? "" : ", ") + ("sm_" + std::to_string(c.get<int>()));
    const int min_ptx = h["min_ptx_compute_capability"].get<int>();
    s << "Header\n"
      << "  format version       " << h["format_version"].get<int>() << "\n"
      << "  written by           rtx " << h["library_version"].get<std::string>() << "\n"
      << "  flags                " << (flags.empty() ? "none" : flags) << "\n"
      << "  cubins               " << (cubins.empty() ? "none" : cubins) << "\n"
      << "  PTX                  "
      << (min_ptx ? "compute_" + std::to_string(min_ptx) + " (JIT on newer GPUs)"
                  : std::string("none"))
      << "\n"
      << "  min CUDA driver      " << h["min_driver_version"].get<std::string>() << "\n"
      << "  min CUDA runtime     " << h["min_runtime_version"].get<std::string>() << "\n"
      << "  device memory        " << human_bytes(h["device_memory_bytes"].get<uint64_t>()) << "\n"
      << "  streamable weights   " << human_bytes(h["streamable_weight_bytes"].get<uint64_t>())
      << "\n"
      << "  sections             " << h["section_count"].get<uint32_t>() << "\n";
  }
  if (d.contains("validity")) {
    const auto& v = d["validity"];
    s << "Validity on this machine: " << v["verdict"].get<std::string>();
    if (!v["diagnostics"].empty()) {
      std::string diags;
      for (const auto& x : v["diagnostics"])
        diags += (diags.empty() ? "" : "; ") + x.get<std::string>();
      s << " (" << diags << ")";
    }
    s << "\n";
    if (v.contains("device")) {
      s << "  device: compute capability " << v["device"]["compute_capability"].get<int>() / 10
        << "." << v["device"]["compute_capability"].get<int>() % 10 << ", "
        << human_bytes(v["device"]["total_memory_bytes"].get<uint64_t>()) << ", driver "
        << v["device"]["driver_version"].get<std::string>() << "\n";
    } else if (v.contains("device_error")) {
      s << "  device: " << v["device_error"].get<std::string>() << "\n";
    }
  }
  if (verbose && d.contains("sections")) {
    s << "Sections\n";
    for (const auto& x : d["sections"]) {
      char line[160];
      std::snprintf(line, sizeof(line), "  %-4s  offset %10llu  size %10llu  crc32c %s\n",
                    x["tag"].get<std::string>().c_str(),
                    static_cast<unsigned long long>(x["offset"].get<uint64_t>()),
                    static_cast<unsigned long long>(x["size"].get<uint64_t>()),
                    x["crc32c"].get<std::string>().c_str());
      s << line;
    }
  }
  if (!d.value("ok", false)) {
    s << "Body: DAMAGED: " << d["error"].value("id", std::string()) << ": "
      << d["error"].value("message", std::string()) << "\n";
    return s.str();
  }
  s << "Body: verified (every checksum and rule of the format)\n";
  const auto& net = d["network"];
  s << "Network"
    << (net.value("name", std::string()).empty() ? "" : " '" + net["name"].get<std::string>() + "'")
    << "\n";
  render_tensors(s, "inputs", net["inputs"]);
  render_tensors(s, "outputs", net["outputs"]);
  if (net["profiles"].is_array() && !net["profiles"].empty()) {
    s << "  profiles:\n";
    for (size_t i = 0; i < net["profiles"].size(); ++i) {
      for (const auto& [name, p] : net["profiles"][i].items()) {
        s << "    #" << i << " " << name << ": min " << shape_text(p.value("min", json::array()))
          << ", opt " << shape_text(p.value("opt", json::array())) << ", max "
          << shape_text(p.value("max", json::array())) << "\n";
      }
    }
  }
  if (!d["builder"].empty()) {
    s << "Builder\n";
    for (const auto& [k, v] : d["builder"].items()) s << "  " << k << ": " << v.dump() << "\n";
  }
  s << "Targets (" << d["targets"].size() << ")\n";
  for (const auto& t : d["targets"]) {
    s << "  " << t["target"].get<std::string>() << "  " << t["kind"].get<std::string>() << "  "
      << human_bytes(t["bytes"].get<uint64_t>());
    if (t["compressed"].get<bool>()) s << " (stored in " << human_bytes(t["stored_bytes"].get<uint64_t>()) << ", zlib)";
    s << "\n";
  }
  s << "Kernels (" << d["kernels"].size() << ")\n";
  for (const auto& k : d["kernels"]) {
    s << "  " << k["name_expression"].get<std::string>();
    const auto& launch = k["launch"];
    if (launch.contains("grid") && launch.contains("block"))
      s << "  grid " << launch["grid"].dump() << " block " << launch["block"].dump();
    if (k["dynamic_shared_memory_bytes"].get<uint32_t>())
      s << "  smem " << human_bytes(k["dynamic_shared_memory_bytes"].get<uint32_t>());
    s << "\n";
    if (verbose) s << "      lowered " << k["lowered_name"].get<std::string>() << "\n";
  }
  const auto& w = d["weights"];
  s << "Weights (" << w["count"].get<size_t>() << ", "
    << human_bytes(w["total_bytes"].get<uint64_t>())
    << (w["stripped"].get<bool>() ? ", stripped: refit before running" : "") << ")\n";
  for (const auto& e : w["entries"]) {
    s << "  " << e["name"].get<std::string>() << "  " << e["dtype"].get<std::string>() << "  "
      << shape_text(e["shape"]) << "  " << human_bytes(e["bytes"].get<uint64_t>())
      << (e["streamable"].get<bool>() ? "  streamable" : "");
    if (verbose) s << "  fingerprint " << e["fingerprint"].get<std::string>();
    s << "\n";
  }
  return s.str();
}

int run_inspect(const std::string& path, bool json_view, bool verbose, std::ostream& out,
                std::ostream& err, const DeviceQuery& device) {
  uint64_t size = 0;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    err << "[E] " << errors::kInspectRead << ": " << path
        << " is a folder, not an engine or ONNX model\n";
    return kExitFailure;
  }
  std::ifstream probe(path, std::ios::binary);
  if (!probe) {
    err << "[E] " << errors::kInspectRead << ": cannot open " << path << "\n";
    return kExitFailure;
  }
  const auto first = read_prefix(path, 4, &size);
  const bool engine =
      first.size() == 4 && first[0] == 'R' && first[1] == 'T' && first[2] == 'X' && first[3] == 'E';
  const bool onnx_name = path.size() >= 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
  json d;
  if (engine) {
    d = describe_engine(path, device);
  } else if (onnx_name) {
    d = describe_onnx(path);
  } else {
    d = describe_onnx(path);
    if (!d.value("ok", false)) {
      err << "[E] " << errors::kInspectRead << ": " << path
          << " is neither an rtx engine (no RTXE magic) nor an ONNX model ("
          << d["error"].value("id", std::string()) << ": "
          << d["error"].value("message", std::string()) << ")\n";
      return kExitFailure;
    }
  }
  if (json_view) {
    out << d.dump(2) << "\n";
  } else {
    out << render_text(d, verbose);
  }
  if (!d.value("ok", false)) {
    err << "[E] " << d["error"].value("id", std::string()) << ": "
        << d["error"].value("message", std::string()) << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace rtx::cli
