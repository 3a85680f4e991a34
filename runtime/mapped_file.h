// A read-only file image in memory with bounds-checked access. Model files
// are hostile input: every read goes through `at`, which checks the range
// against the file length and names the file and the offset when it does not
// fit. Two ways in: a shared read-only mapping of the page cache (zero copy),
// or a private copy in anonymous memory advised for transparent huge pages,
// which streams weights markedly faster (fewer TLB misses; see
// docs/PERFORMANCE.md) at the cost of reading the file once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "runtime/error.h"

namespace axe {

class MappedFile {
 public:
  enum class Mode { kMap, kHugePageCopy };
  // With kHugePageCopy, the copy is placed so that file offset
  // `aligned_offset` lands on a 64-byte boundary: a format whose tensors sit
  // at a fixed distance from one (llama2.c's 28-byte header) gets its rows
  // cache-line aligned, which the fp32 GEMM's vector loads need to run at
  // full speed (docs/PERFORMANCE.md). A mapping is page-aligned as it is.
  explicit MappedFile(const std::string& path, Mode mode = Mode::kMap, size_t aligned_offset = 0);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  size_t size() const { return size_; }
  // Pointer to bytes [offset, offset + bytes), or an AXE_ERR_FORMAT error
  // naming `what` when that range is not inside the file.
  const uint8_t* at(size_t offset, size_t bytes, const char* what) const;
  template <typename T>
  T read(size_t offset, const char* what) const {
    T v;
    std::memcpy(&v, at(offset, sizeof(T), what), sizeof(T));
    return v;
  }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;  // bytes mapped at data_ - pad_
  size_t pad_ = 0;
};

}  // namespace axe
