// The integer kernels a test can force (AXE_INT8_KERNEL) on this CPU.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/kernels/int8_kernels.h"

namespace th {

// The names of the tiled kernels this CPU runs exactly for 4-bit weights
// under `plan` with 8-bit unsigned activations (probed on a layer-sized
// dummy), the int64 reference first.
inline std::vector<std::string> forceable_int8_kernels(const axe::AccumulationPlan& plan) {
  std::vector<std::string> out;
  const std::vector<int8_t> codes(64 * 64, 0);
  const std::vector<float> s(64, 1.0f);
  const axe::ActivationRange u8 = axe::ActivationRange::of(8, false);
  const axe::Int8Weights w = axe::pack_int8_weights(codes.data(), 64, 64, s.data(), 4, plan, u8);
  for (const char* name : {"reference-int64", "scalar-int32", "avx2-int32", "avx512-vnni-int32", "avx2-int16",
                           "avx512-int16"}) {
    const axe::Int8Kernel* k = axe::find_int8_kernel(name);
    REQUIRE(k);
    if (k->usable(w, u8)) out.push_back(name);
  }
  return out;
}

}  // namespace th
