// SPDX-License-Identifier: Apache-2.0
// Liveness-based offset assignment; see memory_plan.hpp.
#include "jit/runtime/memory_plan.hpp"

#include <algorithm>
#include <numeric>

namespace rtx::runtime {

MemoryPlan plan_memory(std::span<const BufferLifetime> buffers, int64_t alignment) {
  MemoryPlan plan;
  plan.offsets.assign(buffers.size(), 0);
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Largest first; ties by earlier start, then index, so the plan is deterministic.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (buffers[a].bytes != buffers[b].bytes) return buffers[a].bytes > buffers[b].bytes;
    return buffers[a].first < buffers[b].first;
  });
  struct Placed {
    int64_t offset, bytes;
    int32_t first, last;
  };
  std::vector<Placed> placed;
  std::vector<Placed> clashing;
  for (size_t i : order) {
    const BufferLifetime& b = buffers[i];
    const int64_t size = align_up(std::max<int64_t>(b.bytes, 0), alignment);
    plan.sum += size;
    if (size == 0) continue;  // empty tensors need no bytes (offset 0)
    clashing.clear();
    for (const Placed& p : placed)
      if (p.first <= b.last && b.first <= p.last) clashing.push_back(p);
    std::sort(clashing.begin(), clashing.end(),
              [](const Placed& x, const Placed& y) { return x.offset < y.offset; });
    int64_t offset = 0;
    for (const Placed& p : clashing) {
      if (p.offset >= offset + size) break;  // the gap before p fits
      offset = std::max(offset, p.offset + p.bytes);
    }
    plan.offsets[i] = offset;
    plan.peak = std::max(plan.peak, offset + size);
    placed.push_back({offset, size, b.first, b.last});
  }
  return plan;
}

}  // namespace rtx::runtime
