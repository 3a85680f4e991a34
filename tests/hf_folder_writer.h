// Writes Hugging Face model folders for tests and tools, standalone (the
// standard library and hand-written JSON only, no axe code), so that what the
// loader (models/formats/hf_folder.cpp) reads is checked against an
// independent writer:
//   config.json, tokenizer.json, tokenizer_config.json, generation_config.json
//   model.safetensors, or N shards model-0000i-of-0000N.safetensors with
//   model.safetensors.index.json (its weight_map)
// Tensors are F32, F16 or BF16 (any other dtype as raw bytes, for tests of
// bad folders). The safetensors format: an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}} padded with
// spaces to a multiple of 8 bytes, then the data. Tensor data is produced
// lazily, one tensor at a time, so a multi-gigabyte model is streamed.
//
// llama2c_folder() converts a legacy llama2.c checkpoint into a
// LlamaForCausalLM folder the way transformers' convert_llama_weights_to_hf.py
// does: the rows of q_proj and k_proj are permuted per head from llama2.c's
// adjacent RoPE pairs (2j, 2j+1) to rotate_half's halves (j, j + head_dim/2),
// so the folder is the same model.
#pragma once
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hfw {

// ---- Number conversions -------------------------------------------------

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// float -> bfloat16, rounding to nearest even (NaNs stay quiet NaNs).
inline uint16_t f32_to_bf16(float f) {
  uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}
inline float bf16_to_f32(uint16_t h) { return bits_float(uint32_t{h} << 16); }

// float -> IEEE binary16, rounding to nearest even, with subnormals;
// overflow gives infinity, NaNs stay quiet NaNs.
inline uint16_t f32_to_f16(float f) {
  const uint32_t x = float_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  // 65520 = 65504 + half an ulp: the tie rounds to the even neighbour, 2^16.
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (ax >= 0x38800000u) {  // >= 2^-14: a normal half
    uint32_t m = ax - (112u << 23);  // rebias the exponent (127 -> 15)
    m += 0xfffu + ((m >> 13) & 1u);  // a carry into the exponent is right
    return static_cast<uint16_t>(sign | (m >> 13));
  }
  if (ax <= 0x33000000u) return static_cast<uint16_t>(sign);  // <= 2^-25 (the tie) rounds to zero
  // A subnormal half: the value in units of 2^-24, rounded to nearest even.
  const uint32_t e = ax >> 23;  // 102..112
  const uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - e;  // 14..24
  uint32_t r = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (r & 1u))) ++r;  // 0x400 is the smallest normal: right too
  return static_cast<uint16_t>(sign | r);
}
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return bits_float(sign | 0x7f800000u | (m << 13));
  if (e != 0) return bits_float(sign | ((e + 112u) << 23) | (m << 13));
  const float v = static_cast<float>(m) * (1.0f / 16777216.0f);  // m * 2^-24, exact
  return sign ? -v : v;
}

enum class DType { kF32, kF16, kBF16 };
inline const char* dtype_name(DType t) { return t == DType::kF32 ? "F32" : t == DType::kF16 ? "F16" : "BF16"; }
inline const char* torch_dtype(DType t) {
  return t == DType::kF32 ? "float32" : t == DType::kF16 ? "float16" : "bfloat16";
}
inline bool parse_dtype(const std::string& s, DType* t) {
  if (s == "f32" || s == "F32" || s == "float32") *t = DType::kF32;
  else if (s == "f16" || s == "F16" || s == "float16") *t = DType::kF16;
  else if (s == "bf16" || s == "BF16" || s == "bfloat16") *t = DType::kBF16;
  else return false;
  return true;
}
inline size_t dtype_bytes(DType t) { return t == DType::kF32 ? 4 : 2; }

// n floats as little-endian bytes of dtype t.
inline std::vector<uint8_t> encode(const float* v, size_t n, DType t) {
  std::vector<uint8_t> out(n * dtype_bytes(t));
  if (t == DType::kF32) {
    std::memcpy(out.data(), v, n * 4);
  } else {
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = t == DType::kF16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
      out[2 * i] = static_cast<uint8_t>(h & 0xff);
      out[2 * i + 1] = static_cast<uint8_t>(h >> 8);
    }
  }
  return out;
}

