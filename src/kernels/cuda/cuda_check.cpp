#include "kernels/cuda/cuda_check.h"

#include <fmt/format.h>

#include <cstdio>

#include "util/error.h"

namespace rwkv::cuda {

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  throw Error("CUDA error in {} ({}:{}): {}: {}", call, file, line, cudaGetErrorName(e), cudaGetErrorString(e));
}

void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  throw Error("cuBLAS error in {} ({}:{}): {} ({})", call, file, line, cublasGetStatusName(s),
              cublasGetStatusString(s));
}

void warn_if_failed(cudaError_t e, const char* call) {
  if (e != cudaSuccess)
    std::fprintf(stderr, "warning: CUDA error in %s: %s: %s\n", call, cudaGetErrorName(e), cudaGetErrorString(e));
}

}  // namespace rwkv::cuda
