// `rwkv quantize`, `--dtype q*` and `--quantized` end to end through the binary: the written
// GGUF gives exactly the logits of quantizing at load, from every input format; bad flags are
// one-line usage errors. (--quantized: hub_cli_generate_test.cpp.)
#include <gtest/gtest.h>

#include "io/readers.h"
#include "support/fixtures.h"
#include "support/golden.h"

namespace rwkv::test {
namespace {

std::string join(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    if (!s.empty()) s += ',';
    s += std::to_string(id);
  }
  return s;
}

std::vector<float> logits(const std::vector<std::string>& args, const fs::path& out) {
  std::vector<std::string> a = {"logits", "--out", out.string()};
  a.insert(a.end(), args.begin(), args.end());
  const auto r = run_cli(a);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? read_f32(out) : std::vector<float>{};
}

TEST(CliQuantize, FileEqualsQuantizeAtLoadFromEveryFormat) {
  GoldenCase g;
  if (!load_golden_case("tiny-6v0-1m", &g)) GTEST_SKIP() << "fixture tiny-6v0-1m not found";
  RWKV_FIXTURE_OR_SKIP(bin, "rwkv-cpp-tiny/tiny-rwkv-6v0-1m-Q5_1.bin");
  RWKV_FIXTURE_OR_SKIP(gguf7, "gguf/tiny-7v0-834K-F32.gguf");
  RWKV_FIXTURE_OR_SKIP(pth7a, "rwkv7a-tiny/model-bf16.pth");
  TempDir dir;
  const std::string tokens = join(g.tokens_long);
  struct Input {
    fs::path file;
    const char* type;
    const char* arch;
  };
  for (const Input& in : {Input{g.dir / "model.safetensors", "q4_0", "rwkv6"}, Input{bin, "q8_0", "rwkv6"},
                          Input{gguf7, "q5_1", "rwkv7"}, Input{pth7a, "q6_k", "rwkv7a"}}) {
    const fs::path out = dir / (in.file.stem().string() + "-" + in.type + ".gguf");
    const auto r = run_cli({"quantize", "--in", in.file.string(), "--out", out.string(), "--type", in.type});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find(std::string("quantized to ") + in.type), std::string::npos) << r.err;
    const TensorMap m = read_tensor_file(out.string());
    EXPECT_EQ(m.metadata().at("rwkv.arch"), in.arch) << in.file;
    EXPECT_EQ(m.metadata().at("general.architecture"), "rwkv");
    EXPECT_TRUE(m.contains("blocks.0.att.key.weight")) << "official names";
    const auto from_file = logits({"--weights", out.string(), "--tokens", tokens}, dir / "a.f32");
    const auto at_load = logits({"--weights", in.file.string(), "--dtype", in.type, "--tokens", tokens}, dir / "b.f32");
    EXPECT_EQ(from_file, at_load) << in.file << " " << in.type;
  }
  // Requantizing an already quantized file says so.
  const auto r = run_cli({"quantize", "--in", bin.string(), "--out", (dir / "re.gguf").string(), "--type", "q4_0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("quantized again"), std::string::npos) << r.err;
}

TEST(CliQuantize, BadFlagsAreOneLineErrors) {
  RWKV_FIXTURE_OR_SKIP(src, "rwkv7-tiny/model.safetensors");
  TempDir dir;
  const std::string out = (dir / "o.gguf").string();
  struct Bad {
    std::vector<std::string> args;
    int code;
    const char* needle;
  };
  for (const Bad& b : std::vector<Bad>{
           {{"--in", src.string(), "--out", out, "--type", "f16"}, 2, "--type"},
           {{"--in", src.string(), "--out", out, "--type", "q2_k"}, 2, "--type"},
           {{"--in", src.string(), "--out", (dir / "o.bin").string(), "--type", "q8_0"}, 2, ".gguf"},
           {{"--in", (dir / "missing.pth").string(), "--out", out, "--type", "q8_0"}, 1, "missing.pth"},
           {{"--in", src.string(), "--out", out, "--type", "q8_0", "--arch", "rwkv5"}, 1, "--arch rwkv5"},
           {{"--in", src.string(), "--out", out}, 2, "--type"},
       }) {
    std::vector<std::string> args = {"quantize"};
    args.insert(args.end(), b.args.begin(), b.args.end());
    const auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, b.code) << r.err;
    EXPECT_NE(r.err.find(b.needle), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out));
  }
  // --dtype names only the types we quantize to; the file's rwkv.arch binds like --arch.
  const auto bad_dtype = run_cli({"logits", "--weights", src.string(), "--tokens", "1", "--out", out, "--dtype", "q3_k"});
  EXPECT_EQ(bad_dtype.exit_code, 2) << bad_dtype.err;
  ASSERT_EQ(run_cli({"quantize", "--in", src.string(), "--out", out, "--type", "q8_0"}).exit_code, 0);
  const auto arch = run_cli({"logits", "--weights", out, "--tokens", "1", "--out", (dir / "l.f32").string(), "--arch", "rwkv6"});
  EXPECT_EQ(arch.exit_code, 1);
  EXPECT_NE(arch.err.find("rwkv.arch"), std::string::npos) << arch.err;
}

}  // namespace
}  // namespace rwkv::test
