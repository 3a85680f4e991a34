#include "runtime/tokenizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <queue>

#include "runtime/error.h"
#include "runtime/mapped_file.h"
#include "runtime/tokenizer_json.h"

namespace axe {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Byte value of a "<0xNN>" piece, or -1.
int byte_piece_value(const std::string& p) {
  if (p.size() != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
  const int hi = hex_value(p[3]), lo = hex_value(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// Length of the UTF-8 sequence starting with byte c (1 for invalid bytes).
size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

}  // namespace

Llama2cTokenizer::Llama2cTokenizer(const std::string& path, int32_t n_vocab) {
  MappedFile f(path);
  bytes_.assign(reinterpret_cast<const char*>(f.at(0, f.size(), "the tokenizer")), f.size());
  parse(path, n_vocab);
}

Llama2cTokenizer::Llama2cTokenizer(std::string_view bytes, const std::string& name, int32_t n_vocab)
    : bytes_(bytes) {
  parse(name, n_vocab);
}

void Llama2cTokenizer::parse(const std::string& path, int32_t n_vocab) {
  if (n_vocab <= 2) fail(AXE_ERR_FORMAT, path + ": vocabulary size " + std::to_string(n_vocab) + " is too small");
  // Bounds-checked reads over the bytes.
  auto need = [&](size_t off, size_t n, const char* what) {
    if (off > bytes_.size() || n > bytes_.size() - off)
      fail(AXE_ERR_FORMAT, path + ": truncated: " + what + " needs bytes [" + std::to_string(off) + ", " +
                               std::to_string(off) + "+" + std::to_string(n) + ") but there are " +
                               std::to_string(bytes_.size()));
    return bytes_.data() + off;
  };
  auto read_i32 = [&](size_t off, const char* what) {
    int32_t v;
    std::memcpy(&v, need(off, 4, what), 4);
    return v;
  };
  size_t off = 0;
  const int32_t max_len = read_i32(off, "the tokenizer header");
  off += 4;
  if (max_len <= 0 || max_len > 1 << 16)
    fail(AXE_ERR_FORMAT, path + ": bad max token length " + std::to_string(max_len) + " at offset 0");
  pieces_.resize(n_vocab);
  scores_.resize(n_vocab);
  byte_of_token_.assign(n_vocab, -1);
  std::fill(std::begin(byte_token_), std::end(byte_token_), -1);
  for (int32_t i = 0; i < n_vocab; ++i) {
    std::memcpy(&scores_[i], need(off, 4, "a token score"), 4);
    const int32_t len = read_i32(off + 4, "a token length");
    if (len < 0 || len > max_len)
      fail(AXE_ERR_FORMAT, path + ": token " + std::to_string(i) + " has length " + std::to_string(len) +
                               " at offset " + std::to_string(off + 4) + " (max " + std::to_string(max_len) + ")");
    pieces_[i].assign(need(off + 8, static_cast<size_t>(len), "a token's bytes"), static_cast<size_t>(len));
    off += 8 + static_cast<size_t>(len);
  }
  if (off != bytes_.size())
    fail(AXE_ERR_FORMAT, path + ": " + std::to_string(bytes_.size() - off) + " bytes after the " +
                             std::to_string(n_vocab) + " tokens the model expects (wrong tokenizer for this model?)");
  for (int32_t i = 0; i < n_vocab; ++i) {
    const int b = byte_piece_value(pieces_[i]);
    if (b >= 0) {
      byte_of_token_[i] = static_cast<int16_t>(b);
      if (byte_token_[b] < 0) byte_token_[b] = i;
      continue;
    }
    if (i == kUnk || i == kBos || i == kEos || pieces_[i].empty()) continue;
    lookup_.emplace(pieces_[i], i);  // first id wins for duplicate pieces
  }
}

std::vector<int32_t> Llama2cTokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> out;
  if (add_bos) out.push_back(kBos);
  if (!parse_special) {
    encode_plain(text, out);
    return out;
  }
  // "<s>" and "</s>" become BOS and EOS; the text between them is encoded
  // as separate texts (each with its dummy prefix), as SentencePiece does
  // for pieces around control symbols.
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    const std::string_view rest = text.substr(i);
    const int32_t id = rest.starts_with("<s>") ? kBos : rest.starts_with("</s>") ? kEos : -1;
    if (id < 0) {
      ++i;
      continue;
    }
    encode_plain(text.substr(start, i - start), out);
    out.push_back(id);
    i += id == kBos ? 3 : 4;
    start = i;
  }
  encode_plain(text.substr(start), out);
  return out;
}

std::string_view Llama2cTokenizer::token_text(int32_t token) const {
  if (token < 0 || token >= n_vocab()) return {};
  if (token == kBos) return "<s>";
  if (token == kEos) return "</s>";
  return pieces_[token];
}

void Llama2cTokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;

