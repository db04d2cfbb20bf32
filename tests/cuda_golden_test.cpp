// The golden fixtures on the GPU: every architecture (v5, v6, v7, v7a, v7b) against the official
// logits, both forward paths (sequence, and one token at a time, where decode steps are recorded
// and replayed as CUDA graphs), f32 and bf16 weights, and rwkv.cpp's f16 and quantized files
// (dequantized at upload). Then the recorded decode steps against the same steps run op by op.
// Skipped when no CUDA device is visible.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "cuda_support.h"
#include "support/fixtures.h"
#include "support/golden.h"
#include "tensor/dtype.h"

namespace rwkv::test {
namespace {

// f32 compute vs the official f32 reference, as on the CPU (DESIGN.md "Fixtures and tolerances").
constexpr double kTolerance = 1e-3;

ModelOptions on_gpu() {
  ModelOptions opt;
  opt.device = "cuda";
  return opt;
}

using Param = std::tuple<std::string /*case*/, std::string /*file*/, std::string /*mode*/, std::string /*dtype*/>;

class CudaGolden : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override { RWKV_SKIP_WITHOUT_CUDA_DEVICE(); }
};

TEST_P(CudaGolden, MatchesOfficialLogits) {
  const auto& [name, file, mode, dtype] = GetParam();
  GoldenCase c;
  if (!load_golden_case(name, &c)) GTEST_SKIP() << "fixture " << name << " not found";
  ModelOptions opt = on_gpu();
  DType d;
  ASSERT_TRUE(parse_dtype(dtype, &d));
  opt.dtype = d;
  opt.chunk_size = 7;  // several chunks (state carried between them), each past the matvec kernels' 4 tokens
  expect_official_logits(c, file, mode, opt, kTolerance);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, CudaGolden,
    ::testing::Combine(::testing::Values("rwkv5-tiny", "rwkv6-tiny", "rwkv7-tiny", "rwkv7a-tiny", "rwkv7b-tiny"),
                       // bf16 files hold the same (bf16-exact) values as the f32 ones; run at
                       // f32 they are f32 weights on the GPU (reading f32 files is the CPU's test)
                       ::testing::Values("model-bf16.pth"), ::testing::Values("seq", "rnn"),
                       ::testing::Values("f32", "bf16")),
    [](const auto& info) {
      return test_name(std::get<0>(info.param) + "_" + std::get<1>(info.param) + "_" + std::get<2>(info.param) + "_" +
                       std::get<3>(info.param));
    });

// The trained byte-level models (head sizes 8 for v5/v6, 64 for v7), short and long inputs.
class CudaTrainedTiny : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override { RWKV_SKIP_WITHOUT_CUDA_DEVICE(); }
};

