// The tensors of an official checkpoint (names and shapes, in the released files' order) for
// given hyper-parameters, and the hyper-parameters of the released model sizes. `rwkv make-model`
// writes random-weight files from these; tests build odd shapes with them.
#pragma once

#include <string>
#include <vector>

#include "rwkv/model.h"
#include "tensor/tensor_map.h"

namespace rwkv {

// What a tensor is, so a generator can give it plausible values.
enum class TensorRole {
  Embedding,    // emb.weight, DeepEmbed/DEA tables
  Matrix,       // a projection; values ~ N(0, 1/in)
  LayerNormGain,
  LayerNormBias,
  Mix,          // token-shift interpolation in [0, 1]
  DecayBase,    // v7 w0, v5/v6 time_decay
  Small,        // biases and per-channel factors near 0
  Unit,         // per-channel factors near 1 (k_a, k_k)
};

struct TensorSpec {
  std::string name;
  Shape shape;
  TensorRole role;
};

std::vector<TensorSpec> official_layout(const HParams& hp);

// The released shapes: "0.1b" (12 x 768), "0.4b" (24 x 1024), "1.5b" (24 x 2048), "2.9b"
// (32 x 2560), "7.2b" (32 x 4096), "13.3b" (61 x 4096); vocab 65536, head size 64; LoRA ranks
// and FFN width by the formulas of the official training code.
HParams standard_hparams(Arch arch, const std::string& size);
std::vector<std::string> standard_sizes();

}  // namespace rwkv
