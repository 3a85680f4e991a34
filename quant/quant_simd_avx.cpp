// The xsimd::avx instantiation of quant/quant_simd-inl.hpp. Compile with
// -mavx -ffp-contract=off (see the header).
#define AXE_QUANT_SIMD_KERNELS 1
#include "quant/quant_simd-inl.hpp"

#if !XSIMD_WITH_AVX
#error "compile this file with the flags of xsimd::avx"
#endif

namespace axe::quant_simd {
AXE_QUANT_SIMD_INSTANTIATE(, xsimd::avx)
}  // namespace axe::quant_simd
