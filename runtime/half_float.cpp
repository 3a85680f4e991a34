#include "runtime/half_float.h"

#include <bit>

namespace axe {

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13) | (man ? 0x00400000u : 0u);  // NaN: quiet
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal half: a normal float
    const int shift = std::countl_zero(man) - 21;  // brings the leading 1 to bit 10
    man = (man << shift) & 0x3ffu;
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) | (man << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t fp32_to_fp16(float f) {
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((w >> 16) & 0x8000u);
  const uint32_t x = w & 0x7fffffffu;
  if (x > 0x7f800000u) return sign | 0x7e00u;  // NaN
  if (x >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to infinity (and infinity)
  if (x >= 0x38800000u) {                      // >= 2^-14: a normal half
    const uint32_t rounded = x + 0xfffu + ((x >> 13) & 1u);  // nearest, ties to even, at bit 13
    return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
  }
  if (x <= 0x33000000u) return sign;  // <= 2^-25: zero (2^-25 is a tie, to the even 0)
  // A subnormal half: round(|f| * 2^24) to nearest even, from the float's
  // 24-bit significand m and exponent e (|f| = m * 2^(e - 150)).
  const uint32_t e = x >> 23, m = (x & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - e;  // 14..24
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

}  // namespace axe
