#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

namespace axe {

Sampler::Sampler(const SamplerConfig& config) : config_(config), rng_(config.seed) {}

double Sampler::uniform() { return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0); }

int32_t Sampler::sample(const float* logits, int32_t n_vocab) {
  if (config_.temperature <= 0.0f) return static_cast<int32_t>(std::max_element(logits, logits + n_vocab) - logits);

  // Candidates by descending logit (ties: lower id first); top-k keeps the k best.
  candidates_.resize(n_vocab);
  for (int32_t i = 0; i < n_vocab; ++i) candidates_[i] = {logits[i], i};
  auto better = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t keep = static_cast<size_t>(n_vocab);
  if (config_.top_k > 0 && static_cast<size_t>(config_.top_k) < keep) keep = config_.top_k;
  std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), better);
  candidates_.resize(keep);

  // Softmax with temperature, in double.
  std::vector<double> p(keep);
  const double mx = candidates_[0].first;
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) sum += p[i] = std::exp((candidates_[i].first - mx) / config_.temperature);
  for (double& v : p) v /= sum;

  // Top-p: the smallest prefix whose mass reaches top_p.
  if (config_.top_p < 1.0f) {
    double cum = 0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cum += p[i];
      if (cum >= config_.top_p) {
        cut = i + 1;
        break;
      }
    }
    p.resize(cut);
    double s = 0;
    for (double v : p) s += v;
    for (double& v : p) v /= s;
  }

  const double r = uniform();
  double cum = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    cum += p[i];
    if (r < cum) return candidates_[i].second;
  }
  return candidates_[p.size() - 1].second;
}

}  // namespace axe
