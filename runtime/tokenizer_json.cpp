#include "runtime/tokenizer_json.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "runtime/error.h"

namespace axe {
namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------- UTF-8

// Length (1-4) of the well-formed UTF-8 sequence starting at s[i], or 0 when
// the byte there starts none (a stray continuation byte, an overlong form, a
// surrogate, a code point beyond U+10FFFF, a truncated sequence). PCRE2 and
// Rust agree on what is well-formed.
size_t utf8_seq(std::string_view s, size_t i, uint32_t* cp = nullptr) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const size_t left = s.size() - i;
  const unsigned char c = at(0);
  auto cont = [&](size_t k) { return k < left && (at(k) & 0xC0) == 0x80; };
  if (c < 0x80) {
    if (cp) *cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    if (!cont(1)) return 0;
    if (cp) *cp = (c & 0x1Fu) << 6 | (at(1) & 0x3Fu);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && at(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && at(1) > 0x9F) return 0;  // surrogate
    if (cp) *cp = (c & 0x0Fu) << 12 | (at(1) & 0x3Fu) << 6 | (at(2) & 0x3Fu);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && at(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && at(1) > 0x8F) return 0;  // beyond U+10FFFF
    if (cp) *cp = (c & 0x07u) << 18 | (at(1) & 0x3Fu) << 12 | (at(2) & 0x3Fu) << 6 | (at(3) & 0x3Fu);
    return 4;
  }
  return 0;
}

// A character, or one byte that is not part of one.
size_t unit_len(std::string_view s, size_t i) {
  const size_t n = utf8_seq(s, i);
  return n ? n : 1;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | cp >> 12);
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | cp >> 18);
    out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Unicode White_Space (Rust's char::is_whitespace and regex \s).
bool is_white_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// The GPT-2 byte-to-unicode map: printable Latin-1 bytes stand for
// themselves, the other 68 for U+0100.. in byte order.
struct ByteMap {
  uint32_t cp_of_byte[256];
  int16_t byte_of_cp[0x144];  // -1 for code points not in the image
};

const ByteMap& byte_map() {
  static const ByteMap m = [] {
    ByteMap b{};
    std::fill(std::begin(b.byte_of_cp), std::end(b.byte_of_cp), int16_t{-1});
    uint32_t n = 0;
    for (uint32_t c = 0; c < 256; ++c) {
      const bool printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
      b.cp_of_byte[c] = printable ? c : 256 + n++;
      b.byte_of_cp[b.cp_of_byte[c]] = static_cast<int16_t>(c);
    }
    return b;
  }();
  return m;
}

// The raw bytes a byte-level piece stands for; false when a character of it
// is outside the GPT-2 alphabet.
bool unmap_byte_level(std::string_view text, std::string& out) {
  const ByteMap& m = byte_map();
  out.clear();
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    const size_t n = utf8_seq(text, i, &cp);
    if (n == 0 || cp >= 0x144 || m.byte_of_cp[cp] < 0) return false;
    out += static_cast<char>(m.byte_of_cp[cp]);
    i += n;
  }
  return true;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty() || s.find(from) == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t start = 0;
  for (size_t at; (at = s.find(from, start)) != std::string::npos; start = at + from.size()) {
    out.append(s, start, at - start);
    out.append(to);
  }
  out.append(s, start);
  s.swap(out);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The byte of a "<0xNN>" piece (as the ByteFallback decoder reads it), or -1.
int byte_fallback_value(std::string_view p) {
  if (p.size() != 6 || !p.starts_with("<0x") || p[5] != '>') return -1;
  const int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// A value from the file as a message quotes it: at most 64 bytes of whole
// characters, other bytes below 0x20 or not UTF-8 as \xNN, so that a message
// stays one line.
std::string quote(std::string_view s) {
  std::string out = "'";
  size_t i = 0;
  while (i < s.size() && i < 64) {
    const size_t n = utf8_seq(s, i);
    const auto c = static_cast<unsigned char>(s[i]);
    if (n == 0 || c < 0x20 || c == 0x7F) {
      static const char* kHex = "0123456789ABCDEF";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  if (i < s.size()) out += "...";
  return out + "'";
}

// ---------------------------------------------------------------- PCRE2

struct CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataFree {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};
using Code = std::unique_ptr<pcre2_code, CodeFree>;
using MatchData = std::unique_ptr<pcre2_match_data, MatchDataFree>;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  const int n = pcre2_get_error_message(code, buf, sizeof buf);
  return n < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<const char*>(buf));
}

// PCRE2's \s (with Unicode properties) still counts U+180E, which left
// White_Space in Unicode 6.3; Oniguruma's, which Hugging Face runs, does not.
// So \s and \S are spelled out as today's White_Space (\S only outside
// character classes, where it can be). Patterns quoting text (\Q) are left as
// they are.
std::string spell_out_white_space(std::string_view p) {
  static const std::string kWs =
      "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
  if (p.find("\\Q") != std::string_view::npos) return std::string(p);
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[++i];
      if (n == 's') {
        out += in_class ? kWs : "[" + kWs + "]";
      } else if (n == 'S' && !in_class) {
        out += "[^" + kWs + "]";
      } else {
        out += c;
        out += n;
        if (n == 'c' && i + 1 < p.size()) out += p[++i];  // \cX: X is not syntax
      }
      continue;
    }
    out += c;
    if (!in_class && c == '[') {
      in_class = true;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];  // a leading ']' is literal
    } else if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
      const size_t end = p.find(":]", i + 2);  // [:alpha:]
      if (end != std::string_view::npos) {
        out.append(p.substr(i + 1, end + 1 - i));
        i = end + 1;
      }
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return out;
}

// Compiled with Unicode properties, and for subjects that may hold invalid
// UTF-8 (invalid bytes are never part of a match); JIT when available.
// Returns null with `error` set when the pattern does not compile.
Code compile_regex(std::string_view pattern, std::string& error) {
  constexpr uint32_t kOptions = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  int code = 0;
  PCRE2_SIZE offset = 0;
  const std::string spelled = spell_out_white_space(pattern);
  Code re(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(spelled.data()), spelled.size(), kOptions, &code, &offset,
                        nullptr));
  if (!re)  // the rewriting misread the pattern: the pattern as given, and its errors
    re.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), kOptions, &code, &offset,
                           nullptr));
  if (!re) {
    error = pcre2_message(code) + " at offset " + std::to_string(offset);
    return nullptr;
  }
  pcre2_jit_compile(re.get(), PCRE2_JIT_COMPLETE);  // falls back to the interpreter when it fails
  return re;
}

// Whether a UTF-8 character is a word character as Rust's regex \w (which
// Hugging Face's single_word uses) has it: alphabetic, a mark, a connector
// punctuation, a decimal digit or a joiner. (PCRE2's \w differs: it counts
// every number, '²' too, and no marks.)
bool is_word_char(std::string_view ch) {
  static const Code re = [] {
    std::string error;
    Code c = compile_regex("[\\p{Alphabetic}\\p{M}\\p{Pc}\\p{Nd}\\p{Join_Control}]", error);
    return c ? std::move(c) : compile_regex("\\w", error);  // a PCRE2 without binary properties
  }();
  if (!re || ch.empty()) return false;
  MatchData md(pcre2_match_data_create_from_pattern(re.get(), nullptr));
  if (!md) return false;
  return pcre2_match(re.get(), reinterpret_cast<PCRE2_SPTR>(ch.data()), ch.size(), 0, PCRE2_ANCHORED, md.get(),
                     nullptr) > 0;
}

// ---------------------------------------------------------------- JSON reading

