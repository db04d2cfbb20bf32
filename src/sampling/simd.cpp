// Highway implementation of simd.h. This file is compiled once per target instruction set
// (foreach_target.h re-includes it); HWY_DYNAMIC_DISPATCH picks the best one at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "sampling/simd.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>

#include <algorithm>
#include <limits>

#include "sampling/distribution.h"  // portable_exp, the scalar twin used for the tails
#include "sampling/simd.h"

HWY_BEFORE_NAMESPACE();
namespace rwkv::sampling::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The vector twin of portable_exp(): the same operations in the same order, so the same bits.
template <class D, class V>
HWY_INLINE V Exp(D d, V x) {
  const hn::RebindToSigned<D> di;
  x = hn::Max(x, hn::Set(d, -88.0f));
  const V round = hn::Set(d, 12582912.0f);
  const V n = hn::Sub(hn::Add(hn::Mul(x, hn::Set(d, 1.44269504088896341f)), round), round);
  V r = hn::Sub(x, hn::Mul(n, hn::Set(d, 0.693145751953125f)));
  r = hn::Sub(r, hn::Mul(n, hn::Set(d, 1.428606765330187045e-6f)));
  V p = hn::Set(d, 1.9875691500e-4f);
  p = hn::Add(hn::Mul(p, r), hn::Set(d, 1.3981999507e-3f));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, 8.3334519073e-3f));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, 4.1665795894e-2f));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, 1.6666665459e-1f));
  p = hn::Add(hn::Mul(p, r), hn::Set(d, 5.0000001201e-1f));
  p = hn::Add(hn::Add(hn::Mul(hn::Mul(p, r), r), r), hn::Set(d, 1.0f));
  const auto bits = hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, n), hn::Set(di, 127)));
  return hn::Mul(p, hn::BitCast(d, bits));
}

MaxScan MaxScanImpl(const float* x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const auto inf = hn::Set(d, kInf);
  auto vmax = hn::Set(d, -kInf);
  auto vbad = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, x + i);
    vmax = hn::Max(vmax, v);
    const auto bad = hn::Or(hn::IsNaN(v), hn::Eq(v, inf));
    vbad = hn::Or(vbad, hn::VecFromMask(d, bad));
  }
  MaxScan out{hn::GetLane(hn::MaxOfLanes(d, vmax)), !hn::AllTrue(d, hn::Eq(vbad, hn::Zero(d)))};
  for (; i < n; ++i) {
    const float v = x[i];
    if (v != v || v == kInf) out.bad = true;
    if (v > out.max) out.max = v;
  }
  return out;
}

size_t FirstIndexOfImpl(const float* x, size_t n, float value) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto v = hn::Set(d, value);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto eq = hn::Eq(hn::LoadU(d, x + i), v);
    if (!hn::AllFalse(d, eq)) return i + static_cast<size_t>(hn::FindFirstTrue(d, eq));
  }
  for (; i < n; ++i)
    if (x[i] == value) return i;
  return n;
}

