// Matrix products for a few tokens (the decode step): each weight is read once from memory for
// all tokens, widened to f32 and multiplied with f32 activations, f32 sums. This is where decode
// spends its time, and it is bound by memory bandwidth: one warp per output row, 16-byte loads.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstring>

#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/kernels.h"

namespace rwkv::cuda {

namespace {

constexpr int kRowsPerBlock = 8;  // one warp per output row

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Stores output o's sum: y = act(sum + bias[o]), or y += sum.
__device__ __forceinline__ void finish(const Epilogue& e, float sum, int64_t o, float* out) {
  if (e.accumulate) {
    *out += sum;
    return;
  }
  *out = apply_activation(e.act, e.bias ? sum + e.bias[o] : sum);
}

// 16 bytes of weights widened to f32.
template <typename W>
__device__ __forceinline__ void load_16_bytes(const W* p, float (&out)[16 / sizeof(W)]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  W e[16 / sizeof(W)];
  memcpy(e, &raw, 16);
#pragma unroll
  for (int i = 0; i < static_cast<int>(16 / sizeof(W)); ++i) out[i] = to_f32(e[i]);
}

// Up to kMaxMatvecBatch output-major products in one launch: the blocks are dealt out to the
// products in turn (first_block[j] is product j's first block).
struct BatchArgs {
  MatvecJob job[kMaxMatvecBatch];
  bool vectorized[kMaxMatvecBatch];  // rows, x and cols allow 16-byte loads
  unsigned first_block[kMaxMatvecBatch + 1];
  int count;
};

// y[t][o] = epilogue(W[o] . x[t]) for t < NT, one warp per output row o.
template <typename W, int NT>
__global__ void matvec_out_in_kernel(BatchArgs b) {
  int j = 0;
  while (j + 1 < b.count && blockIdx.x >= b.first_block[j + 1]) ++j;
  const MatvecJob& job = b.job[j];
  const int64_t rows = job.rows, cols = job.cols;
  const int64_t row = static_cast<int64_t>(blockIdx.x - b.first_block[j]) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= rows) return;  // a whole warp leaves together
  const W* wr = static_cast<const W*>(job.w) + row * job.stride;
  const float* __restrict__ x = job.x;
  float sum[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) sum[t] = 0.0f;
  if (b.vectorized[j]) {
    constexpr int kVec = 16 / sizeof(W);  // 4 (f32) or 8 (f16/bf16) weights per load
#pragma unroll 4  // several 16-byte loads in flight per lane: decode is bound by memory latency x bandwidth
    for (int64_t c = lane * kVec; c < cols; c += kWarp * kVec) {
      float wv[kVec];
      load_16_bytes(wr + c, wv);
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        const float* xt = x + t * cols + c;
#pragma unroll
        for (int i = 0; i < kVec; i += 4) {
          const float4 xv = *reinterpret_cast<const float4*>(xt + i);
          sum[t] += wv[i] * xv.x + wv[i + 1] * xv.y + wv[i + 2] * xv.z + wv[i + 3] * xv.w;
        }
      }
    }
  } else {
    for (int64_t c = lane; c < cols; c += kWarp) {
      const float wv = to_f32(wr[c]);
#pragma unroll
      for (int t = 0; t < NT; ++t) sum[t] += wv * x[t * cols + c];
    }
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const float s = warp_sum(sum[t]);
    if (lane == 0) finish(job.epilogue, s, row, job.y + t * rows + row);
  }
}

constexpr int kInOutOutputs = 32;  // outputs per block (one per lane)
constexpr int kInOutSlices = 8;    // the inputs split over this many warps

// y[t][o] (+)= sum_k W[k][o] x[t][k] for W stored input-major: lane = output (coalesced reads
// along a stored row), warps split the inputs, and a shared-memory sum joins them.
template <typename W, int NT>
__global__ void matvec_in_out_kernel(const W* __restrict__ w, int64_t outs, int64_t ins, int64_t stride,
                                     const float* __restrict__ x, float* __restrict__ y, Epilogue e) {
  __shared__ float partial[NT][kInOutSlices][kInOutOutputs];
  const int lane = threadIdx.x, slice = threadIdx.y;
  const int64_t o = static_cast<int64_t>(blockIdx.x) * kInOutOutputs + lane;
  float sum[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) sum[t] = 0.0f;
  if (o < outs) {
    for (int64_t k = slice; k < ins; k += kInOutSlices) {
      const float wv = to_f32(w[k * stride + o]);
#pragma unroll
      for (int t = 0; t < NT; ++t) sum[t] += wv * x[t * ins + k];
    }
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) partial[t][slice][lane] = sum[t];
  __syncthreads();
  if (slice == 0 && o < outs) {
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      float s = 0.0f;
      for (int i = 0; i < kInOutSlices; ++i) s += partial[t][i][lane];
      finish(e, s, o, y + t * outs + o);
    }
  }
}

