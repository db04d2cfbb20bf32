// What the op tests share (tests/ops_test.cpp: SIMD kernels against the scalar backend;
// tests/cuda_ops_test.cpp: the CUDA backend against it): host data moved in and out of a backend,
// random inputs, and an elementwise closeness check relative to 1 + |expected|.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/backend.h"

namespace rwkv::test {

using Host = std::vector<float>;

// Moves host data in and out of a backend; the buffers live as long as the Side.
struct Side {
  std::unique_ptr<Backend> b;
  std::vector<Buffer> keep;
  float* put(const Host& h) {
    keep.emplace_back(b.get(), h.size());
    b->upload(keep.back().data(), h.data(), h.size());
    return keep.back().data();
  }
  // Raw bytes (e.g. a bf16 matrix) in backend memory, through an f32 buffer of the same bytes.
  const std::byte* put_bytes(const std::vector<std::byte>& bytes) {
    Host h((bytes.size() + 3) / 4);
    std::memcpy(h.data(), bytes.data(), bytes.size());
    return reinterpret_cast<const std::byte*>(put(h));
  }
  Host get(const float* p, size_t n) {
    Host h(n);
    b->download(h.data(), p, n);
    return h;
  }
};

inline Host random_host(size_t n, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  Host h(n);
  for (float& v : h) v = d(rng);
  return h;
}

inline void expect_close(const Host& got, const Host& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * (1.0 + std::fabs(want[i]))) << what << " at " << i;
}

}  // namespace rwkv::test
