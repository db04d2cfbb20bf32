#include "kernels/cuda/device_scratch.h"

#include "kernels/cuda/cuda_check.h"
#include "util/error.h"

namespace rwkv::cuda {

DeviceScratch::~DeviceScratch() {
  if (data_) warn_if_failed(cudaFree(data_), "cudaFree (scratch)");
}

void* DeviceScratch::get(size_t bytes, cudaStream_t stream) {
  if (bytes <= bytes_) return data_;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  RWKV_CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  if (capture != cudaStreamCaptureStatusNone)
    throw Error("CUDA backend: scratch memory would grow ({} bytes) while a step is being recorded", bytes);
  RWKV_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (data_) RWKV_CUDA_CHECK(cudaFree(data_));
  data_ = nullptr;
  bytes_ = 0;
  const size_t grown = bytes + bytes / 4;  // some headroom: fewer regrowths as chunks vary
  RWKV_CUDA_CHECK(cudaMalloc(&data_, grown));
  bytes_ = grown;
  return data_;
}

}  // namespace rwkv::cuda
