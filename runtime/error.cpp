#include "runtime/error.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace axe {
namespace {
std::mutex g_log_mutex;
axe_log_callback g_log_callback = nullptr;
void* g_log_user = nullptr;
}  // namespace

void log(axe_log_level level, const std::string& message) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  if (g_log_callback) {
    g_log_callback(level, message.c_str(), g_log_user);
  } else if (level >= AXE_LOG_WARN) {
    std::fprintf(stderr, "axe: %s\n", message.c_str());
  }
}

}  // namespace axe

extern "C" {

AXE_API void axe_set_log_callback(axe_log_callback callback, void* user_data) {
  std::lock_guard<std::mutex> lock(axe::g_log_mutex);
  axe::g_log_callback = callback;
  axe::g_log_user = user_data;
}

AXE_API const char* axe_status_string(axe_status status) {
  switch (status) {
    case AXE_OK: return "AXE_OK";
    case AXE_ERR_INVALID_ARGUMENT: return "AXE_ERR_INVALID_ARGUMENT";
    case AXE_ERR_IO: return "AXE_ERR_IO";
    case AXE_ERR_FORMAT: return "AXE_ERR_FORMAT";
    case AXE_ERR_OUT_OF_MEMORY: return "AXE_ERR_OUT_OF_MEMORY";
    case AXE_ERR_BUFFER_TOO_SMALL: return "AXE_ERR_BUFFER_TOO_SMALL";
    case AXE_ERR_ABORTED: return "AXE_ERR_ABORTED";
    case AXE_ERR_CONTEXT_FULL: return "AXE_ERR_CONTEXT_FULL";
    case AXE_ERR_UNSUPPORTED: return "AXE_ERR_UNSUPPORTED";
    case AXE_ERR_INTERNAL: return "AXE_ERR_INTERNAL";
    case AXE_ERR_NUMERIC: return "AXE_ERR_NUMERIC";
  }
  return "AXE_ERR_UNKNOWN";
}

AXE_API const char* axe_version(void) { return AXE_VERSION_STRING; }

}  // extern "C"
