// Writes a zip archive of stored (uncompressed) entries the way torch.save does: each entry's
// data starts on a 64-byte boundary (the local header's extra field is padded with a "FB"
// field), so readers can map tensors in place. ZIP64 records are added where sizes or offsets
// pass 4 GiB (or always, with force_zip64, which tests use to exercise them on small files).
// Data is streamed entry by entry; the CRC-32 is computed on the way and patched into the
// local header afterwards, so nothing is held in memory twice.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/atomic_file.h"

namespace rwkv {

class ZipWriter {
 public:
  // `alignment` of each entry's data: torch uses 64; 1 turns padding off (tests of unaligned data).
  explicit ZipWriter(AtomicFileWriter& out, bool force_zip64 = false, uint64_t alignment = 64)
      : out_(out), force_zip64_(force_zip64), alignment_(alignment) {}

  // Starts a stored entry of exactly `size` bytes.
  void begin_entry(const std::string& name, uint64_t size);
  // Appends to the current entry's data.
  void write(std::span<const std::byte> data);
  // Ends the current entry (checks that `size` bytes came).
  void end_entry();
  void add_entry(const std::string& name, std::span<const std::byte> data) {
    begin_entry(name, data.size());
    write(data);
    end_entry();
  }
  void add_entry(const std::string& name, std::string_view data) {
    add_entry(name, std::as_bytes(std::span<const char>(data.data(), data.size())));
  }
  // Writes the central directory and end records. The caller then commits the file.
  void finish();

 private:
  struct Entry {
    std::string name;
    uint64_t size = 0, written = 0, local_header_offset = 0;
    uint32_t crc = 0;
    bool zip64_sizes = false;
  };

  AtomicFileWriter& out_;
  bool force_zip64_;
  uint64_t alignment_;
  bool open_ = false;
  std::vector<Entry> entries_;
};

}  // namespace rwkv
