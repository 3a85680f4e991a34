// Internal errors and logging. Library code throws axe::Error; the C API
// boundary (api/*.cpp) turns it into an axe_status and a message, so
// no exception ever crosses into C.
#pragma once
#include <stdexcept>
#include <string>

#include "axe/axe.h"

namespace axe {

class Error : public std::runtime_error {
 public:
  Error(axe_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  axe_status status() const { return status_; }

 private:
  axe_status status_;
};

[[noreturn]] inline void fail(axe_status status, const std::string& message) { throw Error(status, message); }

void log(axe_log_level level, const std::string& message);

// A value from a file, as an error message quotes it: at most `max` bytes
// (a hostile file's 1 MB field is not echoed whole), with "..." when cut.
inline std::string excerpt(const std::string& s, size_t max = 64) {
  return s.size() <= max ? s : s.substr(0, max) + "...";
}

}  // namespace axe
