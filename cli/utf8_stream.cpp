#include "utf8_stream.h"

namespace cli {

size_t utf8_complete_prefix(std::string_view s) {
  // Look back at most 3 bytes for the lead byte of the last sequence.
  for (size_t back = 1; back <= 4 && back <= s.size(); ++back) {
    const unsigned char c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    size_t need = 1;
    if ((c & 0xE0) == 0xC0) need = 2;
    else if ((c & 0xF0) == 0xE0) need = 3;
    else if ((c & 0xF8) == 0xF0) need = 4;
    return back < need ? s.size() - back : s.size();
  }
  return s.size();  // only continuation bytes: nothing to wait for
}

void Utf8Stream::write(std::string_view bytes) {
  held_.append(bytes);
  const size_t n = utf8_complete_prefix(held_);
  if (n) {
    std::fwrite(held_.data(), 1, n, out_);
    std::fflush(out_);
    held_.erase(0, n);
  }
}

void Utf8Stream::flush() {
  if (!held_.empty()) std::fwrite(held_.data(), 1, held_.size(), out_);
  held_.clear();
  std::fflush(out_);
}

}  // namespace cli
