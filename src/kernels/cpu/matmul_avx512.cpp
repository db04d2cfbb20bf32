// AVX-512 matrix products (see matmul.h). Compiled for AVX-512 with RWKV_SIMD_BEGIN and only
// called after a run-time CPU check; no std:: templates are used inside the region.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/cpu/simd_target.h"

#include <cstdint>
#include <cstring>

#include "kernels/cpu/matmul.h"

RWKV_SIMD_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,f16c")

namespace rwkv::cpu {
namespace {

constexpr int kLanes = 16;

// 16 weights from a row of dtype D, widened exactly to f32; `n` < 16 loads a masked tail.
template <DType D>
inline __m512 load_weights(const std::byte* row, int64_t k) {
  if constexpr (D == DType::F32) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (D == DType::BF16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + k));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + k));
    return _mm512_cvtph_ps(h);
  }
}

template <DType D>
inline __m512 load_weights_tail(const std::byte* row, int64_t k, __mmask16 m) {
  if constexpr (D == DType::F32) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + k);
  } else if constexpr (D == DType::BF16) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + k);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + k);
    return _mm512_cvtph_ps(h);
  }
}

// R weight rows x TT token rows: acc[r][t] = W[o+r] . x[t0+t].
template <DType D, int R, int TT>
inline void matvec_block(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o, int64_t t0) {
  const int64_t K = w.cols;
  __m512 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
  const std::byte* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = w.row(o + r);
  const float* xs[TT];
  for (int t = 0; t < TT; ++t) xs[t] = x.row(t0 + t);

  int64_t k = 0;
  for (; k + kLanes <= K; k += kLanes) {
    __m512 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm512_loadu_ps(xs[t] + k);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = load_weights<D>(rows[r], k);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (k < K) {
    const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1u);
    __m512 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm512_maskz_loadu_ps(m, xs[t] + k);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = load_weights_tail<D>(rows[r], k, m);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
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
void matvec_tokens(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                   int64_t t0) {
  int64_t o = o0;
  for (; o + R <= o1; o += R) matvec_block<D, R, TT>(w, x, y, accumulate, o, t0);
  for (; o < o1; ++o) matvec_block<D, 1, TT>(w, x, y, accumulate, o, t0);
}

template <DType D>
void matvec(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  int64_t t = 0;
  for (; t + 4 <= x.rows; t += 4) matvec_tokens<D, 4, 4>(w, x, y, accumulate, o0, o1, t);
  switch (x.rows - t) {
    case 3: matvec_tokens<D, 4, 3>(w, x, y, accumulate, o0, o1, t); break;
    case 2: matvec_tokens<D, 4, 2>(w, x, y, accumulate, o0, o1, t); break;
    case 1: matvec_tokens<D, 8, 1>(w, x, y, accumulate, o0, o1, t); break;
    default: break;
  }
}

// ---- GEMM: MR weight rows x 32 tokens per micro-tile, vectorised over tokens ----
// 12 weight rows x 2 vectors of tokens = 24 accumulators (of 32 registers): per k, 2 vector loads
// and 12 broadcasts feed 24 multiply-adds.
constexpr int kMr = 12;
constexpr int64_t kNb = kTokenBlock;  // tokens per micro-tile: two 16-lane vectors

// Writes acc (weight row r, tokens 16*h + lane) into y[t][o + r] for the valid tokens.
inline void store_tile(const __m512 (&acc)[kMr][2], int mr, const Mat& y, bool accumulate, int64_t o, int64_t t0,
                       int64_t nt) {
  alignas(64) float tmp[kNb];
  for (int r = 0; r < mr; ++r) {
    _mm512_store_ps(tmp, acc[r][0]);
    _mm512_store_ps(tmp + 16, acc[r][1]);
    for (int64_t t = 0; t < nt; ++t) {
      float* out = y.row(t0 + t) + o + r;
      *out = accumulate ? *out + tmp[t] : tmp[t];
    }
  }
}

// f32 micro-kernel over all K: acc[r][h] += wf[r][k] * xp[k][16h .. 16h+15].
template <int MR>
inline void tile_f32(const float* wf, int64_t K, const float* xp, __m512 (&acc)[kMr][2]) {
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const __m512 b0 = _mm512_loadu_ps(xp + k * kNb), b1 = _mm512_loadu_ps(xp + k * kNb + 16);
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(wf[r * K + k]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
  }
}

template <int MR>
void gemm_tiles_f32(const float* wf, int64_t K, const PackedView& x, const Mat& y, bool accumulate, int64_t o) {
  __m512 acc[kMr][2];
  for (int64_t t0 = 0; t0 < x.T; t0 += kNb) {
    tile_f32<MR>(wf, K, x.f32 + (t0 / kNb) * K * kNb, acc);
    store_tile(acc, MR, y, accumulate, o, t0, x.T - t0 < kNb ? x.T - t0 : kNb);
  }
}

// The tile functions by row count (row blocks at the end of a slice are shorter).
using F32Tiles = void (*)(const float*, int64_t, const PackedView&, const Mat&, bool, int64_t);
constexpr F32Tiles kF32Tiles[kMr + 1] = {
    nullptr,           gemm_tiles_f32<1>, gemm_tiles_f32<2>,  gemm_tiles_f32<3>,  gemm_tiles_f32<4>,
    gemm_tiles_f32<5>, gemm_tiles_f32<6>, gemm_tiles_f32<7>,  gemm_tiles_f32<8>,  gemm_tiles_f32<9>,
    gemm_tiles_f32<10>, gemm_tiles_f32<11>, gemm_tiles_f32<12>};

// Widens `mr` weight rows to f32 into wf [mr][K] (once per row block, reused for every token block).
template <DType D>
void widen_rows(const WeightMatrix& w, int64_t o, int mr, float* wf) {
  const int64_t K = w.cols;
  for (int r = 0; r < mr; ++r) {
    const std::byte* row = w.row(o + r);
    float* dst = wf + r * K;
    int64_t k = 0;
    for (; k + kLanes <= K; k += kLanes) _mm512_storeu_ps(dst + k, load_weights<D>(row, k));
    if (k < K) {
      const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1u);
      _mm512_mask_storeu_ps(dst + k, m, load_weights_tail<D>(row, k, m));
    }
  }
}

template <DType D>
void gemm_f32(const WeightMatrix& w, const PackedView& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
              float* wf) {
  const int64_t K = w.cols;
  for (int64_t o = o0; o < o1; o += kMr) {
    const int mr = o1 - o < kMr ? static_cast<int>(o1 - o) : kMr;
    const float* rows = wf;
    if constexpr (D == DType::F32) {
      if (mr == kMr) {
        // f32 rows are used in place: in the Linear layout consecutive rows are K floats apart.
        rows = reinterpret_cast<const float*>(w.row(o));
      } else {
        widen_rows<D>(w, o, mr, wf);
      }
    } else {
      widen_rows<D>(w, o, mr, wf);
    }
    kF32Tiles[mr](rows, K, x, y, accumulate, o);
  }
}

// bf16 micro-kernel: pairs of k per dot-product instruction; the weight pair (k, k+1) of a row
// is one 32-bit broadcast straight from the row.
template <int MR>
inline void tile_bf16(const uint32_t* const* wrows, int64_t pairs, const uint32_t* xp, __m512 (&acc)[kMr][2]) {
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(xp + p * kNb));
    const __m512bh b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(xp + p * kNb + 16));
    for (int r = 0; r < MR; ++r) {
      const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(wrows[r][p])));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
    }
  }
}

