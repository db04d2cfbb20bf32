// Cost of choosing one token from a 65536-token vocabulary (RWKV World), per sampling mode.
// Three shapes of logits: "confident" (8 tokens hold ~99.9% of the mass, the common case of a
// trained model), "uncertain" (the same 8 tokens hold about half the mass, the rest is spread over
// the vocabulary: the nucleus reaches into thousands of candidates) and "flat" (no peak at all).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "rwkv/sampler.h"
#include "sampling/rng.h"

namespace {

constexpr int32_t kVocab = 65536;

// Deterministic pseudo-normal logits (sum of uniforms, within +-6), plus `peaks` tokens at
// top, top-1, ... above them.
std::vector<float> make_logits(float top, int peaks) {
  rwkv::sampling::Xoshiro256ss rng(7);
  std::vector<float> logits(kVocab);
  for (float& x : logits) {
    double s = 0;
    for (int j = 0; j < 4; ++j) s += rng.uniform();
    x = static_cast<float>((s - 2.0) * 3.0);
  }
  for (int p = 0; p < peaks; ++p) logits[(p * 7919 + 13) % kVocab] = top - static_cast<float>(p);
  return logits;
}

rwkv::SamplerConfig no_penalties(rwkv::SamplerConfig c) {
  c.alpha_presence = 0;
  c.alpha_frequency = 0;
  return c;
}

void run(benchmark::State& state, const rwkv::SamplerConfig& config, std::vector<float> logits) {
  rwkv::Sampler sampler(config, kVocab);
  int64_t sum = 0;
  for (auto _ : state) {
    sum += sampler.sample(logits);  // without penalties the logits are not modified
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

std::vector<float> confident() { return make_logits(18.0f, 8); }
std::vector<float> uncertain() { return make_logits(12.0f, 8); }
std::vector<float> flat() { return make_logits(0.0f, 0); }

void BM_ChatConfident(benchmark::State& state) {
  run(state, no_penalties(rwkv::SamplerConfig::chat()), confident());
}
void BM_ChatUncertain(benchmark::State& state) {
  run(state, no_penalties(rwkv::SamplerConfig::chat()), uncertain());
}
void BM_ChatFlat(benchmark::State& state) { run(state, no_penalties(rwkv::SamplerConfig::chat()), flat()); }
void BM_CreativeConfident(benchmark::State& state) {
  run(state, no_penalties(rwkv::SamplerConfig::creative()), confident());
}
void BM_CreativeUncertain(benchmark::State& state) {
  run(state, no_penalties(rwkv::SamplerConfig::creative()), uncertain());
}
void BM_FullDistribution(benchmark::State& state) {  // top-p 1: a draw over every token
  auto c = no_penalties(rwkv::SamplerConfig{});
  c.top_p = 1.0;
  run(state, c, uncertain());
}
void BM_TopK40(benchmark::State& state) {
  auto c = no_penalties(rwkv::SamplerConfig{});
  c.top_p = 1.0;
  c.top_k = 40;
  run(state, c, uncertain());
}
void BM_Greedy(benchmark::State& state) {
  auto c = no_penalties(rwkv::SamplerConfig{});
  c.temperature = 0;
  run(state, c, uncertain());
}

// The chat preset with its penalties, after 1000 accepted tokens (about 950 distinct ids have a
// count), plus one accept per token. Each iteration copies fresh logits first (256 KiB, a few
// microseconds: compare with BM_CopyLogits).
void BM_ChatWithPenalties(benchmark::State& state) {
  rwkv::Sampler sampler(rwkv::SamplerConfig::chat(), kVocab);
  const auto pristine = confident();
  std::vector<float> logits(pristine.size());
  rwkv::sampling::Xoshiro256ss rng(3);
  for (int i = 0; i < 1000; ++i) sampler.accept(static_cast<int32_t>(rng.next() % 20000));
  int64_t sum = 0;
  for (auto _ : state) {
    std::copy(pristine.begin(), pristine.end(), logits.begin());
    const int32_t t = sampler.sample(logits);
    sampler.accept(t);
    sum += t;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
void BM_CopyLogits(benchmark::State& state) {
  const auto pristine = confident();
  std::vector<float> logits(pristine.size());
  for (auto _ : state) {
    std::copy(pristine.begin(), pristine.end(), logits.begin());
    benchmark::DoNotOptimize(logits.data());
    benchmark::ClobberMemory();
  }
}

}  // namespace

BENCHMARK(BM_ChatConfident);
BENCHMARK(BM_ChatUncertain);
BENCHMARK(BM_ChatFlat);
BENCHMARK(BM_CreativeConfident);
BENCHMARK(BM_CreativeUncertain);
BENCHMARK(BM_FullDistribution);
BENCHMARK(BM_TopK40);
BENCHMARK(BM_Greedy);
BENCHMARK(BM_ChatWithPenalties);
BENCHMARK(BM_CopyLogits);
BENCHMARK_MAIN();
