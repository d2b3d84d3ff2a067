// SPDX-License-Identifier: Apache-2.0
// The public entry point of the reference evaluator: runs a Network on the CPU, every op and
// dtype, with exact rounding. It is the oracle GPU results are checked against and the path that
// works on machines with no GPU (the CLI's --backend=reference).
#pragma once

#include <map>
#include <string>

#include "rtx/error.hpp"
#include "rtx/host_tensor.hpp"
#include "rtx/network.hpp"

namespace rtx {

/// Evaluates `network` on `inputs` (by input name; each with the declared dtype and a shape
/// within the declared dims and profile) and returns every output by name. A network with
/// recorded build errors is refused with its first error; a network without outputs gives
/// rtx.frontend.130; bad inputs give rtx.reference.1xx; an op failing gives its own id.
Expected<std::map<std::string, HostTensor>> evaluate_reference(
    const Network& network, const std::map<std::string, HostTensor>& inputs);

}  // namespace rtx
