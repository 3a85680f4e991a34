// Chat templates without Jinja: every family renders what its reference
// Jinja template renders, byte for byte. Goldens rendered by Jinja from real
// templates are in tests/fixtures/chat (tools/chat_goldens.py, provenance in
// its README); the families with no template in llama.cpp's models/templates
// are checked against expected strings written out below.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "runtime/chat_template.h"
#include "runtime/error.h"

using axe::ChatFamily;
using axe::ChatMessage;

namespace {

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ChatFamily family(std::string_view name) {
  const auto f = axe::chat_family_by_name(name);
  REQUIRE_MESSAGE(f.has_value(), "no family " << std::string(name));
  return *f;
}

// The conversations of tools/chat_goldens.py (keep the two in step).
const std::string kSystem = "You are a helpful assistant. Answer in one sentence.";
const std::string kUser1 = "Hello! Who are you?";
const std::string kAssistant1 = "  I am an assistant, happy to help.  \n";
const std::string kUser2 = "What is the capital of France?\nJust the name, s'il vous pla\xc3\xaet.";

std::vector<ChatMessage> golden_conversation(const std::string& which) {
  if (which == "nosys") return {{"user", kUser1}, {"assistant", kAssistant1}, {"user", kUser2}};
  if (which == "nogen") return {{"system", kSystem}, {"user", kUser1}, {"assistant", kAssistant1}};
  return {{"system", kSystem}, {"user", kUser1}, {"assistant", kAssistant1}, {"user", kUser2}};
}

// llama.cpp's conversation (tests/test-chat-template.cpp), for the families
// checked against written-out strings.
std::vector<ChatMessage> llamacpp_conversation(bool with_system = true) {
  std::vector<ChatMessage> c = {{"system", "You are a helpful assistant"},
                                {"user", "Hello"},
                                {"assistant", "Hi there"},
                                {"user", "Who are you"},
                                {"assistant", "   I am an assistant   "},
                                {"user", "Another question"}};
  if (!with_system) c.erase(c.begin());
  return c;
}

std::string templates_dir() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/axe-peer/llama.cpp/models/templates";
}

}  // namespace

TEST_CASE("chat families render the Jinja goldens of real templates byte for byte") {
  struct Golden {
    const char* family;
    const char* conversation;  // "" (system, user, assistant, user), "nosys", "nogen" (ends with the assistant)
    const char* bos;
    const char* eos;
  };
  const Golden goldens[] = {
      {"llama3.1", "", "<|begin_of_text|>", "<|eot_id|>"},
      {"llama3.1", "nosys", "<|begin_of_text|>", "<|eot_id|>"},
      {"llama3.1", "nogen", "<|begin_of_text|>", "<|eot_id|>"},
      {"chatml", "", "", "<|im_end|>"},
      {"chatml", "nogen", "", "<|im_end|>"},
      {"mistral-v3-tekken", "", "<s>", "</s>"},
      {"mistral-v3-tekken", "nosys", "<s>", "</s>"},
      {"mistral-v3-tekken", "nogen", "<s>", "</s>"},
      {"mistral-v7-tekken", "", "<s>", "</s>"},
      {"mistral-v7-tekken", "nogen", "<s>", "</s>"},
      {"gemma", "", "<bos>", "<eos>"},
      {"gemma", "nosys", "<bos>", "<eos>"},
      {"gemma", "nogen", "<bos>", "<eos>"},
      {"phi3", "", "<s>", "<|endoftext|>"},
      {"phi3", "nosys", "<s>", "<|endoftext|>"},
      {"phi3", "nogen", "<s>", "<|endoftext|>"},
  };
  for (const auto& g : goldens) {
    const std::string which = g.conversation;
    const std::string file = std::string(g.family) + (which.empty() ? "" : "-" + which) + ".txt";
    CAPTURE(file);
    const std::string expected = slurp(std::filesystem::path(AXE_FIXTURES_DIR) / "chat" / file);
    const std::string got = axe::apply_chat_template(family(g.family), golden_conversation(which), which != "nogen",
                                                     g.bos, g.eos);
    CHECK(got == expected);
  }
}

