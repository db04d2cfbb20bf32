#include "kernels/cpu/matmul_inout.h"

#include "kernels/cpu/reference.h"
#include <vector>

namespace rwkv::cpu {

bool inout_uses_bf16_pairs(Isa isa, const WeightMatrix& w, int64_t T, bool fast_activations) {
  return fast_activations && isa == Isa::Avx512Bf16 && w.dtype == DType::BF16 && T >= kInOutGemmMinTokens;
}

void to_bf16_pairs(Isa isa, const Mat& x, uint32_t* out, int64_t t0, int64_t t1) {
#if defined(__x86_64__)
  if (isa == Isa::Avx512Bf16) return to_bf16_pairs_avx512bf16(x.data, x.cols, t0, t1, x.cols, out);
#endif
  const int64_t pairs = (x.cols + 1) / 2;
  for (int64_t t = t0; t < t1; ++t) {
    const float* src = x.row(t);
    for (int64_t p = 0; p < pairs; ++p) {
      const uint32_t lo = f32_to_bf16(src[2 * p]);
      const uint32_t hi = 2 * p + 1 < x.cols ? f32_to_bf16(src[2 * p + 1]) : 0u;
      out[t * pairs + p] = lo | (hi << 16);
    }
  }
}

void inout_matmul(Isa isa, const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                  const uint32_t* xpairs) {
#if defined(__x86_64__)
  if (isa >= Isa::Avx512 && inout_matmul_avx512(w, x, y, accumulate, o0, o1, xpairs)) return;
  if (isa == Isa::Avx2 && inout_matmul_avx2(w, x, y, accumulate, o0, o1)) return;
#endif
  ref::matmul(w, x, y, accumulate, o0, o1);
}

void ref_inout_matvec_inputs(const WeightMatrix& w, const float* x, int64_t k0, int64_t k1, float* out,
                             bool accumulate) {
  std::vector<float> row(static_cast<size_t>(w.rows)), sum(static_cast<size_t>(w.rows), 0.0f);
  for (int64_t k = k0; k < k1; ++k) {
    if (x[k] == 0.0f) continue;
    ref::row_to_f32(w.dtype, w.row(k), w.rows, row.data());
    for (size_t o = 0; o < row.size(); ++o) sum[o] += x[k] * row[o];
  }
  for (size_t o = 0; o < sum.size(); ++o) out[o] = accumulate ? out[o] + sum[o] : sum[o];
}

void inout_matvec_inputs(Isa isa, const WeightMatrix& w, const float* x, int64_t k0, int64_t k1, float* out,
                         bool accumulate) {
#if defined(__x86_64__)
  if (isa >= Isa::Avx512 && inout_matvec_inputs_avx512(w, x, k0, k1, out, accumulate)) return;
#endif
  ref_inout_matvec_inputs(w, x, k0, k1, out, accumulate);
}

}  // namespace rwkv::cpu
