// AVX2 kernels of matmul_q8a.h, for every type the VNNI kernel does not serve and for CPUs without
// AVX512_VNNI: one 32-weight block per 256-bit integer dot product (maddubs: u8 x s8 pairs into
// s16, then madd into s32 lanes), exact integer sums, then scaled. Only called
// after a run-time CPU check; no std:: function templates inside the SIMD region.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/matmul_q8a.h"
#include "kernels/cpu/simd_target.h"
#include "tensor/quant.h"

RWKV_SIMD_BEGIN("avx2,fma,f16c")

#include "kernels/cpu/quant_blocks_avx2.h"

namespace rwkv::cpu {
namespace {

constexpr int64_t kQ = 32;

// Unsigned weights (u8) times signed activations: 8 s32 lanes, lanes 0-3 from weights 0-15 and
// 4-7 from 16-31 (the 128-bit halves). The pair sums fit s16: at most 2 * 63 * 127.
inline __m256i dot_u8(__m256i w, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}
// Signed weights: maddubs takes u8 x s8, so |w| times x with w's sign moved onto x (at most
// 2 * 128 * 127 = 32512 per pair).
inline __m256i dot_s8(__m256i w, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1));
}

// The 32-weight block types: the weights of a block as bytes in x's order (Q8_0 signed, the others
// unsigned), weight = d * (q - kZero) (+ m, read kMin bytes in when kMin > 0).
template <DType D>
struct Block;

template <>
struct Block<DType::Q8_0> {
  static constexpr int64_t kBytes = 34;
  static constexpr int kZero = 0, kMin = 0;
  static __m256i weights(const uint8_t* b) { return load32(b + 2); }
};
template <>
struct Block<DType::Q4_0> {
  static constexpr int64_t kBytes = 18;
  static constexpr int kZero = 8, kMin = 0;
  static __m256i weights(const uint8_t* b) { return nibbles16(b + 2); }
};
template <>
struct Block<DType::Q4_1> {
  static constexpr int64_t kBytes = 20;
  static constexpr int kZero = 0, kMin = 2;
  static __m256i weights(const uint8_t* b) { return q4_1_values(b); }
};
template <>
struct Block<DType::Q5_0> {
  static constexpr int64_t kBytes = 22;
  static constexpr int kZero = 16, kMin = 0;
  static __m256i weights(const uint8_t* b) { return q5_0_values(b); }
};
template <>
struct Block<DType::Q5_1> {
  static constexpr int64_t kBytes = 24;
  static constexpr int kZero = 0, kMin = 2;
  static __m256i weights(const uint8_t* b) { return q5_1_values(b); }
};

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

// R weight rows x TT tokens: per block, d * dx * the integer dot product (the zero point taken off
// in lane 0 as kZero * sum(xq)), and for the types with a min, m * dx * sum(xq) summed apart.
template <DType D, int R, int TT>
void rows_block(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o, int64_t t0) {
  using B = Block<D>;
  __m256 acc[R][TT];
  float mins[R][TT] = {};
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < x.blocks; ++b) {
    __m256i xq[TT];
    float dx[TT];
    int32_t xs[TT];
    for (int t = 0; t < TT; ++t) {
      const int64_t at = (t0 + t) * x.padded + b;
      xq[t] = load32(x.q.data() + at * kQ);
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
      const auto* blk = reinterpret_cast<const uint8_t*>(w.row(o + r)) + b * B::kBytes;
      const __m256i wq = B::weights(blk);
      const float dw = f16_at(blk);
      for (int t = 0; t < TT; ++t) {
        __m256i dot = D == DType::Q8_0 ? dot_s8(wq, xq[t]) : dot_u8(wq, xq[t]);
        if constexpr (B::kZero != 0) dot = _mm256_sub_epi32(dot, _mm256_setr_epi32(B::kZero * xs[t], 0, 0, 0, 0, 0, 0, 0));
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(dw * dx[t]), acc[r][t]);
        if constexpr (B::kMin != 0) mins[r][t] += f16_at(blk + B::kMin) * dx[t] * static_cast<float>(xs[t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) {
      float* out = y.row(t0 + t) + o + r;
      const float sum = hsum(acc[r][t]) + mins[r][t];
      *out = accumulate ? *out + sum : sum;
    }
}

// ---- K-quants (super-blocks of 256 weights = 8 activation blocks) ----
// Each activation block meets one 32-weight sub-block (Q4_K/Q5_K: a 6-bit scale sc and min m per
// 32; Q6_K: a signed scale per 16), so per activation block b:
//   Q4_K/Q5_K: d * sc * dx * (q . xq) - dmin * m * dx * sum(xq)
//   Q6_K:      d * dx * (sc_lo * (q . xq)[0..15] + sc_hi * (q . xq)[16..31]), q = 6-bit - 32

// Lane i of v in every lane.
inline __m256 lane(__m256 v, int i) { return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(i)); }

// dx[e] of the 8 activation blocks of a super-block, as lanes 2j and 2j+1 for block 4n + j: the
// layout of the per-16-weight scales of half n.
inline __m256 dx_pairs(__m256 dx, int n) {
  return _mm256_permutevar8x32_ps(dx, _mm256_add_epi32(_mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), _mm256_set1_epi32(4 * n)));
}
// Lanes 2j (four times) and 2j+1 (four times): the two scales of run j, for the lanes of its
// dot product (0-3 from weights 0-15, 4-7 from 16-31).
inline __m256 run_scales(__m256 s, int j) {
  return _mm256_permutevar8x32_ps(s, _mm256_setr_epi32(2 * j, 2 * j, 2 * j, 2 * j, 2 * j + 1, 2 * j + 1, 2 * j + 1,
                                                       2 * j + 1));
}

