#include <cstring>

#include "io/readers.h"
#include "util/error.h"

namespace rwkv {

const char* file_format_name(FileFormat f) {
  switch (f) {
    case FileFormat::Pth: return "PyTorch .pth";
    case FileFormat::Safetensors: return "safetensors";
    case FileFormat::Gguf: return "GGUF";
    case FileFormat::RwkvCppBin: return "rwkv.cpp .bin";
    case FileFormat::Unknown: break;
  }
  return "unknown";
}

FileFormat detect_file_format(const MappedFile& file) {
  const auto b = file.bytes();
  if (b.size() >= 4 && std::memcmp(b.data(), "PK\x03\x04", 4) == 0) return FileFormat::Pth;
  // A legacy (torch < 1.6) torch.save stream: PROTO 2, then LONG1 of the 10-byte torch magic.
  // read_pth refuses it with advice rather than the reader guessing at an unknown format.
  if (b.size() >= 4 && b[0] == std::byte{0x80} && b[1] == std::byte{0x02} && b[2] == std::byte{0x8a} &&
      b[3] == std::byte{0x0a})
    return FileFormat::Pth;
  if (b.size() >= 4 && std::memcmp(b.data(), "GGUF", 4) == 0) return FileFormat::Gguf;
  if (b.size() >= 4) {
    uint32_t magic;
    std::memcpy(&magic, b.data(), 4);
    if (magic == 0x67676d66u) return FileFormat::RwkvCppBin;  // "ggmf" as a little-endian int32
  }
  if (b.size() >= 9 && b[8] == std::byte{'{'}) return FileFormat::Safetensors;
  return FileFormat::Unknown;
}

TensorMap read_tensor_file(const std::string& path) {
  auto file = MappedFile::open(path);
  switch (detect_file_format(*file)) {
    case FileFormat::Pth: return read_pth(file);
    case FileFormat::Safetensors: return read_safetensors(file);
    case FileFormat::Gguf: return read_gguf(file);
    case FileFormat::RwkvCppBin: return read_rwkvcpp_bin(file);
    case FileFormat::Unknown: break;
  }
  throw Error("{}: not a model file we can read (expected a PyTorch .pth zip, .safetensors, GGUF or rwkv.cpp .bin)",
              path);
}

}  // namespace rwkv
