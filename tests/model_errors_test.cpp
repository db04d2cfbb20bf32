// Bad checkpoints give a clear error naming the tensor at fault, never a crash or a silent
// wrong answer; odd but valid shapes load and run. Checkpoints are made on the fly from the
// official layout (models/checkpoint_layout) with random values.
#include <gtest/gtest.h>

#include "io/writers.h"
#include "models/checkpoint_layout.h"
#include "models/random_weights.h"
#include "support/fixtures.h"
#include "support/golden.h"
#include "util/error.h"

namespace rwkv::test {
namespace {

HParams small(Arch arch) {
  HParams hp = standard_hparams(arch, "0.1b");
  hp.n_layer = 2;
  hp.n_embd = 96;
  hp.head_size = 32;
  hp.n_head = 3;
  hp.vocab = 100;
  hp.dim_ffn = 160;
  hp.lora_decay = 17;  // odd ranks: nothing may assume multiples of 16
  hp.lora_iclr = 9;
  hp.lora_value = 5;
  hp.lora_gate = 33;
  if (arch == Arch::Rwkv7a || arch == Arch::Rwkv7b) {
    hp.deep_embed_rank = 6;
    hp.deep_embed_dim = 36;
  }
  if (arch == Arch::Rwkv7b) {
    hp.dea_qk_dim = 40;
    hp.dea_kv_rank = 7;
  }
  return hp;
}

// Writes the layout of `hp` to a file, letting `edit` drop or reshape tensors first.
std::string write_model(const TempDir& dir, const HParams& hp,
                        const std::function<void(std::vector<TensorSource>&)>& edit = {}) {
  auto sources = random_checkpoint(hp, DType::F32, 3);
  if (edit) edit(sources);
  const std::string path = (dir / "model.safetensors").string();
  write_safetensors(path, sources);
  return path;
}

void expect_error(const std::string& path, const std::string& needle) {
  try {
    Model::load({path});
    FAIL() << "expected an error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

void drop_tensor(std::vector<TensorSource>& s, const std::string& name) {
  std::erase_if(s, [&](const TensorSource& t) { return t.name == name; });
}

void reshape_tensor(std::vector<TensorSource>& s, const std::string& name, Shape shape) {
  for (auto& t : s)
    if (t.name == name) {
      t.shape = shape;
      // refill with zeros of the new size
      t.fill = [](std::span<std::byte> d) { std::fill(d.begin(), d.end(), std::byte{0}); };
    }
}

TEST(ModelErrors, MissingTensorIsNamed) {
  TempDir dir;
  expect_error(write_model(dir, small(Arch::Rwkv7), [](auto& s) { drop_tensor(s, "blocks.1.att.key.weight"); }),
               "blocks.1.att.key.weight");
  expect_error(write_model(dir, small(Arch::Rwkv7), [](auto& s) { drop_tensor(s, "head.weight"); }), "head.weight");
  expect_error(write_model(dir, small(Arch::Rwkv7), [](auto& s) { drop_tensor(s, "blocks.1.att.v1"); }), "blocks.1.att.v1");
}

TEST(ModelErrors, WrongShapeIsNamed) {
  TempDir dir;
  expect_error(write_model(dir, small(Arch::Rwkv7), [](auto& s) { reshape_tensor(s, "blocks.0.ffn.key.weight", {160, 95}); }),
               "blocks.0.ffn.key.weight");
  expect_error(write_model(dir, small(Arch::Rwkv7), [](auto& s) { reshape_tensor(s, "blocks.1.att.w2", {17, 90}); }),
               "blocks.1.att.w2");
  expect_error(write_model(dir, small(Arch::Rwkv7), [](auto& s) { reshape_tensor(s, "blocks.0.att.r_k", {4, 32}); }),
               "r_k");
  expect_error(write_model(dir, small(Arch::Rwkv7), [](auto& s) { reshape_tensor(s, "blocks.1.ln1.weight", {95}); }),
               "blocks.1.ln1.weight");
}

TEST(ModelErrors, NotAnRwkvCheckpoint) {
  TempDir dir;
  expect_error(write_model(dir, small(Arch::Rwkv7),
                           [](auto& s) {
                             std::erase_if(s, [](const TensorSource& t) { return t.name.rfind("blocks.", 0) == 0; });
                           }),
               "blocks");
  expect_error(write_model(dir, small(Arch::Rwkv7),
                           [](auto& s) {
                             std::erase_if(s, [](const TensorSource& t) { return t.name.rfind("blocks.0.", 0) == 0; });
                           }),
               "layer 0");
  expect_error((dir / "missing.pth").string(), "missing.pth");
  write_file(dir / "junk.bin", "this is not a model file at all");
  expect_error((dir / "junk.bin").string(), "junk.bin");
}

// Odd shapes (3 heads of 32, odd LoRA ranks, small vocab, v0/v1/v2 present or not in layer 0)
// load, and every path agrees: nothing is tuned to the fixtures' shapes.
class OddShapes : public ::testing::TestWithParam<Arch> {};

TEST_P(OddShapes, LoadAndPathsAgree) {
  TempDir dir;
  const HParams hp = small(GetParam());
  for (bool layer0_value_lora : {false, true}) {
    const std::string path = write_model(dir, hp, [&](auto& s) {
      if (!layer0_value_lora) return;
      // trainer saves carry (unused) v0/v1/v2 in layer 0 too
      s.push_back({"blocks.0.att.v0", DType::F32, {1, 1, hp.n_embd}, [](std::span<std::byte> d) {
                     std::fill(d.begin(), d.end(), std::byte{0});
                   }});
      s.push_back({"blocks.0.att.v1", DType::F32, {hp.n_embd, hp.lora_value}, [](std::span<std::byte> d) {
                     std::fill(d.begin(), d.end(), std::byte{0});
                   }});
      s.push_back({"blocks.0.att.v2", DType::F32, {hp.lora_value, hp.n_embd}, [](std::span<std::byte> d) {
                     std::fill(d.begin(), d.end(), std::byte{0});
                   }});
    });
    const std::vector<int32_t> tokens = {1, 5, 99, 0, 42, 42, 7, 63, 12, 3, 88};
    ModelOptions whole;
    whole.chunk_size = 64;
    auto model = Model::load({path}, whole);
    EXPECT_EQ(model->hparams().arch, GetParam());
    EXPECT_EQ(model->hparams().n_head, 3);
    EXPECT_EQ(model->hparams().lora_decay, 17);
    const auto seq = run_logits(*model, tokens, "seq");
    for (float v : seq) ASSERT_TRUE(std::isfinite(v));
    EXPECT_LE(max_abs_diff(run_logits(*model, tokens, "rnn"), seq), 2e-5);
    ModelOptions chunked;
    chunked.chunk_size = 3;
    EXPECT_LE(max_abs_diff(run_logits(*Model::load({path}, chunked), tokens, "seq"), seq), 2e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Rwkv7Family, OddShapes, ::testing::Values(Arch::Rwkv7, Arch::Rwkv7a, Arch::Rwkv7b),
                         [](const auto& info) { return std::string(arch_name(info.param)); });

}  // namespace
}  // namespace rwkv::test
