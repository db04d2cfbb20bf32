// AVX2 kernels of matmul_q8a.h, for x86 CPUs without AVX512_VNNI: one 32-weight block per 256-bit
// integer dot product (maddubs: u8 x s8 pairs into s16, then madd into s32 lanes). The sums are
// the scalar twin's integers exactly. Only called after a run-time CPU check; no std:: templates
// inside the SIMD region.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/matmul_q8a.h"
#include "kernels/cpu/simd_target.h"
#include "tensor/quant.h"

RWKV_SIMD_BEGIN("avx2,fma,f16c")

namespace rwkv::cpu {
namespace {

constexpr int64_t kQ = 32;

inline float half_to_float(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// The 32 weights of one block as bytes in x's order, and the 8 lanes of its integer dot product
// with x's block (sum of the lanes = the block's dot product).
template <DType D>
struct Block;

template <>
struct Block<DType::Q8_0> {
  static constexpr int64_t kBytes = 34;
  static __m256i weights(const std::byte* blk) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2)); }
  // signed x signed: maddubs takes u8 x s8, so |w| times x with w's sign moved onto x. The pair
  // sums fit s16: |w| <= 128 and |x| <= 127 give at most 2 * 128 * 127 = 32512.
  static __m256i dot(__m256i w, __m256i x, int32_t /*x_sum*/) {
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
  }
};

template <>
struct Block<DType::Q4_0> {
  static constexpr int64_t kBytes = 18;
  // Unsigned 4-bit values: the low nibbles are weights 0-15, the high ones 16-31.
  static __m256i weights(const std::byte* blk) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m128i nib = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(v, nib), hi = _mm_and_si128(_mm_srli_epi16(v, 4), nib);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
  }
  // The zero point: sum (q - 8) x = sum q x - 8 sum x, the correction taken from lane 0.
  static __m256i dot(__m256i w, __m256i x, int32_t x_sum) {
    const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
    return _mm256_sub_epi32(s, _mm256_setr_epi32(8 * x_sum, 0, 0, 0, 0, 0, 0, 0));
  }
};

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

// R weight rows x TT tokens.
template <DType D, int R, int TT>
void rows_block(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o, int64_t t0) {
  using B = Block<D>;
  __m256 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < x.blocks; ++b) {
    __m256i xq[TT];
    float dx[TT];
    int32_t xs[TT];
    for (int t = 0; t < TT; ++t) {
      const int64_t at = (t0 + t) * x.padded + b;
      xq[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q.data() + at * kQ));
      dx[t] = x.d[static_cast<size_t>(at)];
      xs[t] = x.sum[static_cast<size_t>(at)];
    }
    // Decode prefetches (they never fault): one row at a time is one sequential stream, asked for
    // 2 KiB ahead; a block of rows asks for the next block.
    if (TT == 1)
      for (int r = 0; r < R; ++r) {
        const char* next = reinterpret_cast<const char*>(w.row(o + r)) + b * B::kBytes + (R == 1 ? 2048 : R * w.row_bytes);
        _mm_prefetch(next, _MM_HINT_T0);
        _mm_prefetch(next + B::kBytes - 1, _MM_HINT_T0);
      }
    for (int r = 0; r < R; ++r) {
      const std::byte* blk = w.row(o + r) + b * B::kBytes;
      const __m256i wq = B::weights(blk);
      const float dw = half_to_float(blk);
      for (int t = 0; t < TT; ++t)
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(B::dot(wq, xq[t], xs[t])), _mm256_set1_ps(dw * dx[t]), acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) {
      float* out = y.row(t0 + t) + o + r;
      const float sum = hsum(acc[r][t]);
      *out = accumulate ? *out + sum : sum;
    }
}

template <DType D, int R, int TT>
void rows_tokens(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                 int64_t t0) {
  int64_t o = o0;
  for (; o + R <= o1; o += R) rows_block<D, R, TT>(w, x, y, accumulate, o, t0);
  for (; o < o1; ++o) rows_block<D, 1, TT>(w, x, y, accumulate, o, t0);
}

template <DType D>
void run(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  int64_t t = 0;
  for (; t + 2 <= x.T; t += 2) rows_tokens<D, 4, 2>(w, x, y, accumulate, o0, o1, t);
  // One token: row by row, so the weights are read as one sequential stream (Q4_0 too, unlike the
  // VNNI kernel: measured 268 -> 298 tok/s at 0.1B over blocks of 4 rows).
  if (t < x.T) rows_tokens<D, 1, 1>(w, x, y, accumulate, o0, o1, t);
}

// ---- K-quants (super-blocks of 256 weights = 8 activation blocks) ----
// Each activation block meets one 32-weight sub-block (Q4_K/Q5_K: a 6-bit scale sc and min m per
// 32; Q6_K: a signed scale per 16), so per activation block b:
//   Q4_K/Q5_K: d * sc * dx * (q . xq) - dmin * m * dx * sum(xq)
//   Q6_K:      d * dx * (sc_lo * (q . xq)[0..15] + sc_hi * (q . xq)[16..31]), q = 6-bit - 32

