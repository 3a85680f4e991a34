// A small declarative flag parser: llama.cpp-style names, --help, and a
// one-line error with exit status 2 for unknown flags and bad values.
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ArgParser {
 public:
  ArgParser(std::string command, std::string usage, std::string summary);
  // A flag with a value, e.g. add({"-n", "--n-predict"}, "N", "tokens to generate", ...).
  void add(std::vector<std::string> names, std::string metavar, std::string help,
           std::function<void(const std::string& flag, const std::string& value)> set);
  void add_switch(std::vector<std::string> names, std::string help, std::function<void()> set);
  // Parses argv[first..argc). Returns false when --help was printed.
  bool parse(int argc, char** argv, int first);
  std::string help() const;
  const std::string& command() const { return command_; }

 private:
  struct Flag {
    std::vector<std::string> names;
    std::string metavar, help;
    std::function<void(const std::string&, const std::string&)> set;
  };
  std::string command_, usage_, summary_;
  std::vector<Flag> flags_;
};

int64_t parse_int(const std::string& flag, const std::string& value, int64_t lo, int64_t hi);
double parse_float(const std::string& flag, const std::string& value, double lo, double hi);
std::vector<int64_t> parse_int_list(const std::string& flag, const std::string& value, int64_t lo, int64_t hi);
// The whole regular file at `path` (at most max_bytes); throws
// std::runtime_error naming the file.
std::string read_file(const std::string& path, size_t max_bytes = size_t{1} << 30);
// Writes path + ".tmp" and renames it over path: readers never see half a file.
void write_file_atomic(const std::string& path, const std::string& contents);

}  // namespace cli
