// Which SIMD instruction sets this CPU offers, detected once at run time. One binary carries
// kernels for several ISAs and picks the best one the machine supports.
#pragma once

#include <vector>

namespace rwkv::cpu {

enum class Isa {
  Scalar,      // plain C++ (what every other ISA is tested against)
  Avx2,        // AVX2 + FMA + F16C
  Avx512,      // AVX-512 F/BW/VL
  Avx512Bf16,  // + AVX512_BF16 dot products (Zen 4, Sapphire Rapids)
};

const char* isa_name(Isa isa);
// Every ISA this CPU can run, from Scalar up; the test suites run each kernel on all of them.
std::vector<Isa> supported_isas();
// The best supported ISA, or the one named by RWKV_ISA (scalar|avx2|avx512|avx512bf16) when that
// is set and supported (for measurements and debugging).
Isa active_isa();
// AVX512_VNNI (8-bit integer dot products), used with Avx512 and above when the CPU has it.
bool has_avx512_vnni();

}  // namespace rwkv::cpu
