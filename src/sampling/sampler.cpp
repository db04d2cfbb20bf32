// The Sampler: penalties, then temperature, top-k and top-p, then one draw.
//
// Order of temperature and top-p. The official RWKV sampler (ChatRWKV PIPELINE.sample_logits)
// cuts the nucleus on the UNTEMPERED probabilities and then raises the kept ones to 1/temperature;
// the seed (candle's LogitsProcessor) divides the logits by the temperature first and cuts the
// nucleus on the TEMPERED distribution. We follow the seed: the CLI is specified to behave as the
// candle rwkv example, its presets (e.g. creative: temperature 0.6, top-p 0.7) were chosen for
// that example, and with the chat preset (temperature 1) both orders agree anyway. With
// temperature < 1 the seed's order keeps fewer tokens than the official one would.
//
// top-k is applied before top-p, and top-p still measures against the whole distribution (not the
// renormalised top k), as candle's TopKThenTopP does. candle's CLI does not expose top-k.
#include <cmath>

#include "rwkv/sampler.h"
#include "sampling/distribution.h"
#include "sampling/penalties.h"
#include "sampling/rng.h"
#include "util/error.h"

namespace rwkv {

namespace {
// Below this the seed samples greedily (candle's LogitsProcessor::new turns it into ArgMax).
constexpr double kGreedyTemperature = 1e-7;
}  // namespace

struct Sampler::Impl {
  Impl(const SamplerConfig& c, int32_t vocab)
      : config(c), vocab_size(vocab), rng(c.seed), penalties(c, vocab) {}
  SamplerConfig config;
  int32_t vocab_size;
  sampling::Xoshiro256ss rng;
  sampling::Penalties penalties;
  sampling::Distribution distribution;  // scratch buffers, reused for every token
};

Sampler::Sampler(const SamplerConfig& config, int32_t vocab_size) {
  config.validate();
  if (vocab_size <= 0) throw Error("sampler: the vocabulary size must be positive, got {}", vocab_size);
  impl_ = std::make_unique<Impl>(config, vocab_size);
}

Sampler::~Sampler() = default;
Sampler::Sampler(const Sampler& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
Sampler& Sampler::operator=(const Sampler& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}
Sampler::Sampler(Sampler&&) noexcept = default;
Sampler& Sampler::operator=(Sampler&&) noexcept = default;

int32_t Sampler::sample(std::span<float> logits) {
  Impl& s = *impl_;
  if (logits.size() != static_cast<size_t>(s.vocab_size))
    throw Error("sampler: got {} logits, expected {} (the vocabulary size)", logits.size(), s.vocab_size);
  s.penalties.apply(logits);
  const float max_logit = sampling::checked_max(logits);
  if (s.config.temperature < kGreedyTemperature) return sampling::first_argmax(logits, max_logit);
  s.distribution.set_logits(logits, max_logit, static_cast<float>(1.0 / s.config.temperature));
  s.distribution.restrict(s.config.top_k, s.config.top_p);
  return s.distribution.draw(s.rng.uniform());
}

void Sampler::accept(int32_t token) {
  if (token < 0 || token >= impl_->vocab_size)
    throw Error("sampler: token {} is outside the vocabulary [0, {})", token, impl_->vocab_size);
  impl_->penalties.accept(token);
}

void Sampler::apply_penalties(std::span<float> logits) const {
  if (logits.size() != static_cast<size_t>(impl_->vocab_size))
    throw Error("sampler: got {} logits, expected {} (the vocabulary size)", logits.size(), impl_->vocab_size);
  impl_->penalties.apply(logits);
}

float Sampler::occurrence(int32_t token) const {
  if (token < 0 || token >= impl_->vocab_size) return 0.0f;
  return impl_->penalties.count(token);
}

void Sampler::clear_history() { impl_->penalties.clear(); }

void Sampler::reset() {
  impl_->penalties.clear();
  impl_->rng = sampling::Xoshiro256ss(impl_->config.seed);
}

const SamplerConfig& Sampler::config() const { return impl_->config; }
int32_t Sampler::vocab_size() const { return impl_->vocab_size; }

}  // namespace rwkv
