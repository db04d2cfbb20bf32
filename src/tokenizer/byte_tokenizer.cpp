// The byte-level tokenizer of the small models trained on raw bytes: token id = byte value.
#include <array>

#include "rwkv/tokenizer.h"
#include "util/error.h"

namespace rwkv {
namespace {

constexpr int32_t kByteVocabSize = 256;

class ByteTokenizer final : public Tokenizer {
 public:
  ByteTokenizer() {
    for (int32_t b = 0; b < kByteVocabSize; ++b) bytes_[b] = static_cast<char>(b);
  }

  std::vector<int32_t> encode(std::string_view bytes) const override {
    std::vector<int32_t> ids(bytes.size());
    for (size_t i = 0; i < bytes.size(); ++i) ids[i] = static_cast<uint8_t>(bytes[i]);
    return ids;
  }
  int32_t vocab_size() const override { return kByteVocabSize; }
  bool has_text(int32_t id) const override { return id >= 0 && id < kByteVocabSize; }
  std::string_view token_bytes(int32_t id) const override {
    if (!has_text(id)) throw Error("token id {} is out of range: the byte vocab has ids 0..{}", id, kByteVocabSize - 1);
    return {&bytes_[id], 1};
  }
  std::optional<int32_t> end_of_document() const override { return std::nullopt; }

 private:
  std::array<char, kByteVocabSize> bytes_;  // bytes_[b] == b: the storage token_bytes views
};

}  // namespace

std::unique_ptr<Tokenizer> make_byte_tokenizer() { return std::make_unique<ByteTokenizer>(); }

}  // namespace rwkv
