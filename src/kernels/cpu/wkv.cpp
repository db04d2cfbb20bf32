#include "kernels/cpu/wkv.h"

#include "kernels/cpu/reference.h"

namespace rwkv::cpu {

void wkv7_heads(Isa isa, const Wkv7Args& a, int64_t h0, int64_t h1) {
#if defined(__x86_64__)
  if (isa >= Isa::Avx512 && a.N % 16 == 0) return wkv7_heads_avx512(a, h0, h1);
  if (isa >= Isa::Avx2 && a.N % 8 == 0) return wkv7_heads_avx2(a, h0, h1);
#endif
  ref::wkv7(a, h0, h1);
}

void wkv56_heads(Isa isa, const Wkv56Args& a, int64_t h0, int64_t h1) {
#if defined(__x86_64__)
  if (isa >= Isa::Avx512 && a.N % 16 == 0) return wkv56_heads_avx512(a, h0, h1);
  if (isa >= Isa::Avx2 && a.N % 8 == 0) return wkv56_heads_avx2(a, h0, h1);
#endif
  ref::wkv56(a, h0, h1);
}

}  // namespace rwkv::cpu
