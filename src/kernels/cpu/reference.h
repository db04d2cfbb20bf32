// The scalar reference kernels: plain C++, one obvious loop each. They define what every
// optimised kernel (SIMD here, CUDA elsewhere) must compute, and the op tests compare against
// them. Each works on a range of rows/heads so the CPU backend can split it across threads.
#pragma once

#include <cstdint>

#include "kernels/backend.h"

namespace rwkv::ref {

// Widens n elements of a row of any weight dtype to f32 (ggml blocks dequantized exactly).
void row_to_f32(DType dtype, const std::byte* row, int64_t n, float* out);

// y[t][o] (+)= sum_i W[o][i] x[t][i] for output rows o in [o0, o1).
void matmul(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1);

void layer_norm_row(const float* x, float* y, int64_t n, const float* g, const float* b, float eps);
// The row-wise elementwise ops of the Backend (one token each).
void activate_row(Activation act, float* x, const float* bias, int64_t n);
void lerp_row(const float* x, const float* delta, const float* mu, float* out, int64_t n);
void sub_row(const float* a, const float* b, float* out, int64_t n);
void add_row(float* y, const float* x, int64_t n);
void mul_row(float* y, const float* x, int64_t n);
void rwkv7_prepare_row(float* k, float* a, float* w, float* kk, const float* k_k, const float* k_a, const float* w0,
                       int64_t H, int64_t N);
void value_residual_row(float* v, const float* v_first, const float* gate, int64_t n);
void bonus_and_gate_row(float* y, const float* r, const float* k, const float* v, const float* r_k, const float* g,
                        int64_t H, int64_t N);
void l2_normalize_row(float* x, int64_t n, float eps);

// z = u @ M with M an [n][n] row-major matrix.
void vecmat_row(const float* u, const float* m, int64_t n, float* z);
// One query row of the DEA attention; `scores` has room for a.L values.
void dea_attention_row(const Backend::DeaAttention& a, int64_t t, float* scores);

// The WKV recurrences for heads [h0, h1).
void wkv7(const Wkv7Args& a, int64_t h0, int64_t h1);
void wkv56(const Wkv56Args& a, int64_t h0, int64_t h1);

}  // namespace rwkv::ref