constexpr int kMaxDepth = 16;  // Sequence nesting

// How many times the normalizer (or the decoder) may lengthen a text, its
// steps compounded: a Replace ceil(|content| / |pattern|)-fold, a Prepend
// (1 + |prepend|)-fold (on a text of one byte). Llama 2's normalizer is 4 x 3;
// the bound keeps a short file from turning a text (or a piece) into
// gigabytes (forty Replace "a" -> "aa" steps would be 2^40-fold).
constexpr double kMaxGrowth = 32;

double growth(size_t from, size_t to) { return std::max(1.0, std::ceil(static_cast<double>(to) / from)); }

std::string fold(double g) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", g);
  return buf;
}

// Field access with one-line errors naming the file and the field.
class Fields {
 public:
  explicit Fields(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }

  [[noreturn]] void bad(const std::string& field, const std::string& what) const {
    fail(AXE_ERR_FORMAT, file_ + ": " + field + ": " + what);
  }
  [[noreturn]] void unsupported(const std::string& field, const std::string& what) const {
    fail(AXE_ERR_UNSUPPORTED, file_ + ": " + field + ": " + what);
  }
  [[noreturn]] void wrong_type(const std::string& field, const char* expected, const json& v) const {
    bad(field, std::string("expected ") + expected + ", got " + v.type_name());
  }

  // The member, or null when absent or JSON null.
  static const json* find(const json& obj, const std::string& key) {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  const json& object(const json& v, const std::string& field) const {
    if (!v.is_object()) wrong_type(field, "an object", v);
    return v;
  }
  const json& array(const json& v, const std::string& field) const {
    if (!v.is_array()) wrong_type(field, "an array", v);
    return v;
  }
  const std::string& string(const json& v, const std::string& field) const {
    if (!v.is_string()) wrong_type(field, "a string", v);
    return v.get_ref<const std::string&>();
  }
  const json& required(const json& obj, const char* key, const std::string& path) const {
    const json* v = find(obj, key);
    if (!v) bad(join(path, key), "missing");
    return *v;
  }
  const std::string& required_string(const json& obj, const char* key, const std::string& path) const {
    return string(required(obj, key, path), join(path, key));
  }
  bool boolean(const json& obj, const char* key, const std::string& path, bool dflt) const {
    const json* v = find(obj, key);
    if (!v) return dflt;
    if (!v->is_boolean()) wrong_type(join(path, key), "a boolean", *v);
    return v->get<bool>();
  }
  int64_t integer(const json& v, const std::string& field, int64_t lo, int64_t hi) const {
    int64_t x;
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(hi)) bad(field, std::to_string(u) + " is out of range");
      x = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
      x = v.get<int64_t>();
    } else {
      wrong_type(field, "an integer", v);
    }
    if (x < lo || x > hi)
      bad(field, std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
  }
  std::string type_of(const json& obj, const std::string& path) const {
    object(obj, path);
    return required_string(obj, "type", path);
  }
  static std::string join(const std::string& path, const char* key) {
    return path.empty() ? std::string(key) : path + "." + key;
  }
  static std::string index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

 private:
  std::string file_;
};

json parse_json(std::string_view bytes, const std::string& file) {
  try {
    return json::parse(bytes.begin(), bytes.end());
  } catch (const json::exception& e) {
    fail(AXE_ERR_FORMAT, file + ": not valid JSON: " + e.what());
  }
}

// Hashing std::string keys with std::string_view lookups.
struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Byte strings to ids: open addressing, the keys in one arena (a vocabulary
// of 128k pieces is 128k small strings; node-based maps made loading slow).
class PieceMap {
 public:
  size_t size() const { return count_; }
  void reserve(size_t n) {
    if (2 * n > slots_.size()) rehash(2 * n);
  }
  // False (and nothing changes) when the key is present.
  bool insert(std::string_view key, int32_t id) {
    if (2 * (count_ + 1) > slots_.size()) rehash(2 * (count_ + 1));
    const size_t h = StrHash{}(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s = {h, arena_.size(), key.size(), id};
        arena_.append(key);
        ++count_;
        return true;
      }
      if (s.hash == h && this->key(s) == key) return false;
    }
  }
  // The id, or -1.
  int32_t find(std::string_view key) const {
    if (count_ == 0) return -1;
    const size_t h = StrHash{}(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && this->key(s) == key) return s.id;
    }
  }
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.id >= 0) f(key(s), s.id);
  }

 private:
  struct Slot {
    size_t hash = 0, offset = 0, len = 0;
    int32_t id = -1;
  };
  std::string_view key(const Slot& s) const { return std::string_view(arena_).substr(s.offset, s.len); }
  void rehash(size_t n) {
    size_t cap = 16;
    while (cap < n) cap <<= 1;
    std::vector<Slot> old(cap);
    old.swap(slots_);
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (s.id < 0) continue;
      size_t i = s.hash & mask_;
      while (slots_[i].id >= 0) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0, count_ = 0;
};

// ---------------------------------------------------------------- pipeline parts

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct NormStep {
  bool prepend;       // Prepend `to`, else Replace `from` with `to`
  std::string from, to;
};

struct PreStep {
  enum class Kind { kSplit, kByteLevel, kMetaspace } kind;
  int regex = -1;       // Split with a Regex pattern, ByteLevel with use_regex
  std::string literal;  // Split with a String pattern; Metaspace's replacement
  Behavior behavior = Behavior::kIsolated;
  bool invert = false;
  bool add_prefix_space = false;  // ByteLevel
  enum class Prepend { kAlways, kFirst, kNever } prepend = Prepend::kAlways;  // Metaspace
  bool split = true;                                                          // Metaspace
};

struct AddedToken {
  std::string content;
  std::string pattern;  // what is matched: content, normalized when `normalized`
  int32_t id;
  bool special, lstrip, rstrip, single_word, normalized;
};

// Leftmost-longest matching of a set of added tokens.
class Matcher {
 public:
  void add(std::string_view pattern, int32_t token) {
    if (pattern.empty()) return;
    first_[static_cast<unsigned char>(pattern[0])].push_back({std::string(pattern), token});
    ++n_;
  }
  void finish() {
    for (auto& b : first_)
      std::stable_sort(b.begin(), b.end(), [](const Entry& a, const Entry& c) { return a.text.size() > c.text.size(); });
  }
  bool empty() const { return n_ == 0; }
  // The first position at or after `from` where a token matches, and the
  // longest token there; token -1 when none.
  std::pair<size_t, int32_t> find(std::string_view s, size_t from, size_t* len) const {
    for (size_t i = from; i < s.size(); ++i) {
      for (const Entry& e : first_[static_cast<unsigned char>(s[i])]) {
        if (s.compare(i, e.text.size(), e.text) == 0) {
          *len = e.text.size();
          return {i, e.token};
        }
      }
    }
    return {s.size(), -1};
  }

 private:
  struct Entry {
    std::string text;
    int32_t token;  // index into the added tokens
  };
  std::array<std::vector<Entry>, 256> first_;
  size_t n_ = 0;
};

struct Span {
  size_t begin, end;
  bool flag;  // a match (find_matches) or to remove (after the behavior)
};

struct Piece {
  std::string text;
  bool at_start;  // begins at offset 0 of the original text
};

struct Symbol {
  int32_t id, prev, next, len;
};

struct MergeEntry {
  int32_t rank, pos, new_id;
};
struct MergeWorse {
  bool operator()(const MergeEntry& a, const MergeEntry& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.pos > b.pos);
  }
};

struct Merge {
  int32_t rank, new_id;
};

