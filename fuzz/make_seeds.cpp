// Writes the seed corpora of every harness into OUT_DIR/<harness>/:
//   fuzz_make_seeds OUT_DIR
// fuzz_llama2c: tiny random llama2.c checkpoints (legacy and v1, shared and
// separate classifier, grouped-query attention) with vocab 512 so that the
// stories260K tokenizer fits; fuzz_axe: those quantized through the C API
// (RTN W8A8, RTN W4 AXE 16-bit, contiguous tiles, signed activations, and an
// OPTQ per-layer search, which stores layer_bits); fuzz_axe_metadata: each
// .axe file's config and plan separated by NUL; fuzz_tokenizer_bin: the
// stories260K tokenizer; fuzz_tokenize: text; fuzz_tokenizer_json:
// stories260K-hf's tokenizer.json, Llama 3's cut to 1000 pieces and 10 added
// tokens (the file is 9 MB), and hand-made ones (Metaspace, Split, added
// tokens with lstrip/rstrip/single_word), each with its config and a text;
// fuzz_tokenize_json: text; fuzz_sentencepiece: Llama 2's tokenizer.model cut
// to its first 40 and 300 pieces; fuzz_hf_folder: Hugging Face folders of
// tiny llama2.c models (F32, BF16 in two shards, F16 with rope scaling) in
// the harness's layout. Small files keep the fuzzers fast (the stories260K
// model itself is 1 MB).
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_common.h"
#include "models/formats/axe.h"
#include "runtime/mapped_file.h"
#include "tests/hf_folder_writer.h"

namespace {

std::string out_dir;

void write(const std::string& harness, const std::string& name, const std::string& bytes) {
  const std::string dir = out_dir + "/" + harness;
  mkdir(dir.c_str(), 0755);
  std::ofstream f(dir + "/" + name, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "fuzz_make_seeds: cannot write %s/%s\n", dir.c_str(), name.c_str());
    std::exit(1);
  }
}

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "fuzz_make_seeds: cannot read %s\n", path.c_str());
    std::exit(1);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Shape {
  int32_t dim, hidden, layers, heads, kv_heads, vocab, seq_len;
};

// A llama2.c checkpoint with small random weights (fixed seed).
std::string llama2c(const Shape& s, bool v1, bool shared) {
  std::string out;
  auto i32 = [&](int32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
  uint64_t state = 0x9e3779b97f4a7c15ull ^ (uint64_t(s.dim) << 32) ^ (v1 ? 1 : 0) ^ (shared ? 2 : 0);
  auto weights = [&](uint64_t n, bool norm) {
    for (uint64_t i = 0; i < n; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      const float u = static_cast<float>((state >> 40) & 0xffffff) / float(1 << 24) - 0.5f;
      const float w = norm ? 1.0f + 0.1f * u : 0.2f * u;
      out.append(reinterpret_cast<const char*>(&w), 4);
    }
  };
  const uint64_t D = s.dim, H = s.hidden, L = s.layers, V = s.vocab, KV = uint64_t(s.dim) / s.heads * s.kv_heads;
  const uint64_t HD = uint64_t(s.dim) / s.heads;
  if (v1) {
    i32(0x616b3432);
    i32(1);
    for (int32_t v : {s.dim, s.hidden, s.layers, s.heads, s.kv_heads, s.vocab, s.seq_len}) i32(v);
    out.push_back(shared ? 1 : 0);
    out.resize(256, '\0');
    weights(L * D, true);
    weights(L * D, true);
    weights(D, true);
    weights(V * D, false);
  } else {
    for (int32_t v : {s.dim, s.hidden, s.layers, s.heads, s.kv_heads, shared ? s.vocab : -s.vocab, s.seq_len}) i32(v);
    weights(V * D, false);
    weights(L * D, true);
  }
  weights(L * D * D, false);
  weights(L * KV * D, false);
  weights(L * KV * D, false);
  weights(L * D * D, false);
  if (!v1) weights(L * D, true);
  weights(L * H * D, false);
  weights(L * D * H, false);
  weights(L * H * D, false);
  if (!v1) {
    weights(D, true);
    weights(uint64_t(s.seq_len) * HD, false);  // the old freq_cis block
  }
  if (!shared) weights(V * D, false);
  return out;
}

// Llama 3's tokenizer.json cut to its first `n` pieces, the merges among
// them, and its first 10 added tokens renumbered from n (the post-processor's
// ids too). (nlohmann::json, not ordered_json: the latter's linear key lookup
// takes a minute over 128k pieces.)
std::string trimmed_llama3(const std::string& text, int32_t n, bool gpt2_pre_tokenizer) {
  nlohmann::json j = nlohmann::json::parse(text);
  auto& model = j["model"];
  nlohmann::json vocab = nlohmann::json::object();
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it)
    if (it.value().get<int32_t>() < n) vocab[it.key()] = it.value();
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& m : model["merges"]) {
    const std::string a = m[0], b = m[1];
    if (vocab.contains(a) && vocab.contains(b) && vocab.contains(a + b)) merges.push_back(m);
  }
  model["vocab"] = vocab;
  model["merges"] = merges;
  const int32_t first = j["added_tokens"][0]["id"];
  nlohmann::json added = nlohmann::json::array();
  for (size_t i = 0; i < 10; ++i) {
    auto t = j["added_tokens"][i];
    t["id"] = t["id"].get<int32_t>() - first + n;
    added.push_back(t);
  }
  j["added_tokens"] = added;
  for (auto& p : j["post_processor"]["processors"])
    if (p.contains("special_tokens"))
      for (auto& st : p["special_tokens"])
        for (auto& id : st["ids"]) id = id.get<int32_t>() - first + n;
  if (gpt2_pre_tokenizer)  // ByteLevel's own (GPT-2) regex, with the prefix space
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  return j.dump();
}

