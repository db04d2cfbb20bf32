// Highway implementation of vec_ops.h; compiled once per target instruction set
// (foreach_target.h re-includes this file), HWY_DYNAMIC_DISPATCH picks one at run time.
// Loops run whole vectors, then finish the tail with the scalar formula.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/vec_ops.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/vec_ops.h"

HWY_BEFORE_NAMESPACE();
namespace rwkv::cpu::vec {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using D = hn::ScalableTag<float>;

// exp(-0.5): the RWKV-7 decay's scale, w = exp(-exp(-0.5) * sigmoid(.)).
constexpr float kDecayScale = 0.60653065971263342f;
constexpr float kL2Eps = 1e-12f;  // F.normalize's default

inline float sigmoid1(float v) { return 1.0f / (1.0f + std::exp(-v)); }
template <class V>
HWY_INLINE V Sigmoid(D d, V v) {
  return hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), hn::CallExp(d, hn::Neg(v))));
}

inline float act1(Activation act, float v) {
  switch (act) {
    case Activation::Identity: return v;
    case Activation::Tanh: return std::tanh(v);
    case Activation::Sigmoid: return sigmoid1(v);
    case Activation::ReluSquare: return v > 0 ? v * v : 0.0f;
    case Activation::Silu: return v * sigmoid1(v);
    case Activation::ExpNegExp: return std::exp(-std::exp(v));
  }
  return v;
}

template <Activation A>
void ActivateT(float* x, const float* bias, size_t n) {
  const D d;
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + L <= n; i += L) {
    auto v = hn::LoadU(d, x + i);
    if (bias) v = hn::Add(v, hn::LoadU(d, bias + i));
    if constexpr (A == Activation::Tanh) v = hn::CallTanh(d, v);
    if constexpr (A == Activation::Sigmoid) v = Sigmoid(d, v);
    if constexpr (A == Activation::ReluSquare) {
      v = hn::Max(v, hn::Zero(d));
      v = hn::Mul(v, v);
    }
    if constexpr (A == Activation::Silu) v = hn::Mul(v, Sigmoid(d, v));
    if constexpr (A == Activation::ExpNegExp) v = hn::CallExp(d, hn::Neg(hn::CallExp(d, v)));
    hn::StoreU(v, d, x + i);
  }
  for (; i < n; ++i) x[i] = act1(A, bias ? x[i] + bias[i] : x[i]);
}

void ActivateImpl(Activation act, float* x, const float* bias, size_t n) {
  switch (act) {
    case Activation::Identity: return ActivateT<Activation::Identity>(x, bias, n);
    case Activation::Tanh: return ActivateT<Activation::Tanh>(x, bias, n);
    case Activation::Sigmoid: return ActivateT<Activation::Sigmoid>(x, bias, n);
    case Activation::ReluSquare: return ActivateT<Activation::ReluSquare>(x, bias, n);
    case Activation::Silu: return ActivateT<Activation::Silu>(x, bias, n);
    case Activation::ExpNegExp: return ActivateT<Activation::ExpNegExp>(x, bias, n);
  }
}

void LerpImpl(const float* x, const float* delta, const float* mu, float* out, size_t n) {
  const D d;
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + L <= n; i += L)
    hn::StoreU(hn::MulAdd(hn::LoadU(d, delta + i), hn::LoadU(d, mu + i), hn::LoadU(d, x + i)), d, out + i);
  for (; i < n; ++i) out[i] = x[i] + delta[i] * mu[i];
}

void SubImpl(const float* a, const float* b, float* out, size_t n) {
  const D d;
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::Sub(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  for (; i < n; ++i) out[i] = a[i] - b[i];
}

void AddImpl(float* y, const float* x, size_t n) {
  const D d;
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::Add(hn::LoadU(d, y + i), hn::LoadU(d, x + i)), d, y + i);
  for (; i < n; ++i) y[i] += x[i];
}

void MulImpl(float* y, const float* x, size_t n) {
  const D d;
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::LoadU(d, y + i), hn::LoadU(d, x + i)), d, y + i);
  for (; i < n; ++i) y[i] *= x[i];
}

float Sum(const float* x, size_t n) {
  const D d;
  const size_t L = hn::Lanes(d);
  auto acc = hn::Zero(d);
  size_t i = 0;
  for (; i + L <= n; i += L) acc = hn::Add(acc, hn::LoadU(d, x + i));
  float s = hn::GetLane(hn::SumOfLanes(d, acc));
  for (; i < n; ++i) s += x[i];
  return s;
}

