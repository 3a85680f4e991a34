// Sampling: greedy is argmax, a seed fixes the sequence, top-k and top-p cut.
#include <doctest/doctest.h>

#include <set>

#include "runtime/sampler.h"

TEST_CASE("sampler: greedy, seeded determinism, top-k and top-p") {
  std::vector<float> logits{0.1f, 2.0f, 1.9f, -1.0f, 0.5f, 1.95f};
  axe::SamplerConfig greedy;
  greedy.temperature = 0;
  CHECK(axe::Sampler(greedy).sample(logits.data(), 6) == 1);

  axe::SamplerConfig c;
  c.temperature = 1.0f;
  c.top_k = 0;
  c.top_p = 1.0f;
  c.seed = 1234;
  axe::Sampler a(c), b(c);
  std::vector<int32_t> sa, sb;
  std::set<int32_t> seen;
  for (int i = 0; i < 200; ++i) {
    sa.push_back(a.sample(logits.data(), 6));
    sb.push_back(b.sample(logits.data(), 6));
    seen.insert(sa.back());
  }
  CHECK(sa == sb);
  CHECK(seen.size() >= 4);  // an untruncated distribution reaches most tokens

  c.top_k = 2;
  axe::Sampler k2(c);
  for (int i = 0; i < 100; ++i) {
    const int32_t t = k2.sample(logits.data(), 6);
    CHECK((t == 1 || t == 5));
  }
  c.top_k = 0;
  c.top_p = 0.3f;  // the best token alone holds more than 30%
  axe::Sampler p(c);
  for (int i = 0; i < 50; ++i) CHECK(p.sample(logits.data(), 6) == 1);

  c.top_p = 1.0f;
  c.seed = 99;
  axe::Sampler other(c);
  std::vector<int32_t> so;
  for (int i = 0; i < 200; ++i) so.push_back(other.sample(logits.data(), 6));
  CHECK(so != sa);
}
