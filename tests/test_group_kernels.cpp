// The groupwise kernels (runtime/kernels/group_kernels.h): every kernel this
// CPU runs against the int64 reference, bit for bit on the outputs and on
// every group's integer sum (itself checked against a plain int64 loop over
// the unpacked codes); the packers against GGUF's raw blocks (random and
// llama.cpp-made); the fp16 conversions and the activation quantizer against
// F16C and an independent re-implementation of llama.cpp's Q8_0 rule; the
// fp32 result against a double-precision product of the dequantized values.
#include <doctest/doctest.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "models/formats/gguf.h"
#include "runtime/error.h"
#include "runtime/kernels/group_kernels.h"

using namespace axe;

namespace {

bool same_bits(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

// Random codes of `bits`, or (extreme) only the two ends of the range.
std::vector<int8_t> random_codes(size_t rows, size_t cols, int bits, bool extreme, std::mt19937& rng) {
  const int lo = bits == 4 ? -8 : -128, hi = bits == 4 ? 7 : 127;
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<int8_t> q(rows * cols);
  for (auto& v : q) v = static_cast<int8_t>(extreme ? ((rng() & 1) ? hi : lo) : dist(rng));
  return q;
}

// Scales: halves (as GGUF's) or arbitrary floats (fp32 panel copy).
std::vector<float> random_scales(size_t n, bool halves, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
  std::vector<float> s(n);
  for (auto& v : s) v = halves ? fp16_to_fp32(fp32_to_fp16(dist(rng))) : dist(rng);
  return s;
}

// Activations from codes and scales directly (sums computed here).
GroupActivations make_acts(const std::vector<int8_t>& codes, const std::vector<float>& scales, size_t tokens,
                           size_t cols) {
  GroupActivations a;
  size_group_activations(tokens, cols, a);
  std::memcpy(a.codes.data(), codes.data(), codes.size());
  a.scales = scales;
  for (size_t m = 0; m < tokens; ++m)
    for (size_t g = 0; g < a.groups; ++g) {
      int32_t s = 0;
      for (size_t j = 0; j < kGroupSize; ++j) s += codes[m * cols + g * kGroupSize + j];
      a.sums[m * a.groups + g] = s;
    }
  return a;
}

GroupActivations random_acts(size_t tokens, size_t cols, bool extreme, std::mt19937& rng) {
  std::vector<int8_t> c(tokens * cols);
  std::uniform_int_distribution<int> dist(-127, 127);
  for (auto& v : c) v = static_cast<int8_t>(extreme ? ((rng() & 1) ? 127 : -127) : dist(rng));
  std::uniform_real_distribution<float> sd(0.001f, 0.1f);
  std::vector<float> s(tokens * (cols / kGroupSize));
  for (auto& v : s) v = fp16_to_fp32(fp32_to_fp16(sd(rng)));
  return make_acts(c, s, tokens, cols);
}

std::vector<const GroupKernel*> usable_kernels(const GroupWeights& w) {
  std::vector<const GroupKernel*> out;
  for (const GroupKernel& k : group_kernels())
    if (k.usable(w)) out.push_back(&k);
  return out;
}

struct Result {
  std::vector<float> y;
  std::vector<int32_t> d;
};

// Runs `k` over rows split at `cuts` (as threads would), accumulating into
// `y0` with a bias when asked.
Result run(const GroupKernel& k, const GroupActivations& x, const GroupWeights& w, const std::vector<size_t>& cuts,
           const std::vector<float>& y0, const float* bias, bool accumulate) {
  Result r{y0, std::vector<int32_t>(x.tokens * w.rows * w.groups, -1)};
  const GroupOutput out{r.y.data(), w.rows, bias, accumulate, r.d.data(), w.rows * w.groups};
  for (size_t i = 0; i + 1 < cuts.size(); ++i) k.run(x, 0, x.tokens, w, cuts[i], cuts[i + 1], out);
  return r;
}

// Every group's exact integer sum from the unpacked codes, in int64.
std::vector<int64_t> exact_sums(const std::vector<int8_t>& q, const GroupActivations& x, size_t rows, size_t cols) {
  const size_t G = cols / kGroupSize;
  std::vector<int64_t> d(x.tokens * rows * G);
  for (size_t m = 0; m < x.tokens; ++m)
    for (size_t n = 0; n < rows; ++n)
      for (size_t g = 0; g < G; ++g) {
        int64_t s = 0;
        for (size_t k = g * kGroupSize; k < (g + 1) * kGroupSize; ++k)
          s += int64_t{q[n * cols + k]} * x.codes.data()[m * cols + k];
        d[(m * rows + n) * G + g] = s;
      }
  return d;
}

// Checks every usable kernel against the reference, bit for bit, over whole
// and split row ranges, plain and accumulating with a bias. Returns the
// number of kernels compared.
int check_all_kernels(const std::vector<int8_t>& q, const GroupWeights& w, const GroupActivations& x,
                      std::mt19937& rng) {
  const size_t N = w.rows;
  const std::vector<int64_t> exact = exact_sums(q, x, N, w.cols);
  std::vector<float> y0(x.tokens * N), bias(N);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto& v : y0) v = dist(rng);
  for (auto& v : bias) v = dist(rng);
  const std::vector<size_t> whole{0, N};
  // Uneven cuts, some inside a 16-row panel.
  std::vector<size_t> split{0};
  for (size_t c : {size_t{5}, size_t{21}, size_t{48}, size_t{50}})
    if (c < N) split.push_back(c);
  split.push_back(N);
  const GroupKernel& ref = group_kernels().front();
  const Result r_plain = run(ref, x, w, whole, std::vector<float>(x.tokens * N, 0.0f), nullptr, false);
  const Result r_acc = run(ref, x, w, whole, y0, bias.data(), true);
  for (size_t i = 0; i < exact.size(); ++i) REQUIRE(r_plain.d[i] == exact[i]);
  int compared = 0;
  for (const GroupKernel* k : usable_kernels(w)) {
    const std::string kernel = k->name;
    CAPTURE(kernel);
    for (bool use_split : {false, true}) {
      CAPTURE(use_split);
      const auto& cuts = use_split ? split : whole;
      const Result a = run(*k, x, w, cuts, std::vector<float>(x.tokens * N, 0.0f), nullptr, false);
      const Result b = run(*k, x, w, cuts, y0, bias.data(), true);
      size_t bad_d = 0, bad_y = 0;
      for (size_t i = 0; i < exact.size(); ++i) bad_d += a.d[i] != exact[i];
      for (size_t i = 0; i < a.y.size(); ++i) {
        bad_y += !same_bits(a.y[i], r_plain.y[i]);
        bad_y += !same_bits(b.y[i], r_acc.y[i]);
      }
      CHECK(bad_d == 0);
      CHECK(bad_y == 0);
    }
    ++compared;
  }
  return compared;
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t hw_fp32_to_fp16(float f) { return static_cast<uint16_t>(_cvtss_sh(f, 0)); }
__attribute__((target("f16c"))) float hw_fp16_to_fp32(uint16_t h) { return _cvtsh_ss(h); }
bool have_f16c() { return cpu_features().avx2; }  // Highway's AVX2 target includes F16C
#endif

// llama.cpp's quantize_row_q8_0_ref for one group, written again from its
// definition (ggml's MAX, fp32 d and 1/d, roundf, d stored as fp16) with
// F16C doing the fp16 rounding, for the inputs where llama.cpp itself is
// defined (no NaN, |x * id| finite).
struct RefGroup {
  float scale;
  int8_t q[32];
};
RefGroup llama_q8_0_group(const float* x, uint16_t (*to_half)(float), float (*from_half)(uint16_t)) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
  const float d = amax / ((1 << 7) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  RefGroup r;
  r.scale = from_half(to_half(d));
  for (int j = 0; j < 32; ++j) r.q[j] = static_cast<int8_t>(roundf(x[j] * id));
  return r;
}

}  // namespace

TEST_CASE("group fp16 conversions are exact and round to nearest even as F16C does") {
#if defined(__x86_64__)
  if (!have_f16c()) return;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = fp16_to_fp32(static_cast<uint16_t>(h)), b = hw_fp16_to_fp32(static_cast<uint16_t>(h));
    REQUIRE(std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b));  // NaNs quieted the same way too
  }
  std::mt19937 rng(5);
  std::vector<uint32_t> bits = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x477fe000u, 0x477fefffu,
                                0x477ff000u, 0x477ff001u, 0x38800000u, 0x387fffffu, 0x33000000u, 0x33000001u,
                                0x32ffffffu, 0x33800000u, 0x33c00000u, 0x00000001u, 0x007fffffu, 0x3f801000u,
                                0x3f803000u, 0x3f800fffu};
  for (int i = 0; i < 1 << 22; ++i) bits.push_back(rng());
  // Every float near the half subnormal and overflow boundaries.
  for (uint32_t b = 0x33000000u - 4096; b < 0x38800000u + 4096; b += 97) bits.push_back(b);
  for (uint32_t b = 0x477f0000u; b < 0x47810000u; ++b) bits.push_back(b);
  for (uint32_t b : bits) {
    const float f = std::bit_cast<float>(b);
    CAPTURE(b);
    if (std::isnan(f)) REQUIRE(fp32_to_fp16(f) == ((b >> 16 & 0x8000u) | 0x7e00u));  // ggml's NaN
    else REQUIRE(fp32_to_fp16(f) == hw_fp32_to_fp16(f));
  }
