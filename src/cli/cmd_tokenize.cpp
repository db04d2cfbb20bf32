// `rwkv tokenize` and `rwkv detokenize`: the tokenizer on the command line.
//
//   rwkv tokenize   --tokenizer VOCAB --text TEXT   prints the ids as a JSON array: [33155, 45]
//   rwkv detokenize --tokenizer VOCAB --ids 1,2,3   writes the bytes of the ids to stdout, raw
//
// VOCAB is the World vocab (.txt, or the lossy candle .json, which prints a warning) or `bytes`.
// --text is encoded as the bytes it is: invalid UTF-8 is accepted and encoded byte-wise, as the
// official encoder does. --ids takes decimal ids separated by commas, optionally in [ ], so the
// output of `tokenize` can be passed back. Decoding writes the bytes unchanged (they may be
// invalid UTF-8 when a character is split) and adds no newline; id 0 (end of document) writes
// nothing; an id out of range or without text is a usage error (exit 2).
#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "rwkv/tokenizer.h"
#include "util/error.h"

namespace rwkv::cli {
namespace {

std::unique_ptr<Tokenizer> open_tokenizer(const std::string& spec) {
  auto tok = load_tokenizer(spec);
  if (!tok->load_warning().empty())
    std::fprintf(stderr, "rwkv: warning: %s\n", std::string(tok->load_warning()).c_str());
  return tok;
}

std::string_view trim(std::string_view s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return {};
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

// "1,2,3" or "[1, 2, 3]" -> ids; every id must have text in `tok` (or be end of document).
std::vector<int32_t> parse_ids(std::string_view text, const Tokenizer& tok) {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = trim(text.substr(1, text.size() - 2));
  if (text.empty()) return {};
  std::vector<int32_t> ids = parse_id_list(std::string(text), "--ids");
  for (int32_t id : ids) {
    if (id >= tok.vocab_size())
      throw UsageError("--ids: id {} is out of range: the vocab has ids 0..{}", id, tok.vocab_size() - 1);
    if (!tok.has_text(id) && id != tok.end_of_document()) throw UsageError("--ids: id {} has no text in the vocab", id);
  }
  return ids;
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  CLI::App app{"Print the token ids of a text as a JSON array.", "rwkv tokenize"};
  std::string vocab, text;
  app.add_option("--tokenizer", vocab, "vocab file (.txt or .json World vocab), a GGUF model that stores one, or `bytes`")->required();
  app.add_option("--text", text, "the text to encode (any bytes; invalid UTF-8 is encoded byte-wise)")->required();
  if (const auto rc = parse_args(app, argc, argv)) return *rc;

  const auto tok = open_tokenizer(vocab);
  const std::vector<int32_t> ids = tok->encode(text);
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  out += "]\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int cmd_detokenize(int argc, char** argv) {
  CLI::App app{"Write the bytes of token ids to stdout (raw, no newline added).", "rwkv detokenize"};
  std::string vocab, ids_text;
  app.add_option("--tokenizer", vocab, "vocab file (.txt or .json World vocab), a GGUF model that stores one, or `bytes`")->required();
  app.add_option("--ids", ids_text, "token ids: 1,2,3 or [1, 2, 3]; id 0 (end of document) writes nothing")->required();
  if (const auto rc = parse_args(app, argc, argv)) return *rc;

  const auto tok = open_tokenizer(vocab);
  const std::string bytes = tok->decode(parse_ids(ids_text, *tok));
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout) != 0)
    throw Error("cannot write to stdout");
  return 0;
}

}  // namespace rwkv::cli
