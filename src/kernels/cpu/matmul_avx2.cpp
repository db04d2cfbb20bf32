// AVX2 + FMA matrix products (see matmul.h): the same algorithms as matmul_avx512.cpp with 8
// lanes, for x86 CPUs without AVX-512. Only called after a run-time CPU check.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/cpu/simd_target.h"

#include <cstdint>

#include "kernels/cpu/matmul.h"

RWKV_SIMD_BEGIN("avx2,fma,f16c")

namespace rwkv::cpu {
namespace {

constexpr int kLanes = 8;

template <DType D>
inline __m256 load_weights(const std::byte* row, int64_t k) {
  if constexpr (D == DType::F32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (D == DType::BF16) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + k));
    return _mm256_cvtph_ps(h);
  }
}

template <DType D>
inline float load_weight(const std::byte* row, int64_t k) {
  if constexpr (D == DType::F32) {
    return reinterpret_cast<const float*>(row)[k];
  } else {
    const uint16_t h = reinterpret_cast<const uint16_t*>(row)[k];
    if constexpr (D == DType::BF16) {
      const uint32_t bits = static_cast<uint32_t>(h) << 16;
      float f;
      __builtin_memcpy(&f, &bits, 4);
      return f;
    } else {
      return _cvtsh_ss(h);
    }
  }
}

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

template <DType D, int R, int TT>
inline void matvec_block(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o, int64_t t0) {
  const int64_t K = w.cols;
  __m256 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + kLanes <= K; k += kLanes) {
    __m256 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = _mm256_loadu_ps(x.row(t0 + t) + k);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = load_weights<D>(w.row(o + r), k);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) {
      float sum = hsum(acc[r][t]);
      for (int64_t kk = k; kk < K; ++kk) sum += load_weight<D>(w.row(o + r), kk) * x.row(t0 + t)[kk];
      float* out = y.row(t0 + t) + o + r;
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

// One token: the rows one after another, one sequential stream of weights, with a software
// prefetch 2 KiB ahead in it (as matmul_avx512.cpp); four accumulators hide the FMA latency.
template <DType D>
void matvec_one_token(const WeightMatrix& w, const float* x, float* y, bool accumulate, int64_t o0, int64_t o1) {
  constexpr int64_t kBytes = D == DType::F32 ? 4 : 2;
  constexpr int64_t kAhead = 2048;
  const int64_t K = w.cols;
  for (int64_t o = o0; o < o1; ++o) {
    const std::byte* row = w.row(o);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t k = 0;
    for (; k + 4 * kLanes <= K; k += 4 * kLanes) {  // 32 weights: one (16-bit) or two (f32) cache lines
      const char* next = reinterpret_cast<const char*>(row) + k * kBytes + kAhead;
      _mm_prefetch(next, _MM_HINT_T0);
      if constexpr (kBytes == 4) _mm_prefetch(next + 64, _MM_HINT_T0);
      acc0 = _mm256_fmadd_ps(load_weights<D>(row, k), _mm256_loadu_ps(x + k), acc0);
      acc1 = _mm256_fmadd_ps(load_weights<D>(row, k + kLanes), _mm256_loadu_ps(x + k + kLanes), acc1);
      acc2 = _mm256_fmadd_ps(load_weights<D>(row, k + 2 * kLanes), _mm256_loadu_ps(x + k + 2 * kLanes), acc2);
      acc3 = _mm256_fmadd_ps(load_weights<D>(row, k + 3 * kLanes), _mm256_loadu_ps(x + k + 3 * kLanes), acc3);
    }
    for (; k + kLanes <= K; k += kLanes) acc0 = _mm256_fmadd_ps(load_weights<D>(row, k), _mm256_loadu_ps(x + k), acc0);
    float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; k < K; ++k) sum += load_weight<D>(row, k) * x[k];
    y[o] = accumulate ? y[o] + sum : sum;
  }
}

template <DType D>
void matvec(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  int64_t t = 0;
  for (; t + 2 <= x.rows; t += 2) matvec_tokens<D, 4, 2>(w, x, y, accumulate, o0, o1, t);
  if (t < x.rows) matvec_one_token<D>(w, x.row(t), y.row(t), accumulate, o0, o1);
}

