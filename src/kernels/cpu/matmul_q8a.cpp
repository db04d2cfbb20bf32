#include "kernels/cpu/matmul_q8a.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

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

namespace {
// A 32-weight block as integers: weight j = d * q[j] + m.
void block_ints(DType type, const std::byte* blk, int (&q)[kQ], float* d, float* m) {
  const auto* b = reinterpret_cast<const uint8_t*>(blk);
  uint16_t h[2];
  std::memcpy(h, b, 4);
  *d = f16_to_f32(h[0]);
  *m = 0.0f;
  if (type == DType::Q8_0) {
    for (int j = 0; j < kQ; ++j) q[j] = static_cast<int8_t>(b[2 + j]);
    return;
  }
  const bool has_min = type == DType::Q4_1 || type == DType::Q5_1;
  const bool five = type == DType::Q5_0 || type == DType::Q5_1;
  if (has_min) *m = f16_to_f32(h[1]);
  const int at = 2 + (has_min ? 2 : 0);  // qh (Q5), then qs: low nibbles weights 0-15, high 16-31
  uint32_t qh = 0;
  if (five) std::memcpy(&qh, b + at, 4);
  const uint8_t* qs = b + at + (five ? 4 : 0);
  const int zero = has_min ? 0 : five ? 16 : 8;
  for (int j = 0; j < kQ; ++j) {
    const int nibble = j < kQ / 2 ? qs[j] & 0xF : qs[j - kQ / 2] >> 4;
    q[j] = (nibble | static_cast<int>((qh >> j) & 1) << 4) - zero;
  }
}

// Sub-block e (0-7, 32 weights) of a K-quant super-block as integers and scales: weight j is
// scale[j / 16] * q[j] - min.
struct SubBlock {
  int q[kQ];
  float scale[2], min[2];  // per 16 weights: weight j = scale[j / 16] * q[j] - min[j / 16]
};

SubBlock k_sub_block(DType type, const std::byte* blk, int e) {
  const auto* b = reinterpret_cast<const uint8_t*>(blk);
  SubBlock s{};
  if (type == DType::Q2_K || type == DType::Q3_K) {  // 2-bit values: run e is shift 2 (e % 4) of qs[32 (e / 4) ..]
    const bool three = type == DType::Q3_K;
    const uint8_t* qs = b + (three ? offsetof(quant::BlockQ3_K, qs) : offsetof(quant::BlockQ2_K, qs)) + 32 * (e / 4);
    for (int l = 0; l < kQ; ++l) {
      s.q[l] = (qs[l] >> (2 * (e % 4))) & 3;
      if (three) s.q[l] -= (b[offsetof(quant::BlockQ3_K, hmask) + l] >> e) & 1 ? 0 : 4;  // the 3rd bit, inverted
    }
    uint16_t dh[2];
    if (three) {
      // 16 6-bit scales: low 4 bits in bytes 0-7 (two per byte), high 2 bits in bytes 8-11.
      std::memcpy(dh, b + offsetof(quant::BlockQ3_K, d), 2);
      const uint8_t* sc = b + offsetof(quant::BlockQ3_K, scales);
      for (int h = 0; h < 2; ++h) {
        const int i = 2 * e + h;
        const int low = (sc[i % 8] >> (4 * (i / 8))) & 0xF, high = (sc[8 + i % 4] >> (2 * (i / 4))) & 3;
        s.scale[h] = f16_to_f32(dh[0]) * static_cast<float>((low | high << 4) - 32);
      }
    } else {  // Q2_K: per 16 weights a 4-bit scale (low nibble) and min (high nibble)
      std::memcpy(dh, b + offsetof(quant::BlockQ2_K, d), 4);
      for (int h = 0; h < 2; ++h) {
        const uint8_t sm = b[offsetof(quant::BlockQ2_K, scales) + 2 * e + h];
        s.scale[h] = f16_to_f32(dh[0]) * static_cast<float>(sm & 0xF);
        s.min[h] = f16_to_f32(dh[1]) * static_cast<float>(sm >> 4);
      }
    }
    return s;
  }
  if (type == DType::Q6_K) {  // half n of 128 weights, run r of 32 in it
    const int n = e / 4, r = e % 4;
    const uint8_t* ql = b + 64 * n + (r % 2) * 32;
    const uint8_t* qh = b + offsetof(quant::BlockQ6_K, qh) + 32 * n;
    for (int l = 0; l < kQ; ++l)
      s.q[l] = (((ql[l] >> (4 * (r / 2))) & 0xF) | (((qh[l] >> (2 * r)) & 3) << 4)) - 32;
    const auto* sc = reinterpret_cast<const int8_t*>(b + offsetof(quant::BlockQ6_K, scales)) + 8 * n + 2 * r;
    uint16_t dh;
    std::memcpy(&dh, b + offsetof(quant::BlockQ6_K, d), 2);
    s.scale[0] = f16_to_f32(dh) * static_cast<float>(sc[0]);
    s.scale[1] = f16_to_f32(dh) * static_cast<float>(sc[1]);
    return s;
  }
  // Q4_K / Q5_K: the low (e even) or high nibbles of 32 bytes; Q5_K's 5th bit is bit e of qh.
  const bool five = type == DType::Q5_K;
  const uint8_t* qs = b + (five ? offsetof(quant::BlockQ5_K, qs) : offsetof(quant::BlockQ4_K, qs)) + 32 * (e / 2);
  for (int l = 0; l < kQ; ++l) {
    s.q[l] = (qs[l] >> (4 * (e % 2))) & 0xF;
    if (five) s.q[l] |= ((b[offsetof(quant::BlockQ5_K, qh) + l] >> e) & 1) << 4;
  }
  uint16_t dh[2];
  std::memcpy(dh, b, 4);
  uint8_t sc, m;
  quant::scale_min_k4(e, b + 4, &sc, &m);
  s.scale[0] = s.scale[1] = f16_to_f32(dh[0]) * static_cast<float>(sc);
  s.min[0] = s.min[1] = f16_to_f32(dh[1]) * static_cast<float>(m);
  return s;
}

// y[t][o] of a K-quant row: per activation block, the integer dot products of its two halves
// scaled, minus the mins times the sums of the activations of each half.
float ref_k_row(const WeightMatrix& w, const Q8Activations& x, int64_t o, int64_t t) {
  const int64_t per_super = quant::kBlockK / kQ, super_bytes = dtype_block_bytes(w.dtype);
  float sum = 0.0f;
  for (int64_t b = 0; b < x.blocks; ++b) {
    const SubBlock s = k_sub_block(w.dtype, w.row(o) + b / per_super * super_bytes, static_cast<int>(b % per_super));
    const int8_t* xq = x.q.data() + (t * x.padded + b) * kQ;
    int32_t dot[2] = {0, 0}, xsum[2] = {0, 0};
    for (int l = 0; l < kQ; ++l) {
      dot[l / 16] += s.q[l] * xq[l];
      xsum[l / 16] += xq[l];
    }
    const float dx = x.d[static_cast<size_t>(t * x.padded + b)];
    for (int h = 0; h < 2; ++h)
      sum += dx * (s.scale[h] * static_cast<float>(dot[h]) - s.min[h] * static_cast<float>(xsum[h]));
  }
  return sum;
}
}  // namespace

void ref_q8a_rows(const WeightMatrix& w, const Q8Activations& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  if (dtype_block_size(w.dtype) == quant::kBlockK) {  // the K-quants
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t t = 0; t < x.T; ++t) {
        float& out = y.row(t)[o];
        out = accumulate ? out + ref_k_row(w, x, o, t) : ref_k_row(w, x, o, t);
      }
    return;
  }
  const int64_t block_bytes = dtype_block_bytes(w.dtype);
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t t = 0; t < x.T; ++t) {
      float sum = 0.0f;
      for (int64_t b = 0; b < x.blocks; ++b) {
        int q[kQ];
        float d, m;
        block_ints(w.dtype, w.row(o) + b * block_bytes, q, &d, &m);
        const int8_t* xq = x.q.data() + (t * x.padded + b) * kQ;
        int32_t dot = 0;
        for (int64_t j = 0; j < kQ; ++j) dot += q[j] * xq[j];
        const float dx = x.d[static_cast<size_t>(t * x.padded + b)];
        sum += d * dx * static_cast<float>(dot) + m * dx * static_cast<float>(x.sum[static_cast<size_t>(t * x.padded + b)]);
      }
      float& out = y.row(t)[o];
      out = accumulate ? out + sum : sum;
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
