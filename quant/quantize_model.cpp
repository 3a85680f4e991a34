#include "quant/quantize_model.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <map>
#include <random>

#include "models/llama/forward.h"
#include "quant/axe_constraint.h"
#include "quant/capture_linear.h"
#include "quant/naive_bits.h"
#include "quant/scales.h"
#include "runtime/error.h"
#include "runtime/linear_int8.h"

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


struct LayerResult {
  std::vector<int8_t> codes;
  std::vector<float> scales;
};

const LinearF32& float_layer(const LlamaLayer& ly, const AxeLinearName& ln, const std::string& name) {
  const auto* lin = dynamic_cast<const LinearF32*>((ly.*(ln.member)).get());
  if (!lin) fail(AXE_ERR_INVALID_ARGUMENT, name + " has no float weights to quantize");
  return *lin;
}

// The per-row MSE scales of a layer, rows in parallel.
std::vector<float> row_scales(const LinearF32& lin, int bits, tbb::task_arena& arena) {
  const size_t rows = lin.rows(), cols = lin.cols();
  std::vector<float> scales(rows);
  arena.execute([&] {
    tbb::parallel_for(size_t{0}, rows, [&](size_t i) { mse_row_scales(lin.data() + i * cols, 1, cols, cols, bits, &scales[i]); });
  });
  return scales;
}

// Round to nearest (or the AXE step column by column), rows in parallel.
LayerResult quantize_rtn(const LinearF32& lin, const QuantizeOptions& o, tbb::task_arena& arena) {
  const AxeQuantFormat& qf = o.format;
  const size_t rows = lin.rows(), cols = lin.cols();
  const float* w = lin.data();
  LayerResult r{std::vector<int8_t>(rows * cols), row_scales(lin, qf.weight_bits, arena)};
  const int32_t qmax = (1 << (qf.weight_bits - 1)) - 1;
  arena.execute([&] {
    if (o.axe) {
      AxeConstraint axe(qf.plan, qf.x_range(), qf.weight_bits, rows, cols);
      axe.set_soft_thresholds(w, cols, r.scales.data());
      tbb::parallel_for(size_t{0}, rows, [&](size_t i) {
        for (size_t k = 0; k < cols; ++k)
          r.codes[i * cols + k] = static_cast<int8_t>(axe.quantize(i, k, w[i * cols + k], r.scales[i]));
      });
    } else {
      tbb::parallel_for(size_t{0}, rows, [&](size_t i) {
        for (size_t k = 0; k < cols; ++k) r.codes[i * cols + k] = static_cast<int8_t>(round_clamp(w[i * cols + k] / r.scales[i], qmax));
      });
    }
  });
  return r;
}

LayerResult quantize_optq(const LinearF32& lin, const Eigen::MatrixXd& h, const QuantizeOptions& o,
                          tbb::task_arena& arena, double* damping) {
  const AxeQuantFormat& qf = o.format;
  const size_t rows = lin.rows(), cols = lin.cols();
  LayerResult r{{}, row_scales(lin, qf.weight_bits, arena)};
  std::unique_ptr<AxeConstraint> axe;
  if (o.axe) {
    axe = std::make_unique<AxeConstraint>(qf.plan, qf.x_range(), qf.weight_bits, rows, cols);
    axe->set_soft_thresholds(lin.data(), cols, r.scales.data());
  }
  OptqOptions opt = o.optq;
  opt.threads = o.threads;
  r.codes = optq_quantize(lin.data(), rows, cols, h, r.scales.data(), qf.weight_bits, axe.get(), opt, damping);
  return r;
}

// Calibration windows: n windows of len tokens from the text, each starting
// with BOS, at seeded random offsets.
std::vector<std::vector<int32_t>> calibration_windows(const LlamaModel& m, const QuantizeOptions& o) {
  const auto tokens = m.tokenizer->encode(o.calib_text, true);
  if (o.calib_len < 2 || tokens.size() < o.calib_len)
    fail(AXE_ERR_INVALID_ARGUMENT, "the calibration text has " + std::to_string(tokens.size()) +
                                       " tokens, fewer than one window of " + std::to_string(o.calib_len));
  std::mt19937_64 rng(o.seed);
  std::vector<std::vector<int32_t>> windows(o.calib_samples);
  for (auto& w : windows) {
    const size_t start = static_cast<size_t>(rng() % (tokens.size() - o.calib_len + 1));
    w.assign(tokens.begin() + start, tokens.begin() + start + o.calib_len);
    w[0] = Tokenizer::kBos;
  }
  return windows;
}

}  // namespace

