// A token vocabulary as read from a file: id -> bytes, before any lookup structure is built.
// The two readers (vocab_txt.cpp, vocab_json.cpp) check the file; WorldTokenizer builds on this.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rwkv {

// Model vocab size of the World tokenizer: 65529 text tokens, id 0 for end of document, and ids
// 65530..65535 of padding (the models have 65536 logits).
inline constexpr int32_t kWorldVocabSize = 65536;
// Ids a vocab file may use; far above any real vocab, it only bounds memory on a corrupt file.
inline constexpr int32_t kMaxVocabId = (1 << 24) - 1;

struct Vocab {
  // Where an id's bytes lie in `bytes`; length 0 means the id has no entry (no token is empty).
  struct Span {
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  std::string bytes;        // every token's bytes, back to back
  std::vector<Span> spans;  // indexed by id; size = 1 + the largest id
  std::string source;       // the file name, for messages
  std::string warning;      // set when the file cannot represent the whole vocab (JSON)

  bool has(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < spans.size() && spans[id].length > 0;
  }
  std::string_view token(int32_t id) const {
    return std::string_view(bytes).substr(spans[id].offset, spans[id].length);
  }
  // Records `token` as the bytes of `id` (the caller checks that `id` is new and in range).
  void add(int32_t id, std::string_view token) {
    if (static_cast<size_t>(id) >= spans.size()) spans.resize(static_cast<size_t>(id) + 1);
    spans[id] = {static_cast<uint32_t>(bytes.size()), static_cast<uint32_t>(token.size())};
    bytes.append(token);
  }
};

// Parses the official World vocab: lines `<id> <python literal> <byte length>`. Throws rwkv::Error
// "<source>:<line>: …" on a malformed line, a wrong length, an id out of range or a duplicate id.
Vocab parse_vocab_txt(std::string_view text, std::string source);

// Parses candle's JSON vocab `{"token text": id, …}`. Keys are UTF-8 text, so tokens that are not
// valid UTF-8 cannot be present; the empty key they collapse into is skipped, and `warning` says
// how many ids are missing. Throws rwkv::Error naming `source` on bad JSON or a duplicate id.
Vocab parse_vocab_json(std::string_view text, std::string source);

// Reads the RWKV World vocab llama.cpp's converter stores in a GGUF file's metadata
// (tokenizer.ggml.*, vocab_gguf.cpp). Throws rwkv::Error naming `source` when there is none, it
// is another tokenizer, or a token is malformed.
Vocab parse_vocab_gguf(const std::map<std::string, std::string>& metadata, std::string source);
// Whether a GGUF file's metadata holds such a vocab.
bool gguf_has_rwkv_vocab(const std::map<std::string, std::string>& metadata);

}  // namespace rwkv
