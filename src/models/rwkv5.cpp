// RWKV-5.2 "Eagle" (arXiv:2404.05892, "Eagle and Finch"), as the official code runs it
// (ChatRWKV rwkv_pip_package model.py, att_one_v5 / att_seq_v5_2 and ffn_one / ffn_seq).
//
// Per layer, for a chunk of T tokens (x = the residual stream, [T][C]):
//   x = x + TimeMix(LN1(x))
//   x = x + ChannelMix(LN2(x))
//
// TimeMix, H heads of size N (C = H N):
//   token shift  x_m = x * mix_m + x_prev * (1 - mix_m)     for m in r, k, v, g
//   r = W_r x_r    k = W_k x_k    v = W_v x_v    g = silu(W_g x_g)
//   w = exp(-exp(time_decay))     a fixed decay per channel, in (0, 1)
//   u = time_faaaa                the "bonus" of the current token
//   per head, with the state S [N key][N value]:
//     y = r (S + diag(u) k^T v) ;  S = diag(w) S + k^T v
//   out = W_o (GroupNorm_H(y) * g)          (GroupNorm eps 64e-5, as the official ln_x)
// ChannelMix: x_k, x_r mixed the same way ; out = sigmoid(W_r x_r) * W_v relu(W_k x_k)^2
#include <cmath>

#include <fmt/format.h>

#include "models/architectures.h"
#include "models/blocks.h"
#include "models/model_base.h"
#include "util/error.h"

namespace rwkv {

namespace {

struct TimeMixWeights {
  const float *ln1_g, *ln1_b;
  const float *mu_r, *mu_k, *mu_v, *mu_g;  // token-shift mixes (as mu, see MixConvention)
  const float* decay;                      // w = exp(-exp(time_decay)), [H*N]
  Wkv56Weights wkv;                        // r, k, v, g projections, bonus u, ln_x, output
};

struct LayerWeights {
  TimeMixWeights att;
  GatedChannelMixWeights ffn;
};

enum Slot { kXr = kFirstArchSlot, kXk, kXv, kXg, kR, kK, kV, kG, kY };

float decay_from_log_log(float w) { return std::exp(-std::exp(w)); }

class Rwkv5Model final : public ModelBase {
 public:
  Rwkv5Model(TensorMap t, const HParams& hp, const ModelOptions& options) : ModelBase(std::move(t), hp, options) {
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
    const int64_t C = hp_.n_embd, H = hp_.n_head, N = hp_.head_size;
    const std::string b = fmt::format("blocks.{}.", i), a = b + "att.";
    auto& w = weights_;
    LayerWeights L;
    TimeMixWeights& t = L.att;
    t.ln1_g = w.vector(b + "ln1.weight", C);
    t.ln1_b = w.vector(b + "ln1.bias", C);
    t.mu_r = bind_mix(w, a + "time_mix_r", C, MixConvention::Rwkv5);
    t.mu_k = bind_mix(w, a + "time_mix_k", C, MixConvention::Rwkv5);
    t.mu_v = bind_mix(w, a + "time_mix_v", C, MixConvention::Rwkv5);
    t.mu_g = bind_mix(w, a + "time_mix_g", C, MixConvention::Rwkv5);
    // rwkv.cpp files store the decay itself (see layouts.h); official files its log-log.
    if (w.has(a + "time_decay_factor")) {
      w.expect_shape(w.tensor(a + "time_decay_factor"), {H, N});
      t.decay = w.vector(a + "time_decay_factor", C);
    } else {
      w.expect_shape(w.tensor(a + "time_decay"), {H, N});
      t.decay = w.vector_map(a + "time_decay", C, decay_from_log_log);
    }
    t.wkv = bind_wkv56(w, i, C, H, N);
    L.ffn = bind_gated_channel_mix(w, i, C, hp_.dim_ffn, MixConvention::Rwkv5);
    return L;
  }

  void time_mix(const TimeMixWeights& W, const Mat& x, LayerState& st) {
    const int64_t T = x.rows, C = hp_.n_embd, H = hp_.n_head, N = hp_.head_size;
    auto buf = [&](int slot) { return ws_.get(slot, T, C); };
    const Mat xn = buf(kBlockXn), delta = buf(kBlockDelta);
    const Mat xr = buf(kXr), xk = buf(kXk), xv = buf(kXv), xg = buf(kXg);
    const Mat r = buf(kR), k = buf(kK), v = buf(kV), g = buf(kG), y = buf(kY);

    // 1. Normalise, then token-shift: each input is a fixed per-channel mix of this token and the last.
    ops_.layer_norm(x, xn, W.ln1_g, W.ln1_b, kLayerNormEps);
    const float* const mixes[] = {W.mu_r, W.mu_k, W.mu_v, W.mu_g};
    const Mat mixed[] = {xr, xk, xv, xg};
    ops_.token_shift_mix(xn, st.att_shift.data(), delta, mixes, mixed);

    // 2. Receptance, key, value and the output gate g = silu(W_g x_g).
    receptance_key_value_gate(ops_, W.wkv, xr, xk, xv, xg, r, k, v, g);

    // 3. The WKV recurrence over the chunk, per head, with the fixed decay w and bonus u.
    ops_.wkv56({r.data, k.data, v.data, W.decay, W.wkv.bonus, /*w_per_token=*/false, y.data, st.wkv.data(), T, H, N});

    // 4. Per-head GroupNorm, the gate, the output projection: x += W_o (GroupNorm(y) * g).
    gated_output(ops_, W.wkv, H, y, g, x);
  }

  std::vector<LayerWeights> layers_;
};

const TensorView& decay_tensor(const TensorMap& t) {
  const TensorView* d = t.find("blocks.0.att.time_decay_factor");
  return d ? *d : t.get("blocks.0.att.time_decay");
}

}  // namespace

HParams rwkv5_hparams(const TensorMap& t) {
  HParams hp;
  hp.arch = Arch::Rwkv5;
  hp.n_layer = count_layers(t);
  const TensorView& emb = t.get("emb.weight");
  if (emb.shape.size() != 2)
    throw Error("{}: tensor 'emb.weight' has shape {}, expected (vocab, n_embd)", t.source(), shape_str(emb.shape));
  hp.vocab = emb.shape[0];
  hp.n_embd = emb.shape[1];
  // time_decay is (H, N) in RWKV-5.2: the head count and size, as the official code reads them.
  const TensorView& decay = decay_tensor(t);
  if (decay.shape.size() != 2 || decay.shape[1] < 2)
    throw Error("{}: tensor '{}' has shape {}, expected (heads, head_size) for RWKV-5.2", t.source(), decay.name,
                shape_str(decay.shape));
  hp.n_head = decay.shape[0];
  hp.head_size = decay.shape[1];
  if (hp.n_head * hp.head_size != hp.n_embd)
    throw Error("{}: {} is ({}, {}) but n_embd is {}: heads x head size must equal n_embd", t.source(), decay.name,
                hp.n_head, hp.head_size, hp.n_embd);
  const TensorView& ffn_key = t.get("blocks.0.ffn.key.weight");
  if (ffn_key.shape.size() != 2)
    throw Error("{}: tensor 'blocks.0.ffn.key.weight' has shape {}, expected (dim_ffn, n_embd)", t.source(),
                shape_str(ffn_key.shape));
  hp.dim_ffn = ffn_key.shape[0];
  return hp;
}

std::unique_ptr<Model> make_rwkv5(TensorMap t, const HParams& hp, const ModelOptions& options) {
  return std::make_unique<Rwkv5Model>(std::move(t), hp, options);
}

}  // namespace rwkv
