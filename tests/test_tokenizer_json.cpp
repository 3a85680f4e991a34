// The Hugging Face tokenizer.json tokenizer: llama.cpp's Llama 3 test
// vectors, the TinyStories ids of both vocabularies (and equality with the
// llama.cpp tokenizer.bin tokenizer), decoding, added and special tokens,
// the pre-tokenizer and model options on small hand-made files, and hostile
// files.
#include <doctest/doctest.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "runtime/error.h"
#include "runtime/tokenizer.h"
#include "runtime/tokenizer_json.h"
#include "test_paths.h"
#include "text_helpers.h"

namespace {

using Ids = std::vector<int32_t>;

using th::slurp;
using th::split;

Ids read_ids(const std::string& path) { return th::parse_ids(slurp(path)); }

std::string decode(const axe::Tokenizer& t, const Ids& ids, bool special = true) {
  std::string out;
  char byte;
  for (size_t i = 0; i < ids.size(); ++i) out += t.piece(i ? ids[i - 1] : -1, ids[i], &byte, special);
  return out;
}

constexpr int32_t kLlama3Vocab = 128256;

const axe::JsonTokenizer& llama3() {
  static const axe::JsonTokenizer tok(slurp(test_paths::llama3_tokenizer_json()), "",
                                      test_paths::llama3_tokenizer_json(), kLlama3Vocab);
  return tok;
}

const axe::JsonTokenizer& stories() {
  static const axe::JsonTokenizer tok(slurp(test_paths::stories260k_hf("tokenizer.json")),
                                      slurp(test_paths::stories260k_hf("tokenizer_config.json")),
                                      test_paths::stories260k_hf("tokenizer.json"), 512);
  return tok;
}

// A small tokenizer.json: the vocabulary and merges as JSON text, and the
// other top-level members verbatim.
std::string tiny(const std::string& vocab, const std::string& merges, const std::string& model_extra = "",
                 const std::string& rest = "") {
  return R"({"version":"1.0","model":{"type":"BPE","vocab":)" + vocab + R"(,"merges":)" + merges + model_extra + "}" +
         rest + "}";
}

// The status and message of constructing a tokenizer from these bytes.
std::pair<axe_status, std::string> error_of(const std::string& file, const std::string& config = "",
                                            int32_t n_vocab = 64) {
  try {
    axe::JsonTokenizer t(file, config, "/models/x/tokenizer.json", n_vocab);
  } catch (const axe::Error& e) {
    return {e.status(), e.what()};
  }
  return {AXE_OK, ""};
}

}  // namespace

TEST_CASE("tokenizer.json reproduces llama.cpp's Llama 3 test vectors") {
  const auto& tok = llama3();
  for (const th::VocabVector& v : th::vocab_vectors("ggml-vocab-llama-bpe.gguf")) {
    CAPTURE(v.text);
    const Ids ids = tok.encode(v.text, false);
    CHECK(ids == v.ids);
    CHECK(decode(tok, ids) == v.text);
  }
}

TEST_CASE("tokenizer.json gives the TinyStories ids of Llama 3") {
  const auto& tok = llama3();
  const std::string text = slurp(test_paths::shared("data/tinystories/eval.txt"));
  const Ids ids = tok.encode(text, tok.adds_bos());
  CHECK(ids.front() == 128000);
  CHECK(ids == read_ids(test_paths::shared("data/tinystories/eval.llama3.ids")));
  CHECK(decode(tok, ids, false) == text);
}

TEST_CASE("tokenizer.json of stories260K gives the ids of tok512.bin") {
  const auto& tok = stories();
  const axe::Llama2cTokenizer bin(test_paths::tok512(), 512);
  const std::string text = slurp(test_paths::shared("data/tinystories/eval.txt"));
  const Ids ids = tok.encode(text, true);
  CHECK(ids == bin.encode(text, true));
  CHECK(ids == read_ids(test_paths::shared("data/tinystories/eval.tok512.ids")));
  CHECK(decode(tok, ids, false) == decode(bin, ids));  // llama2.c's BOS gives no text
  CHECK(decode(tok, ids, false) == text);
  // Line by line too: many short texts, each with its dummy prefix.
  for (const std::string& line : split(text.substr(0, 20000), "\n")) {
    CAPTURE(line);
    CHECK(tok.encode(line, false) == bin.encode(line, false));
    CHECK(tok.encode(line, true, true) == bin.encode(line, true, true));
  }
}

