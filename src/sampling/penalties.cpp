#include "sampling/penalties.h"

#include <algorithm>

namespace rwkv::sampling {

Penalties::Penalties(const SamplerConfig& config, int32_t vocab_size)
    : presence_(config.alpha_presence),
      frequency_(config.alpha_frequency),
      decay_(config.alpha_decay),
      repeat_penalty_(config.repeat_penalty),
      repeat_last_n_(config.repeat_penalty == 1.0f ? 0 : static_cast<size_t>(config.repeat_last_n)),
      counting_(config.alpha_presence != 0.0f || config.alpha_frequency != 0.0f),
      counts_(static_cast<size_t>(vocab_size), 0.0f) {}

void Penalties::apply(std::span<float> logits) const {
  if (!window_.empty()) {
    // Each distinct token once, as the seed does (a token seen twice is not penalised twice).
    std::vector<int32_t> distinct(window_.begin(), window_.end());
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    for (const int32_t t : distinct) {
      float& logit = logits[static_cast<size_t>(t)];
      logit = logit >= 0.0f ? logit / repeat_penalty_ : logit * repeat_penalty_;
    }
  }
  for (const int32_t t : active_) {
    const size_t i = static_cast<size_t>(t);
    logits[i] -= presence_ + frequency_ * counts_[i];
  }
}

void Penalties::accept(int32_t token) {
  if (counting_) {
    for (size_t j = 0; j < active_.size();) {
      float& c = counts_[static_cast<size_t>(active_[j])];
      c *= decay_;
      if (c == 0.0f) {
        active_[j] = active_.back();
        active_.pop_back();
      } else {
        ++j;
      }
    }
    float& c = counts_[static_cast<size_t>(token)];
    if (c == 0.0f) active_.push_back(token);
    c += 1.0f;
  }
  if (repeat_last_n_ > 0) {
    window_.push_back(token);
    if (window_.size() > repeat_last_n_) window_.pop_front();
  }
}

void Penalties::clear() {
  for (const int32_t t : active_) counts_[static_cast<size_t>(t)] = 0.0f;
  active_.clear();
  window_.clear();
}

}  // namespace rwkv::sampling