TEST_P(CudaTrainedTiny, MatchesOfficialLogitsShortAndLong) {
  const auto& [name, mode] = GetParam();
  GoldenCase c;
  if (!load_golden_case(name, &c)) GTEST_SKIP() << "fixture " << name << " not found";
  ModelOptions opt = on_gpu();
  opt.chunk_size = 16;
  auto model = Model::load({(c.dir / "model.safetensors").string()}, opt);
  EXPECT_LE(max_abs_diff(run_logits(*model, c.tokens, mode), read_f32(c.dir / "logits.f32")), kTolerance);
  EXPECT_LE(max_abs_diff(run_logits(*model, c.tokens_long, mode), read_f32(c.dir / "logits-long.f32")), kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaTrainedTiny,
                         ::testing::Combine(::testing::Values("tiny-5v2-730K", "tiny-6v0-1m", "tiny-7v0-834K"),
                                            ::testing::Values("seq", "rnn")),
                         [](const auto& info) {
                           return test_name(std::get<0>(info.param) + "_" + std::get<1>(info.param));
                         });

// rwkv.cpp's f16 and Q5 files: the GPU dequantizes the blocks exactly at upload and computes in
// f32, so the official code run on the dequantized weights is matched to the f32 bound.
class CudaRwkvCppGolden : public ::testing::TestWithParam<std::tuple<std::string, std::string, std::string>> {
 protected:
  void SetUp() override { RWKV_SKIP_WITHOUT_CUDA_DEVICE(); }
};

TEST_P(CudaRwkvCppGolden, MatchesOfficialDequantizedLogits) {
  const auto& [version, format, mode] = GetParam();
  GoldenCase c;
  if (!load_golden_case("tiny-" + version, &c)) GTEST_SKIP() << "fixture tiny-" << version << " not found";
  const std::string stem = "tiny-rwkv-" + version + "-" + format;
  RWKV_FIXTURE_OR_SKIP(bin, "rwkv-cpp-tiny/" + stem + ".bin");
  const fs::path ref = bin.parent_path() / "ref";
  ModelOptions opt = on_gpu();
  opt.chunk_size = 16;
  auto model = Model::load({bin.string()}, opt);
  EXPECT_LE(max_abs_diff(run_logits(*model, c.tokens, mode), read_f32(ref / (stem + ".official-dequant.short.f32"))),
            kTolerance);
  EXPECT_LE(max_abs_diff(run_logits(*model, c.tokens_long, mode), read_f32(ref / (stem + ".official-dequant.long.f32"))),
            kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaRwkvCppGolden,
                         ::testing::Combine(::testing::Values("5v2-730K", "6v0-1m", "7v0-834K"),
                                            ::testing::Values("FP16", "Q5_0", "Q5_1"), ::testing::Values("seq", "rnn")),
                         [](const auto& info) {
                           return test_name(std::get<0>(info.param) + "_" + std::get<1>(info.param) + "_" +
                                            std::get<2>(info.param));
                         });

// Prompt processing with bf16 activations in the tensor-core GEMMs (the default of text
// generation and `rwkv bench`) is not exact; bounded as the CPU's bf16 prefill is (0.1, argmax
// kept at >= 90% of positions; golden_rwkv7_test.cpp).
TEST(CudaBf16Prefill, StaysCloseToTheOfficialLogits) {
  RWKV_SKIP_WITHOUT_CUDA_DEVICE();
  for (const char* name : {"rwkv7-tiny", "rwkv7a-tiny", "rwkv7b-tiny"}) {
    GoldenCase c;
    if (!load_golden_case(name, &c)) GTEST_SKIP() << "fixture " << name << " not found";
    ModelOptions opt = on_gpu();
    opt.fast_activations = true;
    auto model = Model::load({(c.dir / "model-bf16.pth").string()}, opt);
    const auto got = run_logits(*model, c.tokens, "seq");
    const auto want = read_f32(c.dir / "logits.f32");
    EXPECT_LE(max_abs_diff(got, want), 0.1) << name;
    EXPECT_GE(top1_agreement(got, want, c.vocab), static_cast<int>(0.9 * c.tokens.size())) << name;
  }
}

// ---- the paths agree on the GPU ----

// Chunk sizes around the matvec kernels' limit (1, 2 and 4 tokens: matrix-vector kernels; 5, 7
// and the whole prompt: cuBLAS), the step path, and a state copied mid-prompt. The products sum in
// other orders on the two sides of that limit, so paths are compared with a tolerance (1e-4, ten
// times below the golden bound; a wrong kernel moves logits by 1e-2 or more).
constexpr double kPathTolerance = 1e-4;

class CudaPathsAgree : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { RWKV_SKIP_WITHOUT_CUDA_DEVICE(); }
  std::unique_ptr<Model> load(const GoldenCase& c, int64_t chunk) {
    ModelOptions opt = on_gpu();
    opt.chunk_size = chunk;
    return Model::load({(c.dir / "model-bf16.pth").string()}, opt);
  }
};

TEST_P(CudaPathsAgree, ChunkSizesStepAndCopiedStateMatchOneChunk) {
  GoldenCase c;
  if (!load_golden_case(GetParam(), &c)) GTEST_SKIP() << "fixture " << GetParam() << " not found";
  const int64_t T = static_cast<int64_t>(c.tokens.size());
  const auto whole = run_logits(*load(c, T), c.tokens, "seq");
  for (int64_t chunk : {int64_t{1}, int64_t{2}, int64_t{4}, int64_t{5}, int64_t{7}})
    EXPECT_LE(max_abs_diff(run_logits(*load(c, chunk), c.tokens, "seq"), whole), kPathTolerance) << "chunk " << chunk;
  EXPECT_LE(max_abs_diff(run_logits(*load(c, T), c.tokens, "rnn"), whole), kPathTolerance) << "step path";

  auto model = load(c, 5);
  const size_t half = c.tokens.size() / 2, V = static_cast<size_t>(c.vocab);
  const std::span<const int32_t> all(c.tokens);
  State s = model->new_state();
  model->forward(all.first(half), s, Logits::None, nullptr);
  State fork = s;  // copied on the device
  std::vector<float> a(V), b(V);
  model->forward(all.subspan(half), s, Logits::Last, a.data());
  model->forward(all.subspan(half), fork, Logits::Last, b.data());
  EXPECT_EQ(a, b);
  EXPECT_LE(max_abs_diff(a, std::span<const float>(whole).last(V)), kPathTolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaPathsAgree,
                         ::testing::Values("rwkv5-tiny", "rwkv6-tiny", "rwkv7-tiny", "rwkv7a-tiny", "rwkv7b-tiny"),
                         [](const auto& info) { return test_name(info.param); });

// `rwkv logits --device cuda`, the contract outside checks use, in both modes.
TEST(CudaCliLogits, WritesTheOfficialLogits) {
  RWKV_SKIP_WITHOUT_CUDA_DEVICE();
  GoldenCase c;
  if (!load_golden_case("rwkv7-tiny", &c)) GTEST_SKIP() << "fixture rwkv7-tiny not found";
  std::string ids;
  for (size_t i = 0; i < c.tokens.size(); ++i) ids += (i ? "," : "") + std::to_string(c.tokens[i]);
  TempDir dir;
  for (const char* mode : {"seq", "rnn"}) {
    const auto out = dir / "logits.f32";
    const auto r = run_cli({"logits", "--weights", (c.dir / "model-bf16.pth").string(), "--tokens", ids, "--out",
                            out.string(), "--mode", mode, "--device", "cuda"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_LE(max_abs_diff(read_f32(out), read_f32(c.dir / "logits.f32")), kTolerance) << mode;
  }
}

// ---- recorded decode steps (CUDA graphs) ----

// `steps` tokens decoded one at a time from the fixture's tokens (cycled), logits after each.
std::vector<float> decode(Model& model, const std::vector<int32_t>& tokens, size_t steps) {
  const size_t V = static_cast<size_t>(model.hparams().vocab);
  std::vector<float> out(steps * V);
  State s = model.new_state();
  for (size_t i = 0; i < steps; ++i) model.step(tokens[i % tokens.size()], s, out.data() + i * V);
  return out;
}

// Steps replayed as CUDA graphs so far, from the backend's description; -1 when graphs are off.
int graph_steps(const Model& model) { return replayed_steps(model, " as CUDA graphs"); }

class CudaStepGraphs : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { RWKV_SKIP_WITHOUT_CUDA_DEVICE(); }
};

// Replaying a recorded step runs the very kernels the step runs op by op, on the same data: the
// logits must be identical, bit for bit, over many steps (the first steps run eagerly, the third
// is recorded, the rest are replays with a new token each).
TEST_P(CudaStepGraphs, ReplaysGiveTheSameLogitsAsEagerSteps) {
  GoldenCase c;
  if (!load_golden_case(GetParam(), &c)) GTEST_SKIP() << "fixture " << GetParam() << " not found";
  ModelOptions with = on_gpu(), without = on_gpu();
  without.step_graphs = false;
  auto recorded = Model::load({(c.dir / "model-bf16.pth").string()}, with);
  auto eager = Model::load({(c.dir / "model-bf16.pth").string()}, without);
  const size_t steps = 48;
  const auto a = decode(*recorded, c.tokens, steps), b = decode(*eager, c.tokens, steps);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(max_abs_diff(a, b), 0.0) << recorded->describe();
  // Replays must have happened (7b's steps are never recorded: its DEA context grows each step).
  if (GetParam() != "rwkv7b-tiny") EXPECT_GE(graph_steps(*recorded), 40) << recorded->describe();
  else EXPECT_EQ(graph_steps(*recorded), 0) << recorded->describe();
  // And both agree with the official logits over the fixture's own tokens.
  const auto expected = read_f32(c.dir / "logits.f32");
  const std::vector<float> first(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(expected.size()));
  EXPECT_LE(max_abs_diff(first, expected), kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaStepGraphs,
                         ::testing::Values("rwkv5-tiny", "rwkv6-tiny", "rwkv7-tiny", "rwkv7a-tiny", "rwkv7b-tiny"),
                         [](const auto& info) { return test_name(info.param); });

// Two conversations decoded in turns, one of them forked (copied) midway, and prompts fed
// between steps (which may regrow the workspace): each step must replay the recording of its own
// state's buffers, or record anew, never another state's.
TEST(CudaStepGraphsStates, InterleavedAndCopiedStatesMatchEagerSteps) {
  RWKV_SKIP_WITHOUT_CUDA_DEVICE();
  GoldenCase c;
  if (!load_golden_case("rwkv7-tiny", &c)) GTEST_SKIP() << "fixture rwkv7-tiny not found";
  ModelOptions with = on_gpu(), without = on_gpu();
  without.step_graphs = false;
  int replays = 0;
  auto run = [&](const ModelOptions& opt) {
    auto model = Model::load({(c.dir / "model-f32.pth").string()}, opt);
    const size_t V = static_cast<size_t>(model->hparams().vocab);
    std::vector<float> out, logits(V);
    State a = model->new_state(), b = model->new_state();
    State fork;
    for (size_t i = 0; i < 30; ++i) {
      const int32_t tok = c.tokens[i % c.tokens.size()];
      model->step(tok, a, logits.data());
      out.insert(out.end(), logits.begin(), logits.end());
      model->step(tok ^ 1, b, logits.data());
      out.insert(out.end(), logits.begin(), logits.end());
      if (i == 10) fork = a;
      if (i > 10) {
        model->step(tok, fork, logits.data());
        out.insert(out.end(), logits.begin(), logits.end());
      }
      if (i == 20) {  // a prompt chunk in the middle of the conversation
        model->forward(c.tokens, a, Logits::Last, logits.data());
        out.insert(out.end(), logits.begin(), logits.end());
      }
    }
    replays = graph_steps(*model);
    return out;
  };
  const auto recorded = run(with);
  EXPECT_GE(replays, 50);  // of 79 steps: each state's first two, and those after the prompt, run op by op
  const auto eager = run(without);
  ASSERT_EQ(recorded.size(), eager.size());
  EXPECT_EQ(max_abs_diff(recorded, eager), 0.0);
}

}  // namespace
}  // namespace rwkv::test
