#include "args.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace cli {

ArgParser::ArgParser(std::string command, std::string usage, std::string summary)
    : command_(std::move(command)), usage_(std::move(usage)), summary_(std::move(summary)) {}

void ArgParser::add(std::vector<std::string> names, std::string metavar, std::string help,
                    std::function<void(const std::string&, const std::string&)> set) {
  flags_.push_back({std::move(names), std::move(metavar), std::move(help), std::move(set)});
}

void ArgParser::add_switch(std::vector<std::string> names, std::string help, std::function<void()> set) {
  flags_.push_back({std::move(names), "", std::move(help), [set](const std::string&, const std::string&) { set(); }});
}

bool ArgParser::parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    std::string inline_value;
    bool has_inline = false;
    if (arg.rfind("--", 0) == 0) {
      const size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline = true;
      }
    }
    const Flag* flag = nullptr;
    for (const Flag& f : flags_)
      for (const std::string& n : f.names)
        if (n == arg) flag = &f;
    if (!flag) throw UsageError("unknown argument '" + arg + "' (see 'axe " + command_ + " --help')");
    if (flag->metavar.empty()) {
      if (has_inline) throw UsageError(arg + " takes no value");
      flag->set(arg, "");
      continue;
    }
    std::string value;
    if (has_inline) value = inline_value;
    else if (i + 1 < argc) value = argv[++i];
    else throw UsageError(arg + " needs a value " + flag->metavar);
    flag->set(arg, value);
  }
  return true;
}

std::string ArgParser::help() const {
  std::ostringstream out;
  out << "usage: axe " << command_ << " " << usage_ << "\n\n" << summary_ << "\n\noptions:\n";
  for (const Flag& f : flags_) {
    std::string names;
    for (const auto& n : f.names) names += (names.empty() ? "" : ", ") + n;
    if (!f.metavar.empty()) names += " " + f.metavar;
    out << "  " << names;
    out << std::string(names.size() < 26 ? 26 - names.size() : 1, ' ') << f.help << "\n";
  }
  out << "  -h, --help                show this help\n";
  return out.str();
}

int64_t parse_int(const std::string& flag, const std::string& value, int64_t lo, int64_t hi) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno == ERANGE)
    throw UsageError("invalid value '" + value + "' for " + flag + ": expected an integer");
  if (v < lo || v > hi)
    throw UsageError("value " + value + " for " + flag + " is out of range [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
  return v;
}

double parse_float(const std::string& flag, const std::string& value, double lo, double hi) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
    throw UsageError("invalid value '" + value + "' for " + flag + ": expected a number");
  if (v < lo || v > hi)
    throw UsageError("value " + value + " for " + flag + " is out of range [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
  return v;
}

std::vector<int64_t> parse_int_list(const std::string& flag, const std::string& value, int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (true) {
    const size_t comma = value.find(',', start);
    out.push_back(parse_int(flag, value.substr(start, comma - start), lo, hi));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string read_file(const std::string& path, size_t max_bytes) {
  // Regular files only (a FIFO would block, /dev/zero never ends, a
  // directory is no text), and no more than max_bytes.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error(path + ": not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    throw std::runtime_error(path + ": " + std::to_string(st.st_size) + " bytes, more than the " +
                             std::to_string(max_bytes) + " a text input may have");
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error(path + ": read error at offset " + std::to_string(done) + ": " +
                               (n == 0 ? "the file shrank" : std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw std::runtime_error(path + ": exists and is not a regular file; refusing to replace it");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    // Exclusively: never through a planted link or over an existing file.
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
    size_t done = 0;
    while (done < contents.size()) {
      const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    const bool ok = done == contents.size() && ::fsync(fd) == 0;
    if (::close(fd) != 0 || !ok) {
      std::remove(tmp.c_str());
      throw std::runtime_error(path + ": write error");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename into place: " + std::strerror(err));
  }
}

}  // namespace cli
