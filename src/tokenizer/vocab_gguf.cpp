// The RWKV World vocab that llama.cpp's converter embeds in a GGUF file, so that a GGUF runs
// without a separate vocab file (as it does in llama.cpp):
//   tokenizer.ggml.model       "rwkv"
//   tokenizer.ggml.tokens      id 0 "<s>", then the official tokens in id order, each as the text
//                              of Python's repr(bytes) without b'' (ASCII, \xHH escapes), then
//                              "[PADn]" up to the model's vocab size
//   tokenizer.ggml.token_type  1 = normal, 3 = control (<s>), 4 = user-defined (the padding)
// Only normal tokens are text; id 0 stays our end of document. The GGUF reader keeps string
// arrays as JSON text in the metadata (io/gguf.cpp), which is lossless here: the tokens are ASCII.
#include <nlohmann/json.hpp>

#include "tokenizer/python_literal.h"
#include "tokenizer/vocab.h"
#include "util/error.h"

namespace rwkv {

namespace {

constexpr int kNormalToken = 1;  // llama.cpp's LLAMA_TOKEN_TYPE_NORMAL

nlohmann::json json_array(const std::map<std::string, std::string>& meta, const std::string& key,
                          const std::string& source) {
  const auto it = meta.find(key);
  if (it == meta.end()) throw Error("{}: no '{}' in the GGUF metadata", source, key);
  nlohmann::json v = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (!v.is_array()) throw Error("{}: GGUF metadata '{}' is not a readable array ({})", source, key,
                                 it->second.substr(0, 80));
  return v;
}

}  // namespace

bool gguf_has_rwkv_vocab(const std::map<std::string, std::string>& meta) {
  const auto it = meta.find("tokenizer.ggml.model");
  return it != meta.end() && it->second == "rwkv" && meta.count("tokenizer.ggml.tokens") > 0;
}

Vocab parse_vocab_gguf(const std::map<std::string, std::string>& meta, std::string source) {
  Vocab vocab;
  vocab.source = std::move(source);
  const auto model = meta.find("tokenizer.ggml.model");
  if (model == meta.end()) throw Error("{}: the GGUF file has no tokenizer (no 'tokenizer.ggml.model')", vocab.source);
  if (model->second != "rwkv")
    throw Error("{}: the GGUF tokenizer is '{}', not the RWKV World vocab ('rwkv')", vocab.source, model->second);
  const nlohmann::json tokens = json_array(meta, "tokenizer.ggml.tokens", vocab.source);
  if (tokens.size() > static_cast<size_t>(kMaxVocabId))
    throw Error("{}: {} tokens, more than the {} a vocab may have", vocab.source, tokens.size(), kMaxVocabId);
  nlohmann::json types = nlohmann::json::array();
  if (meta.count("tokenizer.ggml.token_type")) {
    types = json_array(meta, "tokenizer.ggml.token_type", vocab.source);
    if (types.size() != tokens.size())
      throw Error("{}: {} token types for {} tokens", vocab.source, types.size(), tokens.size());
  }
  std::string bytes;
  for (size_t id = 1; id < tokens.size(); ++id) {  // id 0 is <s>: our end of document
    if (!types.empty() && !(types[id].is_number_integer() && types[id].get<int64_t>() == kNormalToken)) continue;
    if (!tokens[id].is_string()) throw Error("{}: token {} is not a string", vocab.source, id);
    bytes.clear();
    try {
      append_python_bytes_repr_body(tokens[id].get_ref<const std::string&>(), bytes);
    } catch (const Error& e) {
      throw Error("{}: token {} ({}): {}", vocab.source, id, tokens[id].dump(), e.what());
    }
    if (bytes.empty()) throw Error("{}: token {} is empty", vocab.source, id);
    vocab.add(static_cast<int32_t>(id), bytes);
  }
  if (vocab.spans.empty()) throw Error("{}: the GGUF vocab has no normal tokens", vocab.source);
  return vocab;
}

}  // namespace rwkv
