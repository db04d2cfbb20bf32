// Sampler: generator, exponential, selection (exact, against a plain full-sort reference),
// distribution (chi-square), penalties (exact arithmetic), determinism, greedy, validation.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <numeric>
#include <vector>

#include "rwkv/sampler.h"
#include "sampling/distribution.h"
#include "sampling/rng.h"
#include "util/error.h"

namespace rwkv {
namespace {

using sampling::Distribution;
using sampling::Xoshiro256ss;

SamplerConfig plain(double temperature, double top_p, int top_k = 0, uint64_t seed = 1) {
  SamplerConfig c;
  c.temperature = temperature;
  c.top_p = top_p;
  c.top_k = top_k;
  c.alpha_presence = 0;
  c.alpha_frequency = 0;
  c.seed = seed;
  return c;
}

std::vector<float> random_logits(size_t n, uint64_t seed, float spread, float quantum = 0) {
  Xoshiro256ss rng(seed);
  std::vector<float> out(n);
  for (float& x : out) {
    x = static_cast<float>((rng.uniform() * 2 - 1) * spread);
    if (quantum > 0) x = std::round(x / quantum) * quantum;  // many exact ties
  }
  return out;
}

// ---------------------------------------------------------------- generator

TEST(Rng, MatchesTheReferenceVectors) {
  uint64_t s = 0;
  EXPECT_EQ(sampling::splitmix64_next(s), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(sampling::splitmix64_next(s), 0x6e789e6aa1b965f4ULL);
  Xoshiro256ss x({1, 2, 3, 4});
  EXPECT_EQ(x.next(), 11520u);
  EXPECT_EQ(x.next(), 0u);
  EXPECT_EQ(x.next(), 1509978240u);
  EXPECT_EQ(x.next(), 1215971899390074240u);
}

TEST(Rng, UniformIsInUnitIntervalAndCentred) {
  Xoshiro256ss x(42);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = x.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);
}

// ---------------------------------------------------------------- exponential and scans

TEST(PortableExp, IsAccurateAndExactAtZero) {
  EXPECT_EQ(sampling::portable_exp(0.0f), 1.0f);
  EXPECT_EQ(sampling::portable_exp(-0.0f), 1.0f);
  EXPECT_EQ(sampling::portable_exp(-INFINITY), 0.0f);
  EXPECT_EQ(sampling::portable_exp(-100.0f), 0.0f);
  double worst = 0;
  float previous = 0;
  for (float x = -87.0f; x <= 0.0f; x += 0.00173f) {
    const float y = sampling::portable_exp(x);
    worst = std::max(worst, std::abs(y - std::exp(double{x})) / std::exp(double{x}));
    ASSERT_GE(y, previous) << "not monotonic at " << x;
    previous = y;
  }
  EXPECT_LT(worst, 1.5e-7);
}

TEST(PortableExp, VectorPathGivesTheSameBits) {
  // 1003 values: not a multiple of any vector width, so the scalar tail runs too.
  std::vector<float> x(1003);
  for (size_t i = 0; i < x.size(); ++i) x[i] = -90.0f + 90.0f * static_cast<float>(i) / 1002.0f;
  Distribution d;
  d.set_logits(x, 0.0f, 1.0f);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(d.weights()[i], sampling::portable_exp(x[i])) << x[i];
  // The temperature is applied as (logit - max) * (1 / temperature).
  d.set_logits(x, 0.5f, 1.0f / 0.7f);
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(d.weights()[i], sampling::portable_exp((x[i] - 0.5f) * (1.0f / 0.7f)));
}

TEST(CheckedMax, RejectsNanAndPlusInfinityAndAllMinusInfinity) {
  std::vector<float> x(300, 1.0f);
  x[17] = 5.0f;
  x[299] = -INFINITY;
  EXPECT_EQ(sampling::checked_max(x), 5.0f);
  x[123] = NAN;
  try {
    sampling::checked_max(x);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("token 123"), std::string::npos) << e.what();
  }
  x[123] = INFINITY;
  EXPECT_THROW(sampling::checked_max(x), Error);
  std::fill(x.begin(), x.end(), -INFINITY);
  EXPECT_THROW(sampling::checked_max(x), Error);
}

TEST(FirstArgmax, PicksTheLowestIdAmongEquals) {
  std::vector<float> x(1000, 0.0f);
  x[700] = 3.0f;
  x[401] = 3.0f;
  EXPECT_EQ(sampling::first_argmax(x, 3.0f), 401);
}

// ---------------------------------------------------------------- exact selection

// The kept ids by the definition: sort everything (stable, by weight descending), keep while
// j < k and the weight before j is below top_p * total.
std::vector<int32_t> reference_kept(const Distribution& d, int top_k, double top_p) {
  const auto w = d.weights();
  std::vector<int32_t> order(w.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return w[a] > w[b]; });
  const size_t k = top_k > 0 ? std::min<size_t>(top_k, w.size()) : w.size();
  const double limit = top_p >= 1 ? INFINITY : top_p * d.total();
  std::vector<int32_t> kept;
  double before = 0;
  for (size_t j = 0; j < k && before < limit && w[order[j]] > 0; ++j) {
    kept.push_back(order[j]);
    before += w[order[j]];
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

TEST(Selection, MatchesAFullSortOnManyShapes) {
  struct Case {
    size_t n;
    float spread, quantum, temperature;
    int top_k;
    double top_p;
  };
  const Case cases[] = {
      {65536, 12, 0, 1.0f, 0, 0.5},    {65536, 12, 0, 0.6f, 0, 0.7},   {65536, 3, 0, 1.0f, 0, 0.5},
      {65536, 1, 0, 1.0f, 0, 0.95},    {65536, 30, 0, 1.0f, 40, 1.0},  {65536, 30, 0, 1.0f, 40, 0.3},
      {65536, 2, 0.5f, 1.0f, 0, 0.5},  {65536, 2, 0.5f, 1.0f, 777, 1}, {65536, 0, 0, 1.0f, 0, 0.5},
      {65536, 80, 0, 0.3f, 0, 0.99},   {1000, 5, 0, 1.5f, 10, 0.8},    {7, 1, 0, 1.0f, 0, 0.6},
      {33, 4, 1.0f, 2.0f, 0, 0.999},   {65536, 0, 0, 1.0f, 65535, 1},  {65536, 6, 0, 1.0f, 3, 1e-9},
  };
  uint64_t seed = 10;
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "n=" << c.n << " spread=" << c.spread << " quantum=" << c.quantum
                                    << " T=" << c.temperature << " k=" << c.top_k << " p=" << c.top_p);
    const auto logits = random_logits(c.n, ++seed, c.spread, c.quantum);
    Distribution d;
    d.set_logits(logits, sampling::checked_max(logits), 1.0f / c.temperature);
    d.restrict(c.top_k, c.top_p);
    ASSERT_FALSE(d.keeps_all());
    const auto expected = reference_kept(d, c.top_k, c.top_p);
    ASSERT_EQ(std::vector<int32_t>(d.kept().begin(), d.kept().end()), expected);
    double mass = 0;
    for (const int32_t id : expected) mass += d.weights()[id];
    EXPECT_NEAR(d.kept_weight(), mass, 1e-9 * mass);
  }
}

