// The --which registry, resolve_which end to end against the stand-in hub, and `rwkv models`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "hub/registry.h"
#include "hub/resolve.h"
#include "support/hub_env.h"
#include "util/error.h"

namespace rwkv::test {
namespace {

namespace fs = std::filesystem;
using hub::WhichOverrides;

const std::vector<std::string> kSeedNames = {
    "rwkv7-g1d-0.1b", "rwkv7-g1d-0.4b",  "rwkv7-g1d-1.5b", "rwkv7-g1d-2.9b", "rwkv7-g1d-7.2b",     "rwkv7-g1d-13.3b",
    "rwkv7a-g1d-0.1b", "rwkv7b-g1b-0.1b", "world1b5",       "world3b",        "eagle7b",            "world6-1b6"};

TEST(HubRegistry, HasEverySeedNameWithCompleteEntries) {
  const auto& reg = hub::list_registry();
  std::set<std::string> names;
  for (const auto& e : reg) {
    names.insert(e.name);
    EXPECT_TRUE((std::set<std::string>{"rwkv5", "rwkv6", "rwkv7", "rwkv7a", "rwkv7b"}.count(e.arch))) << e.name;
    EXPECT_FALSE(e.weights.files.empty()) << e.name;
    EXPECT_GT(e.weights.approx_bytes, 0u) << e.name;
    ASSERT_FALSE(e.tokenizer.empty()) << e.name;
    EXPECT_TRUE(e.tokenizer.front().file.ends_with(".txt")) << e.name << ": the lossless vocab comes first";
    const bool v7 = e.arch.starts_with("rwkv7");
    EXPECT_EQ(e.config_file.empty(), v7) << e.name << ": v5/v6 read config.json, v7 needs none";
    EXPECT_EQ(e.quantized.has_value(), !v7) << e.name << ": the seed has quantized files for v5/v6 only";
    if (v7) {
      EXPECT_EQ(e.weights.repo, "BlinkDL/rwkv7-g1") << e.name;
    }
  }
  for (const auto& n : kSeedNames) EXPECT_TRUE(names.count(n)) << n;
  EXPECT_EQ(hub::find_model("world1b5").weights.revision, "refs/pr/2");
  EXPECT_EQ(hub::find_model("rwkv7-g1d-0.1b").weights.files,
            std::vector<std::string>{"rwkv7-g1d-0.1b-20260129-ctx8192.pth"});
}

TEST(HubRegistry, UnknownNameListsTheKnownOnes) {
  try {
    hub::find_model("rwkv9");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("rwkv7-g1d-0.1b"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("rwkv models"), std::string::npos);
  }
}

TEST(HubRegistry, ParseErrorsNameTheEntry) {
  const std::string tok = R"("tokenizers": {"w": [{"repo": "a/b", "revision": "main", "file": "v.txt"}]})";
  EXPECT_NO_THROW(hub::parse_registry("{" + tok + R"(, "models": [{"name": "m", "arch": "rwkv7", "tokenizer": "w",
      "weights": {"repo": "a/b", "revision": "main", "files": ["x.pth"]}}]})"));
  try {
    hub::parse_registry("{" + tok + R"(, "models": [{"name": "m", "arch": "rwkv7", "tokenizer": "w",
        "weights": {"repo": "a/b", "revision": "main", "files": []}}]})");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model m.weights.files"), std::string::npos) << e.what();
  }
  EXPECT_THROW(hub::parse_registry("{" + tok + R"(, "models": [{"name": "m", "arch": "rwkv7", "tokenizer": "nope",
      "weights": {"repo": "a/b", "revision": "main", "files": ["x"]}}]})"), Error);
  EXPECT_THROW(hub::parse_registry("{"), Error);
}

