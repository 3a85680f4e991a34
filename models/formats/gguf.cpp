#include "models/formats/gguf.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "runtime/error.h"
#include "runtime/half_float.h"

namespace axe {

static_assert(std::endian::native == std::endian::little, "GGUF is read as little-endian in place");

// ---------------------------------------------------------------------------
// ggml types

namespace {

struct TypeInfo {
  const char* name;  // null: the number is not a ggml type (never was, or was removed)
  uint32_t block;    // elements per block
  uint32_t bytes;    // bytes per block
  bool dequantize;   // ggml_dequantize handles it
};

// Indexed by the type number; sizes as ggml-common.h's block structs (and
// gguf-py's GGML_QUANT_SIZES, which the tests compare against).
constexpr TypeInfo kTypes[] = {
    {"F32", 1, 4, true},          // 0
    {"F16", 1, 2, true},          // 1
    {"Q4_0", 32, 18, true},       // 2
    {"Q4_1", 32, 20, true},       // 3
    {nullptr, 0, 0, false},       // 4  Q4_2, removed
    {nullptr, 0, 0, false},       // 5  Q4_3, removed
    {"Q5_0", 32, 22, true},       // 6
    {"Q5_1", 32, 24, true},       // 7
    {"Q8_0", 32, 34, true},       // 8
    {"Q8_1", 32, 36, false},      // 9  (activations only; ggml has no to_float for it)
    {"Q2_K", 256, 84, true},      // 10
    {"Q3_K", 256, 110, true},     // 11
    {"Q4_K", 256, 144, true},     // 12
    {"Q5_K", 256, 176, true},     // 13
    {"Q6_K", 256, 210, true},     // 14
    {"Q8_K", 256, 292, true},     // 15
    {"IQ2_XXS", 256, 66, false},  // 16
    {"IQ2_XS", 256, 74, false},   // 17
    {"IQ3_XXS", 256, 98, false},  // 18
    {"IQ1_S", 256, 50, false},    // 19
    {"IQ4_NL", 32, 18, true},     // 20
    {"IQ3_S", 256, 110, false},   // 21
    {"IQ2_S", 256, 82, false},    // 22
    {"IQ4_XS", 256, 136, true},   // 23
    {"I8", 1, 1, false},          // 24
    {"I16", 1, 2, false},         // 25
    {"I32", 1, 4, false},         // 26
    {"I64", 1, 8, false},         // 27
    {"F64", 1, 8, false},         // 28
    {"IQ1_M", 256, 56, false},    // 29
    {"BF16", 1, 2, true},         // 30
    {nullptr, 0, 0, false},       // 31 Q4_0_4_4, removed from GGUF
    {nullptr, 0, 0, false},       // 32 Q4_0_4_8, removed
    {nullptr, 0, 0, false},       // 33 Q4_0_8_8, removed
    {"TQ1_0", 256, 54, false},    // 34
    {"TQ2_0", 256, 66, false},    // 35
    {nullptr, 0, 0, false},       // 36 IQ4_NL_4_4, removed
    {nullptr, 0, 0, false},       // 37 IQ4_NL_4_8, removed
    {nullptr, 0, 0, false},       // 38 IQ4_NL_8_8, removed
    {"MXFP4", 32, 17, false},     // 39
    {"NVFP4", 64, 36, false},     // 40
    {"Q1_0", 128, 18, false},     // 41
    {"Q2_0", 64, 18, false},      // 42
};

const TypeInfo* type_info(GgmlType t) {
  const auto i = static_cast<uint32_t>(t);
  if (i >= std::size(kTypes) || !kTypes[i].name) return nullptr;
  return &kTypes[i];
}

}  // namespace

const char* ggml_type_name(GgmlType t) {
  if (const TypeInfo* ti = type_info(t)) return ti->name;
  thread_local char buf[24];
  std::snprintf(buf, sizeof buf, "type %u", static_cast<unsigned>(t));
  return buf;
}

size_t ggml_block_size(GgmlType t) {
  const TypeInfo* ti = type_info(t);
  return ti ? ti->block : 0;
}

size_t ggml_block_bytes(GgmlType t) {
  const TypeInfo* ti = type_info(t);
  return ti ? ti->bytes : 0;
}

bool ggml_can_dequantize(GgmlType t) {
  const TypeInfo* ti = type_info(t);
  return ti && ti->dequantize;
}

// ---------------------------------------------------------------------------
// Dequantization: llama.cpp's dequantize_row_* (ggml-quants.c), one block at a
// time from unaligned bytes, with the same float operations in the same order.
// Contraction of a*b+c into an FMA is off here. (With half scales and these
// small integer codes every product is exact, so a fused multiply-add rounds
// the same, and GCC does fuse them under -march=native; the pragma keeps the
// equality from resting on that.)

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace {

inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

inline uint32_t u32_at(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// block_q4_0: half d; u8 qs[16]
void block_q4_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    const int x0 = (qs[j] & 0x0F) - 8;
    const int x1 = (qs[j] >> 4) - 8;
    y[j] = static_cast<float>(x0) * d;
    y[j + 16] = static_cast<float>(x1) * d;
  }
}

// block_q4_1: half d, m; u8 qs[16]
void block_q4_1(const uint8_t* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    const int x0 = qs[j] & 0x0F;
    const int x1 = qs[j] >> 4;
    y[j] = static_cast<float>(x0) * d + m;
    y[j + 16] = static_cast<float>(x1) * d + m;
  }
}

