// Every CUDA runtime and cuBLAS call is checked: a failure throws rwkv::Error naming the call,
// where it was made, and the library's own description of the error.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

namespace rwkv::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line);

inline void check(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess) throw_cuda_error(e, call, file, line);
}
inline void check(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS) throw_cublas_error(s, call, file, line);
}

// For destructors and other places that must not throw: reports a failure on stderr.
void warn_if_failed(cudaError_t e, const char* call);

}  // namespace rwkv::cuda

// Checks a cudaError_t or cublasStatus_t result; throws rwkv::Error with the call's text.
#define RWKV_CUDA_CHECK(call) ::rwkv::cuda::check((call), #call, __FILE__, __LINE__)