// Q2_K / Q3_K, one super-block of one row: 2-bit values, run j of half n is qs[32n ..] >> 2j;
// Q3_K adds an inverted third bit from hmask (bit 4n + j; values -4..3), Q2_K a min per 16
// weights (taken off with the sums of each half of the activation block).
template <DType D, int TT, typename XQ>
void two_bit_super_block(const uint8_t* blk, const __m256 (&dx)[TT], XQ xq, __m256 (&acc)[TT], __m256 (&mins)[TT]) {
  using Super = typename SuperBlock<D>::type;
  const __m256 d = _mm256_set1_ps(f16_at(blk + offsetof(Super, d)));
  __m256 sc[2], mn[2];  // per 16 weights, units 0-7 and 8-15
  if constexpr (D == DType::Q2_K) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + offsetof(Super, scales)));
    const __m128i nib = _mm_set1_epi8(0x0f);
    const __m128i s4 = _mm_and_si128(packed, nib), m4 = _mm_and_si128(_mm_srli_epi16(packed, 4), nib);
    const __m256 dmin = _mm256_set1_ps(f16_at(blk + offsetof(Super, dmin)));
    for (int h = 0; h < 2; ++h) {
      sc[h] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(h ? _mm_unpackhi_epi64(s4, s4) : s4)));
      mn[h] = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(h ? _mm_unpackhi_epi64(m4, m4) : m4)));
    }
  } else {
    const __m128i s8 = q3k_scales(blk + offsetof(Super, scales));
    for (int h = 0; h < 2; ++h)
      sc[h] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(h ? _mm_unpackhi_epi64(s8, s8) : s8)));
  }
  const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), four = _mm256_set1_epi8(4);
  const __m256i ones_u8 = _mm256_set1_epi8(1);
  __m256i hmask = _mm256_setzero_si256();
  if constexpr (D == DType::Q3_K) hmask = load32(blk + offsetof(Super, hmask));
  for (int n = 0; n < 2; ++n) {
    const __m256i q = load32(blk + offsetof(Super, qs) + 32 * n);
    __m256 s[TT], m[TT];
    for (int t = 0; t < TT; ++t) {
      const __m256 pairs = dx_pairs(dx[t], n);
      s[t] = _mm256_mul_ps(sc[n], pairs);
      if constexpr (D == DType::Q2_K) m[t] = _mm256_mul_ps(mn[n], pairs);
    }
    for (int j = 0; j < 4; ++j) {
      __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), three);
      if constexpr (D == DType::Q3_K) {
        const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hmask, 4 * n + j), one);
        v = _mm256_sub_epi8(_mm256_or_si256(v, _mm256_slli_epi16(hb, 2)), four);
      }
      for (int t = 0; t < TT; ++t) {
        const __m256i x = xq(t, 4 * n + j);
        const __m256i dot = D == DType::Q3_K ? dot_s8(v, x) : dot_u8(v, x);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), run_scales(s[t], j), acc[t]);
        if constexpr (D == DType::Q2_K)  // the sums of the activations, lanes as the dot product's
          mins[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8(ones_u8, x)), run_scales(m[t], j), mins[t]);
      }
    }
  }
}

