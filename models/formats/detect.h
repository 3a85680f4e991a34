// Which reader a model file needs, decided by what it starts with (and a
// .axe name), never by trying one reader and falling back to another: a
// damaged .axe is reported as a damaged .axe, not as a strange llama2.c file.
#pragma once
#include <string>

namespace axe {

enum class ModelFileKind {
  kLlama2c,  // llama2.c: the v1 magic "ak42", or the legacy header (no magic)
  kAxe,      // safetensors: a .axe name, or an 8-byte header length then '{'
  kGguf,     // llama.cpp's GGUF: the magic "GGUF"
};

// Reads the first bytes of the regular file at `path` (AXE_ERR_IO otherwise).
ModelFileKind detect_model_file(const std::string& path);

}  // namespace axe
