#include "kernels/cpu/cpu_features.h"

#include <cstdlib>
#include <string>

#include "util/error.h"

namespace rwkv::cpu {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Avx512Bf16: return "avx512bf16";
  }
  return "?";
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas{Isa::Scalar};
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) isas.push_back(Isa::Avx2);
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl");
  if (avx512) isas.push_back(Isa::Avx512);
  if (avx512 && __builtin_cpu_supports("avx512bf16")) isas.push_back(Isa::Avx512Bf16);
#endif
  return isas;
}

bool has_avx512_vnni() {
#if defined(__x86_64__)
  static const bool vnni = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") != 0;
  }();
  return vnni;
#else
  return false;
#endif
}

Isa active_isa() {
  static const Isa isa = [] {
    const auto isas = supported_isas();
    const char* env = std::getenv("RWKV_ISA");
    if (!env || !*env) return isas.back();
    for (Isa i : isas)
      if (std::string(isa_name(i)) == env) return i;
    throw Error("RWKV_ISA={} is not supported on this CPU (best: {})", env, isa_name(isas.back()));
  }();
  return isa;
}

}  // namespace rwkv::cpu
