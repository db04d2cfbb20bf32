// Unpacking ggml quantized blocks into bytes with AVX2: shared by the dequantization
// (dequant_avx2.cpp) and the 8-bit-activation decode (matmul_q8a_avx2.cpp). Include it inside an
// AVX2 SIMD region (after RWKV_SIMD_BEGIN("avx2,...")): everything here has internal linkage, so
// each includer compiles its own copy for its own target.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tensor/quant.h"

namespace rwkv::cpu {
namespace {

// An f16 scale as float.
inline float f16_at(const void* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// The 4-bit values of a 16-byte nibble array in weight order: low nibbles are weights 0-15, high
// ones 16-31.
inline __m256i nibbles16(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), mask), _mm_and_si128(b, mask));
}

// 0x10 in byte i where bit i of the little-endian 32-bit qh is set (the 5th bit of weight i of a
// Q5_0 / Q5_1 block).
inline __m256i fifth_bits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                                             _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202,
                                                                0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

// The block struct of a K-quant type.
template <DType D>
struct SuperBlock;
template <>
struct SuperBlock<DType::Q2_K> { using type = quant::BlockQ2_K; };
template <>
struct SuperBlock<DType::Q3_K> { using type = quant::BlockQ3_K; };
template <>
struct SuperBlock<DType::Q4_K> { using type = quant::BlockQ4_K; };
template <>
struct SuperBlock<DType::Q5_K> { using type = quant::BlockQ5_K; };
template <>
struct SuperBlock<DType::Q6_K> { using type = quant::BlockQ6_K; };

// The 16 six-bit scales of a Q3_K block, minus 32, as bytes: the low 4 bits of scale i are nibble
// i / 8 of byte i % 8, the high 2 bits are bits 2 (i / 4) of byte 8 + i % 4. On the 12 bytes as
// three little-endian words a, b, c, four scales at a time:
//   0-3: a & 15 | (c & 3) << 4         4-7: b & 15 | (c >> 2 & 3) << 4
//   8-11: a >> 4 & 15 | (c >> 4 & 3) << 4   12-15: b >> 4 & 15 | (c >> 6 & 3) << 4
inline __m128i q3k_scales(const uint8_t* packed) {
  uint32_t a, b, c;
  std::memcpy(&a, packed, 4);
  std::memcpy(&b, packed + 4, 4);
  std::memcpy(&c, packed + 8, 4);
  const uint32_t low4 = 0x0f0f0f0f, low2 = 0x03030303;
  const __m128i s = _mm_setr_epi32(static_cast<int>((a & low4) | (c & low2) << 4),
                                   static_cast<int>((b & low4) | ((c >> 2) & low2) << 4),
                                   static_cast<int>(((a >> 4) & low4) | ((c >> 4) & low2) << 4),
                                   static_cast<int>(((b >> 4) & low4) | ((c >> 6) & low2) << 4));
  return _mm_sub_epi8(s, _mm_set1_epi8(32));
}

// The 32 unsigned values of a Q4_1 / Q5_0 / Q5_1 block in weight order (before the zero point or
// the min).
inline __m256i q4_1_values(const uint8_t* b) { return nibbles16(b + offsetof(quant::BlockQ4_1, qs)); }
inline __m256i q5_0_values(const uint8_t* b) {
  return _mm256_or_si256(nibbles16(b + offsetof(quant::BlockQ5_0, qs)), fifth_bits(b + offsetof(quant::BlockQ5_0, qh)));
}
inline __m256i q5_1_values(const uint8_t* b) {
  return _mm256_or_si256(nibbles16(b + offsetof(quant::BlockQ5_1, qs)), fifth_bits(b + offsetof(quant::BlockQ5_1, qh)));
}

// Q4_K / Q5_K group j (0-3) of a super-block: the low and the high nibbles of qs[32j ..], the
// unsigned values of sub-blocks 2j and 2j+1; with Q5_K (qh = its 32 qh bytes), bit 2j of qh[l]
// is the 5th bit of low value l and bit 2j+1 that of high value l.
inline void k45_group(const uint8_t* qs, const __m256i* qh, int j, __m256i (&out)[2]) {
  const __m256i nib = _mm256_set1_epi8(0x0f), q = load32(qs + 32 * j);
  out[0] = _mm256_and_si256(q, nib);
  out[1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), nib);
  if (qh) {
    const __m256i one = _mm256_set1_epi8(1), hb = _mm256_srli_epi16(*qh, 2 * j);
    out[0] = _mm256_or_si256(out[0], _mm256_slli_epi16(_mm256_and_si256(hb, one), 4));
    out[1] = _mm256_or_si256(out[1], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4));
  }
}

// The 8 six-bit scales and mins of a Q4_K/Q5_K super-block as floats: quant::scale_min_k4 for
// all eight at once, on the 12 bytes as three little-endian words a, b, c (byte j of each):
//   sc[0-3] = a & 63, m[0-3] = b & 63,
//   sc[4-7] = (c & 15) | (a >> 6) << 4, m[4-7] = (c >> 4) | (b >> 6) << 4.
inline void k4_scales(const uint8_t* packed, __m256* sc, __m256* mn) {
  uint32_t a, b, c;
  std::memcpy(&a, packed, 4);
  std::memcpy(&b, packed + 4, 4);
  std::memcpy(&c, packed + 8, 4);
  const uint32_t low6 = 0x3f3f3f3f, low4 = 0x0f0f0f0f, low2 = 0x03030303;
  const uint64_t s = (a & low6) | static_cast<uint64_t>((c & low4) | ((a >> 6) & low2) << 4) << 32;
  const uint64_t m = (b & low6) | static_cast<uint64_t>(((c >> 4) & low4) | ((b >> 6) & low2) << 4) << 32;
  *sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(s))));
  *mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(m))));
}

// Q6_K half n (0-1) of a super-block: its four runs of 32 six-bit values (0-63, before the -32),
// 4 low bits from ql and 2 high bits from qh:
//   run 0: ql[l] & 15 | (qh[l] & 3) << 4        run 1: ql[l+32] & 15 | (qh[l] >> 2 & 3) << 4
//   run 2: ql[l] >> 4 | (qh[l] >> 4 & 3) << 4   run 3: ql[l+32] >> 4 | (qh[l] >> 6 & 3) << 4
inline void q6k_half(const uint8_t* blk, int n, __m256i (&q)[4]) {
  const __m256i lo4 = _mm256_set1_epi8(0x0f), hi2 = _mm256_set1_epi8(0x30);
  const __m256i a = load32(blk + 64 * n), c = load32(blk + 64 * n + 32);
  const __m256i h = load32(blk + offsetof(quant::BlockQ6_K, qh) + 32 * n);
  q[0] = _mm256_or_si256(_mm256_and_si256(a, lo4), _mm256_and_si256(_mm256_slli_epi16(h, 4), hi2));
  q[1] = _mm256_or_si256(_mm256_and_si256(c, lo4), _mm256_and_si256(_mm256_slli_epi16(h, 2), hi2));
  q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), lo4), _mm256_and_si256(h, hi2));
  q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), lo4), _mm256_and_si256(_mm256_srli_epi16(h, 2), hi2));
}

}  // namespace
}  // namespace rwkv::cpu
