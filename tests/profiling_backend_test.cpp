// The profiler (RWKV_PROFILE=1) forwards every call, grouped ones as groups, and changes no
// result; its table names what ran.
#include <gtest/gtest.h>

#include <random>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/profiling_backend.h"
#include "support/op_harness.h"
#include "tensor/convert.h"

namespace rwkv {
namespace {

using test::Host;
using test::random_host;
using test::Side;

TEST(ProfilingBackend, ForwardsGroupedOpsUnchangedAndReportsThem) {
  std::mt19937 rng(11);
  const int64_t C = 64, out = 48;
  const Host wf = random_host(out * C, rng), x = random_host(C, rng), prev = random_host(C, rng);
  const Host mu0 = random_host(C, rng), mu1 = random_host(C, rng);
  const auto wbytes = convert_rows(DType::F32, reinterpret_cast<const std::byte*>(wf.data()), out, C, DType::BF16);
  auto run = [&](Side& s) {
    const WeightMatrix w = s.b->upload_weight({DType::BF16, out, C, wbytes.data(), C * 2});
    float *xp = s.put(x), *pp = s.put(prev), *d = s.put(Host(C)), *m0 = s.put(Host(C)), *m1 = s.put(Host(C));
    const float* const mus[] = {s.put(mu0), s.put(mu1)};
    const Mat outs[] = {{m0, 1, C}, {m1, 1, C}};
    s.b->token_shift_mix({xp, 1, C}, pp, {d, 1, C}, mus, outs);
    float *y0 = s.put(Host(out)), *y1 = s.put(Host(out));
    const Backend::Product ps[] = {{w, {m0, 1, C}, {y0, 1, out}, Activation::Tanh}, {w, {m1, 1, C}, {y1, 1, out}}};
    s.b->matmul_batch(ps);
    return std::vector<Host>{s.get(m0, C), s.get(m1, C), s.get(d, C), s.get(y0, out), s.get(y1, out)};
  };
  Side plain{make_cpu_backend({2, std::nullopt, false}), {}};
  const auto want = run(plain);
  testing::internal::CaptureStderr();
  {
    Side profiled{make_profiling_backend(make_cpu_backend({2, std::nullopt, false})), {}};
    EXPECT_EQ(run(profiled), want);
  }  // the table is printed when the backend goes
  const std::string table = testing::internal::GetCapturedStderr();
  EXPECT_NE(table.find("matmul_batch of 2 T=1"), std::string::npos) << table;
  EXPECT_NE(table.find("token_shift_mix"), std::string::npos) << table;
}

}  // namespace
}  // namespace rwkv