// block_q5_0: half d; u8 qh[4]; u8 qs[16]
void block_q5_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  const uint32_t qh = u32_at(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const uint8_t xh0 = static_cast<uint8_t>(((qh >> j) << 4) & 0x10);
    const uint8_t xh1 = static_cast<uint8_t>((qh >> (j + 12)) & 0x10);
    const int32_t x0 = ((qs[j] & 0x0F) | xh0) - 16;
    const int32_t x1 = ((qs[j] >> 4) | xh1) - 16;
    y[j] = static_cast<float>(x0) * d;
    y[j + 16] = static_cast<float>(x1) * d;
  }
}

// block_q5_1: half d, m; u8 qh[4]; u8 qs[16]
void block_q5_1(const uint8_t* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  const uint32_t qh = u32_at(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const uint8_t xh0 = static_cast<uint8_t>(((qh >> j) << 4) & 0x10);
    const uint8_t xh1 = static_cast<uint8_t>((qh >> (j + 12)) & 0x10);
    const int x0 = (qs[j] & 0x0F) | xh0;
    const int x1 = (qs[j] >> 4) | xh1;
    y[j] = static_cast<float>(x0) * d + m;
    y[j + 16] = static_cast<float>(x1) * d + m;
  }
}

// block_q8_0: half d; i8 qs[32]
void block_q8_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

// block_q2_K: u8 scales[16]; u8 qs[64]; half d, dmin
void block_q2_K(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* q = b + 16;
  const float d = half_at(b + 80), min = half_at(b + 82);
  int is = 0;
  for (int n = 0; n < 256; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      uint8_t sc = scales[is++];
      float dl = d * static_cast<float>(sc & 0xF), ml = min * static_cast<float>(sc >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l] >> shift) & 3) - ml;
      sc = scales[is++];
      dl = d * static_cast<float>(sc & 0xF);
      ml = min * static_cast<float>(sc >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16] >> shift) & 3) - ml;
      shift += 2;
    }
    q += 32;
  }
}

// The 16 6-bit scales (0..63) of a block_q3_K, unpacked from its 12 bytes.
void q3_k_scales(const uint8_t* b, int8_t* scales) {
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  uint32_t aux[4];
  std::memcpy(aux, b + 96, 12);
  const uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  std::memcpy(scales, aux, 16);
}