// (left id, right id) -> Merge: open addressing.
class MergeMap {
 public:
  explicit MergeMap(size_t n = 0) { rehash(2 * n); }
  // A pair given again takes the new value (the last rank, as in Hugging Face).
  void assign(int32_t a, int32_t b, Merge m) {
    if (2 * (count_ + 1) > slots_.size()) rehash(2 * (count_ + 1));
    const uint64_t k = key(a, b);
    size_t i = hash(k);
    while (slots_[i].key != kEmpty && slots_[i].key != k) i = (i + 1) & mask_;
    if (slots_[i].key == kEmpty) ++count_;
    slots_[i] = {k, m};
  }
  const Merge* find(int32_t a, int32_t b) const {
    if (count_ == 0) return nullptr;
    const uint64_t k = key(a, b);
    for (size_t i = hash(k);; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return &slots_[i].merge;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are below 2^31
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{};
  };
  static uint64_t key(int32_t a, int32_t b) {
    return static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32 | static_cast<uint32_t>(b);
  }
  size_t hash(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> 20) & mask_; }
  void rehash(size_t n) {
    size_t cap = 16;
    while (cap < n) cap <<= 1;
    std::vector<Slot> old(cap);
    old.swap(slots_);
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (s.key == kEmpty) continue;
      size_t i = hash(s.key);
      while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0, count_ = 0;
};

// One encode() call's working memory.
struct Scratch {
  std::vector<MatchData> match_data;  // per regex
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, StrHash, std::equal_to<>> cache;
  std::vector<int32_t> cached;
  std::vector<Symbol> sym;
  std::vector<MergeEntry> heap;
  std::vector<Span> spans, splits;
};

struct TokenInfo {
  std::string text;   // as the file spells it
  std::string piece;  // decoded bytes
  bool special = false;
  bool added = false;
};

constexpr size_t kMaxCachedWord = 256;

}  // namespace

// ================================================================== Impl

struct JsonTokenizer::Impl {
  Impl(std::string_view file, std::string_view config, const std::string& name, int32_t n_vocab);

  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

  std::string name;
  int32_t n_vocab = 0;
  int32_t bos = -1, eos = -1;
  bool adds_bos = false;
  std::vector<TokenInfo> tokens;  // up to the largest id of the file
  std::vector<int32_t> end_of_turn;

  // model
  PieceMap vocab;  // pieces as the model sees them: raw bytes when byte-level
  MergeMap merges;
  bool byte_level = false;
  bool ignore_merges = false, byte_fallback = false, fuse_unk = false;
  int32_t unk = -1;
  int32_t byte_id[256];           // byte-level: the token of each byte
  int32_t byte_fallback_id[256];  // "<0xNN>", -1 when missing

  // pipeline
  std::vector<NormStep> normalizer;
  std::vector<PreStep> pre_tokenizer;
  std::vector<Code> regexes;
  std::vector<AddedToken> added;
  Matcher raw_matcher, normalized_matcher;  // tokens matched before / after normalization
  bool raw_has_plain = false, normalized_has_plain = false;  // non-special tokens among them

  // decoder
  std::string strip = " ";  // a character the decoder strips from the start of the text,
  int strip_count = 0;      // at most this many times (on the piece after BOS)

 private:
  // construction
  void read_model(const Fields& f, const json& model, PieceMap& text_ids);
  void read_added_tokens(const Fields& f, const json& root, const PieceMap& text_ids);
  void read_normalizer(const Fields& f, const json& n, const std::string& path, int depth);
  void read_pre_tokenizer(const Fields& f, const json& p, const std::string& path, int depth);
  struct DecStep {
    enum class Kind { kReplace, kByteFallback, kByteLevel, kMetaspace } kind;
    std::string from, to;
  };
  void read_decoder(const Fields& f, const json& d, const std::string& path, int depth, std::vector<DecStep>& steps);
  int add_regex(const Fields& f, std::string_view pattern, const std::string& field);
  void grow(const Fields& f, const std::string& field, size_t size, size_t count);
  int32_t lookup_content(const std::string& content, const PieceMap& text_ids) const;
  void read_post_processor(const Fields& f, const json& p, const std::string& path, int depth, const PieceMap& text_ids,
                           int32_t& first_special, int32_t& last_special);
  void read_config(std::string_view config, const PieceMap& text_ids, int32_t pp_bos, int32_t pp_eos);

  // encoding
  void normalize(std::string& s) const;
  void split_added(std::string_view s, const Matcher& m, bool parse_special, std::vector<Span>& out,
                   std::vector<int32_t>& ids) const;
  void find_matches(const PreStep& st, std::string_view s, Scratch& sc, std::vector<Span>& out) const;
  void pre_tokenize(std::string text, bool at_start, Scratch& sc, std::vector<int32_t>& out) const;
  void encode_word(std::string_view w, Scratch& sc, std::vector<int32_t>& out) const;
  void bpe(std::string_view w, Scratch& sc, std::vector<int32_t>& out) const;
};

// ---------------------------------------------------------------- construction

JsonTokenizer::Impl::Impl(std::string_view file, std::string_view config, const std::string& file_name, int32_t nv)
    : name(file_name), n_vocab(nv) {
  if (n_vocab <= 0) fail(AXE_ERR_FORMAT, name + ": vocabulary size " + std::to_string(n_vocab) + " is too small");
  const Fields f(name);
  const json root = parse_json(file, name);
  f.object(root, "the top level");

  PieceMap text_ids;  // the file's spelling of every token -> id
  read_model(f, f.required(root, "model", ""), text_ids);

  if (const json* n = Fields::find(root, "normalizer")) read_normalizer(f, *n, "normalizer", 0);
  double norm_growth = 1;
  for (const NormStep& n : normalizer) norm_growth *= n.prepend ? 1.0 + n.to.size() : growth(n.from.size(), n.to.size());
  if (norm_growth > kMaxGrowth)
    f.unsupported("normalizer", "its steps lengthen a text up to " + fold(norm_growth) + "-fold (at most " +
                                    fold(kMaxGrowth) + " is supported)");
  if (const json* p = Fields::find(root, "pre_tokenizer")) read_pre_tokenizer(f, *p, "pre_tokenizer", 0);
  read_added_tokens(f, root, text_ids);

  std::vector<DecStep> dec;
  if (const json* d = Fields::find(root, "decoder")) read_decoder(f, *d, "decoder", 0, dec);
  double dec_growth = 1;
  for (const DecStep& s : dec)
    if (s.kind == DecStep::Kind::kReplace) dec_growth *= growth(s.from.size(), s.to.size());
  if (dec_growth > kMaxGrowth)
    f.unsupported("decoder", "its Replace steps lengthen a piece up to " + fold(dec_growth) + "-fold (at most " +
                                 fold(kMaxGrowth) + " is supported)");

  // Each token's decoded bytes.
  for (auto& t : tokens) {
    if (t.added || t.text.empty()) {
      t.piece = t.text;
      continue;
    }
    std::string p = t.text;
    for (const DecStep& s : dec) {
      switch (s.kind) {
        case DecStep::Kind::kReplace:
          replace_all(p, s.from, s.to);
          break;
        case DecStep::Kind::kByteFallback:
          if (const int b = byte_fallback_value(p); b >= 0) p.assign(1, static_cast<char>(b));
          break;
        case DecStep::Kind::kByteLevel: {
          std::string raw;
          if (unmap_byte_level(p, raw)) p.swap(raw);
          break;
        }
        case DecStep::Kind::kMetaspace:
          replace_all(p, s.from, " ");
          break;
      }
    }
    t.piece = std::move(p);
  }

  // BOS/EOS.
  int32_t pp_bos = -1, pp_eos = -1;
  if (const json* p = Fields::find(root, "post_processor"))
    read_post_processor(f, *p, "post_processor", 0, text_ids, pp_bos, pp_eos);
  read_config(config, text_ids, pp_bos, pp_eos);

  static constexpr std::string_view kEndOfTurn[] = {"<|eot_id|>", "<|eom_id|>",    "<|im_end|>", "<|end|>",
                                                    "<end_of_turn>", "<|endoftext|>", "</s>"};
  for (const AddedToken& a : added)
    if (a.special && a.id != eos && std::find(std::begin(kEndOfTurn), std::end(kEndOfTurn), a.content) != std::end(kEndOfTurn))
      end_of_turn.push_back(a.id);
  std::sort(end_of_turn.begin(), end_of_turn.end());
  end_of_turn.erase(std::unique(end_of_turn.begin(), end_of_turn.end()), end_of_turn.end());

  // The model's lookup: raw bytes for a byte-level vocabulary (pieces outside
  // the GPT-2 alphabet cannot come out of byte-level text and are left out).
  if (byte_level) {
    std::string raw;
    vocab.reserve(text_ids.size());
    text_ids.for_each([&](std::string_view text, int32_t id) {
      if (unmap_byte_level(text, raw)) vocab.insert(raw, id);
    });
    const ByteMap& m = byte_map();
    for (int b = 0; b < 256; ++b) {
      std::string ch;
      append_utf8(ch, m.cp_of_byte[b]);
      byte_id[b] = text_ids.find(ch);
    }
  } else {
    vocab = std::move(text_ids);
  }
}