// ---- JSON text ----------------------------------------------------------

inline std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o + "\"";
}

// A double that reads back exactly and always as a JSON float ("10000.0").
inline std::string json_number(double v) {
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {  // integral: "500000.0"
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  // Shortest form that reads back the same.
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v) {
      s = buf;
      break;
    }
  }
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

// ---- Tensors and safetensors files --------------------------------------

struct Tensor {
  std::string name;
  std::string dtype;  // the safetensors dtype: "F32", "F16", "BF16", or any for bad files
  std::vector<uint64_t> shape;
  uint64_t nbytes = 0;
  std::function<std::vector<uint8_t>()> bytes;  // produces exactly nbytes
};

inline uint64_t numel(const std::vector<uint64_t>& shape) {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

// A tensor of float values stored as dtype t.
inline Tensor tensor(const std::string& name, std::vector<uint64_t> shape, const std::vector<float>& values,
                     DType t) {
  if (values.size() != numel(shape)) throw std::runtime_error(name + ": values do not match the shape");
  auto data = std::make_shared<std::vector<uint8_t>>(encode(values.data(), values.size(), t));
  return Tensor{name, dtype_name(t), std::move(shape), data->size(), [data] { return *data; }};
}

// A tensor of raw little-endian bytes with any dtype name.
inline Tensor raw_tensor(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape,
                         std::vector<uint8_t> bytes) {
  auto data = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  return Tensor{name, dtype, std::move(shape), data->size(), [data] { return *data; }};
}

// 16-bit raw values (F16 or BF16 bits) as a tensor.
inline Tensor half_tensor(const std::string& name, DType t, std::vector<uint64_t> shape,
                          const std::vector<uint16_t>& bits) {
  std::vector<uint8_t> b(bits.size() * 2);
  for (size_t i = 0; i < bits.size(); ++i) {
    b[2 * i] = static_cast<uint8_t>(bits[i] & 0xff);
    b[2 * i + 1] = static_cast<uint8_t>(bits[i] >> 8);
  }
  return raw_tensor(name, dtype_name(t), std::move(shape), std::move(b));
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// The JSON header of a safetensors file holding `tensors` in this order,
// padded with spaces so that the data starts at a multiple of 8 bytes.
inline std::string safetensors_header(const std::vector<const Tensor*>& tensors) {
  std::string h = "{\"__metadata__\":{\"format\":\"pt\"}";
  uint64_t off = 0;
  for (const Tensor* t : tensors) {
    h += ',';
    h += json_string(t->name);
    h += ":{\"dtype\":";
    h += json_string(t->dtype);
    h += ",\"shape\":[";
    for (size_t i = 0; i < t->shape.size(); ++i) {
      if (i) h += ',';
      h += std::to_string(t->shape[i]);
    }
    h += "],\"data_offsets\":[";
    h += std::to_string(off);
    h += ',';
    h += std::to_string(off + t->nbytes);
    h += "]}";
    off += t->nbytes;
  }
  h += "}";
  while (h.size() % 8) h += ' ';
  return h;
}

// Writes a safetensors file, each tensor's bytes produced in turn.
inline void write_safetensors(const std::string& path, const std::vector<const Tensor*>& tensors) {
  const std::string header = safetensors_header(tensors);
  File f(std::fopen(path.c_str(), "wb"));
  if (!f) throw std::runtime_error(path + ": cannot create");
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f.get()) == 8 && std::fwrite(header.data(), 1, header.size(), f.get()) == header.size();
  for (const Tensor* t : tensors) {
    if (!ok) break;
    const std::vector<uint8_t> b = t->bytes();
    if (b.size() != t->nbytes) throw std::runtime_error(path + ": tensor '" + t->name + "' produced the wrong size");
    ok = std::fwrite(b.data(), 1, b.size(), f.get()) == b.size();
  }
  ok = std::fclose(f.release()) == 0 && ok;
  if (!ok) throw std::runtime_error(path + ": write failed");
}
inline void write_safetensors(const std::string& path, const std::vector<Tensor>& tensors) {
  std::vector<const Tensor*> p;
  for (const Tensor& t : tensors) p.push_back(&t);
  write_safetensors(path, p);
}

inline void write_text(const std::string& path, const std::string& text) {
  File f(std::fopen(path.c_str(), "wb"));
  if (!f) throw std::runtime_error(path + ": cannot create");
  bool ok = std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
  ok = std::fclose(f.release()) == 0 && ok;
  if (!ok) throw std::runtime_error(path + ": write failed");
}

inline std::string read_text(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::string s;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) s.append(buf, n);
  if (std::ferror(f.get())) throw std::runtime_error(path + ": read failed");
  return s;
}

