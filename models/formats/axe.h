// The .axe file, in one module: its schema (docs/FORMAT.md), the reader that
// builds a model from it, the writer the quantizer uses and the header
// checks both `axe verify` and the loader use. It is a quantized Llama model
// in a safetensors container: tensor names from models/llama/arch.h; linear
// layers stored as integer codes plus per-row scales; __metadata__ holding
// the model config, the quantization settings, the accumulation plan and a
// per-layer certificate, each as a JSON string.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "models/formats/safetensors.h"
#include "models/llama/model.h"
#include "models/quant_format.h"
#include "runtime/kernels/accumulation_plan.h"

namespace axe {

// ---- schema ------------------------------------------------------------
constexpr const char* kAxeFormat = "axe-llama";
constexpr int kAxeFormatVersion = 1;
// __metadata__ keys.
inline constexpr const char* kAxeMetaFormat = "format";
inline constexpr const char* kAxeMetaVersion = "version";
inline constexpr const char* kAxeMetaConfig = "config";
inline constexpr const char* kAxeMetaPlan = "plan";
inline constexpr const char* kAxeMetaQuantization = "quantization";
inline constexpr const char* kAxeMetaCertificate = "certificate";
// Optional: {"kind": "hadamard", "seed": S} when every linear layer's input
// is rotated (models/llama/rotation.h); the codes are of the rotated weights.
inline constexpr const char* kAxeMetaRotation = "rotation";
// Optional: {"kind": "tokenizer.json", "settings": "<tokenizer_config.json>"}
// when the embedded tokenizer is not a llama2.c one.
inline constexpr const char* kAxeMetaTokenizer = "tokenizer";
// Optional: {"template": "<Jinja source>", "stop_ids": [ids]} from the
// model's folder (when absent: no template, and EOS ends a turn).
inline constexpr const char* kAxeMetaChat = "chat";
// Tensors beside the architecture's: a linear layer's "<name>.codes" and
// "<name>.scales", and the embedded llama2.c tokenizer.
inline constexpr const char* kAxeTensorTokenizer = "tokenizer";
std::string axe_codes_name(const std::string& linear);
std::string axe_scales_name(const std::string& linear);

nlohmann::json config_to_json(const LlamaConfig& c);
LlamaConfig config_from_json(const std::string& text, const std::string& source);
nlohmann::json plan_to_json(const QuantFormat& q);
QuantFormat plan_from_json(const std::string& text, const std::string& source);

// Stored codes (docs/FORMAT.md): I8 [rows, cols], or for M <= 4 bits U8
// [rows, ceil(cols / 2)], column 2j in the low nibble and 2j + 1 in the high
// nibble, each stored as code + 8. encode is the exact inverse of decode.
struct StoredCodes {
  std::string dtype;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};
StoredCodes encode_axe_codes(const std::vector<int8_t>& q, size_t rows, size_t cols, int bits);
std::string axe_codes_dtype(int bits);
std::vector<uint64_t> axe_codes_shape(uint64_t rows, uint64_t cols, int bits);
// A linear layer's scales: F32 [rows] per row, or [rows, ceil(cols / group)]
// for a groupwise format.
std::vector<uint64_t> axe_scales_shape(uint64_t rows, uint64_t cols, const QuantFormat& q);

// ---- reading -------------------------------------------------------------
// An open .axe file whose header is checked: the container, the format name
// and version, the config and the plan. Tensor accessors check dtype, shape,
// alignment and (for codes) every code's range, naming the file and tensor.
class AxeFile {
 public:
  AxeFile(const std::string& path, MappedFile::Mode mode);
  const std::string& path() const { return file_->path(); }
  const SafetensorsFile& container() const { return *file_; }
  std::shared_ptr<const SafetensorsFile> shared_container() const { return file_; }
  const LlamaConfig& config() const { return config_; }
  const QuantFormat& format() const { return format_; }
  // The seed of the file's Hadamard rotation, if it has one.
  const std::optional<uint64_t>& rotation_seed() const { return rotation_seed_; }
  std::string meta(const std::string& key) const { return file_->meta(key); }