TEST(HubPlan, OverridesFollowTheSeed) {
  auto p = hub::plan_which("rwkv7-g1d-0.1b", false, {});
  ASSERT_EQ(p.weights.size(), 1u);
  EXPECT_EQ(p.weights[0].repo, "BlinkDL/rwkv7-g1");
  EXPECT_FALSE(p.config);

  // --model-id of a listed alternative takes its file names too.
  WhichOverrides ov;
  ov.model_id = "DanielClough/rwkv7-g1-safetensors";
  p = hub::plan_which("rwkv7-g1d-0.1b", false, ov);
  EXPECT_EQ(p.weights[0].repo, "DanielClough/rwkv7-g1-safetensors");
  EXPECT_EQ(p.weights[0].path, "rwkv7-g1d-0.1b-20260129-ctx8192.safetensors");

  // Any other --model-id keeps the registry's file names; --revision applies to it.
  ov.model_id = "me/my-fork";
  ov.revision = "refs/pr/7";
  p = hub::plan_which("rwkv7-g1d-0.1b", false, ov);
  EXPECT_EQ(p.weights[0].repo, "me/my-fork");
  EXPECT_EQ(p.weights[0].revision, "refs/pr/7");
  EXPECT_EQ(p.weights[0].path, "rwkv7-g1d-0.1b-20260129-ctx8192.pth");

  // --quantized world1b5: lmz/candle-rwkv regardless of --model-id; config.json from the model repo.
  p = hub::plan_which("world1b5", true, ov);
  EXPECT_EQ(p.weights[0].repo, "lmz/candle-rwkv");
  EXPECT_EQ(p.weights[0].path, "world1b5-q4k.gguf");
  ASSERT_TRUE(p.config);
  EXPECT_EQ(p.config->repo, "me/my-fork");
  EXPECT_EQ(p.config->revision, "refs/pr/7");
  // world6-1b6's quantized file lives in its own repo, so it follows --model-id.
  EXPECT_EQ(hub::plan_which("world6-1b6", true, ov).weights[0].repo, "me/my-fork");

  EXPECT_THROW(hub::plan_which("rwkv7-g1d-0.1b", true, {}), UsageError);
  ov.model_id = "not a repo";
  EXPECT_THROW(hub::plan_which("rwkv7-g1d-0.1b", false, ov), UsageError);
}

TEST(HubPlan, LocalFilesReplaceDownloads) {
  TempDir tmp;
  write_file(tmp / "w.pth", "w");
  write_file(tmp / "v.txt", "v");
  WhichOverrides ov;
  ov.weight_files = {(tmp / "w.pth").string()};
  ov.tokenizer = (tmp / "v.txt").string();
  const auto p = hub::plan_which("rwkv7-g1d-0.1b", false, ov);
  EXPECT_TRUE(p.weights.empty());
  EXPECT_EQ(p.local_weights, std::vector<fs::path>{tmp / "w.pth"});
  EXPECT_TRUE(p.tokenizer.empty());
  ov.weight_files = {(tmp / "missing.pth").string()};
  try {
    hub::plan_which("rwkv7-g1d-0.1b", false, ov);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--weight-files: file not found"), std::string::npos) << e.what();
  }
}

class HubResolve : public HubTestBase {};

// The "done when" of issue 6, library side: the registry's name for the 0.1b model, served by a
// hub on 127.0.0.1 with the real fixture under the registry's file name, resolves to local files.
TEST_F(HubResolve, RegistryNameDownloadsTheFixtureAndTheVocab) {
  RWKV_FIXTURE_OR_SKIP(model, "rwkv7-tiny/model-f32.pth");
  RWKV_TOKENIZER_OR_SKIP(vocab, "rwkv_vocab_v20230424.txt");
  const auto& e = hub::find_model("rwkv7-g1d-0.1b");
  hub.add_file(e.weights.repo, e.weights.revision, e.weights.files[0], read_file(model), /*lfs=*/true);
  const auto& t = e.tokenizer.front();
  hub.add_file(t.repo, t.revision, t.file, read_file(vocab), /*lfs=*/false);

  const auto r = hub::resolve_which("rwkv7-g1d-0.1b", false, {}, opt);
  EXPECT_EQ(r.arch, "rwkv7");
  ASSERT_EQ(r.weights.size(), 1u);
  EXPECT_EQ(r.weights[0].filename(), "rwkv7-g1d-0.1b-20260129-ctx8192.pth");
  EXPECT_EQ(read_file(r.weights[0]), read_file(model));
  EXPECT_EQ(read_file(r.tokenizer), read_file(vocab));
  EXPECT_FALSE(r.config);

  // Second run: everything from the cache, the hub gone.
  hub.stop();
  const auto again = hub::resolve_which("rwkv7-g1d-0.1b", false, {}, opt);
  EXPECT_EQ(again.weights, r.weights);
  EXPECT_EQ(again.tokenizer, r.tokenizer);
}