TEST(Selection, EqualWeightsGoToTheLowerIds) {
  // All 65536 logits equal: top-p 0.5 keeps exactly the first half, as the seed's stable sort.
  std::vector<float> logits(65536, 0.25f);
  Distribution d;
  d.set_logits(logits, 0.25f, 1.0f);
  d.restrict(0, 0.5);
  ASSERT_EQ(d.kept().size(), 32768u);
  EXPECT_EQ(d.kept().front(), 0);
  EXPECT_EQ(d.kept().back(), 32767);
}

TEST(Selection, TopPOneAndNoTopKKeepAll) {
  const auto logits = random_logits(5000, 3, 10);
  Distribution d;
  d.set_logits(logits, sampling::checked_max(logits), 1.0f);
  d.restrict(0, 1.0);
  EXPECT_TRUE(d.keeps_all());
  EXPECT_EQ(d.kept_weight(), d.total());
  d.restrict(5000, 1.0);  // k >= vocab is no restriction
  EXPECT_TRUE(d.keeps_all());
}

TEST(Selection, DrawWalksTheCumulativeWeights) {
  std::vector<float> logits = {std::log(1.0f), std::log(3.0f), -INFINITY, std::log(4.0f)};
  Distribution d;
  d.set_logits(logits, sampling::checked_max(logits), 1.0f);
  d.restrict(0, 1.0);
  // weights 0.25, 0.75, 0, 1 (relative to the max); total 2.
  EXPECT_EQ(d.draw(0.0), 0);
  EXPECT_EQ(d.draw(0.12), 0);
  EXPECT_EQ(d.draw(0.13), 1);
  EXPECT_EQ(d.draw(0.49), 1);
  EXPECT_EQ(d.draw(0.51), 3);
  EXPECT_EQ(d.draw(0.999999), 3);
  d.restrict(0, 0.4);  // keeps token 3 (weight 1 >= 0.4 * 2) only... and token 1? before(1) = 1 >= 0.8: no
  EXPECT_EQ(std::vector<int32_t>(d.kept().begin(), d.kept().end()), std::vector<int32_t>{3});
}

