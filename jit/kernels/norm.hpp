// SPDX-License-Identifier: Apache-2.0
// Host side of the normalisation family (templates/norm/): Softmax and LogSoftmax along any
// axis, LayerNormalization (optional bias, optional Mean / InvStdDev outputs) and
// RMSNormalization over the trailing dims from `axis`. Rows (the normalised extent) are read
// once when they fit the per-thread register cache; the kernel variant (threads per row) is
// chosen per row length.
//
// Dtypes: f16, bf16 and f32 in and out (RMS norm: X and scale may differ; Y has scale's dtype).
// Statistics are float whatever stash_type says; Mean/InvStdDev outputs need stash_type = 1 (f32).
// Scale and bias must cover exactly the normalised dims (shape X[axis:], leading 1s allowed).
// Not supported: f64, scale/bias broadcasting within a row, per-row scale.
//
// Error ids: rtx.jit.301 (node not implementable), 302 (bad run-time arguments), 303 (bad JSON).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ir/graph.hpp"
#include "jit/compiler.hpp"
#include "jit/kernels/common.hpp"
#include "rtx/error.hpp"
#include "rtx/types.hpp"
#include "templates/norm/params.cuh"

namespace rtx::jit::kernels {

enum class NormKind : uint8_t { kSoftmax, kLogSoftmax, kLayerNorm, kRmsNorm };

/// "softmax", "log_softmax", "layer_norm", "rms_norm".
std::string_view norm_kind_name(NormKind kind);

/// Threads-per-row variants of the row kernels.
inline constexpr int kNormThreadVariants[] = {32, 128, 512, 1024};

/// Compile-time choices of one normalisation.
struct NormSpec {
  NormKind kind = NormKind::kSoftmax;
  DataType input = DataType::kF32;
  DataType scale = DataType::kF32;  ///< RMS norm: scale and Y dtype; otherwise = input
  int64_t rank = 1;
  int64_t axis = 0;                 ///< normalised from (layer/RMS) or along (softmax), >= 0
  float epsilon = 1e-5f;
  /// Threads-per-row variants compiled (subset of kNormThreadVariants); with a static row
  /// length the planner compiles just the best one.
  std::vector<int> threads{32, 128, 512, 1024};

  /// Softmax along a non-last axis (softmax_strided).
  bool strided() const;
  DataType output() const { return kind == NormKind::kRmsNorm ? scale : input; }
  std::string name_expression(int threads_per_row) const;
  std::vector<std::string> name_expressions() const;
  Program program() const;
  friend bool operator==(const NormSpec&, const NormSpec&) = default;
};

void to_json(nlohmann::json& j, const NormSpec& spec);
/// Throws rtx::Exception rtx.jit.303 on malformed JSON.
void from_json(const nlohmann::json& j, NormSpec& spec);

/// Threads per row for `cols` elements of `dtype` among `available`: the fewest whose register
/// cache holds the row, else the largest.
int norm_threads_for(int64_t cols, DataType dtype, std::span<const int> available);

/// Maps Softmax, LogSoftmax, LayerNormalization or RMSNormalization to a spec (nullopt when
/// not supported, see the file comment).
std::optional<NormSpec> plan_norm(const ir::Node& node, std::span<const ir::TensorInfo> inputs);

/// Run-time arguments. Scale/bias shapes are checked against X's normalised dims.
struct NormArgs {
  std::vector<int64_t> in_shape;
  const void* in = nullptr;
  void* out = nullptr;
  std::vector<int64_t> scale_shape;  ///< layer/RMS norm
  const void* scale = nullptr;
  std::vector<int64_t> bias_shape;   ///< layer norm, optional
  const void* bias = nullptr;
  void* mean = nullptr;     ///< layer norm Mean output (float, one per row), optional
  void* inv_std = nullptr;  ///< layer norm InvStdDev output (float, one per row), optional
};

struct NormLaunch {
  std::string kernel;
  LaunchConfig config;
  rtx::kernels::NormParams params{};
};

/// Side-effect free check of run-time arguments.
Expected<void> can_implement(const NormSpec& spec, const NormArgs& args);

/// The launch for `args`; config.grid.x == 0 when there is nothing to do.
Expected<NormLaunch> make_launch(const NormSpec& spec, const NormArgs& args);

/// make_launch + launch on `stream`.
Expected<void> run(const NormSpec& spec, const NormArgs& args, const LoadedProgram& program,
                   void* stream);

}  // namespace rtx::jit::kernels
