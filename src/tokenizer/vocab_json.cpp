// Reader of the JSON vocab that candle's rwkv_v5::Tokenizer loads: one object {"token text": id}.
// The keys were made by decoding each token's bytes as UTF-8 and dropping invalid bytes, so the
// 486 tokens of rwkv_vocab_v20230424 that are not valid UTF-8 (the bytes 0x80..0xFF and partial
// characters) all became the empty key. What is left is exact; what is lost is reported.
#include <nlohmann/json.hpp>

#include "tokenizer/vocab.h"
#include "util/error.h"

namespace rwkv {

Vocab parse_vocab_json(std::string_view text, std::string source) {
  Vocab vocab;
  vocab.source = std::move(source);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw Error("{}: not a valid JSON vocab: {}", vocab.source, e.what());
  }
  if (!doc.is_object()) throw Error("{}: a JSON vocab must be an object {{\"token text\": id}}", vocab.source);

  vocab.bytes.reserve(text.size());
  vocab.spans.reserve(kWorldVocabSize);
  for (const auto& [key, value] : doc.items()) {
    if (!value.is_number_integer())
      throw Error("{}: the value of key {} must be an integer id", vocab.source, nlohmann::json(key).dump());
    const auto id = value.get<int64_t>();
    if (id < 1 || id > kMaxVocabId)
      throw Error("{}: key {} has id {}, outside 1..{} (id 0 is end of document)", vocab.source,
                  nlohmann::json(key).dump(), id, kMaxVocabId);
    const auto i = static_cast<int32_t>(id);
    if (key.empty()) continue;  // the tokens whose text was lost (counted below)
    if (vocab.has(i)) throw Error("{}: duplicate id {} (keys {} and {})", vocab.source, i,
                                  nlohmann::json(std::string(vocab.token(i))).dump(), nlohmann::json(key).dump());
    vocab.add(i, key);
  }
  if (vocab.spans.empty()) throw Error("{}: the vocab file has no tokens", vocab.source);

  size_t missing = 0;
  for (int32_t id = 1; id < static_cast<int32_t>(vocab.spans.size()); ++id) missing += vocab.has(id) ? 0 : 1;
  if (missing > 0)
    vocab.warning = fmt::format(
        "{}: the JSON vocab is lossy: {} of the ids 1..{} have no text (tokens that are not valid UTF-8 "
        "cannot be JSON keys); inputs that need them cannot be encoded and those ids cannot be decoded. "
        "Prefer the official rwkv_vocab_v20230424.txt",
        vocab.source, missing, vocab.spans.size() - 1);
  return vocab;
}

}  // namespace rwkv
