#include "quant/quantize_model.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "models/formats/axe.h"
#include "models/formats/gguf_model.h"
#include "quant/axe_constraint.h"
#include "quant/ep_init.h"
#include "quant/naive_bits.h"
#include "quant/quant_simd.h"
#include "quant/scales.h"
#include "quant/search.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/linear_int8.h"

namespace axe {
namespace {

struct LayerResult {
  std::vector<int8_t> codes;
  std::vector<float> scales;  // [rows], or [rows][groups] (groupwise)
  double damping = 0;         // OPTQ: the damping that factorized H
};

ScaleGrid grid_of(const std::vector<float>& scales, size_t cols, const QuantFormat& f) {
  return f.group ? ScaleGrid(scales.data(), cols, f.group) : ScaleGrid(scales.data());
}

const LinearF32& float_layer(const LlamaLayer& ly, size_t i, const std::string& name) {
  const LinearF32* lin = ly.linear(i).as_f32();
  if (!lin) fail(AXE_ERR_INVALID_ARGUMENT, name + " has no float weights to quantize");
  return *lin;
}

// The MSE scales of a layer, rows in parallel: per row, or per (row, group)
// rounded to what an fp16 holds (as GGUF's block scales), each group's
// candidates searched over its own columns.
std::vector<float> layer_scales(const LinearF32& lin, const QuantFormat& f, int bits, tbb::task_arena& arena) {
  const size_t rows = lin.rows(), cols = lin.cols();
  const size_t G = f.group ? f.group : cols, groups = (cols + G - 1) / G;
  std::vector<float> scales(rows * groups);
  arena.execute([&] {
    tbb::parallel_for(size_t{0}, rows, [&](size_t i) {
      for (size_t g = 0; g < groups; ++g) {
        float& s = scales[i * groups + g];
        mse_row_scales_simd(lin.data() + i * cols + g * G, 1, std::min(G, cols - g * G), cols, bits, &s);
        if (f.group) s = fp16_representable_scale(s);
      }
    });
  });
  return scales;
}

// Refuses a model with a NaN or infinite weight in any tensor the file would
// keep, naming the tensor and the element: quantizing it would certify a
// model that cannot run.
void check_finite_weights(const LlamaModel& model) {
  auto check = [&](const std::string& name, const float* w, uint64_t rows, uint64_t cols) {
    for (uint64_t i = 0; i < rows * cols; ++i)
      if (!std::isfinite(w[i]))
        fail(AXE_ERR_NUMERIC, model.path + ": tensor " + name + ": the weight at row " + std::to_string(i / cols) +
                                  ", column " + std::to_string(i % cols) + " is " + (std::isnan(w[i]) ? "NaN" : "infinite") +
                                  "; refusing to quantize a model that cannot run");
  };
  const LlamaConfig& c = model.config;
  check(kTensorEmbedding, model.embedding, c.vocab, c.dim);
  check(kTensorFinalNorm, model.rms_final, 1, c.dim);
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const LlamaLayer& ly = model.layers[l];
    check(llama_tensor_name(l, kTensorAttentionNorm), ly.rms_att, 1, c.dim);
    check(llama_tensor_name(l, kTensorFfnNorm), ly.rms_ffn, 1, c.dim);
    for (size_t i = 0; i < kLlamaLinears; ++i) {
      const std::string name = llama_tensor_name(l, llama_linears()[i].name);
      const LinearF32& f = float_layer(ly, i, name);
      check(name, f.data(), f.rows(), f.cols());
    }
  }
  if (!c.shared_classifier)
    if (const LinearF32* cls = model.classifier->as_f32()) check(kTensorClassifier, cls->data(), cls->rows(), cls->cols());
}

// How the calibration quantizes a layer's inputs: as the groupwise layers
// will (per group, fp16 scales), or per token (null) as the per-row ones.
std::optional<GroupActFormat> act_groups(const QuantFormat& f) {
  if (!f.groupwise()) return std::nullopt;
  GroupActFormat a;
  a.group = f.act_group;
  return a;  // bits: the candidate's, set by the capture
}

bool enforces_plan(Constraint c) { return c == Constraint::kAxe || c == Constraint::kSearch; }

// The model-wide bits of the naive baseline: lower the activation, then the
// weight bits until the data-type bound of the largest tile of any layer
// fits P_I.
void apply_naive_bits(const LlamaModel& model, QuantFormat& qf) {
  uint64_t max_tile = 0;
  for (const LlamaLayer& ly : model.layers)
    for (size_t i = 0; i < kLlamaLinears; ++i) max_tile = std::max(max_tile, qf.plan.largest_tile(ly.linear(i).cols()));
  const NaiveBits nb = naive_bits(max_tile, qf.plan.inner_bits, qf.act_bits, qf.weight_bits, qf.act_signed);
  if (!nb.found)
    fail(AXE_ERR_INVALID_ARGUMENT, "naive: no bit widths >= 2 fit tiles of " + std::to_string(max_tile) + " terms in " +
                                       std::to_string(qf.plan.inner_bits) + " bits");
  qf.act_bits = nb.act_bits;
  qf.weight_bits = nb.weight_bits;
}

// How the codes were made, as the .axe file records it (format version 1:
// calibrated algorithms record OPTQ's damp and full_error too).
nlohmann::json settings_record(const LlamaModel& model, const QuantizeOptions& o, const nlohmann::json& dampings) {
  nlohmann::json s = {{"algo", algorithm_name(o.algo)},
                      {"axe", o.constraint == Constraint::kAxe},
                      {"naive", o.constraint == Constraint::kNaive},
                      {"ep_init", o.constraint == Constraint::kEpInit},
                      {"search", o.constraint == Constraint::kSearch},
                      {"scales", o.format.group ? "mse-group-fp16" : "mse-row"},
                      {"source", model.path}};
  if (model.rotation) s.update({{"rotate", "hadamard"}, {"rotate_seed", model.rotation->seed()}});
  if (!o.keep_output_f32) s.update({{"classifier", "quantized"}, {"embedding", "int8-rows"}});
  if (o.algo != Algorithm::kRtn) {
    const bool gpfq = o.algo == Algorithm::kGpfq;
    s.update({{"calib_samples", o.calib.samples}, {"calib_len", o.calib.len}, {"seed", o.calib.seed},
              {"damp", o.optq.damp}, {"act_order", gpfq ? o.gpfq.act_order : o.optq.act_order},
              {"full_error", o.optq.full_error}, {"block", gpfq ? o.gpfq.block : o.optq.block}});
  }
  if (o.algo == Algorithm::kOptq) s["damping_used"] = dampings;
  return s;
}

class Driver {
 public:
  // With `rotated`, model is its model, whose blocks are prepared one at a
  // time as the driver reaches them.
  Driver(const LlamaModel& model, const QuantizeOptions& o, const QuantFormat& qf, const std::string& out_path,
         RotatedModel* rotated = nullptr)
      : rotated_(rotated),
        model_(model),
        o_(o),
        qf_(qf),
        arena_(std::max(1, o.threads)),
        ops_(ops_for(o.target)),
        writer_(model, out_path, !o.keep_output_f32) {
    if (o.algo == Algorithm::kRtn) quantizer_ = std::make_unique<RtnQuantizer>();
    else if (o.algo == Algorithm::kOptq) quantizer_ = std::make_unique<OptqQuantizer>(o.optq);
    else quantizer_ = std::make_unique<GpfqQuantizer>(o.gpfq);
  }

