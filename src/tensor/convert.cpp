#include "tensor/convert.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "tensor/quant.h"
#include "util/error.h"

namespace rwkv {

namespace {

// Converts rows [r0, r1).
void convert_range(DType from, const std::byte* src, int64_t r0, int64_t r1, int64_t cols, DType to,
                   std::byte* dst) {
  const int64_t in_bytes = dtype_row_bytes(from, cols), out_bytes = dtype_row_bytes(to, cols);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = r0; r < r1; ++r) {
    float* f = to == DType::F32 ? reinterpret_cast<float*>(dst + r * out_bytes) : row.data();
    quant::dequantize_row(from, src + r * in_bytes, cols, f);
    std::byte* out = dst + r * out_bytes;
    if (to == DType::F32) {
      continue;  // already written in place (dst is at least 4-byte aligned: a vector's storage)
    } else if (to == DType::F16 || to == DType::BF16) {
      for (int64_t i = 0; i < cols; ++i) {
        const uint16_t h = to == DType::F16 ? f32_to_f16(f[i]) : f32_to_bf16(f[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
    } else {
      quant::quantize_row(to, f, cols, out);
    }
  }
}

}  // namespace

std::vector<std::byte> convert_rows(DType from, const std::byte* src, int64_t rows, int64_t cols, DType to) {
  if (dtype_is_quantized(to) && !quant::can_quantize(to))
    throw Error("cannot quantize to {}: we read it but have no quantizer for it", dtype_name(to));
  std::vector<std::byte> out(static_cast<size_t>(rows * dtype_row_bytes(to, cols)));
  dtype_row_bytes(from, cols);  // throws when the rows are not whole blocks of `from`
  if (from == to) {
    if (!out.empty()) std::memcpy(out.data(), src, out.size());
    return out;
  }
  // Quantizing is ~10-200 flops per weight (the K-quants search scales): worth threads for big
  // matrices. Other conversions are memory-bound and stay on one thread.
  const int64_t work = dtype_is_quantized(to) ? rows * cols : 0;
  const int threads = work >= (1 << 20) ? static_cast<int>(std::max(1u, std::min(16u, std::thread::hardware_concurrency()))) : 1;
  if (threads <= 1) {
    convert_range(from, src, 0, rows, cols, to, out.data());
    return out;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    const int64_t r0 = rows * i / threads, r1 = rows * (i + 1) / threads;
    pool.emplace_back([&, i, r0, r1] {
      try {
        convert_range(from, src, r0, r1, cols, to, out.data());
      } catch (...) {
        errors[static_cast<size_t>(i)] = std::current_exception();
      }
    });
  }
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

}  // namespace rwkv