// The .txt's repo is unknown to this hub (401 RepoNotFound, as the hub answers strangers).
TEST_F(HubResolve, VocabFallsBackToTheSeedsJsonWhenTheTxtIsUnavailable) {
  const auto& e = hub::find_model("rwkv7-g1d-0.1b");
  hub.add_file(e.weights.repo, e.weights.revision, e.weights.files[0], "weights", true);
  const auto& json = e.tokenizer.back();
  ASSERT_TRUE(json.file.ends_with(".json"));
  hub.add_file(json.repo, json.revision, json.file, "{}", true);
  const auto r = hub::resolve_which("rwkv7-g1d-0.1b", false, {}, opt);
  EXPECT_EQ(r.tokenizer.filename(), "rwkv_vocab_v20230424.json");
}

TEST_F(HubResolve, V5ModelGetsItsConfigFromTheSameRevision) {
  hub.add_file("RWKV/rwkv-5-world-1b5", "refs/pr/2", "model.safetensors", "w", true);
  hub.add_file("RWKV/rwkv-5-world-1b5", "refs/pr/2", "config.json", "{}", false);
  const auto& t = hub::find_model("world1b5").tokenizer.front();
  hub.add_file(t.repo, t.revision, t.file, "v", false);
  const auto r = hub::resolve_which("world1b5", false, {}, opt);
  EXPECT_EQ(r.arch, "rwkv5");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(read_file(*r.config), "{}");
  EXPECT_NE(requests_to("/resolve/refs%2Fpr%2F2/config.json").size(), 0u);
}

TEST_F(HubResolve, OfflineWithNothingCachedNamesTheFile) {
  opt.offline = true;
  try {
    hub::resolve_which("rwkv7-g1d-0.1b", false, {}, opt);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rwkv7-g1d-0.1b-20260129-ctx8192.pth"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("HF_HUB_OFFLINE"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(hub.requests().empty());
}

TEST_F(HubResolve, ModelsCommandShowsWhatIsCached) {
  const std::map<std::string, std::string> env = {{"HF_HUB_CACHE", opt.cache_dir.string()},
                                                  {"HF_ENDPOINT", hub.endpoint()}};
  auto r = run_cli({"models"}, "", env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& n : kSeedNames) EXPECT_NE(r.out.find(n), std::string::npos) << n;
  EXPECT_NE(r.out.find(opt.cache_dir.string()), std::string::npos);
  EXPECT_EQ(r.out.find("yes"), std::string::npos);

  const auto& e = hub::find_model("rwkv7-g1d-0.1b");
  hub.add_file(e.weights.repo, e.weights.revision, e.weights.files[0], "w", true);
  hub.add_file(e.tokenizer[0].repo, e.tokenizer[0].revision, e.tokenizer[0].file, "v", false);
  hub::resolve_which("rwkv7-g1d-0.1b", false, {}, opt);
  const size_t requests_after_download = hub.requests().size();

  r = run_cli({"models"}, "", env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto line_start = r.out.find("rwkv7-g1d-0.1b ");
  const std::string line = r.out.substr(line_start, r.out.find('\n', line_start) - line_start);
  EXPECT_NE(line.find("yes (2/2)"), std::string::npos) << line;

  r = run_cli({"models", "--json"}, "", env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc.at("models").size(), hub::list_registry().size());
  for (const auto& m : doc.at("models")) {
    EXPECT_EQ(m.at("complete").get<bool>(), m.at("name") == "rwkv7-g1d-0.1b") << m.at("name");
    if (m.at("name") == "rwkv7-g1d-0.1b") {
      EXPECT_EQ(m.at("weights")[0].at("path").get<std::string>(),
                hub::cached_path({e.weights.repo, "main", e.weights.files[0]}, opt)->string());
    }
  }
  EXPECT_EQ(hub.requests().size(), requests_after_download) << "rwkv models must not use the network";

  EXPECT_EQ(run_cli({"models", "--bogus"}, "", env).exit_code, 2);
}

}  // namespace
}  // namespace rwkv::test
