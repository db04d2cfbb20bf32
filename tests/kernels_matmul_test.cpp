// Every matrix-product kernel against the scalar reference, on every ISA this CPU supports, for
// every weight dtype (float and quantized), with row and column counts that exercise the tails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_inout.h"
#include "kernels/cpu/matmul_quant.h"
#include "kernels/cpu/reference.h"
#include "tensor/convert.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace rwkv::cpu {
namespace {

struct Case {
  int64_t rows, cols;
};

std::vector<std::byte> random_weights(DType d, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  if (dtype_is_quantized(d)) {  // Gaussian weights through the reference quantizer
    std::vector<float> f(static_cast<size_t>(n));
    for (float& v : f) v = dist(rng);
    return convert_rows(DType::F32, reinterpret_cast<const std::byte*>(f.data()), 1, n, d);
  }
  std::vector<std::byte> out(static_cast<size_t>(n * dtype_block_bytes(d)));
  for (int64_t i = 0; i < n; ++i) {
    const float f = dist(rng);
    if (d == DType::F32) {
      std::memcpy(out.data() + 4 * i, &f, 4);
    } else {
      const uint16_t h = d == DType::BF16 ? f32_to_bf16(f) : f32_to_f16(f);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

// |error| allowed for a dot product of n terms: a few f32 ulps of the sum of |terms|.
double tolerance(const WeightMatrix& w, const Mat& x, int64_t o, int64_t t) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  ref::row_to_f32(w.dtype, w.row(o), w.cols, row.data());
  double mag = 0;
  for (int64_t i = 0; i < w.cols; ++i) mag += std::fabs(row[static_cast<size_t>(i)] * x.row(t)[i]);
  return 1e-6 * mag + 1e-6;
}

class MatmulKernels : public ::testing::TestWithParam<std::tuple<Isa, DType>> {};

TEST_P(MatmulKernels, MatchReferenceForAllShapesAndTokenCounts) {
  const auto [isa, dtype] = GetParam();
  std::mt19937 rng(1234);
  const std::vector<Case> float_cases = {{1, 1}, {3, 5}, {8, 16}, {37, 100}, {64, 768}, {17, 33}, {9, 130}};
  // Quantized rows are whole 256-blocks (every type's block divides 256).
  const std::vector<Case> quant_cases = {{1, 256}, {3, 512}, {8, 256}, {37, 768}, {17, 256}, {9, 1024}};
  for (Case c : dtype_is_quantized(dtype) ? quant_cases : float_cases) {
    auto bytes = random_weights(dtype, c.rows * c.cols, rng);
    const WeightMatrix w{dtype, c.rows, c.cols, bytes.data(), dtype_row_bytes(dtype, c.cols)};
    for (int64_t T : {1, 2, 3, 4, 5, 6, 7, 31, 32, 33, 70}) {
      std::normal_distribution<float> dist(0.0f, 1.0f);
      std::vector<float> xs(static_cast<size_t>(T * c.cols)), y_ref(static_cast<size_t>(T * c.rows));
      for (float& v : xs) v = dist(rng);
      for (float& v : y_ref) v = dist(rng);
      std::vector<float> y = y_ref;
      const Mat x{xs.data(), T, c.cols};
      for (bool accumulate : {false, true}) {
        ref::matmul(w, x, Mat{y_ref.data(), T, c.rows}, accumulate, 0, c.rows);
        if (use_gemm(isa, T)) {
          PackedActivations p;
          pack_activations(isa, x, false, p);
          // split the rows in two slices like two threads would
          gemm_rows(isa, w, p, Mat{y.data(), T, c.rows}, accumulate, 0, c.rows / 2);
          gemm_rows(isa, w, p, Mat{y.data(), T, c.rows}, accumulate, c.rows / 2, c.rows);
        } else {
          matvec_rows(isa, w, x, Mat{y.data(), T, c.rows}, accumulate, 0, c.rows / 2);
          matvec_rows(isa, w, x, Mat{y.data(), T, c.rows}, accumulate, c.rows / 2, c.rows);
        }
        for (int64_t t = 0; t < T; ++t)
          for (int64_t o = 0; o < c.rows; ++o) {
            const size_t i = static_cast<size_t>(t * c.rows + o);
            ASSERT_NEAR(y[i], y_ref[i], tolerance(w, x, o, t) + (accumulate ? 1e-6 * std::fabs(y_ref[i]) : 0))
                << isa_name(isa) << " " << dtype_name(dtype) << " " << c.rows << "x" << c.cols << " T=" << T
                << " acc=" << accumulate << " t=" << t << " o=" << o;
          }
      }
    }
  }
}

std::vector<std::tuple<Isa, DType>> all_params() {
  std::vector<std::tuple<Isa, DType>> p;
  for (Isa isa : supported_isas())
    for (DType d : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                    DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K})
      p.emplace_back(isa, d);
  return p;
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, MatmulKernels, ::testing::ValuesIn(all_params()), [](const auto& info) {
  return std::string(isa_name(std::get<0>(info.param))) + "_" + std::string(dtype_name(std::get<1>(info.param)));
});

// Input-major weights ([in][out], the official LoRA factors and the transposed channel-mix value):
// every ISA against the reference, with inputs that are zero in every token (skipped rows) too.
class InOutKernels : public ::testing::TestWithParam<std::tuple<Isa, DType>> {};

TEST_P(InOutKernels, MatchReferenceIncludingSkippedZeroInputs) {
  const auto [isa, dtype] = GetParam();
  std::mt19937 rng(77);
  for (Case c : {Case{1, 1}, Case{5, 3}, Case{16, 8}, Case{100, 37}, Case{768, 64}, Case{33, 17}, Case{390, 130}}) {
    // c.rows outputs, c.cols inputs; stored [in][out]
    auto bytes = random_weights(dtype, c.rows * c.cols, rng);
    const WeightMatrix w{dtype, c.rows, c.cols, bytes.data(), dtype_row_bytes(dtype, c.rows), WeightLayout::InOut};
    for (int64_t T : {1, 2, 3, 4, 5, 6, 7, 12, 13, 31, 33}) {
      std::normal_distribution<float> dist(0.0f, 1.0f);
      std::vector<float> xs(static_cast<size_t>(T * c.cols)), y0(static_cast<size_t>(T * c.rows));
      for (float& v : xs) v = dist(rng);
      for (int64_t k = 0; k < c.cols; k += 3)  // every third input zero in every token: skipped
        for (int64_t t = 0; t < T; ++t) xs[static_cast<size_t>(t * c.cols + k)] = 0.0f;
      for (float& v : y0) v = dist(rng);
      const Mat x{xs.data(), T, c.cols};
      for (bool accumulate : {false, true}) {
        std::vector<float> want = y0, got = y0;
        ref::matmul(w, x, Mat{want.data(), T, c.rows}, accumulate, 0, c.rows);
        const int64_t half = c.rows / 2 / 32 * 32;  // as the backend splits: multiples of 32
        inout_matmul(isa, w, x, Mat{got.data(), T, c.rows}, accumulate, 0, half, nullptr);
        inout_matmul(isa, w, x, Mat{got.data(), T, c.rows}, accumulate, half, c.rows, nullptr);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 2e-5 * (std::fabs(want[i]) + std::sqrt(static_cast<double>(c.cols))))
              << isa_name(isa) << " " << dtype_name(dtype) << " " << c.rows << "x" << c.cols << " T=" << T
              << " acc=" << accumulate << " i=" << i;
      }
      // one token split by inputs (decode): two partial sums, the second added to the first
      if (T == 1)
        for (bool accumulate : {false, true}) {
          std::vector<float> want = y0, got = y0, second(static_cast<size_t>(c.rows));
          ref::matmul(w, x, Mat{want.data(), 1, c.rows}, accumulate, 0, c.rows);
          const int64_t k_half = c.cols / 2;
          inout_matvec_inputs(isa, w, xs.data(), 0, k_half, got.data(), accumulate);
          inout_matvec_inputs(isa, w, xs.data(), k_half, c.cols, second.data(), false);
          for (size_t i = 0; i < want.size(); ++i)
            ASSERT_NEAR(got[i] + second[i], want[i], 2e-5 * (std::fabs(want[i]) + std::sqrt(static_cast<double>(c.cols))))
                << isa_name(isa) << " " << dtype_name(dtype) << " " << c.rows << "x" << c.cols << " by inputs, acc="
                << accumulate << " i=" << i;
        }
      // bf16 activations: equal to the reference on bf16-rounded inputs
      if (inout_uses_bf16_pairs(isa, w, T, true)) {
        std::vector<float> rounded = xs, want(static_cast<size_t>(T * c.rows)), got = want;
        for (float& v : rounded) v = bf16_to_f32(f32_to_bf16(v));
        ref::matmul(w, Mat{rounded.data(), T, c.cols}, Mat{want.data(), T, c.rows}, false, 0, c.rows);
        std::vector<uint32_t> pairs(static_cast<size_t>(T * ((c.cols + 1) / 2)));
        to_bf16_pairs(isa, x, pairs.data(), 0, T);
        inout_matmul(isa, w, x, Mat{got.data(), T, c.rows}, false, 0, c.rows, pairs.data());
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 1e-3 * (1 + std::fabs(want[i]))) << c.rows << "x" << c.cols << " T=" << T;
      }
    }
  }
}

