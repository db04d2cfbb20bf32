// Decode products with 8-bit activations (fast_activations) for Q8_0 and Q4_0 weights: the VNNI
// kernel equals its scalar twin (the same integer sums) up to float summation order, and both
// stay within the activation rounding of the exact product.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/cpu/matmul_q8a.h"
#include "kernels/cpu/reference.h"
#include "tensor/convert.h"

namespace rwkv::cpu {
namespace {

TEST(Q8Activations, KernelMatchesScalarTwinAndStaysNearTheExactProduct) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (DType d : {DType::Q8_0, DType::Q4_0}) {
    for (int64_t rows : {1, 5, 8, 37}) {
      for (int64_t cols : {32, 96, 256, 768}) {  // odd and even block counts
        std::vector<float> wf(static_cast<size_t>(rows * cols));
        for (float& v : wf) v = dist(rng);
        const auto bytes = convert_rows(DType::F32, reinterpret_cast<const std::byte*>(wf.data()), rows, cols, d);
        const WeightMatrix w{d, rows, cols, bytes.data(), dtype_row_bytes(d, cols)};
        for (int64_t T : {1, 2, 3, 4}) {
          std::vector<float> x(static_cast<size_t>(T * cols)), exact(static_cast<size_t>(T * rows));
          for (float& v : x) v = dist(rng);
          const Mat xm{x.data(), T, cols};
          ref::matmul(w, xm, Mat{exact.data(), T, rows}, false, 0, rows);
          Q8Activations q;
          quantize_activations(xm, q);
          std::vector<float> twin(exact.size()), got(exact.size());
          ref_q8a_rows(w, q, Mat{twin.data(), T, rows}, false, 0, rows);
          if (use_q8_activations(active_isa(), w, T, true)) {
            q8a_rows(active_isa(), w, q, Mat{got.data(), T, rows}, false, 0, rows / 2);
            q8a_rows(active_isa(), w, q, Mat{got.data(), T, rows}, false, rows / 2, rows);
            for (size_t i = 0; i < got.size(); ++i)
              ASSERT_NEAR(got[i], twin[i], 1e-4 * (1 + std::fabs(twin[i]))) << dtype_name(d) << " " << rows << "x" << cols;
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

}  // namespace
}  // namespace rwkv::cpu
