// `rwkv logits` on RWKV-5/6 in every layout: --config-file, the config.json found beside HF
// weights, rwkv.cpp files, --arch; errors are one line and a non-zero exit.
#include <gtest/gtest.h>

#include "support/fixtures.h"
#include "support/golden.h"

namespace rwkv::test {
namespace {

std::string ids(const std::vector<int32_t>& tokens) {
  std::string s;
  for (int32_t t : tokens) {
    if (!s.empty()) s += ',';
    s += std::to_string(t);
  }
  return s;
}

struct Case {
  std::string fixture, file, mode;
  std::vector<std::string> extra;
};

class CliV56 : public ::testing::TestWithParam<Case> {};

TEST_P(CliV56, LogitsMatchTheOfficialReference) {
  const Case& p = GetParam();
  GoldenCase c;
  if (!load_golden_case(p.fixture, &c)) GTEST_SKIP() << "fixture " << p.fixture << " not found";
  TempDir dir;
  std::vector<std::string> args = {"logits", "--weights", (c.dir / p.file).string(), "--tokens", ids(c.tokens),
                                   "--out", (dir / "out.f32").string(), "--mode", p.mode, "--threads", "2"};
  for (const std::string& e : p.extra) args.push_back(e == "CONFIG" ? (c.dir / "hf" / "config.json").string() : e);
  const CliResult r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LE(max_abs_diff(read_f32(dir / "out.f32"), read_f32(c.dir / "logits.f32")), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, CliV56,
    ::testing::Values(Case{"rwkv5-tiny", "hf/model.safetensors", "seq", {"--config-file", "CONFIG"}},
                      Case{"rwkv6-tiny", "hf/model.safetensors", "rnn", {"--config-file", "CONFIG"}},
                      Case{"rwkv6-tiny", "hf/model.safetensors", "seq", {}},  // config.json found beside it
                      Case{"rwkv5-tiny", "model-rwkvcpp-f32.bin", "rnn", {}},
                      Case{"rwkv6-tiny", "model-rwkvcpp-f32.bin", "seq", {"--chunk-size", "5"}},
                      Case{"rwkv5-tiny", "model.safetensors", "seq", {"--arch", "rwkv5", "--dtype", "bf16"}},
                      Case{"rwkv6-tiny", "model.safetensors", "rnn", {"--arch", "rwkv6"}}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

TEST(CliV56Errors, OneLineErrorsAndNonZeroExit) {
  GoldenCase c5, c6;
  if (!load_golden_case("rwkv5-tiny", &c5) || !load_golden_case("rwkv6-tiny", &c6)) GTEST_SKIP() << "fixtures absent";
  TempDir dir;
  const std::string out = (dir / "out.f32").string();
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"logits", "--tokens", "1,2,3", "--out", out};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  };
  auto expect_error = [](const CliResult& r, const std::string& needle) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  };
  expect_error(run({"--weights", (c5.dir / "model.safetensors").string(), "--arch", "rwkv6"}), "--arch rwkv6 given");
  // A config of another model: the rwkv6 fixture's config says model_type rwkv6.
  expect_error(run({"--weights", (c5.dir / "hf" / "model.safetensors").string(), "--config-file",
                    (c6.dir / "hf" / "config.json").string()}),
               "model_type");
  expect_error(run({"--weights", (c5.dir / "model.safetensors").string(), "--config-file", (dir / "nope.json").string()}),
               "cannot read");
  RWKV_FIXTURE_OR_SKIP(v4, "rwkv-cpp-tiny/tiny-rwkv-4v0-660K-FP32.bin");
  expect_error(run({"--weights", v4.string()}), "RWKV-4");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace rwkv::test
