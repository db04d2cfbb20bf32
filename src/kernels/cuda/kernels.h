// The device kernels' launchers: plain functions the host code (cuda_backend.cpp,
// cuda_matmul.cpp) calls. Each enqueues its kernel on `stream` and returns the launch's status
// (cudaGetLastError), which the caller checks. Activations are dense row-major f32 [T][cols];
// every kernel computes what its scalar twin in kernels/cpu/reference.cpp computes.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/backend.h"

namespace rwkv::cuda {

// The element type of a float weight matrix on the device (quantized ones are dequantized to F32
// at upload).
enum class WType { F32, F16, BF16 };

// ---- matrix products (matvec.cu, convert.cu) ----
// The matrix-vector kernels serve up to this many tokens at once (each weight read once for all).
constexpr int64_t kMatvecMaxTokens = 4;
// What a product does with its sums: y = act(sum + bias[o]) (bias may be null), or y += sum when
// accumulating (then act must be Identity and bias null).
struct Epilogue {
  bool accumulate = false;
  Activation act = Activation::Identity;
  const float* bias = nullptr;
};
// W stored output-major ([rows][cols], rows `stride` elements apart): sum = sum_i W[o][i] x[t][i].
cudaError_t matvec_out_in(WType type, const void* w, int64_t rows, int64_t cols, int64_t stride, const float* x,
                          int64_t T, float* y, Epilogue epilogue, cudaStream_t stream);
// One output-major product of a batch, as matvec_out_in's arguments (x [T][cols], y [T][rows]).
struct MatvecJob {
  const void* w;
  int64_t rows, cols, stride;
  const float* x;
  float* y;
  Epilogue epilogue;
};
constexpr int kMaxMatvecBatch = 8;
// Up to kMaxMatvecBatch independent output-major products (no y is another's x) with one weight
// type and token count, in one launch: decode's many small products cost one launch.
cudaError_t matvec_out_in_batch(WType type, const MatvecJob* jobs, int count, int64_t T, cudaStream_t stream);
// W stored input-major ([ins][outs], rows `stride` elements apart): sum = sum_k W[k][o] x[t][k].
cudaError_t matvec_in_out(WType type, const void* w, int64_t outs, int64_t ins, int64_t stride, const float* x,
                          int64_t T, float* y, Epilogue epilogue, cudaStream_t stream);
// n f32 values rounded to bf16 / f16 (round to nearest even), for the tensor-core GEMMs.
cudaError_t round_to_half(WType half_type, const float* x, void* out, int64_t n, cudaStream_t stream);
// rows x cols weights (rows `stride` elements apart) widened to dense f32 [rows][cols].
cudaError_t widen_to_f32(WType type, const void* w, int64_t rows, int64_t cols, int64_t stride, float* out,
                         cudaStream_t stream);
// out[t] = row ids[t] of a table (rows `stride` elements apart), widened to f32.
cudaError_t embedding(WType type, const void* table, int64_t stride, int64_t cols, const int32_t* ids, int64_t T,
                      float* out, cudaStream_t stream);

// ---- normalisation (norms.cu) ----
// Each row of x [rows][groups * n] as `groups` slices of n: y = LayerNorm(slice) * g + b, with
// g and b indexed by the position in the row (y may alias x).
cudaError_t layer_norm(const float* x, float* y, int64_t rows, int64_t groups, int64_t n, const float* g,
                       const float* b, float eps, cudaStream_t stream);
// In place: each slice of n values x / max(|x|, eps).
cudaError_t l2_normalize(float* x, int64_t slices, int64_t n, float eps, cudaStream_t stream);
cudaError_t rwkv7_prepare(const Backend::Rwkv7Prep& p, cudaStream_t stream);
cudaError_t rwkv7_bonus_and_gate(float* y, const float* r, const float* k, const float* v, const float* r_k,
                                 const float* g, int64_t T, int64_t H, int64_t N, cudaStream_t stream);
// The two above in one pass: per head, y = GroupNorm(y) * ln_g + ln_b, then the bonus and gate.
cudaError_t rwkv7_norm_bonus_gate(float* y, const float* ln_g, const float* ln_b, float eps, const float* r,
                                  const float* k, const float* v, const float* r_k, const float* g, int64_t T,
                                  int64_t H, int64_t N, cudaStream_t stream);

// ---- elementwise (elementwise.cu); x [T][C] ----
cudaError_t lerp(const float* x, const float* delta, const float* mu, float* out, int64_t T, int64_t C,
                 cudaStream_t stream);
// Up to kMaxLerpOutputs mixes of one input: out[m] = x + delta * mu[m] (outputs distinct from x, delta).
constexpr int kMaxLerpOutputs = 8;
struct LerpOutputs {
  const float* mu[kMaxLerpOutputs];
  float* out[kMaxLerpOutputs];
  int count;
};
// delta[t] = x[t-1] - x[t] with x[-1] = prev, then prev = x[T-1]; and the mixes `outs` of x with
// that delta (none: a plain token shift). x, delta, prev and the outputs must not alias.
cudaError_t token_shift_mix(const float* x, float* prev, float* delta, const LerpOutputs& outs, int64_t T, int64_t C,
                            cudaStream_t stream);
cudaError_t lerp_many(const float* x, const float* delta, const LerpOutputs& outs, int64_t T, int64_t C,
                      cudaStream_t stream);
cudaError_t activate(float* x, Activation act, const float* bias, int64_t T, int64_t C, cudaStream_t stream);
cudaError_t add(float* y, const float* x, int64_t n, cudaStream_t stream);
cudaError_t mul(float* y, const float* x, int64_t n, cudaStream_t stream);
cudaError_t value_residual(float* v, const float* v_first, const float* gate, int64_t n, cudaStream_t stream);
// z[t] = u[t] @ M_t with M_t row t of m as a row-major [n][n] matrix.
cudaError_t row_vecmat(const float* u, const float* m, float* z, int64_t T, int64_t n, cudaStream_t stream);

// ---- recurrences and attention (wkv.cu, dea.cu) ----
cudaError_t wkv7(const Wkv7Args& a, cudaStream_t stream);
cudaError_t wkv56(const Wkv56Args& a, cudaStream_t stream);
// `scores`: device scratch of at least T * L floats.
cudaError_t dea_attention(const Backend::DeaAttention& a, float* scores, cudaStream_t stream);

}  // namespace rwkv::cuda
