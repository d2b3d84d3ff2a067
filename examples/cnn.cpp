// SPDX-License-Identifier: Apache-2.0
// A small convolutional classifier built with rtx's typed front end and run on the reference
// evaluator: conv 3x3 -> relu -> max pool 2x2 -> global average pool -> linear -> softmax.
// Layer options use designated initializers ({.pads = {1, 1, 1, 1}}), and shapes follow from the
// layers: ask any tensor for shape(). Prints the class probabilities; exits 1 if they differ from
// values computed independently (numpy, float64), so this example doubles as a test.
#include <cmath>
#include <cstdio>
#include <rtx/rtx.hpp>
#include <vector>

namespace {

// Deterministic stand-ins for trained weights: values in [-0.6, 0.6].
std::vector<float> pattern(size_t count, size_t seed) {
  std::vector<float> v(count);
  for (size_t i = 0; i < count; ++i) {
    const int k = static_cast<int>((i * 7 + seed * 3) % 13);  // 0 .. 12
    v[i] = static_cast<float>(k - 6) / 10.0f;
  }
  return v;
}

rtx::HostTensor borrow(const std::vector<float>& v, std::vector<int64_t> shape) {
  return rtx::HostTensor::borrow(rtx::DataType::kF32, std::move(shape), v.data());
}

}  // namespace

int main() {
  constexpr int64_t kChannels = 4, kClasses = 3;
  const std::vector<float> conv_w = pattern(kChannels * 1 * 3 * 3, 1),
                           conv_b = pattern(kChannels, 2);
  const std::vector<float> fc_w = pattern(kClasses * kChannels, 3), fc_b = pattern(kClasses, 4);

  rtx::Network net;
  auto image = net.input<rtx::f32>("image", {rtx::dynamic, 1, 8, 8});  // (N, C, H, W)
  net.set_profile("image", {1, 1, 8, 8}, {1, 1, 8, 8}, {8, 1, 8, 8});
  auto w = net.weight<rtx::f32, 4>("conv.weight", borrow(conv_w, {kChannels, 1, 3, 3}));
  auto b = net.weight<rtx::f32, 1>("conv.bias", borrow(conv_b, {kChannels}));
  auto fw = net.weight<rtx::f32, 2>("fc.weight", borrow(fc_w, {kClasses, kChannels}));
  auto fb = net.weight<rtx::f32, 1>("fc.bias", borrow(fc_b, {kClasses}));

  auto c = rtx::relu(rtx::conv2d(image, w, b, {.pads = {1, 1, 1, 1}}));  // (N, 4, 8, 8)
  auto p = rtx::max_pool(c, {.kernel = {2, 2}, .strides = {2, 2}});      // (N, 4, 4, 4)
  auto features = rtx::flatten(rtx::global_avg_pool(p));                 // (N, 4)
  auto logits = rtx::linear(features, fw, fb);                           // (N, 3)
  net.output(rtx::softmax(logits), "probs");
  net.output(rtx::argmax(logits, 1), "class");  // (N) of rtx::i64

  if (!net.ok()) {
    for (const rtx::Error& e : net.errors()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return 1;
  }

  // One 8x8 image with a deterministic pattern in [-1, 1].
  std::vector<float> pixels(64);
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<float>(static_cast<int>((i * 5) % 17) - 8) / 8.0f;
  auto result = rtx::evaluate_reference(
      net, {{"image", rtx::HostTensor::from_vector(rtx::DataType::kF32, {1, 1, 8, 8}, pixels)}});
  if (!result) {
    std::fprintf(stderr, "%s\n", result.error().to_string().c_str());
    return 1;
  }
  const rtx::HostTensor& probs = result->at("probs");
  const int64_t cls = result->at("class").get_int(0);
  std::printf("probs %s: [", probs.describe().c_str());
  for (int64_t k = 0; k < kClasses; ++k) std::printf("%s%.6f", k ? ", " : "", probs.get_double(k));
  std::printf("]  class %lld\n", static_cast<long long>(cls));

  // Expected values: the same network in numpy with float64.
  const double expected[kClasses] = {0.51366943, 0.45196791, 0.03436266};
  const int64_t expected_class = 0;
  int mismatches = cls == expected_class ? 0 : 1;
  for (int64_t k = 0; k < kClasses; ++k)
    if (std::fabs(probs.get_double(k) - expected[k]) > 1e-5) ++mismatches;
  if (mismatches) std::fprintf(stderr, "%d values differ from the expected ones\n", mismatches);
  return mismatches ? 1 : 0;
}
