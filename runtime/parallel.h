// Static row partitioning over the threads of the current tbb::task_arena.
// Work is split into fixed blocks whose results never depend on which thread
// runs them, so outputs are the same for every thread count.
#pragma once
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

#include <algorithm>
#include <cstddef>

namespace axe {

// Calls fn(begin, end) over [0, n) in blocks that are multiples of `align`.
template <typename Fn>
void parallel_rows(size_t n, size_t align, bool parallel, Fn&& fn) {
  const size_t blocks = (n + align - 1) / align;
  if (!parallel || blocks < 2) {
    fn(size_t{0}, n);
    return;
  }
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, blocks),
      [&](const tbb::blocked_range<size_t>& r) { fn(r.begin() * align, std::min(n, r.end() * align)); },
      tbb::static_partitioner());
}

}  // namespace axe
