// Accuracy of our own quantization (--dtype q* at load, the same bytes as `rwkv quantize`):
// every fixture model x every type we quantize to, against the official f32 logits.
//   max|diff|  over all positions and the whole vocabulary;
//   top-1      the fraction of positions whose argmax is the reference's;
//   dCE        for the trained byte-level models, on the 60 `tokens_long`: the change of the
//              cross-entropy of the next byte, in bits per byte (quantized - f32).
// The bounds are the measurements (docs/PERFORMANCE.md, "Quantization accuracy") with margin:
// max|diff| x 1.5, top-1 at most one position worse, dCE at most 0.01 bit worse than measured (and
// never counting an improvement). The tiny models are 64 or
// 128 wide, so the K-quants fall back to Q5_0 / Q5_1 / Q8_0 there (models/quant_policy.h); the
// K-quants proper are measured on a 1-layer model of RWKV-7 0.1B's shape (random weights).
// RWKV_PRINT_ACCURACY=1 prints the table.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "io/writers.h"
#include "models/checkpoint_layout.h"
#include "models/random_weights.h"
#include "support/fixtures.h"
#include "support/golden.h"

namespace rwkv::test {
namespace {

struct Bound {
  const char* model;  // fixture folder (model.safetensors, logits*.f32)
  const char* type;
  double max_diff;  // measured max|diff| x 1.5
  double top1;      // measured top-1 agreement minus one position
  double ce_delta;  // max(measured dCE, 0) + 0.01 (trained models; unused for the random ones)
};

// clang-format off
constexpr Bound kBounds[] = {
#include "quant_accuracy_bounds.inc"
};
// clang-format on

double top1_agreement(std::span<const float> a, std::span<const float> b, size_t V) {
  size_t agree = 0, T = a.size() / V;
  for (size_t t = 0; t < T; ++t) {
    const auto ra = a.subspan(t * V, V), rb = b.subspan(t * V, V);
    agree += std::max_element(ra.begin(), ra.end()) - ra.begin() == std::max_element(rb.begin(), rb.end()) - rb.begin();
  }
  return static_cast<double>(agree) / static_cast<double>(T);
}

// Mean cross-entropy (bits) of tokens[t + 1] under the logits after tokens[0..t].
double cross_entropy_bits(std::span<const float> logits, const std::vector<int32_t>& tokens, size_t V) {
  double sum = 0;
  for (size_t t = 0; t + 1 < tokens.size(); ++t) {
    const auto row = logits.subspan(t * V, V);
    const float m = *std::max_element(row.begin(), row.end());
    double z = 0;
    for (float l : row) z += std::exp(static_cast<double>(l - m));
    sum += (std::log(z) + m - row[static_cast<size_t>(tokens[t + 1])]) / std::log(2.0);
  }
  return sum / static_cast<double>(tokens.size() - 1);
}

bool print_table() { return std::getenv("RWKV_PRINT_ACCURACY") != nullptr; }

class QuantAccuracy : public ::testing::TestWithParam<Bound> {};

TEST_P(QuantAccuracy, WithinMeasuredBounds) {
  const Bound& b = GetParam();
  GoldenCase g;
  if (!load_golden_case(b.model, &g)) GTEST_SKIP() << b.model << " not found";
  DType type;
  ASSERT_TRUE(parse_dtype(b.type, &type));
  ModelOptions opt;
  opt.dtype = type;
  auto model = Model::load({(g.dir / "model.safetensors").string()}, opt);
  const size_t V = static_cast<size_t>(g.vocab);
  const bool trained = !g.tokens_long.empty();
  const auto& tokens = trained ? g.tokens_long : g.tokens;
  const auto ref = read_f32(g.dir / (trained ? "logits-long.f32" : "logits.f32"));
  const auto logits = run_logits(*model, tokens, "seq");
  const double diff = max_abs_diff(logits, ref), top1 = top1_agreement(logits, ref, V);
  const double ce = trained ? cross_entropy_bits(logits, tokens, V) - cross_entropy_bits(ref, tokens, V) : 0.0;
  EXPECT_LE(diff, b.max_diff) << model->describe();
  EXPECT_GE(top1, b.top1) << model->describe();
  if (trained) {
    EXPECT_LE(ce, b.ce_delta) << model->describe();
  }
  if (print_table())
    std::printf("| %s | %s | %.3g | %.1f%% | %s | %s |\n", b.model, b.type, diff, 100 * top1,
                trained ? fmt::format("{:+.4f}", ce).c_str() : "-", model->describe().c_str());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, QuantAccuracy, ::testing::ValuesIn(kBounds), [](const auto& info) {
  return test_name(std::string(info.param.model) + "_" + info.param.type);
});

// The K-quants where their 256-blocks fit: one layer of RWKV-7 0.1B's shape (C = 768), random
// weights, vocabulary 1024; against the same model in f32. Random weights are harder to quantize
// than trained ones (no structure), so these bounds say little about real models beyond "works".
// Random bf16 weights of RWKV-7 0.1B's width (C = 768) with `layers` layers and a vocabulary of
// 1024, written into dir; and the tokens the tests below run.
std::string write_768_wide_model(const TempDir& dir, int layers, uint64_t seed) {
  HParams hp = standard_hparams(Arch::Rwkv7, "0.1b");
  hp.n_layer = layers;
  hp.vocab = 1024;
  const auto path = (dir / "m.safetensors").string();
  write_safetensors(path, random_checkpoint(hp, DType::BF16, seed));
  return path;
}
const std::vector<int32_t> kWideModelTokens = {1, 5, 900, 17, 17, 300, 2, 1023, 64, 0, 511, 12};

TEST(QuantAccuracy, KQuantsOnA768WideModel) {
  TempDir dir;
  const auto path = write_768_wide_model(dir, 1, 3);
  const auto& tokens = kWideModelTokens;
  auto f32 = Model::load({path});
  const auto ref = run_logits(*f32, tokens, "seq");
  // {type, max|diff| bound, top-1 bound}: measured x 1.5 / minus one position.
  struct KBound {
    DType type;
    double max_diff, top1;
  };
  // Measured: q6_k 0.147, 11/12; q5_k 0.545, 10/12; q4_k 0.616, 9/12.
  for (KBound k : {KBound{DType::Q6_K, 0.22, 10.0 / 12}, KBound{DType::Q5_K, 0.82, 9.0 / 12},
                   KBound{DType::Q4_K, 0.93, 8.0 / 12}}) {
    ModelOptions opt;
    opt.dtype = k.type;
    auto q = Model::load({path}, opt);
    // Every Linear matrix in the K-quant itself (no fallback type); the rest is the bf16 LoRAs.
    EXPECT_NE(q->describe().find(std::string(dtype_name(k.type))), std::string::npos) << q->describe();
    for (const char* fallback : {"q5_0", "q5_1", "q8_0"})
      EXPECT_EQ(q->describe().find(fallback), std::string::npos) << q->describe();
    const auto logits = run_logits(*q, tokens, "seq");
    const double diff = max_abs_diff(logits, ref), top1 = top1_agreement(logits, ref, 1024);
    EXPECT_LE(diff, k.max_diff) << dtype_name(k.type);
    EXPECT_GE(top1, k.top1) << dtype_name(k.type);
    if (print_table())
      std::printf("| rwkv7 0.1B shape, 1 layer, random | %s | %.3g | %.1f%% | - | %s |\n",
                  std::string(dtype_name(k.type)).c_str(), diff, 100 * top1, q->describe().c_str());
  }
}

// Decode with 8-bit activations (fast_activations, the default of text generation) for every
// type that has that path: token by token against the same quantized model's exact prompt
// logits, on the 768-wide model (the K-quants' 256-blocks fit). What is measured is the
// activation rounding alone: max|diff| 0.047 (q4_k) to 0.107 (q4_0), top-1 12/12 (q5_0: 11/12, a
// near tie); bounded at 1.5 x the largest and one position less than the lowest.
TEST(QuantAccuracy, EightBitActivationDecodeStaysNearTheExactProduct) {
  TempDir dir;
  const auto path = write_768_wide_model(dir, 2, 4);
  const auto& tokens = kWideModelTokens;
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K,
                     DType::Q6_K}) {
    ModelOptions opt;
    opt.dtype = type;
    auto exact = Model::load({path}, opt);
    opt.fast_activations = true;
    auto fast = Model::load({path}, opt);
    const auto want = run_logits(*exact, tokens, "seq"), got = run_logits(*fast, tokens, "rnn");
    const double diff = max_abs_diff(got, want), top1 = top1_agreement(got, want, 1024);
    if (print_table())
      std::printf("8-bit activations, %s: max|diff| %.3g, top-1 %.1f%%\n", std::string(dtype_name(type)).c_str(), diff,
                  100 * top1);
    EXPECT_LE(diff, 0.16) << dtype_name(type);
    EXPECT_GE(top1, 10.0 / 12) << dtype_name(type);
  }
}

}  // namespace
}  // namespace rwkv::test
