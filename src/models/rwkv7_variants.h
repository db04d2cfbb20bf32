// The RWKV-7 variants' extra blocks:
//  - 7a "DeepEmbed": a per-token 32x32 matrix S[token] (from a vocab-sized table) gates the
//    channel-mix hidden units: k *= (x s1) S[token] s2 + s0.
//  - 7b "DEA": a small softmax attention over the whole context beside time-mix, on the block
//    input, with keys/values modulated by per-token embeddings (7b also has DeepEmbed).
// Both merge their tables with the normalised embedding: T[id] + ln0(emb[id]) @ T_x^T. The
// official code merges whole vocab-sized tables at load; we add the merge term to the rows that
// tokens use, in f32, so the tables stay mapped as stored (the real 0.1B 7a file carries ~1.6 GB
// of them) and nothing is rounded.
#pragma once

#include <span>

#include "kernels/backend.h"
#include "models/model_base.h"
#include "models/weights.h"

namespace rwkv {

struct DeepEmbedWeights {
  WeightMatrix s_emb;    // table [vocab][r*r]
  WeightMatrix s_emb_x;  // [r*r][C]: the merge with ln0(emb)
  WeightMatrix s1;       // [r][C]
  WeightMatrix s2;       // [F][r]
  const float* s0 = nullptr;  // [F]
};

struct DeaWeights {
  WeightMatrix qq;                // [d_qk][C]
  WeightMatrix k1, v1;            // [r][C]
  WeightMatrix k2;                // [d_qk][r]
  WeightMatrix v2;                // [C][r]
  WeightMatrix k_emb, v_emb;      // tables [vocab][d_qk], [vocab][C]
  WeightMatrix k_emb_x, v_emb_x;  // [d_qk][C], [C][C]
  const float *x_q, *x_k, *x_v;
  const float *lnq_g, *lnq_b, *lnk_g, *lnk_b, *lnv_g, *lnv_b;
};

// What the variant blocks need from the model for one chunk.
struct VariantContext {
  Backend& ops;
  Workspace& ws;
  const HParams& hp;
  std::span<const int32_t> ids;
  Mat x0;          // ln0(emb[ids]): the layer-0 input, for the table merges
  int first_slot;  // workspace slots from here on are free for the variants
};

void deep_embed_hparams(const TensorMap& t, HParams& hp);
DeepEmbedWeights bind_deep_embed(WeightBinder& w, const HParams& hp, int64_t layer);
// hidden *= (xn s1) S[token] s2 + s0, where S[token] = s_emb[token] + s_emb_x x0 viewed as [r][r].
void deep_embed_gate(const VariantContext& c, const DeepEmbedWeights& w, const Mat& xn, const Mat& hidden);

void dea_hparams(const TensorMap& t, HParams& hp);
DeaWeights bind_dea(WeightBinder& w, const HParams& hp, int64_t layer);
void dea_init_state(LayerState& s, const HParams& hp, Backend* backend);
// The DEA output [T][C] for block input x (in a workspace slot of `c`), appending this chunk's
// keys and values to the layer's context cache.
Mat dea_forward(const VariantContext& c, const DeaWeights& w, const Mat& x, LayerState& s);

}  // namespace rwkv
