// Compiles a region of a source file for a SIMD instruction set, with GCC and with clang (whose
// spellings differ); the region's functions may only run after a run-time CPU check.
//
//   RWKV_SIMD_BEGIN("avx2,fma,f16c")
//   ... kernels ...
//   RWKV_SIMD_END
//
// GCC 12 also warns about the `_mm512_undefined_*` placeholders inside its own intrinsic headers
// (-Wuninitialized, a known false positive); the region silences that.
#pragma once

#define RWKV_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define RWKV_SIMD_BEGIN(targets) \
  RWKV_PRAGMA(clang attribute push(__attribute__((target(targets))), apply_to = function))
#define RWKV_SIMD_END RWKV_PRAGMA(clang attribute pop)
#else
#define RWKV_SIMD_BEGIN(targets)                                   \
  RWKV_PRAGMA(GCC push_options)                                    \
  RWKV_PRAGMA(GCC target(targets))                                 \
  RWKV_PRAGMA(GCC diagnostic push)                                 \
  RWKV_PRAGMA(GCC diagnostic ignored "-Wuninitialized")            \
  RWKV_PRAGMA(GCC diagnostic ignored "-Wmaybe-uninitialized")
#define RWKV_SIMD_END RWKV_PRAGMA(GCC diagnostic pop) RWKV_PRAGMA(GCC pop_options)
#endif