TEST_CASE("tokenizer.json settings: BOS and EOS and end of turn") {
  const auto& l3 = llama3();
  CHECK(l3.kind() == "tokenizer.json");
  CHECK(l3.n_vocab() == kLlama3Vocab);
  CHECK(l3.bos() == 128000);  // the post-processor's template
  CHECK(l3.adds_bos());
  CHECK(l3.eos() == 128001);  // <|end_of_text|>: no tokenizer_config.json
  CHECK(l3.end_of_turn_ids() == Ids{128008, 128009});
  CHECK(l3.token_text(128009) == "<|eot_id|>");
  CHECK(l3.token_text(1) == "\"");
  CHECK(l3.token_text(kLlama3Vocab).empty());
  CHECK(l3.token_text(-1).empty());
  CHECK(l3.encode("", true) == Ids{128000});
  CHECK(l3.encode("", false).empty());

  // An instruct model's tokenizer_config.json: EOS is <|eot_id|>, which then
  // is not among the other end-of-turn ids.
  const axe::JsonTokenizer instruct(l3.file_bytes(),
                                    R"({"bos_token":"<|begin_of_text|>","eos_token":{"content":"<|eot_id|>"},)"
                                    R"("add_bos_token":false})",
                                    "llama3/tokenizer.json", kLlama3Vocab);
  CHECK(instruct.eos() == 128009);
  CHECK(instruct.bos() == 128000);
  CHECK_FALSE(instruct.adds_bos());
  CHECK(instruct.end_of_turn_ids() == Ids{128008});
  CHECK(instruct.settings_bytes().find("eot_id") != std::string::npos);

  const auto& st = stories();
  CHECK(st.bos() == 1);
  CHECK(st.eos() == 2);
  CHECK(st.adds_bos());
  CHECK(st.end_of_turn_ids().empty());  // </s> is EOS
  CHECK(st.token_text(1) == "<s>");
  CHECK(st.token_text(3) == "<0x00>");
}

TEST_CASE("tokenizer.json rebuilds through make_tokenizer and accepts a padded model vocabulary") {
  const auto& st = stories();
  const auto copy = axe::make_tokenizer(st.kind(), st.file_bytes(), st.settings_bytes(), "copy", 512);
  const std::string text = "Once upon a time, there was a llama.";
  CHECK(copy->encode(text, true) == st.encode(text, true));
  CHECK(copy->bos() == 1);

  // More model rows than tokens is fine; fewer is an error naming the file.
  const axe::JsonTokenizer padded(st.file_bytes(), st.settings_bytes(), "padded", 600);
  CHECK(padded.n_vocab() == 600);
  CHECK(padded.token_text(599).empty());
  char b;
  CHECK(padded.piece(-1, 599, &b).empty());
  CHECK(padded.encode(text, true) == st.encode(text, true));
  try {
    axe::JsonTokenizer(st.file_bytes(), "", "/m/tokenizer.json", 511);
    FAIL("no error");
  } catch (const axe::Error& e) {
    CHECK(e.status() == AXE_ERR_FORMAT);
    CHECK(std::string(e.what()).find("/m/tokenizer.json") != std::string::npos);
    CHECK(std::string(e.what()).find("511") != std::string::npos);
  }
}

