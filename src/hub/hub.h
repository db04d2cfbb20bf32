// Files from the Hugging Face hub, kept in the cache that huggingface_hub (Python) uses, so a
// model downloaded by either tool is found by the other. See docs/HUB.md for the cache layout,
// mirrors (HF_ENDPOINT), tokens (HF_TOKEN) and offline mode (HF_HUB_OFFLINE).
//
//   auto opt = rwkv::hub::HubOptions::from_env();
//   std::filesystem::path p = rwkv::hub::hub_download({"BlinkDL/rwkv7-g1", "main", "x.pth"}, opt);
//
// Every function takes its settings from HubOptions; only HubOptions::from_env() reads the
// environment.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace rwkv::hub {

enum class ProgressStyle {
  Auto,   // a bar when stderr is a terminal, otherwise occasional plain lines
  Bar,    // a one-line bar redrawn in place on stderr
  Lines,  // plain lines on stderr: start, every 10% (at most every 5 s) or 30 s, end
  None,   // silent
};

struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // no trailing slash
  std::filesystem::path cache_dir;                   // the hub cache: holds models--org--name/
  std::string token;         // sent as "Authorization: Bearer" to the endpoint only; empty: none
  std::string token_source;  // where the token came from, for error messages ("HF_TOKEN", a file)
  bool offline = false;      // use the cache only; never touch the network
  // Ask the hub for the current commit of the revision even when the file is cached (a branch
  // may have moved). Off by default, like the seed: a cached file is used without any request.
  bool revalidate = false;
  ProgressStyle progress = ProgressStyle::Auto;
  int max_resumes = 5;  // per file: resume attempts after a connection drops midway
  std::chrono::milliseconds retry_delay{1000};  // before the first resume; doubles each time
  long connect_timeout_s = 15;
  long stall_timeout_s = 60;  // abort (then resume) a transfer that stalls this long

  // The settings huggingface_hub reads: HF_ENDPOINT; HF_HUB_CACHE, else HF_HOME/hub, else
  // XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub; HF_TOKEN, else the token
  // file of `huggingface-cli login` (HF_TOKEN_PATH, else HF_HOME/token); HF_HUB_OFFLINE
  // (1/ON/YES/TRUE); HF_HUB_DISABLE_PROGRESS_BARS.
  static HubOptions from_env();
};

// One file of one repo at one revision.
struct HubFile {
  std::string repo;                // "org/name" (model repos)
  std::string revision = "main";   // a branch, a tag, "refs/pr/N" or a 40-hex commit hash
  std::string path;                // the file inside the repo, '/'-separated
};

// The local path of `f` (a link in the cache's snapshots/ folder), downloading it first when it
// is not cached. The cache is consulted first and no request is made on a hit (unless
// opt.revalidate). Downloads resume after a dropped connection, are checked against the size
// and, for LFS files, the sha256 the hub states, and appear in the cache only when complete.
// Throws Error with a message that names the repo, revision and file and says what to do
// (401/403: token; 404: what is missing; no network: HF_ENDPOINT / HF_HUB_OFFLINE).
std::filesystem::path hub_download(const HubFile& f, const HubOptions& opt);

// The cached copy of `f`, if any. Never touches the network.
std::optional<std::filesystem::path> cached_path(const HubFile& f, const HubOptions& opt);

// {endpoint}/{repo}/resolve/{revision}/{path}, the revision percent-encoded ("refs%2Fpr%2F2").
std::string hub_url(const HubFile& f, const std::string& endpoint);

}  // namespace rwkv::hub
