// C API behaviour a program relies on: decode positions, rewinding, the
// context limit, which logits exist, buffer sizes, params versioning.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstring>

#include "api_helpers.h"
#include "temp_dir.h"

TEST_CASE("decode: positions, gaps, rewinding and the context limit") {
  auto m = th::load();
  auto c = th::context(m.get(), nullptr, 1, 16);
  CHECK(axe_context_n_ctx(c.get()) == 16);
  const axe_token toks[4] = {1, 403, 407, 261};
  int32_t pos[4] = {0, 1, 2, 3};
  REQUIRE(axe_decode(c.get(), toks, pos, 4, nullptr) == AXE_OK);
  CHECK(axe_context_n_past(c.get()) == 4);
  CHECK(axe_get_logits(c.get(), -1) != nullptr);
  CHECK(axe_get_logits(c.get(), 0) == nullptr);  // not requested
  CHECK(std::string(axe_context_last_error(c.get())).find("no logits") != std::string::npos);
  CHECK(axe_get_logits(c.get(), 4) == nullptr);

  int32_t gap = 6;
  CHECK(axe_decode(c.get(), toks, &gap, 1, nullptr) == AXE_ERR_INVALID_ARGUMENT);
  int32_t bad_pos[2] = {4, 6};
  CHECK(axe_decode(c.get(), toks, bad_pos, 2, nullptr) == AXE_ERR_INVALID_ARGUMENT);
  const axe_token bad_tok = 512;
  int32_t p4 = 4;
  CHECK(axe_decode(c.get(), &bad_tok, &p4, 1, nullptr) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(axe_context_n_past(c.get()) == 4);  // failed calls change nothing

  // Rewinding to position 2 and re-decoding gives the same logits as before.
  const int32_t V = th::n_vocab(m.get());
  std::vector<float> before(axe_get_logits(c.get(), -1), axe_get_logits(c.get(), -1) + V);
  REQUIRE(axe_decode(c.get(), toks + 2, pos + 2, 2, nullptr) == AXE_OK);
  CHECK(std::equal(before.begin(), before.end(), axe_get_logits(c.get(), -1)));

  std::vector<axe_token> many(13, 300);
  int32_t p[13];
  for (int i = 0; i < 13; ++i) p[i] = 4 + i;
  CHECK(axe_decode(c.get(), many.data(), p, 13, nullptr) == AXE_ERR_CONTEXT_FULL);
  CHECK(axe_decode(c.get(), many.data(), p, 12, nullptr) == AXE_OK);
  CHECK(axe_context_n_past(c.get()) == 16);
}

TEST_CASE("batches larger than n_batch are split with the same results") {
  auto m = th::load();
  axe_context_params p = axe_context_default_params();
  p.n_batch = 3;
  p.n_threads = 1;
  axe_context* small = nullptr;
  REQUIRE(axe_context_create(m.get(), &p, &small) == AXE_OK);
  th::Context a(small);
  auto b = th::context(m.get(), nullptr, 1);
  std::vector<axe_token> toks{1, 403, 407, 261, 378, 290, 41, 5};
  std::vector<int32_t> pos{0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<int8_t> want{0, 1, 0, 0, 1, 0, 0, 1};
  REQUIRE(axe_decode(a.get(), toks.data(), pos.data(), 8, want.data()) == AXE_OK);
  REQUIRE(axe_decode(b.get(), toks.data(), pos.data(), 8, want.data()) == AXE_OK);
  const int32_t V = th::n_vocab(m.get());
  for (int i : {1, 4, 7}) CHECK(std::equal(axe_get_logits(a.get(), i), axe_get_logits(a.get(), i) + V, axe_get_logits(b.get(), i)));
}

TEST_CASE("tokenize and detokenize report the size they need") {
  auto m = th::load();
  const char* text = "Once upon a time";
  size_t n = 0;
  CHECK(axe_tokenize(m.get(), text, std::strlen(text), 1, nullptr, 0, &n) == AXE_ERR_BUFFER_TOO_SMALL);
  CHECK(n > 3);
  std::vector<axe_token> toks(n);
  size_t n2 = 0;
  CHECK(axe_tokenize(m.get(), text, std::strlen(text), 1, toks.data(), toks.size(), &n2) == AXE_OK);
  CHECK(n2 == n);
  size_t len = 0;
  CHECK(axe_detokenize(m.get(), toks.data(), n, nullptr, 0, &len) == AXE_ERR_BUFFER_TOO_SMALL);
  CHECK(len == std::strlen(text));
  std::vector<char> buf(len + 1);
  CHECK(axe_detokenize(m.get(), toks.data(), n, buf.data(), buf.size(), &len) == AXE_OK);
  CHECK(std::string(buf.data()) == text);
  char piece[4];
  CHECK(axe_token_to_piece(m.get(), -1, 99999, piece, sizeof piece, &len) == AXE_ERR_INVALID_ARGUMENT);
}

TEST_CASE("params structs: unset sizes are rejected, smaller (older) structs keep defaults") {
  auto m = th::load();
  axe_context_params p{};  // struct_size not set
  axe_context* c = nullptr;
  CHECK(axe_context_create(m.get(), &p, &c) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(c == nullptr);
  CHECK(std::string(axe_last_error()).find("struct_size") != std::string::npos);

  axe_context_params old = axe_context_default_params();
  old.struct_size = offsetof(axe_context_params, n_batch);  // knows only n_ctx
  old.n_ctx = 32;
  old.n_batch = 0;  // beyond its size: must be ignored
  REQUIRE(axe_context_create(m.get(), &old, &c) == AXE_OK);
  CHECK(axe_context_n_ctx(c) == 32);
  axe_context_free(c);

  axe_context_params forced = axe_context_default_params();
  forced.target = "avx9000";
  CHECK(axe_context_create(m.get(), &forced, &c) == AXE_ERR_INVALID_ARGUMENT);

  // An older, smaller result struct reused for a second call: struct_size
  // says what was written and never grows past the caller's own size, so
  // the bytes after it are never touched.
  struct Guarded {
    axe_model_info info;
    unsigned char after[64];
  } g{};
  std::memset(g.after, 0xAB, sizeof g.after);
  const size_t old_size = offsetof(axe_model_info, n_vocab);
  g.info.struct_size = old_size;
  for (int call = 0; call < 2; ++call) {
    REQUIRE(axe_model_get_info(m.get(), &g.info) == AXE_OK);
    CHECK(g.info.struct_size == old_size);
    CHECK(g.info.dim == 64);
  }
  CHECK(g.info.n_vocab == 0);  // beyond the old size: untouched
  for (unsigned char b : g.after) REQUIRE(b == 0xAB);

  // A quantize params struct from before keep_output_f32 existed keeps the
  // old files: classifier and embedding in fp32.
  TempDir dir;
  axe_quantize_params qp = axe_quantize_default_params();
  qp.n_threads = 1;
  qp.struct_size = offsetof(axe_quantize_params, rotate);
  const std::string out = dir.file("old.axe");
  REQUIRE(axe_quantize(m.get(), out.c_str(), &qp) == AXE_OK);
  axe_verify_result v{};
  v.struct_size = sizeof v;
  REQUIRE(axe_verify(out.c_str(), &v) == AXE_OK);
  CHECK(v.layers == 35);  // no classifier layer
}

TEST_CASE("model info describes stories260K") {
  auto m = th::load();
  axe_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(axe_model_get_info(m.get(), &info) == AXE_OK);
  CHECK(info.dim == 64);
  CHECK(info.n_layers == 5);
  CHECK(info.n_heads == 8);
  CHECK(info.n_kv_heads == 4);
  CHECK(info.n_vocab == 512);
  CHECK(info.n_ctx_train == 512);
  CHECK(info.shared_classifier == 1);
  CHECK(info.n_params == 64 * 512 + 5 * (2 * 64 + 64 * 64 * 2 + 2 * 32 * 64 + 3 * 64 * 172) + 64);
  CHECK(info.size_bytes == info.n_params * 4);
  // One generated token reads every linear layer, the norm gains and one
  // embedding row; a shared classifier is the whole table (fp32 here).
  const uint64_t D = info.dim, H = info.hidden_dim, L = info.n_layers, V = info.n_vocab;
  const uint64_t KV = D / info.n_heads * info.n_kv_heads;  // k and v rows
  const uint64_t per_layer = 2 * D * D + 2 * KV * D + 3 * H * D + 2 * D;  // wq wo, wk wv, w1 w2 w3, two norms
  const uint64_t table_and_classifier = info.shared_classifier ? V * D : D + V * D;
  CHECK(info.decode_bytes == 4 * (L * per_layer + D + table_and_classifier));
}

TEST_CASE("log callback receives messages") {
  struct Seen {
    int count = 0;
  } seen;
  axe_set_log_callback([](axe_log_level, const char* msg, void* u) {
    if (std::strstr(msg, "stories260K")) static_cast<Seen*>(u)->count++;
  }, &seen);
  { auto m = th::load(); }
  axe_set_log_callback(nullptr, nullptr);
  CHECK(seen.count == 1);
}

TEST_CASE("a progress callback can abort loading") {
  axe_model_params p = axe_model_default_params();
  p.progress = [](float, void*) { return 0; };
  axe_model* m = nullptr;
  CHECK(axe_model_load(test_paths::stories260k().c_str(), &p, &m) == AXE_ERR_ABORTED);
  CHECK(m == nullptr);
}

TEST_CASE("chat templates through the C API: named families, sizes, errors") {
  th::Model m = th::load(test_paths::stories260k_hf(""));
  const axe_chat_message msgs[] = {{"system", "Be brief."}, {"user", "Hi"}};
  size_t n = 0;
  // Size first, then the text; the family by name.
  REQUIRE(axe_chat_apply_template(m.get(), "chatml", msgs, 2, 1, nullptr, 0, &n) == AXE_ERR_BUFFER_TOO_SMALL);
  std::string buf(n + 1, '\0');
  REQUIRE(axe_chat_apply_template(m.get(), "chatml", msgs, 2, 1, buf.data(), buf.size(), &n) == AXE_OK);
  CHECK(buf.substr(0, n) ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  CHECK(buf[n] == '\0');
  // Llama 2's family writes the model's own BOS/EOS texts.
  REQUIRE(axe_chat_apply_template(m.get(), "llama2", msgs + 1, 1, 1, buf.data(), buf.size(), &n) == AXE_OK);
  CHECK(buf.substr(0, n).rfind("<s>", 0) == 0);
  // A Jinja source is recognised by its markers.
  const char* jinja = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}";
  REQUIRE(axe_chat_apply_template(m.get(), jinja, msgs, 2, 1, buf.data(), buf.size(), &n) == AXE_OK);
  CHECK(buf.substr(0, n).rfind("<|im_start|>system", 0) == 0);
  // Unknown templates and a model without one are AXE_ERR_UNSUPPORTED with a message; bad roles are refused.
  CHECK(axe_chat_apply_template(m.get(), "{{ frob }}", msgs, 2, 1, buf.data(), buf.size(), &n) == AXE_ERR_UNSUPPORTED);
  CHECK(std::string(axe_model_last_error(m.get())).find("not one axe recognises") != std::string::npos);
  CHECK(axe_chat_apply_template(m.get(), nullptr, msgs, 2, 1, buf.data(), buf.size(), &n) == AXE_ERR_UNSUPPORTED);
  const axe_chat_message bad[] = {{"wizard", "x"}};
  CHECK(axe_chat_apply_template(m.get(), "chatml", bad, 1, 1, buf.data(), buf.size(), &n) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(std::string(axe_chat_template_names()).find("llama3") != std::string::npos);
  // Stop ids: the folder's EOS; BOS is added as tokenizer_config.json says.
  axe_token ids[4];
  REQUIRE(axe_model_stop_ids(m.get(), ids, 4, &n) == AXE_OK);
  CHECK(n == 1);
  CHECK(ids[0] == 2);
  CHECK(axe_token_is_stop(m.get(), 2) == 1);
  CHECK(axe_token_is_stop(m.get(), 1) == 0);
  CHECK(axe_model_adds_bos(m.get()) == 1);
  REQUIRE(axe_token_get_text(m.get(), 1, buf.data(), buf.size(), &n) == AXE_OK);
  CHECK(buf.substr(0, n) == "<s>");
}
