#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/error.h"

namespace rwkv {

namespace {
// Linux moves at most ~2 GiB per write(); smaller pieces also keep progress checks simple.
constexpr size_t kMaxChunk = size_t{1} << 30;
}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("{}: cannot create: {}", tmp_, std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() { discard(); }

void AtomicFileWriter::discard() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
}

void AtomicFileWriter::fail(const char* what, int err) {
  discard();
  throw Error("{}: {} failed after {} bytes: {}; nothing was written", path_, what, offset_, std::strerror(err));
}

void AtomicFileWriter::write(std::span<const std::byte> bytes) {
  if (fd_ < 0) throw Error("{}: write after the file was closed", path_);
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), std::min(bytes.size(), kMaxChunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", errno);
    }
    if (n == 0) fail("write", ENOSPC);
    bytes = bytes.subspan(static_cast<size_t>(n));
    offset_ += static_cast<uint64_t>(n);
  }
}

void AtomicFileWriter::write_at(uint64_t offset, std::span<const std::byte> bytes) {
  if (fd_ < 0) throw Error("{}: write after the file was closed", path_);
  if (offset > offset_ || bytes.size() > offset_ - offset)
    throw Error("{}: internal error: patching bytes [{}, +{}) beyond the {} written", path_, offset, bytes.size(),
                offset_);
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", errno);
    }
    if (n == 0) fail("write", ENOSPC);
    bytes = bytes.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) throw Error("{}: commit after the file was closed", path_);
  // fsync before rename: after a crash the name must not point at data still in the page cache.
  if (::fsync(fd_) != 0) fail("fsync", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp_.c_str());
    throw Error("{}: close failed: {}; nothing was written", path_, std::strerror(e));
  }
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp_.c_str());
    throw Error("{}: cannot rename {} into place: {}", path_, tmp_, std::strerror(e));
  }
}

}  // namespace rwkv
