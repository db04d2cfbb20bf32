// The WKV recurrences of RWKV-7 and RWKV-5/6, looping over the T tokens inside the kernel.
//
// The state of a head is S [N key j][N value i] (f32). Every value column i evolves on its own:
// its update and its output read only column i and the head's per-key vectors. So a block owns
// a head and kColumns value columns, with their slab of the state in shared memory. Each column
// has kGroups threads, each owning a contiguous chunk of the keys j: the sums over j (S^T a and
// the output) are a partial sum per thread, joined by a butterfly over the group's lanes. That
// keeps each thread's chain of dependent adds short (N / kGroups), which is what bounds a
// recurrence that cannot be parallel over the tokens. Per token the block first stages the
// head's per-key vectors (r, w, k, ...) in shared memory.
// The sums differ from the scalar twins (kernels/cpu/reference.cpp) only in their grouping.
#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/kernels.h"

namespace rwkv::cuda {

namespace {

constexpr int kColumns = 32;  // value columns per block
constexpr int kGroups = 8;    // threads per column (adjacent lanes of one warp)
constexpr int kThreads = kColumns * kGroups;

// Shared memory: the slab, one row of N (+1 against bank conflicts) per column, and `vectors`
// per-key vectors of N.
size_t shared_bytes(int64_t N, int vectors) {
  return static_cast<size_t>(kColumns * (N + 1) + vectors * N) * sizeof(float);
}

// The sum of v over the kGroups adjacent lanes of a column (every lane of the warp takes part).
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int m = 1; m < kGroups; m <<= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;
}

// This thread's place: column c of the block (value column i of the head), keys [j0, j1).
struct Place {
  int64_t c, i, j0, j1;
  bool active;
};

__device__ __forceinline__ Place place(int64_t N) {
  const int64_t c = threadIdx.x / kGroups, g = threadIdx.x % kGroups;
  const int64_t i = blockIdx.y * static_cast<int64_t>(kColumns) + c;
  const int64_t chunk = (N + kGroups - 1) / kGroups;
  const int64_t j0 = g * chunk < N ? g * chunk : N;
  const int64_t j1 = j0 + chunk < N ? j0 + chunk : N;
  return {c, i, j0, j1, i < N};
}

// RWKV-7 (see Wkv7Args): per token, sa = S^T a (column i: sum_j S[j][i] a[j]);
//   S[j][i] = S[j][i] w[j] + sa_i b[j] + v_i k[j] ;  y_i = sum_j S[j][i] r[j].
__global__ void __launch_bounds__(kThreads) wkv7_kernel(Wkv7Args p) {
  extern __shared__ float shared[];
  const int64_t N = p.N, C = p.H * p.N, h = blockIdx.x;
  const Place me = place(N);
  float* S = shared + me.c * (N + 1);  // S[j] = state[j][i] of this column
  float* r = shared + kColumns * (N + 1);
  float *w = r + N, *k = w + N, *a = k + N, *b = a + N;
  float* state = p.state + h * N * N;
  for (int64_t j = me.j0; j < me.j1; ++j) S[j] = me.active ? state[j * N + me.i] : 0.0f;

  for (int64_t t = 0; t < p.T; ++t) {
    const int64_t off = t * C + h * N;
    __syncthreads();  // the previous token's vectors are no longer read
    for (int64_t j = threadIdx.x; j < N; j += kThreads) {
      r[j] = p.r[off + j];
      w[j] = p.w[off + j];
      k[j] = p.k[off + j];
      a[j] = p.a[off + j];
      b[j] = p.b[off + j];
    }
    __syncthreads();
    float sa = 0.0f;
    for (int64_t j = me.j0; j < me.j1; ++j) sa += S[j] * a[j];
    sa = group_sum(sa);
    const float v = me.active ? p.v[off + me.i] : 0.0f;
    float y = 0.0f;
    for (int64_t j = me.j0; j < me.j1; ++j) {
      const float s = S[j] * w[j] + sa * b[j] + v * k[j];
      S[j] = s;
      y += s * r[j];
    }
    y = group_sum(y);
    if (me.active && threadIdx.x % kGroups == 0) p.y[off + me.i] = y;
  }
  if (me.active)
    for (int64_t j = me.j0; j < me.j1; ++j) state[j * N + me.i] = S[j];
}

// RWKV-5/6 (see Wkv56Args): per token, with kv = k[j] v_i,
//   y_i = sum_j r[j] (u[j] kv + S[j][i]) ;  S[j][i] = S[j][i] w[j] + kv.
__global__ void __launch_bounds__(kThreads) wkv56_kernel(Wkv56Args p) {
  extern __shared__ float shared[];
  const int64_t N = p.N, C = p.H * p.N, h = blockIdx.x;
  const Place me = place(N);
  float* S = shared + me.c * (N + 1);
  float* r = shared + kColumns * (N + 1);
  float *k = r + N, *w = k + N, *u = w + N;
  float* state = p.state + h * N * N;
  for (int64_t j = me.j0; j < me.j1; ++j) S[j] = me.active ? state[j * N + me.i] : 0.0f;
  for (int64_t j = threadIdx.x; j < N; j += kThreads) u[j] = p.u[h * N + j];

  for (int64_t t = 0; t < p.T; ++t) {
    const int64_t off = t * C + h * N;
    const int64_t w_off = p.w_per_token ? off : h * N;
    __syncthreads();
    for (int64_t j = threadIdx.x; j < N; j += kThreads) {
      r[j] = p.r[off + j];
      k[j] = p.k[off + j];
      w[j] = p.w[w_off + j];
    }
    __syncthreads();
    const float v = me.active ? p.v[off + me.i] : 0.0f;
    float y = 0.0f;
    for (int64_t j = me.j0; j < me.j1; ++j) {
      const float kv = k[j] * v;
      y += r[j] * (u[j] * kv + S[j]);
      S[j] = S[j] * w[j] + kv;
    }
    y = group_sum(y);
    if (me.active && threadIdx.x % kGroups == 0) p.y[off + me.i] = y;
  }
  if (me.active)
    for (int64_t j = me.j0; j < me.j1; ++j) state[j * N + me.i] = S[j];
}

// Launches `kernel` over (heads, column slabs) with its shared memory, raising the kernel's
// shared-memory limit when a large head needs more than the default 48 KiB.
template <typename Args>
cudaError_t launch(void (*kernel)(Args), const Args& args, int64_t H, int64_t N, int vectors, cudaStream_t stream) {
  if (args.T == 0 || H == 0) return cudaSuccess;
  const size_t bytes = shared_bytes(N, vectors);
  if (bytes > 48 * 1024) {
    const cudaError_t e =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
    if (e != cudaSuccess) return e;
  }
  const dim3 grid(static_cast<unsigned>(H), static_cast<unsigned>((N + kColumns - 1) / kColumns));
  kernel<<<grid, kThreads, bytes, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace

cudaError_t wkv7(const Wkv7Args& a, cudaStream_t stream) { return launch(wkv7_kernel, a, a.H, a.N, 5, stream); }

cudaError_t wkv56(const Wkv56Args& a, cudaStream_t stream) { return launch(wkv56_kernel, a, a.H, a.N, 4, stream); }

}  // namespace rwkv::cuda
