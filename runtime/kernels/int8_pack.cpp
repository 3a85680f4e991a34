#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/cpu_target.h"
#include "runtime/error.h"
#include "runtime/kernels/act_quant.h"
#include "runtime/kernels/int8_types.h"

namespace axe {

int8_t Int8Weights::code(size_t row, size_t col) const {
  if (!packed4) return data.data()[row * kp + col];
  const uint8_t b = static_cast<uint8_t>(data.data()[row * (kp / 2) + (col / 64) * 32 + (col % 32)]);
  const int nibble = (col % 64) < 32 ? (b & 0x0F) : (b >> 4);
  return static_cast<int8_t>(nibble - 8);
}

Int8Weights pack_int8_weights(const int8_t* codes, size_t rows, size_t cols, const float* scales, int bits,
                              const AccumulationPlan& plan, ActivationRange x) {
  if (bits < 2 || bits > 8) fail(AXE_ERR_INVALID_ARGUMENT, "weight bits must be in [2, 8]");
  const std::string bad_plan = plan.invalid_reason();
  if (!bad_plan.empty()) fail(AXE_ERR_INVALID_ARGUMENT, "accumulation plan: " + bad_plan);
  Int8Weights w;
  w.rows = rows;
  w.cols = cols;
  w.kp = (cols + kInt8ColumnAlign - 1) / kInt8ColumnAlign * kInt8ColumnAlign;
  w.bits = bits;
  w.packed4 = bits <= 4;
  w.scales.assign(scales, scales + rows);
  w.row_sums.assign(rows, 0);
  w.data.resize(rows * w.row_bytes());
  const int limit = (1 << (bits - 1)) - 1;
  for (size_t r = 0; r < rows; ++r) {
    int8_t* dst = w.data.data() + r * w.row_bytes();
    if (w.packed4) std::fill(dst, dst + w.kp / 2, static_cast<int8_t>(0x88));  // code 0 in both nibbles
    for (size_t c = 0; c < cols; ++c) {
      const int v = codes[r * cols + c];
      if (v < -limit || v > limit)
        fail(AXE_ERR_FORMAT, "weight code " + std::to_string(v) + " at row " + std::to_string(r) + ", column " +
                                 std::to_string(c) + " is outside the " + std::to_string(bits) + "-bit range");
      w.row_sums[r] += v;
      w.max_abs = std::max(w.max_abs, std::abs(v));
      if (!w.packed4) {
        dst[c] = static_cast<int8_t>(v);
      } else {
        uint8_t& b = reinterpret_cast<uint8_t&>(dst[(c / 64) * 32 + (c % 32)]);
        const uint8_t nib = static_cast<uint8_t>(v + 8);
        b = (c % 64) < 32 ? static_cast<uint8_t>((b & 0xF0) | nib) : static_cast<uint8_t>((b & 0x0F) | (nib << 4));
      }
    }
  }
  w.plan = plan;
  w.x_range = x;
  w.plan_holds = check_plan(codes, rows, cols, cols, plan, x).ok();
  return w;
}

void quantize_activations(const float* x, size_t ldx, size_t tokens, size_t cols, int bits, bool is_signed,
                          Int8Activations& out) {
  size_activations(tokens, cols, bits, is_signed, out);
  quantize_activation_rows(x, ldx, 0, tokens, out);
}

void size_activations(size_t tokens, size_t cols, int bits, bool is_signed, Int8Activations& out) {
  if (bits < 2 || bits > 8) fail(AXE_ERR_INVALID_ARGUMENT, "activation bits must be in [2, 8]");
  out.tokens = tokens;
  out.cols = cols;
  out.kp = (cols + kInt8ColumnAlign - 1) / kInt8ColumnAlign * kInt8ColumnAlign;
  out.range = ActivationRange::of(bits, is_signed);
  out.codes.resize(tokens * out.kp);
  out.scales.resize(tokens);
  out.zeros.resize(tokens);
}

ActRowParams act_row_params(float lo, float hi, const ActivationRange& range) {
  const bool is_signed = range.mu < 0;
  const float levels = static_cast<float>(range.nu - range.mu);
  float scale;
  int32_t zero = 128;
  if (is_signed) {
    const float amax = std::max(-lo, hi);
    scale = amax > 0 ? amax / static_cast<float>(range.nu) : 1.0f;
    zero = 128;
  } else {
    scale = hi > lo ? (hi - lo) / levels : 1.0f;
    if (std::isinf(scale)) scale = hi / levels - lo / levels;  // hi - lo overflowed
  }
  // A scale so small that its inverse overflows: the codes saturate instead.
  if (std::isinf(1.0f / scale)) scale = 1.0f / std::numeric_limits<float>::max();
  if (!is_signed) zero = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / scale), 0.0f, levels));
  const float inv = 1.0f / scale;
  const int32_t cmin = is_signed ? range.mu + 128 : 0, cmax = is_signed ? range.nu + 128 : range.nu;
  // Integer bounds, so clamping before rounding equals clamping after.
  const float vmin = static_cast<float>(cmin - zero), vmax = static_cast<float>(cmax - zero);
  return {scale, inv, vmin, vmax, zero};
}

