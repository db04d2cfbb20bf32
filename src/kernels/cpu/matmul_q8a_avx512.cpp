// AVX512_VNNI kernels of matmul_q8a.h for every type but Q6_K: two 32-weight blocks per 512-bit
// integer dot product.
// Only called after a run-time CPU check; no std:: templates inside the SIMD region.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/matmul_q8a.h"
#include "kernels/cpu/simd_target.h"
#include "tensor/quant.h"

RWKV_SIMD_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")

#include "kernels/cpu/quant_blocks_avx2.h"

namespace rwkv::cpu {
namespace {

constexpr int64_t kQ = 32;

inline uint16_t half_bits(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

// The scales of two blocks as 16 lanes: block b's in lanes 0-7, block b+1's in lanes 8-15.
inline __m512 pair_scales(uint16_t d0, uint16_t d1) {
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d0 | (static_cast<uint32_t>(d1) << 16))));
  const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(f));
}

// The 64 weights of blocks b and b+1 (b+1 may be past the row: `second` false, zeros), as bytes in
// x's order (Q8_0 signed, the others unsigned); weight = d * (q - kZero) (+ m, kMin bytes into the
// block, when kMin > 0).
template <DType D>
struct Pair;

// The pair of a type whose block values come from `values` (quant_blocks_avx2.h).
template <int64_t Bytes, int Zero, int Min, __m256i (*values)(const uint8_t*)>
struct PairOf {
  static constexpr int64_t kBytes = Bytes;
  static constexpr int kZero = Zero, kMin = Min;
  static __m512i weights(const std::byte* blk, bool second) {
    const auto* b = reinterpret_cast<const uint8_t*>(blk);
    return _mm512_inserti64x4(_mm512_castsi256_si512(values(b)), second ? values(b + kBytes) : _mm256_setzero_si256(),
                              1);
  }
};
template <>
struct Pair<DType::Q4_1> : PairOf<sizeof(quant::BlockQ4_1), 0, 2, q4_1_values> {};
template <>
struct Pair<DType::Q5_0> : PairOf<sizeof(quant::BlockQ5_0), 16, 0, q5_0_values> {};
template <>
struct Pair<DType::Q5_1> : PairOf<sizeof(quant::BlockQ5_1), 0, 2, q5_1_values> {};

template <>
struct Pair<DType::Q8_0> {
  static constexpr int64_t kBytes = 34;
  static constexpr int kZero = 0, kMin = 0;
  static __m512i weights(const std::byte* blk, bool second) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    const __m256i b = second ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kBytes + 2)) : _mm256_setzero_si256();
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
  }
};

template <>
struct Pair<DType::Q4_0> {
  static constexpr int64_t kBytes = 18;
  static constexpr int kZero = 8, kMin = 0;
  // As unsigned 4-bit values in block order: each block's low nibbles (weights 0-15), then its
  // high nibbles (16-31).
  static __m512i weights(const std::byte* blk, bool second) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m128i b = second ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + kBytes + 2)) : _mm_setzero_si128();
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
    const __m256i nib = _mm256_set1_epi8(0x0f);
    const __m256i lo = _mm256_and_si256(v, nib), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);  // lo_b lo_b1 hi_b hi_b1
    return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));              // lo_b hi_b lo_b1 hi_b1
  }
};