// Unsigned 4/5-bit weights (u8) times signed activations: 8 s32 lanes, lanes 0-3 from weights
// 0-15 and 4-7 from 16-31 (the 128-bit halves).
inline __m256i dot_u8(__m256i w, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}
// Signed weights: |w| times x with w's sign moved onto x (|w| <= 32 here).
inline __m256i dot_s8(__m256i w, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1));
}

// Lane i of v in every lane.
inline __m256 lane(__m256 v, int i) { return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(i)); }

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

// R weight rows x TT tokens. The scales are handled a super-block at a time as vectors of 8 (one
// lane per activation block): scale[e] = d * sc[e] * dx[e], broadcast into each sub-block's
// multiply-add, and the Q4_K/Q5_K min terms dmin * m[e] * dx[e] * sum(xq[e]) summed apart.
template <DType D, int R, int TT>
void k_rows_block(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o, int64_t t0) {
  constexpr int64_t kSuper = 256, kSub = kSuper / kQ;  // activation blocks per super-block
  const int64_t block_bytes = D == DType::Q6_K ? 210 : D == DType::Q5_K ? 176 : 144;
  __m256 acc[R][TT], mins[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = mins[r][t] = _mm256_setzero_ps();
  const __m256i nib = _mm256_set1_epi8(0x0f);
  for (int64_t sb = 0; sb < w.cols / kSuper; ++sb) {
    if (TT == 1)  // decode: the next row block (R > 1) or 2 KiB ahead in this row
      for (int r = 0; r < R; ++r) {
        const char* next = reinterpret_cast<const char*>(w.row(o + r)) + sb * block_bytes + (R == 1 ? 2048 : R * w.row_bytes);
        for (int64_t line = 0; line < block_bytes; line += 64) _mm_prefetch(next + line, _MM_HINT_T0);
      }
    // The tokens' 8 activation blocks of this super-block: where they start, their scales.
    int64_t at[TT];
    __m256 dx[TT];
    for (int t = 0; t < TT; ++t) {
      at[t] = (t0 + t) * x.padded + sb * kSub;
      dx[t] = _mm256_loadu_ps(x.d.data() + at[t]);
    }
    auto xq = [&](int t, int e) {
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q.data() + (at[t] + e) * kQ));
    };
    for (int r = 0; r < R; ++r) {
      const auto* blk = reinterpret_cast<const uint8_t*>(w.row(o + r)) + sb * block_bytes;
      if constexpr (D == DType::Q6_K) {
        // 16 signed scales, one per 16 weights: sub-block e's are sc[2e], sc[2e + 1].
        const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
        const __m256 d = _mm256_set1_ps(half_to_float(reinterpret_cast<const std::byte*>(blk + 208)));
        const __m256 sc[2] = {_mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc8))),
                              _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc8, 8))))};
        const __m256i lo4 = _mm256_set1_epi8(0x0f), hi2 = _mm256_set1_epi8(0x30), bias = _mm256_set1_epi8(32);
        for (int n = 0; n < 2; ++n) {
          const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * n));
          const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * n + 32));
          const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * n));
          const __m256i q[4] = {
              _mm256_or_si256(_mm256_and_si256(a, lo4), _mm256_and_si256(_mm256_slli_epi16(h, 4), hi2)),
              _mm256_or_si256(_mm256_and_si256(c, lo4), _mm256_and_si256(_mm256_slli_epi16(h, 2), hi2)),
              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), lo4), _mm256_and_si256(h, hi2)),
              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), lo4),
                              _mm256_and_si256(_mm256_srli_epi16(h, 2), hi2)),
          };
          for (int t = 0; t < TT; ++t) {
            // Lanes 2j, 2j+1 of sc[n] times dx of block 4n + j.
            const __m256 dx_pairs = _mm256_permutevar8x32_ps(
                dx[t], _mm256_add_epi32(_mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), _mm256_set1_epi32(4 * n)));
            const __m256 s = _mm256_mul_ps(sc[n], dx_pairs);
            for (int j = 0; j < 4; ++j) {
              const __m256 sj = _mm256_permutevar8x32_ps(s, _mm256_setr_epi32(2 * j, 2 * j, 2 * j, 2 * j, 2 * j + 1,
                                                                              2 * j + 1, 2 * j + 1, 2 * j + 1));
              const __m256i dot = dot_s8(_mm256_sub_epi8(q[j], bias), xq(t, 4 * n + j));
              acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), sj, acc[r][t]);
            }
          }
        }
      } else {
        __m256 sc, mn;
        k4_scales(blk + 4, &sc, &mn);
        sc = _mm256_mul_ps(sc, _mm256_set1_ps(half_to_float(reinterpret_cast<const std::byte*>(blk))));
        mn = _mm256_mul_ps(mn, _mm256_set1_ps(half_to_float(reinterpret_cast<const std::byte*>(blk + 2))));
        const uint8_t* qs = blk + (D == DType::Q5_K ? 48 : 16);
        __m256i qh = _mm256_setzero_si256();
        if constexpr (D == DType::Q5_K) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
        __m256 s[TT];
        for (int t = 0; t < TT; ++t) {
          s[t] = _mm256_mul_ps(sc, dx[t]);
          const __m256 xsum = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.sum.data() + at[t])));
          mins[r][t] = _mm256_fmadd_ps(mn, _mm256_mul_ps(dx[t], xsum), mins[r][t]);
        }
        for (int j = 0; j < 4; ++j) {
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * j));
          __m256i half_q[2] = {_mm256_and_si256(q, nib), _mm256_and_si256(_mm256_srli_epi16(q, 4), nib)};
          if constexpr (D == DType::Q5_K) {  // bit 2j of qh[l]: the 5th bit of the low value l; 2j+1: the high one
            const __m256i one = _mm256_set1_epi8(1), hb = _mm256_srli_epi16(qh, 2 * j);
            half_q[0] = _mm256_or_si256(half_q[0], _mm256_slli_epi16(_mm256_and_si256(hb, one), 4));
            half_q[1] = _mm256_or_si256(half_q[1], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4));
          }
          for (int e = 0; e < 2; ++e)
            for (int t = 0; t < TT; ++t)
              acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8(half_q[e], xq(t, 2 * j + e))), lane(s[t], 2 * j + e),
                                          acc[r][t]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) {
      float* out = y.row(t0 + t) + o + r;
      const float sum = hsum(_mm256_sub_ps(acc[r][t], mins[r][t]));
      *out = accumulate ? *out + sum : sum;
    }
}

