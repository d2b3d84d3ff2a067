// SPDX-License-Identifier: Apache-2.0
// --check: compares an output computed on the GPU with the reference evaluator's. The verdict
// uses the norm-wise relative error ||got - ref||_2 / ||ref||_2 against a bound per dtype, which
// is robust where an elementwise relative error explodes (elements near zero) yet catches any
// systematic error; the max absolute and max relative errors are reported next to it. A NaN or
// infinity where the reference is finite always fails; integers and bools must match exactly.
#pragma once

#include <cstdint>
#include <string>

#include "rtx/host_tensor.hpp"
#include "rtx/types.hpp"

namespace rtx::cli {

/// Default bound on the norm-wise relative error of a whole network's output stored in `dtype`
/// (errors accumulate over layers, so these are looser than one kernel's).
double default_check_tolerance(DataType dtype);

/// The comparison of one output.
struct Comparison {
  double max_abs_error = 0;  ///< max |got - ref| over finite pairs
  /// max |got - ref| / max(|ref|, 1e-3 * max|ref|): elementwise, scaled so that elements near
  /// zero do not dominate.
  double max_rel_error = 0;
  double rel_l2_error = 0;  ///< ||got - ref|| / ||ref|| (||got - ref|| when ref is all zeros)
  int64_t nonfinite_mismatches = 0;  ///< NaN/Inf in one but not the other (or different infinities)
  int64_t worst_index = -1;          ///< element with the largest absolute error
  double tolerance = 0;
  bool pass = false;
  std::string
      reason;  ///< why it failed ("shape differs", "3 NaN where the reference is finite"...)
};

/// Compares `got` with the reference `ref` under `tolerance` (< 0: the dtype's default).
Comparison compare_outputs(const HostTensor& got, const HostTensor& ref, double tolerance = -1);

/// "max abs 1.2e-03, max rel 4.5e-03, rel L2 8.1e-04 <= 1.0e-02: PASS".
std::string describe(const Comparison& c);

}  // namespace rtx::cli
