// The penalty history of a generation: RWKV occurrence counts with decay (the seed's v7 path) and
// the window of recent tokens for the multiplicative repeat penalty (the seed's v5/v6 path).
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "rwkv/sampler.h"

namespace rwkv::sampling {

class Penalties {
 public:
  Penalties(const SamplerConfig& config, int32_t vocab_size);

  // Repeat penalty on the distinct tokens of the window, then presence/frequency on every token
  // with a count above 0. Both in float, the seed's arithmetic.
  void apply(std::span<float> logits) const;
  // Decays every count, counts `token` (which the caller has range-checked), updates the window.
  void accept(int32_t token);
  float count(int32_t token) const { return counts_[static_cast<size_t>(token)]; }
  void clear();

 private:
  float presence_, frequency_, decay_, repeat_penalty_;
  size_t repeat_last_n_;
  bool counting_;  // false when presence and frequency are 0: the counts would change nothing
  // Dense counts, plus the ids whose count is above 0, so that decaying and applying cost the
  // number of distinct recent tokens, not the vocabulary size. Counts reach exactly 0 only by
  // underflow (about 10,000 steps at decay 0.99) or with decay 0; such ids leave the list.
  std::vector<float> counts_;
  std::vector<int32_t> active_;
  std::deque<int32_t> window_;  // the last repeat_last_n accepted tokens
};

}  // namespace rwkv::sampling
