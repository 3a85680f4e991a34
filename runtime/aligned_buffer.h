// 64-byte aligned storage (a cache line, one zmm register): the integer
// kernels' codes and the forward pass's activation rows. Vector loads of
// rows that straddle cache lines cost the fp32 GEMM about a third of its
// speed (docs/PERFORMANCE.md).
#pragma once
#include <cstddef>
#include <memory>
#include <new>

namespace axe {

// 64-byte aligned, zero-initialized storage.
template <typename T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t n) { resize(n); }
  void resize(size_t n) {
    if (n == size_) return;
    T* p = n ? static_cast<T*>(::operator new[](n * sizeof(T), std::align_val_t{64})) : nullptr;
    for (size_t i = 0; i < n; ++i) p[i] = T{};
    data_.reset(p);
    size_ = n;
  }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  struct Free {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t{64}); }
  };
  std::unique_ptr<T[], Free> data_;
  size_t size_ = 0;
};

}  // namespace axe