namespace {

// The reference: every other path gives exactly these bytes.
void quantize_activation_rows_scalar(const float* x, size_t ldx, size_t m0, size_t m1, Int8Activations& out) {
  const size_t cols = out.cols;
  for (size_t m = m0; m < m1; ++m) {
    const float* row = x + m * ldx;
    uint8_t* dst = out.codes.data() + m * out.kp;
    // Any input value is defined behaviour: NaNs never enter the range
    // (min and max skip them), infinities are left out of it below, and every
    // code is clamped as a float before it is converted, so a NaN becomes the
    // lowest code and an infinity a saturated one. (The forward pass reports a
    // non-finite activation before it reaches a kernel; this is the floor.)
    float lo = 0.0f, hi = 0.0f;  // the range always contains 0
    for (size_t k = 0; k < cols; ++k) lo = std::min(lo, row[k]), hi = std::max(hi, row[k]);
    if (!std::isfinite(lo) || !std::isfinite(hi)) {
      lo = hi = 0.0f;
      for (size_t k = 0; k < cols; ++k)
        if (std::isfinite(row[k])) lo = std::min(lo, row[k]), hi = std::max(hi, row[k]);
    }
    const ActRowParams p = act_row_params(lo, hi, out.range);
    for (size_t k = 0; k < cols; ++k) {
      float v = row[k] * p.inv;
      v = v > p.vmax ? p.vmax : v;
      v = v >= p.vmin ? v : p.vmin;  // NaN fails the test: vmin
      dst[k] = static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(v)) + p.zero);
    }
    std::fill(dst + cols, dst + out.kp, static_cast<uint8_t>(p.zero));
    out.scales[m] = p.scale;
    out.zeros[m] = p.zero;
  }
}

}  // namespace

const char* act_quant_path_name(ActQuantPath p) {
  switch (p) {
    case ActQuantPath::kScalar: return "scalar";
    case ActQuantPath::kAVX2: return "avx2";
    case ActQuantPath::kAVX512: return "avx512";
  }
  return "?";
}

bool act_quant_path_supported(ActQuantPath p) {
  switch (p) {
    case ActQuantPath::kScalar: return true;
#if defined(__x86_64__)
    case ActQuantPath::kAVX2: return cpu_features().avx2;
    case ActQuantPath::kAVX512: return cpu_features().avx512;
#endif
    default: return false;
  }
}

ActQuantPath best_act_quant_path() {
  static const ActQuantPath best = act_quant_path_supported(ActQuantPath::kAVX512) ? ActQuantPath::kAVX512
                                   : act_quant_path_supported(ActQuantPath::kAVX2) ? ActQuantPath::kAVX2
                                                                                    : ActQuantPath::kScalar;
  return best;
}

void quantize_activation_rows_on(ActQuantPath p, const float* x, size_t ldx, size_t m0, size_t m1,
                                 Int8Activations& out) {
  if (!act_quant_path_supported(p))
    fail(AXE_ERR_INVALID_ARGUMENT, std::string("activation quantizer: no ") + act_quant_path_name(p) + " path here");
  switch (p) {
#if defined(__x86_64__)
    case ActQuantPath::kAVX512: return quantize_activation_rows_avx512(x, ldx, m0, m1, out);
    case ActQuantPath::kAVX2: return quantize_activation_rows_avx2(x, ldx, m0, m1, out);
#endif
    default: return quantize_activation_rows_scalar(x, ldx, m0, m1, out);
  }
}

void quantize_activation_rows(const float* x, size_t ldx, size_t m0, size_t m1, Int8Activations& out) {
  quantize_activation_rows_on(best_act_quant_path(), x, ldx, m0, m1, out);
}

}  // namespace axe
