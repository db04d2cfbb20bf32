// What a State holds inside. Per layer: the token-shift vectors of time-mix and channel-mix and
// the WKV matrices (all f32, in backend memory); for RWKV-7b also the DEA context cache.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "rwkv/state.h"

namespace rwkv {

struct LayerState {
  Buffer att_shift;  // [C] the last ln1 output (time-mix token shift)
  Buffer ffn_shift;  // [C] the last ln2 output (channel-mix token shift)
  Buffer wkv;        // [H][N][N]
  // RWKV-7b DEA. The official code keeps, per context position, the 32-wide projections x@k1 and
  // x@v1 and rebuilds every key and value of the whole context at each step. A key (value) depends
  // only on its own position and the one before (the token shift), so we keep the finished,
  // normalised rows instead: each step then costs O(1) projection work instead of O(context).
  Buffer dea_q_prev;                     // [d_qk] the previous token's q before its token shift
  Buffer dea_k_prev, dea_v_prev;         // the previous position's key/value before shift and LN
  // The cache lives in backend memory (it is read by dea_attention on the device); its capacity
  // doubles as the context grows, and dea_len rows of it are filled.
  Buffer dea_keys;                       // [capacity][d_qk], shifted and layer-normed
  Buffer dea_values;                     // [capacity][C]
  int64_t dea_len = 0;                   // context positions cached
};

struct State::Impl {
  const void* model = nullptr;  // the model that made it: states do not move between models
  Backend* backend = nullptr;
  int64_t tokens_seen = 0;
  std::vector<LayerState> layers;
  std::vector<int32_t> context_ids;  // RWKV-7b: every token fed, for the DEA embeddings
};

}  // namespace rwkv