template <typename W, int NT>
void launch_out_in(const MatvecJob* jobs, int count, cudaStream_t stream) {
  constexpr int64_t kVec = 16 / sizeof(W);
  BatchArgs b{};
  b.count = count;
  for (int j = 0; j < count; ++j) {
    const MatvecJob& job = jobs[j];
    b.job[j] = job;
    b.vectorized[j] = aligned16(job.w) && (job.stride * static_cast<int64_t>(sizeof(W))) % 16 == 0 &&
                      job.cols % kVec == 0 && aligned16(job.x);
    b.first_block[j + 1] = b.first_block[j] + static_cast<unsigned>((job.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  }
  if (b.first_block[count] == 0) return;
  matvec_out_in_kernel<W, NT><<<b.first_block[count], kRowsPerBlock * kWarp, 0, stream>>>(b);
}

template <typename W, int NT>
void launch_in_out(const void* w, int64_t outs, int64_t ins, int64_t stride, const float* x, float* y, Epilogue e,
                   cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((outs + kInOutOutputs - 1) / kInOutOutputs);
  matvec_in_out_kernel<W, NT><<<blocks, dim3(kInOutOutputs, kInOutSlices), 0, stream>>>(
      static_cast<const W*>(w), outs, ins, stride, x, y, e);
}

// Calls Launch<W, NT>::run(...) for the weight type and token count (1..kMatvecMaxTokens).
template <typename W, template <typename, int> class Launch, typename... Args>
cudaError_t by_tokens(int64_t T, Args... args) {
  switch (T) {
    case 1: Launch<W, 1>::run(args...); break;
    case 2: Launch<W, 2>::run(args...); break;
    case 3: Launch<W, 3>::run(args...); break;
    case 4: Launch<W, 4>::run(args...); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

template <typename W, int NT>
struct OutIn {
  static void run(const MatvecJob* jobs, int count, cudaStream_t s) { launch_out_in<W, NT>(jobs, count, s); }
};
template <typename W, int NT>
struct InOut {
  static void run(const void* w, int64_t outs, int64_t ins, int64_t stride, const float* x, float* y, Epilogue e,
                  cudaStream_t s) {
    launch_in_out<W, NT>(w, outs, ins, stride, x, y, e, s);
  }
};

}  // namespace

cudaError_t matvec_out_in_batch(WType type, const MatvecJob* jobs, int count, int64_t T, cudaStream_t stream) {
  if (T == 0 || count == 0) return cudaSuccess;
  if (count < 0 || count > kMaxMatvecBatch) return cudaErrorInvalidValue;
  switch (type) {
    case WType::F32: return by_tokens<float, OutIn>(T, jobs, count, stream);
    case WType::F16: return by_tokens<__half, OutIn>(T, jobs, count, stream);
    case WType::BF16: return by_tokens<__nv_bfloat16, OutIn>(T, jobs, count, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t matvec_out_in(WType type, const void* w, int64_t rows, int64_t cols, int64_t stride, const float* x,
                          int64_t T, float* y, Epilogue epilogue, cudaStream_t stream) {
  const MatvecJob job{w, rows, cols, stride, x, y, epilogue};
  return matvec_out_in_batch(type, &job, 1, T, stream);
}

cudaError_t matvec_in_out(WType type, const void* w, int64_t outs, int64_t ins, int64_t stride, const float* x,
                          int64_t T, float* y, Epilogue epilogue, cudaStream_t stream) {
  if (outs == 0 || T == 0) return cudaSuccess;
  switch (type) {
    case WType::F32: return by_tokens<float, InOut>(T, w, outs, ins, stride, x, y, epilogue, stream);
    case WType::F16: return by_tokens<__half, InOut>(T, w, outs, ins, stride, x, y, epilogue, stream);
    case WType::BF16: return by_tokens<__nv_bfloat16, InOut>(T, w, outs, ins, stride, x, y, epilogue, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace rwkv::cuda
