// GGUF (ggml's container, docs/gguf.md of ggml): the pieces the reader (gguf.cpp) and the writer
// (gguf_writer.cpp) share. Layout, all little-endian:
//
//   "GGUF", u32 version (2 or 3; 1 is a pre-release layout with 32-bit counts, refused),
//   u64 tensor count, u64 metadata count,
//   metadata:  string key, u32 value type, value            (string = u64 length + UTF-8 bytes;
//                                                            array = u32 type, u64 count, items)
//   tensors:   string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset
//   padding to `general.alignment` (default 32), then the data; each tensor's offset is relative
//   to the data start and a multiple of the alignment.
//
// ne[] is ggml's order, fastest dimension first: the PyTorch shape reversed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tensor/dtype.h"

namespace rwkv::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr int kMaxDims = 4;  // GGML_MAX_DIMS

enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
// "u8", ..., "array"; "type N" for unknown ones.
std::string value_type_name(uint32_t type);
// Bytes of one value of a fixed-size type; 0 for string and array (and unknown types).
uint64_t value_size(uint32_t type);

// ggml's type ids (ggml.h enum ggml_type) <-> our DType. ggml has more types than we read (IQ*,
// TQ*, MXFP4, ...): ggml_type_name() names them for the error message.
std::optional<DType> dtype_of(uint32_t ggml_type);
uint32_t ggml_type_of(DType dtype);
std::string ggml_type_name(uint32_t ggml_type);

}  // namespace rwkv::gguf
