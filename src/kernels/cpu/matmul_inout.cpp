#include "kernels/cpu/matmul_inout.h"

#include "kernels/cpu/reference.h"

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

}  // namespace rwkv::cpu
