// The quantization driver: a float Llama model, layer by layer, to a .axe
// file. Each layer gets per-row MSE scales fixed before it is quantized, then
// its algorithm (quant/layer_quantizer.h: RTN, or OPTQ/GPFQ calibrated block
// by block, quant/calibration.h) under its constraint: none (the plan is only
// certified), AXE (soft threshold and hard clip to the plan's budgets), the
// naive and EP-init baselines, or the per-layer width search
// (quant/search.h). Every layer is checked against the plan from its
// integers as soon as it is quantized; the checks are the file's certificate
// (models/formats/axe.h writes it).
//
// An out_path ending in ".gguf" gets a GGUF file llama.cpp runs instead
// (groupwise with G = 32, activations 8-bit per 32 only: Q8_0 for weights of
// more than 4 bits, Q4_0 otherwise), holding exactly the .axe file's codes and
// scales, its plan, settings and certificate as the JSON strings axe.plan,
// axe.quantization and axe.certificate, and in axe.not_groupwise (a JSON
// array) the layers GGUF cannot hold as blocks (K not a multiple of 32),
// which it stores as F32 of the exact values and llama.cpp runs in float.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "models/llama/model.h"
#include "models/quant_format.h"
#include "quant/calibration.h"
#include "quant/gpfq.h"
#include "quant/layer_quantizer.h"
#include "quant/optq.h"
#include "runtime/cpu_target.h"

namespace axe {

struct QuantizeOptions {
  Algorithm algo = Algorithm::kRtn;
  Constraint constraint = Constraint::kNone;
  // The requested format. Naive lowers its bits; the search records each
  // layer's own.
  QuantFormat format;
  int threads = 1;
  Target target = supported_targets().back();  // the float products' SIMD table
  CalibrationOptions calib;                    // optq, gpfq
  OptqOptions optq;
  GpfqOptions gpfq;
  // Hadamard-rotate every linear layer's input with this seed first
  // (models/llama/rotation.h); the calibrated algorithms then see the
  // rotated inputs, and the file stores the rotation.
  std::optional<uint64_t> rotate_seed;
  // The classifier is quantized like the blocks' layers (its own weight
  // bits; the constraint, the search and the baselines apply to it too) and
  // the embedding stored as 8-bit rows, unless keep_output_f32.
  int output_bits = 8;
  bool keep_output_f32 = false;
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
  // OUT.gguf: the linear layers not written as Q8_0/Q4_0 blocks (K not a
  // multiple of 32: F32, exactly), by GGUF name.
  std::vector<std::string> not_groupwise;
};

QuantizeSummary quantize_model(const LlamaModel& model, const QuantizeOptions& options, const std::string& out_path);

}  // namespace axe
