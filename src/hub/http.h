// A small HTTP client over libcurl for the hub download: HEAD and streaming GET, one hop at a time.
// Redirects are NOT followed here: the caller decides per hop, because the hub's first answer (a
// redirect to a CDN for large files) carries the file's metadata, and because the token must only
// go to the hub itself, never to the host a redirect points at.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace rwkv::hub {

// The request never got an HTTP answer (DNS, refused connection, TLS, timeout, connection dropped
// midway). `bytes_received` counts body bytes delivered before the failure, so a caller can tell
// a dropped download (worth resuming) from a host it cannot reach at all.
class NetworkError : public Error {
 public:
  NetworkError(const std::string& what, int curl_code, uint64_t bytes_received)
      : Error(what), curl_code(curl_code), bytes_received(bytes_received) {}
  int curl_code;
  uint64_t bytes_received;
};

struct HttpSettings {
  std::string user_agent;
  long connect_timeout_s = 15;
  long stall_timeout_s = 60;  // abort when less than 1 byte/s arrives for this long
  long head_timeout_s = 30;   // total time for a HEAD
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lowercased; the last value wins
  std::string body;  // only for answers that are not 200/206 (error pages), at most 64 KiB
  std::string header(std::string_view name) const;  // "" when absent (name in any case)
  bool is_redirect() const { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }
};

class HttpClient {
 public:
  explicit HttpClient(HttpSettings settings);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Throws NetworkError when no HTTP answer came back.
  HttpResponse head(const std::string& url, const std::vector<std::string>& headers);

  // GET. `on_headers` runs once the status and headers of the answer are known and may return
  // false to refuse the body (the transfer then ends without error). For a 200/206 answer the
  // body goes to `on_data` in chunks; an exception thrown by either callback (a write error, say)
  // aborts the transfer and is rethrown here. Other answers' bodies are kept in the response.
  HttpResponse get(const std::string& url, const std::vector<std::string>& headers,
                   const std::function<bool(const HttpResponse&)>& on_headers,
                   const std::function<void(const char*, size_t)>& on_data);

 private:
  HttpSettings settings_;
  void* curl_;  // CURL*, kept for connection reuse across hops and retries
};

// "scheme://host:port" of a URL (port made explicit), for comparing where a redirect leads.
std::string url_origin(std::string_view url);
// Resolves a Location header against the URL it came from (absolute, host-relative or relative).
std::string resolve_location(std::string_view base, std::string_view location);
// Percent-encodes everything but unreserved characters; with keep_slash, '/' stays as is.
std::string url_encode(std::string_view s, bool keep_slash);

}  // namespace rwkv::hub
