#!/usr/bin/python3
"""Golden chat prompts for tests/test_chat_template.cpp, rendered by Jinja.

Renders real chat templates (the Jinja `chat_template` of Hugging Face
models, as stored in llama.cpp's models/templates folder) on fixed
conversations, the way Hugging Face transformers renders them, and writes
the bytes to tests/fixtures/chat/<family>[-<case>].txt (no newline added).
axe's runtime/chat_template.cpp renders the same conversations without
Jinja and must match these files byte for byte.

    tools/chat_goldens.py [TEMPLATES_DIR] [--out DIR] [--check]

TEMPLATES_DIR defaults to ~/.cache/axe-peer/llama.cpp/models/templates.
--check compares with the files in --out instead of writing them (exit 1
on a difference). Every template listed for a family must render the same
bytes as the family's first (reference) template; the script fails if not.

The Jinja environment is transformers' (chat_template_utils.py): a sandbox,
trim_blocks, lstrip_blocks, the loopcontrols extension, `raise_exception`,
`strftime_now` and a `tojson` filter; the template sees messages, tools=None,
documents=None, add_generation_prompt, bos_token and eos_token. One
difference: strftime_now formats a fixed date, 26 Jul 2024 (what Llama
3.1's template hard-codes), so that Llama 3.2's template gives the same
reproducible bytes.
"""
import argparse
import datetime
import json
import os
import sys

try:
    import jinja2
    import jinja2.ext
    import jinja2.sandbox
except ImportError:  # pragma: no cover
    sys.exit("chat_goldens.py needs jinja2 (Debian: apt-get install python3-jinja2)")

FIXED_NOW = datetime.datetime(2024, 7, 26, 12, 0, 0)

# The conversations. tests/test_chat_template.cpp spells out the same ones.
SYSTEM = "You are a helpful assistant. Answer in one sentence."
USER_1 = "Hello! Who are you?"
ASSISTANT_1 = "  I am an assistant, happy to help.  \n"  # surrounding spaces: shows which templates trim
USER_2 = "What is the capital of France?\nJust the name, s'il vous plaît."


def msg(role, content):
    return {"role": role, "content": content}


# case name -> (messages, add_generation_prompt)
CASES = {
    "": ([msg("system", SYSTEM), msg("user", USER_1), msg("assistant", ASSISTANT_1), msg("user", USER_2)], True),
    "nosys": ([msg("user", USER_1), msg("assistant", ASSISTANT_1), msg("user", USER_2)], True),
    "nogen": ([msg("system", SYSTEM), msg("user", USER_1), msg("assistant", ASSISTANT_1)], False),
}


def merge_system_into_first_user(messages):
    """Gemma 2's template raises on a system message; Gemma 3's (and llama.cpp)
    put it in front of the first user turn followed by a blank line. The golden
    does that to the messages before rendering Gemma 2's template."""
    if not messages or messages[0]["role"] != "system":
        return messages
    rest = [dict(m) for m in messages[1:]]
    rest[0]["content"] = messages[0]["content"] + "\n\n" + rest[0]["content"]
    return rest


# family -> templates (the first is the reference), BOS/EOS texts, cases, and a
# hook applied to the messages. A case is left out when the real template puts
# a model-specific default in (Qwen's and Mistral Small's default system
# prompts), which no family-level renderer can know.
FAMILIES = {
    "llama3.1": {
        "templates": [
            "meta-llama-Llama-3.1-8B-Instruct.jinja",
            "meta-llama-Llama-3.2-3B-Instruct.jinja",
            "meta-llama-Llama-3.3-70B-Instruct.jinja",
        ],
        "bos": "<|begin_of_text|>",
        "eos": "<|eot_id|>",
        "cases": ["", "nosys", "nogen"],
    },
    "chatml": {
        "templates": ["Qwen-Qwen2.5-7B-Instruct.jinja"],
        "bos": "",
        "eos": "<|im_end|>",
        "cases": ["", "nogen"],  # nosys: Qwen adds "You are Qwen, created by Alibaba Cloud..."
    },
    "mistral-v3-tekken": {
        "templates": ["mistralai-Mistral-Nemo-Instruct-2407.jinja"],
        "bos": "<s>",
        "eos": "</s>",
        "cases": ["", "nosys", "nogen"],
    },
    "mistral-v7-tekken": {
        "templates": [
            "Mistral-Small-3.2-24B-Instruct-2506.jinja",
            "unsloth-mistral-Devstral-Small-2507.jinja",
            "mistralai-Ministral-3-14B-Reasoning-2512.jinja",
        ],
        "bos": "<s>",
        "eos": "</s>",
        "cases": ["", "nogen"],  # nosys: each model's own default system prompt
    },
    "gemma": {
        "templates": ["google-gemma-2-2b-it.jinja"],
        "bos": "<bos>",
        "eos": "<eos>",
        "cases": ["", "nosys", "nogen"],
        "prepare": merge_system_into_first_user,
    },
    "phi3": {
        "templates": ["microsoft-Phi-3.5-mini-instruct.jinja"],
        "bos": "<s>",
        "eos": "<|endoftext|>",
        "cases": ["", "nosys", "nogen"],
    },
}


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return FIXED_NOW.strftime(fmt)


def environment():
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, messages, add_generation_prompt, bos, eos):
    return env.from_string(source).render(
        messages=messages, tools=None, documents=None,
        add_generation_prompt=add_generation_prompt, bos_token=bos, eos_token=eos)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("templates", nargs="?",
                    default=os.path.expanduser("~/.cache/axe-peer/llama.cpp/models/templates"))
    ap.add_argument("--out", default=os.path.normpath(os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "chat")))
    ap.add_argument("--check", action="store_true", help="compare with the files in --out, write nothing")
    args = ap.parse_args()

    env = environment()
    failed = False
    for family, spec in FAMILIES.items():
        sources = {}
        for name in spec["templates"]:
            with open(os.path.join(args.templates, name), encoding="utf-8") as f:
                sources[name] = f.read()
        for case in spec["cases"]:
            messages, gen = CASES[case]
            messages = spec.get("prepare", lambda m: m)(messages)
            outputs = {name: render(env, src, messages, gen, spec["bos"], spec["eos"])
                       for name, src in sources.items()}
            reference = spec["templates"][0]
            text = outputs[reference]
            for name, other in outputs.items():
                if other != text:
                    print(f"{family} {case or 'sys'}: {name} renders differently from {reference}:\n"
                          f"  {reference}: {text!r}\n  {name}: {other!r}", file=sys.stderr)
                    failed = True
            path = os.path.join(args.out, family + (f"-{case}" if case else "") + ".txt")
            data = text.encode("utf-8")
            if args.check:
                try:
                    with open(path, "rb") as f:
                        same = f.read() == data
                except FileNotFoundError:
                    same = False
                print(("same     " if same else "DIFFERENT"), path)
                failed |= not same
            else:
                os.makedirs(args.out, exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
                print(f"wrote {path} ({len(data)} bytes, from {reference})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
