// hub_download: metadata from the hub, then the blob into the shared cache (resumable, verified,
// renamed into place only when complete), then the snapshot link that names it.
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "hub/cache.h"
#include "hub/http.h"
#include "hub/hub.h"
#include "hub/messages.h"
#include "hub/progress.h"
#include "hub/sha256.h"

#ifndef RWKV_ENGINE_VERSION
#define RWKV_ENGINE_VERSION "dev"
#endif

namespace rwkv::hub {
namespace {

constexpr int kMaxRedirects = 10;

struct Metadata {
  std::string commit;  // X-Repo-Commit: what the revision points to now
  std::string etag;    // the blob's name: X-Linked-Etag (LFS: sha256) or ETag (git blob id)
  int64_t size = -1;   // X-Linked-Size or Content-Length; -1 when the server did not say
};

HttpSettings http_settings(const HubOptions& opt) {
  HttpSettings s;
  s.user_agent = "rwkv-engine/" RWKV_ENGINE_VERSION;
  s.connect_timeout_s = opt.connect_timeout_s;
  s.stall_timeout_s = opt.stall_timeout_s;
  return s;
}

// The token goes to the endpoint only. The hub redirects large files to a CDN on another host,
// which must not see it (and signed CDN URLs reject requests that carry one).
std::vector<std::string> headers_for(const std::string& url, const HubOptions& opt) {
  std::vector<std::string> h;
  if (!opt.token.empty() && url_origin(url) == url_origin(opt.endpoint)) h.push_back("Authorization: Bearer " + opt.token);
  return h;
}

// ETag: W/"abc" or "abc" -> abc
std::string normalize_etag(std::string e) {
  if (e.starts_with("W/")) e.erase(0, 2);
  while (!e.empty() && e.front() == '"') e.erase(0, 1);
  while (!e.empty() && e.back() == '"') e.pop_back();
  return e;
}

int64_t parse_size(const std::string& s) {
  if (s.empty()) return -1;
  try {
    size_t used = 0;
    const long long v = std::stoll(s, &used);
    return used == s.size() && v >= 0 ? v : -1;
  } catch (...) {
    return -1;
  }
}

// HEAD on the resolve URL. Redirects within the endpoint (a renamed repo) are followed; the
// redirect of a large file to its CDN is not: that answer carries the metadata.
Metadata fetch_metadata(HttpClient& http, const HubFile& f, const HubOptions& opt) {
  std::string url = hub_url(f, opt.endpoint);
  for (int hop = 0; hop < kMaxRedirects; ++hop) {
    auto headers = headers_for(url, opt);
    headers.push_back("Accept-Encoding: identity");  // the real size, not a compressed one
    const HttpResponse r = http.head(url, headers);
    if (r.is_redirect()) {
      const std::string next = resolve_location(url, r.header("location"));
      if (url_origin(next) == url_origin(url) && r.header("x-linked-etag").empty()) {
        url = next;
        continue;
      }
    } else if (r.status != 200) {
      throw_http_error(r, f, opt);
    }
    Metadata m;
    m.commit = r.header("x-repo-commit");
    m.etag = normalize_etag(!r.header("x-linked-etag").empty() ? r.header("x-linked-etag") : r.header("etag"));
    m.size = parse_size(!r.header("x-linked-size").empty() ? r.header("x-linked-size")
                                                            : (r.is_redirect() ? "" : r.header("content-length")));
    if (m.commit.empty() || m.etag.empty())
      throw Error("{} sent no {} header for {}: is HF_ENDPOINT a Hugging Face hub or a mirror of it?", opt.endpoint,
                  m.commit.empty() ? "X-Repo-Commit" : "ETag", describe(f));
    validate_component(m.commit, "commit hash");
    validate_component(m.etag, "ETag");
    return m;
  }
  throw Error("too many redirects from {} for {}", opt.endpoint, describe(f));
}

// The partial file of one blob and what is known about it across attempts: `hasher` has seen
// exactly the `have` bytes on disk, so a resumed attempt never re-reads them.
struct Partial {
  fs::path path;
  int fd = -1;
  uint64_t have = 0;
  bool hashing = false;
  Sha256 hasher;

