// AVX2 dequantization of whole rows to f32 for the ggml block types that decode and prompts meet
// most (the 32-weight types and the K-quants Q4_K, Q5_K, Q6_K of llama.cpp's Q4_K_M / Q5_K_M /
// Q6_K files): the same values as quant::dequantize_row bit for bit (the integer weights widened,
// then the same float multiplies and adds in the same order; this file is built with
// -ffp-contract=off so none of them is fused). Runs on every AVX2 CPU, AVX-512 ones included (for
// the K-quants, which have no AVX-512 kernel). Only called after a run-time CPU check.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/matmul_quant.h"
#include "kernels/cpu/simd_target.h"
#include "tensor/quant.h"

RWKV_SIMD_BEGIN("avx2,f16c")

#include "kernels/cpu/quant_blocks_avx2.h"

namespace rwkv::cpu {
namespace {

using quant::kBlock;
using quant::kBlockK;

// 32 signed bytes to floats, times d_lo (values 0-15) or d_hi (16-31), plus m when kMin:
// dst[i] = float(q[i]) * d (+ m), as the scalar code computes it.
template <bool kMin>
inline void widen32(__m256i q, float d_lo, float d_hi, float m, float* dst) {
  const __m128i halves[2] = {_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)};
  for (int h = 0; h < 2; ++h) {
    const __m256 d = _mm256_set1_ps(h == 0 ? d_lo : d_hi);
    for (int e = 0; e < 2; ++e) {
      const __m128i bytes = e == 0 ? halves[h] : _mm_srli_si128(halves[h], 8);
      __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), d);
      if constexpr (kMin) f = _mm256_add_ps(f, _mm256_set1_ps(m));
      _mm256_storeu_ps(dst + 16 * h + 8 * e, f);
    }
  }
}

void row_q8_0(const std::byte* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(quant::BlockQ8_0)) {
    const float d = f16_at(src);
    widen32<false>(load32(src + 2), d, d, 0.0f, y + i * kBlock);
  }
}

void row_q4_0(const std::byte* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(quant::BlockQ4_0)) {
    const float d = f16_at(src);
    const __m256i q = _mm256_sub_epi8(nibbles16(reinterpret_cast<const uint8_t*>(src + 2)), _mm256_set1_epi8(8));
    widen32<false>(q, d, d, 0.0f, y + i * kBlock);
  }
}

void row_q4_1(const std::byte* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(quant::BlockQ4_1)) {
    const float d = f16_at(src), m = f16_at(src + 2);
    widen32<true>(q4_1_values(reinterpret_cast<const uint8_t*>(src)), d, d, m, y + i * kBlock);
  }
}

template <bool kHasMin>
void row_q5(const std::byte* src, int64_t nb, float* y) {
  constexpr int64_t kBytes = kHasMin ? sizeof(quant::BlockQ5_1) : sizeof(quant::BlockQ5_0);
  for (int64_t i = 0; i < nb; ++i, src += kBytes) {
    const auto* u = reinterpret_cast<const uint8_t*>(src);
    const float d = f16_at(src), m = kHasMin ? f16_at(src + 2) : 0.0f;
    __m256i q = kHasMin ? q5_1_values(u) : q5_0_values(u);
    if constexpr (!kHasMin) q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
    widen32<kHasMin>(q, d, d, m, y + i * kBlock);
  }
}

// Q4_K / Q5_K: four groups of 64 weights, each the low then the high nibbles of 32 bytes, with
// their own 6-bit scale and min: weight = d * sc * q - dmin * m.
template <bool kFiveBit>
void row_q45_k(const std::byte* src, int64_t nb, float* y) {
  using Block = std::conditional_t<kFiveBit, quant::BlockQ5_K, quant::BlockQ4_K>;
  for (int64_t i = 0; i < nb; ++i, src += sizeof(Block)) {
    const auto* b = reinterpret_cast<const uint8_t*>(src);
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t* scales = b + 4;
    __m256i qh = _mm256_setzero_si256();
    if constexpr (kFiveBit) qh = load32(b + offsetof(quant::BlockQ5_K, qh));
    for (int j = 0; j < 4; ++j) {
      uint8_t sc, m;
      quant::scale_min_k4(2 * j, scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      quant::scale_min_k4(2 * j + 1, scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      __m256i q[2];
      k45_group(b + offsetof(Block, qs), kFiveBit ? &qh : nullptr, j, q);
      float* out = y + i * kBlockK + 64 * j;
      widen32<true>(q[0], d1, d1, -m1, out);  // x - m1 is x + (-m1) exactly
      widen32<true>(q[1], d2, d2, -m2, out + 32);
    }
  }
}

// Q6_K: two halves of 128 weights; in each, 4-bit lows from ql and 2-bit highs from qh make four
// runs of 32 (q - 32), with a signed 8-bit scale per 16 weights: weight = d * sc * q.
void row_q6_k(const std::byte* src, int64_t nb, float* y) {
  const __m256i bias = _mm256_set1_epi8(32);
  for (int64_t i = 0; i < nb; ++i, src += sizeof(quant::BlockQ6_K)) {
    const auto* b = reinterpret_cast<const uint8_t*>(src);
    const float d = f16_at(b + offsetof(quant::BlockQ6_K, d));
    const auto* sc = reinterpret_cast<const int8_t*>(b + offsetof(quant::BlockQ6_K, scales));
    for (int n = 0; n < 2; ++n) {
      __m256i q[4];
      q6k_half(b, n, q);
      const int8_t* s = sc + 8 * n;
      float* out = y + i * kBlockK + 128 * n;
      for (int r = 0; r < 4; ++r)
        widen32<false>(_mm256_sub_epi8(q[r], bias), d * static_cast<float>(s[2 * r]), d * static_cast<float>(s[2 * r + 1]),
                       0.0f, out + 32 * r);
    }
  }
}

}  // namespace

bool quant_dequantize_rows_avx2(const WeightMatrix& w, int64_t o, int64_t n, float* dst) {
  void (*row)(const std::byte*, int64_t, float*) = nullptr;
  int64_t per_block = kBlock;
  switch (w.dtype) {
    case DType::Q8_0: row = row_q8_0; break;
    case DType::Q4_0: row = row_q4_0; break;
    case DType::Q4_1: row = row_q4_1; break;
    case DType::Q5_0: row = row_q5<false>; break;
    case DType::Q5_1: row = row_q5<true>; break;
    case DType::Q4_K: row = row_q45_k<false>, per_block = kBlockK; break;
    case DType::Q5_K: row = row_q45_k<true>, per_block = kBlockK; break;
    case DType::Q6_K: row = row_q6_k, per_block = kBlockK; break;
    default: return false;
  }
  for (int64_t r = 0; r < n; ++r) row(w.row(o + r), w.cols / per_block, dst + r * w.cols);
  return true;
}

}  // namespace rwkv::cpu

RWKV_SIMD_END
#endif  // __x86_64__