// R weight rows x TT tokens. Always inlined into its row loop: when the file's kernels grew past
// GCC's inlining budget, the call cost Q4_0 decode ~5%.
template <DType D, int R, int TT>
[[gnu::always_inline]] inline void rows_block(const WeightMatrix& w, const Q8Activations& x, const Mat& y,
                                              bool accumulate, int64_t o, int64_t t0) {
  using P = Pair<D>;
  __m512 acc[R][TT];
  float mins[R][TT] = {};
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
  const __m512i zero = _mm512_setzero_si512();
  // Whole pairs of blocks with `second` a constant, then an odd last block: a test inside the
  // loop put a branch per row into every step.
  auto step = [&](int64_t b, auto second_block) {
    constexpr bool second = decltype(second_block)::value;
    __m512i xq[TT];
    __m512 dx[TT];
    __m512i corr[TT];
    float xs[TT], xs1[TT];  // dx * sum(xq) of both blocks (types with a min)
    for (int t = 0; t < TT; ++t) {
      const int64_t at = (t0 + t) * x.padded + b;
      xq[t] = _mm512_loadu_si512(x.q.data() + at * kQ);
      dx[t] = _mm512_insertf32x8(_mm512_set1_ps(x.d[static_cast<size_t>(at)]),
                                 _mm256_set1_ps(x.d[static_cast<size_t>(at + 1)]), 1);
      if constexpr (P::kZero != 0)  // the zero point: sum (q - z) x = sum q x - z sum x, once per block
        corr[t] = _mm512_mask_set1_epi32(_mm512_maskz_set1_epi32(0x0001, P::kZero * x.sum[static_cast<size_t>(at)]),
                                         0x0100, P::kZero * x.sum[static_cast<size_t>(at + 1)]);
      if constexpr (P::kMin != 0) {  // the min: m * dx * sum(xq) per block
        xs[t] = x.d[static_cast<size_t>(at)] * static_cast<float>(x.sum[static_cast<size_t>(at)]);
        xs1[t] = second ? x.d[static_cast<size_t>(at + 1)] * static_cast<float>(x.sum[static_cast<size_t>(at + 1)]) : 0.0f;
      }
    }
    // Decode prefetches (they never fault): one row at a time is one sequential stream, asked for
    // 2 KiB ahead; a block of rows asks for the next block.
    if (TT == 1)
      for (int r = 0; r < R; ++r) {
        const char* next = reinterpret_cast<const char*>(w.row(o + r)) + b * P::kBytes + (R == 1 ? 2048 : R * w.row_bytes);
        _mm_prefetch(next, _MM_HINT_T0);
        _mm_prefetch(next + 2 * P::kBytes - 1, _MM_HINT_T0);
      }
    for (int r = 0; r < R; ++r) {
      const std::byte* blk = w.row(o + r) + b * P::kBytes;
      const __m512i wq = P::weights(blk, second);
      const __m512 ws = pair_scales(half_bits(blk), second ? half_bits(blk + P::kBytes) : uint16_t{0});
      for (int t = 0; t < TT; ++t) {
        __m512i dot;
        if constexpr (D == DType::Q8_0) {
          // signed x signed: |w| times x with w's sign moved onto x (dpbusd takes u8 x s8)
          const __m512i xsigned = _mm512_mask_sub_epi8(xq[t], _mm512_movepi8_mask(wq), zero, xq[t]);
          dot = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(wq), xsigned);
        } else {
          dot = _mm512_dpbusd_epi32(zero, wq, xq[t]);
          if constexpr (P::kZero != 0) dot = _mm512_sub_epi32(dot, corr[t]);
        }
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(ws, dx[t]), acc[r][t]);
        if constexpr (P::kMin != 0)
          mins[r][t] += f16_at(blk + P::kMin) * xs[t] + (second ? f16_at(blk + P::kBytes + P::kMin) * xs1[t] : 0.0f);
      }
    }
  };
  int64_t b = 0;
  for (; b + 2 <= x.blocks; b += 2) step(b, std::true_type{});
  if (b < x.blocks) step(b, std::false_type{});
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) {
      float* out = y.row(t0 + t) + o + r;
      float sum = _mm512_reduce_add_ps(acc[r][t]);
      if constexpr (P::kMin != 0) sum += mins[r][t];
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
  // One token: Q8_0 row by row, so the weights are read as one sequential stream (measured
  // +10-15% over blocks of 8 rows); the 4/5-bit types' longer unpacking needs the 8 independent
  // rows to keep up with memory (row by row: 1.5B Q4_0 40 -> 28 tok/s; 0.1B Q5_1 275 -> 253).
  if (t < x.T) rows_tokens<D, D != DType::Q8_0 ? 8 : 1, 1>(w, x, y, accumulate, o0, o1, t);
}

