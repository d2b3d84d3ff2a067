// SPDX-License-Identifier: Apache-2.0
// Activation memory by liveness: each buffer lives from the step that writes it to the last step
// that reads it; buffers whose lifetimes do not overlap may share bytes. Offsets are chosen
// greedily, largest buffer first, each at the lowest offset that clashes with no placed buffer
// whose lifetime overlaps (the classic offset-assignment heuristic of TFLite and TensorRT): not
// optimal in general, never worse than the sum, and deterministic.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace rtx::runtime {

/// One buffer to place: its size and lifetime (step indices, inclusive).
struct BufferLifetime {
  int64_t bytes = 0;
  int32_t first = 0;
  int32_t last = 0;
};

/// Where each buffer goes.
struct MemoryPlan {
  std::vector<int64_t> offsets;  ///< per buffer, multiples of the alignment
  int64_t peak = 0;              ///< bytes of the arena: max(offset + aligned size)
  int64_t sum = 0;               ///< sum of aligned sizes (what no reuse would need)
};

/// Places `buffers` (sizes rounded up to `alignment`, a power of two).
MemoryPlan plan_memory(std::span<const BufferLifetime> buffers, int64_t alignment = 256);

/// `bytes` rounded up to a multiple of `alignment` (a power of two).
constexpr int64_t align_up(int64_t bytes, int64_t alignment) {
  return (bytes + alignment - 1) & ~(alignment - 1);
}

}  // namespace rtx::runtime
