// Checkpoint writers (tests, `rwkv make-model`, conversions). Both stream tensor by tensor from
// the TensorMap's views (a mapped file is read once, never held in memory twice) into
// `<path>.tmp`, renamed to `path` only when complete: a failure (a full disk) leaves no file.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "tensor/tensor_map.h"

namespace rwkv {

struct PthWriteOptions {
  std::string archive_name = "archive";  // the zip's top-level folder, as torch 2.x names it
  bool force_zip64 = false;              // ZIP64 records even for small files (tests)
};

// A tensor to write whose bytes are produced on demand, when the writer reaches it: only one
// tensor is in memory at a time (`rwkv make-model` writes 15 GB files this way).
struct TensorSource {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  // Fills exactly dtype x numel(shape) bytes.
  std::function<void(std::span<std::byte>)> fill;
};

// A torch.save-compatible zip: <archive>/data.pkl (protocol 2, a dict in name order of
// _rebuild_tensor_v2 records), <archive>/byteorder = "little", <archive>/data/<i> (one storage
// per tensor, 64-byte aligned), <archive>/version = "3\n". Only f32, f16 and bf16 tensors.
void write_pth(const std::string& path, const TensorMap& tensors, const PthWriteOptions& options = {});
void write_pth(const std::string& path, const std::vector<TensorSource>& tensors, const PthWriteOptions& options = {});

// safetensors: u64 header length, the JSON header (with "__metadata__": {"format": "pt"})
// padded with spaces to a multiple of 8, then the data, ordered by element size (largest first)
// and then name, so every tensor is aligned to its element size. Only f32, f16 and bf16.
void write_safetensors(const std::string& path, const TensorMap& tensors);
void write_safetensors(const std::string& path, const std::vector<TensorSource>& tensors);

}  // namespace rwkv