#endif
}

TEST_CASE("quantize_group_activations reproduces llama.cpp quantize_row_q8_0_ref") {
#if defined(__x86_64__)
  if (!have_f16c()) return;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t groups = 12, cols = groups * 32;
  std::vector<float> x(2 * cols);
  for (auto& v : x) v = normal(rng) * 3.0f;
  float* g = x.data();
  // Group 0: ties. amax 127 gives d = 1 and id = 1 exactly: x * id = k + 0.5.
  g[0] = 127.0f;
  for (int j = 1; j < 32; ++j) g[j] = static_cast<float>(j - 16) + 0.5f;  // -14.5 .. 15.5: roundf away from 0
  // Group 1: a group of zeros (d = 0, id = 0). Group 2: zeros among values.
  for (int j = 0; j < 32; ++j) g[32 + j] = 0.0f;
  g[64 + 3] = 0.0f, g[64 + 4] = -0.0f;
  // Group 3: ties after a non-trivial scale (amax 254: d = 2).
  g[96] = -254.0f;
  for (int j = 1; j < 32; ++j) g[96 + j] = static_cast<float>(2 * j) + 1.0f;  // x / 2 = j + 0.5
  // Group 4: huge values, fp16(d) overflows to infinity (as in llama.cpp).
  for (int j = 0; j < 32; ++j) g[128 + j] = (j % 2 ? 1.0f : -1.0f) * 1e30f * static_cast<float>(j + 1);
  // Group 5: d below fp16's smallest subnormal (scale 0), id still finite.
  for (int j = 0; j < 32; ++j) g[160 + j] = 1e-7f * static_cast<float>(j - 10);
  // Groups 6 and 7: amax exactly 65504 * 127, and 65520 * 127 (the tie that rounds to infinity).
  g[192] = 65504.0f * 127.0f;
  g[224] = 65520.0f * 127.0f;
  // Group 8: a single negative maximum; the rest tiny.
  g[256 + 31] = -1000.0f;
  // Group 9: fp16 subnormal d.
  for (int j = 0; j < 32; ++j) g[288 + j] = 1e-6f * static_cast<float>(j);
  GroupActivations a;
  quantize_group_activations(x.data(), cols, 2, cols, a);
  for (size_t m = 0; m < 2; ++m)
    for (size_t gi = 0; gi < groups; ++gi) {
      CAPTURE(m);
      CAPTURE(gi);
      const RefGroup r = llama_q8_0_group(x.data() + m * cols + gi * 32, hw_fp32_to_fp16, hw_fp16_to_fp32);
      CHECK(same_bits(a.scales[m * groups + gi], r.scale));
      int32_t sum = 0;
      for (int j = 0; j < 32; ++j) {
        CHECK(int{a.codes.data()[m * cols + gi * 32 + j]} == int{r.q[j]});
        sum += r.q[j];
      }
      CHECK(a.sums[m * groups + gi] == sum);
    }
  // The hand-made groups' expected values.
  CHECK(a.scales[0] == 1.0f);
  CHECK(int{a.codes.data()[1]} == -15);  // -14.5 -> -15
  CHECK(int{a.codes.data()[31]} == 16);  // 15.5 -> 16
  CHECK(a.scales[1] == 0.0f);
  for (int j = 0; j < 32; ++j) CHECK(int{a.codes.data()[32 + j]} == 0);
  CHECK(a.scales[3] == 2.0f);
  CHECK(int{a.codes.data()[96 + 1]} == 2);  // 3 / 2 = 1.5 -> 2
  CHECK(std::isinf(a.scales[4]));
  CHECK(a.scales[5] == 0.0f);
  CHECK(a.scales[6] == 65504.0f);
  CHECK(std::isinf(a.scales[7]));
  CHECK(int{a.codes.data()[256 + 31]} == -127);
#endif
}