template <int MR>
void gemm_tiles_bf16(const uint32_t* const* wrows, const PackedView& x, const Mat& y, bool accumulate, int64_t o) {
  __m512 acc[kMr][2];
  for (int64_t t0 = 0; t0 < x.T; t0 += kNb) {
    tile_bf16<MR>(wrows, x.k_pairs, x.bf16 + (t0 / kNb) * x.k_pairs * kNb, acc);
    store_tile(acc, MR, y, accumulate, o, t0, x.T - t0 < kNb ? x.T - t0 : kNb);
  }
}

using Bf16Tiles = void (*)(const uint32_t* const*, const PackedView&, const Mat&, bool, int64_t);
constexpr Bf16Tiles kBf16Tiles[kMr + 1] = {
    nullptr,            gemm_tiles_bf16<1>, gemm_tiles_bf16<2>,  gemm_tiles_bf16<3>,  gemm_tiles_bf16<4>,
    gemm_tiles_bf16<5>, gemm_tiles_bf16<6>, gemm_tiles_bf16<7>,  gemm_tiles_bf16<8>,  gemm_tiles_bf16<9>,
    gemm_tiles_bf16<10>, gemm_tiles_bf16<11>, gemm_tiles_bf16<12>};


// ---- Packing activations: 16 x 16 transposes of 32-bit values ----

// Transposes 16 rows of 16 lanes in place: afterwards r[j] holds lane j of every input row.
inline void transpose16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

inline __mmask16 first_lanes(int64_t n) { return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u); }

}  // namespace

