// The CUDA backend: device memory, one stream, one cuBLAS handle; each op checks its shapes on
// the host and enqueues a kernel (kernels.h) or a cuBLAS call (cuda_matmul.h). Nothing here
// waits for the GPU except download (the host needs the data) and freeing memory.
#include "kernels/cuda/cuda_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_matmul.h"
#include "kernels/cuda/device_scratch.h"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/step_graphs.h"
#include "tensor/quant.h"
#include "util/error.h"

namespace rwkv::cuda {

namespace {

// Parameter vectors are packed into device blocks of this size (hundreds of small vectors).
constexpr size_t kParamBlockBytes = size_t{4} << 20;
constexpr size_t kParamAlignment = 256;

WType wtype_of(DType d) {
  switch (d) {
    case DType::F32: return WType::F32;
    case DType::F16: return WType::F16;
    case DType::BF16: return WType::BF16;
    default: throw Error("CUDA backend: no GPU kernels for {} weights", dtype_name(d));
  }
}

// A host weight matrix in the layout the GPU kernels read best: output-major, dense rows, a float
// dtype. Quantized weights are dequantized to f32 (exactly: the GPU has no quantized kernels yet);
// input-major (LoRA) factors are transposed, so that decode reads them a row per output with
// 16-byte loads instead of a strided column per output.
struct PreparedWeight {
  WeightMatrix w;                // host view to copy from (data may point into `owned`)
  std::vector<std::byte> owned;  // the dequantized or transposed copy, when one was made
};

PreparedWeight prepare_on_host(const WeightMatrix& host) {
  PreparedWeight p;
  if (dtype_is_quantized(host.dtype)) {
    if (host.layout != WeightLayout::OutIn) throw Error("CUDA backend: an input-major quantized matrix");
    p.owned.resize(static_cast<size_t>(host.rows * host.cols) * sizeof(float));
    auto* out = reinterpret_cast<float*>(p.owned.data());
    for (int64_t r = 0; r < host.rows; ++r) quant::dequantize_row(host.dtype, host.row(r), host.cols, out + r * host.cols);
    p.w = {DType::F32, host.rows, host.cols, p.owned.data(), host.cols * 4, WeightLayout::OutIn};
    return p;
  }
  if (host.layout == WeightLayout::InOut) {
    const int64_t es = dtype_block_bytes(host.dtype), outs = host.rows, ins = host.cols;
    p.owned.resize(static_cast<size_t>(outs * ins * es));
    for (int64_t i = 0; i < ins; ++i) {
      const std::byte* src = host.row(i);  // stored row i = input i, outs elements
      for (int64_t o = 0; o < outs; ++o)
        std::memcpy(p.owned.data() + (o * ins + i) * es, src + o * es, static_cast<size_t>(es));
    }
    p.w = {host.dtype, outs, ins, p.owned.data(), ins * es, WeightLayout::OutIn};
    return p;
  }
  p.w = host;
  return p;
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaBackendOptions& o) : device_(o.device), fast_activations_(o.fast_activations) {
    const int count = visible_device_count();
    if (device_ < 0 || device_ >= count)
      throw Error("CUDA device {} requested, but {} visible{}", device_, count,
                  count == 0 ? " (no driver or no GPU: run with --device cpu)" : "");
    RWKV_CUDA_CHECK(cudaSetDevice(device_));
    cudaDeviceProp prop{};
    RWKV_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    device_name_ = fmt::format("{} (sm_{}{})", prop.name, prop.major, prop.minor);
    RWKV_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    RWKV_CUDA_CHECK(cublasCreate(&cublas_));
    RWKV_CUDA_CHECK(cublasSetStream(cublas_, stream_));
    matmul_ = std::make_unique<CudaMatmul>(stream_, cublas_, fast_activations_);
    graphs_ = std::make_unique<StepGraphs>(stream_);
  }

