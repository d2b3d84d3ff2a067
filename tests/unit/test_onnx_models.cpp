// SPDX-License-Identifier: Apache-2.0
// Real exports (tests/models, made by export_models.py with PyTorch's exporters and checked
// against onnxruntime by make_expected.py): a 2-layer BERT-style encoder (TorchScript exporter,
// opset 14, and torch.export/onnxscript, opset 18) and a ResNet-18-style CNN. Each parses, the
// decomposed LayerNorm / GELU / attention subgraphs become fused ops, and the reference
// evaluator's outputs match onnxruntime's on two input sets with different dynamic dims.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "ir/onnx/tensor_proto.hpp"
#include "test_onnx_util.hpp"

namespace rtx::test {
namespace {

namespace fs = std::filesystem;

const fs::path kModels = fs::path(RTX_SOURCE_DIR) / "tests" / "models";

HostTensor read_pb(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  REQUIRE(f.good());
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return onnx::tensor_from_bytes(bytes.data(), bytes.size(), p.string());
}

/// fp32 agreement: |got - want| <= 1e-4 * max|want| + 1e-4 * |want| (onnxruntime computes in
/// float32 with its own summation orders; the reference evaluator in double).
void check_fp32_close(const HostTensor& got, const HostTensor& want, const std::string& what) {
  REQUIRE(got.shape() == want.shape());
  REQUIRE(got.dtype() == want.dtype());
  double peak = 0;
  for (int64_t i = 0; i < want.element_count(); ++i)
    peak = std::max(peak, std::fabs(want.get_double(i)));
  double worst = 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < want.element_count(); ++i) {
    const double g = got.get_double(i), w = want.get_double(i);
    const double tol = 1e-4 * peak + 1e-4 * std::fabs(w);
    worst = std::max(worst, std::fabs(g - w) / tol);
    bad += !(std::fabs(g - w) <= tol);
  }
  INFO(what << ": worst error " << worst << "x the tolerance, peak " << peak);
  CHECK(bad == 0);
}

/// Parses tests/models/<name>/model.onnx and checks every data set against onnxruntime.
Network check_model(const std::string& name, const std::vector<std::string>& inputs,
                    const std::vector<std::string>& outputs) {
  const fs::path dir = kModels / name;
  onnx::Parser parser;
  auto net = parser.parse_from_file((dir / "model.onnx").string());
  if (!net) FAIL(net.error().to_string());
  CHECK(net->input_names() == inputs);
  CHECK(net->output_names() == outputs);
  int sets = 0;
  for (int n = 0; fs::exists(dir / ("test_data_set_" + std::to_string(n))); ++n, ++sets) {
    const fs::path d = dir / ("test_data_set_" + std::to_string(n));
    ir::TensorMap in;
    for (size_t k = 0; k < inputs.size(); ++k)
      in[inputs[k]] = read_pb(d / ("input_" + std::to_string(k) + ".pb"));
    const auto out = run(*net, in);
    for (size_t k = 0; k < outputs.size(); ++k)
      check_fp32_close(out.at(outputs[k]), read_pb(d / ("output_" + std::to_string(k) + ".pb")),
                       name + " " + d.filename().string() + " " + outputs[k]);
  }
  CHECK(sets == 2);
  return std::move(*net);
}

TEST_CASE("real export: BERT-style encoder (TorchScript exporter, opset 14)") {
  Network net = check_model("bert_tiny", {"input_ids", "attention_mask", "token_type_ids"},
                            {"last_hidden_state", "pooler_output"});
  // Embedding LayerNorm + two per layer, all exported decomposed.
  CHECK(count_ops(net, ir::OpKind::kLayerNormalization) == 5);
  CHECK(count_ops(net, ir::OpKind::kReduceMean) == 0);
  CHECK(count_ops(net, ir::OpKind::kGelu) == 2);
  CHECK(count_ops(net, ir::OpKind::kErf) == 0);
  // Layer 0's hand-written attention and layer 1's F.scaled_dot_product_attention.
  CHECK(count_ops(net, ir::OpKind::kAttention) == 2);
  CHECK(count_ops(net, ir::OpKind::kSoftmax) == 0);
  // Dynamic batch and sequence stay symbolic.
  const ir::Graph& g = detail::graph_of(net);
  const ir::Value& ids = g.value(g.find_value("input_ids"));
  CHECK(ids.info.shape == std::vector<int64_t>{ir::kDynamic, ir::kDynamic});
  CHECK(ids.dim_names == std::vector<std::string>{"batch", "sequence"});
  // The layer norms read their scales and biases as weights: import-time folding leaves every
  // node reading a float initializer alone, so a refit reaches them (they used to be folded
  // into constant copies).
  // (The exporter passes some of them through Identity nodes; the builder removes those.)
  const auto through_identities = [&](ir::ValueId v) {
    while (g.value(v).producer >= 0 && g.node(g.value(v).producer).op == ir::OpKind::kIdentity)
      v = g.node(g.value(v).producer).inputs[0];
    return v;
  };
  for (const ir::Node& n : g.nodes()) {
    if (n.dead || n.op != ir::OpKind::kLayerNormalization) continue;
    for (size_t i = 1; i < n.inputs.size(); ++i)
      if (n.inputs[i] != ir::kNoValue)
        CHECK_MESSAGE(g.value(through_identities(n.inputs[i])).kind == ir::ValueKind::kWeight,
                      n.describe() << " input " << i);
  }
}

TEST_CASE("real export: BERT-style encoder (torch.export + onnxscript, opset 18)") {
  Network net = check_model("bert_tiny_dynamo", {"input_ids", "attention_mask", "token_type_ids"},
                            {"last_hidden_state", "pooler_output"});
  CHECK(count_ops(net, ir::OpKind::kLayerNormalization) == 5);
  CHECK(count_ops(net, ir::OpKind::kGelu) == 2);
  CHECK(count_ops(net, ir::OpKind::kAttention) == 2);
}

TEST_CASE("real export: ResNet-18-style CNN (opset 17)") {
  Network net = check_model("resnet_tiny", {"image"}, {"logits"});
  CHECK(count_ops(net, ir::OpKind::kConv) == 20);
  const ir::Graph& g = detail::graph_of(net);
  CHECK(g.value(g.outputs()[0]).info.shape == std::vector<int64_t>{ir::kDynamic, 10});
}

}  // namespace
}  // namespace rtx::test
