// The activation quantizers' vector paths (act_quant.h) against the scalar
// reference, byte for byte: codes, scales (as bits), zero points and group
// sums, on random rows and on rows full of NaNs, infinities, signed zeros,
// denormals, exact ties, huge and tiny values; for every bit width, both
// ranges, every group format, column tails and token ranges. The rows end
// at a page that cannot be read, so a path reading past a row (or past
// valid_cols) crashes the test.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/kernels/act_quant.h"

using namespace axe;

namespace {

// n floats that end where an unreadable page begins.
class GuardedFloats {
 public:
  explicit GuardedFloats(size_t n) : n_(n) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = (n * sizeof(float) + page - 1) / page * page;
    len_ = bytes + page;
    void* p = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    base_ = static_cast<char*>(p);
    REQUIRE(mprotect(base_ + bytes, page, PROT_NONE) == 0);
    data_ = reinterpret_cast<float*>(base_ + bytes) - n;
  }
  ~GuardedFloats() { munmap(base_, len_); }
  GuardedFloats(const GuardedFloats&) = delete;
  GuardedFloats& operator=(const GuardedFloats&) = delete;
  float* data() { return data_; }
  size_t size() const { return n_; }

 private:
  size_t n_, len_ = 0;
  char* base_ = nullptr;
  float* data_ = nullptr;
};

std::vector<ActQuantPath> vector_paths() {
  std::vector<ActQuantPath> p;
  for (ActQuantPath q : {ActQuantPath::kAVX2, ActQuantPath::kAVX512})
    if (act_quant_path_supported(q)) p.push_back(q);
  return p;
}

float nan_with(uint32_t payload, bool negative) {
  return std::bit_cast<float>((negative ? 0xFF800000u : 0x7F800000u) | (payload & 0x7FFFFFu) | 1u);
}

// One of the values that break naive vector code.
float special(std::mt19937& rng) {
  const float tiny = std::numeric_limits<float>::denorm_min();
  switch (rng() % 16) {
    case 0: return std::numeric_limits<float>::quiet_NaN();
    case 1: return nan_with(rng(), rng() & 1);  // signalling or quiet, either sign, any payload
    case 2: return INFINITY;
    case 3: return -INFINITY;
    case 4: return -0.0f;
    case 5: return 0.0f;
    case 6: return (rng() & 1 ? 1 : -1) * tiny * static_cast<float>(1 + rng() % 1000);  // denormal
    case 7: return (rng() & 1 ? 1 : -1) * FLT_MIN;
    case 8: return FLT_MAX;
    case 9: return -FLT_MAX;
    case 10: return (rng() & 1 ? 1 : -1) * 1e30f;
    case 11: return (rng() & 1 ? 1 : -1) * 1e-30f;
    case 12: return static_cast<float>(static_cast<int>(rng() % 20) - 10) + 0.5f;  // a tie at scale 1
    case 13: return std::nextafter(0.5f, 0.0f);
    case 14: return -std::nextafter(2.5f, 3.0f);
    default: return std::bit_cast<float>(static_cast<uint32_t>(rng()));  // any bits
  }
}

