// AVX-512 matvec for the 32-weight ggml block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): each block is
// widened to two 16-lane f32 vectors in registers (the same exact values as the scalar
// dequantization) and multiplied with f32 activations, so decode streams the quantized bytes
// once and never writes a dequantized copy. Only called after a run-time CPU check.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/simd_target.h"
#include "kernels/cpu/matmul_quant.h"
#include "tensor/quant.h"

RWKV_SIMD_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,f16c")

namespace rwkv::cpu {
namespace {

constexpr int64_t kQ = quant::kBlock;  // 32 weights per block

inline float half(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// One block's 32 weights as integers (before the scale): lanes 0-15 and 16-31.
struct Ints {
  __m512i lo, hi;
};

// The 4-bit values of a 16-byte nibble array: low nibbles are weights 0-15, high ones 16-31.
inline Ints nibbles(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0f);
  return {_mm512_cvtepu8_epi32(_mm_and_si128(b, mask)),
          _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(b, 4), mask))};
}

// Adds 16 to the weights whose 5th bit (bit j of the little-endian qh) is set.
inline Ints fifth_bit(Ints q, const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  const __m512i sixteen = _mm512_set1_epi32(16);
  q.lo = _mm512_mask_add_epi32(q.lo, static_cast<__mmask16>(bits & 0xffff), q.lo, sixteen);
  q.hi = _mm512_mask_add_epi32(q.hi, static_cast<__mmask16>(bits >> 16), q.hi, sixteen);
  return q;
}

// Per block type: the integer weights, the scale d, the offset m (weight = d * q + m) and the
// integer offset subtracted first (weight = d * (q - zero)).
template <DType D>
struct Block;

template <>
struct Block<DType::Q8_0> {
  static constexpr int64_t kBytes = 34;
  static Ints ints(const std::byte* b) {
    const auto* qs = reinterpret_cast<const int8_t*>(b + 2);
    return {_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs))),
            _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16)))};
  }
  static float d(const std::byte* b) { return half(b); }
  static constexpr bool kHasMin = false;
  static constexpr int kZero = 0;
};
template <>
struct Block<DType::Q4_0> {
  static constexpr int64_t kBytes = 18;
  static Ints ints(const std::byte* b) { return nibbles(reinterpret_cast<const uint8_t*>(b + 2)); }
  static float d(const std::byte* b) { return half(b); }
  static constexpr bool kHasMin = false;
  static constexpr int kZero = 8;
};
template <>
struct Block<DType::Q4_1> {
  static constexpr int64_t kBytes = 20;
  static Ints ints(const std::byte* b) { return nibbles(reinterpret_cast<const uint8_t*>(b + 4)); }
  static float d(const std::byte* b) { return half(b); }
  static float m(const std::byte* b) { return half(b + 2); }
  static constexpr bool kHasMin = true;
  static constexpr int kZero = 0;
};
template <>
struct Block<DType::Q5_0> {
  static constexpr int64_t kBytes = 22;
  static Ints ints(const std::byte* b) {
    const auto* u = reinterpret_cast<const uint8_t*>(b);
    return fifth_bit(nibbles(u + 6), u + 2);
  }
  static float d(const std::byte* b) { return half(b); }
  static constexpr bool kHasMin = false;
  static constexpr int kZero = 16;
};
template <>
struct Block<DType::Q5_1> {
  static constexpr int64_t kBytes = 24;
  static Ints ints(const std::byte* b) {
    const auto* u = reinterpret_cast<const uint8_t*>(b);
    return fifth_bit(nibbles(u + 8), u + 4);
  }
  static float d(const std::byte* b) { return half(b); }
  static float m(const std::byte* b) { return half(b + 2); }
  static constexpr bool kHasMin = true;
  static constexpr int kZero = 0;
};

