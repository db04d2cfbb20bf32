#include "kernels/profiling_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <vector>

namespace rwkv {

namespace {

using Clock = std::chrono::steady_clock;

class ProfilingBackend final : public Backend {
 public:
  explicit ProfilingBackend(std::unique_ptr<Backend> inner) : b_(std::move(inner)) {}
  ~ProfilingBackend() override { report(); }

  std::string name() const override { return b_->name() + ", profiled"; }
  float* allocate(size_t n) override { return b_->allocate(n); }
  void free(float* p) override { b_->free(p); }
  void copy(float* d, const float* s, size_t n) override { time("copy", [&] { b_->copy(d, s, n); }); }
  void fill_zero(float* p, size_t n) override { b_->fill_zero(p, n); }
  void upload(float* d, const float* h, size_t n) override { b_->upload(d, h, n); }
  void download(float* h, const float* s, size_t n) override { time("download", [&] { b_->download(h, s, n); }); }
  WeightMatrix upload_weight(const WeightMatrix& w) override { return b_->upload_weight(w); }
  const float* upload_param(std::span<const float> h) override { return b_->upload_param(h); }

  void matmul(const WeightMatrix& w, const Mat& x, const Mat& y, bool acc) override {
    time(matmul_key(w, x), [&] { b_->matmul(w, x, y, acc); }, weight_bytes(w));
  }
  // The grouped ops go to the inner backend as groups (its own implementation is what is timed);
  // a product with its activation counts as the product.
  void matmul_act(const WeightMatrix& w, const Mat& x, const Mat& y, Activation act, const float* bias) override {
    time(matmul_key(w, x), [&] { b_->matmul_act(w, x, y, act, bias); }, weight_bytes(w));
  }
  void matmul_batch(std::span<const Product> products) override {
    double bytes = 0;
    for (const Product& p : products) bytes += weight_bytes(p.w);
    const bool one_token = !products.empty() && products[0].x.rows == 1;
    time(fmt::format("matmul_batch of {} T{}", products.size(), one_token ? "=1" : ">1"),
         [&] { b_->matmul_batch(products); }, bytes);
  }
  void token_shift_mix(const Mat& x, float* prev, const Mat& delta, std::span<const float* const> mus,
                       std::span<const Mat> outs) override {
    time("token_shift_mix", [&] { b_->token_shift_mix(x, prev, delta, mus, outs); });
  }
  void rwkv7_norm_bonus_gate(const Mat& y, const float* ln_g, const float* ln_b, float eps, const Mat& r, const Mat& k,
                             const Mat& v, const float* r_k, const Mat& g, int64_t H, int64_t N) override {
    time("rwkv7_norm_bonus_gate", [&] { b_->rwkv7_norm_bonus_gate(y, ln_g, ln_b, eps, r, k, v, r_k, g, H, N); });
  }
  void embedding(const WeightMatrix& t, std::span<const int32_t> ids, const Mat& out) override {
    time("embedding", [&] { b_->embedding(t, ids, out); });
  }
  void layer_norm(const Mat& x, const Mat& y, const float* g, const float* b, float eps) override {
    time("layer_norm", [&] { b_->layer_norm(x, y, g, b, eps); });
  }
  void group_norm(const Mat& x, int64_t groups, const float* g, const float* b, float eps) override {
    time("group_norm", [&] { b_->group_norm(x, groups, g, b, eps); });
  }
  void l2_normalize(const Mat& x, int64_t size, float eps) override {
    time("l2_normalize", [&] { b_->l2_normalize(x, size, eps); });
  }
  void token_shift(const Mat& x, float* prev, const Mat& d) override {
    time("token_shift", [&] { b_->token_shift(x, prev, d); });
  }
  void lerp(const Mat& x, const Mat& d, const float* mu, const Mat& out) override {
    time("lerp", [&] { b_->lerp(x, d, mu, out); });
  }
  void activate(const Mat& x, Activation act, const float* bias) override {
    static const char* names[] = {"identity", "tanh", "sigmoid", "relu_square", "silu", "exp_neg_exp"};
    time(std::string("activate ") + names[static_cast<int>(act)], [&] { b_->activate(x, act, bias); });
  }
  void add(const Mat& y, const Mat& x) override { time("add", [&] { b_->add(y, x); }); }
  void mul(const Mat& y, const Mat& x) override { time("mul", [&] { b_->mul(y, x); }); }
  void rwkv7_prepare(const Rwkv7Prep& p) override { time("rwkv7_prepare", [&] { b_->rwkv7_prepare(p); }); }
  void rwkv7_value_residual(const Mat& v, const Mat& f, const Mat& g) override {
    time("rwkv7_value_residual", [&] { b_->rwkv7_value_residual(v, f, g); });
  }
  void rwkv7_bonus_and_gate(const Mat& y, const Mat& r, const Mat& k, const Mat& v, const float* r_k, const Mat& g,
                            int64_t H, int64_t N) override {
    time("rwkv7_bonus_and_gate", [&] { b_->rwkv7_bonus_and_gate(y, r, k, v, r_k, g, H, N); });
  }
  void wkv7(const Wkv7Args& a) override { time("wkv7", [&] { b_->wkv7(a); }); }
  void wkv56(const Wkv56Args& a) override { time("wkv56", [&] { b_->wkv56(a); }); }
  void row_vecmat(const Mat& u, const Mat& m, const Mat& z) override {
    time("row_vecmat", [&] { b_->row_vecmat(u, m, z); });
  }
  void dea_attention(const DeaAttention& a) override { time("dea_attention", [&] { b_->dea_attention(a); }); }

 private:
  struct Stat {
    double seconds = 0, bytes = 0;
    int64_t calls = 0;
  };

  static std::string matmul_key(const WeightMatrix& w, const Mat& x) {
    return fmt::format("matmul {} {}x{} T{}", dtype_name(w.dtype), w.rows, w.cols, x.rows == 1 ? "=1" : ">1");
  }
  static double weight_bytes(const WeightMatrix& w) {
    return static_cast<double>((w.layout == WeightLayout::InOut ? w.cols : w.rows) * w.row_bytes);
  }

  template <typename F>
  void time(const std::string& key, F&& fn, double bytes = 0) {
    const auto t0 = Clock::now();
    fn();
    Stat& s = stats_[key];
    s.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    s.bytes += bytes;
    ++s.calls;
  }

  void report() const {
    std::vector<std::pair<std::string, Stat>> rows(stats_.begin(), stats_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    double total = 0;
    for (const auto& r : rows) total += r.second.seconds;
    fmt::print(stderr, "\nprofile ({}): {:.3f} s in backend calls\n", b_->name(), total);
    fmt::print(stderr, "{:>8} {:>6} {:>9} {:>9} {:>8}  {}\n", "seconds", "%", "calls", "us/call", "GB/s", "operation");
    for (const auto& [name, s] : rows)
      fmt::print(stderr, "{:8.3f} {:6.1f} {:9} {:9.1f} {:8.1f}  {}\n", s.seconds, 100 * s.seconds / total, s.calls,
                 1e6 * s.seconds / static_cast<double>(s.calls), s.bytes > 0 ? s.bytes / s.seconds / 1e9 : 0.0,
                 name);
  }

  std::unique_ptr<Backend> b_;
  std::map<std::string, Stat> stats_;
};

}  // namespace

std::unique_ptr<Backend> make_profiling_backend(std::unique_ptr<Backend> inner) {
  return std::make_unique<ProfilingBackend>(std::move(inner));
}

}  // namespace rwkv
