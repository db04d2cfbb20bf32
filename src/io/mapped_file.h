// A read-only memory map of a whole file. Every slice is bounds-checked, so no parser can be
// talked into reading past the end by a lying header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace rwkv {

class MappedFile {
 public:
  // Maps `path` read-only; throws Error naming the file when it cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
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

 private:
  MappedFile() = default;
  std::string path_;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;
  std::unique_ptr<std::byte[]> owned_;
};

}  // namespace rwkv
