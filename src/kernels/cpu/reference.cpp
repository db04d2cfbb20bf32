#include "kernels/cpu/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "tensor/quant.h"
#include "util/error.h"

namespace rwkv::ref {

void row_to_f32(DType dtype, const std::byte* row, int64_t n, float* out) {
  quant::dequantize_row(dtype, row, n, out);
}

void matmul(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1) {
  if (w.layout == WeightLayout::InOut) {  // y[t][o] = sum_k W[k][o] x[t][k]
    std::vector<float> wrow(static_cast<size_t>(o1 - o0));
    std::vector<float> sum(static_cast<size_t>(x.rows * (o1 - o0)), 0.0f);
    const int64_t esize = dtype_block_bytes(w.dtype);
    for (int64_t k = 0; k < w.cols; ++k) {
      row_to_f32(w.dtype, w.row(k) + o0 * esize, o1 - o0, wrow.data());
      for (int64_t t = 0; t < x.rows; ++t)
        for (int64_t o = 0; o < o1 - o0; ++o) sum[static_cast<size_t>(t * (o1 - o0) + o)] += wrow[static_cast<size_t>(o)] * x.row(t)[k];
    }
    for (int64_t t = 0; t < x.rows; ++t)
      for (int64_t o = o0; o < o1; ++o) {
        const float v = sum[static_cast<size_t>(t * (o1 - o0) + o - o0)];
        float& out = y.row(t)[o];
        out = accumulate ? out + v : v;
      }
    return;
  }
  std::vector<float> wrow(static_cast<size_t>(w.cols));
  for (int64_t o = o0; o < o1; ++o) {
    row_to_f32(w.dtype, w.row(o), w.cols, wrow.data());
    for (int64_t t = 0; t < x.rows; ++t) {
      const float* xt = x.row(t);
      float sum = 0.0f;
      for (int64_t i = 0; i < w.cols; ++i) sum += wrow[static_cast<size_t>(i)] * xt[i];
      float& out = y.row(t)[o];
      out = accumulate ? out + sum : sum;
    }
  }
}

void layer_norm_row(const float* x, float* y, int64_t n, const float* g, const float* b, float eps) {
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  double var = 0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= static_cast<double>(n);
  const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
  const float m = static_cast<float>(mean);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * inv * g[i] + b[i];
}

void activate_row(Activation act, float* p, const float* bias, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = bias ? p[i] + bias[i] : p[i];
    switch (act) {
      case Activation::Identity: p[i] = v; break;
      case Activation::Tanh: p[i] = std::tanh(v); break;
      case Activation::Sigmoid: p[i] = 1.0f / (1.0f + std::exp(-v)); break;
      case Activation::ReluSquare: p[i] = v > 0 ? v * v : 0.0f; break;
      case Activation::Silu: p[i] = v / (1.0f + std::exp(-v)); break;
      case Activation::ExpNegExp: p[i] = std::exp(-std::exp(v)); break;
    }
  }
}

void lerp_row(const float* x, const float* delta, const float* mu, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] + delta[i] * mu[i];
}
void sub_row(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] - b[i];
}
void add_row(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}
void mul_row(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= x[i];
}

void rwkv7_prepare_row(float* k, float* a, float* w, float* kk, const float* k_k, const float* k_a, const float* w0,
                       int64_t H, int64_t N) {
  // exp(-0.5): the decay's ceiling; w = exp(-exp(-0.5) * sigmoid(.)) keeps every w in (0.545, 1).
  const float kDecayScale = std::exp(-0.5f);
  constexpr float kL2Eps = 1e-12f;  // F.normalize's default
  const int64_t C = H * N;
  for (int64_t i = 0; i < C; ++i) kk[i] = k[i] * k_k[i];
  for (int64_t h = 0; h < H; ++h) l2_normalize_row(kk + h * N, N, kL2Eps);
  for (int64_t i = 0; i < C; ++i) {
    k[i] = k[i] * (1.0f + (a[i] - 1.0f) * k_a[i]);
    const float s = 1.0f / (1.0f + std::exp(-(w0[i] + w[i])));
    w[i] = std::exp(-kDecayScale * s);
    const float removal = -kk[i], replacement = kk[i] * a[i];
    kk[i] = removal;
    a[i] = replacement;
  }
}

void value_residual_row(float* v, const float* v_first, const float* gate, int64_t n) {
  for (int64_t i = 0; i < n; ++i) v[i] += (v_first[i] - v[i]) * gate[i];
}

