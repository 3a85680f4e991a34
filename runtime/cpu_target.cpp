#include "runtime/cpu_target.h"

#include <hwy/targets.h>

#include <cstdlib>

#include "runtime/error.h"

namespace axe {

const char* target_name(Target t) {
  switch (t) {
    case Target::kScalar: return "scalar";
    case Target::kAVX2: return "avx2";
    case Target::kAVX512: return "avx512";
    case Target::kAVX512VNNI: return "avx512-vnni";
  }
  return "?";
}

std::vector<Target> supported_targets() {
  const int64_t hw = hwy::SupportedTargets();
  std::vector<Target> out{Target::kScalar};
  if (hw & HWY_AVX2) out.push_back(Target::kAVX2);
  if (hw & HWY_AVX3) out.push_back(Target::kAVX512);
  if (hw & HWY_AVX3_DL) out.push_back(Target::kAVX512VNNI);
  return out;
}

Target choose_target(const std::string& request_in) {
  std::string request = request_in;
  if (request.empty() || request == "auto") {
    const char* env = std::getenv("AXE_TARGET");
    request = env && *env ? env : "auto";
  }
  const auto have = supported_targets();
  if (request == "auto") return have.back();
  for (Target t : {Target::kScalar, Target::kAVX2, Target::kAVX512, Target::kAVX512VNNI}) {
    if (request == target_name(t)) {
      for (Target h : have)
        if (h == t) return t;
      fail(AXE_ERR_UNSUPPORTED, "SIMD target '" + request + "' is not supported by this CPU");
    }
  }
  fail(AXE_ERR_INVALID_ARGUMENT,
       "unknown SIMD target '" + request + "' (expected auto, scalar, avx2, avx512 or avx512-vnni)");
}

}  // namespace axe