void JsonTokenizer::Impl::read_model(const Fields& f, const json& model, PieceMap& text_ids) {
  f.object(model, "model");
  if (const json* t = Fields::find(model, "type")) {
    const std::string& type = f.string(*t, "model.type");
    if (type != "BPE") f.unsupported("model.type", quote(type) + " is not supported (only BPE)");
  } else if (!model.contains("merges")) {
    f.bad("model.type", "missing");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* v = Fields::find(model, key);
    if (v && !f.string(*v, Fields::join("model", key)).empty())
      f.unsupported(Fields::join("model", key), quote(v->get<std::string>()) + " is not supported");
  }
  if (const json* d = Fields::find(model, "dropout"); d && !d->is_number()) f.wrong_type("model.dropout", "a number", *d);
  // A dropout is ignored: inference tokenizes deterministically.
  ignore_merges = f.boolean(model, "ignore_merges", "model", false);
  byte_fallback = f.boolean(model, "byte_fallback", "model", false);
  fuse_unk = f.boolean(model, "fuse_unk", "model", false);

  // The vocabulary.
  const json& v = f.object(f.required(model, "vocab", "model"), "model.vocab");
  if (v.empty()) f.bad("model.vocab", "empty");
  std::vector<std::pair<int32_t, const std::string*>> entries;
  entries.reserve(v.size());
  text_ids.reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    auto field = [&] { return "model.vocab[" + quote(it.key()) + "]"; };  // only built for an error
    if (!it->is_number_integer()) f.wrong_type(field(), "an integer id", *it);
    const int64_t id = it->is_number_unsigned() && it->get<uint64_t>() < static_cast<uint64_t>(n_vocab)
                           ? static_cast<int64_t>(it->get<uint64_t>())
                           : f.integer(*it, field(), 0, std::numeric_limits<int32_t>::max());
    if (id >= n_vocab)
      f.bad(field(), "id " + std::to_string(id) + " is beyond the model's vocabulary of " + std::to_string(n_vocab) +
                       " (wrong tokenizer for this model?)");
    entries.push_back({static_cast<int32_t>(id), &it.key()});
    text_ids.insert(it.key(), static_cast<int32_t>(id));
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first || (a.first == b.first && *a.second < *b.second); });
  for (size_t i = 1; i < entries.size(); ++i)
    if (entries[i].first == entries[i - 1].first)
      f.bad("model.vocab", "id " + std::to_string(entries[i].first) + " is given to both " +
                               quote(*entries[i - 1].second) + " and " + quote(*entries[i].second));
  grow(f, "model.vocab", static_cast<size_t>(entries.back().first) + 1, entries.size());
  for (const auto& [id, text] : entries) tokens[id].text = *text;
  auto id_of = [&](std::string_view s) { return text_ids.find(s); };

  if (const json* u = Fields::find(model, "unk_token")) {
    const std::string& s = f.string(*u, "model.unk_token");
    unk = id_of(s);
    if (unk < 0) f.bad("model.unk_token", quote(s) + " is not in model.vocab");
  }
  for (int b = 0; b < 256; ++b) {
    static const char* kHex = "0123456789ABCDEF";
    const char p[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    byte_fallback_id[b] = id_of(std::string_view(p, 6));
  }

  // The merges: (left id, right id) -> (rank, merged id); a pair listed twice
  // keeps its last rank, as in Hugging Face.
  const json& ms = f.array(f.required(model, "merges", "model"), "model.merges");
  merges = MergeMap(ms.size());
  std::string merged;
  int32_t rank = 0;
  for (size_t i = 0; i < ms.size(); ++i) {
    auto field = [&] { return Fields::index("model.merges", i); };  // only built for an error
    const json& m = ms[i];
    std::string_view a, b;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      if (s.starts_with("#version")) continue;
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        f.bad(field(), quote(s) + " is not two pieces separated by one space");
      a = std::string_view(s).substr(0, sp);
      b = std::string_view(s).substr(sp + 1);
    } else if (m.is_array()) {
      if (m.size() != 2) f.bad(field(), "expected two pieces, got " + std::to_string(m.size()));
      if (!m[0].is_string()) f.wrong_type(field() + "[0]", "a string", m[0]);
      if (!m[1].is_string()) f.wrong_type(field() + "[1]", "a string", m[1]);
      a = m[0].get_ref<const std::string&>();
      b = m[1].get_ref<const std::string&>();
    } else {
      f.wrong_type(field(), "a string or an array of two strings", m);
    }
    const int32_t ia = id_of(a), ib = id_of(b);
    if (ia < 0) f.bad(field(), quote(a) + " is not in model.vocab");
    if (ib < 0) f.bad(field(), quote(b) + " is not in model.vocab");
    merged.assign(a);
    merged.append(b);
    const int32_t im = id_of(merged);
    if (im < 0) f.bad(field(), "the merged piece " + quote(merged) + " is not in model.vocab");
    merges.assign(ia, ib, Merge{rank++, im});
  }
}

// The token table holds ids up to the file's largest; a file whose ids are
// mostly unused is refused rather than given a table sized by one huge id.
void JsonTokenizer::Impl::grow(const Fields& f, const std::string& field, size_t size, size_t count) {
  if (size <= tokens.size()) return;
  if (size > 2 * count + 4096)
    f.bad(field, "ids reach " + std::to_string(size - 1) + " for only " + std::to_string(count) + " tokens");
  tokens.resize(size);
}

