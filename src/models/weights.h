// Binding checkpoint tensors to a model: looks tensors up by name, validates their shapes
// against the hyper-parameters, converts dtypes when asked, and hands them to the backend.
// Every failure names the file, the tensor, and the shape it has and the one expected.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "tensor/tensor_map.h"

namespace rwkv {

class WeightBinder {
 public:
  // `matrix_dtype`: the run-time dtype of weight matrices (empty = keep the file's). A quantized
  // type applies to the matrices and tables that models/quant_policy.h names.
  WeightBinder(const TensorMap& tensors, Backend& backend, std::optional<DType> matrix_dtype)
      : tensors_(tensors), backend_(backend), matrix_dtype_(matrix_dtype) {}

  bool has(const std::string& name) const { return tensors_.contains(name); }
  const TensorView& tensor(const std::string& name) const { return tensors_.get(name); }

  // A parameter vector of exactly n elements (any shape with n elements, e.g. (1,1,C) or (H,N)),
  // as f32 in backend memory (whatever the stored dtype).
  const float* vector(const std::string& name, int64_t n);
  // The same with `f` applied to every element once at load, in f32 (e.g. 1 - mix, exp(-exp(w))).
  const float* vector_map(const std::string& name, int64_t n, float (*f)(float));
  // A Linear weight stored (out, in): used as y = W x. Quantized weights stay quantized.
  WeightMatrix linear(const std::string& name, int64_t out, int64_t in);
  // A matrix stored (in, out) and used as y = x @ M (the LoRA and DEA factors of the official
  // code): kept input-major (WeightLayout::InOut), as the file has it.
  WeightMatrix right_factor(const std::string& name, int64_t in, int64_t out);
  // A stack of `count` such factors stored (count, in, out) (RWKV-6 time_maa_w2): one Linear
  // [out][in] matrix per slice.
  std::vector<WeightMatrix> right_factors(const std::string& name, int64_t count, int64_t in, int64_t out);
  // An embedding-like table (rows, cols) kept in the file's dtype: only the rows that tokens need
  // are read, so converting the whole table would cost memory for nothing.
  WeightMatrix table(const std::string& name, int64_t rows, int64_t cols);

  // Shape check with the standard message; `expected` uses -1 for "any".
  void expect_shape(const TensorView& t, const Shape& expected) const;
  // Bytes held in converted copies (not mapped from the file).
  uint64_t converted_bytes() const;
  // Bytes of every matrix bound with linear() or right_factor(): what one decode step streams
  // from memory (tables are only gathered a row at a time, so they are not counted).
  uint64_t streamed_bytes() const { return streamed_bytes_; }
  // The dtypes of those matrices by share of their bytes, e.g. "q5_0 89%, f16 11%" (or "bf16").
  std::string matrix_dtypes() const;

 private:
  WeightMatrix to_backend(DType dtype, int64_t rows, int64_t cols, const std::byte* data);
  // The run-time dtype of a linear()/table() matrix with rows of `cols` weights.
  DType matrix_dtype_for(const TensorView& t, int64_t cols) const;
  // t as a (rows, cols) matrix of dtype `want`: a view when it already is, else a converted copy.
  WeightMatrix converted(const TensorView& t, int64_t rows, int64_t cols, DType want);
  // An (in, out) matrix as an input-major WeightMatrix in the run-time float dtype (quantized
  // ones are dequantized first).
  WeightMatrix input_major(const TensorView& t, const std::byte* src, int64_t in, int64_t out);
  const std::byte* keep(std::vector<std::byte> bytes);
  void count_streamed(DType dtype, int64_t rows, int64_t cols);

  const TensorMap& tensors_;
  Backend& backend_;
  std::optional<DType> matrix_dtype_;
  std::deque<std::vector<std::byte>> owned_;
  uint64_t streamed_bytes_ = 0;
  std::map<DType, uint64_t> streamed_by_dtype_;
};


}  // namespace rwkv
