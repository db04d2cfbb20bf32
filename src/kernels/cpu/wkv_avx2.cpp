// The WKV kernels with 8-lane AVX2 vectors (see wkv_simd.inc). Only called after a run-time
// CPU check.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/cpu/simd_target.h"

#include "kernels/cpu/wkv.h"

RWKV_SIMD_BEGIN("avx2,fma")

namespace rwkv::cpu {

#define VEC __m256
#define LOAD _mm256_loadu_ps
#define STORE _mm256_storeu_ps
#define FMADD _mm256_fmadd_ps
#define MUL _mm256_mul_ps
#define SET1 _mm256_set1_ps
#define ZERO _mm256_setzero_ps
constexpr int64_t kW = 8;
#include "kernels/cpu/wkv_simd.inc"

void wkv7_heads_avx2(const Wkv7Args& a, int64_t h0, int64_t h1) { wkv7_impl(a, h0, h1); }
void wkv56_heads_avx2(const Wkv56Args& a, int64_t h0, int64_t h1) { wkv56_impl(a, h0, h1); }

}  // namespace rwkv::cpu

RWKV_SIMD_END
#endif
