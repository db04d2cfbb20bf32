// AVX-512 products with input-major weights (see matmul_inout.h). Only called after a run-time
// CPU check; no std:: templates inside the SIMD region.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/matmul_inout.h"
#include "kernels/cpu/simd_target.h"

RWKV_SIMD_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,f16c")

namespace rwkv::cpu {
namespace {

// Loops over a tile's tokens unrolled before GCC decides where the accumulators live: otherwise it
// keeps a copy of them on the stack and stores every accumulator there on every step.
#define RWKV_UNROLL _Pragma("GCC unroll 16")

inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n > 0 ? n : 0)) - 1u);
}

// 16 outputs (n < 16: the first n, the rest zero) of a stored row, widened exactly to f32.
template <DType D>
inline __m512 load16(const std::byte* row, int64_t o, int64_t n) {
  const __mmask16 m = lanes(n);
  if constexpr (D == DType::F32) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + o);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + o);
    if constexpr (D == DType::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
  }
}

inline void store16(float* out, __m512 v, int64_t n, bool accumulate) {
  const __mmask16 m = lanes(n);
  if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, out));
  _mm512_mask_storeu_ps(out, m, v);
}

// ---- matvec: TT tokens, NV vectors of 16 outputs held in registers while k runs ----

constexpr int kOneTokenVectors = 24;  // 384 outputs of one token in 24 of the 32 registers

// Inputs [k0, k1) only (all of them but in the split-by-inputs decode).
template <DType D, int TT, int NV>
void matvec_chunk(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t t0, int64_t o,
                  int64_t n, int64_t k0, int64_t k1) {
  __m512 acc[TT][NV];
  RWKV_UNROLL for (int t = 0; t < TT; ++t)
    RWKV_UNROLL for (int v = 0; v < NV; ++v) acc[t][v] = _mm512_setzero_ps();
  // The rows are short (a LoRA factor's 32-256 outputs), so the hardware prefetcher, which stops at
  // 4 KiB page boundaries, keeps too few of them in flight: ask for the rows ~4 KiB ahead ourselves.
  const int64_t span = n * static_cast<int64_t>(D == DType::F32 ? 4 : 2);
  const int64_t ahead = span >= 4096 ? 1 : 4096 / span;
  for (int64_t k = k0; k < k1; ++k) {
    if (k + ahead < w.cols) {
      const char* next = reinterpret_cast<const char*>(w.row(k + ahead)) + o * (D == DType::F32 ? 4 : 2);
      for (int64_t b = 0; b < span; b += 64) _mm_prefetch(next + b, _MM_HINT_T0);
    }
    float xs[TT];
    bool any = false;
    RWKV_UNROLL for (int t = 0; t < TT; ++t) {
      xs[t] = x.row(t0 + t)[k];
      any |= xs[t] != 0.0f;
    }
    if (!any) continue;  // a zero input contributes nothing: its weight row is not read at all
    const std::byte* row = w.row(k);
    RWKV_UNROLL for (int v = 0; v < NV; ++v) {
      const __m512 wv = load16<D>(row, o + 16 * v, n - 16 * v);
      RWKV_UNROLL for (int t = 0; t < TT; ++t) acc[t][v] = _mm512_fmadd_ps(wv, _mm512_set1_ps(xs[t]), acc[t][v]);
    }
  }
  RWKV_UNROLL for (int t = 0; t < TT; ++t)
    RWKV_UNROLL for (int v = 0; v < NV; ++v) store16(y.row(t0 + t) + o + 16 * v, acc[t][v], n - 16 * v, accumulate);
}

// Outputs [o0, o1) in passes of NV vectors, then what is left in one pass of fewer (each pass
// reads every non-zero input's row once, so fewer, wider passes read the weights fewer times).
template <DType D, int TT, int NV>
void matvec_tokens(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t t0, int64_t o0,
                   int64_t o1, int64_t k0, int64_t k1) {
  int64_t o = o0;
  for (; o + 16 * NV <= o1; o += 16 * NV) matvec_chunk<D, TT, NV>(w, x, y, accumulate, t0, o, 16 * NV, k0, k1);
  const int64_t left = (o1 - o + 15) / 16;  // vectors left, the last maybe partial
  if constexpr (NV > 1) {
    if (left > NV / 2) return matvec_chunk<D, TT, NV>(w, x, y, accumulate, t0, o, o1 - o, k0, k1);
    if (left > 0) return matvec_tokens<D, TT, NV / 2>(w, x, y, accumulate, t0, o, o1, k0, k1);
  } else {
    if (left > 0) matvec_chunk<D, TT, 1>(w, x, y, accumulate, t0, o, o1 - o, k0, k1);
  }
}

