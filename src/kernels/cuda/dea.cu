// DEA attention (RWKV-7b): for each query t, soft-capped scores over the cached context
// positions j <= first + t, a softmax, and the weighted sum of the cached values. One block per
// query; the scores go to a device scratch row [L] (the context can be long).
#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/kernels.h"

namespace rwkv::cuda {

namespace {

constexpr int kThreads = 256;

// See ref::dea_attention_row: scores = cap * tanh(q . K[j] / scale), softmax over j <= last,
// out = sum_j p_j V[j].
__global__ void dea_kernel(Backend::DeaAttention a, float* __restrict__ scores) {
  extern __shared__ float q[];  // this query, d_qk values
  __shared__ float scratch[kWarp];
  const int64_t t = blockIdx.x, last = a.first + t;
  float* s = scores + t * a.L;
  for (int64_t i = threadIdx.x; i < a.d_qk; i += blockDim.x) q[i] = a.q[t * a.d_qk + i];
  __syncthreads();

  float local_max = -INFINITY;
  for (int64_t j = threadIdx.x; j <= last; j += blockDim.x) {
    const float* key = a.keys + j * a.d_qk;
    float dot = 0.0f;
    for (int64_t i = 0; i < a.d_qk; ++i) dot += q[i] * key[i];
    s[j] = a.cap * tanhf(dot / a.scale);
    local_max = fmaxf(local_max, s[j]);
  }
  const float max_score = block_max(local_max, scratch);

  float local_sum = 0.0f;
  for (int64_t j = threadIdx.x; j <= last; j += blockDim.x) {
    s[j] = expf(s[j] - max_score);
    local_sum += s[j];
  }
  // block_sum's barriers also make every thread's scores visible to the whole block.
  const float inv = 1.0f / block_sum(local_sum, scratch);

  for (int64_t i = threadIdx.x; i < a.d_v; i += blockDim.x) {
    float acc = 0.0f;
    for (int64_t j = 0; j <= last; ++j) acc += (s[j] * inv) * a.values[j * a.d_v + i];
    a.out[t * a.d_v + i] = acc;
  }
}

}  // namespace

cudaError_t dea_attention(const Backend::DeaAttention& a, float* scores, cudaStream_t stream) {
  if (a.T == 0) return cudaSuccess;
  const size_t bytes = static_cast<size_t>(a.d_qk) * sizeof(float);
  if (bytes > 48 * 1024) return cudaErrorInvalidValue;  // d_qk is 256 in the released models
  dea_kernel<<<static_cast<unsigned>(a.T), kThreads, bytes, stream>>>(a, scores);
  return cudaGetLastError();
}

}  // namespace rwkv::cuda
