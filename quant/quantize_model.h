// Quantizes a float Llama model layer by layer and writes a .axe file.
// Algorithms: "rtn" (round to nearest) and "optq" (GPTQ, calibrated block by
// block: each block's layers see inputs produced by the already quantized
// earlier blocks and layers, with activation quantization on), each
// optionally with the AXE constraint (soft threshold and hard clip to the
// accumulation plan's budgets). Scales are per-row MSE choices fixed before
// quantizing. Every layer is checked against the plan from its integers
// before the file is written; the result is the certificate.
#pragma once
#include <functional>
#include <string>

#include "models/llama/axe_format.h"
#include "models/llama/model.h"
#include "quant/optq.h"

namespace axe {

struct QuantizeOptions {
  std::string algo = "rtn";
  bool axe = false;  // enforce the plan (AXE); otherwise the plan is only certified
  // Naive baseline: lower the activation, then the weight bits until the
  // data-type bound of the largest tile fits P_I (no constraint needed).
  bool naive = false;
  AxeQuantFormat format;
  int threads = 1;
  // Calibration (optq): text, number of windows and their length in tokens.
  std::string calib_text;
  size_t calib_samples = 128, calib_len = 256;
  uint64_t seed = 0;
  OptqOptions optq;
  // Called after each linear layer with (done, total, layer name); returning
  // false aborts (no file is written).
  std::function<bool(size_t, size_t, const std::string&)> progress;
};

struct QuantizeSummary {
  size_t layers = 0;
  int weight_bits = 0, act_bits = 0;  // as written (naive may lower them)
  uint64_t inner_violations = 0, outer_violations = 0;
  double worst_inner_use = 0, worst_outer_use = 0;
};

QuantizeSummary quantize_model(const LlamaModel& model, const QuantizeOptions& options, const std::string& out_path);

}  // namespace axe