template <DType D>
void matvec(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  int64_t t = 0;
  const int64_t K = w.cols;
  for (; t + 4 <= x.rows; t += 4) matvec_tokens<D, 4, 6>(w, x, y, accumulate, t, o0, o1, 0, K);
  switch (x.rows - t) {
    case 3: matvec_tokens<D, 3, 8>(w, x, y, accumulate, t, o0, o1, 0, K); break;
    case 2: matvec_tokens<D, 2, 12>(w, x, y, accumulate, t, o0, o1, 0, K); break;
    case 1: matvec_tokens<D, 1, kOneTokenVectors>(w, x, y, accumulate, t, o0, o1, 0, K); break;
    default: break;
  }
}

// ---- one token split by inputs: out (+)= x[k0..k1) W[k0..k1) with every output at once ----

// Rows too wide for the registers (more than kOneTokenVectors vectors): the sums live in `acc` (all
// outputs, in L1), so each stored row is still read whole and the rows one after the other. Rows of
// zero inputs are skipped, and so is their prefetch: the prefetch walks ahead over the rows that
// will be read (~4 KiB of them), so a sparse input (the ReLU^2 channel-mix) reads fewer bytes.
template <DType D>
void matvec_inputs_wide(const WeightMatrix& w, const float* x, int64_t k0, int64_t k1, float* acc) {
  const int64_t n = w.rows, row_bytes = n * (D == DType::F32 ? 4 : 2);
  const int64_t want = row_bytes >= 4096 ? 1 : 4096 / row_bytes;  // rows to keep requested ahead
  int64_t next = k0, queued = 0;  // the next row the prefetch looks at; rows requested beyond k
  for (int64_t k = k0; k < k1; ++k) {
    if (x[k] == 0.0f) continue;  // a zero input contributes nothing: its weight row is not read at all
    if (next <= k) {  // nothing requested beyond k yet
      next = k + 1;
      queued = 0;
    } else {
      --queued;  // row k was one of those requested
    }
    for (; queued < want && next < k1; ++next) {
      if (x[next] == 0.0f) continue;
      const char* row = reinterpret_cast<const char*>(w.row(next));
      for (int64_t b = 0; b < row_bytes; b += 64) _mm_prefetch(row + b, _MM_HINT_T0);
      ++queued;
    }
    const __m512 xs = _mm512_set1_ps(x[k]);
    int64_t o = 0;
    for (; o + 16 <= n; o += 16)
      _mm512_storeu_ps(acc + o, _mm512_fmadd_ps(load16<D>(w.row(k), o, 16), xs, _mm512_loadu_ps(acc + o)));
    if (o < n) {
      const __mmask16 m = lanes(n - o);
      _mm512_mask_storeu_ps(acc + o, m, _mm512_fmadd_ps(load16<D>(w.row(k), o, n - o), xs, _mm512_maskz_loadu_ps(m, acc + o)));
    }
  }
}

template <DType D>
void matvec_inputs(const WeightMatrix& w, const float* x, int64_t k0, int64_t k1, float* out, bool accumulate) {
  if (w.rows > 16 * kOneTokenVectors) {
    if (!accumulate)
      for (int64_t o = 0; o < w.rows; o += 16) _mm512_mask_storeu_ps(out + o, lanes(w.rows - o), _mm512_setzero_ps());
    return matvec_inputs_wide<D>(w, x, k0, k1, out);
  }
  // narrow rows: the sums stay in registers (a chain through memory per row is slower)
  const Mat xm{const_cast<float*>(x), 1, w.cols}, ym{out, 1, w.rows};
  matvec_tokens<D, 1, kOneTokenVectors>(w, xm, ym, accumulate, 0, 0, w.rows, k0, k1);
}

// ---- GEMM: MT tokens x 32 outputs per tile ----

constexpr int kMt = 12;

