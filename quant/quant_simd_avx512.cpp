// The xsimd::avx512f instantiation of quant/quant_simd-inl.hpp. Compile with
// -mavx512f -ffp-contract=off (see the header).
#define AXE_QUANT_SIMD_KERNELS 1
#include "quant/quant_simd-inl.hpp"

#if !XSIMD_WITH_AVX512F
#error "compile this file with the flags of xsimd::avx512f"
#endif

namespace axe::quant_simd {
AXE_QUANT_SIMD_INSTANTIATE(, xsimd::avx512f)
}  // namespace axe::quant_simd
