// Decode products with 8-bit activations (fast_activations) for every ggml block type: the SIMD
// kernels (AVX512_VNNI, AVX2) equal their scalar twin (the dequantized weights times the 8-bit
// activations) up to float summation order, and all stay within the activation rounding of the
// exact product.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>

#include "kernels/cpu/matmul_q8a.h"
#include "kernels/cpu/reference.h"
#include "tensor/convert.h"
#include "tensor/quant.h"

namespace rwkv::cpu {
namespace {

// Rows of `d`: Gaussian weights through the reference quantizer; Q2_K and Q3_K, which have none,
// as random blocks whose f16 scales are set to small values (every packed scale, min and bit
// pattern occurs).
std::vector<std::byte> random_rows(DType d, int64_t rows, int64_t cols, std::mt19937& rng) {
  if (d != DType::Q2_K && d != DType::Q3_K) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> wf(static_cast<size_t>(rows * cols));
    for (float& v : wf) v = dist(rng);
    return convert_rows(DType::F32, reinterpret_cast<const std::byte*>(wf.data()), rows, cols, d);
  }
  std::vector<std::byte> bytes(static_cast<size_t>(rows * dtype_row_bytes(d, cols)));
  for (std::byte& b : bytes) b = static_cast<std::byte>(rng() & 0xFF);
  std::uniform_real_distribution<float> scale(0.005f, 0.03f);
  const size_t block = static_cast<size_t>(dtype_block_bytes(d));
  const size_t at = d == DType::Q2_K ? offsetof(quant::BlockQ2_K, d) : offsetof(quant::BlockQ3_K, d);
  for (size_t b = 0; b < bytes.size(); b += block)
    for (size_t f = 0; f < (d == DType::Q2_K ? 2u : 1u); ++f) {  // d (and Q2_K's dmin after it)
      const uint16_t h = f32_to_f16(scale(rng));
      std::memcpy(bytes.data() + b + at + 2 * f, &h, 2);
    }
  return bytes;
}

TEST(Q8Activations, KernelMatchesScalarTwinAndStaysNearTheExactProduct) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (DType d : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K,
                  DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    for (int64_t rows : {1, 5, 8, 37}) {
      for (int64_t cols : {32, 96, 256, 768}) {  // odd and even block counts
        if (cols % dtype_block_size(d) != 0) continue;
        const auto bytes = random_rows(d, rows, cols, rng);
        const WeightMatrix w{d, rows, cols, bytes.data(), dtype_row_bytes(d, cols)};
        for (int64_t T : {1, 2, 3, 4}) {
          std::vector<float> x(static_cast<size_t>(T * cols)), exact(static_cast<size_t>(T * rows));
          for (float& v : x) v = dist(rng);
          const Mat xm{x.data(), T, cols};
          ref::matmul(w, xm, Mat{exact.data(), T, rows}, false, 0, rows);
          Q8Activations q;
          ref_quantize_activations(xm, q);
          std::vector<float> twin(exact.size()), got(exact.size());
          ref_q8a_rows(w, q, Mat{twin.data(), T, rows}, false, 0, rows);
          for (Isa isa : supported_isas()) {
            if (!use_q8_activations(isa, w, T, true)) continue;
            q8a_rows(isa, w, q, Mat{got.data(), T, rows}, false, 0, rows / 2);
            q8a_rows(isa, w, q, Mat{got.data(), T, rows}, false, rows / 2, rows);
            for (size_t i = 0; i < got.size(); ++i)
              ASSERT_NEAR(got[i], twin[i], 1e-4 * (1 + std::fabs(twin[i])))
                  << isa_name(isa) << " " << dtype_name(d) << " " << rows << "x" << cols;
          }
          // 8-bit activations: error up to max|x|/254 per element (std ~0.006 here), random signs -> grows as
          // sqrt(cols); the bound is about 9 standard deviations
          for (size_t i = 0; i < exact.size(); ++i)
            ASSERT_NEAR(twin[i], exact[i], 0.05 * std::sqrt(static_cast<double>(cols)))
                << dtype_name(d) << " " << rows << "x" << cols;
        }
      }
    }
  }
}

// Every ISA's quantizer writes exactly the scalar twin's blocks, including on exact halves (a
// block whose max is 127 makes the scale 1, so x.5 values round away from zero) and zero blocks.
TEST(Q8Activations, QuantizerMatchesScalarTwinBitForBit) {
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (int64_t cols : {32, 96, 768}) {
    const int64_t T = 3;
    std::vector<float> x(static_cast<size_t>(T * cols));
    for (float& v : x) v = dist(rng);
    for (int64_t j = 0; j < 32; ++j) x[static_cast<size_t>(j)] = j == 0 ? 127.0f : (j % 2 ? 0.5f : -0.5f) + (j - 16);
    std::fill_n(x.begin() + cols, 32, 0.0f);  // row 1's first block: all zero
    const Mat xm{x.data(), T, cols};
    Q8Activations want;
    ref_quantize_activations(xm, want);
    EXPECT_EQ(want.q[1], -15);  // -14.5
    EXPECT_EQ(want.q[17], 2);   // 1.5
    for (Isa isa : supported_isas()) {
      Q8Activations got;
      got.q.assign(want.q.size(), 99);  // stale contents must not survive
      quantize_activations(isa, xm, got);
      EXPECT_EQ(got.q, want.q) << isa_name(isa);
      EXPECT_EQ(got.d, want.d) << isa_name(isa);
      EXPECT_EQ(got.sum, want.sum) << isa_name(isa);
    }
  }
}

}  // namespace
}  // namespace rwkv::cpu
