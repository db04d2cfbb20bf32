// RWKV-6 "Finch" (arXiv:2404.05892, "Eagle and Finch"), as the official code runs it
// (ChatRWKV rwkv_pip_package model.py, att_one_v6_0 / att_seq_v6_0 and ffn_one_v6 / ffn_seq_v6).
//
// Per layer, for a chunk of T tokens (x = the residual stream, [T][C]):
//   x = x + TimeMix(LN1(x))
//   x = x + ChannelMix(LN2(x))
//
// TimeMix, H heads of size N (C = H N); d = x_prev - x, the token-shift difference:
//   data-dependent token shift ("ddlerp"), low-rank maps A_m (C, D_mix), B_m (D_mix, C):
//     x_x = x + d * maa_x
//     x_m = x + d * (maa_m + tanh(x_x A_m) B_m)              for m in w, k, v, r, g
//   r = W_r x_r    k = W_k x_k    v = W_v x_v    g = silu(W_g x_g)
//   w = exp(-exp(time_decay + tanh(x_w D_1) D_2))          a decay per channel AND per token
//   u = time_faaaa                                           the "bonus" of the current token
//   per head, with the state S [N key][N value]:
//     y = r (S + diag(u) k^T v) ;  S = diag(w) S + k^T v
//   out = W_o (GroupNorm_H(y) * g)          (GroupNorm eps 64e-5, as the official ln_x)
// ChannelMix: x_k = x + d * maa_k, x_r likewise ; out = sigmoid(W_r x_r) * W_v relu(W_k x_k)^2
//
// The low-rank widths D_mix (time_maa_w1 is (C, 5 D_mix)) and D_decay come from the tensors.
#include <fmt/format.h>

#include "models/architectures.h"
#include "models/blocks.h"
#include "models/model_base.h"
#include "util/error.h"

namespace rwkv {

namespace {

// The five data-dependent mixes, in the order of time_maa_w1's column blocks and time_maa_w2.
enum Mix { kMixW, kMixK, kMixV, kMixR, kMixG, kMixCount };
constexpr const char* kMixName[kMixCount] = {"w", "k", "v", "r", "g"};

struct TimeMixWeights {
  const float *ln1_g, *ln1_b;
  const float* maa_x;              // the first, static mix that feeds the low-rank maps
  const float* maa[kMixCount];     // static part of each mix
  Lora maa_lora[kMixCount];        // tanh(x_x A_m) B_m
  const float* time_decay;         // [C], the static part of the log-log decay
  Lora decay_lora;                 // tanh(x_w D_1) D_2
  Wkv56Weights wkv;                // r, k, v, g projections, bonus u, ln_x, output
};

struct LayerWeights {
  TimeMixWeights att;
  GatedChannelMixWeights ffn;
};

enum Slot {
  kXx = kFirstArchSlot, kXw, kXk, kXv, kXr, kXg, kR, kK, kV, kG, kW, kY, kLoraHidden,
  kMaaHidden,  // kMixCount slots from here: tanh(x_x A_m) of each mix
};

class Rwkv6Model final : public ModelBase {
 public:
  Rwkv6Model(TensorMap t, const HParams& hp, const ModelOptions& options) : ModelBase(std::move(t), hp, options) {
    for (int64_t i = 0; i < hp_.n_layer; ++i) layers_.push_back(bind_layer(i));
  }

  State new_state() const override { return State(zero_state()); }

 protected:
  void forward_layers(std::span<const int32_t> ids, const Mat& x, State::Impl& s) override {
    for (int64_t i = 0; i < hp_.n_layer; ++i) {
      const LayerWeights& L = layers_[static_cast<size_t>(i)];
      LayerState& st = s.layers[static_cast<size_t>(i)];
      time_mix(L.att, x, st);                                          // x += TimeMix(LN1(x))
      gated_channel_mix(ops_, ws_, L.ffn, x, st.ffn_shift.data());  // x += ChannelMix(LN2(x))
    }
  }

 private:
  LayerWeights bind_layer(int64_t i) {
    const int64_t C = hp_.n_embd, H = hp_.n_head, N = hp_.head_size, Dm = hp_.lora_mix, Dd = hp_.lora_decay;
    const std::string b = fmt::format("blocks.{}.", i), a = b + "att.";
    auto& w = weights_;
    LayerWeights L;
    TimeMixWeights& t = L.att;
    t.ln1_g = w.vector(b + "ln1.weight", C);
    t.ln1_b = w.vector(b + "ln1.bias", C);
    t.maa_x = w.vector(a + "time_maa_x", C);
    // time_maa_w1 (C, 5 Dm) holds the five A_m side by side; time_maa_w2 (5, Dm, C) the five B_m.
    const WeightMatrix down_all = w.right_factor(a + "time_maa_w1", C, kMixCount * Dm);
    const std::vector<WeightMatrix> up = w.right_factors(a + "time_maa_w2", kMixCount, Dm, C);
    for (int m = 0; m < kMixCount; ++m) {
      t.maa[m] = w.vector(a + "time_maa_" + kMixName[m], C);
      t.maa_lora[m] = Lora{down_all.row_range(m * Dm, Dm), up[static_cast<size_t>(m)]};
    }
    t.time_decay = w.vector(a + "time_decay", C);
    t.decay_lora = bind_lora(w, a + "time_decay_w1", a + "time_decay_w2", C, Dd, C);
    t.wkv = bind_wkv56(w, i, C, H, N);
    L.ffn = bind_gated_channel_mix(w, i, C, hp_.dim_ffn, MixConvention::Rwkv6);
    return L;
  }

