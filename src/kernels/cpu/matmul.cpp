#include "kernels/cpu/matmul.h"

#include <cstring>

#include "kernels/cpu/matmul_quant.h"
#include "kernels/cpu/reference.h"
#include "util/error.h"

namespace rwkv::cpu {

namespace {
// Below this many tokens the matvec (each weight row read once, used for every token) beats
// packing the activations for the GEMM. Measured with bench/matmul_bench.
constexpr int64_t kGemmMinTokens = 6;
}  // namespace

bool use_gemm(Isa isa, int64_t T) { return isa != Isa::Scalar && T >= kGemmMinTokens; }

void pack_activations(const Mat& x, bool to_bf16, PackedActivations& out) {
  const int64_t T = x.rows, K = x.cols, blocks = (T + kTokenBlock - 1) / kTokenBlock;
  out.T = T;
  out.K = K;
  out.use_bf16 = to_bf16;
  if (!to_bf16) {
    out.f32.assign(static_cast<size_t>(blocks * K * kTokenBlock), 0.0f);
    for (int64_t t = 0; t < T; ++t) {
      float* dst = out.f32.data() + (t / kTokenBlock) * K * kTokenBlock + (t % kTokenBlock);
      const float* src = x.row(t);
      for (int64_t k = 0; k < K; ++k) dst[k * kTokenBlock] = src[k];
    }
    return;
  }
  out.k_pairs = (K + 1) / 2;
  out.bf16.assign(static_cast<size_t>(blocks * out.k_pairs * kTokenBlock), 0u);
  for (int64_t t = 0; t < T; ++t) {
    uint32_t* dst = out.bf16.data() + (t / kTokenBlock) * out.k_pairs * kTokenBlock + (t % kTokenBlock);
    const float* src = x.row(t);
    for (int64_t p = 0; p < out.k_pairs; ++p) {
      const uint32_t lo = f32_to_bf16(src[2 * p]);
      const uint32_t hi = 2 * p + 1 < K ? f32_to_bf16(src[2 * p + 1]) : 0u;
      dst[p * kTokenBlock] = lo | (hi << 16);
    }
  }
}

void matvec_rows(Isa isa, const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  if (dtype_is_quantized(w.dtype)) return quant_matvec_rows(isa, w, x, y, accumulate, o0, o1);
#if defined(__x86_64__)
  if (isa == Isa::Avx512 || isa == Isa::Avx512Bf16) return matvec_rows_avx512(w, x, y, accumulate, o0, o1);
  if (isa == Isa::Avx2) return matvec_rows_avx2(w, x, y, accumulate, o0, o1);
#endif
  ref::matmul(w, x, y, accumulate, o0, o1);
}

void gemm_rows(Isa isa, const WeightMatrix& w, const PackedActivations& x, const Mat& y, bool accumulate, int64_t o0,
               int64_t o1) {
  if (dtype_is_quantized(w.dtype)) return quant_gemm_rows(isa, w, x, y, accumulate, o0, o1);
#if defined(__x86_64__)
  const PackedView v{x.f32.data(), x.bf16.data(), x.T, x.K, x.k_pairs};
  if (x.use_bf16) {
    if (isa != Isa::Avx512Bf16 || w.dtype != DType::BF16)
      throw Error("bf16-activation GEMM needs bf16 weights and AVX512_BF16");
    return gemm_rows_avx512bf16(w, v, y, accumulate, o0, o1);
  }
  if (isa == Isa::Avx512 || isa == Isa::Avx512Bf16) return gemm_rows_avx512(w, v, y, accumulate, o0, o1);
  if (isa == Isa::Avx2) return gemm_rows_avx2(w, v, y, accumulate, o0, o1);
#endif
  throw Error("gemm_rows: no GEMM kernel for ISA {}", isa_name(isa));
}

}  // namespace rwkv::cpu
