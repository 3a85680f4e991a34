// The flags that choose a model and how it runs, shared by the commands that
// load one: -m, --tokenizer, -t, -c, --target, --mmap, --acc-sim.
#pragma once
#include <cstdint>
#include <string>

#include "args.h"

namespace cli {

struct ModelFlags {
  std::string model_path;
  std::string tokenizer_path;
  int32_t threads = 0;
  uint32_t n_ctx = 0;
  std::string target;
  bool use_mmap = false;
  int32_t acc_sim_inner = 0, acc_sim_outer = 0;  // --acc-sim
  bool acc_sim_saturate = false;
  // -m, --tokenizer, -t, -c (when with_ctx), --target, --mmap
  void add_to(ArgParser& p, bool with_ctx = true);
  void require_model(const ArgParser& p) const;
};

}  // namespace cli
