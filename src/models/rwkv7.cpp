// RWKV-7 "Goose" (x070), with the 7a DeepEmbed and 7b DEA variants as optional features.
//
// Per layer, for a chunk of T tokens (x = the residual stream, [T][C]):
//   x = x + TimeMix(LN1(x))   [+ DEA(x) for 7b, from the same block input]
//   x = x + ChannelMix(LN2(x))
//
// TimeMix, as in the paper (arXiv:2503.14456) and BlinkDL's rwkv_v7_demo_rnn.py:
//   token shift  x_m = x + (x_prev - x) * mu_m            for m in r, w, k, v, a, g
//   r = W_r x_r    k = W_k x_k    v = W_v x_v
//   w = exp(-e^-0.5 * sigmoid(w0 + tanh(x_w w1) w2))    per-channel decay in (0.545, 1)
//   a = sigmoid(a0 + x_a a1 a2)                           in-context learning rate
//   g = sigmoid(x_g g1) g2                                output gate
//   v = v + (v_first - v) * sigmoid(v0 + x_v v1 v2)       value residual (not in layer 0)
//   kk = normalize(k * k_k) per head ;  k = k * (1 + (a - 1) * k_a)
//   S = S diag(w) + S (-kk) (kk * a)^T + v k^T ;  y = S r  (per head; S is [value][key])
//   y = GroupNorm(y) + sum_head(r * k * r_k) * v ;  out = W_o (y * g)
// ChannelMix: k = relu(W_k x_k)^2 ; out = W_v k  [7a: k *= (x s1) S[token] s2 + s0]
#include <fmt/format.h>

#include <span>

#include "models/architectures.h"
#include "models/blocks.h"
#include "models/model_base.h"
#include "models/rwkv7_variants.h"
#include "util/error.h"

namespace rwkv {

namespace {

struct TimeMixWeights {
  const float *x_r, *x_w, *x_k, *x_v, *x_a, *x_g;  // token-shift mixes
  const float *w0, *a0, *v0;                        // LoRA biases (v0 unused in layer 0)
  const float *k_k, *k_a, *r_k;
  Lora decay, iclr, value, gate;                    // w, a, v, g
  WeightMatrix receptance, key, value_proj, output;
  const float *ln_x_g, *ln_x_b;
};

struct ChannelMixWeights {
  const float* x_k;
  WeightMatrix key, value;
};

struct LayerWeights {
  const float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
  TimeMixWeights att;
  ChannelMixWeights ffn;
  DeepEmbedWeights deep_embed;  // 7a, 7b
  DeaWeights dea;               // 7b
};

// Workspace slots of this model.
enum Slot {
  kXn = kFirstModelSlot,  // LN1(x) or LN2(x)
  kDelta,                 // token-shift difference x_prev - x
  kXr, kXw, kXk, kXv, kXa, kXg,
  kR, kW, kK, kV, kA, kG, kKK, kVGate, kY,
  kVFirst,                // layer 0's v, for the value residual of later layers
  kLoraHidden, kLoraHiddenA, kLoraHiddenG, kLoraHiddenV,  // the LoRAs' x A: decay, iclr, gate, value
  kFfnHidden,
  kX0,                    // the layer-0 input ln0(emb), kept for DeepEmbed/DEA merges
  kFirstVariantSlot,
};

class Rwkv7Model final : public ModelBase {
 public:
  Rwkv7Model(TensorMap t, const HParams& hp, const ModelOptions& options) : ModelBase(std::move(t), hp, options) {
    layers_.resize(static_cast<size_t>(hp_.n_layer));
    for (int64_t i = 0; i < hp_.n_layer; ++i) bind_layer(i);
  }

  State new_state() const override {
    auto s = zero_state();
    if (hp_.arch == Arch::Rwkv7b)
      for (auto& l : s->layers) dea_init_state(l, hp_, backend_.get());
    return State(std::move(s));
  }

 protected:
  // 7b's DEA attends over a context that grows by one position per step (its length is part of
  // the recorded work) and appends to a host-side id list: not replayable.
  bool step_is_replayable() const override { return hp_.arch != Arch::Rwkv7b; }

