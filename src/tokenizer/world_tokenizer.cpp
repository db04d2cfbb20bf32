#include "tokenizer/world_tokenizer.h"

#include <algorithm>

#include "io/mapped_file.h"
#include "io/readers.h"
#include "util/error.h"

namespace rwkv {
namespace {

// Appended to errors about missing tokens when the vocab came from the lossy JSON form.
constexpr std::string_view kLossyHint =
    "; the JSON vocab lacks the tokens that are not valid UTF-8, use the .txt vocab";

std::string_view file_text(const MappedFile& file) {
  const auto bytes = file.bytes();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

WorldTokenizer::WorldTokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  // The World models have 65536 logits although the vocab ends at 65529; a larger vocab file
  // (not the World one) gets exactly one id per entry.
  vocab_size_ = std::max(kWorldVocabSize, static_cast<int32_t>(vocab_.spans.size()));
  const auto [a, b] = trie_.build(vocab_);
  if (a != ByteTrie::kNoToken) throw Error("{}: ids {} and {} have the same bytes", vocab_.source, a, b);
}

std::unique_ptr<WorldTokenizer> WorldTokenizer::load_txt(const std::string& path) {
  const auto file = MappedFile::open(path);
  return std::make_unique<WorldTokenizer>(parse_vocab_txt(file_text(*file), path));
}

std::unique_ptr<WorldTokenizer> WorldTokenizer::load_json(const std::string& path) {
  const auto file = MappedFile::open(path);
  return std::make_unique<WorldTokenizer>(parse_vocab_json(file_text(*file), path));
}

std::unique_ptr<WorldTokenizer> WorldTokenizer::load_gguf(const std::string& path) {
  const auto file = MappedFile::open(path, /*populate=*/false);  // only the header (metadata) is read
  return std::make_unique<WorldTokenizer>(parse_vocab_gguf(read_gguf(file).metadata(), path));
}

std::vector<int32_t> WorldTokenizer::encode(std::string_view bytes) const {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const ByteTrie::Match m = trie_.longest_prefix(bytes.substr(pos));
    // With the .txt vocab every single byte is a token, so this only happens with a vocab that
    // lacks some (the JSON one lacks 0x80..0xFF and the partial characters).
    if (m.id == ByteTrie::kNoToken)
      throw Error("{}: no token matches the input at byte offset {} (byte 0x{:02X}){}", vocab_.source, pos,
                  static_cast<uint8_t>(bytes[pos]),
                  vocab_.warning.empty() ? "" : kLossyHint);
    ids.push_back(m.id);
    pos += m.length;
  }
  return ids;
}

std::string_view WorldTokenizer::token_bytes(int32_t id) const {
  if (id == kEndOfDocument) return {};
  if (id < 0 || id >= vocab_size_)
    throw Error("token id {} is out of range: the vocab has ids 0..{}", id, vocab_size_ - 1);
  if (!vocab_.has(id))
    throw Error("token id {} has no text in the vocab ({}){}", id, vocab_.source,
                vocab_.warning.empty() ? "" : kLossyHint);
  return vocab_.token(id);
}

}  // namespace rwkv
