#include "tensor/tensor_map.h"

#include <cstring>

#include "tensor/quant.h"
#include "util/error.h"

namespace rwkv {

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  if (s.size() == 1) out += ",";
  return out + ")";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw Error("negative dimension in shape {}", shape_str(s));
    if (d != 0 && n > (int64_t{1} << 62) / d) throw Error("shape {} is too large", shape_str(s));
    n *= d;
  }
  return n;
}

float tensor_element_f32(const TensorView& t, int64_t i) {
  switch (t.dtype) {
    case DType::F32: {
      float f;
      std::memcpy(&f, t.bytes.data() + i * 4, 4);
      return f;
    }
    case DType::F16:
    case DType::BF16: {
      uint16_t h;
      std::memcpy(&h, t.bytes.data() + i * 2, 2);
      return t.dtype == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
    default:
      throw Error("tensor '{}' is {}, expected a float type", t.name, dtype_name(t.dtype));
  }
}

std::vector<float> tensor_to_f32(const TensorView& t) {
  const int64_t n = t.numel();
  std::vector<float> out(static_cast<size_t>(n));
  if (t.dtype == DType::F32) {
    if (n) std::memcpy(out.data(), t.bytes.data(), static_cast<size_t>(n) * 4);
    return out;
  }
  if (dtype_is_quantized(t.dtype)) {  // blocks run along the flattened tensor (TensorMap::add checks)
    quant::dequantize_row(t.dtype, t.bytes.data(), n, out.data());
    return out;
  }
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = tensor_element_f32(t, i);
  return out;
}

void TensorMap::add(TensorView t) {
  if (t.name.empty()) throw Error("{}: tensor with an empty name", source_);
  const int64_t n = t.numel();
  const int64_t block = dtype_block_size(t.dtype);
  if (n % block != 0)
    throw Error("{}: tensor '{}' has {} elements, not a whole number of {} blocks", source_, t.name, n,
                dtype_name(t.dtype));
  // Blocks run along the last (fastest) dimension: each row must be whole blocks.
  if (block > 1 && (t.shape.empty() || t.shape.back() % block != 0))
    throw Error("{}: tensor '{}' is {} with shape {}: its rows are not a whole number of blocks of {}", source_,
                t.name, dtype_name(t.dtype), shape_str(t.shape), block);
  const uint64_t expect = static_cast<uint64_t>(n / block) * static_cast<uint64_t>(dtype_block_bytes(t.dtype));
  if (t.bytes.size() != expect)
    throw Error("{}: tensor '{}' {} {} needs {} bytes but has {}", source_, t.name, dtype_name(t.dtype),
                shape_str(t.shape), expect, t.bytes.size());
  if (tensors_.count(t.name)) throw Error("{}: tensor '{}' appears twice", source_, t.name);
  std::string key = t.name;
  tensors_.emplace(std::move(key), std::move(t));
}

void TensorMap::add_owned(std::string name, DType dtype, Shape shape, std::vector<std::byte> bytes) {
  auto owned = std::make_shared<std::vector<std::byte>>(std::move(bytes));
  TensorView t{std::move(name), dtype, std::move(shape), std::span<const std::byte>(owned->data(), owned->size())};
  add(std::move(t));
  owners_.push_back(std::move(owned));
}

void TensorMap::merge(TensorMap&& other) {
  for (auto& [name, t] : other.tensors_) {
    if (tensors_.count(name))
      throw Error("tensor '{}' appears in both {} and {}", name, source_, other.source_);
    tensors_.emplace(name, t);
  }
  for (auto& o : other.owners_) owners_.push_back(std::move(o));
  for (auto& r : other.releasers_) releasers_.push_back(std::move(r));
  for (auto& [k, v] : other.metadata_) metadata_.emplace(k, v);
  other.tensors_.clear();
  if (source_.empty()) source_ = other.source_;
  else if (!other.source_.empty()) source_ += "," + other.source_;
}

const TensorView* TensorMap::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& TensorMap::get(const std::string& name) const {
  const TensorView* t = find(name);
  if (!t) throw Error("{}: missing tensor '{}'", source_, name);
  return *t;
}

std::vector<std::string> TensorMap::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, t] : tensors_) out.push_back(name);
  return out;
}

uint64_t TensorMap::total_bytes() const {
  uint64_t n = 0;
  for (const auto& [name, t] : tensors_) n += t.bytes.size();
  return n;
}

}  // namespace rwkv