// Fills one row (n values) of kind `kind`; `top` is the largest code
// magnitude, so that rows of kind 3 quantize at scale 1 (exact ties).
void fill_row(float* r, size_t n, int kind, float top, bool non_negative, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.3f, 1.0f);
  std::uniform_int_distribution<size_t> pos(0, n - 1);
  const float mag = std::ldexp(1.0f, static_cast<int>(rng() % 40) - 20);
  switch (kind) {
    case 0:  // ordinary
      for (size_t k = 0; k < n; ++k) r[k] = normal(rng) * mag;
      break;
    case 1:  // ordinary, with specials planted at random places and at the tail
      for (size_t k = 0; k < n; ++k) r[k] = normal(rng) * mag;
      for (int i = 0, c = 1 + static_cast<int>(rng() % 4); i < c; ++i) r[pos(rng)] = special(rng);
      if (rng() & 1) r[n - 1] = special(rng);
      break;
    case 2:  // zeros of both signs
      for (size_t k = 0; k < n; ++k) r[k] = (rng() % 3 == 0) ? -0.0f : 0.0f;
      break;
    case 3: {  // ties: halves at scale 1 (the range's end is `top` itself)
      const int t = static_cast<int>(top);
      for (size_t k = 0; k < n; ++k) {
        const int base = non_negative ? static_cast<int>(rng() % static_cast<uint32_t>(t))
                                       : static_cast<int>(rng() % static_cast<uint32_t>(2 * t)) - t;
        const uint32_t how = rng() % 4;
        r[k] = how == 0 ? static_cast<float>(base) + 0.5f
               : how == 1 ? std::nextafter(static_cast<float>(base) + 0.5f, 0.0f)
               : how == 2 ? std::nextafter(static_cast<float>(base) + 0.5f, 1e9f)
                          : static_cast<float>(base);
      }
      r[pos(rng)] = top;
      break;
    }
    case 4:  // nothing but specials
      for (size_t k = 0; k < n; ++k) r[k] = special(rng);
      break;
    case 5:  // any bit patterns
      for (size_t k = 0; k < n; ++k) r[k] = std::bit_cast<float>(static_cast<uint32_t>(rng()));
      break;
    case 6:  // denormals and zeros only: scales whose inverse overflows
      for (size_t k = 0; k < n; ++k)
        r[k] = (rng() & 1 ? 1 : -1) * std::numeric_limits<float>::denorm_min() * static_cast<float>(rng() % 64);
      break;
    case 7:  // huge, both signs (ranges that overflow)
      for (size_t k = 0; k < n; ++k) r[k] = (rng() & 1 ? 1 : -1) * FLT_MAX * (0.5f + 0.5f * (rng() % 2));
      break;
    default:  // ordinary, with many specials (NaNs in any lane, between larger and smaller values)
      for (size_t k = 0; k < n; ++k) r[k] = rng() % 6 == 0 ? special(rng) : normal(rng) * mag;
      break;
  }
}
constexpr int kKinds = 9;

std::string describe(ActQuantPath p, size_t cols, size_t ldx, int bits, bool sgn, size_t m0, size_t m1) {
  return std::string(act_quant_path_name(p)) + " cols " + std::to_string(cols) + " ldx " + std::to_string(ldx) +
         " bits " + std::to_string(bits) + (sgn ? " signed" : " unsigned") + " rows [" + std::to_string(m0) + " " +
         std::to_string(m1) + ")";
}

void prefill(Int8Activations& a) {  // rows outside [m0, m1) must be left alone, identically
  std::memset(a.codes.data(), 0x5A, a.codes.size());
  std::fill(a.scales.begin(), a.scales.end(), -3.25f);
  std::fill(a.zeros.begin(), a.zeros.end(), -7);
}

bool same(const Int8Activations& a, const Int8Activations& b) {
  return std::memcmp(a.codes.data(), b.codes.data(), a.codes.size()) == 0 &&
         std::memcmp(a.scales.data(), b.scales.data(), a.scales.size() * sizeof(float)) == 0 && a.zeros == b.zeros;
}

void prefill(GroupActivations& a) {
  std::memset(a.codes.data(), 0x5A, a.codes.size());
  std::fill(a.scales.begin(), a.scales.end(), -3.25f);
  std::fill(a.sums.begin(), a.sums.end(), -7);
}

bool same(const GroupActivations& a, const GroupActivations& b) {
  return std::memcmp(a.codes.data(), b.codes.data(), a.codes.size()) == 0 &&
         std::memcmp(a.scales.data(), b.scales.data(), a.scales.size() * sizeof(float)) == 0 && a.sums == b.sums;
}