  std::string s;
  s.reserve(text.size() + 1);
  s.push_back(' ');  // the dummy prefix
  s.append(text);

  // Symbols: a doubly linked list over the text's codepoints.
  struct Symbol {
    int32_t prev, next;
    uint32_t start, len;
  };
  std::vector<Symbol> sym;
  sym.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = std::min(utf8_len(static_cast<unsigned char>(s[i])), s.size() - i);
    const int32_t idx = static_cast<int32_t>(sym.size());
    sym.push_back({idx - 1, idx + 1, static_cast<uint32_t>(i), static_cast<uint32_t>(n)});
    i += n;
  }
  sym.back().next = -1;

  struct Pair {
    float score;
    int32_t left, right;
    uint32_t len;  // merged length when pushed; stale entries no longer match
  };
  auto worse = [](const Pair& a, const Pair& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> queue(worse);
  auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const uint32_t len = sym[l].len + sym[r].len;
    auto it = lookup_.find(std::string_view(s).substr(sym[l].start, len));
    if (it != lookup_.end()) queue.push({scores_[it->second], l, r, len});
  };
  for (size_t i = 0; i + 1 < sym.size(); ++i) try_pair(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));

  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Symbol& l = sym[p.left];
    Symbol& r = sym[p.right];
    if (l.len == 0 || r.len == 0 || l.next != p.right || l.len + r.len != p.len) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = p.left;
    try_pair(l.prev, p.left);
    try_pair(p.left, l.next);
  }

  for (int32_t i = 0; i >= 0; i = sym[i].next) {
    const std::string_view piece = std::string_view(s).substr(sym[i].start, sym[i].len);
    auto it = lookup_.find(piece);
    if (it != lookup_.end()) {
      out.push_back(it->second);
      continue;
    }
    for (char c : piece) {
      const int32_t id = byte_token_[static_cast<unsigned char>(c)];
      out.push_back(id >= 0 ? id : kUnk);
    }
  }
}

std::string_view Llama2cTokenizer::piece(int32_t prev, int32_t token, char* byte_buf, bool) const {
  if (token < 0 || token >= n_vocab()) return {};
  if (token == kBos || token == kEos) return {};
  if (byte_of_token_[token] >= 0) {
    byte_buf[0] = static_cast<char>(byte_of_token_[token]);
    return std::string_view(byte_buf, 1);
  }
  std::string_view p = pieces_[token];
  if (prev == kBos && !p.empty() && p[0] == ' ') p.remove_prefix(1);
  return p;
}

}  // namespace axe

namespace axe {

namespace {

// A bounds-checked reader of protobuf's wire format.
class ProtoReader {
 public:
  ProtoReader(std::string_view bytes, size_t base, const std::string& name) : b_(bytes), base_(base), name_(name) {}
  bool done() const { return pos_ >= b_.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) bad("a truncated varint");
      const uint8_t c = static_cast<uint8_t>(b_[pos_++]);
      v |= uint64_t{c & 0x7fu} << shift;
      if (!(c & 0x80)) return v;
    }
    bad("a varint longer than 10 bytes");
  }
  std::string_view bytes(size_t n) {
    if (n > b_.size() - pos_) bad("a field of " + std::to_string(n) + " bytes past the end");
    const std::string_view s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // Skips a field of wire type `wt`.
  void skip(uint64_t wt) {
    if (wt == 0) varint();
    else if (wt == 1) bytes(8);
    else if (wt == 2) bytes(varint());
    else if (wt == 5) bytes(4);
    else bad("wire type " + std::to_string(wt));
  }
  size_t offset() const { return base_ + pos_; }
  [[noreturn]] void bad(const std::string& what) const {
    fail(AXE_ERR_FORMAT, name_ + ": not a SentencePiece model: " + what + " at offset " + std::to_string(base_ + pos_));
  }

 private:
  std::string_view b_;
  size_t base_, pos_ = 0;
  const std::string& name_;
};

}  // namespace