  ~Partial() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  void open(int64_t expected) {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw Error("cannot write {}: {}", path.string(), std::strerror(errno));
    const off_t end = ::lseek(fd, 0, SEEK_END);
    if (end < 0 || (expected >= 0 && end > expected)) {  // longer than the file can be: useless
      truncate();
      return;
    }
    have = static_cast<uint64_t>(end);
    if (hashing) {
      hasher = Sha256();
      sha256_update_from_file(hasher, path, have);
    }
  }
  void truncate() {
    if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0)
      throw Error("cannot write {}: {}", path.string(), std::strerror(errno));
    have = 0;
    hasher = Sha256();
  }
  void write(const char* p, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        const int err = w < 0 ? errno : EIO;
        throw Error("cannot write {}: {}. The partial download ({}) stays there and is not used until it is "
                    "complete: free some space (or fix the error) and run again to resume",
                    path.string(), std::strerror(err), format_bytes(have));
      }
      if (hashing) hasher.update(p, static_cast<size_t>(w));
      p += w, n -= static_cast<size_t>(w), have += static_cast<uint64_t>(w);
    }
  }
};

// Thrown (through the HTTP callbacks) when the server sends more bytes than the file has.
struct Overflow {};

// One attempt: GET from where the partial file ends. Returns when the server has sent all it
// meant to send; throws NetworkError when the connection fails.
void fetch_attempt(HttpClient& http, const HubFile& f, const HubOptions& opt, int64_t size, Partial& part,
                   Progress& progress) {
  std::string url = hub_url(f, opt.endpoint);
  for (int hop = 0; hop < kMaxRedirects; ++hop) {
    auto headers = headers_for(url, opt);
    if (part.have > 0) headers.push_back(fmt::format("Range: bytes={}-", part.have));
    bool restart = false;
    const auto on_headers = [&](const HttpResponse& r) {
      if (r.status == 200 && part.have > 0) {  // the server ignored the Range: start over
        part.truncate();
        progress.restart(0);
      } else if (r.status == 206) {
        const std::string range = r.header("content-range");  // bytes START-END/TOTAL
        if (!range.starts_with(fmt::format("bytes {}-", part.have))) {
          restart = true;  // not the part we asked for: drop what we have and ask for everything
          return false;
        }
      }
      return !r.is_redirect();
    };
    const auto on_data = [&](const char* p, size_t n) {
      if (size >= 0 && part.have + n > static_cast<uint64_t>(size)) throw Overflow{};
      part.write(p, n);
      progress.update(part.have);
    };
    const HttpResponse r = http.get(url, headers, on_headers, on_data);
    if (r.is_redirect()) {
      url = resolve_location(url, r.header("location"));
      continue;
    }
    if (restart || r.status == 416) {  // 416: our partial file is not a prefix of this blob
      part.truncate();
      progress.restart(0);
      url = hub_url(f, opt.endpoint);
      continue;
    }
    if (r.status == 200 || r.status == 206) return;
    throw_http_error(r, f, opt);
  }
  throw Error("too many redirects from {} for {}", opt.endpoint, describe(f));
}

void warn_if_short_of_space(const fs::path& dir, int64_t size, uint64_t have, Progress& progress) {
  struct statvfs st{};
  if (size < 0 || ::statvfs(dir.c_str(), &st) != 0) return;
  const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  const uint64_t need = static_cast<uint64_t>(size) - std::min<uint64_t>(have, size);
  if (free_bytes < need)
    progress.note(fmt::format("warning: {} needs {} more but only {} is free there", dir.string(), format_bytes(need),
                              format_bytes(free_bytes)));
}