TEST_CASE("tokenizer.json decodes what it encodes") {
  const std::vector<std::string> texts = {
      "Hello world",
      " Hello world",
      "   three leading spaces and two trailing  ",
      "tabs\tand\nnew\n\nlines\r\n and \r carriage returns",
      "\n\n\n",
      "emoji 👍🏽 🦙 🏳️‍🌈 and a family 👨‍👩‍👧‍👦",
      "日本語のテキストと中文文本",
      "한국어 텍스트",
      "Ελληνικά και русский текст",
      "עברית ועربية",
      "e\xCC\x81 combining and \xC7\x85 titlecase",
      "digits 1234567890 and 3.14159 and 1,000,000",
      "symbols !@#$%^&*()_+-=[]{}|;':\",./<>?`~",
      "it's we've they'll I'd you're I'M",
      std::string("a NUL \0 inside", 14),
  };
  for (const axe::Tokenizer* tok : {static_cast<const axe::Tokenizer*>(&llama3()), static_cast<const axe::Tokenizer*>(&stories())}) {
    for (const std::string& t : texts) {
      CAPTURE(t);
      const Ids ids = tok->encode(t, true);
      CHECK(decode(*tok, ids, false) == t);
      for (int32_t id : ids) CHECK((id >= 0 && id < tok->n_vocab()));
    }
  }
}

TEST_CASE("tokenizer.json keeps the bytes of invalid UTF-8") {
  // Hugging Face only takes valid UTF-8; here an invalid byte is never part
  // of a character or a regular-expression match: it becomes its own byte
  // token and decodes to itself.
  const std::vector<std::string> texts = {
      "\xFF",
      "abc\xFF\xFE" "def",
      "truncated \xE2\x82",
      "overlong \xC0\xAF slash",
      "surrogate \xED\xA0\x80 half",
      "beyond \xF4\x90\x80\x80 U+10FFFF",
      "stray \x80\x81 continuation",
      "\xE2\x96 a cut metaspace",
      "letters\xF0then more",
  };
  for (const axe::Tokenizer* tok : {static_cast<const axe::Tokenizer*>(&llama3()), static_cast<const axe::Tokenizer*>(&stories())}) {
    for (const std::string& t : texts) {
      CAPTURE(t);
      for (bool special : {false, true}) {
        const Ids ids = tok->encode(t, true, special);
        CHECK(decode(*tok, ids, false) == t);
      }
    }
  }
  // The lone byte is the byte-level token of 0xFF ("ÿ" in GPT-2's alphabet).
  const auto& l3 = llama3();
  const Ids ids = l3.encode("abc\xFF" "def", false);
  REQUIRE(ids.size() == 3);
  CHECK(l3.token_text(ids[1]) == "\xC3\xBF");
  // With byte fallback, the byte's <0xNN> token.
  const auto& st = stories();
  int32_t space = -1;
  for (int32_t id = 0; id < st.n_vocab(); ++id)
    if (st.token_text(id) == "\xE2\x96\x81") space = id;
  CHECK(st.encode("\xFF", false) == Ids{space, 3 + 0xFF});
}

TEST_CASE("tokenizer.json splits long runs without trouble") {
  const auto& l3 = llama3();
  for (const std::string& t : {std::string(200000, ' '), std::string(200000, 'a'), std::string(100000, '\n'),
                               std::string(50000, '!') + std::string(50000, '7')}) {
    const Ids ids = l3.encode(t, false);
    CHECK(!ids.empty());
    CHECK(decode(l3, ids) == t);
  }
}

TEST_CASE("tokenizer.json special tokens with parse_special on and off") {
  const auto& l3 = llama3();
  const std::string chat = "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>";
  const Ids on = l3.encode(chat, true, true);
  CHECK(on == Ids{128000, 128006, 882, 128007, 271, 13347, 1070, 128009});
  const Ids off = l3.encode(chat, false, false);
  for (int32_t id : off) CHECK(id < 128000);
  CHECK(decode(l3, off) == chat);
  char b;
  CHECK(l3.piece(-1, 128009, &b, true) == "<|eot_id|>");
  CHECK(l3.piece(-1, 128009, &b, false).empty());
  CHECK(decode(l3, on, false) == "user\n\nHi there");
  CHECK(decode(l3, on, true) == "<|begin_of_text|>" + chat);
  // Unknown "special-looking" text is plain text either way.
  CHECK(l3.encode("<|not_a_token|>", false, true) == l3.encode("<|not_a_token|>", false, false));

  // SentencePiece style: each piece between special tokens gets its own
  // dummy prefix, as with the llama2.c tokenizer.
  const auto& st = stories();
  const axe::Llama2cTokenizer bin(test_paths::tok512(), 512);
  const std::string text = "Hi</s><s>Bye <s> end";
  CHECK(st.encode(text, true, true) == bin.encode(text, true, true));
  CHECK(st.encode(text, true, false) == bin.encode(text, true, false));
  // The piece after BOS loses the dummy prefix's space.
  CHECK(decode(st, st.encode("Hi", true)) == "<s>Hi");
  CHECK(decode(st, st.encode("Hi", true), false) == "Hi");
}