// The name of shard i (1-based) of n, as transformers names them.
inline std::string shard_name(int i, int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", i, n);
  return buf;
}

// model.safetensors.index.json: metadata.total_size and the weight_map.
inline std::string index_json(uint64_t total_size, const std::vector<std::pair<std::string, std::string>>& weight_map) {
  std::string s = "{\n  \"metadata\": {\n    \"total_size\": " + std::to_string(total_size) + "\n  },\n  \"weight_map\": {";
  for (size_t i = 0; i < weight_map.size(); ++i)
    s += std::string(i ? "," : "") + "\n    " + json_string(weight_map[i].first) + ": " + json_string(weight_map[i].second);
  return s + "\n  }\n}\n";
}

// ---- config.json --------------------------------------------------------

struct Config {
  std::string architecture = "LlamaForCausalLM";
  std::string model_type = "llama";
  int64_t hidden_size = 0, intermediate_size = 0, num_hidden_layers = 0, num_attention_heads = 0,
          num_key_value_heads = 0, vocab_size = 0;
  int64_t max_position_embeddings = 2048;
  int64_t head_dim = 0;  // 0: not written (hidden_size / num_attention_heads)
  double rms_norm_eps = 1e-5, rope_theta = 10000.0;
  std::string rope_scaling = "null";  // raw JSON: null or an object
  bool tie_word_embeddings = true;
  bool attention_bias = false;
  std::string torch_dtype = "float32";
  int64_t bos_token_id = 1, eos_token_id = 2;  // < 0: not written
  std::string extra;  // raw JSON members appended ("\"key\": value, ...")
};

inline std::string llama3_rope_scaling(double factor, double low_freq_factor, double high_freq_factor,
                                       int64_t original_max_position_embeddings) {
  return "{\"factor\": " + json_number(factor) + ", \"low_freq_factor\": " + json_number(low_freq_factor) +
         ", \"high_freq_factor\": " + json_number(high_freq_factor) +
         ", \"original_max_position_embeddings\": " + std::to_string(original_max_position_embeddings) +
         ", \"rope_type\": \"llama3\"}";
}

inline std::string config_json(const Config& c) {
  std::string s = "{\n";
  auto add = [&](const std::string& key, const std::string& raw) { s += "  " + json_string(key) + ": " + raw + ",\n"; };
  add("architectures", "[" + json_string(c.architecture) + "]");
  add("model_type", json_string(c.model_type));
  add("attention_bias", c.attention_bias ? "true" : "false");
  add("attention_dropout", "0.0");
  if (c.bos_token_id >= 0) add("bos_token_id", std::to_string(c.bos_token_id));
  if (c.eos_token_id >= 0) add("eos_token_id", std::to_string(c.eos_token_id));
  if (c.head_dim > 0) add("head_dim", std::to_string(c.head_dim));
  add("hidden_act", "\"silu\"");
  add("hidden_size", std::to_string(c.hidden_size));
  add("initializer_range", "0.02");
  add("intermediate_size", std::to_string(c.intermediate_size));
  add("max_position_embeddings", std::to_string(c.max_position_embeddings));
  add("mlp_bias", "false");
  add("num_attention_heads", std::to_string(c.num_attention_heads));
  add("num_hidden_layers", std::to_string(c.num_hidden_layers));
  add("num_key_value_heads", std::to_string(c.num_key_value_heads));
  add("pretraining_tp", "1");
  add("rms_norm_eps", json_number(c.rms_norm_eps));
  add("rope_scaling", c.rope_scaling);
  add("rope_theta", json_number(c.rope_theta));
  add("tie_word_embeddings", c.tie_word_embeddings ? "true" : "false");
  add("torch_dtype", json_string(c.torch_dtype));
  if (!c.extra.empty()) s += "  " + c.extra + ",\n";
  s += "  \"use_cache\": true,\n";
  add("vocab_size", std::to_string(c.vocab_size));
  s.erase(s.size() - 2);  // the last ",\n"
  return s + "\n}\n";
}

