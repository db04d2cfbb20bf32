#include "kernels/cpu/matmul_q8a.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace rwkv::cpu {

namespace {
constexpr int64_t kQ = quant::kBlock;
// Up to this many tokens the products run as matvecs (decode); prompts keep f32 activations.
constexpr int64_t kMaxTokens = 4;
}  // namespace

bool use_q8_activations(Isa isa, const WeightMatrix& w, int64_t T, bool fast_activations) {
  const bool type = dtype_is_quantized(w.dtype);  // every ggml block type
  return fast_activations && T <= kMaxTokens && type && isa >= Isa::Avx2 && w.layout == WeightLayout::OutIn;
}

namespace {
// Sizes `out` for x and zeroes the padding block of each row (when the block count is odd).
void shape_q8(const Mat& x, Q8Activations& out) {
  out.T = x.rows;
  out.blocks = x.cols / kQ;
  out.padded = (out.blocks + 1) / 2 * 2;
  out.q.resize(static_cast<size_t>(out.T * out.padded * kQ));
  out.d.resize(static_cast<size_t>(out.T * out.padded));
  out.sum.resize(out.d.size());
  if (out.padded == out.blocks) return;
  for (int64_t t = 0; t < out.T; ++t) {
    const int64_t at = t * out.padded + out.blocks;
    std::fill_n(out.q.data() + at * kQ, kQ, int8_t{0});
    out.d[static_cast<size_t>(at)] = 0.0f;
    out.sum[static_cast<size_t>(at)] = 0;
  }
}
}  // namespace

void ref_quantize_activations(const Mat& x, Q8Activations& out) {
  shape_q8(x, out);
  for (int64_t t = 0; t < x.rows; ++t)
    for (int64_t b = 0; b < out.blocks; ++b) {
      const float* v = x.row(t) + b * kQ;
      float amax = 0.0f;
      for (int64_t j = 0; j < kQ; ++j) amax = std::max(amax, std::fabs(v[j]));
      const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
      int8_t* q = out.q.data() + (t * out.padded + b) * kQ;
      int32_t s = 0;
      for (int64_t j = 0; j < kQ; ++j) {
        q[j] = static_cast<int8_t>(std::lround(v[j] * id));
        s += q[j];
      }
      out.d[static_cast<size_t>(t * out.padded + b)] = d;
      out.sum[static_cast<size_t>(t * out.padded + b)] = s;
    }
}

void quantize_activations(Isa isa, const Mat& x, Q8Activations& out) {
#if defined(__x86_64__)
  if (isa >= Isa::Avx2) {
    shape_q8(x, out);
    return isa >= Isa::Avx512 ? quantize_activations_avx512(x, out) : quantize_activations_avx2(x, out);
  }
#endif
  ref_quantize_activations(x, out);
}

// The exactly dequantized weights (quant::dequantize_row, the format's one scalar decoder) times
// the 8-bit activations, block by block: what every kernel computes, in another order (they sum
// integer products, then scale; zero points and mins apart).
void ref_q8a_rows(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t o = o0; o < o1; ++o) {
    quant::dequantize_row(w.dtype, w.row(o), w.cols, row.data());
    for (int64_t t = 0; t < x.T; ++t) {
      float sum = 0.0f;
      for (int64_t b = 0; b < x.blocks; ++b) {
        const int8_t* xq = x.q.data() + (t * x.padded + b) * kQ;
        float dot = 0.0f;
        for (int64_t j = 0; j < kQ; ++j) dot += row[static_cast<size_t>(b * kQ + j)] * static_cast<float>(xq[j]);
        sum += x.d[static_cast<size_t>(t * x.padded + b)] * dot;
      }
      float& out = y.row(t)[o];
      out = accumulate ? out + sum : sum;
    }
  }
}

void q8a_rows(Isa isa, const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0,
              int64_t o1) {
#if defined(__x86_64__)
  // Q2_K, Q3_K and Q6_K have only the AVX2 kernel.
  const bool vnni_type = w.dtype != DType::Q2_K && w.dtype != DType::Q3_K && w.dtype != DType::Q6_K;
  if (isa >= Isa::Avx512 && has_avx512_vnni() && vnni_type) return q8a_rows_avx512vnni(w, x, y, accumulate, o0, o1);
  if (isa >= Isa::Avx2) return q8a_rows_avx2(w, x, y, accumulate, o0, o1);
#endif
  ref_q8a_rows(w, x, y, accumulate, o0, o1);
}

}  // namespace rwkv::cpu
