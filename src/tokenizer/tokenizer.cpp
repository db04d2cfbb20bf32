// What every tokenizer shares (decode) and the factory that picks one for a file.
#include "rwkv/tokenizer.h"

#include <fstream>

#include "io/readers.h"
#include "tokenizer/world_tokenizer.h"
#include "util/error.h"

namespace rwkv {
namespace {

// The name load_tokenizer() maps to the byte-level tokenizer.
constexpr std::string_view kByteTokenizerName = "bytes";
// How far into a file of unknown type to look for the '{' that starts a JSON vocab.
constexpr size_t kSniffBytes = 4096;

bool looks_like_json(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("{}: cannot open the tokenizer file", path.string());
  char head[kSniffBytes];
  f.read(head, sizeof head);
  const std::string_view s(head, static_cast<size_t>(f.gcount()));
  const size_t first = s.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && s[first] == '{';
}

}  // namespace

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (const int32_t id : ids) out.append(token_bytes(id));
  return out;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path) {
  if (path == kByteTokenizerName) return make_byte_tokenizer();
  const std::string ext = path.extension().string();
  if (ext == ".json") return WorldTokenizer::load_json(path.string());
  if (ext == ".txt") return WorldTokenizer::load_txt(path.string());
  if (ext == ".gguf") return WorldTokenizer::load_gguf(path.string());
  // Another name: a model file (GGUF: its vocab; other formats hold none), a JSON or a .txt vocab.
  // Only the formats with a magic number are sniffed (a safetensors file is known by its name: its
  // sniffing rule, '{' at byte 8, could match a JSON vocab).
  FileFormat format = detect_file_format(*MappedFile::open(path.string(), /*populate=*/false));
  if (format == FileFormat::Gguf) return WorldTokenizer::load_gguf(path.string());
  if (ext == ".safetensors") format = FileFormat::Safetensors;
  else if (format == FileFormat::Safetensors) format = FileFormat::Unknown;
  if (format != FileFormat::Unknown)
    throw Error("{}: a {} model file holds no vocab; pass the World vocab (rwkv_vocab_v20230424.txt)", path.string(),
                file_format_name(format));
  if (looks_like_json(path)) return WorldTokenizer::load_json(path.string());
  return WorldTokenizer::load_txt(path.string());
}

std::unique_ptr<Tokenizer> tokenizer_in_model_file(const std::filesystem::path& weights) {
  const auto file = MappedFile::open(weights.string(), /*populate=*/false);  // only the header is read
  if (detect_file_format(*file) != FileFormat::Gguf) return nullptr;
  const TensorMap map = read_gguf(file);
  if (!gguf_has_rwkv_vocab(map.metadata())) return nullptr;
  return std::make_unique<WorldTokenizer>(parse_vocab_gguf(map.metadata(), weights.string()));
}

}  // namespace rwkv