TEST_CASE("quantize_group_activations is defined on NaN and infinity and tiny inputs") {
  const size_t cols = 5 * 32;
  std::vector<float> x(cols, 0.5f);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  x[0] = 2.0f, x[5] = nan;             // group 0: NaN in the middle: ggml's MAX forgets it
  x[32 + 31] = nan;                    // group 1: NaN last: d is NaN
  x[64 + 7] = -inf;                    // group 2: infinite d, codes of finite values 0
  for (int j = 0; j < 32; ++j) x[96 + j] = j == 3 ? 1e-38f : 0.0f;  // group 3: 1/d overflows
  for (int j = 0; j < 32; ++j) x[128 + j] = std::numeric_limits<float>::denorm_min() * static_cast<float>(j);
  GroupActivations a;
  quantize_group_activations(x.data(), cols, 1, cols, a);
  const int8_t* c = a.codes.data();
  // Group 0: after the NaN, amax restarts at 0.5, so 2.0 (before it) clamps to 127.
  CHECK(a.scales[0] == fp16_to_fp32(fp32_to_fp16(0.5f / 127.0f)));
  CHECK(int{c[0]} == 127);
  CHECK(int{c[5]} == 0);
  CHECK(int{c[6]} == 127);
  CHECK(std::isnan(a.scales[1]));
  for (int j = 0; j < 32; ++j) CHECK(int{c[32 + j]} == 0);  // x * NaN: NaN -> 0
  CHECK(std::isinf(a.scales[2]));
  CHECK(int{c[64]} == 0);
  CHECK(int{c[64 + 7]} == 0);  // -inf * 0 = NaN -> 0
  CHECK(a.scales[3] == 0.0f);
  CHECK(int{c[96 + 3]} == 127);  // 1e-38 * inf clamps
  CHECK(int{c[96]} == 0);        // 0 * inf = NaN -> 0
  CHECK(a.scales[4] == 0.0f);    // amax / 127 underflows: d = 0, id = 0
  for (int j = 0; j < 32; ++j) CHECK(int{c[128 + j]} == 0);
  for (size_t i = 0; i < cols; ++i) CHECK(std::abs(int{c[i]}) <= 127);
}

