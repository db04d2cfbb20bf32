// Little-endian integer loads and stores on raw bytes (file formats are little-endian; memcpy
// keeps unaligned access defined).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace rwkv {

template <typename T>
inline T load_le(const std::byte* p) {
  static_assert(std::endian::native == std::endian::little, "rwkv-engine assumes a little-endian host");
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
inline void append_le(std::string& out, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  out.append(b, sizeof v);
}

}  // namespace rwkv
