#include "quant/calibration.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <random>

#include "runtime/error.h"
#include "runtime/kernels/int8_types.h"

namespace axe {

std::vector<std::vector<int32_t>> calibration_windows(const Tokenizer& tokenizer, const CalibrationOptions& o) {
  const auto tokens = tokenizer.encode(o.text, true);
  if (o.len < 2 || tokens.size() < o.len)
    fail(AXE_ERR_INVALID_ARGUMENT, "the calibration text has " + std::to_string(tokens.size()) +
                                       " tokens, fewer than one window of " + std::to_string(o.len));
  std::mt19937_64 rng(o.seed);
  std::vector<std::vector<int32_t>> windows(o.samples);
  for (auto& w : windows) {
    const size_t start = static_cast<size_t>(rng() % (tokens.size() - o.len + 1));
    w.assign(tokens.begin() + start, tokens.begin() + start + o.len);
    if (tokenizer.bos() >= 0) w[0] = tokenizer.bos();
  }
  return windows;
}

void add_cross_products(const Ops& ops, const RowMatrixF& a, const RowMatrixF& b, RowMatrixF& y, bool symmetric) {
  const RowMatrixF at = a.transpose();  // k x n: a row per input position
  const RowMatrixF bt_own = symmetric ? RowMatrixF() : RowMatrixF(b.transpose());
  const RowMatrixF& bt = symmetric ? at : bt_own;
  const size_t k = static_cast<size_t>(at.rows()), n = static_cast<size_t>(at.cols());
  constexpr size_t kRows = 64;  // strips of rows of y; uneven work when symmetric, so dynamic
  tbb::parallel_for(size_t{0}, (k + kRows - 1) / kRows, [&](size_t s) {
    const size_t i0 = s * kRows, i1 = std::min(k, i0 + kRows);
    ops.matmul_f32(at.data() + i0 * n, n, i1 - i0, bt.data(), n, n, y.data() + i0 * k, k, 0, symmetric ? i1 : k, true);
  });
}

namespace {

// A view of every linear layer's float weights.
std::unique_ptr<LlamaModel> float_copy(const LlamaModel& model) {
  return with_replaced_linears(model, [](size_t, const std::string& name, const Linear& orig) {
    const LinearF32* f = orig.as_f32();
    if (!f) fail(AXE_ERR_INVALID_ARGUMENT, name + " has no float weights to quantize");
    return std::make_unique<LinearF32>(f->data(), f->rows(), f->cols());
  });
}

// n rows of `cols` floats at x (stride ld) as a matrix.
RowMatrixF rows_of(const float* x, size_t ld, size_t n, size_t cols) {
  RowMatrixF out(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(cols));
  for (size_t m = 0; m < n; ++m)
    out.row(static_cast<Eigen::Index>(m)) =
        Eigen::Map<const Eigen::RowVectorXf>(x + m * ld, static_cast<Eigen::Index>(cols));
  return out;
}

}  // namespace

Calibrator::Calibrator(const LlamaModel& model, const std::vector<std::vector<int32_t>>& windows,
                       bool float_reference, const Ops& ops, tbb::task_arena& arena)
    : ops_(ops),
      arena_(arena),
      work_(float_copy(model)),
      ref_(float_reference ? float_copy(model) : nullptr),
      len_(windows.empty() ? 0 : windows[0].size()),
      dim_(model.config.dim),
      q_dim_(model.config.q_dim()),
      n_windows_(windows.size()),
      state_(*work_, len_, len_) {
  for (const auto& w : windows)
    if (w.size() != len_) fail(AXE_ERR_INTERNAL, "calibration windows of different lengths");
  hidden_.resize(n_windows_ * len_ * dim_);
  for (size_t s = 0; s < n_windows_; ++s) {
    llama_embed(*work_, state_, windows[s].data(), len_);
    std::copy(state_.hidden(), state_.hidden() + len_ * dim_, hidden_.begin() + s * len_ * dim_);
  }
  if (ref_) ref_hidden_ = hidden_;
}

LayerStats Calibrator::capture(size_t l, BlockStage stage, int act_bits, bool act_signed, bool with_g,
                               const std::optional<GroupActFormat>& groups) {
  size_t K = 0;
  for (size_t i = 0; i < kLlamaLinears; ++i)
    if (llama_linears()[i].input == stage) K = work_->layers[l].linear(i).cols();
  advance(l, stage);
  return accumulate(K, act_bits, act_signed, with_g, groups,
                    [&](size_t s, bool reference) { return run_window(l, s, reference, stage); });
}

StageInput Calibrator::run_window(size_t l, size_t s, bool reference, BlockStage stop) {
  const size_t L = len_, D = dim_, Q = q_dim_;
  const std::vector<float>& hs = reference ? ref_hidden_ : hidden_;
  std::copy(hs.begin() + s * L * D, hs.begin() + (s + 1) * L * D, state_.hidden());
  if (saved_ == BlockStage::kAttentionOut) {
    const std::vector<float>& att = reference ? ref_attention_ : attention_;
    std::copy(att.begin() + s * L * Q, att.begin() + (s + 1) * L * Q, state_.attention_output());
  }
  return llama_block_resume(reference ? *ref_ : *work_, ops_, state_, l, L, 0, true, saved_, stop);
}

void Calibrator::advance(size_t l, BlockStage stage) {
  if (saved_ != BlockStage::kAttentionIn && l != saved_layer_)
    fail(AXE_ERR_INTERNAL, "calibration: block " + std::to_string(l) + " captured before block " +
                               std::to_string(saved_layer_) + " was finished");
  saved_layer_ = l;
  const size_t L = len_, Q = q_dim_;
  if (saved_ < BlockStage::kAttentionOut && stage >= BlockStage::kAttentionOut) {
    std::vector<float> att(n_windows_ * L * Q), ref_att(ref_ ? att.size() : 0);
    for_each_window(l, BlockStage::kAttentionOut, [&](size_t s, bool reference, const StageInput& in) {
      std::vector<float>& out = reference ? ref_att : att;
      for (size_t m = 0; m < L; ++m) std::copy(in.x + m * in.ld, in.x + m * in.ld + Q, out.begin() + (s * L + m) * Q);
    });
    attention_ = std::move(att);
    ref_attention_ = std::move(ref_att);
    saved_ = BlockStage::kAttentionOut;
  }
  if (saved_ < BlockStage::kFfnIn && stage >= BlockStage::kFfnIn) {
    // The residual stream after attention replaces the block's input.
    for_each_window(l, BlockStage::kFfnIn, [&](size_t s, bool reference, const StageInput&) { keep_hidden(s, reference); });
    std::vector<float>().swap(attention_);
    std::vector<float>().swap(ref_attention_);
    saved_ = BlockStage::kFfnIn;
  }
}

void Calibrator::for_each_window(size_t l, BlockStage stop,
                                 const std::function<void(size_t, bool, const StageInput&)>& fn) {
  arena_.execute([&] {
    for (int r = 0; r < (ref_ ? 2 : 1); ++r)
      for (size_t s = 0; s < n_windows_; ++s) fn(s, r == 1, run_window(l, s, r == 1, stop));
  });
}

void Calibrator::keep_hidden(size_t s, bool reference) {
  const size_t L = len_, D = dim_;
  std::copy(state_.hidden(), state_.hidden() + L * D, (reference ? ref_hidden_ : hidden_).begin() + s * L * D);
}

LayerStats Calibrator::capture_head(int act_bits, bool act_signed, bool with_g,
                                    const std::optional<GroupActFormat>& groups) {
  const size_t L = len_, D = dim_;
  std::vector<float> normed(L * D);
  return accumulate(D, act_bits, act_signed, with_g, groups, [&](size_t s, bool reference) {
    const std::vector<float>& hs = reference ? ref_hidden_ : hidden_;
    for (size_t m = 0; m < L; ++m)
      ops_.rmsnorm(hs.data() + (s * L + m) * D, work_->rms_final, normed.data() + m * D, D, work_->config.norm_eps);
    return StageInput{normed.data(), D};
  });
}

LayerStats Calibrator::accumulate(size_t K, int act_bits, bool act_signed, bool with_g,
                                  const std::optional<GroupActFormat>& groups,
                                  const std::function<StageInput(size_t, bool)>& input) {
  const Eigen::Index k = static_cast<Eigen::Index>(K);
  RowMatrixF h = RowMatrixF::Zero(k, k), g = with_g ? RowMatrixF::Zero(k, k) : RowMatrixF();
  const size_t L = len_;
  arena_.execute([&] {
    RowMatrixF ref_inputs;
    Int8Activations a;
    GroupActivations ga;
    for (size_t s = 0; s < n_windows_; ++s) {
      if (ref_) {  // the float model's input to the same stage, for the same tokens
        const StageInput in = input(s, true);
        ref_inputs = rows_of(in.x, in.ld, L, K);
      }
      const StageInput in = input(s, false);
      RowMatrixF xq(static_cast<Eigen::Index>(L), k);
      if (groups) {
        GroupActFormat f = *groups;
        f.bits = act_bits;
        f.valid_cols = K;
        size_group_activations(L, (K + kGroupSize - 1) / kGroupSize * kGroupSize, ga);
        quantize_group_activation_rows(in.x, in.ld, 0, L, ga, f);
        for (size_t m = 0; m < L; ++m)
          for (size_t c = 0; c < K; ++c)
            xq(static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(c)) =
                ga.scales[m * ga.groups + c / kGroupSize] * static_cast<float>(ga.codes.data()[m * ga.cols + c]);
      } else {
        quantize_activations(in.x, in.ld, L, K, act_bits, act_signed, a);
        for (size_t m = 0; m < L; ++m)
          for (size_t c = 0; c < K; ++c)
            xq(static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(c)) =
                a.scales[m] * static_cast<float>(int32_t{a.codes.data()[m * a.kp + c]} - a.zeros[m]);
      }
      add_cross_products(ops_, xq, xq, h, true);
      if (with_g) add_cross_products(ops_, xq, ref_ ? ref_inputs : rows_of(in.x, in.ld, L, K), g);
    }
  });
  // Only the lower triangle was computed: mirrored in place, in tiles.
  constexpr Eigen::Index kTile = 64;
  const Eigen::Index tiles = (k + kTile - 1) / kTile;
  arena_.execute([&] {
    tbb::parallel_for(Eigen::Index{0}, tiles, [&](Eigen::Index ti) {
      const Eigen::Index i0 = ti * kTile, i1 = std::min(k, i0 + kTile);
      for (Eigen::Index j0 = 0; j0 <= i0; j0 += kTile) {
        const Eigen::Index j1 = std::min(k, j0 + kTile);
        for (Eigen::Index i = i0; i < i1; ++i)
          for (Eigen::Index j = j0; j < std::min(j1, i); ++j) h(j, i) = h(i, j);
      }
    });
  });
  LayerStats stats;
  stats.h = std::move(h);
  if (with_g) stats.g = std::move(g);
  return stats;
}

void Calibrator::finish_block(size_t l) {
  // The next block's inputs, through the quantized block.
  for_each_window(l, BlockStage::kEnd, [&](size_t s, bool reference, const StageInput&) { keep_hidden(s, reference); });
  std::vector<float>().swap(attention_);
  std::vector<float>().swap(ref_attention_);
  saved_ = BlockStage::kAttentionIn;
  for (const LlamaLinearInfo& ln : llama_linears()) (work_->layers[l].*(ln.member)).reset();  // never run again
}

}  // namespace axe
