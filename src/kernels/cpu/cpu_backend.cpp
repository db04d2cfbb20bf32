// The CPU backend: host memory, one persistent thread pool, and the kernels of kernels/cpu.
// Work is split across threads by output rows (matmul), heads (WKV) or tokens (row-wise ops);
// small elementwise work runs on the calling thread, where a fork/join would cost more than it saves.
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_inout.h"
#include "kernels/cpu/matmul_q8a.h"
#include "kernels/cpu/reference.h"
#include "kernels/cpu/vec_ops.h"
#include "kernels/cpu/wkv.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace rwkv {

namespace {

constexpr size_t kAlignment = 64;  // one cache line; also what AVX-512 loads like
// Elementwise work below this many elements runs on one thread.
constexpr int64_t kParallelElementwise = 1 << 15;
// Matrix products below this many multiply-adds run on one thread.
constexpr int64_t kParallelMatmul = 1 << 14;
// Without AVX-512, an input-major (LoRA) decode product with this few outputs runs on one thread:
// split by outputs, each thread would read a few bytes of every stored row.
constexpr int64_t kInOutDecodeOneThreadOutputs = 256;

// With AVX-512, an input-major decode product of at least this many bytes is split by inputs across
// the threads (smaller ones: a fork/join costs about what it saves). Measured per factor, 2 threads:
// 1.5B's 2048 -> 256 47 -> 29 us, 256 -> 2048 42 -> 31 us; 0.1B's 64 -> 768 4.2 -> 3.5 us.
constexpr int64_t kInOutDecodeSplitBytes = 64 << 10;

// MADV_POPULATE_READ (Linux 5.14) is missing from older headers; older kernels refuse it (EINVAL)
// and the copy below then faults the pages in one by one, as before.
constexpr int kMadvPopulateRead = 22;

// Bump allocation in regions of 2 MiB-aligned memory advised to use transparent huge pages.
class HugePageArena {
 public:
  ~HugePageArena() {
    for (auto& r : regions_) std::free(r.base);
  }
  std::byte* allocate(size_t bytes) {
    bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    if (regions_.empty() || regions_.back().used + bytes > regions_.back().size) {
      const size_t size = std::max(kRegion, (bytes + kHugePage - 1) / kHugePage * kHugePage);
      void* p = std::aligned_alloc(kHugePage, size);
      if (!p) throw Error("out of memory allocating {} bytes for weights", size);
      madvise(p, size, MADV_HUGEPAGE);
      regions_.push_back({static_cast<std::byte*>(p), size, 0});
    }
    Region& r = regions_.back();
    std::byte* out = r.base + r.used;
    r.used += bytes;
    return out;
  }

 private:
  static constexpr size_t kHugePage = size_t{2} << 20;
  static constexpr size_t kRegion = size_t{256} << 20;
  struct Region {
    std::byte* base;
    size_t size, used;
  };
  std::vector<Region> regions_;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& o)
      : pool_(o.threads > 0 ? o.threads : ThreadPool::physical_cores()),
        isa_(o.isa.value_or(cpu::active_isa())),
        fast_activations_(o.fast_activations),
        huge_pages_(o.huge_pages) {}

  std::string name() const override {
    return "cpu " + std::string(cpu::isa_name(isa_)) + ", " + std::to_string(pool_.size()) + " threads" +
           (fast_activations_ ? ", fast activations" : "") + (huge_pages_ ? ", weights on 2 MiB pages" : "");
  }

  float* allocate(size_t n) override {
    const size_t bytes = (n * sizeof(float) + kAlignment - 1) / kAlignment * kAlignment;
    void* p = std::aligned_alloc(kAlignment, bytes ? bytes : kAlignment);
    if (!p) throw Error("out of memory allocating {} bytes", bytes);
    std::memset(p, 0, bytes);
    return static_cast<float*>(p);
  }
  void free(float* p) override { std::free(p); }
  void copy(float* dst, const float* src, size_t n) override { std::memcpy(dst, src, n * sizeof(float)); }
  void fill_zero(float* p, size_t n) override { std::memset(p, 0, n * sizeof(float)); }
  void upload(float* dst, const float* host, size_t n) override { copy(dst, host, n); }
  void download(float* host, const float* src, size_t n) override { copy(host, src, n); }
  WeightMatrix upload_weight(const WeightMatrix& host) override {
    if (!huge_pages_) return host;  // zero-copy: the matrix stays where the file is mapped
    WeightMatrix w = host;
    const size_t bytes = static_cast<size_t>(host.rows * host.row_bytes);
    std::byte* dst = weight_arena_.allocate(bytes);
    // Map the source pages in one call rather than one fault per 4 KiB page, then copy.
    const auto page = reinterpret_cast<uintptr_t>(host.data) & ~uintptr_t{4095};
    const size_t span = reinterpret_cast<uintptr_t>(host.data) + bytes - page;
    madvise(reinterpret_cast<void*>(page), span, kMadvPopulateRead);
    std::memcpy(dst, host.data, bytes);
    w.data = dst;
    return w;
  }
  const float* upload_param(std::span<const float> host) override {
    std::lock_guard<std::mutex> lock(params_mutex_);
    params_.emplace_back(host.begin(), host.end());
    return params_.back().data();
  }

