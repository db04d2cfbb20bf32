// The WKV recurrences of RWKV-7 and RWKV-5/6, looping over the T tokens inside the kernel.
//
// The state of a head is S [N key j][N value i] (f32). Every value column i evolves on its own:
// its update and its output read only column i and the head's per-key vectors. So a block owns
// a head and a slab of kColumns value columns, one thread per column, with the slab in shared
// memory; per token the block loads the head's vectors (r, w, k, ...) into shared memory once.
// The sums run over j in the same order as the scalar twins (kernels/cpu/reference.cpp).
#include <algorithm>

#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/kernels.h"

namespace rwkv::cuda {

namespace {

constexpr int64_t kColumns = 32;  // value columns per block

// Shared memory: the slab [N][columns] and `vectors` per-key vectors of N.
size_t shared_bytes(int64_t N, int64_t columns, int vectors) {
  return static_cast<size_t>(N * columns + vectors * N) * sizeof(float);
}

// RWKV-7 (see Wkv7Args): per token, sa = S^T a (column i: sum_j S[j][i] a[j]);
//   S[j][i] = S[j][i] w[j] + sa_i b[j] + v_i k[j] ;  y_i = sum_j S[j][i] r[j].
__global__ void wkv7_kernel(Wkv7Args p) {
  extern __shared__ float shared[];
  const int64_t N = p.N, C = p.H * p.N, h = blockIdx.x, columns = blockDim.x;
  const int64_t i = blockIdx.y * columns + threadIdx.x;  // this thread's value column
  const bool active = i < N;
  float* S = shared;  // S[j * columns + threadIdx.x]
  float *r = S + N * columns, *w = r + N, *k = w + N, *a = k + N, *b = a + N;
  float* state = p.state + h * N * N;
  for (int64_t j = 0; j < N; ++j) S[j * columns + threadIdx.x] = active ? state[j * N + i] : 0.0f;

  for (int64_t t = 0; t < p.T; ++t) {
    const int64_t off = t * C + h * N;
    __syncthreads();  // the previous token's vectors are no longer read
    for (int64_t j = threadIdx.x; j < N; j += columns) {
      r[j] = p.r[off + j];
      w[j] = p.w[off + j];
      k[j] = p.k[off + j];
      a[j] = p.a[off + j];
      b[j] = p.b[off + j];
    }
    __syncthreads();
    if (active) {
      float sa = 0.0f;
      for (int64_t j = 0; j < N; ++j) sa += S[j * columns + threadIdx.x] * a[j];
      const float v = p.v[off + i];
      float y = 0.0f;
      for (int64_t j = 0; j < N; ++j) {
        float& s = S[j * columns + threadIdx.x];
        s = s * w[j] + sa * b[j] + v * k[j];
        y += s * r[j];
      }
      p.y[off + i] = y;
    }
  }
  if (active)
    for (int64_t j = 0; j < N; ++j) state[j * N + i] = S[j * columns + threadIdx.x];
}

// RWKV-5/6 (see Wkv56Args): per token, with kv = k[j] v_i,
//   y_i = sum_j r[j] (u[j] kv + S[j][i]) ;  S[j][i] = S[j][i] w[j] + kv.
__global__ void wkv56_kernel(Wkv56Args p) {
  extern __shared__ float shared[];
  const int64_t N = p.N, C = p.H * p.N, h = blockIdx.x, columns = blockDim.x;
  const int64_t i = blockIdx.y * columns + threadIdx.x;
  const bool active = i < N;
  float* S = shared;
  float *r = S + N * columns, *k = r + N, *w = k + N, *u = w + N;
  float* state = p.state + h * N * N;
  for (int64_t j = 0; j < N; ++j) S[j * columns + threadIdx.x] = active ? state[j * N + i] : 0.0f;
  for (int64_t j = threadIdx.x; j < N; j += columns) u[j] = p.u[h * N + j];

  for (int64_t t = 0; t < p.T; ++t) {
    const int64_t off = t * C + h * N;
    const int64_t w_off = p.w_per_token ? off : h * N;
    __syncthreads();
    for (int64_t j = threadIdx.x; j < N; j += columns) {
      r[j] = p.r[off + j];
      k[j] = p.k[off + j];
      w[j] = p.w[w_off + j];
    }
    __syncthreads();
    if (active) {
      const float v = p.v[off + i];
      float y = 0.0f;
      for (int64_t j = 0; j < N; ++j) {
        float& s = S[j * columns + threadIdx.x];
        const float kv = k[j] * v;
        y += r[j] * (u[j] * kv + s);
        s = s * w[j] + kv;
      }
      p.y[off + i] = y;
    }
  }
  if (active)
    for (int64_t j = 0; j < N; ++j) state[j * N + i] = S[j * columns + threadIdx.x];
}

// Launches `kernel` over (heads, column slabs) with its shared memory, raising the kernel's
// shared-memory limit when a large head needs more than the default 48 KiB.
template <typename Args>
cudaError_t launch(void (*kernel)(Args), const Args& args, int64_t H, int64_t N, int vectors, cudaStream_t stream) {
  if (args.T == 0 || H == 0) return cudaSuccess;
  const int64_t columns = std::min(N, kColumns);
  const size_t bytes = shared_bytes(N, columns, vectors);
  if (bytes > 48 * 1024) {
    const cudaError_t e =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
    if (e != cudaSuccess) return e;
  }
  const dim3 grid(static_cast<unsigned>(H), static_cast<unsigned>((N + columns - 1) / columns));
  kernel<<<grid, static_cast<unsigned>(columns), bytes, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace

cudaError_t wkv7(const Wkv7Args& a, cudaStream_t stream) { return launch(wkv7_kernel, a, a.H, a.N, 5, stream); }

cudaError_t wkv56(const Wkv56Args& a, cudaStream_t stream) { return launch(wkv56_kernel, a, a.H, a.N, 4, stream); }

}  // namespace rwkv::cuda
