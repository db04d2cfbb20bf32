// rwkv: the command-line tool. `rwkv <subcommand> ...` or, without a subcommand, text generation
// with the flags of the candle rwkv example it replaces.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"
#include "util/error.h"

namespace {

struct Subcommand {
  std::string_view name;
  int (*run)(int argc, char** argv);
  std::string_view help;
};

constexpr Subcommand kSubcommands[] = {
    {"logits", rwkv::cli::cmd_logits, "write the logits after each token of a token list"},
    {"bench", rwkv::cli::cmd_bench, "measure load, prompt and decode speed (and the machine's limits)"},
    {"quantize", rwkv::cli::cmd_quantize, "write a GGUF with quantized matrices (q8_0, q4_0, q4_k, ...)"},
    {"make-model", rwkv::cli::cmd_make_model, "write a random-weight checkpoint of a released model's shape"},
    {"tokenize", rwkv::cli::cmd_tokenize, "print the token ids of a text as a JSON array"},
    {"detokenize", rwkv::cli::cmd_detokenize, "write the text (raw bytes) of token ids"},
    {"models", rwkv::cli::cmd_models, "list the --which models, their sizes and what is cached"},
};

void print_usage() {
  std::printf(
      "usage: rwkv [generation flags]          generate text (see rwkv --help)\n"
      "       rwkv <subcommand> [flags]        (rwkv <subcommand> --help for its flags)\n\nsubcommands:\n");
  for (const auto& s : kSubcommands) std::printf("  %-12s %s\n", std::string(s.name).c_str(), std::string(s.help).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2) {
      if (std::strcmp(argv[1], "help") == 0) {
        print_usage();
        return 0;
      }
      for (const auto& s : kSubcommands)
        if (s.name == argv[1]) return s.run(argc - 1, argv + 1);
    }
    return rwkv::cli::cmd_generate(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 parse errors (and --help) are handled inside the subcommands; this is a fallback.
    std::fprintf(stderr, "rwkv: error: %s\n", e.what());
    return 2;
  } catch (const rwkv::UsageError& e) {
    std::fprintf(stderr, "rwkv: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rwkv: error: %s\n", e.what());
    return 1;
  }
}
