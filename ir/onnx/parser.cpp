// SPDX-License-Identifier: Apache-2.0
// The public face of the importer (include/rtx/onnx.hpp): Expected results, error recording,
// operator support queries and initializer-only reads for refit.
#include <algorithm>
#include <set>

#include "ir/graph.hpp"
#include "ir/onnx/errors.hpp"
#include "ir/onnx/importer.hpp"
#include "ir/onnx/tensor_proto.hpp"
#include "rtx/onnx.hpp"

namespace rtx::onnx {

Parser::Parser(ErrorRecorder* recorder, ParserOptions options)
    : recorder_(recorder), options_(options) {}

namespace {

Expected<Network> run_import(const ParserOptions& opt, ImportLog& log, const LoadedModel& model) {
  ImportOptions io;
  io.fold_constants = opt.fold_constants;
  io.fuse_patterns = opt.fuse_patterns;
  io.max_function_depth = opt.max_function_depth;
  return detail::wrap_graph(import_model(model, io, log));
}

}  // namespace

Expected<Network> Parser::parse_from_file(const std::string& path) {
  errors_.clear();
  warnings_.clear();
  unsupported_.clear();
  ImportLog log;
  auto result = detail::catch_errors(err::kInternal, [&]() -> Expected<Network> {
    return run_import(options_, log, load_model_file(path));
  });
  warnings_ = std::move(log.warnings);
  unsupported_ = std::move(log.unsupported);
  return finish(std::move(result));
}

Expected<Network> Parser::parse(std::span<const std::byte> model, const std::string& model_dir) {
  return parse(model.data(), model.size(), model_dir);
}

Expected<Network> Parser::parse(const void* data, size_t size, const std::string& model_dir) {
  errors_.clear();
  warnings_.clear();
  unsupported_.clear();
  ImportLog log;
  auto result = detail::catch_errors(err::kInternal, [&]() -> Expected<Network> {
    LoadedModel m;
    m.proto = parse_model_bytes(data ? data : "", data ? size : 0);
    if (!model_dir.empty()) m.dir = std::filesystem::path(model_dir);
    return run_import(options_, log, m);
  });
  warnings_ = std::move(log.warnings);
  unsupported_ = std::move(log.unsupported);
  return finish(std::move(result));
}

Expected<Network> Parser::finish(Expected<Network> result) {
  if (recorder_)
    for (const auto& w : warnings_) recorder_->report(Severity::kWARNING, w);
  if (!result.has_value()) {
    errors_.push_back(result.error());
    if (recorder_) recorder_->report(Severity::kERROR, result.error());
  }
  return result;
}

bool Parser::supports_operator(std::string_view op_type, int64_t opset, std::string_view domain) {
  if (!domain.empty() && domain != "ai.onnx") return false;
  const OpConverter* c = find_converter(op_type);
  return c && opset >= c->min_opset && opset >= kMinOpset;
}

std::vector<std::string> Parser::supported_operators() {
  std::vector<std::string> out;
  for (const auto& c : all_converters()) out.emplace_back(c.op_type);
  std::sort(out.begin(), out.end());
  return out;
}

Expected<std::map<std::string, HostTensor>> read_initializers(
    const std::string& path, const std::vector<std::string>& names) {
  return detail::catch_errors(err::kInternal, [&]() -> Expected<std::map<std::string, HostTensor>> {
    LoadedModel m = load_model_file(path);
    if (!m.proto->has_graph()) throw Exception(err::kNoGraph, "the model has no graph");
    ExternalDataStore external(m.dir);
    const std::set<std::string> wanted(names.begin(), names.end());
    std::map<std::string, HostTensor> out;
    const auto& g = m.proto->graph();
    for (const auto& t : g.initializer())
      if (wanted.empty() || wanted.count(t.name()))
        out.insert_or_assign(t.name(), tensor_from_proto(t, m.proto, &external));
    for (const auto& s : g.sparse_initializer())
      if (wanted.empty() || wanted.count(s.values().name()))
        out.insert_or_assign(s.values().name(), tensor_from_sparse_proto(s, m.proto, &external));
    std::string missing;
    for (const auto& n : wanted)
      if (!out.count(n)) missing += (missing.empty() ? "'" : ", '") + n + "'";
    if (!missing.empty())
      throw Exception(err::kNoInitializer,
                      "the model '" + path + "' has no initializer named " + missing);
    return out;
  });
}

}  // namespace rtx::onnx
