// Choosing the backend a model runs on: "cpu", "cuda", "cuda:N" or "auto". Backend-neutral: in a
// build without the CUDA backend (RWKV_CUDA=OFF) asking for a GPU is a clear error and "auto"
// means the CPU.
#pragma once

#include <memory>
#include <string_view>

#include "kernels/backend.h"

namespace rwkv {

struct DeviceChoice {
  enum Kind { Cpu, Cuda } kind = Cpu;
  int index = 0;  // the CUDA device ordinal
};

// Parses a --device value; "auto" (or "") picks cuda:0 when this build has the CUDA backend and
// a device is present, else the CPU. Throws UsageError for anything else.
DeviceChoice resolve_device(std::string_view device);

// Whether this binary was built with the CUDA backend (RWKV_CUDA=ON).
bool build_has_cuda();
// CUDA devices visible to this process: 0 without the CUDA backend, a driver or a GPU.
int cuda_device_count();

// The CUDA backend on device `index`; without RWKV_CUDA an Error saying how to rebuild.
// `fast_activations`: the sequence path's GEMMs with bf16/f16 weights round the activations to
// that type (tensor cores); off = f32 activations in every product.
std::unique_ptr<Backend> make_cuda_backend_for(int index, bool fast_activations);

}  // namespace rwkv
