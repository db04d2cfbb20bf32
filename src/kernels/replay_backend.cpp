#include "kernels/replay_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "util/error.h"

namespace rwkv {

namespace {

using Key = std::vector<const void*>;

bool same(std::span<const void* const> a, const Key& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

class ReplayBackend final : public Backend {
 public:
  explicit ReplayBackend(std::unique_ptr<Backend> inner) : b_(std::move(inner)) {}
  ~ReplayBackend() override { release_deferred(); }

  std::string name() const override {
    return fmt::format("{}, {} of {} one-token steps replayed", b_->name(), replayed_, steps_);
  }

  // ---- memory: passed through, except what must not happen inside a recorded step ----
  float* allocate(size_t n) override { return b_->allocate(n); }
  void free(float* p) override {
    if (capturing_) deferred_.push_back(p);  // recorded ops may still use it when they run
    else b_->free(p);
  }
  void copy(float* d, const float* s, size_t n) override { op([=, this] { b_->copy(d, s, n); }); }
  void fill_zero(float* p, size_t n) override { op([=, this] { b_->fill_zero(p, n); }); }
  void upload(float* d, const float* h, size_t n) override {
    not_while_recording("upload");
    b_->upload(d, h, n);
  }
  void download(float* h, const float* s, size_t n) override {
    not_while_recording("download");
    b_->download(h, s, n);
  }
  WeightMatrix upload_weight(const WeightMatrix& w) override { return b_->upload_weight(w); }
  const float* upload_param(std::span<const float> h) override { return b_->upload_param(h); }

  // ---- ops: recorded while capturing, else run ----
  void matmul(const WeightMatrix& w, const Mat& x, const Mat& y, bool acc) override {
    op([=, this] { b_->matmul(w, x, y, acc); });
  }
  void matmul_act(const WeightMatrix& w, const Mat& x, const Mat& y, Activation act, const float* bias) override {
    op([=, this] { b_->matmul_act(w, x, y, act, bias); });
  }
  void matmul_batch(std::span<const Product> products) override {
    op([p = std::vector<Product>(products.begin(), products.end()), this] { b_->matmul_batch(p); });
  }
  void embedding(const WeightMatrix& t, std::span<const int32_t> ids, const Mat& out) override {
    if (!capturing_) {
      b_->embedding(t, ids, out);
      return;
    }
    // A recorded step embeds the staged ids, so that a replay reads the new ones.
    if (ids.data() != host_ids_.data() || ids.size() != host_ids_.size())
      throw Error("replay backend: a recorded step embedded ids other than the step's tokens");
    recording_.push_back([=, this] { b_->embedding(t, staged_ids_, out); });
  }
  void layer_norm(const Mat& x, const Mat& y, const float* g, const float* b, float eps) override {
    op([=, this] { b_->layer_norm(x, y, g, b, eps); });
  }
  void group_norm(const Mat& x, int64_t groups, const float* g, const float* b, float eps) override {
    op([=, this] { b_->group_norm(x, groups, g, b, eps); });
  }
  void l2_normalize(const Mat& x, int64_t size, float eps) override {
    op([=, this] { b_->l2_normalize(x, size, eps); });
  }
  void token_shift(const Mat& x, float* prev, const Mat& d) override { op([=, this] { b_->token_shift(x, prev, d); }); }
  void lerp(const Mat& x, const Mat& d, const float* mu, const Mat& out) override {
    op([=, this] { b_->lerp(x, d, mu, out); });
  }
  void token_shift_mix(const Mat& x, float* prev, const Mat& d, std::span<const float* const> mus,
                       std::span<const Mat> outs) override {
    op([=, m = std::vector<const float*>(mus.begin(), mus.end()), o = std::vector<Mat>(outs.begin(), outs.end()),
        this] { b_->token_shift_mix(x, prev, d, m, o); });
  }
  void rwkv7_norm_bonus_gate(const Mat& y, const float* ln_g, const float* ln_b, float eps, const Mat& r, const Mat& k,
                             const Mat& v, const float* r_k, const Mat& g, int64_t H, int64_t N) override {
    op([=, this] { b_->rwkv7_norm_bonus_gate(y, ln_g, ln_b, eps, r, k, v, r_k, g, H, N); });
  }
  void activate(const Mat& x, Activation act, const float* bias) override {
    op([=, this] { b_->activate(x, act, bias); });
  }
  void add(const Mat& y, const Mat& x) override { op([=, this] { b_->add(y, x); }); }
  void mul(const Mat& y, const Mat& x) override { op([=, this] { b_->mul(y, x); }); }
  void rwkv7_prepare(const Rwkv7Prep& p) override { op([=, this] { b_->rwkv7_prepare(p); }); }
  void rwkv7_value_residual(const Mat& v, const Mat& f, const Mat& g) override {
    op([=, this] { b_->rwkv7_value_residual(v, f, g); });
  }
  void rwkv7_bonus_and_gate(const Mat& y, const Mat& r, const Mat& k, const Mat& v, const float* r_k, const Mat& g,
                            int64_t H, int64_t N) override {
    op([=, this] { b_->rwkv7_bonus_and_gate(y, r, k, v, r_k, g, H, N); });
  }
  void wkv7(const Wkv7Args& a) override { op([=, this] { b_->wkv7(a); }); }
  void wkv56(const Wkv56Args& a) override { op([=, this] { b_->wkv56(a); }); }
  void row_vecmat(const Mat& u, const Mat& m, const Mat& z) override { op([=, this] { b_->row_vecmat(u, m, z); }); }
  void dea_attention(const DeaAttention& a) override { op([=, this] { b_->dea_attention(a); }); }

  // ---- recorded steps, with the CUDA backend's policy (kernels/cuda/step_graphs.h) ----
  bool records_steps() const override { return true; }
  StepMode begin_step(std::span<const void* const> key, std::span<const int32_t> ids) override {
    if (capturing_) throw Error("replay backend: begin_step while a step is being recorded");
    ++steps_;
    const auto recorded = std::find_if(steps_kept_.begin(), steps_kept_.end(), [&](const auto& s) { return same(key, s.first); });
    if (recorded == steps_kept_.end()) {
      const auto seen = std::find_if(seen_.begin(), seen_.end(), [&](const Key& k) { return same(key, k); });
      if (seen == seen_.end()) {
        if (seen_.size() >= kMaxKept) seen_.erase(seen_.begin());
        seen_.emplace_back(key.begin(), key.end());
        return StepMode::Eager;
      }
      seen_.erase(seen);
    }
    staged_ids_.assign(ids.begin(), ids.end());
    if (recorded != steps_kept_.end()) {
      for (const auto& f : recorded->second) f();
      ++replayed_;
      return StepMode::Replayed;
    }
    host_ids_ = ids;
    capture_key_.assign(key.begin(), key.end());
    recording_.clear();
    capturing_ = true;
    return StepMode::Capturing;
  }
  bool end_step(std::span<const void* const> key_after) override {
    if (!capturing_) throw Error("replay backend: end_step without a step being recorded");
    capturing_ = false;
    host_ids_ = {};
    for (const auto& f : recording_) f();  // the recorded step has not run yet
    if (same(key_after, capture_key_)) {
      if (steps_kept_.size() >= kMaxKept) steps_kept_.clear();
      steps_kept_.emplace_back(capture_key_, std::move(recording_));
    }
    recording_.clear();
    release_deferred();
    return true;
  }
  void abort_step() override {
    capturing_ = false;
    host_ids_ = {};
    recording_.clear();
    release_deferred();
  }

 private:
  static constexpr size_t kMaxKept = 8;

  template <typename F>
  void op(F&& f) {
    if (capturing_) recording_.emplace_back(std::forward<F>(f));
    else f();
  }
  void not_while_recording(const char* what) const {
    if (capturing_) throw Error("replay backend: {} inside a recorded step", what);
  }
  void release_deferred() {
    for (float* p : deferred_) b_->free(p);
    deferred_.clear();
  }

  std::unique_ptr<Backend> b_;
  bool capturing_ = false;
  std::span<const int32_t> host_ids_;   // the span a recorded step's embeddings must be given
  std::vector<int32_t> staged_ids_;     // the current step's ids, read by recorded embeddings
  std::vector<std::function<void()>> recording_;
  Key capture_key_;
  std::vector<std::pair<Key, std::vector<std::function<void()>>>> steps_kept_;
  std::vector<Key> seen_;
  std::vector<float*> deferred_;
  int64_t steps_ = 0, replayed_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_replay_backend(std::unique_ptr<Backend> inner) {
  return std::make_unique<ReplayBackend>(std::move(inner));
}

}  // namespace rwkv
