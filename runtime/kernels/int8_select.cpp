#include "runtime/kernels/int8_select.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>

#include "runtime/error.h"

namespace axe {
namespace {

using Key = std::tuple<size_t, size_t, int, int, uint32_t, uint32_t, uint32_t, int32_t, int32_t, int, bool>;

double time_kernel(const Int8Kernel& k, const Int8Activations& x, const Int8Weights& w, size_t rows,
                   std::vector<float>& y) {
  const Int8Output out{nullptr, 0, y.data(), rows, nullptr};
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    k.run(x, 0, x.tokens, w, 0, rows, out);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

const Int8Kernel& choose_one(const Int8Weights& w, ActivationRange x, bool prefill, const Int8KernelPolicy& policy) {
  static std::mutex mutex;
  static std::map<Key, const Int8Kernel*> cache;
  if (!policy.forced.empty()) {
    const Int8Kernel* k = find_int8_kernel(policy.forced);
    if (k && k->usable(w, x)) return *k;
    log(AXE_LOG_WARN, "AXE_INT8_KERNEL=" + policy.forced + " is unknown or not exact for a " + std::to_string(w.rows) +
                          "x" + std::to_string(w.cols) + " layer here; choosing by speed");
  }
  const Key key{w.rows, w.cols, w.bits, static_cast<int>(w.plan.kind), w.plan.tile, w.plan.inner_bits,
                w.plan_holds ? 1u : 0u, x.mu, x.nu, static_cast<int>(policy.max_target), prefill};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;

  std::vector<const Int8Kernel*> candidates;
  for (const Int8Kernel& k : int8_kernels())
    if (k.accumulator != Int8Accumulator::kInt64 && k.target <= policy.max_target && k.usable(w, x))
      candidates.push_back(&k);
  if (candidates.empty()) candidates.push_back(&int8_kernels().front());  // the reference is always exact
  const Int8Kernel* best = candidates.front();
  if (candidates.size() > 1) {
    // Time on the layer's first rows (enough to separate kernels, cheap).
    const size_t rows = std::min<size_t>(w.rows, 256), n_tokens = prefill ? 64 : 1;
    Int8Activations acts;
    std::vector<float> zeros(n_tokens * w.cols, 0.0f);
    quantize_activations(zeros.data(), w.cols, n_tokens, w.cols, 8, x.is_signed(), acts);
    acts.range = x;
    std::vector<float> y(n_tokens * rows);
    double best_time = 1e30;
    for (const Int8Kernel* k : candidates) {
      const double t = time_kernel(*k, acts, w, rows, y);
      if (t < best_time) best_time = t, best = k;
    }
  }
  log(AXE_LOG_DEBUG, std::string("int8 kernel for ") + std::to_string(w.rows) + "x" + std::to_string(w.cols) +
                         (prefill ? " prefill: " : " decode: ") + best->name);
  cache.emplace(key, best);
  return *best;
}

}  // namespace

Int8KernelPolicy Int8KernelPolicy::from_environment(Target max_target) {
  Int8KernelPolicy p;
  p.max_target = max_target;
  if (const char* forced = std::getenv("AXE_INT8_KERNEL"); forced && *forced) p.forced = forced;
  return p;
}

Int8KernelChoice choose_int8_kernels(const Int8Weights& w, ActivationRange x, const Int8KernelPolicy& policy) {
  return {&choose_one(w, x, false, policy), &choose_one(w, x, true, policy)};
}

}  // namespace axe