TEST_CASE("group packing rejects bad shapes and codes") {
  std::vector<int8_t> q(2 * 64, 0);
  std::vector<float> s(4, 1.0f);
  CHECK_THROWS_AS(pack_group_weights(q.data(), 2, 48, s.data(), 8), Error);
  CHECK_THROWS_AS(pack_group_weights(q.data(), 2, 64, s.data(), 6), Error);
  q[70] = 8;
  CHECK_THROWS_AS(pack_group_weights(q.data(), 2, 64, s.data(), 4), Error);
  q[70] = -9;
  CHECK_THROWS_AS(pack_group_weights(q.data(), 2, 64, s.data(), 4), Error);
  q[70] = -128;
  CHECK_NOTHROW(pack_group_weights(q.data(), 2, 64, s.data(), 8));
  GroupActivations a;
  std::vector<float> x(40);
  CHECK_THROWS_AS(quantize_group_activations(x.data(), 40, 1, 40, a), Error);
}

TEST_CASE("group packers decode back to GGUF Q8_0 and Q4_0 blocks") {
  std::mt19937 rng(21);
  const size_t rows = 37, cols = 96, G = cols / 32;
  for (int bits : {8, 4}) {
    CAPTURE(bits);
    const size_t bb = bits == 8 ? 34 : 18;
    std::vector<uint8_t> blocks(rows * G * bb);
    for (auto& b : blocks) b = static_cast<uint8_t>(rng());
    // Sane half scales mostly; a few hostile ones (NaN, infinity, subnormal).
    for (size_t i = 0; i < rows * G; ++i) {
      uint16_t h = fp32_to_fp16(std::uniform_real_distribution<float>(-0.1f, 0.1f)(rng));
      if (i == 3) h = 0x0001;  // subnormal
      if (i == 10) h = 0xfc00;  // -inf
      std::memcpy(&blocks[i * bb], &h, 2);
    }
    const GroupWeights w = bits == 8 ? pack_q8_0(blocks.data(), rows, cols) : pack_q4_0(blocks.data(), rows, cols);
    CHECK(w.bits == bits);
    CHECK(w.half_scales);
    std::vector<float> deq(rows * cols);
    ggml_dequantize(bits == 8 ? GgmlType::Q8_0 : GgmlType::Q4_0, blocks.data(), rows * cols, deq.data());
    for (size_t n = 0; n < rows; ++n)
      for (size_t k = 0; k < cols; ++k) {
        const uint8_t* b = &blocks[(n * G + k / 32) * bb];
        const int expect = bits == 8 ? int{static_cast<int8_t>(b[2 + k % 32])}
                                     : (k % 32 < 16 ? (b[2 + k % 32] & 15) : (b[2 + k % 32 - 16] >> 4)) - 8;
        REQUIRE(int{w.code(n, k)} == expect);
        const float v = static_cast<float>(w.code(n, k)) * w.scales[n * G + k / 32];
        REQUIRE(same_bits(v, deq[n * cols + k]));
      }
    // The same codes through pack_group_weights give the same bytes.
    std::vector<int8_t> q(rows * cols);
    for (size_t n = 0; n < rows; ++n)
      for (size_t k = 0; k < cols; ++k) q[n * cols + k] = w.code(n, k);
    const GroupWeights w2 = pack_group_weights(q.data(), rows, cols, w.scales.data(), bits);
    REQUIRE(w2.data.size() == w.data.size());
    CHECK(std::memcmp(w2.data.data(), w.data.data(), w.data.size()) == 0);
    CHECK(w2.half_scales);
    CHECK(std::memcmp(w2.panel_half.data(), w.panel_half.data(), w.panel_half.size() * 2) == 0);
    if (bits == 4) {  // a Q4_0 block's quants are its packed block's 4-byte words
      for (size_t i = 0; i < 16; ++i) CHECK(w.block(0, 1)[(i / 4) * 64 + 4 * 5 + i % 4] == blocks[(5 * G + 1) * bb + 2 + i]);
    }
    // A NaN scale: packing takes it (fp32 panel copy), kernels give NaN rows, identically.
    const uint16_t nan_half = 0x7e01;
    std::memcpy(&blocks[(2 * G + 1) * bb], &nan_half, 2);
    const GroupWeights wn = bits == 8 ? pack_q8_0(blocks.data(), rows, cols) : pack_q4_0(blocks.data(), rows, cols);
    CHECK(!wn.half_scales);
    CHECK(std::isnan(wn.scales[2 * G + 1]));
    const GroupActivations x = random_acts(3, cols, false, rng);
    std::vector<int8_t> qn(rows * cols);
    for (size_t n = 0; n < rows; ++n)
      for (size_t k = 0; k < cols; ++k) qn[n * cols + k] = wn.code(n, k);
    CHECK(check_all_kernels(qn, wn, x, rng) >= 2);
    std::vector<float> y(3 * rows);
    group_gemm_reference(x, 0, 3, wn, 0, rows, {y.data(), rows});
    CHECK(std::isnan(y[2]));
    CHECK(!std::isnan(y[1]));
  }
}

