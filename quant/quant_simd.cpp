// Run-time choice among the per-arch instantiations of quant_simd-inl.hpp.
// This file is compiled with the baseline flags and only calls the
// instantiations (declared extern in the header), never instantiates them.
#include "quant/quant_simd.h"

#include <cstring>

#include "quant/quant_simd-inl.hpp"
#include "runtime/cpu_target.h"

namespace axe {

void mse_row_scales_simd(const float* w, size_t rows, size_t cols, size_t ldw, int bits, float* scales) {
  // Built once: xsimd::dispatch reads CPUID when the dispatcher is made.
  // xsimd 8.1 reads CPUID only; the runtime's detector (Highway's, which also
  // asks the OS through XGETBV whether the wide registers are enabled) caps
  // the list xsimd may choose from.
  static auto all = xsimd::dispatch<quant_simd::Archs>(quant_simd::MseRowScales{});
  static auto no_avx512 = xsimd::dispatch<xsimd::arch_list<xsimd::avx, xsimd::sse2>>(quant_simd::MseRowScales{});
  static auto baseline = xsimd::dispatch<xsimd::arch_list<xsimd::sse2>>(quant_simd::MseRowScales{});
  const CpuFeatures& cpu = cpu_features();
  if (cpu.avx512) all(w, rows, cols, ldw, bits, scales, nullptr);
  else if (cpu.avx2) no_avx512(w, rows, cols, ldw, bits, scales, nullptr);
  else baseline(w, rows, cols, ldw, bits, scales, nullptr);
}

const char* quant_simd_target() {
  static auto f = xsimd::dispatch<quant_simd::Archs>([](auto arch) { return decltype(arch)::name(); });
  return f();
}

bool mse_row_scales_simd_on(const char* target, const float* w, size_t rows, size_t cols, size_t ldw, int bits,
                            float* scales, double* errors) {
  // The dispatcher's own test: an arch runs when its version is at most the
  // best one the CPU has. (xsimd 8.1's separate `avx` flag reads the wrong
  // CPUID leaf and is 0 on AVX machines; `best` is right.)
  const unsigned best = xsimd::available_architectures().best;
  const quant_simd::MseRowScales f;
  if (std::strcmp(target, "avx512f") == 0 && xsimd::avx512f::version() <= best) {
    f(xsimd::avx512f{}, w, rows, cols, ldw, bits, scales, errors);
  } else if (std::strcmp(target, "avx") == 0 && xsimd::avx::version() <= best) {
    f(xsimd::avx{}, w, rows, cols, ldw, bits, scales, errors);
  } else if (std::strcmp(target, "sse2") == 0 && xsimd::sse2::version() <= best) {
    f(xsimd::sse2{}, w, rows, cols, ldw, bits, scales, errors);
  } else {
    return false;
  }
  return true;
}

}  // namespace axe
