// Matrix products with input-major weights (WeightLayout::InOut, stored [in][out]): vectorised
// over outputs, so results are stored whole and activations need no packing.
//  - matvec (decode): y[t] = sum_k x[t][k] W[k], skipping the rows of inputs that are zero in
//    every token (the ReLU^2 channel-mix leaves most of its inputs at exactly zero);
//  - GEMM (prompts): tiles of 12 tokens x 32 outputs.
// The scalar twin is ref::matmul; tests/kernels_matmul_test.cpp compares them.
#pragma once

#include <cstdint>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_features.h"

namespace rwkv::cpu {

// Whether x of T rows times a bf16 input-major matrix takes the bf16-activation GEMM (then the
// caller converts x with to_bf16_pairs once and passes the pairs to inout_matmul).
bool inout_uses_bf16_pairs(Isa isa, const WeightMatrix& w, int64_t T, bool fast_activations);
// Rows [t0, t1) of x [T][K] as bf16 pairs (k even in the low half), ceil(K/2) words per row.
void to_bf16_pairs(Isa isa, const Mat& x, uint32_t* out, int64_t t0, int64_t t1);
void to_bf16_pairs_avx512bf16(const float* x, int64_t ldx, int64_t t0, int64_t t1, int64_t K, uint32_t* out);

// Outputs [o0, o1) of y (+)= x W for all rows of x. `xpairs` (or null): x as bf16 pairs, for the
// bf16-activation GEMM. Falls back to ref::matmul where no kernel fits.
void inout_matmul(Isa isa, const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                  const uint32_t* xpairs);

// Decode (one token x) split by inputs instead of outputs: out[o] (+)= sum over k in [k0, k1) of
// x[k] W[k][o], for every output o. Each thread then streams its own contiguous block of stored
// rows (split by outputs, each would read a slice of every row), and the caller adds the threads'
// partial sums. Inputs that are zero are skipped, as in inout_matmul.
void inout_matvec_inputs(Isa isa, const WeightMatrix& w, const float* x, int64_t k0, int64_t k1, float* out,
                         bool accumulate);
void ref_inout_matvec_inputs(const WeightMatrix& w, const float* x, int64_t k0, int64_t k1, float* out,
                             bool accumulate);
bool inout_matvec_inputs_avx512(const WeightMatrix& w, const float* x, int64_t k0, int64_t k1, float* out,
                                bool accumulate);

// Per ISA (matmul_inout_avx512.cpp, matmul_inout_avx2.cpp): false when the dtype has no kernel.
bool inout_matmul_avx512(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                         const uint32_t* xpairs);
bool inout_matmul_avx2(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1);
// Tokens from which the input-major products use their GEMM rather than the matvec.
inline constexpr int64_t kInOutGemmMinTokens = 5;

}  // namespace rwkv::cpu
