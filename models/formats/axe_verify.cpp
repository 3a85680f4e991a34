#include "models/formats/axe_verify.h"

#include <cmath>

#include "models/formats/axe.h"
#include "runtime/error.h"

namespace axe {

VerifyReport verify_axe_file(const std::string& path) {
  // The loader's own header checks (format, version, config, plan).
  const AxeFile f(path, MappedFile::Mode::kMap);
  const LlamaConfig& c = f.config();
  const QuantFormat& qf = f.format();
  const ActivationRange xr = qf.x_range();
  VerifyReport r;
  r.plan = qf.plan.describe() + ", " + qf.describe_bits() + (qf.groupwise() ? ", " + qf.describe_groups() : "") +
           ", activations [" + std::to_string(xr.mu) + ", " +
           std::to_string(xr.nu) + "]" + (qf.layer_bits.size() > qf.layer_bits.count(kClassifierLinear) ? " (model-wide; layers may use fewer bits)" : "");
  if (f.rotation_seed()) r.rotation = "hadamard, seed " + std::to_string(*f.rotation_seed());
  if (f.quantized_classifier()) r.plan += "; classifier " + qf.for_layer(kClassifierLinear).describe_bits();
  const double cert_inner = f.certificate().worst_inner_use;
  auto check = [&](const std::string& name, const std::vector<int8_t>& q, uint64_t rows, uint64_t cols) {
    const QuantFormat lf = qf.for_layer(name);
    const PlanCheck pc = check_plan(q.data(), rows, cols, cols, lf.plan, lf.x_range());
    if (!pc.ok() && r.first_violation.empty())
      r.first_violation = name + " row " + std::to_string(pc.first_bad_row) +
                          (pc.first_bad_tile >= 0 ? " tile " + std::to_string(pc.first_bad_tile) : " (row total)");
    ++r.layers;
    r.rows += pc.rows;
    r.tiles += pc.tiles;
    r.inner_violations += pc.inner_violations;
    r.outer_violations += pc.outer_violations;
    r.worst_inner_use = std::max(r.worst_inner_use, pc.worst_inner_use);
    r.worst_outer_use = std::max(r.worst_outer_use, pc.worst_outer_use);
  };
  for (int32_t l = 0; l < c.n_layers; ++l)
    for (size_t i = 0; i < kLlamaLinears; ++i) {
      const auto [rows, cols] = llama_linear_shape(c, i);
      f.scales(l, i);  // present, F32 [rows] and aligned, as the loader requires
      check(llama_tensor_name(l, llama_linears()[i].name), f.codes(l, i), rows, cols);
    }
  if (f.quantized_classifier()) {
    f.classifier_scales();
    check(kClassifierLinear, f.classifier_codes(), uint64_t(c.vocab), uint64_t(c.dim));
  }
  auto close = [](double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(1.0, b); };
  r.certificate_matches = close(cert_inner, r.worst_inner_use) &&
                          close(f.certificate().worst_outer_use, r.worst_outer_use) &&
                          f.certificate().plan_holds == (r.inner_violations + r.outer_violations == 0);
  return r;
}

}  // namespace axe
