// The RWKV World tokenizer (rwkv_vocab_v20230424): at each position, the longest vocab entry that
// matches the input bytes. Identical ids to the official TRIE_TOKENIZER (tests/tokenizer_test.cpp).
#pragma once

#include <string>

#include "rwkv/tokenizer.h"
#include "tokenizer/byte_trie.h"
#include "tokenizer/vocab.h"

namespace rwkv {

class WorldTokenizer final : public Tokenizer {
 public:
  // Builds the lookup structure; throws rwkv::Error naming vocab.source when two ids share bytes.
  explicit WorldTokenizer(Vocab vocab);

  // Reads a vocab file (.txt official form, or candle's JSON form), or the vocab in a GGUF model.
  static std::unique_ptr<WorldTokenizer> load_txt(const std::string& path);
  static std::unique_ptr<WorldTokenizer> load_json(const std::string& path);
  static std::unique_ptr<WorldTokenizer> load_gguf(const std::string& path);

  std::vector<int32_t> encode(std::string_view bytes) const override;
  int32_t vocab_size() const override { return vocab_size_; }
  bool has_text(int32_t id) const override { return id != kEndOfDocument && vocab_.has(id); }
  std::string_view token_bytes(int32_t id) const override;
  std::optional<int32_t> end_of_document() const override { return kEndOfDocument; }
  std::string_view load_warning() const override { return vocab_.warning; }

  const ByteTrie& trie() const { return trie_; }

 private:
  // "<|endoftext|>": not in the vocab file; the models emit it at the end of a document.
  static constexpr int32_t kEndOfDocument = 0;

  Vocab vocab_;
  ByteTrie trie_;
  int32_t vocab_size_ = 0;
};

}  // namespace rwkv