  void matmul(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate) override {
    check_matmul(w, x, y);
    // Split by output rows, in multiples of 24 (the kernels' row blocks are 8 or 12); small products stay on
    // one thread, where a fork/join would cost more than it saves.
    const int64_t grain = w.rows * w.cols * x.rows < kParallelMatmul ? w.rows : 24;
    if (cpu::use_q8_activations(isa_, w, x.rows, fast_activations_)) {  // quantized decode, 8-bit activations
      cpu::quantize_activations(isa_, x, q8_);
      pool_.parallel_for(w.rows, grain, [&](int64_t o0, int64_t o1) {
        cpu::q8a_rows(isa_, w, q8_, y, accumulate, o0, o1);
      });
      return;
    }
    if (w.layout == WeightLayout::InOut) {  // input-major: split by outputs in multiples of 32
      if (x.rows == 1 && splits_inputs(w)) {  // small factors: a fork/join costs about what it saves
        DecodeJob j{w, x, y, accumulate};
        return run_decode_jobs({&j, 1}, w.cols * w.row_bytes < kInOutDecodeSplitBytes ? 1 : pool_.size());
      }
      const uint32_t* pairs = nullptr;
      if (cpu::inout_uses_bf16_pairs(isa_, w, x.rows, fast_activations_)) {
        xpairs_.resize(static_cast<size_t>(x.rows * ((x.cols + 1) / 2)));
        pool_.parallel_for(x.rows, 8, [&](int64_t t0, int64_t t1) { cpu::to_bf16_pairs(isa_, x, xpairs_.data(), t0, t1); });
        pairs = xpairs_.data();
      }
      const bool one_thread = grain == w.rows || (x.rows == 1 && w.rows <= kInOutDecodeOneThreadOutputs);
      pool_.parallel_for(w.rows, one_thread ? w.rows : 32, [&](int64_t o0, int64_t o1) {
        cpu::inout_matmul(isa_, w, x, y, accumulate, o0, o1, pairs);
      });
      return;
    }
    if (cpu::use_gemm(isa_, x.rows)) {
      // bf16 activations with bf16 weights, and with quantized ones (their rows dequantized to bf16)
      const bool bf16 = fast_activations_ && (w.dtype == DType::BF16 || dtype_is_quantized(w.dtype)) &&
                        isa_ == cpu::Isa::Avx512Bf16;
      cpu::prepare_packing(x.rows, x.cols, bf16, packed_);
      pool_.parallel_for(cpu::token_blocks(packed_), 1,
                         [&](int64_t b0, int64_t b1) { cpu::pack_activations(isa_, x, packed_, b0, b1); });
      pool_.parallel_for(w.rows, grain, [&](int64_t o0, int64_t o1) {
        cpu::gemm_rows(isa_, w, packed_, y, accumulate, o0, o1);
      });
    } else {
      pool_.parallel_for(w.rows, grain, [&](int64_t o0, int64_t o1) {
        cpu::matvec_rows(isa_, w, x, y, accumulate, o0, o1);
      });
    }
  }

  // A batch of one-token products (a decode step's projections and LoRA factors) in one parallel
  // region instead of one per product: each thread takes its share of every product (its rows, or
  // for input-major factors its inputs), then the partial sums and activations are applied here.
  void matmul_batch(std::span<const Product> products) override {
    const bool decode = pool_.size() > 1 && std::all_of(products.begin(), products.end(),
                                                        [](const Product& p) { return p.x.rows == 1; });
    if (!decode) return Backend::matmul_batch(products);
    batch_q8_.resize(products.size());
    batch_jobs_.clear();
    for (size_t i = 0; i < products.size(); ++i) {
      const Product& p = products[i];
      check_matmul(p.w, p.x, p.y);
      DecodeJob j{p.w, p.x, p.y, p.accumulate};
      if (cpu::use_q8_activations(isa_, p.w, 1, fast_activations_)) {
        cpu::quantize_activations(isa_, p.x, batch_q8_[i]);
        j.q8 = &batch_q8_[i];
      }
      batch_jobs_.push_back(j);
    }
    run_decode_jobs(batch_jobs_, pool_.size());
    for (const Product& p : products)
      if (!p.accumulate && (p.act != Activation::Identity || p.bias)) activate(p.y, p.act, p.bias);
  }

