// SHA-256 (FIPS 180-4), for checking test outputs against the hashes in the fixtures' manifests.
#pragma once

#include <string>
#include <string_view>

namespace rwkv::test {

// Lower-case hex digest of `bytes`.
std::string sha256_hex(std::string_view bytes);

}  // namespace rwkv::test