QuantizeSummary quantize_model(const LlamaModel& model, const QuantizeOptions& options, const std::string& out_path) {
  QuantizeOptions o = options;
  if (o.naive) {
    if (o.axe) fail(AXE_ERR_INVALID_ARGUMENT, "--naive and --axe are alternatives");
    uint64_t max_tile = 0;  // columns of the largest tile of any layer
    for (const LlamaLayer& ly : model.layers)
      for (const AxeLinearName& ln : axe_linear_names()) {
        const size_t cols = (ly.*(ln.member))->cols();
        std::vector<uint64_t> count(o.format.plan.n_tiles(cols), 0);
        for (size_t k = 0; k < cols; ++k) ++count[o.format.plan.tile_of(k)];
        for (uint64_t c : count) max_tile = std::max(max_tile, c);
      }
    const NaiveBits nb = naive_bits(max_tile, o.format.plan.inner_bits, o.format.act_bits, o.format.weight_bits,
                                    o.format.act_signed);
    if (!nb.found)
      fail(AXE_ERR_INVALID_ARGUMENT, "naive: no bit widths >= 2 fit tiles of " + std::to_string(max_tile) + " terms in " +
                                         std::to_string(o.format.plan.inner_bits) + " bits");
    o.format.act_bits = nb.act_bits;
    o.format.weight_bits = nb.weight_bits;
  }
  if (o.algo != "rtn" && o.algo != "optq")
    fail(AXE_ERR_INVALID_ARGUMENT, "unknown quantization algorithm '" + o.algo + "' (available: rtn, optq)");
  const AxeQuantFormat& qf = o.format;
  if (qf.weight_bits < 2 || qf.weight_bits > 8) fail(AXE_ERR_INVALID_ARGUMENT, "weight bits must be in [2, 8]");
  if (qf.act_bits < 2 || qf.act_bits > 8) fail(AXE_ERR_INVALID_ARGUMENT, "activation bits must be in [2, 8]");
  const std::string bad = qf.plan.invalid_reason();
  if (!bad.empty()) fail(AXE_ERR_INVALID_ARGUMENT, "accumulation plan: " + bad);
  if (!model.quantization.empty()) fail(AXE_ERR_INVALID_ARGUMENT, model.path + ": the model is already quantized");
  const LlamaConfig& c = model.config;
  const ActivationRange xr = qf.x_range();
  tbb::task_arena arena(std::max(1, o.threads));
  const size_t total = model.layers.size() * 7;
  size_t done = 0;
  auto report = [&](const std::string& name) {
    ++done;
    if (o.progress && !o.progress(done, total, name)) fail(AXE_ERR_ABORTED, "quantization aborted");
  };
  std::map<std::string, LayerResult> results;
  nlohmann::json dampings = nlohmann::json::object();

  if (o.algo == "rtn") {
    for (size_t l = 0; l < model.layers.size(); ++l)
      for (const AxeLinearName& ln : axe_linear_names()) {
        const std::string name = axe_tensor_name(l, ln.name);
        results[name] = quantize_rtn(float_layer(model.layers[l], ln, name), o, arena);
        report(name);
      }
  } else {
    // A working copy of the model whose layers turn into integer layers as
    // they are quantized; calibration runs one block at a time over saved
    // hidden states.
    const auto windows = calibration_windows(model, o);
    const size_t L = o.calib_len, D = c.dim, S = windows.size();
    auto work_model = with_replaced_linears(model, [](size_t, const std::string& name, const Linear& orig) {
      const auto* f = dynamic_cast<const LinearF32*>(&orig);
      if (!f) fail(AXE_ERR_INVALID_ARGUMENT, name + " has no float weights to quantize");
      return std::make_unique<LinearF32>(f->data(), f->rows(), f->cols());
    });
    LlamaModel& work = *work_model;
    const Ops& ops = ops_for(supported_targets().back());
    LlamaState st(work, L, L);
    std::vector<float> hidden(S * L * D);
    for (size_t s = 0; s < S; ++s) {
      llama_embed(work, st, windows[s].data(), L);
      std::copy(st.hidden(), st.hidden() + L * D, hidden.begin() + s * L * D);
    }
    auto run_block = [&](size_t l, bool keep) {
      arena.execute([&] {
        for (size_t s = 0; s < S; ++s) {
          std::copy(hidden.begin() + s * L * D, hidden.begin() + (s + 1) * L * D, st.hidden());
          llama_block(work, ops, st, l, L, 0, true);
          if (keep) std::copy(st.hidden(), st.hidden() + L * D, hidden.begin() + s * L * D);
        }
      });
    };
    // Groups of layers that share one input, in the order the block uses them.
    const std::vector<std::vector<size_t>> groups = {{0, 1, 2}, {3}, {4, 6}, {5}};
    for (size_t l = 0; l < model.layers.size(); ++l) {
      LlamaLayer& wl = work.layers[l];
      for (const auto& group : groups) {
        const AxeLinearName& first = axe_linear_names()[group[0]];
        Eigen::MatrixXd h = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>((wl.*(first.member))->cols()),
                                                  static_cast<Eigen::Index>((wl.*(first.member))->cols()));
        auto capture = std::make_unique<CaptureLinear>(std::move(wl.*(first.member)), qf.act_bits, qf.act_signed, &h);
        CaptureLinear* cap = capture.get();
        wl.*(first.member) = std::move(capture);
        run_block(l, false);
        wl.*(first.member) = cap->release();
        for (size_t i : group) {
          const AxeLinearName& ln = axe_linear_names()[i];
          const std::string name = axe_tensor_name(l, ln.name);
          const LinearF32& f = float_layer(model.layers[l], ln, name);
          double damping = 0;
          LayerResult r = quantize_optq(f, h, o, arena, &damping);
          dampings[name] = damping;
          wl.*(ln.member) = std::make_unique<LinearInt8>(
              pack_int8_weights(r.codes.data(), f.rows(), f.cols(), r.scales.data(), qf.weight_bits, qf.plan, xr),
              qf.act_bits, qf.act_signed);
          results[name] = std::move(r);
          report(name);
        }
      }
      run_block(l, true);  // the next block's inputs, through the quantized block
    }
  }

  SafetensorsWriter out;
  QuantizeSummary sum;
  sum.weight_bits = qf.weight_bits;
  sum.act_bits = qf.act_bits;
  nlohmann::json certificate = nlohmann::json::array();
  const uint64_t D = c.dim;
  out.add("tok_embeddings.weight", "F32", {uint64_t(c.vocab), D}, model.embedding, 4 * uint64_t(c.vocab) * D);
  out.add("norm.weight", "F32", {D}, model.rms_final, 4 * D);
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const LlamaLayer& ly = model.layers[l];
    out.add(axe_tensor_name(l, "attention_norm.weight"), "F32", {D}, ly.rms_att, 4 * D);
    out.add(axe_tensor_name(l, "ffn_norm.weight"), "F32", {D}, ly.rms_ffn, 4 * D);
    for (const AxeLinearName& ln : axe_linear_names()) {
      const std::string name = axe_tensor_name(l, ln.name);
      const size_t rows = (ly.*(ln.member))->rows(), cols = (ly.*(ln.member))->cols();
      const LayerResult& r = results.at(name);
      const PlanCheck check = check_plan(r.codes.data(), rows, cols, cols, qf.plan, xr);
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
      const auto stored = store_codes(r.codes, rows, cols, qf.weight_bits);
      if (qf.weight_bits <= 4) out.add(name + ".codes", "U8", {rows, (cols + 1) / 2}, stored.data(), stored.size());
      else out.add(name + ".codes", "I8", {rows, cols}, stored.data(), stored.size());
      out.add(name + ".scales", "F32", {rows}, r.scales.data(), 4 * rows);
      ++sum.layers;
    }
  }
  if (!c.shared_classifier) {
    const auto* cls = dynamic_cast<const LinearF32*>(model.classifier.get());
    out.add("output.weight", "F32", {uint64_t(c.vocab), D}, cls->data(), 4 * uint64_t(c.vocab) * D);
  }
  const std::string& tok = model.tokenizer->file_bytes();
  out.add("tokenizer", "U8", {tok.size()}, tok.data(), tok.size());
  nlohmann::json settings = {{"algo", o.algo}, {"axe", o.axe}, {"naive", o.naive}, {"scales", "mse-row"}, {"source", model.path}};
  if (o.algo == "optq")
    settings.update({{"calib_samples", o.calib_samples}, {"calib_len", o.calib_len}, {"seed", o.seed},
                     {"damp", o.optq.damp}, {"act_order", o.optq.act_order}, {"full_error", o.optq.full_error},
                     {"damping_used", dampings}});
  out.set_metadata("format", kAxeFormat);
  out.set_metadata("version", std::to_string(kAxeFormatVersion));
  out.set_metadata("config", config_to_json(c).dump());
  out.set_metadata("plan", plan_to_json(qf).dump());
  out.set_metadata("quantization", settings.dump());
  out.set_metadata("certificate", nlohmann::json{{"layers", certificate},
                                                 {"worst_inner_use", sum.worst_inner_use},
                                                 {"worst_outer_use", sum.worst_outer_use},
                                                 {"plan_holds", sum.inner_violations + sum.outer_violations == 0}}.dump());
  out.write(out_path);
  return sum;
}

}  // namespace axe
