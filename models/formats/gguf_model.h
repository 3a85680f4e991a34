// A Llama model from a GGUF file (llama.cpp's format; the container is
// models/formats/gguf.h): the llama.* hyper-parameters, the tensors by
// llama.cpp's names, and the tokenizer from tokenizer.ggml.* ("llama":
// SentencePiece scores, read as llama2.c's tokenizer; "gpt2": byte-level BPE,
// read by the tokenizer.json reader from the vocabulary, merges and the
// pre-tokenizer that tokenizer.ggml.pre names).
//
// F32 tensors are used in place, F16 and BF16 kept 16-bit (LinearHalf).
// Q8_0 and Q4_0 linear layers run natively on the groupwise kernels
// (LinearGroup: repacked at load, activations quantized per block of 32 as
// llama.cpp's are). Other types (Q4_1, Q5_0, the K-quants, ...) and integer
// embedding rows are dequantized to fp32 at load with llama.cpp's own
// arithmetic, and the log says so: the model computes what the file holds,
// at fp32's memory cost.
//
// GGUF's llama stores q and k for RoPE on adjacent pairs (its converter
// permutes Hugging Face's rows back), as llama2.c does.
#pragma once
#include <memory>
#include <string>

#include "models/llama/model.h"

namespace axe {

std::unique_ptr<LlamaModel> load_gguf(const std::string& path, bool use_mmap);

// Writes a float model as a GGUF file llama.cpp loads: the llama.* keys, the
// tensors by llama.cpp's names (q and k rows in its adjacent-pair order,
// permuted back from Hugging Face's when the model came from a folder), the
// SentencePiece vocabulary as tokenizer.ggml.* ("llama"), the chat template.
// Linear layers must be fp32 (AXE_ERR_UNSUPPORTED otherwise); atomic.
void write_gguf(const LlamaModel& model, const std::string& path);

// The tokenizer a GGUF file's tokenizer.ggml.* keys describe (path names it
// in errors); n_vocab is the model's vocabulary size.
class GgufFile;
std::unique_ptr<Tokenizer> gguf_tokenizer(const GgufFile& f, int32_t n_vocab);

// GGUF's tensor names (llama.cpp's) for the names in models/llama/arch.h
// (foreign_tensor_name: one table for every format).
std::string gguf_tensor_name(std::string_view what);
std::string gguf_tensor_name(size_t layer, std::string_view what);

}  // namespace axe
