// Reductions over slices of a row: LayerNorm / GroupNorm, L2 normalisation, and the RWKV-7 pieces
// that normalise or sum per head. One block per slice; sums in f32 (the scalar twins sum in
// double: the difference is ~1e-7 relative, far inside every tolerance).
#include <cmath>

#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/kernels.h"

namespace rwkv::cuda {

namespace {

// The mean of the n values at p and 1 / sqrt(their variance + eps), for every thread of the block
// (two passes: the variance from the differences, as the scalar twins compute it).
__device__ __forceinline__ float2 mean_and_inv_std(const float* p, int64_t n, float eps, float* scratch) {
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += p[i];
  const float mean = block_sum(s, scratch) / static_cast<float>(n);
  float v = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float d = p[i] - mean;
    v += d * d;
  }
  return make_float2(mean, 1.0f / sqrtf(block_sum(v, scratch) / static_cast<float>(n) + eps));
}

// Slice s = (row s / groups, group s % groups) of n values; g and b indexed by position in the row.
__global__ void layer_norm_kernel(const float* x, float* y, int64_t groups, int64_t n, const float* __restrict__ g,
                                  const float* __restrict__ b, float eps) {
  __shared__ float scratch[kWarp];
  const int64_t row = blockIdx.x / groups, group = blockIdx.x % groups;
  const int64_t base = row * groups * n + group * n, param = group * n;
  const float2 m = mean_and_inv_std(x + base, n, eps, scratch);
  const float mean = m.x, inv = m.y;
  // Each thread writes only the elements it read, so y may alias x.
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
    y[base + i] = (x[base + i] - mean) * inv * g[param + i] + b[param + i];
}

__global__ void l2_normalize_kernel(float* x, int64_t n, float eps) {
  __shared__ float scratch[kWarp];
  float* p = x + static_cast<int64_t>(blockIdx.x) * n;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += p[i] * p[i];
  const float inv = 1.0f / fmaxf(sqrtf(block_sum(s, scratch)), eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) p[i] *= inv;
}

// One block per (token, head); see ref::rwkv7_prepare_row.
__global__ void rwkv7_prepare_kernel(float* k, float* a, float* w, float* kk, const float* __restrict__ k_k,
                                     const float* __restrict__ k_a, const float* __restrict__ w0, int64_t H, int64_t N,
                                     float decay_scale) {
  constexpr float kL2Eps = 1e-12f;  // F.normalize's default
  __shared__ float scratch[kWarp];
  const int64_t t = blockIdx.x / H, h = blockIdx.x % H, C = H * N;
  const int64_t base = t * C + h * N, param = h * N;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const float v = k[base + i] * k_k[param + i];
    kk[base + i] = v;
    s += v * v;
  }
  const float inv = 1.0f / fmaxf(sqrtf(block_sum(s, scratch)), kL2Eps);
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const int64_t j = base + i, c = param + i;
    const float kk_n = kk[j] * inv;
    const float a_in = a[j];
    k[j] = k[j] * (1.0f + (a_in - 1.0f) * k_a[c]);
    const float sig = 1.0f / (1.0f + expf(-(w0[c] + w[j])));
    w[j] = expf(-decay_scale * sig);
    kk[j] = -kk_n;        // the WKV's a (removal)
    a[j] = kk_n * a_in;   // the WKV's b (replacement)
  }
}

// One block per (token, head): y = (y + sum_head(r * k * r_k) * v) * g.
__global__ void bonus_and_gate_kernel(float* y, const float* __restrict__ r, const float* __restrict__ k,
                                      const float* __restrict__ v, const float* __restrict__ r_k,
                                      const float* __restrict__ g, int64_t H, int64_t N) {
  __shared__ float scratch[kWarp];
  const int64_t t = blockIdx.x / H, h = blockIdx.x % H;
  const int64_t base = t * H * N + h * N, param = h * N;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) s += r[base + i] * k[base + i] * r_k[param + i];
  const float bonus = block_sum(s, scratch);
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x)
    y[base + i] = (y[base + i] + bonus * v[base + i]) * g[base + i];
}

