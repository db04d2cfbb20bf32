// Writing GGUF files (version 3; layout in gguf.h): streamed tensor by tensor from TensorSources
// into `<path>.tmp` and renamed into place when complete, like writers.h, so a 15 GB file never
// sits in memory and a failure leaves no half file.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "io/writers.h"

namespace rwkv {

// The metadata value types we write (GGUF has more; the reader reads them all).
using GgufValue = std::variant<uint32_t, int32_t, uint64_t, float, bool, std::string, std::vector<std::string>,
                               std::vector<int32_t>>;
using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

// Tensors in the given order, each of 1 to 4 dimensions with rows of whole blocks, in any dtype
// with a ggml type (f32, f16, bf16, the quantized types). `general.alignment` is written when
// `alignment` is not GGUF's default 32.
void write_gguf(const std::string& path, const std::vector<TensorSource>& tensors, const GgufMetadata& metadata,
                uint32_t alignment = 32);

}  // namespace rwkv
