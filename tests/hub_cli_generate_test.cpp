// `rwkv --which NAME --prompt ...` end to end against the stand-in hub (HF_ENDPOINT): the first
// run downloads the registry's files into the cache, the second runs from the cache with the hub
// gone, and offline mode without a cache says what is missing; --quantized runs the registry's
// quantized (candle GGUF) file.
#include <gtest/gtest.h>

#include <deque>

#include "hub/registry.h"
#include "io/gguf_writer.h"
#include "io/readers.h"
#include "io/writers.h"
#include "models/checkpoint_layout.h"
#include "models/random_weights.h"
#include "support/fixtures.h"
#include "support/hub_server.h"
#include "tensor/convert.h"

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

// --quantized: the registry's candle GGUF (HF names, F32 vectors, quantized matrices) from the
// stand-in hub, run with the entry's config.json; entries without one say what to do instead.
TEST(HubCliGenerate, QuantizedDownloadsAndRunsTheCandleGguf) {
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  TempDir dir;
  HParams hp = standard_hparams(Arch::Rwkv5, "0.1b");
  hp.n_layer = 1;
  hp.n_embd = 64;
  hp.n_head = 1;
  hp.dim_ffn = 224;
  // The official checkpoint, renamed the Hugging Face way, every 2-D matrix Q8_0 (candle's rule
  // with 32-blocks; its Q4K needs rows of 256).
  const auto official = (dir / "official.safetensors").string();
  write_safetensors(official, random_checkpoint(hp, DType::F32, 9));
  const TensorMap m = read_tensor_file(official);
  auto hf_name = [](std::string n) {
    for (auto [from, to] : {std::pair{"att.time_mix_k", "attention.time_mix_key"}, {"att.time_mix_v", "attention.time_mix_value"},
                            {"att.time_mix_r", "attention.time_mix_receptance"}, {"att.time_mix_g", "attention.time_mix_gate"},
                            {"ffn.time_mix_k", "feed_forward.time_mix_key"}, {"ffn.time_mix_r", "feed_forward.time_mix_receptance"},
                            {".att.", ".attention."}, {".ffn.", ".feed_forward."}, {".ln0.", ".pre_ln."}})
      if (auto p = n.find(from); p != std::string::npos) n.replace(p, std::string(from).size(), to);
    if (n == "emb.weight") return std::string("rwkv.embeddings.weight");
    return n == "head.weight" ? n : "rwkv." + n;
  };
  std::deque<std::vector<std::byte>> keep;  // stable addresses for the sources
  std::vector<TensorSource> sources;
  for (const std::string& name : m.names()) {
    const TensorView& v = m.get(name);
    const DType d = v.shape.size() == 2 && v.shape.back() % 32 == 0 ? DType::Q8_0 : DType::F32;
    keep.push_back(convert_rows(v.dtype, v.bytes.data(), v.numel() / v.shape.back(), v.shape.back(), d));
    const auto* bytes = &keep.back();
    sources.push_back({hf_name(name), d, v.shape, [bytes](std::span<std::byte> dst) {
                         std::copy(bytes->begin(), bytes->end(), dst.begin());
                       }});
  }
  const auto gguf = (dir / "q.gguf").string();
  write_gguf(gguf, sources, {});
  const std::string config = R"({"vocab_size": 65536, "hidden_size": 64, "num_hidden_layers": 1,
    "attention_hidden_size": 64, "head_size": 64, "num_attention_heads": 64, "intermediate_size": 224,
    "layer_norm_epsilon": 1e-05, "rescale_every": 6, "model_type": "rwkv5"})";

  TestHub hub;
  const auto& e = hub::find_model("world1b5");
  ASSERT_TRUE(e.quantized.has_value());
  hub.add_file(e.quantized->repo, e.quantized->revision, e.quantized->files[0], read_file(gguf), /*lfs=*/true);
  hub.add_file(e.weights.repo, e.weights.revision, e.config_file, config, /*lfs=*/false);
  const auto& t = e.tokenizer.front();
  hub.add_file(t.repo, t.revision, t.file, read_file(vocab), /*lfs=*/false);
  const std::map<std::string, std::string> env = {
      {"HF_ENDPOINT", hub.endpoint()}, {"HF_HUB_CACHE", (dir / "cache").string()}, {"HF_HUB_OFFLINE", ""}};
  const auto r = run_cli({"--which", "world1b5", "--quantized", "--prompt", "Hello", "-n", "5", "--no-echo"}, {}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("q8_0"), std::string::npos) << r.err;  // describe(): the matrices stay quantized

  const auto none = run_cli({"--which", "rwkv7-g1d-0.1b", "--quantized", "--prompt", "x"}, {}, env);
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("--dtype q8_0"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace rwkv::test
