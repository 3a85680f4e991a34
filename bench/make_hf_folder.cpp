// Converts a legacy llama2.c checkpoint into a Hugging Face LlamaForCausalLM
// folder (config.json, safetensors weights, the tokenizer files given),
// e.g. a bf16 TinyLlama-shaped folder from axe_make_random_model's output:
//   axe_make_hf_folder IN.bin OUTDIR [--dtype f32|f16|bf16] [--shards N]
//                      [--tokenizer tokenizer.json] [--tokenizer-config tokenizer_config.json]
// q_proj and k_proj rows are permuted per head from llama2.c's adjacent RoPE
// pairs to rotate_half's halves, as transformers' convert_llama_weights_to_hf.py
// does, so the folder is the same model. The folder is written beside OUTDIR
// and renamed into place; an existing folder is replaced, any other file is
// refused. The writer is tests/hf_folder_writer.h (the tests use it too).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "../tests/hf_folder_writer.h"

namespace {

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s IN.bin OUTDIR [--dtype f32|f16|bf16] [--shards N] [--tokenizer tokenizer.json]\n"
               "          [--tokenizer-config tokenizer_config.json]\n"
               "Converts a legacy llama2.c checkpoint into a Hugging Face LlamaForCausalLM folder\n"
               "(default: f32, one model.safetensors). Without --tokenizer the folder has no\n"
               "tokenizer.json and axe cannot load it until one is copied in.\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage(argv[0]);
  const std::string in = argv[1], out = argv[2];
  hfw::DType dtype = hfw::DType::kF32;
  int shards = 1;
  std::string tokenizer, tokenizer_config;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", a.c_str());
      return usage(argv[0]);
    }
    const std::string v = argv[++i];
    if (a == "--dtype") {
      if (!hfw::parse_dtype(v, &dtype)) {
        std::fprintf(stderr, "--dtype: '%s' is not f32, f16 or bf16\n", v.c_str());
        return 2;
      }
    } else if (a == "--shards") {
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (!*v.c_str() || *end || n < 1 || n > 99999) {
        std::fprintf(stderr, "--shards: '%s' is not a count from 1 to 99999\n", v.c_str());
        return 2;
      }
      shards = static_cast<int>(n);
    } else if (a == "--tokenizer") {
      tokenizer = v;
    } else if (a == "--tokenizer-config") {
      tokenizer_config = v;
    } else {
      std::fprintf(stderr, "unknown flag '%s'\n", a.c_str());
      return usage(argv[0]);
    }
  }
  try {
    const std::string tok = tokenizer.empty() ? std::string() : hfw::read_text(tokenizer);
    const std::string tok_cfg = tokenizer_config.empty() ? std::string() : hfw::read_text(tokenizer_config);
    hfw::Llama2cShape s;
    const hfw::Folder folder = hfw::llama2c_folder(in, dtype, shards, tok, tok_cfg, &s);
    hfw::write_folder(out, folder);
    std::printf("%s: dim %d, hidden %d, %d layers, %d heads (%d kv), vocab %d, %s, %s %s, %d shard%s\n", out.c_str(),
                s.dim, s.hidden, s.layers, s.heads, s.kv_heads, s.vocab, s.shared ? "tied" : "untied",
                hfw::dtype_name(dtype), tok.empty() ? "(no tokenizer.json)" : "with tokenizer.json", shards,
                shards == 1 ? "" : "s");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
