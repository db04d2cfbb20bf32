// Elementwise ops over [T][C] activations (grid-stride loops, per-column parameters indexed by
// i % C), and DeepEmbed's per-token vector-matrix product.
#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/kernels.h"

namespace rwkv::cuda {

namespace {

constexpr int kThreads = 256;

#define RWKV_GRID_STRIDE(i, n)                                                           \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// Element (t, c): delta = x[t-1] - x[t] (x[-1] = prev), then the mixes. The thread of t = 0
// reads prev[c] and then stores x[T-1] there: no other thread touches prev, so the state update
// is part of this kernel (one node fewer per token shift in a recorded step).
__global__ void token_shift_mix_kernel(const float* __restrict__ x, float* __restrict__ prev,
                                       float* __restrict__ delta, LerpOutputs outs, int64_t T, int64_t C) {
  RWKV_GRID_STRIDE(i, T * C) {
    const int64_t t = i / C, c = i % C;
    const float current = x[i];
    const float d = (t == 0 ? prev[c] : x[i - C]) - current;
    delta[i] = d;
    for (int m = 0; m < outs.count; ++m) outs.out[m][i] = current + d * outs.mu[m][c];
    if (t == 0) prev[c] = x[(T - 1) * C + c];
  }
}

// out may alias x (each element is read, then written, by one thread).
__global__ void lerp_kernel(const float* x, const float* __restrict__ delta, const float* __restrict__ mu, float* out,
                            int64_t T, int64_t C) {
  RWKV_GRID_STRIDE(i, T * C) { out[i] = x[i] + delta[i] * mu[i % C]; }
}

// Several mixes of one input in one pass: out_m = x + delta * mu_m (each may alias nothing).
__global__ void lerp_many_kernel(const float* __restrict__ x, const float* __restrict__ delta, LerpOutputs outs,
                                 int64_t T, int64_t C) {
  RWKV_GRID_STRIDE(i, T * C) {
    const float xi = x[i], di = delta[i];
    const int64_t c = i % C;
    for (int m = 0; m < outs.count; ++m) outs.out[m][i] = xi + di * outs.mu[m][c];
  }
}

__global__ void activate_kernel(float* x, Activation act, const float* __restrict__ bias, int64_t T, int64_t C) {
  RWKV_GRID_STRIDE(i, T * C) { x[i] = apply_activation(act, bias ? x[i] + bias[i % C] : x[i]); }
}

__global__ void add_kernel(float* y, const float* x, int64_t n) {
  RWKV_GRID_STRIDE(i, n) { y[i] += x[i]; }
}

__global__ void mul_kernel(float* y, const float* x, int64_t n) {
  RWKV_GRID_STRIDE(i, n) { y[i] *= x[i]; }
}

__global__ void value_residual_kernel(float* v, const float* __restrict__ v_first, const float* __restrict__ gate,
                                      int64_t n) {
  RWKV_GRID_STRIDE(i, n) { v[i] += (v_first[i] - v[i]) * gate[i]; }
}

// One block per token: z[j] = sum_i u[i] m[i][j], summed in i order as the scalar twin.
__global__ void row_vecmat_kernel(const float* __restrict__ u, const float* __restrict__ m, float* __restrict__ z,
                                  int64_t n) {
  const int64_t t = blockIdx.x;
  const float* ut = u + t * n;
  const float* mt = m + t * n * n;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i) s += ut[i] * mt[i * n + j];
    z[t * n + j] = s;
  }
}

#undef RWKV_GRID_STRIDE

}  // namespace

cudaError_t token_shift_mix(const float* x, float* prev, float* delta, const LerpOutputs& outs, int64_t T, int64_t C,
                            cudaStream_t stream) {
  if (T * C == 0) return cudaSuccess;
  if (outs.count < 0 || outs.count > kMaxLerpOutputs) return cudaErrorInvalidValue;
  token_shift_mix_kernel<<<grid_for(T * C, kThreads), kThreads, 0, stream>>>(x, prev, delta, outs, T, C);
  return cudaGetLastError();
}

cudaError_t lerp(const float* x, const float* delta, const float* mu, float* out, int64_t T, int64_t C,
                 cudaStream_t stream) {
  if (T * C == 0) return cudaSuccess;
  lerp_kernel<<<grid_for(T * C, kThreads), kThreads, 0, stream>>>(x, delta, mu, out, T, C);
  return cudaGetLastError();
}

cudaError_t lerp_many(const float* x, const float* delta, const LerpOutputs& outs, int64_t T, int64_t C,
                      cudaStream_t stream) {
  if (T * C == 0 || outs.count == 0) return cudaSuccess;
  if (outs.count < 0 || outs.count > kMaxLerpOutputs) return cudaErrorInvalidValue;
  lerp_many_kernel<<<grid_for(T * C, kThreads), kThreads, 0, stream>>>(x, delta, outs, T, C);
  return cudaGetLastError();
}

cudaError_t activate(float* x, Activation act, const float* bias, int64_t T, int64_t C, cudaStream_t stream) {
  if (T * C == 0) return cudaSuccess;
  activate_kernel<<<grid_for(T * C, kThreads), kThreads, 0, stream>>>(x, act, bias, T, C);
  return cudaGetLastError();
}

cudaError_t add(float* y, const float* x, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  add_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(y, x, n);
  return cudaGetLastError();
}

cudaError_t mul(float* y, const float* x, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  mul_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(y, x, n);
  return cudaGetLastError();
}

cudaError_t value_residual(float* v, const float* v_first, const float* gate, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  value_residual_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(v, v_first, gate, n);
  return cudaGetLastError();
}

cudaError_t row_vecmat(const float* u, const float* m, float* z, int64_t T, int64_t n, cudaStream_t stream) {
  if (T * n == 0) return cudaSuccess;
  row_vecmat_kernel<<<static_cast<unsigned>(T), reduce_threads(n), 0, stream>>>(u, m, z, n);
  return cudaGetLastError();
}

}  // namespace rwkv::cuda