void JsonTokenizer::Impl::read_added_tokens(const Fields& f, const json& root, const PieceMap& text_ids) {
  const json* at = Fields::find(root, "added_tokens");
  if (!at) return;
  f.array(*at, "added_tokens");
  std::unordered_set<std::string> contents;
  std::unordered_set<int32_t> ids;
  for (size_t i = 0; i < at->size(); ++i) {
    const std::string path = Fields::index("added_tokens", i);
    const json& t = f.object((*at)[i], path);
    AddedToken a;
    const int64_t id = f.integer(f.required(t, "id", path), path + ".id", 0, std::numeric_limits<int32_t>::max());
    a.content = f.required_string(t, "content", path);
    if (a.content.empty()) f.bad(path + ".content", "empty");
    if (id >= n_vocab)
      f.bad(path + ".id", "id " + std::to_string(id) + " (" + quote(a.content) +
                              ") is beyond the model's vocabulary of " + std::to_string(n_vocab) +
                              " (wrong tokenizer for this model?)");
    a.id = static_cast<int32_t>(id);
    a.special = f.boolean(t, "special", path, false);
    a.lstrip = f.boolean(t, "lstrip", path, false);
    a.rstrip = f.boolean(t, "rstrip", path, false);
    a.single_word = f.boolean(t, "single_word", path, false);
    a.normalized = f.boolean(t, "normalized", path, !a.special);
    if (!contents.insert(a.content).second) f.bad(path + ".content", quote(a.content) + " is listed twice");
    if (!ids.insert(a.id).second) f.bad(path + ".id", "id " + std::to_string(a.id) + " is listed twice");
    grow(f, path + ".id", static_cast<size_t>(a.id) + 1, text_ids.size() + at->size());
    TokenInfo& info = tokens[a.id];
    if (!info.text.empty() && info.text != a.content)
      f.bad(path + ".id", "id " + std::to_string(a.id) + " (" + quote(a.content) + ") is model.vocab's " +
                              quote(info.text));
    if (const int32_t v = text_ids.find(a.content); v >= 0 && v != a.id)
      f.bad(path + ".id", quote(a.content) + " has id " + std::to_string(a.id) + " but model.vocab gives it " +
                              std::to_string(v));
    info.text = a.content;
    info.added = true;
    info.special = a.special;
    a.pattern = a.content;
    if (a.normalized) normalize(a.pattern);
    added.push_back(std::move(a));
  }
  for (int32_t i = 0; i < static_cast<int32_t>(added.size()); ++i) {
    const AddedToken& a = added[i];
    (a.normalized ? normalized_matcher : raw_matcher).add(a.pattern, i);
    (a.normalized ? normalized_has_plain : raw_has_plain) |= !a.special;
  }
  raw_matcher.finish();
  normalized_matcher.finish();
}

int JsonTokenizer::Impl::add_regex(const Fields& f, std::string_view pattern, const std::string& field) {
  std::string error;
  Code re = compile_regex(pattern, error);
  if (!re) f.bad(field, "invalid regular expression " + quote(pattern) + ": " + error);
  regexes.push_back(std::move(re));
  return static_cast<int>(regexes.size()) - 1;
}

void JsonTokenizer::Impl::read_normalizer(const Fields& f, const json& n, const std::string& path, int depth) {
  if (depth > kMaxDepth) f.bad(path, "nested too deeply");
  const std::string type = f.type_of(n, path);
  if (type == "Sequence") {
    const json& list = f.array(f.required(n, "normalizers", path), path + ".normalizers");
    for (size_t i = 0; i < list.size(); ++i) read_normalizer(f, list[i], Fields::index(path + ".normalizers", i), depth + 1);
  } else if (type == "Prepend") {
    normalizer.push_back({true, "", f.required_string(n, "prepend", path)});
  } else if (type == "Replace") {
    const json& pat = f.object(f.required(n, "pattern", path), path + ".pattern");
    const json* s = Fields::find(pat, "String");
    if (!s) f.unsupported(path + ".pattern", "only a String pattern is supported");
    const std::string& from = f.string(*s, path + ".pattern.String");
    if (from.empty()) f.bad(path + ".pattern.String", "empty");
    normalizer.push_back({false, from, f.required_string(n, "content", path)});
  } else {
    f.unsupported(path + ".type", "normalizer " + quote(type) + " is not supported");
  }
}

void JsonTokenizer::Impl::read_pre_tokenizer(const Fields& f, const json& p, const std::string& path, int depth) {
  if (depth > kMaxDepth) f.bad(path, "nested too deeply");
  const std::string type = f.type_of(p, path);
  if (type == "Sequence") {
    const json& list = f.array(f.required(p, "pretokenizers", path), path + ".pretokenizers");
    for (size_t i = 0; i < list.size(); ++i)
      read_pre_tokenizer(f, list[i], Fields::index(path + ".pretokenizers", i), depth + 1);
    return;
  }
  // The text is held as raw bytes throughout; the byte-level mapping is the
  // last step, so nothing may follow it.
  if (byte_level) f.unsupported(path, "a pre-tokenizer after ByteLevel is not supported");
  PreStep st;
  if (type == "Split") {
    st.kind = PreStep::Kind::kSplit;
    const json& pat = f.object(f.required(p, "pattern", path), path + ".pattern");
    if (const json* r = Fields::find(pat, "Regex")) {
      st.regex = add_regex(f, f.string(*r, path + ".pattern.Regex"), path + ".pattern.Regex");
    } else if (const json* s = Fields::find(pat, "String")) {
      st.literal = f.string(*s, path + ".pattern.String");
      if (st.literal.empty()) f.bad(path + ".pattern.String", "empty");
    } else {
      f.bad(path + ".pattern", "expected a Regex or a String");
    }
    const std::string& b = f.required_string(p, "behavior", path);
    if (b == "Removed") st.behavior = Behavior::kRemoved;
    else if (b == "Isolated") st.behavior = Behavior::kIsolated;
    else if (b == "MergedWithPrevious") st.behavior = Behavior::kMergedWithPrevious;
    else if (b == "MergedWithNext") st.behavior = Behavior::kMergedWithNext;
    else if (b == "Contiguous") st.behavior = Behavior::kContiguous;
    else f.bad(path + ".behavior", "unknown behavior " + quote(b));
    st.invert = f.boolean(p, "invert", path, false);
  } else if (type == "ByteLevel") {
    st.kind = PreStep::Kind::kByteLevel;
    st.add_prefix_space = f.boolean(p, "add_prefix_space", path, true);
    if (f.boolean(p, "use_regex", path, true))
      st.regex = add_regex(f, "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
                           path);
    byte_level = true;
    if (!st.add_prefix_space && st.regex < 0) return;  // the mapping alone: nothing to do on raw bytes
  } else if (type == "Metaspace") {
    st.kind = PreStep::Kind::kMetaspace;
    st.literal = f.required_string(p, "replacement", path);
    if (st.literal.empty() || utf8_seq(st.literal, 0) != st.literal.size())
      f.bad(path + ".replacement", "expected one character");
    st.split = f.boolean(p, "split", path, true);
    const json* scheme = Fields::find(p, "prepend_scheme");
    const json* aps = Fields::find(p, "add_prefix_space");
    if (scheme) {
      const std::string& s = f.string(*scheme, path + ".prepend_scheme");
      if (s == "always") st.prepend = PreStep::Prepend::kAlways;
      else if (s == "first") st.prepend = PreStep::Prepend::kFirst;
      else if (s == "never") st.prepend = PreStep::Prepend::kNever;
      else f.bad(path + ".prepend_scheme", "unknown scheme " + quote(s));
    }
    if (aps && !f.boolean(p, "add_prefix_space", path, true)) {
      if (scheme && st.prepend != PreStep::Prepend::kNever)
        f.bad(path + ".add_prefix_space", "false does not match prepend_scheme");
      st.prepend = PreStep::Prepend::kNever;
    }
  } else {
    f.unsupported(path + ".type", "pre-tokenizer " + quote(type) + " is not supported");
  }
  pre_tokenizer.push_back(std::move(st));
}

