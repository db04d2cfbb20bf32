// GGUF value types and ggml's tensor type ids (see gguf.h).
#include <fmt/format.h>

#include "io/gguf.h"
#include "util/error.h"

namespace rwkv::gguf {

namespace {

struct GgmlType {
  uint32_t id;
  const char* name;
  std::optional<DType> dtype;
};
// ggml.h enum ggml_type; ids 4, 5 (Q4_2, Q4_3) and 31..33, 36..38 (repacked types) were removed
// from ggml and never appear in files.
constexpr GgmlType kTypes[] = {
    {0, "F32", DType::F32},          {1, "F16", DType::F16},         {2, "Q4_0", DType::Q4_0},
    {3, "Q4_1", DType::Q4_1},        {6, "Q5_0", DType::Q5_0},       {7, "Q5_1", DType::Q5_1},
    {8, "Q8_0", DType::Q8_0},        {9, "Q8_1", std::nullopt},      {10, "Q2_K", DType::Q2_K},
    {11, "Q3_K", DType::Q3_K},       {12, "Q4_K", DType::Q4_K},      {13, "Q5_K", DType::Q5_K},
    {14, "Q6_K", DType::Q6_K},       {15, "Q8_K", std::nullopt},     {16, "IQ2_XXS", std::nullopt},
    {17, "IQ2_XS", std::nullopt},    {18, "IQ3_XXS", std::nullopt},  {19, "IQ1_S", std::nullopt},
    {20, "IQ4_NL", std::nullopt},    {21, "IQ3_S", std::nullopt},    {22, "IQ2_S", std::nullopt},
    {23, "IQ4_XS", std::nullopt},    {24, "I8", std::nullopt},       {25, "I16", std::nullopt},
    {26, "I32", std::nullopt},       {27, "I64", std::nullopt},      {28, "F64", std::nullopt},
    {29, "IQ1_M", std::nullopt},     {30, "BF16", DType::BF16},      {34, "TQ1_0", std::nullopt},
    {35, "TQ2_0", std::nullopt},     {39, "MXFP4", std::nullopt},
};

}  // namespace

std::string value_type_name(uint32_t type) {
  constexpr const char* kNames[] = {"u8",  "i8",   "u16",    "i16",   "u32", "i32", "f32",
                                    "bool", "string", "array", "u64", "i64", "f64"};
  if (type < sizeof(kNames) / sizeof(kNames[0])) return kNames[type];
  return fmt::format("type {}", type);
}

uint64_t value_size(uint32_t type) {
  switch (static_cast<ValueType>(type)) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::Bool: return 1;
    case ValueType::U16:
    case ValueType::I16: return 2;
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::F32: return 4;
    case ValueType::U64:
    case ValueType::I64:
    case ValueType::F64: return 8;
    default: return 0;
  }
}

std::optional<DType> dtype_of(uint32_t ggml_type) {
  for (const GgmlType& t : kTypes)
    if (t.id == ggml_type) return t.dtype;
  return std::nullopt;
}

uint32_t ggml_type_of(DType dtype) {
  for (const GgmlType& t : kTypes)
    if (t.dtype == dtype) return t.id;
  throw Error("{} has no ggml type", dtype_name(dtype));
}

std::string ggml_type_name(uint32_t ggml_type) {
  for (const GgmlType& t : kTypes)
    if (t.id == ggml_type) return t.name;
  return fmt::format("unknown type {}", ggml_type);
}

}  // namespace rwkv::gguf
