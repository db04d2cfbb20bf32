// Token sampling: temperature, top-k, top-p (nucleus), greedy; the RWKV presence/frequency
// penalties with decay (v7) and the multiplicative repeat penalty (v5/v6), from a seeded,
// platform-independent random generator.
//
// Behaviour follows the seed (the candle rwkv example) unless a comment says otherwise:
//  * order per token: repeat penalty, then presence/frequency penalties, then temperature, then
//    top-k, then top-p on the TEMPERED distribution, then one weighted draw (see sampler.cpp for
//    why this order and not the official ChatRWKV one);
//  * the same seed gives the same tokens on every platform for the same logits (the generator is
//    xoshiro256**, the exponential a portable polynomial), but not the same tokens as candle,
//    whose generator (rand's StdRng) is not reproduced.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace rwkv {

struct SamplerConfig {
  // Divides the logits. 0 (in fact anything below 1e-7, as in the seed) means greedy: the token
  // with the highest penalised logit, the lowest id among equals; no random number is drawn.
  double temperature = 1.0;
  // Nucleus: keep the smallest set of most likely tokens whose probability reaches top_p.
  // In (0, 1]; 1 keeps every token.
  double top_p = 0.5;
  // Keep only the top_k most likely tokens (before top_p); 0 = off.
  int top_k = 0;
  // RWKV penalties (seed, v7): a token with a decayed occurrence count c > 0 gets
  // logit -= alpha_presence + alpha_frequency * c. Float, as in the seed, so that the arithmetic
  // is the seed's.
  float alpha_presence = 2.0f;
  float alpha_frequency = 0.1f;
  // Every accepted token multiplies all counts by alpha_decay before counting itself; in [0, 1].
  float alpha_decay = 0.99f;
  uint64_t seed = 299792458;
  // Seed's v5/v6 repeat penalty over the last repeat_last_n accepted tokens (each distinct token
  // once): logit >= 0 ? logit / repeat_penalty : logit * repeat_penalty. 1 = off (the seed's CLI
  // default for v5/v6 is 1.1; the CLI chooses per architecture).
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;

  // Presets of the seed: they set temperature, top_p and the three alpha values only.
  static SamplerConfig chat();      // temperature 1.0, top-p 0.5, presence 2.0, frequency 0.1, decay 0.99
  static SamplerConfig creative();  // temperature 0.6, top-p 0.7, presence 2.0, frequency 0.2, decay 0.99

  // Throws rwkv::UsageError naming the flag (--temperature, --top-p, --top-k, --alpha-presence,
  // --alpha-frequency, --alpha-decay, --repeat-penalty, --repeat-last-n) of the first bad value.
  void validate() const;
};

enum class SamplerPreset { chat, creative };
// "chat" or "creative"; throws rwkv::UsageError naming --preset and the valid names otherwise.
SamplerPreset parse_sampler_preset(std::string_view name);
// Overwrites what the preset sets (temperature, top_p, alpha_*), as the seed does after parsing
// its flags: a preset wins over --temperature and friends.
void apply_preset(SamplerConfig& config, SamplerPreset preset);

// One generation's sampler: the random generator and the penalty history. Not thread-safe; use
// one per conversation/request. Copyable (a copy continues the same random stream).
class Sampler {
 public:
  // Validates `config` (rwkv::UsageError). vocab_size is the length of every logits vector.
  Sampler(const SamplerConfig& config, int32_t vocab_size);
  ~Sampler();
  Sampler(const Sampler&);
  Sampler& operator=(const Sampler&);
  Sampler(Sampler&&) noexcept;
  Sampler& operator=(Sampler&&) noexcept;

  // Applies the penalties to `logits` in place, then chooses a token. Does not record the
  // token: call accept() with it (this keeps the two independent, e.g. for a caller that forces
  // a token). Throws rwkv::Error when logits.size() != vocab_size or a logit is NaN or +inf
  // (-inf is allowed: that token is never chosen), or when every logit is -inf.
  int32_t sample(std::span<float> logits);

  // Records `token` as the newest token of the context: multiplies every occurrence count by
  // alpha_decay, adds 1 to the token's count, and appends it to the repeat-penalty window.
  // The seed calls this for every prompt token too (so the prompt is penalised), then for every
  // sampled token; the official ChatRWKV demos count only generated tokens. No token is exempt, as
  // in the seed and ChatRWKV's chat demo (ChatRWKV's PIPELINE.generate counts space, tab and digit
  // tokens with weight 0). Throws rwkv::Error for a token outside [0, vocab_size).
  void accept(int32_t token);

  // The penalty step of sample() alone (for callers and tests that look at the logits).
  void apply_penalties(std::span<float> logits) const;

  // The decayed occurrence count of `token` (0 when it has not occurred or has decayed to 0).
  float occurrence(int32_t token) const;

  // Forgets the penalty history; the random stream goes on.
  void clear_history();
  // As newly constructed: history forgotten, random generator re-seeded with config().seed.
  void reset();

  const SamplerConfig& config() const;
  int32_t vocab_size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwkv
