// SamplerConfig: the seed's presets and the validation of values that come from flags.
#include <cmath>

#include "rwkv/sampler.h"
#include "util/error.h"

namespace rwkv {

SamplerConfig SamplerConfig::chat() {
  SamplerConfig c;
  apply_preset(c, SamplerPreset::chat);
  return c;
}

SamplerConfig SamplerConfig::creative() {
  SamplerConfig c;
  apply_preset(c, SamplerPreset::creative);
  return c;
}

void SamplerConfig::validate() const {
  // Written as !(good) so that NaN fails every check.
  if (!(std::isfinite(temperature) && temperature >= 0))
    throw UsageError("--temperature must be a finite number >= 0 (0 = greedy), got {}", temperature);
  if (!(top_p > 0 && top_p <= 1))
    throw UsageError("--top-p must be in (0, 1] (1 = off), got {}", top_p);
  if (top_k < 0) throw UsageError("--top-k must be >= 0 (0 = off), got {}", top_k);
  if (!std::isfinite(alpha_presence))
    throw UsageError("--alpha-presence must be a finite number, got {}", alpha_presence);
  if (!std::isfinite(alpha_frequency))
    throw UsageError("--alpha-frequency must be a finite number, got {}", alpha_frequency);
  if (!(alpha_decay >= 0 && alpha_decay <= 1))
    throw UsageError("--alpha-decay must be in [0, 1], got {}", alpha_decay);
  if (!(std::isfinite(repeat_penalty) && repeat_penalty > 0))
    throw UsageError("--repeat-penalty must be a finite number > 0 (1 = off), got {}", repeat_penalty);
  if (repeat_last_n < 0) throw UsageError("--repeat-last-n must be >= 0, got {}", repeat_last_n);
}

SamplerPreset parse_sampler_preset(std::string_view name) {
  if (name == "chat") return SamplerPreset::chat;
  if (name == "creative") return SamplerPreset::creative;
  throw UsageError("--preset: unknown preset '{}' (valid: chat, creative)", name);
}

void apply_preset(SamplerConfig& config, SamplerPreset preset) {
  switch (preset) {
    case SamplerPreset::chat:
      config.temperature = 1.0;
      config.top_p = 0.5;
      config.alpha_presence = 2.0f;
      config.alpha_frequency = 0.1f;
      config.alpha_decay = 0.99f;
      return;
    case SamplerPreset::creative:
      config.temperature = 0.6;
      config.top_p = 0.7;
      config.alpha_presence = 2.0f;
      config.alpha_frequency = 0.2f;
      config.alpha_decay = 0.99f;
      return;
  }
}

}  // namespace rwkv
