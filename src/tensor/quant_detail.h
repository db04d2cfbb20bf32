// Helpers the scalar block codecs (quant.cpp, quant_k.cpp) share: blocks are copied in and out
// with memcpy, since file data is only 2-byte aligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tensor/dtype.h"

namespace rwkv::quant::detail {

template <typename Block>
Block load(const std::byte* src, int64_t i) {
  Block b;
  std::memcpy(&b, src + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}
template <typename Block>
void store(std::byte* dst, int64_t i, const Block& b) {
  std::memcpy(dst + i * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}
inline float h2f(uint16_t h) { return f16_to_f32(h); }

}  // namespace rwkv::quant::detail
