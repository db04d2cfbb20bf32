// The kernel interface: every numeric operation a model's forward pass performs, behind one
// narrow virtual interface. The CPU backend implements it with scalar reference kernels and
// SIMD versions chosen at run time; a CUDA backend implements the same calls on device memory.
// The model files call only this interface, so one forward pass serves every backend.
//
// Conventions: activations are f32 matrices [T][cols] (row t = token t), row-major, in the
// backend's memory. Weight matrices use the Linear layout [out][in] (y = W x).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "tensor/dtype.h"

namespace rwkv {

// A view of an f32 activation matrix [rows][cols] in backend memory.
struct Mat {
  float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  float* row(int64_t t) const { return data + t * cols; }
  // The first n rows (a chunk shorter than the buffer).
  Mat first_rows(int64_t n) const { return {data, n, cols}; }
};

// How a weight matrix is stored. OutIn: one stored row per output ([out][in], PyTorch's Linear
// weight). InOut: one stored row per input ([in][out]): the official code's `x @ W` factors
// (LoRA), kept as the file has them. Quantized weights are always OutIn.
enum class WeightLayout : uint8_t { OutIn, InOut };

// A weight matrix for y = W x with W [rows = out][cols = in], in the backend's memory, in any
// weight dtype; `row_bytes` separates consecutive stored rows.
struct WeightMatrix {
  DType dtype = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const std::byte* data = nullptr;
  int64_t row_bytes = 0;
  WeightLayout layout = WeightLayout::OutIn;
  // Stored row r: output r (OutIn) or input r (InOut).
  const std::byte* row(int64_t r) const { return data + r * row_bytes; }
  // Outputs [r0, r0 + n) as a matrix of their own (no copy): e.g. one of several stacked projections.
  WeightMatrix row_range(int64_t r0, int64_t n) const {
    if (layout == WeightLayout::OutIn) return {dtype, n, cols, row(r0), row_bytes, layout};
    return {dtype, n, cols, data + r0 * dtype_block_bytes(dtype), row_bytes, layout};  // float types only
  }
};

// Silu(x) = x * sigmoid(x) (the RWKV-5/6 output gate); ExpNegExp(x) = exp(-exp(x)) (the RWKV-5/6
// decay from its log-log parameter).
enum class Activation { Identity, Tanh, Sigmoid, ReluSquare, Silu, ExpNegExp };

class Backend;

// f32 memory owned by a backend (host memory on the CPU). Copying copies the contents.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend* backend, size_t n);  // zero-filled
  ~Buffer();
  Buffer(const Buffer& other);
  Buffer& operator=(const Buffer& other);
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;

  float* data() const { return data_; }
  size_t size() const { return size_; }
  Backend* backend() const { return backend_; }
  Mat mat(int64_t rows, int64_t cols) const { return {data_, rows, cols}; }

 private:
  Backend* backend_ = nullptr;
  float* data_ = nullptr;
  size_t size_ = 0;
};

// Inputs of the RWKV-7 WKV recurrence for T tokens of H heads of size N (each [T][H*N]).
// Per head, with the paper's state S [N value][N key]:
//   S = S * diag(w) + (S a) b^T + v k^T ;  y = S r
// The state is stored transposed, [key][value] as for RWKV-5/6, so that kernels work along
// contiguous value rows without horizontal sums.
struct Wkv7Args {
  const float *r, *w, *k, *v, *a, *b;
  float* y;
  float* state;  // [H][N key][N value], updated in place
  int64_t T, H, N;
};

// Inputs of the RWKV-5/6 WKV recurrence (w per channel for v5, per token for v6), each [T][H*N]:
//   y = r (S + diag(u) k^T v) ;  S = diag(w) S + k^T v,  S [N key][N value]
struct Wkv56Args {
  const float *r, *k, *v, *w, *u;
  bool w_per_token;  // v6: w is [T][H*N]; v5: w is [H*N]
  float* y;
  float* state;  // [H][N][N]
  int64_t T, H, N;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // ---- memory ----
  virtual float* allocate(size_t n) = 0;  // zero-filled f32 array
  virtual void free(float* p) = 0;
  virtual void copy(float* dst, const float* src, size_t n) = 0;
  virtual void fill_zero(float* p, size_t n) = 0;
  virtual void upload(float* dst, const float* host, size_t n) = 0;
  virtual void download(float* host, const float* src, size_t n) = 0;
  // Makes a backend-resident copy of a host weight matrix (the CPU backend keeps the pointer).
  virtual WeightMatrix upload_weight(const WeightMatrix& host) = 0;
  // A small f32 parameter vector (norm gains, mixes), uploaded once.
  virtual const float* upload_param(std::span<const float> host) = 0;

