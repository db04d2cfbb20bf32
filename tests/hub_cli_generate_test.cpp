// `rwkv --which NAME --prompt ...` end to end against the stand-in hub (HF_ENDPOINT): the first
// run downloads the registry's files into the cache, the second runs from the cache with the hub
// gone, and offline mode without a cache says what is missing.
#include <gtest/gtest.h>

#include "hub/registry.h"
#include "io/writers.h"
#include "models/checkpoint_layout.h"
#include "models/random_weights.h"
#include "support/fixtures.h"
#include "support/hub_server.h"

namespace rwkv::test {
namespace {

// A tiny RWKV-7 with the World vocabulary's 65536 rows, so the real vocab file fits it.
std::string tiny_world_model(const TempDir& dir) {
  HParams hp = standard_hparams(Arch::Rwkv7, "0.1b");
  hp.n_layer = 1;
  hp.n_embd = 64;
  hp.n_head = 1;
  hp.dim_ffn = 128;
  hp.lora_decay = hp.lora_iclr = hp.lora_value = hp.lora_gate = 8;
  const std::string path = (dir / "model.pth").string();
  write_pth(path, random_checkpoint(hp, DType::BF16, 5));
  return read_file(path);
}

TEST(HubCliGenerate, WhichDownloadsThenRunsFromTheCache) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  TempDir dir;
  TestHub hub;
  const auto& e = hub::find_model("rwkv7-g1d-0.1b");
  hub.add_file(e.weights.repo, e.weights.revision, e.weights.files[0], tiny_world_model(dir), /*lfs=*/true);
  const auto& t = e.tokenizer.front();
  hub.add_file(t.repo, t.revision, t.file, read_file(vocab), /*lfs=*/false);

  const std::map<std::string, std::string> env = {{"HF_ENDPOINT", hub.endpoint()},
                                                  {"HF_HUB_CACHE", (dir / "cache").string()},
                                                  {"HF_HUB_OFFLINE", ""}};
  const std::vector<std::string> args = {"--which", "rwkv7-g1d-0.1b", "--prompt", "The Eiffel tower is in",
                                         "-n",      "12",             "--no-echo"};
  const auto first = run_cli(args, {}, env);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_FALSE(first.out.empty());
  EXPECT_TRUE(std::filesystem::exists(dir / "cache" / "models--BlinkDL--rwkv7-g1"));

  hub.stop();
  const auto second = run_cli(args, {}, env);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, first.out);  // same files, same seed: same text

  auto offline = env;
  offline["HF_HUB_OFFLINE"] = "1";
  offline["HF_HUB_CACHE"] = (dir / "empty-cache").string();
  const auto missing = run_cli(args, {}, offline);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find(e.weights.files[0]), std::string::npos) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
}

}  // namespace
}  // namespace rwkv::test
