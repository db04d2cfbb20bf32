// The numeric core of sampling: logits -> unnormalised probabilities -> top-k / top-p selection ->
// one weighted draw. Kept apart from the Sampler (penalties, generator, configuration) so that the
// tests can check the selection exactly, not only statistically.
//
// Every step is a deterministic function of its inputs on every platform (see simd.h), so a seed
// and a logits vector give the same token everywhere.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace rwkv::sampling {

// e^x for x <= 0, to within ~1 ulp (relative error below 1.2e-7), and exactly 1 at x = 0.
// Results below ~1e-38 (x below about -87.7) are 0. Written with + and * only, in a file compiled
// with -ffp-contract=off, so that it gives the same bits on every IEEE-754 platform (libm's expf
// does not promise that); simd.cpp has its vector twin.
float portable_exp(float x);

// The largest logit. Throws rwkv::Error when a logit is NaN or +inf, or when all are -inf.
float checked_max(std::span<const float> logits);

// The index of the first largest logit (greedy sampling).
int32_t first_argmax(std::span<const float> logits, float max_logit);

// A distribution over token ids, built anew for every sampled token; its buffers are reused.
class Distribution {
 public:
  // Weights w[i] = e^((logits[i] - max_logit) * inv_temperature): the softmax before normalising.
  // The most likely token has weight exactly 1. Keeps every token until restrict().
  void set_logits(std::span<const float> logits, float max_logit, float inv_temperature);

  // Orders the tokens by (weight descending, id ascending) and keeps the first top_k of them, and
  // of those the shortest prefix that reaches top_p * total(): a token is kept while the weight
  // of the tokens before it is below that. top_k = 0 (or >= size) and top_p >= 1 keep everything.
  // Ties go to the lower id, as in the seed (a stable sort by probability).
  void restrict(int top_k, double top_p);

  // The token whose interval of cumulative kept weight (kept tokens in id order) contains
  // u * kept_weight(); u in [0, 1).
  int32_t draw(double u) const;

  std::span<const float> weights() const { return w_; }
  double total() const { return total_; }
  // True when restrict() kept every token; otherwise kept() lists them in increasing id order.
  bool keeps_all() const { return keep_all_; }
  std::span<const int32_t> kept() const { return kept_; }
  double kept_weight() const { return keep_all_ ? total_ : kept_weight_; }

 private:
  int32_t draw_all(double target) const;
  int32_t draw_kept(double target) const;
  // Collects the ids of weight >= threshold, in id order (see candidates()).
  void collect(float threshold);
  // Among candidates(), the smallest key that restrict() keeps (see key() in the .cpp), and the
  // weight of all kept; false when the candidates run out before top_k tokens or top_p of the mass
  // are reached.
  bool boundary(size_t k, double mass_limit, uint64_t* boundary_key, double* kept_mass);

  static constexpr size_t kBlock = 256;  // block sums let a draw over all tokens skip ahead
  std::vector<float> w_;
  std::vector<double> block_sum_;
  double total_ = 0;
  bool keep_all_ = true;
  // The ids collect() found are the first candidate_count_ (the buffer only grows: resizing it
  // down and up again would zero it every time).
  std::vector<int32_t> candidate_buffer_;
  size_t candidate_count_ = 0;
  std::span<const int32_t> candidates() const { return {candidate_buffer_.data(), candidate_count_}; }
  std::vector<uint64_t> keys_, key_scratch_;
  std::vector<int32_t> kept_;
  double kept_weight_ = 0;
};

}  // namespace rwkv::sampling
