// Groupwise weights: packing (from codes, or from GGUF's Q8_0 / Q4_0 blocks)
// into the panel layout of group_types.h; fp16 conversions; the activations'
// per-group quantization (llama.cpp's Q8_0 rule).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "runtime/error.h"
#include "runtime/kernels/act_quant.h"
#include "runtime/kernels/group_types.h"

namespace axe {


int8_t GroupWeights::code(size_t row, size_t col) const {
  const uint8_t* b = block(row / kGroupPanelRows, col / kGroupSize);
  const size_t r = row % kGroupPanelRows, kk = col % kGroupSize;
  if (bits == 8) return static_cast<int8_t>(b[(kk / 4) * 64 + 4 * r + kk % 4] ^ 0x80u);
  const uint8_t v = b[((kk % 16) / 4) * 64 + 4 * r + kk % 4];
  return static_cast<int8_t>((kk < 16 ? (v & 0x0F) : (v >> 4)) - 8);
}

namespace {

// Packs row by row: row_fn(r, q, s) fills row r's codes q[cols] and scales s[groups].
template <typename RowFn>
GroupWeights pack_rows(size_t rows, size_t cols, int bits, RowFn&& row_fn) {
  if (bits != 4 && bits != 8) fail(AXE_ERR_INVALID_ARGUMENT, "groupwise weights must have 4 or 8 bits");
  if (cols == 0 || cols % kGroupSize != 0)
    fail(AXE_ERR_INVALID_ARGUMENT, "groupwise weights need a positive multiple of 32 columns, not " + std::to_string(cols));
  GroupWeights w;
  w.rows = rows;
  w.cols = cols;
  w.groups = cols / kGroupSize;
  w.panels = (rows + kGroupPanelRows - 1) / kGroupPanelRows;
  w.bits = bits;
  w.data.resize(w.panels * w.groups * w.block_bytes());
  if (w.data.size()) std::memset(w.data.data(), bits == 4 ? 0x88 : 0x80, w.data.size());  // code 0
  w.scales.assign(rows * w.groups, 0.0f);
  const int lo = bits == 4 ? -8 : -128, hi = bits == 4 ? 7 : 127;
  std::vector<int8_t> q(cols);
  for (size_t r = 0; r < rows; ++r) {
    row_fn(r, q.data(), w.scales.data() + r * w.groups);
    const size_t p = r / kGroupPanelRows, rr = r % kGroupPanelRows;
    for (size_t c = 0; c < cols; ++c) {
      const int v = q[c];
      if (v < lo || v > hi)
        fail(AXE_ERR_FORMAT, "weight code " + std::to_string(v) + " at row " + std::to_string(r) + ", column " +
                                 std::to_string(c) + " is outside the " + std::to_string(bits) + "-bit range");
      w.max_abs = std::max(w.max_abs, std::abs(v));
      uint8_t* b = w.data.data() + (p * w.groups + c / kGroupSize) * w.block_bytes();
      const size_t kk = c % kGroupSize;
      if (bits == 8) {
        b[(kk / 4) * 64 + 4 * rr + kk % 4] = static_cast<uint8_t>(v + 128);
      } else {
        uint8_t& byte = b[((kk % 16) / 4) * 64 + 4 * rr + kk % 4];
        const uint8_t nib = static_cast<uint8_t>(v + 8);
        byte = kk < 16 ? static_cast<uint8_t>((byte & 0xF0) | nib) : static_cast<uint8_t>((byte & 0x0F) | (nib << 4));
      }
    }
  }
  // The kernels' scales, in panel order: fp16 when every one is exactly a
  // half (NaN is not: its payload is not kept), fp32 otherwise.
  w.half_scales = std::all_of(w.scales.begin(), w.scales.end(), [](float s) {
    return !std::isnan(s) && std::bit_cast<uint32_t>(fp16_to_fp32(fp32_to_fp16(s))) == std::bit_cast<uint32_t>(s);
  });
  const size_t n = w.panels * w.groups * kGroupPanelRows;
  if (w.half_scales) w.panel_half.resize(n);
  else w.panel_f32.resize(n);
  for (size_t r = 0; r < rows; ++r)
    for (size_t g = 0; g < w.groups; ++g) {
      const size_t i = ((r / kGroupPanelRows) * w.groups + g) * kGroupPanelRows + r % kGroupPanelRows;
      const float s = w.scales[r * w.groups + g];
      if (w.half_scales) w.panel_half.data()[i] = fp32_to_fp16(s);
      else w.panel_f32.data()[i] = s;
    }
  return w;
}

uint16_t u16_at(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

GroupWeights pack_group_weights(const int8_t* codes, size_t rows, size_t cols, const float* scales, int bits) {
  const size_t groups = cols / kGroupSize;
  return pack_rows(rows, cols, bits, [&](size_t r, int8_t* q, float* s) {
    std::memcpy(q, codes + r * cols, cols);
    std::memcpy(s, scales + r * groups, groups * sizeof(float));
  });
}

GroupWeights pack_q8_0(const uint8_t* blocks, size_t rows, size_t cols) {
  const size_t groups = cols / kGroupSize;
  return pack_rows(rows, cols, 8, [&](size_t r, int8_t* q, float* s) {
    for (size_t g = 0; g < groups; ++g) {
      const uint8_t* b = blocks + (r * groups + g) * 34;
      s[g] = fp16_to_fp32(u16_at(b));
      std::memcpy(q + g * kGroupSize, b + 2, kGroupSize);
    }
  });
}

GroupWeights pack_q4_0(const uint8_t* blocks, size_t rows, size_t cols) {
  const size_t groups = cols / kGroupSize;
  return pack_rows(rows, cols, 4, [&](size_t r, int8_t* q, float* s) {
    for (size_t g = 0; g < groups; ++g) {
      const uint8_t* b = blocks + (r * groups + g) * 18;
      s[g] = fp16_to_fp32(u16_at(b));
      for (size_t j = 0; j < 16; ++j) {
        q[g * kGroupSize + j] = static_cast<int8_t>((b[2 + j] & 0x0F) - 8);
        q[g * kGroupSize + j + 16] = static_cast<int8_t>((b[2 + j] >> 4) - 8);
      }
    }
  });
}

void size_group_activations(size_t tokens, size_t cols, GroupActivations& out) {
  if (cols == 0 || cols % kGroupSize != 0)
    fail(AXE_ERR_INVALID_ARGUMENT, "groupwise activations need a positive multiple of 32 columns, not " +
                                       std::to_string(cols));
  out.tokens = tokens;
  out.cols = cols;
  out.groups = cols / kGroupSize;
  out.codes.resize(tokens * cols);
  out.scales.resize(tokens * out.groups);
  out.sums.resize(tokens * out.groups);
}

GroupSpanParams group_span_params(float amax, float qmax) {
  const float d = amax / qmax;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  return {id, fp16_to_fp32(fp32_to_fp16(d))};
}

namespace {

void check_format(const GroupActivations& out, const GroupActFormat& f) {
  if (f.bits < 2 || f.bits > 8 || f.group % kGroupSize != 0 || f.valid_cols > out.cols)
    fail(AXE_ERR_INVALID_ARGUMENT, "groupwise activations: bad format (" + std::to_string(f.bits) + " bits, groups of " +
                                       std::to_string(f.group) + ", " + std::to_string(f.valid_cols) + " of " +
                                       std::to_string(out.cols) + " columns)");
}

// The reference: every other path gives exactly these bytes.
void quantize_group_activation_rows_scalar(const float* x, size_t ldx, size_t m0, size_t m1, GroupActivations& out,
                                           const GroupActFormat& f) {
  const float qmax = static_cast<float>((1 << (f.bits - 1)) - 1);
  const size_t valid = f.valid_cols ? f.valid_cols : out.cols;
  const size_t span = f.group ? f.group : out.cols;
  for (size_t m = m0; m < m1; ++m) {
    const float* v = x + m * ldx;
    for (size_t c0 = 0; c0 < out.cols; c0 += span) {
      const size_t c1 = std::min(out.cols, c0 + span), end = std::min(c1, valid);
      float amax = 0.0f;
      for (size_t k = c0; k < end; ++k) {
        const float a = std::fabs(v[k]);
        amax = amax > a ? amax : a;  // ggml's MAX(amax, |v|), NaN handling included
      }
      const GroupSpanParams p = group_span_params(amax, qmax);
      for (size_t b0 = c0; b0 < c1; b0 += kGroupSize) {
        const size_t g = b0 / kGroupSize;
        out.scales[m * out.groups + g] = p.stored;
        int8_t* c = out.codes.data() + m * out.cols + b0;
        int32_t sum = 0;
        for (size_t j = 0; j < kGroupSize; ++j) {
          if (b0 + j >= valid) {
            c[j] = 0;
            continue;
          }
          float t = v[b0 + j] * p.id;
          if (std::isnan(t)) t = 0.0f;
          t = std::clamp(t, -qmax, qmax);  // integer bounds: the same as clamping after rounding
          c[j] = static_cast<int8_t>(std::round(t));
          sum += c[j];
        }
        out.sums[m * out.groups + g] = sum;
      }
    }
  }
}

}  // namespace

void quantize_group_activation_rows_on(ActQuantPath p, const float* x, size_t ldx, size_t m0, size_t m1,
                                       GroupActivations& out, const GroupActFormat& f) {
  check_format(out, f);
  if (!act_quant_path_supported(p))
    fail(AXE_ERR_INVALID_ARGUMENT, std::string("activation quantizer: no ") + act_quant_path_name(p) + " path here");
  switch (p) {
#if defined(__x86_64__)
    case ActQuantPath::kAVX512: return quantize_group_activation_rows_avx512(x, ldx, m0, m1, out, f);
    case ActQuantPath::kAVX2: return quantize_group_activation_rows_avx2(x, ldx, m0, m1, out, f);
#endif
    default: return quantize_group_activation_rows_scalar(x, ldx, m0, m1, out, f);
  }
}

void quantize_group_activation_rows(const float* x, size_t ldx, size_t m0, size_t m1, GroupActivations& out,
                                    const GroupActFormat& f) {
  quantize_group_activation_rows_on(best_act_quant_path(), x, ldx, m0, m1, out, f);
}

void quantize_group_activation_rows(const float* x, size_t ldx, size_t m0, size_t m1, GroupActivations& out) {
  quantize_group_activation_rows(x, ldx, m0, m1, out, GroupActFormat{});
}

void quantize_group_activations(const float* x, size_t ldx, size_t tokens, size_t cols, GroupActivations& out) {
  size_group_activations(tokens, cols, out);
  quantize_group_activation_rows(x, ldx, 0, tokens, out);
}

}  // namespace axe
