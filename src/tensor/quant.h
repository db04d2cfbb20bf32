// The ggml block-quantized weight types: their block layouts, exact dequantization and the
// reference quantizers, bit for bit the definitions of ggml (ggml-common.h, ggml-quants.c:
// dequantize_row_* and quantize_row_*_ref, which llama-quantize uses when no importance matrix
// is given), so a file we write holds the same bytes as ggml's for the same input.
//
// A quantized row of n weights (n a multiple of the block size) is n / block blocks, one after
// the other; blocks run along the fastest dimension (a Linear weight's `in`). Within a block:
//
//   type  weights bytes  layout                                     value of weight j
//   Q4_0    32     18    f16 d; u8 qs[16]                           d * (q_j - 8)
//   Q4_1    32     20    f16 d, m; u8 qs[16]                        d * q_j + m
//   Q5_0    32     22    f16 d; u8 qh[4]; u8 qs[16]                 d * (q_j - 16)
//   Q5_1    32     24    f16 d, m; u8 qh[4]; u8 qs[16]              d * q_j + m
//   Q8_0    32     34    f16 d; i8 qs[32]                           d * qs[j]
//     4/5-bit: q_j = low nibble of qs[j] for j < 16, high nibble of qs[j - 16] otherwise;
//     5th bit (Q5) = bit j of the little-endian u32 qh.
//   Q2_K   256     84    u8 scales[16]; u8 qs[64]; f16 d, dmin      16 sub-blocks of 16
//   Q3_K   256    110    u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d
//   Q4_K   256    144    f16 d, dmin; u8 scales[12]; u8 qs[128]     8 sub-blocks of 32, 6-bit scale/min
//   Q5_K   256    176    f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
//   Q6_K   256    210    u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d   16 sub-blocks of 16
//
// The structs below are the byte layouts (every field is 1 or 2 bytes, so there is no padding).
// File data is only guaranteed 2-byte aligned; code that reads blocks in place casts only when
// that holds (the readers copy tensors that are not).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace rwkv::quant {

inline constexpr int kBlock = 32;    // QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0
inline constexpr int kBlockK = 256;  // QK_K, the K-quant super-block
inline constexpr int kScaleBytesK = 12;

struct BlockQ4_0 {
  uint16_t d;  // f16 scale
  uint8_t qs[kBlock / 2];
};
struct BlockQ4_1 {
  uint16_t d, m;  // f16 scale and minimum
  uint8_t qs[kBlock / 2];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kBlock / 2];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kBlock / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kBlock];
};
struct BlockQ2_K {
  uint8_t scales[kBlockK / 16];  // low nibble scale, high nibble min, per 16 weights
  uint8_t qs[kBlockK / 4];
  uint16_t d, dmin;
};
struct BlockQ3_K {
  uint8_t hmask[kBlockK / 8];
  uint8_t qs[kBlockK / 4];
  uint8_t scales[kScaleBytesK];  // 16 6-bit scales
  uint16_t d;
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[kScaleBytesK];  // 8 6-bit scales and 8 6-bit mins (get_scale_min_k4)
  uint8_t qs[kBlockK / 2];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[kScaleBytesK];
  uint8_t qh[kBlockK / 8];
  uint8_t qs[kBlockK / 2];
};
struct BlockQ6_K {
  uint8_t ql[kBlockK / 2];
  uint8_t qh[kBlockK / 4];
  int8_t scales[kBlockK / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
              sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block (ggml's get_scale_min_k4).
inline void scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// Widens n weights of a row of any dtype (float or quantized) to f32, exactly as ggml does.
// n must be a multiple of the block size.
void dequantize_row(DType type, const std::byte* src, int64_t n, float* dst);

// Whether quantize_row supports `type` (every quantized type except Q2_K and Q3_K, which we read only).
bool can_quantize(DType type);
// ggml's reference quantizer (quantize_row_*_ref) for n weights; writes dtype_row_bytes(type, n) bytes.
void quantize_row(DType type, const float* src, int64_t n, std::byte* dst);

// Multiplies every weight of n quantized weights by 2^exponent by scaling the blocks' f16 scales
// (and mins). Exact unless a scale leaves the f16 range: then returns false and leaves `data`
// partly scaled (the caller discards it).
bool scale_pow2(DType type, std::byte* data, int64_t n, int exponent);

// Per type, in quant.cpp / quant_k.cpp.
void dequantize_row_k(DType type, const std::byte* src, int64_t n, float* dst);
void quantize_row_k(DType type, const float* src, int64_t n, std::byte* dst);

}  // namespace rwkv::quant