  QuantizeSummary run() {
    if (quantizer_->calibrated()) run_calibrated();
    else run_direct();
    const AxeCertificate cert = writer_.write(qf_, settings_record(model_, o_, dampings_));
    QuantizeSummary sum;
    sum.layers = cert.layers;
    sum.weight_bits = qf_.weight_bits;
    sum.act_bits = qf_.act_bits;
    sum.bits = qf_.describe_bits();
    sum.inner_violations = cert.inner_violations;
    sum.outer_violations = cert.outer_violations;
    sum.worst_inner_use = cert.worst_inner_use;
    sum.worst_outer_use = cert.worst_outer_use;
    return sum;
  }

 private:
  struct Best {
    LayerResult r;
    LayerBits bits;
    double error = std::numeric_limits<double>::infinity();
  };

  // The layers reading one input, each quantized at every candidate (N, M)
  // with `base`'s plan: per layer, the result with the lowest calibration
  // error (the only candidate when there is one). The input's statistics
  // depend on N only, so capture(N) runs once per N (candidates are
  // N-major); without `capture` the layers are not calibrated.
  std::vector<Best> best_candidates(const std::vector<const LinearF32*>& layers, const QuantFormat& base,
                                    const std::vector<LayerBits>& candidates,
                                    const std::function<LayerStats(int)>& capture) {
    std::vector<Best> best(layers.size());
    // Row scales depend on the weight bits only: one search per (layer, M).
    std::vector<std::map<int, std::vector<float>>> scales(layers.size());
    for (size_t ci = 0; ci < candidates.size(); ++ci) {
      const int n = candidates[ci].act_bits;
      if (ci > 0 && n == candidates[ci - 1].act_bits) continue;  // statistics depend on N only
      LayerStats stats;
      if (capture) stats = capture(n);
      for (size_t gi = 0; gi < layers.size(); ++gi) {
        const LinearF32& f = *layers[gi];
        for (size_t cj = ci; cj < candidates.size() && candidates[cj].act_bits == n; ++cj) {
          QuantFormat lf = base;
          lf.weight_bits = candidates[cj].weight_bits;
          lf.act_bits = n;
          auto it = scales[gi].find(lf.weight_bits);
          if (it == scales[gi].end())
            it = scales[gi].emplace(lf.weight_bits, layer_scales(f, lf, lf.weight_bits, arena_)).first;
          LayerResult r = quantize_layer(f, lf, it->second, capture ? &stats : nullptr);
          const double err =
              candidates.size() > 1 ? calibration_error(f, r.codes, grid_of(r.scales, f.cols(), lf), stats) : 0.0;
          if (err < best[gi].error) best[gi] = {std::move(r), candidates[cj], err};
        }
      }
    }
    return best;
  }

