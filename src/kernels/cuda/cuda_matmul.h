// Matrix products on the GPU for every weight layout and float dtype:
//  - up to kMatvecMaxTokens tokens (decode): own matrix-vector kernels, f32 activations, the
//    weights read once in their stored dtype (matvec.cu);
//  - more tokens (prompt): cuBLAS. f32 weights: SGEMM-class cublasGemmEx (f32 compute, no TF32).
//    bf16/f16 weights with fast activations: the activations rounded to the weights' type and a
//    tensor-core GEMM with f32 accumulation; without: the weights widened to f32 (in slices of
//    output rows, bounding the scratch) and an f32 GEMM, exact as the CPU.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <span>

#include "kernels/backend.h"
#include "kernels/cuda/device_scratch.h"
#include "kernels/cuda/kernels.h"

namespace rwkv::cuda {

class CudaMatmul {
 public:
  CudaMatmul(cudaStream_t stream, cublasHandle_t cublas, bool fast_activations)
      : stream_(stream), cublas_(cublas), fast_activations_(fast_activations) {}

  // y[t] = act(W x[t] + bias) (or y += W x[t]), as `epilogue` says. W in device memory,
  // F32/F16/BF16, either layout. The matvec kernels apply the epilogue as they store; after a
  // GEMM it is one more elementwise pass.
  void run(const WeightMatrix& w, const Mat& x, const Mat& y, Epilogue epilogue);
  // Independent products: the decode-sized output-major ones go out in batched launches (one per
  // run of equal weight type and token count, up to kMaxMatvecBatch each), the others one by one.
  void run_batch(std::span<const Backend::Product> products);

 private:
  void gemm(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate);

  cudaStream_t stream_;
  cublasHandle_t cublas_;
  bool fast_activations_;
  DeviceScratch rounded_activations_;  // x as bf16/f16
  DeviceScratch widened_weights_;      // a slice of W as f32
};

}  // namespace rwkv::cuda
