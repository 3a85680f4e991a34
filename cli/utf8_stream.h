// Streams bytes to a FILE without ever splitting a UTF-8 character: bytes of
// an incomplete trailing sequence are held until the rest arrives.
#pragma once
#include <cstdio>
#include <string>
#include <string_view>

namespace cli {

class Utf8Stream {
 public:
  explicit Utf8Stream(std::FILE* out) : out_(out) {}
  void write(std::string_view bytes);
  void flush();  // writes whatever is held, complete or not

 private:
  std::FILE* out_;
  std::string held_;
};

// Length of the complete prefix of `s` (the tail that starts an unfinished
// UTF-8 sequence is excluded).
size_t utf8_complete_prefix(std::string_view s);

}  // namespace cli
