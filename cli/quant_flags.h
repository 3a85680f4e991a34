// Quantization flags shared by quantize and sweep: the formats (--wbits,
// --abits, --act, --plan, --tile), the calibration (--calib, --calib-samples,
// --calib-len, -s) and the algorithm options (--act-order, --damp,
// --full-error), the rotation (--rotate, --rotate-seed) and the classifier
// (--wbits-output, --keep-output-f32). quantize adds the algorithm, the constraint, --acc and -t;
// sweep takes -t from the model flags.
#pragma once
#include <string>

#include "args.h"
#include "axe/axe.h"

namespace cli {

struct QuantFlags {
  axe_quantize_params params = axe_quantize_default_params();
  std::string calib_path;
  void add_to(ArgParser& p);
  // After parsing: flags that contradict each other (UsageError).
  void check() const;
  // Reads --calib when an algorithm needs it (params.calib_text points into
  // this object afterwards); throws UsageError naming what is missing.
  void load_calibration(const std::string& algo);
  // The quantize progress line on stderr: percent, elapsed, ETA.
  void show_progress();

 private:
  std::string calib_text_;
  std::string rotate_;  // params.rotate points here
  bool rotate_seed_given_ = false, output_bits_given_ = false;
  bool act_given_ = false, act_group_given_ = false, plan_given_ = false;

 public:
  // After parsing, with --group: symmetric activations per group unless
  // --act/--act-group say otherwise, and the tiles are the groups.
  void apply_group_defaults();
  double t0_ = 0;
};

}  // namespace cli