std::vector<std::tuple<Isa, DType>> float_params() {
  std::vector<std::tuple<Isa, DType>> p;
  for (Isa isa : supported_isas())
    for (DType d : {DType::F32, DType::F16, DType::BF16}) p.emplace_back(isa, d);
  return p;
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, InOutKernels, ::testing::ValuesIn(float_params()), [](const auto& info) {
  return std::string(isa_name(std::get<0>(info.param))) + "_" + std::string(dtype_name(std::get<1>(info.param)));
});

// The bf16-activation GEMM equals the exact product of the weights with bf16-rounded activations.
TEST(MatmulKernels, Bf16ActivationGemmMatchesRoundedReference) {
  const auto isas = supported_isas();
  if (isas.back() != Isa::Avx512Bf16) GTEST_SKIP() << "no AVX512_BF16 on this CPU";
  std::mt19937 rng(99);
  for (Case c : {Case{8, 16}, Case{37, 101}, Case{64, 768}}) {
    auto bytes = random_weights(DType::BF16, c.rows * c.cols, rng);
    const WeightMatrix w{DType::BF16, c.rows, c.cols, bytes.data(), dtype_row_bytes(DType::BF16, c.cols)};
    for (int64_t T : {6, 32, 45}) {
      std::normal_distribution<float> dist(0.0f, 1.0f);
      std::vector<float> xs(static_cast<size_t>(T * c.cols)), rounded, y(static_cast<size_t>(T * c.rows)), y_ref = y;
      for (float& v : xs) v = dist(rng);
      rounded = xs;
      for (float& v : rounded) v = bf16_to_f32(f32_to_bf16(v));
      ref::matmul(w, Mat{rounded.data(), T, c.cols}, Mat{y_ref.data(), T, c.rows}, false, 0, c.rows);
      PackedActivations p;
      pack_activations(Isa::Avx512Bf16, Mat{xs.data(), T, c.cols}, true, p);
      gemm_rows(Isa::Avx512Bf16, w, p, Mat{y.data(), T, c.rows}, false, 0, c.rows);
      for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], y_ref[i], 1e-3) << c.rows << "x" << c.cols << " T=" << T;
    }
  }
}

