// The key/value cache of one sequence, stored transposed for the attention
// op (runtime/ops/ops.h): component j of the key at position p of layer l
// sits at keys(l)[j * ld() + p], likewise the values. The row stride is the
// context padded off powers of two, so the head_dim rows read together do not
// all map to the same cache sets.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace axe {

class KvCache {
 public:
  KvCache(size_t n_layers, size_t kv_dim, size_t n_ctx);
  size_t n_ctx() const { return n_ctx_; }
  size_t ld() const { return ld_; }
  float* keys(size_t layer) { return keys_.get() + layer * ld_ * kv_dim_; }
  float* values(size_t layer) { return values_.get() + layer * ld_ * kv_dim_; }
  // Writes n positions from pos0 on: k and v rows of kv_dim (row stride kv_dim);
  // with parallel, cache rows are split over the current arena's threads.
  void store(size_t layer, size_t pos0, size_t n, const float* k, const float* v, bool parallel = false);
  // What a cache of this shape takes: keys and values.
  static uint64_t bytes(size_t n_layers, size_t kv_dim, size_t n_ctx);

 private:
  struct Unmap {
    size_t bytes;
    void operator()(float* p) const;
  };
  size_t kv_dim_, n_ctx_, ld_;
  // [layer][kv_dim][ld] each, zero pages mapped on demand: a context costs
  // memory for the positions it uses, not for the whole n_ctx up front.
  std::unique_ptr<float, Unmap> keys_, values_;
};

}  // namespace axe