TEST_CASE("tokenizer.json merges as strings or pairs in rank order") {
  const std::string vocab = R"({"a":0,"b":1,"c":2,"ab":3,"bc":4,"abc":5})";
  // "b c" first (rank 0), then "a bc".
  const axe::JsonTokenizer s1(tiny(vocab, R"(["b c","a b","a bc"])"), "", "s1", 6);
  const axe::JsonTokenizer p1(tiny(vocab, R"([["b","c"],["a","b"],["a","bc"]])"), "", "p1", 6);
  CHECK(s1.encode("abc", false) == Ids{5});
  CHECK(p1.encode("abc", false) == Ids{5});
  // "a b" first: then "ab c" has no merge.
  const axe::JsonTokenizer s2(tiny(vocab, R"(["a b","b c","a bc"])"), "", "s2", 6);
  const axe::JsonTokenizer p2(tiny(vocab, R"([["a","b"],["b","c"],["a","bc"]])"), "", "p2", 6);
  CHECK(s2.encode("abc", false) == Ids{3, 2});
  CHECK(p2.encode("abc", false) == Ids{3, 2});
  // Equal ranks: leftmost first.
  CHECK(s2.encode("ababab", false) == Ids{3, 3, 3});
  CHECK(s1.encode("bcbc", false) == Ids{4, 4});
  // "#version" lines of the string form are skipped.
  const axe::JsonTokenizer v(tiny(vocab, R"(["#version: 0.2","b c","a bc"])"), "", "v", 6);
  CHECK(v.encode("abc", false) == Ids{5});
}

TEST_CASE("tokenizer.json model options: ignore_merges and unk and byte_fallback") {
  const std::string vocab = R"({"<unk>":0,"a":1,"b":2,"c":3,"abc":4,"<0xC3>":5,"<0xA9>":6})";
  const axe::JsonTokenizer plain(tiny(vocab, "[]"), "", "plain", 7);
  CHECK(plain.encode("abc", false) == Ids{1, 2, 3});
  const axe::JsonTokenizer ignore(tiny(vocab, "[]", R"(,"ignore_merges":true)"), "", "ignore", 7);
  CHECK(ignore.encode("abc", false) == Ids{4});
  // Without an unknown token an unknown character is dropped.
  CHECK(plain.encode("axxb", false) == Ids{1, 2});
  const axe::JsonTokenizer unk(tiny(vocab, "[]", R"(,"unk_token":"<unk>")"), "", "unk", 7);
  CHECK(unk.encode("axxb", false) == Ids{1, 0, 0, 2});
  const axe::JsonTokenizer fused(tiny(vocab, "[]", R"(,"unk_token":"<unk>","fuse_unk":true)"), "", "fused", 7);
  CHECK(fused.encode("axxbx", false) == Ids{1, 0, 2, 0});
  const axe::JsonTokenizer fallback(tiny(vocab, "[]", R"(,"unk_token":"<unk>","byte_fallback":true)"), "", "fb", 7);
  CHECK(fallback.encode("a\xC3\xA9" "x", false) == Ids{1, 5, 6, 0});  // é has both bytes, x has none
}

TEST_CASE("tokenizer.json Metaspace pre-tokenizer schemes") {
  // "▁" is U+2581.
  const std::string vocab =
      R"({"<s>":0,"\u2581":1,"h":2,"i":3,"o":4,"\u2581h":5,"\u2581o":6,"i\u2581":7,"x":8})";
  const std::string merges = R"(["i \u2581","\u2581 h","\u2581 o"])";
  const std::string added = R"(,"added_tokens":[{"id":0,"content":"<s>","special":true}])";
  auto make = [&](const std::string& meta) {
    return axe::JsonTokenizer(tiny(vocab, merges, "", added + R"(,"pre_tokenizer":{"type":"Metaspace",)" + meta + "}"),
                              "", "meta", 9);
  };
  const auto first = make(R"("replacement":"\u2581","prepend_scheme":"first","split":true)");
  CHECK(first.encode("hi oh", false) == Ids{5, 3, 6, 2});
  CHECK(first.encode("<s>hi", false, true) == Ids{0, 2, 3});  // not at the start of the text
  const auto always = make(R"("replacement":"\u2581","prepend_scheme":"always","split":true)");
  CHECK(always.encode("<s>hi", false, true) == Ids{0, 5, 3});
  const auto never = make(R"("replacement":"\u2581","prepend_scheme":"never","split":true)");
  CHECK(never.encode("hi oh", false) == Ids{2, 3, 6, 2});
  // split false: one word, so "i ▁" (rank 0) merges across the space.
  const auto whole = make(R"("replacement":"\u2581","prepend_scheme":"first","split":false)");
  CHECK(whole.encode("hi oh", false) == Ids{5, 7, 4, 2});
  // A text starting with a space is not given a second "▁".
  CHECK(first.encode(" hi", false) == Ids{5, 3});
  // The legacy form: add_prefix_space.
  const auto legacy = make(R"("replacement":"\u2581","add_prefix_space":true)");
  CHECK(legacy.encode("<s>hi", false, true) == Ids{0, 5, 3});
}

TEST_CASE("tokenizer.json Split behaviors and a ByteLevel pre-tokenizer with its own regex") {
  // Digits split from letters by a Split on \d+ (Isolated) and removed (Removed).
  const std::string vocab = R"({"a":0,"b":1,"1":2,"2":3,"ab":4,"12":5,"b1":6})";
  const std::string merges = R"(["a b","1 2","b 1"])";
  auto make = [&](const std::string& behavior, bool invert = false) {
    return axe::JsonTokenizer(tiny(vocab, merges, "",
                                   R"(,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\d+"},"behavior":")" +
                                       behavior + R"(","invert":)" + (invert ? "true" : "false") + "}"),
                              "", "split", 7);
  };
  CHECK(make("Isolated").encode("ab12ab", false) == Ids{4, 5, 4});
  CHECK(make("Removed").encode("ab12ab", false) == Ids{4, 4});
  CHECK(make("MergedWithPrevious").encode("ab12", false) == Ids{4, 5});
  CHECK(make("Contiguous").encode("ab12", false) == Ids{4, 5});
  // The digit joins the letter before it, or the one after it.
  CHECK(make("MergedWithPrevious").encode("b1b", false) == Ids{6, 1});
  CHECK(make("MergedWithNext").encode("b1b", false) == Ids{1, 2, 1});
  CHECK(make("Removed", true).encode("ab12ab", false) == Ids{5});

  // ByteLevel with use_regex: GPT-2's pattern, prefix space, byte-level
  // vocabulary ("Ġ" is the space).
  const std::string bl_vocab = R"({"h":0,"i":1,"\u0120":2,"\u0120h":3,"hi":4,"\u0120hi":5,"!":6})";
  const axe::JsonTokenizer bl(
      tiny(bl_vocab, R"(["\u0120 h","h i","\u0120h i"])", "",
           R"(,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},)"
           R"("decoder":{"type":"ByteLevel"})"),
      "", "bl", 7);
  CHECK(bl.encode("hi hi!", false) == Ids{5, 5, 6});
  CHECK(decode(bl, bl.encode("hi hi!", false)) == " hi hi!");
}