void bonus_and_gate_row(float* y, const float* r, const float* k, const float* v, const float* r_k, const float* g,
                        int64_t H, int64_t N) {
  for (int64_t h = 0; h < H; ++h) {
    float bonus = 0.0f;
    for (int64_t i = h * N; i < (h + 1) * N; ++i) bonus += r[i] * k[i] * r_k[i];
    for (int64_t i = h * N; i < (h + 1) * N; ++i) y[i] = (y[i] + bonus * v[i]) * g[i];
  }
}

void l2_normalize_row(float* x, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::max(std::sqrt(ss), static_cast<double>(eps)));
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void vecmat_row(const float* u, const float* m, int64_t n, float* z) {
  for (int64_t j = 0; j < n; ++j) z[j] = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) z[j] += u[i] * m[i * n + j];
}

void dea_attention_row(const Backend::DeaAttention& a, int64_t t, float* scores) {
  const float* q = a.q + t * a.d_qk;
  const int64_t last = a.first + t;  // causal: positions 0..last
  float max_score = -INFINITY;
  for (int64_t j = 0; j <= last; ++j) {
    const float* k = a.keys + j * a.d_qk;
    float dot = 0.0f;
    for (int64_t i = 0; i < a.d_qk; ++i) dot += q[i] * k[i];
    scores[j] = a.cap * std::tanh(dot / a.scale);
    max_score = std::max(max_score, scores[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j <= last; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  const float inv = static_cast<float>(1.0 / sum);
  float* out = a.out + t * a.d_v;
  for (int64_t i = 0; i < a.d_v; ++i) out[i] = 0.0f;
  for (int64_t j = 0; j <= last; ++j) {
    const float p = scores[j] * inv;
    const float* v = a.values + j * a.d_v;
    for (int64_t i = 0; i < a.d_v; ++i) out[i] += p * v[i];
  }
}

void wkv7(const Wkv7Args& a, int64_t h0, int64_t h1) {
  const int64_t N = a.N, C = a.H * a.N;
  std::vector<float> sa(static_cast<size_t>(N));
  for (int64_t h = h0; h < h1; ++h) {
    float* S = a.state + h * N * N;  // S[j][i]: key j, value i (the transpose of the paper's S)
    for (int64_t t = 0; t < a.T; ++t) {
      const int64_t off = t * C + h * N;
      const float *r = a.r + off, *w = a.w + off, *k = a.k + off, *v = a.v + off, *aa = a.a + off, *bb = a.b + off;
      float* y = a.y + off;
      for (int64_t i = 0; i < N; ++i) sa[static_cast<size_t>(i)] = 0.0f;
      for (int64_t j = 0; j < N; ++j)
        for (int64_t i = 0; i < N; ++i) sa[static_cast<size_t>(i)] += S[j * N + i] * aa[j];
      for (int64_t i = 0; i < N; ++i) y[i] = 0.0f;
      for (int64_t j = 0; j < N; ++j) {
        float* Sj = S + j * N;
        for (int64_t i = 0; i < N; ++i) {
          Sj[i] = Sj[i] * w[j] + sa[static_cast<size_t>(i)] * bb[j] + v[i] * k[j];
          y[i] += Sj[i] * r[j];
        }
      }
    }
  }
}

void wkv56(const Wkv56Args& a, int64_t h0, int64_t h1) {
  const int64_t N = a.N, C = a.H * a.N;
  for (int64_t h = h0; h < h1; ++h) {
    float* S = a.state + h * N * N;  // S[j][i]: key j, value i
    for (int64_t t = 0; t < a.T; ++t) {
      const int64_t off = t * C + h * N;
      const float *r = a.r + off, *k = a.k + off, *v = a.v + off, *u = a.u + h * N;
      const float* w = a.w + (a.w_per_token ? off : h * N);
      float* y = a.y + off;
      for (int64_t i = 0; i < N; ++i) y[i] = 0.0f;
      for (int64_t j = 0; j < N; ++j) {
        float* Sj = S + j * N;
        const float rj = r[j], kj = k[j], uj = u[j], wj = w[j];
        for (int64_t i = 0; i < N; ++i) {
          const float kv = kj * v[i];
          y[i] += rj * (uj * kv + Sj[i]);
          Sj[i] = Sj[i] * wj + kv;
        }
      }
    }
  }
}

}  // namespace rwkv::ref
