#include "quant/verify.h"

#include <cmath>

#include "models/llama/axe_format.h"
#include "runtime/error.h"

namespace axe {

VerifyReport verify_axe_file(const std::string& path) {
  const SafetensorsFile f(path, MappedFile::Mode::kMap);
  if (f.meta("format") != kAxeFormat) fail(AXE_ERR_FORMAT, path + ": not an axe-llama file");
  const LlamaConfig c = config_from_json(f.meta("config"), path);
  const AxeQuantFormat qf = plan_from_json(f.meta("plan"), path);
  const ActivationRange xr = qf.x_range();
  nlohmann::json cert;
  try {
    cert = nlohmann::json::parse(f.meta("certificate"));
  } catch (const nlohmann::json::exception&) {
    fail(AXE_ERR_FORMAT, path + ": the certificate is not valid JSON");
  }
  VerifyReport r;
  r.plan = qf.plan.describe() + ", " + qf.describe_bits() + ", activations [" + std::to_string(xr.mu) + ", " +
           std::to_string(xr.nu) + "]" + (qf.layer_bits.empty() ? "" : " (model-wide; layers may use fewer bits)");
  double cert_inner = -1;
  if (cert.is_object() && cert.contains("worst_inner_use") && cert["worst_inner_use"].is_number())
    cert_inner = cert["worst_inner_use"].get<double>();
  for (int32_t l = 0; l < c.n_layers; ++l)
    for (size_t i = 0; i < 7; ++i) {
      const std::string name = axe_tensor_name(l, axe_linear_names()[i].name);
      const auto [rows, cols] = axe_linear_shape(c, i);
      const AxeQuantFormat lf = qf.for_layer(name);
      const auto q = read_axe_codes(f, name, rows, cols, lf.weight_bits);
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
    }
  r.certificate_matches = std::abs(cert_inner - r.worst_inner_use) <= 1e-9 * std::max(1.0, r.worst_inner_use);
  return r;
}

}  // namespace axe
