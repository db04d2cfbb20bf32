// Matrix products with block-quantized weights (Q4_0 ... Q6_K): the one place where the CPU
// backend dispatches on a quantized weight type. matmul.cpp's matvec_rows / gemm_rows send every
// quantized WeightMatrix here; the model files never see the difference.
//
// Today's implementation is exact and simple: each group of kRowGroup weight rows is dequantized
// into f32 scratch (bit-exact ggml dequantization) and multiplied by the f32 kernels of the ISA,
// so the result is the f32 product of the dequantized weights (what the official code computes on
// dequantized checkpoints, and what the op tests compare against ref::matmul).
//
// Seam for the SIMD quantized kernels: replace the body of quant_matvec_rows / quant_gemm_rows
// per dtype and ISA (e.g. Q8_0 x Q8-activation integer dot products with AVX-512 VNNI), keeping
// the signature; ref::matmul stays the scalar twin and tests/kernels_quant_test.cpp the harness.
#pragma once

#include <cstdint>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul.h"

namespace rwkv::cpu {

// Rows [o0, o1) of y (+)= x W^T for a quantized W; x is f32 [T][in].
void quant_matvec_rows(Isa isa, const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0,
                       int64_t o1);
// The same for the GEMM path, with the f32 activations already packed (pack_activations, no bf16).
void quant_gemm_rows(Isa isa, const WeightMatrix& w, const PackedActivations& x, const Mat& y, bool accumulate,
                     int64_t o0, int64_t o1);

}  // namespace rwkv::cpu