// Expected strings written out by hand from each reference template's rules
// (runtime/chat_template.h); where tests/test-chat-template.cpp of llama.cpp
// shows the Jinja output of the same template, they agree with it (plus the
// BOS that test leaves empty). They were also checked by rendering the
// templates with jinja2 outside the repository.
TEST_CASE("chat families without a template in llama.cpp's folder render their reference template's text") {
  struct Expected {
    const char* family;
    bool with_system;
    const char* text;
  };
  const Expected cases[] = {
      // Mistral-7B-Instruct-v0.1 (no system support: its text and "\n" open the first user turn).
      {"llama2", true,
       "<s>[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an "
       "assistant   </s>[INST] Another question [/INST]"},
      {"llama2", false,
       "<s>[INST] Hello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another "
       "question [/INST]"},
      {"llama2-sys", true,
       "<s>[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s>[INST] Who are you "
       "[/INST]    I am an assistant    </s>[INST] Another question [/INST]"},
      {"llama2-sys-bos", true,
       "<s>[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s><s>[INST] Who are "
       "you [/INST]    I am an assistant    </s><s>[INST] Another question [/INST]"},
      // Llama-2-7b-chat-hf.
      {"llama2-sys-strip", true,
       "<s>[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s><s>[INST] Who are "
       "you [/INST] I am an assistant </s><s>[INST] Another question [/INST]"},
      {"llama2-sys-strip", false,
       "<s>[INST] Hello [/INST] Hi there </s><s>[INST] Who are you [/INST] I am an assistant </s><s>[INST] Another "
       "question [/INST]"},
      // Meta-Llama-3-8B-Instruct (bos "<s>" here, as for the others).
      {"llama3", true,
       "<s><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>"
       "user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
       "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_"
       "id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
       "<|start_header_id|>assistant<|end_header_id|>\n\n"},
      // Mistral-7B-Instruct-v0.2 with the "v1" template: the system text opens the FIRST user turn.
      {"mistral-v1", true,
       "<s> [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]    I am an "
       "assistant   </s> [INST] Another question [/INST]"},
      // Mistral-Large-Instruct-2407 ("v3"): the system text opens the LAST user turn; answers trimmed.
      {"mistral-v3", true,
       "<s>[INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>[INST] You are a helpful "
       "assistant\n\nAnother question[/INST]"},
      {"mistral-v3", false,
       "<s>[INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>[INST] Another "
       "question[/INST]"},
      {"mistral-v3-tekken", true,
       "<s>[INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]You are a "
       "helpful assistant\n\nAnother question[/INST]"},
      // Mistral-Large-Instruct-2411 ("v7").
      {"mistral-v7", true,
       "<s>[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who "
       "are you[/INST]    I am an assistant   </s>[INST] Another question[/INST]"},
      // zephyr-7b-beta, TinyLlama-1.1B-Chat-v1.0.
      {"zephyr", true,
       "<|system|>\nYou are a helpful assistant</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n<|user|>\n"
       "Who are you</s>\n<|assistant|>\n   I am an assistant   </s>\n<|user|>\nAnother question</s>\n"
       "<|assistant|>\n"},
      // google/gemma-7b-it (llama.cpp's case), without the system message its template refuses.
      {"gemma", false,
       "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>"
       "user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n<start_of_turn>user\n"
       "Another question<end_of_turn>\n<start_of_turn>model\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.family);
    CAPTURE(c.with_system);
    const std::string bos = std::string(c.family) == "gemma" ? "<bos>" : "<s>";
    CHECK(axe::apply_chat_template(family(c.family), llamacpp_conversation(c.with_system), true, bos, "</s>") ==
          c.text);
  }
}

TEST_CASE("chat template details of the reference templates") {
  SUBCASE("Llama 2 chat strips the system block and the user text as one string") {
    const std::vector<ChatMessage> m = {{"system", "  S  "}, {"user", "  U  "}, {"assistant", " A "}};
    CHECK(axe::apply_chat_template(ChatFamily::Llama2SysStrip, m, true, "<s>", "</s>") ==
          "<s>[INST] <<SYS>>\n  S  \n<</SYS>>\n\n  U [/INST] A </s>");
  }
  SUBCASE("trimming follows Python str.strip on Unicode whitespace but not zero-width space") {
    // U+00A0, U+3000 and U+2028 are whitespace to Python; U+200B is not.
    const std::vector<ChatMessage> m = {{"user", "\xc2\xa0\xe3\x80\x80 hi \t\n\xe2\x80\xa8"},
                                        {"assistant", "\xe2\x80\x8bok\xe2\x80\x8b"}};
    CHECK(axe::apply_chat_template(ChatFamily::Gemma, m, false, "", "") ==
          "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n\xe2\x80\x8bok\xe2\x80\x8b<end_of_turn>\n");
    // Whitespace only, and bytes that are not UTF-8, are handled.
    const std::vector<ChatMessage> w = {{"user", " \n "}, {"assistant", "\xff x \xe2\x80"}};
    CHECK(axe::apply_chat_template(ChatFamily::Llama3, w, false, "", "") ==
          "<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
          "\xff x \xe2\x80<|eot_id|>");
  }
  SUBCASE("Phi-3.5 leaves out an empty system message") {
    const std::vector<ChatMessage> m = {{"system", ""}, {"user", "u"}};
    CHECK(axe::apply_chat_template(ChatFamily::Phi3, m, true, "<s>", "<|endoftext|>") ==
          "<|user|>\nu<|end|>\n<|assistant|>\n");
  }
  SUBCASE("zephyr's assistant prompt follows the last message so an empty conversation is empty") {
    CHECK(axe::apply_chat_template(ChatFamily::Zephyr, {}, true, "<s>", "</s>").empty());
  }
  SUBCASE("mistral v3 drops the system message when the last turn is the assistant's") {
    const std::vector<ChatMessage> m = {{"system", "S"}, {"user", "u"}, {"assistant", "a"}};
    CHECK(axe::apply_chat_template(ChatFamily::MistralV3, m, false, "<s>", "</s>") == "<s>[INST] u[/INST] a</s>");
  }
  SUBCASE("the rendered text starts with BOS exactly for the templates that emit it") {
    const std::set<std::string> no_bos = {"chatml", "zephyr", "phi3"};
    for (auto name : axe::chat_family_names()) {
      CAPTURE(name);
      const std::string text = axe::apply_chat_template(family(name), golden_conversation(""), true, "<B>", "<E>");
      CHECK((text.rfind("<B>", 0) == 0) == (no_bos.count(std::string(name)) == 0));
      const bool bos_inside = text.find("<B>", 1) != std::string::npos;
      CHECK((!bos_inside || name.substr(0, 6) == "llama2"));
    }
  }
}

TEST_CASE("detect_chat_family recognises each family from its markers") {
  const std::pair<const char*, const char*> markers[] = {
      {"chatml", "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"},
      {"llama3", "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' %}"},
      {"llama3.1",
       "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}{{- \"Today Date: \" + date_string }}"
       "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}"},
      {"llama2", "{{ bos_token }}{{ '[INST] ' + message['content'] + ' [/INST]' }}"},
      {"llama2-sys", "{{ '[INST] <<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' }}"},
      {"llama2-sys-bos", "{{ bos_token + '[INST] ' + content + ' [/INST]' }}{{ '<<SYS>>\\n' }}"},
      {"llama2-sys-strip", "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{{ '<<SYS>>\\n' }}"},
      {"mistral-v1", "{{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}"},
      {"mistral-v3", "{{- \"[AVAILABLE_TOOLS] [\" }}{{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}"},
      {"mistral-v3-tekken", "{{- \"[AVAILABLE_TOOLS][\" }}{{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}"},
      {"mistral-v7", "{{ '[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}{{ '[INST] ' }}"},
      {"mistral-v7-tekken", "{{- '[SYSTEM_PROMPT]' + system_prompt + '[/SYSTEM_PROMPT]' }}{{- '[INST]' }}"},
      {"zephyr", "{{ '<|user|>\\n' + message['content'] + eos_token }}{{ '<|assistant|>' }}"},
      {"zephyr", "{{ '<|user|>\\n' + message['content'] + '<|endoftext|>' }}"},
      {"gemma", "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"},
      {"phi3", "{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}"},
  };
  for (const auto& [name, source] : markers) {
    CAPTURE(source);
    CHECK(axe::detect_chat_family(source) == family(name));
  }
  for (auto name : axe::chat_family_names()) CHECK(axe::detect_chat_family(name) == family(name));
}

TEST_CASE("detect_chat_family gives nullopt for unknown templates and families axe does not render") {
  const char* unknown[] = {
      "",
      "{{ messages }}",
      "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\\n{% endfor %}",
      "{{'<|im_start|>' + message['role'] + '<|im_sep|>' + message['content'] + '<|im_end|>'}}",  // phi4
      "{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content }}",                                // command-r
      "{{ '<\xef\xbd\x9cUser\xef\xbd\x9c>' + message['content'] }}",                            // deepseek3
      "{{ 'GPT4 Correct ' + message['role'].title() + ': ' }}",                                 // openchat
      "{{ '<|user|>\\n' + message['content'] }}{{ '<|assistant|>\\n' }}",                       // glmedge
      "{{ '<|turn>' + role + '\\n' + message['content'] + '<turn|>' }}",                        // gemma 4
      "llama4",
  };
  for (const char* source : unknown) {
    CAPTURE(source);
    CHECK_FALSE(axe::detect_chat_family(source).has_value());
  }
}

TEST_CASE("detect_chat_family recognises the real templates in llama.cpp's models folder") {
  const std::filesystem::path dir = templates_dir();
  if (!std::filesystem::is_directory(dir)) {
    MESSAGE("skipped: no llama.cpp templates at " << dir.string());
    return;
  }
  // File -> family, for the files of the supported families (the goldens'
  // templates and those that render the same) and for templates that must
  // not be taken for a supported family.
  const std::map<std::string, std::optional<std::string>> expected = {
      {"meta-llama-Llama-3.1-8B-Instruct.jinja", "llama3.1"},
      {"meta-llama-Llama-3.2-3B-Instruct.jinja", "llama3.1"},
      {"meta-llama-Llama-3.3-70B-Instruct.jinja", "llama3.1"},
      {"Qwen-Qwen2.5-7B-Instruct.jinja", "chatml"},
      {"Qwen-Qwen3-0.6B.jinja", "chatml"},
      {"mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral-v3-tekken"},
      {"Mistral-Small-3.2-24B-Instruct-2506.jinja", "mistral-v7-tekken"},
      {"unsloth-mistral-Devstral-Small-2507.jinja", "mistral-v7-tekken"},
      {"mistralai-Ministral-3-14B-Reasoning-2512.jinja", "mistral-v7-tekken"},
      {"google-gemma-2-2b-it.jinja", "gemma"},
      {"microsoft-Phi-3.5-mini-instruct.jinja", "phi3"},
      {"google-gemma-4-31B-it.jinja", std::nullopt},
      {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", std::nullopt},
      {"deepseek-ai-DeepSeek-V3.1.jinja", std::nullopt},
      {"CohereForAI-c4ai-command-r-plus-tool_use.jinja", std::nullopt},
      {"openai-gpt-oss-120b.jinja", std::nullopt},
      {"GLM-4.6.jinja", std::nullopt},
      {"ibm-granite-granite-3.3-2B-Instruct.jinja", std::nullopt},
  };
  int checked = 0;
  std::map<std::string, std::string> others;  // the rest, as llama.cpp's markers take them (shown, not checked)
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".jinja") continue;
    const std::string file = entry.path().filename().string();
    const auto got = axe::detect_chat_family(slurp(entry.path()));
    const auto it = expected.find(file);
    if (it == expected.end()) {
      others[file] = got ? std::string(axe::chat_family_name(*got)) : "-";
      continue;
    }
    CAPTURE(file);
    CHECK(got == (it->second ? std::optional(family(*it->second)) : std::nullopt));
    ++checked;
  }
  CHECK(checked > 0);
  std::string seen;
  for (const auto& [file, name] : others) seen += " " + file + "=" + name;
  if (!others.empty()) MESSAGE("other templates:" << seen);
}

