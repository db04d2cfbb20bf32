#include "support/hub_server.h"

#include <stdexcept>

#include "hub/sha256.h"

namespace rwkv::test {
namespace {

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return parts;
}

std::string sha256(const std::string& s) {
  hub::Sha256 h;
  h.update(s);
  return h.hex_digest();
}

void error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  res.status = status;
  if (!code.empty()) res.set_header("X-Error-Code", code);
  res.set_header("X-Error-Message", message);
  res.set_content(message, "text/plain");
}

}  // namespace

TestHub::TestHub() : server_(std::make_unique<httplib::Server>()) {
  // httplib applies Range headers itself, even to redirects and error pages; the hub's answers
  // are built by hand here, so its range handling is switched off before routing. (The Request
  // object is not const where httplib creates it; only the callback's view is.)
  server_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    const_cast<httplib::Request&>(req).ranges.clear();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server_->Get(".*", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("TestHub: cannot bind a port on 127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib's stop() does nothing until the accept loop runs: wait for it, or a quick stop hangs.
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TestHub::~TestHub() { stop(); }

void TestHub::stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

std::string TestHub::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string TestHub::add_file(const std::string& repo, const std::string& revision, const std::string& file,
                              std::string bytes, bool lfs) {
  std::lock_guard lock(mu_);
  Repo& r = repos_[repo];
  std::string commit = r.revisions.count(revision) ? r.revisions[revision] : "";
  const bool exists = !commit.empty() && r.commits[commit].count(file);
  if (commit.empty() || (exists && r.commits[commit][file].bytes != bytes)) {
    const std::string next = sha256(repo + "\n" + revision + "\n" + std::to_string(++commits_made_)).substr(0, 40);
    r.commits[next] = commit.empty() ? std::map<std::string, File>{} : r.commits[commit];
    r.revisions[revision] = commit = next;
  }
  File f;
  f.lfs = lfs;
  f.etag = lfs ? sha256(bytes) : sha256("blob " + bytes).substr(0, 40);
  if (lfs) {
    cdn_[f.etag] = file;
    cdn_bytes_[f.etag] = bytes;
  }
  f.bytes = std::move(bytes);
  r.commits[commit][file] = std::move(f);
  return commit;
}

std::string TestHub::etag(const std::string& repo, const std::string& revision, const std::string& file) const {
  std::lock_guard lock(mu_);
  const Repo& r = repos_.at(repo);
  return r.commits.at(r.revisions.at(revision)).at(file).etag;
}

void TestHub::inject(const std::string& file, Fault fault, int times) {
  std::lock_guard lock(mu_);
  faults_[{file, fault}] += times;
}

void TestHub::require_token(const std::string& token) {
  std::lock_guard lock(mu_);
  token_ = token;
}

std::vector<TestHub::Request> TestHub::requests() const {
  std::lock_guard lock(mu_);
  return log_;
}

void TestHub::clear_requests() {
  std::lock_guard lock(mu_);
  log_.clear();
}

bool TestHub::take_fault(const std::string& file, Fault f) {
  auto it = faults_.find({file, f});
  if (it == faults_.end() || it->second <= 0) return false;
  --it->second;
  return true;
}

void TestHub::handle(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard lock(mu_);
  log_.push_back({req.method, req.target, req.get_header_value("Range"), req.get_header_value("Authorization"),
                  req.get_header_value("Host"), req.get_header_value("User-Agent")});
  const std::string target = req.target.substr(0, req.target.find('?'));
  if (target.starts_with("/cdn/")) {
    const std::string sha = target.substr(5);
    if (!cdn_bytes_.count(sha)) return error(res, 404, "", "no such object");
    if (take_fault(cdn_[sha], Fault::CdnError)) return error(res, 503, "", "Service Unavailable");
    return serve_bytes(req, res, cdn_[sha], cdn_bytes_[sha]);
  }
  resolve(req, res, target);
}

void TestHub::resolve(const httplib::Request& req, httplib::Response& res, const std::string& target) {
  // /org/name/resolve/<revision, percent-encoded>/<file...>
  const auto parts = split(target, '/');
  if (parts.size() < 6 || parts[3] != "resolve") return error(res, 404, "", "not a resolve URL: " + target);
  const std::string repo = parts[1] + "/" + parts[2];
  const std::string revision = percent_decode(parts[4]);
  std::string file;
  for (size_t i = 5; i < parts.size(); ++i) {
    if (i > 5) file += '/';
    file += percent_decode(parts[i]);
  }

  const std::string auth = req.get_header_value("Authorization");
  if (!token_.empty() && auth != "Bearer " + token_)
    return error(res, 401, "GatedRepo", "Access to model " + repo + " is restricted. You must be authenticated.");
  if (take_fault(file, Fault::Unauthorized)) return error(res, 401, "GatedRepo", "Access to model " + repo + " is restricted.");
  if (take_fault(file, Fault::Forbidden)) return error(res, 403, "GatedRepo", "Access to model " + repo + " is restricted and you are not in the authorized list.");
  if (take_fault(file, Fault::ServerError)) return error(res, 500, "", "Internal Error");
  if (take_fault(file, Fault::NotFound)) return error(res, 404, "EntryNotFound", file + " does not exist");

  const auto repo_it = repos_.find(repo);
  if (repo_it == repos_.end())  // the hub does not tell strangers whether a private repo exists
    return auth.empty() ? error(res, 401, "RepoNotFound", "Repository Not Found for url: " + req.target)
                        : error(res, 404, "RepoNotFound", "Repository Not Found for url: " + req.target);
  const Repo& r = repo_it->second;
  std::string commit;
  if (r.revisions.count(revision)) commit = r.revisions.at(revision);
  else if (r.commits.count(revision)) commit = revision;
  else return error(res, 404, "RevisionNotFound", "Invalid rev id: " + revision);
  const auto& tree = r.commits.at(commit);
  const auto file_it = tree.find(file);
  if (file_it == tree.end()) return error(res, 404, "EntryNotFound", file + " does not exist on \"" + revision + "\"");
  const File& f = file_it->second;

  res.set_header("X-Repo-Commit", commit);
  if (f.lfs) {
    res.status = 302;
    res.set_header("Location", "http://localhost:" + std::to_string(port_) + "/cdn/" + f.etag);
    res.set_header("X-Linked-Etag", "\"" + f.etag + "\"");
    res.set_header("X-Linked-Size", std::to_string(f.bytes.size()));
    res.set_header("ETag", "W/\"" + sha256("pointer " + f.etag).substr(0, 40) + "\"");  // the pointer file's id
    return;
  }
  res.set_header("ETag", "\"" + f.etag + "\"");
  serve_bytes(req, res, file, f.bytes);
}

void TestHub::serve_bytes(const httplib::Request& req, httplib::Response& res, const std::string& file,
                          const std::string& bytes) {
  const std::string range = req.get_header_value("Range");  // only "bytes=N-" is used by clients here
  std::string body = bytes;
  res.status = 200;
  if (range.starts_with("bytes=") && !(req.method != "HEAD" && take_fault(file, Fault::IgnoreRange))) {
    const size_t from = std::stoull(range.substr(6));
    if (from >= bytes.size()) {
      res.status = 416;
      res.set_header("Content-Range", "bytes */" + std::to_string(bytes.size()));
      return;
    }
    res.status = 206;
    res.set_header("Content-Range",
                   "bytes " + std::to_string(from) + "-" + std::to_string(bytes.size() - 1) + "/" + std::to_string(bytes.size()));
    body = bytes.substr(from);
  }
  if (req.method == "HEAD") return res.set_content(body, "application/octet-stream");
  if (take_fault(file, Fault::Corrupt) && !body.empty()) body[body.size() / 2] ^= 0x5a;
  if (take_fault(file, Fault::ExtraBytes)) body += "trailing garbage";
  if (take_fault(file, Fault::DropMidway)) {
    auto data = std::make_shared<std::string>(std::move(body));
    res.set_content_provider(data->size(), "application/octet-stream",
                             [data](size_t offset, size_t, httplib::DataSink& sink) {
                               sink.write(data->data() + offset, data->size() / 2 - std::min(offset, data->size() / 2));
                               return false;  // closes the connection with the rest unsent
                             });
    return;
  }
  res.set_content(body, "application/octet-stream");
}

}  // namespace rwkv::test
