// The huggingface_hub cache layout, shared with the Python tools:
//
//   <cache>/models--<org>--<name>/
//     blobs/<etag>                   file contents, named by the hub's ETag (sha256 for LFS files)
//     blobs/<etag>.incomplete        a download in progress (resumable)
//     refs/<revision>                the commit hash the revision pointed to ("refs/pr/2" nests)
//     snapshots/<commit>/<path>      relative symlinks to ../../blobs/<etag>
//   <cache>/.locks/models--<org>--<name>/<etag>.lock   flock()ed while a blob is downloaded
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "hub/hub.h"

namespace rwkv::hub {

namespace fs = std::filesystem;

// Throws Error unless the repo is "org/name" and revision and path are safe relative names (no
// "..", no absolute path, no empty part): they become folder names in the cache.
void validate_hub_file(const HubFile& f);
// Throws Error unless `s` can be one file name (an ETag or commit hash from the server).
void validate_component(const std::string& s, const char* what);

bool is_commit_hash(const std::string& revision);  // 40 hex digits

fs::path repo_dir(const fs::path& cache, const std::string& repo);  // <cache>/models--org--name
fs::path lock_path(const fs::path& cache, const std::string& repo, const std::string& etag);
fs::path snapshot_path(const fs::path& repo_dir, const std::string& commit, const std::string& file);

// The commit a revision points to: the revision itself when it is a commit hash, else refs/<rev>.
std::optional<std::string> read_ref(const fs::path& repo_dir, const std::string& revision);
// Records revision -> commit (atomically; nothing when they are equal or already recorded).
void write_ref(const fs::path& repo_dir, const std::string& revision, const std::string& commit);

// Points snapshot -> blob with a relative symlink (replacing whatever is there). Where the file
// system has no symlinks the blob is moved to the snapshot path instead, as huggingface_hub does.
void link_snapshot(const fs::path& blob, const fs::path& snapshot);

// An exclusive flock() on a lock file, held for the object's life (compatible with the
// `filelock` package huggingface_hub uses, so a Python download and ours never write one blob).
class FileLock {
 public:
  // Blocks until the lock is free; `on_wait` is called once if it has to wait.
  FileLock(const fs::path& path, const std::function<void()>& on_wait);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace rwkv::hub
