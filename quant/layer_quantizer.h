// One linear layer at a time: the interface RTN, OPTQ and GPFQ implement,
// what the driver hands each (quant/quantize_model.cpp), and the names of
// algorithms and constraints, parsed once at the edge (C API, CLI).
#pragma once
#include <tbb/task_arena.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "models/quant_format.h"
#include "quant/axe_constraint.h"
#include "quant/calibration.h"
#include "quant/gpfq.h"
#include "quant/optq.h"
#include "runtime/linear.h"

namespace axe {

enum class Algorithm : uint8_t { kRtn, kOptq, kGpfq };
// How the plan is met: not at all (it is only certified), by AXE, by the
// naive or EP-init baselines, or by AXE inside the per-layer width search.
enum class Constraint : uint8_t { kNone, kAxe, kNaive, kEpInit, kSearch };

const char* algorithm_name(Algorithm a);  // "rtn", "optq", "gpfq"
// Throws AXE_ERR_INVALID_ARGUMENT naming the available ones.
Algorithm parse_algorithm(std::string_view name);

// One layer's problem: its float weights, its own format, its fixed per-row
// scales, the calibration statistics of its input (calibrated algorithms),
// the AXE constraint (null when unconstrained) and EP-init's rounding toward
// zero. Products run on `ops`, over `threads` threads (in `arena`).
struct LayerJob {
  const LinearF32& layer;
  const QuantFormat& format;
  ScaleGrid scales;
  const LayerStats* stats;
  AxeConstraint* axe;
  bool toward_zero;
  const Ops& ops;
  int threads;
  tbb::task_arena& arena;
};

class LayerQuantizer {
 public:
  virtual ~LayerQuantizer() = default;
  virtual Algorithm algorithm() const = 0;
  // Needs H = X~^T X~ of the layer's calibration inputs.
  virtual bool calibrated() const = 0;
  // Needs G = X~^T X with X the float model's inputs (GPFQ's target).
  virtual bool needs_float_reference() const { return false; }
  // Codes [rows][cols]; *damping (when not null) gets the damping used, if any.
  virtual std::vector<int8_t> quantize(const LayerJob& job, double* damping) const = 0;
};

class RtnQuantizer final : public LayerQuantizer {
 public:
  Algorithm algorithm() const override { return Algorithm::kRtn; }
  bool calibrated() const override { return false; }
  std::vector<int8_t> quantize(const LayerJob& job, double* damping) const override;
};

class OptqQuantizer final : public LayerQuantizer {
 public:
  explicit OptqQuantizer(const OptqOptions& o) : options_(o) {}
  Algorithm algorithm() const override { return Algorithm::kOptq; }
  bool calibrated() const override { return true; }
  std::vector<int8_t> quantize(const LayerJob& job, double* damping) const override;
  const OptqOptions& options() const { return options_; }

 private:
  OptqOptions options_;
};

class GpfqQuantizer final : public LayerQuantizer {
 public:
  explicit GpfqQuantizer(const GpfqOptions& o) : options_(o) {}
  Algorithm algorithm() const override { return Algorithm::kGpfq; }
  bool calibrated() const override { return true; }
  bool needs_float_reference() const override { return true; }
  std::vector<int8_t> quantize(const LayerJob& job, double* damping) const override;
  const GpfqOptions& options() const { return options_; }

 private:
  GpfqOptions options_;
};

}  // namespace axe
