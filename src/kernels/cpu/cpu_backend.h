// Creating the CPU backend.
#pragma once

#include <memory>
#include <optional>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_features.h"

namespace rwkv {

struct CpuBackendOptions {
  int threads = 0;                // 0 = one per physical core
  std::optional<cpu::Isa> isa;    // default: the best this CPU supports (or RWKV_ISA)
  // Reduced-precision activations where the hardware pays for it: prompt GEMMs with bf16 weights
  // round them to bf16 (AVX512_BF16 dot products, about twice the throughput), decode products
  // with quantized weights quantize them to 8 bits (AVX2 / AVX512_VNNI integer dot products), as
  // llama.cpp does.
  bool fast_activations = false;
  // Copy weight matrices into memory backed by 2 MiB pages (transparent huge pages) instead of
  // reading them from the file mapping's 4 KiB pages: fewer TLB misses when a decode step streams
  // every weight. Costs one copy at load (the file's pages can then leave the page cache).
  bool huge_pages = false;
};

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options);

}  // namespace rwkv
