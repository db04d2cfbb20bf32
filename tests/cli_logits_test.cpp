// `rwkv logits`, the contract outside checks rely on (DESIGN.md): output format, both modes,
// and one-line errors with the right exit codes.
#include <gtest/gtest.h>

#include <algorithm>

#include "support/fixtures.h"
#include "support/golden.h"

namespace rwkv::test {
namespace {

std::string join(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  return s;
}

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(CliLogits, WritesTheOfficialLogitsInBothModes) {
  GoldenCase c;
  if (!load_golden_case("rwkv7-tiny", &c)) GTEST_SKIP() << "fixture rwkv7-tiny not found";
  TempDir dir;
  for (const char* file : {"model-f32.pth", "model.safetensors"}) {
    for (const char* mode : {"seq", "rnn"}) {
      const auto out = dir / "logits.f32";
      const auto r = run_cli({"logits", "--weights", (c.dir / file).string(), "--tokens", join(c.tokens), "--out",
                              out.string(), "--mode", mode, "--dtype", "bf16", "--threads", "2"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_TRUE(r.out.empty());
      const auto got = read_f32(out), want = read_f32(c.dir / "logits.f32");
      ASSERT_EQ(got.size(), c.tokens.size() * static_cast<size_t>(c.vocab));
      EXPECT_LE(max_abs_diff(got, want), 1e-3) << file << " " << mode;
    }
  }
}

TEST(CliLogits, BadInputGivesOneLineAndNonZeroExit) {
  GoldenCase c;
  if (!load_golden_case("rwkv7-tiny", &c)) GTEST_SKIP() << "fixture rwkv7-tiny not found";
  TempDir dir;
  const std::string model = (c.dir / "model.safetensors").string(), out = (dir / "o.f32").string();
  struct Bad {
    std::vector<std::string> args;
    int exit_code;
    std::string mentions;
  };
  const std::vector<Bad> cases = {
      {{"logits", "--weights", model, "--tokens", "1,x,3", "--out", out}, 2, "--tokens"},
      {{"logits", "--weights", model, "--tokens", "1,-2", "--out", out}, 2, "--tokens"},
      {{"logits", "--weights", model, "--tokens", "1,512", "--out", out}, 1, "512"},
      {{"logits", "--weights", model, "--tokens", "1", "--out", out, "--dtype", "f8"}, 2, "--dtype"},
      {{"logits", "--weights", model, "--tokens", "1", "--out", out, "--mode", "fast"}, 2, "mode"},
      {{"logits", "--weights", (dir / "nope.pth").string(), "--tokens", "1", "--out", out}, 1, "nope.pth"},
      {{"logits", "--weights", model, "--tokens", "1"}, 2, "--out"},
      {{"logits", "--weights", model, "--tokens", "1", "--out", (dir / "no/such/dir/o.f32").string()}, 1, "o.f32"},
  };
  for (const auto& b : cases) {
    const auto r = run_cli(b.args);
    EXPECT_EQ(r.exit_code, b.exit_code) << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(b.mentions), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << "no output file after a failure";
  }
}

}  // namespace
}  // namespace rwkv::test
