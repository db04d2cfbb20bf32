// Micro-benchmarks of the WKV recurrences (RWKV-5/6 and RWKV-7) per ISA, on the shape of a 0.1B
// model layer (12 heads of 64): one token (decode) and a 128-token chunk (prompt).
//   build/bench/wkv_bench
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/reference.h"
#include "kernels/cpu/wkv.h"

namespace rwkv {
namespace {

struct Inputs {
  int64_t T, H = 12, N = 64;
  std::vector<float> r, w, k, v, a, b, y, state, u;
  explicit Inputs(int64_t tokens) : T(tokens) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> d(-0.5f, 0.5f), decay(0.6f, 0.99f);
    const size_t n = static_cast<size_t>(T * H * N);
    for (auto* vec : {&r, &k, &v, &a, &b}) {
      vec->resize(n);
      for (float& x : *vec) x = d(rng);
    }
    w.resize(n);
    for (float& x : w) x = decay(rng);
    u.resize(static_cast<size_t>(H * N), 0.1f);
    y.resize(n);
    state.resize(static_cast<size_t>(H * N * N));
  }
};

void wkv7(benchmark::State& s, cpu::Isa isa, int64_t T) {
  Inputs in(T);
  const Wkv7Args args{in.r.data(), in.w.data(), in.k.data(), in.v.data(), in.a.data(), in.b.data(),
                      in.y.data(), in.state.data(), in.T, in.H, in.N};
  for (auto _ : s) {
    cpu::wkv7_heads(isa, args, 0, in.H);
    benchmark::DoNotOptimize(in.y.data());
  }
  s.counters["tok/s"] = benchmark::Counter(static_cast<double>(T) * s.iterations(), benchmark::Counter::kIsRate);
}

void wkv6(benchmark::State& s, cpu::Isa isa, int64_t T) {
  Inputs in(T);
  const Wkv56Args args{in.r.data(), in.k.data(), in.v.data(), in.w.data(), in.u.data(), true,
                       in.y.data(), in.state.data(), in.T, in.H, in.N};
  for (auto _ : s) {
    cpu::wkv56_heads(isa, args, 0, in.H);
    benchmark::DoNotOptimize(in.y.data());
  }
  s.counters["tok/s"] = benchmark::Counter(static_cast<double>(T) * s.iterations(), benchmark::Counter::kIsRate);
}

void register_all() {
  for (cpu::Isa isa : cpu::supported_isas()) {
    for (int64_t T : {1, 128}) {
      const std::string tag = std::string(cpu::isa_name(isa)) + "/T" + std::to_string(T);
      benchmark::RegisterBenchmark(("Wkv7/" + tag).c_str(), [=](benchmark::State& s) { wkv7(s, isa, T); });
      benchmark::RegisterBenchmark(("Wkv6/" + tag).c_str(), [=](benchmark::State& s) { wkv6(s, isa, T); });
    }
  }
}

}  // namespace
}  // namespace rwkv

int main(int argc, char** argv) {
  rwkv::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
