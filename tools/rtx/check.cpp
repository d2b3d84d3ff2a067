// SPDX-License-Identifier: Apache-2.0
// Output comparison for --check (see check.hpp).
#include "tools/rtx/check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace rtx::cli {

double default_check_tolerance(DataType dtype) {
  switch (dtype) {
    case DataType::kF64:
      return 1e-9;
    case DataType::kF32:
      // f32 engines run matrix products on TF32 tensor cores (10-bit mantissa inputs, as
      // TensorRT does by default): about 3e-4 relative error per product, so allow 1e-3.
      return 1e-3;
    case DataType::kF16:
      return 1e-2;
    case DataType::kBF16:
      return 4e-2;
    case DataType::kFP8E4M3:
      return 1.5e-1;
    case DataType::kFP8E5M2:
      return 2.5e-1;
    case DataType::kFP4E2M1:
      return 5e-1;
    default:
      return 0;  // integers and bool: exact
  }
}

Comparison compare_outputs(const HostTensor& got, const HostTensor& ref, double tolerance) {
  Comparison c;
  c.tolerance = tolerance >= 0 ? tolerance : default_check_tolerance(ref.dtype());
  if (got.dtype() != ref.dtype()) {
    c.reason = "dtype " + std::string(to_string(got.dtype())) + " differs from the reference's " +
               std::string(to_string(ref.dtype()));
    return c;
  }
  if (got.shape() != ref.shape()) {
    c.reason = "shape " + shape_to_string(got.shape()) + " differs from the reference's " +
               shape_to_string(ref.shape());
    return c;
  }
  const auto g = got.to_doubles();
  const auto r = ref.to_doubles();
  double ref_max = 0;
  for (double v : r) {
    if (std::isfinite(v)) ref_max = std::max(ref_max, std::fabs(v));
  }
  const double floor = std::max(ref_max * 1e-3, 1e-300);
  double num = 0, den = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const bool gf = std::isfinite(g[i]), rf = std::isfinite(r[i]);
    if (!gf || !rf) {
      const bool same =
          (std::isnan(g[i]) && std::isnan(r[i])) || (!std::isnan(g[i]) && g[i] == r[i]);
      if (!same) ++c.nonfinite_mismatches;
      continue;
    }
    const double e = std::fabs(g[i] - r[i]);
    if (c.worst_index < 0 || e > c.max_abs_error) {
      c.max_abs_error = e;
      c.worst_index = static_cast<int64_t>(i);
    }
    c.max_rel_error = std::max(c.max_rel_error, e / std::max(std::fabs(r[i]), floor));
    num += e * e;
    den += r[i] * r[i];
  }
  c.rel_l2_error = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  if (c.nonfinite_mismatches > 0) {
    c.reason =
        std::to_string(c.nonfinite_mismatches) + " NaN/Inf value(s) where the reference differs";
  } else if (!(c.rel_l2_error <= c.tolerance)) {
    char b[128];
    std::snprintf(b, sizeof(b), "relative error %.3e exceeds %.3e", c.rel_l2_error, c.tolerance);
    c.reason = b;
  } else {
    c.pass = true;
  }
  return c;
}

std::string describe(const Comparison& c) {
  char b[256];
  if (!c.reason.empty() && c.worst_index < 0 && c.nonfinite_mismatches == 0)
    return "FAIL: " + c.reason;
  std::snprintf(b, sizeof(b), "max abs %.3e, max rel %.3e, rel L2 %.3e %s %.1e: ", c.max_abs_error,
                c.max_rel_error, c.rel_l2_error, c.rel_l2_error <= c.tolerance ? "<=" : ">",
                c.tolerance);
  return std::string(b) + (c.pass ? "PASS" : "FAIL (" + c.reason + ")");
}

}  // namespace rtx::cli
