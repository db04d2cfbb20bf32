// Pieces every architecture shares: the owned checkpoint and backend, the chunking of the
// sequence path, the embedding/head. Blocks that some generations share (LoRA, the RWKV-5/6
// time-mix projections and channel-mix) are in blocks.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "models/state_impl.h"
#include "models/weights.h"
#include "rwkv/model.h"
#include "tensor/tensor_map.h"

namespace rwkv {

// LayerNorm epsilon of every ln0/ln1/ln2/ln_out (PyTorch's default, as in the official code).
inline constexpr float kLayerNormEps = 1e-5f;
// GroupNorm epsilon of ln_x in RWKV-5.2, 6 and 7: the official code's 64e-5 (trained as 1e-5
// on x / 8, i.e. 1e-5 * 8^2). The HF/candle ports use 1e-5, which moves logits by ~0.3-1.
inline constexpr float kGroupNormEps = 64e-5f;

// Workspace slots used by ModelBase itself; architectures number theirs from kFirstModelSlot.
enum BaseSlot { kSlotX = 0, kSlotHeadIn, kSlotLogits, kFirstModelSlot };

// Activation buffers for one chunk of up to `rows` tokens; allocated once per model.
class Workspace {
 public:
  Workspace() = default;
  Workspace(Backend* backend, int64_t rows) : backend_(backend), rows_(rows) {}
  // A [T][cols] matrix for buffer `slot` (grown on first use; slots are per purpose).
  Mat get(int slot, int64_t T, int64_t cols);
  int64_t rows() const { return rows_; }
  // Appends the address of every buffer, for a recorded step's key (Backend::begin_step).
  void append_addresses(std::vector<const void*>& out) const;

 private:
  Backend* backend_ = nullptr;
  int64_t rows_ = 0;
  std::vector<Buffer> buffers_;
};

// The embedding table, ln0, ln_out and head; every RWKV generation has them.
struct EmbeddingAndHead {
  WeightMatrix emb;  // [vocab][C], kept in the file's dtype
  const float *ln0_g, *ln0_b;
  const float *ln_out_g, *ln_out_b;
  WeightMatrix head;  // [vocab][C]

  void bind(WeightBinder& w, const HParams& hp);
};

class ModelBase : public Model {
 public:
  ModelBase(TensorMap tensors, const HParams& hp, const ModelOptions& options);

  const HParams& hparams() const override { return hp_; }
  std::string describe() const override;
  uint64_t decode_bytes_per_token() const override { return weights_.streamed_bytes(); }
  void forward(std::span<const int32_t> tokens, State& state, Logits which, float* out) final;

 protected:
  // Runs every layer over one chunk of tokens: x [T][C] holds ln0(emb) on entry and the final
  // residual stream on exit.
  virtual void forward_layers(std::span<const int32_t> ids, const Mat& x, State::Impl& s) = 0;
  // Whether a one-token step may be recorded and replayed (Backend::begin_step): its ops must
  // depend on the host only through the token ids and the addresses in step_key.
  virtual bool step_is_replayable() const { return true; }
  // A zero state with this model's shapes; architectures add their extras.
  std::unique_ptr<State::Impl> zero_state() const;

  // out = ln_out(x) @ head^T for the given rows.
  void head(const Mat& x, const Mat& out);

 private:
  // One chunk of the forward pass: embedding, the layers, and the head's logits (all rows, the
  // last row, or none) into the workspace slot kSlotLogits, returned for the caller to download.
  Mat forward_chunk(std::span<const int32_t> ids, State::Impl& s, Logits which);
  // The addresses a recorded one-token step depends on (see Backend::begin_step).
  std::vector<const void*> step_key(const State::Impl& s, Logits which) const;

 protected:

  HParams hp_;
  ModelOptions options_;
  TensorMap tensors_;
  std::unique_ptr<Backend> backend_;
  Backend& ops_;
  WeightBinder weights_;
  EmbeddingAndHead embed_;
  Workspace ws_;
};

}  // namespace rwkv
