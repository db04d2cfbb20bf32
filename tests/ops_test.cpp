// The op-test harness: every operation of the kernel interface, run on each backend under test
// (the CPU backend at every ISA this machine supports) and compared with the scalar reference
// backend on the same random inputs. Adding an op means adding one case here.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "kernels/cpu/cpu_backend.h"
#include "support/op_harness.h"
#include "tensor/convert.h"
#include "tensor/dtype.h"

namespace rwkv {
namespace {

using test::expect_close;
using test::Host;
using test::random_host;
using test::Side;

// One op case: given a backend side and the shared inputs, runs the op and returns its outputs.
using OpRun = std::function<std::vector<Host>(Side&)>;

class Ops : public ::testing::TestWithParam<cpu::Isa> {
 protected:
  void check(const std::string& name, double tol, const OpRun& run) {
    Side ref{make_cpu_backend({1, cpu::Isa::Scalar, false}), {}};
    Side test{make_cpu_backend({2, GetParam(), false}), {}};
    const auto want = run(ref), got = run(test);
    ASSERT_EQ(want.size(), got.size());
    for (size_t i = 0; i < want.size(); ++i) expect_close(got[i], want[i], tol, name + " output " + std::to_string(i));
  }
  std::mt19937 rng{7};
};

TEST_P(Ops, RowWise) {
  const int64_t T = 5, C = 96;
  const Host x = random_host(T * C, rng), g = random_host(C, rng, 0.5f, 1.5f), b = random_host(C, rng);
  const Host mu = random_host(C, rng, 0.0f, 1.0f), prev = random_host(C, rng), y0 = random_host(T * C, rng);
  check("layer_norm", 1e-5, [&](Side& s) {
    float* out = s.put(Host(T * C));
    s.b->layer_norm({s.put(x), T, C}, {out, T, C}, s.put(g), s.put(b), 1e-5f);
    return std::vector<Host>{s.get(out, T * C)};
  });
  check("group_norm", 1e-5, [&](Side& s) {
    float* p = s.put(x);
    s.b->group_norm({p, T, C}, 3, s.put(g), s.put(b), 64e-5f);
    return std::vector<Host>{s.get(p, T * C)};
  });
  check("l2_normalize", 1e-6, [&](Side& s) {
    float* p = s.put(x);
    s.b->l2_normalize({p, T, C}, 32, 1e-12f);
    return std::vector<Host>{s.get(p, T * C)};
  });
  check("token_shift+lerp", 1e-6, [&](Side& s) {
    float *xp = s.put(x), *pp = s.put(prev), *d = s.put(Host(T * C)), *o = s.put(Host(T * C));
    s.b->token_shift({xp, T, C}, pp, {d, T, C});
    s.b->lerp({xp, T, C}, {d, T, C}, s.put(mu), {o, T, C});
    return std::vector<Host>{s.get(d, T * C), s.get(o, T * C), s.get(pp, C)};
  });
  for (Activation act : {Activation::Identity, Activation::Tanh, Activation::Sigmoid, Activation::ReluSquare,
                         Activation::Silu, Activation::ExpNegExp}) {
    for (bool bias : {false, true}) {
      check("activate " + std::to_string(static_cast<int>(act)) + (bias ? " +bias" : ""), 2e-6, [&](Side& s) {
        float* p = s.put(x);
        s.b->activate({p, T, C}, act, bias ? s.put(b) : nullptr);
        return std::vector<Host>{s.get(p, T * C)};
      });
    }
  }
  check("add+mul", 1e-6, [&](Side& s) {
    float *p = s.put(y0), *q = s.put(y0);
    s.b->add({p, T, C}, {s.put(x), T, C});
    s.b->mul({q, T, C}, {s.put(x), T, C});
    return std::vector<Host>{s.get(p, T * C), s.get(q, T * C)};
  });
}

TEST_P(Ops, MatmulAndEmbedding) {
  for (DType d : {DType::F32, DType::F16, DType::BF16}) {
    const int64_t out = 70, in = 48, vocab = 9;
    std::vector<std::byte> w(static_cast<size_t>(out * in * dtype_block_bytes(d)));
    const Host wf = random_host(out * in, rng);
    for (int64_t i = 0; i < out * in; ++i) {
      if (d == DType::F32) {
        std::memcpy(w.data() + 4 * i, &wf[static_cast<size_t>(i)], 4);
      } else {
        const uint16_t h = d == DType::BF16 ? f32_to_bf16(wf[static_cast<size_t>(i)]) : f32_to_f16(wf[static_cast<size_t>(i)]);
        std::memcpy(w.data() + 2 * i, &h, 2);
      }
    }
    const WeightMatrix host{d, out, in, w.data(), dtype_row_bytes(d, in)};
    for (int64_t T : {1, 3, 8, 40}) {
      const Host x = random_host(T * in, rng), y0 = random_host(T * out, rng);
      check(std::string("matmul ") + std::string(dtype_name(d)) + " T=" + std::to_string(T), 1e-5, [&](Side& s) {
        const WeightMatrix wm = s.b->upload_weight(host);
        float *y = s.put(y0), *ya = s.put(y0), *xp = s.put(x);
        s.b->matmul(wm, {xp, T, in}, {y, T, out});
        s.b->matmul(wm, {xp, T, in}, {ya, T, out}, true);
        return std::vector<Host>{s.get(y, T * out), s.get(ya, T * out)};
      });
    }
    const WeightMatrix table{d, vocab, in, w.data(), dtype_row_bytes(d, in)};
    check("embedding", 0.0, [&](Side& s) {
      const WeightMatrix tm = s.b->upload_weight(table);
      const std::vector<int32_t> ids = {3, 0, 8, 3};
      float* o = s.put(Host(4 * in));
      s.b->embedding(tm, ids, {o, 4, in});
      return std::vector<Host>{s.get(o, 4 * in)};
    });
  }
}

TEST_P(Ops, Rwkv7Pieces) {
  const int64_t T = 4, H = 3, N = 32, C = H * N;
  const Host k = random_host(T * C, rng), a = random_host(T * C, rng, 0.0f, 1.0f), w = random_host(T * C, rng);
  const Host k_k = random_host(C, rng, 0.5f, 1.0f), k_a = random_host(C, rng, 0.5f, 1.0f), w0 = random_host(C, rng);
  check("rwkv7_prepare", 2e-6, [&](Side& s) {
    float *kp = s.put(k), *ap = s.put(a), *wp = s.put(w), *kk = s.put(Host(T * C));
    s.b->rwkv7_prepare({kp, ap, wp, kk, s.put(k_k), s.put(k_a), s.put(w0), T, H, N});
    return std::vector<Host>{s.get(kp, T * C), s.get(ap, T * C), s.get(wp, T * C), s.get(kk, T * C)};
  });
  const Host v = random_host(T * C, rng), vf = random_host(T * C, rng), gate = random_host(T * C, rng, 0, 1);
  check("rwkv7_value_residual", 1e-6, [&](Side& s) {
    float* vp = s.put(v);
    s.b->rwkv7_value_residual({vp, T, C}, {s.put(vf), T, C}, {s.put(gate), T, C});
    return std::vector<Host>{s.get(vp, T * C)};
  });
  const Host y = random_host(T * C, rng), r = random_host(T * C, rng), r_k = random_host(C, rng), g = random_host(T * C, rng);
  check("rwkv7_bonus_and_gate", 1e-5, [&](Side& s) {
    float* yp = s.put(y);
    s.b->rwkv7_bonus_and_gate({yp, T, C}, {s.put(r), T, C}, {s.put(k), T, C}, {s.put(v), T, C}, s.put(r_k),
                              {s.put(g), T, C}, H, N);
    return std::vector<Host>{s.get(yp, T * C)};
  });
}

TEST_P(Ops, WkvRecurrences) {
  for (int64_t N : {8, 16, 64}) {
    const int64_t T = 19, H = 2, C = H * N;
    const Host r = random_host(T * C, rng), k = random_host(T * C, rng, -0.3f, 0.3f), v = random_host(T * C, rng);
    const Host w = random_host(T * C, rng, 0.5f, 0.999f), kk = random_host(T * C, rng, -0.2f, 0.2f);
    const Host b = random_host(T * C, rng, 0.0f, 0.2f), s0 = random_host(H * N * N, rng), u = random_host(C, rng);
    check("wkv7 N=" + std::to_string(N), 1e-5, [&](Side& s) {
      float *y = s.put(Host(T * C)), *st = s.put(s0);
      s.b->wkv7({s.put(r), s.put(w), s.put(k), s.put(v), s.put(kk), s.put(b), y, st, T, H, N});
      return std::vector<Host>{s.get(y, T * C), s.get(st, H * N * N)};
    });
    for (bool per_token : {false, true}) {
      check("wkv56 N=" + std::to_string(N) + (per_token ? " v6" : " v5"), 1e-5, [&](Side& s) {
        float *y = s.put(Host(T * C)), *st = s.put(s0);
        s.b->wkv56({s.put(r), s.put(k), s.put(v), s.put(w), s.put(u), per_token, y, st, T, H, N});
        return std::vector<Host>{s.get(y, T * C), s.get(st, H * N * N)};
      });
    }
  }
}

TEST_P(Ops, DeepEmbedAndDea) {
  const int64_t T = 6, n = 8;
  const Host u = random_host(T * n, rng), m = random_host(T * n * n, rng);
  check("row_vecmat", 1e-6, [&](Side& s) {
    float* z = s.put(Host(T * n));
    s.b->row_vecmat({s.put(u), T, n}, {s.put(m), T, n * n}, {z, T, n});
    return std::vector<Host>{s.get(z, T * n)};
  });
  const int64_t L = 11, first = L - T, dqk = 16, dv = 24;
  const Host q = random_host(T * dqk, rng, -3, 3), keys = random_host(L * dqk, rng, -3, 3), values = random_host(L * dv, rng);
  check("dea_attention", 1e-5, [&](Side& s) {
    float* out = s.put(Host(T * dv));
    s.b->dea_attention({s.put(q), s.put(keys), s.put(values), out, T, L, first, dqk, dv, 64.0f, 1024.0f});
    return std::vector<Host>{s.get(out, T * dv)};
  });
  // Long enough for the SIMD path's matrix products to use whole tiles and tails: a prompt chunk
  // after earlier context, and one decoded token.
  for (const int64_t rows : {int64_t{37}, int64_t{1}}) {
    const int64_t context = 70, start = context - rows, dk = 40, dval = 50;
    const Host q2 = random_host(rows * dk, rng, -3, 3), keys2 = random_host(context * dk, rng, -3, 3);
    const Host values2 = random_host(context * dval, rng);
    check("dea_attention " + std::to_string(rows) + " queries", 1e-5, [&](Side& s) {
      float* out = s.put(Host(rows * dval));
      s.b->dea_attention({s.put(q2), s.put(keys2), s.put(values2), out, rows, context, start, dk, dval, 64.0f, 1024.0f});
      return std::vector<Host>{s.get(out, rows * dval)};
    });
  }
}

// matmul_batch: one-token batches run in one parallel region on the CPU (each thread's share of
// every product). Against the scalar backend, and, with 8-bit activations for quantized weights,
// against the same products made one by one.
TEST_P(Ops, MatmulBatch) {
  struct Spec {
    DType d;
    int64_t out, in;
    WeightLayout layout;
    Activation act;
    bool bias, accumulate;
  };
  const std::vector<Spec> specs = {
      {DType::BF16, 70, 48, WeightLayout::OutIn, Activation::Tanh, false, false},
      {DType::BF16, 80, 48, WeightLayout::InOut, Activation::Sigmoid, true, false},
      {DType::F32, 400, 48, WeightLayout::InOut, Activation::Identity, false, false},  // > 384 outputs, > 64 KiB
      {DType::F16, 33, 64, WeightLayout::InOut, Activation::Identity, false, true},
      {DType::Q8_0, 64, 96, WeightLayout::OutIn, Activation::Identity, false, true},
      {DType::Q4_0, 50, 64, WeightLayout::OutIn, Activation::ReluSquare, false, false},
  };
  std::vector<std::vector<std::byte>> bytes;
  for (const Spec& sp : specs) {
    const int64_t rows = sp.layout == WeightLayout::OutIn ? sp.out : sp.in, cols = sp.layout == WeightLayout::OutIn ? sp.in : sp.out;
    const Host wf = random_host(rows * cols, rng);
    bytes.push_back(convert_rows(DType::F32, reinterpret_cast<const std::byte*>(wf.data()), rows, cols, sp.d));
  }
  for (int64_t T : {1, 3}) {
    std::vector<Host> xs, y0s, biases;
    for (const Spec& sp : specs) {
      xs.push_back(random_host(T * sp.in, rng));
      y0s.push_back(random_host(T * sp.out, rng));
      biases.push_back(random_host(sp.out, rng));
    }
    // Runs the batch (or, `one_by_one`, the base class's loop over the products) and returns every y.
    auto run = [&](Side& s, bool one_by_one) {
      std::vector<Backend::Product> ps;
      std::vector<float*> ys;
      for (size_t i = 0; i < specs.size(); ++i) {
        const Spec& sp = specs[i];
        const int64_t stored = sp.layout == WeightLayout::OutIn ? sp.in : sp.out;
        WeightMatrix host{sp.d, sp.out, sp.in, bytes[i].data(), dtype_row_bytes(sp.d, stored), sp.layout};
        ys.push_back(s.put(y0s[i]));
        ps.push_back({s.b->upload_weight(host), {s.put(xs[i]), T, sp.in}, {ys.back(), T, sp.out}, sp.act,
                      sp.bias ? s.put(biases[i]) : nullptr, sp.accumulate});
      }
      if (one_by_one) s.b->Backend::matmul_batch(ps);
      else s.b->matmul_batch(ps);
      std::vector<Host> out;
      for (size_t i = 0; i < specs.size(); ++i) out.push_back(s.get(ys[i], static_cast<size_t>(T * specs[i].out)));
      return out;
    };
    check("matmul_batch T=" + std::to_string(T), 1e-5, [&](Side& s) { return run(s, false); });
    check("matmul one by one T=" + std::to_string(T), 1e-5, [&](Side& s) { return run(s, true); });
    Side fast{make_cpu_backend({2, GetParam(), true}), {}};
    const auto want = run(fast, true), got = run(fast, false);
    for (size_t i = 0; i < want.size(); ++i)
      expect_close(got[i], want[i], 1e-5, "fast matmul_batch T=" + std::to_string(T) + " product " + std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, Ops, ::testing::ValuesIn(cpu::supported_isas()),
                         [](const auto& info) { return std::string(cpu::isa_name(info.param)); });

}  // namespace
}  // namespace rwkv
