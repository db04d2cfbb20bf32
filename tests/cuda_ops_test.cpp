// Every op of the CUDA backend against the scalar reference (the CPU backend at Isa::Scalar, i.e.
// kernels/cpu/reference.cpp) on the same random inputs: several shapes (one token and many),
// every weight dtype and layout, RWKV-5 and -6 WKV, RWKV-7 WKV, DEA with one and many queries.
// Skipped when no CUDA device is visible.
//
// Tolerances (relative to 1 + |reference|) follow from the arithmetic: both sides compute in f32
// in the same order of terms, but the GPU fuses multiply-adds and its expf/tanhf differ from libm
// by an ulp or two: ~1e-6 for elementwise ops, up to ~1e-5 for sums of a few hundred terms and for
// the recurrences (whose state feeds back over the tokens).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include "cuda_support.h"
#include "kernels/cpu/cpu_backend.h"
#include "support/op_harness.h"
#include "kernels/cuda/cuda_backend.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace rwkv {
namespace {

using test::expect_close;
using test::Host;
using test::random_host;
using test::Side;

// values as a matrix of `d`: float types rounded, quantized types through ggml's quantizer.
std::vector<std::byte> encode(DType d, const Host& values, int64_t rows, int64_t cols) {
  const int64_t row_bytes = dtype_row_bytes(d, cols);
  std::vector<std::byte> out(static_cast<size_t>(rows * row_bytes));
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = values.data() + r * cols;
    std::byte* dst = out.data() + r * row_bytes;
    if (dtype_is_quantized(d)) {
      quant::quantize_row(d, src, cols, dst);
      continue;
    }
    for (int64_t i = 0; i < cols; ++i) {
      if (d == DType::F32) {
        std::memcpy(dst + 4 * i, &src[i], 4);
      } else {
        const uint16_t h = d == DType::BF16 ? f32_to_bf16(src[i]) : f32_to_f16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
    }
  }
  return out;
}

using OpRun = std::function<std::vector<Host>(Side&)>;

class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override { RWKV_SKIP_WITHOUT_CUDA_DEVICE(); }
  // Runs `run` on the scalar reference and on the GPU (f32 activations, or bf16/f16 ones in the
  // prompt GEMMs when `fast`) and compares every output.
  void check(const std::string& name, double tol, const OpRun& run, bool fast = false) {
    Side ref{make_cpu_backend({1, cpu::Isa::Scalar, false}), {}};
    Side gpu{cuda::make_cuda_backend({0, fast}), {}};
    const auto want = run(ref), got = run(gpu);
    ASSERT_EQ(want.size(), got.size());
    for (size_t i = 0; i < want.size(); ++i) expect_close(got[i], want[i], tol, name + " output " + std::to_string(i));
  }
  std::mt19937 rng{11};
};

TEST_F(CudaOps, MemoryMovesData) {
  const Host x = random_host(1000, rng);
  check("upload/copy/fill_zero/download", 0.0, [&](Side& s) {
    float *a = s.put(x), *c = s.put(Host(1000)), *z = s.put(x);
    s.b->copy(c, a + 10, 900);
    s.b->fill_zero(z + 5, 100);
    Buffer copied(s.b.get(), 0);
    Buffer original(s.b.get(), 1000);
    s.b->upload(original.data(), x.data(), 1000);
    copied = original;  // Buffer copies copy the contents on the backend
    return std::vector<Host>{s.get(c, 1000), s.get(z, 1000), s.get(copied.data(), 1000)};
  });
}