void JsonTokenizer::Impl::read_decoder(const Fields& f, const json& d, const std::string& path, int depth,
                                       std::vector<DecStep>& steps) {
  if (depth > kMaxDepth) f.bad(path, "nested too deeply");
  const std::string type = f.type_of(d, path);
  if (type == "Sequence") {
    const json& list = f.array(f.required(d, "decoders", path), path + ".decoders");
    for (size_t i = 0; i < list.size(); ++i) read_decoder(f, list[i], Fields::index(path + ".decoders", i), depth + 1, steps);
  } else if (type == "ByteLevel") {
    steps.push_back({DecStep::Kind::kByteLevel, "", ""});
  } else if (type == "ByteFallback") {
    steps.push_back({DecStep::Kind::kByteFallback, "", ""});
  } else if (type == "Fuse") {
    // Concatenation: nothing to do per token.
  } else if (type == "Replace") {
    const json& pat = f.object(f.required(d, "pattern", path), path + ".pattern");
    const json* s = Fields::find(pat, "String");
    if (!s) f.unsupported(path + ".pattern", "only a String pattern is supported");
    const std::string& from = f.string(*s, path + ".pattern.String");
    if (from.empty()) f.bad(path + ".pattern.String", "empty");
    steps.push_back({DecStep::Kind::kReplace, from, f.required_string(d, "content", path)});
  } else if (type == "Strip") {
    const std::string& c = f.required_string(d, "content", path);
    if (c.empty() || utf8_seq(c, 0) != c.size()) f.bad(path + ".content", "expected one character");
    const int64_t start = f.integer(f.required(d, "start", path), path + ".start", 0, 1 << 20);
    const json* stop = Fields::find(d, "stop");
    if (stop && f.integer(*stop, path + ".stop", 0, 1 << 20) != 0)
      f.unsupported(path + ".stop", "stripping the end of the text is not supported");
    strip = c;
    strip_count = static_cast<int>(start);
  } else if (type == "Metaspace") {
    const std::string& r = f.required_string(d, "replacement", path);
    if (r.empty() || utf8_seq(r, 0) != r.size()) f.bad(path + ".replacement", "expected one character");
    steps.push_back({DecStep::Kind::kMetaspace, r, " "});
    bool prepend = f.boolean(d, "add_prefix_space", path, true);
    if (const json* s = Fields::find(d, "prepend_scheme")) prepend = f.string(*s, path + ".prepend_scheme") != "never";
    if (prepend) {
      strip = " ";
      strip_count = 1;
    }
  } else {
    f.unsupported(path + ".type", "decoder " + quote(type) + " is not supported");
  }
}

int32_t JsonTokenizer::Impl::lookup_content(const std::string& content, const PieceMap& text_ids) const {
  for (const AddedToken& a : added)
    if (a.content == content) return a.id;
  return text_ids.find(content);
}

void JsonTokenizer::Impl::read_post_processor(const Fields& f, const json& p, const std::string& path, int depth,
                                              const PieceMap& text_ids, int32_t& first_special,
                                              int32_t& last_special) {
  if (depth > kMaxDepth) f.bad(path, "nested too deeply");
  const std::string type = f.type_of(p, path);
  if (type == "Sequence") {
    const json& list = f.array(f.required(p, "processors", path), path + ".processors");
    for (size_t i = 0; i < list.size(); ++i)
      read_post_processor(f, list[i], Fields::index(path + ".processors", i), depth + 1, text_ids, first_special,
                          last_special);
    return;
  }
  if (type != "TemplateProcessing") return;  // the others add no BOS a Llama model uses
  const json& single = f.array(f.required(p, "single", path), path + ".single");
  const json* specials = Fields::find(p, "special_tokens");
  if (specials) f.object(*specials, path + ".special_tokens");
  // The id of a SpecialToken piece of the template, or -1 for a Sequence.
  auto special_id = [&](size_t i) -> int32_t {
    const std::string field = Fields::index(path + ".single", i);
    const json& item = f.object(single[i], field);
    const json* st = Fields::find(item, "SpecialToken");
    if (!st) return -1;
    const std::string& name = f.required_string(f.object(*st, field + ".SpecialToken"), "id", field + ".SpecialToken");
    if (specials) {
      if (const json* s = Fields::find(*specials, name)) {
        const std::string sf = path + ".special_tokens[" + quote(name) + "]";
        const json& ids = f.array(f.required(f.object(*s, sf), "ids", sf), sf + ".ids");
        if (ids.size() != 1) f.unsupported(sf + ".ids", "a special token of several ids is not supported");
        const int64_t id = f.integer(ids[0], sf + ".ids[0]", 0, n_vocab - 1);
        return static_cast<int32_t>(id);
      }
    }
    const int32_t id = lookup_content(name, text_ids);
    if (id < 0) f.bad(field + ".SpecialToken.id", quote(name) + " is not a token");
    return id;
  };
  if (!single.empty()) {
    first_special = special_id(0);
    if (single.size() > 1) last_special = special_id(single.size() - 1);
  }
}

void JsonTokenizer::Impl::read_config(std::string_view config, const PieceMap& text_ids, int32_t pp_bos,
                                      int32_t pp_eos) {
  bos = pp_bos;
  adds_bos = pp_bos >= 0;
  eos = pp_eos;
  if (!config.empty()) {
    const std::string file = name.ends_with("tokenizer.json")
                                 ? name.substr(0, name.size() - 14) + "tokenizer_config.json"
                                 : name + " (tokenizer_config.json)";
    const Fields f(file);
    const json cfg = parse_json(config, file);
    f.object(cfg, "the top level");
    auto token = [&](const char* key, int32_t& id) {
      const json* v = Fields::find(cfg, key);
      if (!v) return;
      std::string content;
      if (v->is_string()) {
        content = v->get<std::string>();
      } else if (v->is_object()) {
        content = f.required_string(*v, "content", key);
      } else {
        f.wrong_type(key, "a string or an object with a 'content' string", *v);
      }
      id = lookup_content(content, text_ids);
      if (id < 0) f.bad(key, quote(content) + " is not a token of " + name);
    };
    token("bos_token", bos);
    token("eos_token", eos);
    adds_bos = f.boolean(cfg, "add_bos_token", "", adds_bos);
    f.boolean(cfg, "add_eos_token", "", false);  // checked, not used: the runtime never appends EOS
  }
  auto known = [&](std::initializer_list<std::string_view> names) {
    for (std::string_view n : names)
      for (const AddedToken& a : added)
        if (a.special && a.content == n) return a.id;
    return int32_t{-1};
  };
  if (bos < 0) bos = known({"<s>", "<|begin_of_text|>", "<bos>"});
  if (eos < 0) eos = known({"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"});
  if (bos < 0) adds_bos = false;
}

// ---------------------------------------------------------------- encoding

void JsonTokenizer::Impl::normalize(std::string& s) const {
  for (const NormStep& n : normalizer) {
    if (n.prepend) {
      if (!s.empty()) s.insert(0, n.to);
    } else {
      replace_all(s, n.from, n.to);
    }
  }
}

