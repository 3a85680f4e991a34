#include "models/formats/detect.h"

#include <cstdint>
#include <cstring>

#include "runtime/file_io.h"

namespace axe {

ModelFileKind detect_model_file(const std::string& path) {
  const std::string head = read_file_head(path, 16);
  if (path.size() > 4 && path.compare(path.size() - 4, 4, ".axe") == 0) return ModelFileKind::kAxe;
  if (head.size() >= 4 && std::memcmp(head.data(), "GGUF", 4) == 0) return ModelFileKind::kGguf;
  if (head.size() >= 4 && std::memcmp(head.data(), "24ka", 4) == 0) return ModelFileKind::kLlama2c;  // 0x616b3432 LE
  if (head.size() >= 10) {
    // safetensors: u64 header length, then the JSON object. A legacy
    // llama2.c header has dim and hidden_dim there (a length of at least
    // 2^32), and its byte 8 would be the low byte of n_layers.
    uint64_t len;
    std::memcpy(&len, head.data(), 8);
    const bool json_start = head[8] == '{' && (head[9] == '"' || head[9] == '}' || head[9] == ' ');
    if (json_start || (len < (uint64_t{1} << 32) && (head[8] == '{' || head[8] == ' ' || head[8] == '\xEF')))
      return ModelFileKind::kAxe;
  }
  return ModelFileKind::kLlama2c;
}

}  // namespace axe
