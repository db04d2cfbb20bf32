// Random weights in the exact layout of an official checkpoint, for benchmarks and tests. The
// values are plausible (LayerNorm gains near 1, mixes in [0, 1], projections ~ N(0, 1/fan_in))
// so activations stay in range, but they mean nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "io/writers.h"
#include "models/checkpoint_layout.h"

namespace rwkv {

// One source per tensor, generated when written (deterministic for a seed; tensors are seeded
// by name, so adding one does not change the others).
std::vector<TensorSource> random_checkpoint(const HParams& hp, DType dtype, uint64_t seed);

}  // namespace rwkv