void LayerNormImpl(const float* x, float* y, size_t n, const float* g, const float* b, float eps) {
  const D d;
  const size_t L = hn::Lanes(d);
  const float mean = Sum(x, n) / static_cast<float>(n);
  const auto vmean = hn::Set(d, mean);
  auto acc = hn::Zero(d);
  size_t i = 0;
  for (; i + L <= n; i += L) {
    const auto c = hn::Sub(hn::LoadU(d, x + i), vmean);
    acc = hn::MulAdd(c, c, acc);
  }
  float var = hn::GetLane(hn::SumOfLanes(d, acc));
  for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float inv = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
  const auto vinv = hn::Set(d, inv);
  for (i = 0; i + L <= n; i += L) {
    const auto c = hn::Mul(hn::Sub(hn::LoadU(d, x + i), vmean), vinv);
    hn::StoreU(hn::MulAdd(c, hn::LoadU(d, g + i), hn::LoadU(d, b + i)), d, y + i);
  }
  for (; i < n; ++i) y[i] = (x[i] - mean) * inv * g[i] + b[i];
}

void Rwkv7PrepareImpl(float* k, float* a, float* w, float* kk, const float* k_k, const float* k_a, const float* w0,
                      size_t H, size_t N) {
  const D d;
  const size_t L = hn::Lanes(d), C = H * N;
  // kk = k * k_k, then L2-normalised per head
  for (size_t h = 0; h < H; ++h) {
    float* kh = kk + h * N;
    const float* k0 = k + h * N;
    const float* kkh = k_k + h * N;
    auto acc = hn::Zero(d);
    size_t i = 0;
    for (; i + L <= N; i += L) {
      const auto v = hn::Mul(hn::LoadU(d, k0 + i), hn::LoadU(d, kkh + i));
      hn::StoreU(v, d, kh + i);
      acc = hn::MulAdd(v, v, acc);
    }
    float ss = hn::GetLane(hn::SumOfLanes(d, acc));
    for (; i < N; ++i) {
      kh[i] = k0[i] * kkh[i];
      ss += kh[i] * kh[i];
    }
    const float inv = 1.0f / std::max(std::sqrt(ss), kL2Eps);
    const auto vinv = hn::Set(d, inv);
    for (i = 0; i + L <= N; i += L) hn::StoreU(hn::Mul(hn::LoadU(d, kh + i), vinv), d, kh + i);
    for (; i < N; ++i) kh[i] *= inv;
  }
  // k = k * (1 + (a - 1) * k_a); w = exp(-e^-0.5 * sigmoid(w0 + w)); (kk, a) <- (-kk, kk * a)
  const auto one = hn::Set(d, 1.0f), scale = hn::Set(d, -kDecayScale);
  size_t i = 0;
  for (; i + L <= C; i += L) {
    const auto av = hn::LoadU(d, a + i), kkv = hn::LoadU(d, kk + i);
    const auto kv = hn::Mul(hn::LoadU(d, k + i), hn::MulAdd(hn::Sub(av, one), hn::LoadU(d, k_a + i), one));
    hn::StoreU(kv, d, k + i);
    const auto s = Sigmoid(d, hn::Add(hn::LoadU(d, w0 + i), hn::LoadU(d, w + i)));
    hn::StoreU(hn::CallExp(d, hn::Mul(scale, s)), d, w + i);
    hn::StoreU(hn::Neg(kkv), d, kk + i);
    hn::StoreU(hn::Mul(kkv, av), d, a + i);
  }
  for (; i < C; ++i) {
    k[i] = k[i] * (1.0f + (a[i] - 1.0f) * k_a[i]);
    w[i] = std::exp(-kDecayScale * sigmoid1(w0[i] + w[i]));
    const float removal = -kk[i], replacement = kk[i] * a[i];
    kk[i] = removal;
    a[i] = replacement;
  }
}

void ValueResidualImpl(float* v, const float* v_first, const float* gate, size_t n) {
  const D d;
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + L <= n; i += L) {
    const auto vv = hn::LoadU(d, v + i);
    hn::StoreU(hn::MulAdd(hn::Sub(hn::LoadU(d, v_first + i), vv), hn::LoadU(d, gate + i), vv), d, v + i);
  }
  for (; i < n; ++i) v[i] += (v_first[i] - v[i]) * gate[i];
}

void BonusAndGateImpl(float* y, const float* r, const float* k, const float* v, const float* r_k, const float* g,
                      size_t H, size_t N) {
  const D d;
  const size_t L = hn::Lanes(d);
  for (size_t h = 0; h < H; ++h) {
    const size_t o = h * N;
    auto acc = hn::Zero(d);
    size_t i = 0;
    for (; i + L <= N; i += L)
      acc = hn::MulAdd(hn::Mul(hn::LoadU(d, r + o + i), hn::LoadU(d, k + o + i)), hn::LoadU(d, r_k + o + i), acc);
    float bonus = hn::GetLane(hn::SumOfLanes(d, acc));
    for (; i < N; ++i) bonus += r[o + i] * k[o + i] * r_k[o + i];
    const auto vb = hn::Set(d, bonus);
    for (i = 0; i + L <= N; i += L) {
      const auto yy = hn::MulAdd(vb, hn::LoadU(d, v + o + i), hn::LoadU(d, y + o + i));
      hn::StoreU(hn::Mul(yy, hn::LoadU(d, g + o + i)), d, y + o + i);
    }
    for (; i < N; ++i) y[o + i] = (y[o + i] + bonus * v[o + i]) * g[o + i];
  }
}