  const float* f32(const std::string& name, const std::vector<uint64_t>& shape) const;
  // The codes of linear layer i of block `layer` (checked for dtype, shape
  // and range with the layer's own bits), unpacked into int8 [rows][cols].
  std::vector<int8_t> codes(size_t layer, size_t i) const;
  // Per row [rows], or [rows][groups] for a groupwise format.
  const float* scales(size_t layer, size_t i) const;
  // A quantized classifier (the linear layer kClassifierLinear) and 8-bit
  // embedding rows, when the file has them.
  bool quantized_classifier() const { return quantized_classifier_; }
  std::vector<int8_t> classifier_codes() const;
  const float* classifier_scales() const;
  bool compact_embedding() const { return compact_embedding_; }
  const int8_t* embedding_codes() const;  // [vocab][dim], each in [-127, 127]
  const float* embedding_scales() const;  // [vocab], finite and >= 0
  std::string_view tokenizer_bytes() const;
  // The embedded tokenizer's kind and settings (make_tokenizer), the chat
  // template and the stop ids (empty when the file has none).
  const std::string& tokenizer_kind() const { return tokenizer_kind_; }
  const std::string& tokenizer_settings() const { return tokenizer_settings_; }
  const std::string& chat_template() const { return chat_template_; }
  const std::vector<int32_t>& stop_ids() const { return stop_ids_; }

  // The certificate as stored (read strictly: every field typed and known).
  struct StoredCertificate {
    double worst_inner_use = 0, worst_outer_use = 0;
    bool plan_holds = false;
  };
  const StoredCertificate& certificate() const { return certificate_; }

 private:
  void read_certificate(const std::set<std::string>& linears);
  std::shared_ptr<const SafetensorsFile> file_;
  LlamaConfig config_;
  QuantFormat format_;
  std::optional<uint64_t> rotation_seed_;
  std::string tokenizer_kind_ = "llama2c", tokenizer_settings_, chat_template_;
  std::vector<int32_t> stop_ids_;
  bool quantized_classifier_ = false, compact_embedding_ = false;
  StoredCertificate certificate_;
};

std::unique_ptr<LlamaModel> load_axe(const std::string& path, bool use_mmap);

// The 8-bit rows of an fp32 embedding table [rows][cols]: per row
// scale = max |x| / 127 and code = round(x / scale) (0 for an all-zero row).
void encode_embedding_rows(const float* table, size_t rows, size_t cols, std::vector<int8_t>& codes,
                           std::vector<float>& scales);

// ---- writing -------------------------------------------------------------
// The certificate's totals over every layer.
struct AxeCertificate {
  size_t layers = 0;
  uint64_t inner_violations = 0, outer_violations = 0;
  double worst_inner_use = 0, worst_outer_use = 0;
};

// Builds the .axe file of a quantized float model at `path`. Each linear
// layer is checked against its plan and encoded as soon as it is added, and
// its stored bytes wait in a scratch file beside `path` (create_scratch_beside:
// a 1.1B model's 4-bit codes are 0.5 GB) until write(); the float tensors
// are borrowed from `source`, which must outlive write().
class AxeWriter {
 public:
  // compact_embedding: store the embedding as 8-bit rows with one scale each
  // (symmetric, scale = max |row| / 127) instead of fp32.
  AxeWriter(const LlamaModel& source, const std::string& path, bool compact_embedding = false);
  ~AxeWriter();
  AxeWriter(const AxeWriter&) = delete;
  AxeWriter& operator=(const AxeWriter&) = delete;
  // The layer's codes [rows][cols] and scales (axe_scales_shape) under its
  // own format; returns the plan check of its integers.
  const PlanCheck& add_linear(const std::string& name, const std::vector<int8_t>& codes, size_t rows,
                              std::vector<float> scales, const QuantFormat& layer_format);
  // Writes atomically: the tensors in the architecture's order, the plan
  // `format`, the `settings` (how the codes were made) and the certificate.
  AxeCertificate write(const QuantFormat& format, const nlohmann::json& settings);

 private:
  struct Layer {
    std::string codes_dtype;
    std::vector<uint64_t> codes_shape, scales_shape;
    uint64_t rows = 0;
    PlanCheck check;
    uint64_t codes_at = 0, codes_bytes = 0, scales_at = 0, scales_bytes = 0;  // in the scratch file
  };
  // Appends bytes to the scratch file; their offset.
  uint64_t spill(const void* data, uint64_t bytes);
  const LlamaModel& source_;
  std::string path_;
  bool compact_embedding_;
  int spill_fd_ = -1;
  uint64_t spill_end_ = 0;
  std::map<std::string, Layer> layers_;
};

}  // namespace axe