// ---------------------------------------------------------------- statistics

// The exact distribution of a configuration, computed in double from the definition.
// official_order: the ChatRWKV order (nucleus on untempered probabilities, then ^(1/T)) - used
// only to show that the test can tell the two apart.
std::vector<double> exact_distribution(const std::vector<float>& logits, double temperature, double top_p,
                                       int top_k, bool official_order = false) {
  const size_t n = logits.size();
  const double t = official_order ? 1.0 : temperature;
  const double max = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(n);
  double z = 0;
  for (size_t i = 0; i < n; ++i) z += p[i] = std::exp((logits[i] - max) / t);
  for (double& x : p) x /= z;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
  const size_t k = top_k > 0 ? std::min<size_t>(top_k, n) : n;
  std::vector<double> out(n, 0.0);
  double before = 0;
  for (size_t j = 0; j < k && (top_p >= 1 || before < top_p); ++j) {
    out[order[j]] = official_order ? std::pow(p[order[j]], 1.0 / temperature) : p[order[j]];
    before += p[order[j]];
  }
  const double kept = std::accumulate(out.begin(), out.end(), 0.0);
  for (double& x : out) x /= kept;
  return out;
}

// Pearson's statistic over the cells with expected > 0; a sample in a cell of expected 0 makes it
// infinite. Returns also the degrees of freedom.
std::pair<double, int> chi_square(const std::vector<int64_t>& counts, const std::vector<double>& p, int64_t n) {
  double chi2 = 0;
  int cells = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      if (counts[i] != 0) return {INFINITY, 0};
      continue;
    }
    const double e = p[i] * static_cast<double>(n);
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
    ++cells;
  }
  return {chi2, cells - 1};
}

// Upper 1e-6 quantile of chi-square with df degrees of freedom (Wilson-Hilferty; z = 4.753).
double critical_value(int df) {
  const double a = 2.0 / (9.0 * df);
  return df * std::pow(1 - a + 4.753 * std::sqrt(a), 3);
}

struct StatCase {
  double temperature, top_p;
  int top_k;
};

class SamplerStatistics : public testing::TestWithParam<StatCase> {};

