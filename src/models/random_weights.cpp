#include "models/random_weights.h"

#include <cmath>
#include <cstring>
#include <string_view>

namespace rwkv {

namespace {

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t hash_name(std::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// A fast approximately normal value: the sum of four uniforms, scaled to unit variance.
struct Rng {
  uint64_t state;
  float uniform() { return static_cast<float>(splitmix64(state) >> 40) * (1.0f / 16777216.0f); }
  float normal() { return (uniform() + uniform() + uniform() + uniform() - 2.0f) * 1.7320508f; }
  float range(float lo, float hi) { return lo + (hi - lo) * uniform(); }
};

// Inputs per output of a projection: Linear weights are (out, in); the official code's right
// factors (x @ W) are (in, out); v6 time_maa_w2 is (5, r, C) with r inputs.
int64_t fan_in(const TensorSpec& t) {
  if (t.name.size() > 7 && t.name.compare(t.name.size() - 7, 7, ".weight") == 0) return t.shape.back();
  if (t.shape.size() == 3) return t.shape[1];
  return t.shape[0];
}

float sample(const TensorSpec& t, Rng& rng, float scale) {
  switch (t.role) {
    case TensorRole::Embedding: return rng.normal();
    case TensorRole::Matrix: return rng.normal() * scale;
    case TensorRole::LayerNormGain: return rng.range(0.9f, 1.1f);
    case TensorRole::LayerNormBias: return rng.range(-0.05f, 0.05f);
    case TensorRole::Mix: return rng.uniform();
    case TensorRole::DecayBase: return rng.range(-6.0f, 1.0f);
    case TensorRole::Small: return rng.range(-0.1f, 0.1f);
    case TensorRole::Unit: return rng.range(0.8f, 1.2f);
  }
  return 0.0f;
}

}  // namespace

std::vector<TensorSource> random_checkpoint(const HParams& hp, DType dtype, uint64_t seed) {
  std::vector<TensorSource> out;
  for (const TensorSpec& spec : official_layout(hp)) {
    out.push_back({spec.name, dtype, spec.shape, [spec, dtype, seed](std::span<std::byte> dst) {
                     Rng rng{hash_name(spec.name, seed)};
                     const float scale = 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(fan_in(spec), 1)));
                     const size_t n = dst.size() / static_cast<size_t>(dtype_block_bytes(dtype));
                     for (size_t i = 0; i < n; ++i) {
                       const float f = sample(spec, rng, scale);
                       if (dtype == DType::F32) {
                         std::memcpy(dst.data() + 4 * i, &f, 4);
                       } else {
                         const uint16_t h = dtype == DType::BF16 ? f32_to_bf16(f) : f32_to_f16(f);
                         std::memcpy(dst.data() + 2 * i, &h, 2);
                       }
                     }
                   }});
  }
  return out;
}

}  // namespace rwkv