// Downloads the blob `m` names to `blob`: into blob.incomplete, resumed after dropped
// connections, checked (size; sha256 for LFS), synced, then renamed into place.
void download_blob(HttpClient& http, const HubFile& f, const HubOptions& opt, const Metadata& m, const fs::path& blob) {
  Partial part;
  part.path = blob.string() + ".incomplete";
  part.hashing = is_sha256_hex(m.etag);
  part.open(m.size);
  Progress progress(opt.progress, fs::path(f.path).filename().string(), m.size, part.have);
  warn_if_short_of_space(blob.parent_path(), m.size, part.have, progress);

  int resumes_left = opt.max_resumes;
  bool fresh_retry_left = true;  // one more try from scratch after a corrupt download
  auto delay = opt.retry_delay;
  for (;;) {
    const bool complete_on_disk = m.size >= 0 && part.have == static_cast<uint64_t>(m.size);
    // A dropped connection, a stall or a passing server error (5xx, 429) is worth resuming.
    std::string transient;
    bool overflow = false;
    try {
      if (!complete_on_disk) fetch_attempt(http, f, opt, m.size, part, progress);
    } catch (const NetworkError& e) {
      transient = e.what();
    } catch (const HubHttpError& e) {
      if (e.status < 500 && e.status != 429) throw;
      transient = e.what();
    } catch (const Overflow&) {
      overflow = true;
    }
    if (!transient.empty()) {
      if (resumes_left-- <= 0)
        throw Error("downloading {} failed: {}. The partial download ({} of {}) is kept in {}; run again to "
                    "resume, or set HF_ENDPOINT to use a mirror",
                    describe(f), transient, format_bytes(part.have),
                    m.size >= 0 ? format_bytes(static_cast<uint64_t>(m.size)) : "unknown", part.path.string());
      progress.note(fmt::format("{} at {} of {}; resuming in {} ms", transient, format_bytes(part.have), describe(f),
                                delay.count()));
      std::this_thread::sleep_for(delay);
      delay *= 2;
      progress.restart(part.have);
      continue;
    }
    // The server ended the transfer: check what arrived.
    std::string bad;
    if (overflow) {
      bad = fmt::format("the server sent more than the {} bytes it announced", m.size);
    } else if (m.size >= 0 && part.have < static_cast<uint64_t>(m.size)) {
      if (resumes_left-- > 0) {  // closed early without an error: resume like a dropped connection
        progress.restart(part.have);
        continue;
      }
      bad = fmt::format("{} bytes arrived, {} expected", part.have, m.size);
    } else if (m.size >= 0 && part.have > static_cast<uint64_t>(m.size)) {
      bad = fmt::format("{} bytes arrived, {} expected", part.have, m.size);
    } else if (part.hashing) {
      const std::string got = part.hasher.hex_digest();
      if (got != m.etag) bad = fmt::format("sha256 {} instead of {}", got, m.etag);
    }
    if (!bad.empty()) {
      part.truncate();
      if (fresh_retry_left) {
        fresh_retry_left = false;
        progress.note(fmt::format("the download of {} is corrupt ({}); downloading it again", describe(f), bad));
        progress.restart(0);
        continue;
      }
      part.close();
      fs::remove(part.path);
      throw Error("the download of {} is corrupt twice ({}); nothing was kept. Try again later or another "
                  "HF_ENDPOINT", describe(f), bad);
    }
    break;
  }
  // Durable before it is visible: a crash after the rename must not leave a short blob.
  if (::fdatasync(part.fd) != 0)
    throw Error("cannot write {}: {}", part.path.string(), std::strerror(errno));
  part.close();
  std::error_code ec;
  fs::rename(part.path, blob, ec);
  if (ec) throw Error("cannot rename {} to {}: {}", part.path.string(), blob.string(), ec.message());
  progress.finish();
}

}  // namespace

std::string hub_url(const HubFile& f, const std::string& endpoint) {
  return fmt::format("{}/{}/resolve/{}/{}", endpoint, f.repo, url_encode(f.revision, false), url_encode(f.path, true));
}

std::optional<fs::path> cached_path(const HubFile& f, const HubOptions& opt) {
  validate_hub_file(f);
  // An empty path would put the cache in the working directory.
  if (opt.cache_dir.empty()) throw Error("no hub cache folder set (HubOptions::cache_dir; see HubOptions::from_env)");
  const fs::path repo = repo_dir(opt.cache_dir, f.repo);
  const auto commit = read_ref(repo, f.revision);
  if (!commit) return std::nullopt;
  fs::path p = snapshot_path(repo, *commit, f.path);
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;  // follows the link: a dangling one is a miss
  return p;
}

fs::path hub_download(const HubFile& f, const HubOptions& opt) {
  validate_hub_file(f);
  if (!opt.revalidate || opt.offline)
    if (auto p = cached_path(f, opt)) return *p;
  if (opt.offline) throw Error("{}", offline_miss_message(f, opt));

  HttpClient http(http_settings(opt));
  Metadata m;
  try {
    m = fetch_metadata(http, f, opt);
  } catch (const NetworkError& e) {
    if (auto p = cached_path(f, opt)) return *p;  // revalidating, but the hub is unreachable
    throw Error("{}", network_message(e, f, opt));
  } catch (const HubHttpError& e) {
    if (e.status >= 500 || e.status == 429)
      if (auto p = cached_path(f, opt)) return *p;
    throw;
  }

  const fs::path repo = repo_dir(opt.cache_dir, f.repo);
  const fs::path snapshot = snapshot_path(repo, m.commit, f.path);
  write_ref(repo, f.revision, m.commit);
  std::error_code ec;
  if (fs::is_regular_file(snapshot, ec)) return snapshot;

  const fs::path blob = repo / "blobs" / m.etag;
  fs::create_directories(blob.parent_path(), ec);
  if (ec) throw Error("cannot create {}: {}", blob.parent_path().string(), ec.message());
  FileLock lock(lock_path(opt.cache_dir, f.repo, m.etag), [&] {
    if (opt.progress != ProgressStyle::None)
      std::fprintf(stderr, "waiting for another process that is downloading %s\n", describe(f).c_str());
  });
  if (!fs::is_regular_file(blob, ec)) download_blob(http, f, opt, m, blob);
  link_snapshot(blob, snapshot);
  return snapshot;
}

}  // namespace rwkv::hub
