#include "runtime/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "runtime/file_io.h"

namespace axe {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

MappedFile::MappedFile(const std::string& path, Mode mode, size_t aligned_offset) : path_(path) {
  const int fd = open_regular_file(path, &size_);
  if (size_ == 0) {
    ::close(fd);
    return;
  }
  if (mode == Mode::kMap) {
    mapped_ = size_;
    void* p = ::mmap(nullptr, mapped_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail(AXE_ERR_IO, path + ": cannot map: " + std::strerror(err));
    }
    data_ = static_cast<const uint8_t*>(p);
    ::close(fd);
    return;
  }
  pad_ = (64 - aligned_offset % 64) % 64;
  mapped_ = (pad_ + size_ + kHugePage - 1) / kHugePage * kHugePage;
  void* p = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    ::close(fd);
    fail(AXE_ERR_OUT_OF_MEMORY, path + ": cannot allocate " + std::to_string(size_) + " bytes");
  }
  ::madvise(p, mapped_, MADV_HUGEPAGE);  // advice only: fine if refused
  uint8_t* dst = static_cast<uint8_t*>(p) + pad_;
  for (size_t done = 0; done < size_;) {
    const ssize_t n = ::pread(fd, dst + done, std::min<size_t>(size_ - done, size_t{1} << 30), static_cast<off_t>(done));
    if (n <= 0) {
      const int err = errno;
      ::munmap(p, mapped_);
      ::close(fd);
      fail(AXE_ERR_IO, path + ": read failed at offset " + std::to_string(done) + ": " +
                           (n == 0 ? "file shrank while reading" : std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  ::mprotect(p, mapped_, PROT_READ);
  data_ = dst;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_ - pad_), mapped_);
}

const uint8_t* MappedFile::at(size_t offset, size_t bytes, const char* what) const {
  if (offset > size_ || bytes > size_ - offset) {
    fail(AXE_ERR_FORMAT, path_ + ": truncated: " + what + " needs bytes [" + std::to_string(offset) + ", " +
                             std::to_string(offset) + "+" + std::to_string(bytes) + ") but the file has " +
                             std::to_string(size_) + " bytes");
  }
  return data_ + offset;
}

}  // namespace axe
