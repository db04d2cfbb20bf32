// Small TensorMap edits shared by the layout steps (rwkvcpp_layout.cpp, gguf_layout.cpp). All
// keep the bytes where they are except those that must copy: transposes, and widening a
// quantized tensor to f32 before one (blocks cannot be transposed).
#include <fmt/format.h>

#include <cstring>

#include "models/layouts.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace rwkv {

namespace {

// A (rows, cols) matrix of esize-byte elements transposed to (cols, rows).
std::vector<std::byte> transpose(const std::byte* src, int64_t rows, int64_t cols, int64_t esize) {
  std::vector<std::byte> out(static_cast<size_t>(rows * cols * esize));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      std::memcpy(out.data() + (c * rows + r) * esize, src + (r * cols + c) * esize, static_cast<size_t>(esize));
  return out;
}

std::string shape_error(const TensorMap& t, const std::string& name, std::string_view expected) {
  return fmt::format("{}: tensor '{}' has shape {}, expected {}", t.source(), name, shape_str(t.get(name).shape),
                     expected);
}

}  // namespace

void rename_tensor(TensorMap& t, const std::string& from, const std::string& to) {
  TensorView v = t.get(from);
  if (t.contains(to))
    throw Error("{}: tensor '{}' would be renamed to '{}', which is already present", t.source(), from, to);
  t.erase(from);
  v.name = to;
  t.add(std::move(v));
}

void reshape_tensor(TensorMap& t, const std::string& name, const Shape& shape) {
  TensorView v = t.get(name);
  if (shape_numel(shape) != v.numel())
    throw Error("{}: tensor '{}' has shape {} ({} elements), expected {} elements for shape {}", t.source(), name,
                shape_str(v.shape), v.numel(), shape_numel(shape), shape_str(shape));
  if (dtype_is_quantized(v.dtype) && (shape.empty() || shape.back() % dtype_block_size(v.dtype) != 0))
    widen_to_f32(t, name);  // the new rows would split blocks
  v = t.get(name);
  t.erase(name);
  v.shape = shape;
  t.add(std::move(v));
}

void replace_bytes(TensorMap& t, const std::string& name, const Shape& shape, std::vector<std::byte> bytes) {
  const DType dtype = t.get(name).dtype;
  t.release_pages(t.get(name).bytes);
  t.erase(name);
  t.add_owned(name, dtype, shape, std::move(bytes));
}

void widen_to_f32(TensorMap& t, const std::string& name) {
  const TensorView& v = t.get(name);
  if (!dtype_is_quantized(v.dtype)) return;
  const Shape shape = v.shape;
  auto f32 = convert_rows(v.dtype, v.bytes.data(), v.numel() / shape.back(), shape.back(), DType::F32);
  t.release_pages(v.bytes);
  t.erase(name);
  t.add_owned(name, DType::F32, shape, std::move(f32));
}

void transpose_2d(TensorMap& t, const std::string& name) {
  if (t.get(name).shape.size() != 2) throw Error("{}", shape_error(t, name, "2 dimensions"));
  widen_to_f32(t, name);
  const TensorView& v = t.get(name);
  const int64_t rows = v.shape[0], cols = v.shape[1];
  replace_bytes(t, name, {cols, rows}, transpose(v.bytes.data(), rows, cols, dtype_block_bytes(v.dtype)));
}

void transpose_last_two(TensorMap& t, const std::string& name) {
  if (t.get(name).shape.size() != 3) throw Error("{}", shape_error(t, name, "3 dimensions"));
  widen_to_f32(t, name);
  const TensorView& v = t.get(name);
  const int64_t n = v.shape[0], rows = v.shape[1], cols = v.shape[2], esize = dtype_block_bytes(v.dtype);
  std::vector<std::byte> out;
  out.reserve(v.bytes.size());
  for (int64_t i = 0; i < n; ++i) {
    const auto slice = transpose(v.bytes.data() + i * rows * cols * esize, rows, cols, esize);
    out.insert(out.end(), slice.begin(), slice.end());
  }
  replace_bytes(t, name, {n, cols, rows}, std::move(out));
}

void split_stacked(TensorMap& t, const std::string& name, const std::vector<std::string>& parts) {
  const int64_t n = static_cast<int64_t>(parts.size());
  const Shape& s = t.get(name).shape;
  if (s.size() < 2 || s[0] != n)
    throw Error("{}", shape_error(t, name, fmt::format("({}, 1, .., n_embd): {} stacked vectors", n, n)));
  widen_to_f32(t, name);
  const TensorView v = t.get(name);
  const int64_t C = v.numel() / n;
  const size_t part = static_cast<size_t>(dtype_row_bytes(v.dtype, C));
  t.erase(name);  // `v` still points at the bytes, which the map keeps alive
  for (size_t i = 0; i < parts.size(); ++i)
    t.add(TensorView{parts[i], v.dtype, {1, 1, C}, v.bytes.subspan(i * part, part)});
}

}  // namespace rwkv
