// The input is the `config` and `plan` JSON strings of a .axe header,
// separated by the first NUL byte (no NUL: the whole input is both), fed to
// axe::config_from_json and axe::plan_from_json. axe::Error is the expected
// failure; anything else escaping is a finding. A parsed value must survive
// to_json -> from_json unchanged.
#include <nlohmann/json.hpp>

#include "fuzz_common.h"
#include "models/formats/axe.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  const std::string config = nul == std::string::npos ? all : all.substr(0, nul);
  const std::string plan = nul == std::string::npos ? all : all.substr(nul + 1);
  try {
    const axe::LlamaConfig c = axe::config_from_json(config, "fuzz");
    const std::string again = axe::config_to_json(c).dump();
    const axe::LlamaConfig c2 = axe::config_from_json(again, "fuzz round trip");
    if (axe::config_to_json(c2).dump() != again) {
      std::fprintf(stderr, "config round trip differs: %s\n", again.c_str());
      std::abort();
    }
  } catch (const axe::Error&) {
  }
  try {
    const axe::QuantFormat q = axe::plan_from_json(plan, "fuzz");
    const std::string again = axe::plan_to_json(q).dump();
    const axe::QuantFormat q2 = axe::plan_from_json(again, "fuzz round trip");
    if (axe::plan_to_json(q2).dump() != again) {
      std::fprintf(stderr, "plan round trip differs: %s\n", again.c_str());
      std::abort();
    }
  } catch (const axe::Error&) {
  }
  return 0;
}
