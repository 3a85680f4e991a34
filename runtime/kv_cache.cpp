#include "runtime/kv_cache.h"

namespace axe {

KvCache::KvCache(size_t n_layers, size_t kv_dim, size_t n_ctx)
    : kv_dim_(kv_dim), n_ctx_(n_ctx), ld_((n_ctx + 15) / 16 * 16 + 16) {
  keys_.resize(kv_dim * n_layers * ld_);
  values_.resize(kv_dim * n_layers * ld_);
}

void KvCache::store(size_t layer, size_t pos0, size_t n, const float* k, const float* v) {
  float* kc = keys(layer);
  float* vc = values(layer);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < kv_dim_; ++j) {
      kc[j * ld_ + pos0 + i] = k[i * kv_dim_ + j];
      vc[j * ld_ + pos0 + i] = v[i * kv_dim_ + j];
    }
}

}  // namespace axe