std::string llama2c_bytes_from_sentencepiece(std::string_view proto, const std::string& name) {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  int64_t unk_id = 0, bos_id = 1, eos_id = 2;
  ProtoReader r(proto, 0, name);
  while (!r.done()) {
    const uint64_t key = r.varint(), field = key >> 3, wt = key & 7;
    if (field == 1 && wt == 2) {  // ModelProto.pieces
      const size_t at = r.offset();
      ProtoReader p(r.bytes(r.varint()), at, name);
      std::string& text = pieces.emplace_back();
      float& score = scores.emplace_back(0.0f);
      while (!p.done()) {
        const uint64_t k = p.varint();
        if (k == (1 << 3 | 2)) {
          text = std::string(p.bytes(p.varint()));
        } else if (k == (2 << 3 | 5)) {
          std::memcpy(&score, p.bytes(4).data(), 4);
          if (!std::isfinite(score)) p.bad("a score that is not finite");
        } else {
          p.skip(k & 7);  // the piece's type among others: llama2.c's export knows pieces by id
        }
      }
      if (pieces.size() > (1u << 22)) r.bad("more than 2^22 pieces");
    } else if (field == 2 && wt == 2) {  // TrainerSpec: the special ids
      const size_t at = r.offset();
      ProtoReader t(r.bytes(r.varint()), at, name);
      while (!t.done()) {
        const uint64_t k = t.varint();
        if (k == (40 << 3 | 0)) unk_id = static_cast<int32_t>(t.varint());
        else if (k == (41 << 3 | 0)) bos_id = static_cast<int32_t>(t.varint());
        else if (k == (42 << 3 | 0)) eos_id = static_cast<int32_t>(t.varint());
        else t.skip(k & 7);
      }
    } else {
      r.skip(wt);
    }
  }
  if (pieces.size() < 3) fail(AXE_ERR_FORMAT, name + ": a SentencePiece model with " + std::to_string(pieces.size()) + " pieces");
  if (unk_id != Llama2cTokenizer::kUnk || bos_id != Llama2cTokenizer::kBos || eos_id != Llama2cTokenizer::kEos)
    fail(AXE_ERR_FORMAT, name + ": unknown, BOS and EOS ids are " + std::to_string(unk_id) + ", " +
                             std::to_string(bos_id) + ", " + std::to_string(eos_id) +
                             "; axe reads SentencePiece models with 0, 1, 2");
  return llama2c_bytes(pieces, scores, name);
}

std::string llama2c_bytes(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                          const std::string& name) {
  if (scores.size() != pieces.size())
    fail(AXE_ERR_FORMAT, name + ": " + std::to_string(scores.size()) + " scores for " + std::to_string(pieces.size()) +
                             " pieces");
  std::string out(4, '\0');
  int32_t max_len = 1;
  for (size_t i = 0; i < pieces.size(); ++i) {
    std::string t;
    if (i == Llama2cTokenizer::kBos || i == Llama2cTokenizer::kEos) {  // as llama2.c's export spells them
      t = i == Llama2cTokenizer::kBos ? "\n<s>\n" : "\n</s>\n";
    } else {
      for (size_t j = 0; j < pieces[i].size(); ++j) {
        if (pieces[i].compare(j, 3, "\xe2\x96\x81") == 0) t += ' ', j += 2;
        else t += pieces[i][j];
      }
    }
    if (t.size() > (1u << 16)) fail(AXE_ERR_FORMAT, name + ": piece " + std::to_string(i) + " is longer than 65536 bytes");
    if (!std::isfinite(scores[i]))
      fail(AXE_ERR_FORMAT, name + ": the score of piece " + std::to_string(i) + " is not finite");
    const int32_t len = static_cast<int32_t>(t.size());
    max_len = std::max(max_len, len);
    char head[8];
    std::memcpy(head, &scores[i], 4);
    std::memcpy(head + 4, &len, 4);
    out.append(head, 8).append(t);
  }
  std::memcpy(out.data(), &max_len, 4);
  return out;
}

std::unique_ptr<Tokenizer> make_tokenizer(std::string_view kind, std::string_view bytes, std::string_view settings,
                                          const std::string& name, int32_t n_vocab) {
  if (kind == "llama2c") {
    if (!settings.empty()) fail(AXE_ERR_FORMAT, name + ": a llama2.c tokenizer takes no settings");
    return std::make_unique<Llama2cTokenizer>(bytes, name, n_vocab);
  }
  if (kind == "tokenizer.json") return std::make_unique<JsonTokenizer>(bytes, settings, name, n_vocab);
  fail(AXE_ERR_FORMAT, name + ": unknown tokenizer kind '" + std::string(kind) + "'");
}

}  // namespace axe
