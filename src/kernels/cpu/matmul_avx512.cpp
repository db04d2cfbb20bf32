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

// One token: the rows one after another, so that the weights are read as one sequential stream
// (the rows are contiguous), which DRAM and the prefetchers serve best; four accumulators along
// each row hide the multiply-add latency, and a software prefetch runs 2 KiB ahead in the stream.
template <DType D>
void matvec_one_token(const WeightMatrix& w, const float* x, float* y, bool accumulate, int64_t o0, int64_t o1) {
  constexpr int64_t kBytes = D == DType::F32 ? 4 : 2;
  constexpr int64_t kAhead = 2048;
  const int64_t K = w.cols;
  for (int64_t o = o0; o < o1; ++o) {
    const std::byte* row = w.row(o);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t k = 0;
    for (; k + 4 * kLanes <= K; k += 4 * kLanes) {
      const char* next = reinterpret_cast<const char*>(row) + k * kBytes + kAhead;
      _mm_prefetch(next, _MM_HINT_T0);
      if constexpr (kBytes == 4) {
        _mm_prefetch(next + 64, _MM_HINT_T0);
        _mm_prefetch(next + 128, _MM_HINT_T0);
        _mm_prefetch(next + 192, _MM_HINT_T0);
      } else {
        _mm_prefetch(next + 64, _MM_HINT_T0);
      }
      acc0 = _mm512_fmadd_ps(load_weights<D>(row, k), _mm512_loadu_ps(x + k), acc0);
      acc1 = _mm512_fmadd_ps(load_weights<D>(row, k + kLanes), _mm512_loadu_ps(x + k + kLanes), acc1);
      acc2 = _mm512_fmadd_ps(load_weights<D>(row, k + 2 * kLanes), _mm512_loadu_ps(x + k + 2 * kLanes), acc2);
      acc3 = _mm512_fmadd_ps(load_weights<D>(row, k + 3 * kLanes), _mm512_loadu_ps(x + k + 3 * kLanes), acc3);
    }
    for (; k + kLanes <= K; k += kLanes) acc0 = _mm512_fmadd_ps(load_weights<D>(row, k), _mm512_loadu_ps(x + k), acc0);
    if (k < K) {
      const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1u);
      acc1 = _mm512_fmadd_ps(load_weights_tail<D>(row, k, m), _mm512_maskz_loadu_ps(m, x + k), acc1);
    }
    const float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
    y[o] = accumulate ? y[o] + sum : sum;
  }
}

