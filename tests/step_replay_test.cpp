// One-token steps recorded and replayed (RWKV_REPLAY_STEPS=1, kernels/replay_backend.h) give the
// same logits, bit for bit, as steps run op by op, on the CPU: the contract the CUDA backend's
// graphs rely on (a step depends on the host only through its token ids and the addresses in its
// key). Every architecture whose step is replayable; several states in turns, a copied state and
// a prompt between steps (which regrows the workspace, so every key changes).
#include <gtest/gtest.h>

#include <cstdlib>

#include "support/fixtures.h"
#include "support/golden.h"

namespace rwkv::test {
namespace {

// Loads a model with or without the replaying backend.
std::unique_ptr<Model> load(const fs::path& file, bool replay) {
  if (replay) setenv("RWKV_REPLAY_STEPS", "1", 1);
  auto model = Model::load({file.string()});
  unsetenv("RWKV_REPLAY_STEPS");
  return model;
}

// Two conversations in turns, one forked midway, a prompt fed between steps.
std::vector<float> conversation(Model& model, const std::vector<int32_t>& tokens) {
  const size_t V = static_cast<size_t>(model.hparams().vocab);
  std::vector<float> out, logits(V);
  State a = model.new_state(), b = model.new_state(), fork;
  for (size_t i = 0; i < 30; ++i) {
    const int32_t tok = tokens[i % tokens.size()];
    model.step(tok, a, logits.data());
    out.insert(out.end(), logits.begin(), logits.end());
    model.step(tokens[(i + 3) % tokens.size()], b, i % 3 ? logits.data() : nullptr);  // some steps want no logits
    out.insert(out.end(), logits.begin(), logits.end());
    if (i == 10) fork = a;
    if (i > 10) {
      model.step(tok, fork, logits.data());
      out.insert(out.end(), logits.begin(), logits.end());
    }
    if (i == 20) {
      model.forward(tokens, a, Logits::Last, logits.data());
      out.insert(out.end(), logits.begin(), logits.end());
    }
  }
  return out;
}

class StepReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(StepReplay, ReplayedStepsGiveTheSameLogits) {
  GoldenCase c;
  if (!load_golden_case(GetParam(), &c)) GTEST_SKIP() << "fixture " << GetParam() << " not found";
  const fs::path file = c.dir / "model-bf16.pth";
  auto replaying = load(file, true), plain = load(file, false);
  ASSERT_EQ(replayed_steps(*replaying), 0) << replaying->describe();
  const auto a = conversation(*replaying, c.tokens), b = conversation(*plain, c.tokens);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(max_abs_diff(a, b), 0.0);
  RecordProperty("backend", replaying->describe());
  // The check means something only if most steps were replays (7b's are never recorded: its
  // DEA context grows each step).
  if (GetParam() != "rwkv7b-tiny") EXPECT_GE(replayed_steps(*replaying), 50) << replaying->describe();
  else EXPECT_EQ(replayed_steps(*replaying), 0) << replaying->describe();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, StepReplay,
                         ::testing::Values("rwkv5-tiny", "rwkv6-tiny", "rwkv7-tiny", "rwkv7a-tiny", "rwkv7b-tiny"),
                         [](const auto& info) {
                           return test_name(info.param);
                         });

}  // namespace
}  // namespace rwkv::test