template <DType D, int MT>
void gemm_tile(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t t0, int64_t o, int64_t n) {
  __m512 acc[MT][2];
  RWKV_UNROLL for (int t = 0; t < MT; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  const float* xr[MT];
  RWKV_UNROLL for (int t = 0; t < MT; ++t) xr[t] = x.row(t0 + t);
  for (int64_t k = 0; k < w.cols; ++k) {
    const std::byte* row = w.row(k);
    const __m512 w0 = load16<D>(row, o, n), w1 = load16<D>(row, o + 16, n - 16);
    RWKV_UNROLL for (int t = 0; t < MT; ++t) {
      const __m512 b = _mm512_set1_ps(xr[t][k]);
      acc[t][0] = _mm512_fmadd_ps(w0, b, acc[t][0]);
      acc[t][1] = _mm512_fmadd_ps(w1, b, acc[t][1]);
    }
  }
  RWKV_UNROLL for (int t = 0; t < MT; ++t) {
    store16(y.row(t0 + t) + o, acc[t][0], n, accumulate);
    store16(y.row(t0 + t) + o + 16, acc[t][1], n - 16, accumulate);
  }
}

// bf16 weights x bf16-rounded activations: pairs of inputs per dot-product instruction. The two
// weight rows of a pair are interleaved on the fly (unpacklo/hi_epi16), which puts the outputs in
// the order {0-3, 8-11, 16-19, 24-27} (lo) and {4-7, 12-15, 20-23, 28-31} (hi); the store undoes it.
template <int MT>
void gemm_tile_bf16(const WeightMatrix& w, const uint32_t* xpairs, int64_t pairs, const Mat& y, bool accumulate,
                    int64_t t0, int64_t o, int64_t n) {
  __m512 acc[MT][2];
  RWKV_UNROLL for (int t = 0; t < MT; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  const __mmask32 m = n >= 32 ? static_cast<__mmask32>(0xffffffffu) : static_cast<__mmask32>((1u << n) - 1u);
  const auto* base = reinterpret_cast<const uint16_t*>(w.data) + o;
  const int64_t stride = w.row_bytes / 2;
  auto step = [&](int64_t p, __m512i a, __m512i b) {
    const __m512bh lo = reinterpret_cast<__m512bh>(_mm512_unpacklo_epi16(a, b));
    const __m512bh hi = reinterpret_cast<__m512bh>(_mm512_unpackhi_epi16(a, b));
    RWKV_UNROLL for (int t = 0; t < MT; ++t) {
      const __m512bh xv = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(xpairs[(t0 + t) * pairs + p])));
      acc[t][0] = _mm512_dpbf16_ps(acc[t][0], lo, xv);
      acc[t][1] = _mm512_dpbf16_ps(acc[t][1], hi, xv);
    }
  };
  // Whole pairs in a loop without branches (one inside keeps GCC from holding the accumulators in
  // registers: it stores them to the stack every step), then an odd last input on its own.
  const int64_t whole = w.cols / 2;
  for (int64_t p = 0; p < whole; ++p)
    step(p, _mm512_maskz_loadu_epi16(m, base + (2 * p) * stride), _mm512_maskz_loadu_epi16(m, base + (2 * p + 1) * stride));
  if (whole < pairs) step(whole, _mm512_maskz_loadu_epi16(m, base + (2 * whole) * stride), _mm512_setzero_si512());
  const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i second = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  RWKV_UNROLL for (int t = 0; t < MT; ++t) {
    store16(y.row(t0 + t) + o, _mm512_permutex2var_ps(acc[t][0], first, acc[t][1]), n, accumulate);
    store16(y.row(t0 + t) + o + 16, _mm512_permutex2var_ps(acc[t][0], second, acc[t][1]), n - 16, accumulate);
  }
}

template <DType D>
using TileFn = void (*)(const WeightMatrix&, const Mat&, const Mat&, bool, int64_t, int64_t, int64_t);
template <DType D>
constexpr TileFn<D> kTiles[kMt + 1] = {nullptr,          gemm_tile<D, 1>,  gemm_tile<D, 2>,  gemm_tile<D, 3>,
                                       gemm_tile<D, 4>,  gemm_tile<D, 5>,  gemm_tile<D, 6>,  gemm_tile<D, 7>,
                                       gemm_tile<D, 8>,  gemm_tile<D, 9>,  gemm_tile<D, 10>, gemm_tile<D, 11>,
                                       gemm_tile<D, 12>};
