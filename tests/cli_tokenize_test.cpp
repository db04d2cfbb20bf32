// `rwkv tokenize` / `rwkv detokenize` end to end.
#include <gtest/gtest.h>

#include "support/fixtures.h"

namespace rwkv {
namespace {

using test::run_cli;

// Exactly one line on stderr, saying `needle`.
void expect_one_line_error(const test::CliResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

TEST(CliTokenize, PrintsIdsAsJsonArray) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  auto r = run_cli({"tokenize", "--tokenizer", vocab.string(), "--text", "Hello, world!"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[33155, 45, 40213, 34]\n");
  EXPECT_EQ(r.err, "");

  r = run_cli({"tokenize", "--tokenizer", vocab.string(), "--text", ""});
  EXPECT_EQ(r.out, "[]\n");
  // Invalid UTF-8 is encoded byte-wise, as the official encoder does.
  r = run_cli({"tokenize", "--tokenizer", vocab.string(), "--text", "a\xFF"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[98, 256]\n");
}

// The vocab stored in a GGUF model serves as --tokenizer (the fixture's first 512 World tokens:
// single bytes are ids 1..256, and "\n\n" is id 261).
TEST(CliTokenize, ReadsTheVocabOfAGgufModel) {
  auto dir = test::fixtures_dir();
  if (!dir) GTEST_SKIP() << "fixtures not found";
  const auto r = run_cli({"tokenize", "--tokenizer", (*dir / "gguf" / "rwkv7-tiny-F16.gguf").string(), "--text",
                          "Hi\n\n"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[73, 106, 261]\n");
  const auto bad = run_cli({"tokenize", "--tokenizer", (*dir / "rwkv7-tiny" / "model.safetensors").string(), "--text",
                            "Hi"});
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_NE(bad.err.find("model.safetensors: a safetensors model file holds no vocab"), std::string::npos) << bad.err;
}

TEST(CliTokenize, DetokenizeWritesRawBytes) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  auto r = run_cli({"detokenize", "--tokenizer", vocab.string(), "--ids", "33155,45,40213,34"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello, world!");
  // The output of tokenize is accepted back; 0 (end of document) writes nothing; bytes stay raw.
  r = run_cli({"detokenize", "--tokenizer", vocab.string(), "--ids", "[33155, 0, 229, 256]"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello\xE4\xFF");
  r = run_cli({"detokenize", "--tokenizer", vocab.string(), "--ids", ""});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(CliTokenize, BadIdsAreUsageErrors) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  const std::string v = vocab.string();
  expect_one_line_error(run_cli({"detokenize", "--tokenizer", v, "--ids", "1,x,3"}), "item 2 `x` is not an integer");
  expect_one_line_error(run_cli({"detokenize", "--tokenizer", v, "--ids", "1,,3"}), "item 2 `` is not an integer");
  expect_one_line_error(run_cli({"detokenize", "--tokenizer", v, "--ids", "65536"}), "id 65536 is out of range");
  expect_one_line_error(run_cli({"detokenize", "--tokenizer", v, "--ids", "-1"}), "id -1 is out of range");
  expect_one_line_error(run_cli({"detokenize", "--tokenizer", v, "--ids", "99999999999999999999"}), "not an integer");
  expect_one_line_error(run_cli({"detokenize", "--tokenizer", v, "--ids", "65530"}), "id 65530 has no text");
}

TEST(CliTokenize, FlagsHelpAndMissingFiles) {
  auto r = run_cli({"tokenize", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--text"), std::string::npos);
  r = run_cli({"detokenize", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--ids"), std::string::npos);
  expect_one_line_error(run_cli({"tokenize", "--tokenizer", "bytes"}), "--text is required");
  expect_one_line_error(run_cli({"tokenize", "--tokenizer", "bytes", "--text", "a", "--bogus"}), "--bogus");

  r = run_cli({"tokenize", "--tokenizer", "/nonexistent/vocab.txt", "--text", "a"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/vocab.txt"), std::string::npos) << r.err;
}

TEST(CliTokenize, ByteTokenizer) {
  auto r = run_cli({"tokenize", "--tokenizer", "bytes", "--text", "ab\xFF"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[97, 98, 255]\n");
  r = run_cli({"detokenize", "--tokenizer", "bytes", "--ids", "97,98,255"});
  EXPECT_EQ(r.out, "ab\xFF");
  expect_one_line_error(run_cli({"detokenize", "--tokenizer", "bytes", "--ids", "256"}), "out of range");
}

TEST(CliTokenize, JsonVocabWarnsButWorks) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.json");
  auto r = run_cli({"tokenize", "--tokenizer", vocab.string(), "--text", "Hello, world!"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[33155, 45, 40213, 34]\n");
  EXPECT_NE(r.err.find("warning: "), std::string::npos);
  EXPECT_NE(r.err.find("lossy"), std::string::npos);
  // A byte the JSON vocab has no token for: a clear error instead of wrong ids.
  r = run_cli({"tokenize", "--tokenizer", vocab.string(), "--text", "a\xFF"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no token matches the input at byte offset 1 (byte 0xFF)"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace rwkv
