// The benchmarking tools: `rwkv make-model` writes checkpoints with the released layout that
// load as the architecture asked for, and `rwkv bench --json` prints the contract's fields.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/readers.h"
#include "support/fixtures.h"

namespace rwkv::test {
namespace {

TEST(CliMakeModel, EveryArchitectureLoadsAsItself) {
  TempDir dir;
  for (const char* arch : {"rwkv5", "rwkv6", "rwkv7", "rwkv7a", "rwkv7b"}) {
    for (const char* ext : {".pth", ".safetensors"}) {
      const auto file = (dir / (std::string(arch) + ext)).string();
      const auto made = run_cli({"make-model", "--arch", arch, "--size", "0.1b", "--layers", "1", "--vocab", "300",
                                 "--dtype", "bf16", "--out", file});
      ASSERT_EQ(made.exit_code, 0) << made.err;
      const auto bench = run_cli({"bench", "--weights", file, "--prompt-tokens", "6", "--gen-tokens", "2",
                                  "--repeat", "1", "--json"});
      ASSERT_EQ(bench.exit_code, 0) << bench.err;
      const auto j = nlohmann::json::parse(bench.out);
      EXPECT_EQ(j.at("arch"), arch);
      EXPECT_EQ(j.at("n_embd"), 768);
      EXPECT_EQ(j.at("n_layer"), 1);
      for (const char* key : {"load_s", "prefill_tok_s", "decode_tok_s", "peak_rss_mb", "decode_bytes_per_token"})
        EXPECT_GT(j.at(key).get<double>(), 0.0) << key;
    }
  }
}

TEST(CliMakeModel, ShapesOfTheReleasedRwkv7) {
  TempDir dir;
  const auto file = (dir / "m.safetensors").string();
  ASSERT_EQ(run_cli({"make-model", "--arch", "rwkv7", "--size", "1.5b", "--layers", "2", "--vocab", "64", "--dtype",
                     "bf16", "--out", file})
                .exit_code,
            0);
  const auto t = read_tensor_file(file);
  // RWKV-7 1.5B: C = 2048, LoRA ranks 96 (decay), 96 (iclr), 64 (value), 256 (gate), FFN 4C.
  EXPECT_EQ(t.get("blocks.1.att.w1").shape, (Shape{2048, 96}));
  EXPECT_EQ(t.get("blocks.1.att.a1").shape, (Shape{2048, 96}));
  EXPECT_EQ(t.get("blocks.1.att.v1").shape, (Shape{2048, 64}));
  EXPECT_EQ(t.get("blocks.1.att.g1").shape, (Shape{2048, 256}));
  EXPECT_EQ(t.get("blocks.0.ffn.key.weight").shape, (Shape{8192, 2048}));
  EXPECT_EQ(t.get("blocks.0.att.r_k").shape, (Shape{32, 64}));
  EXPECT_FALSE(t.contains("blocks.0.att.v1"));  // as in the released files
}

TEST(CliBench, BadFlagsAreUsageErrors) {
  EXPECT_EQ(run_cli({"bench"}).exit_code, 2);
  EXPECT_EQ(run_cli({"bench", "--weights", "x.pth", "--repeat", "0"}).exit_code, 2);
  EXPECT_EQ(run_cli({"make-model", "--size", "3b", "--out", "x.pth"}).exit_code, 2);
  EXPECT_EQ(run_cli({"make-model", "--out", "x.bin"}).exit_code, 2);
}

}  // namespace
}  // namespace rwkv::test
