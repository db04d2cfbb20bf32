// The K-quants (super-blocks of 256 weights): dequantization of Q2_K..Q6_K and ggml's reference
// quantizers of Q4_K, Q5_K and Q6_K (quantize_row_q{4,5,6}_K_ref with make_qkx2_quants /
// make_qx_quants), operation for operation and compiled with -ffp-contract=off, so the bytes are
// ggml's when ggml's own build does not fuse multiply-adds either.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/quant.h"
#include "tensor/quant_detail.h"
#include "util/error.h"

namespace rwkv::quant {

namespace {

using detail::h2f;
using detail::load;
using detail::store;

// ---- dequantization ----

void dequant_q2_k(const std::byte* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ2_K>(src, i);
    const float d = h2f(b.d), min = h2f(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    for (int n = 0; n < kBlockK; n += 128) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = b.scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF), ml = min * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16 * half] >> shift) & 3) - ml;
        }
      }
      q += 32;
    }
  }
}

void dequant_q3_k(const std::byte* src, int64_t nb, float* y) {
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ3_K>(src, i);
    const float d_all = h2f(b.d);
    // Unpack the 16 6-bit scales (4 low bits in scales[0..7], 2 high bits in scales[8..11]).
    uint32_t aux[4];
    std::memcpy(aux, b.scales, 12);
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    int8_t scales[16];
    std::memcpy(scales, aux, 16);
    const uint8_t* q = b.qs;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < kBlockK; n += 128) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * static_cast<float>(scales[is++] - 32);
          for (int l = 0; l < 16; ++l) {
            const int k = l + 16 * half;
            const int v = ((q[k] >> shift) & 3) - ((b.hmask[k + n / 4 * 0] & m) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
      q += 32;
    }
  }
}

