#include "quant/quantize_model.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <limits>
#include <map>
#include <random>

#include "models/llama/forward.h"
#include "quant/axe_constraint.h"
#include "quant/capture_linear.h"
#include "quant/ep_init.h"
#include "quant/gpfq.h"
#include "quant/naive_bits.h"
#include "quant/quantizer_ops.h"
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
  double damping = 0;  // OPTQ: the damping that factorized H
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

// Calibration statistics of a layer's input: H = X~^T X~ and G = X~^T X
// (X the reference input: GPFQ's float-model input, or the layer's own).
struct LayerStats {
  Eigen::MatrixXd h, g;
};

// One layer with format lf (its own bits) and its row scales for
// lf.weight_bits: the algorithm, then the constraint.
LayerResult quantize_layer(const LinearF32& lin, const AxeQuantFormat& lf, std::vector<float> scales,
                           const LayerStats* stats, const QuantizeOptions& o, tbb::task_arena& arena) {
  const size_t rows = lin.rows(), cols = lin.cols();
  const float* w = lin.data();
  LayerResult r{{}, std::move(scales)};
  std::unique_ptr<AxeConstraint> axe;
  if (o.axe || o.search) {
    axe = std::make_unique<AxeConstraint>(lf.plan, lf.x_range(), lf.weight_bits, rows, cols);
    axe->set_soft_thresholds(w, cols, r.scales.data());
  }
  if (o.algo == "rtn") {
    const int32_t qmax = (1 << (lf.weight_bits - 1)) - 1;
    r.codes.resize(rows * cols);
    arena.execute([&] {
      tbb::parallel_for(size_t{0}, rows, [&](size_t i) {
        for (size_t k = 0; k < cols; ++k) {
          const double v = w[i * cols + k];
          const int32_t q = axe ? axe->quantize(i, k, v, r.scales[i])
                                : o.ep_init ? trunc_clamp(v / r.scales[i], qmax) : round_clamp(v / r.scales[i], qmax);
          r.codes[i * cols + k] = static_cast<int8_t>(q);
        }
      });
    });
  } else if (o.algo == "optq") {
    OptqOptions opt = o.optq;
    opt.threads = o.threads;
    opt.toward_zero = o.ep_init;
    r.codes = optq_quantize(w, rows, cols, stats->h, r.scales.data(), lf.weight_bits, axe.get(), opt, &r.damping);
  } else {
    GpfqOptions opt;
    opt.act_order = o.optq.act_order;
    opt.block = o.optq.block;
    opt.toward_zero = o.ep_init;
    opt.threads = o.threads;
    r.codes = gpfq_quantize(w, rows, cols, stats->h, stats->g, r.scales.data(), lf.weight_bits, axe.get(), opt);
  }
  if (o.ep_init) ep_init_project(r.codes, rows, cols, lf.plan, lf.act_bits, lf.act_signed);
  return r;
}

// || X w - X~ s q ||^2 summed over rows, less the candidate-independent
// || X w ||^2: -2 (s q)^T G w + (s q)^T H (s q).
double calibration_error(const LinearF32& lin, const LayerResult& r, const LayerStats& st) {
  const Eigen::Index rows = static_cast<Eigen::Index>(lin.rows()), K = static_cast<Eigen::Index>(lin.cols());
  const Eigen::MatrixXd W = Eigen::Map<const RowMatrixF>(lin.data(), rows, K).cast<double>();
  Eigen::MatrixXd B(rows, K);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index k = 0; k < K; ++k)
      B(i, k) = double{r.scales[static_cast<size_t>(i)]} * r.codes[static_cast<size_t>(i * K + k)];
  return -2.0 * ((B * st.g).cwiseProduct(W)).sum() + ((B * st.h).cwiseProduct(B)).sum();
}

