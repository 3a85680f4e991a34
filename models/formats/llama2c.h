// Reads llama2.c checkpoints (legacy and v1 headers) with their tokenizer.
#pragma once
#include <memory>
#include <string>

#include "models/llama/model.h"

namespace axe {

// Loads a llama2.c checkpoint (legacy or v1) and its tokenizer. When
// `tokenizer_path` is empty, uses tokenizer.bin or the single tok*.bin beside
// the model. `use_mmap` keeps the weights in the page cache (MappedFile).
std::unique_ptr<LlamaModel> load_llama2c(const std::string& path, const std::string& tokenizer_path, bool use_mmap);

}  // namespace axe