// s[0, n) = softmax(cap * tanh(s / scale)) in place (DEA's capped attention scores for one query).
void CappedSoftmaxImpl(float* s, size_t n, float cap, float scale) {
  const D d;
  const size_t L = hn::Lanes(d);
  const auto vcap = hn::Set(d, cap), vscale = hn::Set(d, scale);
  auto vmax = hn::Set(d, -INFINITY);
  size_t i = 0;
  for (; i + L <= n; i += L) {
    const auto v = hn::Mul(vcap, hn::CallTanh(d, hn::Div(hn::LoadU(d, s + i), vscale)));
    vmax = hn::Max(vmax, v);
    hn::StoreU(v, d, s + i);
  }
  float max_score = hn::GetLane(hn::MaxOfLanes(d, vmax));
  for (; i < n; ++i) {
    s[i] = cap * std::tanh(s[i] / scale);
    max_score = std::max(max_score, s[i]);
  }
  const auto vm = hn::Set(d, max_score);
  auto vsum = hn::Zero(d);
  for (i = 0; i + L <= n; i += L) {
    const auto e = hn::CallExp(d, hn::Sub(hn::LoadU(d, s + i), vm));
    vsum = hn::Add(vsum, e);
    hn::StoreU(e, d, s + i);
  }
  double sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  for (; i < n; ++i) {
    s[i] = std::exp(s[i] - max_score);
    sum += s[i];
  }
  const auto inv = hn::Set(d, static_cast<float>(1.0 / sum));
  for (i = 0; i + L <= n; i += L) hn::StoreU(hn::Mul(hn::LoadU(d, s + i), inv), d, s + i);
  for (; i < n; ++i) s[i] *= static_cast<float>(1.0 / sum);
}

}  // namespace HWY_NAMESPACE
}  // namespace rwkv::cpu::vec
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rwkv::cpu::vec {

HWY_EXPORT(ActivateImpl);
HWY_EXPORT(LerpImpl);
HWY_EXPORT(SubImpl);
HWY_EXPORT(AddImpl);
HWY_EXPORT(MulImpl);
HWY_EXPORT(LayerNormImpl);
HWY_EXPORT(Rwkv7PrepareImpl);
HWY_EXPORT(ValueResidualImpl);
HWY_EXPORT(BonusAndGateImpl);
HWY_EXPORT(CappedSoftmaxImpl);

void activate(Activation act, float* x, const float* bias, size_t n) {
  HWY_DYNAMIC_DISPATCH(ActivateImpl)(act, x, bias, n);
}
void lerp(const float* x, const float* delta, const float* mu, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(LerpImpl)(x, delta, mu, out, n);
}
void sub(const float* a, const float* b, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(SubImpl)(a, b, out, n); }
void add(float* y, const float* x, size_t n) { HWY_DYNAMIC_DISPATCH(AddImpl)(y, x, n); }
void mul(float* y, const float* x, size_t n) { HWY_DYNAMIC_DISPATCH(MulImpl)(y, x, n); }
void layer_norm(const float* x, float* y, size_t n, const float* g, const float* b, float eps) {
  HWY_DYNAMIC_DISPATCH(LayerNormImpl)(x, y, n, g, b, eps);
}
void rwkv7_prepare(float* k, float* a, float* w, float* kk, const float* k_k, const float* k_a, const float* w0,
                   size_t H, size_t N) {
  HWY_DYNAMIC_DISPATCH(Rwkv7PrepareImpl)(k, a, w, kk, k_k, k_a, w0, H, N);
}
void value_residual(float* v, const float* v_first, const float* gate, size_t n) {
  HWY_DYNAMIC_DISPATCH(ValueResidualImpl)(v, v_first, gate, n);
}
void bonus_and_gate(float* y, const float* r, const float* k, const float* v, const float* r_k, const float* g,
                    size_t H, size_t N) {
  HWY_DYNAMIC_DISPATCH(BonusAndGateImpl)(y, r, k, v, r_k, g, H, N);
}
void capped_softmax(float* s, size_t n, float cap, float scale) { HWY_DYNAMIC_DISPATCH(CappedSoftmaxImpl)(s, n, cap, scale); }

}  // namespace rwkv::cpu::vec
#endif
