#include "runtime/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "runtime/error.h"

namespace axe {

namespace {

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISLNK(m)) return "a symbolic link";
  return "not a regular file";
}

}  // namespace

int open_regular_file(const std::string& path, size_t* size) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(AXE_ERR_IO, path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const mode_t m = st.st_mode;
    ::close(fd);
    fail(AXE_ERR_IO, path + ": not a regular file (" + kind_of(m) + ")");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  if (size) *size = static_cast<size_t>(st.st_size);
  return fd;
}

std::string read_file_head(const std::string& path, size_t n) {
  size_t size = 0;
  const int fd = open_regular_file(path, &size);
  std::string out(std::min(n, size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t r = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (r <= 0) break;
    done += static_cast<size_t>(r);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

std::string read_small_file(const std::string& path, size_t max_bytes) {
  size_t size = 0;
  const int fd = open_regular_file(path, &size);
  ::close(fd);
  if (size > max_bytes)
    fail(AXE_ERR_FORMAT, path + ": " + std::to_string(size) + " bytes, more than the " + std::to_string(max_bytes) +
                             " such a file may have");
  std::string s = read_file_head(path, max_bytes);
  if (s.size() != size) fail(AXE_ERR_IO, path + ": short read");
  return s;
}

void check_output_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode))
      fail(AXE_ERR_IO, path + ": exists and is " + kind_of(st.st_mode) + "; refusing to replace it");
    return;
  }
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    fail(AXE_ERR_IO, path + ": cannot write: the folder '" + dir.string() + "' does not exist");
}

std::FILE* create_temporary_beside(const std::string& path, std::string* tmp) {
  check_output_path(path);
  *tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) fail(AXE_ERR_IO, path + ": cannot create its temporary file " + *tmp + ": " + std::strerror(errno));
  std::FILE* f = ::fdopen(fd, "wb");
  if (!f) {
    ::close(fd);
    std::remove(tmp->c_str());
    fail(AXE_ERR_IO, path + ": cannot open its temporary file " + *tmp);
  }
  return f;
}

int create_scratch_beside(const std::string& path) {
  check_output_path(path);
  const std::string tmp = path + ".scratch." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) fail(AXE_ERR_IO, path + ": cannot create the scratch file " + tmp + ": " + std::strerror(errno));
  ::unlink(tmp.c_str());
  return fd;
}

void commit_temporary(std::FILE* f, const std::string& tmp, const std::string& path, bool ok) {
  ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    fail(AXE_ERR_IO, path + ": cannot write: " + std::strerror(err));
  }
}

}  // namespace axe
