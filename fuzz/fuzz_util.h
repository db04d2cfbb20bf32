// Shared by the fuzz targets: wrap the input as a mapped file and read every byte of the result,
// so a view that points outside the input is caught by AddressSanitizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "io/mapped_file.h"
#include "tensor/tensor_map.h"

namespace rwkv::fuzz {

inline std::shared_ptr<const MappedFile> as_file(const uint8_t* data, size_t size, const char* name) {
  return MappedFile::from_bytes(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), name);
}

inline void touch(const TensorMap& m) {
  volatile unsigned sink = 0;
  for (const auto& name : m.names()) {
    const TensorView& t = m.get(name);
    unsigned acc = 0;
    for (std::byte b : t.bytes) acc += static_cast<unsigned>(b);
    sink = sink + acc;
  }
}

}  // namespace rwkv::fuzz