// Hugging Face's AddedVocabulary::find_matches: the text cut into pieces that
// are added tokens (ids[k] >= 0) and pieces that are not (-1).
void JsonTokenizer::Impl::split_added(std::string_view s, const Matcher& m, bool parse_special,
                                      std::vector<Span>& out, std::vector<int32_t>& ids) const {
  out.clear();
  ids.clear();
  size_t start_offset = 0, pos = 0, len = 0;
  while (pos < s.size()) {
    const auto [at, index] = m.find(s, pos, &len);
    if (index < 0) break;
    const AddedToken& t = added[index];
    size_t start = at, stop = at + len;
    pos = stop;
    if (t.special && !parse_special) continue;  // plain text
    if (t.single_word) {
      bool word_before = false, word_after = false;
      if (start > 0) {
        size_t k = 1;  // the last character before the token
        while (k < 4 && k < start && utf8_seq(s, start - k) != k) ++k;
        if (utf8_seq(s, start - k) != k) k = 1;
        word_before = is_word_char(s.substr(start - k, k));
      }
      if (stop < s.size()) word_after = is_word_char(s.substr(stop, utf8_seq(s, stop)));
      if (word_before || word_after) continue;
    }
    if (t.lstrip) {
      // Back over the white space before the token, but not into the previous one.
      size_t keep = start_offset;
      for (size_t i = start_offset; i < start;) {
        uint32_t cp = 0;
        const size_t n = utf8_seq(s, i, &cp);
        i += n ? n : 1;
        if (n == 0 || !is_white_space(cp)) keep = i;
      }
      start = std::max(keep, start_offset);
    }
    if (t.rstrip) {
      for (uint32_t cp; stop < s.size();) {
        const size_t n = utf8_seq(s, stop, &cp);
        if (n == 0 || !is_white_space(cp)) break;
        stop += n;
      }
      pos = stop;
    }
    if (start_offset < start) {
      out.push_back({start_offset, start, false});
      ids.push_back(-1);
    }
    out.push_back({start, stop, true});
    ids.push_back(t.id);
    start_offset = stop;
  }
  if (start_offset < s.size()) {
    out.push_back({start_offset, s.size(), false});
    ids.push_back(-1);
  }
}

// The pattern's matches in s as spans covering s, flag = is a match (the
// Pattern::find_matches of Hugging Face), inverted when asked.
void JsonTokenizer::Impl::find_matches(const PreStep& st, std::string_view s, Scratch& sc,
                                       std::vector<Span>& out) const {
  out.clear();
  size_t prev = 0;
  auto match = [&](size_t b, size_t e) {
    if (b > prev) out.push_back({prev, b, false});
    out.push_back({b, e, true});
    prev = e;
  };
  if (st.kind == PreStep::Kind::kMetaspace || (st.kind == PreStep::Kind::kSplit && st.regex < 0)) {
    for (size_t at; (at = s.find(st.literal, prev)) != std::string_view::npos;) match(at, at + st.literal.size());
  } else {
    const pcre2_code* re = regexes[st.regex].get();
    MatchData& md = sc.match_data[st.regex];
    if (!md) {
      md.reset(pcre2_match_data_create_from_pattern(re, nullptr));
      if (!md) fail(AXE_ERR_OUT_OF_MEMORY, name + ": out of memory for a regular expression match");
    }
    const auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
    for (size_t pos = 0; pos <= s.size();) {
      int rc = pcre2_match(re, subject, s.size(), pos, 0, md.get(), nullptr);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT) rc = pcre2_match(re, subject, s.size(), pos, PCRE2_NO_JIT, md.get(), nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0)
        fail(AXE_ERR_INVALID_ARGUMENT,
             name + ": the pre-tokenizer's regular expression failed on the text: " + pcre2_message(rc));
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
      const size_t b = ov[0], e = ov[1];
      if (b < prev || e < b || e > s.size()) fail(AXE_ERR_INTERNAL, name + ": a regular expression match out of order");
      match(b, e);
      if (e > b) {
        pos = e;
      } else {  // an empty match: step over one character
        if (e >= s.size()) break;
        pos = e + unit_len(s, e);
      }
    }
  }
  if (prev < s.size()) out.push_back({prev, s.size(), false});
  if (st.invert)
    for (Span& sp : out) sp.flag = !sp.flag;
}

// Split spans per a delimiter behavior (NormalizedString::split); the flag
// becomes "remove".
void apply_behavior(const std::vector<Span>& matches, Behavior behavior, std::vector<Span>& out) {
  out.clear();
  bool previous_match = false;
  switch (behavior) {
    case Behavior::kIsolated:
      for (const Span& m : matches) out.push_back({m.begin, m.end, false});
      break;
    case Behavior::kRemoved:
      out = matches;
      break;
    case Behavior::kContiguous:
      for (const Span& m : matches) {
        if (m.flag == previous_match && !out.empty()) out.back().end = m.end;
        else out.push_back({m.begin, m.end, false});
        previous_match = m.flag;
      }
      break;
    case Behavior::kMergedWithPrevious:
      for (const Span& m : matches) {
        if (m.flag && !previous_match && !out.empty()) out.back().end = m.end;
        else out.push_back({m.begin, m.end, false});
        previous_match = m.flag;
      }
      break;
    case Behavior::kMergedWithNext:
      for (size_t k = matches.size(); k-- > 0;) {
        const Span& m = matches[k];
        if (m.flag && !previous_match && !out.empty()) out.back().begin = m.begin;
        else out.push_back({m.begin, m.end, false});
        previous_match = m.flag;
      }
      std::reverse(out.begin(), out.end());
      break;
  }
}

void JsonTokenizer::Impl::pre_tokenize(std::string text, bool at_start, Scratch& sc,
                                       std::vector<int32_t>& out) const {
  if (text.empty()) return;
  if (pre_tokenizer.empty()) {
    encode_word(text, sc, out);
    return;
  }
  std::vector<Piece> cur, next;
  cur.push_back({std::move(text), at_start});
  for (const PreStep& st : pre_tokenizer) {
    next.clear();
    for (Piece& p : cur) {
      bool splits = true;
      if (st.kind == PreStep::Kind::kByteLevel) {
        if (st.add_prefix_space && !p.text.starts_with(' ')) p.text.insert(0, " ");
        splits = st.regex >= 0;
      } else if (st.kind == PreStep::Kind::kMetaspace) {
        replace_all(p.text, " ", st.literal);
        const bool prepend =
            st.prepend == PreStep::Prepend::kAlways || (st.prepend == PreStep::Prepend::kFirst && p.at_start);
        if (prepend && !p.text.starts_with(st.literal)) p.text.insert(0, st.literal);
        splits = st.split;
      }
      if (!splits) {
        next.push_back(std::move(p));
        continue;
      }
      find_matches(st, p.text, sc, sc.spans);
      apply_behavior(sc.spans, st.kind == PreStep::Kind::kMetaspace ? Behavior::kMergedWithNext : st.behavior,
                     sc.splits);
      for (const Span& sp : sc.splits)
        if (!sp.flag && sp.end > sp.begin)
          next.push_back({p.text.substr(sp.begin, sp.end - sp.begin), p.at_start && sp.begin == 0});
    }
    cur.swap(next);
  }
  for (const Piece& p : cur) encode_word(p.text, sc, out);
}

