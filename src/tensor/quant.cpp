// The 32-weight block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and the dispatch; the K-quants are
// in quant_k.cpp. Every expression follows ggml-quants.c operation for operation (this file is
// compiled with -ffp-contract=off, so no multiply-add is fused where ggml's C does not fuse it);
// the tests check the bytes against llama-quantize's output.
#include "tensor/quant.h"
#include "tensor/quant_detail.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/error.h"

namespace rwkv::quant {

namespace {

using detail::h2f;
using detail::load;
using detail::store;

// ---- dequantization (ggml dequantize_row_*) ----

void dequant_q4_0(const std::byte* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ4_0>(src, i);
    const float d = h2f(b.d);
    for (int j = 0; j < kBlock / 2; ++j) {
      const int x0 = (b.qs[j] & 0x0F) - 8, x1 = (b.qs[j] >> 4) - 8;
      y[i * kBlock + j] = static_cast<float>(x0) * d;
      y[i * kBlock + j + kBlock / 2] = static_cast<float>(x1) * d;
    }
  }
}

void dequant_q4_1(const std::byte* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ4_1>(src, i);
    const float d = h2f(b.d), m = h2f(b.m);
    for (int j = 0; j < kBlock / 2; ++j) {
      const int x0 = b.qs[j] & 0x0F, x1 = b.qs[j] >> 4;
      y[i * kBlock + j] = static_cast<float>(x0) * d + m;
      y[i * kBlock + j + kBlock / 2] = static_cast<float>(x1) * d + m;
    }
  }
}

template <typename Block, bool kHasMin>
void dequant_q5(const std::byte* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<Block>(src, i);
    const float d = h2f(b.d);
    float m = 0.0f;
    if constexpr (kHasMin) m = h2f(b.m);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < kBlock / 2; ++j) {
      const int xh0 = ((qh >> j) << 4) & 0x10, xh1 = (qh >> (j + 12)) & 0x10;
      const int x0 = (b.qs[j] & 0x0F) | xh0, x1 = (b.qs[j] >> 4) | xh1;
      if constexpr (kHasMin) {
        y[i * kBlock + j] = static_cast<float>(x0) * d + m;
        y[i * kBlock + j + kBlock / 2] = static_cast<float>(x1) * d + m;
      } else {
        y[i * kBlock + j] = static_cast<float>(x0 - 16) * d;
        y[i * kBlock + j + kBlock / 2] = static_cast<float>(x1 - 16) * d;
      }
    }
  }
}

void dequant_q8_0(const std::byte* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ8_0>(src, i);
    const float d = h2f(b.d);
    for (int j = 0; j < kBlock; ++j) y[i * kBlock + j] = static_cast<float>(b.qs[j]) * d;
  }
}

// ---- reference quantization (ggml quantize_row_*_ref) ----

// ggml casts (x + 8.5f) to int8_t, i.e. truncates toward zero; finite inputs keep it in range.
// Non-finite weights (which ggml's cast leaves undefined) become 0 here instead of UB.
int trunc_to_int(float v) { return std::isfinite(v) ? static_cast<int>(std::max(-128.0f, std::min(127.0f, v))) : 0; }

// Absolute maximum and the signed value that has it (the first one, as ggml's strict `<`).
void signed_absmax(const float* x, int n, float* amax, float* max) {
  *amax = 0.0f;
  *max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (*amax < std::fabs(x[j])) {
      *amax = std::fabs(x[j]);
      *max = x[j];
    }
  }
}

void min_max(const float* x, int n, float* min, float* max) {
  *min = 3.402823466e+38f;  // FLT_MAX, as ggml starts
  *max = -3.402823466e+38f;
  for (int j = 0; j < n; ++j) {
    if (x[j] < *min) *min = x[j];
    if (x[j] > *max) *max = x[j];
  }
}

void quant_q4_0(const float* x, int64_t nb, std::byte* dst) {
  for (int64_t i = 0; i < nb; ++i, x += kBlock) {
    float amax, max;
    signed_absmax(x, kBlock, &amax, &max);
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_0 b{};
    b.d = f32_to_f16(d);
    for (int j = 0; j < kBlock / 2; ++j) {
      const float x0 = x[j] * id, x1 = x[kBlock / 2 + j] * id;
      const int xi0 = std::min(15, trunc_to_int(x0 + 8.5f)), xi1 = std::min(15, trunc_to_int(x1 + 8.5f));
      b.qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
    store(dst, i, b);
  }
}

void quant_q4_1(const float* x, int64_t nb, std::byte* dst) {
  for (int64_t i = 0; i < nb; ++i, x += kBlock) {
    float min, max;
    min_max(x, kBlock, &min, &max);
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_1 b{};
    b.d = f32_to_f16(d);
    b.m = f32_to_f16(min);
    for (int j = 0; j < kBlock / 2; ++j) {
      const float x0 = (x[j] - min) * id, x1 = (x[kBlock / 2 + j] - min) * id;
      const int xi0 = std::min(15, trunc_to_int(x0 + 0.5f)), xi1 = std::min(15, trunc_to_int(x1 + 0.5f));
      b.qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
    store(dst, i, b);
  }
}

void quant_q5_0(const float* x, int64_t nb, std::byte* dst) {
  for (int64_t i = 0; i < nb; ++i, x += kBlock) {
    float amax, max;
    signed_absmax(x, kBlock, &amax, &max);
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ5_0 b{};
    b.d = f32_to_f16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kBlock / 2; ++j) {
      const float x0 = x[j] * id, x1 = x[kBlock / 2 + j] * id;
      const int xi0 = std::min(31, trunc_to_int(x0 + 16.5f)), xi1 = std::min(31, trunc_to_int(x1 + 16.5f));
      b.qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>((xi0 & 0x10) >> 4) << j;
      qh |= static_cast<uint32_t>((xi1 & 0x10) >> 4) << (j + kBlock / 2);
    }
    std::memcpy(b.qh, &qh, 4);
    store(dst, i, b);
  }
}

void quant_q5_1(const float* x, int64_t nb, std::byte* dst) {
  for (int64_t i = 0; i < nb; ++i, x += kBlock) {
    float min, max;
    min_max(x, kBlock, &min, &max);
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ5_1 b{};
    b.d = f32_to_f16(d);
    b.m = f32_to_f16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kBlock / 2; ++j) {
      const float x0 = (x[j] - min) * id, x1 = (x[kBlock / 2 + j] - min) * id;
      // ggml casts to uint8_t without clamping; the range keeps it in 0..31 for finite input.
      const int xi0 = trunc_to_int(x0 + 0.5f) & 0xFF, xi1 = trunc_to_int(x1 + 0.5f) & 0xFF;
      b.qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>((xi0 & 0x10) >> 4) << j;
      qh |= static_cast<uint32_t>((xi1 & 0x10) >> 4) << (j + kBlock / 2);
    }
    std::memcpy(b.qh, &qh, 4);
    store(dst, i, b);
  }
}

