#include "models/blocks.h"

#include <fmt/format.h>

namespace rwkv {

Lora bind_lora(WeightBinder& w, const std::string& a_name, const std::string& b_name, int64_t in, int64_t rank,
               int64_t out) {
  return Lora{w.right_factor(a_name, in, rank), w.right_factor(b_name, rank, out)};
}

void lora(Backend& ops, Workspace& ws, int hidden_slot, const Lora& l, const Mat& x, Activation hidden_act,
          const Mat& out, Activation out_act, const float* out_bias) {
  Mat h = ws.get(hidden_slot, x.rows, l.down.rows);
  ops.matmul_act(l.down, x, h, hidden_act, nullptr);
  ops.matmul_act(l.up, h, out, out_act, out_bias);
}

const float* bind_mix(WeightBinder& w, const std::string& name, int64_t n, MixConvention convention) {
  if (convention == MixConvention::Rwkv6) return w.vector(name, n);
  return w.vector_map(name, n, [](float m) { return 1.0f - m; });
}

Wkv56Weights bind_wkv56(WeightBinder& w, int64_t layer, int64_t C, int64_t H, int64_t N) {
  const std::string a = fmt::format("blocks.{}.att.", layer);
  Wkv56Weights W;
  W.receptance = w.linear(a + "receptance.weight", C, C);
  W.key = w.linear(a + "key.weight", C, C);
  W.value = w.linear(a + "value.weight", C, C);
  W.gate = w.linear(a + "gate.weight", C, C);
  W.output = w.linear(a + "output.weight", C, C);
  w.expect_shape(w.tensor(a + "time_faaaa"), {H, N});
  W.bonus = w.vector(a + "time_faaaa", H * N);
  W.ln_x_g = w.vector(a + "ln_x.weight", C);
  W.ln_x_b = w.vector(a + "ln_x.bias", C);
  return W;
}

void receptance_key_value_gate(Backend& ops, const Wkv56Weights& W, const Mat& xr, const Mat& xk, const Mat& xv,
                               const Mat& xg, const Mat& r, const Mat& k, const Mat& v, const Mat& g) {
  ops.matmul(W.receptance, xr, r);
  ops.matmul(W.key, xk, k);
  ops.matmul(W.value, xv, v);
  ops.matmul_act(W.gate, xg, g, Activation::Silu, nullptr);
}

void gated_output(Backend& ops, const Wkv56Weights& W, int64_t H, const Mat& y, const Mat& g, const Mat& x) {
  ops.group_norm(y, H, W.ln_x_g, W.ln_x_b, kGroupNormEps);
  ops.mul(y, g);
  ops.matmul(W.output, y, x, /*accumulate=*/true);
}

GatedChannelMixWeights bind_gated_channel_mix(WeightBinder& w, int64_t layer, int64_t C, int64_t F,
                                              MixConvention convention) {
  const std::string b = fmt::format("blocks.{}.", layer), f = b + "ffn.";
  const std::string mix = convention == MixConvention::Rwkv6 ? "time_maa_" : "time_mix_";
  GatedChannelMixWeights W;
  W.ln_g = w.vector(b + "ln2.weight", C);
  W.ln_b = w.vector(b + "ln2.bias", C);
  W.mu_k = bind_mix(w, f + mix + "k", C, convention);
  W.mu_r = bind_mix(w, f + mix + "r", C, convention);
  W.key = w.linear(f + "key.weight", F, C);
  W.value = w.linear(f + "value.weight", C, F);
  W.receptance = w.linear(f + "receptance.weight", C, C);
  return W;
}

void gated_channel_mix(Backend& ops, Workspace& ws, const GatedChannelMixWeights& W, const Mat& x, float* shift) {
  const int64_t T = x.rows, C = x.cols, F = W.key.rows;
  const Mat xn = ws.get(kBlockXn, T, C), delta = ws.get(kBlockDelta, T, C);
  const Mat xk = ws.get(kBlockMixK, T, C), xr = ws.get(kBlockMixR, T, C);
  const Mat r = ws.get(kBlockR, T, C), hidden = ws.get(kBlockHidden, T, F), out = ws.get(kBlockOut, T, C);

  ops.layer_norm(x, xn, W.ln_g, W.ln_b, kLayerNormEps);
  const float* const mixes[] = {W.mu_k, W.mu_r};
  const Mat mixed[] = {xk, xr};
  ops.token_shift_mix(xn, shift, delta, mixes, mixed);

  ops.matmul_act(W.receptance, xr, r, Activation::Sigmoid, nullptr);  // r = sigmoid(W_r x_r)
  ops.matmul_act(W.key, xk, hidden, Activation::ReluSquare, nullptr);  // k = relu(W_k x_k)^2
  ops.matmul(W.value, hidden, out);              // W_v k
  ops.mul(out, r);
  ops.add(x, out);
}

}  // namespace rwkv
