// The WKV recurrences on the CPU, per ISA (the scalar twins are ref::wkv7 / ref::wkv56). The
// state rows are [key][value], so every kernel works along contiguous value vectors.
#pragma once

#include "kernels/backend.h"
#include "kernels/cpu/cpu_features.h"

namespace rwkv::cpu {

void wkv7_heads(Isa isa, const Wkv7Args& a, int64_t h0, int64_t h1);
void wkv56_heads(Isa isa, const Wkv56Args& a, int64_t h0, int64_t h1);

// Per-ISA versions; they handle head sizes that are a multiple of 16 (AVX-512) or 8 (AVX2).
void wkv7_heads_avx512(const Wkv7Args& a, int64_t h0, int64_t h1);
void wkv56_heads_avx512(const Wkv56Args& a, int64_t h0, int64_t h1);
void wkv7_heads_avx2(const Wkv7Args& a, int64_t h0, int64_t h1);
void wkv56_heads_avx2(const Wkv56Args& a, int64_t h0, int64_t h1);

}  // namespace rwkv::cpu