  // ---- linear algebra ----
  // y[t] = W x[t] for every row t (y = x W^T), or y += that when accumulate.
  virtual void matmul(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate = false) = 0;
  // out[t] = row ids[t] of an embedding table [vocab][cols], widened to f32.
  virtual void embedding(const WeightMatrix& table, std::span<const int32_t> ids, const Mat& out) = 0;

  // ---- normalisation ----
  // y = LayerNorm(x) * g + b over each row (y may alias x).
  virtual void layer_norm(const Mat& x, const Mat& y, const float* g, const float* b, float eps) = 0;
  // In place GroupNorm over `groups` equal slices of each row.
  virtual void group_norm(const Mat& x, int64_t groups, const float* g, const float* b, float eps) = 0;
  // In place L2 normalisation of each slice of `size` elements: x / max(|x|, eps).
  virtual void l2_normalize(const Mat& x, int64_t size, float eps) = 0;

  // ---- token shift and elementwise ----
  // delta[t] = x[t-1] - x[t] with x[-1] = prev; then prev = x[T-1].
  virtual void token_shift(const Mat& x, float* prev, const Mat& delta) = 0;
  // out = x + delta * mu (mu per column): the token-shift interpolation.
  virtual void lerp(const Mat& x, const Mat& delta, const float* mu, const Mat& out) = 0;
  // y = act(x) in place; with `bias`, y = act(x + bias) (bias per column).
  virtual void activate(const Mat& x, Activation act, const float* bias = nullptr) = 0;
  virtual void add(const Mat& y, const Mat& x) = 0;  // y += x
  virtual void mul(const Mat& y, const Mat& x) = 0;  // y *= x

  // ---- fused pairs (a backend may do each in one pass; the defaults make the separate calls) ----
  // y = act(W x + bias) for every row (bias per output, may be null): a product and the
  // activation after it (LoRA hidden layers and gates, relu^2 of the channel-mix key).
  virtual void matmul_act(const WeightMatrix& w, const Mat& x, const Mat& y, Activation act, const float* bias) {
    matmul(w, x, y);
    if (act != Activation::Identity || bias) activate(y, act, bias);
  }
  // One product of a batch: y = act(W x + bias), or y += W x when `accumulate`.
  struct Product {
    WeightMatrix w;
    Mat x, y;
    Activation act = Activation::Identity;
    const float* bias = nullptr;
    bool accumulate = false;
  };
  // Independent products (no product's y is another's x or y), which a backend may run together
  // (decode: one launch for many small products).
  virtual void matmul_batch(std::span<const Product> products) {
    for (const Product& p : products) {
      if (p.accumulate) matmul(p.w, p.x, p.y, true);
      else matmul_act(p.w, p.x, p.y, p.act, p.bias);
    }
  }
  // token_shift(x, prev, delta), then outs[m] = x + delta * mus[m] for each m: the token shift of
  // one input and its mixes. The outputs must not alias x or delta.
  virtual void token_shift_mix(const Mat& x, float* prev, const Mat& delta, std::span<const float* const> mus,
                               std::span<const Mat> outs) {
    token_shift(x, prev, delta);
    for (size_t m = 0; m < mus.size(); ++m) lerp(x, delta, mus[m], outs[m]);
  }
  // group_norm(y, H, ln_g, ln_b, eps), then rwkv7_bonus_and_gate(y, r, k, v, r_k, g, H, N): the
  // RWKV-7 time-mix output before its projection.
  virtual void rwkv7_norm_bonus_gate(const Mat& y, const float* ln_g, const float* ln_b, float eps, const Mat& r,
                                     const Mat& k, const Mat& v, const float* r_k, const Mat& g, int64_t H, int64_t N) {
    group_norm(y, H, ln_g, ln_b, eps);
    rwkv7_bonus_and_gate(y, r, k, v, r_k, g, H, N);
  }

