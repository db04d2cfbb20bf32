#include "hub/messages.h"

#include <filesystem>

#include "hub/cache.h"

namespace rwkv::hub {

std::string describe(const HubFile& f) {
  return fmt::format("'{}' from {} at revision {}", f.path, f.repo, f.revision);
}

void throw_http_error(const HttpResponse& r, const HubFile& f, const HubOptions& opt) {
  const std::string code = r.header("x-error-code");
  const std::string hub_msg = r.header("x-error-message");
  const std::string said = hub_msg.empty() ? "" : fmt::format(" (the hub says: {})", hub_msg);
  const std::string what = describe(f);
  std::string msg;
  switch (r.status) {
    case 401:
      msg = opt.token.empty()
                ? fmt::format("{} refused {} with 401 Unauthorized{}: the repository is private or gated, or does not "
                              "exist. Set HF_TOKEN to an access token that can read it ({}/settings/tokens)",
                              opt.endpoint, what, said, opt.endpoint)
                : fmt::format("{} refused {} with 401 Unauthorized{}: the token from {} is invalid or expired, or the "
                              "repository does not exist. Check HF_TOKEN",
                              opt.endpoint, what, said, opt.token_source);
      break;
    case 403:
      msg = fmt::format("{} refused {} with 403 Forbidden{}: the repository is gated or restricted. Accept its terms "
                        "at {}/{} with your account, then {}",
                        opt.endpoint, what, said, opt.endpoint, f.repo,
                        opt.token.empty() ? "set HF_TOKEN to an access token of that account"
                                          : "make sure the token from " + opt.token_source + " belongs to it and may read gated repos");
      break;
    case 404:
      if (code == "RevisionNotFound")
        msg = fmt::format("revision '{}' not found in {} on {} (404){}", f.revision, f.repo, opt.endpoint, said);
      else if (code == "EntryNotFound")
        msg = fmt::format("file '{}' not found in {} at revision {} on {} (404){}", f.path, f.repo, f.revision,
                          opt.endpoint, said);
      else if (code == "RepoNotFound")
        msg = fmt::format("repository {} not found on {} (404){}", f.repo, opt.endpoint, said);
      else
        msg = fmt::format("not found (404): {} on {}{}; check the repo id, the revision and the file name",
                          what, opt.endpoint, said);
      break;
    case 429:
      msg = fmt::format("{} is rate limiting requests (429) for {}{}; wait a while and try again{}", opt.endpoint,
                        what, said, opt.token.empty() ? ", or set HF_TOKEN (authenticated users get more)" : "");
      break;
    default:
      msg = fmt::format("{} answered HTTP {} for {}{}", opt.endpoint, r.status, what, said);
  }
  throw HubHttpError(msg, r.status);
}

std::string network_message(const NetworkError& e, const HubFile& f, const HubOptions& opt) {
  return fmt::format(
      "cannot download {}: no answer from {} ({}). Check the network connection; set HF_ENDPOINT to use a "
      "mirror, or HF_HUB_OFFLINE=1 to use only files already in the cache ({})",
      describe(f), opt.endpoint, e.what(), opt.cache_dir.string());
}

std::string offline_miss_message(const HubFile& f, const HubOptions& opt) {
  const fs::path repo = repo_dir(opt.cache_dir, f.repo);
  std::string why;
  if (!fs::is_directory(repo)) {
    why = fmt::format("{} does not exist", repo.string());
  } else if (auto commit = read_ref(repo, f.revision)) {
    why = fmt::format("{} is missing", snapshot_path(repo, *commit, f.path).string());
  } else {
    why = fmt::format("{} does not exist", (repo / "refs" / f.revision).string());
  }
  return fmt::format("HF_HUB_OFFLINE is set and {} is not in the cache ({}). Download it once with network access "
                     "(unset HF_HUB_OFFLINE), or point HF_HUB_CACHE at a cache that has it",
                     describe(f), why);
}

}  // namespace rwkv::hub
