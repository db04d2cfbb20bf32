// Each architecture's entry points, used by the loader: hyper-parameter detection from tensor
// names and shapes, and construction of the model over a checkpoint in official naming.
#pragma once

#include <memory>

#include "models/layouts.h"
#include "rwkv/model.h"
#include "tensor/tensor_map.h"

namespace rwkv {

// The GGUF metadata key in which our files (`rwkv quantize`) name their architecture.
inline constexpr const char* kArchKey = "rwkv.arch";

// A checkpoint in the official layout with its hyper-parameters: the first half of Model::load
// (files read and merged, layout normalised, architecture detected and checked against --arch,
// rwkv.arch and a config.json). `rwkv quantize` starts from it too.
struct Checkpoint {
  TensorMap tensors;
  Layout layout;
  HParams hp;
};
Checkpoint open_checkpoint(const std::vector<std::string>& files, const ModelOptions& options);

// Number of layers: the count of blocks.N.ln1.weight, checked to be 0..n-1 without gaps.
int64_t count_layers(const TensorMap& t);

HParams rwkv5_hparams(const TensorMap& t);  // RWKV-5.2
std::unique_ptr<Model> make_rwkv5(TensorMap t, const HParams& hp, const ModelOptions& options);
HParams rwkv6_hparams(const TensorMap& t);
std::unique_ptr<Model> make_rwkv6(TensorMap t, const HParams& hp, const ModelOptions& options);
HParams rwkv7_hparams(const TensorMap& t);  // also 7a (DeepEmbed) and 7b (DEA)
std::unique_ptr<Model> make_rwkv7(TensorMap t, const HParams& hp, const ModelOptions& options);

}  // namespace rwkv
