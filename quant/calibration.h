// Calibration, block by block (GPTQ's sequential protocol): the windows of
// calibration text run through the model one decoder block at a time over
// saved hidden states, so each block's layers see the inputs produced by the
// already quantized earlier blocks and layers, with activation quantization
// on. A capture runs a block up to the input of one stage (the linears that
// share an input, models/llama/arch.h), stops there, and accumulates
//   H = X~^T X~   (X~: the inputs after per-token N-bit quantization, as the
//                  integer kernels will see them)
//   G = X~^T X    (X: the layer's own float input, or, for GPFQ, the float
//                  model's input for the same tokens)
// in fp32 on the runtime's matmul, as GPTQ does.
#pragma once
#include <Eigen/Dense>
#include <tbb/task_arena.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/llama/forward.h"
#include "models/llama/model.h"
#include "quant/row_matrix.h"
#include "runtime/kernels/group_types.h"

namespace axe {

struct CalibrationOptions {
  std::string text;
  size_t samples = 128, len = 256;  // windows, tokens per window
  uint64_t seed = 0;                // window positions
};

// n windows of len tokens from the text, each starting with BOS, at seeded
// random offsets.
std::vector<std::vector<int32_t>> calibration_windows(const Tokenizer& tokenizer, const CalibrationOptions& o);

// Calibration statistics of one stage's input.
// Both hold sums of fp32 products accumulated in fp32: h is symmetric with
// both triangles filled; g is empty unless asked for.
struct OptqFactor;  // quant/optq.h

struct LayerStats {
  RowMatrixF h, g;
  // OPTQ's factor of h, made by the first layer quantized with these
  // statistics and reused by the others that read the same input.
  mutable std::shared_ptr<const OptqFactor> optq_factor;
};

class Calibrator {
 public:
  // `model` is the float model (it must outlive this); `windows` come from
  // calibration_windows (all of one length, checked before anything is
  // allocated for them). `float_reference` runs a float copy beside the
  // working one for G's X (GPFQ).
  Calibrator(const LlamaModel& model, const std::vector<std::vector<int32_t>>& windows, bool float_reference,
             const Ops& ops, tbb::task_arena& arena);
  // The working model: its linears start as views of the float weights; the
  // driver replaces them by integer layers as they are quantized.
  LlamaModel& working() { return *work_; }
  // H (and G when `with_g`) of the input of `stage` of block `layer` over
  // every window, with `act_bits` activations: per token, or, with `groups`,
  // symmetric per group as the groupwise layers quantize them (its bits are
  // act_bits').
  LayerStats capture(size_t layer, BlockStage stage, int act_bits, bool act_signed, bool with_g,
                     const std::optional<GroupActFormat>& groups = std::nullopt);
  // The same for the classifier's input, RMSNorm of the last block's output:
  // call after finish_block of the last block.
  LayerStats capture_head(int act_bits, bool act_signed, bool with_g,
                          const std::optional<GroupActFormat>& groups = std::nullopt);
  // Runs block `layer` over every window (working and float models) and keeps
  // the outputs as the next block's inputs; the block's working layers are
  // then freed.
  void finish_block(size_t layer);

 private:
  // H (and G) over every window of the K-wide rows input(window, reference)
  // returns (reference: the float model's; its rows are copied before the
  // working model's are asked for).
  LayerStats accumulate(size_t K, int act_bits, bool act_signed, bool with_g,
                        const std::optional<GroupActFormat>& groups,
                        const std::function<StageInput(size_t, bool)>& input);
  // Makes the saved rows reach `stage` of block l: a stage's input depends
  // only on the layers before it, quantized already when it is captured, so
  // the block runs up to it once and every later capture, candidate and
  // finish_block of the block resumes there (llama_block_resume), with the
  // bits a whole run would give.
  void advance(size_t l, BlockStage stage);
  // Copies window s's saved rows into the state and runs block l from where
  // they stand up to `stop`.
  StageInput run_window(size_t l, size_t s, bool reference, BlockStage stop);
  // run_window(l, s, reference, stop) for every window of both models, on
  // the arena, each result handed to fn(s, reference, input).
  void for_each_window(size_t l, BlockStage stop, const std::function<void(size_t, bool, const StageInput&)>& fn);
  // Copies the state's hidden rows over window s's saved ones.
  void keep_hidden(size_t s, bool reference);
  const Ops& ops_;
  tbb::task_arena& arena_;
  std::unique_ptr<LlamaModel> work_, ref_;
  size_t len_, dim_, q_dim_, n_windows_;
  LlamaState state_;
  // [window][len][dim]: the input of the current block, or, once `saved_` is
  // kFfnIn, its residual stream after attention.
  std::vector<float> hidden_, ref_hidden_;
  // [window][len][q_dim]: the attention outputs while `saved_` is
  // kAttentionOut, else empty.
  std::vector<float> attention_, ref_attention_;
  BlockStage saved_ = BlockStage::kAttentionIn;  // where the current block's saved rows stand
  size_t saved_layer_ = 0;                       // and which block that is
};

// y (k x k, row-major) += a^T b for a, b: n x k row-major, on ops' matmul.
// With symmetric, a == b and only the lower triangle (j <= i) is computed.
void add_cross_products(const Ops& ops, const RowMatrixF& a, const RowMatrixF& b, RowMatrixF& y,
                        bool symmetric = false);

}  // namespace axe
