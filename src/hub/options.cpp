// HubOptions::from_env: the environment variables huggingface_hub reads, with its precedence, so
// both tools agree on the endpoint, the cache folder and the token.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "hub/hub.h"

namespace rwkv::hub {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool env_true(const char* name) {
  std::string v = env(name);
  for (char& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// "~" and "~/x" as the shell would expand them (paths in these variables are often written so).
std::filesystem::path expand_home(const std::string& p) {
  if (p == "~" || p.starts_with("~/")) return env("HOME") + p.substr(1);
  return p;
}

std::filesystem::path hf_home() {
  if (!env("HF_HOME").empty()) return expand_home(env("HF_HOME"));
  if (!env("XDG_CACHE_HOME").empty()) return expand_home(env("XDG_CACHE_HOME")) / "huggingface";
  return std::filesystem::path(env("HOME")) / ".cache" / "huggingface";
}

}  // namespace

HubOptions HubOptions::from_env() {
  HubOptions o;
  if (std::string e = trim(env("HF_ENDPOINT")); !e.empty()) {
    while (e.ends_with('/')) e.pop_back();
    o.endpoint = e;
  }
  if (!env("HF_HUB_CACHE").empty())
    o.cache_dir = expand_home(env("HF_HUB_CACHE"));
  else if (!env("HUGGINGFACE_HUB_CACHE").empty())  // the older name, still read by huggingface_hub
    o.cache_dir = expand_home(env("HUGGINGFACE_HUB_CACHE"));
  else
    o.cache_dir = hf_home() / "hub";

  if (std::string t = trim(env("HF_TOKEN")); !t.empty()) {
    o.token = t;
    o.token_source = "HF_TOKEN";
  } else {
    // The file `huggingface-cli login` / `hf auth login` writes.
    const std::filesystem::path file =
        !env("HF_TOKEN_PATH").empty() ? expand_home(env("HF_TOKEN_PATH")) : hf_home() / "token";
    std::ifstream in(file);
    std::stringstream ss;
    if (in) ss << in.rdbuf();
    if (std::string t2 = trim(ss.str()); !t2.empty()) {
      o.token = t2;
      o.token_source = "the token file " + file.string();
    }
  }
  o.offline = env_true("HF_HUB_OFFLINE");
  if (env_true("HF_HUB_DISABLE_PROGRESS_BARS")) o.progress = ProgressStyle::None;
  return o;
}

}  // namespace rwkv::hub
