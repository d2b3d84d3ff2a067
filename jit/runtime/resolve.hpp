// SPDX-License-Identifier: Apache-2.0
// Shape resolution and activation memory for concrete input shapes: the host-side half of an
// execution context, needing no GPU (so the unit suite tests it). Given the plan and one shape per
// input (inside the profile), it re-infers every value's shape with the ops' own inference, folds
// the small computations that became constant (Shape -> Gather -> Concat -> Reshape chains on
// dynamic dims), decides where each value lives (user buffer, engine weights, activation arena,
// host only, or an alias of another value) and places the arena buffers by liveness. A new shape
// is a new resolution, never a new kernel: the kernels take run-time dims.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "jit/runtime/plan.hpp"

namespace rtx::runtime {

/// Where a value's bytes live while an engine runs.
enum class Storage : uint8_t {
  kNone = 0,    ///< not needed on the device
  kUser = 1,    ///< a graph input or output: the address the user set
  kEngine = 2,  ///< a weight or constant, uploaded (or streamed) by the engine
  kArena = 3,   ///< activation memory of the context at `offset`
  kAlias = 4,   ///< the bytes of value `root` (a reshape)
};

/// The result of resolve().
struct Resolution {
  std::vector<ir::TensorInfo> infos;  ///< concrete dtype and shape of every value
  std::vector<HostTensor> known;      ///< values known on the host (constants, folded ones)
  std::vector<char> node_folded;      ///< node computed here, on the host, from known values
  std::vector<char> step_folded;      ///< every node of the step folded: nothing to run
  std::vector<Storage> storage;       ///< per value
  std::vector<int32_t> root;          ///< per value: the value owning its bytes (itself if not kAlias)
  std::vector<int64_t> offset;        ///< kArena: byte offset (256-aligned)
  std::vector<int64_t> bytes;         ///< per value: bytes of its data
  std::vector<char> host_resident;    ///< value is available on the host (known or a host output)
  std::vector<char> need_device;      ///< value must exist on the device
  /// Known values that are not constants but are needed on the device: uploaded at the start of
  /// each run (kArena) or into the user's output buffer (kUser).
  std::vector<int32_t> uploads;
  int64_t arena_bytes = 0;     ///< activation memory for these shapes
  int64_t activation_sum = 0;  ///< sum of the arena buffers (no reuse)
};

/// Checks that `plan` is executable: every node in exactly one step, steps in an order where each
/// value is produced before it is read, kernel operands among the step's values, graph outputs
/// produced by a step or copied. Throws rtx.runtime.105.
void validate_plan(const ExecutionPlan& plan);

/// Checks one input shape against its declared dims and profile; throws rtx.runtime.111.
void check_input_shape(const ExecutionPlan& plan, size_t input_index, std::span<const int64_t> dims);

/// Shapes of every input at a profile bound (static inputs: their shape). 0 = min, 1 = opt, 2 = max.
std::vector<std::vector<int64_t>> profile_shapes(const ExecutionPlan& plan, int which);

/// Resolves the plan for `input_shapes` (one per plan.inputs, in order). Throws rtx::Exception:
/// rtx.runtime.111 for a shape outside the profile or a shape that cannot be inferred, the op's
/// own id when inference rejects the shapes.
Resolution resolve(const ExecutionPlan& plan, std::span<const std::vector<int64_t>> input_shapes);

}  // namespace rtx::runtime
