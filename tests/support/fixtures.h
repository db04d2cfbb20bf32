// Shared helpers for the tests: where the fixtures are, reading logits files, running the CLI.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace rwkv::test {

namespace fs = std::filesystem;

// The shared fixtures folder: $RWKV_FIXTURES, else ../shared/fixtures beside the repo.
// Empty when it does not exist.
std::optional<fs::path> fixtures_dir();
// The tokenizer folder: $RWKV_TOKENIZER_DIR, else <fixtures>/../tokenizer.
std::optional<fs::path> tokenizer_dir();
// The repo root (for scripts) and the built `rwkv` binary.
fs::path source_dir();
fs::path rwkv_binary();

// A GoogleTest parameter name from fixture names: every character but letters and digits
// becomes '_'.
std::string test_name(std::string s);

// Reads a whole file; throws on error.
std::string read_file(const fs::path& p);
void write_file(const fs::path& p, std::string_view bytes);
// Reads raw little-endian float32 values.
std::vector<float> read_f32(const fs::path& p);
// max |a[i] - b[i]|; sizes must match.
double max_abs_diff(std::span<const float> a, std::span<const float> b);

// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs the rwkv binary with `args` (environment inherited, plus `env` overrides), feeding `input`
// on stdin; kills it after `timeout_s` seconds (exit_code -1 then).
CliResult run_cli(const std::vector<std::string>& args, const std::string& input = {},
                  const std::map<std::string, std::string>& env = {}, int timeout_s = 300);

}  // namespace rwkv::test

// Resolves `rel` under the fixtures folder into `var`, or marks the test SKIPPED when absent.
#define RWKV_FIXTURE_OR_SKIP(var, rel)                                                   \
  std::filesystem::path var;                                                             \
  do {                                                                                   \
    auto rwkv_dir_ = ::rwkv::test::fixtures_dir();                                       \
    if (!rwkv_dir_ || !std::filesystem::exists(*rwkv_dir_ / (rel)))                      \
      GTEST_SKIP() << "fixture " << (rel) << " not found (set RWKV_FIXTURES)";           \
    var = *rwkv_dir_ / (rel);                                                            \
  } while (0)

#define RWKV_TOKENIZER_OR_SKIP(var, rel)                                                 \
  std::filesystem::path var;                                                             \
  do {                                                                                   \
    auto rwkv_dir_ = ::rwkv::test::tokenizer_dir();                                      \
    if (!rwkv_dir_ || !std::filesystem::exists(*rwkv_dir_ / (rel)))                      \
      GTEST_SKIP() << "tokenizer file " << (rel) << " not found (set RWKV_TOKENIZER_DIR)"; \
    var = *rwkv_dir_ / (rel);                                                            \
  } while (0)
