#include <cstring>

#include "runtime/linear.h"
#include "runtime/parallel.h"

namespace axe {
namespace {

float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

float bf16_to_float(uint16_t h) { return bits_to_float(uint32_t{h} << 16); }

// Exact for every bit pattern, as vcvtph2ps: subnormals become normal fp32,
// infinities stay infinite, NaNs keep their payload and come out quiet.
float f16_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, a normal fp32 (or zero)
    const float mag = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -mag : mag;
  }
  if (exp == 31) return bits_to_float(sign | 0x7F800000u | (mant << 13) | (mant ? 0x00400000u : 0u));
  return bits_to_float(sign | ((exp + 112) << 23) | (mant << 13));
}

}  // namespace

void LinearHalf::forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy,
                         bool accumulate, bool parallel) const {
  const auto matmul = type_ == HalfType::kBF16 ? ops.matmul_bf16 : ops.matmul_f16;
  // Small products are not worth waking threads for.
  const bool big = parallel && n_tokens * rows() * cols() >= (size_t{1} << 16);
  parallel_rows(rows(), 16, big, [&](size_t r0, size_t r1) {
    matmul(x, ldx, n_tokens, w_, cols(), cols(), y, ldy, r0, r1, accumulate);
  });
}

void LinearHalf::widen_row(size_t r, float* out) const {
  const uint16_t* row = w_ + r * cols();
  if (type_ == HalfType::kBF16)
    for (size_t k = 0; k < cols(); ++k) out[k] = bf16_to_float(row[k]);
  else
    for (size_t k = 0; k < cols(); ++k) out[k] = f16_to_float(row[k]);
}

}  // namespace axe
