// The CUDA backend: every Backend op on one NVIDIA GPU, in device memory, on one stream.
// Matrix products through cuBLAS (sequence path) and own matrix-vector kernels (decode); the
// WKV recurrences, norms, DEA attention and elementwise ops as own kernels; one-token steps
// recorded as CUDA graphs and replayed (Backend::begin_step).
#pragma once

#include <memory>

#include "kernels/backend.h"

namespace rwkv::cuda {

struct CudaBackendOptions {
  int device = 0;  // CUDA device ordinal
  // Sequence-path GEMMs with bf16/f16 weights round the activations to that type and run on
  // tensor cores; off = f32 activations in every product (the weights are widened to f32).
  bool fast_activations = false;
};

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options);

// CUDA devices visible to this process; 0 when there is no driver or no device (never throws).
int visible_device_count();

}  // namespace rwkv::cuda