  ~CudaBackend() override {
    graphs_.reset();
    matmul_.reset();
    warn_if_failed(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (backend teardown)");
    for (void* p : weights_) warn_if_failed(cudaFree(p), "cudaFree (weights)");
    for (void* p : param_blocks_) warn_if_failed(cudaFree(p), "cudaFree (parameters)");
    if (cublas_) cublasDestroy(cublas_);
    warn_if_failed(cudaStreamDestroy(stream_), "cudaStreamDestroy");
  }

  std::string name() const override {
    return fmt::format("cuda:{} {}, {} activations in prompt GEMMs, {}", device_, device_name_,
                       fast_activations_ ? "bf16/f16" : "f32", graphs_->describe());
  }

  // ---- memory ----
  float* allocate(size_t n) override {
    void* p = nullptr;
    const size_t bytes = std::max<size_t>(n, 1) * sizeof(float);
    RWKV_CUDA_CHECK(cudaMalloc(&p, bytes));
    RWKV_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream_));
    return static_cast<float*>(p);
  }
  // Called from destructors: never throws.
  void free(float* p) override {
    if (!p) return;
    if (graphs_ && graphs_->capturing()) {
      graphs_->defer_free(p);
      return;
    }
    warn_if_failed(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (before cudaFree)");
    warn_if_failed(cudaFree(p), "cudaFree");
  }
  void copy(float* dst, const float* src, size_t n) override {
    if (n) RWKV_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
  }
  void fill_zero(float* p, size_t n) override {
    if (n) RWKV_CUDA_CHECK(cudaMemsetAsync(p, 0, n * sizeof(float), stream_));
  }
  void upload(float* dst, const float* host, size_t n) override {
    not_while_recording("upload");
    if (!n) return;
    RWKV_CUDA_CHECK(cudaMemcpyAsync(dst, host, n * sizeof(float), cudaMemcpyHostToDevice, stream_));
    RWKV_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the caller may reuse `host` at once
  }
  void download(float* host, const float* src, size_t n) override {
    not_while_recording("download");
    if (!n) return;
    RWKV_CUDA_CHECK(cudaMemcpyAsync(host, src, n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    RWKV_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  WeightMatrix upload_weight(const WeightMatrix& host) override {
    not_while_recording("upload_weight");  // a pageable copy and a stream sync: illegal while capturing
    const PreparedWeight p = prepare_on_host(host);
    const WeightMatrix& w = p.w;
    const int64_t dense_row = dtype_row_bytes(w.dtype, w.cols);
    void* device = nullptr;
    RWKV_CUDA_CHECK(cudaMalloc(&device, static_cast<size_t>(std::max<int64_t>(w.rows * dense_row, 1))));
    weights_.push_back(device);
    // On our stream (a non-blocking stream does not wait for the legacy default stream), and
    // waited for: the host copy in `p` is freed on return.
    if (w.rows > 0) {
      RWKV_CUDA_CHECK(cudaMemcpy2DAsync(device, static_cast<size_t>(dense_row), w.data,
                                        static_cast<size_t>(w.row_bytes), static_cast<size_t>(dense_row),
                                        static_cast<size_t>(w.rows), cudaMemcpyHostToDevice, stream_));
      RWKV_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    return {w.dtype, w.rows, w.cols, static_cast<const std::byte*>(device), dense_row, WeightLayout::OutIn};
  }

  const float* upload_param(std::span<const float> host) override {
    not_while_recording("upload_param");
    const size_t bytes = (host.size_bytes() + kParamAlignment - 1) / kParamAlignment * kParamAlignment;
    if (bytes == 0) return nullptr;
    if (param_blocks_.empty() || param_used_ + bytes > param_block_bytes_) {
      const size_t block = std::max(kParamBlockBytes, bytes);
      void* p = nullptr;
      RWKV_CUDA_CHECK(cudaMalloc(&p, block));
      param_blocks_.push_back(p);
      param_block_bytes_ = block;
      param_used_ = 0;
    }
    auto* dst = reinterpret_cast<float*>(static_cast<std::byte*>(param_blocks_.back()) + param_used_);
    param_used_ += bytes;
    RWKV_CUDA_CHECK(cudaMemcpyAsync(dst, host.data(), host.size_bytes(), cudaMemcpyHostToDevice, stream_));
    RWKV_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the caller's vector is temporary
    return dst;
  }

  // ---- linear algebra ----
  void matmul(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate) override {
    matmul_->run(w, x, y, Epilogue{accumulate, Activation::Identity, nullptr});
  }
  void matmul_batch(std::span<const Product> products) override { matmul_->run_batch(products); }
  // One kernel for decode (the matvec applies the activation as it stores its sums).
  void matmul_act(const WeightMatrix& w, const Mat& x, const Mat& y, Activation act, const float* bias) override {
    matmul_->run(w, x, y, Epilogue{false, act, bias});
  }

  void embedding(const WeightMatrix& table, std::span<const int32_t> ids, const Mat& out) override {
    if (out.cols != table.cols || out.rows != static_cast<int64_t>(ids.size()))
      throw Error("embedding: table [{}][{}], {} ids, out [{}][{}]", table.rows, table.cols, ids.size(), out.rows,
                  out.cols);
    for (const int32_t id : ids)
      if (id < 0 || id >= table.rows) throw Error("token id {} is outside the vocabulary [0, {})", id, table.rows);
    const WType type = wtype_of(table.dtype);
    const int32_t* device_ids = nullptr;
    if (graphs_->capturing()) {
      // A recorded step embeds the ids staged by begin_step, so that a replay reads the new ones.
      device_ids = graphs_->staged_ids(ids);
      if (!device_ids) throw Error("CUDA backend: a recorded step embedded ids other than the step's tokens");
    } else if (!ids.empty()) {
      auto* staged = static_cast<int32_t*>(ids_scratch_.get(ids.size_bytes(), stream_));
      RWKV_CUDA_CHECK(cudaMemcpyAsync(staged, ids.data(), ids.size_bytes(), cudaMemcpyHostToDevice, stream_));
      device_ids = staged;
    }
    const int64_t stride = table.row_bytes / dtype_block_bytes(table.dtype);
    RWKV_CUDA_CHECK(cuda::embedding(type, table.data, stride, table.cols, device_ids, out.rows, out.data, stream_));
  }

  // ---- normalisation ----
  void layer_norm(const Mat& x, const Mat& y, const float* g, const float* b, float eps) override {
    same_shape("layer_norm", x, y);
    RWKV_CUDA_CHECK(cuda::layer_norm(x.data, y.data, x.rows, 1, x.cols, g, b, eps, stream_));
  }
  void group_norm(const Mat& x, int64_t groups, const float* g, const float* b, float eps) override {
    if (groups < 1 || x.cols % groups != 0) throw Error("group_norm: {} columns in {} groups", x.cols, groups);
    RWKV_CUDA_CHECK(cuda::layer_norm(x.data, x.data, x.rows, groups, x.cols / groups, g, b, eps, stream_));
  }
  void l2_normalize(const Mat& x, int64_t size, float eps) override {
    if (size < 1 || x.cols % size != 0) throw Error("l2_normalize: {} columns in slices of {}", x.cols, size);
    RWKV_CUDA_CHECK(cuda::l2_normalize(x.data, x.rows * (x.cols / size), size, eps, stream_));
  }

  // ---- token shift and elementwise ----
  void token_shift(const Mat& x, float* prev, const Mat& delta) override {
    same_shape("token_shift", x, delta);
    RWKV_CUDA_CHECK(cuda::token_shift_mix(x.data, prev, delta.data, LerpOutputs{}, x.rows, x.cols, stream_));
  }
  // The shift and up to kMaxLerpOutputs mixes in one kernel; more mixes in further kernels.
  void token_shift_mix(const Mat& x, float* prev, const Mat& delta, std::span<const float* const> mus,
                       std::span<const Mat> outs) override {
    if (mus.size() != outs.size()) throw Error("token_shift_mix: {} mixes for {} outputs", mus.size(), outs.size());
    same_shape("token_shift_mix", x, delta);
    for (size_t m0 = 0; m0 == 0 || m0 < mus.size(); m0 += kMaxLerpOutputs) {
      LerpOutputs group{};
      for (size_t m = m0; m < std::min(mus.size(), m0 + kMaxLerpOutputs); ++m) {
        same_shape("token_shift_mix", x, outs[m]);
        group.mu[group.count] = mus[m];
        group.out[group.count] = outs[m].data;
        ++group.count;
      }
      if (m0 == 0)
        RWKV_CUDA_CHECK(cuda::token_shift_mix(x.data, prev, delta.data, group, x.rows, x.cols, stream_));
      else
        RWKV_CUDA_CHECK(cuda::lerp_many(x.data, delta.data, group, x.rows, x.cols, stream_));
    }
  }
  void lerp(const Mat& x, const Mat& delta, const float* mu, const Mat& out) override {
    same_shape("lerp", x, delta);
    same_shape("lerp", x, out);
    RWKV_CUDA_CHECK(cuda::lerp(x.data, delta.data, mu, out.data, x.rows, x.cols, stream_));
  }
  void activate(const Mat& x, Activation act, const float* bias) override {
    RWKV_CUDA_CHECK(cuda::activate(x.data, act, bias, x.rows, x.cols, stream_));
  }
  void add(const Mat& y, const Mat& x) override {
    same_shape("add", y, x);
    RWKV_CUDA_CHECK(cuda::add(y.data, x.data, y.rows * y.cols, stream_));
  }
  void mul(const Mat& y, const Mat& x) override {
    same_shape("mul", y, x);
    RWKV_CUDA_CHECK(cuda::mul(y.data, x.data, y.rows * y.cols, stream_));
  }

  // ---- RWKV-7 time-mix pieces ----
  void rwkv7_prepare(const Rwkv7Prep& p) override { RWKV_CUDA_CHECK(cuda::rwkv7_prepare(p, stream_)); }
  void rwkv7_value_residual(const Mat& v, const Mat& v_first, const Mat& gate) override {
    same_shape("rwkv7_value_residual", v, v_first);
    same_shape("rwkv7_value_residual", v, gate);
    RWKV_CUDA_CHECK(value_residual(v.data, v_first.data, gate.data, v.rows * v.cols, stream_));
  }
  void rwkv7_bonus_and_gate(const Mat& y, const Mat& r, const Mat& k, const Mat& v, const float* r_k, const Mat& g,
                            int64_t H, int64_t N) override {
    if (y.cols != H * N) throw Error("rwkv7_bonus_and_gate: {} columns, {} heads of {}", y.cols, H, N);
    RWKV_CUDA_CHECK(cuda::rwkv7_bonus_and_gate(y.data, r.data, k.data, v.data, r_k, g.data, y.rows, H, N, stream_));
  }
  void rwkv7_norm_bonus_gate(const Mat& y, const float* ln_g, const float* ln_b, float eps, const Mat& r, const Mat& k,
                             const Mat& v, const float* r_k, const Mat& g, int64_t H, int64_t N) override {
    if (y.cols != H * N) throw Error("rwkv7_norm_bonus_gate: {} columns, {} heads of {}", y.cols, H, N);
    RWKV_CUDA_CHECK(cuda::rwkv7_norm_bonus_gate(y.data, ln_g, ln_b, eps, r.data, k.data, v.data, r_k, g.data, y.rows,
                                                H, N, stream_));
  }
  void wkv7(const Wkv7Args& a) override {
    check_head_size("wkv7", a.N);
    RWKV_CUDA_CHECK(cuda::wkv7(a, stream_));
  }
  void wkv56(const Wkv56Args& a) override {
    check_head_size("wkv56", a.N);
    RWKV_CUDA_CHECK(cuda::wkv56(a, stream_));
  }

  // ---- RWKV-7a/7b pieces ----
  void row_vecmat(const Mat& u, const Mat& m, const Mat& z) override {
    const int64_t n = u.cols;
    if (m.cols != n * n || z.cols != n) throw Error("row_vecmat: shapes [{}], [{}], [{}]", u.cols, m.cols, z.cols);
    RWKV_CUDA_CHECK(cuda::row_vecmat(u.data, m.data, z.data, u.rows, n, stream_));
  }
  void dea_attention(const DeaAttention& a) override {
    if (a.first + a.T > a.L) throw Error("dea_attention: queries up to position {} but {} cached", a.first + a.T, a.L);
    auto* scores = static_cast<float*>(dea_scores_.get(static_cast<size_t>(a.T * a.L) * sizeof(float), stream_));
    RWKV_CUDA_CHECK(cuda::dea_attention(a, scores, stream_));
  }

  // ---- recorded decode steps ----
  bool records_steps() const override { return true; }
  StepMode begin_step(std::span<const void* const> key, std::span<const int32_t> ids) override {
    return graphs_->begin(key, ids);
  }
  bool end_step(std::span<const void* const> key_after) override { return graphs_->end(key_after); }
  void abort_step() override { graphs_->abort(); }

 private:
  void not_while_recording(const char* op) const {
    if (graphs_->capturing())
      throw Error("CUDA backend: {} inside a recorded step (a step must not move data to or from the host)", op);
  }
  static void same_shape(const char* op, const Mat& a, const Mat& b) {
    if (a.rows != b.rows || a.cols != b.cols)
      throw Error("{}: shapes [{}][{}] and [{}][{}] differ", op, a.rows, a.cols, b.rows, b.cols);
  }
  static void check_head_size(const char* op, int64_t N) {
    // A block holds a head's [N][32] slab of the state in shared memory (wkv.cu).
    if (N < 1 || N > 1024) throw Error("{}: head size {} is outside what the CUDA kernels support (1..1024)", op, N);
  }

  int device_;
  bool fast_activations_;
  std::string device_name_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::unique_ptr<CudaMatmul> matmul_;
  std::unique_ptr<StepGraphs> graphs_;
  std::vector<void*> weights_;       // one allocation per uploaded matrix
  std::vector<void*> param_blocks_;  // parameter vectors, packed
  size_t param_block_bytes_ = 0, param_used_ = 0;
  DeviceScratch ids_scratch_;        // token ids of eager embeddings
  DeviceScratch dea_scores_;         // DEA attention weights [T][L]
};

}  // namespace

int visible_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver / no device: not an error for the caller
    return 0;
  }
  return n;
}

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options) {
  return std::make_unique<CudaBackend>(options);
}

}  // namespace rwkv::cuda
