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
#include "runtime/ops/ops.h"

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
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vmax));
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

// ------------------------------ Attention
//
// Keys and values are stored transposed, [head_dim][ld] (position fastest), so
// both products run along positions with full vectors for any head size.
// Query j of a call sees positions [0, n_j), n_j = n_pos + j. The element
// results never depend on n_q, on the tiles below or on the target's tile
// sizes, only on (target, n_j), so a batch of queries gives the bits of one
// query at a time:
//  - score (j, t): acc = 0; acc = MulAdd(q_j[i], k_i[t], acc) for i = 0, 1,
//    ... head_dim - 1; times scale. Each lane is such a chain whatever vector
//    it sits in; lanes past the tile's last position load zeros and are never
//    used.
//  - softmax of row j over its n_j scores (Softmax above).
//  - output (j, c): lane l of one accumulator gathers MulAdd(p_j[t], v_c[t])
//    over the positions t = l, l + L, l + 2L, ... < n_j in that order (a
//    position at or past n_j leaves the lane untouched: a masked MulAdd), then
//    SumOfLanes.

// Queries per tile, vectors of positions per score tile and head components
// per output tile: enough independent accumulators to cover the FMA latency,
// within the register file (32 vectors on AVX-512, 16 below).
constexpr size_t kAttnQ = 4;
#if HWY_TARGET <= HWY_AVX3
constexpr size_t kAttnV = 4, kAttnC = 4;
#else
constexpr size_t kAttnV = 2, kAttnC = 2;
#endif
// A single query (decode) has no reuse across queries: twice the width.
template <size_t NQ>
constexpr size_t AttnScoreVectors() { return NQ == 1 ? 2 * kAttnV : kAttnV; }
template <size_t NQ>
constexpr size_t AttnOutputCols() { return NQ == 1 ? 2 * kAttnC : kAttnC; }

// Scores of NQ queries (rows of q, stride ldq) at the NV vectors of positions
// from t; positions at or past T (the last query's n_j) load zero keys.
template <size_t NQ, size_t NV, class D>
HWY_INLINE void AttnScoreTile(D d, const float* HWY_RESTRICT q, size_t ldq, const float* HWY_RESTRICT k, size_t ld,
                              size_t head_dim, size_t t, size_t T, float scale, float* HWY_RESTRICT s, size_t lds) {
  using V = hn::Vec<D>;
  const size_t L = hn::Lanes(d);
  V acc[NQ][NV];
  for (size_t j = 0; j < NQ; ++j)
    for (size_t v = 0; v < NV; ++v) acc[j][v] = hn::Zero(d);
  if (t + NV * L <= T) {
    for (size_t i = 0; i < head_dim; ++i) {
      const float* HWY_RESTRICT kr = k + i * ld + t;
      V kv[NV];
      for (size_t v = 0; v < NV; ++v) kv[v] = hn::LoadU(d, kr + v * L);
      for (size_t j = 0; j < NQ; ++j) {
        const V qj = hn::Set(d, q[j * ldq + i]);
        for (size_t v = 0; v < NV; ++v) acc[j][v] = hn::MulAdd(qj, kv[v], acc[j][v]);
      }
    }
  } else {
    using M = hn::Mask<D>;
    M m[NV];
    for (size_t v = 0; v < NV; ++v) {
      const size_t tv = t + v * L;
      m[v] = hn::FirstN(d, tv < T ? HWY_MIN(T - tv, L) : 0);
    }
    for (size_t i = 0; i < head_dim; ++i) {
      const float* HWY_RESTRICT kr = k + i * ld + t;
      V kv[NV];
      for (size_t v = 0; v < NV; ++v) kv[v] = hn::MaskedLoad(m[v], d, kr + v * L);
      for (size_t j = 0; j < NQ; ++j) {
        const V qj = hn::Set(d, q[j * ldq + i]);
        for (size_t v = 0; v < NV; ++v) acc[j][v] = hn::MulAdd(qj, kv[v], acc[j][v]);
      }
    }
  }
  const V vscale = hn::Set(d, scale);
  for (size_t j = 0; j < NQ; ++j)
    for (size_t v = 0; v < NV; ++v) hn::StoreU(hn::Mul(acc[j][v], vscale), d, s + j * lds + t + v * L);
}

// Scores of NQ queries at the position vectors [v0, v1).
template <size_t NQ, class D>
HWY_INLINE void AttnScores(D d, const float* HWY_RESTRICT q, size_t ldq, const float* HWY_RESTRICT k, size_t ld,
                           size_t head_dim, size_t v0, size_t v1, size_t T, float scale, float* HWY_RESTRICT s,
                           size_t lds) {
  constexpr size_t NV = AttnScoreVectors<NQ>();
  const size_t L = hn::Lanes(d);
  size_t v = v0;
  for (; v + NV <= v1; v += NV) AttnScoreTile<NQ, NV>(d, q, ldq, k, ld, head_dim, v * L, T, scale, s, lds);
  for (; v < v1; ++v) AttnScoreTile<NQ, 1>(d, q, ldq, k, ld, head_dim, v * L, T, scale, s, lds);
}

