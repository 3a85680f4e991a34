// Quantizes a float Llama model layer by layer and writes a .axe file.
// Algorithms: "rtn" (round to nearest), "optq" (GPTQ) and "gpfq", the last
// two calibrated block by block: each block's layers see inputs produced by
// the already quantized earlier blocks and layers, with activation
// quantization on (GPFQ also runs the float model alongside for its target).
// Constraints: none (the plan is only certified), AXE (soft threshold and hard
// clip to the plan's budgets), the naive and EP-init baselines, or the
// per-layer search (AXE at every activation and weight width that needs it,
// keeping the one with the lowest calibration output error). Scales are
// per-row MSE choices fixed before quantizing. Every layer is checked against
// the plan from its integers before the file is written; the result is the
// certificate.
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
  // EP-init baseline: round toward zero, then project each tile (and row)
  // onto the l1 ball of the non-centred bound (quant/ep_init.h).
  bool ep_init = false;
  // Per layer, AXE at each activation width N from format.act_bits down and
  // each weight width M from format.weight_bits down, until the data-type
  // bound fits P_I; keeps the (N, M) with the lowest calibration error
  // || X w - X~_N s q ||^2. Needs a calibrated algorithm.
  bool search = false;
  AxeQuantFormat format;
  int threads = 1;
  // Calibration (optq, gpfq): text, number of windows and their length in tokens.
  std::string calib_text;
  size_t calib_samples = 128, calib_len = 256;
  uint64_t seed = 0;
  OptqOptions optq;  // damp, act_order (also GPFQ's), block, full_error
  // Called after each linear layer with (done, total, layer name); returning
  // false aborts (no file is written).
  std::function<bool(size_t, size_t, const std::string&)> progress;
};

struct QuantizeSummary {
  size_t layers = 0;
  int weight_bits = 0, act_bits = 0;  // as written (naive may lower them)
  std::string bits;                   // "W4A8", or a range per layer (search)
  uint64_t inner_violations = 0, outer_violations = 0;
  double worst_inner_use = 0, worst_outer_use = 0;
};

QuantizeSummary quantize_model(const LlamaModel& model, const QuantizeOptions& options, const std::string& out_path);

}  // namespace axe