TEST_P(SamplerStatistics, MatchesTheExactDistribution) {
  const StatCase c = GetParam();
  const std::vector<float> logits = {3.0f, 2.5f, 2.5f, 2.0f, 1.2f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -2.0f, -3.0f};
  Sampler sampler(plain(c.temperature, c.top_p, c.top_k, 2024), static_cast<int32_t>(logits.size()));
  constexpr int64_t kSamples = 200000;
  std::vector<int64_t> counts(logits.size(), 0);
  std::vector<float> work = logits;
  for (int64_t s = 0; s < kSamples; ++s) ++counts[static_cast<size_t>(sampler.sample(work))];
  ASSERT_EQ(work, logits) << "without penalties the logits are not touched";

  const auto expected = exact_distribution(logits, c.temperature, c.top_p, c.top_k);
  const auto [chi2, df] = chi_square(counts, expected, kSamples);
  EXPECT_LT(chi2, critical_value(df)) << "df " << df;

  // The test has power: plausible mistakes are rejected by the same samples.
  std::vector<std::vector<double>> wrong = {
      exact_distribution(logits, 1.0, 1.0, 0),                                   // no processing
      exact_distribution(logits, c.temperature, c.top_p, c.top_k, true),         // official order
      exact_distribution(logits, c.temperature * 1.15, c.top_p, c.top_k),        // temperature off
  };
  for (size_t w = 0; w < wrong.size(); ++w) {
    if (wrong[w] == expected) continue;  // e.g. temperature 1: both orders agree
    double diff = 0;
    for (size_t i = 0; i < expected.size(); ++i) diff += std::abs(wrong[w][i] - expected[i]);
    if (diff < 1e-9) continue;
    const auto [wchi2, wdf] = chi_square(counts, wrong[w], kSamples);
    EXPECT_GT(wchi2, critical_value(std::max(wdf, 1))) << "wrong distribution " << w << " not rejected";
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, SamplerStatistics,
                         testing::Values(StatCase{1.0, 1.0, 0}, StatCase{0.7, 0.8, 0}, StatCase{1.3, 0.9, 5},
                                         StatCase{1.0, 1.0, 3}, StatCase{0.6, 0.7, 0}, StatCase{2.0, 0.95, 0},
                                         StatCase{1.0, 0.5, 0}));

TEST(SamplerStatistics, LargeVocabularyTailIsSampled) {
  // 65536 tokens: 6 strong ones at scattered ids, the rest in one "tail" cell; top-p 1 keeps all.
  std::vector<float> logits = random_logits(65536, 99, 1.0f);
  const int32_t ids[] = {5, 1000, 22222, 40000, 65000, 65535};
  const float values[] = {12.0f, 11.5f, 11.0f, 10.0f, 9.0f, 11.5f};
  for (int j = 0; j < 6; ++j) logits[static_cast<size_t>(ids[j])] = values[j];
  std::vector<double> p(7, 0.0);
  double z = 0, tail = 0;
  for (size_t i = 0; i < logits.size(); ++i) z += std::exp(double{logits[i]} - 12.0);
  for (int j = 0; j < 6; ++j) p[static_cast<size_t>(j)] = std::exp(double{values[j]} - 12.0) / z, tail += p[static_cast<size_t>(j)];
  p[6] = 1 - tail;
  Sampler sampler(plain(1.0, 1.0, 0, 5), 65536);
  constexpr int64_t kSamples = 20000;
  std::vector<int64_t> counts(7, 0);
  for (int64_t s = 0; s < kSamples; ++s) {
    const int32_t t = sampler.sample(logits);
    const auto* hit = std::find(std::begin(ids), std::end(ids), t);
    ++counts[static_cast<size_t>(hit - std::begin(ids))];
  }
  const auto [chi2, df] = chi_square(counts, p, kSamples);
  EXPECT_LT(chi2, critical_value(df));
  EXPECT_GT(p[6], 0.05);  // the tail matters, and was sampled about as often as it should be
}

// ---------------------------------------------------------------- penalties

TEST(Penalties, CountsDecayAndPenalise) {
  // Dyadic values, so every step is exact whatever the compiler does.
  SamplerConfig c = plain(1.0, 1.0);
  c.alpha_presence = 2.0f;
  c.alpha_frequency = 0.5f;
  c.alpha_decay = 0.5f;
  Sampler s(c, 10);
  s.accept(5);
  EXPECT_EQ(s.occurrence(5), 1.0f);
  s.accept(5);
  EXPECT_EQ(s.occurrence(5), 1.5f);  // 1 * 0.5 + 1
  s.accept(7);
  EXPECT_EQ(s.occurrence(5), 0.75f);
  EXPECT_EQ(s.occurrence(7), 1.0f);
  std::vector<float> logits(10, 1.0f);
  s.apply_penalties(logits);
  EXPECT_EQ(logits[5], 1.0f - (2.0f + 0.5f * 0.75f));
  EXPECT_EQ(logits[7], 1.0f - (2.0f + 0.5f * 1.0f));
  for (int i : {0, 1, 2, 3, 4, 6, 8, 9}) EXPECT_EQ(logits[static_cast<size_t>(i)], 1.0f);
}

TEST(Penalties, SeedDefaultsFollowTheFloatArithmetic) {
  Sampler s(SamplerConfig::chat(), 100);
  float expected = 0;
  for (int i = 0; i < 50; ++i) {
    s.accept(42);
    expected = expected * 0.99f + 1.0f;
    s.accept(i == 42 ? 43 : i);
    expected = expected * 0.99f;
  }
  EXPECT_FLOAT_EQ(s.occurrence(42), expected);
  std::vector<float> logits(100, 0.0f);
  s.apply_penalties(logits);
  EXPECT_FLOAT_EQ(logits[42], -(2.0f + 0.1f * expected));
}

TEST(Penalties, CountThatDecaysToZeroStopsPenalising) {
  SamplerConfig c = plain(1.0, 1.0);
  c.alpha_presence = 1.0f;
  c.alpha_decay = 0.5f;
  Sampler s(c, 4);
  s.accept(1);
  for (int i = 0; i < 200; ++i) s.accept(2);  // 0.5^200 underflows to 0
  EXPECT_EQ(s.occurrence(1), 0.0f);
  std::vector<float> logits(4, 0.0f);
  s.apply_penalties(logits);
  EXPECT_EQ(logits[1], 0.0f);
  EXPECT_LT(logits[2], 0.0f);
  // decay 0: only the last token has a count.
  c.alpha_decay = 0.0f;
  Sampler z(c, 4);
  z.accept(1);
  z.accept(3);
  EXPECT_EQ(z.occurrence(1), 0.0f);
  EXPECT_EQ(z.occurrence(3), 1.0f);
}

TEST(Penalties, PenaltiesChangeTheGreedyChoice) {
  SamplerConfig c = SamplerConfig::chat();
  c.temperature = 0;
  Sampler s(c, 3);
  std::vector<float> logits = {1.0f, 2.5f, 0.0f};
  EXPECT_EQ(s.sample(logits), 1);
  s.accept(1);
  logits = {1.0f, 2.5f, 0.0f};
  EXPECT_EQ(s.sample(logits), 0);  // 2.5 - (2 + 0.1) = 0.4 < 1
  EXPECT_FLOAT_EQ(logits[1], 2.5f - 2.1f);
}

TEST(Penalties, RepeatPenaltyOverTheLastNDistinctTokens) {
  SamplerConfig c = plain(1.0, 1.0);
  c.repeat_penalty = 2.0f;
  c.repeat_last_n = 3;
  Sampler s(c, 6);
  for (int t : {4, 1, 1, 2}) s.accept(t);  // window: 1 1 2 (4 has left it)
  std::vector<float> logits = {4.0f, 4.0f, -4.0f, 4.0f, 4.0f, 0.0f};
  s.apply_penalties(logits);
  EXPECT_EQ(logits, (std::vector<float>{4.0f, 2.0f, -8.0f, 4.0f, 4.0f, 0.0f}));  // 1 penalised once
  c.repeat_last_n = 0;  // off
  Sampler off(c, 6);
  off.accept(1);
  logits = {4.0f, 4.0f, -4.0f, 4.0f, 4.0f, 0.0f};
  off.apply_penalties(logits);
  EXPECT_EQ(logits[1], 4.0f);
}

TEST(Penalties, ClearHistoryForgets) {
  Sampler s(SamplerConfig::chat(), 8);
  s.accept(3);
  s.clear_history();
  EXPECT_EQ(s.occurrence(3), 0.0f);
  std::vector<float> logits(8, 0.0f);
  s.apply_penalties(logits);
  EXPECT_EQ(logits, std::vector<float>(8, 0.0f));
}

// ---------------------------------------------------------------- determinism, greedy

std::vector<int32_t> run(Sampler& s, const std::vector<float>& logits, int steps) {
  std::vector<int32_t> out;
  for (int i = 0; i < steps; ++i) {
    std::vector<float> work = logits;
    out.push_back(s.sample(work));
    s.accept(out.back());
  }
  return out;
}

TEST(Determinism, SameSeedSameTokensOtherSeedOthers) {
  const auto logits = random_logits(65536, 8, 6.0f);
  Sampler a(SamplerConfig::chat(), 65536), b(SamplerConfig::chat(), 65536);
  const auto first = run(a, logits, 300);
  EXPECT_EQ(first, run(b, logits, 300));
  SamplerConfig other = SamplerConfig::chat();
  other.seed = 1;
  Sampler c(other, 65536);
  EXPECT_NE(first, run(c, logits, 300));
  a.reset();
  EXPECT_EQ(first, run(a, logits, 300));
  // A copy continues the same stream and history.
  a.reset();
  run(a, logits, 100);
  Sampler copy = a;
  EXPECT_EQ(run(a, logits, 50), run(copy, logits, 50));
}

TEST(Determinism, GoldenSequence) {
  // Guards the bits: generator, exponential, selection and draw order. Same on every platform;
  // if this changes, the same seed no longer gives the same text as before.
  std::vector<float> logits(1000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>((i * 7919) % 1000) / 125.0f;
  Sampler s(SamplerConfig::creative(), 1000);
  EXPECT_EQ(run(s, logits, 12), (std::vector<int32_t>{321, 136, 889, 383, 284, 964, 717, 161, 396, 346, 470, 667}));
}

TEST(Determinism, SameTokensOnEveryInstructionSet) {
  // The vector loops run on the best instruction set of the CPU; every one this binary holds and
  // this CPU runs must give the same tokens (no FMA, fixed summation order).
  std::vector<std::pair<std::vector<float>, SamplerConfig>> cases;
  cases.emplace_back(random_logits(65536, 8, 6.0f), SamplerConfig::chat());
  cases.emplace_back(random_logits(65536, 9, 20.0f), SamplerConfig::creative());
  cases.emplace_back(random_logits(65531, 10, 1.0f, 0.25f), plain(1.0, 1.0, 0, 3));
  cases.emplace_back(random_logits(4099, 11, 3.0f), plain(1.7, 0.9, 50, 4));
  std::vector<std::vector<int32_t>> reference;
  const auto targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  for (const int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    for (size_t c = 0; c < cases.size(); ++c) {
      Sampler s(cases[c].second, static_cast<int32_t>(cases[c].first.size()));
      const auto tokens = run(s, cases[c].first, 100);
      if (reference.size() <= c) reference.push_back(tokens);
      EXPECT_EQ(tokens, reference[c]) << "case " << c << " on " << hwy::TargetName(target);
    }
  }
  hwy::SetSupportedTargetsForTest(0);
  std::cout << "compared " << targets.size() << " instruction sets\n";
}

TEST(Greedy, TemperatureZeroTakesTheFirstMaximumAndDrawsNothing) {
  Sampler s(plain(0.0, 0.5), 5);
  std::vector<float> logits = {0.0f, 3.0f, -1.0f, 3.0f, 2.0f};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.sample(logits), 1);
  Sampler tiny(plain(1e-8, 1.0), 5);  // below the seed's 1e-7: greedy too
  EXPECT_EQ(tiny.sample(logits), 1);
}

TEST(Sampler, RejectsWrongSizesAndTokens) {
  Sampler s(SamplerConfig{}, 10);
  std::vector<float> logits(9, 0.0f);
  EXPECT_THROW(s.sample(logits), Error);
  EXPECT_THROW(s.accept(10), Error);
  EXPECT_THROW(s.accept(-1), Error);
  EXPECT_THROW(Sampler(SamplerConfig{}, 0), Error);
}

// ---------------------------------------------------------------- configuration

TEST(SamplerConfig, PresetsAreTheSeeds) {
  const auto chat = SamplerConfig::chat();
  EXPECT_EQ(chat.temperature, 1.0);
  EXPECT_EQ(chat.top_p, 0.5);
  EXPECT_EQ(chat.alpha_presence, 2.0f);
  EXPECT_EQ(chat.alpha_frequency, 0.1f);
  EXPECT_EQ(chat.alpha_decay, 0.99f);
  const auto creative = SamplerConfig::creative();
  EXPECT_EQ(creative.temperature, 0.6);
  EXPECT_EQ(creative.top_p, 0.7);
  EXPECT_EQ(creative.alpha_presence, 2.0f);
  EXPECT_EQ(creative.alpha_frequency, 0.2f);
  EXPECT_EQ(creative.alpha_decay, 0.99f);
  SamplerConfig c;
  c.temperature = 0.1;
  c.seed = 5;
  c.top_k = 7;
  apply_preset(c, parse_sampler_preset("creative"));
  EXPECT_EQ(c.temperature, 0.6);  // the preset wins, as in the seed
  EXPECT_EQ(c.seed, 5u);          // and leaves the rest alone
  EXPECT_EQ(c.top_k, 7);
  EXPECT_EQ(SamplerConfig{}.seed, 299792458u);
}

void expect_usage_error(const SamplerConfig& c, const std::string& flag) {
  try {
    c.validate();
    ADD_FAILURE() << "no error for " << flag;
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(flag, 0), 0u) << e.what();
  }
  EXPECT_THROW(Sampler(c, 10), UsageError);
}