void pack_f32_avx512(const float* x, int64_t ldx, int64_t T, int64_t K, float* dst, int64_t b0, int64_t b1) {
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t h = 0; h < kNb; h += 16) {  // two halves of 16 tokens
      const int64_t t0 = b * kNb + h;
      for (int64_t k0 = 0; k0 < K; k0 += 16) {
        const __mmask16 m = first_lanes(K - k0);
        __m512 r[16];
        for (int i = 0; i < 16; ++i)
          r[i] = t0 + i < T ? _mm512_maskz_loadu_ps(m, x + (t0 + i) * ldx + k0) : _mm512_setzero_ps();
        transpose16(r);
        const int64_t nk = K - k0 < 16 ? K - k0 : 16;
        for (int64_t j = 0; j < nk; ++j) _mm512_storeu_ps(dst + b * K * kNb + (k0 + j) * kNb + h, r[j]);
      }
    }
}

void pack_bf16_avx512bf16(const float* x, int64_t ldx, int64_t T, int64_t K, uint32_t* dst, int64_t b0, int64_t b1) {
  const int64_t pairs = (K + 1) / 2;
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t h = 0; h < kNb; h += 16) {
      const int64_t t0 = b * kNb + h;
      for (int64_t k0 = 0; k0 < K; k0 += 32) {  // 16 pairs of k per step
        const __mmask16 lo_m = first_lanes(K - k0), hi_m = first_lanes(K - k0 - 16);
        __m512 r[16];
        for (int i = 0; i < 16; ++i) {
          if (t0 + i >= T) {
            r[i] = _mm512_setzero_ps();
            continue;
          }
          const float* row = x + (t0 + i) * ldx + k0;
          const __m512 lo = _mm512_maskz_loadu_ps(lo_m, row);
          const __m512 hi = K - k0 > 16 ? _mm512_maskz_loadu_ps(hi_m, row + 16) : _mm512_setzero_ps();
          // 32 bf16 in k order = 16 (k even, k odd) pairs, rounded to nearest even
          r[i] = _mm512_castsi512_ps(reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
        }
        transpose16(r);
        const int64_t p0 = k0 / 2, np = pairs - p0 < 16 ? pairs - p0 : 16;
        for (int64_t j = 0; j < np; ++j)
          _mm512_storeu_ps(reinterpret_cast<float*>(dst + b * pairs * kNb + (p0 + j) * kNb + h), r[j]);
      }
    }
}

namespace {
}  // namespace

void matvec_rows_avx512(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  switch (w.dtype) {
    case DType::F32: return matvec<DType::F32>(w, x, y, accumulate, o0, o1);
    case DType::BF16: return matvec<DType::BF16>(w, x, y, accumulate, o0, o1);
    case DType::F16: return matvec<DType::F16>(w, x, y, accumulate, o0, o1);
    default: break;
  }
  __builtin_trap();  // the dispatcher only sends float weights here
}

void gemm_rows_avx512(const WeightMatrix& w, const PackedView& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                      float* scratch) {
  static_assert(kMr == kGemmRowBlock);
  switch (w.dtype) {
    case DType::F32: return gemm_f32<DType::F32>(w, x, y, accumulate, o0, o1, scratch);
    case DType::BF16: return gemm_f32<DType::BF16>(w, x, y, accumulate, o0, o1, scratch);
    case DType::F16: return gemm_f32<DType::F16>(w, x, y, accumulate, o0, o1, scratch);
    default: break;
  }
  __builtin_trap();
}

void gemm_rows_avx512bf16(const WeightMatrix& w, const PackedView& x, const Mat& y, bool accumulate, int64_t o0,
                          int64_t o1, uint32_t* padded) {
  // Rows of an odd length end in half a pair; the packed activations are zero there, but the
  // row's last 32-bit read would run one element past the row: such rows need a padded copy.
  const bool odd = (w.cols & 1) != 0;
  for (int64_t o = o0; o < o1; o += kMr) {
    const int mr = o1 - o < kMr ? static_cast<int>(o1 - o) : kMr;
    const uint32_t* rows[kMr];
    for (int r = 0; r < mr; ++r) {
      if (odd) {
        uint32_t* dst = padded + r * x.k_pairs;
        dst[x.k_pairs - 1] = 0;
        std::memcpy(dst, w.row(o + r), static_cast<size_t>(w.cols) * 2);
        rows[r] = dst;
      } else {
        rows[r] = reinterpret_cast<const uint32_t*>(w.row(o + r));
      }
    }
    kBf16Tiles[mr](rows, x, y, accumulate, o);
  }
}

}  // namespace rwkv::cpu

RWKV_SIMD_END
#endif  // __x86_64__