// GEMM: 6 weight rows x 16 tokens (2 vectors) per micro-tile, 12 accumulators of the 16
// registers. The rows of a tile are widened to f32 and interleaved ([K][6]) once, so that each
// step broadcasts its 6 weights from one pointer; then every token block (two halves of 16)
// runs against them.
constexpr int kMr = 6;
constexpr int64_t kNb = kTokenBlock;
constexpr int64_t kHalf = 16;

// One micro-tile over all K. The rows past the last one are zero in wi, so a short last tile
// runs the same code. Twelve named accumulators: with an array, GCC 12 stored every one of them
// to the stack at each step.
void tile(const float* wi, int64_t K, const float* xp, float (&out)[kMr][kHalf]) {
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
  __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
  for (int64_t k = 0; k < K; ++k) {
    const __m256 b0 = _mm256_loadu_ps(xp + k * kNb), b1 = _mm256_loadu_ps(xp + k * kNb + 8);
    const float* a = wi + k * kMr;
    __m256 w = _mm256_broadcast_ss(a);
    a00 = _mm256_fmadd_ps(w, b0, a00), a01 = _mm256_fmadd_ps(w, b1, a01);
    w = _mm256_broadcast_ss(a + 1);
    a10 = _mm256_fmadd_ps(w, b0, a10), a11 = _mm256_fmadd_ps(w, b1, a11);
    w = _mm256_broadcast_ss(a + 2);
    a20 = _mm256_fmadd_ps(w, b0, a20), a21 = _mm256_fmadd_ps(w, b1, a21);
    w = _mm256_broadcast_ss(a + 3);
    a30 = _mm256_fmadd_ps(w, b0, a30), a31 = _mm256_fmadd_ps(w, b1, a31);
    w = _mm256_broadcast_ss(a + 4);
    a40 = _mm256_fmadd_ps(w, b0, a40), a41 = _mm256_fmadd_ps(w, b1, a41);
    w = _mm256_broadcast_ss(a + 5);
    a50 = _mm256_fmadd_ps(w, b0, a50), a51 = _mm256_fmadd_ps(w, b1, a51);
  }
  const __m256 acc[kMr][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41}, {a50, a51}};
  for (int r = 0; r < kMr; ++r) {
    _mm256_storeu_ps(out[r], acc[r][0]);
    _mm256_storeu_ps(out[r] + 8, acc[r][1]);
  }
}

template <DType D>
void gemm(const WeightMatrix& w, const PackedView& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
          float* wi) {
  const int64_t K = w.cols;
  for (int64_t o = o0; o < o1; o += kMr) {
    const int mr = o1 - o < kMr ? static_cast<int>(o1 - o) : kMr;
    for (int64_t k = 0; k < K; ++k)
      for (int r = 0; r < kMr; ++r) wi[k * kMr + r] = r < mr ? load_weight<D>(w.row(o + r), k) : 0.0f;
    for (int64_t t0 = 0; t0 < x.T; t0 += kNb) {
      const float* xp = x.f32 + (t0 / kNb) * K * kNb;
      for (int64_t h = 0; h < kNb && t0 + h < x.T; h += kHalf) {
        float out[kMr][kHalf];
        tile(wi, K, xp + h, out);
        const int64_t nt = x.T - t0 - h < kHalf ? x.T - t0 - h : kHalf;
        for (int r = 0; r < mr; ++r)
          for (int64_t t = 0; t < nt; ++t) {
            float* dst = y.row(t0 + h + t) + o + r;
            *dst = accumulate ? *dst + out[r][t] : out[r][t];
          }
      }
    }
  }
}

}  // namespace

void matvec_rows_avx2(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  switch (w.dtype) {
    case DType::F32: return matvec<DType::F32>(w, x, y, accumulate, o0, o1);
    case DType::BF16: return matvec<DType::BF16>(w, x, y, accumulate, o0, o1);
    case DType::F16: return matvec<DType::F16>(w, x, y, accumulate, o0, o1);
    default: break;
  }
  __builtin_trap();
}

void gemm_rows_avx2(const WeightMatrix& w, const PackedView& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                    float* scratch) {
  switch (w.dtype) {
    case DType::F32: return gemm<DType::F32>(w, x, y, accumulate, o0, o1, scratch);
    case DType::BF16: return gemm<DType::BF16>(w, x, y, accumulate, o0, o1, scratch);
    case DType::F16: return gemm<DType::F16>(w, x, y, accumulate, o0, o1, scratch);
    default: break;
  }
  __builtin_trap();
}

}  // namespace rwkv::cpu

RWKV_SIMD_END
#endif  // __x86_64__
