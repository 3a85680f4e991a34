// Chat templates without Jinja (see chat_template.h for the reference
// template of each family and tests/fixtures/chat for the goldens).
#include "runtime/chat_template.h"

#include <algorithm>
#include <array>
#include <initializer_list>

#include "runtime/error.h"

namespace axe {
namespace {

struct NamedFamily {
  ChatFamily family;
  std::string_view name;
};

constexpr std::array<NamedFamily, 15> kFamilies = {{
    {ChatFamily::Llama2, "llama2"},
    {ChatFamily::Llama2Sys, "llama2-sys"},
    {ChatFamily::Llama2SysBos, "llama2-sys-bos"},
    {ChatFamily::Llama2SysStrip, "llama2-sys-strip"},
    {ChatFamily::Llama3, "llama3"},
    {ChatFamily::Llama31, "llama3.1"},
    {ChatFamily::ChatML, "chatml"},
    {ChatFamily::MistralV1, "mistral-v1"},
    {ChatFamily::MistralV3, "mistral-v3"},
    {ChatFamily::MistralV3Tekken, "mistral-v3-tekken"},
    {ChatFamily::MistralV7, "mistral-v7"},
    {ChatFamily::MistralV7Tekken, "mistral-v7-tekken"},
    {ChatFamily::Zephyr, "zephyr"},
    {ChatFamily::Gemma, "gemma"},
    {ChatFamily::Phi3, "phi3"},
}};

// --- Python's str.strip(), which Jinja's trim filter and .strip() call ---

// Python's str.isspace(): the Unicode White_Space characters, less U+180E,
// plus the information separators U+001C..U+001F.
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// The code point of the UTF-8 sequence at s[0..len), or U+FFFF (not a space)
// when the bytes are not one well-formed sequence of that length.
char32_t decode_utf8(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  if (s.size() == 1) return b(0) < 0x80 ? b(0) : 0xFFFF;
  const unsigned lead = b(0);
  const size_t expect = lead >= 0xF0 && lead < 0xF8 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 && lead < 0xE0 ? 2 : 0;
  if (expect != s.size()) return 0xFFFF;
  char32_t c = lead & (0x7F >> expect);
  for (size_t i = 1; i < s.size(); ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0xFFFF;
    c = (c << 6) | (b(i) & 0x3F);
  }
  const char32_t min = expect == 2 ? 0x80 : expect == 3 ? 0x800 : 0x10000;  // no overlong forms
  return c >= min && c <= 0x10FFFF ? c : 0xFFFF;
}

// Length of the UTF-8 sequence starting with lead byte `lead` (1 when invalid).
size_t utf8_length(unsigned char lead) { return lead >= 0xF0 && lead < 0xF8 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 && lead < 0xE0 ? 2 : 1; }

std::string_view strip(std::string_view s) {
  while (!s.empty()) {
    const size_t n = std::min(utf8_length(static_cast<unsigned char>(s[0])), s.size());
    if (!is_python_space(decode_utf8(s.substr(0, n)))) break;
    s.remove_prefix(n);
  }
  while (!s.empty()) {
    size_t start = s.size() - 1;  // back over up to three continuation bytes to a lead byte
    while (start > 0 && s.size() - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    if (!is_python_space(decode_utf8(s.substr(start)))) break;
    s.remove_suffix(s.size() - start);
  }
  return s;
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

enum class Role { System, User, Assistant };

Role role_of(const ChatMessage& m) {
  if (m.role == "system") return Role::System;
  if (m.role == "user") return Role::User;
  if (m.role == "assistant") return Role::Assistant;
  fail(AXE_ERR_INVALID_ARGUMENT,
       "chat message role '" + excerpt(m.role) + "' is not one of system, user, assistant");
}

std::string cat(std::initializer_list<std::string_view> parts) {
  size_t n = 0;
  for (auto p : parts) n += p.size();
  std::string out;
  out.reserve(n);
  for (auto p : parts) out += p;
  return out;
}

// --- one renderer per family; msgs have valid roles ---

// Mistral-7B-Instruct-v0.1: "[INST] u [/INST]a</s>", BOS once. The template
// refuses system messages; as llama.cpp does, their text and a newline open
// the next user turn.
std::string render_llama2(const std::vector<ChatMessage>& msgs, std::string_view bos, std::string_view eos) {
  std::string out(bos), pending;
  for (const auto& m : msgs) {
    switch (role_of(m)) {
      case Role::System: pending += cat({m.content, "\n"}); break;
      case Role::User:
        out += cat({"[INST] ", pending, m.content, " [/INST]"});
        pending.clear();
        break;
      case Role::Assistant: out += cat({m.content, eos}); break;
    }
  }
  return out;
}

// The Llama 2 chat layout: "[INST] <<SYS>>\ns\n<</SYS>>\n\nu [/INST] a </s>".
// Llama-2-chat's template puts the system block in front of the first user
// content and strips the pair as one string (so only the user's trailing
// space and the block's leading one go), and BOS before every "[INST]".
std::string render_llama2_sys(const std::vector<ChatMessage>& msgs, std::string_view bos, std::string_view eos,
                              bool bos_every_turn, bool strip_contents) {
  std::string out, pending;
  if (!bos_every_turn) out += bos;
  const auto maybe_strip = [&](std::string_view s) { return strip_contents ? strip(s) : s; };
  for (const auto& m : msgs) {
    switch (role_of(m)) {
      case Role::System: pending += cat({"<<SYS>>\n", m.content, "\n<</SYS>>\n\n"}); break;
      case Role::User: {
        const std::string content = pending + m.content;
        pending.clear();
        out += cat({bos_every_turn ? bos : "", "[INST] ", maybe_strip(content), " [/INST]"});
        break;
      }
      case Role::Assistant: out += cat({" ", maybe_strip(m.content), " ", eos}); break;
    }
  }
  return out;
}

constexpr std::string_view kHeaderStart = "<|start_header_id|>";
constexpr std::string_view kHeaderEnd = "<|end_header_id|>\n\n";
constexpr std::string_view kEot = "<|eot_id|>";

// Meta-Llama-3-8B-Instruct: BOS before the first message, contents trimmed.
std::string render_llama3(const std::vector<ChatMessage>& msgs, bool add_assistant, std::string_view bos) {
  std::string out;
  for (size_t i = 0; i < msgs.size(); ++i) {
    role_of(msgs[i]);
    out += cat({i == 0 ? bos : "", kHeaderStart, msgs[i].role, kHeaderEnd, strip(msgs[i].content), kEot});
  }
  if (add_assistant) out += cat({kHeaderStart, "assistant", kHeaderEnd});
  return out;
}

// Llama 3.1/3.2/3.3: BOS, then a system turn that is always there (dates,
// then the trimmed leading system message, if any), then the rest as Llama 3.
std::string render_llama31(const std::vector<ChatMessage>& msgs, bool add_assistant, std::string_view bos) {
  size_t first = 0;
  std::string_view system;
  if (!msgs.empty() && role_of(msgs[0]) == Role::System) {
    system = strip(msgs[0].content);
    first = 1;
  }
  std::string out = cat({bos, kHeaderStart, "system", kHeaderEnd,
                         "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n", system, kEot});
  for (size_t i = first; i < msgs.size(); ++i) {
    role_of(msgs[i]);
    out += cat({kHeaderStart, msgs[i].role, kHeaderEnd, strip(msgs[i].content), kEot});
  }
  if (add_assistant) out += cat({kHeaderStart, "assistant", kHeaderEnd});
  return out;
}

std::string render_chatml(const std::vector<ChatMessage>& msgs, bool add_assistant) {
  std::string out;
  for (const auto& m : msgs) {
    role_of(m);
    out += cat({"<|im_start|>", m.role, "\n", m.content, "<|im_end|>\n"});
  }
  if (add_assistant) out += "<|im_start|>assistant\n";
  return out;
}

// Mistral "v1": BOS, " [INST] u [/INST] a</s>", the system message (and a
// blank line) at the start of the first user turn.
std::string render_mistral_v1(const std::vector<ChatMessage>& msgs, std::string_view bos, std::string_view eos) {
  std::string out(bos), pending;
  for (const auto& m : msgs) {
    switch (role_of(m)) {
      case Role::System: pending += cat({m.content, "\n\n"}); break;
      case Role::User:
        out += cat({" [INST] ", pending, m.content, " [/INST]"});
        pending.clear();
        break;
      case Role::Assistant: out += cat({" ", m.content, eos}); break;
    }
  }
  return out;
}

// Mistral "v3" ("[INST] u[/INST] a</s>", assistant trimmed) and "v3-tekken"
// ("[INST]u[/INST]a</s>"): the leading system message goes in front of the
// LAST message's content when that message is a user turn, and nowhere
// otherwise (so a conversation ending with the assistant loses it).
std::string render_mistral_v3(const std::vector<ChatMessage>& msgs, std::string_view bos, std::string_view eos,
                              bool tekken) {
  const std::string_view space = tekken ? "" : " ";
  size_t first = 0;
  std::string system;
  if (!msgs.empty() && role_of(msgs[0]) == Role::System) {
    system = cat({msgs[0].content, "\n\n"});
    first = 1;
  }
  std::string out(bos), pending;
  for (size_t i = first; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    switch (role_of(m)) {
      case Role::System: pending += cat({m.content, "\n\n"}); break;
      case Role::User:
        out += cat({"[INST]", space, i + 1 == msgs.size() ? std::string_view(system) : "", pending, m.content,
                    "[/INST]"});
        pending.clear();
        break;
      case Role::Assistant: out += cat({space, tekken ? std::string_view(m.content) : strip(m.content), eos}); break;
    }
  }
  return out;
}

// Mistral "v7" ("[SYSTEM_PROMPT] s[/SYSTEM_PROMPT][INST] u[/INST] a</s>") and
// "v7-tekken" (no spaces after the markers, none before the answer).
std::string render_mistral_v7(const std::vector<ChatMessage>& msgs, std::string_view bos, std::string_view eos,
                              bool tekken) {
  const std::string_view space = tekken ? "" : " ";
  std::string out(bos);
  for (const auto& m : msgs) {
    switch (role_of(m)) {
      case Role::System: out += cat({"[SYSTEM_PROMPT]", space, m.content, "[/SYSTEM_PROMPT]"}); break;
      case Role::User: out += cat({"[INST]", space, m.content, "[/INST]"}); break;
      case Role::Assistant: out += cat({space, m.content, eos}); break;
    }
  }
  return out;
}

// zephyr-7b-beta / TinyLlama-1.1B-Chat-v1.0: every turn ends with EOS and a
// newline; the assistant prompt follows the last message (none without one).
std::string render_zephyr(const std::vector<ChatMessage>& msgs, bool add_assistant, std::string_view eos) {
  std::string out;
  for (const auto& m : msgs) {
    role_of(m);
    out += cat({"<|", m.role, "|>\n", m.content, eos, "\n"});
  }
  if (add_assistant && !msgs.empty()) out += "<|assistant|>\n";
  return out;
}

// gemma-2-2b-it: BOS, "<start_of_turn>user\n" / "model\n", contents trimmed.
// A system message and "\n\n" open the next user turn untrimmed (Gemma 3's rule).
std::string render_gemma(const std::vector<ChatMessage>& msgs, bool add_assistant, std::string_view bos) {
  std::string out(bos), pending;
  for (const auto& m : msgs) {
    switch (role_of(m)) {
      case Role::System: pending += cat({m.content, "\n\n"}); break;
      case Role::User:
        out += cat({"<start_of_turn>user\n", pending, strip(m.content), "<end_of_turn>\n"});
        pending.clear();
        break;
      case Role::Assistant: out += cat({"<start_of_turn>model\n", strip(m.content), "<end_of_turn>\n"}); break;
    }
  }
  if (add_assistant) out += "<start_of_turn>model\n";
  return out;
}

// Phi-3.5-mini-instruct: empty system messages are left out; without the
// assistant prompt the text ends with EOS.
std::string render_phi3(const std::vector<ChatMessage>& msgs, bool add_assistant, std::string_view eos) {
  std::string out;
  for (const auto& m : msgs) {
    if (role_of(m) == Role::System && m.content.empty()) continue;
    out += cat({"<|", m.role, "|>\n", m.content, "<|end|>\n"});
  }
  out += add_assistant ? std::string_view("<|assistant|>\n") : eos;
  return out;
}

}  // namespace

std::optional<ChatFamily> chat_family_by_name(std::string_view name) {
  for (const auto& f : kFamilies)
    if (f.name == name) return f.family;
  return std::nullopt;
}

std::string_view chat_family_name(ChatFamily family) {
  for (const auto& f : kFamilies)
    if (f.family == family) return f.name;
  fail(AXE_ERR_INVALID_ARGUMENT, "unknown chat family " + std::to_string(static_cast<int>(family)));
}

std::vector<std::string_view> chat_family_names() {
  std::vector<std::string_view> names;
  for (const auto& f : kFamilies) names.push_back(f.name);
  return names;
}

std::optional<ChatFamily> detect_chat_family(std::string_view t) {
  if (auto named = chat_family_by_name(t)) return named;
  const auto has = [t](std::string_view s) { return contains(t, s); };
  // The checks and their order follow llama.cpp's llm_chat_detect_template;
  // a branch that ends in a family axe does not render gives nullopt, so that
  // such a template is never taken for a later, rendered family.
  if (has("<|im_start|>")) {
    if (has("<|im_sep|>") || has("<end_of_utterance>")) return std::nullopt;  // phi4, smolvlm
    return ChatFamily::ChatML;
  }
  if (t.substr(0, 7) == "mistral" || has("[INST]")) {
    if (has("[SYSTEM_PROMPT]"))  // llama.cpp: always v7; tekken templates have no space after the markers
      return has("[SYSTEM_PROMPT] ") || has("[INST] ") ? ChatFamily::MistralV7 : ChatFamily::MistralV7Tekken;
    if (has("' [INST] ' + system_message") || has("[AVAILABLE_TOOLS]")) {
      if (has(" [INST]")) return ChatFamily::MistralV1;
      if (has("\"[INST]\"")) return ChatFamily::MistralV3Tekken;
      return ChatFamily::MistralV3;
    }
    if (has("content.strip()")) return ChatFamily::Llama2SysStrip;
    if (has("bos_token + '[INST]")) return ChatFamily::Llama2SysBos;
    if (has("<<SYS>>")) return ChatFamily::Llama2Sys;
    return ChatFamily::Llama2;
  }
  if (has("<|assistant|>") && has("<|end|>")) return ChatFamily::Phi3;
  if (has("[gMASK]<sop>")) return std::nullopt;  // chatglm4
  // axe: zephyr-7b-beta's and TinyLlama's templates end turns with eos_token
  // (llama.cpp looks for a literal <|endoftext|> and takes them for GLM-Edge).
  if (has("<|user|>") && has("<|assistant|>") && (has("eos_token") || has("<|endoftext|>")) && !has("</s>") &&
      !has("tools") && !has("<|tool_declare|>"))
    return ChatFamily::Zephyr;
  if (has("<|assistant|>") && has("<|user|>")) return std::nullopt;  // exaone-moe, falcon3, glmedge
  if (has("<|{{ item['role'] }}|>") && has("<|begin_of_image|>")) return std::nullopt;  // glmedge
  if (has("<|user|>") && has("<|endoftext|>")) return ChatFamily::Zephyr;
  if (has("bos_token + message['role']")) return std::nullopt;  // monarch
  if (has("<start_of_turn>")) return ChatFamily::Gemma;
  if (has("'\\n\\nAssistant: ' + eos_token") || has("GPT4 Correct ") || (has("USER: ") && has("ASSISTANT: ")) ||
      (has("### Instruction:") && has("<|EOT|>")) || (has("<|START_OF_TURN_TOKEN|>") && has("<|USER_TOKEN|>")))
    return std::nullopt;  // orion, openchat, vicuna, deepseek, command-r
  if (has("<|start_header_id|>") && has("<|end_header_id|>"))
    return has("Today Date: ") ? ChatFamily::Llama31 : ChatFamily::Llama3;
  return std::nullopt;
}

std::string apply_chat_template(ChatFamily f, const std::vector<ChatMessage>& msgs, bool add_assistant,
                                std::string_view bos, std::string_view eos) {
  for (const auto& m : msgs) role_of(m);  // every role checked, whichever family
  switch (f) {
    case ChatFamily::Llama2: return render_llama2(msgs, bos, eos);
    case ChatFamily::Llama2Sys: return render_llama2_sys(msgs, bos, eos, false, false);
    case ChatFamily::Llama2SysBos: return render_llama2_sys(msgs, bos, eos, true, false);
    case ChatFamily::Llama2SysStrip: return render_llama2_sys(msgs, bos, eos, true, true);
    case ChatFamily::Llama3: return render_llama3(msgs, add_assistant, bos);
    case ChatFamily::Llama31: return render_llama31(msgs, add_assistant, bos);
    case ChatFamily::ChatML: return render_chatml(msgs, add_assistant);
    case ChatFamily::MistralV1: return render_mistral_v1(msgs, bos, eos);
    case ChatFamily::MistralV3: return render_mistral_v3(msgs, bos, eos, false);
    case ChatFamily::MistralV3Tekken: return render_mistral_v3(msgs, bos, eos, true);
    case ChatFamily::MistralV7: return render_mistral_v7(msgs, bos, eos, false);
    case ChatFamily::MistralV7Tekken: return render_mistral_v7(msgs, bos, eos, true);
    case ChatFamily::Zephyr: return render_zephyr(msgs, add_assistant, eos);
    case ChatFamily::Gemma: return render_gemma(msgs, add_assistant, bos);
    case ChatFamily::Phi3: return render_phi3(msgs, add_assistant, eos);
  }
  fail(AXE_ERR_INVALID_ARGUMENT, "unknown chat family " + std::to_string(static_cast<int>(f)));
}

}  // namespace axe
