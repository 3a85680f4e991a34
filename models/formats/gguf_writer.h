// Writes GGUF files (version 3), the container models/formats/gguf.h reads:
// metadata in insertion order, tensor infos, the data section aligned to
// general.alignment (32), every tensor's data aligned too. Written to a
// temporary file beside the path and renamed over it only when complete.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/formats/gguf.h"

namespace axe {

class GgufWriter {
 public:
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_f32s(const std::string& key, const std::vector<float>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  // A tensor of `type` with sizes ne (ggml order: ne[0] is the row length);
  // `data` holds exactly its bytes and must stay valid until write() returns.
  void add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, const void* data, uint64_t bytes);
  void write(const std::string& path) const;

 private:
  void key(const std::string& k, GgufValue::Kind kind);
  std::string kv_;  // the encoded metadata entries
  uint64_t n_kv_ = 0;
  struct Entry {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> ne;
    const void* data;
    uint64_t bytes;
  };
  std::vector<Entry> tensors_;
};

}  // namespace axe
