#include "tensor/dtype.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "util/error.h"

namespace rwkv {

namespace {
struct DTypeInfo {
  DType type;
  std::string_view name;
  int64_t block_size;
  int64_t block_bytes;
};
constexpr DTypeInfo kInfo[] = {
    {DType::F32, "f32", 1, 4},       {DType::F16, "f16", 1, 2},     {DType::BF16, "bf16", 1, 2},
    {DType::Q4_0, "q4_0", 32, 18},   {DType::Q4_1, "q4_1", 32, 20}, {DType::Q5_0, "q5_0", 32, 22},
    {DType::Q5_1, "q5_1", 32, 24},   {DType::Q8_0, "q8_0", 32, 34}, {DType::Q2_K, "q2_k", 256, 84},
    {DType::Q3_K, "q3_k", 256, 110}, {DType::Q4_K, "q4_k", 256, 144}, {DType::Q5_K, "q5_k", 256, 176},
    {DType::Q6_K, "q6_k", 256, 210},
};
const DTypeInfo& info(DType t) {
  for (const auto& i : kInfo)
    if (i.type == t) return i;
  throw Error("unknown dtype {}", static_cast<int>(t));
}
}  // namespace

int64_t dtype_block_size(DType t) { return info(t).block_size; }
int64_t dtype_block_bytes(DType t) { return info(t).block_bytes; }
bool dtype_is_quantized(DType t) { return info(t).block_size > 1; }
std::string_view dtype_name(DType t) { return info(t).name; }

bool parse_dtype(std::string_view name, DType* out) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "fp32" || lower == "float32") lower = "f32";
  if (lower == "fp16" || lower == "float16" || lower == "half") lower = "f16";
  if (lower == "bfloat16") lower = "bf16";
  for (const auto& i : kInfo) {
    if (i.name == lower) {
      *out = i.type;
      return true;
    }
  }
  return false;
}

int64_t dtype_row_bytes(DType t, int64_t n) {
  const auto& i = info(t);
  if (n % i.block_size != 0)
    throw Error("a row of {} elements is not a whole number of {} blocks of {}", n, i.name, i.block_size);
  return n / i.block_size * i.block_bytes;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (abs < 0x38800000u) {  // subnormal or zero in f16: round to nearest even at 2^-24
    float a;
    std::memcpy(&a, &abs, 4);
    const float scaled = a * 16777216.0f;  // 2^24
    uint32_t m = static_cast<uint32_t>(scaled);
    const float rem = scaled - static_cast<float>(m);
    if (rem > 0.5f || (rem == 0.5f && (m & 1u))) ++m;
    return static_cast<uint16_t>(sign | m);
  }
  uint32_t r = abs - 0x38000000u;  // rebias exponent 127 -> 15
  r += 0xfffu + ((r >> 13) & 1u);  // round to nearest even
  return static_cast<uint16_t>(sign | (r >> 13));
}

}  // namespace rwkv
