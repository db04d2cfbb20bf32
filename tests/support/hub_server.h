// A stand-in for the Hugging Face hub, for the download tests: an HTTP server on 127.0.0.1 (a
// free port) that answers /{org}/{name}/resolve/{revision}/{file} the way the hub does:
//   - small (git) files: 200 with the bytes, X-Repo-Commit and ETag (a git object id);
//   - LFS files: 302 to a "CDN" URL on another host name (http://localhost:PORT/cdn/<sha256>)
//     with X-Repo-Commit, X-Linked-Etag (the sha256) and X-Linked-Size;
//   - HEAD like GET without the body; Range requests (bytes=N-) answered with 206;
//   - unknown repo: 401 (no token) / 404 RepoNotFound; unknown revision: 404 RevisionNotFound;
//     unknown file: 404 EntryNotFound (with X-Error-Code, as the hub sends);
// plus failure injection and a log of the requests it got.
#pragma once

#include <httplib.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rwkv::test {

class TestHub {
 public:
  enum class Fault {
    NotFound,      // 404 EntryNotFound for the file
    Unauthorized,  // 401 (as for a gated repo without a token)
    Forbidden,     // 403 GatedRepo
    ServerError,   // 500
    DropMidway,    // send half of the body, then close the connection
    Corrupt,       // flip one byte of the body
    IgnoreRange,   // answer a Range request with 200 and the whole file
    ExtraBytes,    // send more bytes than the file has
    CdnError,      // 503 from the CDN host (LFS files)
  };
  struct Request {
    std::string method, target, range, authorization, host, user_agent;
  };

  TestHub();   // serving at once
  ~TestHub();  // stops
  TestHub(const TestHub&) = delete;
  TestHub& operator=(const TestHub&) = delete;

  std::string endpoint() const;  // http://127.0.0.1:PORT
  void stop();                   // closes the port (requests are then refused)

  // Serves `bytes` as `file` of `repo` at `revision`; returns the revision's commit hash (the
  // file is also reachable at that hash). Adding a file that exists with other bytes moves the
  // revision to a new commit, as a push would.
  std::string add_file(const std::string& repo, const std::string& revision, const std::string& file,
                       std::string bytes, bool lfs);
  // The ETag the hub gives the file: its sha256 for LFS files, a git-like object id otherwise.
  std::string etag(const std::string& repo, const std::string& revision, const std::string& file) const;

  // The next `times` requests for `file` (any repo) that the fault applies to fail this way.
  // Status faults hit resolve requests (HEAD or GET); body faults hit requests that send bytes.
  void inject(const std::string& file, Fault fault, int times = 1);
  // Resolve requests without "Authorization: Bearer <token>" get 401.
  void require_token(const std::string& token);

  std::vector<Request> requests() const;
  void clear_requests();

 private:
  struct File {
    std::string bytes;
    bool lfs = false;
    std::string etag;
  };
  struct Repo {
    std::map<std::string, std::string> revisions;                     // revision -> commit
    std::map<std::string, std::map<std::string, File>> commits;       // commit -> file -> File
  };
  void handle(const httplib::Request& req, httplib::Response& res);
  void resolve(const httplib::Request& req, httplib::Response& res, const std::string& target);
  void serve_bytes(const httplib::Request& req, httplib::Response& res, const std::string& file,
                   const std::string& bytes);
  bool take_fault(const std::string& file, Fault f);

  mutable std::mutex mu_;
  std::map<std::string, Repo> repos_;
  std::map<std::string, std::string> cdn_;  // sha256 -> file name (for faults) and bytes below
  std::map<std::string, std::string> cdn_bytes_;
  std::map<std::pair<std::string, Fault>, int> faults_;
  std::string token_;
  std::vector<Request> log_;
  int port_ = 0;
  int commits_made_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace rwkv::test