// One block per (token, head): GroupNorm of the head's slice, then y = (y + bonus * v) * g with
// bonus = sum_head(r * k * r_k). Each thread reads and writes only its own elements of y.
__global__ void norm_bonus_gate_kernel(float* y, const float* __restrict__ ln_g, const float* __restrict__ ln_b,
                                       float eps, const float* __restrict__ r, const float* __restrict__ k,
                                       const float* __restrict__ v, const float* __restrict__ r_k,
                                       const float* __restrict__ g, int64_t H, int64_t N) {
  __shared__ float scratch[kWarp];
  const int64_t t = blockIdx.x / H, h = blockIdx.x % H;
  const int64_t base = t * H * N + h * N, param = h * N;
  const float2 m = mean_and_inv_std(y + base, N, eps, scratch);
  const float mean = m.x, inv = m.y;
  float b = 0.0f;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) b += r[base + i] * k[base + i] * r_k[param + i];
  const float bonus = block_sum(b, scratch);
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const float normed = (y[base + i] - mean) * inv * ln_g[param + i] + ln_b[param + i];
    y[base + i] = (normed + bonus * v[base + i]) * g[base + i];
  }
}

unsigned blocks_for(int64_t slices) { return static_cast<unsigned>(slices); }

}  // namespace

cudaError_t layer_norm(const float* x, float* y, int64_t rows, int64_t groups, int64_t n, const float* g,
                       const float* b, float eps, cudaStream_t stream) {
  if (rows * groups == 0) return cudaSuccess;
  layer_norm_kernel<<<blocks_for(rows * groups), reduce_threads(n), 0, stream>>>(x, y, groups, n, g, b, eps);
  return cudaGetLastError();
}

cudaError_t l2_normalize(float* x, int64_t slices, int64_t n, float eps, cudaStream_t stream) {
  if (slices == 0) return cudaSuccess;
  l2_normalize_kernel<<<blocks_for(slices), reduce_threads(n), 0, stream>>>(x, n, eps);
  return cudaGetLastError();
}

cudaError_t rwkv7_prepare(const Backend::Rwkv7Prep& p, cudaStream_t stream) {
  if (p.T * p.H == 0) return cudaSuccess;
  // exp(-0.5) as the scalar twin computes it (host libm), so both use the same constant.
  const float decay_scale = std::exp(-0.5f);
  rwkv7_prepare_kernel<<<blocks_for(p.T * p.H), reduce_threads(p.N), 0, stream>>>(p.k, p.a, p.w, p.kk, p.k_k, p.k_a,
                                                                                  p.w0, p.H, p.N, decay_scale);
  return cudaGetLastError();
}

cudaError_t rwkv7_bonus_and_gate(float* y, const float* r, const float* k, const float* v, const float* r_k,
                                 const float* g, int64_t T, int64_t H, int64_t N, cudaStream_t stream) {
  if (T * H == 0) return cudaSuccess;
  bonus_and_gate_kernel<<<blocks_for(T * H), reduce_threads(N), 0, stream>>>(y, r, k, v, r_k, g, H, N);
  return cudaGetLastError();
}

cudaError_t rwkv7_norm_bonus_gate(float* y, const float* ln_g, const float* ln_b, float eps, const float* r,
                                  const float* k, const float* v, const float* r_k, const float* g, int64_t T,
                                  int64_t H, int64_t N, cudaStream_t stream) {
  if (T * H == 0) return cudaSuccess;
  norm_bonus_gate_kernel<<<blocks_for(T * H), reduce_threads(N), 0, stream>>>(y, ln_g, ln_b, eps, r, k, v, r_k, g, H,
                                                                               N);
  return cudaGetLastError();
}

}  // namespace rwkv::cuda
