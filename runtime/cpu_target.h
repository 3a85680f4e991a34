// The SIMD targets axe runs on, what this CPU supports, and which one to use.
#pragma once
#include <string>
#include <vector>

namespace axe {

enum class Target { kScalar = 0, kAVX2 = 1, kAVX512 = 2, kAVX512VNNI = 3 };

const char* target_name(Target t);
// Targets this CPU (and this build) can run, best last. Always has kScalar.
std::vector<Target> supported_targets();
// "auto"/empty picks the best (the AXE_TARGET environment variable overrides
// "auto"); otherwise the named target, or an axe::Error naming the request
// when it is unknown or unsupported here.
Target choose_target(const std::string& request);

}  // namespace axe
