#include "runtime/cpu_target.h"

#include <hwy/targets.h>

#include <cstdlib>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

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

namespace {

CpuFeatures detect() {
  CpuFeatures f;
  const int64_t hw = hwy::SupportedTargets();
  f.avx2 = (hw & HWY_AVX2) != 0;
  f.avx512 = (hw & HWY_AVX3) != 0;
  f.avx512_vnni = (hw & HWY_AVX3_DL) != 0;
#if defined(__x86_64__)
  // CPUID leaf 7, sub-leaf 1: EAX bit 4 is AVX-VNNI. The OS's saving of the
  // ymm state is already part of Highway's AVX2 check.
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (f.avx2 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx_vnni = (a >> 4) & 1;
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

std::vector<Target> supported_targets() {
  const CpuFeatures& f = cpu_features();
  std::vector<Target> out{Target::kScalar};
  if (f.avx2) out.push_back(Target::kAVX2);
  if (f.avx512) out.push_back(Target::kAVX512);
  if (f.avx512_vnni) out.push_back(Target::kAVX512VNNI);
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
