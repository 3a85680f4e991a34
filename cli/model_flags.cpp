#include "model_flags.h"

#include <vector>

namespace cli {

void ModelFlags::add_to(ArgParser& p, bool with_ctx) {
  p.add({"-m", "--model"}, "FILE", "model file (llama2.c .bin)", [this](auto&, auto& v) { model_path = v; });
  p.add({"--tokenizer"}, "FILE", "tokenizer.bin (default: tokenizer.bin or tok*.bin beside the model)",
        [this](auto&, auto& v) { tokenizer_path = v; });
  p.add({"-t", "--threads"}, "N", "threads (default: physical cores)",
        [this](auto& f, auto& v) { threads = static_cast<int32_t>(parse_int(f, v, 1, 1024)); });
  if (with_ctx)
    p.add({"-c", "--ctx-size"}, "N", "context size in tokens (default: the model's)",
          [this](auto& f, auto& v) { n_ctx = static_cast<uint32_t>(parse_int(f, v, 1, 1 << 20)); });
  p.add({"--target"}, "NAME", "SIMD target: auto, avx512-vnni, avx512, avx2, scalar (env AXE_TARGET)",
        [this](auto&, auto& v) { target = v; });
  p.add_switch({"--mmap"}, "use the model file's pages in place instead of reading it into huge pages",
               [this] { use_mmap = true; });
  p.add({"--acc-sim"}, "P_I[,P_O][,wrap|sat]",
        "run a .axe model on an emulated P_I-bit tile / P_O-bit row accumulator and count overflows",
        [this](auto& f, auto& v) {
          std::vector<std::string> parts;
          size_t start = 0;
          for (size_t comma; (comma = v.find(',', start)) != std::string::npos; start = comma + 1)
            parts.push_back(v.substr(start, comma - start));
          parts.push_back(v.substr(start));
          if (!parts.empty() && (parts.back() == "wrap" || parts.back() == "sat")) {
            acc_sim_saturate = parts.back() == "sat";
            parts.pop_back();
          }
          if (parts.empty() || parts.size() > 2)
            throw UsageError("invalid value '" + v + "' for " + f + ": expected P_I[,P_O][,wrap|sat]");
          acc_sim_inner = static_cast<int32_t>(parse_int(f, parts[0], 2, 32));
          acc_sim_outer = parts.size() == 2 ? static_cast<int32_t>(parse_int(f, parts[1], 2, 32)) : 32;
          if (acc_sim_outer < acc_sim_inner) throw UsageError(f + ": P_O must be at least P_I");
        });
}

void ModelFlags::require_model(const ArgParser& p) const {
  if (model_path.empty()) throw UsageError("missing -m MODEL (see 'axe " + p.command() + " --help')");
}

}  // namespace cli