TEST_CASE("tokenizer.json added tokens: non-special matched always and lstrip and rstrip and single_word") {
  const std::string vocab = R"({"a":0,"b":1," ":2,"<":3,"t":4,">":5})";
  const std::string added =
      R"(,"added_tokens":[)"
      R"({"id":6,"content":"<t>","special":false,"normalized":false},)"
      R"({"id":7,"content":"[L]","special":true,"lstrip":true,"normalized":false},)"
      R"({"id":8,"content":"[R]","special":true,"rstrip":true,"normalized":false},)"
      R"({"id":9,"content":"W","special":false,"single_word":true,"normalized":false},)"
      R"({"id":10,"content":"<t>>","special":true,"normalized":false}])";
  const axe::JsonTokenizer tok(tiny(vocab, "[]", "", added), "", "added", 11);
  // A non-special added token is matched with parse_special off too.
  CHECK(tok.encode("a<t>b", false, false) == Ids{0, 6, 1});
  // Longest first: "<t>>" is special, so with parse_special off it is plain
  // text (and hides the "<t>" inside it, as in Hugging Face).
  CHECK(tok.encode("a<t>>", false, true) == Ids{0, 10});
  CHECK(tok.encode("a<t>>", false, false) == Ids{0, 3, 4, 5, 5});
  CHECK(tok.encode("a  [L] b", false, true) == Ids{0, 7, 2, 1});
  CHECK(tok.encode("a [R]  b", false, true) == Ids{0, 2, 8, 1});
  CHECK(tok.encode("a W b", false) == Ids{0, 2, 9, 2, 1});
  CHECK(tok.encode("aWb", false) == Ids{0, 1});  // not a word: plain text, and W is not in the vocabulary
  char c;
  CHECK(tok.piece(-1, 6, &c, false) == "<t>");  // non-special: always its text
  CHECK(tok.piece(-1, 7, &c, false).empty());
  CHECK(tok.piece(-1, 7, &c, true) == "[L]");
}