// The (N, M) pairs the search tries for a layer whose largest tile sums
// max_tile terms: N from the requested width down, and for each N, M from
// the requested width down, each stopping where the data-type bound already
// fits P_I (narrower would only lose precision).
std::vector<LayerBits> search_candidates(const AxeQuantFormat& qf, uint64_t max_tile) {
  std::vector<LayerBits> out;
  auto fits = [&](int n, int m) { return data_type_bound(max_tile, n, m, qf.act_signed) <= qf.plan.inner_bits; };
  for (int n = qf.act_bits; n >= 2; --n) {
    for (int m = qf.weight_bits; m >= 2; --m) {
      out.push_back({m, n});
      if (fits(n, m)) break;
    }
    if (fits(n, qf.weight_bits)) break;
  }
  return out;
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
  if (o.algo != "rtn" && o.algo != "optq" && o.algo != "gpfq")
    fail(AXE_ERR_INVALID_ARGUMENT, "unknown quantization algorithm '" + o.algo + "' (available: rtn, optq, gpfq)");
  if (int(o.axe) + int(o.naive) + int(o.ep_init) + int(o.search) > 1)
    fail(AXE_ERR_INVALID_ARGUMENT, "--axe, --naive, --ep-init and --search are alternatives");
  if (o.search && o.algo == "rtn") fail(AXE_ERR_INVALID_ARGUMENT, "--search needs calibration: use --algo optq or gpfq");
  if (o.naive) {
    uint64_t max_tile = 0;  // columns of the largest tile of any layer
    for (const LlamaLayer& ly : model.layers)
      for (const AxeLinearName& ln : axe_linear_names())
        max_tile = std::max(max_tile, o.format.plan.largest_tile((ly.*(ln.member))->cols()));
    const NaiveBits nb = naive_bits(max_tile, o.format.plan.inner_bits, o.format.act_bits, o.format.weight_bits,
                                    o.format.act_signed);
    if (!nb.found)
      fail(AXE_ERR_INVALID_ARGUMENT, "naive: no bit widths >= 2 fit tiles of " + std::to_string(max_tile) + " terms in " +
                                         std::to_string(o.format.plan.inner_bits) + " bits");
    o.format.act_bits = nb.act_bits;
    o.format.weight_bits = nb.weight_bits;
  }
  AxeQuantFormat& qf = o.format;
  if (qf.weight_bits < 2 || qf.weight_bits > 8) fail(AXE_ERR_INVALID_ARGUMENT, "weight bits must be in [2, 8]");
  if (qf.act_bits < 2 || qf.act_bits > 8) fail(AXE_ERR_INVALID_ARGUMENT, "activation bits must be in [2, 8]");
  const std::string bad = qf.plan.invalid_reason();
  if (!bad.empty()) fail(AXE_ERR_INVALID_ARGUMENT, "accumulation plan: " + bad);
  if (!model.quantization.empty()) fail(AXE_ERR_INVALID_ARGUMENT, model.path + ": the model is already quantized");
  const LlamaConfig& c = model.config;
  tbb::task_arena arena(std::max(1, o.threads));
  const size_t total = model.layers.size() * 7;
  size_t done = 0;
  auto report = [&](const std::string& name) {
    ++done;
    if (o.progress && !o.progress(done, total, name)) fail(AXE_ERR_ABORTED, "quantization aborted");
  };
  // A layer is checked against the plan and turned into its stored bytes as
  // soon as it is quantized; only those bytes are kept until the file is written.
  struct FinishedLayer {
    std::vector<uint8_t> stored;
    std::vector<float> scales;
    PlanCheck check;
  };
  std::map<std::string, FinishedLayer> finished;
  auto finish = [&](const std::string& name, size_t rows, size_t cols, LayerResult&& r) {
    const AxeQuantFormat lf = qf.for_layer(name);
    FinishedLayer fl{store_codes(r.codes, rows, cols, lf.weight_bits), std::move(r.scales),
                     check_plan(r.codes.data(), rows, cols, cols, lf.plan, lf.x_range())};
    if ((o.axe || o.search || o.ep_init) && !fl.check.ok())
      fail(AXE_ERR_INTERNAL, name + ": the constrained codes break the plan (row " +
                                 std::to_string(fl.check.first_bad_row) + ")");
    finished[name] = std::move(fl);
  };
  nlohmann::json dampings = nlohmann::json::object();

  if (o.algo == "rtn") {
    for (size_t l = 0; l < model.layers.size(); ++l)
      for (const AxeLinearName& ln : axe_linear_names()) {
        const std::string name = axe_tensor_name(l, ln.name);
        const LinearF32& f = float_layer(model.layers[l], ln, name);
        finish(name, f.rows(), f.cols(), quantize_layer(f, qf, row_scales(f, qf.weight_bits, arena), nullptr, o, arena));
        report(name);
      }
  } else {
    // Working copies of the model: `work` turns into integer layers as they
    // are quantized; `ref` stays float and gives GPFQ its target inputs.
    // Calibration runs one block at a time over saved hidden states.
    const bool gpfq = o.algo == "gpfq", need_g = gpfq || o.search;
    const auto windows = calibration_windows(model, o);
    const size_t L = o.calib_len, D = c.dim, S = windows.size();
    auto float_view = [](size_t, const std::string& name, const Linear& orig) {
      const auto* f = dynamic_cast<const LinearF32*>(&orig);
      if (!f) fail(AXE_ERR_INVALID_ARGUMENT, name + " has no float weights to quantize");
      return std::make_unique<LinearF32>(f->data(), f->rows(), f->cols());
    };
    auto work_model = with_replaced_linears(model, float_view);
    auto ref_model = gpfq ? with_replaced_linears(model, float_view) : nullptr;
    LlamaModel& work = *work_model;
    const Ops& ops = quantizer_ops();
    LlamaState st(work, L, L);
    std::vector<float> hidden(S * L * D), ref_hidden;
    for (size_t s = 0; s < S; ++s) {
      llama_embed(work, st, windows[s].data(), L);
      std::copy(st.hidden(), st.hidden() + L * D, hidden.begin() + s * L * D);
    }
    if (gpfq) ref_hidden = hidden;
    // Runs block l of m on every window's hidden state (kept when asked);
    // `before` runs first for each window (GPFQ: the float model's block).
    // A capturing layer ends a window's pass early by throwing CaptureDone.
    auto block_pass = [&](LlamaModel& m, std::vector<float>& hs, size_t l, size_t s, bool keep) {
      std::copy(hs.begin() + s * L * D, hs.begin() + (s + 1) * L * D, st.hidden());
      try {
        llama_block(m, ops, st, l, L, 0, true);
      } catch (const CaptureDone&) {
        return;
      }
      if (keep) std::copy(st.hidden(), st.hidden() + L * D, hs.begin() + s * L * D);
    };
    auto run_block = [&](LlamaModel& m, std::vector<float>& hs, size_t l, bool keep,
                         const std::function<void(size_t)>& before) {
      arena.execute([&] {
        for (size_t s = 0; s < S; ++s) {
          if (before) before(s);
          block_pass(m, hs, l, s, keep);
        }
      });
    };
    // Groups of layers that share one input, in the order the block uses them.
    const std::vector<std::vector<size_t>> groups = {{0, 1, 2}, {3}, {4, 6}, {5}};
    for (size_t l = 0; l < model.layers.size(); ++l) {
      LlamaLayer& wl = work.layers[l];
      for (const auto& group : groups) {
        const AxeLinearName& first = axe_linear_names()[group[0]];
        const size_t K = (wl.*(first.member))->cols();
        const std::vector<LayerBits> candidates = o.search ? search_candidates(qf, qf.plan.largest_tile(K))
                                                           : std::vector<LayerBits>{{qf.weight_bits, qf.act_bits}};
        struct Best {
          LayerResult r;
          LayerBits bits;
          double error = std::numeric_limits<double>::infinity();
        };
        std::vector<Best> best(group.size());
        // Row scales depend on the weight bits only: one search per (layer, M).
        std::vector<std::map<int, std::vector<float>>> scales(group.size());
        for (size_t ci = 0; ci < candidates.size(); ++ci) {
          const int n = candidates[ci].act_bits;
          if (ci > 0 && n == candidates[ci - 1].act_bits) continue;  // statistics depend on N only
          const Eigen::Index k = static_cast<Eigen::Index>(K);
          RowMatrixF h = RowMatrixF::Zero(k, k), g = need_g ? RowMatrixF::Zero(k, k) : RowMatrixF();
          RowMatrixF ref_inputs;
          auto capture = std::make_unique<CaptureLinear>(std::move(wl.*(first.member)), n, qf.act_signed, &h,
                                                         need_g ? &g : nullptr, gpfq ? &ref_inputs : nullptr);
          CaptureLinear* cap = capture.get();
          wl.*(first.member) = std::move(capture);
          std::function<void(size_t)> before;
          RecordLinear* rec = nullptr;
          if (gpfq) {
            LlamaLayer& rl = ref_model->layers[l];
            auto record = std::make_unique<RecordLinear>(std::move(rl.*(first.member)), &ref_inputs);
            rec = record.get();
            rl.*(first.member) = std::move(record);
            before = [&](size_t s) { block_pass(*ref_model, ref_hidden, l, s, false); };
          }
          run_block(work, hidden, l, false, before);
          wl.*(first.member) = cap->release();
          if (rec) ref_model->layers[l].*(first.member) = rec->release();
          LayerStats stats;
          stats.h = h.cast<double>().selfadjointView<Eigen::Lower>();  // only the lower triangle was captured
          if (need_g) stats.g = g.cast<double>();
          h = RowMatrixF();
          g = RowMatrixF();
          for (size_t gi = 0; gi < group.size(); ++gi) {
            const AxeLinearName& ln = axe_linear_names()[group[gi]];
            const std::string name = axe_tensor_name(l, ln.name);
            const LinearF32& f = float_layer(model.layers[l], ln, name);
            for (size_t cj = ci; cj < candidates.size() && candidates[cj].act_bits == n; ++cj) {
              AxeQuantFormat lf = qf;
              lf.weight_bits = candidates[cj].weight_bits;
              lf.act_bits = n;
              auto it = scales[gi].find(lf.weight_bits);
              if (it == scales[gi].end())
                it = scales[gi].emplace(lf.weight_bits, row_scales(f, lf.weight_bits, arena)).first;
              LayerResult r = quantize_layer(f, lf, it->second, &stats, o, arena);
              const double err = candidates.size() > 1 ? calibration_error(f, r, stats) : 0.0;
              if (err < best[gi].error) best[gi] = {std::move(r), candidates[cj], err};
            }
          }
        }
        for (size_t gi = 0; gi < group.size(); ++gi) {
          const AxeLinearName& ln = axe_linear_names()[group[gi]];
          const std::string name = axe_tensor_name(l, ln.name);
          const LinearF32& f = float_layer(model.layers[l], ln, name);
          LayerResult& r = best[gi].r;
          const LayerBits b = best[gi].bits;
          if (o.search) qf.layer_bits[name] = b;
          if (o.algo == "optq") dampings[name] = r.damping;
          AxeQuantFormat lf = qf.for_layer(name);
          wl.*(ln.member) = std::make_unique<LinearInt8>(
              pack_int8_weights(r.codes.data(), f.rows(), f.cols(), r.scales.data(), lf.weight_bits, lf.plan, lf.x_range()),
              lf.act_bits, lf.act_signed);
          finish(name, f.rows(), f.cols(), std::move(r));
          report(o.search ? name + " W" + std::to_string(b.weight_bits) + "A" + std::to_string(b.act_bits) : name);
        }
      }
      run_block(work, hidden, l, true, nullptr);  // the next block's inputs, through the quantized block
      if (gpfq) run_block(*ref_model, ref_hidden, l, true, nullptr);
      for (const AxeLinearName& ln : axe_linear_names()) (wl.*(ln.member)).reset();  // never run again
    }
  }

  SafetensorsWriter out;
  QuantizeSummary sum;
  sum.weight_bits = qf.weight_bits;
  sum.act_bits = qf.act_bits;
  sum.bits = qf.describe_bits();
  nlohmann::json certificate = nlohmann::json::array();
  const uint64_t D = c.dim;
  out.add_borrowed("tok_embeddings.weight", "F32", {uint64_t(c.vocab), D}, model.embedding, 4 * uint64_t(c.vocab) * D);
  out.add_borrowed("norm.weight", "F32", {D}, model.rms_final, 4 * D);
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const LlamaLayer& ly = model.layers[l];
    out.add_borrowed(axe_tensor_name(l, "attention_norm.weight"), "F32", {D}, ly.rms_att, 4 * D);
    out.add_borrowed(axe_tensor_name(l, "ffn_norm.weight"), "F32", {D}, ly.rms_ffn, 4 * D);
    for (const AxeLinearName& ln : axe_linear_names()) {
      const std::string name = axe_tensor_name(l, ln.name);
      const size_t rows = (ly.*(ln.member))->rows(), cols = (ly.*(ln.member))->cols();
      FinishedLayer& fl = finished.at(name);
      const PlanCheck& check = fl.check;
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
      if (qf.for_layer(name).weight_bits <= 4) out.add(name + ".codes", "U8", {rows, (cols + 1) / 2}, std::move(fl.stored));
      else out.add(name + ".codes", "I8", {rows, cols}, std::move(fl.stored));
      out.add(name + ".scales", "F32", {rows}, fl.scales.data(), 4 * rows);
      ++sum.layers;
    }
  }
  if (!c.shared_classifier) {
    const auto* cls = dynamic_cast<const LinearF32*>(model.classifier.get());
    out.add_borrowed("output.weight", "F32", {uint64_t(c.vocab), D}, cls->data(), 4 * uint64_t(c.vocab) * D);
  }
  const std::string& tok = model.tokenizer->file_bytes();
  out.add_borrowed("tokenizer", "U8", {tok.size()}, tok.data(), tok.size());
  nlohmann::json settings = {{"algo", o.algo},     {"axe", o.axe},         {"naive", o.naive},
                              {"ep_init", o.ep_init}, {"search", o.search}, {"scales", "mse-row"},
                              {"source", model.path}};
  if (o.algo != "rtn")
    settings.update({{"calib_samples", o.calib_samples}, {"calib_len", o.calib_len}, {"seed", o.seed},
                     {"damp", o.optq.damp}, {"act_order", o.optq.act_order}, {"full_error", o.optq.full_error},
                     {"block", o.optq.block}});
  if (o.algo == "optq") settings["damping_used"] = dampings;
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
