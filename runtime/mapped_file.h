// A read-only memory-mapped file with bounds-checked access. Model files are
// hostile input: every read goes through `at`, which checks the range against
// the file length and names the file and the offset when it does not fit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "runtime/error.h"

namespace axe {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
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
};

}  // namespace axe
