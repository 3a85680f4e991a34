// The integer linear layer: per-token activation quantization, the measured
// choice of the fastest exact kernel (never beyond the context's target, never
// an int16 kernel when the plan does not hold), and the fused epilogue.
#include <doctest/doctest.h>

#include <tbb/task_arena.h>

#include <random>

#include "runtime/kernels/int8_select.h"
#include "runtime/linear_int8.h"

using namespace axe;

namespace {

Int8Weights make_weights(size_t rows, size_t cols, const AccumulationPlan& plan, bool clip, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-127, 127);
  std::vector<int8_t> q(rows * cols);
  for (auto& v : q) v = static_cast<int8_t>(dist(rng));
  const ActivationRange xr = ActivationRange::of(8, false);
  if (clip) clip_codes_to_plan(q.data(), rows, cols, cols, plan, xr);
  std::vector<float> s(rows);
  for (size_t r = 0; r < rows; ++r) s[r] = 0.001f * (1 + r % 7);
  return pack_int8_weights(q.data(), rows, cols, s.data(), 8, plan, xr);
}

}  // namespace

TEST_CASE("LinearInt8 equals the reference kernel for every forced target, with and without accumulate") {
  const size_t rows = 70, cols = 200, tokens = 96;  // enough tokens to quantize them in parallel too
  const AccumulationPlan plan{TileKind::kLanes, 16, 16, 32};
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  std::vector<float> x(tokens * cols);
  for (auto& v : x) v = normal(rng);
  const Int8Weights w = make_weights(rows, cols, plan, true, 1);
  REQUIRE(w.plan_holds);

  Int8Activations acts;
  quantize_activations(x.data(), cols, tokens, cols, 8, false, acts);
  std::vector<float> expected(tokens * rows, 1.0f);
  int8_gemm_reference(acts, 0, tokens, w, 0, rows, {nullptr, 0, expected.data(), rows, nullptr});

  const LinearInt8 loaded(make_weights(rows, cols, plan, true, 1), 8, false, Int8KernelPolicy{supported_targets().back(), ""});
  for (Target t : supported_targets()) {
    CAPTURE(target_name(t));
    const Ops& ops = ops_for(t);
    // As a context of target t runs it: the same weights, its own kernels.
    const LinearInt8 layer(loaded, Int8KernelPolicy{t, ""});
    CHECK(&layer.weights() == &loaded.weights());
    std::vector<float> y(tokens * rows, 1.0f);
    layer.forward(ops, x.data(), cols, tokens, y.data(), rows, false, false);
    CHECK(y == expected);
    // Rows split over the threads of an arena: the workers must see the
    // caller's quantized activations.
    std::fill(y.begin(), y.end(), 1.0f);
    tbb::task_arena(2).execute([&] { layer.forward(ops, x.data(), cols, tokens, y.data(), rows, false, true); });
    CHECK(y == expected);
    layer.forward(ops, x.data(), cols, tokens, y.data(), rows, true, false);
    for (size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == expected[i] + expected[i]);
    for (const Int8Kernel* k : {layer.kernels().decode, layer.kernels().prefill}) {
      CHECK(k->target <= t);
      CHECK(k->usable(layer.weights(), acts.range));
    }
  }
}

TEST_CASE("kernel selection never picks an int16 kernel for weights that break the plan") {
  const AccumulationPlan plan{TileKind::kLanes, 16, 16, 32};
  const Int8Weights w = make_weights(64, 512, plan, false, 3);
  REQUIRE_FALSE(w.plan_holds);
  for (Target t : supported_targets()) {
    for (size_t tokens : {size_t{1}, size_t{32}}) {
      const Int8Kernel& k = choose_int8_kernels(w, ActivationRange::of(8, false), {t, ""}).for_tokens(tokens);
      CHECK(k.accumulator != Int8Accumulator::kInt16);
    }
  }
}

TEST_CASE("a forced kernel is taken where it is exact and ignored where it is not") {
  const AccumulationPlan plan{TileKind::kLanes, 16, 16, 32};
  const Int8Weights holds = make_weights(64, 512, plan, true, 5);
  const Int8Weights breaks = make_weights(64, 512, plan, false, 6);
  REQUIRE(holds.plan_holds);
  REQUIRE_FALSE(breaks.plan_holds);
  const ActivationRange x = ActivationRange::of(8, false);
  const Target best = supported_targets().back();
  const Int8KernelChoice ref = choose_int8_kernels(holds, x, {best, "reference-int64"});
  CHECK(std::string(ref.decode->name) == "reference-int64");
  CHECK(std::string(ref.prefill->name) == "reference-int64");
  for (const Int8Kernel& k : int8_kernels()) {
    if (k.accumulator != Int8Accumulator::kInt16 || !k.usable(holds, x)) continue;
    CAPTURE(k.name);
    CHECK(choose_int8_kernels(holds, x, {best, k.name}).decode == &k);
    // The same int16 kernel forced on weights whose plan fails: never taken.
    CHECK(choose_int8_kernels(breaks, x, {best, k.name}).decode->accumulator != Int8Accumulator::kInt16);
  }
  CHECK(choose_int8_kernels(holds, x, {best, "no-such-kernel"}).decode != nullptr);
}
