// What this CPU has (detected once, for Highway's ops and the integer
// kernels alike), the SIMD targets axe runs on, and which one to use.
#pragma once
#include <string>
#include <vector>

namespace axe {

enum class Target { kScalar = 0, kAVX2 = 1, kAVX512 = 2, kAVX512VNNI = 3 };

// The instruction sets the runtime's code paths need. Highway's detection
// decides the Highway targets (so ops and kernels agree on them); AVX-VNNI
// (VEX-encoded vpdpbusd), which is no Highway 1.0 target, comes from CPUID.
struct CpuFeatures {
  bool avx2 = false;        // Highway's AVX2 target (AVX2, FMA, BMI2, F16C, ...)
  bool avx512 = false;      // Highway's AVX3 target (AVX-512 F, BW, DQ, VL)
  bool avx512_vnni = false; // Highway's AVX3_DL target (AVX-512 VNNI, VBMI2, ...)
  bool avx_vnni = false;    // AVX-VNNI, with avx2
};
// Detected on first use, then constant.
const CpuFeatures& cpu_features();

const char* target_name(Target t);
// Targets this CPU (and this build) can run, best last. Always has kScalar.
std::vector<Target> supported_targets();
// "auto"/empty picks the best (the AXE_TARGET environment variable overrides
// "auto"); otherwise the named target, or an axe::Error naming the request
// when it is unknown or unsupported here.
Target choose_target(const std::string& request);

}  // namespace axe
