#include "models/weights.h"

#include <algorithm>
#include <cstring>

#include "models/quant_policy.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace rwkv {

void WeightBinder::expect_shape(const TensorView& t, const Shape& expected) const {
  bool ok = t.shape.size() == expected.size();
  for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || expected[i] == t.shape[i];
  if (!ok) {
    std::string want = "(";
    for (size_t i = 0; i < expected.size(); ++i)
      want += (i ? ", " : "") + (expected[i] < 0 ? std::string("*") : std::to_string(expected[i]));
    throw Error("{}: tensor '{}' has shape {}, expected {})", tensors_.source(), t.name, shape_str(t.shape), want);
  }
}

const float* WeightBinder::vector(const std::string& name, int64_t n) {
  const TensorView& t = tensors_.get(name);
  if (t.numel() != n)
    throw Error("{}: tensor '{}' has shape {} ({} elements), expected {} elements", tensors_.source(), name,
                shape_str(t.shape), t.numel(), n);
  const std::vector<float> f = tensor_to_f32(t);  // quantized vectors (rare) are dequantized
  return backend_.upload_param(f);
}

const float* WeightBinder::vector_map(const std::string& name, int64_t n, float (*f)(float)) {
  const TensorView& t = tensors_.get(name);
  if (t.numel() != n)
    throw Error("{}: tensor '{}' has shape {} ({} elements), expected {} elements", tensors_.source(), name,
                shape_str(t.shape), t.numel(), n);
  std::vector<float> v = tensor_to_f32(t);
  for (float& x : v) x = f(x);
  return backend_.upload_param(v);
}

const std::byte* WeightBinder::keep(std::vector<std::byte> bytes) {
  owned_.push_back(std::move(bytes));
  return owned_.back().data();
}

WeightMatrix WeightBinder::to_backend(DType dtype, int64_t rows, int64_t cols, const std::byte* data) {
  WeightMatrix w{dtype, rows, cols, data, dtype_row_bytes(dtype, cols)};
  return backend_.upload_weight(w);
}

DType WeightBinder::matrix_dtype_for(const TensorView& t, int64_t cols) const {
  if (!matrix_dtype_) return t.dtype;
  if (!dtype_is_quantized(*matrix_dtype_)) return *matrix_dtype_;
  return quantized_type_for(*matrix_dtype_, cols).value_or(float_dtype_of(t.dtype));
}

WeightMatrix WeightBinder::converted(const TensorView& t, int64_t rows, int64_t cols, DType want) {
  if (want == t.dtype) return to_backend(t.dtype, rows, cols, t.bytes.data());
  const std::byte* copy = keep(convert_rows(t.dtype, t.bytes.data(), rows, cols, want));
  tensors_.release_pages(t.bytes);  // the file's bytes of it are not read again: out of RSS
  return to_backend(want, rows, cols, copy);
}

WeightMatrix WeightBinder::linear(const std::string& name, int64_t out, int64_t in) {
  const TensorView& t = tensors_.get(name);
  expect_shape(t, {out, in});
  const DType want = matrix_dtype_for(t, in);
  count_streamed(want, out, in);
  return converted(t, out, in, want);
}

WeightMatrix WeightBinder::input_major(const TensorView& t, const std::byte* src, int64_t in, int64_t out) {
  // LoRA factors are never quantized (models/quant_policy.h): a float --dtype converts them, a
  // quantized one keeps them in the file's float dtype; quantized ones in a file are widened.
  DType stored = t.dtype;
  std::vector<std::byte> widened;
  if (dtype_is_quantized(stored)) {
    widened = convert_rows(stored, src, in, out, DType::F32);
    src = widened.data();
    stored = DType::F32;
  }
  const DType want = matrix_dtype_ && !dtype_is_quantized(*matrix_dtype_) ? *matrix_dtype_ : stored;
  count_streamed(want, out, in);
  // Kept input-major, as stored: the kernels multiply it without a transpose (zero-copy when the
  // dtype is kept and the bytes are the file's).
  const std::byte* data = src;
  if (want != stored || !widened.empty()) {
    data = keep(want != stored ? convert_rows(stored, src, in, out, want) : std::move(widened));
    tensors_.release_pages(t.bytes);
  }
  WeightMatrix m{want, out, in, data, dtype_row_bytes(want, out), WeightLayout::InOut};
  return backend_.upload_weight(m);
}

WeightMatrix WeightBinder::right_factor(const std::string& name, int64_t in, int64_t out) {
  const TensorView& t = tensors_.get(name);
  expect_shape(t, {in, out});
  return input_major(t, t.bytes.data(), in, out);
}

std::vector<WeightMatrix> WeightBinder::right_factors(const std::string& name, int64_t count, int64_t in,
                                                      int64_t out) {
  const TensorView& t = tensors_.get(name);
  expect_shape(t, {count, in, out});
  const int64_t slice_bytes = in * dtype_row_bytes(t.dtype, out);
  std::vector<WeightMatrix> m;
  for (int64_t c = 0; c < count; ++c) m.push_back(input_major(t, t.bytes.data() + c * slice_bytes, in, out));
  return m;
}

WeightMatrix WeightBinder::table(const std::string& name, int64_t rows, int64_t cols) {
  const TensorView& t = tensors_.get(name);
  expect_shape(t, {rows, cols});
  // Tables are gathered a row per token: a float --dtype leaves them as stored (converting would
  // cost memory for no speed); a quantized one quantizes them like the matrices (quant_policy.h),
  // so that quantizing at load and `rwkv quantize` agree.
  const DType want = matrix_dtype_ && dtype_is_quantized(*matrix_dtype_) ? matrix_dtype_for(t, cols) : t.dtype;
  return converted(t, rows, cols, want);
}

void WeightBinder::count_streamed(DType dtype, int64_t rows, int64_t cols) {
  const uint64_t bytes = static_cast<uint64_t>(rows * dtype_row_bytes(dtype, cols));
  streamed_bytes_ += bytes;
  streamed_by_dtype_[dtype] += bytes;
}

std::string WeightBinder::matrix_dtypes() const {
  if (streamed_by_dtype_.size() == 1) return std::string(dtype_name(streamed_by_dtype_.begin()->first));
  std::vector<std::pair<uint64_t, DType>> order;
  for (const auto& [d, b] : streamed_by_dtype_) order.emplace_back(b, d);
  std::sort(order.rbegin(), order.rend());
  std::string out;
  for (const auto& [b, d] : order)
    out += fmt::format("{}{} {:.0f}%", out.empty() ? "" : ", ", dtype_name(d),
                       100.0 * static_cast<double>(b) / static_cast<double>(std::max<uint64_t>(streamed_bytes_, 1)));
  return out;
}

uint64_t WeightBinder::converted_bytes() const {
  uint64_t n = 0;
  for (const auto& b : owned_) n += b.size();
  return n;
}

}  // namespace rwkv
