#include "kernels/cpu/matmul_quant.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/reference.h"
#include "tensor/quant.h"

namespace rwkv::cpu {

namespace {

// Rows dequantized at a time: a multiple of the f32 kernels' row blocks (8), and small enough
// (16 rows x 8192 inputs x 4 bytes = 512 KiB at most for C = 8192) to stay in L2.
constexpr int64_t kRowGroup = 16;
// For the GEMM: a multiple of its 12-row micro-tiles, so no tile runs short but the last.
constexpr int64_t kGemmRowGroup = 48;

// Rows [o, o + n) of w dequantized into `scratch` with the ISA's code (the same values on every
// ISA), as an f32 matrix.
WeightMatrix dequantize_rows(Isa isa, const WeightMatrix& w, int64_t o, int64_t n, std::vector<float>& scratch) {
  scratch.resize(static_cast<size_t>(n * w.cols));
  float* dst = scratch.data();
  const WeightMatrix f{DType::F32, n, w.cols, reinterpret_cast<const std::byte*>(dst), w.cols * 4};
#if defined(__x86_64__)
  if (isa >= Isa::Avx512 && quant_dequantize_rows_avx512(w, o, n, dst)) return f;
  if (isa >= Isa::Avx2 && quant_dequantize_rows_avx2(w, o, n, dst)) return f;
#endif
  for (int64_t r = 0; r < n; ++r) quant::dequantize_row(w.dtype, w.row(o + r), w.cols, dst + r * w.cols);
  return f;
}

// y's columns from o on, as a matrix whose column 0 is y's column o (same row stride).
Mat columns_from(const Mat& y, int64_t o) { return Mat{y.data + o, y.rows, y.cols}; }

thread_local std::vector<float> tls_scratch;

}  // namespace

void quant_matvec_rows(Isa isa, const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0,
                       int64_t o1) {
#if defined(__x86_64__)
  if (isa >= Isa::Avx512 && quant_matvec_rows_avx512(w, x, y, accumulate, o0, o1)) return;
#endif
  for (int64_t o = o0; o < o1; o += kRowGroup) {
    const int64_t n = std::min(kRowGroup, o1 - o);
    const WeightMatrix f = dequantize_rows(isa, w, o, n, tls_scratch);
    matvec_rows(isa, f, x, columns_from(y, o), accumulate, 0, n);
  }
}

void quant_gemm_rows(Isa isa, const WeightMatrix& w, const PackedActivations& x, const Mat& y, bool accumulate,
                     int64_t o0, int64_t o1) {
  thread_local std::vector<uint16_t> tls_bf16;
  for (int64_t o = o0; o < o1; o += kGemmRowGroup) {
    const int64_t n = std::min(kGemmRowGroup, o1 - o);
    WeightMatrix f = dequantize_rows(isa, w, o, n, tls_scratch);
    if (x.use_bf16) {  // fast activations: the dequantized rows rounded to bf16 for the bf16 GEMM
      tls_bf16.resize(tls_scratch.size());
#if defined(__x86_64__)
      f32_to_bf16_avx512bf16(tls_scratch.data(), static_cast<int64_t>(tls_bf16.size()), tls_bf16.data());
#endif
      f = WeightMatrix{DType::BF16, n, w.cols, reinterpret_cast<const std::byte*>(tls_bf16.data()), w.cols * 2};
    }
    gemm_rows(isa, f, x, columns_from(y, o), accumulate, 0, n);
  }
}

}  // namespace rwkv::cpu