// ---- Q4_K / Q5_K: each group of 64 weights (the low and the high nibbles of 32 bytes, sub-blocks
// 2j and 2j+1) meets two activation blocks, 64 contiguous bytes of x, in one dpbusd; the scales
// and min terms per super-block as 8-lane vectors, as in matmul_q8a_avx2.cpp. One row at a time
// (one sequential stream), TT tokens.
template <DType D, int TT>
void k_row(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o, int64_t t0) {
  using Super = std::conditional_t<D == DType::Q5_K, quant::BlockQ5_K, quant::BlockQ4_K>;
  constexpr int64_t kBytes = sizeof(Super), kSub = quant::kBlockK / kQ;
  __m512 acc[TT];
  __m256 mins[TT];
  for (int t = 0; t < TT; ++t) {
    acc[t] = _mm512_setzero_ps();
    mins[t] = _mm256_setzero_ps();
  }
  const __m512i zero = _mm512_setzero_si512();
  const auto* row = reinterpret_cast<const uint8_t*>(w.row(o));
  for (int64_t sb = 0; sb < w.cols / quant::kBlockK; ++sb) {
    const uint8_t* blk = row + sb * kBytes;
    if (TT == 1)  // decode: 2 KiB ahead in this row (prefetches never fault)
      for (int64_t line = 0; line < kBytes; line += 64) _mm_prefetch(reinterpret_cast<const char*>(blk) + 2048 + line, _MM_HINT_T0);
    __m256 sc, mn;
    k4_scales(blk + offsetof(Super, scales), &sc, &mn);
    sc = _mm256_mul_ps(sc, _mm256_set1_ps(f16_at(blk + offsetof(Super, d))));
    mn = _mm256_mul_ps(mn, _mm256_set1_ps(f16_at(blk + offsetof(Super, dmin))));
    int64_t at[TT];
    __m512 s[TT];
    for (int t = 0; t < TT; ++t) {
      at[t] = (t0 + t) * x.padded + sb * kSub;
      const __m256 dx = _mm256_loadu_ps(x.d.data() + at[t]);
      s[t] = _mm512_castps256_ps512(_mm256_mul_ps(sc, dx));  // lanes 0-7; the permutes read no others
      const __m256 xsum = _mm256_cvtepi32_ps(load32(x.sum.data() + at[t]));
      mins[t] = _mm256_fmadd_ps(mn, _mm256_mul_ps(dx, xsum), mins[t]);
    }
    __m256i qh = _mm256_setzero_si256();
    if constexpr (D == DType::Q5_K) qh = load32(blk + offsetof(quant::BlockQ5_K, qh));
    for (int j = 0; j < 4; ++j) {
      __m256i q[2];
      k45_group(blk + offsetof(Super, qs), D == DType::Q5_K ? &qh : nullptr, j, q);
      const __m512i wq = _mm512_inserti64x4(_mm512_castsi256_si512(q[0]), q[1], 1);
      const __m512i pick = _mm512_inserti64x4(_mm512_set1_epi32(2 * j), _mm256_set1_epi32(2 * j + 1), 1);
      for (int t = 0; t < TT; ++t) {
        const __m512i xq = _mm512_loadu_si512(x.q.data() + (at[t] + 2 * j) * kQ);
        const __m512i dot = _mm512_dpbusd_epi32(zero, wq, xq);
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_permutexvar_ps(pick, s[t]), acc[t]);
      }
    }
  }
  for (int t = 0; t < TT; ++t) {
    const __m128 m4 = _mm_add_ps(_mm256_castps256_ps128(mins[t]), _mm256_extractf128_ps(mins[t], 1));
    const __m128 m2 = _mm_add_ps(m4, _mm_movehl_ps(m4, m4));
    const float sum = _mm512_reduce_add_ps(acc[t]) - _mm_cvtss_f32(_mm_add_ss(m2, _mm_movehdup_ps(m2)));
    float* out = y.row(t0 + t) + o;
    *out = accumulate ? *out + sum : sum;
  }
}

template <DType D>
void k_run(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  for (int64_t o = o0; o < o1; ++o) {
    int64_t t = 0;
    for (; t + 2 <= x.T; t += 2) k_row<D, 2>(w, x, y, accumulate, o, t);
    if (t < x.T) k_row<D, 1>(w, x, y, accumulate, o, t);
  }
}

}  // namespace

// The activations block by block, as ref_quantize_activations (out already shaped): the same
// max, scale and products; rounding half away from zero exactly (truncate, then step away from
// zero where the dropped fraction is at least one half: no x + 0.5 that could round up).
void quantize_activations_avx512(const Mat& x, Q8Activations& out) {
  const __m512 one_half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  for (int64_t t = 0; t < x.rows; ++t)
    for (int64_t b = 0; b < out.blocks; ++b) {
      const float* v = x.row(t) + b * kQ;
      const __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
      const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
      auto round_away = [&](__m512 v) {
        const __m512 p = _mm512_mul_ps(v, _mm512_set1_ps(id));
        const __m512 whole = _mm512_roundscale_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        const __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(p, whole)), one_half, _CMP_GE_OQ);
        const __m512 away = _mm512_or_ps(one, _mm512_and_ps(p, _mm512_set1_ps(-0.0f)));  // +-1 with p's sign
        return _mm512_cvttps_epi32(_mm512_mask_add_ps(whole, up, whole, away));
      };
      const __m512i q0 = round_away(v0), q1 = round_away(v1);
      const int64_t at = t * out.padded + b;
      int8_t* q = out.q.data() + at * kQ;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(q0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtepi32_epi8(q1));
      out.d[static_cast<size_t>(at)] = d;
      out.sum[static_cast<size_t>(at)] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
}

void q8a_rows_avx512vnni(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0,
                         int64_t o1) {
  switch (w.dtype) {
    case DType::Q8_0: return run<DType::Q8_0>(w, x, y, accumulate, o0, o1);
    case DType::Q4_0: return run<DType::Q4_0>(w, x, y, accumulate, o0, o1);
    case DType::Q4_1: return run<DType::Q4_1>(w, x, y, accumulate, o0, o1);
    case DType::Q5_0: return run<DType::Q5_0>(w, x, y, accumulate, o0, o1);
    case DType::Q5_1: return run<DType::Q5_1>(w, x, y, accumulate, o0, o1);
    case DType::Q4_K: return k_run<DType::Q4_K>(w, x, y, accumulate, o0, o1);
    case DType::Q5_K: return k_run<DType::Q5_K>(w, x, y, accumulate, o0, o1);
    default: break;
  }
  __builtin_trap();
}

}  // namespace rwkv::cpu

RWKV_SIMD_END
#endif  // __x86_64__
