#include "quant/naive_bits.h"

#include <cmath>

namespace axe {

uint32_t data_type_bound(uint64_t k, int act_bits, int weight_bits, bool act_signed) {
  const double alpha = std::log2(static_cast<double>(k)) + act_bits + weight_bits - 1 - (act_signed ? 1 : 0);
  return static_cast<uint32_t>(std::ceil(alpha + std::log2(1.0 + std::exp2(-alpha)) + 1.0 - 1e-12));
}

NaiveBits naive_bits(uint64_t max_tile, uint32_t inner_bits, int act_bits, int weight_bits, bool act_signed) {
  int n = act_bits, m = weight_bits;
  while (data_type_bound(max_tile, n, m, act_signed) > inner_bits) {
    if (n > 2) --n;
    else if (m > 2) --m;
    else return {n, m, false};
  }
  return {n, m, true};
}

}  // namespace axe
