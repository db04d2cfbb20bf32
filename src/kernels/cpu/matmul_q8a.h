// Decode with Q8_0 / Q4_0 weights and 8-bit activations (ModelOptions::fast_activations): the
// activations are quantized once per product into blocks of 32 (scale = max|x| / 127, rounded to
// nearest, as ggml's quantize_row_q8_0), and each weight block meets them in an integer dot
// product (AVX512_VNNI: 64 multiply-adds per instruction; AVX2: 32 per maddubs/madd pair), scaled
// by both blocks' scales.
// ref_q8a_rows is the scalar twin: the exactly dequantized weights times the 8-bit activations.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_features.h"

namespace rwkv::cpu {

struct Q8Activations {
  int64_t T = 0, blocks = 0;
  int64_t padded = 0;        // blocks rounded up to even: the SIMD kernels take blocks in pairs
  std::vector<int8_t> q;     // [T][padded * 32], zero past `blocks`
  std::vector<float> d;      // [T][padded], zero past `blocks`
  std::vector<int32_t> sum;  // [T][padded]: sum of the block's q (Q4_0's zero point needs it)
};

// Whether a product of x (T rows) with w takes this path.
bool use_q8_activations(Isa isa, const WeightMatrix& w, int64_t T, bool fast_activations);
// Quantizes x into `out` (sized here): the AVX-512 or AVX2 version on those ISAs, bit-identical
// to the scalar twin ref_quantize_activations (same products, halves rounded away from zero).
void quantize_activations(Isa isa, const Mat& x, Q8Activations& out);
void ref_quantize_activations(const Mat& x, Q8Activations& out);
void quantize_activations_avx512(const Mat& x, Q8Activations& out);
void quantize_activations_avx2(const Mat& x, Q8Activations& out);

// Rows [o0, o1) of y (+)= x W^T with x given quantized.
void q8a_rows(Isa isa, const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0,
              int64_t o1);
void ref_q8a_rows(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1);
void q8a_rows_avx512vnni(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0,
                         int64_t o1);
void q8a_rows_avx2(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1);

}  // namespace rwkv::cpu
