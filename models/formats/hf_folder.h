// Reads a Hugging Face model folder (LlamaForCausalLM / MistralForCausalLM):
// config.json, the weights in model.safetensors or in the shards that
// model.safetensors.index.json names, tokenizer.json (with
// tokenizer_config.json), and generation_config.json's stop ids.
//
// Weights are used where they lie in the mapped shards: F32 as fp32, F16 and
// BF16 kept 16-bit (LinearHalf, widened inside the kernels); norm gains are
// widened to fp32 copies. q and k stay in Hugging Face's order, and the
// config says so (rope_halves: RoPE rotates element j with j + head_dim/2,
// as rotate_half does). Every file is hostile input: each field, shape,
// dtype, offset and index entry is checked and errors name the file.
#pragma once
#include <memory>
#include <string>

#include "models/llama/model.h"

namespace axe {

// Whether `path` is a folder (a model folder is read by load_hf_folder).
bool is_model_folder(const std::string& path);

std::unique_ptr<LlamaModel> load_hf_folder(const std::string& dir, bool use_mmap);

// Hugging Face's tensor names of the model's weights (foreign_tensor_name,
// models/llama/arch.h: one table for every format). `what` is one of the
// names there (kTensorEmbedding, a block's linear "attention.wq", ...).
std::string hf_tensor_name(std::string_view what);                 // not per block
std::string hf_tensor_name(size_t layer, std::string_view what);   // per block

}  // namespace axe
