#include "kernels/cpu/machine_probe.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "util/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// GCC 12 warns about the _mm512_undefined_* placeholders inside its own intrinsics (a false
// positive) when they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace rwkv::cpu {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr size_t kProbePrefetchBytes = 8192;

// Sums a slice with the widest loads available; returns the sum so the reads cannot be elided.
uint64_t read_slice_scalar(const uint64_t* p, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  return a ^ b ^ c ^ d;
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) uint64_t read_slice_avx512(const uint64_t* p, size_t n) {
  __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    // Ask for the data 8 KiB ahead, as the decode kernels do: the hardware prefetcher alone stops
    // at every 4 KiB page and measures less than the memory can deliver.
    for (size_t line = 0; line < 256; line += 64)
      _mm_prefetch(reinterpret_cast<const char*>(p + i) + kProbePrefetchBytes + line, _MM_HINT_T0);
    a = _mm512_add_epi64(a, _mm512_load_si512(p + i));
    b = _mm512_add_epi64(b, _mm512_load_si512(p + i + 8));
    c = _mm512_add_epi64(c, _mm512_load_si512(p + i + 16));
    d = _mm512_add_epi64(d, _mm512_load_si512(p + i + 24));
  }
  return static_cast<uint64_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d))));
}

__attribute__((target("avx512f,fma"))) double fma_f32_loop(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  float sum = 0;
  for (int i = 0; i < 12; ++i) sum += _mm512_reduce_add_ps(acc[i]);
  return sum;
}

__attribute__((target("avx2,fma"))) double fma_f32_loop_avx2(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  alignas(32) float tmp[8];
  float sum = 0;
  for (int i = 0; i < 12; ++i) {
    _mm256_store_ps(tmp, acc[i]);
    for (float f : tmp) sum += f;
  }
  return sum;
}

__attribute__((target("avx512f,avx512bf16"))) double dot_bf16_loop(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_setzero_ps();
  const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3f80));  // 1.0 in bf16
  const __m512bh b = reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3a83));  // ~0.001
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  float sum = 0;
  for (int i = 0; i < 12; ++i) sum += _mm512_reduce_add_ps(acc[i]);
  return sum;
}
#endif

// Runs `loop(iters)` on every thread; returns GFLOP/s for `flops_per_iter` flops per iteration.
template <typename F>
double peak_gflops(ThreadPool& pool, F loop, double flops_per_iter) {
  const int64_t iters = 20'000'000;
  std::atomic<double> sink{0};
  loop(iters / 20);  // warm up (clock ramp, AVX-512 license)
  const auto t0 = Clock::now();
  pool.run_on_all([&](int) {
    const double s = loop(iters);
    double cur = sink.load();
    while (!sink.compare_exchange_weak(cur, cur + s)) {
    }
  });
  const double secs = seconds_since(t0);
  return flops_per_iter * static_cast<double>(iters) * pool.size() / secs / 1e9;
}

}  // namespace

ReadBandwidth probe_read_bandwidth(ThreadPool& pool, size_t bytes, bool huge_pages, int repeats) {
  constexpr size_t kAlign = size_t{2} << 20;
  bytes = (bytes + kAlign - 1) / kAlign * kAlign;
  void* mem = std::aligned_alloc(kAlign, bytes);
  if (!mem) throw Error("bandwidth probe: cannot allocate {} bytes", bytes);
  if (huge_pages) madvise(mem, bytes, MADV_HUGEPAGE);
  else madvise(mem, bytes, MADV_NOHUGEPAGE);
  // Fault every page in before timing, with distinct contents: pages of identical bytes may be
  // merged by the host (KSM) into one cached page and read back far faster than memory allows.
  const size_t n = bytes / 8;
  auto* fill = static_cast<uint64_t*>(mem);
  for (size_t i = 0; i < n; ++i) fill[i] = i * 0x9E3779B97F4A7C15ull;
  const auto* words = static_cast<const uint64_t*>(mem);
  const bool avx512 = active_isa() >= Isa::Avx512;
  std::vector<double> rates;
  std::atomic<uint64_t> sink{0};
  for (int r = 0; r < repeats + 1; ++r) {
    const auto t0 = Clock::now();
    pool.run_on_all([&](int i) {
      const size_t begin = n * static_cast<size_t>(i) / static_cast<size_t>(pool.size()) / 32 * 32;
      const size_t end = n * static_cast<size_t>(i + 1) / static_cast<size_t>(pool.size()) / 32 * 32;
#if defined(__x86_64__)
      // One sequential stream per thread: several side by side measured less (40-41 vs 44-45 GB/s).
      sink += avx512 ? read_slice_avx512(words + begin, end - begin) : read_slice_scalar(words + begin, end - begin);
#else
      sink += read_slice_scalar(words + begin, end - begin);
#endif
    });
    if (r > 0) rates.push_back(static_cast<double>(bytes) / seconds_since(t0) / 1e9);  // first pass warms up
  }
  std::free(mem);
  std::sort(rates.begin(), rates.end());
  return {rates[rates.size() / 2], rates.front(), rates.back(), huge_pages};
}

double probe_fma_f32_gflops(ThreadPool& pool) {
#if defined(__x86_64__)
  if (active_isa() >= Isa::Avx512) return peak_gflops(pool, fma_f32_loop, 12.0 * 16 * 2);
  if (active_isa() >= Isa::Avx2) return peak_gflops(pool, fma_f32_loop_avx2, 12.0 * 8 * 2);
#endif
  return 0.0;
}

double probe_dot_bf16_gflops(ThreadPool& pool) {
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx512Bf16) return peak_gflops(pool, dot_bf16_loop, 12.0 * 16 * 2 * 2);
#endif
  return 0.0;
}

}  // namespace rwkv::cpu
