// The key/value cache of one sequence, stored transposed for the attention
// op (runtime/ops/ops.h): component j of the key at position p of layer l
// sits at keys(l)[j * ld() + p], likewise the values. The row stride is the
// context padded off powers of two, so the head_dim rows read together do not
// all map to the same cache sets.
#pragma once
#include <cstddef>
#include <vector>

namespace axe {

class KvCache {
 public:
  KvCache(size_t n_layers, size_t kv_dim, size_t n_ctx);
  size_t n_ctx() const { return n_ctx_; }
  size_t ld() const { return ld_; }
  float* keys(size_t layer) { return keys_.data() + layer * ld_ * kv_dim_; }
  float* values(size_t layer) { return values_.data() + layer * ld_ * kv_dim_; }
  // Writes n positions from pos0 on: k and v rows of kv_dim (row stride kv_dim).
  void store(size_t layer, size_t pos0, size_t n, const float* k, const float* v);

 private:
  size_t kv_dim_, n_ctx_, ld_;
  std::vector<float> keys_, values_;  // [layer][kv_dim][ld]
};

}  // namespace axe
