#include "hub/cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>
#include <sstream>
#include <vector>

#include "util/error.h"

namespace rwkv::hub {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

bool safe_part(const std::string& p) {
  return !p.empty() && p != "." && p != ".." && p.find('\0') == std::string::npos && p.find('\\') == std::string::npos;
}

// A '/'-separated relative name (a revision like refs/pr/2, a file path like sub/x.bin).
bool safe_relative(const std::string& s) {
  for (const auto& p : split(s, '/'))
    if (!safe_part(p)) return false;
  return true;
}

bool repo_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

}  // namespace

void validate_hub_file(const HubFile& f) {
  const auto parts = split(f.repo, '/');
  bool ok = parts.size() == 2;
  for (const auto& p : parts) {
    ok = ok && safe_part(p);
    for (char c : p) ok = ok && repo_name_char(c);
  }
  if (!ok) throw Error("bad repo id '{}': expected 'org/name' (letters, digits, '-', '_', '.')", f.repo);
  if (!safe_relative(f.revision))
    throw Error("bad revision '{}' for {}: expected a branch, tag, refs/pr/N or commit hash", f.revision, f.repo);
  if (!safe_relative(f.path)) throw Error("bad file name '{}' in {}: expected a relative path without '..'", f.path, f.repo);
}

void validate_component(const std::string& s, const char* what) {
  if (!safe_part(s) || s.find('/') != std::string::npos)
    throw Error("the server sent an unusable {} '{}'", what, s);
}

bool is_commit_hash(const std::string& revision) {
  if (revision.size() != 40) return false;
  for (char c : revision)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

fs::path repo_dir(const fs::path& cache, const std::string& repo) {
  const auto slash = repo.find('/');
  return cache / ("models--" + repo.substr(0, slash) + "--" + repo.substr(slash + 1));
}

fs::path lock_path(const fs::path& cache, const std::string& repo, const std::string& etag) {
  return cache / ".locks" / repo_dir(cache, repo).filename() / (etag + ".lock");
}

fs::path snapshot_path(const fs::path& repo_dir, const std::string& commit, const std::string& file) {
  fs::path p = repo_dir / "snapshots" / commit;
  for (const auto& part : split(file, '/')) p /= part;
  return p;
}

std::optional<std::string> read_ref(const fs::path& repo_dir, const std::string& revision) {
  if (is_commit_hash(revision)) return revision;
  std::ifstream f(repo_dir / "refs" / revision);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  std::string commit = ss.str();
  while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
  if (!safe_part(commit) || commit.find('/') != std::string::npos) return std::nullopt;
  return commit;
}

// ".tmp-<pid>-<thread>": unique per process and thread, since several downloads of one repo may
// run at once (in one process too).
static std::string unique_tmp_suffix() {
  return ".tmp-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
}

void write_ref(const fs::path& repo_dir, const std::string& revision, const std::string& commit) {
  if (revision == commit || read_ref(repo_dir, revision) == commit) return;
  const fs::path ref = repo_dir / "refs" / revision;
  std::error_code ec;
  fs::create_directories(ref.parent_path(), ec);
  if (ec) throw Error("cannot create {}: {}", ref.parent_path().string(), ec.message());
  // Write then rename, so a concurrent reader sees the old or the new commit, never half of one.
  // Unique per process and thread: several downloads of one repo may run at once.
  const fs::path tmp = ref.string() + unique_tmp_suffix();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << commit;
    out.close();
    if (!out) throw Error("cannot write {}: {}", tmp.string(), std::strerror(errno));
  }
  fs::rename(tmp, ref, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error("cannot write {}: {}", ref.string(), ec.message());
  }
}

void link_snapshot(const fs::path& blob, const fs::path& snapshot) {
  std::error_code ec;
  fs::create_directories(snapshot.parent_path(), ec);
  if (ec) throw Error("cannot create {}: {}", snapshot.parent_path().string(), ec.message());
  const fs::path target =
      fs::absolute(blob).lexically_normal().lexically_relative(fs::absolute(snapshot.parent_path()).lexically_normal());
  // Link under a temporary name and rename over the final one: atomic, and it replaces a stale
  // link left by an older download.
  const fs::path tmp = snapshot.string() + unique_tmp_suffix();
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp, ec);
  if (!ec) {
    fs::rename(tmp, snapshot, ec);
    if (!ec) return;
    fs::remove(tmp);
    throw Error("cannot create {}: {}", snapshot.string(), ec.message());
  }
  // No symlinks on this file system (FAT, some network mounts): keep the only copy in snapshots/.
  std::error_code ec2;
  fs::rename(blob, snapshot, ec2);
  if (ec2) throw Error("cannot link {} to {}: {}; {}", snapshot.string(), blob.string(), ec.message(), ec2.message());
}

FileLock::FileLock(const fs::path& path, const std::function<void()>& on_wait) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot open the lock file {}: {}", path.string(), std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
  if (errno == EWOULDBLOCK && on_wait) on_wait();
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd_);
    throw Error("cannot lock {}: {}", path.string(), std::strerror(err));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace rwkv::hub
