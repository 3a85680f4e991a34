#include "quant/quantize_model.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <chrono>

#include "quant/axe_constraint.h"
#include "quant/scales.h"
#include "runtime/error.h"

namespace axe {
namespace {

// Stored layout of the codes (docs/FORMAT.md): I8 [rows, cols], or for
// M <= 4 bits U8 [rows, ceil(cols / 2)], column 2j in the low nibble and
// 2j + 1 in the high nibble, each stored as code + 8.
std::vector<uint8_t> store_codes(const std::vector<int8_t>& q, size_t rows, size_t cols, int bits) {
  if (bits > 4) return std::vector<uint8_t>(q.begin(), q.end());
  const size_t per_row = (cols + 1) / 2;
  std::vector<uint8_t> out(rows * per_row, 0x88);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      uint8_t& b = out[r * per_row + c / 2];
      const uint8_t nib = static_cast<uint8_t>(q[r * cols + c] + 8);
      b = c % 2 ? static_cast<uint8_t>((b & 0x0F) | (nib << 4)) : static_cast<uint8_t>((b & 0xF0) | nib);
    }
  return out;
}

}  // namespace

QuantizeSummary quantize_model(const LlamaModel& model, const QuantizeOptions& o, const std::string& out_path) {
  if (o.algo != "rtn") fail(AXE_ERR_INVALID_ARGUMENT, "unknown quantization algorithm '" + o.algo + "' (available: rtn)");
  const AxeQuantFormat& qf = o.format;
  if (qf.weight_bits < 2 || qf.weight_bits > 8) fail(AXE_ERR_INVALID_ARGUMENT, "weight bits must be in [2, 8]");
  if (qf.act_bits < 2 || qf.act_bits > 8) fail(AXE_ERR_INVALID_ARGUMENT, "activation bits must be in [2, 8]");
  const std::string bad = qf.plan.invalid_reason();
  if (!bad.empty()) fail(AXE_ERR_INVALID_ARGUMENT, "accumulation plan: " + bad);
  if (!model.quantization.empty()) fail(AXE_ERR_INVALID_ARGUMENT, model.path + ": the model is already quantized");
  const LlamaConfig& c = model.config;
  const ActivationRange xr = qf.x_range();
  tbb::task_arena arena(std::max(1, o.threads));

  SafetensorsWriter out;
  QuantizeSummary sum;
  nlohmann::json certificate = nlohmann::json::array();
  const size_t total = model.layers.size() * 7;
  const uint64_t D = c.dim;
  out.add("tok_embeddings.weight", "F32", {uint64_t(c.vocab), D}, model.embedding, 4 * uint64_t(c.vocab) * D);
  out.add("norm.weight", "F32", {D}, model.rms_final, 4 * D);
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const LlamaLayer& ly = model.layers[l];
    out.add(axe_tensor_name(l, "attention_norm.weight"), "F32", {D}, ly.rms_att, 4 * D);
    out.add(axe_tensor_name(l, "ffn_norm.weight"), "F32", {D}, ly.rms_ffn, 4 * D);
    for (const AxeLinearName& ln : axe_linear_names()) {
      const std::string name = axe_tensor_name(l, ln.name);
      const auto* lin = dynamic_cast<const LinearF32*>((ly.*(ln.member)).get());
      if (!lin) fail(AXE_ERR_INVALID_ARGUMENT, name + " has no float weights to quantize");
      const size_t rows = lin->rows(), cols = lin->cols();
      const float* w = lin->data();
      std::vector<float> scales(rows);
      std::vector<int8_t> q(rows * cols);
      const int32_t qmax = (1 << (qf.weight_bits - 1)) - 1;
      arena.execute([&] {
        tbb::parallel_for(size_t{0}, rows, [&](size_t r) { mse_row_scales(w + r * cols, 1, cols, cols, qf.weight_bits, &scales[r]); });
        if (o.axe) {
          AxeConstraint axe(qf.plan, xr, qf.weight_bits, rows, cols);
          axe.set_soft_thresholds(w, cols, scales.data());
          tbb::parallel_for(size_t{0}, rows, [&](size_t r) {
            for (size_t k = 0; k < cols; ++k)
              q[r * cols + k] = static_cast<int8_t>(axe.quantize(r, k, w[r * cols + k], scales[r]));
          });
        } else {
          tbb::parallel_for(size_t{0}, rows, [&](size_t r) {
            for (size_t k = 0; k < cols; ++k) q[r * cols + k] = static_cast<int8_t>(round_clamp(w[r * cols + k] / scales[r], qmax));
          });
        }
      });
      const PlanCheck check = check_plan(q.data(), rows, cols, cols, qf.plan, xr);
      if (o.axe && !check.ok())
        fail(AXE_ERR_INTERNAL, name + ": the AXE-constrained codes break the plan (row " +
                                   std::to_string(check.first_bad_row) + ")");
      sum.inner_violations += check.inner_violations;
      sum.outer_violations += check.outer_violations;
      sum.worst_inner_use = std::max(sum.worst_inner_use, check.worst_inner_use);
      sum.worst_outer_use = std::max(sum.worst_outer_use, check.worst_outer_use);
      certificate.push_back({{"name", name},
                             {"rows", rows},
                             {"tiles", check.tiles},
                             {"worst_inner_use", check.worst_inner_use},
                             {"worst_outer_use", check.worst_outer_use},
                             {"inner_violations", check.inner_violations},
                             {"outer_violations", check.outer_violations}});
      const auto stored = store_codes(q, rows, cols, qf.weight_bits);
      if (qf.weight_bits <= 4) out.add(name + ".codes", "U8", {rows, (cols + 1) / 2}, stored.data(), stored.size());
      else out.add(name + ".codes", "I8", {rows, cols}, stored.data(), stored.size());
      out.add(name + ".scales", "F32", {rows}, scales.data(), 4 * rows);
      ++sum.layers;
      if (o.progress && !o.progress(sum.layers, total, name)) fail(AXE_ERR_ABORTED, "quantization aborted");
    }
  }
  if (!c.shared_classifier) {
    const auto* cls = dynamic_cast<const LinearF32*>(model.classifier.get());
    out.add("output.weight", "F32", {uint64_t(c.vocab), D}, cls->data(), 4 * uint64_t(c.vocab) * D);
  }
  const std::string& tok = model.tokenizer->file_bytes();
  out.add("tokenizer", "U8", {tok.size()}, tok.data(), tok.size());
  out.set_metadata("format", kAxeFormat);
  out.set_metadata("version", std::to_string(kAxeFormatVersion));
  out.set_metadata("config", config_to_json(c).dump());
  out.set_metadata("plan", plan_to_json(qf).dump());
  out.set_metadata("quantization", nlohmann::json{{"algo", o.algo}, {"axe", o.axe}, {"scales", "mse-row"}, {"source", model.path}}.dump());
  out.set_metadata("certificate", nlohmann::json{{"layers", certificate},
                                                 {"worst_inner_use", sum.worst_inner_use},
                                                 {"worst_outer_use", sum.worst_outer_use},
                                                 {"plan_holds", sum.inner_violations + sum.outer_violations == 0}}.dump());
  out.write(out_path);
  return sum;
}

}  // namespace axe
