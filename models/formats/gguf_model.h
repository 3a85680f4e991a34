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
// llama.cpp's are).
//
// Linear layers (the 7 of each block and the classifier, output.weight or
// the tied token_embd.weight) of every other type ggml_dequantize reads
// (Q4_1, Q5_0, Q5_1, Q2_K ... Q6_K, Q8_K, IQ4_NL, IQ4_XS) are converted at
// load to Q8_0 and run as the Q8_0 ones do (ggml_to_q8_0 in gguf.h; a row
// at a time, so no fp32 copy of a tensor is ever held). Q8_0 is the nearest
// native format: 255 levels per 32 values, a finer grid than any of these
// types' (2- to 6-bit codes, some with a minimum, d * q - m), so where it
// cannot hold a block exactly it is within half a step of amax / 127 of
// each value; Q4_0 (16 symmetric levels, no minimum) would drop bits of the
// 5- and 6-bit codes and misplace the affine types' grids. Exactly (the
// file's own floats: the same scale and integer codes) for the types whose
// values already are one scale per 32 times integers of at most 8 bits:
// Q5_0 (its fp16 d, codes q - 16), Q3_K (its d, codes (scale - 32) * q),
// IQ4_NL (d, the table's values), IQ4_XS (d * (scale - 32) as an fp32
// scale, the table's values) and Q8_K (its fp32 d and codes); those two run
// with fp32 scales (9 bits per weight), the others with fp16 scales (8.5).
// No exact form exists for Q4_1, Q5_1, Q2_K, Q4_K, Q5_K (d * q + m: the
// minimum is not a multiple of d) nor for Q6_K (two 8-bit sub-block scales
// per 32: codes up to 32 * 128), so these are requantized from their
// dequantized values (bit-identical to llama.cpp's) as llama.cpp's
// quantize_row_q8_0_ref does (fp16 d = amax / 127, codes roundf(x * (1 / d));
// a NaN gives code 0 and x / d is clamped to the int8 range, so hostile values
// stay defined behaviour). Each conversion's error against the file's values,
// ||W_q8_0 - W_file|| / ||W_file|| (in double) and max |W_q8_0 - W_file|, is
// kept in LlamaModel::conversions, and one log line (AXE_LOG_INFO) per load
// gives the count per type and the worst tensor, e.g. "kq-mix.gguf: converted
// to Q8_0 at load: 1 Q2_K, 1 Q3_K (exact), 2 Q4_K, 1 Q5_K, 2 Q6_K tensors;
// relative RMS error <= 0.00538 (blk.0.attn_v.weight, Q5_K; max |error|
// 0.000988)". A value that is NaN in the file and in the conversion is no
// error; a non-finite value the conversion changes makes the figures NaN.
//
// The embedding (token_embd) of any integer type, Q8_0 and Q4_0 included,
// is dequantized to fp32 rows at load with llama.cpp's own arithmetic, as
// before (a separate log line says so): its rows are looked up, never
// multiplied, and LlamaModel's compact rows have one scale per row, not per
// 32. Types ggml_dequantize cannot read are refused naming the type. (A
// non-native linear layer whose rows were not a multiple of 32 would be
// dequantized to fp32; no GGUF block type has such rows.)
//
// GGUF's llama stores q and k for RoPE on adjacent pairs (its converter
// permutes Hugging Face's rows back), as llama2.c does.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/formats/gguf.h"
#include "models/llama/model.h"

namespace axe {

std::unique_ptr<LlamaModel> load_gguf(const std::string& path, bool use_mmap);

// What write_gguf wrote: how many tensors of each type, and the GGUF names of
// the linear layers (blk.N.attn_q.weight ... ffn_up.weight, output.weight)
// not written as Q8_0/Q4_0 blocks: float layers, and groupwise layers whose
// K is not a multiple of 32 (written as F32, exactly).
struct GgufWriteSummary {
  std::map<GgmlType, size_t> tensors;
  std::vector<std::string> not_groupwise;
};

// Writes a model as a GGUF file llama.cpp loads: the llama.* keys, the
// tensors by llama.cpp's names (q and k rows in its adjacent-pair order,
// permuted back from Hugging Face's when the model came from a folder), the
// SentencePiece vocabulary as tokenizer.ggml.* ("llama"), the chat template,
// and `extra` as string keys (e.g. axe.plan; a key under general., llama. or
// tokenizer. is AXE_ERR_INVALID_ARGUMENT). Atomic. Each weight as it is held:
//  - fp32 as F32, 16-bit as F16 or BF16 (the same bits);
//  - groupwise layers (LinearGroup) as Q8_0 (8-bit) or Q4_0 (4-bit) blocks of
//    exactly their codes and scales, which must all be fp16 values
//    (AXE_ERR_UNSUPPORTED otherwise); one whose K is not a multiple of 32
//    (GGUF has no short blocks) as F32 of its exact values code * scale;
//  - the embedding as F32 (8-bit rows: their exact values scale * code), or,
//    when its rows are exactly the dequantized Q8_0/Q4_0 blocks of the
//    classifier (a GGUF whose token_embd held the classifier's blocks, read
//    back: axe dequantizes the embedding at load), as those blocks;
//  - the classifier as output.weight, unless it is the embedding: a tied
//    fp32 or 16-bit classifier, or a tied groupwise one whose blocks became
//    token_embd (a quantized classifier is otherwise its own weights, tied
//    or not);
//  - rope_freqs.weight when the configuration has frequency factors.
// llama.cpp quantizes the activations of Q8_0/Q4_0 layers to 8 bits per 32
// (as axe does for GGUF's layers), whatever activation format an axe
// groupwise model was made with. AXE_ERR_UNSUPPORTED for per-row integer
// layers (LinearInt8: GGUF needs groupwise quantization, axe quantize
// --group 32), rotated models and non-SentencePiece vocabularies.
GgufWriteSummary write_gguf(const LlamaModel& model, const std::string& path,
                            const std::map<std::string, std::string>& extra = {});

// The tokenizer a GGUF file's tokenizer.ggml.* keys describe (path names it
// in errors); n_vocab is the model's vocabulary size.
std::unique_ptr<Tokenizer> gguf_tokenizer(const GgufFile& f, int32_t n_vocab);

// GGUF's tensor names (llama.cpp's) for the names in models/llama/arch.h
// (foreign_tensor_name: one table for every format).
std::string gguf_tensor_name(std::string_view what);
std::string gguf_tensor_name(size_t layer, std::string_view what);

}  // namespace axe