using Bf16TileFn = void (*)(const WeightMatrix&, const uint32_t*, int64_t, const Mat&, bool, int64_t, int64_t, int64_t);
constexpr int kBf16Mt = kMt;  // twelve tokens: with the loops unrolled (RWKV_UNROLL) they fit the registers
constexpr Bf16TileFn kBf16Tiles[kBf16Mt + 1] = {
    nullptr,            gemm_tile_bf16<1>, gemm_tile_bf16<2>,  gemm_tile_bf16<3>,  gemm_tile_bf16<4>,
    gemm_tile_bf16<5>,  gemm_tile_bf16<6>, gemm_tile_bf16<7>,  gemm_tile_bf16<8>,  gemm_tile_bf16<9>,
    gemm_tile_bf16<10>, gemm_tile_bf16<11>, gemm_tile_bf16<12>};

template <DType D>
void gemm(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  for (int64_t o = o0; o < o1; o += 32)
    for (int64_t t = 0; t < x.rows; t += kMt) {
      const int mt = x.rows - t < kMt ? static_cast<int>(x.rows - t) : kMt;
      kTiles<D>[mt](w, x, y, accumulate, t, o, o1 - o);
    }
}

}  // namespace

void to_bf16_pairs_avx512bf16(const float* x, int64_t ldx, int64_t t0, int64_t t1, int64_t K, uint32_t* out) {
  const int64_t pairs = (K + 1) / 2;
  for (int64_t t = t0; t < t1; ++t) {
    const float* row = x + t * ldx;
    uint32_t* dst = out + t * pairs;
    int64_t k = 0;
    // Whole vectors without masks: a masked store costs far more than a plain one on AMD cores.
    for (; k + 32 <= K; k += 32) {
      const __m512 lo = _mm512_loadu_ps(row + k), hi = _mm512_loadu_ps(row + k + 16);
      _mm512_storeu_si512(dst + k / 2, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
    }
    for (; k < K; k += 32) {  // 32 values = 16 pairs, rounded to nearest even
      const __m512 lo = _mm512_maskz_loadu_ps(lanes(K - k), row + k);
      const __m512 hi = _mm512_maskz_loadu_ps(lanes(K - k - 16), row + k + 16);
      const __m512i v = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
      const int64_t np = pairs - k / 2 < 16 ? pairs - k / 2 : 16;
      _mm512_mask_storeu_epi32(dst + k / 2, lanes(np), v);
    }
  }
}

bool inout_matvec_inputs_avx512(const WeightMatrix& w, const float* x, int64_t k0, int64_t k1, float* out,
                                bool accumulate) {
  switch (w.dtype) {
    case DType::F32: matvec_inputs<DType::F32>(w, x, k0, k1, out, accumulate); return true;
    case DType::BF16: matvec_inputs<DType::BF16>(w, x, k0, k1, out, accumulate); return true;
    case DType::F16: matvec_inputs<DType::F16>(w, x, k0, k1, out, accumulate); return true;
    default: return false;
  }
}

bool inout_matmul_avx512(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                         const uint32_t* xpairs) {
  const bool gemm_path = x.rows >= kInOutGemmMinTokens;
  if (gemm_path && xpairs && w.dtype == DType::BF16) {
    const int64_t pairs = (w.cols + 1) / 2;
    for (int64_t o = o0; o < o1; o += 32)
      for (int64_t t = 0; t < x.rows; t += kBf16Mt) {
        const int mt = x.rows - t < kBf16Mt ? static_cast<int>(x.rows - t) : kBf16Mt;
        kBf16Tiles[mt](w, xpairs, pairs, y, accumulate, t, o, o1 - o < 32 ? o1 - o : 32);
      }
    return true;
  }
  switch (w.dtype) {
    case DType::F32:
      gemm_path ? gemm<DType::F32>(w, x, y, accumulate, o0, o1) : matvec<DType::F32>(w, x, y, accumulate, o0, o1);
      return true;
    case DType::BF16:
      gemm_path ? gemm<DType::BF16>(w, x, y, accumulate, o0, o1) : matvec<DType::BF16>(w, x, y, accumulate, o0, o1);
      return true;
    case DType::F16:
      gemm_path ? gemm<DType::F16>(w, x, y, accumulate, o0, o1) : matvec<DType::F16>(w, x, y, accumulate, o0, o1);
      return true;
    default: return false;
  }
}

}  // namespace rwkv::cpu

RWKV_SIMD_END
#endif  // __x86_64__