  void forward_layers(std::span<const int32_t> ids, const Mat& x, State::Impl& s) override {
    const int64_t T = x.rows, C = hp_.n_embd;
    const bool variant = hp_.arch != Arch::Rwkv7;
    if (variant) ops_.copy(ws_.get(kX0, T, C).data, x.data, static_cast<size_t>(T * C));
    if (hp_.arch == Arch::Rwkv7b) s.context_ids.insert(s.context_ids.end(), ids.begin(), ids.end());

    for (int64_t i = 0; i < hp_.n_layer; ++i) {
      const LayerWeights& L = layers_[static_cast<size_t>(i)];
      LayerState& st = s.layers[static_cast<size_t>(i)];
      VariantContext vc{ops_, ws_, hp_, ids, ws_.get(kX0, T, C), kFirstVariantSlot};
      // 7b: DEA reads the block input x, so it is computed before time-mix changes x.
      Mat dea_out;
      if (hp_.arch == Arch::Rwkv7b) dea_out = dea_forward(vc, L.dea, x, st);

      time_mix(i, L, x, st);  // x += TimeMix(LN1(x))
      if (hp_.arch == Arch::Rwkv7b) ops_.add(x, dea_out);
      channel_mix(L, x, st, vc);  // x += ChannelMix(LN2(x))
    }
  }

 private:
  void bind_layer(int64_t i) {
    const int64_t C = hp_.n_embd, H = hp_.n_head, N = hp_.head_size, F = hp_.dim_ffn;
    const std::string b = fmt::format("blocks.{}.", i), a = b + "att.", f = b + "ffn.";
    LayerWeights& L = layers_[static_cast<size_t>(i)];
    auto& w = weights_;
    L.ln1_g = w.vector(b + "ln1.weight", C);
    L.ln1_b = w.vector(b + "ln1.bias", C);
    L.ln2_g = w.vector(b + "ln2.weight", C);
    L.ln2_b = w.vector(b + "ln2.bias", C);

    TimeMixWeights& t = L.att;
    t.x_r = w.vector(a + "x_r", C);
    t.x_w = w.vector(a + "x_w", C);
    t.x_k = w.vector(a + "x_k", C);
    t.x_v = w.vector(a + "x_v", C);
    t.x_a = w.vector(a + "x_a", C);
    t.x_g = w.vector(a + "x_g", C);
    t.w0 = w.vector(a + "w0", C);
    t.a0 = w.vector(a + "a0", C);
    t.k_k = w.vector(a + "k_k", C);
    t.k_a = w.vector(a + "k_a", C);
    t.r_k = w.vector(a + "r_k", H * N);
    auto lora = [&](const std::string& name, int64_t rank) {
      return bind_lora(w, a + name + "1", a + name + "2", C, rank, C);
    };
    t.decay = lora("w", hp_.lora_decay);
    t.iclr = lora("a", hp_.lora_iclr);
    t.gate = lora("g", hp_.lora_gate);
    // Layer 0 takes v_first = v and has no value residual: v0/v1/v2 are unused there (released
    // checkpoints omit them; trainer saves include them).
    if (i > 0) {
      t.v0 = w.vector(a + "v0", C);
      t.value = lora("v", hp_.lora_value);
    }
    t.receptance = w.linear(a + "receptance.weight", C, C);
    t.key = w.linear(a + "key.weight", C, C);
    t.value_proj = w.linear(a + "value.weight", C, C);
    t.output = w.linear(a + "output.weight", C, C);
    t.ln_x_g = w.vector(a + "ln_x.weight", C);
    t.ln_x_b = w.vector(a + "ln_x.bias", C);

    L.ffn.x_k = w.vector(f + "x_k", C);
    L.ffn.key = w.linear(f + "key.weight", F, C);
    L.ffn.value = w.linear(f + "value.weight", C, F);

    if (hp_.arch != Arch::Rwkv7) L.deep_embed = bind_deep_embed(w, hp_, i);
    if (hp_.arch == Arch::Rwkv7b) L.dea = bind_dea(w, hp_, i);
  }

