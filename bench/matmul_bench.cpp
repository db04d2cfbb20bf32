// Micro-benchmarks of the matrix products: matvec (decode) and GEMM (prompts) per weight dtype
// and ISA, on the shapes of a 0.1B RWKV-7 (C = 768) and its head. Reports bytes/s for matvec
// (bandwidth-bound) and FLOP/s for GEMM (compute-bound).
//   build/bench/matmul_bench --benchmark_filter=Matvec
#include <algorithm>
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_q8a.h"
#include "tensor/dtype.h"

namespace rwkv {
namespace {

struct Weights {
  std::vector<std::byte> bytes;
  WeightMatrix w;
  Weights(DType d, int64_t rows, int64_t cols) : bytes(static_cast<size_t>(rows * dtype_row_bytes(d, cols))) {
    std::mt19937 rng(1);
    for (size_t i = 0; i < bytes.size(); i += 4) {  // small finite values in every dtype
      const uint32_t r = rng() & 0x3f3f3f3fu;
      std::memcpy(bytes.data() + i, &r, std::min<size_t>(4, bytes.size() - i));
    }
    w = {d, rows, cols, bytes.data(), dtype_row_bytes(d, cols)};
  }
};

void run(benchmark::State& state, DType d, int64_t rows, int64_t cols, int64_t T, int threads, bool bf16_act) {
  auto backend = make_cpu_backend({threads, std::nullopt, bf16_act});
  Weights W(d, rows, cols);
  std::vector<float> x(static_cast<size_t>(T * cols), 0.5f), y(static_cast<size_t>(T * rows));
  for (auto _ : state) {
    backend->matmul(W.w, Mat{x.data(), T, cols}, Mat{y.data(), T, rows});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(W.bytes.size()));
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(2 * rows * cols * T) * state.iterations() / 1e9,
                                                 benchmark::Counter::kIsRate);
}

#define MATVEC(name, dtype, rows, cols, threads)                                                           \
  void name(benchmark::State& s) { run(s, dtype, rows, cols, 1, threads, false); }                          \
  BENCHMARK(name)->UseRealTime()

MATVEC(Matvec_Head_bf16_1t, DType::BF16, 65536, 768, 1);
MATVEC(Matvec_Head_bf16_2t, DType::BF16, 65536, 768, 2);
MATVEC(Matvec_Ffn_bf16_2t, DType::BF16, 3072, 768, 2);
MATVEC(Matvec_Att_bf16_2t, DType::BF16, 768, 768, 2);
MATVEC(Matvec_Head_f32_2t, DType::F32, 65536, 768, 2);
MATVEC(Matvec_Head_f16_2t, DType::F16, 65536, 768, 2);

#define GEMM(name, dtype, rows, cols, T, bf16)                                                             \
  void name(benchmark::State& s) { run(s, dtype, rows, cols, T, 2, bf16); }                                 \
  BENCHMARK(name)->UseRealTime()

GEMM(Gemm_Ffn_bf16_T128, DType::BF16, 3072, 768, 128, false);
GEMM(Gemm_Ffn_bf16act_T128, DType::BF16, 3072, 768, 128, true);
GEMM(Gemm_Ffn_f32_T128, DType::F32, 3072, 768, 128, false);
GEMM(Gemm_FfnValue_bf16act_T128, DType::BF16, 768, 3072, 128, true);
GEMM(Gemm_FfnValue_bf16_T128, DType::BF16, 768, 3072, 128, false);
GEMM(Gemm_Att_bf16_T128, DType::BF16, 768, 768, 128, false);
GEMM(Gemm_Att_bf16act_T128, DType::BF16, 768, 768, 128, true);

}  // namespace
}  // namespace rwkv


namespace rwkv {
namespace {
// Shape sweep: rows (outputs) x cols (inputs), 128 tokens, bf16 weights, bf16 activations.
void GemmShape(benchmark::State& s) { run(s, DType::BF16, s.range(0), s.range(1), s.range(2), 2, true); }
BENCHMARK(GemmShape)
    ->Args({768, 768, 128})
    ->Args({1536, 768, 128})
    ->Args({3072, 768, 128})
    ->Args({768, 1536, 128})
    ->Args({3072, 768, 32})
    ->Args({3072, 3072, 128})
    ->UseRealTime();
}  // namespace
}  // namespace rwkv