// R weight rows x TT tokens: y[t][o + r] (+)= sum over blocks of d * (q . x) (+ m * sum x).
template <DType D, int R, int TT>
void block_rows(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o, int64_t t0) {
  using B = Block<D>;
  const int64_t blocks = w.cols / kQ;
  __m512 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
  const __m512i zero_point = _mm512_set1_epi32(B::kZero);
  for (int64_t b = 0; b < blocks; ++b) {
    __m512 x0[TT], x1[TT], xs[TT];
    for (int t = 0; t < TT; ++t) {
      const float* xt = x.row(t0 + t) + b * kQ;
      x0[t] = _mm512_loadu_ps(xt);
      x1[t] = _mm512_loadu_ps(xt + 16);
      if constexpr (B::kHasMin) xs[t] = _mm512_add_ps(x0[t], x1[t]);
    }
    if (TT == 1)  // decode: fetch the next row block ahead (see matmul_avx512.cpp; prefetches never fault)
      for (int r = 0; r < R; ++r) {
        const char* next = reinterpret_cast<const char*>(w.row(o + r)) + R * w.row_bytes + b * B::kBytes;
        _mm_prefetch(next, _MM_HINT_T0);
        _mm_prefetch(next + B::kBytes - 1, _MM_HINT_T0);
      }
    for (int r = 0; r < R; ++r) {
      const std::byte* blk = w.row(o + r) + b * B::kBytes;
      Ints q = B::ints(blk);
      if constexpr (B::kZero != 0) {
        q.lo = _mm512_sub_epi32(q.lo, zero_point);
        q.hi = _mm512_sub_epi32(q.hi, zero_point);
      }
      const __m512 q0 = _mm512_cvtepi32_ps(q.lo), q1 = _mm512_cvtepi32_ps(q.hi);
      const __m512 d = _mm512_set1_ps(B::d(blk));
      for (int t = 0; t < TT; ++t) {
        const __m512 dot = _mm512_fmadd_ps(q1, x1[t], _mm512_mul_ps(q0, x0[t]));
        acc[r][t] = _mm512_fmadd_ps(dot, d, acc[r][t]);
        if constexpr (B::kHasMin) acc[r][t] = _mm512_fmadd_ps(xs[t], _mm512_set1_ps(B::m(blk)), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) {
      float* out = y.row(t0 + t) + o + r;
      const float sum = _mm512_reduce_add_ps(acc[r][t]);
      *out = accumulate ? *out + sum : sum;
    }
}

template <DType D, int R, int TT>
void rows_for_tokens(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                     int64_t t0) {
  int64_t o = o0;
  for (; o + R <= o1; o += R) block_rows<D, R, TT>(w, x, y, accumulate, o, t0);
  for (; o < o1; ++o) block_rows<D, 1, TT>(w, x, y, accumulate, o, t0);
}

template <DType D>
void matvec(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  int64_t t = 0;
  for (; t + 4 <= x.rows; t += 4) rows_for_tokens<D, 4, 4>(w, x, y, accumulate, o0, o1, t);
  switch (x.rows - t) {
    case 3: rows_for_tokens<D, 4, 3>(w, x, y, accumulate, o0, o1, t); break;
    case 2: rows_for_tokens<D, 4, 2>(w, x, y, accumulate, o0, o1, t); break;
    case 1: rows_for_tokens<D, 8, 1>(w, x, y, accumulate, o0, o1, t); break;
    default: break;
  }
}

// Row r's 32-weight blocks widened to f32 exactly as the scalar dequantization computes them
// ((q - zero) * d, or q * d + m, no fused multiply-add), into dst (n floats).
template <DType D>
void dequantize_row(const std::byte* row, int64_t n, float* dst) {
  using B = Block<D>;
  const __m512i zero_point = _mm512_set1_epi32(B::kZero);
  for (int64_t b = 0; b < n / kQ; ++b) {
    const std::byte* blk = row + b * B::kBytes;
    Ints q = B::ints(blk);
    if constexpr (B::kZero != 0) {
      q.lo = _mm512_sub_epi32(q.lo, zero_point);
      q.hi = _mm512_sub_epi32(q.hi, zero_point);
    }
    const __m512 d = _mm512_set1_ps(B::d(blk));
    __m512 lo = _mm512_mul_ps(_mm512_cvtepi32_ps(q.lo), d), hi = _mm512_mul_ps(_mm512_cvtepi32_ps(q.hi), d);
    if constexpr (B::kHasMin) {
      const __m512 m = _mm512_set1_ps(B::m(blk));
      lo = _mm512_add_ps(lo, m);
      hi = _mm512_add_ps(hi, m);
    }
    _mm512_storeu_ps(dst + b * kQ, lo);
    _mm512_storeu_ps(dst + b * kQ + 16, hi);
  }
}

}  // namespace

bool quant_dequantize_rows_avx512(const WeightMatrix& w, int64_t o, int64_t n, float* dst) {
  for (int64_t r = 0; r < n; ++r) {
    float* out = dst + r * w.cols;
    switch (w.dtype) {
      case DType::Q8_0: dequantize_row<DType::Q8_0>(w.row(o + r), w.cols, out); break;
      case DType::Q4_0: dequantize_row<DType::Q4_0>(w.row(o + r), w.cols, out); break;
      case DType::Q4_1: dequantize_row<DType::Q4_1>(w.row(o + r), w.cols, out); break;
      case DType::Q5_0: dequantize_row<DType::Q5_0>(w.row(o + r), w.cols, out); break;
      case DType::Q5_1: dequantize_row<DType::Q5_1>(w.row(o + r), w.cols, out); break;
      default: return false;
    }
  }
  return true;
}

void f32_to_bf16_avx512bf16(const float* src, int64_t n, uint16_t* dst) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
    _mm512_storeu_si512(dst + i, reinterpret_cast<__m512i>(v));
  }
  for (; i < n; ++i) {  // round to nearest even, as f32_to_bf16
    uint32_t bits;
    std::memcpy(&bits, src + i, 4);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    dst[i] = static_cast<uint16_t>(bits >> 16);
  }
}

bool quant_matvec_rows_avx512(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0,
                              int64_t o1) {
  switch (w.dtype) {
    case DType::Q8_0: matvec<DType::Q8_0>(w, x, y, accumulate, o0, o1); return true;
    case DType::Q4_0: matvec<DType::Q4_0>(w, x, y, accumulate, o0, o1); return true;
    case DType::Q4_1: matvec<DType::Q4_1>(w, x, y, accumulate, o0, o1); return true;
    case DType::Q5_0: matvec<DType::Q5_0>(w, x, y, accumulate, o0, o1); return true;
    case DType::Q5_1: matvec<DType::Q5_1>(w, x, y, accumulate, o0, o1); return true;
    default: return false;  // K-quants: the dequantize-to-f32 path
  }
}

}  // namespace rwkv::cpu

RWKV_SIMD_END
#endif  // __x86_64__
