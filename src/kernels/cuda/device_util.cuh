// Helpers shared by the kernels: weight element widening, warp and block reductions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/backend.h"

namespace rwkv::cuda {

constexpr int kWarp = 32;

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

// act(v), as ref::activate_row computes it.
__device__ __forceinline__ float apply_activation(Activation act, float v) {
  switch (act) {
    case Activation::Identity: return v;
    case Activation::Tanh: return tanhf(v);
    case Activation::Sigmoid: return 1.0f / (1.0f + expf(-v));
    case Activation::ReluSquare: return v > 0.0f ? v * v : 0.0f;
    case Activation::Silu: return v / (1.0f + expf(-v));
    case Activation::ExpNegExp: return expf(-expf(v));
  }
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// The sum of v over the block, returned to every thread. blockDim.x must be a multiple of 32;
// `scratch` is __shared__ float[32]. Safe to call repeatedly with the same scratch.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  v = warp_sum(v);
  __syncthreads();  // every thread has read the previous call's result
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float w = lane < warps ? scratch[lane] : 0.0f;
    w = warp_sum(w);
    if (lane == 0) scratch[0] = w;
  }
  __syncthreads();
  return scratch[0];
}

// The maximum of v over the block, as block_sum.
__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float w = lane < warps ? scratch[lane] : -INFINITY;
    w = warp_max(w);
    if (lane == 0) scratch[0] = w;
  }
  __syncthreads();
  return scratch[0];
}

// Blocks for a grid-stride loop over n elements with `threads` per block (capped: the loop covers the rest).
inline unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 16 ? 65535 * 16 : blocks));
}

// Threads for a block that reduces over a slice of n values: a multiple of 32, at most 256.
inline int reduce_threads(int64_t n) {
  int64_t t = (n + kWarp - 1) / kWarp * kWarp;
  return static_cast<int>(t < kWarp ? kWarp : (t > 256 ? 256 : t));
}

}  // namespace rwkv::cuda