  // One layer with format lf (its own bits) and its row scales for
  // lf.weight_bits: the algorithm, then the constraint.
  LayerResult quantize_layer(const LinearF32& lin, const QuantFormat& lf, std::vector<float> scales,
                             const LayerStats* stats) {
    LayerResult r{{}, std::move(scales)};
    const ScaleGrid grid = grid_of(r.scales, lin.cols(), lf);
    std::unique_ptr<AxeConstraint> axe;
    if (enforces_plan(o_.constraint)) {
      axe = std::make_unique<AxeConstraint>(lf.plan, lf.x_range(), lf.weight_bits, lin.rows(), lin.cols());
      arena_.execute([&] { axe->set_soft_thresholds(lin.data(), lin.cols(), grid); });
    }
    const bool ep_init = o_.constraint == Constraint::kEpInit;
    const LayerJob job{lin, lf, grid, stats, axe.get(), ep_init, ops_, o_.threads, arena_};
    r.codes = quantizer_->quantize(job, &r.damping);
    if (ep_init) ep_init_project(r.codes, lin.rows(), lin.cols(), lf.plan, lf.act_bits, lf.act_signed);
    return r;
  }

  // Checks the finished layer and hands it to the writer.
  void finish(const std::string& name, size_t rows, LayerResult&& r, const std::string& progress_name) {
    const PlanCheck& check = writer_.add_linear(name, r.codes, rows, std::move(r.scales), qf_.for_layer(name));
    if ((enforces_plan(o_.constraint) || o_.constraint == Constraint::kEpInit) && !check.ok())
      fail(AXE_ERR_INTERNAL, name + ": the constrained codes break the plan (row " +
                                 std::to_string(check.first_bad_row) + ")");
    ++done_;
    if (o_.progress && !o_.progress(done_, total(), progress_name)) fail(AXE_ERR_ABORTED, "quantization aborted");
  }