void JsonTokenizer::Impl::encode_word(std::string_view w, Scratch& sc, std::vector<int32_t>& out) const {
  if (w.empty()) return;
  if (ignore_merges) {
    if (const int32_t id = vocab.find(w); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  if (w.size() > kMaxCachedWord) {
    bpe(w, sc, out);
    return;
  }
  auto it = sc.cache.find(w);
  if (it != sc.cache.end()) {
    out.insert(out.end(), sc.cached.begin() + it->second.first, sc.cached.begin() + it->second.first + it->second.second);
    return;
  }
  const size_t before = out.size();
  bpe(w, sc, out);
  const auto start = static_cast<uint32_t>(sc.cached.size());
  sc.cached.insert(sc.cached.end(), out.begin() + before, out.end());
  sc.cache.emplace(std::string(w), std::make_pair(start, static_cast<uint32_t>(out.size() - before)));
}

// BPE on one pre-token (Hugging Face's BPE::merge_word and Word::merge_all):
// characters (bytes when byte-level) become symbols, unknown ones through
// byte fallback or the unknown token; then the adjacent pair with the lowest
// merge rank merges, leftmost first, until no pair has a merge.
void JsonTokenizer::Impl::bpe(std::string_view w, Scratch& sc, std::vector<int32_t>& out) const {
  std::vector<Symbol>& sym = sc.sym;
  sym.clear();
  auto add = [&](int32_t id, size_t len) {
    const auto n = static_cast<int32_t>(sym.size());
    sym.push_back({id, n - 1, n + 1, static_cast<int32_t>(len)});
  };
  int32_t unk_len = 0;  // a pending unknown token's length, 0 when none
  auto flush_unk = [&] {
    if (unk_len > 0) add(unk, static_cast<size_t>(unk_len));
    unk_len = 0;
  };
  const ByteMap& bm = byte_map();
  for (size_t i = 0; i < w.size();) {
    const size_t n = byte_level ? 1 : unit_len(w, i);
    const std::string_view u = w.substr(i, n);
    i += n;
    int32_t id;
    if (byte_level) {
      id = byte_id[static_cast<unsigned char>(u[0])];
    } else {
      id = vocab.find(u);
    }
    if (id >= 0) {
      flush_unk();
      add(id, n);
      continue;
    }
    if (byte_fallback) {
      // The bytes of the character as the model spells it.
      std::string mapped;
      std::string_view bytes = u;
      if (byte_level) {
        append_utf8(mapped, bm.cp_of_byte[static_cast<unsigned char>(u[0])]);
        bytes = mapped;
      }
      bool all = true;
      for (char c : bytes) all = all && byte_fallback_id[static_cast<unsigned char>(c)] >= 0;
      if (all) {
        flush_unk();
        for (char c : bytes) add(byte_fallback_id[static_cast<unsigned char>(c)], 1);
        continue;
      }
    }
    if (unk >= 0) {
      if (!fuse_unk) flush_unk();
      unk_len += static_cast<int32_t>(n);
    }
    // Without an unknown token the character is dropped, as in Hugging Face.
  }
  flush_unk();
  if (sym.empty()) return;
  sym.back().next = -1;

  auto merge_of = [&](int32_t a, int32_t b) { return merges.find(a, b); };
  std::vector<MergeEntry>& heap = sc.heap;
  heap.clear();
  const MergeWorse worse;
  for (size_t k = 0; k + 1 < sym.size(); ++k)
    if (const Merge* m = merge_of(sym[k].id, sym[k + 1].id)) heap.push_back({m->rank, static_cast<int32_t>(k), m->new_id});
  std::make_heap(heap.begin(), heap.end(), worse);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), worse);
    const MergeEntry top = heap.back();
    heap.pop_back();
    Symbol& l = sym[top.pos];
    if (l.len == 0 || l.next < 0) continue;
    const int32_t right = l.next;
    Symbol& r = sym[right];
    const Merge* m = merge_of(l.id, r.id);
    if (!m || m->new_id != top.new_id) continue;  // stale
    l.id = top.new_id;
    l.len += r.len;
    l.next = r.next;
    r.len = 0;
    if (r.next >= 0) sym[r.next].prev = top.pos;
    if (l.prev >= 0)
      if (const Merge* p = merge_of(sym[l.prev].id, l.id)) {
        heap.push_back({p->rank, l.prev, p->new_id});
        std::push_heap(heap.begin(), heap.end(), worse);
      }
    if (l.next >= 0)
      if (const Merge* nx = merge_of(l.id, sym[l.next].id)) {
        heap.push_back({nx->rank, top.pos, nx->new_id});
        std::push_heap(heap.begin(), heap.end(), worse);
      }
  }
  for (int32_t k = 0; k >= 0; k = sym[k].next) out.push_back(sym[k].id);
}

std::vector<int32_t> JsonTokenizer::Impl::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> out;
  if (add_bos && bos >= 0) out.push_back(bos);
  Scratch sc;
  sc.match_data.resize(regexes.size());

  // 1. Added tokens matched on the raw text (with parse_special off, special
  // ones are plain text; when only those exist there is nothing to match).
  std::vector<Span> raw_spans, norm_spans;
  std::vector<int32_t> raw_ids, norm_ids;
  if (!raw_matcher.empty() && (parse_special || raw_has_plain)) {
    split_added(text, raw_matcher, parse_special, raw_spans, raw_ids);
  } else if (!text.empty()) {
    raw_spans.push_back({0, text.size(), false});
    raw_ids.push_back(-1);
  }
  const bool match_normalized = !normalized_matcher.empty() && (parse_special || normalized_has_plain);
  for (size_t k = 0; k < raw_spans.size(); ++k) {
    if (raw_ids[k] >= 0) {
      out.push_back(raw_ids[k]);
      continue;
    }
    // 2. The normalizer, then added tokens matched on the normalized piece.
    std::string piece(text.substr(raw_spans[k].begin, raw_spans[k].end - raw_spans[k].begin));
    const bool at_start = raw_spans[k].begin == 0;
    normalize(piece);
    if (!match_normalized) {
      pre_tokenize(std::move(piece), at_start, sc, out);
      continue;
    }
    split_added(piece, normalized_matcher, parse_special, norm_spans, norm_ids);
    for (size_t j = 0; j < norm_spans.size(); ++j) {
      if (norm_ids[j] >= 0) {
        out.push_back(norm_ids[j]);
        continue;
      }
      // 3. The pre-tokenizer and the model.
      pre_tokenize(piece.substr(norm_spans[j].begin, norm_spans[j].end - norm_spans[j].begin),
                   at_start && norm_spans[j].begin == 0, sc, out);
    }
  }
  return out;
}

// ================================================================== JsonTokenizer

JsonTokenizer::JsonTokenizer(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
                             const std::string& name, int32_t n_vocab)
    : bytes_(tokenizer_json), settings_(tokenizer_config_json) {
  try {
    impl_ = std::make_unique<const Impl>(bytes_, settings_, name, n_vocab);
  } catch (const std::bad_alloc&) {
    fail(AXE_ERR_OUT_OF_MEMORY, name + ": out of memory reading the tokenizer");
  }
}

JsonTokenizer::~JsonTokenizer() = default;

int32_t JsonTokenizer::n_vocab() const { return impl_->n_vocab; }
int32_t JsonTokenizer::bos() const { return impl_->bos; }
int32_t JsonTokenizer::eos() const { return impl_->eos; }
bool JsonTokenizer::adds_bos() const { return impl_->adds_bos; }
std::vector<int32_t> JsonTokenizer::end_of_turn_ids() const { return impl_->end_of_turn; }

std::vector<int32_t> JsonTokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  return impl_->encode(text, add_bos, parse_special);
}

std::string_view JsonTokenizer::piece(int32_t prev, int32_t token, char*, bool special) const {
  if (token < 0 || static_cast<size_t>(token) >= impl_->tokens.size()) return {};
  const TokenInfo& t = impl_->tokens[token];
  if (t.special) return special ? std::string_view(t.text) : std::string_view();
  std::string_view p = t.piece;
  if (impl_->strip_count > 0 && impl_->bos >= 0 && prev == impl_->bos)
    for (int k = 0; k < impl_->strip_count && p.starts_with(impl_->strip); ++k) p.remove_prefix(impl_->strip.size());
  return p;
}

std::string_view JsonTokenizer::token_text(int32_t token) const {
  if (token < 0 || static_cast<size_t>(token) >= impl_->tokens.size()) return {};
  return impl_->tokens[token].text;
}

}  // namespace axe
