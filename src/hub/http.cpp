#include "hub/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <memory>

namespace rwkv::hub {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// What the curl callbacks share with the request that runs them.
struct Transfer {
  HttpResponse response;
  const std::function<bool(const HttpResponse&)>* on_headers = nullptr;
  const std::function<void(const char*, size_t)>* on_data = nullptr;
  bool body_wanted = false;  // a 200/206 answer whose body goes to on_data
  bool refused = false;      // on_headers declined the body
  uint64_t body_bytes = 0;
  std::exception_ptr error;  // thrown by a callback; never let it unwind through C code
};

size_t on_header_line(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new answer starts (after a 100 Continue, say)
    t.response.status = 0;
    t.response.headers.clear();
    const auto sp = line.find(' ');
    if (sp != std::string_view::npos) t.response.status = std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    return line.size();
  }
  const std::string text = trim(line);
  if (text.empty()) {  // end of this answer's headers
    if (t.response.status < 200) return line.size();
    t.body_wanted = t.response.status == 200 || t.response.status == 206;
    if (t.on_headers && *t.on_headers) {
      try {
        if (!(*t.on_headers)(t.response)) {
          t.refused = true;
          return 0;  // stops the transfer; reported as success below
        }
      } catch (...) {
        t.error = std::current_exception();
        return 0;
      }
    }
    return line.size();
  }
  const auto colon = text.find(':');
  if (colon != std::string::npos)
    t.response.headers[lower(text.substr(0, colon))] = trim(std::string_view(text).substr(colon + 1));
  return line.size();
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (!t.body_wanted) {
    const size_t room = kMaxErrorBody - std::min(kMaxErrorBody, t.response.body.size());
    t.response.body.append(data, std::min(room, len));
    return len;
  }
  try {
    if (t.on_data && *t.on_data) (*t.on_data)(data, len);
  } catch (...) {
    t.error = std::current_exception();
    return 0;
  }
  t.body_bytes += len;
  return len;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  const auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(HttpSettings settings) : settings_(std::move(settings)) {
  // Once per process, before any handle (curl_easy_init would do it lazily, racing between threads).
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  curl_ = initialised ? curl_easy_init() : nullptr;
  if (!curl_) throw Error("cannot initialise libcurl");
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

static HttpResponse perform(CURL* c, const HttpSettings& s, const std::string& url,
                            const std::vector<std::string>& headers, bool head, Transfer& t) {
  curl_slist* raw = nullptr;
  for (const auto& h : headers) {
    curl_slist* grown = curl_slist_append(raw, h.c_str());
    if (!grown) {
      curl_slist_free_all(raw);
      throw Error("out of memory building HTTP headers");
    }
    raw = grown;
  }
  const std::unique_ptr<curl_slist, SlistDeleter> list(raw);
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, s.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s.stall_timeout_s);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header_line);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  if (head) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, s.head_timeout_s);
  }
  const CURLcode rc = curl_easy_perform(c);
  if (t.error) std::rethrow_exception(t.error);
  if (rc == CURLE_OK || t.refused) return std::move(t.response);
  std::string detail = errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
  throw NetworkError(detail, static_cast<int>(rc), t.body_bytes);
}

HttpResponse HttpClient::head(const std::string& url, const std::vector<std::string>& headers) {
  Transfer t;
  return perform(static_cast<CURL*>(curl_), settings_, url, headers, /*head=*/true, t);
}

HttpResponse HttpClient::get(const std::string& url, const std::vector<std::string>& headers,
                             const std::function<bool(const HttpResponse&)>& on_headers,
                             const std::function<void(const char*, size_t)>& on_data) {
  Transfer t;
  t.on_headers = &on_headers;
  t.on_data = &on_data;
  return perform(static_cast<CURL*>(curl_), settings_, url, headers, /*head=*/false, t);
}

namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

std::string url_part(CURLU* u, CURLUPart part, unsigned flags) {
  char* out = nullptr;
  if (curl_url_get(u, part, &out, flags) != CURLUE_OK || !out) return {};
  std::string s(out);
  curl_free(out);
  return s;
}

}  // namespace

std::string url_origin(std::string_view url) {
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) return {};
  return lower(url_part(u.get(), CURLUPART_SCHEME, 0)) + "://" + lower(url_part(u.get(), CURLUPART_HOST, 0)) + ":" +
         url_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
}

std::string resolve_location(std::string_view base, std::string_view location) {
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, std::string(base).c_str(), 0) != CURLUE_OK ||
      curl_url_set(u.get(), CURLUPART_URL, std::string(location).c_str(), 0) != CURLUE_OK)
    throw Error("cannot follow the redirect from {} to '{}'", base, location);
  return url_part(u.get(), CURLUPART_URL, 0);
}

std::string url_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace rwkv::hub