  size_t total() const { return model_.layers.size() * kLlamaLinears + (o_.keep_output_f32 ? 0 : 1); }

  // The classifier, after every block: its own weight bits and the model's
  // activation format (naive lowers them for its own tiles; the search tries
  // its candidates), calibrated on its input when `cal` is given.
  void quantize_classifier(Calibrator* cal) {
    const std::string name = kClassifierLinear;
    const LinearF32* f = model_.classifier->as_f32();
    if (!f) fail(AXE_ERR_INVALID_ARGUMENT, model_.path + ": the classifier has no float weights to quantize");
    QuantFormat cf = qf_.for_layer(name);
    cf.weight_bits = o_.output_bits;
    cf.act_bits = o_.format.act_bits;
    const uint64_t max_tile = cf.plan.largest_tile(f->cols());
    if (o_.constraint == Constraint::kNaive) {
      const NaiveBits nb = naive_bits(max_tile, cf.plan.inner_bits, cf.act_bits, cf.weight_bits, cf.act_signed);
      if (!nb.found)
        fail(AXE_ERR_INVALID_ARGUMENT, "naive: no bit widths >= 2 fit the classifier's tiles of " +
                                           std::to_string(max_tile) + " terms in " + std::to_string(cf.plan.inner_bits) + " bits");
      cf.act_bits = nb.act_bits;
      cf.weight_bits = nb.weight_bits;
    }
    const bool search = o_.constraint == Constraint::kSearch;
    const std::vector<LayerBits> candidates =
        search ? search_candidates(cf, max_tile) : std::vector<LayerBits>{{cf.weight_bits, cf.act_bits}};
    const bool need_g = quantizer_->needs_float_reference() || search;
    std::function<LayerStats(int)> capture;
    if (cal) capture = [&](int n) { return cal->capture_head(n, cf.act_signed, need_g, act_groups(cf)); };
    Best best = std::move(best_candidates({f}, cf, candidates, capture).front());
    const LayerBits best_bits = best.bits;
    // Recorded whenever they differ from the model-wide bits, and always
    // under the search (as for every layer it chooses).
    if (search || best_bits.weight_bits != qf_.weight_bits || best_bits.act_bits != qf_.act_bits)
      qf_.layer_bits[name] = best_bits;
    if (o_.algo == Algorithm::kOptq) dampings_[name] = best.r.damping;
    finish(name, f->rows(), std::move(best.r),
           name + " W" + std::to_string(best_bits.weight_bits) + "A" + std::to_string(best_bits.act_bits));
  }

  void begin_block(size_t l) {
    if (rotated_) arena_.execute([&] { rotated_->prepare(l); });
  }
  void end_block(size_t l) {
    if (rotated_) rotated_->release(l);
  }

  void run_direct() {
    for (size_t l = 0; l < model_.layers.size(); ++l) {
      begin_block(l);
      for (size_t i = 0; i < kLlamaLinears; ++i) {
        const std::string name = llama_tensor_name(l, llama_linears()[i].name);
        const LinearF32& f = float_layer(model_.layers[l], i, name);
        finish(name, f.rows(), quantize_layer(f, qf_, layer_scales(f, qf_, qf_.weight_bits, arena_), nullptr), name);
      }
      end_block(l);
    }
    if (!o_.keep_output_f32) quantize_classifier(nullptr);
  }