  // One token's product prepared for sharing across the threads.
  struct DecodeJob {
    WeightMatrix w;
    Mat x, y;
    bool accumulate = false;
    const cpu::Q8Activations* q8 = nullptr;  // x quantized (quantized weights with fast activations)
    size_t partials_at = 0;                  // split by inputs: where threads 1.. sum in inout_partials_
  };
  // Input-major products of one token with AVX-512 are split by inputs (each thread streams its
  // own block of stored rows), all others by output rows.
  bool splits_inputs(const WeightMatrix& w) const { return w.layout == WeightLayout::InOut && isa_ >= cpu::Isa::Avx512; }

  // Runs the jobs on `threads` threads in one parallel region (inline for one), then adds the
  // partial sums of those split by inputs.
  void run_decode_jobs(std::span<DecodeJob> jobs, int threads) {
    size_t partial_floats = 0;
    for (DecodeJob& j : jobs)
      if (splits_inputs(j.w)) {
        j.partials_at = partial_floats;
        partial_floats += static_cast<size_t>((threads - 1) * j.w.rows);
      }
    inout_partials_.resize(partial_floats);
    if (threads == 1) {
      for (const DecodeJob& j : jobs) decode_share(j, 0, 1);
    } else {
      pool_.run_on_all([&](int t) {
        if (t >= threads) return;
        for (const DecodeJob& j : jobs) decode_share(j, t, threads);
      });
    }
    for (const DecodeJob& j : jobs)
      if (splits_inputs(j.w))
        for (int t = 1; t < threads; ++t) {
          const float* p = inout_partials_.data() + j.partials_at + (t - 1) * j.w.rows;
          float* y = j.y.row(0);
          for (int64_t o = 0; o < j.w.rows; ++o) y[o] += p[o];
        }
  }

  // Thread t's share of a job: a block of inputs summed into y (thread 0) or into its partial (the
  // others), or output rows in blocks of 24 (32 for input-major without AVX-512).
  void decode_share(const DecodeJob& j, int t, int threads) {
    if (splits_inputs(j.w)) {
      const auto [k0, k1] = ThreadPool::share(j.w.cols, 1, t, threads);
      float* out = t == 0 ? j.y.row(0) : inout_partials_.data() + j.partials_at + (t - 1) * j.w.rows;
      return cpu::inout_matvec_inputs(isa_, j.w, j.x.row(0), k0, k1, out, t == 0 && j.accumulate);
    }
    const auto [o0, o1] = ThreadPool::share(j.w.rows, j.w.layout == WeightLayout::InOut ? 32 : 24, t, threads);
    if (o0 >= o1) return;
    if (j.q8) cpu::q8a_rows(isa_, j.w, *j.q8, j.y, j.accumulate, o0, o1);
    else if (j.w.layout == WeightLayout::InOut) cpu::inout_matmul(isa_, j.w, j.x, j.y, j.accumulate, o0, o1, nullptr);
    else cpu::matvec_rows(isa_, j.w, j.x, j.y, j.accumulate, o0, o1);
  }

  void embedding(const WeightMatrix& table, std::span<const int32_t> ids, const Mat& out) override {
    for (size_t t = 0; t < ids.size(); ++t) {
      const int32_t id = ids[t];
      if (id < 0 || id >= table.rows) throw Error("token id {} is outside the vocabulary [0, {})", id, table.rows);
      ref::row_to_f32(table.dtype, table.row(id), table.cols, out.row(static_cast<int64_t>(t)));
    }
  }

  void layer_norm(const Mat& x, const Mat& y, const float* g, const float* b, float eps) override {
    for_rows(x, [&](int64_t t) {
      if (simd()) cpu::vec::layer_norm(x.row(t), y.row(t), static_cast<size_t>(x.cols), g, b, eps);
      else ref::layer_norm_row(x.row(t), y.row(t), x.cols, g, b, eps);
    });
  }