// ---- Folders ------------------------------------------------------------

struct Folder {
  std::string config_json;
  std::string tokenizer_json;         // "": no tokenizer.json
  std::string tokenizer_config_json;  // "": no tokenizer_config.json
  std::string generation_config_json; // "": no generation_config.json
  std::vector<Tensor> tensors;        // in file order
  int shards = 1;                     // 1: model.safetensors; N > 1: N shards and the index
};

// Splits the tensors into n contiguous groups of about equal bytes (each
// group non-empty when there are at least n tensors).
inline std::vector<std::vector<const Tensor*>> split_shards(const std::vector<Tensor>& tensors, int n) {
  if (n < 1) throw std::runtime_error("shards must be at least 1");
  if (static_cast<size_t>(n) > tensors.size()) throw std::runtime_error("more shards than tensors");
  uint64_t total = 0;
  for (const Tensor& t : tensors) total += t.nbytes;
  std::vector<std::vector<const Tensor*>> out(n);
  uint64_t before = 0;
  size_t s = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    // Move to the next shard when this one has its share, keeping enough
    // tensors for the shards after it.
    const size_t left = tensors.size() - i, shards_after = n - 1 - s;
    if (s + 1 < static_cast<size_t>(n) && !out[s].empty() &&
        (before >= total * (s + 1) / n || left <= shards_after))
      ++s;
    out[s].push_back(&tensors[i]);
    before += tensors[i].nbytes;
  }
  return out;
}

// Writes the folder's files into `dir` (created if needed).
inline void write_folder_files(const std::string& dir, const Folder& f) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const fs::path d(dir);
  write_text((d / "config.json").string(), f.config_json);
  if (!f.tokenizer_json.empty()) write_text((d / "tokenizer.json").string(), f.tokenizer_json);
  if (!f.tokenizer_config_json.empty()) write_text((d / "tokenizer_config.json").string(), f.tokenizer_config_json);
  if (!f.generation_config_json.empty())
    write_text((d / "generation_config.json").string(), f.generation_config_json);
  if (f.shards == 1) {
    write_safetensors((d / "model.safetensors").string(), f.tensors);
    return;
  }
  const auto groups = split_shards(f.tensors, f.shards);
  std::vector<std::pair<std::string, std::string>> map;
  uint64_t total = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::string name = shard_name(static_cast<int>(i + 1), f.shards);
    write_safetensors((d / name).string(), groups[i]);
    for (const Tensor* t : groups[i]) {
      map.emplace_back(t->name, name);
      total += t->nbytes;
    }
  }
  write_text((d / "model.safetensors.index.json").string(), index_json(total, map));
}