TEST_F(CudaOps, RowWise) {
  for (const int64_t T : {int64_t{1}, int64_t{7}}) {
    const int64_t C = 160;
    const Host x = random_host(T * C, rng), g = random_host(C, rng, 0.5f, 1.5f), b = random_host(C, rng);
    const Host mu = random_host(C, rng, 0.0f, 1.0f), prev = random_host(C, rng), y0 = random_host(T * C, rng);
    const Host gate = random_host(T * C, rng, 0.0f, 1.0f);
    const std::string at = " T=" + std::to_string(T);
    check("layer_norm" + at, 1e-5, [&](Side& s) {
      float *out = s.put(Host(T * C)), *in_place = s.put(x);
      s.b->layer_norm({s.put(x), T, C}, {out, T, C}, s.put(g), s.put(b), 1e-5f);
      s.b->layer_norm({in_place, T, C}, {in_place, T, C}, s.put(g), s.put(b), 1e-5f);
      return std::vector<Host>{s.get(out, T * C), s.get(in_place, T * C)};
    });
    for (const int64_t groups : {int64_t{2}, int64_t{5}}) {
      check("group_norm " + std::to_string(groups) + at, 1e-5, [&](Side& s) {
        float* p = s.put(x);
        s.b->group_norm({p, T, C}, groups, s.put(g), s.put(b), 64e-5f);
        return std::vector<Host>{s.get(p, T * C)};
      });
    }
    check("l2_normalize" + at, 1e-6, [&](Side& s) {
      float* p = s.put(x);
      s.b->l2_normalize({p, T, C}, 32, 1e-12f);
      return std::vector<Host>{s.get(p, T * C)};
    });
    check("token_shift+lerp" + at, 1e-6, [&](Side& s) {
      float *xp = s.put(x), *pp = s.put(prev), *d = s.put(Host(T * C)), *o = s.put(Host(T * C));
      s.b->token_shift({xp, T, C}, pp, {d, T, C});
      s.b->lerp({xp, T, C}, {d, T, C}, s.put(mu), {o, T, C});
      s.b->lerp({xp, T, C}, {d, T, C}, s.put(mu), {xp, T, C});  // in place, as DEA does
      return std::vector<Host>{s.get(d, T * C), s.get(o, T * C), s.get(pp, C), s.get(xp, T * C)};
    });
    for (Activation act : {Activation::Identity, Activation::Tanh, Activation::Sigmoid, Activation::ReluSquare,
                           Activation::Silu, Activation::ExpNegExp}) {
      for (bool bias : {false, true}) {
        check("activate " + std::to_string(static_cast<int>(act)) + (bias ? " +bias" : "") + at, 2e-6, [&](Side& s) {
          float* p = s.put(x);
          s.b->activate({p, T, C}, act, bias ? s.put(b) : nullptr);
          return std::vector<Host>{s.get(p, T * C)};
        });
      }
    }
    check("add+mul+value_residual" + at, 1e-6, [&](Side& s) {
      float *p = s.put(y0), *q = s.put(y0), *v = s.put(y0);
      s.b->add({p, T, C}, {s.put(x), T, C});
      s.b->mul({q, T, C}, {s.put(x), T, C});
      s.b->rwkv7_value_residual({v, T, C}, {s.put(x), T, C}, {s.put(gate), T, C});
      return std::vector<Host>{s.get(p, T * C), s.get(q, T * C), s.get(v, T * C)};
    });
  }
}