  void group_norm(const Mat& x, int64_t groups, const float* g, const float* b, float eps) override {
    const int64_t n = x.cols / groups;
    for_rows(x, [&](int64_t t) {
      for (int64_t h = 0; h < groups; ++h) {
        float* p = x.row(t) + h * n;
        if (simd()) cpu::vec::layer_norm(p, p, static_cast<size_t>(n), g + h * n, b + h * n, eps);
        else ref::layer_norm_row(p, p, n, g + h * n, b + h * n, eps);
      }
    });
  }

  void l2_normalize(const Mat& x, int64_t size, float eps) override {
    for_rows(x, [&](int64_t t) {
      for (int64_t h = 0; h < x.cols / size; ++h) ref::l2_normalize_row(x.row(t) + h * size, size, eps);
    });
  }

  void token_shift(const Mat& x, float* prev, const Mat& delta) override {
    for_rows(x, [&](int64_t t) {
      const float* before = t == 0 ? prev : x.row(t - 1);
      if (simd()) cpu::vec::sub(before, x.row(t), delta.row(t), static_cast<size_t>(x.cols));
      else ref::sub_row(before, x.row(t), delta.row(t), x.cols);
    });
    if (x.rows > 0) std::memcpy(prev, x.row(x.rows - 1), static_cast<size_t>(x.cols) * sizeof(float));
  }

  void lerp(const Mat& x, const Mat& delta, const float* mu, const Mat& out) override {
    for_rows(x, [&](int64_t t) {
      if (simd()) cpu::vec::lerp(x.row(t), delta.row(t), mu, out.row(t), static_cast<size_t>(x.cols));
      else ref::lerp_row(x.row(t), delta.row(t), mu, out.row(t), x.cols);
    });
  }

  void activate(const Mat& x, Activation act, const float* bias) override {
    for_rows(x, [&](int64_t t) {
      if (simd()) cpu::vec::activate(act, x.row(t), bias, static_cast<size_t>(x.cols));
      else ref::activate_row(act, x.row(t), bias, x.cols);
    });
  }

  void add(const Mat& y, const Mat& x) override {
    for_rows(y, [&](int64_t t) {
      if (simd()) cpu::vec::add(y.row(t), x.row(t), static_cast<size_t>(y.cols));
      else ref::add_row(y.row(t), x.row(t), y.cols);
    });
  }

  void mul(const Mat& y, const Mat& x) override {
    for_rows(y, [&](int64_t t) {
      if (simd()) cpu::vec::mul(y.row(t), x.row(t), static_cast<size_t>(y.cols));
      else ref::mul_row(y.row(t), x.row(t), y.cols);
    });
  }

  void rwkv7_prepare(const Rwkv7Prep& p) override {
    const int64_t C = p.H * p.N;
    for_rows(Mat{p.k, p.T, C}, [&](int64_t t) {
      float *k = p.k + t * C, *a = p.a + t * C, *w = p.w + t * C, *kk = p.kk + t * C;
      if (simd())
        cpu::vec::rwkv7_prepare(k, a, w, kk, p.k_k, p.k_a, p.w0, static_cast<size_t>(p.H), static_cast<size_t>(p.N));
      else
        ref::rwkv7_prepare_row(k, a, w, kk, p.k_k, p.k_a, p.w0, p.H, p.N);
    });
  }

  void rwkv7_value_residual(const Mat& v, const Mat& v_first, const Mat& gate) override {
    for_rows(v, [&](int64_t t) {
      if (simd()) cpu::vec::value_residual(v.row(t), v_first.row(t), gate.row(t), static_cast<size_t>(v.cols));
      else ref::value_residual_row(v.row(t), v_first.row(t), gate.row(t), v.cols);
    });
  }

  void rwkv7_bonus_and_gate(const Mat& y, const Mat& r, const Mat& k, const Mat& v, const float* r_k, const Mat& g,
                            int64_t H, int64_t N) override {
    for_rows(y, [&](int64_t t) {
      if (simd())
        cpu::vec::bonus_and_gate(y.row(t), r.row(t), k.row(t), v.row(t), r_k, g.row(t), static_cast<size_t>(H),
                                 static_cast<size_t>(N));
      else
        ref::bonus_and_gate_row(y.row(t), r.row(t), k.row(t), v.row(t), r_k, g.row(t), H, N);
    });
  }

