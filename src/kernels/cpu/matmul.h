// Matrix products on the CPU: y[t] (+)= W x[t] for weights in the Linear layout [out][in].
//  - T small (decode): a matvec that streams each weight row once for all tokens, near the
//    memory-bandwidth limit;
//  - T large (prompts): a GEMM over blocks of 32 tokens, with the activations packed once per call.
// Each ISA has its own implementation; all are tested against ref::matmul.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_features.h"

namespace rwkv::cpu {

enum class MatmulPrecision {
  Exact,            // f32 activations, f32 accumulation: weights are widened exactly
  Bf16Activations,  // bf16 weights x activations rounded to bf16 (AVX512_BF16 dot products),
                    // f32 accumulation: about 2x the GEMM throughput, ~3 significant digits
};

// Activations packed for the GEMM: blocks of kTokenBlock tokens, column-major within a block.
struct PackedActivations {
  std::vector<float> f32;      // [blocks][K][kTokenBlock]
  std::vector<uint32_t> bf16;  // [blocks][K/2][kTokenBlock] pairs (k even, k odd) of bf16
  int64_t T = 0, K = 0, k_pairs = 0;
  bool use_bf16 = false;
};
inline constexpr int64_t kTokenBlock = 32;

// What the per-ISA GEMM kernels read: plain pointers (the ISA files avoid std:: templates, whose
// inline instances could otherwise be emitted with AVX-512 instructions and shared program-wide).
struct PackedView {
  const float* f32;
  const uint32_t* bf16;
  int64_t T, K, k_pairs;
};

// Whether y = x W^T with x of T rows should go through the packed GEMM (else the matvec).
bool use_gemm(Isa isa, int64_t T);
// Sizes `out` for x [T][K]; then pack_activations fills token blocks [b0, b1) (the backend
// splits the blocks across threads). The whole of every block is written, padding included.
void prepare_packing(int64_t T, int64_t K, bool to_bf16, PackedActivations& out);
int64_t token_blocks(const PackedActivations& p);
void pack_activations(Isa isa, const Mat& x, PackedActivations& out, int64_t b0, int64_t b1);
// All blocks, on this thread (tests).
void pack_activations(Isa isa, const Mat& x, bool to_bf16, PackedActivations& out);

// Rows [o0, o1) of the product; the caller splits rows across threads.
void matvec_rows(Isa isa, const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1);
void gemm_rows(Isa isa, const WeightMatrix& w, const PackedActivations& x, const Mat& y, bool accumulate, int64_t o0,
               int64_t o1);

// Per-ISA entry points (defined in matmul_avx2.cpp / matmul_avx512.cpp; absent ISAs fall back).
void matvec_rows_avx2(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1);
void matvec_rows_avx512(const WeightMatrix& w, const Mat& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1);
// The AVX2 GEMM's scratch: one 6-row tile widened and interleaved, 6 * K floats.
void gemm_rows_avx2(const WeightMatrix& w, const PackedView& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                    float* scratch);
// Weight rows per GEMM micro-tile of the AVX-512 kernels; their scratch holds that many rows
// interleaved ([K][12] f32 or [pairs][12] bf16 pairs).
inline constexpr int kGemmRowBlock = 12;
// The AVX-512 GEMM interleaves a group of 12-row blocks at a time into scratch (4-byte elements:
// f32 weights, or bf16 pairs): as many blocks as fit ~768 KiB (L2), at least one.
inline int64_t gemm_group_blocks(int64_t k) {
  const int64_t fit = (512 * 1024 / 4) / (kGemmRowBlock * k);
  return fit > 1 ? fit : 1;
}
// Rows the GEMM interleaves at once for a slice of `rows` rows.
inline int64_t gemm_group_rows(int64_t rows, int64_t k) {
  const int64_t blocks = (rows + kGemmRowBlock - 1) / kGemmRowBlock;
  const int64_t group = gemm_group_blocks(k);
  return kGemmRowBlock * (blocks < group ? blocks : group);
}
// The stride of the output staging rows: the group's width plus 16 floats, so that the 32 rows
// of a token block do not sit a multiple of 4 KiB apart (stores there alias loads in the core).
inline int64_t gemm_stage_stride(int64_t rows, int64_t k) { return gemm_group_rows(rows, k) + 16; }
// Scratch elements (4 bytes) for `rows` rows of `k` elements (or pairs): the interleaved group
// and the output staging of one token block (32 rows).
inline int64_t gemm_scratch_elements(int64_t rows, int64_t k) {
  return gemm_group_rows(rows, k) * k + 32 * gemm_stage_stride(rows, k);
}
void gemm_rows_avx512(const WeightMatrix& w, const PackedView& x, const Mat& y, bool accumulate, int64_t o0, int64_t o1,
                      float* scratch);
void gemm_rows_avx512bf16(const WeightMatrix& w, const PackedView& x, const Mat& y, bool accumulate, int64_t o0,
                          int64_t o1, uint32_t* scratch);
// Packing of token blocks [b0, b1) of x (ldx floats between rows) into `dst` (PackedView layout).
void pack_f32_avx512(const float* x, int64_t ldx, int64_t T, int64_t K, float* dst, int64_t b0, int64_t b1);
void pack_bf16_avx512bf16(const float* x, int64_t ldx, int64_t T, int64_t K, uint32_t* dst, int64_t b0, int64_t b1);

}  // namespace rwkv::cpu
