#include "models/formats/gguf_writer.h"


#include <cstdio>
#include <cstring>

#include "runtime/error.h"
#include "runtime/file_io.h"

namespace axe {
namespace {

constexpr uint64_t kAlignment = 32;

template <typename T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

}  // namespace

void GgufWriter::key(const std::string& k, GgufValue::Kind kind) {
  put_string(kv_, k);
  put<uint32_t>(kv_, static_cast<uint32_t>(kind));
  ++n_kv_;
}

void GgufWriter::set_u32(const std::string& k, uint32_t v) { key(k, GgufValue::Kind::U32), put(kv_, v); }
void GgufWriter::set_i32(const std::string& k, int32_t v) { key(k, GgufValue::Kind::I32), put(kv_, v); }
void GgufWriter::set_u64(const std::string& k, uint64_t v) { key(k, GgufValue::Kind::U64), put(kv_, v); }
void GgufWriter::set_f32(const std::string& k, float v) { key(k, GgufValue::Kind::F32), put(kv_, v); }
void GgufWriter::set_bool(const std::string& k, bool v) { key(k, GgufValue::Kind::Bool), put<uint8_t>(kv_, v ? 1 : 0); }
void GgufWriter::set_string(const std::string& k, const std::string& v) {
  key(k, GgufValue::Kind::String);
  put_string(kv_, v);
}
void GgufWriter::set_strings(const std::string& k, const std::vector<std::string>& v) {
  key(k, GgufValue::Kind::Array);
  put<uint32_t>(kv_, static_cast<uint32_t>(GgufValue::Kind::String));
  put<uint64_t>(kv_, v.size());
  for (const std::string& s : v) put_string(kv_, s);
}
void GgufWriter::set_f32s(const std::string& k, const std::vector<float>& v) {
  key(k, GgufValue::Kind::Array);
  put<uint32_t>(kv_, static_cast<uint32_t>(GgufValue::Kind::F32));
  put<uint64_t>(kv_, v.size());
  for (float x : v) put(kv_, x);
}
void GgufWriter::set_i32s(const std::string& k, const std::vector<int32_t>& v) {
  key(k, GgufValue::Kind::Array);
  put<uint32_t>(kv_, static_cast<uint32_t>(GgufValue::Kind::I32));
  put<uint64_t>(kv_, v.size());
  for (int32_t x : v) put(kv_, x);
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, const void* data,
                            uint64_t bytes) {
  const size_t bs = ggml_block_size(type), bb = ggml_block_bytes(type);
  uint64_t n = 1;
  for (uint64_t d : ne) n *= d;
  if (!bs || ne.empty() || ne.size() > 4 || ne[0] % bs != 0 || n / bs * bb != bytes)
    fail(AXE_ERR_INTERNAL, "GGUF writer: tensor '" + name + "' of " + ggml_type_name(type) + " has " +
                               std::to_string(bytes) + " bytes for its shape");
  tensors_.push_back({name, type, std::move(ne), data, bytes});
}

void GgufWriter::write(const std::string& path) const {
  std::string head = "GGUF";
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, n_kv_);
  head += kv_;
  std::vector<uint64_t> offsets;
  uint64_t offset = 0;
  for (const Entry& e : tensors_) {
    put_string(head, e.name);
    put<uint32_t>(head, static_cast<uint32_t>(e.ne.size()));
    for (uint64_t d : e.ne) put<uint64_t>(head, d);
    put<uint32_t>(head, static_cast<uint32_t>(e.type));
    put<uint64_t>(head, offset);
    offsets.push_back(offset);
    offset = (offset + e.bytes + kAlignment - 1) / kAlignment * kAlignment;
  }
  head.append((kAlignment - head.size() % kAlignment) % kAlignment, '\0');
  std::string tmp;
  std::FILE* f = create_temporary_beside(path, &tmp);
  bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size();
  static const char zeros[kAlignment] = {};
  uint64_t pos = 0;
  for (size_t i = 0; ok && i < tensors_.size(); ++i) {
    ok = std::fwrite(zeros, 1, offsets[i] - pos, f) == offsets[i] - pos;
    ok = ok && std::fwrite(tensors_[i].data, 1, tensors_[i].bytes, f) == tensors_[i].bytes;
    pos = offsets[i] + tensors_[i].bytes;
  }
  ok = ok && std::fwrite(zeros, 1, offset - pos, f) == offset - pos;  // pad the last tensor, as ggml does
  commit_temporary(f, tmp, path, ok);
}

}  // namespace axe
