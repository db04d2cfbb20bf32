#include "kernels/cuda/cuda_matmul.h"

#include <algorithm>
#include <climits>

#include "kernels/cuda/cuda_check.h"
#include "util/error.h"

namespace rwkv::cuda {

namespace {

// The f32 copy of a bf16/f16 weight in the exact GEMM is made this many bytes at a time.
constexpr int64_t kWidenSliceBytes = int64_t{256} << 20;

WType weight_type(DType d) {
  switch (d) {
    case DType::F32: return WType::F32;
    case DType::F16: return WType::F16;
    case DType::BF16: return WType::BF16;
    default:
      throw Error("CUDA matmul: {} weights are not multiplied on the GPU; the CUDA backend dequantizes them at "
                  "upload_weight, and this matrix did not come from there",
                  dtype_name(d));
  }
}

cudaDataType cuda_type(WType t) {
  switch (t) {
    case WType::F32: return CUDA_R_32F;
    case WType::F16: return CUDA_R_16F;
    case WType::BF16: return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

int64_t element_bytes(WType t) { return t == WType::F32 ? 4 : 2; }

int as_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX) throw Error("CUDA matmul: {} = {} does not fit cuBLAS's 32-bit sizes", what, v);
  return static_cast<int>(v);
}

void check_product(const WeightMatrix& w, const Mat& x, const Mat& y, const Epilogue& epilogue) {
  if (x.cols != w.cols || y.cols != w.rows || y.rows != x.rows)
    throw Error("matmul shape mismatch: W [{}][{}], x [{}][{}], y [{}][{}]", w.rows, w.cols, x.rows, x.cols, y.rows,
                y.cols);
  if (epilogue.accumulate && (epilogue.act != Activation::Identity || epilogue.bias))
    throw Error("CUDA matmul: an activation after an accumulating product");
}

}  // namespace

void CudaMatmul::run_batch(std::span<const Backend::Product> products) {
  MatvecJob jobs[kMaxMatvecBatch];
  int count = 0;
  WType type = WType::F32;
  int64_t tokens = 0;
  auto flush = [&] {
    if (count > 0) RWKV_CUDA_CHECK(matvec_out_in_batch(type, jobs, count, tokens, stream_));
    count = 0;
  };
  for (const Backend::Product& p : products) {
    const Epilogue epilogue{p.accumulate, p.act, p.bias};
    check_product(p.w, p.x, p.y, epilogue);
    const bool batched = p.x.rows >= 1 && p.x.rows <= kMatvecMaxTokens && p.w.layout == WeightLayout::OutIn &&
                         !dtype_is_quantized(p.w.dtype) && p.w.rows > 0;
    if (!batched) {
      run(p.w, p.x, p.y, epilogue);
      continue;
    }
    const WType t = weight_type(p.w.dtype);
    if (count > 0 && (t != type || p.x.rows != tokens || count == kMaxMatvecBatch)) flush();
    type = t;
    tokens = p.x.rows;
    jobs[count++] = MatvecJob{p.w.data, p.w.rows, p.w.cols, p.w.row_bytes / element_bytes(t), p.x.data, p.y.data,
                              epilogue};
  }
  flush();
}

void CudaMatmul::run(const WeightMatrix& w, const Mat& x, const Mat& y, Epilogue epilogue) {
  check_product(w, x, y, epilogue);
  if (x.rows == 0 || w.rows == 0) return;
  const WType type = weight_type(w.dtype);
  if (x.rows > kMatvecMaxTokens) {
    gemm(w, x, y, epilogue.accumulate);
    if (epilogue.act != Activation::Identity || epilogue.bias)
      RWKV_CUDA_CHECK(activate(y.data, epilogue.act, epilogue.bias, y.rows, y.cols, stream_));
    return;
  }
  const int64_t stride = w.row_bytes / element_bytes(type);
  if (w.layout == WeightLayout::OutIn)
    RWKV_CUDA_CHECK(matvec_out_in(type, w.data, w.rows, w.cols, stride, x.data, x.rows, y.data, epilogue, stream_));
  else
    RWKV_CUDA_CHECK(matvec_in_out(type, w.data, w.rows, w.cols, stride, x.data, x.rows, y.data, epilogue, stream_));
}

void CudaMatmul::gemm(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate) {
  const WType type = weight_type(w.dtype);
  const int64_t stride = w.row_bytes / element_bytes(type);
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  // cuBLAS is column-major: row-major y [T][O] is column-major Y [O][T] (ld = O), x [T][K] is
  // X [K][T] (ld = K). Output-major W [O][K] reads as column-major [K][O]: Y = W^T X (op T);
  // input-major W [K][O] reads as column-major [O][K]: Y = W X (op N).
  const cublasOperation_t op = w.layout == WeightLayout::OutIn ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int n = as_int(x.rows, "tokens"), k = as_int(w.cols, "inputs");
  auto product = [&](int64_t outputs, const void* a, cudaDataType a_type, int64_t lda, const void* b,
                     cudaDataType b_type, float* c) {
    RWKV_CUDA_CHECK(cublasGemmEx(cublas_, op, CUBLAS_OP_N, as_int(outputs, "outputs"), n, k, &alpha, a, a_type,
                                 as_int(lda, "weight stride"), b, b_type, as_int(x.cols, "inputs"), &beta, c,
                                 CUDA_R_32F, as_int(y.cols, "outputs"), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  };

  if (type == WType::F32) {
    product(w.rows, w.data, CUDA_R_32F, stride, x.data, CUDA_R_32F, y.data);
  } else if (fast_activations_) {
    // Tensor cores: activations rounded to the weights' 16-bit type, f32 accumulation.
    void* rounded = rounded_activations_.get(static_cast<size_t>(x.rows * x.cols) * 2, stream_);
    RWKV_CUDA_CHECK(round_to_half(type, x.data, rounded, x.rows * x.cols, stream_));
    product(w.rows, w.data, cuda_type(type), stride, rounded, cuda_type(type), y.data);
  } else if (w.layout == WeightLayout::OutIn) {
    // Exact: slices of output rows widened to f32, each an f32 GEMM into its columns of y.
    // (a product with no inputs still gets one slice: no division by zero)
    const int64_t slice = std::clamp<int64_t>(kWidenSliceBytes / (std::max<int64_t>(w.cols, 1) * 4), 1, w.rows);
    float* wide = static_cast<float*>(widened_weights_.get(static_cast<size_t>(slice * w.cols) * 4, stream_));
    for (int64_t r0 = 0; r0 < w.rows; r0 += slice) {
      const int64_t rows = std::min(slice, w.rows - r0);
      RWKV_CUDA_CHECK(widen_to_f32(type, w.row(r0), rows, w.cols, stride, wide, stream_));
      product(rows, wide, CUDA_R_32F, w.cols, x.data, CUDA_R_32F, y.data + r0);
    }
  } else {
    // Exact, input-major (LoRA-sized): the whole factor widened, stored rows = inputs.
    float* wide = static_cast<float*>(widened_weights_.get(static_cast<size_t>(w.cols * w.rows) * 4, stream_));
    RWKV_CUDA_CHECK(widen_to_f32(type, w.data, w.cols, w.rows, stride, wide, stream_));
    product(w.rows, wide, CUDA_R_32F, w.rows, x.data, CUDA_R_32F, y.data);
  }
}

}  // namespace rwkv::cuda