TEST_CASE("tokenizer.json normalized added tokens match after the normalizer") {
  // Legacy SentencePiece normalizer: "▁" prepended, spaces replaced.
  const std::string vocab = R"({"\u2581":0,"a":1,"b":2,"\u2581a":3})";
  const std::string rest =
      R"(,"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"\u2581"},)"
      R"({"type":"Replace","pattern":{"String":" "},"content":"\u2581"}]},)"
      R"("added_tokens":[{"id":4,"content":"b b","special":false,"normalized":true}],)"
      R"("decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"\u2581"},"content":" "},)"
      R"({"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]})";
  const axe::JsonTokenizer tok(tiny(vocab, R"(["\u2581 a"])", "", rest), "", "norm", 5);
  CHECK(tok.encode("a b b", false) == Ids{3, 4});  // "▁a▁b▁b": "▁b▁b" is the normalized token
  CHECK(tok.encode("a", false) == Ids{3});
}

TEST_CASE("tokenizer.json refuses hostile files with one-line messages") {
  const std::string ok_vocab = R"({"a":0,"b":1,"ab":2})";
  struct Case {
    std::string file, config, expect;
    axe_status status;
  };
  const std::vector<Case> cases = {
      {"not json", "", "not valid JSON", AXE_ERR_FORMAT},
      {"", "", "not valid JSON", AXE_ERR_FORMAT},
      {"[1,2]", "", "expected an object", AXE_ERR_FORMAT},
      {R"({"version":"1.0"})", "", "model: missing", AXE_ERR_FORMAT},
      {R"({"model":[]})", "", "model: expected an object", AXE_ERR_FORMAT},
      {R"({"model":{"type":"Unigram","vocab":[]}})", "", "model.type: 'Unigram' is not supported", AXE_ERR_UNSUPPORTED},
      {R"({"model":{"type":"BPE","merges":[]}})", "", "model.vocab: missing", AXE_ERR_FORMAT},
      {tiny(R"({"a":"zero"})", "[]"), "", "model.vocab['a']: expected an integer id, got string", AXE_ERR_FORMAT},
      {tiny(R"({"a":1.5})", "[]"), "", "model.vocab['a']: expected an integer id", AXE_ERR_FORMAT},
      {tiny(R"({"a\nb":1.5})", "[]"), "", "model.vocab['a\\x0Ab']: expected an integer id", AXE_ERR_FORMAT},
      {tiny(R"({"a":-1})", "[]"), "", "model.vocab['a']: -1 is out of range", AXE_ERR_FORMAT},
      {tiny(R"({"a":64})", "[]"), "", "beyond the model's vocabulary of 64", AXE_ERR_FORMAT},
      {tiny(R"({"a":99999999999})", "[]"), "", "out of range", AXE_ERR_FORMAT},
      {tiny(R"({"a":0,"b":0})", "[]"), "", "model.vocab: id 0 is given to both 'a' and 'b'", AXE_ERR_FORMAT},
      {tiny(R"({})", "[]"), "", "model.vocab: empty", AXE_ERR_FORMAT},
      {tiny(ok_vocab, R"("a b")"), "", "model.merges: expected an array", AXE_ERR_FORMAT},
      {tiny(ok_vocab, R"(["a x"])"), "", "model.merges[0]: 'x' is not in model.vocab", AXE_ERR_FORMAT},
      {tiny(ok_vocab, R"(["b a"])"), "", "model.merges[0]: the merged piece 'ba' is not in model.vocab", AXE_ERR_FORMAT},
      {tiny(ok_vocab, R"(["ab"])"), "", "model.merges[0]: 'ab' is not two pieces", AXE_ERR_FORMAT},
      {tiny(ok_vocab, R"(["a b c"])"), "", "model.merges[0]", AXE_ERR_FORMAT},
      {tiny(ok_vocab, R"([["a"]])"), "", "model.merges[0]: expected two pieces, got 1", AXE_ERR_FORMAT},
      {tiny(ok_vocab, R"([["a",1]])"), "", "model.merges[0][1]: expected a string, got number", AXE_ERR_FORMAT},
      {tiny(ok_vocab, R"([7])"), "", "model.merges[0]: expected a string or an array", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", R"(,"unk_token":"<unk>")"), "", "model.unk_token: '<unk>' is not in model.vocab", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", R"(,"byte_fallback":"yes")"), "", "model.byte_fallback: expected a boolean", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", R"(,"continuing_subword_prefix":"##")"), "", "model.continuing_subword_prefix: '##' is not supported", AXE_ERR_UNSUPPORTED},
      {tiny(ok_vocab, "[]", R"(,"end_of_word_suffix":"</w>")"), "", "model.end_of_word_suffix", AXE_ERR_UNSUPPORTED},
      {tiny(ok_vocab, "[]", "", R"(,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated","invert":false})"),
       "", "pre_tokenizer.pattern.Regex: invalid regular expression '(unclosed'", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a"},"behavior":"Sideways","invert":false})"),
       "", "pre_tokenizer.behavior: unknown behavior 'Sideways'", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"pre_tokenizer":{"type":"Whitespace"})"), "", "pre_tokenizer.type: pre-tokenizer 'Whitespace' is not supported", AXE_ERR_UNSUPPORTED},
      {tiny(ok_vocab, "[]", "", R"(,"pre_tokenizer":{"pretokenizers":[]})"), "", "pre_tokenizer.type: missing", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"ByteLevel","use_regex":false},{"type":"Split","pattern":{"String":"a"},"behavior":"Isolated","invert":false}]})"),
       "", "pre_tokenizer.pretokenizers[1]: a pre-tokenizer after ByteLevel is not supported", AXE_ERR_UNSUPPORTED},
      {tiny(ok_vocab, "[]", "", R"(,"normalizer":{"type":"NFKC"})"), "", "normalizer.type: normalizer 'NFKC' is not supported", AXE_ERR_UNSUPPORTED},
      {tiny(ok_vocab, "[]", "", R"(,"decoder":{"type":"WordPiece"})"), "", "decoder.type: decoder 'WordPiece' is not supported", AXE_ERR_UNSUPPORTED},
      {tiny(ok_vocab, "[]", "", R"(,"added_tokens":{})"), "", "added_tokens: expected an array, got object", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"added_tokens":[{"id":0,"content":"x"}])"), "", "added_tokens[0].id: id 0 ('x') is model.vocab's 'a'", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"added_tokens":[{"id":5,"content":"a"}])"), "", "added_tokens[0].id: 'a' has id 5 but model.vocab gives it 0", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"added_tokens":[{"id":5,"content":"x"},{"id":6,"content":"x"}])"), "", "added_tokens[1].content: 'x' is listed twice", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"added_tokens":[{"id":5,"content":"x"},{"id":5,"content":"y"}])"), "", "added_tokens[1].id: id 5 is listed twice", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"added_tokens":[{"id":5,"content":""}])"), "", "added_tokens[0].content: empty", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"added_tokens":[{"id":64,"content":"x"}])"), "", "added_tokens[0].id: id 64 ('x') is beyond", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"added_tokens":[{"id":5,"content":"x","special":1}])"), "", "added_tokens[0].special: expected a boolean, got number", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}}]})"),
       "", "post_processor.single[0].SpecialToken.id: '<s>' is not a token", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]", "", R"(,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}}],"special_tokens":{"<s>":{"id":"<s>","ids":[64],"tokens":["<s>"]}}})"),
       "", "post_processor.special_tokens['<s>'].ids[0]: 64 is out of range", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]"), "{", "/models/x/tokenizer_config.json: not valid JSON", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]"), R"({"bos_token":"<s>"})", "/models/x/tokenizer_config.json: bos_token: '<s>' is not a token", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]"), R"({"eos_token":5})", "/models/x/tokenizer_config.json: eos_token: expected a string or an object", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]"), R"({"bos_token":{"text":"a"}})", "tokenizer_config.json: bos_token.content: missing", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]"), R"({"add_bos_token":"true"})", "tokenizer_config.json: add_bos_token: expected a boolean, got string", AXE_ERR_FORMAT},
      {tiny(ok_vocab, "[]"), "[]", "tokenizer_config.json: the top level: expected an object", AXE_ERR_FORMAT},
  };
  for (const Case& c : cases) {
    CAPTURE(c.file);
    CAPTURE(c.config);
    const auto [status, message] = error_of(c.file, c.config);
    CHECK(status == c.status);
    CHECK(message.find(c.expect) != std::string::npos);
    CHECK(message.find("/models/x/") == 0);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("tokenizer.json refuses sizes and nesting that would exhaust resources") {
  // One huge id for a handful of tokens would size the table by the id.
  {
    const auto [status, message] = error_of(tiny(R"({"a":0,"b":2000000000})", "[]"), "", 2100000000);
    CHECK(status == AXE_ERR_FORMAT);
    CHECK(message.find("model.vocab: ids reach 2000000000 for only 2 tokens") != std::string::npos);
  }
  // Deeply nested sequences.
  std::string seq = R"({"type":"Prepend","prepend":"x"})";
  for (int i = 0; i < 40; ++i) seq = R"({"type":"Sequence","normalizers":[)" + seq + "]}";
  {
    const auto [status, message] = error_of(tiny(R"({"a":0})", "[]", "", R"(,"normalizer":)" + seq));
    CHECK(status == AXE_ERR_FORMAT);
    CHECK(message.find("nested too deeply") != std::string::npos);
  }
  // Deep JSON nesting in an ignored member is only parsed.
  {
    const auto [status, message] =
        error_of(tiny(R"({"a":0})", "[]", "", R"(,"truncation":)" + std::string(10000, '[') + std::string(10000, ']')));
    CHECK(status == AXE_OK);
  }
  CHECK(error_of(tiny(R"({"a":0})", "[]"), "", 0).first == AXE_ERR_FORMAT);
  CHECK(error_of(tiny(R"({"a":0})", "[]"), "", -5).first == AXE_ERR_FORMAT);
}

TEST_CASE("tokenizer.json refuses normalizer and decoder steps that grow text exponentially") {
  // 40 Replace steps "a" -> "aa": every piece would grow 2^40-fold.
  std::string steps;
  for (int i = 0; i < 40; ++i)
    steps += std::string(i ? "," : "") + R"({"type":"Replace","pattern":{"String":"a"},"content":"aa"})";
  const std::string json = R"({"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,)"
                           R"("post_processor":null,"decoder":{"type":"Sequence","decoders":[)" + steps +
                           R"(]},"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]}})";
  try {
    axe::JsonTokenizer tok(json, "", "grow.json", 2);
    FAIL("an exponentially growing decoder was accepted");
  } catch (const axe::Error& e) {
    CHECK(std::string(e.what()).find("grow.json: decoder") != std::string::npos);
  }
}
