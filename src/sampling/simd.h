// The loops of sampling that touch every token, vectorised with Highway (runtime dispatch to the
// best instruction set of the CPU). Every result is the same on every target: the element-wise
// arithmetic uses + and * only (no fused multiply-add; the file is built with -ffp-contract=off),
// and sums that feed a decision are taken in a fixed order, independent of the vector width.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rwkv::sampling::simd {

struct MaxScan {
  float max;  // the largest value (meaningless when bad)
  bool bad;   // some value is NaN or +inf
};
MaxScan max_scan(const float* x, size_t n);

// Index of the first x[i] == value; n when there is none.
size_t first_index_of(const float* x, size_t n, float value);

// w[i] = portable_exp((x[i] - max) * inv_temperature), and block_sums[b] = the sum of
// w[b*block, (b+1)*block) in double, in a fixed order. block is a multiple of 8.
void exp_weights(const float* x, size_t n, float max, float inv_temperature, float* w, size_t block,
                 double* block_sums);

// For each of kLevels thresholds: how many w[i] are >= it, and their sum (in float lanes, so the
// sum is approximate and may differ between targets in the last bits: use it for estimates only).
constexpr size_t kLevels = 4;
void level_stats(const float* w, size_t n, const float* thresholds, uint32_t* counts, double* masses);

// Writes the ids i with w[i] >= threshold to out, in increasing order; returns how many. out must
// have room for n + kCollectPadding ids (a vector store may write past the last id).
constexpr size_t kCollectPadding = 64;
size_t collect(const float* w, size_t n, float threshold, int32_t* out);

}  // namespace rwkv::sampling::simd
