// RWKV-7, 7a and 7b against the logits of the official BlinkDL reference code, for every weight
// file of each fixture, both forward paths and both run-time dtypes.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "support/fixtures.h"
#include "support/golden.h"
#include "tensor/dtype.h"

namespace rwkv::test {
namespace {

// fp32 compute vs the official fp32 reference (DESIGN.md; fixtures/README.md): a correct engine
// lands near 1e-5, planted mistakes at >= 8.8e-3.
constexpr double kTolerance = 1e-3;

using Param = std::tuple<std::string /*case*/, std::string /*file*/, std::string /*mode*/, std::string /*dtype*/>;

class Rwkv7Golden : public ::testing::TestWithParam<Param> {};

TEST_P(Rwkv7Golden, MatchesOfficialLogits) {
  const auto& [name, file, mode, dtype] = GetParam();
  GoldenCase c;
  if (!load_golden_case(name, &c)) GTEST_SKIP() << "fixture " << name << " not found";
  ModelOptions opt;
  DType d;
  ASSERT_TRUE(parse_dtype(dtype, &d));
  opt.dtype = d;
  opt.chunk_size = 7;  // several chunks, so the state is carried between them too
  expect_official_logits(c, file, mode, opt, kTolerance);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, Rwkv7Golden,
    ::testing::Combine(::testing::Values("rwkv7-tiny", "rwkv7a-tiny", "rwkv7b-tiny"),
                       ::testing::Values("model-f32.pth", "model-bf16.pth", "model.safetensors"),
                       ::testing::Values("seq", "rnn"), ::testing::Values("f32", "bf16")),
    [](const auto& info) {
      return test_name(std::get<0>(info.param) + "_" + std::get<1>(info.param) + "_" + std::get<2>(info.param) + "_" +
                       std::get<3>(info.param));
    });

// The trained byte-level RWKV-7 from rwkv.cpp's tests, converted to the official layout.
class TrainedTiny7 : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(TrainedTiny7, MatchesOfficialLogitsShortAndLong) {
  const auto& [file, mode] = GetParam();
  GoldenCase c;
  if (!load_golden_case("tiny-7v0-834K", &c)) GTEST_SKIP() << "fixture tiny-7v0-834K not found";
  auto model = Model::load({(c.dir / file).string()});
  EXPECT_LE(max_abs_diff(run_logits(*model, c.tokens, mode), read_f32(c.dir / "logits.f32")), kTolerance);
  EXPECT_LE(max_abs_diff(run_logits(*model, c.tokens_long, mode), read_f32(c.dir / "logits-long.f32")), kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TrainedTiny7,
                         ::testing::Combine(::testing::Values("model-f32.pth", "model.safetensors"),
                                            ::testing::Values("seq", "rnn")),
                         [](const auto& info) {
                           return test_name(std::get<0>(info.param) + "_" + std::get<1>(info.param));
                         });

}  // namespace
}  // namespace rwkv::test

namespace rwkv::test {
namespace {

// Prompt processing with bf16 activations in the matrix products (the default of text generation
// for bf16 weights) is not exact: measured 0.045-0.057 max |diff| on these fixtures (logits range
// about +-11; the official code in bf16 is 0.14-0.39 off). Bounded here at 0.1, with the argmax
// kept at 90% of positions or more.
TEST(Rwkv7Bf16Prefill, StaysCloseToTheOfficialLogits) {
  for (const char* name : {"rwkv7-tiny", "rwkv7a-tiny", "rwkv7b-tiny"}) {
    GoldenCase c;
    if (!load_golden_case(name, &c)) GTEST_SKIP() << "fixture " << name << " not found";
    ModelOptions opt;
    opt.fast_activations = true;
    auto model = Model::load({(c.dir / "model-bf16.pth").string()}, opt);
    const auto got = run_logits(*model, c.tokens, "seq");
    const auto want = read_f32(c.dir / "logits.f32");
    EXPECT_LE(max_abs_diff(got, want), 0.1) << name;
    EXPECT_GE(top1_agreement(got, want, c.vocab), static_cast<int>(0.9 * c.tokens.size())) << name;
  }
}

}  // namespace
}  // namespace rwkv::test
