// Layouts and version detection: the Hugging Face renaming, config.json checks, the RWKV version
// rules (names AND shapes) and the --arch override. Odd checkpoints are made by editing the
// fixtures' safetensors files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <functional>

#include "io/readers.h"
#include "models/layouts.h"
#include "rwkv/model.h"
#include "support/fixtures.h"
#include "support/golden.h"
#include "util/error.h"

namespace rwkv::test {
namespace {

struct OutTensor {
  std::string name;
  DType dtype;
  Shape shape;
  std::vector<std::byte> bytes;
};

std::vector<OutTensor> tensors_of(const fs::path& p) {
  TensorMap t = read_tensor_file(p.string());
  std::vector<OutTensor> out;
  for (const std::string& n : t.names()) {
    const TensorView& v = t.get(n);
    out.push_back({n, v.dtype, v.shape, std::vector<std::byte>(v.bytes.begin(), v.bytes.end())});
  }
  return out;
}

void write_safetensors(const fs::path& p, const std::vector<OutTensor>& tensors) {
  nlohmann::json h = nlohmann::json::object();
  std::string data;
  for (const OutTensor& t : tensors) {
    const char* dtype = t.dtype == DType::F32 ? "F32" : t.dtype == DType::F16 ? "F16" : "BF16";
    h[t.name] = {{"dtype", dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  }
  std::string header = h.dump();
  while (header.size() % 8) header += ' ';
  const uint64_t n = header.size();
  std::string file(reinterpret_cast<const char*>(&n), 8);
  write_file(p, file + header + data);
}

// A copy of `fixture` with `edit` applied to its tensor list, written as `dir/name`.
fs::path edited(const TempDir& dir, const fs::path& fixture, const std::string& name,
                const std::function<void(std::vector<OutTensor>&)>& edit) {
  auto t = tensors_of(fixture);
  edit(t);
  const fs::path out = dir / name;
  write_safetensors(out, t);
  return out;
}

void drop(std::vector<OutTensor>& t, const std::string& part) {
  std::erase_if(t, [&](const OutTensor& x) { return x.name.find(part) != std::string::npos; });
}

// The message of the Error that loading throws ("" when it loads).
std::string load_error(const fs::path& p, const ModelOptions& opt = {}) {
  try {
    Model::load({p.string()}, opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_CONTAINS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

// ---- Hugging Face layout ----

TEST(Layouts, HuggingFaceRenamesToTheOfficialTensors) {
  for (const char* name : {"rwkv5-tiny", "rwkv6-tiny"}) {
    RWKV_FIXTURE_OR_SKIP(dir, name);
    TensorMap hf = read_tensor_file((dir / "hf" / "model.safetensors").string());
    EXPECT_EQ(normalize_layout(hf), Layout::HuggingFace);
    TensorMap official = read_tensor_file((dir / "model.safetensors").string());
    EXPECT_EQ(normalize_layout(official), Layout::Official);
    EXPECT_EQ(hf.names(), official.names()) << name;
    for (const std::string& n : official.names()) {
      EXPECT_EQ(hf.get(n).shape, official.get(n).shape) << n;
      EXPECT_EQ(tensor_to_f32(hf.get(n)), tensor_to_f32(official.get(n))) << n;
    }
  }
}

// The transformers-style RWKV-6 port keeps the official time_maa_* names under the HF prefixes.
TEST(Layouts, HuggingFaceRwkv6WithOfficialParameterNames) {
  GoldenCase c;
  if (!load_golden_case("rwkv6-tiny", &c)) GTEST_SKIP() << "fixture rwkv6-tiny not found";
  TempDir dir;
  const fs::path p = edited(dir, c.dir / "model.safetensors", "model.safetensors", [](std::vector<OutTensor>& t) {
    for (OutTensor& x : t) {
      std::string& n = x.name;
      auto sub = [&](const std::string& a, const std::string& b) {
        if (const size_t i = n.find(a); i != std::string::npos) n.replace(i, a.size(), b);
      };
      sub(".att.", ".attention.");
      sub(".ffn.", ".feed_forward.");
      sub(".ln0.", ".pre_ln.");
      if (n == "emb.weight") n = "embeddings.weight";
      if (n != "head.weight") n = "rwkv." + n;
    }
  });
  auto model = Model::load({p.string()});
  EXPECT_EQ(model->hparams().arch, Arch::Rwkv6);
  EXPECT_LE(max_abs_diff(run_logits(*model, c.tokens, "seq"), read_f32(c.dir / "logits.f32")), 1e-3);
}

class HfConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fixtures_dir();
    if (!d || !fs::exists(*d / "rwkv5-tiny" / "hf" / "config.json")) GTEST_SKIP() << "fixture rwkv5-tiny not found";
    hf_ = *d / "rwkv5-tiny" / "hf";
    fs::copy_file(hf_ / "model.safetensors", dir_ / "model.safetensors");
    config_ = nlohmann::json::parse(read_file(hf_ / "config.json"));
  }
  // Writes config.json beside the copied weights with `key` set to `value`; returns the load error.
  std::string with(const std::string& key, const nlohmann::json& value) {
    nlohmann::json j = config_;
    j[key] = value;
    write_file(dir_ / "config.json", j.dump());
    return load_error(dir_ / "model.safetensors");
  }
  fs::path hf_;
  TempDir dir_;
  nlohmann::json config_;
};

TEST_F(HfConfig, TheFixtureConfigAgrees) {
  EXPECT_EQ(with("rescale_every", 6), "");       // ignored: an fp16 trick
  EXPECT_EQ(with("layer_norm_epsilon", 1e-6), "");  // ignored: the official code uses 1e-5
  EXPECT_EQ(with("intermediate_size", nullptr), "");  // null: nothing to check
}

TEST_F(HfConfig, ContradictionsBesideTheWeightsAreErrors) {
  const std::string hidden = with("hidden_size", 256);
  EXPECT_CONTAINS(hidden, "config.json");
  EXPECT_CONTAINS(hidden, "\"hidden_size\" is 256");
  EXPECT_CONTAINS(hidden, "n_embd = 128");
  EXPECT_CONTAINS(with("vocab_size", 65536), "vocab = 512");
  EXPECT_CONTAINS(with("num_hidden_layers", 24), "n_layer = 3");
  EXPECT_CONTAINS(with("intermediate_size", 512), "dim_ffn = 448");
  EXPECT_CONTAINS(with("head_size", 32), "head_size = 64");
  EXPECT_CONTAINS(with("attention_hidden_size", 64), "attention_hidden_size");
  // num_attention_heads holds the head SIZE in HF RWKV configs; the head count (2) contradicts it.
  EXPECT_CONTAINS(with("num_attention_heads", 2), "holds the head size");
  EXPECT_CONTAINS(with("model_type", "rwkv6"), "are those of rwkv5");
  EXPECT_CONTAINS(with("hidden_size", "128"), "expected an integer");
  write_file(dir_ / "config.json", "{not json");
  EXPECT_CONTAINS(load_error(dir_ / "model.safetensors"), "not valid JSON");
}

TEST_F(HfConfig, ExplicitConfigFile) {
  ModelOptions opt;
  opt.config_file = (dir_ / "missing.json").string();
  EXPECT_CONTAINS(load_error(dir_ / "model.safetensors", opt), "missing.json: cannot read");
  // An explicit config is checked for any layout, here the official one.
  nlohmann::json j = config_;
  j["num_hidden_layers"] = 2;
  write_file(dir_ / "other.json", j.dump());
  opt.config_file = (dir_ / "other.json").string();
  EXPECT_CONTAINS(load_error(hf_.parent_path() / "model.safetensors", opt), "\"num_hidden_layers\" is 2");
  // Without config.json beside HF weights, the tensors alone suffice.
  EXPECT_EQ(load_error(dir_ / "model.safetensors"), "");
}

// ---- version detection ----

class Detection : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fixtures_dir();
    if (!d || !fs::exists(*d / "rwkv5-tiny" / "model.safetensors")) GTEST_SKIP() << "fixture rwkv5-tiny not found";
    v5_ = *d / "rwkv5-tiny" / "model.safetensors";
    v6_ = *d / "rwkv6-tiny" / "model.safetensors";
    v7_ = *d / "rwkv7-tiny" / "model.safetensors";
  }
  fs::path v5_, v6_, v7_;
  TempDir dir_;
};

TEST_F(Detection, Rwkv50WithoutGateIsRefused) {
  const auto p = edited(dir_, v5_, "v50.safetensors", [](auto& t) { drop(t, "att.gate.weight"); });
  const std::string e = load_error(p);
  EXPECT_CONTAINS(e, "RWKV-5.0");
  EXPECT_CONTAINS(e, "not supported");
}

TEST_F(Detection, Rwkv51WithPerHeadDecayIsRefused) {
  const auto p = edited(dir_, v5_, "v51.safetensors", [](auto& t) {
    for (OutTensor& x : t)
      if (x.name.ends_with("att.time_decay")) {
        x.shape = {2};
        x.bytes.resize(8);
      }
  });
  const std::string e = load_error(p);
  EXPECT_CONTAINS(e, "RWKV-5.1");
  EXPECT_CONTAINS(e, "(2,)");
}

TEST_F(Detection, Rwkv4IsRefused) {
  const auto p = edited(dir_, v5_, "v4.safetensors", [](auto& t) { drop(t, "ln_x"); });
  EXPECT_CONTAINS(load_error(p), "RWKV-4");
}

TEST_F(Detection, UnknownNamesAreNamed) {
  const auto p = edited(dir_, v5_, "odd.safetensors", [](auto& t) { drop(t, ".att."); });
  EXPECT_CONTAINS(load_error(p), "cannot tell the RWKV version");
  // --arch takes such a file at its word; the model then names what is missing.
  ModelOptions opt;
  opt.arch = Arch::Rwkv5;
  EXPECT_CONTAINS(load_error(p, opt), "missing tensor 'blocks.0.att.time_decay'");
}

TEST_F(Detection, ArchOverrideMustAgreeWithTheTensors) {
  ModelOptions opt;
  opt.arch = Arch::Rwkv5;
  EXPECT_EQ(load_error(v5_, opt), "");
  opt.arch = Arch::Rwkv6;
  const std::string e = load_error(v5_, opt);
  EXPECT_CONTAINS(e, "--arch rwkv6 given");
  EXPECT_CONTAINS(e, "RWKV-5.2");
  opt.arch = Arch::Rwkv7;
  EXPECT_CONTAINS(load_error(v6_, opt), "RWKV-6 (blocks.0.att.time_maa_x)");
  opt.arch = Arch::Rwkv5;
  EXPECT_CONTAINS(load_error(v7_, opt), "RWKV-7");
  // An unsupported version is not made supported by naming another.
  const auto v51 = edited(dir_, v5_, "v51.safetensors", [](auto& t) { drop(t, "att.gate.weight"); });
  EXPECT_CONTAINS(load_error(v51, opt), "--arch rwkv5 given, but this is an RWKV-5.0 checkpoint");
}

TEST_F(Detection, ShapesAreCheckedAgainstTheHyperParameters) {
  const auto p = edited(dir_, v6_, "lora.safetensors", [](auto& t) {
    for (OutTensor& x : t)
      if (x.name == "blocks.1.att.time_decay_w1") {
        x.shape = {64, 8};  // same bytes, another rank than layer 0's
      }
  });
  const std::string e = load_error(p);
  EXPECT_CONTAINS(e, "blocks.1.att.time_decay_w1");
  EXPECT_CONTAINS(e, "(64, 8)");
  EXPECT_CONTAINS(e, "expected (128, 4)");
  const auto w1 = edited(dir_, v6_, "w1.safetensors", [](auto& t) {
    for (OutTensor& x : t)
      if (x.name == "blocks.0.att.time_maa_w1") x.shape = {160, 8};
  });
  EXPECT_CONTAINS(load_error(w1), "not 5 x the mix rank");
}

}  // namespace
}  // namespace rwkv::test