// R weight rows x TT tokens. The scales are handled a super-block at a time as vectors of 8 (one
// lane per activation block): scale[e] = d * sc[e] * dx[e], broadcast into each sub-block's
// multiply-add, and the Q4_K/Q5_K min terms dmin * m[e] * dx[e] * sum(xq[e]) summed apart.
template <DType D, int R, int TT>
void k_rows_block(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o, int64_t t0) {
  constexpr int64_t kSuper = 256, kSub = kSuper / kQ;  // activation blocks per super-block
  using Super = typename SuperBlock<D>::type;
  constexpr int64_t block_bytes = sizeof(Super);
  __m256 acc[R][TT], mins[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = mins[r][t] = _mm256_setzero_ps();
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
    auto xq = [&](int t, int e) { return load32(x.q.data() + (at[t] + e) * kQ); };
    for (int r = 0; r < R; ++r) {
      const auto* blk = reinterpret_cast<const uint8_t*>(w.row(o + r)) + sb * block_bytes;
      if constexpr (D == DType::Q2_K || D == DType::Q3_K) {
        two_bit_super_block<D, TT>(blk, dx, xq, acc[r], mins[r]);
      } else if constexpr (D == DType::Q6_K) {
        // 16 signed scales, one per 16 weights: sub-block e's are sc[2e], sc[2e + 1].
        const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + offsetof(Super, scales)));
        const __m256 d = _mm256_set1_ps(f16_at(blk + offsetof(Super, d)));
        const __m256 sc[2] = {_mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc8))),
                              _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc8, 8))))};
        const __m256i bias = _mm256_set1_epi8(32);
        for (int n = 0; n < 2; ++n) {
          __m256i q[4];
          q6k_half(blk, n, q);
          for (int t = 0; t < TT; ++t) {
            const __m256 s = _mm256_mul_ps(sc[n], dx_pairs(dx[t], n));
            for (int j = 0; j < 4; ++j) {
              const __m256i dot = dot_s8(_mm256_sub_epi8(q[j], bias), xq(t, 4 * n + j));
              acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), run_scales(s, j), acc[r][t]);
            }
          }
        }
      } else {
        __m256 sc, mn;
        k4_scales(blk + offsetof(Super, scales), &sc, &mn);
        sc = _mm256_mul_ps(sc, _mm256_set1_ps(f16_at(blk + offsetof(Super, d))));
        mn = _mm256_mul_ps(mn, _mm256_set1_ps(f16_at(blk + offsetof(Super, dmin))));
        __m256i qh = _mm256_setzero_si256();
        if constexpr (D == DType::Q5_K) qh = load32(blk + offsetof(quant::BlockQ5_K, qh));
        __m256 s[TT];
        for (int t = 0; t < TT; ++t) {
          s[t] = _mm256_mul_ps(sc, dx[t]);
          const __m256 xsum = _mm256_cvtepi32_ps(load32(x.sum.data() + at[t]));
          mins[r][t] = _mm256_fmadd_ps(mn, _mm256_mul_ps(dx[t], xsum), mins[r][t]);
        }
        for (int j = 0; j < 4; ++j) {
          __m256i half_q[2];
          k45_group(blk + offsetof(Super, qs), D == DType::Q5_K ? &qh : nullptr, j, half_q);
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

// Every type's kernel by the same row and token blocking.
template <DType D>
constexpr bool kSuperBlocks = D == DType::Q2_K || D == DType::Q3_K || D == DType::Q4_K || D == DType::Q5_K || D == DType::Q6_K;

template <DType D, int R, int TT>
void rows_tokens(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                 int64_t t0) {
  auto block = [&](int64_t o, auto rows) {
    constexpr int kRows = decltype(rows)::value;
    if constexpr (kSuperBlocks<D>) k_rows_block<D, kRows, TT>(w, x, y, accumulate, o, t0);
    else rows_block<D, kRows, TT>(w, x, y, accumulate, o, t0);
  };
  int64_t o = o0;
  for (; o + R <= o1; o += R) block(o, std::integral_constant<int, R>{});
  for (; o < o1; ++o) block(o, std::integral_constant<int, 1>{});
}

template <DType D>
void run(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  int64_t t = 0;
  for (; t + 2 <= x.T; t += 2) rows_tokens<D, kSuperBlocks<D> ? 2 : 4, 2>(w, x, y, accumulate, o0, o1, t);
  // One token: row by row, so the weights are read as one sequential stream (Q4_0 and the
  // K-quants too, unlike the VNNI kernel: 0.1B Q4_0 268 -> 298 tok/s, Q4_K_M 260 -> 283, over
  // blocks of 4 rows).
  if (t < x.T) rows_tokens<D, 1, 1>(w, x, y, accumulate, o0, o1, t);
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
    case DType::Q4_1: return run<DType::Q4_1>(w, x, y, accumulate, o0, o1);
    case DType::Q5_0: return run<DType::Q5_0>(w, x, y, accumulate, o0, o1);
    case DType::Q5_1: return run<DType::Q5_1>(w, x, y, accumulate, o0, o1);
    case DType::Q2_K: return run<DType::Q2_K>(w, x, y, accumulate, o0, o1);
    case DType::Q3_K: return run<DType::Q3_K>(w, x, y, accumulate, o0, o1);
    case DType::Q4_K: return run<DType::Q4_K>(w, x, y, accumulate, o0, o1);
    case DType::Q5_K: return run<DType::Q5_K>(w, x, y, accumulate, o0, o1);
    case DType::Q6_K: return run<DType::Q6_K>(w, x, y, accumulate, o0, o1);
    default: break;
  }
  __builtin_trap();
}

}  // namespace rwkv::cpu

RWKV_SIMD_END
#endif  // __x86_64__