// Every weight dtype and layout, decode-sized (the matrix-vector kernels: 1..4 tokens) and
// prompt-sized (cuBLAS), with and without accumulation. f32 activations: the only difference from
// the reference is the order of a sum of `in` products (<= 1e-5 relative at in = 256).
TEST_F(CudaOps, MatmulEveryDtypeAndLayout) {
  const int64_t out = 72, in = 256;
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q5_1, DType::Q6_K}) {
    const Host wf = random_host(out * in, rng);
    const std::vector<std::byte> w = encode(d, wf, out, in);
    const WeightMatrix out_in{d, out, in, w.data(), dtype_row_bytes(d, in), WeightLayout::OutIn};
    // The same values stored input-major ([in][out]), float dtypes only (as LoRA factors are).
    Host wt(static_cast<size_t>(out * in));
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) wt[static_cast<size_t>(i * out + o)] = wf[static_cast<size_t>(o * in + i)];
    const std::vector<std::byte> w_in_out = dtype_is_quantized(d) ? std::vector<std::byte>{} : encode(d, wt, in, out);
    const WeightMatrix in_out{d, out, in, w_in_out.data(), dtype_row_bytes(d, out), WeightLayout::InOut};

    for (int64_t T : {1, 2, 4, 5, 33}) {
      const Host x = random_host(T * in, rng), y0 = random_host(T * out, rng);
      for (const WeightMatrix* host : {&out_in, &in_out}) {
        if (host->layout == WeightLayout::InOut && dtype_is_quantized(d)) continue;
        const std::string name = std::string("matmul ") + std::string(dtype_name(d)) +
                                 (host->layout == WeightLayout::OutIn ? " out-in" : " in-out") +
                                 " T=" + std::to_string(T);
        check(name, 1e-5, [&](Side& s) {
          const WeightMatrix wm = s.b->upload_weight(*host);  // the GPU converts to its own layout here
          float *y = s.put(y0), *ya = s.put(y0), *xp = s.put(x);
          s.b->matmul(wm, {xp, T, in}, {y, T, out});
          s.b->matmul(wm, {xp, T, in}, {ya, T, out}, true);
          return std::vector<Host>{s.get(y, T * out), s.get(ya, T * out)};
        });
        // Input-major matrices handed to matmul as they are (not through upload_weight): the
        // input-major kernels and cuBLAS's non-transposed path.
        if (host->layout == WeightLayout::InOut) {
          check(name + " (not transposed)", 1e-5, [&](Side& s) {
            WeightMatrix wm = *host;
            wm.data = s.put_bytes(w_in_out);
            float *y = s.put(y0), *xp = s.put(x);
            s.b->matmul(wm, {xp, T, in}, {y, T, out}, true);
            return std::vector<Host>{s.get(y, T * out)};
          });
        }
      }
    }
  }
}

// A product and its activation (with and without a per-output bias) in one op: decode-sized
// (the matvec kernels apply it as they store) and prompt-sized (a GEMM, then the activation).
TEST_F(CudaOps, MatmulWithActivation) {
  const int64_t out = 72, in = 96;
  const Host wf = random_host(out * in, rng), bias = random_host(out, rng);
  const std::vector<std::byte> w = encode(DType::BF16, wf, out, in);
  const WeightMatrix host{DType::BF16, out, in, w.data(), dtype_row_bytes(DType::BF16, in), WeightLayout::OutIn};
  for (int64_t T : {1, 3, 9}) {
    const Host x = random_host(T * in, rng);
    for (Activation act : {Activation::Identity, Activation::Tanh, Activation::Sigmoid, Activation::ReluSquare,
                           Activation::Silu, Activation::ExpNegExp}) {
      for (bool with_bias : {false, true}) {
        check("matmul_act " + std::to_string(static_cast<int>(act)) + (with_bias ? " +bias" : "") +
                  " T=" + std::to_string(T),
              1e-5, [&](Side& s) {
                const WeightMatrix wm = s.b->upload_weight(host);
                float *y = s.put(Host(T * out)), *xp = s.put(x);
                s.b->matmul_act(wm, {xp, T, in}, {y, T, out}, act, with_bias ? s.put(bias) : nullptr);
                return std::vector<Host>{s.get(y, T * out)};
              });
      }
    }
  }
}

