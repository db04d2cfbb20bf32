// The subcommands of `rwkv`. Each parses its own flags (CLI11) and returns the exit status;
// errors propagate as exceptions and main() turns them into one line on stderr.
#pragma once

namespace rwkv::cli {

int cmd_generate(int argc, char** argv);  // the default: text generation with the seed's flags
int cmd_logits(int argc, char** argv);
int cmd_make_model(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_detokenize(int argc, char** argv);
int cmd_models(int argc, char** argv);
int cmd_quantize(int argc, char** argv);  // any checkpoint -> GGUF with quantized matrices  // the --which registry and what of it is cached

}  // namespace rwkv::cli
