// SPDX-License-Identifier: Apache-2.0
// Plan steps on the host. `evaluate_nodes` is what a host step runs (the reference evaluator's
// op implementations, node by node). `execute_plan_on_host` runs a whole plan that way, passing
// between steps only what each step declares as its outputs: a plan that forgets an output, or
// reads a value before a step produced it, fails here. The unit suite uses it to prove plans
// (fusion groups, aliases, host groups) compute what the network computes, with no GPU.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "jit/runtime/plan.hpp"
#include "jit/runtime/resolve.hpp"

namespace rtx::runtime {

/// Evaluates `nodes` (plan node ids, in order) on the host. `values` (indexed by value id) holds
/// every input they read; their outputs are stored into it. Folded nodes (resolution) are skipped:
/// their outputs are taken from `resolution.known`.
void evaluate_nodes(const ExecutionPlan& plan, const Resolution& resolution, std::span<const int32_t> nodes,
                    std::vector<HostTensor>& values);

/// Runs `plan` for `inputs` (by input name; weights must have data in plan.values) and returns
/// the outputs by name. Throws rtx::Exception (rtx.runtime.105 for a plan that reads a value no
/// earlier step declared as an output).
std::map<std::string, HostTensor, std::less<>> execute_plan_on_host(
    const ExecutionPlan& plan, const std::map<std::string, HostTensor, std::less<>>& inputs);

}  // namespace rtx::runtime