// A batch of independent products of mixed kinds: bf16 and f32 weights (a new launch at each
// change of type), with activations and biases, accumulating, input-major as handed over (run one
// by one), more than one launch's worth (8), and prompt-sized (cuBLAS, one by one).
TEST_F(CudaOps, MatmulBatch) {
  struct Spec {
    DType dtype;
    int64_t out, in;
    Activation act;
    bool bias, accumulate;
  };
  const std::vector<Spec> specs = {
      {DType::BF16, 72, 96, Activation::Identity, false, false}, {DType::BF16, 40, 96, Activation::Tanh, false, false},
      {DType::BF16, 33, 64, Activation::Sigmoid, true, false},   {DType::F32, 24, 96, Activation::Identity, false, true},
      {DType::F32, 16, 32, Activation::ReluSquare, false, false}, {DType::BF16, 96, 16, Activation::Sigmoid, true, false},
      {DType::F16, 8, 96, Activation::Silu, false, false},        {DType::BF16, 64, 64, Activation::Identity, false, true},
      {DType::BF16, 48, 32, Activation::Identity, false, false},  {DType::BF16, 20, 96, Activation::Tanh, true, false},
  };
  std::vector<std::vector<std::byte>> weights;
  std::vector<Host> biases;
  for (const Spec& sp : specs) {
    weights.push_back(encode(sp.dtype, random_host(sp.out * sp.in, rng), sp.out, sp.in));
    biases.push_back(random_host(sp.out, rng));
  }
  for (int64_t T : {1, 4, 9}) {
    std::vector<Host> xs, y0s;
    for (const Spec& sp : specs) {
      xs.push_back(random_host(T * sp.in, rng));
      y0s.push_back(random_host(T * sp.out, rng));
    }
    check("matmul_batch T=" + std::to_string(T), 1e-5, [&](Side& s) {
      std::vector<Backend::Product> products;
      for (size_t i = 0; i < specs.size(); ++i) {
        const Spec& sp = specs[i];
        const WeightMatrix host{sp.dtype, sp.out, sp.in, weights[i].data(), dtype_row_bytes(sp.dtype, sp.in)};
        products.push_back({s.b->upload_weight(host), {s.put(xs[i]), T, sp.in}, {s.put(y0s[i]), T, sp.out}, sp.act,
                            sp.bias ? s.put(biases[i]) : nullptr, sp.accumulate});
      }
      // An input-major matrix as it is (the GPU runs it on its own, outside the batched launches).
      const Spec& last = specs[0];
      WeightMatrix in_out{last.dtype, last.in, last.out, nullptr, dtype_row_bytes(last.dtype, last.in),
                          WeightLayout::InOut};  // [out = 96][in = 72], stored [72][96]
      in_out.data = s.put_bytes(weights[0]);
      products.insert(products.begin() + 3, Backend::Product{in_out, {s.put(y0s[0]), T, last.out},
                                                             {s.put(Host(T * last.in)), T, last.in}});
      s.b->matmul_batch(products);
      std::vector<Host> got;
      for (const Backend::Product& p : products) got.push_back(s.get(p.y.data, static_cast<size_t>(T * p.y.cols)));
      return got;
    });
  }
}

// The token shift with several mixes of its input in one op (none; one kernel's worth; more).
TEST_F(CudaOps, TokenShiftMix) {
  const int64_t C = 160;
  for (const int64_t T : {int64_t{1}, int64_t{7}}) {
    for (const size_t count : {size_t{0}, size_t{1}, size_t{6}, size_t{11}}) {
      const Host x = random_host(T * C, rng), prev = random_host(C, rng);
      std::vector<Host> mus;
      for (size_t m = 0; m < count; ++m) mus.push_back(random_host(C, rng, 0.0f, 1.0f));
      check("token_shift_mix " + std::to_string(count) + " T=" + std::to_string(T), 1e-6, [&](Side& s) {
        std::vector<const float*> mu_ptrs;
        std::vector<Mat> outs;
        for (size_t m = 0; m < count; ++m) {
          mu_ptrs.push_back(s.put(mus[m]));
          outs.push_back({s.put(Host(T * C)), T, C});
        }
        float *pp = s.put(prev), *d = s.put(Host(T * C));
        s.b->token_shift_mix({s.put(x), T, C}, pp, {d, T, C}, mu_ptrs, outs);
        std::vector<Host> got{s.get(pp, C), s.get(d, T * C)};
        for (const Mat& o : outs) got.push_back(s.get(o.data, T * C));
        return got;
      });
    }
  }
}

// A view of some outputs of an uploaded matrix (RWKV-6 slices its stacked LoRA factor).
TEST_F(CudaOps, MatmulOnRowRanges) {
  const int64_t out = 5 * 8, in = 64, T = 3;
  for (const WeightLayout layout : {WeightLayout::OutIn, WeightLayout::InOut}) {
    const Host wf = random_host(out * in, rng), x = random_host(T * in, rng);
    const std::vector<std::byte> w = encode(DType::BF16, wf, layout == WeightLayout::OutIn ? out : in,
                                            layout == WeightLayout::OutIn ? in : out);
    const WeightMatrix host{DType::BF16, out, in, w.data(),
                            dtype_row_bytes(DType::BF16, layout == WeightLayout::OutIn ? in : out), layout};
    check("matmul row_range", 1e-5, [&](Side& s) {
      const WeightMatrix wm = s.b->upload_weight(host);
      float *y = s.put(Host(T * 8)), *xp = s.put(x);
      s.b->matmul(wm.row_range(16, 8), {xp, T, in}, {y, T, 8});
      return std::vector<Host>{s.get(y, T * 8)};
    });
  }
}

