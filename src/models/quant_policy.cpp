#include "models/quant_policy.h"

namespace rwkv {

bool is_quantizable_tensor(std::string_view name, const Shape& shape) {
  constexpr std::string_view kSuffix = ".weight";
  return shape.size() == 2 && name.size() > kSuffix.size() &&
         name.substr(name.size() - kSuffix.size()) == kSuffix;
}

std::optional<DType> quantized_type_for(DType want, int64_t cols) {
  if (cols % dtype_block_size(want) == 0) return want;
  DType fallback;
  switch (want) {
    case DType::Q4_K: fallback = DType::Q5_0; break;
    case DType::Q5_K: fallback = DType::Q5_1; break;
    case DType::Q6_K: fallback = DType::Q8_0; break;
    default: return std::nullopt;
  }
  if (cols % dtype_block_size(fallback) == 0) return fallback;
  return std::nullopt;
}

DType float_dtype_of(DType stored) { return dtype_is_quantized(stored) ? DType::F32 : stored; }

}  // namespace rwkv
