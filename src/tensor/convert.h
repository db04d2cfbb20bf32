// Converting weights between dtypes: float <-> float, exact dequantization of ggml blocks to
// f32, and quantization through f32 with ggml's reference quantizers. Used by the weight binder
// (--dtype at load), the layout steps (dequantize before transposing) and `rwkv quantize`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor/dtype.h"

namespace rwkv {

// Converts `rows` rows of `cols` elements from `from` to `to`: to f32 exactly; to f16/bf16 with
// round-to-nearest-even; to a quantized type by widening each row to f32 and quantizing it
// (ggml's quantize_row_*_ref). `cols` must be a whole number of blocks of both types. Large
// conversions into quantized types are split across the hardware threads.
std::vector<std::byte> convert_rows(DType from, const std::byte* src, int64_t rows, int64_t cols, DType to);

}  // namespace rwkv