  // mixed_m = x + d * (mu_m + tanh(x_x A_m) B_m) for the five mixes: the five A_m products as one
  // batch, then the five B_m (independent products a backend may run together).
  void data_dependent_mixes(const TimeMixWeights& W, const Mat& xn, const Mat& delta, const Mat& xx,
                            const Mat (&mixed)[kMixCount]) {
    Backend::Product down[kMixCount], up[kMixCount];
    for (int m = 0; m < kMixCount; ++m) {
      const Mat h = ws_.get(kMaaHidden + m, xx.rows, W.maa_lora[m].down.rows);
      down[m] = {W.maa_lora[m].down, xx, h, Activation::Tanh};  // tanh(x_x A_m)
      up[m] = {W.maa_lora[m].up, h, mixed[m]};                   // ... B_m
    }
    ops_.matmul_batch(down);
    ops_.matmul_batch(up);
    for (int m = 0; m < kMixCount; ++m) {
      ops_.activate(mixed[m], Activation::Identity, W.maa[m]);  // + mu_m
      ops_.mul(mixed[m], delta);                                 // * d
      ops_.add(mixed[m], xn);                                    // + x
    }
  }

  void time_mix(const TimeMixWeights& W, const Mat& x, LayerState& st) {
    const int64_t T = x.rows, C = hp_.n_embd, H = hp_.n_head, N = hp_.head_size;
    auto buf = [&](int slot) { return ws_.get(slot, T, C); };
    const Mat xn = buf(kBlockXn), delta = buf(kBlockDelta), xx = buf(kXx);
    const Mat mixed[kMixCount] = {buf(kXw), buf(kXk), buf(kXv), buf(kXr), buf(kXg)};
    const Mat r = buf(kR), k = buf(kK), v = buf(kV), g = buf(kG), w = buf(kW), y = buf(kY);

    // 1. Normalise, then token-shift with data-dependent mixes: a static mix x_x picks, through
    //    five low-rank maps, how much of the last token each of w, k, v, r, g takes.
    ops_.layer_norm(x, xn, W.ln1_g, W.ln1_b, kLayerNormEps);
    const float* const mix[] = {W.maa_x};
    const Mat mixed_x[] = {xx};
    ops_.token_shift_mix(xn, st.att_shift.data(), delta, mix, mixed_x);
    data_dependent_mixes(W, xn, delta, xx, mixed);

    // 2. Receptance, key, value and the output gate g = silu(W_g x_g).
    receptance_key_value_gate(ops_, W.wkv, mixed[kMixR], mixed[kMixK], mixed[kMixV], mixed[kMixG], r, k, v, g);

    // 3. The decay of each channel for each token: w = exp(-exp(time_decay + tanh(x_w D_1) D_2)).
    lora(ops_, ws_, kLoraHidden, W.decay_lora, mixed[kMixW], Activation::Tanh, w);
    ops_.activate(w, Activation::ExpNegExp, W.time_decay);

    // 4. The WKV recurrence over the chunk, per head, with the per-token decay w and bonus u.
    ops_.wkv56({r.data, k.data, v.data, w.data, W.wkv.bonus, /*w_per_token=*/true, y.data, st.wkv.data(), T, H, N});

    // 5. Per-head GroupNorm, the gate, the output projection: x += W_o (GroupNorm(y) * g).
    gated_output(ops_, W.wkv, H, y, g, x);
  }

  std::vector<LayerWeights> layers_;
};

// Dimension i of a tensor, with a clear error when it has fewer dimensions.
int64_t dim(const TensorMap& t, const std::string& name, int i, std::string_view meaning) {
  const TensorView& v = t.get(name);
  if (static_cast<int>(v.shape.size()) <= i)
    throw Error("{}: tensor '{}' has shape {}, expected {}", t.source(), name, shape_str(v.shape), meaning);
  return v.shape[static_cast<size_t>(i)];
}

}  // namespace

HParams rwkv6_hparams(const TensorMap& t) {
  HParams hp;
  hp.arch = Arch::Rwkv6;
  hp.n_layer = count_layers(t);
  hp.vocab = dim(t, "emb.weight", 0, "(vocab, n_embd)");
  hp.n_embd = dim(t, "emb.weight", 1, "(vocab, n_embd)");
  // time_faaaa is (H, N): the head count and size, as the official code reads them.
  hp.n_head = dim(t, "blocks.0.att.time_faaaa", 0, "(heads, head_size)");
  hp.head_size = dim(t, "blocks.0.att.time_faaaa", 1, "(heads, head_size)");
  if (hp.n_head * hp.head_size != hp.n_embd)
    throw Error("{}: blocks.0.att.time_faaaa is ({}, {}) but n_embd is {}: heads x head size must equal n_embd",
                t.source(), hp.n_head, hp.head_size, hp.n_embd);
  hp.dim_ffn = dim(t, "blocks.0.ffn.key.weight", 0, "(dim_ffn, n_embd)");
  const int64_t mix_width = dim(t, "blocks.0.att.time_maa_w1", 1, "(n_embd, 5 x D_mix)");
  if (mix_width % kMixCount != 0 || mix_width == 0)
    throw Error("{}: tensor 'blocks.0.att.time_maa_w1' has shape {}: its width {} is not 5 x the mix rank",
                t.source(), shape_str(t.get("blocks.0.att.time_maa_w1").shape), mix_width);
  hp.lora_mix = mix_width / kMixCount;
  hp.lora_decay = dim(t, "blocks.0.att.time_decay_w1", 1, "(n_embd, D_decay)");
  return hp;
}

std::unique_ptr<Model> make_rwkv6(TensorMap t, const HParams& hp, const ModelOptions& options) {
  return std::make_unique<Rwkv6Model>(std::move(t), hp, options);
}

}  // namespace rwkv
