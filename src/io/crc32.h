// CRC-32 (the zip / zlib polynomial 0xEDB88320), incremental: crc = crc32_update(crc, bytes)
// starting from 0. Slicing-by-8, ~1-2 GB/s: zip writing needs it over every byte of a checkpoint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace rwkv {

uint32_t crc32_update(uint32_t crc, std::span<const std::byte> bytes);

}  // namespace rwkv
