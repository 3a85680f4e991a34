// Quantizes a float Llama model layer by layer and writes a .axe file.
// Algorithms: "rtn" (round to nearest with MSE scales), optionally with the
// AXE constraint (soft threshold and hard clip to the accumulation plan's
// budgets, in column order). Every layer is checked against the plan from
// its integers before the file is written; the result is the certificate.
#pragma once
#include <functional>
#include <string>

#include "models/llama/axe_format.h"
#include "models/llama/model.h"

namespace axe {

struct QuantizeOptions {
  std::string algo = "rtn";
  bool axe = false;  // enforce the plan (AXE); otherwise the plan is only certified
  AxeQuantFormat format;
  int threads = 1;
  // Called after each linear layer with (done, total, layer name); returning
  // false aborts (no file is written).
  std::function<bool(size_t, size_t, const std::string&)> progress;
};

struct QuantizeSummary {
  size_t layers = 0;
  uint64_t inner_violations = 0, outer_violations = 0;
  double worst_inner_use = 0, worst_outer_use = 0;
};

QuantizeSummary quantize_model(const LlamaModel& model, const QuantizeOptions& options, const std::string& out_path);

}  // namespace axe
