// TensorMap: what every file reader produces. Name -> (dtype, shape, bytes), where the bytes
// are a view into a memory-mapped file (zero-copy) or into a buffer the map owns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tensor/dtype.h"

namespace rwkv {

// Shape as PyTorch writes it: outermost dimension first ((out, in) for a Linear weight).
using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  std::span<const std::byte> bytes;  // exactly shape_numel(shape) elements of dtype, contiguous

  int64_t numel() const { return shape_numel(shape); }
  int64_t dim(int i) const { return shape.at(static_cast<size_t>(i)); }
  const void* data() const { return bytes.data(); }
};

// Reads element i of a float tensor (f32, f16 or bf16) as f32.
float tensor_element_f32(const TensorView& t, int64_t i);
// Copies a whole tensor to f32 (float types widened, quantized blocks dequantized exactly).
std::vector<float> tensor_to_f32(const TensorView& t);

class TensorMap {
 public:
  // `source` names where the tensors came from (the file path) for error messages.
  explicit TensorMap(std::string source = {}) : source_(std::move(source)) {}

  // Adds a tensor; throws Error when the name is taken or the byte size does not match the shape.
  void add(TensorView t);
  // Adds a tensor whose bytes the map owns (a converted copy).
  void add_owned(std::string name, DType dtype, Shape shape, std::vector<std::byte> bytes);
  // Keeps `owner` alive as long as the map: the mapped file the views point into.
  void keep_alive(std::shared_ptr<const void> owner) { owners_.push_back(std::move(owner)); }
  // A function that drops file pages from resident memory (io's attach_file adds one per file).
  void add_page_releaser(std::function<void(std::span<const std::byte>)> f) { releasers_.push_back(std::move(f)); }
  // Tells the mapped files that `bytes` (a tensor that was just replaced by a converted copy) will
  // not be read again soon: their whole pages leave the resident set. Reading them later is still
  // correct (they are faulted back in from the file).
  void release_pages(std::span<const std::byte> bytes) const {
    for (const auto& f : releasers_) f(bytes);
  }
  // Moves every tensor of `other` into this map (for multi-file checkpoints).
  void merge(TensorMap&& other);

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorView* find(const std::string& name) const;
  // Throws Error("<source>: missing tensor '<name>'") when absent.
  const TensorView& get(const std::string& name) const;
  std::vector<std::string> names() const;
  size_t size() const { return tensors_.size(); }
  const std::string& source() const { return source_; }
  void set_source(std::string s) { source_ = std::move(s); }
  // Total bytes of all tensors.
  uint64_t total_bytes() const;
  // Removes a tensor (used when a reader renames or repacks one).
  void erase(const std::string& name) { tensors_.erase(name); }

  // Key/value facts a format carries besides tensors (GGUF metadata, rwkv.cpp header fields,
  // a Hugging Face config.json), as text. Readers fill it; the model loader may consult it.
  std::map<std::string, std::string>& metadata() { return metadata_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string source_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorView> tensors_;
  std::vector<std::shared_ptr<const void>> owners_;
  std::vector<std::function<void(std::span<const std::byte>)>> releasers_;
};

}  // namespace rwkv