  void time_mix(int64_t layer, const LayerWeights& L, const Mat& x, LayerState& st) {
    const TimeMixWeights& W = L.att;
    const int64_t T = x.rows, C = hp_.n_embd, H = hp_.n_head, N = hp_.head_size;
    auto buf = [&](int slot) { return ws_.get(slot, T, C); };
    const Mat xn = buf(kXn), delta = buf(kDelta);
    const Mat xr = buf(kXr), xw = buf(kXw), xk = buf(kXk), xv = buf(kXv), xa = buf(kXa), xg = buf(kXg);
    const Mat r = buf(kR), w = buf(kW), k = buf(kK), v = buf(kV), a = buf(kA), g = buf(kG), kk = buf(kKK);

    // 1. Normalise, then token-shift: each input is a per-channel mix of this token and the last.
    ops_.layer_norm(x, xn, L.ln1_g, L.ln1_b, kLayerNormEps);
    const float* const mixes[] = {W.x_r, W.x_w, W.x_k, W.x_v, W.x_a, W.x_g};
    const Mat mixed[] = {xr, xw, xk, xv, xa, xg};
    ops_.token_shift_mix(xn, st.att_shift.data(), delta, mixes, mixed);

    // 2. Receptance, key, value, and the first halves of step 3's low-rank (LoRA) projections: one
    //    batch of independent products (a backend may run them as one launch).
    const bool residual = layer > 0;  // layer 0 has no value residual
    const Mat hw = ws_.get(kLoraHidden, T, W.decay.down.rows), ha = ws_.get(kLoraHiddenA, T, W.iclr.down.rows);
    const Mat hg = ws_.get(kLoraHiddenG, T, W.gate.down.rows);
    const Mat hv = residual ? ws_.get(kLoraHiddenV, T, W.value.down.rows) : Mat{};
    const Backend::Product first[] = {
        {W.receptance, xr, r},
        {W.key, xk, k},
        {W.value_proj, xv, v},
        {W.decay.down, xw, hw, Activation::Tanh},   // tanh(x_w w1)
        {W.iclr.down, xa, ha},                       // x_a a1
        {W.gate.down, xg, hg, Activation::Sigmoid},  // sigmoid(x_g g1)
        {W.value.down, xv, hv},                      // x_v v1 (layers > 0)
    };
    ops_.matmul_batch(std::span(first).first(residual ? 7 : 6));

    // 3. The data-dependent decay, in-context learning rate, output gate and value gate: the
    //    second halves, again one batch.
    const Mat gate = buf(kVGate);
    const Backend::Product second[] = {
        {W.decay.up, hw, w},                               // w = tanh(x_w w1) w2 (w0 and the exp: step 5)
        {W.iclr.up, ha, a, Activation::Sigmoid, W.a0},     // a = sigmoid(a0 + x_a a1 a2)
        {W.gate.up, hg, g},                                // g = sigmoid(x_g g1) g2
        {W.value.up, hv, gate, Activation::Sigmoid, W.v0},  // sigmoid(v0 + x_v v1 v2) (layers > 0)
    };
    ops_.matmul_batch(std::span(second).first(residual ? 4 : 3));

    // 4. Value residual: layer 0's v is carried to every later layer and mixed in by the gate.
    const Mat v_first = buf(kVFirst);
    if (layer == 0) ops_.copy(v_first.data, v.data, static_cast<size_t>(T * C));
    else ops_.rwkv7_value_residual(v, v_first, gate);

    // 5. Keys for the state update: kk (normalised, the "removal" key), k scaled by a; the decay.
    //    After this, kk holds the WKV's a = -kk and a holds its b = kk * a.
    ops_.rwkv7_prepare({k.data, a.data, w.data, kk.data, W.k_k, W.k_a, W.w0, T, H, N});

    // 6. The WKV recurrence over the chunk, per head.
    const Mat y = buf(kY);
    ops_.wkv7({r.data, w.data, k.data, v.data, kk.data, a.data, y.data, st.wkv.data(), T, H, N});

    // 7. Per-head GroupNorm, the "bonus" of the current token, the gate, the output projection.
    ops_.rwkv7_norm_bonus_gate(y, W.ln_x_g, W.ln_x_b, kGroupNormEps, r, k, v, W.r_k, g, H, N);
    ops_.matmul(W.output, y, x, /*accumulate=*/true);
  }