// Sum of w[0, n) with 8 double accumulators, element j into accumulator j % 8, combined as
// ((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7)): 128-bit vectors exist on every target, so the order is the
// same everywhere. n is a multiple of 8 except for the last block, which the tail finishes.
HWY_INLINE double FixedOrderSum(const float* w, size_t n) {
  alignas(16) double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
#if HWY_HAVE_FLOAT64 && HWY_TARGET != HWY_SCALAR
  const hn::FixedTag<float, 4> d4;
  const hn::FixedTag<float, 2> d2;
  const hn::FixedTag<double, 2> dd;
  auto a01 = hn::Zero(dd), a23 = hn::Zero(dd), a45 = hn::Zero(dd), a67 = hn::Zero(dd);
  for (; i + 8 <= n; i += 8) {
    const auto lo = hn::LoadU(d4, w + i), hi = hn::LoadU(d4, w + i + 4);
    a01 = hn::Add(a01, hn::PromoteTo(dd, hn::LowerHalf(d2, lo)));
    a23 = hn::Add(a23, hn::PromoteTo(dd, hn::UpperHalf(d2, lo)));
    a45 = hn::Add(a45, hn::PromoteTo(dd, hn::LowerHalf(d2, hi)));
    a67 = hn::Add(a67, hn::PromoteTo(dd, hn::UpperHalf(d2, hi)));
  }
  hn::Store(a01, dd, acc + 0);
  hn::Store(a23, dd, acc + 2);
  hn::Store(a45, dd, acc + 4);
  hn::Store(a67, dd, acc + 6);
#endif
  for (; i < n; ++i) acc[i % 8] += w[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void ExpWeightsImpl(const float* x, size_t n, float max, float inv_temperature, float* w, size_t block,
                    double* block_sums) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vmax = hn::Set(d, max), vinv = hn::Set(d, inv_temperature);
  size_t i = 0;
  for (; i + N <= n; i += N)
    hn::StoreU(Exp(d, hn::Mul(hn::Sub(hn::LoadU(d, x + i), vmax), vinv)), d, w + i);
  for (; i < n; ++i) w[i] = portable_exp((x[i] - max) * inv_temperature);
  for (size_t b = 0; b * block < n; ++b) block_sums[b] = FixedOrderSum(w + b * block, std::min(block, n - b * block));
}

// Four thresholds in one pass, written out (arrays of vectors are not allowed on every target:
// SVE vectors have no compile-time size).
void LevelStatsImpl(const float* w, size_t n, const float* thresholds, uint32_t* counts, double* masses) {
  static_assert(kLevels == 4);
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t N = hn::Lanes(d);
  const auto t0 = hn::Set(d, thresholds[0]), t1 = hn::Set(d, thresholds[1]);
  const auto t2 = hn::Set(d, thresholds[2]), t3 = hn::Set(d, thresholds[3]);
  auto m0 = hn::Zero(d), m1 = hn::Zero(d), m2 = hn::Zero(d), m3 = hn::Zero(d);
  auto c0 = hn::Zero(di), c1 = hn::Zero(di), c2 = hn::Zero(di), c3 = hn::Zero(di);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, w + i);
    const auto g0 = hn::Ge(v, t0), g1 = hn::Ge(v, t1), g2 = hn::Ge(v, t2), g3 = hn::Ge(v, t3);
    m0 = hn::Add(m0, hn::IfThenElseZero(g0, v));
    m1 = hn::Add(m1, hn::IfThenElseZero(g1, v));
    m2 = hn::Add(m2, hn::IfThenElseZero(g2, v));
    m3 = hn::Add(m3, hn::IfThenElseZero(g3, v));
    // A true mask lane is all ones, -1 as an integer: subtracting counts it.
    c0 = hn::Sub(c0, hn::VecFromMask(di, hn::RebindMask(di, g0)));
    c1 = hn::Sub(c1, hn::VecFromMask(di, hn::RebindMask(di, g1)));
    c2 = hn::Sub(c2, hn::VecFromMask(di, hn::RebindMask(di, g2)));
    c3 = hn::Sub(c3, hn::VecFromMask(di, hn::RebindMask(di, g3)));
  }
  counts[0] = static_cast<uint32_t>(hn::GetLane(hn::SumOfLanes(di, c0)));
  counts[1] = static_cast<uint32_t>(hn::GetLane(hn::SumOfLanes(di, c1)));
  counts[2] = static_cast<uint32_t>(hn::GetLane(hn::SumOfLanes(di, c2)));
  counts[3] = static_cast<uint32_t>(hn::GetLane(hn::SumOfLanes(di, c3)));
  masses[0] = hn::GetLane(hn::SumOfLanes(d, m0));
  masses[1] = hn::GetLane(hn::SumOfLanes(d, m1));
  masses[2] = hn::GetLane(hn::SumOfLanes(d, m2));
  masses[3] = hn::GetLane(hn::SumOfLanes(d, m3));
  for (; i < n; ++i)
    for (size_t t = 0; t < kLevels; ++t)
      if (w[i] >= thresholds[t]) ++counts[t], masses[t] += w[i];
}

size_t CollectImpl(const float* w, size_t n, float threshold, int32_t* out) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t N = hn::Lanes(d);
  const auto level = hn::Set(d, threshold);
  const auto step = hn::Set(di, static_cast<int32_t>(N));
  auto ids = hn::Iota(di, 0);
  size_t count = 0, i = 0;
  for (; i + N <= n; i += N) {
    const auto ge = hn::Ge(hn::LoadU(d, w + i), level);
    count += hn::CompressStore(ids, hn::RebindMask(di, ge), di, out + count);
    ids = hn::Add(ids, step);
  }
  for (; i < n; ++i)
    if (w[i] >= threshold) out[count++] = static_cast<int32_t>(i);
  return count;
}

}  // namespace HWY_NAMESPACE
}  // namespace rwkv::sampling::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rwkv::sampling::simd {

HWY_EXPORT(MaxScanImpl);
HWY_EXPORT(FirstIndexOfImpl);
HWY_EXPORT(ExpWeightsImpl);
HWY_EXPORT(LevelStatsImpl);
HWY_EXPORT(CollectImpl);

MaxScan max_scan(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(MaxScanImpl)(x, n); }
size_t first_index_of(const float* x, size_t n, float value) {
  return HWY_DYNAMIC_DISPATCH(FirstIndexOfImpl)(x, n, value);
}
void exp_weights(const float* x, size_t n, float max, float inv_temperature, float* w, size_t block,
                 double* block_sums) {
  HWY_DYNAMIC_DISPATCH(ExpWeightsImpl)(x, n, max, inv_temperature, w, block, block_sums);
}
void level_stats(const float* w, size_t n, const float* thresholds, uint32_t* counts, double* masses) {
  HWY_DYNAMIC_DISPATCH(LevelStatsImpl)(w, n, thresholds, counts, masses);
}
size_t collect(const float* w, size_t n, float threshold, int32_t* out) {
  return HWY_DYNAMIC_DISPATCH(CollectImpl)(w, n, threshold, out);
}

}  // namespace rwkv::sampling::simd
#endif
