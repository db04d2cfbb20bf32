#include "sampling/distribution.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "sampling/simd.h"
#include "util/error.h"

namespace rwkv::sampling {

namespace {

// A token's place in the order (weight descending, id ascending) as one unsigned number: the bits
// of a non-negative float order like the float, and the complement of the id puts lower ids first.
// Larger key = earlier. Keys are distinct, so every correct selection finds the same tokens.
uint64_t key(float weight, int32_t id) {
  return (static_cast<uint64_t>(std::bit_cast<uint32_t>(weight)) << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(id));
}
float key_weight(uint64_t k) { return std::bit_cast<float>(static_cast<uint32_t>(k >> 32)); }

}  // namespace

float portable_exp(float x) {
  // e^x = 2^n * e^r with n = round(x / ln 2) and |r| <= ln2 / 2. ln 2 is split in two parts
  // (Cody-Waite) so that x - n*ln2 is exact enough; e^r is Cephes' degree-6 minimax polynomial.
  // The clamp keeps n >= -127, where 2^n below is built from its exponent bits (n = -127 gives
  // the bit pattern of 0.0: results that would be below ~1e-38 become 0).
  x = std::max(x, -88.0f);
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * kLog2e + kRound) - kRound;
  float r = x - n * 0.693145751953125f;
  r = r - n * 1.428606765330187045e-6f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const auto bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

float checked_max(std::span<const float> logits) {
  const simd::MaxScan scan = simd::max_scan(logits.data(), logits.size());
  if (scan.bad) {
    for (size_t i = 0; i < logits.size(); ++i)
      if (std::isnan(logits[i]) || logits[i] == std::numeric_limits<float>::infinity())
        throw Error("sampler: the logit of token {} is {}", i, logits[i]);
  }
  if (logits.empty() || scan.max == -std::numeric_limits<float>::infinity())
    throw Error("sampler: every one of the {} logits is -inf", logits.size());
  return scan.max;
}

int32_t first_argmax(std::span<const float> logits, float max_logit) {
  return static_cast<int32_t>(simd::first_index_of(logits.data(), logits.size(), max_logit));
}

void Distribution::set_logits(std::span<const float> logits, float max_logit, float inv_temperature) {
  w_.resize(logits.size());
  block_sum_.resize((logits.size() + kBlock - 1) / kBlock);
  simd::exp_weights(logits.data(), logits.size(), max_logit, inv_temperature, w_.data(), kBlock, block_sum_.data());
  total_ = 0;
  for (const double s : block_sum_) total_ += s;
  keep_all_ = true;
  kept_.clear();
  kept_weight_ = 0;
}

void Distribution::collect(float threshold) {
  if (candidate_buffer_.size() < w_.size() + simd::kCollectPadding)
    candidate_buffer_.resize(w_.size() + simd::kCollectPadding);
  candidate_count_ = simd::collect(w_.data(), w_.size(), threshold, candidate_buffer_.data());
}

bool Distribution::boundary(size_t k, double mass_limit, uint64_t* boundary_key, double* kept_mass) {
  // A quickselect that carries weights. `cur` holds the undecided keys; taken keys (weighing
  // taken_mass) are all above them and kept. A pivot is kept exactly when the keys above it are
  // few and light enough; then so are those keys, and only the keys below it stay undecided;
  // otherwise the boundary lies among the keys above it.
  const auto ids = candidates();
  const size_t n = ids.size();
  keys_.resize(n);
  key_scratch_.resize(n);
  for (size_t j = 0; j < n; ++j) keys_[j] = key(w_[ids[j]], ids[j]);
  uint64_t* cur = keys_.data();
  uint64_t* other = key_scratch_.data();
  size_t len = n, taken = 0;
  double taken_mass = 0;
  bool found = false;
  // Median-of-three pivots are fast on the shapes logits have; a pathological shape falls back
  // to sorting after a bounded number of rounds (any sort of distinct keys gives the same order).
  for (int round = 0; len > 0 && round < 64; ++round) {
    const uint64_t a = cur[0], b = cur[len / 2], c = cur[len - 1];
    const uint64_t pivot = std::max(std::min(a, b), std::min(std::max(a, b), c));
    // Out-of-place and branch-free (the comparisons are unpredictable): keys above the pivot
    // fill `other` from the front, keys below from the back. Both slots are free ones, so the
    // store that is not kept is overwritten later; the one slot left over is the pivot's.
    size_t above = 0, below = 0;
    double mass[4] = {0, 0, 0, 0};
    for (size_t j = 0; j < len; ++j) {
      const uint64_t x = cur[j];
      const bool gt = x > pivot;
      other[above] = x;
      other[len - 1 - below] = x;
      mass[j % 4] += gt ? key_weight(x) : 0.0f;
      above += gt;
      below += x < pivot;
    }
    const double above_mass = (mass[0] + mass[1]) + (mass[2] + mass[3]);
    if (taken + above < k && taken_mass + above_mass < mass_limit) {
      taken += above + 1;
      taken_mass += above_mass + key_weight(pivot);
      *boundary_key = pivot;
      found = true;
      const uint64_t* rest = other + (len - below);
      std::copy(rest, rest + below, cur);  // cur's keys are all placed in `other`: free to reuse
      len = below;
    } else {
      std::swap(cur, other);
      len = above;
    }
  }
  if (len > 0) {
    std::sort(cur, cur + len, std::greater<>());
    for (size_t j = 0; j < len && taken < k && taken_mass < mass_limit; ++j) {
      ++taken;
      taken_mass += key_weight(cur[j]);
      *boundary_key = cur[j];
      found = true;
    }
  }
  *kept_mass = taken_mass;
  // Unless k or the mass was reached, the candidates ran out: tokens that were not candidates
  // might have been kept too.
  return found && (taken >= k || taken_mass >= mass_limit);
}

void Distribution::restrict(int top_k, double top_p) {
  const size_t n = w_.size();
  const size_t k = (top_k > 0 && static_cast<size_t>(top_k) < n) ? static_cast<size_t>(top_k) : n;
  const double mass_limit = top_p >= 1.0 ? std::numeric_limits<double>::infinity() : top_p * total_;
  keep_all_ = (k == n && top_p >= 1.0);
  if (keep_all_) return;

  // The kept tokens are the first of the order, so they are among the tokens whose weight is at
  // least some threshold, as soon as those are k or more, or weigh mass_limit or more. Pick the
  // highest of a few thresholds that qualifies (from one vectorised pass) and look only at the
  // tokens above it; usually a few dozen. The stats are estimates (float sums), hence the margin,
  // and the check in boundary(): when it fails, every token with a weight above 0 is a candidate.
  static constexpr float kThresholds[simd::kLevels] = {0x1p-7f, 0x1p-14f, 0x1p-28f, 0x1p-56f};
  uint32_t counts[simd::kLevels];
  double masses[simd::kLevels];
  simd::level_stats(w_.data(), n, kThresholds, counts, masses);
  constexpr float kAnyWeight = std::numeric_limits<float>::denorm_min();
  float threshold = kAnyWeight;
  for (size_t t = 0; t < simd::kLevels; ++t) {
    if (counts[t] >= k || masses[t] >= mass_limit * (1 + 1e-3)) {
      threshold = kThresholds[t];
      break;
    }
  }
  collect(threshold);
  uint64_t boundary_key = 0;
  if (!boundary(k, mass_limit, &boundary_key, &kept_weight_) && threshold != kAnyWeight) {
    collect(kAnyWeight);
    boundary(k, mass_limit, &boundary_key, &kept_weight_);  // complete now: no other token can be drawn
  }

  // The kept tokens, in id order (the order draw() walks); branch-free, as in boundary().
  const auto ids = candidates();
  kept_.resize(ids.size());
  size_t count = 0;
  for (const int32_t id : ids) {
    kept_[count] = id;
    count += key(w_[id], id) >= boundary_key;
  }
  kept_.resize(count);
}

int32_t Distribution::draw(double u) const {
  const double target = u * kept_weight();
  return keep_all_ ? draw_all(target) : draw_kept(target);
}

int32_t Distribution::draw_all(double target) const {
  // Skip whole blocks, then walk the block that holds the target. Rounding can leave `target` just
  // past the last positive weight; the last positive weight is then the answer.
  double before = 0;
  size_t b = 0;
  while (b + 1 < block_sum_.size() && before + block_sum_[b] <= target) before += block_sum_[b++];
  const size_t begin = b * kBlock, end = std::min(w_.size(), begin + kBlock);
  int32_t last_positive = -1;
  for (size_t i = begin; i < end; ++i) {
    if (w_[i] <= 0) continue;
    before += w_[i];
    last_positive = static_cast<int32_t>(i);
    if (before > target) return last_positive;
  }
  if (last_positive >= 0) return last_positive;
  for (size_t i = w_.size(); i-- > 0;)
    if (w_[i] > 0) return static_cast<int32_t>(i);
  return 0;  // unreachable: the most likely token has weight 1
}

int32_t Distribution::draw_kept(double target) const {
  double before = 0;
  for (const int32_t id : kept_) {
    before += w_[id];
    if (before > target) return id;
  }
  return kept_.back();  // rounding; never empty, since the most likely token is always kept
}

}  // namespace rwkv::sampling
