// Element types of weights: plain floats and the ggml block-quantized types we read.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace rwkv {

enum class DType : uint8_t {
  F32,
  F16,
  BF16,
  // ggml block types (blocks of 32 weights unless noted); layouts in tensor/quant.h.
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q8_0,
  Q2_K,  // super-blocks of 256 (K-quants); block layouts in tensor/quant.h
  Q3_K,
  Q4_K,
  Q5_K,
  Q6_K,
};

// Weights per block (1 for plain floats) and bytes per block.
int64_t dtype_block_size(DType t);
int64_t dtype_block_bytes(DType t);
bool dtype_is_quantized(DType t);
std::string_view dtype_name(DType t);
// Parses "f32", "bf16", "q8_0", ... (case-insensitive); returns false when unknown.
bool parse_dtype(std::string_view name, DType* out);
// Bytes taken by n elements (n must be a multiple of the block size).
int64_t dtype_row_bytes(DType t, int64_t n);

// Scalar conversions (bit-exact with IEEE / PyTorch: bf16 rounds to nearest even, NaN kept).
inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace rwkv
