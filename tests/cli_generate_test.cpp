// Text generation from the command line, end to end on the trained byte-level tiny RWKV-7:
// determinism, stop strings that never leak, -n, templates, and one-line errors (exit 2).
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "support/fixtures.h"

namespace rwkv::test {
namespace {

std::vector<std::string> base_args(const std::filesystem::path& model) {
  return {"--weight-files", model.string(), "--no-echo", "--temperature", "1.0", "--top-p", "0.9",
          "--alpha-presence", "0", "--alpha-frequency", "0"};
}

std::vector<std::string> with(std::vector<std::string> a, std::initializer_list<std::string> more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

int64_t generated_count(const std::string& err) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex("generated: (\\d+) tokens"))) return -1;
  return std::stoll(m[1]);
}

// stdout ends with the newline the CLI prints after the generation
std::string body(const CliResult& r) { return r.out.empty() ? r.out : r.out.substr(0, r.out.size() - 1); }

TEST(CliGenerate, SameSeedSameTextOtherSeedOtherText) {
  RWKV_FIXTURE_OR_SKIP(model, "tiny-7v0-834K/model-f32.pth");
  const auto args = with(base_args(model), {"--prompt", "The little cat", "-n", "80"});
  const auto a = run_cli(with(args, {"--seed", "7"})), b = run_cli(with(args, {"--seed", "7"}));
  const auto c = run_cli(with(args, {"--seed", "8"}));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
  EXPECT_EQ(generated_count(a.err), 80);
}

TEST(CliGenerate, StopStringEndsTheTextExactlyBeforeIt) {
  RWKV_FIXTURE_OR_SKIP(model, "tiny-7v0-834K/model-f32.pth");
  const auto args = with(base_args(model), {"--prompt", "The little cat sat", "-n", "300", "--seed", "3"});
  const auto full = run_cli(args);
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const std::string text = body(full);
  // Stop strings taken from the unstopped text: each spans several byte tokens.
  int tried = 0;
  for (size_t pos = 20; pos + 3 < text.size() && tried < 4; pos += 37) {
    const std::string stop = text.substr(pos, 3);
    if (!std::all_of(stop.begin(), stop.end(), [](char ch) { return ch >= 0x20 && ch < 0x7f; })) continue;
    ++tried;
    const auto r = run_cli(with(args, {"--stop", stop}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(body(r), text.substr(0, text.find(stop))) << "stop '" << stop << "'";
    EXPECT_NE(r.err.find("ended by stop string"), std::string::npos) << r.err;
  }
  EXPECT_GT(tried, 0);
}

TEST(CliGenerate, EchoShowsTheTemplate) {
  RWKV_FIXTURE_OR_SKIP(model, "tiny-7v0-834K/model-f32.pth");
  const auto r = run_cli({"--weight-files", model.string(), "--template", "chat", "--system", "Be brief.", "--prompt",
                          "What is\n\n\nthe capital?  ", "-n", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("System: Be brief.\n\nUser: What is\nthe capital?\n\nAssistant:", 0), 0u) << r.out;
  EXPECT_LE(generated_count(r.err), 5);
}

TEST(CliGenerate, BadFlagsGiveOneLineAndExit2) {
  RWKV_FIXTURE_OR_SKIP(model, "tiny-7v0-834K/model-f32.pth");
  const std::string m = model.string();
  const std::vector<std::vector<std::string>> bad = {
      {"--weight-files", m, "--prompt", "x", "--temperature", "-1"},
      {"--weight-files", m, "--prompt", "x", "--top-p", "0"},
      {"--weight-files", m, "--prompt", "x", "--top-p", "1.5"},
      {"--weight-files", m, "--prompt", "x", "--template", "poem"},
      {"--weight-files", m, "--prompt", "x", "--preset", "wild"},
      {"--weight-files", m + ".missing", "--prompt", "x"},
      {"--weight-files", m, "--prompt", "x", "--tokenizer", "/no/such/vocab.txt"},
      {"--weight-files", m, "--prompt", "x", "--dtype", "f64"},
      {"--weight-files", m, "--prompt", "x", "--stop", ""},
      {"--weight-files", m, "--prompt", "x", "--quantized"},
      {"--weight-files", m, "--prompt", "x", "--bogus-flag"},
      {"--weight-files", m},
  };
  for (const auto& args : bad) {
    const auto r = run_cli(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << joined << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << joined;
  }
}

// Every architecture generates through the same loop (the fixtures are small-vocabulary models:
// the byte tokenizer serves them, with ASCII prompts).
TEST(CliGenerate, EveryArchitectureGenerates) {
  for (const char* file : {"rwkv5-tiny/model-f32.pth", "rwkv6-tiny/hf/model.safetensors", "rwkv7-tiny/model-bf16.pth",
                           "rwkv7a-tiny/model-bf16.pth", "rwkv7b-tiny/model.safetensors",
                           "tiny-5v2-730K/model-f32.pth", "tiny-6v0-1m/model.safetensors",
                           "rwkv-cpp-tiny/tiny-rwkv-6v0-1m-FP16.bin"}) {
    auto dir = fixtures_dir();
    if (!dir) GTEST_SKIP() << "fixtures not found";
    const auto r = run_cli({"--weight-files", (*dir / file).string(), "--tokenizer", "bytes", "--template", "chat",
                            "--prompt", "Hi", "-n", "20", "--stop", "@@@"});
    ASSERT_EQ(r.exit_code, 0) << file << ": " << r.err;
    EXPECT_EQ(r.out.rfind("User: Hi\n\nAssistant:", 0), 0u) << file;
    const int64_t n = generated_count(r.err);
    EXPECT_GE(n, 1) << file;
    EXPECT_LE(n, 20) << file;
  }
}

// A GGUF converted by llama.cpp carries its vocab: no --tokenizer needed, as in llama.cpp.
TEST(CliGenerate, GgufModelUsesTheVocabItStores) {
  auto dir = fixtures_dir();
  if (!dir) GTEST_SKIP() << "fixtures not found";
  const auto model = (*dir / "gguf" / "rwkv7-tiny-Q8_0.gguf").string();
  const auto r = run_cli({"--weight-files", model, "--prompt", "Hi", "-n", "5", "--stop", "@@@"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("using the tokenizer stored in " + model), std::string::npos) << r.err;
  EXPECT_EQ(r.out.rfind("Hi", 0), 0u) << r.out;
  EXPECT_GE(generated_count(r.err), 1);
}

TEST(CliGenerate, HelpListsEveryFlagOfTheSeed) {
  const auto r = run_cli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--prompt", "--template", "--system", "--suffix", "--preset", "--temperature", "--top-p",
                           "--seed", "--sample-len", "--stop", "--which", "--model-id", "--revision", "--tokenizer",
                           "--weight-files", "--config-file", "--quantized", "--dtype", "--repeat-penalty",
                           "--repeat-last-n", "--alpha-presence", "--alpha-frequency", "--alpha-decay", "--cpu",
                           "--tracing"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace rwkv::test
