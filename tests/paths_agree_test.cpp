// The forward paths agree: the sequence path at every chunk size, the step (RNN) path, and a
// state copied mid-sequence. The chunked and stepped runs reuse the same kernels row by row, but
// matrix products over several rows may sum in another order than single-row ones (SIMD GEMM vs
// matvec), so paths are compared with a tolerance far below the 1e-3 golden bound.
#include <gtest/gtest.h>

#include "support/fixtures.h"
#include "support/golden.h"

namespace rwkv::test {
namespace {

constexpr double kPathTolerance = 2e-5;

class PathsAgree : public ::testing::TestWithParam<std::string> {};

std::unique_ptr<Model> load(const GoldenCase& c, int64_t chunk) {
  ModelOptions opt;
  opt.chunk_size = chunk;
  return Model::load({(c.dir / "model.safetensors").string()}, opt);
}

TEST_P(PathsAgree, ChunkSizesAndStepMatchOneChunk) {
  GoldenCase c;
  if (!load_golden_case(GetParam(), &c)) GTEST_SKIP() << "fixture " << GetParam() << " not found";
  const int64_t T = static_cast<int64_t>(c.tokens.size());
  const auto whole = run_logits(*load(c, T), c.tokens, "seq");
  for (int64_t chunk : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{16}, T}) {
    EXPECT_LE(max_abs_diff(run_logits(*load(c, chunk), c.tokens, "seq"), whole), kPathTolerance) << "chunk " << chunk;
  }
  EXPECT_LE(max_abs_diff(run_logits(*load(c, T), c.tokens, "rnn"), whole), kPathTolerance) << "step path";
}

TEST_P(PathsAgree, CopiedStateContinuesIdentically) {
  GoldenCase c;
  if (!load_golden_case(GetParam(), &c)) GTEST_SKIP() << "fixture " << GetParam() << " not found";
  auto model = load(c, 5);
  const size_t half = c.tokens.size() / 2, V = static_cast<size_t>(c.vocab);
  const std::span<const int32_t> all(c.tokens);
  State s = model->new_state();
  model->forward(all.first(half), s, Logits::None, nullptr);
  State fork = s;  // a value: copying forks the conversation
  std::vector<float> a(V), b(V);
  model->forward(all.subspan(half), s, Logits::Last, a.data());
  model->forward(all.subspan(half), fork, Logits::Last, b.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(s.tokens_seen(), static_cast<int64_t>(c.tokens.size()));

  // The last row of Logits::All is Logits::Last, and both match a fresh full run.
  const auto full = run_logits(*model, c.tokens, "seq");
  EXPECT_LE(max_abs_diff(a, std::span<const float>(full).last(V)), kPathTolerance);
}

TEST_P(PathsAgree, BadTokenLeavesStateUntouched) {
  GoldenCase c;
  if (!load_golden_case(GetParam(), &c)) GTEST_SKIP() << "fixture " << GetParam() << " not found";
  auto model = load(c, 4);
  State s = model->new_state();
  const std::vector<int32_t> bad = {1, 2, static_cast<int32_t>(c.vocab)};
  EXPECT_THROW(model->forward(bad, s, Logits::None, nullptr), std::exception);
  EXPECT_EQ(s.tokens_seen(), 0);
  const std::vector<int32_t> negative = {-1};
  EXPECT_THROW(model->forward(negative, s, Logits::None, nullptr), std::exception);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PathsAgree,
                         ::testing::Values("rwkv7-tiny", "rwkv7a-tiny", "rwkv7b-tiny", "rwkv5-tiny", "rwkv6-tiny"),
                         [](const auto& info) {
                           return test_name(info.param);
                         });

}  // namespace
}  // namespace rwkv::test