namespace rwkv {
namespace {
// LoRA-shaped products with input-major weights (the official x @ W layout), 128 tokens.
void GemmLora(benchmark::State& state) {
  const int64_t out = state.range(0), in = state.range(1), T = state.range(3);
  auto backend = make_cpu_backend({2, std::nullopt, state.range(2) != 0});
  Weights W(DType::BF16, in, out);  // stored [in][out]
  WeightMatrix w = W.w;
  w.rows = out;
  w.cols = in;
  w.row_bytes = dtype_row_bytes(DType::BF16, out);
  w.layout = WeightLayout::InOut;
  std::vector<float> x(static_cast<size_t>(T * in), 0.5f), y(static_cast<size_t>(T * out));
  for (auto _ : state) {
    backend->matmul(w, Mat{x.data(), T, in}, Mat{y.data(), T, out});
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(2 * out * in * T) * state.iterations() / 1e9,
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(GemmLora)
    ->Args({64, 768, 1, 128})
    ->Args({768, 64, 1, 128})
    ->Args({128, 768, 1, 128})
    ->Args({768, 128, 1, 128})
    ->Args({64, 768, 1, 1})
    ->Args({768, 64, 1, 1})
    ->UseRealTime();
}  // namespace
}  // namespace rwkv


namespace rwkv {
namespace {
// The weight types of ColdSmall (its fourth argument): the quantized ones decode with 8-bit
// activations.
constexpr DType kColdTypes[] = {DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K, DType::Q5_1};

// One token `x` through many different out x in matrices of `dtype` in turn (so each comes from
// DRAM, as in a decode step), input-major (as LoRA factors are stored) or in the Linear layout.
void cold_decode(benchmark::State& state, DType dtype, int64_t out, int64_t in, bool input_major,
                 std::vector<float> x) {
  const int64_t bytes = dtype_row_bytes(dtype, in) * out;
  const int64_t copies = std::max<int64_t>(8, (int64_t{128} << 20) / bytes);  // 128 MiB: 4x the L3 here
  auto backend = make_cpu_backend({2, std::nullopt, true});
  std::vector<Weights> ws;
  for (int64_t i = 0; i < copies; ++i) ws.emplace_back(dtype, input_major ? in : out, input_major ? out : in);
  std::vector<float> y(static_cast<size_t>(out));
  int64_t i = 0;
  for (auto _ : state) {
    WeightMatrix w = ws[static_cast<size_t>(i++ % copies)].w;
    if (input_major) w = WeightMatrix{dtype, out, in, w.data, dtype_row_bytes(dtype, out), WeightLayout::InOut};
    backend->matmul(w, Mat{x.data(), 1, in}, Mat{y.data(), 1, out});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}

// Arguments: outputs, inputs, input-major, weight type kColdTypes[arg 3].
void ColdSmall(benchmark::State& state) {
  const DType dtype = kColdTypes[state.range(3)];
  state.SetLabel(std::string(dtype_name(dtype)));
  cold_decode(state, dtype, state.range(0), state.range(1), state.range(2) != 0,
              std::vector<float>(static_cast<size_t>(state.range(1)), 0.5f));
}
BENCHMARK(ColdSmall)
    ->Args({64, 768, 1, 0})
    ->Args({64, 768, 0, 0})
    ->Args({768, 64, 1, 0})
    ->Args({768, 64, 0, 0})
    ->Args({256, 2048, 1, 0})
    ->Args({2048, 256, 1, 0})
    ->Args({96, 2048, 1, 0})
    ->Args({2048, 96, 1, 0})
    ->Args({768, 768, 0, 0})
    ->Args({3072, 768, 0, 0})
    ->Args({768, 3072, 0, 0})
    ->Args({2048, 2048, 0, 0})
    ->Args({8192, 2048, 0, 0})
    ->Args({2048, 8192, 0, 0})
    ->Args({768, 768, 0, 1})
    ->Args({3072, 768, 0, 1})
    ->Args({768, 3072, 0, 1})
    ->Args({768, 3072, 0, 2})
    ->Args({2048, 2048, 0, 1})
    ->Args({8192, 2048, 0, 1})
    ->Args({2048, 8192, 0, 1})
    ->Args({768, 3072, 0, 3})
    ->Args({2048, 8192, 0, 3})
    ->Args({768, 3072, 0, 4})
    ->Args({65536, 768, 0, 4})
    ->Args({768, 3072, 0, 5})
    ->UseRealTime();
}  // namespace
}  // namespace rwkv

namespace rwkv::cpu {
namespace {
// The 8-bit quantization of one decode token's activations (before each quantized product), per ISA.
void QuantizeActivations(benchmark::State& state) {
  const int64_t cols = state.range(0);
  const Isa isa = state.range(1) ? active_isa() : Isa::Scalar;
  std::vector<float> x(static_cast<size_t>(cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 97) * 0.37f - 17.0f;
  Q8Activations q;
  for (auto _ : state) {
    quantize_activations(isa, Mat{x.data(), 1, cols}, q);
    benchmark::DoNotOptimize(q.q.data());
  }
}
BENCHMARK(QuantizeActivations)->Args({3072, 0})->Args({3072, 1})->Args({8192, 0})->Args({8192, 1});
}  // namespace
}  // namespace rwkv::cpu

namespace rwkv {
namespace {
// The channel-mix value product of one decode token from DRAM: Linear layout (dense), or input-major
// with a share of the inputs zero (ReLU^2 leaves about half of them zero on random weights, and
// 44.5% on the trained tiny-7v0-834K), whose rows are then skipped. Arguments: outputs, inputs, zero percent,
// input-major. Measured (0.1B shape): dense 97 us either layout, 50% zeros 82 us, 90% zeros 9 us;
// but the model keeps this matrix in the Linear layout: input-major, its prompt GEMM is slower
// (0.1B prefill 3200 -> 2600 tok/s), and two copies would cost the memory.
void ColdSparse(benchmark::State& state) {
  const int64_t in = state.range(1), zero_pct = state.range(2);
  std::vector<float> x(static_cast<size_t>(in));
  std::mt19937 rng(3);
  for (float& v : x) v = static_cast<int64_t>(rng() % 100) < zero_pct ? 0.0f : 0.5f;
  cold_decode(state, DType::BF16, state.range(0), in, state.range(3) != 0, std::move(x));
}
BENCHMARK(ColdSparse)
    ->Args({768, 3072, 0, 0})
    ->Args({768, 3072, 0, 1})
    ->Args({768, 3072, 50, 1})
    ->Args({768, 3072, 90, 1})
    ->Args({2048, 8192, 0, 0})
    ->Args({2048, 8192, 50, 1})
    ->Args({2048, 8192, 90, 1})
    ->UseRealTime();
}  // namespace
}  // namespace rwkv

BENCHMARK_MAIN();
