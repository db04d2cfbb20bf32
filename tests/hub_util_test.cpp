// The small parts of src/hub: sha256, URLs, environment, progress text.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "hub/cache.h"
#include "hub/http.h"
#include "hub/hub.h"
#include "hub/progress.h"
#include "hub/sha256.h"
#include "support/fixtures.h"
#include "util/error.h"

namespace rwkv::test {
namespace {

namespace fs = std::filesystem;

std::string sha(const std::string& s) {
  hub::Sha256 h;
  h.update(s);
  return h.hex_digest();
}

TEST(HubSha256, KnownVectors) {  // FIPS 180-4 examples
  EXPECT_EQ(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(HubSha256, ChunkingDoesNotMatter) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7);
  for (size_t split : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 127u, 999u}) {
    hub::Sha256 h;
    h.update(data.substr(0, split));
    h.update(data.substr(split));
    EXPECT_EQ(h.hex_digest(), sha(data)) << split;
  }
}

// An independent check: the sha256 the fixture generator recorded for a fixture file.
TEST(HubSha256, MatchesTheFixtureManifest) {
  RWKV_FIXTURE_OR_SKIP(dir, "rwkv7-tiny");
  const auto manifest = nlohmann::json::parse(read_file(dir / "case.json"));
  const std::string want = manifest.at("files").at("model-f32.pth").at("sha256");
  EXPECT_EQ(hub::sha256_file(dir / "model-f32.pth"), want);
}

TEST(HubSha256, RecognisesLfsEtags) {
  EXPECT_TRUE(hub::is_sha256_hex(std::string(64, 'a')));
  EXPECT_FALSE(hub::is_sha256_hex(std::string(40, 'a')));  // a git blob id
  EXPECT_FALSE(hub::is_sha256_hex(std::string(63, 'a') + "g"));
}

TEST(HubUrl, RevisionIsEncodedFilePathKeepsSlashes) {
  EXPECT_EQ(hub::hub_url({"RWKV/rwkv-5-world-1b5", "refs/pr/2", "model.safetensors"}, "https://huggingface.co"),
            "https://huggingface.co/RWKV/rwkv-5-world-1b5/resolve/refs%2Fpr%2F2/model.safetensors");
  EXPECT_EQ(hub::hub_url({"a/b", "main", "sub dir/x+y.bin"}, "http://h:1"), "http://h:1/a/b/resolve/main/sub%20dir/x%2By.bin");
}

TEST(HubUrl, OriginsAndRedirects) {
  EXPECT_EQ(hub::url_origin("https://huggingface.co/a/b"), "https://huggingface.co:443");
  EXPECT_EQ(hub::url_origin("HTTPS://HuggingFace.co:443/x"), "https://huggingface.co:443");
  EXPECT_NE(hub::url_origin("http://127.0.0.1:8080/x"), hub::url_origin("http://localhost:8080/x"));
  EXPECT_NE(hub::url_origin("http://h:80/x"), hub::url_origin("https://h/x"));
  EXPECT_EQ(hub::resolve_location("https://hf.co/a/resolve/main/f", "/b/resolve/main/f"), "https://hf.co/b/resolve/main/f");
  EXPECT_EQ(hub::resolve_location("https://hf.co/a/x", "https://cdn.example/blob?sig=1"), "https://cdn.example/blob?sig=1");
}

TEST(HubCache, ValidatesNamesThatBecomeFolders) {
  EXPECT_NO_THROW(hub::validate_hub_file({"BlinkDL/rwkv7-g1", "refs/pr/2", "a/b.pth"}));
  EXPECT_THROW(hub::validate_hub_file({"BlinkDL", "main", "x"}), Error);
  EXPECT_THROW(hub::validate_hub_file({"a/..", "main", "x"}), Error);
  EXPECT_THROW(hub::validate_hub_file({"a/b c", "main", "x"}), Error);
  EXPECT_THROW(hub::validate_hub_file({"a/b", "", "x"}), Error);
  EXPECT_THROW(hub::validate_hub_file({"a/b", "main", "x//y"}), Error);
  EXPECT_THROW(hub::validate_component("../x", "ETag"), Error);
  EXPECT_EQ(hub::repo_dir("/c", "RWKV/v5-Eagle-7B-HF"), fs::path("/c/models--RWKV--v5-Eagle-7B-HF"));
}

// Sets environment variables for one test and restores them afterwards.
class EnvGuard {
 public:
  explicit EnvGuard(std::vector<std::pair<std::string, std::optional<std::string>>> vars) {
    for (auto& [k, v] : vars) {
      const char* old = std::getenv(k.c_str());
      saved_.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
      if (v) ::setenv(k.c_str(), v->c_str(), 1);
      else ::unsetenv(k.c_str());
    }
  }
  ~EnvGuard() {
    for (auto& [k, v] : saved_) {
      if (v) ::setenv(k.c_str(), v->c_str(), 1);
      else ::unsetenv(k.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

const std::vector<std::string> kHubVars = {"HF_ENDPOINT",    "HF_HUB_CACHE",  "HUGGINGFACE_HUB_CACHE", "HF_HOME",
                                           "XDG_CACHE_HOME", "HF_TOKEN",      "HF_TOKEN_PATH",         "HF_HUB_OFFLINE",
                                           "HF_HUB_DISABLE_PROGRESS_BARS", "HOME"};

std::vector<std::pair<std::string, std::optional<std::string>>> clean_env(
    std::map<std::string, std::string> set) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  for (const auto& k : kHubVars)
    out.emplace_back(k, set.count(k) ? std::optional<std::string>(set[k]) : std::nullopt);
  return out;
}

TEST(HubOptions, DefaultsFollowHuggingfaceHub) {
  TempDir home;
  EnvGuard env(clean_env({{"HOME", home.path().string()}}));
  const auto o = hub::HubOptions::from_env();
  EXPECT_EQ(o.endpoint, "https://huggingface.co");
  EXPECT_EQ(o.cache_dir, home.path() / ".cache" / "huggingface" / "hub");
  EXPECT_EQ(o.token, "");
  EXPECT_FALSE(o.offline);
  EXPECT_EQ(o.progress, hub::ProgressStyle::Auto);
}

TEST(HubOptions, EnvironmentPrecedence) {
  TempDir home;
  {
    EnvGuard env(clean_env({{"HOME", home.path().string()}, {"XDG_CACHE_HOME", "/xdg"}}));
    EXPECT_EQ(hub::HubOptions::from_env().cache_dir, fs::path("/xdg/huggingface/hub"));
  }
  {
    EnvGuard env(clean_env({{"HOME", home.path().string()}, {"XDG_CACHE_HOME", "/xdg"}, {"HF_HOME", "~/hf"}}));
    EXPECT_EQ(hub::HubOptions::from_env().cache_dir, home.path() / "hf" / "hub");
  }
  {
    EnvGuard env(clean_env({{"HF_HOME", "/hf"}, {"HF_HUB_CACHE", "/cache"}, {"HUGGINGFACE_HUB_CACHE", "/old"}}));
    EXPECT_EQ(hub::HubOptions::from_env().cache_dir, fs::path("/cache"));
  }
  {
    EnvGuard env(clean_env({{"HF_HOME", "/hf"}, {"HUGGINGFACE_HUB_CACHE", "/old"}}));
    EXPECT_EQ(hub::HubOptions::from_env().cache_dir, fs::path("/old"));
  }
  {
    EnvGuard env(clean_env({{"HF_ENDPOINT", "https://hf-mirror.com/"}, {"HF_HUB_OFFLINE", "yes"},
                            {"HF_HUB_DISABLE_PROGRESS_BARS", "1"}}));
    const auto o = hub::HubOptions::from_env();
    EXPECT_EQ(o.endpoint, "https://hf-mirror.com");
    EXPECT_TRUE(o.offline);
    EXPECT_EQ(o.progress, hub::ProgressStyle::None);
  }
  {
    EnvGuard env(clean_env({{"HF_HUB_OFFLINE", "0"}}));
    EXPECT_FALSE(hub::HubOptions::from_env().offline);
  }
}

TEST(HubOptions, TokenFromTheVariableElseTheLoginFile) {
  TempDir home;
  write_file(home / "token", "hf_from_file\n");
  {
    EnvGuard env(clean_env({{"HF_HOME", home.path().string()}}));
    const auto o = hub::HubOptions::from_env();
    EXPECT_EQ(o.token, "hf_from_file");
    EXPECT_NE(o.token_source.find("token file"), std::string::npos);
  }
  {
    EnvGuard env(clean_env({{"HF_HOME", home.path().string()}, {"HF_TOKEN", " hf_var "}}));
    const auto o = hub::HubOptions::from_env();
    EXPECT_EQ(o.token, "hf_var");
    EXPECT_EQ(o.token_source, "HF_TOKEN");
  }
}

TEST(HubProgress, Formatting) {
  EXPECT_EQ(hub::format_bytes(17), "17 B");
  EXPECT_EQ(hub::format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(hub::format_bytes(3ull << 30), "3.0 GiB");
  EXPECT_EQ(hub::format_duration(7), "0:07");
  EXPECT_EQ(hub::format_duration(754), "12:34");
  EXPECT_EQ(hub::format_duration(3723), "1:02:03");

  const std::string bar = hub::render_bar("model.pth", 50 << 20, 100 << 20, 10 << 20, 80);
  EXPECT_LE(bar.size(), 80u);
  EXPECT_NE(bar.find(" 50% ["), std::string::npos) << bar;
  EXPECT_NE(bar.find("50.0 MiB/100.0 MiB 10.0 MiB/s ETA 0:05"), std::string::npos) << bar;
  EXPECT_LE(hub::render_bar(std::string(200, 'n'), 1, 2, 1, 40).size(), 40u);
  EXPECT_NE(hub::render_bar("x", 5 << 20, -1, 0, 80).find("5.0 MiB"), std::string::npos);

  EXPECT_EQ(hub::render_line("model.pth", 25 << 20, 100 << 20, 5 << 20),
            "model.pth: 25% of 100.0 MiB, 5.0 MiB/s, 0:15 left");
}

}  // namespace
}  // namespace rwkv::test