TEST(SamplerConfig, ValidationNamesTheFlag) {
  EXPECT_NO_THROW(SamplerConfig{}.validate());
  SamplerConfig c;
  c.temperature = 0;
  EXPECT_NO_THROW(c.validate());
  c.top_p = 1;
  EXPECT_NO_THROW(c.validate());
  auto bad = [](auto change) {
    SamplerConfig c;
    change(c);
    return c;
  };
  expect_usage_error(bad([](SamplerConfig& c) { c.temperature = -0.1; }), "--temperature");
  expect_usage_error(bad([](SamplerConfig& c) { c.temperature = NAN; }), "--temperature");
  expect_usage_error(bad([](SamplerConfig& c) { c.temperature = INFINITY; }), "--temperature");
  expect_usage_error(bad([](SamplerConfig& c) { c.top_p = 0; }), "--top-p");
  expect_usage_error(bad([](SamplerConfig& c) { c.top_p = 1.01; }), "--top-p");
  expect_usage_error(bad([](SamplerConfig& c) { c.top_p = NAN; }), "--top-p");
  expect_usage_error(bad([](SamplerConfig& c) { c.top_k = -1; }), "--top-k");
  expect_usage_error(bad([](SamplerConfig& c) { c.alpha_presence = INFINITY; }), "--alpha-presence");
  expect_usage_error(bad([](SamplerConfig& c) { c.alpha_frequency = NAN; }), "--alpha-frequency");
  expect_usage_error(bad([](SamplerConfig& c) { c.alpha_decay = 1.5f; }), "--alpha-decay");
  expect_usage_error(bad([](SamplerConfig& c) { c.alpha_decay = -0.1f; }), "--alpha-decay");
  expect_usage_error(bad([](SamplerConfig& c) { c.repeat_penalty = 0; }), "--repeat-penalty");
  expect_usage_error(bad([](SamplerConfig& c) { c.repeat_last_n = -1; }), "--repeat-last-n");
  try {
    parse_sampler_preset("wild");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("chat, creative"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rwkv
