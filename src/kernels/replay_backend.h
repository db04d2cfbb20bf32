// A Backend that records one-token steps and replays them, on any backend: the host-side twin of
// the CUDA backend's graphs (Backend::begin_step). It forwards every call to another backend;
// while a step is being recorded the ops are kept as closures instead of run, and a replayed step
// runs those closures instead of the model's code, the embeddings reading the ids staged by
// begin_step. Turned on with RWKV_REPLAY_STEPS=1: a model whose step depends on the host through
// anything but the token ids and the step key then gives other logits than without it, on the CPU
// (tests/step_replay_test.cpp), where no GPU is needed to see it.
#pragma once

#include <memory>

#include "kernels/backend.h"

namespace rwkv {

std::unique_ptr<Backend> make_replay_backend(std::unique_ptr<Backend> inner);

}  // namespace rwkv
