// Row partitioning over the threads of the current tbb::task_arena. Work is
// split into fixed blocks whose results never depend on which thread runs
// them, so outputs are the same for every thread count.
#pragma once
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

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

// As parallel_rows, in about `per_thread` chunks for each thread of the arena,
// which the threads take as they become free: a thread that is slowed (woken
// late, or sharing its core with another guest) takes fewer. The chunks' bounds
// depend only on n, align, per_thread and the arena's size. For long, even
// work (the integer GEMMs of prefill); short calls (decode) lose more to the
// extra tasks than they gain.
template <typename Fn>
void parallel_rows_balanced(size_t n, size_t align, size_t per_thread, bool parallel, Fn&& fn) {
  const size_t blocks = (n + align - 1) / align;
  if (!parallel || blocks < 2) {
    fn(size_t{0}, n);
    return;
  }
  const size_t threads = static_cast<size_t>(std::max(1, tbb::this_task_arena::max_concurrency()));
  const size_t chunks = std::min(blocks, threads * std::max<size_t>(1, per_thread));
  const size_t grain = (blocks + chunks - 1) / chunks;
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, blocks, grain),
      [&](const tbb::blocked_range<size_t>& r) { fn(r.begin() * align, std::min(n, r.end() * align)); },
      tbb::simple_partitioner());
}

}  // namespace axe
