// A read-only memory map of a whole file. Every slice is bounds-checked, so no parser can be
// talked into reading past the end by a lying header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "tensor/tensor_map.h"

namespace rwkv {

class MappedFile {
 public:
  // Maps `path` read-only; throws Error naming the file when it cannot be opened or mapped.
  // `populate`: map every page now (a model, read in full soon); false for a file of which only a
  // few pages will be read (a GGUF model's vocab in its header, the sniffing of a format).
  static std::shared_ptr<const MappedFile> open(const std::string& path, bool populate = true);
  // Wraps bytes already in memory (tests, fuzzers). The bytes are copied.
  static std::shared_ptr<const MappedFile> from_bytes(std::span<const std::byte> bytes, std::string name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  uint64_t size() const { return size_; }
  // bytes [offset, offset+length); throws Error("<path>: <what> at byte <offset> ... past the end").
  std::span<const std::byte> slice(uint64_t offset, uint64_t length, std::string_view what) const;
  // Drops the whole pages of `bytes` that lie in this mapping from the process's resident memory
  // (a copy replaced them). Always safe: the mapping is read-only, so a later read of them
  // faults the same bytes back in from the file. Bytes outside the mapping are ignored.
  void release(std::span<const std::byte> bytes) const;

 private:
  MappedFile() = default;
  std::string path_;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;
  std::unique_ptr<std::byte[]> owned_;
};

// Keeps `file` alive as long as `map` (whose views point into it) and lets the map release the
// pages of tensors it replaces by copies (TensorMap::release_pages).
void attach_file(TensorMap& map, std::shared_ptr<const MappedFile> file);

}  // namespace rwkv
