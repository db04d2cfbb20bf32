// Element conversions: activations rounded to bf16/f16 for the tensor-core GEMMs, weights widened
// to f32 for the exact GEMMs, and the embedding gather (a table row per token, widened to f32).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/kernels.h"

namespace rwkv::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ void store_rounded(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void store_rounded(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

template <typename H>
__global__ void round_kernel(const float* __restrict__ x, H* __restrict__ out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    store_rounded(out + i, x[i]);
}

template <typename W>
__global__ void widen_kernel(const W* __restrict__ w, int64_t rows, int64_t cols, int64_t stride,
                             float* __restrict__ out) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, c = i % cols;
    out[i] = to_f32(w[r * stride + c]);
  }
}

// One block per token.
template <typename W>
__global__ void embedding_kernel(const W* __restrict__ table, int64_t stride, int64_t cols,
                                 const int32_t* __restrict__ ids, float* __restrict__ out) {
  const int64_t t = blockIdx.x;
  const W* row = table + static_cast<int64_t>(ids[t]) * stride;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) out[t * cols + c] = to_f32(row[c]);
}

template <typename W>
void launch_widen(const void* w, int64_t rows, int64_t cols, int64_t stride, float* out, cudaStream_t s) {
  widen_kernel<W><<<grid_for(rows * cols, kThreads), kThreads, 0, s>>>(static_cast<const W*>(w), rows, cols, stride,
                                                                        out);
}

template <typename W>
void launch_embedding(const void* table, int64_t stride, int64_t cols, const int32_t* ids, int64_t T, float* out,
                      cudaStream_t s) {
  embedding_kernel<W><<<static_cast<unsigned>(T), kThreads, 0, s>>>(static_cast<const W*>(table), stride, cols, ids,
                                                                     out);
}

}  // namespace

cudaError_t round_to_half(WType half_type, const float* x, void* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (half_type == WType::BF16)
    round_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(x, static_cast<__nv_bfloat16*>(out), n);
  else if (half_type == WType::F16)
    round_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(x, static_cast<__half*>(out), n);
  else
    return cudaErrorInvalidValue;
  return cudaGetLastError();
}

cudaError_t widen_to_f32(WType type, const void* w, int64_t rows, int64_t cols, int64_t stride, float* out,
                         cudaStream_t stream) {
  if (rows * cols == 0) return cudaSuccess;
  switch (type) {
    case WType::F32: launch_widen<float>(w, rows, cols, stride, out, stream); break;
    case WType::F16: launch_widen<__half>(w, rows, cols, stride, out, stream); break;
    case WType::BF16: launch_widen<__nv_bfloat16>(w, rows, cols, stride, out, stream); break;
  }
  return cudaGetLastError();
}

cudaError_t embedding(WType type, const void* table, int64_t stride, int64_t cols, const int32_t* ids, int64_t T,
                      float* out, cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  switch (type) {
    case WType::F32: launch_embedding<float>(table, stride, cols, ids, T, out, stream); break;
    case WType::F16: launch_embedding<__half>(table, stride, cols, ids, T, out, stream); break;
    case WType::BF16: launch_embedding<__nv_bfloat16>(table, stride, cols, ids, T, out, stream); break;
  }
  return cudaGetLastError();
}

}  // namespace rwkv::cuda