  void channel_mix(const LayerWeights& L, const Mat& x, LayerState& st, const VariantContext& vc) {
    const int64_t T = x.rows, C = hp_.n_embd, F = hp_.dim_ffn;
    const Mat xn = ws_.get(kXn, T, C), delta = ws_.get(kDelta, T, C), xk = ws_.get(kXk, T, C);
    const Mat hidden = ws_.get(kFfnHidden, T, F);

    ops_.layer_norm(x, xn, L.ln2_g, L.ln2_b, kLayerNormEps);
    const float* const mix[] = {L.ffn.x_k};
    const Mat mixed[] = {xk};
    ops_.token_shift_mix(xn, st.ffn_shift.data(), delta, mix, mixed);
    ops_.matmul_act(L.ffn.key, xk, hidden, Activation::ReluSquare, nullptr);  // k = relu(W_k x_k)^2
    // 7a/7b DeepEmbed: a token-dependent gate on the hidden units, from the unshifted LN2(x).
    if (hp_.arch != Arch::Rwkv7) deep_embed_gate(vc, L.deep_embed, xn, hidden);
    ops_.matmul(L.ffn.value, hidden, x, /*accumulate=*/true);
  }

  std::vector<LayerWeights> layers_;
};

int64_t dim(const TensorMap& t, const std::string& name, int i) {
  const TensorView& v = t.get(name);
  if (static_cast<int>(v.shape.size()) <= i)
    throw Error("{}: tensor '{}' has shape {}, expected at least {} dimensions", t.source(), name,
                shape_str(v.shape), i + 1);
  return v.shape[static_cast<size_t>(i)];
}

}  // namespace

HParams rwkv7_hparams(const TensorMap& t) {
  HParams hp;
  hp.arch = Arch::Rwkv7;
  hp.n_layer = count_layers(t);  // first: a missing layer 0 is reported as such
  hp.vocab = dim(t, "emb.weight", 0);
  hp.n_embd = dim(t, "emb.weight", 1);
  // r_k is (H, N): the head count and size, as the official code reads them.
  hp.n_head = dim(t, "blocks.0.att.r_k", 0);
  hp.head_size = dim(t, "blocks.0.att.r_k", 1);
  if (hp.n_head * hp.head_size != hp.n_embd)
    throw Error("{}: blocks.0.att.r_k is ({}, {}) but n_embd is {}: heads x head size must equal n_embd", t.source(),
                hp.n_head, hp.head_size, hp.n_embd);
  hp.dim_ffn = dim(t, "blocks.0.ffn.key.weight", 0);
  hp.lora_decay = dim(t, "blocks.0.att.w1", 1);
  hp.lora_iclr = dim(t, "blocks.0.att.a1", 1);
  hp.lora_gate = dim(t, "blocks.0.att.g1", 1);
  // Layer 0 may lack v1 (released files); take the width from layer 1 (or 0 for a 1-layer model).
  if (hp.n_layer > 1) hp.lora_value = dim(t, "blocks.1.att.v1", 1);
  else if (t.contains("blocks.0.att.v1")) hp.lora_value = dim(t, "blocks.0.att.v1", 1);
  if (t.contains("blocks.0.ffn.s_emb.weight")) {
    hp.arch = t.contains("blocks.0.qkv.qq.weight") ? Arch::Rwkv7b : Arch::Rwkv7a;
    deep_embed_hparams(t, hp);
    if (hp.arch == Arch::Rwkv7b) dea_hparams(t, hp);
  } else if (t.contains("blocks.0.qkv.qq.weight")) {
    throw Error("{}: has DEA tensors (blocks.0.qkv.*) but no DeepEmbed (blocks.0.ffn.s_emb.weight): not a known RWKV-7 variant",
                t.source());
  }
  return hp;
}

std::unique_ptr<Model> make_rwkv7(TensorMap t, const HParams& hp, const ModelOptions& options) {
  return std::make_unique<Rwkv7Model>(std::move(t), hp, options);
}

}  // namespace rwkv