// Outputs (j, c0 + c) for j < NQ, c < NC: query j's probabilities are row j of
// p (stride lds), it sees n0 + j positions; v holds component c0's row.
template <size_t NQ, size_t NC, class D>
HWY_INLINE void AttnOutputTile(D d, const float* HWY_RESTRICT p, size_t lds, size_t n0,
                               const float* HWY_RESTRICT v, size_t ld, float* HWY_RESTRICT out, size_t ldo) {
  using V = hn::Vec<D>;
  const size_t L = hn::Lanes(d);
  V acc[NQ][NC];
  for (size_t j = 0; j < NQ; ++j)
    for (size_t c = 0; c < NC; ++c) acc[j][c] = hn::Zero(d);
  size_t t = 0;
  for (; t + L <= n0; t += L) {  // positions every query sees
    V pj[NQ];
    for (size_t j = 0; j < NQ; ++j) pj[j] = hn::LoadU(d, p + j * lds + t);
    for (size_t c = 0; c < NC; ++c) {
      const V vc = hn::LoadU(d, v + c * ld + t);
      for (size_t j = 0; j < NQ; ++j) acc[j][c] = hn::MulAdd(pj[j], vc, acc[j][c]);
    }
  }
  const size_t T = n0 + NQ - 1;
  for (; t < T; t += L) {  // each query's own end
    using M = hn::Mask<D>;
    M mj[NQ];
    V pj[NQ];
    for (size_t j = 0; j < NQ; ++j) {
      mj[j] = hn::FirstN(d, t < n0 + j ? HWY_MIN(n0 + j - t, L) : 0);
      pj[j] = hn::LoadU(d, p + j * lds + t);
    }
    const M mv = hn::FirstN(d, HWY_MIN(T - t, L));
    for (size_t c = 0; c < NC; ++c) {
      const V vc = hn::MaskedLoad(mv, d, v + c * ld + t);
      for (size_t j = 0; j < NQ; ++j) acc[j][c] = hn::IfThenElse(mj[j], hn::MulAdd(pj[j], vc, acc[j][c]), acc[j][c]);
    }
  }
  for (size_t j = 0; j < NQ; ++j)
    for (size_t c = 0; c < NC; ++c) out[j * ldo + c] = hn::GetLane(hn::SumOfLanes(d, acc[j][c]));
}

// AttnOutputTile<NQ, nc> for a run-time nc <= NC.
template <size_t NQ, size_t NC, class D>
HWY_INLINE void AttnOutputCols(D d, size_t nc, const float* HWY_RESTRICT p, size_t lds, size_t n0,
                               const float* HWY_RESTRICT v, size_t ld, float* HWY_RESTRICT out, size_t ldo) {
  if constexpr (NC > 1) {
    if (nc < NC) return AttnOutputCols<NQ, NC - 1>(d, nc, p, lds, n0, v, ld, out, ldo);
  }
  AttnOutputTile<NQ, NC>(d, p, lds, n0, v, ld, out, ldo);
}

// One tile of NQ queries, the first seeing n0 positions: scores at the
// position vectors [v0, v1) (whole == false), or (whole == true) softmax and
// outputs.
template <size_t NQ, class D>
HWY_INLINE void AttnQueryTile(D d, size_t nq, bool whole, const float* HWY_RESTRICT q, size_t ldq,
                              const float* HWY_RESTRICT keys_t, const float* HWY_RESTRICT values_t, size_t ld,
                              size_t n0, size_t head_dim, size_t v0, size_t v1, float scale, float* HWY_RESTRICT s,
                              size_t lds, float* HWY_RESTRICT out, size_t ldo) {
  if constexpr (NQ > 1) {
    if (nq < NQ)
      return AttnQueryTile<NQ - 1>(d, nq, whole, q, ldq, keys_t, values_t, ld, n0, head_dim, v0, v1, scale, s, lds,
                                   out, ldo);
  }
  if (!whole) {
    AttnScores<NQ>(d, q, ldq, keys_t, ld, head_dim, v0, v1, n0 + NQ - 1, scale, s, lds);
    return;
  }
  for (size_t j = 0; j < NQ; ++j) Softmax(s + j * lds, n0 + j);
  constexpr size_t NC = AttnOutputCols<NQ>();
  for (size_t c = 0; c < head_dim; c += NC)
    AttnOutputCols<NQ, NC>(d, HWY_MIN(NC, head_dim - c), s, lds, n0, values_t + c * ld, ld, out + c, ldo);
}

void Attention(const float* HWY_RESTRICT q, size_t ldq, size_t n_q, const float* HWY_RESTRICT keys_t,
               const float* HWY_RESTRICT values_t, size_t ld, size_t n_pos, size_t head_dim, float* HWY_RESTRICT scratch,
               float* HWY_RESTRICT out, size_t ldo) {
  if (n_q == 0) return;
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  static_assert(hn::MaxLanes(d) <= kAttentionScratchAlign, "scratch rows hold whole vectors");
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const size_t lds = attention_scratch_ld(n_pos + n_q - 1);
  // Scores: a chunk of positions at a time for all the queries, so the chunk
  // of keys stays in L1 while the query tiles reuse it.
  constexpr size_t kChunk = 2 * kAttnV;
  const size_t n_vec = (n_pos + n_q - 1 + L - 1) / L;
  for (size_t v0 = 0; v0 < n_vec; v0 += kChunk)
    for (size_t j = 0; j < n_q; j += kAttnQ) {
      const size_t nq = HWY_MIN(kAttnQ, n_q - j), T = n_pos + j + nq - 1, tile_vec = (T + L - 1) / L;
      if (v0 >= tile_vec) continue;
      AttnQueryTile<kAttnQ>(d, nq, false, q + j * ldq, ldq, keys_t, values_t, ld, n_pos + j, head_dim, v0,
                            HWY_MIN(v0 + kChunk, tile_vec), scale, scratch + j * lds, lds, nullptr, 0);
    }
  for (size_t j = 0; j < n_q; j += kAttnQ)
    AttnQueryTile<kAttnQ>(d, HWY_MIN(kAttnQ, n_q - j), true, nullptr, 0, keys_t, values_t, ld, n_pos + j, head_dim,
                          0, 0, scale, scratch + j * lds, lds, out + j * ldo, ldo);
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
