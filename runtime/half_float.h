// IEEE binary16 and bfloat16 <-> binary32, in integer arithmetic only, so
// that no floating-point mode (flush to zero, denormals are zero) changes
// them. One definition for every reader and kernel of 16-bit values.
#pragma once
#include <bit>
#include <cstdint>

namespace axe {

// Exact for every bit pattern, as F16C's vcvtph2ps: subnormals become normal
// floats, infinities stay infinite, NaNs keep their payload and come out quiet.
float fp16_to_fp32(uint16_t h);
// Nearest, ties to even; overflows to infinity; NaN becomes sign | 0x7E00, as
// ggml's GGML_FP32_TO_FP16 (and vcvtps2ph with rounding mode 0 for numbers).
uint16_t fp32_to_fp16(float f);
// Exact: the top 16 bits of a float.
inline float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(uint32_t{h} << 16); }

}  // namespace axe