template <DType D>
void matvec(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  int64_t t = 0;
  for (; t + 4 <= x.rows; t += 4) matvec_tokens<D, 4, 4>(w, x, y, accumulate, o0, o1, t);
  switch (x.rows - t) {
    case 3: matvec_tokens<D, 4, 3>(w, x, y, accumulate, o0, o1, t); break;
    case 2: matvec_tokens<D, 4, 2>(w, x, y, accumulate, o0, o1, t); break;
    case 1: matvec_one_token<D>(w, x.row(t), y.row(t), accumulate, o0, o1); break;
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

// The weight rows of one micro-tile are interleaved into scratch first ([K][kMr] f32, or
// [pairs][kMr] bf16 pairs; missing rows zero), so the micro-kernels broadcast every operand from
// one base pointer at constant offsets: twelve separate row pointers would not fit the
// general-purpose registers next to the loop state.

// f32 micro-kernel over all K: acc[r][h] += wi[k][r] * xp[k][16h .. 16h+15], then the store.
// The accumulators are locals of this function so they live in registers (__m512 may alias
// anything, so accumulators behind a pointer would be stored and reloaded every step).
template <int MR>
void tile_f32(const float* wi, int64_t K, const float* xp, const Mat& y, bool accumulate, int64_t o, int64_t t0,
              int64_t nt) {
  __m512 acc[kMr][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const __m512 b0 = _mm512_loadu_ps(xp + k * kNb), b1 = _mm512_loadu_ps(xp + k * kNb + 16);
    const float* a = wi + k * kMr;
    for (int r = 0; r < MR; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
  store_tile(acc, MR, y, accumulate, o, t0, nt);
}

// The micro-kernels by row count (the last row block of a slice may be shorter).
using F32Tile = void (*)(const float*, int64_t, const float*, const Mat&, bool, int64_t, int64_t, int64_t);
constexpr F32Tile kF32Tile[kMr + 1] = {nullptr,      tile_f32<1>, tile_f32<2>,  tile_f32<3>,  tile_f32<4>,
                                       tile_f32<5>,  tile_f32<6>, tile_f32<7>,  tile_f32<8>,  tile_f32<9>,
                                       tile_f32<10>, tile_f32<11>, tile_f32<12>};

inline __mmask16 first_lanes(int64_t n);
inline void transpose16(__m512 (&r)[16]);

// Widens `mr` weight rows from o on into wi [K][kMr] (16 k at a time: load, transpose, store).
template <DType D>
void interleave_f32(const WeightMatrix& w, int64_t o, int mr, float* wi) {
  const int64_t K = w.cols;
  const __mmask16 row_lanes = static_cast<__mmask16>((1u << kMr) - 1u);
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = first_lanes(K - k);
    __m512 r[16];
    for (int i = 0; i < 16; ++i) r[i] = i < mr ? load_weights_tail<D>(w.row(o + i), k, m) : _mm512_setzero_ps();
    transpose16(r);
    const int64_t nk = K - k < 16 ? K - k : 16;
    for (int64_t j = 0; j < nk; ++j) _mm512_mask_storeu_ps(wi + (k + j) * kMr, row_lanes, r[j]);
  }
}

// bf16 pairs of `mr` rows into wi [pairs][kMr] (an odd K's last pair is padded with zero).
void interleave_bf16(const WeightMatrix& w, int64_t o, int mr, uint32_t* wi) {
  const int64_t K = w.cols, pairs = (K + 1) / 2;
  const __mmask16 row_lanes = static_cast<__mmask16>((1u << kMr) - 1u);
  for (int64_t p = 0; p < pairs; p += 16) {
    const int64_t left = K - 2 * p;  // bf16 elements from pair p on
    const __mmask32 m = left >= 32 ? static_cast<__mmask32>(0xffffffffu) : static_cast<__mmask32>((1u << left) - 1u);
    __m512 r[16];
    for (int i = 0; i < 16; ++i)
      r[i] = i < mr ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(w.row(o + i)) + 2 * p))
                    : _mm512_setzero_ps();
    transpose16(r);
    const int64_t np = pairs - p < 16 ? pairs - p : 16;
    for (int64_t j = 0; j < np; ++j) _mm512_mask_storeu_ps(reinterpret_cast<float*>(wi + (p + j) * kMr), row_lanes, r[j]);
  }
}

// A slice's rows are interleaved a group of row blocks at a time (gemm_group_blocks: what fits
// L2), so that the token blocks can run outside the row blocks. The output tiles of one token
// block (32 tokens x the group's rows) then stay in L2 too; with the token blocks inside, every
// tile wrote 32 partial cache lines far apart in a large y (a 3072-wide FFN key took twice as
// long per FLOP as a 768-wide projection).
// Adds (or writes) the staged outputs of one token block into y: each token's outputs of the
// group are one contiguous run in both.
inline void unstage(const float* stage, int64_t stride, const Mat& y, bool accumulate, int64_t g, int64_t width,
                    int64_t t0, int64_t nt) {
  for (int64_t t = 0; t < nt; ++t) {
    const float* src = stage + t * stride;
    float* dst = y.row(t0 + t) + g;
    for (int64_t i = 0; i < width; i += 16) {
      const __mmask16 m = width - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (width - i)) - 1u);
      __m512 v = _mm512_maskz_loadu_ps(m, src + i);
      if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, dst + i));
      _mm512_mask_storeu_ps(dst + i, m, v);
    }
  }
}

