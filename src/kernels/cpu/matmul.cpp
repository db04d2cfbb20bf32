#include "kernels/cpu/matmul.h"

#include <cstring>
#include <vector>

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

void prepare_packing(int64_t T, int64_t K, bool to_bf16, PackedActivations& out) {
  const int64_t blocks = (T + kTokenBlock - 1) / kTokenBlock;
  out.T = T;
  out.K = K;
  out.use_bf16 = to_bf16;
  out.k_pairs = (K + 1) / 2;
  // resize, not assign: every element is written by pack_activations
  if (to_bf16) out.bf16.resize(static_cast<size_t>(blocks * out.k_pairs * kTokenBlock));
  else out.f32.resize(static_cast<size_t>(blocks * K * kTokenBlock));
}

int64_t token_blocks(const PackedActivations& p) { return (p.T + kTokenBlock - 1) / kTokenBlock; }

void pack_activations(Isa isa, const Mat& x, PackedActivations& out, int64_t b0, int64_t b1) {
  const int64_t T = out.T, K = out.K;
#if defined(__x86_64__)
  if (isa >= Isa::Avx512) {
    if (!out.use_bf16) return pack_f32_avx512(x.data, x.cols, T, K, out.f32.data(), b0, b1);
    if (isa == Isa::Avx512Bf16) return pack_bf16_avx512bf16(x.data, x.cols, T, K, out.bf16.data(), b0, b1);
  }
#endif
  for (int64_t b = b0; b < b1; ++b) {
    for (int64_t i = 0; i < kTokenBlock; ++i) {
      const int64_t t = b * kTokenBlock + i;
      const float* src = t < T ? x.row(t) : nullptr;  // padding tokens are zero
      if (!out.use_bf16) {
        float* dst = out.f32.data() + b * K * kTokenBlock + i;
        for (int64_t k = 0; k < K; ++k) dst[k * kTokenBlock] = src ? src[k] : 0.0f;
      } else {
        uint32_t* dst = out.bf16.data() + b * out.k_pairs * kTokenBlock + i;
        for (int64_t p = 0; p < out.k_pairs; ++p) {
          const uint32_t lo = src ? f32_to_bf16(src[2 * p]) : 0u;
          const uint32_t hi = src && 2 * p + 1 < K ? f32_to_bf16(src[2 * p + 1]) : 0u;
          dst[p * kTokenBlock] = lo | (hi << 16);
        }
      }
    }
  }
}

void pack_activations(Isa isa, const Mat& x, bool to_bf16, PackedActivations& out) {
  prepare_packing(x.rows, x.cols, to_bf16, out);
  pack_activations(isa, x, out, 0, token_blocks(out));
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
    thread_local std::vector<uint32_t> interleaved;  // per thread: slices run concurrently
    interleaved.resize(static_cast<size_t>(gemm_scratch_elements(o1 - o0, x.k_pairs)));
    return gemm_rows_avx512bf16(w, v, y, accumulate, o0, o1, interleaved.data());
  }
  if (isa == Isa::Avx512 || isa == Isa::Avx512Bf16) {
    thread_local std::vector<float> widened;  // per thread: slices run concurrently
    widened.resize(static_cast<size_t>(gemm_scratch_elements(o1 - o0, w.cols)));
    return gemm_rows_avx512(w, v, y, accumulate, o0, o1, widened.data());
  }
  if (isa == Isa::Avx2) {
    thread_local std::vector<float> widened;
    widened.resize(static_cast<size_t>(6 * w.cols));
    return gemm_rows_avx2(w, v, y, accumulate, o0, o1, widened.data());
  }
#endif
  throw Error("gemm_rows: no GEMM kernel for ISA {}", isa_name(isa));
}

}  // namespace rwkv::cpu
