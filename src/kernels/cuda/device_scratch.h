// A device buffer that grows on demand (scratch space for conversions and attention scores).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace rwkv::cuda {

class DeviceScratch {
 public:
  DeviceScratch() = default;
  ~DeviceScratch();
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;

  // At least `bytes` of device memory, valid until the next call. Growing waits for `stream`
  // (work queued on the old memory finishes first) and is refused while `stream` is being
  // captured into a graph (an allocation cannot be part of a recorded step).
  void* get(size_t bytes, cudaStream_t stream);

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace rwkv::cuda
