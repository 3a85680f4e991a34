// A loaded Llama model: configuration, weights (behind the Linear interface)
// and tokenizer. Immutable after loading; shared by contexts.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/llama/config.h"
#include "runtime/linear.h"
#include "runtime/mapped_file.h"
#include "models/safetensors.h"
#include "runtime/tokenizer.h"

namespace axe {

struct LlamaLayer {
  const float* rms_att = nullptr;  // [dim]
  const float* rms_ffn = nullptr;  // [dim]
  std::unique_ptr<Linear> wq, wk, wv, wo, w1, w2, w3;
};

struct LlamaModel {
  LlamaConfig config;
  std::string path;
  std::string format;  // "llama2c-legacy", "llama2c-v1", "axe"
  std::unique_ptr<MappedFile> file;             // llama2.c files
  std::unique_ptr<SafetensorsFile> tensors;     // .axe files
  std::string quantization;  // e.g. "W4A8" for .axe files, empty for fp32
  const float* embedding = nullptr;  // [vocab][dim]
  const float* rms_final = nullptr;  // [dim]
  std::vector<LlamaLayer> layers;
  std::unique_ptr<Linear> classifier;  // [vocab][dim]
  std::unique_ptr<Tokenizer> tokenizer;

  uint64_t n_params() const;
  uint64_t weight_bytes() const;
};

// Loads a llama2.c checkpoint (legacy or v1) and its tokenizer. When
// `tokenizer_path` is empty, uses tokenizer.bin or the single tok*.bin beside
// the model. `use_mmap` keeps the weights in the page cache (MappedFile).
std::unique_ptr<LlamaModel> load_llama2c(const std::string& path, const std::string& tokenizer_path, bool use_mmap);

}  // namespace axe
