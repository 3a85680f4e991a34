// Chat prompts without Jinja, the way llama.cpp's llama_chat_apply_template
// does it: the family of a model's Jinja chat_template is recognised from
// markers in its source text (detect_chat_family), and a conversation is
// rendered by hand-written code per family (apply_chat_template).
//
// Unlike llama.cpp's renderers, each family renders what its reference Jinja
// template renders under Hugging Face transformers, byte for byte
// (tests/fixtures/chat/README.md: the goldens and where they come from):
//
//   family             reference template (Hugging Face model)
//   llama2             Mistral-7B-Instruct-v0.1 (the original, pre-"v1" one): "[INST] u [/INST]a</s>"
//   llama2-sys         none (a llama.cpp variant): the Llama 2 layout below, BOS only at the start
//   llama2-sys-bos     the Llama 2 layout with BOS before every "[INST]", contents not stripped
//   llama2-sys-strip   Llama-2-7b-chat-hf, CodeLlama-7b-Instruct-hf: BOS before every "[INST]",
//                      contents stripped: "<s>[INST] <<SYS>>\ns\n<</SYS>>\n\nu [/INST] a </s>"
//   llama3             Meta-Llama-3-8B-Instruct
//   llama3.1           Llama-3.1-8B / 3.2-3B / 3.3-70B-Instruct (axe's name; llama.cpp renders these
//                      as "llama3"): a system turn that always opens with "Cutting Knowledge Date:
//                      December 2023\nToday Date: 26 Jul 2024\n\n" (3.2's template puts today's
//                      date there; axe keeps 3.1's fixed one so that a prompt is reproducible)
//   chatml             Qwen2.5-7B-Instruct, OpenHermes-2.5 (Qwen's own default system prompt, used
//                      when the conversation has none, is not added)
//   mistral-v1         Mistral-7B-Instruct-v0.2 ("v1"): system text in the first user turn
//   mistral-v3         Mistral-Large-Instruct-2407: system text in the LAST user turn
//   mistral-v3-tekken  Mistral-Nemo-Instruct-2407: as v3 without the spaces and assistant trimming
//   mistral-v7         Mistral-Large-Instruct-2411: "[SYSTEM_PROMPT] s[/SYSTEM_PROMPT]"
//   mistral-v7-tekken  Mistral-Small-3.2-24B-Instruct-2506, Devstral-Small-2507, Ministral-3
//                      (their default system prompts, used when the conversation has none, are
//                      not added)
//   zephyr             zephyr-7b-beta, TinyLlama-1.1B-Chat-v1.0: "<|user|>\nu</s>\n"
//   gemma              gemma-2-2b-it; a system message (which Gemma 2's template refuses) goes in
//                      front of the next user turn followed by "\n\n", as Gemma 3's template does
//   phi3               Phi-3.5-mini-instruct
//
// Conversations are expected to be an optional system message, then user and
// assistant turns alternating. Templates that raise an exception on other
// orders are rendered by the same per-message rules instead (a system message
// the template does not accept is merged into the next user turn).
//
// BOS: some templates begin with the BOS text (llama2*, llama3*, mistral*,
// gemma), others do not (chatml, zephyr, phi3). The caller tokenizes the
// result with special-token parsing and must add BOS itself only when the
// rendered text does not already begin with the model's BOS text:
//     bool add_bos = tok.adds_bos() && !(bos_text non-empty && text starts with bos_text);
//     ids = tok.encode(text, add_bos, /*parse_special=*/true);
// (For the llama2 family a rendered text always starts with BOS, so a model
// whose template omits the leading BOS, like FusionNet's, gets the same ids.)
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace axe {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

enum class ChatFamily {
  Llama2,
  Llama2Sys,
  Llama2SysBos,
  Llama2SysStrip,
  Llama3,
  Llama31,
  ChatML,
  MistralV1,
  MistralV3,
  MistralV3Tekken,
  MistralV7,
  MistralV7Tekken,
  Zephyr,
  Gemma,
  Phi3,
};

// The family named as llama.cpp names it ("llama3", "chatml", "mistral-v7",
// "llama2-sys-strip", ...; "llama3.1" is axe's own); nullopt if unknown.
std::optional<ChatFamily> chat_family_by_name(std::string_view name);
std::string_view chat_family_name(ChatFamily f);
// Every family's name, in enum order (for --help and error messages).
std::vector<std::string_view> chat_family_names();

// Recognise the family of a Jinja chat_template's source text, with
// llama.cpp's markers and order of checks (llm_chat_detect_template), plus:
// "llama3.1" for Llama 3 header templates with "Today Date: ", "mistral-v7-
// tekken" for [SYSTEM_PROMPT] templates without spaces after the markers, and
// "zephyr" for <|user|>/<|assistant|> templates that end turns with
// eos_token or <|endoftext|> (llama.cpp takes zephyr-7b-beta's and
// TinyLlama's template for GLM-Edge). A family name ("chatml") is accepted
// too. nullopt when not recognised, including the families llama.cpp knows
// and axe does not render (phi4, deepseek3, command-r, ...).
std::optional<ChatFamily> detect_chat_family(std::string_view jinja_source);

// Render messages; add_assistant = append the prompt that opens the
// assistant's turn (families whose last user turn already ends in it, like
// llama2's "[/INST]", add nothing; phi3 without it ends with eos_text, as its
// template does). bos_text/eos_text: the model's BOS/EOS token texts, for the
// templates that write them (BOS: llama2*, llama3*, mistral*, gemma; EOS:
// llama2*, mistral*, zephyr, phi3). Throws axe::Error
// (AXE_ERR_INVALID_ARGUMENT) for a role other than system, user, assistant.
std::string apply_chat_template(ChatFamily f, const std::vector<ChatMessage>& msgs, bool add_assistant,
                                std::string_view bos_text, std::string_view eos_text);

}  // namespace axe