// A SentencePiece model cut to its first `n` pieces (the other top-level
// fields kept): protobuf's wire format, field 1 being the pieces.
std::string trimmed_sentencepiece(const std::string& proto, int n) {
  std::string out;
  size_t pos = 0;
  int pieces = 0;
  auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0; pos < proto.size(); shift += 7) {
      const uint8_t c = static_cast<uint8_t>(proto[pos++]);
      v |= uint64_t{c & 0x7fu} << shift;
      if (!(c & 0x80)) break;
    }
    return v;
  };
  while (pos < proto.size()) {
    const size_t start = pos;
    const uint64_t key = varint();
    if ((key & 7) == 2) pos += varint();
    else if ((key & 7) == 0) varint();
    else if ((key & 7) == 1) pos += 8;
    else if ((key & 7) == 5) pos += 4;
    if (pos > proto.size()) break;
    if (key >> 3 == 1 && pieces++ >= n) continue;
    out.append(proto, start, pos - start);
  }
  return out;
}

// A Hugging Face folder in fuzz_hf_folder's layout: config, generation
// config, tokenizer config, index (each then a NUL), the weights (shards
// joined by the harness's separator).
std::string hf_folder_seed(const std::string& dir, int shards) {
  auto file = [&](const std::string& name) {
    const std::string p = dir + "/" + name;
    return std::ifstream(p).good() ? read(p) : std::string();
  };
  std::string out = file("config.json") + '\0' + file("generation_config.json") + '\0' +
                    file("tokenizer_config.json") + '\0';
  if (shards == 1) return out + '\0' + file("model.safetensors");
  out += file("model.safetensors.index.json") + '\0';
  for (int i = 1; i <= shards; ++i) {
    if (i > 1) out += "\n--axe-fuzz-next-shard--\n";
    out += file(hfw::shard_name(i, shards));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  mkdir(out_dir.c_str(), 0755);
  axe_fuzz::work_dir();  // quiet log
  const std::string tok = axe_fuzz::stories_tokenizer();

  struct Model {
    const char* name;
    Shape shape;
    bool v1, shared;
  };
  const Model models[] = {
      {"legacy_shared", {16, 32, 1, 2, 2, 512, 16}, false, true},
      {"legacy_wcls", {16, 24, 1, 2, 1, 512, 8}, false, false},
      {"v1_shared_gqa", {32, 48, 2, 4, 2, 512, 16}, true, true},
      {"v1_wcls", {16, 32, 1, 1, 1, 512, 16}, true, false},
  };
  std::vector<std::string> axe_files;
  const std::string work = axe_fuzz::work_dir();
  for (const Model& m : models) {
    const std::string bytes = llama2c(m.shape, m.v1, m.shared);
    write("fuzz_llama2c", std::string(m.name) + ".bin", bytes);
    const std::string path = work + "/" + m.name + ".bin";
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    axe_model_params mp = axe_model_default_params();
    mp.tokenizer_path = tok.c_str();
    axe_model* model = nullptr;
    if (axe_model_load(path.c_str(), &mp, &model) != AXE_OK) {
      std::fprintf(stderr, "fuzz_make_seeds: %s does not load: %s\n", m.name, axe_last_error());
      return 1;
    }
    struct Q {
      const char* name;
      void (*set)(axe_quantize_params&);
    };
    static const std::string calib = read(axe_fuzz::shared_dir() + "/data/tinystories/calib.txt").substr(0, 4000);
    const Q qs[] = {
        {"rtn_w8a8", [](axe_quantize_params&) {}},
        {"rtn_w4_axe16", [](axe_quantize_params& p) { p.weight_bits = 4; p.axe = 1; p.inner_bits = 16; }},
        {"rtn_w5_contig", [](axe_quantize_params& p) {
           p.weight_bits = 5; p.axe = 1; p.tiles = AXE_TILES_CONTIGUOUS; p.tile = 16; p.inner_bits = 18; p.outer_bits = 20; }},
        {"rtn_w4_sym", [](axe_quantize_params& p) { p.weight_bits = 4; p.act_signed = 1; p.axe = 1; p.inner_bits = 16; }},
        {"rtn_w4_rotated", [](axe_quantize_params& p) {
           p.weight_bits = 4; p.axe = 1; p.inner_bits = 16; p.rotate = "hadamard"; p.rotate_seed = 3; }},
        {"optq_search13", [](axe_quantize_params& p) {
           p.algo = "optq"; p.weight_bits = 4; p.search = 1; p.inner_bits = 13;
           p.calib_text = calib.c_str(); p.calib_text_len = calib.size(); p.calib_samples = 2; p.calib_len = 8; }},
    };
    for (const Q& q : qs) {
      if (std::strcmp(m.name, "v1_shared_gqa") != 0 && std::strcmp(q.name, "rtn_w8a8") != 0 &&
          std::strcmp(q.name, "rtn_w4_axe16") != 0)
        continue;  // every variant on one model, two on the others
      axe_quantize_params p = axe_quantize_default_params();
      p.n_threads = 1;
      q.set(p);
      const std::string out = work + "/" + m.name + "." + q.name + ".axe";
      if (axe_quantize(model, out.c_str(), &p) != AXE_OK) {
        std::fprintf(stderr, "fuzz_make_seeds: quantizing %s (%s): %s\n", m.name, q.name, axe_model_last_error(model));
        return 1;
      }
      axe_files.push_back(out);
    }
    axe_model_free(model);
    std::remove(path.c_str());
  }
  for (const std::string& path : axe_files) {
    const std::string name = path.substr(path.rfind('/') + 1);
    write("fuzz_axe", name, read(path));
    const axe::AxeFile f(path, axe::MappedFile::Mode::kMap);
    write("fuzz_axe_metadata", name + ".json", f.meta(axe::kAxeMetaConfig) + std::string(1, '\0') + f.meta(axe::kAxeMetaPlan));
    std::remove(path.c_str());
  }
  write("fuzz_axe_metadata", "handmade.json",
        std::string(R"({"dim":8,"hidden_dim":16,"n_layers":1,"n_heads":2,"n_kv_heads":1,"vocab_size":3,"seq_len":4,)"
                    R"("shared_classifier":true,"norm_eps":1e-5,"rope_base":10000.0})") +
            std::string(1, '\0') +
            R"({"tiles":"lanes","tile":16,"inner_bits":16,"outer_bits":32,"weight_bits":4,"act_bits":8,"act":"asym",)"
            R"("layer_bits":{"layers.0.attention.wq":{"weight_bits":3,"act_bits":6}}})");

  write("fuzz_tokenizer_bin", "tok512.bin", read(tok));

  const std::string text = read(axe_fuzz::shared_dir() + "/data/tinystories/calib.txt");
  for (int i = 0; i < 16; ++i) write("fuzz_tokenize", "story" + std::to_string(i) + ".txt", text.substr(size_t(i) * 997, 40 + i * 13));
  const char* special[] = {"", " ", "  leading spaces", "<s></s><unk><0x41><0xFF>", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80",
                           "\xff\xfe\x80\xc3", "\xf4\x90\x80\x80 \xed\xa0\x80", "tab\tnew\nline\r\n", "a\0b"};
  int k = 0;
  for (const char* s : special) write("fuzz_tokenize", "special" + std::to_string(k++) + ".txt", std::string(s, s == special[8] ? 3 : std::strlen(s)));
  // fuzz_kld: base files of stories260K itself, chunks of 16 and 32 tokens.
  {
    axe_model_params mp = axe_model_default_params();
    mp.tokenizer_path = tok.c_str();
    axe_model* m = nullptr;
    if (axe_model_load(axe_fuzz::stories_model().c_str(), &mp, &m) != AXE_OK) return 1;
    axe_context_params cp = axe_context_default_params();
    cp.n_threads = 1;
    axe_context* c = nullptr;
    if (axe_context_create(m, &cp, &c) != AXE_OK) return 1;
    for (uint32_t n : {16u, 32u}) {
      const std::string base = work + "/base" + std::to_string(n) + ".kld";
      axe_perplexity_params p = axe_perplexity_default_params();
      p.n_ctx = n;
      p.n_chunks = 2;
      p.kld = AXE_KLD_WRITE_BASE;
      p.kld_base = base.c_str();
      axe_perplexity_result r{};
      r.struct_size = sizeof r;
      if (axe_perplexity(c, text.data(), 4000, &p, &r) != AXE_OK) return 1;
      write("fuzz_kld", "base" + std::to_string(n) + ".kld", read(base));
      std::remove(base.c_str());
    }
    axe_context_free(c);
    axe_model_free(m);
  }
  // fuzz_tokenizer_json: flags byte, tokenizer.json, NUL, config, NUL, text.
  {
    const std::string hf = axe_fuzz::shared_dir() + "/models/stories260K-hf/";
    const std::string text =
        "Once upon a time, it's 12345 <s> <|eot_id|> \xe2\x96\x81x [INST] a</s>b \xff\xfe caf\xc3\xa9 "
        "\xf0\x9f\x98\x80\r\n\n  end ";
    auto seed = [&](const std::string& name, uint8_t flags, const std::string& json, const std::string& config) {
      write("fuzz_tokenizer_json", name, std::string(1, static_cast<char>(flags)) + json + '\0' + config + '\0' + text);
    };
    const std::string stories = read(hf + "tokenizer.json"), stories_cfg = read(hf + "tokenizer_config.json");
    seed("stories_bos.json", 0x04 | 1, stories, stories_cfg);
    seed("stories_special.json", 0x04 | 2, stories, stories_cfg);
    seed("stories_noconfig.json", 0x00 | 3, stories, "");
    const std::string llama3 = read(axe_fuzz::shared_dir() + "/data/tokenizer-tests/llama3-tokenizer.json");
    seed("llama3_1000.json", 0x08 | 3, trimmed_llama3(llama3, 1000, false), "");
    seed("llama3_1000_gpt2.json", 0x00 | 1, trimmed_llama3(llama3, 1000, true),
         R"({"bos_token":"<|begin_of_text|>","eos_token":{"content":"<|eot_id|>"},"add_bos_token":true,"add_eos_token":false})");
    seed("metaspace.json", 0x04 | 3,
         R"({"version":"1.0","added_tokens":[)"
         R"({"id":0,"content":"<unk>","special":true,"normalized":false},{"id":1,"content":"<s>","special":true},)"
         R"({"id":2,"content":"</s>","special":true},)"
         R"({"id":9,"content":"[INST]","special":false,"lstrip":true,"rstrip":true,"single_word":true,"normalized":true},)"
         R"({"id":10,"content":"<|eot_id|>","special":true}],"normalizer":null,)"
         R"("pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false},)"
         R"("post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},)"
         R"({"Sequence":{"id":"A","type_id":0}}],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},)"
         R"("decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false},)"
         R"("model":{"type":"BPE","dropout":null,"unk_token":"<unk>","fuse_unk":true,"byte_fallback":true,)"
         R"("ignore_merges":false,"vocab":{"<unk>":0,"<s>":1,"</s>":2,"▁":3,"a":4,"b":5,"▁a":6,"ab":7,)"
         R"("<0x41>":8,"[INST]":9,"<|eot_id|>":10,"▁ab":11},"merges":["▁ a","a b",["▁a","b"]]}})",
         "");
    seed("split.json", 0x04 | 2,
         R"({"added_tokens":[{"id":5,"content":"<sep>","special":true,"lstrip":true}],)"
         R"("normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},)"
         R"({"type":"Replace","pattern":{"String":" "},"content":"▁"}]},)"
         R"("pre_tokenizer":{"type":"Sequence","pretokenizers":[)"
         R"({"type":"Split","pattern":{"String":"▁"},"behavior":"MergedWithNext","invert":false},)"
         R"j({"type":"Split","pattern":{"Regex":"\\p{N}{1,3}|\\s+(?!\\S)"},"behavior":"Contiguous","invert":true}]},)j"
         R"("post_processor":{"type":"Sequence","processors":[{"type":"ByteLevel"}]},)"
         R"("decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},)"
         R"({"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},)"
         R"("model":{"type":"BPE","unk_token":"<unk>","byte_fallback":false,)"
         R"("vocab":{"<unk>":0,"▁":1,"1":2,"2":3,"12":4,"<sep>":5,"x":6,"▁x":7},"merges":["1 2","▁ x"]}})",
         R"({"bos_token":null,"eos_token":{"content":"<sep>"},"add_bos_token":false})");
    // fuzz_tokenize_json: text.
    int k = 0;
    for (const char* t : {"Hello world, it's 12345 and I'll've \xe2\x80\x94 done.\n\n", "<|begin_of_text|>hi<|eot_id|>",
                          "<s>a</s> b", "\xe2\x96\x81x \xe2\x96\x81", "   \t\r\n\n  x  ", "\xe5\xa4\xa7\xe5\xae\xb6 \xf0\x9f\x98\x80!",
                          "\xff\xfe\x80\xc3 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf", "<0x41><unk> ''s 's 'S"})
      write("fuzz_tokenize_json", "text" + std::to_string(k++) + ".txt", t);
    write("fuzz_tokenize_json", "story.txt", read(axe_fuzz::shared_dir() + "/data/tinystories/calib.txt").substr(0, 600));
  }
  // fuzz_sentencepiece: Llama 2's tokenizer.model, cut.
  {
    const std::string spm = read(axe_fuzz::shared_dir() + "/models/llama2-tokenizer/tokenizer.model");
    write("fuzz_sentencepiece", "llama2_40.model", trimmed_sentencepiece(spm, 40));
    write("fuzz_sentencepiece", "llama2_300.model", trimmed_sentencepiece(spm, 300));
  }
  // fuzz_hf_folder: folders of tiny llama2.c checkpoints (vocab 512, the
  // size of stories260K-hf's tokenizer.json that the harness supplies).
  {
    const std::string hf = axe_fuzz::shared_dir() + "/models/stories260K-hf/";
    const std::string tok_cfg = read(hf + "tokenizer_config.json");
    struct Folder {
      const char* name;
      Shape shape;
      bool shared;
      hfw::DType dtype;
      int shards;
      const char* config_extra;  // raw JSON members added to config.json
    };
    const Folder folders[] = {
        {"f32_shared", {16, 32, 1, 2, 2, 512, 16}, true, hfw::DType::kF32, 1, ""},
        {"bf16_wcls_2shards", {16, 24, 1, 2, 1, 512, 16}, false, hfw::DType::kBF16, 2, ""},
        {"f16_gqa_llama3_rope", {32, 48, 2, 4, 2, 512, 32}, true, hfw::DType::kF16, 1,
         R"("rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, )"
         R"("original_max_position_embeddings": 8, "rope_type": "llama3"}, "head_dim": 8, "sliding_window": 16,)"},
    };
    for (const Folder& f : folders) {
      const std::string ckpt = work + "/" + f.name + ".bin";
      const std::string bytes = llama2c(f.shape, false, f.shared);
      std::ofstream(ckpt, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      hfw::Folder folder = hfw::llama2c_folder(ckpt, f.dtype, f.shards, "", tok_cfg);
      if (*f.config_extra) folder.config_json.insert(folder.config_json.find('{') + 1, std::string("\n  ") + f.config_extra);
      if (f.shards > 1) folder.generation_config_json = "{\"bos_token_id\": 1, \"eos_token_id\": [2, 1]}";
      const std::string dir = work + "/" + f.name;
      hfw::write_folder_files(dir, folder);
      write("fuzz_hf_folder", std::string(f.name) + ".folder", hf_folder_seed(dir, f.shards));
      std::filesystem::remove_all(dir);
      std::remove(ckpt.c_str());
    }
  }
  // fuzz_gguf: the GGUF test fixtures (F32/F16/Q8_0/Q4_0/K-quant mixes, a
  // llama tokenizer), found beside this file.
  {
    const std::string fixtures = std::filesystem::path(__FILE__).parent_path().string() + "/../tests/fixtures/gguf/";
    for (const char* name : {"tiny-mix.gguf", "kq-mix.gguf", "stories260K-q8_0.gguf"})
      write("fuzz_gguf", name, read(fixtures + name));
  }
  std::printf("seeds in %s\n", out_dir.c_str());
  return 0;
}