// Writes the folder to a temporary folder beside `dir` and renames it into
// place: a failed run leaves no half-written folder. An existing folder at
// `dir` is replaced; anything else there is refused.
inline void write_folder(const std::string& dir, const Folder& f) {
  namespace fs = std::filesystem;
  fs::path target = fs::absolute(fs::path(dir));
  if (!target.has_filename()) target = target.parent_path();  // "out/"
  std::error_code ec;
  const auto st = fs::symlink_status(target, ec);
  const bool exists = fs::exists(st);
  if (exists && !fs::is_directory(st))
    throw std::runtime_error(target.string() + " exists and is not a folder; refusing to replace it");
  const std::string stem = target.filename().string();
  const fs::path tmp = target.parent_path() / ("." + stem + ".tmp-" + std::to_string(::getpid()));
  const fs::path old = target.parent_path() / ("." + stem + ".old-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  try {
    write_folder_files(tmp.string(), f);
    if (exists) {
      fs::remove_all(old, ec);
      fs::rename(target, old);
      fs::rename(tmp, target);
      fs::remove_all(old, ec);
    } else {
      fs::rename(tmp, target);
    }
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

// ---- llama2.c checkpoints -------------------------------------------------

struct Llama2cShape {
  int32_t dim = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, vocab = 0, seq = 0;
  bool shared = true;  // classifier = embedding (positive vocab in the header)
  int64_t head_dim() const { return dim / heads; }
  int64_t kv_dim() const { return head_dim() * kv_heads; }
};

// Row r of a head in Hugging Face's order comes from this row of llama2.c's:
// HF row j < hd/2 takes row 2j, HF row hd/2 + j takes row 2j + 1 (the
// inverse of convert_llama_weights_to_hf.py's permute, which it undoes).
inline size_t llama2c_row_for_hf_row(size_t r, size_t head_dim) {
  const size_t h = r / head_dim, i = r % head_dim, half = head_dim / 2;
  return h * head_dim + (i < half ? 2 * i : 2 * (i - half) + 1);
}

// q or k of one layer ([heads * hd][cols], llama2.c order) in HF's order.
inline std::vector<float> permute_rope_rows(const std::vector<float>& w, size_t rows, size_t cols, size_t head_dim) {
  std::vector<float> out(w.size());
  for (size_t r = 0; r < rows; ++r)
    std::memcpy(&out[r * cols], &w[llama2c_row_for_hf_row(r, head_dim) * cols], cols * sizeof(float));
  return out;
}

// The folder of a legacy llama2.c checkpoint: its weights under Hugging
// Face's names in dtype t, q/k rows permuted for rotate_half, config.json
// from the header (rms_norm_eps 1e-5 and rope_theta 10000, as llama2.c runs),
// the tokenizer files given as bytes. Tensor data is read from the file
// when written.
inline Folder llama2c_folder(const std::string& path, DType t, int shards, const std::string& tokenizer_json,
                             const std::string& tokenizer_config_json, Llama2cShape* shape_out = nullptr) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) throw std::runtime_error(path + ": cannot open");
  int32_t h[7];
  if (std::fread(h, 4, 7, f.get()) != 7) throw std::runtime_error(path + ": shorter than the header");
  Llama2cShape s;
  s.dim = h[0], s.hidden = h[1], s.layers = h[2], s.heads = h[3], s.kv_heads = h[4], s.vocab = std::abs(h[5]),
  s.seq = h[6];
  s.shared = h[5] > 0;
  if (s.dim <= 0 || s.hidden <= 0 || s.layers <= 0 || s.heads <= 0 || s.kv_heads <= 0 || s.vocab <= 0 || s.seq <= 0 ||
      s.dim % s.heads || s.heads % s.kv_heads || (s.dim / s.heads) % 2)
    throw std::runtime_error(path + ": not a legacy llama2.c checkpoint (inconsistent header)");
  if (shape_out) *shape_out = s;
  const uint64_t D = s.dim, H = s.hidden, L = s.layers, V = s.vocab, HD = s.head_dim(), KV = s.kv_dim();

  // Offsets (in floats after the header) of each array, as llama2.c lays them out.
  uint64_t at = 0;
  auto take = [&](uint64_t n) {
    const uint64_t o = at;
    at += n;
    return o;
  };
  const uint64_t o_emb = take(V * D), o_rms_att = take(L * D), o_wq = take(L * D * D), o_wk = take(L * KV * D),
                 o_wv = take(L * KV * D), o_wo = take(L * D * D), o_rms_ffn = take(L * D), o_w1 = take(L * H * D),
                 o_w2 = take(L * D * H), o_w3 = take(L * H * D), o_rms_final = take(D);
  take(uint64_t(s.seq) * HD);  // freq_cis (seq * head_size/2 cos and as many sin): unused
  const uint64_t o_cls = s.shared ? 0 : take(V * D);
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec || size < 28 + 4 * at)
    throw std::runtime_error(path + ": truncated (" + std::to_string(size) + " bytes, the header implies " +
                             std::to_string(28 + 4 * at) + ")");

  auto file = std::make_shared<File>(std::move(f));
  const std::string p = path;
  // A tensor read at `offset` floats, rows permuted for RoPE when head_dim > 0.
  auto from_file = [&](const std::string& name, std::vector<uint64_t> shape, uint64_t offset, uint64_t rope_hd) {
    const uint64_t n = numel(shape);
    const uint64_t rows = shape[0], cols = shape.size() > 1 ? shape[1] : 1;
    auto produce = [file, p, offset, n, rows, cols, rope_hd, t]() {
      std::vector<float> v(n);
      if (std::fseek(file->get(), static_cast<long>(28 + 4 * offset), SEEK_SET) != 0 ||
          std::fread(v.data(), 4, n, file->get()) != n)
        throw std::runtime_error(p + ": read failed");
      if (rope_hd) v = permute_rope_rows(v, rows, cols, rope_hd);
      return encode(v.data(), n, t);
    };
    return Tensor{name, dtype_name(t), std::move(shape), n * dtype_bytes(t), produce};
  };

  Folder out;
  out.tokenizer_json = tokenizer_json;
  out.tokenizer_config_json = tokenizer_config_json;
  out.shards = shards;
  out.tensors.push_back(from_file("model.embed_tokens.weight", {V, D}, o_emb, 0));
  for (uint64_t l = 0; l < L; ++l) {
    const std::string pre = "model.layers." + std::to_string(l) + ".";
    out.tensors.push_back(from_file(pre + "input_layernorm.weight", {D}, o_rms_att + l * D, 0));
    out.tensors.push_back(from_file(pre + "self_attn.q_proj.weight", {D, D}, o_wq + l * D * D, HD));
    out.tensors.push_back(from_file(pre + "self_attn.k_proj.weight", {KV, D}, o_wk + l * KV * D, HD));
    out.tensors.push_back(from_file(pre + "self_attn.v_proj.weight", {KV, D}, o_wv + l * KV * D, 0));
    out.tensors.push_back(from_file(pre + "self_attn.o_proj.weight", {D, D}, o_wo + l * D * D, 0));
    out.tensors.push_back(from_file(pre + "post_attention_layernorm.weight", {D}, o_rms_ffn + l * D, 0));
    out.tensors.push_back(from_file(pre + "mlp.gate_proj.weight", {H, D}, o_w1 + l * H * D, 0));
    out.tensors.push_back(from_file(pre + "mlp.up_proj.weight", {H, D}, o_w3 + l * H * D, 0));
    out.tensors.push_back(from_file(pre + "mlp.down_proj.weight", {D, H}, o_w2 + l * D * H, 0));
  }
  out.tensors.push_back(from_file("model.norm.weight", {D}, o_rms_final, 0));
  if (!s.shared) out.tensors.push_back(from_file("lm_head.weight", {V, D}, o_cls, 0));

  Config c;
  c.hidden_size = D;
  c.intermediate_size = H;
  c.num_hidden_layers = L;
  c.num_attention_heads = s.heads;
  c.num_key_value_heads = s.kv_heads;
  c.vocab_size = V;
  c.max_position_embeddings = s.seq;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = s.shared;
  c.torch_dtype = torch_dtype(t);
  if (V <= 2) c.bos_token_id = c.eos_token_id = -1;
  out.config_json = config_json(c);
  if (V > 2) out.generation_config_json = "{\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2\n}\n";
  return out;
}

}  // namespace hfw