// Per-token: tokens rows of `cols` (stride ldx, the gap filled with NaN and
// huge values no path may read), every path against the scalar one.
size_t check_per_token(size_t tokens, size_t cols, size_t ldx, int bits, bool sgn, std::mt19937& rng) {
  GuardedFloats x(ldx * (tokens - 1) + cols);
  const ActivationRange range = ActivationRange::of(bits, sgn);
  const float top = static_cast<float>(sgn ? range.nu : range.nu - range.mu);
  for (size_t m = 0; m < tokens; ++m) {
    fill_row(x.data() + m * ldx, cols, static_cast<int>(rng() % kKinds), top, !sgn, rng);
    if (m + 1 < tokens)
      for (size_t k = cols; k < ldx; ++k) x.data()[m * ldx + k] = (k & 1) ? NAN : -FLT_MAX;
  }
  size_t checked = 0;
  const size_t m0 = rng() % 2 ? 0 : rng() % tokens, m1 = m0 + 1 + rng() % (tokens - m0);
  Int8Activations ref, got;
  size_activations(tokens, cols, bits, sgn, ref);
  prefill(ref);
  quantize_activation_rows_on(ActQuantPath::kScalar, x.data(), ldx, m0, m1, ref);
  for (ActQuantPath p : vector_paths()) {
    size_activations(tokens, cols, bits, sgn, got);
    prefill(got);
    quantize_activation_rows_on(p, x.data(), ldx, m0, m1, got);
    INFO(describe(p, cols, ldx, bits, sgn, m0, m1));
    CHECK(same(ref, got));
    ++checked;
  }
  // The public function (the best path).
  size_activations(tokens, cols, bits, sgn, got);
  prefill(got);
  quantize_activation_rows(x.data(), ldx, m0, m1, got);
  INFO(describe(best_act_quant_path(), cols, ldx, bits, sgn, m0, m1));
  CHECK(same(ref, got));
  return checked;
}

size_t check_groups(size_t tokens, size_t cols, const GroupActFormat& f, size_t ldx, std::mt19937& rng) {
  const size_t have = f.valid_cols ? f.valid_cols : cols;  // x holds only these columns
  GuardedFloats x(ldx * (tokens - 1) + have);
  const float qmax = static_cast<float>((1 << (f.bits - 1)) - 1);
  for (size_t m = 0; m < tokens; ++m) {
    const int kind = static_cast<int>(rng() % kKinds);
    const size_t span = f.group ? f.group : cols;
    if (kind == 3) {  // ties at scale 1 in every span: each span holds qmax
      for (size_t c0 = 0; c0 < have; c0 += span)
        fill_row(x.data() + m * ldx + c0, std::min(span, have - c0), 3, qmax, false, rng);
    } else {
      fill_row(x.data() + m * ldx, have, kind, qmax, false, rng);
    }
    if (m + 1 < tokens)
      for (size_t k = have; k < ldx; ++k) x.data()[m * ldx + k] = (k & 1) ? NAN : -FLT_MAX;
  }
  size_t checked = 0;
  const size_t m0 = rng() % 2 ? 0 : rng() % tokens, m1 = m0 + 1 + rng() % (tokens - m0);
  const std::string what = " cols " + std::to_string(cols) + " bits " + std::to_string(f.bits) + " group " +
                           std::to_string(f.group) + " valid " + std::to_string(f.valid_cols) + " rows [" +
                           std::to_string(m0) + " " + std::to_string(m1) + ")";
  GroupActivations ref, got;
  size_group_activations(tokens, cols, ref);
  prefill(ref);
  quantize_group_activation_rows_on(ActQuantPath::kScalar, x.data(), ldx, m0, m1, ref, f);
  for (ActQuantPath p : vector_paths()) {
    size_group_activations(tokens, cols, got);
    prefill(got);
    quantize_group_activation_rows_on(p, x.data(), ldx, m0, m1, got, f);
    INFO(act_quant_path_name(p) << what);
    CHECK(same(ref, got));
    ++checked;
  }
  size_group_activations(tokens, cols, got);
  prefill(got);
  quantize_group_activation_rows(x.data(), ldx, m0, m1, got, f);
  INFO("public" << what);
  CHECK(same(ref, got));
  return checked;
}

}  // namespace

