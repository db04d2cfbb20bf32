// The kernel pieces RWKV-5/6 added to the Backend: the Silu and ExpNegExp activations and the
// WKV-5/6 recurrence, each against a direct transcription of the official formula.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_backend.h"

namespace rwkv {
namespace {

std::vector<float> random_vector(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(OpsV56, SiluAndExpNegExpWithBias) {
  auto backend = make_cpu_backend({.threads = 2, .isa = std::nullopt});
  const int64_t T = 3, C = 37;
  const auto x = random_vector(T * C, -8.0f, 8.0f, 1), bias = random_vector(C, -2.0f, 2.0f, 2);
  for (Activation act : {Activation::Silu, Activation::ExpNegExp}) {
    std::vector<float> y = x;
    backend->activate(Mat{y.data(), T, C}, act, bias.data());
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < C; ++i) {
        const double v = static_cast<double>(x[t * C + i]) + bias[i];
        const double want = act == Activation::Silu ? v / (1.0 + std::exp(-v)) : std::exp(-std::exp(v));
        EXPECT_NEAR(y[t * C + i], want, 1e-6 * std::max(1.0, std::fabs(want))) << i;
      }
  }
}

TEST(OpsV56, RowRangeIsAViewOfRows) {
  std::vector<float> w(6 * 4);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
  const WeightMatrix m{DType::F32, 6, 4, reinterpret_cast<const std::byte*>(w.data()), 16};
  const WeightMatrix r = m.row_range(2, 3);
  EXPECT_EQ(r.rows, 3);
  EXPECT_EQ(r.cols, 4);
  EXPECT_EQ(reinterpret_cast<const float*>(r.row(0))[0], 8.0f);
  EXPECT_EQ(reinterpret_cast<const float*>(r.row(2))[3], 19.0f);
}

// The official per-token update (ChatRWKV att_one_v5 / att_one_v6_0), per head, in double:
//   a = k^T v ; out = r (u * a + S) ; S = a + w * S   (u, w broadcast along the value axis)
void official_wkv(const std::vector<float>& r, const std::vector<float>& k, const std::vector<float>& v,
                  const std::vector<float>& w, bool w_per_token, const std::vector<float>& u, int64_t T, int64_t H,
                  int64_t N, std::vector<double>& S, std::vector<double>& y) {
  const int64_t C = H * N;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < N; ++i) {  // value index
        double out = 0;
        for (int64_t j = 0; j < N; ++j) {  // key index
          const int64_t c = h * N + j;
          double& s = S[(h * N + j) * N + i];
          const double a = static_cast<double>(k[t * C + c]) * v[t * C + h * N + i];
          out += r[t * C + c] * (u[c] * a + s);
          s = a + (w_per_token ? w[t * C + c] : w[c]) * s;
        }
        y[t * C + h * N + i] = out;
      }
}

TEST(OpsV56, Wkv56MatchesTheOfficialUpdateInChunksAndSteps) {
  auto backend = make_cpu_backend({.threads = 2, .isa = std::nullopt});
  const int64_t T = 9, H = 3, N = 8, C = H * N;
  const auto r = random_vector(T * C, -1, 1, 3), k = random_vector(T * C, -1, 1, 4), v = random_vector(T * C, -1, 1, 5);
  const auto u = random_vector(C, -1, 1, 6);
  for (bool per_token : {false, true}) {
    const auto w = random_vector(per_token ? T * C : C, 0.3f, 0.999f, 7);
    std::vector<double> S(H * N * N, 0.0), want(T * C);
    official_wkv(r, k, v, w, per_token, u, T, H, N, S, want);

    // One call over all T, then token by token: both from a zero state.
    std::vector<float> state(H * N * N, 0.0f), y(T * C);
    backend->wkv56({r.data(), k.data(), v.data(), w.data(), u.data(), per_token, y.data(), state.data(), T, H, N});
    std::vector<float> state1(H * N * N, 0.0f), y1(T * C);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t o = t * C;
      backend->wkv56({r.data() + o, k.data() + o, v.data() + o, w.data() + (per_token ? o : 0), u.data(), per_token,
                      y1.data() + o, state1.data(), 1, H, N});
    }
    for (int64_t i = 0; i < T * C; ++i) {
      EXPECT_NEAR(y[i], want[i], 1e-5) << i;
      EXPECT_EQ(y[i], y1[i]) << i;  // the same arithmetic, row by row
    }
    for (int64_t i = 0; i < H * N * N; ++i) EXPECT_NEAR(state[i], S[i], 1e-5);
  }
}

}  // namespace
}  // namespace rwkv