  void run_calibrated() {
    const bool search = o_.constraint == Constraint::kSearch;
    // The text is checked (and tokenized) before anything is sized by it.
    const auto windows = calibration_windows(*model_.tokenizer, o_.calib);
    Calibrator cal(model_, windows, quantizer_->needs_float_reference(), ops_, arena_);
    const bool need_g = quantizer_->needs_float_reference() || search;
    const Int8KernelPolicy policy = Int8KernelPolicy::from_environment(o_.target);
    for (size_t l = 0; l < model_.layers.size(); ++l) {
      begin_block(l);
      for (BlockStage stage : kBlockStages) {
        std::vector<size_t> group;  // the linears reading this stage's input, in table order
        for (size_t i = 0; i < kLlamaLinears; ++i)
          if (llama_linears()[i].input == stage) group.push_back(i);
        const size_t K = model_.layers[l].linear(group[0]).cols();
        const std::vector<LayerBits> candidates = search ? search_candidates(qf_, qf_.plan.largest_tile(K))
                                                         : std::vector<LayerBits>{{qf_.weight_bits, qf_.act_bits}};
        std::vector<const LinearF32*> layers;
        for (size_t i : group)
          layers.push_back(&float_layer(model_.layers[l], i, llama_tensor_name(l, llama_linears()[i].name)));
        std::vector<Best> best = best_candidates(layers, qf_, candidates, [&](int n) {
          return cal.capture(l, stage, n, qf_.act_signed, need_g, act_groups(qf_));
        });
        for (size_t gi = 0; gi < group.size(); ++gi) {
          const LlamaLinearInfo& ln = llama_linears()[group[gi]];
          const std::string name = llama_tensor_name(l, ln.name);
          const LinearF32& f = *layers[gi];
          LayerResult& r = best[gi].r;
          const LayerBits b = best[gi].bits;
          if (search) qf_.layer_bits[name] = b;
          if (o_.algo == Algorithm::kOptq) dampings_[name] = r.damping;
          const QuantFormat lf = qf_.for_layer(name);
          // Later stages and blocks calibrate through the quantized layer.
          if (lf.groupwise())
            cal.working().layers[l].*(ln.member) = make_group_layer(r.codes.data(), f.rows(), f.cols(), r.scales.data(), lf);
          else
            cal.working().layers[l].*(ln.member) = std::make_unique<LinearInt8>(
                pack_int8_weights(r.codes.data(), f.rows(), f.cols(), r.scales.data(), lf.weight_bits, lf.plan,
                                  lf.x_range()),
                lf.act_bits, lf.act_signed, policy);
          finish(name, f.rows(), std::move(r),
                 search ? name + " W" + std::to_string(b.weight_bits) + "A" + std::to_string(b.act_bits) : name);
        }
      }
      cal.finish_block(l);
      end_block(l);
    }
    if (!o_.keep_output_f32) quantize_classifier(&cal);
  }

  RotatedModel* rotated_;
  const LlamaModel& model_;
  const QuantizeOptions& o_;
  QuantFormat qf_;
  tbb::task_arena arena_;
  const Ops& ops_;
  AxeWriter writer_;
  std::unique_ptr<LayerQuantizer> quantizer_;
  nlohmann::json dampings_ = nlohmann::json::object();
  size_t done_ = 0;
};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// OUT.gguf: GGUF's Q8_0 / Q4_0 are groups of 32 with fp16 scales whose
// activations llama.cpp quantizes to 8 bits per 32; anything else would not
// be what llama.cpp runs, so it is refused before any work.
void check_gguf_format(const QuantFormat& qf, const std::string& out_path) {
  if (qf.group != 32 || qf.act_group != 32 || qf.act_bits != 8)
    fail(AXE_ERR_INVALID_ARGUMENT, out_path + ": a GGUF file holds Q8_0/Q4_0 blocks of 32 that llama.cpp runs with 8-bit "
                                              "activations per 32: quantize with --group 32 --act-group 32 --abits 8, "
                                              "or write a .axe file");
}

// The .axe file written beside out_path, loaded, and written again as GGUF
// with the plan, the settings and the certificate in axe.* keys; the
// temporary .axe is removed whatever happens.
QuantizeSummary write_as_gguf(const LlamaModel& model, const QuantizeOptions& o, const std::string& out_path,
                              const std::function<QuantizeSummary(const std::string&)>& quantize) {
  std::string tmp;
  std::FILE* f = create_temporary_beside(out_path + ".axe", &tmp);
  std::fclose(f);
  struct Remove {
    std::string path;
    ~Remove() { std::remove(path.c_str()); }
  } remove{tmp};
  const QuantizeSummary sum = quantize(tmp);
  const std::unique_ptr<LlamaModel> q = load_axe(tmp, false);
  q->path = model.path;
  const AxeFile file(tmp, MappedFile::Mode::kMap);
  // The layers GGUF holds as floats (no short blocks in GGUF): their
  // certificate entries still describe the integers axe ran them with.
  nlohmann::json floats = nlohmann::json::array();
  for (size_t l = 0; l < q->layers.size(); ++l)
    for (size_t i = 0; i < kLlamaLinears; ++i)
      if (q->layers[l].linear(i).cols() % kGroupSize) floats.push_back(llama_tensor_name(l, llama_linears()[i].name));
  if (!o.keep_output_f32 && q->classifier->cols() % kGroupSize) floats.push_back(kClassifierLinear);
  const GgufWriteSummary w = write_gguf(*q, out_path,
                                        {{"axe.plan", file.meta(kAxeMetaPlan)},
                                         {"axe.quantization", file.meta(kAxeMetaQuantization)},
                                         {"axe.certificate", file.meta(kAxeMetaCertificate)},
                                         {"axe.not_groupwise", floats.dump()}});
  QuantizeSummary out = sum;
  out.not_groupwise = w.not_groupwise;
  return out;
}

}  // namespace