template <DType D, int R, int TT>
void k_rows_tokens(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0,
                   int64_t o1, int64_t t0) {
  int64_t o = o0;
  for (; o + R <= o1; o += R) k_rows_block<D, R, TT>(w, x, y, accumulate, o, t0);
  for (; o < o1; ++o) k_rows_block<D, 1, TT>(w, x, y, accumulate, o, t0);
}

template <DType D>
void k_run(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  int64_t t = 0;
  for (; t + 2 <= x.T; t += 2) k_rows_tokens<D, 2, 2>(w, x, y, accumulate, o0, o1, t);
  if (t < x.T) k_rows_tokens<D, 1, 1>(w, x, y, accumulate, o0, o1, t);
}

}  // namespace

// The activations block by block, as ref_quantize_activations and the AVX-512 twin (out already
// shaped): the same max, scale and products; halves rounded away from zero exactly (truncate,
// then step away from zero where the dropped fraction is at least one half).
void quantize_activations_avx2(const Mat& x, Q8Activations& out) {
  const __m256 one_half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  for (int64_t t = 0; t < x.rows; ++t)
    for (int64_t b = 0; b < out.blocks; ++b) {
      const float* v = x.row(t) + b * kQ;
      __m256 p[4];
      __m256 amax = _mm256_setzero_ps();
      for (int i = 0; i < 4; ++i) {
        p[i] = _mm256_loadu_ps(v + 8 * i);
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, p[i]));
      }
      __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
      m = _mm_max_ps(m, _mm_movehl_ps(m, m));
      m = _mm_max_ss(m, _mm_movehdup_ps(m));
      const float d = _mm_cvtss_f32(m) / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
      __m256i q[4];
      __m256i sum = _mm256_setzero_si256();
      for (int i = 0; i < 4; ++i) {
        const __m256 s = _mm256_mul_ps(p[i], _mm256_set1_ps(id));
        const __m256 whole = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        const __m256 up = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(s, whole)), one_half, _CMP_GE_OQ);
        const __m256 away = _mm256_and_ps(up, _mm256_or_ps(one, _mm256_and_ps(s, sign)));  // +-1 with s's sign, or 0
        q[i] = _mm256_cvttps_epi32(_mm256_add_ps(whole, away));
        sum = _mm256_add_epi32(sum, q[i]);
      }
      // 32 int32 in [-127, 127] to bytes: the packs work within 128-bit lanes, the permute puts
      // the four 8-byte groups back in order.
      const __m256i a = _mm256_packs_epi32(q[0], q[1]), c = _mm256_packs_epi32(q[2], q[3]);
      const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, c), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      const int64_t at = t * out.padded + b;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.q.data() + at * kQ), bytes);
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
      out.d[static_cast<size_t>(at)] = d;
      out.sum[static_cast<size_t>(at)] = _mm_cvtsi128_si32(s4);
    }
}

void q8a_rows_avx2(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0,
                   int64_t o1) {
  switch (w.dtype) {
    case DType::Q8_0: return run<DType::Q8_0>(w, x, y, accumulate, o0, o1);
    case DType::Q4_0: return run<DType::Q4_0>(w, x, y, accumulate, o0, o1);
    case DType::Q4_K: return k_run<DType::Q4_K>(w, x, y, accumulate, o0, o1);
    case DType::Q5_K: return k_run<DType::Q5_K>(w, x, y, accumulate, o0, o1);
    case DType::Q6_K: return k_run<DType::Q6_K>(w, x, y, accumulate, o0, o1);
    default: break;
  }
  __builtin_trap();
}

}  // namespace rwkv::cpu

RWKV_SIMD_END
#endif  // __x86_64__
