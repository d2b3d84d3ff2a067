// SPDX-License-Identifier: Apache-2.0
// The engines the GPU suite runs, defined once: each entry names a network (typed front end or
// an ONNX model of tests/models) and the builder configuration. `rtx_make_test_engines DIR` builds
// them all on a machine with no GPU and writes DIR/<name>.rtxe; the GPU tests load those files
// when RTX_TEST_ENGINES=DIR is set (the proof that engines built here run there), and otherwise
// build the same engines in-process.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "ir/onnx/tensor_proto.hpp"
#include "rtx/builder.hpp"
#include "rtx/onnx.hpp"
#include "tests/unit/runtime_test_models.hpp"

namespace rtx::test {

/// Root of the source tree (tests/models lives there).
inline std::filesystem::path source_dir() {
#ifdef RTX_SOURCE_DIR
  return RTX_SOURCE_DIR;
#else
  return ".";
#endif
}

/// The inputs of `test_data_set_0` of an ONNX model folder, by the network's input names.
inline std::map<std::string, HostTensor> onnx_test_inputs(const std::string& model, const Network& net,
                                                          int set = 0) {
  std::map<std::string, HostTensor> inputs;
  const auto names = net.input_names();
  for (size_t i = 0; i < names.size(); ++i) {
    const auto path = source_dir() / "tests" / "models" / model / ("test_data_set_" + std::to_string(set)) /
                      ("input_" + std::to_string(i) + ".pb");
    std::ifstream f(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (bytes.empty()) throw Exception("rtx.test", "cannot read " + path.string());
    inputs[names[i]] = onnx::tensor_from_bytes(bytes.data(), bytes.size(), path.string());
  }
  return inputs;
}

/// An ONNX model of tests/models with profiles from its test data: dynamic dims range from 1 to
/// the test data's extent (batch: twice that), opt at the test data.
inline Network onnx_model(const std::string& model) {
  onnx::Parser parser;
  auto net = parser.parse_from_file((source_dir() / "tests" / "models" / model / "model.onnx").string());
  if (!net) throw Exception(net.error());
  const auto data = onnx_test_inputs(model, *net);
  const auto& graph = detail::graph_of(*net);
  for (const auto& name : net->input_names()) {
    const auto& declared = graph.value(graph.find_value(name)).info.shape;
    const auto& shape = data.at(name).shape();
    std::vector<int64_t> min = shape, max = shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (declared[d] >= 0) continue;
      min[d] = 1;
      if (d == 0) max[d] = 2 * shape[d];
    }
    net->set_profile(name, min, shape, max);
  }
  return std::move(*net);
}

/// One engine of the zoo.
struct ZooEntry {
  std::string name;
  std::function<Network()> network;
  std::function<void(BuilderConfig&)> configure = [](BuilderConfig&) {};
};

inline const std::vector<ZooEntry>& engine_zoo() {
  static const std::vector<ZooEntry> zoo = {
      {"mlp_f16", [] { return make_mlp<f16>(); }},
      {"mlp_f32", [] { return make_mlp<f32>(96, 80, 24, 17); }},
      {"cnn_f32", [] { return make_cnn<f32>(); }},
      {"transformer_f16", [] { return make_transformer_block<f16>(); }},
      {"resnet_tiny_onnx", [] { return onnx_model("resnet_tiny"); }},
      {"bert_tiny_onnx", [] { return onnx_model("bert_tiny"); }},
      // sm_80 cubin + compute_80 PTX only: on Hopper and newer it runs from PTX (suboptimal).
      {"mlp_f16_ptx", [] { return make_mlp<f16>(); },
       [](BuilderConfig& c) { c.set_compute_capabilities({ComputeCapability::kSM80}); }},
      {"mlp_f16_streaming", [] { return make_mlp<f16>(256, 512, 64, 31); },
       [](BuilderConfig& c) { c.set_flag(BuilderFlag::kWEIGHT_STREAMING); }},
      {"transformer_f16_streaming", [] { return make_transformer_block<f16>(); },
       [](BuilderConfig& c) { c.set_flag(BuilderFlag::kWEIGHT_STREAMING); }},
      // Explicit int8 Q/DQ: folded into int8 GEMM kernels (every default target runs int8).
      {"qmlp_f16", [] { return make_quantized_mlp<f16>(); }},
      {"qtransformer_f16", [] { return make_quantized_transformer_block<f16>(); }},
      // Explicit int8 Q/DQ convolutions: three qconv steps (int8 implicit GEMM, NCHW).
      {"qcnn_f16", [] { return make_quantized_cnn<f16>(); }},
      // An ONNX int8 Q/DQ MLP (tests/models/make_qdq_mlp.py): its Q/DQ MatMuls fold into qgemm.
      {"qdq_mlp_onnx", [] { return onnx_model("qdq_mlp"); }},
      // fp8 e4m3 Q/DQ: default targets from 8.9 (the builder drops 8.0 and 8.6, with a warning).
      {"qmlp_fp8_f16", [] { return make_quantized_mlp<f16, fp8e4m3>(); }},
  };
  return zoo;
}

inline const ZooEntry& zoo_entry(const std::string& name) {
  for (const auto& e : engine_zoo())
    if (e.name == name) return e;
  throw Exception("rtx.test", "no zoo engine '" + name + "'");
}

/// Builds zoo engine `name` (default targets unless the entry says otherwise).
inline Expected<HostMemory> build_zoo_engine(const std::string& name, BuildReport* report = nullptr) {
  const ZooEntry& e = zoo_entry(name);
  Network net = e.network();
  BuilderConfig config;
  e.configure(config);
  return Builder().build_serialized_network(net, config, report);
}

}  // namespace rtx::test
