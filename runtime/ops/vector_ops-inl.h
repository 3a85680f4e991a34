// Highway implementations of the element-wise and reduction ops (per target).
// Included by runtime/ops/ops_dispatch.cpp once per target.
#if defined(AXE_RUNTIME_OPS_VECTOR_OPS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef AXE_RUNTIME_OPS_VECTOR_OPS_INL_H_
#undef AXE_RUNTIME_OPS_VECTOR_OPS_INL_H_
#else
#define AXE_RUNTIME_OPS_VECTOR_OPS_INL_H_
#endif

#include <cmath>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace axe {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Sum of a[i] * b[i] with one vector accumulator pair and a masked tail.
HWY_INLINE float Dot(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  auto acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    acc0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, a + i + L), hn::LoadU(d, b + i + L), acc1);
  }
  for (; i < n; i += L) {
    const auto m = hn::FirstN(d, n - i);
    acc0 = hn::MulAdd(hn::MaskedLoad(m, d, a + i), hn::MaskedLoad(m, d, b + i), acc0);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
}

void RmsNorm(const float* x, const float* w, float* out, size_t n, float eps) {
  const float ss = Dot(x, x, n) / static_cast<float>(n) + eps;
  const float inv = 1.0f / std::sqrt(ss);
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  const auto vinv = hn::Set(d, inv);
  size_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, x + i), vinv), hn::LoadU(d, w + i)), d, out + i);
  for (; i < n; ++i) out[i] = x[i] * inv * w[i];
}

HWY_INLINE float MaxOf(const float* x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  float mx = x[0];
  size_t i = 0;
  if (n >= L) {
    auto vmax = hn::LoadU(d, x);
    for (i = L; i + L <= n; i += L) vmax = hn::Max(vmax, hn::LoadU(d, x + i));
    mx = hn::GetLane(hn::MaxOfLanes(d, vmax));
  }
  for (; i < n; ++i) mx = std::max(mx, x[i]);
  return mx;
}

void Softmax(float* x, size_t n) {
  if (n == 0) return;
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  const float mx = MaxOf(x, n);
  const auto vmax = hn::Set(d, mx);
  auto vsum = hn::Zero(d);
  size_t i = 0;
  for (; i + L <= n; i += L) {
    const auto e = hn::CallExp(d, hn::Sub(hn::LoadU(d, x + i), vmax));
    hn::StoreU(e, d, x + i);
    vsum = hn::Add(vsum, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const auto vinv = hn::Set(d, 1.0f / sum);
  for (i = 0; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), vinv), d, x + i);
  for (; i < n; ++i) x[i] *= 1.0f / sum;
}

void SiluMul(float* a, const float* b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  const auto one = hn::Set(d, 1.0f);
  size_t i = 0;
  for (; i + L <= n; i += L) {
    const auto va = hn::LoadU(d, a + i);
    const auto sig = hn::Div(one, hn::Add(one, hn::CallExp(d, hn::Neg(va))));
    hn::StoreU(hn::Mul(hn::Mul(va, sig), hn::LoadU(d, b + i)), d, a + i);
  }
  for (; i < n; ++i) a[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
}

// Keys and values are stored transposed, [head_dim][ld] (position fastest),
// so both products run along positions with full vectors for any head size.
void Attention(const float* q, const float* keys_t, const float* values_t, size_t ld, size_t n_pos, size_t head_dim,
               float* scratch, float* out) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  size_t t = 0;
  for (; t + L <= n_pos; t += L) {
    auto acc = hn::Zero(d);
    for (size_t i = 0; i < head_dim; ++i) acc = hn::MulAdd(hn::Set(d, q[i]), hn::LoadU(d, keys_t + i * ld + t), acc);
    hn::StoreU(hn::Mul(acc, hn::Set(d, scale)), d, scratch + t);
  }
  for (; t < n_pos; ++t) {
    float acc = 0;
    for (size_t i = 0; i < head_dim; ++i) acc += q[i] * keys_t[i * ld + t];
    scratch[t] = acc * scale;
  }
  Softmax(scratch, n_pos);
  for (size_t i = 0; i < head_dim; ++i) out[i] = Dot(scratch, values_t + i * ld, n_pos);
}