  void wkv7(const Wkv7Args& a) override {
    pool_.parallel_for(a.H, heads_grain(a.T, a.H, a.N), [&](int64_t h0, int64_t h1) { cpu::wkv7_heads(isa_, a, h0, h1); });
  }

  void wkv56(const Wkv56Args& a) override {
    pool_.parallel_for(a.H, heads_grain(a.T, a.H, a.N), [&](int64_t h0, int64_t h1) { cpu::wkv56_heads(isa_, a, h0, h1); });
  }

  void row_vecmat(const Mat& u, const Mat& m, const Mat& z) override {
    const int64_t n = u.cols;
    if (m.cols != n * n || z.cols != n) throw Error("row_vecmat: shapes [{}], [{}], [{}]", u.cols, m.cols, z.cols);
    for_rows(u, [&](int64_t t) { ref::vecmat_row(u.row(t), m.row(t), n, z.row(t)); });
  }

  void dea_attention(const DeaAttention& a) override {
    if (!simd()) {
      pool_.parallel_for(a.T, 1, [&](int64_t t0, int64_t t1) {
        std::vector<float> scores(static_cast<size_t>(a.L));
        for (int64_t t = t0; t < t1; ++t) ref::dea_attention_row(a, t, scores.data());
      });
      return;
    }
    // As two matrix products through the GEMM kernels, the cached keys and values standing in
    // for weights: scores = q K^T over the whole context (f32), the capped causal softmax per
    // query (positions after it get weight 0), then out = P V (V stored one context row each,
    // i.e. input-major).
    dea_scores_.resize(static_cast<size_t>(a.T * a.L));
    const Mat scores{dea_scores_.data(), a.T, a.L};
    const auto* keys = reinterpret_cast<const std::byte*>(a.keys);
    const auto* values = reinterpret_cast<const std::byte*>(a.values);
    matmul(WeightMatrix{DType::F32, a.L, a.d_qk, keys, a.d_qk * 4, WeightLayout::OutIn},
           Mat{const_cast<float*>(a.q), a.T, a.d_qk}, scores, false);
    for_rows(scores, [&](int64_t t) {
      const int64_t visible = a.first + t + 1;
      cpu::vec::capped_softmax(scores.row(t), static_cast<size_t>(visible), a.cap, a.scale);
      std::fill(scores.row(t) + visible, scores.row(t) + a.L, 0.0f);
    });
    matmul(WeightMatrix{DType::F32, a.d_v, a.L, values, a.d_v * 4, WeightLayout::InOut}, scores,
           Mat{a.out, a.T, a.d_v}, false);
  }

 private:
  // The Highway kernels for every ISA but Scalar, which keeps to the reference loops.
  bool simd() const { return isa_ != cpu::Isa::Scalar; }

  // Heads per task: all of them (one thread) when the recurrence is too small to split.
  static int64_t heads_grain(int64_t T, int64_t H, int64_t N) { return T * H * N * N < kParallelMatmul ? H : 1; }

  template <typename F>
  void for_rows(const Mat& m, F&& fn) {
    if (m.rows * m.cols < kParallelElementwise) {
      for (int64_t t = 0; t < m.rows; ++t) fn(t);
    } else {
      pool_.parallel_for(m.rows, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) fn(t);
      });
    }
  }

  static void check_matmul(const WeightMatrix& w, const Mat& x, const Mat& y) {
    if (x.cols != w.cols || y.cols != w.rows || y.rows != x.rows)
      throw Error("matmul shape mismatch: W [{}][{}], x [{}][{}], y [{}][{}]", w.rows, w.cols, x.rows, x.cols,
                  y.rows, y.cols);
  }

  ThreadPool pool_;
  cpu::Isa isa_;
  bool fast_activations_;
  bool huge_pages_;
  HugePageArena weight_arena_;
  cpu::PackedActivations packed_;
  std::vector<uint32_t> xpairs_;    // activations as bf16 pairs for the input-major bf16 GEMM
  std::vector<float> dea_scores_;   // DEA attention weights, [queries][context]
  cpu::Q8Activations q8_;           // activations quantized for the quantized-weight decode products
  std::vector<float> inout_partials_;  // per-thread partial sums of input-major decode products
  std::vector<cpu::Q8Activations> batch_q8_;  // matmul_batch: each product's quantized activations
  std::vector<DecodeJob> batch_jobs_;        // matmul_batch: its products as decode jobs
  std::mutex params_mutex_;
  std::deque<std::vector<float>> params_;  // deque: pointers stay valid as it grows
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace rwkv
