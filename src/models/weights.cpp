#include "models/weights.h"

#include <cstring>

#include "util/error.h"

namespace rwkv {

std::vector<std::byte> convert_floats(DType from, const std::byte* src, int64_t n, DType to) {
  std::vector<std::byte> out(static_cast<size_t>(n * dtype_block_bytes(to)));
  for (int64_t i = 0; i < n; ++i) {
    float f;
    if (from == DType::F32) {
      std::memcpy(&f, src + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      f = from == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
    if (to == DType::F32) {
      std::memcpy(out.data() + 4 * i, &f, 4);
    } else {
      const uint16_t h = to == DType::F16 ? f32_to_f16(f) : f32_to_bf16(f);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

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

static void expect_float(const TensorMap& m, const TensorView& t) {
  if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16)
    throw Error("{}: tensor '{}' is {}, expected f32, f16 or bf16 here", m.source(), t.name, dtype_name(t.dtype));
}

const float* WeightBinder::vector(const std::string& name, int64_t n) {
  const TensorView& t = tensors_.get(name);
  expect_float(tensors_, t);
  if (t.numel() != n)
    throw Error("{}: tensor '{}' has shape {} ({} elements), expected {} elements", tensors_.source(), name,
                shape_str(t.shape), t.numel(), n);
  const std::vector<float> f = tensor_to_f32(t);
  return backend_.upload_param(f);
}

const float* WeightBinder::vector_map(const std::string& name, int64_t n, float (*f)(float)) {
  const TensorView& t = tensors_.get(name);
  expect_float(tensors_, t);
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

WeightMatrix WeightBinder::linear(const std::string& name, int64_t out, int64_t in) {
  const TensorView& t = tensors_.get(name);
  expect_float(tensors_, t);
  expect_shape(t, {out, in});
  const DType want = matrix_dtype_.value_or(t.dtype);
  streamed_bytes_ += static_cast<uint64_t>(out * dtype_row_bytes(want, in));
  if (want == t.dtype) return to_backend(t.dtype, out, in, t.bytes.data());
  return to_backend(want, out, in, keep(convert_floats(t.dtype, t.bytes.data(), t.numel(), want)));
}

WeightMatrix WeightBinder::transposed(const TensorView& t, const std::byte* src, int64_t in, int64_t out) {
  const DType want = matrix_dtype_.value_or(t.dtype);
  streamed_bytes_ += static_cast<uint64_t>(out * dtype_row_bytes(want, in));
  // Transpose in the source dtype (exact), then convert.
  const int64_t esize = dtype_block_bytes(t.dtype);
  std::vector<std::byte> m(static_cast<size_t>(in * out * esize));
  for (int64_t i = 0; i < in; ++i)
    for (int64_t o = 0; o < out; ++o)
      std::memcpy(m.data() + (o * in + i) * esize, src + (i * out + o) * esize, static_cast<size_t>(esize));
  if (want != t.dtype) m = convert_floats(t.dtype, m.data(), in * out, want);
  return to_backend(want, out, in, keep(std::move(m)));
}

WeightMatrix WeightBinder::right_factor(const std::string& name, int64_t in, int64_t out) {
  const TensorView& t = tensors_.get(name);
  expect_float(tensors_, t);
  expect_shape(t, {in, out});
  return transposed(t, t.bytes.data(), in, out);
}

std::vector<WeightMatrix> WeightBinder::right_factors(const std::string& name, int64_t count, int64_t in,
                                                      int64_t out) {
  const TensorView& t = tensors_.get(name);
  expect_float(tensors_, t);
  expect_shape(t, {count, in, out});
  const int64_t slice_bytes = in * out * dtype_block_bytes(t.dtype);
  std::vector<WeightMatrix> m;
  for (int64_t c = 0; c < count; ++c) m.push_back(transposed(t, t.bytes.data() + c * slice_bytes, in, out));
  return m;
}

WeightMatrix WeightBinder::table(const std::string& name, int64_t rows, int64_t cols) {
  const TensorView& t = tensors_.get(name);
  expect_float(tensors_, t);
  expect_shape(t, {rows, cols});
  return to_backend(t.dtype, rows, cols, t.bytes.data());
}

uint64_t WeightBinder::converted_bytes() const {
  uint64_t n = 0;
  for (const auto& b : owned_) n += b.size();
  return n;
}

}  // namespace rwkv
