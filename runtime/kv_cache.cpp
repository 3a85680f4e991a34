#include "runtime/kv_cache.h"

#include <algorithm>

#include <sys/mman.h>

#include "runtime/error.h"
#include "runtime/parallel.h"

namespace axe {

namespace {

size_t padded(size_t n_ctx) { return (n_ctx + 15) / 16 * 16 + 16; }

float* map_zeros(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) fail(AXE_ERR_OUT_OF_MEMORY, "cannot map a KV cache of " + std::to_string(bytes) + " bytes");
  return static_cast<float*>(p);
}

}  // namespace

void KvCache::Unmap::operator()(float* p) const {
  if (p) ::munmap(p, bytes);
}

uint64_t KvCache::bytes(size_t n_layers, size_t kv_dim, size_t n_ctx) {
  return 2 * uint64_t{4} * n_layers * kv_dim * padded(n_ctx);
}

KvCache::KvCache(size_t n_layers, size_t kv_dim, size_t n_ctx)
    : kv_dim_(kv_dim),
      n_ctx_(n_ctx),
      ld_(padded(n_ctx)),
      keys_(map_zeros(bytes(n_layers, kv_dim, n_ctx) / 2), Unmap{bytes(n_layers, kv_dim, n_ctx) / 2}),
      values_(map_zeros(bytes(n_layers, kv_dim, n_ctx) / 2), Unmap{bytes(n_layers, kv_dim, n_ctx) / 2}) {}

void KvCache::store(size_t layer, size_t pos0, size_t n, const float* k, const float* v, bool parallel) {
  float* kc = keys(layer);
  float* vc = values(layer);
  // A transpose in blocks of tokens: each cache row receives a contiguous run
  // of positions while the block's rows stay in cache. In prefill this is a
  // few percent of the pass, so rows go to threads (a copy: the bytes do not
  // depend on the split).
  constexpr size_t kBlock = 32;
  parallel_rows(kv_dim_, 16, parallel && n >= kBlock, [&](size_t j0, size_t j1) {
    for (size_t i0 = 0; i0 < n; i0 += kBlock) {
      const size_t i1 = std::min(n, i0 + kBlock);
      for (size_t j = j0; j < j1; ++j) {
        float* krow = kc + j * ld_ + pos0;
        float* vrow = vc + j * ld_ + pos0;
        for (size_t i = i0; i < i1; ++i) {
          krow[i] = k[i * kv_dim_ + j];
          vrow[i] = v[i * kv_dim_ + j];
        }
      }
    }
  });
}

}  // namespace axe
