// Wall-clock seconds for the commands' timings and progress lines.
#pragma once
#include <chrono>

namespace cli {

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace cli
