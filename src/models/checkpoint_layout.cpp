#include "models/checkpoint_layout.h"

#include <cmath>

#include "util/error.h"

namespace rwkv {

namespace {

// RWKV-7 LoRA ranks as the official trainer sizes them: max(32, round(f * C^p / 32) * 32).
int64_t lora_rank(double factor, double power, int64_t C) {
  const double r = std::round(factor * std::pow(static_cast<double>(C), power) / 32.0) * 32.0;
  return std::max<int64_t>(32, static_cast<int64_t>(r));
}

// RWKV-5/6 FFN width: int(C * 3.5) rounded down to a multiple of 32.
int64_t ffn_v56(int64_t C) { return static_cast<int64_t>(C * 3.5) / 32 * 32; }

struct Size {
  const char* name;
  int64_t n_layer, n_embd;
};
constexpr Size kSizes[] = {{"0.1b", 12, 768},  {"0.4b", 24, 1024}, {"1.5b", 24, 2048},
                           {"2.9b", 32, 2560}, {"7.2b", 32, 4096}, {"13.3b", 61, 4096}};

void add_layer_norm(std::vector<TensorSpec>& t, const std::string& prefix, int64_t n) {
  t.push_back({prefix + ".weight", {n}, TensorRole::LayerNormGain});
  t.push_back({prefix + ".bias", {n}, TensorRole::LayerNormBias});
}

void rwkv7_layer(std::vector<TensorSpec>& t, const HParams& hp, int64_t i) {
  const int64_t C = hp.n_embd, H = hp.n_head, N = hp.head_size, F = hp.dim_ffn;
  const std::string b = "blocks." + std::to_string(i) + ".", a = b + "att.", f = b + "ffn.";
  const Shape vec{1, 1, C};
  for (const char* m : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"}) t.push_back({a + m, vec, TensorRole::Mix});
  t.push_back({a + "w0", vec, TensorRole::DecayBase});
  t.push_back({a + "r_k", {H, N}, TensorRole::Small});
  t.push_back({a + "w1", {C, hp.lora_decay}, TensorRole::Matrix});
  t.push_back({a + "w2", {hp.lora_decay, C}, TensorRole::Matrix});
  t.push_back({a + "a1", {C, hp.lora_iclr}, TensorRole::Matrix});
  t.push_back({a + "a2", {hp.lora_iclr, C}, TensorRole::Matrix});
  t.push_back({a + "a0", vec, TensorRole::Small});
  t.push_back({a + "g1", {C, hp.lora_gate}, TensorRole::Matrix});
  t.push_back({a + "g2", {hp.lora_gate, C}, TensorRole::Matrix});
  if (i > 0) {  // layer 0 has no value residual; released files omit v0/v1/v2 there
    t.push_back({a + "v2", {hp.lora_value, C}, TensorRole::Matrix});
    t.push_back({a + "v1", {C, hp.lora_value}, TensorRole::Matrix});
    t.push_back({a + "v0", vec, TensorRole::Small});
  }
  t.push_back({a + "k_k", vec, TensorRole::Unit});
  t.push_back({a + "k_a", vec, TensorRole::Unit});
  for (const char* m : {"receptance", "key", "value", "output"})
    t.push_back({a + m + ".weight", {C, C}, TensorRole::Matrix});
  add_layer_norm(t, a + "ln_x", C);
  t.push_back({f + "x_k", vec, TensorRole::Mix});
  t.push_back({f + "key.weight", {F, C}, TensorRole::Matrix});
  t.push_back({f + "value.weight", {C, F}, TensorRole::Matrix});
  if (hp.arch == Arch::Rwkv7a || hp.arch == Arch::Rwkv7b) {
    const int64_t D = hp.deep_embed_dim, r = hp.deep_embed_rank;
    t.push_back({f + "s_emb.weight", {hp.vocab, D}, TensorRole::Embedding});
    t.push_back({f + "s_emb_x.weight", {D, C}, TensorRole::Matrix});
    t.push_back({f + "s1", {C, r}, TensorRole::Matrix});
    t.push_back({f + "s2", {r, F}, TensorRole::Matrix});
    t.push_back({f + "s0", {1, 1, F}, TensorRole::Unit});
  }
  if (hp.arch == Arch::Rwkv7b) {
    const std::string q = b + "qkv.";
    const int64_t D = hp.dea_qk_dim, r = hp.dea_kv_rank;
    t.push_back({q + "qq.weight", {D, C}, TensorRole::Matrix});
    t.push_back({q + "k1", {C, r}, TensorRole::Matrix});
    t.push_back({q + "k2", {r, D}, TensorRole::Matrix});
    t.push_back({q + "k_emb.weight", {hp.vocab, D}, TensorRole::Embedding});
    t.push_back({q + "k_emb_x.weight", {D, C}, TensorRole::Matrix});
    t.push_back({q + "v1", {C, r}, TensorRole::Matrix});
    t.push_back({q + "v2", {r, C}, TensorRole::Matrix});
    t.push_back({q + "v_emb.weight", {hp.vocab, C}, TensorRole::Embedding});
    t.push_back({q + "v_emb_x.weight", {C, C}, TensorRole::Matrix});
    t.push_back({q + "x_q", {1, 1, D}, TensorRole::Mix});
    t.push_back({q + "x_k", {1, 1, D}, TensorRole::Mix});
    t.push_back({q + "x_v", {1, 1, C}, TensorRole::Mix});
    add_layer_norm(t, q + "lnq", D);
    add_layer_norm(t, q + "lnk", D);
    add_layer_norm(t, q + "lnv", C);
  }
}

void rwkv6_layer(std::vector<TensorSpec>& t, const HParams& hp, int64_t i) {
  const int64_t C = hp.n_embd, H = hp.n_head, N = hp.head_size, F = hp.dim_ffn;
  const std::string b = "blocks." + std::to_string(i) + ".", a = b + "att.", f = b + "ffn.";
  const Shape vec{1, 1, C};
  for (const char* m : {"time_maa_x", "time_maa_w", "time_maa_k", "time_maa_v", "time_maa_r", "time_maa_g"})
    t.push_back({a + m, vec, TensorRole::Mix});
  t.push_back({a + "time_maa_w1", {C, 5 * hp.lora_mix}, TensorRole::Matrix});
  t.push_back({a + "time_maa_w2", {5, hp.lora_mix, C}, TensorRole::Matrix});
  t.push_back({a + "time_decay", vec, TensorRole::DecayBase});
  t.push_back({a + "time_decay_w1", {C, hp.lora_decay}, TensorRole::Matrix});
  t.push_back({a + "time_decay_w2", {hp.lora_decay, C}, TensorRole::Matrix});
  t.push_back({a + "time_faaaa", {H, N}, TensorRole::Small});
  for (const char* m : {"receptance", "key", "value", "output", "gate"})
    t.push_back({a + m + ".weight", {C, C}, TensorRole::Matrix});
  add_layer_norm(t, a + "ln_x", C);
  t.push_back({f + "time_maa_k", vec, TensorRole::Mix});
  t.push_back({f + "time_maa_r", vec, TensorRole::Mix});
  t.push_back({f + "key.weight", {F, C}, TensorRole::Matrix});
  t.push_back({f + "receptance.weight", {C, C}, TensorRole::Matrix});
  t.push_back({f + "value.weight", {C, F}, TensorRole::Matrix});
}

void rwkv5_layer(std::vector<TensorSpec>& t, const HParams& hp, int64_t i) {
  const int64_t C = hp.n_embd, H = hp.n_head, N = hp.head_size, F = hp.dim_ffn;
  const std::string b = "blocks." + std::to_string(i) + ".", a = b + "att.", f = b + "ffn.";
  const Shape vec{1, 1, C};
  for (const char* m : {"time_mix_k", "time_mix_v", "time_mix_r", "time_mix_g"}) t.push_back({a + m, vec, TensorRole::Mix});
  t.push_back({a + "time_decay", {H, N}, TensorRole::DecayBase});
  t.push_back({a + "time_faaaa", {H, N}, TensorRole::Small});
  for (const char* m : {"receptance", "key", "value", "output", "gate"})
    t.push_back({a + m + ".weight", {C, C}, TensorRole::Matrix});
  add_layer_norm(t, a + "ln_x", C);
  t.push_back({f + "time_mix_k", vec, TensorRole::Mix});
  t.push_back({f + "time_mix_r", vec, TensorRole::Mix});
  t.push_back({f + "key.weight", {F, C}, TensorRole::Matrix});
  t.push_back({f + "receptance.weight", {C, C}, TensorRole::Matrix});
  t.push_back({f + "value.weight", {C, F}, TensorRole::Matrix});
}

}  // namespace

std::vector<TensorSpec> official_layout(const HParams& hp) {
  std::vector<TensorSpec> t;
  t.push_back({"emb.weight", {hp.vocab, hp.n_embd}, TensorRole::Embedding});
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    if (i == 0) add_layer_norm(t, "blocks.0.ln0", hp.n_embd);
    add_layer_norm(t, "blocks." + std::to_string(i) + ".ln1", hp.n_embd);
    add_layer_norm(t, "blocks." + std::to_string(i) + ".ln2", hp.n_embd);
    switch (hp.arch) {
      case Arch::Rwkv5: rwkv5_layer(t, hp, i); break;
      case Arch::Rwkv6: rwkv6_layer(t, hp, i); break;
      default: rwkv7_layer(t, hp, i); break;
    }
  }
  add_layer_norm(t, "ln_out", hp.n_embd);
  t.push_back({"head.weight", {hp.vocab, hp.n_embd}, TensorRole::Matrix});
  return t;
}

std::vector<std::string> standard_sizes() {
  std::vector<std::string> out;
  for (const Size& s : kSizes) out.push_back(s.name);
  return out;
}

HParams standard_hparams(Arch arch, const std::string& size) {
  const Size* found = nullptr;
  for (const Size& s : kSizes)
    if (size == s.name) found = &s;
  if (!found) throw UsageError("--size: unknown size '{}' (expected 0.1b, 0.4b, 1.5b, 2.9b, 7.2b or 13.3b)", size);
  HParams hp;
  hp.arch = arch;
  hp.n_layer = found->n_layer;
  hp.n_embd = found->n_embd;
  hp.head_size = 64;
  hp.n_head = hp.n_embd / hp.head_size;
  hp.vocab = 65536;
  const int64_t C = hp.n_embd;
  if (arch == Arch::Rwkv5 || arch == Arch::Rwkv6) {
    hp.dim_ffn = ffn_v56(C);
    if (arch == Arch::Rwkv6) {
      hp.lora_mix = C >= 4096 ? 64 : 32;
      hp.lora_decay = C >= 4096 ? 128 : 64;
    }
    return hp;
  }
  hp.dim_ffn = 4 * C;
  hp.lora_decay = lora_rank(1.8, 0.5, C);
  hp.lora_iclr = lora_rank(1.8, 0.5, C);
  hp.lora_value = lora_rank(1.3, 0.5, C);
  hp.lora_gate = lora_rank(0.6, 0.8, C);
  if (arch == Arch::Rwkv7a || arch == Arch::Rwkv7b) {
    hp.deep_embed_rank = 32;
    hp.deep_embed_dim = 32 * 32;
  }
  if (arch == Arch::Rwkv7b) {
    hp.dea_qk_dim = 256;
    hp.dea_kv_rank = 32;
  }
  return hp;
}

}  // namespace rwkv
