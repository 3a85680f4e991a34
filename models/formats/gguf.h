// The GGUF container (llama.cpp's model file, versions 2 and 3) and the
// dequantizers of its block formats.
//
// A GGUF file is: "GGUF", a u32 version, a u64 tensor count and a u64
// metadata count; the metadata (key string, u32 value kind, value); the tensor
// infos (name string, u32 n_dims, n_dims u64 sizes with ne[0] the contiguous
// one, u32 ggml type, u64 offset into the data section); padding to
// `general.alignment` (32 when absent); the data section. Strings are a u64
// length then bytes; arrays a u32 element kind, a u64 count, the elements. All
// little-endian.
//
// Reading treats the file as hostile: every count is checked against the bytes
// left before anything is allocated for it (each entry needs a minimum number
// of bytes), every string and array against the file, arrays nest at most two
// deep, keys and tensor names are unique, shapes have at most 4 sizes whose
// product and byte size cannot overflow, a row holds whole blocks of a known
// type, and every tensor's data is aligned, inside the file and overlaps no
// other. Errors are one line naming the file and, where there is one, the
// offset. Tensor data is never read here: `Tensor::data` points into the
// mapping.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/mapped_file.h"

namespace axe {

// ggml's type numbers (ggml.h); 4, 5, 31-33 and 36-38 were removed from ggml.
// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
namespace GgufTokenType {
enum : int64_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
}

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
};

// "Q4_K", "BF16", ...; "type 99" for a number ggml does not define (that text
// lives in a per-thread buffer, valid until the next such call on the thread).
const char* ggml_type_name(GgmlType t);
// Elements per block (1 for F32, F16, BF16 and the integer types; 32 or 256
// for the block formats); 0 for an unknown type.
size_t ggml_block_size(GgmlType t);
// Bytes per block; 0 for an unknown type.
size_t ggml_block_bytes(GgmlType t);
// Whether ggml_dequantize handles `t`: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS.
bool ggml_can_dequantize(GgmlType t);
// Turns `n` elements of type `t` at `src` (n / block size whole blocks, any
// alignment) into floats at `out`, with the arithmetic of llama.cpp's
// dequantize_row_* (same operations in the same order, so the same floats).
// NaN or infinite scales give NaN or infinite outputs, nothing worse.
// AXE_ERR_UNSUPPORTED for a type it cannot dequantize, AXE_ERR_INVALID_ARGUMENT
// when n is not a multiple of the block size.
void ggml_dequantize(GgmlType t, const uint8_t* src, size_t n, float* out);

// The nearest Q8_0 form (llama.cpp's block_q8_0, axe's native 8-bit groupwise
// format) of `n` elements of type `t` at `src` (whole blocks, any alignment;
// n a multiple of 32): per group of 32 consecutive elements a scale
// (scales[n / 32]) and 32 codes in [-128, 127] (codes[n]), standing for the
// values float(code) * scale (dequantize_row_q8_0's arithmetic). `values`
// (n floats) receives ggml_dequantize's floats, the file's exact values.
// Returns whether the conversion is exact for type t, i.e. whether every
// float(code) * scale is the value ggml_dequantize gives (bit for bit; a NaN
// stays a NaN): the types whose values already are, per group of 32, one
// scale times integers of at most 8 bits:
//   Q8_0: d and the codes; Q4_0: d and nibble - 8; Q5_0: d and q - 16;
//   IQ4_NL: d and the table's value (-127..113);
//   Q3_K: d and (scale - 32) * q (sub-blocks of 16 share d; the product is
//     in [-124, 128], and a group holding 128 is stored as -d and the
//     negated codes, so any block fits);
//   IQ4_XS: d * (scale - 32) (an fp32 scale: exact, not always a half)
//     and the table's value; Q8_K: its fp32 d and the codes.
// Every other type ggml_dequantize handles (Q4_1, Q5_1 and the K-quants
// with a minimum, Q2_K, Q4_K, Q5_K, whose values are d * q - m; Q6_K, whose
// two sub-block scales of 16 in a group make codes up to 32 * 128; F32, F16,
// BF16) is requantized from `values` as llama.cpp's quantize_row_q8_0_ref
// does: amax = running MAX(amax, |x|), d = amax / 127, id = d != 0 ? 1 / d
// : 0, code = roundf(x * id), the scale d rounded to fp16 and widened (the
// rule of quantize_group_activations in runtime/kernels/group_types.h,
// including its defined answers where llama.cpp's float-to-int8 conversion
// would be undefined: code 0 for a NaN, clamped to [-127, 127] otherwise).
// Errors as ggml_dequantize, and AXE_ERR_INVALID_ARGUMENT when n is not a
// multiple of 32.
bool ggml_to_q8_0(GgmlType t, const uint8_t* src, size_t n, float* values, int8_t* codes, float* scales);

