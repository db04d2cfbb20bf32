// A read-only ZIP archive over a MappedFile: just enough of the format for torch.save files.
// Reads the central directory (ZIP64 included: real checkpoints reach ~28 GB), finds each entry's
// data through its local header, and hands out *stored* (uncompressed) entries as zero-copy spans
// into the map. Compressed or encrypted entries are refused when their data is asked for.
// CRC-32 is not verified: that would read every byte of a multi-GB file at load time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/mapped_file.h"

namespace rwkv {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 = stored, 8 = deflate, ...
  uint16_t flags = 0;   // general-purpose bit flags (bit 0: encrypted)
  uint64_t size = 0;    // uncompressed size
  uint64_t compressed_size = 0;
  uint64_t local_header_offset = 0;
  uint64_t data_offset = 0;  // first byte of the entry's data, from its local header
};

class ZipArchive {
 public:
  // Parses the directory; throws Error naming the file and byte offset when it is malformed.
  explicit ZipArchive(std::shared_ptr<const MappedFile> file);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr when absent.
  const ZipEntry* find(std::string_view name) const;
  // The bytes of a stored entry (a view into the map); throws Error for compressed or encrypted ones.
  std::span<const std::byte> data(const ZipEntry& e) const;
  const std::string& path() const { return file_->path(); }

 private:
  struct Directory {
    uint64_t entries, offset, size;
  };
  Directory find_directory() const;
  void read_directory(const Directory& dir);

  std::shared_ptr<const MappedFile> file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;  // name -> index in entries_
};

}  // namespace rwkv
