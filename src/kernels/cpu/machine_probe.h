// Measures this machine's limits, so benchmark reports can say how close to them we run:
// memory read bandwidth (the decode ceiling: bandwidth / bytes of weights per token) and the
// peak of f32 FMA and bf16 dot-product arithmetic (the prompt-processing ceiling).
#pragma once

#include <cstddef>

#include "util/thread_pool.h"

namespace rwkv::cpu {

struct ReadBandwidth {
  double gb_per_s = 0;  // median over the repeats (GB = 1e9 bytes)
  double min = 0, max = 0;
  bool huge_pages = false;  // whether the buffer was asked to be backed by 2 MiB pages
};

// Streams a `bytes` buffer with every thread of `pool` reading its own slice, `repeats` times.
ReadBandwidth probe_read_bandwidth(ThreadPool& pool, size_t bytes, bool huge_pages, int repeats);
// Peak multiply-add throughput in GFLOP/s (2 flops per multiply-add) on all threads of `pool`.
double probe_fma_f32_gflops(ThreadPool& pool);
// The same with AVX512_BF16 dot products (0 when the CPU lacks them).
double probe_dot_bf16_gflops(ThreadPool& pool);

}  // namespace rwkv::cpu