// One metadata value.
struct GgufValue {
  // GGUF's numbering of value kinds.
  enum class Kind : uint32_t { U8 = 0, I8, U16, I16, U32, I32, F32, Bool, String, Array, U64, I64, F64 };

  Kind kind = Kind::U8;
  // Scalars: U8/U16/U32/U64 in `u`, I8/I16/I32/I64 in `i`, Bool in `b`,
  // F32 (widened exactly) and F64 in `f`, String in `str`.
  uint64_t u = 0;
  int64_t i = 0;
  bool b = false;
  double f = 0;
  std::string str;

  // Arrays: the element kind and count, and the elements in one of three
  // forms. Numbers and bools stay as the file's little-endian bytes
  // (count × element size; a 128K-entry array is one copy), read with the
  // *_at accessors; strings are in `strings`; arrays (of scalars or strings:
  // arrays nest two deep at most) in `items`.
  Kind elem = Kind::U8;
  uint64_t count = 0;
  std::vector<uint8_t> raw;
  std::vector<std::string> strings;
  std::vector<GgufValue> items;

  bool is_array() const { return kind == Kind::Array; }
  // Scalar integer kinds (not Bool).
  bool is_integer() const;
  // The value of an integer scalar when it fits; nullopt for other kinds or
  // values out of range (a negative for to_uint, > INT64_MAX for to_int).
  std::optional<uint64_t> to_uint() const;
  std::optional<int64_t> to_int() const;
  // Element j (< count) of an array of numbers or bools: as a double (any
  // numeric kind; integers above 2^53 round), as int64 / uint64 (integer
  // kinds; nullopt when it does not fit).
  double number_at(size_t j) const;
  std::optional<int64_t> int_at(size_t j) const;
  std::optional<uint64_t> uint_at(size_t j) const;

  // "u32", "str", "arr[i32]", "arr[arr[str]]": for messages.
  std::string type_name() const;
  static const char* kind_name(Kind k);  // "u8" ... "f64", "kind 99" for an unknown number
  static size_t kind_size(Kind k);       // bytes of a scalar of kind k; 0 for String, Array, unknown
};

class GgufFile {
 public:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;  // ggml order: ne[0] is the contiguous (row) length; n_dims sizes as stored
    GgmlType type = GgmlType::F32;
    uint64_t offset = 0;       // from the start of the data section
    const uint8_t* data = nullptr;
    uint64_t bytes = 0;
    uint64_t n_elements() const;  // product of ne (1 for no dimensions)
    uint64_t row_elements() const { return ne.empty() ? 1 : ne[0]; }
    uint64_t n_rows() const;      // n_elements / row_elements (0 when a size is 0)
    std::string shape_string() const;  // "[64, 512]"
  };

  GgufFile(const std::string& path, MappedFile::Mode mode);
  GgufFile(GgufFile&&) = default;
  GgufFile& operator=(GgufFile&&) = default;

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }     // general.alignment or 32
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section

  // Metadata in file order, and lookups. The getters fail (AXE_ERR_FORMAT,
  // "<path>: metadata '<key>' is missing" / "... is <kind>, expected ...")
  // when the key is absent or of another kind; the integer getters take any
  // integer kind whose value fits; get_float takes F32 and F64. The find_*
  // variants return nullopt when the key is absent (and fail the same way
  // when it is present with another kind).
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  bool has(const std::string& key) const { return kv_index_.count(key) != 0; }
  const GgufValue* find(const std::string& key) const;
  uint64_t get_uint(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  std::optional<uint64_t> find_uint(const std::string& key) const;
  std::optional<int64_t> find_int(const std::string& key) const;
  std::optional<double> find_float(const std::string& key) const;
  std::optional<bool> find_bool(const std::string& key) const;
  std::optional<std::string> find_string(const std::string& key) const;
  // Arrays: of strings; of F32/F64 (as floats); of any integer kind whose
  // every element fits in int64.
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  std::vector<float> get_float_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;

  const std::vector<Tensor>& tensors() const { return tensors_; }  // in file order
  const Tensor* tensor(const std::string& name) const;           // null if absent

 private:
  const GgufValue& get(const std::string& key) const;
  [[noreturn]] void wrong_kind(const std::string& key, const GgufValue& v, const char* expected) const;

  std::unique_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace axe
