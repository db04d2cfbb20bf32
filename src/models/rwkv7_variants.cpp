#include "models/rwkv7_variants.h"

#include <fmt/format.h>

#include <algorithm>

#include "util/error.h"

namespace rwkv {

namespace {

// DEA scores are soft-capped: 64 * tanh(q.k / 1024), as in the official rwkv_v7b_demo.py.
constexpr float kDeaScoreCap = 64.0f;
constexpr float kDeaScoreScale = 1024.0f;

int64_t dim_of(const TensorMap& t, const std::string& name, size_t i) {
  const TensorView& v = t.get(name);
  if (v.shape.size() <= i)
    throw Error("{}: tensor '{}' has shape {}, expected at least {} dimensions", t.source(), name,
                shape_str(v.shape), i + 1);
  return v.shape[i];
}

// Slots relative to VariantContext::first_slot.
enum DeepEmbedSlot { kDeU = 0, kDeS, kDeZ, kDeGate, kDeSlots };
enum DeaSlot { kDeaQ = kDeSlots, kDeaKLow, kDeaVLow, kDeaK, kDeaV, kDeaKEmb, kDeaVEmb, kDeaDeltaQ, kDeaDeltaV, kDeaOut };

// Grows the layer's DEA cache (backend memory) to hold at least `positions` rows, doubling its
// capacity so that appending one token at a time copies each row O(1) times on average.
void reserve_dea_cache(Backend& ops, LayerState& s, int64_t positions, int64_t d_qk, int64_t d_v) {
  const int64_t capacity = static_cast<int64_t>(s.dea_keys.size()) / d_qk;
  if (positions <= capacity) return;
  const int64_t grown = std::max<int64_t>({positions, 2 * capacity, 64});
  Buffer keys(&ops, static_cast<size_t>(grown * d_qk)), values(&ops, static_cast<size_t>(grown * d_v));
  if (s.dea_len > 0) {
    ops.copy(keys.data(), s.dea_keys.data(), static_cast<size_t>(s.dea_len * d_qk));
    ops.copy(values.data(), s.dea_values.data(), static_cast<size_t>(s.dea_len * d_v));
  }
  s.dea_keys = std::move(keys);
  s.dea_values = std::move(values);
}

}  // namespace

void deep_embed_hparams(const TensorMap& t, HParams& hp) {
  hp.deep_embed_dim = dim_of(t, "blocks.0.ffn.s_emb.weight", 1);
  hp.deep_embed_rank = dim_of(t, "blocks.0.ffn.s1", 1);
  if (hp.deep_embed_rank * hp.deep_embed_rank != hp.deep_embed_dim)
    throw Error("{}: blocks.0.ffn.s_emb.weight rows have {} values, but s1 is {} wide: each row must be an {}x{} matrix",
                t.source(), hp.deep_embed_dim, hp.deep_embed_rank, hp.deep_embed_rank, hp.deep_embed_rank);
}

DeepEmbedWeights bind_deep_embed(WeightBinder& w, const HParams& hp, int64_t layer) {
  const std::string f = fmt::format("blocks.{}.ffn.", layer);
  const int64_t C = hp.n_embd, F = hp.dim_ffn, D = hp.deep_embed_dim, r = hp.deep_embed_rank;
  DeepEmbedWeights d;
  d.s_emb = w.table(f + "s_emb.weight", hp.vocab, D);
  d.s_emb_x = w.linear(f + "s_emb_x.weight", D, C);
  d.s1 = w.right_factor(f + "s1", C, r);
  d.s2 = w.right_factor(f + "s2", r, F);
  d.s0 = w.vector(f + "s0", F);
  return d;
}

void deep_embed_gate(const VariantContext& c, const DeepEmbedWeights& w, const Mat& xn, const Mat& hidden) {
  const int64_t T = xn.rows, r = c.hp.deep_embed_rank;
  const Mat u = c.ws.get(c.first_slot + kDeU, T, r);
  const Mat S = c.ws.get(c.first_slot + kDeS, T, c.hp.deep_embed_dim);
  const Mat z = c.ws.get(c.first_slot + kDeZ, T, r);
  const Mat gate = c.ws.get(c.first_slot + kDeGate, T, c.hp.dim_ffn);
  c.ops.matmul(w.s1, xn, u);                              // u = x s1
  c.ops.embedding(w.s_emb, c.ids, S);                     // S = s_emb[token] ...
  c.ops.matmul(w.s_emb_x, c.x0, S, /*accumulate=*/true);  //   + ln0(emb[token]) s_emb_x^T
  c.ops.row_vecmat(u, S, z);                              // z = u S  (S as r x r)
  c.ops.matmul(w.s2, z, gate);
  c.ops.activate(gate, Activation::Identity, w.s0);       // gate = z s2 + s0
  c.ops.mul(hidden, gate);
}

void dea_hparams(const TensorMap& t, HParams& hp) {
  hp.dea_qk_dim = dim_of(t, "blocks.0.qkv.qq.weight", 0);
  hp.dea_kv_rank = dim_of(t, "blocks.0.qkv.k1", 1);
}

DeaWeights bind_dea(WeightBinder& w, const HParams& hp, int64_t layer) {
  const std::string q = fmt::format("blocks.{}.qkv.", layer);
  const int64_t C = hp.n_embd, D = hp.dea_qk_dim, r = hp.dea_kv_rank;
  DeaWeights d;
  d.qq = w.linear(q + "qq.weight", D, C);
  d.k1 = w.right_factor(q + "k1", C, r);
  d.k2 = w.right_factor(q + "k2", r, D);
  d.v1 = w.right_factor(q + "v1", C, r);
  d.v2 = w.right_factor(q + "v2", r, C);
  d.k_emb = w.table(q + "k_emb.weight", hp.vocab, D);
  d.v_emb = w.table(q + "v_emb.weight", hp.vocab, C);
  d.k_emb_x = w.linear(q + "k_emb_x.weight", D, C);
  d.v_emb_x = w.linear(q + "v_emb_x.weight", C, C);
  d.x_q = w.vector(q + "x_q", D);
  d.x_k = w.vector(q + "x_k", D);
  d.x_v = w.vector(q + "x_v", C);
  d.lnq_g = w.vector(q + "lnq.weight", D);
  d.lnq_b = w.vector(q + "lnq.bias", D);
  d.lnk_g = w.vector(q + "lnk.weight", D);
  d.lnk_b = w.vector(q + "lnk.bias", D);
  d.lnv_g = w.vector(q + "lnv.weight", C);
  d.lnv_b = w.vector(q + "lnv.bias", C);
  return d;
}

void dea_init_state(LayerState& s, const HParams& hp, Backend* backend) {
  s.dea_q_prev = Buffer(backend, static_cast<size_t>(hp.dea_qk_dim));
  s.dea_k_prev = Buffer(backend, static_cast<size_t>(hp.dea_qk_dim));
  s.dea_v_prev = Buffer(backend, static_cast<size_t>(hp.n_embd));
}

Mat dea_forward(const VariantContext& c, const DeaWeights& w, const Mat& x, LayerState& s) {
  Backend& ops = c.ops;
  const int64_t T = x.rows, C = c.hp.n_embd, D = c.hp.dea_qk_dim, r = c.hp.dea_kv_rank;
  auto buf = [&](int slot, int64_t cols) { return c.ws.get(c.first_slot + slot, T, cols); };
  const Mat q = buf(kDeaQ, D), k_low = buf(kDeaKLow, r), v_low = buf(kDeaVLow, r);
  const Mat K = buf(kDeaK, D), V = buf(kDeaV, C), k_emb = buf(kDeaKEmb, D), v_emb = buf(kDeaVEmb, C);
  const Mat dq = buf(kDeaDeltaQ, D), dv = buf(kDeaDeltaV, C), out = buf(kDeaOut, C);

  // 1. Query, and the low-rank key/value projections of this chunk's positions.
  ops.matmul(w.qq, x, q);
  ops.matmul(w.k1, x, k_low);
  ops.matmul(w.v1, x, v_low);

  // 2. Keys and values, modulated by the (merged) per-token embeddings of the context ids:
  //    K = (x k1 k2) * k_emb[id],  V = tanh(x v1 v2) * v_emb[id].
  ops.matmul(w.k2, k_low, K);
  ops.embedding(w.k_emb, c.ids, k_emb);
  ops.matmul(w.k_emb_x, c.x0, k_emb, /*accumulate=*/true);
  ops.mul(K, k_emb);
  ops.matmul(w.v2, v_low, V);
  ops.activate(V, Activation::Tanh);
  ops.embedding(w.v_emb, c.ids, v_emb);
  ops.matmul(w.v_emb_x, c.x0, v_emb, /*accumulate=*/true);
  ops.mul(V, v_emb);

  // 3. Token shifts: q with the previous token's raw q; K and V along the context (zero before
  //    position 0). Then LayerNorm each.
  ops.token_shift(q, s.dea_q_prev.data(), dq);
  ops.lerp(q, dq, w.x_q, q);
  ops.token_shift(K, s.dea_k_prev.data(), dq);
  ops.lerp(K, dq, w.x_k, K);
  ops.token_shift(V, s.dea_v_prev.data(), dv);
  ops.lerp(V, dv, w.x_v, V);
  ops.layer_norm(q, q, w.lnq_g, w.lnq_b, kLayerNormEps);
  ops.layer_norm(K, K, w.lnk_g, w.lnk_b, kLayerNormEps);
  ops.layer_norm(V, V, w.lnv_g, w.lnv_b, kLayerNormEps);

  // 4. Append this chunk to the context cache, then attend causally over the whole context.
  const int64_t first = s.dea_len;
  reserve_dea_cache(ops, s, first + T, D, C);
  ops.copy(s.dea_keys.data() + first * D, K.data, static_cast<size_t>(T * D));
  ops.copy(s.dea_values.data() + first * C, V.data, static_cast<size_t>(T * C));
  s.dea_len = first + T;
  ops.dea_attention({q.data, s.dea_keys.data(), s.dea_values.data(), out.data, T, first + T, first, D, C,
                     kDeaScoreCap, kDeaScoreScale});
  return out;
}

}  // namespace rwkv
