// SHA-256, incremental. The hub names every LFS file by the sha256 of its content (the ETag),
// so a download is checked against it while the bytes arrive, without a second read. OpenSSL's
// implementation is used for its speed (SHA-NI/AVX2: ~2 GB/s, where a plain C++ one manages
// ~150 MB/s and would cap the download rate of a 26 GB model).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace rwkv::hub {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The digest of everything so far, as 64 lowercase hex digits; updating may go on afterwards.
  std::string hex_digest() const;

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// sha256 of a whole file as hex; throws Error naming the file when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

// Reads the first `n` bytes of `path` into `h` (to continue hashing a resumed download).
void sha256_update_from_file(Sha256& h, const std::filesystem::path& path, uint64_t n);

// True when `s` is 64 hex digits: the hub's ETag of an LFS file is then its sha256.
bool is_sha256_hex(std::string_view s);

}  // namespace rwkv::hub