// The unnormalized Walsh-Hadamard butterflies of one block of b (a power of
// two) floats, stage h = 1, 2, 4, ...: x[j], x[j + h] <- x[j] + x[j + h],
// x[j] - x[j + h].
HWY_INLINE void HadamardButterflies(float* HWY_RESTRICT x, size_t b) {
  for (size_t h = 1; h < b; h *= 2)
    for (size_t i = 0; i < b; i += 2 * h)
      for (size_t j = i; j < i + h; ++j) {
        const float a = x[j], c = x[j + h];
        x[j] = a + c;
        x[j + h] = a - c;
      }
}

// x <- B (d * x), B block diagonal with one Walsh-Hadamard block per set bit
// of n, largest first (docs/FORMAT.md, "rotation"). Every butterfly is the
// scalar one, in the scalar order: the stages within a vector pair lane i
// with lane i ^ h by a permutation and compute v * (+-1) + partner, which is
// exactly a + c in the lower and a - c in the upper lane; the stages across
// vectors are plain adds and subtracts. So every target gives the scalar
// bits.
void Hadamard(float* HWY_RESTRICT x, const float* HWY_RESTRICT d, size_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const size_t L = hn::Lanes(df);
  size_t o = 0;
  for (size_t bit = sizeof(size_t) * 8; bit-- > 0;) {
    const size_t b = size_t{1} << bit;
    if (!(n & b)) continue;
    float* HWY_RESTRICT xb = x + o;
    const float* HWY_RESTRICT db = d + o;
    o += b;
    if (L < 2 || b < L) {
      for (size_t k = 0; k < b; ++k) xb[k] *= db[k];
      HadamardButterflies(xb, b);
      continue;
    }
    // Stages h < L, one vector at a time: lane i's partner and sign per stage.
    constexpr size_t kMaxL = hn::MaxLanes(df);
    constexpr size_t kMaxStages = 8;
    HWY_ALIGN int32_t idx[kMaxStages][kMaxL];
    HWY_ALIGN float sgn[kMaxStages][kMaxL];
    size_t stages = 0;
    for (size_t h = 1; h < L && stages < kMaxStages; h *= 2, ++stages)
      for (size_t i = 0; i < L; ++i) {
        idx[stages][i] = static_cast<int32_t>(i ^ h);
        sgn[stages][i] = (i & h) ? -1.0f : 1.0f;
      }
    const size_t in_vector = size_t{1} << stages;  // the stages done here
    for (size_t j = 0; j < b; j += L) {
      auto v = hn::Mul(hn::LoadU(df, xb + j), hn::LoadU(df, db + j));
      for (size_t s = 0; s < stages; ++s) {
        const auto partner = hn::TableLookupLanes(v, hn::IndicesFromVec(df, hn::Load(di, idx[s])));
        v = hn::MulAdd(v, hn::Load(df, sgn[s]), partner);
      }
      hn::StoreU(v, df, xb + j);
    }
    // Any stages h < L beyond kMaxStages (vectors wider than 256 floats).
    for (size_t h = in_vector; h < L; h *= 2)
      for (size_t i = 0; i < b; i += 2 * h)
        for (size_t j = i; j < i + h; ++j) {
          const float a = xb[j], c = xb[j + h];
          xb[j] = a + c;
          xb[j + h] = a - c;
        }
    // Stages h >= L, whole vectors.
    for (size_t h = L; h < b; h *= 2)
      for (size_t i = 0; i < b; i += 2 * h)
        for (size_t j = i; j < i + h; j += L) {
          const auto a = hn::LoadU(df, xb + j), c = hn::LoadU(df, xb + j + h);
          hn::StoreU(hn::Add(a, c), df, xb + j);
          hn::StoreU(hn::Sub(a, c), df, xb + j + h);
        }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace axe
HWY_AFTER_NAMESPACE();

#endif  // include guard
