// The input is a Hugging Face tokenizer: one flags byte, tokenizer.json, NUL,
// tokenizer_config.json (empty: none), NUL, then text (the rest, NULs and
// invalid UTF-8 allowed). Flags: bit 0 add_bos, bit 1 parse_special, bits
// 2-3 the model's vocabulary size (65536, 512, 4096, 2^22). The tokenizer is
// built through the internal API (axe::JsonTokenizer); if it loads, the text
// is encoded and every id turned into its piece (special and not) and its
// text. Findings besides crashes and sanitizer reports: an exception other
// than axe::Error (or std::bad_alloc), an id outside [0, n_vocab) from
// encode(), bos(), eos() or end_of_turn_ids(), and a piece or text for an id
// outside the table that is not empty.
#include "fuzz_common.h"
#include "runtime/error.h"
#include "runtime/tokenizer_json.h"

namespace {

[[noreturn]] void finding(const char* what, long long id, int32_t n_vocab) {
  std::fprintf(stderr, "fuzz_tokenizer_json: %s: id %lld (n_vocab %d)\n", what, id, n_vocab);
  std::abort();
}

void run(std::string_view json, std::string_view config, std::string_view text, uint8_t flags) {
  static constexpr int32_t kVocab[] = {65536, 512, 4096, 1 << 22};
  const int32_t n_vocab = kVocab[(flags >> 2) & 3];
  const bool add_bos = flags & 1, parse_special = flags & 2;
  const axe::JsonTokenizer tok(json, config, "fuzz/tokenizer.json", n_vocab);
  if (tok.n_vocab() != n_vocab) finding("n_vocab() differs from the model's", tok.n_vocab(), n_vocab);
  auto valid = [&](int32_t id) { return id >= 0 && id < n_vocab; };
  if (tok.bos() != -1 && !valid(tok.bos())) finding("bos()", tok.bos(), n_vocab);
  if (tok.eos() != -1 && !valid(tok.eos())) finding("eos()", tok.eos(), n_vocab);
  for (int32_t id : tok.end_of_turn_ids())
    if (!valid(id)) finding("end_of_turn_ids()", id, n_vocab);
  const std::vector<int32_t> ids = tok.encode(text, add_bos, parse_special);
  char buf[8];
  size_t bytes = 0;
  int32_t prev = -1;
  for (int32_t id : ids) {
    if (!valid(id)) finding("encode()", id, n_vocab);
    bytes += tok.piece(prev, id, buf, true).size() + tok.piece(prev, id, buf, false).size();
    bytes += tok.token_text(id).size();
    prev = id;
  }
  for (int32_t id : {-1, n_vocab, n_vocab + 1, INT32_MAX, INT32_MIN}) {
    if (!tok.piece(0, id, buf).empty() || !tok.token_text(id).empty()) finding("a piece outside the table", id, n_vocab);
  }
  // Every id the model may see has a (possibly empty) piece.
  for (int32_t id = 0; id < std::min<int32_t>(n_vocab, 1024); ++id) bytes += tok.piece(id - 1, id, buf).size();
  if (bytes == SIZE_MAX) std::abort();  // keeps the calls
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  axe_fuzz::work_dir();  // quiet log
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t a = in.find('\0');
  const std::string_view json = in.substr(0, a);
  std::string_view config, text;
  if (a != std::string_view::npos) {
    const size_t b = in.find('\0', a + 1);
    config = in.substr(a + 1, b == std::string_view::npos ? std::string_view::npos : b - a - 1);
    if (b != std::string_view::npos) text = in.substr(b + 1);
  }
  try {
    run(json, config, text, data[0]);
  } catch (const axe::Error& e) {
    if (std::getenv("AXE_FUZZ_VERBOSE")) std::fprintf(stderr, "%s\n", e.what());  // why an input is refused
  } catch (const std::bad_alloc&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_tokenizer_json: an exception that is not axe::Error: %s\n", e.what());
    std::abort();
  }
  return 0;
}
