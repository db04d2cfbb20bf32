// Blocks that several RWKV generations share, written once on the Backend interface:
//  - the low-rank (LoRA) products of RWKV-6 and 7;
//  - the RWKV-5/6 time-mix projections (r, k, v, gate) and output (GroupNorm, gate, W_o);
//  - the RWKV-5/6 channel-mix with its receptance gate.
// The model files (rwkv5.cpp, rwkv6.cpp, rwkv7.cpp) call these by name, so each reads like the
// paper while no block exists twice.
#pragma once

#include <string>

#include "kernels/backend.h"
#include "models/model_base.h"
#include "models/weights.h"

namespace rwkv {

// Workspace slots the shared blocks use. A model numbers its own slots from kFirstArchSlot; the
// block slots are scratch: free again as soon as a block function returns, so a model may also
// use kBlockXn / kBlockDelta for its own LN output and token-shift difference.
enum BlockSlot {
  kBlockXn = kFirstModelSlot,  // LN(x)
  kBlockDelta,                 // token-shift difference x_prev - x
  kBlockMixK,
  kBlockMixR,
  kBlockR,
  kBlockHidden,                // the channel-mix's F-wide hidden units
  kBlockOut,
  kFirstArchSlot,
};

// A low-rank product x @ A @ B with A (in, r) and B (r, out) as the official code stores them,
// held in the Linear layout: down = A^T [r][in], up = B^T [out][r].
struct Lora {
  WeightMatrix down, up;
};
Lora bind_lora(WeightBinder& w, const std::string& a_name, const std::string& b_name, int64_t in, int64_t rank,
               int64_t out);
// out = out_act(act(x A) B + out_bias): the official x @ A @ B, optionally with an activation
// between and one (with a per-output bias) after. `hidden_slot` is the workspace slot for the
// [T][rank] product x A.
void lora(Backend& ops, Workspace& ws, int hidden_slot, const Lora& l, const Mat& x, Activation hidden_act,
          const Mat& out, Activation out_act = Activation::Identity, const float* out_bias = nullptr);

// How a checkpoint writes a token-shift mix `m`. We always use x + (x_prev - x) * mu.
enum class MixConvention {
  Rwkv5,  // time_mix_*: x * m + x_prev * (1 - m), i.e. mu = 1 - m
  Rwkv6,  // time_maa_*: x + (x_prev - x) * m,      i.e. mu = m
};
// A token-shift mix vector of n channels as mu (see MixConvention).
const float* bind_mix(WeightBinder& w, const std::string& name, int64_t n, MixConvention convention);

// ---- RWKV-5/6 time-mix: the parts both generations share ----
struct Wkv56Weights {
  WeightMatrix receptance, key, value, gate, output;  // [C][C]
  const float* bonus = nullptr;                       // u = time_faaaa, [H*N]
  const float *ln_x_g = nullptr, *ln_x_b = nullptr;   // per-head GroupNorm of the WKV output
};
// Binds blocks.<layer>.att.{receptance,key,value,gate,output}.weight, time_faaaa and ln_x.
Wkv56Weights bind_wkv56(WeightBinder& w, int64_t layer, int64_t C, int64_t H, int64_t N);
// r = W_r x_r ; k = W_k x_k ; v = W_v x_v ; g = silu(W_g x_g)
void receptance_key_value_gate(Backend& ops, const Wkv56Weights& W, const Mat& xr, const Mat& xk, const Mat& xv,
                               const Mat& xg, const Mat& r, const Mat& k, const Mat& v, const Mat& g);
// The WKV output: y = GroupNorm_H(y) * g (eps 64e-5, the official ln_x), then x += W_o y.
void gated_output(Backend& ops, const Wkv56Weights& W, int64_t H, const Mat& y, const Mat& g, const Mat& x);

// ---- RWKV-5/6 channel-mix ----
//   x_k, x_r = token-shift mixes of LN2(x)
//   x += sigmoid(W_r x_r) * (W_v relu(W_k x_k)^2)
struct GatedChannelMixWeights {
  const float *ln_g = nullptr, *ln_b = nullptr;  // ln2
  const float *mu_k = nullptr, *mu_r = nullptr;
  WeightMatrix key;         // [F][C]
  WeightMatrix value;       // [C][F]
  WeightMatrix receptance;  // [C][C]
};
// Binds blocks.<layer>.ln2.* and blocks.<layer>.ffn.* (time_mix_k/r for v5, time_maa_k/r for v6).
GatedChannelMixWeights bind_gated_channel_mix(WeightBinder& w, int64_t layer, int64_t C, int64_t F,
                                              MixConvention convention);
// x += ChannelMix(LN2(x)); `shift` is the layer's channel-mix token-shift state [C].
void gated_channel_mix(Backend& ops, Workspace& ws, const GatedChannelMixWeights& W, const Mat& x, float* shift);

}  // namespace rwkv