TEST_CASE("group packers on llama.cpp-made Q4_0 and Q8_0 tensors") {
  GgufFile f(std::string(AXE_FIXTURES_DIR) + "/gguf/tiny-mix.gguf", MappedFile::Mode::kMap);
  std::mt19937 rng(4);
  for (const char* name : {"token_embd.weight", "output.weight", "blk.0.attn_q.weight", "blk.1.attn_output.weight"}) {
    const std::string tensor = name;
    CAPTURE(tensor);
    const GgufFile::Tensor* t = f.tensor(name);
    REQUIRE(t);
    const size_t cols = t->row_elements(), rows = t->n_rows();
    const bool q4 = t->type == GgmlType::Q4_0;
    REQUIRE((q4 || t->type == GgmlType::Q8_0));
    const GroupWeights w = q4 ? pack_q4_0(t->data, rows, cols) : pack_q8_0(t->data, rows, cols);
    std::vector<float> deq(rows * cols);
    ggml_dequantize(t->type, t->data, rows * cols, deq.data());
    std::vector<int8_t> q(rows * cols);
    for (size_t n = 0; n < rows; ++n)
      for (size_t k = 0; k < cols; ++k) {
        q[n * cols + k] = w.code(n, k);
        REQUIRE(same_bits(static_cast<float>(q[n * cols + k]) * w.scales[n * (cols / 32) + k / 32], deq[n * cols + k]));
      }
    CHECK(w.half_scales);
    std::normal_distribution<float> normal;
    std::vector<float> xf(5 * cols);
    for (auto& v : xf) v = normal(rng);
    GroupActivations x;
    quantize_group_activations(xf.data(), cols, 5, cols, x);
    CHECK(check_all_kernels(q, w, x, rng) >= 2);
  }
}

