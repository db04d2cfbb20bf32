// Matrix products with block-quantized weights (Q4_0 ... Q6_K): the one place where the CPU
// backend dispatches on a quantized weight type. matmul.cpp's matvec_rows / gemm_rows send every
// quantized WeightMatrix here; the model files never see the difference.
//
// Both paths compute the f32 product of the exactly dequantized weights with f32 activations
// (what the official code computes on dequantized checkpoints; ref::matmul is the scalar twin):
//  - matvec (decode): with AVX-512, the 32-weight block types are widened block by block in
//    registers (matmul_quant_avx512.cpp); other types and ISAs dequantize groups of kRowGroup
//    rows into f32 scratch (with AVX2 code for the common types, dequant_avx2.cpp) and run the
//    ISA's f32 kernel on them;
//  - GEMM (prompts): rows are dequantized into f32 scratch once and reused for every token.
#pragma once

#include <cstdint>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul.h"

namespace rwkv::cpu {

// Rows [o0, o1) of y (+)= x W^T for a quantized W; x is f32 [T][in].
void quant_matvec_rows(Isa isa, const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0,
                       int64_t o1);
// AVX-512 kernels for the 32-weight block types; false for the others (matmul_quant_avx512.cpp).
bool quant_matvec_rows_avx512(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0,
                              int64_t o1);
// Rows [o, o + n) of a 32-weight block type widened to f32 into dst [n][cols]; false for others.
bool quant_dequantize_rows_avx512(const WeightMatrix& w, int64_t o, int64_t n, float* dst);
// The same with AVX2 for the 32-weight types and Q4_K, Q5_K, Q6_K (dequant_avx2.cpp); false for others.
bool quant_dequantize_rows_avx2(const WeightMatrix& w, int64_t o, int64_t n, float* dst);
// n floats rounded to bf16 (nearest even) with AVX512_BF16.
void f32_to_bf16_avx512bf16(const float* src, int64_t n, uint16_t* dst);
// The same for the GEMM path, with the f32 activations already packed (pack_activations, no bf16).
void quant_gemm_rows(Isa isa, const WeightMatrix& w, const PackedActivations& x, const Mat& y, bool accumulate,
                     int64_t o0, int64_t o1);

}  // namespace rwkv::cpu