void quant_q8_0(const float* x, int64_t nb, std::byte* dst) {
  for (int64_t i = 0; i < nb; ++i, x += kBlock) {
    float amax = 0.0f;
    for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 b{};
    b.d = f32_to_f16(d);
    for (int j = 0; j < kBlock; ++j) {
      const float r = std::round(x[j] * id);  // roundf: halves away from zero
      b.qs[j] = static_cast<int8_t>(std::isfinite(r) ? std::max(-128.0f, std::min(127.0f, r)) : 0.0f);
    }
    store(dst, i, b);
  }
}

// Byte offsets of the f16 scale fields of one block, for scale_pow2.
struct ScaleFields {
  int count;
  int offset[2];
};
ScaleFields scale_fields(DType t) {
  switch (t) {
    case DType::Q4_0: return {1, {0, 0}};
    case DType::Q4_1: return {2, {0, 2}};
    case DType::Q5_0: return {1, {0, 0}};
    case DType::Q5_1: return {2, {0, 2}};
    case DType::Q8_0: return {1, {0, 0}};
    case DType::Q2_K: return {2, {offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)}};
    case DType::Q3_K: return {1, {offsetof(BlockQ3_K, d), 0}};
    case DType::Q4_K: return {2, {0, 2}};
    case DType::Q5_K: return {2, {0, 2}};
    case DType::Q6_K: return {1, {offsetof(BlockQ6_K, d), 0}};
    default: throw Error("scale_pow2: {} is not a quantized type", dtype_name(t));
  }
}

void check_row(DType type, int64_t n) {
  if (n % dtype_block_size(type) != 0)
    throw Error("a row of {} weights is not a whole number of {} blocks of {}", n, dtype_name(type),
                dtype_block_size(type));
}

}  // namespace

void dequantize_row(DType type, const std::byte* src, int64_t n, float* dst) {
  check_row(type, n);
  const int64_t nb = n / dtype_block_size(type);
  switch (type) {
    case DType::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * 4);  // an empty row may have null pointers
      return;
    case DType::F16:
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = type == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      return;
    case DType::Q4_0: return dequant_q4_0(src, nb, dst);
    case DType::Q4_1: return dequant_q4_1(src, nb, dst);
    case DType::Q5_0: return dequant_q5<BlockQ5_0, false>(src, nb, dst);
    case DType::Q5_1: return dequant_q5<BlockQ5_1, true>(src, nb, dst);
    case DType::Q8_0: return dequant_q8_0(src, nb, dst);
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return dequantize_row_k(type, src, n, dst);
  }
  throw Error("dequantize_row: unknown dtype {}", static_cast<int>(type));
}

bool can_quantize(DType type) {
  return dtype_is_quantized(type) && type != DType::Q2_K && type != DType::Q3_K;
}

void quantize_row(DType type, const float* src, int64_t n, std::byte* dst) {
  check_row(type, n);
  const int64_t nb = n / dtype_block_size(type);
  switch (type) {
    case DType::Q4_0: return quant_q4_0(src, nb, dst);
    case DType::Q4_1: return quant_q4_1(src, nb, dst);
    case DType::Q5_0: return quant_q5_0(src, nb, dst);
    case DType::Q5_1: return quant_q5_1(src, nb, dst);
    case DType::Q8_0: return quant_q8_0(src, nb, dst);
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return quantize_row_k(type, src, n, dst);
    default: throw Error("no quantizer for {} (we quantize to q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k)",
                         dtype_name(type));
  }
}

bool scale_pow2(DType type, std::byte* data, int64_t n, int exponent) {
  check_row(type, n);
  const ScaleFields f = scale_fields(type);
  const int64_t nb = n / dtype_block_size(type), bytes = dtype_block_bytes(type);
  for (int64_t i = 0; i < nb; ++i) {
    for (int k = 0; k < f.count; ++k) {
      std::byte* p = data + i * bytes + f.offset[k];
      uint16_t h;
      std::memcpy(&h, p, 2);
      const float v = std::ldexp(f16_to_f32(h), exponent);
      const uint16_t out = f32_to_f16(v);
      if (f16_to_f32(out) != v) return false;  // overflow, or lost bits in the subnormal range
      std::memcpy(p, &out, 2);
    }
  }
  return true;
}

}  // namespace rwkv::quant
