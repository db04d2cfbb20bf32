// AVX2 + FMA products with input-major weights (see matmul_inout.h): the AVX-512 kernels' shape
// with 8 lanes and without the bf16 dot products. Only called after a run-time CPU check.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/matmul_inout.h"
#include "kernels/cpu/simd_target.h"

RWKV_SIMD_BEGIN("avx2,fma,f16c")

namespace rwkv::cpu {
namespace {

// 8 outputs of a stored row widened to f32; with n < 8 only the first n are read.
template <DType D>
inline __m256 load8(const std::byte* row, int64_t o, int64_t n) {
  if (n >= 8) {
    if constexpr (D == DType::F32) return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + o);
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + o));
    if constexpr (D == DType::BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
  }
  alignas(32) float tmp[8] = {};
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (D == DType::F32) {
      tmp[i] = reinterpret_cast<const float*>(row)[o + i];
    } else {
      const uint16_t h = reinterpret_cast<const uint16_t*>(row)[o + i];
      if constexpr (D == DType::BF16) {
        const uint32_t bits = static_cast<uint32_t>(h) << 16;
        __builtin_memcpy(&tmp[i], &bits, 4);
      } else {
        tmp[i] = _cvtsh_ss(h);
      }
    }
  }
  return _mm256_load_ps(tmp);
}

inline void store8(float* out, __m256 v, int64_t n, bool accumulate) {
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  const int64_t m = n < 8 ? n : 8;
  for (int64_t i = 0; i < m; ++i) out[i] = accumulate ? out[i] + tmp[i] : tmp[i];
}

template <DType D, int TT, int NV>
void chunk(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t t0, int64_t o, int64_t n) {
  __m256 acc[TT][NV];
  for (int t = 0; t < TT; ++t)
    for (int v = 0; v < NV; ++v) acc[t][v] = _mm256_setzero_ps();
  for (int64_t k = 0; k < w.cols; ++k) {
    float xs[TT];
    bool any = false;
    for (int t = 0; t < TT; ++t) {
      xs[t] = x.row(t0 + t)[k];
      any |= xs[t] != 0.0f;
    }
    if (!any) continue;  // zero inputs: their weight rows are not read
    for (int v = 0; v < NV; ++v) {
      const __m256 wv = load8<D>(w.row(k), o + 8 * v, n - 8 * v);
      for (int t = 0; t < TT; ++t) acc[t][v] = _mm256_fmadd_ps(wv, _mm256_set1_ps(xs[t]), acc[t][v]);
    }
  }
  for (int t = 0; t < TT; ++t)
    for (int v = 0; v < NV; ++v)
      if (n - 8 * v > 0) store8(y.row(t0 + t) + o + 8 * v, acc[t][v], n - 8 * v, accumulate);
}

// TT tokens at a time over outputs [o0, o1) in chunks of NV vectors.
template <DType D, int TT, int NV>
void tokens(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t t0, int64_t o0, int64_t o1) {
  int64_t o = o0;
  for (; o + 8 * NV <= o1; o += 8 * NV) chunk<D, TT, NV>(w, x, y, accumulate, t0, o, 8 * NV);
  for (; o < o1; o += 8) chunk<D, TT, 1>(w, x, y, accumulate, t0, o, o1 - o);
}

template <DType D>
void run(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  int64_t t = 0;
  // Prompts: 6 tokens x 2 vectors per tile (12 accumulators); one token: 12 vectors.
  for (; t + 6 <= x.rows; t += 6) tokens<D, 6, 2>(w, x, y, accumulate, t, o0, o1);
  for (; t + 2 <= x.rows; t += 2) tokens<D, 2, 6>(w, x, y, accumulate, t, o0, o1);
  if (t < x.rows) tokens<D, 1, 12>(w, x, y, accumulate, t, o0, o1);
}

}  // namespace

bool inout_matmul_avx2(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  switch (w.dtype) {
    case DType::F32: run<DType::F32>(w, x, y, accumulate, o0, o1); return true;
    case DType::BF16: run<DType::BF16>(w, x, y, accumulate, o0, o1); return true;
    case DType::F16: run<DType::F16>(w, x, y, accumulate, o0, o1); return true;
    default: return false;
  }
}

}  // namespace rwkv::cpu

RWKV_SIMD_END
#endif  // __x86_64__
