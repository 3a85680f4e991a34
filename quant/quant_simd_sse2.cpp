// The xsimd::sse2 instantiation of quant/quant_simd-inl.hpp. Compile with
// the baseline flags -ffp-contract=off (see the header).
#define AXE_QUANT_SIMD_KERNELS 1
#include "quant/quant_simd-inl.hpp"

#if !XSIMD_WITH_SSE2
#error "compile this file with the flags of xsimd::sse2"
#endif

namespace axe::quant_simd {
AXE_QUANT_SIMD_INSTANTIATE(, xsimd::sse2)
}  // namespace axe::quant_simd
