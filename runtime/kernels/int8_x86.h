// Entry points of the x86 integer kernels (see int8_x86.cpp). Call only when
// int8_kernels.cpp has checked the CPU.
#pragma once
#include "runtime/kernels/int8_kernels.h"

namespace axe {
// A GEMV (one token at a time) for 4-bit weights only.
void gemv_avx512vnni_w4(const Int8Activations&, size_t, size_t, const Int8Weights&, size_t, size_t, const Int8Output&);
void gemm_avx512vnni_int32(const Int8Activations&, size_t, size_t, const Int8Weights&, size_t, size_t, const Int8Output&);
void gemm_avx512_int16(const Int8Activations&, size_t, size_t, const Int8Weights&, size_t, size_t, const Int8Output&);
void gemm_avx2_int16(const Int8Activations&, size_t, size_t, const Int8Weights&, size_t, size_t, const Int8Output&);
void gemm_avx2_int32(const Int8Activations&, size_t, size_t, const Int8Weights&, size_t, size_t, const Int8Output&);
void gemm_avxvnni_int32(const Int8Activations&, size_t, size_t, const Int8Weights&, size_t, size_t, const Int8Output&);
}  // namespace axe