TEST_CASE("apply_chat_template refuses an unknown role in every family") {
  const std::vector<ChatMessage> m = {{"user", "u"}, {"tool", "t"}};
  for (auto name : axe::chat_family_names()) {
    CAPTURE(name);
    try {
      axe::apply_chat_template(family(name), m, true, "<s>", "</s>");
      FAIL("no error");
    } catch (const axe::Error& e) {
      CHECK(e.status() == AXE_ERR_INVALID_ARGUMENT);
      CHECK(std::string(e.what()).find("tool") != std::string::npos);
    }
  }
}

TEST_CASE("chat family names round-trip") {
  const auto names = axe::chat_family_names();
  CHECK(names.size() == 15);
  CHECK(std::set<std::string_view>(names.begin(), names.end()).size() == names.size());
  for (auto name : names) {
    CAPTURE(name);
    const auto f = axe::chat_family_by_name(name);
    REQUIRE(f.has_value());
    CHECK(axe::chat_family_name(*f) == name);
  }
  for (const char* llamacpp : {"llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip", "llama3", "chatml",
                               "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken",
                               "zephyr", "gemma", "phi3"})
    CHECK(axe::chat_family_by_name(llamacpp).has_value());
  CHECK_FALSE(axe::chat_family_by_name("").has_value());
  CHECK_FALSE(axe::chat_family_by_name("Llama3").has_value());
  CHECK_FALSE(axe::chat_family_by_name("phi4").has_value());
}