TEST_CASE("every group kernel matches the int64 reference bit for bit") {
  std::mt19937 rng(1);
  int compared = 0;
  for (int bits : {4, 8})
    for (size_t K : {size_t{32}, size_t{64}, size_t{2048 + 32}})
      for (size_t M : {size_t{1}, size_t{2}, size_t{5}, size_t{13}, size_t{64}, size_t{150}})
        for (int variant = 0; variant < 3; ++variant) {  // random, extreme, random with fp32 scales
          const size_t N = (K > 64 && M >= 64) ? 37 : (variant == 1 ? 64 : 53);
          CAPTURE(bits);
          CAPTURE(K);
          CAPTURE(M);
          CAPTURE(variant);
          const bool extreme = variant == 1;
          const std::vector<int8_t> q = random_codes(N, K, bits, extreme, rng);
          const std::vector<float> s = random_scales(N * (K / 32), variant != 2, rng);
          const GroupWeights w = pack_group_weights(q.data(), N, K, s.data(), bits);
          CHECK(w.half_scales == (variant != 2));
          const GroupActivations x = random_acts(M, K, extreme, rng);
          compared += check_all_kernels(q, w, x, rng);
        }
  MESSAGE("kernel comparisons: " << compared);
  CHECK(compared >= 2 * 3 * 6 * 3 * 2);
}