// block_q3_K: u8 hmask[32]; u8 qs[64]; u8 scales[12] (16 6-bit scales); half d
void block_q3_K(const uint8_t* b, float* y) {
  const uint8_t* hm = b;
  const uint8_t* q = b + 32;
  const float d_all = half_at(b + 108);
  int8_t scales[16];
  q3_k_scales(b, scales);
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < 256; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      float dl = d_all * static_cast<float>(scales[is++] - 32);
      for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
      dl = d_all * static_cast<float>(scales[is++] - 32);
      for (int l = 0; l < 16; ++l)
        *y++ = dl * static_cast<float>(((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
      shift += 2;
      m = static_cast<uint8_t>(m << 1);
    }
    q += 32;
  }
}

// The 6-bit scale and min of sub-block j of a Q4_K/Q5_K block (12 bytes).
inline void scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// block_q4_K: half d, dmin; u8 scales[12]; u8 qs[128]
void block_q4_K(const uint8_t* b, float* y) {
  const float d = half_at(b), min = half_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  int is = 0;
  uint8_t sc, m;
  for (int j = 0; j < 256; j += 64) {
    scale_min_k4(is + 0, scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    q += 32;
    is += 2;
  }
}

// block_q5_K: half d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
void block_q5_K(const uint8_t* b, float* y) {
  const float d = half_at(b), min = half_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* ql = b + 48;
  int is = 0;
  uint8_t sc, m;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < 256; j += 64) {
    scale_min_k4(is + 0, scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
    ql += 32;
    is += 2;
    u1 = static_cast<uint8_t>(u1 << 2);
    u2 = static_cast<uint8_t>(u2 << 2);
  }
}

// block_q6_K: u8 ql[128]; u8 qh[64]; i8 scales[16]; half d
void block_q6_K(const uint8_t* b, float* y) {
  const float d = half_at(b + 208);
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const uint8_t* sc = b + 192;
  for (int n = 0; n < 256; n += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int8_t q1 = static_cast<int8_t>(((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
      const int8_t q2 = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      const int8_t q3 = static_cast<int8_t>(((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      const int8_t q4 = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      y[l + 0] = d * static_cast<float>(static_cast<int8_t>(sc[is + 0])) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(static_cast<int8_t>(sc[is + 2])) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(static_cast<int8_t>(sc[is + 4])) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(static_cast<int8_t>(sc[is + 6])) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

// block_q8_K: float d; i8 qs[256]; i16 bsums[16] (not needed here)
void block_q8_K(const uint8_t* b, float* y) {
  float d;
  std::memcpy(&d, b, 4);
  for (int j = 0; j < 256; ++j) y[j] = d * static_cast<float>(static_cast<int8_t>(b[4 + j]));
}

// block_iq4_nl: half d; u8 qs[16] (indices into the non-linear table)
void block_iq4_nl(const uint8_t* b, float* y) {
  const float d = half_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(kIq4nlValues[qs[j] & 0xf]);
    y[j + 16] = d * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
  }
}

// block_iq4_xs: half d; u16 scales_h; u8 scales_l[4]; u8 qs[128]. The
// scale dl of sub-block ib (of 8, 32 values each).
float iq4_xs_scale(const uint8_t* b, int ib) {
  uint16_t scales_h;
  std::memcpy(&scales_h, b + 2, 2);
  const uint8_t* scales_l = b + 4;
  const int ls = ((scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((scales_h >> 2 * ib) & 3) << 4);
  return half_at(b) * static_cast<float>(ls - 32);
}

void block_iq4_xs(const uint8_t* b, float* y) {
  const uint8_t* qs = b + 8;
  for (int ib = 0; ib < 8; ++ib) {
    const float dl = iq4_xs_scale(b, ib);
    for (int j = 0; j < 16; ++j) {
      y[j + 0] = dl * static_cast<float>(kIq4nlValues[qs[j] & 0xf]);
      y[j + 16] = dl * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
    }
    y += 32;
    qs += 16;
  }
}

}  // namespace

void ggml_dequantize(GgmlType t, const uint8_t* src, size_t n, float* out) {
  const TypeInfo* ti = type_info(t);
  if (!ti || !ti->dequantize) fail(AXE_ERR_UNSUPPORTED, std::string("cannot dequantize ggml type ") + ggml_type_name(t));
  if (n % ti->block)
    fail(AXE_ERR_INVALID_ARGUMENT, std::string("dequantizing ") + ti->name + ": " + std::to_string(n) +
                                       " elements is not a multiple of the block size " + std::to_string(ti->block));
  const size_t nb = n / ti->block, bb = ti->bytes, bs = ti->block;
  void (*fn)(const uint8_t*, float*) = nullptr;
  switch (t) {
    case GgmlType::F32:
      if (n) std::memcpy(out, src, n * 4);
      return;
    case GgmlType::F16:
      for (size_t i = 0; i < n; ++i) out[i] = half_at(src + 2 * i);
      return;
    case GgmlType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = bf16_to_fp32(h);
      }
      return;
    case GgmlType::Q4_0: fn = block_q4_0; break;
    case GgmlType::Q4_1: fn = block_q4_1; break;
    case GgmlType::Q5_0: fn = block_q5_0; break;
    case GgmlType::Q5_1: fn = block_q5_1; break;
    case GgmlType::Q8_0: fn = block_q8_0; break;
    case GgmlType::Q2_K: fn = block_q2_K; break;
    case GgmlType::Q3_K: fn = block_q3_K; break;
    case GgmlType::Q4_K: fn = block_q4_K; break;
    case GgmlType::Q5_K: fn = block_q5_K; break;
    case GgmlType::Q6_K: fn = block_q6_K; break;
    case GgmlType::Q8_K: fn = block_q8_K; break;
    case GgmlType::IQ4_NL: fn = block_iq4_nl; break;
    case GgmlType::IQ4_XS: fn = block_iq4_xs; break;
    default: fail(AXE_ERR_INTERNAL, std::string("no dequantizer for ") + ti->name);
  }
  for (size_t i = 0; i < nb; ++i) fn(src + i * bb, out + i * bs);
}

// ---------------------------------------------------------------------------
// Conversion to Q8_0

namespace {

// llama.cpp's quantize_row_q8_0_ref on one group of 32 (with
// quantize_group_activations' defined answers for a NaN or an infinite
// x * id); returns the scale, fp16(d) widened.
float quantize_q8_0_group(const float* x, int8_t* q) {
  float amax = 0.0f;
  for (size_t j = 0; j < 32; ++j) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;  // ggml's MAX(amax, |x|), NaN handling included
  }
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (size_t j = 0; j < 32; ++j) {
    float t = x[j] * id;
    if (std::isnan(t)) t = 0.0f;
    t = std::clamp(t, -127.0f, 127.0f);  // integer bounds: the same as clamping after rounding
    // roundf(t) (half away from zero) without a libm call: t - trunc(t) is exact.
    const int i = static_cast<int>(t);
    const float f = t - static_cast<float>(i);
    q[j] = static_cast<int8_t>(i + (f >= 0.5f) - (f <= -0.5f));
  }
  return fp16_to_fp32(fp32_to_fp16(d));
}

// Q3_K's 256 values as d times integer codes (scale - 32) * q in [-124, 128];
// per group of 32, the scale d, or -d and the negated codes when the group
// holds 128.
void q3_k_to_q8_0(const uint8_t* b, int8_t* codes, float* scales) {
  const uint8_t* hm = b;
  const uint8_t* q = b + 32;
  const float d_all = half_at(b + 108);
  int8_t sc[16];
  q3_k_scales(b, sc);
  int c[32];
  int is = 0, g = 0;
  uint8_t m = 1;
  for (int n = 0; n < 256; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j, ++g) {
      int s = sc[is++] - 32;
      for (int l = 0; l < 16; ++l) c[l] = s * (((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
      s = sc[is++] - 32;
      for (int l = 0; l < 16; ++l) c[16 + l] = s * (((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
      const bool flip = std::find(c, c + 32, 128) != c + 32;
      scales[g] = flip ? -d_all : d_all;
      for (int l = 0; l < 32; ++l) codes[g * 32 + l] = static_cast<int8_t>(flip ? -c[l] : c[l]);
      shift += 2;
      m = static_cast<uint8_t>(m << 1);
    }
    q += 32;
  }
}

}  // namespace

bool ggml_to_q8_0(GgmlType t, const uint8_t* src, size_t n, float* values, int8_t* codes, float* scales) {
  if (n % 32)
    fail(AXE_ERR_INVALID_ARGUMENT, std::string("converting ") + ggml_type_name(t) + " to Q8_0: " + std::to_string(n) +
                                       " elements is not a multiple of 32");
  ggml_dequantize(t, src, n, values);  // checks the type and n
  const TypeInfo* ti = type_info(t);
  const size_t nb = n / ti->block, bb = ti->bytes;
  switch (t) {
    case GgmlType::Q8_0:
      for (size_t i = 0; i < nb; ++i) {
        const uint8_t* b = src + i * bb;
        scales[i] = half_at(b);
        std::memcpy(codes + 32 * i, b + 2, 32);
      }
      return true;
    case GgmlType::Q4_0:
    case GgmlType::IQ4_NL:
      for (size_t i = 0; i < nb; ++i) {
        const uint8_t* b = src + i * bb;
        scales[i] = half_at(b);
        int8_t* c = codes + 32 * i;
        for (int j = 0; j < 16; ++j) {
          const int lo = b[2 + j] & 0x0F, hi = b[2 + j] >> 4;
          c[j] = static_cast<int8_t>(t == GgmlType::Q4_0 ? lo - 8 : kIq4nlValues[lo]);
          c[j + 16] = static_cast<int8_t>(t == GgmlType::Q4_0 ? hi - 8 : kIq4nlValues[hi]);
        }
      }
      return true;
    case GgmlType::Q5_0:
      for (size_t i = 0; i < nb; ++i) {
        const uint8_t* b = src + i * bb;
        scales[i] = half_at(b);
        const uint32_t qh = u32_at(b + 2);
        const uint8_t* qs = b + 6;
        int8_t* c = codes + 32 * i;
        for (int j = 0; j < 16; ++j) {
          const int xh0 = ((qh >> j) << 4) & 0x10;
          const int xh1 = (qh >> (j + 12)) & 0x10;
          c[j] = static_cast<int8_t>(((qs[j] & 0x0F) | xh0) - 16);
          c[j + 16] = static_cast<int8_t>(((qs[j] >> 4) | xh1) - 16);
        }
      }
      return true;
    case GgmlType::Q3_K:
      for (size_t i = 0; i < nb; ++i) q3_k_to_q8_0(src + i * bb, codes + 256 * i, scales + 8 * i);
      return true;
    case GgmlType::Q8_K:
      for (size_t i = 0; i < nb; ++i) {
        const uint8_t* b = src + i * bb;
        float d;
        std::memcpy(&d, b, 4);
        std::fill(scales + 8 * i, scales + 8 * i + 8, d);
        std::memcpy(codes + 256 * i, b + 4, 256);
      }
      return true;
    case GgmlType::IQ4_XS:
      for (size_t i = 0; i < nb; ++i) {
        const uint8_t* b = src + i * bb;
        const uint8_t* qs = b + 8;
        for (int ib = 0; ib < 8; ++ib) {
          scales[8 * i + ib] = iq4_xs_scale(b, ib);
          int8_t* c = codes + 256 * i + 32 * ib;
          for (int j = 0; j < 16; ++j) {
            c[j] = kIq4nlValues[qs[16 * ib + j] & 0xf];
            c[j + 16] = kIq4nlValues[qs[16 * ib + j] >> 4];
          }
        }
      }
      return true;
    default:
      for (size_t g = 0; g < n / 32; ++g) scales[g] = quantize_q8_0_group(values + 32 * g, codes + 32 * g);
      return false;
  }
}

#if defined(__clang__)
#pragma clang fp contract(on)
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

// ---------------------------------------------------------------------------
// Metadata values

using Kind = GgufValue::Kind;

namespace {

constexpr uint32_t kKindCount = 13;

bool is_integer_kind(Kind k) {
  switch (k) {
    case Kind::U8: case Kind::I8: case Kind::U16: case Kind::I16:
    case Kind::U32: case Kind::I32: case Kind::U64: case Kind::I64:
      return true;
    default:
      return false;
  }
}

bool is_signed_kind(Kind k) { return k == Kind::I8 || k == Kind::I16 || k == Kind::I32 || k == Kind::I64; }

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// An integer element of kind k at p, widened: signed kinds into *s, unsigned into *u.
void load_integer(Kind k, const uint8_t* p, int64_t* s, uint64_t* u) {
  switch (k) {
    case Kind::U8: *u = load<uint8_t>(p); break;
    case Kind::I8: *s = load<int8_t>(p); break;
    case Kind::U16: *u = load<uint16_t>(p); break;
    case Kind::I16: *s = load<int16_t>(p); break;
    case Kind::U32: *u = load<uint32_t>(p); break;
    case Kind::I32: *s = load<int32_t>(p); break;
    case Kind::U64: *u = load<uint64_t>(p); break;
    case Kind::I64: *s = load<int64_t>(p); break;
    default: break;
  }
}

}  // namespace

const char* GgufValue::kind_name(Kind k) {
  static const char* const names[kKindCount] = {"u8",  "i8",  "u16", "i16", "u32", "i32", "f32",
                                                "bool", "str", "arr", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(k);
  if (i < kKindCount) return names[i];
  thread_local char buf[24];
  std::snprintf(buf, sizeof buf, "kind %u", i);
  return buf;
}

size_t GgufValue::kind_size(Kind k) {
  switch (k) {
    case Kind::U8: case Kind::I8: case Kind::Bool: return 1;
    case Kind::U16: case Kind::I16: return 2;
    case Kind::U32: case Kind::I32: case Kind::F32: return 4;
    case Kind::U64: case Kind::I64: case Kind::F64: return 8;
    default: return 0;
  }
}

bool GgufValue::is_integer() const { return is_integer_kind(kind); }

std::optional<uint64_t> GgufValue::to_uint() const {
  if (!is_integer_kind(kind)) return std::nullopt;
  if (is_signed_kind(kind)) {
    if (i < 0) return std::nullopt;
    return static_cast<uint64_t>(i);
  }
  return u;
}

std::optional<int64_t> GgufValue::to_int() const {
  if (!is_integer_kind(kind)) return std::nullopt;
  if (is_signed_kind(kind)) return i;
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(u);
}

double GgufValue::number_at(size_t j) const {
  const size_t size = kind_size(elem);
  if (kind != Kind::Array || j >= count || size == 0) return 0;
  const uint8_t* p = raw.data() + j * size;
  switch (elem) {
    case Kind::F32: return load<float>(p);
    case Kind::F64: return load<double>(p);
    case Kind::Bool: return *p ? 1 : 0;
    default: {
      int64_t s = 0;
      uint64_t u = 0;
      load_integer(elem, p, &s, &u);
      return is_signed_kind(elem) ? static_cast<double>(s) : static_cast<double>(u);
    }
  }
}

std::optional<int64_t> GgufValue::int_at(size_t j) const {
  if (kind != Kind::Array || j >= count || !is_integer_kind(elem)) return std::nullopt;
  int64_t s = 0;
  uint64_t u = 0;
  load_integer(elem, raw.data() + j * kind_size(elem), &s, &u);
  if (is_signed_kind(elem)) return s;
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(u);
}

std::optional<uint64_t> GgufValue::uint_at(size_t j) const {
  if (kind != Kind::Array || j >= count || !is_integer_kind(elem)) return std::nullopt;
  int64_t s = 0;
  uint64_t u = 0;
  load_integer(elem, raw.data() + j * kind_size(elem), &s, &u);
  if (!is_signed_kind(elem)) return u;
  if (s < 0) return std::nullopt;
  return static_cast<uint64_t>(s);
}

std::string GgufValue::type_name() const {
  if (kind != Kind::Array) return kind_name(kind);
  if (elem != Kind::Array) return std::string("arr[") + kind_name(elem) + "]";
  return "arr[" + (items.empty() ? std::string("arr") : items[0].type_name()) + "]";
}

// ---------------------------------------------------------------------------
// The reader

namespace {

constexpr uint64_t kMaxKeyBytes = 65535;   // the GGUF specification's limit
constexpr uint64_t kMaxNameBytes = 64;     // idem for tensor names (ggml's GGML_MAX_NAME)
constexpr uint32_t kMaxDims = 4;           // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 2;          // an array of arrays, no deeper
constexpr uint64_t kMaxInnerArrays = uint64_t{1} << 20;  // arrays inside arrays, in the whole file
constexpr uint64_t kMaxEntries = uint64_t{1} << 20;      // metadata entries, and tensors
// The fewest bytes one entry can take: a metadata entry is a key (8-byte
// length, at least 1 byte), a 4-byte kind and at least a 1-byte value; a
// tensor info a name (8 + at least 1), n_dims (4), type (4) and offset (8).
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;
constexpr uint64_t kMinTensorBytes = 8 + 1 + 4 + 4 + 8;
constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

std::string num(uint64_t v) { return std::to_string(v); }

// A key or tensor name from the file as a message quotes it: at most 64 bytes,
// control bytes as \xNN (a message stays one line).
std::string quoted(const std::string& s) {
  std::string out;
  for (unsigned char c : excerpt(s)) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return "'" + out + "'";
}

class Reader {
 public:
  Reader(const std::string& path, const uint8_t* data, uint64_t size) : path_(path), data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }
  void set_context(std::string c) { context_ = std::move(c); }

  [[noreturn]] void fail_at(const std::string& what, uint64_t at) const {
    fail(AXE_ERR_FORMAT, path_ + ": " + (context_.empty() ? "" : context_ + ": ") + what + " at offset " + num(at));
  }

  void need(uint64_t n, const char* what) const {
    if (n > left())
      fail_at(std::string("truncated: ") + what + " needs " + num(n) + " bytes, the file has " + num(left()) + " left",
              pos_);
  }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }

  const uint8_t* take(uint64_t n, const char* what) {
    need(n, what);
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  void read_string(std::string* out, const char* what, uint64_t max_len = UINT64_MAX) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(what);
    if (len > max_len) fail_at(std::string(what) + " length " + num(len) + " exceeds the limit of " + num(max_len), at);
    if (len > left())
      fail_at(std::string(what) + " length " + num(len) + " exceeds the " + num(left()) + " bytes left in the file", at);
    out->assign(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
  }

 private:
  const std::string& path_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string context_;
};

Kind read_kind(Reader& r, const char* what) {
  const uint64_t at = r.pos();
  const uint32_t k = r.read<uint32_t>(what);
  if (k >= kKindCount) r.fail_at(std::string("unknown ") + what + " " + num(k), at);
  return static_cast<Kind>(k);
}

void read_scalar(Reader& r, Kind k, GgufValue* v) {
  switch (k) {
    case Kind::U8: v->u = r.read<uint8_t>("a u8 value"); break;
    case Kind::I8: v->i = r.read<int8_t>("an i8 value"); break;
    case Kind::U16: v->u = r.read<uint16_t>("a u16 value"); break;
    case Kind::I16: v->i = r.read<int16_t>("an i16 value"); break;
    case Kind::U32: v->u = r.read<uint32_t>("a u32 value"); break;
    case Kind::I32: v->i = r.read<int32_t>("an i32 value"); break;
    case Kind::U64: v->u = r.read<uint64_t>("a u64 value"); break;
    case Kind::I64: v->i = r.read<int64_t>("an i64 value"); break;
    case Kind::F32: v->f = r.read<float>("an f32 value"); break;
    case Kind::F64: v->f = r.read<double>("an f64 value"); break;
    case Kind::Bool: {
      const uint64_t at = r.pos();
      const uint8_t b = r.read<uint8_t>("a bool value");
      if (b > 1) r.fail_at("bool value " + num(b) + " is neither 0 nor 1", at);
      v->b = b != 0;
      break;
    }
    case Kind::String: r.read_string(&v->str, "string"); break;
    case Kind::Array: break;  // not a scalar: the callers handle arrays
  }
}

// The rest of an array value (after its kind): element kind, count, elements.
// `depth` is 1 for a metadata value, 2 for an array inside one.
void read_array(Reader& r, GgufValue* v, int depth, uint64_t* inner_arrays) {
  const uint64_t at = r.pos();
  v->kind = Kind::Array;
  v->elem = read_kind(r, "array element kind");
  v->count = r.read<uint64_t>("an array length");
  if (v->elem == Kind::Array && depth >= kMaxArrayDepth)
    r.fail_at("arrays nest deeper than " + std::to_string(kMaxArrayDepth), at);
  const uint64_t min_bytes = v->elem == Kind::String  ? 8
                             : v->elem == Kind::Array ? 4 + 8
                                                      : GgufValue::kind_size(v->elem);
  // Checked before anything is allocated: every element takes min_bytes.
  if (v->count > r.left() / min_bytes)
    r.fail_at("array of " + num(v->count) + " " + GgufValue::kind_name(v->elem) + " needs at least " +
                  num(min_bytes) + " bytes per element, the file has " + num(r.left()) + " left",
              at);
  switch (v->elem) {
    case Kind::String:
      v->strings.resize(v->count);
      for (std::string& s : v->strings) r.read_string(&s, "string in array");
      break;
    case Kind::Array:
      *inner_arrays += v->count;
      if (*inner_arrays > kMaxInnerArrays)
        r.fail_at("more than " + num(kMaxInnerArrays) + " arrays inside arrays in the file", at);
      v->items.resize(v->count);
      for (GgufValue& item : v->items) read_array(r, &item, depth + 1, inner_arrays);
      break;
    default: {
      const uint64_t n = v->count * min_bytes;
      const uint8_t* p = r.take(n, "array elements");
      if (v->elem == Kind::Bool)
        for (uint64_t j = 0; j < n; ++j)
          if (p[j] > 1) r.fail_at("bool element " + num(j) + " is " + num(p[j]) + ", neither 0 nor 1", r.pos() - n + j);
      v->raw.assign(p, p + n);
      break;
    }
  }
}

}  // namespace

uint64_t GgufFile::Tensor::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : ne) n *= d;
  return n;
}

uint64_t GgufFile::Tensor::n_rows() const {
  const uint64_t r = row_elements();
  return r ? n_elements() / r : 0;
}

std::string GgufFile::Tensor::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

GgufFile::GgufFile(const std::string& path, MappedFile::Mode mode)
    : file_(std::make_unique<MappedFile>(path, mode)) {
  const MappedFile& f = *file_;
  const uint64_t size = f.size();
  const uint8_t* base = size ? f.at(0, size, "the file") : nullptr;
  if (size < 4 || std::memcmp(base, "GGUF", 4) != 0)
    fail(AXE_ERR_FORMAT, path + ": not a GGUF file (no \"GGUF\" magic at offset 0)");
  Reader r(path, base, size);
  r.take(4, "the magic");

  // Header.
  version_ = r.read<uint32_t>("the version");
  if (version_ != 2 && version_ != 3) {
    if (version_ == 1) r.fail_at("GGUF version 1 is not supported (only versions 2 and 3 are)", 4);
    if (version_ != 0 && (version_ & 0xFFFF) == 0)
      r.fail_at("GGUF version " + num(version_) + " looks byte-swapped: big-endian GGUF is not supported", 4);
    r.fail_at("unsupported GGUF version " + num(version_) + " (only versions 2 and 3 are supported)", 4);
  }
  const uint64_t n_tensors = r.read<uint64_t>("the tensor count");
  const uint64_t n_kv = r.read<uint64_t>("the metadata count");
  if (n_tensors > kMaxEntries || n_tensors > r.left() / kMinTensorBytes)
    r.fail_at("tensor count " + num(n_tensors) + " is impossible in a file of " + num(size) + " bytes", 8);
  if (n_kv > kMaxEntries || n_kv > r.left() / kMinKvBytes ||
      n_kv * kMinKvBytes + n_tensors * kMinTensorBytes > r.left())
    r.fail_at("metadata count " + num(n_kv) + " is impossible in a file of " + num(size) + " bytes with " +
                  num(n_tensors) + " tensors",
              16);

  // Metadata.
  uint64_t inner_arrays = 0;
  for (uint64_t e = 0; e < n_kv; ++e) {
    const uint64_t at = r.pos();
    r.set_context("metadata entry " + num(e));
    std::string key;
    r.read_string(&key, "key", kMaxKeyBytes);
    if (key.empty()) r.fail_at("empty key", at);
    if (kv_index_.count(key)) r.fail_at("duplicate key " + quoted(key), at);
    r.set_context("metadata " + quoted(key));
    GgufValue v;
    v.kind = read_kind(r, "value kind");
    if (v.kind == Kind::Array)
      read_array(r, &v, 1, &inner_arrays);
    else
      read_scalar(r, v.kind, &v);
    kv_index_.emplace(key, kv_.size());
    kv_.emplace_back(std::move(key), std::move(v));
  }
  r.set_context("");

  if (const GgufValue* a = find("general.alignment")) {
    if (a->kind != Kind::U32)
      fail(AXE_ERR_FORMAT, path + ": metadata 'general.alignment' is " + a->type_name() + ", expected u32");
    if (a->u == 0 || (a->u & (a->u - 1)) != 0)
      fail(AXE_ERR_FORMAT, path + ": metadata 'general.alignment' = " + num(a->u) + " is not a power of two");
    alignment_ = a->u;
  }

  // Tensor infos.
  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;
  std::vector<uint64_t> info_at;
  for (uint64_t t = 0; t < n_tensors; ++t) {
    const uint64_t at = r.pos();
    info_at.push_back(at);
    r.set_context("tensor " + num(t));
    Tensor ten;
    r.read_string(&ten.name, "tensor name", kMaxNameBytes);
    if (ten.name.empty()) r.fail_at("empty tensor name", at);
    if (tensor_index_.count(ten.name)) r.fail_at("duplicate tensor name " + quoted(ten.name), at);
    r.set_context("tensor " + quoted(ten.name));
    const uint64_t dims_at = r.pos();
    const uint32_t n_dims = r.read<uint32_t>("the number of dimensions");
    if (n_dims > kMaxDims) r.fail_at(num(n_dims) + " dimensions, more than " + num(kMaxDims), dims_at);
    uint64_t n_el = 1;
    bool overflow = false;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_at = r.pos();
      const uint64_t dim = r.read<uint64_t>("a dimension");
      if (dim > kInt64Max) r.fail_at("dimension " + num(d) + " = " + num(dim) + " is negative as int64", dim_at);
      ten.ne.push_back(dim);
      overflow = overflow || __builtin_mul_overflow(n_el, dim, &n_el);
    }
    if (overflow || n_el > kInt64Max) r.fail_at("shape " + ten.shape_string() + " has too many elements", dims_at);
    const uint64_t type_at = r.pos();
    const uint32_t type = r.read<uint32_t>("the tensor type");
    ten.type = static_cast<GgmlType>(type);
    const TypeInfo* ti = type_info(ten.type);
    if (!ti) r.fail_at("unknown ggml type " + num(type), type_at);
    if (ten.row_elements() % ti->block)
      r.fail_at(std::string("row of ") + num(ten.row_elements()) + " elements is not a multiple of the " + ti->name +
                    " block size " + num(ti->block),
                type_at);
    if (__builtin_mul_overflow(n_el / ti->block, uint64_t{ti->bytes}, &ten.bytes))
      r.fail_at("shape " + ten.shape_string() + " of " + ti->name + " has too many bytes", dims_at);
    ten.offset = r.read<uint64_t>("the tensor data offset");
    tensor_index_.emplace(ten.name, tensors_.size());
    tensors_.push_back(std::move(ten));
  }
  r.set_context("");

  // The data section starts at the next multiple of the alignment.
  data_offset_ = r.pos();
  if (n_tensors > 0) {
    data_offset_ = (r.pos() + alignment_ - 1) / alignment_ * alignment_;  // pos < 2^63, alignment <= 2^31
    if (data_offset_ > size)
      fail(AXE_ERR_FORMAT, path + ": truncated: the data section would start at offset " + num(data_offset_) +
                               " (the tensor infos end at " + num(r.pos()) + ", aligned to " + num(alignment_) +
                               ") but the file has " + num(size) + " bytes");
  }
  const uint64_t data_size = size - data_offset_;
  for (size_t t = 0; t < tensors_.size(); ++t) {
    Tensor& ten = tensors_[t];
    const std::string where = path + ": tensor " + quoted(ten.name) + " (info at offset " + num(info_at[t]) + "): ";
    if (ten.offset % alignment_)
      fail(AXE_ERR_FORMAT, where + "data offset " + num(ten.offset) + " is not a multiple of the alignment " +
                               num(alignment_));
    if (ten.offset > data_size || ten.bytes > data_size - ten.offset)
      fail(AXE_ERR_FORMAT, where + "its " + num(ten.bytes) + " bytes " + ten.shape_string() + " " +
                               ggml_type_name(ten.type) + " at data offset " + num(ten.offset) + " (file offset " +
                               num(data_offset_) + " + " + num(ten.offset) + ") run past the end of the file (" +
                               num(size) + " bytes)");
    ten.data = base + data_offset_ + ten.offset;
    if (ten.bytes) ranges.push_back({ten.offset, ten.offset + ten.bytes, t});
  }
  std::stable_sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      fail(AXE_ERR_FORMAT, path + ": tensors " + quoted(tensors_[ranges[i - 1].index].name) + " and " +
                               quoted(tensors_[ranges[i].index].name) + " overlap in the data section (at data offset " +
                               num(ranges[i].begin) + ")");
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufFile::Tensor* GgufFile::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufValue& GgufFile::get(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail(AXE_ERR_FORMAT, path() + ": metadata " + quoted(key) + " is missing");
  return *v;
}

void GgufFile::wrong_kind(const std::string& key, const GgufValue& v, const char* expected) const {
  fail(AXE_ERR_FORMAT, path() + ": metadata " + quoted(key) + " is " + v.type_name() + ", expected " + expected);
}

uint64_t GgufFile::get_uint(const std::string& key) const {
  const GgufValue& v = get(key);
  if (!v.is_integer()) wrong_kind(key, v, "an integer");
  const auto x = v.to_uint();
  if (!x) fail(AXE_ERR_FORMAT, path() + ": metadata " + quoted(key) + " = " + std::to_string(v.i) + " is negative");
  return *x;
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = get(key);
  if (!v.is_integer()) wrong_kind(key, v, "an integer");
  const auto x = v.to_int();
  if (!x)
    fail(AXE_ERR_FORMAT, path() + ": metadata " + quoted(key) + " = " + num(v.u) + " does not fit in an int64");
  return *x;
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.kind != Kind::F32 && v.kind != Kind::F64) wrong_kind(key, v, "f32 or f64");
  return v.f;
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.kind != Kind::Bool) wrong_kind(key, v, "bool");
  return v.b;
}

const std::string& GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.kind != Kind::String) wrong_kind(key, v, "str");
  return v.str;
}

std::optional<uint64_t> GgufFile::find_uint(const std::string& key) const {
  return has(key) ? std::optional<uint64_t>(get_uint(key)) : std::nullopt;
}

std::optional<int64_t> GgufFile::find_int(const std::string& key) const {
  return has(key) ? std::optional<int64_t>(get_int(key)) : std::nullopt;
}

std::optional<double> GgufFile::find_float(const std::string& key) const {
  return has(key) ? std::optional<double>(get_float(key)) : std::nullopt;
}

std::optional<bool> GgufFile::find_bool(const std::string& key) const {
  return has(key) ? std::optional<bool>(get_bool(key)) : std::nullopt;
}

std::optional<std::string> GgufFile::find_string(const std::string& key) const {
  return has(key) ? std::optional<std::string>(get_string(key)) : std::nullopt;
}

const std::vector<std::string>& GgufFile::get_string_array(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.kind != Kind::Array || v.elem != Kind::String) wrong_kind(key, v, "arr[str]");
  return v.strings;
}

std::vector<float> GgufFile::get_float_array(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.kind != Kind::Array || (v.elem != Kind::F32 && v.elem != Kind::F64)) wrong_kind(key, v, "arr[f32] or arr[f64]");
  std::vector<float> out(v.count);
  if (v.elem == Kind::F32) {
    if (v.count) std::memcpy(out.data(), v.raw.data(), v.count * 4);
  } else {
    for (size_t j = 0; j < v.count; ++j) {
      // Converting a double beyond float's range is undefined in C++: give the
      // infinity IEEE rounding gives (from FLT_MAX + half an ulp on).
      const double x = load<double>(v.raw.data() + 8 * j);
      constexpr double kRoundsToInf = 0x1.ffffffp127;
      constexpr float kInf = std::numeric_limits<float>::infinity();
      out[j] = x >= kRoundsToInf ? kInf : x <= -kRoundsToInf ? -kInf : static_cast<float>(x);
    }
  }
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const GgufValue& v = get(key);
  if (v.kind != Kind::Array || !is_integer_kind(v.elem)) wrong_kind(key, v, "an array of integers");
  std::vector<int64_t> out(v.count);
  for (size_t j = 0; j < v.count; ++j) {
    const auto x = v.int_at(j);
    if (!x)
      fail(AXE_ERR_FORMAT, path() + ": metadata " + quoted(key) + " element " + num(j) + " = " +
                               num(*v.uint_at(j)) + " does not fit in an int64");
    out[j] = *x;
  }
  return out;
}

}  // namespace axe