QuantizeSummary quantize_model(const LlamaModel& model, const QuantizeOptions& o, const std::string& out_path) {
  QuantFormat qf = o.format;
  if (o.constraint == Constraint::kSearch && o.algo == Algorithm::kRtn)
    fail(AXE_ERR_INVALID_ARGUMENT, "--search needs calibration: use --algo optq or gpfq");
  if (o.constraint == Constraint::kNaive) apply_naive_bits(model, qf);
  if (qf.weight_bits < 2 || qf.weight_bits > 8) fail(AXE_ERR_INVALID_ARGUMENT, "weight bits must be in [2, 8]");
  if (qf.act_bits < 2 || qf.act_bits > 8) fail(AXE_ERR_INVALID_ARGUMENT, "activation bits must be in [2, 8]");
  if (!o.keep_output_f32 && (o.output_bits < 2 || o.output_bits > 8))
    fail(AXE_ERR_INVALID_ARGUMENT, "the classifier's weight bits must be in [2, 8]");
  const std::string bad = qf.plan.invalid_reason();
  if (!bad.empty()) fail(AXE_ERR_INVALID_ARGUMENT, "accumulation plan: " + bad);
  const std::string bad_group = qf.group_invalid_reason();
  if (!bad_group.empty()) fail(AXE_ERR_INVALID_ARGUMENT, bad_group);
  if (model.quantized()) fail(AXE_ERR_INVALID_ARGUMENT, model.path + ": the model is already quantized");
  if (has_half_weights(model)) return quantize_model(*with_f32_weights(model), o, out_path);
  check_finite_weights(model);
  check_output_path(out_path);  // before the work, not only when writing
  if (ends_with(out_path, ".gguf")) {
    check_gguf_format(qf, out_path);
    if (o.rotate_seed)
      fail(AXE_ERR_INVALID_ARGUMENT, out_path + ": a rotated model needs its online transform, which GGUF cannot express");
    return write_as_gguf(model, o, out_path, [&](const std::string& tmp) { return Driver(model, o, qf, tmp).run(); });
  }
  if (!o.rotate_seed) return Driver(model, o, qf, out_path).run();
  if (*o.rotate_seed > static_cast<uint64_t>(INT64_MAX))
    fail(AXE_ERR_INVALID_ARGUMENT, "the rotation seed must be at most 2^63-1 (the .axe file stores it as a JSON integer)");
  RotatedModel rotated(model, *o.rotate_seed, ops_for(o.target));
  return Driver(rotated.model(), o, qf, out_path, &rotated).run();
}

}  // namespace axe