// The blocking both GEMMs share: rows in groups whose interleaved weights (K values of type E per
// row: f32, or bf16 pairs) fit L2; per group, interleave its row blocks into scratch once, then for
// each block of 32 tokens run the micro-tiles into the padded stage and add it to y.
template <typename E, typename Interleave, typename Tile>
void gemm_groups(const E* x, int64_t T, int64_t K, const Mat& y, bool accumulate, int64_t o0, int64_t o1, E* scratch,
                 Interleave interleave, const Tile (&tiles)[kMr + 1]) {
  const int64_t group = gemm_group_rows(o1 - o0, K), stride = gemm_stage_stride(o1 - o0, K);
  float* stage = reinterpret_cast<float*>(scratch + group * K);
  for (int64_t g = o0; g < o1; g += group) {
    const int64_t g1 = o1 - g < group ? o1 : g + group;
    for (int64_t o = g; o < g1; o += kMr) interleave(o, o1 - o < kMr ? static_cast<int>(o1 - o) : kMr, scratch + (o - g) * K);
    for (int64_t t0 = 0; t0 < T; t0 += kNb) {
      const E* xp = x + (t0 / kNb) * K * kNb;
      const int64_t nt = T - t0 < kNb ? T - t0 : kNb;
      const Mat staged{stage, kNb, stride};
      for (int64_t o = g; o < g1; o += kMr) {
        const int mr = g1 - o < kMr ? static_cast<int>(g1 - o) : kMr;
        tiles[mr](scratch + (o - g) * K, K, xp, staged, false, o - g, 0, nt);
      }
      unstage(stage, stride, y, accumulate, g, g1 - g, t0, nt);
    }
  }
}

template <DType D>
void gemm_f32(const WeightMatrix& w, const PackedView& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
              float* scratch) {
  gemm_groups(x.f32, x.T, w.cols, y, accumulate, o0, o1, scratch,
              [&](int64_t o, int mr, float* wi) { interleave_f32<D>(w, o, mr, wi); }, kF32Tile);
}

// bf16 micro-kernel: a pair of k per dot-product instruction.
template <int MR>
void tile_bf16(const uint32_t* wi, int64_t pairs, const uint32_t* xp, const Mat& y, bool accumulate, int64_t o,
               int64_t t0, int64_t nt) {
  __m512 acc[kMr][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(xp + p * kNb));
    const __m512bh b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(xp + p * kNb + 16));
    const uint32_t* a = wi + p * kMr;
    for (int r = 0; r < MR; ++r) {
      const __m512bh ar = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(a[r])));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
    }
  }
  store_tile(acc, MR, y, accumulate, o, t0, nt);
}

using Bf16Tile = void (*)(const uint32_t*, int64_t, const uint32_t*, const Mat&, bool, int64_t, int64_t, int64_t);
constexpr Bf16Tile kBf16Tile[kMr + 1] = {nullptr,       tile_bf16<1>, tile_bf16<2>,  tile_bf16<3>,  tile_bf16<4>,
                                         tile_bf16<5>,  tile_bf16<6>, tile_bf16<7>,  tile_bf16<8>,  tile_bf16<9>,
                                         tile_bf16<10>, tile_bf16<11>, tile_bf16<12>};


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

// The first n of 16 lanes (none for n <= 0: the second half of a last, short pair step).
inline __mmask16 first_lanes(int64_t n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
}

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
                          int64_t o1, uint32_t* scratch) {
  gemm_groups(x.bf16, x.T, x.k_pairs, y, accumulate, o0, o1, scratch,
              [&](int64_t o, int mr, uint32_t* wi) { interleave_bf16(w, o, mr, wi); }, kBf16Tile);
}


}  // namespace rwkv::cpu

RWKV_SIMD_END
#endif  // __x86_64__
