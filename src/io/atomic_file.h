// Writes a file all-or-nothing: the bytes go to `<path>.tmp`, renamed to `path` only once every
// write, the fsync and the close succeeded. On any failure, or if the writer is destroyed before
// commit(), the temporary file is removed, so a full disk never leaves a half file that looks
// complete. Every write is checked and errors name the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rwkv {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Appends bytes at the end.
  void write(std::span<const std::byte> bytes);
  void write(std::string_view bytes) { write(std::as_bytes(std::span<const char>(bytes.data(), bytes.size()))); }
  // Overwrites bytes already written (e.g. a checksum known only after the data).
  void write_at(uint64_t offset, std::span<const std::byte> bytes);
  // Bytes appended so far.
  uint64_t offset() const { return offset_; }
  const std::string& path() const { return path_; }
  // Flushes to disk and renames the temporary file into place.
  void commit();

 private:
  [[noreturn]] void fail(const char* what, int err);
  void discard();

  std::string path_, tmp_;
  int fd_ = -1;
  uint64_t offset_ = 0;
};

}  // namespace rwkv
