// The subcommands; each parses argv from index 2 and returns the exit status.
#pragma once

namespace cli {
int cmd_generate(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_verify(int argc, char** argv);
int cmd_sweep(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
}  // namespace cli