template <typename Block, bool kFiveBit>
void dequant_q45_k(const std::byte* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<Block>(src, i);
    const float d = h2f(b.d), min = h2f(b.dmin);
    const uint8_t* q = b.qs;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < kBlockK; j += 64, is += 2) {
      uint8_t sc, m;
      scale_min_k4(is + 0, b.scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      scale_min_k4(is + 1, b.scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) {
        int v = q[l] & 0xF;
        if constexpr (kFiveBit) v += (b.qh[l] & u1) ? 16 : 0;
        *y++ = d1 * static_cast<float>(v) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        int v = q[l] >> 4;
        if constexpr (kFiveBit) v += (b.qh[l] & u2) ? 16 : 0;
        *y++ = d2 * static_cast<float>(v) - m2;
      }
      q += 32;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

void dequant_q6_k(const std::byte* src, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ6_K>(src, i);
    const float d = h2f(b.d);
    const uint8_t *ql = b.ql, *qh = b.qh;
    const int8_t* sc = b.scales;
    for (int n = 0; n < kBlockK; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

// ---- reference quantization helpers (ggml-quants.c) ----

// Round to nearest, ties to even, through the float adder (ggml's nearest_int); |f| <= 2^22.
int nearest_int(float f) {
  const float v = f + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

constexpr float kGroupMaxEps = 1e-15f;

// make_qx_quants with rmse_type 1 and no importance weights (what quantize_row_q6_K_ref uses):
// symmetric levels in [-nmax, nmax), the scale fitted by weighted least squares over 19 trials.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = -static_cast<float>(nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// make_qkx2_quants: asymmetric levels 0..nmax with a minimum; scale and min fitted by weighted
// least squares over nstep + 1 trial scales. Returns the scale; *the_min = -min (>= 0).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = diff * diff;  // use_mad is false for Q4_K/Q5_K
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i], lf = static_cast<float>(l);
      sum_l += w * lf;
      sum_l2 += w * lf * lf;
      sum_xl += w * lf * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// quantize_row_q4_K_ref / quantize_row_q5_K_ref: the same steps with 4 or 5 bits per weight.
template <typename Block, int kNmax>
void quant_q45_k(const float* x, int64_t nb, std::byte* dst) {
  constexpr bool kFiveBit = kNmax == 31;
  // ggml's search parameters differ between the two: (-1, 0.1, 20) for Q4_K, (-0.5, 0.1, 15) for Q5_K.
  constexpr float kRmin = kFiveBit ? -0.5f : -1.f;
  constexpr int kSteps = kFiveBit ? 15 : 20;
  uint8_t L[kBlockK], Laux[32];
  float weights[32], mins[kBlockK / 32], scales[kBlockK / 32];
  for (int64_t i = 0; i < nb; ++i, x += kBlockK) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < kBlockK / 32; ++j) {
      float sum_x2 = 0;
      for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
      const float av_x = std::sqrt(sum_x2 / 32);
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
      scales[j] = make_qkx2_quants(32, kNmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, kRmin, 0.1f, kSteps);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    Block b{};
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < kBlockK / 32; ++j) {
      uint8_t ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
      uint8_t lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
      ls = std::min<uint8_t>(63, ls);
      lm = std::min<uint8_t>(63, lm);
      if (j < 4) {
        b.scales[j] = ls;
        b.scales[j + 4] = lm;
      } else {
        b.scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
        b.scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
        b.scales[j - 0] |= static_cast<uint8_t>((lm >> 4) << 6);
      }
    }
    b.d = f32_to_f16(max_scale / 63.f);
    b.dmin = f32_to_f16(max_min / 63.f);
    // Requantize every weight against the stored (rounded) scales.
    for (int j = 0; j < kBlockK / 32; ++j) {
      uint8_t sc, m;
      scale_min_k4(j, b.scales, &sc, &m);
      const float d = h2f(b.d) * static_cast<float>(sc);
      if (d == 0.0f) continue;
      const float dm = h2f(b.dmin) * static_cast<float>(m);
      for (int ii = 0; ii < 32; ++ii) {
        const int l = nearest_int((x[32 * j + ii] + dm) / d);
        L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(kNmax, l)));
      }
    }
    if constexpr (kFiveBit) {
      uint8_t* ql = b.qs;
      uint8_t m1 = 1, m2 = 2;
      for (int n = 0; n < kBlockK; n += 64) {
        for (int j = 0; j < 32; ++j) {
          int l1 = L[n + j], l2 = L[n + j + 32];
          if (l1 > 15) {
            l1 -= 16;
            b.qh[j] |= m1;
          }
          if (l2 > 15) {
            l2 -= 16;
            b.qh[j] |= m2;
          }
          ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
        }
        m1 = static_cast<uint8_t>(m1 << 2);
        m2 = static_cast<uint8_t>(m2 << 2);
        ql += 32;
      }
    } else {
      uint8_t* q = b.qs;
      for (int j = 0; j < kBlockK; j += 64, q += 32)
        for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
    store(dst, i, b);
  }
}

void quant_q6_k(const float* x, int64_t nb, std::byte* dst) {
  int8_t L[kBlockK];
  float scales[kBlockK / 16];
  for (int64_t i = 0; i < nb; ++i, x += kBlockK) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < kBlockK / 16; ++ib) {
      const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    BlockQ6_K b{};
    if (max_abs_scale < kGroupMaxEps) {  // an all-zero block
      b.d = f32_to_f16(0.f);
      store(dst, i, b);
      continue;
    }
    const float iscale = -128.f / max_scale;
    b.d = f32_to_f16(1 / iscale);
    for (int ib = 0; ib < kBlockK / 16; ++ib)
      b.scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    for (int j = 0; j < kBlockK / 16; ++j) {
      const float d = h2f(b.d) * static_cast<float>(b.scales[j]);
      if (d == 0.0f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
      }
    }
    uint8_t *ql = b.ql, *qh = b.qh;
    for (int j = 0; j < kBlockK; j += 128) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF;
        const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
        ql[l + 0] = static_cast<uint8_t>(q1 | (q3 << 4));
        ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
        qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                     ((L[j + l + 96] >> 4) << 6));
      }
      ql += 64;
      qh += 32;
    }
    store(dst, i, b);
  }
}

}  // namespace

void dequantize_row_k(DType type, const std::byte* src, int64_t n, float* dst) {
  const int64_t nb = n / kBlockK;
  switch (type) {
    case DType::Q2_K: return dequant_q2_k(src, nb, dst);
    case DType::Q3_K: return dequant_q3_k(src, nb, dst);
    case DType::Q4_K: return dequant_q45_k<BlockQ4_K, false>(src, nb, dst);
    case DType::Q5_K: return dequant_q45_k<BlockQ5_K, true>(src, nb, dst);
    case DType::Q6_K: return dequant_q6_k(src, nb, dst);
    default: throw Error("dequantize_row_k: {} is not a K-quant", dtype_name(type));
  }
}

void quantize_row_k(DType type, const float* src, int64_t n, std::byte* dst) {
  const int64_t nb = n / kBlockK;
  switch (type) {
    case DType::Q4_K: return quant_q45_k<BlockQ4_K, 15>(src, nb, dst);
    case DType::Q5_K: return quant_q45_k<BlockQ5_K, 31>(src, nb, dst);
    case DType::Q6_K: return quant_q6_k(src, nb, dst);
    default: throw Error("quantize_row_k: no quantizer for {}", dtype_name(type));
  }
}

}  // namespace rwkv::quant