// Prompt GEMMs with activations rounded to bf16/f16 (fast activations): a rounding of 2^-9
// (bf16) relative per activation; over 256 random-sign products of size ~0.25 that is ~1e-2 at 4
// standard deviations, bounded here at 3e-2.
TEST_F(CudaOps, MatmulWithRoundedActivations) {
  const int64_t out = 72, in = 256, T = 33;
  for (DType d : {DType::F16, DType::BF16}) {
    const Host wf = random_host(out * in, rng), x = random_host(T * in, rng);
    const std::vector<std::byte> w = encode(d, wf, out, in);
    const WeightMatrix host{d, out, in, w.data(), dtype_row_bytes(d, in), WeightLayout::OutIn};
    check(std::string("matmul fast ") + std::string(dtype_name(d)), 3e-2, [&](Side& s) {
      const WeightMatrix wm = s.b->upload_weight(host);
      float *y = s.put(Host(T * out)), *xp = s.put(x);
      s.b->matmul(wm, {xp, T, in}, {y, T, out});
      return std::vector<Host>{s.get(y, T * out)};
    }, /*fast=*/true);
  }
}

TEST_F(CudaOps, EmbeddingEveryTableDtype) {
  const int64_t vocab = 9, cols = 64;
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
    const std::vector<std::byte> t = encode(d, random_host(vocab * cols, rng), vocab, cols);
    const WeightMatrix table{d, vocab, cols, t.data(), dtype_row_bytes(d, cols)};
    for (const std::vector<int32_t>& ids : {std::vector<int32_t>{5}, std::vector<int32_t>{3, 0, 8, 3, 1}}) {
      check("embedding " + std::string(dtype_name(d)), 0.0, [&](Side& s) {
        const WeightMatrix tm = s.b->upload_weight(table);
        const int64_t T = static_cast<int64_t>(ids.size());
        float* o = s.put(Host(T * cols));
        s.b->embedding(tm, ids, {o, T, cols});
        return std::vector<Host>{s.get(o, T * cols)};
      });
    }
  }
}

TEST_F(CudaOps, Rwkv7Pieces) {
  for (const int64_t T : {int64_t{1}, int64_t{6}}) {
    const int64_t H = 3, N = 64, C = H * N;
    const Host k = random_host(T * C, rng), a = random_host(T * C, rng, 0.0f, 1.0f), w = random_host(T * C, rng);
    const Host k_k = random_host(C, rng, 0.5f, 1.0f), k_a = random_host(C, rng, 0.5f, 1.0f), w0 = random_host(C, rng);
    check("rwkv7_prepare", 2e-6, [&](Side& s) {
      float *kp = s.put(k), *ap = s.put(a), *wp = s.put(w), *kk = s.put(Host(T * C));
      s.b->rwkv7_prepare({kp, ap, wp, kk, s.put(k_k), s.put(k_a), s.put(w0), T, H, N});
      return std::vector<Host>{s.get(kp, T * C), s.get(ap, T * C), s.get(wp, T * C), s.get(kk, T * C)};
    });
    const Host v = random_host(T * C, rng), y = random_host(T * C, rng), r = random_host(T * C, rng);
    const Host r_k = random_host(C, rng), g = random_host(T * C, rng);
    const Host ln_g = random_host(C, rng, 0.5f, 1.5f), ln_b = random_host(C, rng);
    check("rwkv7_norm_bonus_gate", 1e-5, [&](Side& s) {
      float* yp = s.put(y);
      s.b->rwkv7_norm_bonus_gate({yp, T, C}, s.put(ln_g), s.put(ln_b), 64e-5f, {s.put(r), T, C}, {s.put(k), T, C},
                                 {s.put(v), T, C}, s.put(r_k), {s.put(g), T, C}, H, N);
      return std::vector<Host>{s.get(yp, T * C)};
    });
    check("rwkv7_bonus_and_gate", 1e-5, [&](Side& s) {
      float* yp = s.put(y);
      s.b->rwkv7_bonus_and_gate({yp, T, C}, {s.put(r), T, C}, {s.put(k), T, C}, {s.put(v), T, C}, s.put(r_k),
                                {s.put(g), T, C}, H, N);
      return std::vector<Host>{s.get(yp, T * C)};
    });
  }
}