  // ---- RWKV-7 time-mix pieces ----
  // Prepares the WKV inputs in place from the projections (all [T][C]):
  //   kk = normalize_per_head(k * k_k);  a_in = sigmoid(a0 + a_lora) given as `a` (already sigmoid);
  //   k = k * (1 + (a - 1) * k_a);  w = exp(-exp(-0.5) * sigmoid(w0 + w_lora));
  //   and writes the WKV's (a, b) = (-kk, kk * a) into kk and a.
  struct Rwkv7Prep {
    float *k, *a, *w, *kk;
    const float *k_k, *k_a, *w0;
    int64_t T, H, N;
  };
  virtual void rwkv7_prepare(const Rwkv7Prep& p) = 0;
  // v = v + (v_first - v) * gate (the value residual; gate already sigmoid)
  virtual void rwkv7_value_residual(const Mat& v, const Mat& v_first, const Mat& gate) = 0;
  // y = GroupNorm_heads(y) ... done by group_norm; then y += (sum_head(r * k * r_k)) * v; y *= g.
  virtual void rwkv7_bonus_and_gate(const Mat& y, const Mat& r, const Mat& k, const Mat& v, const float* r_k,
                                    const Mat& g, int64_t H, int64_t N) = 0;
  virtual void wkv7(const Wkv7Args& a) = 0;
  virtual void wkv56(const Wkv56Args& a) = 0;

  // ---- RWKV-7a/7b pieces ----
  // z[t] = u[t] @ M_t, where M_t is row t of `m` viewed as a row-major [n][n] matrix, n = u.cols.
  virtual void row_vecmat(const Mat& u, const Mat& m, const Mat& z) = 0;
  // DEA attention of T queries at context positions first .. first+T-1 over the keys and values
  // of positions 0 .. L-1 (row-major [L][d_qk] and [L][d_v]):
  //   out[t] = sum_j softmax_j(cap * tanh(q[t] . K[j] / scale)) V[j]  over j <= first + t.
  struct DeaAttention {
    const float *q, *keys, *values;
    float* out;
    int64_t T, L, first, d_qk, d_v;
    float cap, scale;
  };
  virtual void dea_attention(const DeaAttention& a) = 0;

  // ---- recorded decode steps (CUDA graphs) ----
  // A backend may record the ops of a one-token step once and replay them as one launch: a decode
  // step is hundreds of small ops, and launching each one costs more than it computes on a GPU.
  // ModelBase brackets each one-token step with these calls:
  //   mode = begin_step(key, ids);
  //   if (mode != StepMode::Replayed) { the step's ops }
  //   if (mode == StepMode::Capturing && !end_step(key after the ops)) { the step's ops again }
  //   (abort_step() if the ops threw while capturing)
  // `key` lists every address the step's ops use that can differ between steps (the state's and
  // the workspace's buffers) plus anything else that changes the recorded work (which logits):
  // a recording is replayed only for an equal key. `ids` are the step's token ids, staged by
  // begin_step where a replay reads them; while capturing, embedding() must be given this very
  // span. Nothing in a step may read device data on the host (download) while capturing.
  // The default records nothing: every step runs its ops (the CPU backend).
  enum class StepMode { Eager, Capturing, Replayed };
  // Whether begin_step can ever record (lets callers skip building a key for backends that don't).
  virtual bool records_steps() const { return false; }
  virtual StepMode begin_step(std::span<const void* const> key, std::span<const int32_t> ids) {
    return StepMode::Eager;
  }
  // Ends a capture begun by begin_step: runs the recorded ops, and keeps the recording for replay
  // when `key_after` (the key once the ops ran) still equals the key it began with. Returns false
  // when the recording failed and nothing ran: the caller then runs the step's ops op by op (the
  // backend records no more steps).
  virtual bool end_step(std::span<const void* const> key_after) { return true; }
  // Ends a capture whose ops threw; the recording is dropped.
  virtual void abort_step() {}
};


}  // namespace rwkv
