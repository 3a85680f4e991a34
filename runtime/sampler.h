// Token sampling: greedy, or temperature with optional top-k and top-p, from
// a seeded generator whose sequence is fixed by the seed on every platform.
#pragma once
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace axe {

struct SamplerConfig {
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerConfig& config);
  int32_t sample(const float* logits, int32_t n_vocab);

 private:
  double uniform();  // [0, 1) from the top 53 bits of the generator
  SamplerConfig config_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

}  // namespace axe