// Head sizes: 64 (the released models: two slabs of 32 columns), 8 (the trained tiny fixtures),
// 40 (a partial slab); one token (decode) and many.
TEST_F(CudaOps, WkvRecurrences) {
  for (int64_t N : {8, 40, 64}) {
    for (int64_t T : {1, 19}) {
      const int64_t H = 2, C = H * N;
      const Host r = random_host(T * C, rng), k = random_host(T * C, rng, -0.3f, 0.3f), v = random_host(T * C, rng);
      const Host w = random_host(T * C, rng, 0.5f, 0.999f), kk = random_host(T * C, rng, -0.2f, 0.2f);
      const Host b = random_host(T * C, rng, 0.0f, 0.2f), s0 = random_host(H * N * N, rng), u = random_host(C, rng);
      const std::string shape = " N=" + std::to_string(N) + " T=" + std::to_string(T);
      check("wkv7" + shape, 1e-5, [&](Side& s) {
        float *y = s.put(Host(T * C)), *st = s.put(s0);
        s.b->wkv7({s.put(r), s.put(w), s.put(k), s.put(v), s.put(kk), s.put(b), y, st, T, H, N});
        return std::vector<Host>{s.get(y, T * C), s.get(st, H * N * N)};
      });
      for (bool per_token : {false, true}) {
        check("wkv56" + shape + (per_token ? " v6" : " v5"), 1e-5, [&](Side& s) {
          float *y = s.put(Host(T * C)), *st = s.put(s0);
          s.b->wkv56({s.put(r), s.put(k), s.put(v), s.put(w), s.put(u), per_token, y, st, T, H, N});
          return std::vector<Host>{s.get(y, T * C), s.get(st, H * N * N)};
        });
      }
    }
  }
}

TEST_F(CudaOps, DeepEmbedAndDea) {
  for (const int64_t T : {int64_t{1}, int64_t{6}}) {
    const int64_t n = 32;
    const Host u = random_host(T * n, rng), m = random_host(T * n * n, rng);
    check("row_vecmat T=" + std::to_string(T), 1e-5, [&](Side& s) {
      float* z = s.put(Host(T * n));
      s.b->row_vecmat({s.put(u), T, n}, {s.put(m), T, n * n}, {z, T, n});
      return std::vector<Host>{s.get(z, T * n)};
    });
  }
  // One decoded token after a context, a prompt chunk after earlier context, a whole prompt, and a
  // context longer than a block's 256 threads.
  struct Case { int64_t T, L; };
  for (const Case c : {Case{1, 11}, Case{37, 70}, Case{5, 5}, Case{3, 600}}) {
    const int64_t first = c.L - c.T, dqk = 256, dv = 96;
    const Host q = random_host(c.T * dqk, rng, -3, 3), keys = random_host(c.L * dqk, rng, -3, 3);
    const Host values = random_host(c.L * dv, rng);
    // Scores are dots of 256 products of size <= 9: ~5e-5 of rounding in a dot, 3e-6 in a score
    // after the / 1024 * 64, and about that relative in the weights and the output: bound 3e-5.
    check("dea_attention T=" + std::to_string(c.T) + " L=" + std::to_string(c.L), 3e-5, [&](Side& s) {
      float* out = s.put(Host(c.T * dv));
      s.b->dea_attention({s.put(q), s.put(keys), s.put(values), out, c.T, c.L, first, dqk, dv, 64.0f, 1024.0f});
      return std::vector<Host>{s.get(out, c.T * dv)};
    });
  }
}

}  // namespace
}  // namespace rwkv
