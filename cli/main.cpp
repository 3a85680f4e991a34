// axe: the command-line front end. It uses the C API only.
#include <cstdio>
#include <cstring>
#include <string>

#include "commands.h"
#include "api_handles.h"

namespace {

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: axe COMMAND [options]\n\n"
               "commands:\n"
               "  generate     generate text from a prompt\n"
               "  chat         interactive continuation, keeping the KV cache between turns\n"
               "  perplexity   perplexity of a text file (llama.cpp's protocol)\n"
               "  bench        prompt processing and generation speed (llama-bench's table)\n"
               "  quantize     quantize a float model to a .axe file (optionally accumulator-aware)\n"
               "  verify       prove a .axe file's accumulation plan from its integers\n"
               "  sweep        perplexity against accumulator width for AXE and the baselines (CSV, SVG)\n"
               "  tokenize     print a text's token ids (as llama-tokenize does)\n\n"
               "'axe COMMAND --help' describes a command's options. axe %s\n",
               axe_version());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    print_usage(stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::printf("axe %s\n", axe_version());
    return 0;
  }
  try {
    if (cmd == "generate") return cli::cmd_generate(argc, argv);
    if (cmd == "chat") return cli::cmd_chat(argc, argv);
    if (cmd == "perplexity") return cli::cmd_perplexity(argc, argv);
    if (cmd == "bench") return cli::cmd_bench(argc, argv);
    if (cmd == "quantize") return cli::cmd_quantize(argc, argv);
    if (cmd == "verify") return cli::cmd_verify(argc, argv);
    if (cmd == "sweep") return cli::cmd_sweep(argc, argv);
    if (cmd == "tokenize") return cli::cmd_tokenize(argc, argv);
    std::fprintf(stderr, "axe: unknown command '%s' (see 'axe --help')\n", cmd.c_str());
    return 2;
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "axe %s: %s\n", cmd.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "axe %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
