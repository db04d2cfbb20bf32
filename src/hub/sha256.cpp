#include "hub/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "util/error.h"

namespace rwkv::hub {

struct Sha256::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) throw Error("sha256: OpenSSL init failed");
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t n) {
  if (n && EVP_DigestUpdate(ctx_->md, data, n) != 1) throw Error("sha256: OpenSSL update failed");
}

std::string Sha256::hex_digest() const {
  Ctx copy;  // finalise a copy, so the running hash can go on
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!copy.md || EVP_MD_CTX_copy_ex(copy.md, ctx_->md) != 1 || EVP_DigestFinal_ex(copy.md, digest, &len) != 1)
    throw Error("sha256: OpenSSL final failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

void sha256_update_from_file(Sha256& h, const std::filesystem::path& path, uint64_t n) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot read {}: {}", path.string(), std::strerror(errno));
  std::vector<char> buf(1 << 20);
  while (n > 0) {
    const auto want = static_cast<std::streamsize>(std::min<uint64_t>(n, buf.size()));
    f.read(buf.data(), want);
    if (f.gcount() != want) throw Error("cannot read {}: the file is shorter than expected", path.string());
    h.update(buf.data(), static_cast<size_t>(want));
    n -= static_cast<uint64_t>(want);
  }
}

std::string sha256_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Error("cannot read {}: {}", path.string(), ec.message());
  Sha256 h;
  sha256_update_from_file(h, path, size);
  return h.hex_digest();
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

}  // namespace rwkv::hub
