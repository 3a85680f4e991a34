// axe tokenize: a text's token ids, as llama.cpp's llama-tokenize prints them,
// so that tokenization can be compared with other tools.
#include "commands.h"
#include "api_handles.h"

namespace cli {

int cmd_tokenize(int argc, char** argv) {
  ModelFlags mf;
  std::string text;
  bool have_text = false, ids_only = false, special = false, no_bos = false, show_count = false;
  ArgParser p("tokenize", "-m MODEL (-p TEXT | -f FILE) [--ids] [--special] [--no-bos]",
              "Prints the tokens of a text: one 'id -> 'piece'' per line, or with --ids the list of ids.\n"
              "BOS comes first when the model's tokenizer adds it (not with --no-bos).");
  mf.add_to(p, false);
  p.add({"-p", "--prompt"}, "TEXT", "the text", [&](auto&, auto& v) { text = v, have_text = true; });
  p.add({"-f", "--file"}, "FILE", "read the text from a file", [&](auto&, auto& v) {
    text = read_file(v);
    have_text = true;
  });
  p.add_switch({"--ids"}, "print only the ids, as a list [1, 2, 3]", [&] { ids_only = true; });
  p.add_switch({"--special"}, "special tokens written in the text (\"<|eot_id|>\") become their ids", [&] { special = true; });
  p.add_switch({"--no-bos"}, "do not add BOS", [&] { no_bos = true; });
  p.add_switch({"--show-count"}, "print the number of tokens at the end", [&] { show_count = true; });
  if (!p.parse(argc, argv, 2)) return 0;
  mf.require_model(p);
  if (!have_text) throw UsageError("give the text with -p TEXT or -f FILE");

  ModelPtr model = load_model(mf);
  const bool add_bos = !no_bos && axe_model_adds_bos(model.get());
  const std::vector<axe_token> ids = tokenize(model.get(), text, add_bos, special);
  if (ids_only) {
    std::string line = "[";
    for (size_t i = 0; i < ids.size(); ++i) line += (i ? ", " : "") + std::to_string(ids[i]);
    std::printf("%s]\n", line.c_str());
  } else {
    for (axe_token id : ids) {
      std::string s = piece(model.get(), -1, id);
      if (s.empty()) {  // BOS/EOS of a llama2.c vocabulary decode to nothing: show their text
        size_t n = 0;
        std::string buf(64, '\0');
        if (axe_token_get_text(model.get(), id, buf.data(), buf.size(), &n) == AXE_OK) s = buf.substr(0, n);
      }
      std::printf("%6d -> '%s'\n", id, s.c_str());
    }
  }
  if (show_count) std::printf("Total number of tokens: %zu\n", ids.size());
  return 0;
}

}  // namespace cli