TEST_CASE("group kernels are exact at the integer worst cases") {
  // Every code at one end and every activation at +-127 with the signs
  // aligned: |sum| = 32 * 8 * 127 = 32512 (4-bit) and 32 * 128 * 127 = 520192
  // (8-bit), the int16 lanes' stored-code sums at 16 * 15 * 127 = 30480.
  std::mt19937 rng(9);
  for (int bits : {4, 8}) {
    const int lo = bits == 4 ? -8 : -128, hi = bits == 4 ? 7 : 127;
    const size_t N = 32, K = 128, M = 4;
    std::vector<int8_t> q(N * K);
    for (size_t n = 0; n < N; ++n)
      for (size_t k = 0; k < K; ++k) q[n * K + k] = static_cast<int8_t>((n + k / 32) % 2 ? hi : lo);
    const std::vector<float> s(N * K / 32, 1.0f);
    const GroupWeights w = pack_group_weights(q.data(), N, K, s.data(), bits);
    std::vector<int8_t> a(M * K);
    for (size_t m = 0; m < M; ++m)
      for (size_t k = 0; k < K; ++k) a[m * K + k] = static_cast<int8_t>((m + k / 64) % 2 ? 127 : -127);
    const GroupActivations x = make_acts(a, std::vector<float>(M * K / 32, 1.0f), M, K);
    CAPTURE(bits);
    CHECK(check_all_kernels(q, w, x, rng) >= 2);
    std::vector<int32_t> d(M * N * (K / 32));
    group_gemm_reference(x, 0, M, w, 0, N, {nullptr, 0, nullptr, false, d.data(), N * (K / 32)});
    CHECK(*std::max_element(d.begin(), d.end()) == 32 * -lo * 127);
  }
  // The int16 kernels' claim, from the accumulation plan's worst case.
  std::vector<int8_t> q(16 * 32, 0);
  std::vector<float> s(16, 1.0f);
  CHECK(group_int16_exact(pack_group_weights(q.data(), 16, 32, s.data(), 4)));
  CHECK(!group_int16_exact(pack_group_weights(q.data(), 16, 32, s.data(), 8)));
  for (const char* name : {"avx2-int16", "avx512-int16"})
    if (const GroupKernel* k = find_group_kernel(name)) CHECK(!k->usable(pack_group_weights(q.data(), 16, 32, s.data(), 8)));
}

TEST_CASE("group kernel output is close to the double-precision dequantized product") {
  // y = sum_g fl(fma(isum_g, fl(dw * dx), acc)): each term has relative error
  // <= 2^-24 from dw * dx, and the G sequential roundings add <= G * 2^-24 of
  // the running magnitudes, so |y - exact| <= (G + 1) * 2^-24 * sum_g |term_g|.
  std::mt19937 rng(17);
  std::normal_distribution<float> normal;
  for (int bits : {4, 8}) {
    const size_t N = 48, K = 2048, M = 3, G = K / 32;
    const std::vector<int8_t> q = random_codes(N, K, bits, false, rng);
    const std::vector<float> s = random_scales(N * G, true, rng);
    const GroupWeights w = pack_group_weights(q.data(), N, K, s.data(), bits);
    std::vector<float> xf(M * K);
    for (auto& v : xf) v = normal(rng);
    GroupActivations x;
    quantize_group_activations(xf.data(), K, M, K, x);
    const GroupKernel& k = choose_group_kernel(supported_targets().back(), w, M);
    std::vector<float> y(M * N);
    k.run(x, 0, M, w, 0, N, {y.data(), N});
    double worst = 0;
    for (size_t m = 0; m < M; ++m)
      for (size_t n = 0; n < N; ++n) {
        double exact = 0, magnitude = 0;
        for (size_t g = 0; g < G; ++g) {
          double t = 0;
          for (size_t j = g * 32; j < g * 32 + 32; ++j)
            t += (double(s[n * G + g]) * q[n * K + j]) * (double(x.scales[m * G + g]) * x.codes.data()[m * K + j]);
          exact += t;
          magnitude += std::fabs(t);
        }
        const double bound = double(G + 1) * std::ldexp(1.0, -24) * magnitude;
        CHECK(std::fabs(y[m * N + n] - exact) <= bound);
        worst = std::max(worst, std::fabs(y[m * N + n] - exact) / bound);
      }
    MESSAGE(bits << "-bit: worst error / bound = " << worst << " (" << std::string(k.name) << ")");
  }
}

TEST_CASE("choose_group_kernel picks an exact kernel at or below the target") {
  std::vector<int8_t> q(16 * 64, 1);
  std::vector<float> s(32, 1.0f);
  for (int bits : {4, 8}) {
    const GroupWeights w = pack_group_weights(q.data(), 16, 64, s.data(), bits);
    for (Target t : supported_targets()) {
      const GroupKernel& k = choose_group_kernel(t, w, 1);
      const std::string target = target_name(t);
      CAPTURE(target);
      CHECK(k.target <= t);
      CHECK(k.usable(w));
      MESSAGE(bits << "-bit at " << std::string(target_name(t)) << ": " << std::string(k.name));
    }
    CHECK(std::string(choose_group_kernel(Target::kScalar, w, 1).name) == "scalar-int32");
  }
}
