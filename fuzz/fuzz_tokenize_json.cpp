// The input is text, encoded by two fixed tokenizer.json tokenizers loaded
// once: stories260K-hf's (SentencePiece-style: Prepend/Replace normalizers,
// byte fallback, Strip decoder; n_vocab 512) and Llama 3's (byte-level, the
// PCRE2 split regex, 280k merges, ignore_merges; n_vocab 128256), each with
// and without BOS and parse_special. The ids are turned back into pieces
// (axe::JsonTokenizer::piece). Findings besides crashes and sanitizer
// reports: an exception (encoding any bytes must succeed), an id outside
// [0, n_vocab), and a round trip that loses bytes: both tokenizers are
// lossless on any bytes (invalid UTF-8 included: byte tokens or <0xNN>),
// except stories260K-hf's on text holding U+2581 (the decoder turns it into
// a space, as Hugging Face's does), and except where parse_special turned
// text into special ids (their pieces are their text, but the pieces after
// them may lose the prefix space).
#include <fstream>
#include <sstream>

#include "fuzz_common.h"
#include "runtime/error.h"
#include "runtime/tokenizer_json.h"

namespace {

struct Fixed {
  const char* name;
  std::string path;
  int32_t n_vocab;
  bool prefix_space;  // the normalizer prepends "▁": without BOS the decoded text starts with a space
  std::unique_ptr<axe::JsonTokenizer> tok;
};

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "fuzz_tokenize_json: cannot read %s\n", path.c_str());
    std::abort();
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<Fixed>& tokenizers() {
  static std::vector<Fixed> t = [] {
    axe_fuzz::work_dir();  // quiet log
    const std::string s = axe_fuzz::shared_dir();
    std::vector<Fixed> v;
    v.push_back({"stories260K-hf", s + "/models/stories260K-hf/tokenizer.json", 512, true, nullptr});
    v.push_back({"llama3", s + "/data/tokenizer-tests/llama3-tokenizer.json", 128256, false, nullptr});
    for (Fixed& f : v) {
      const std::string cfg_path = f.path.substr(0, f.path.rfind('/')) + "/tokenizer_config.json";
      const std::string cfg = std::ifstream(cfg_path).good() && f.prefix_space ? read(cfg_path) : std::string();
      try {
        f.tok = std::make_unique<axe::JsonTokenizer>(read(f.path), cfg, f.path, f.n_vocab);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_tokenize_json: cannot load %s: %s\n", f.path.c_str(), e.what());
        std::abort();
      }
    }
    return v;
  }();
  return t;
}

void check(const Fixed& f, std::string_view text, bool add_bos, bool parse_special) {
  const axe::JsonTokenizer& tok = *f.tok;
  std::vector<int32_t> ids;
  try {
    ids = tok.encode(text, add_bos, parse_special);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_tokenize_json: %s: encode threw: %s\n", f.name, e.what());
    std::abort();
  }
  bool specials = false;  // special ids from the text (not the leading BOS)
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= f.n_vocab) {
      std::fprintf(stderr, "fuzz_tokenize_json: %s: id %d outside [0, %d)\n", f.name, ids[i], f.n_vocab);
      std::abort();
    }
    char buf[8];
    if (!(add_bos && i == 0) && tok.piece(-1, ids[i], buf, false).empty() && !tok.piece(-1, ids[i], buf, true).empty())
      specials = true;
  }
  size_t start = 0;
  int32_t prev = -1;
  if (add_bos && tok.bos() >= 0) {
    if (ids.empty() || ids[0] != tok.bos()) {
      std::fprintf(stderr, "fuzz_tokenize_json: %s: add_bos without BOS first\n", f.name);
      std::abort();
    }
    prev = ids[0];
    start = 1;
  }
  std::string decoded;
  for (size_t i = start; i < ids.size(); ++i) {
    char buf[8];
    decoded.append(tok.piece(prev, ids[i], buf, true));
    prev = ids[i];
  }
  if (specials) return;
  if (f.prefix_space && text.find("\xe2\x96\x81") != std::string_view::npos) return;
  // After BOS the decoder's Strip removes the prefix space the normalizer added.
  std::string expected = f.prefix_space && start == 0 && !text.empty() ? " " : "";
  expected.append(text);
  if (decoded != expected) {
    std::fprintf(stderr, "fuzz_tokenize_json: %s (add_bos %d, parse_special %d): %zu ids decode to %zu bytes, not the %zu of the text\n",
                 f.name, add_bos, parse_special, ids.size(), decoded.size(), expected.size());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const Fixed& f : tokenizers())
    for (int k = 0; k < 4; ++k) check(f, text, k & 1, k & 2);
  return 0;
}