TEST_CASE("activation quantizer paths: the scalar path is always there and the best one is supported") {
  CHECK(act_quant_path_supported(ActQuantPath::kScalar));
  CHECK(act_quant_path_supported(best_act_quant_path()));
  MESSAGE("activation quantizer: " << std::string(act_quant_path_name(best_act_quant_path())) << " ("
                                   << vector_paths().size() << " vector paths here)");
  Int8Activations a;
  size_activations(1, 8, 8, false, a);
  const float x[8] = {};
  for (ActQuantPath p : {ActQuantPath::kAVX2, ActQuantPath::kAVX512})
    if (!act_quant_path_supported(p)) CHECK_THROWS_AS(quantize_activation_rows_on(p, x, 8, 0, 1, a), Error);
}

TEST_CASE("per-token activation quantization: every path gives the scalar bytes for any input") {
  std::mt19937 rng(1234);
  size_t checked = 0;
  const size_t cols_list[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 127, 129, 200, 768, 771};
  for (size_t cols : cols_list)
    for (int bits = 2; bits <= 8; ++bits)
      for (bool sgn : {false, true})
        for (int rep = 0; rep < 6; ++rep) {
          const size_t tokens = 1 + rng() % 6, ldx = cols + (rep == 0 ? 0 : rng() % 9);
          checked += check_per_token(tokens, cols, ldx, bits, sgn, rng);
        }
  // Many rows of the adversarial kinds at the shapes that matter.
  for (int rep = 0; rep < 300; ++rep) checked += check_per_token(16, 768, 768, 8, rep & 1, rng);
  MESSAGE(checked << " vector-path comparisons");
}

TEST_CASE("groupwise activation quantization: every path gives the scalar bytes for any input and format") {
  std::mt19937 rng(4321);
  size_t checked = 0;
  for (size_t cols : {32, 64, 96, 160, 256, 768})
    for (int bits = 2; bits <= 8; ++bits)
      for (size_t group : {size_t{0}, size_t{32}, size_t{64}, size_t{96}, size_t{128}}) {
        const size_t valids[] = {0, cols, cols - 1, cols > 17 ? cols - 17 : 1, cols > 32 ? cols - 32 : 3, 1, 5,
                                 std::min<size_t>(cols, 33), 1 + rng() % cols};
        for (size_t valid : valids) {
          const GroupActFormat f{bits, group, valid};
          const size_t have = valid ? valid : cols;
          const size_t tokens = 1 + rng() % 5, ldx = have + (rng() % 2 ? 0 : rng() % 9);
          checked += check_groups(tokens, cols, f, ldx, rng);
        }
      }
  for (int rep = 0; rep < 300; ++rep) checked += check_groups(16, 768, GroupActFormat{}, 768, rng);
  MESSAGE(checked << " vector-path comparisons");
}

TEST_CASE("groupwise activation quantization: a NaN anywhere in a span gives ggml's order-dependent maximum") {
  // MAX(amax, |v|) forgets everything before a NaN: the span's scale is the
  // maximum after the last NaN (or NaN when the NaN is last).
  std::mt19937 rng(99);
  const size_t cols = 128;
  std::vector<float> x(cols);
  for (size_t at : {size_t{0}, size_t{5}, size_t{31}, size_t{32}, size_t{63}, size_t{64}, size_t{100}, size_t{127}}) {
    for (size_t k = 0; k < cols; ++k) x[k] = static_cast<float>(k % 37) - 18.0f;
    x[at] = NAN;
    for (size_t group : {size_t{0}, size_t{32}, size_t{64}}) {
      const GroupActFormat f{8, group, 0};
      GroupActivations ref, got;
      size_group_activations(1, cols, ref);
      size_group_activations(1, cols, got);
      quantize_group_activation_rows_on(ActQuantPath::kScalar, x.data(), cols, 0, 1, ref, f);
      for (ActQuantPath p : vector_paths()) {
        quantize_group_activation_rows_on(p, x.data(), cols, 0, 1, got, f);
        INFO(act_quant_path_name(p) << " NaN at " << at << " group " << group);
        CHECK(same(ref, got));
      }
    }
  }
}
