// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the ONNX parser: arbitrary bytes go through Parser::parse (protobuf
// decoding, tensor and attribute conversion, function expansion, opset upgrades, shape inference,
// import-time folding and pattern fusion). Any outcome but an rtx::Error value or a Network is a
// bug: a crash, a sanitizer report, an uncaught exception, an abort. The first byte picks the
// parser options so folding and fusion are fuzzed on and off.
//
//   build-fuzz/tests/fuzz/fuzz_onnx_parser -dict=tests/fuzz/onnx.dict -rss_limit_mb=4096 \
//       -max_total_time=600 new_corpus/ tests/fuzz/onnx_corpus/
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "rtx/onnx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rtx::onnx::ParserOptions options;
  if (size > 0) {
    options.fold_constants = (data[0] & 1) == 0;
    options.fuse_patterns = (data[0] & 2) == 0;
    ++data;
    --size;
  }
  rtx::onnx::Parser parser(nullptr, options);
  auto result = parser.parse(data, size);
  if (!result.has_value()) {
    const rtx::Error& e = result.error();
    // Every failure must be one of ours, with a stable id; rtx.onnx.999 marks an internal error
    // (a std::exception escaping the importer), which is a bug too.
    if (e.id.rfind("rtx.", 0) != 0 || e.id == "rtx.onnx.999") {
      std::fprintf(stderr, "unexpected error: %s\n", e.to_string().c_str());
      std::abort();
    }
  }
  return 0;
}
