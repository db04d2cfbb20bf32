// The checkpoint readers. Each parses one container format into a TensorMap of views into the
// mapped file, validating every offset and size against the file first.
#pragma once

#include <memory>
#include <string>

#include "io/mapped_file.h"
#include "tensor/tensor_map.h"

namespace rwkv {

enum class FileFormat { Pth, Safetensors, Gguf, RwkvCppBin, Unknown };
const char* file_format_name(FileFormat f);

// Sniffs the format from the first bytes (zip "PK", GGUF magic, rwkv.cpp "ggmf", safetensors header).
FileFormat detect_file_format(const MappedFile& file);

// Opens, maps and reads any supported file.
TensorMap read_tensor_file(const std::string& path);

TensorMap read_safetensors(std::shared_ptr<const MappedFile> file);
TensorMap read_pth(std::shared_ptr<const MappedFile> file);
TensorMap read_gguf(std::shared_ptr<const MappedFile> file);
TensorMap read_rwkvcpp_bin(std::shared_ptr<const MappedFile> file);

}  // namespace rwkv
