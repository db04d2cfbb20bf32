// Row-wise elementwise kernels (activations, norms, the RWKV-7 time-mix pieces), vectorised with
// Highway: one binary carries SSE4/AVX2/AVX-512 (and NEON on Arm) versions and runs the best the
// CPU supports. Their scalar twins are in reference.{h,cpp}; the op tests compare the two.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/backend.h"

namespace rwkv::cpu::vec {

// x = act(x + bias) (bias may be null).
void activate(Activation act, float* x, const float* bias, size_t n);
void lerp(const float* x, const float* delta, const float* mu, float* out, size_t n);  // out = x + delta * mu
void sub(const float* a, const float* b, float* out, size_t n);                         // out = a - b
void add(float* y, const float* x, size_t n);
void mul(float* y, const float* x, size_t n);
void layer_norm(const float* x, float* y, size_t n, const float* g, const float* b, float eps);
// One token of Backend::rwkv7_prepare (C = H * N channels).
void rwkv7_prepare(float* k, float* a, float* w, float* kk, const float* k_k, const float* k_a, const float* w0,
                   size_t H, size_t N);
void value_residual(float* v, const float* v_first, const float* gate, size_t n);  // v += (v_first - v) * gate
// One token of Backend::rwkv7_bonus_and_gate.
void bonus_and_gate(float* y, const float* r, const float* k, const float* v, const float* r_k, const float* g,
                    size_t H, size_t N);
// s = softmax(cap * tanh(s / scale)) over s[0, n): one query's DEA attention weights.
void capped_softmax(float* s, size_t n, float cap, float scale);

}  // namespace rwkv::cpu::vec