// The SIMD dequantizers (decode scratch and prompt GEMM rows) write quant::dequantize_row's values
// bit for bit, for rows of very different magnitudes (every scale and min combination the
// quantizers make) and zero rows.
TEST(MatmulKernels, SimdDequantizationEqualsScalarBitForBit) {
  const auto isas = supported_isas();
  if (isas.back() < Isa::Avx2) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t rows = 12, cols = 1024;
  std::vector<float> f(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i)
      f[static_cast<size_t>(r * cols + i)] = r == 5 ? 0.0f : dist(rng) * std::pow(10.0f, static_cast<float>(r % 7 - 3));
  for (DType d : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const auto bytes = convert_rows(DType::F32, reinterpret_cast<const std::byte*>(f.data()), rows, cols, d);
    const WeightMatrix w{d, rows, cols, bytes.data(), dtype_row_bytes(d, cols)};
    std::vector<float> want(f.size()), got(f.size());
    for (int64_t r = 0; r < rows; ++r) quant::dequantize_row(d, w.row(r), cols, want.data() + r * cols);
    ASSERT_TRUE(quant_dequantize_rows_avx2(w, 0, rows, got.data())) << dtype_name(d);
    EXPECT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * 4)) << "avx2 " << dtype_name(d);
    if (isas.back() >= Isa::Avx512 && quant_dequantize_rows_avx512(w, 0, rows, got.data())) {
      EXPECT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * 4)) << "avx512 " << dtype_name(d);
    }
  }
}

}  // namespace
}  // namespace rwkv::cpu
